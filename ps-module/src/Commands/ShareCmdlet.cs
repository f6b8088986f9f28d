using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Security;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// What Join-TvmWrappingKey and Test-TvmWrappingKeyShare share: the share files, from -SharePath or the
    /// pipeline (FullName, Path), gathered and handed to the engine once at the end; and the custodians' private
    /// keys and passwords that open them.
    /// </summary>
    public abstract class ShareCmdlet : TvmCmdlet
    {
        private readonly List<string> _shares = new List<string>();

        private protected ShareCmdlet() { }

        /// <summary>The share files.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "Path")]
        public string[] SharePath { get; set; } = Array.Empty<string>();

        /// <summary>The custodians' private key PEMs that open shares encrypted to them.</summary>
        [Parameter]
        public string[]? CustodianPrivateKeyPath { get; set; }

        /// <summary>The custodians' passwords: of password-protected shares, or of encrypted custodian private keys.</summary>
        [Parameter]
        public SecureString[]? CustodianPassword { get; set; }

        /// <summary>Every share file given so far, full paths, in order.</summary>
        private protected string[] Shares => _shares.ToArray();

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            _shares.AddRange(ResolvePaths(SharePath, nameof(SharePath)) ?? Array.Empty<string>());
        }
    }
}
