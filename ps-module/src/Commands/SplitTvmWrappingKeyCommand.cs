using System;
using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Split-TvmWrappingKey: splits the wrapping private key into N share files, any M of which rebuild it
    /// (Shamir's secret sharing), each encrypted to one custodian: to the custodian's RSA public key (default),
    /// under a password, or with -NoEncryption in clear. The private key file is not touched; destroy it once the
    /// shares are checked (Test-TvmWrappingKeyShare, Join-TvmWrappingKey). One TvmWrappingKeyShare per file.
    /// </summary>
    [Cmdlet(VerbsCommon.Split, "TvmWrappingKey", SupportsShouldProcess = true, DefaultParameterSetName = CustodianKeySet)]
    [OutputType(typeof(TvmWrappingKeyShare))]
    public sealed class SplitTvmWrappingKeyCommand : TvmCmdlet
    {
        private const string CustodianKeySet = "CustodianKey";
        private const string PasswordSet = "Password";
        private const string NoEncryptionSet = "NoEncryption";

        /// <summary>The wrapping private key PEM (PKCS#8, plain or encrypted with -Password; or PKCS#1).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>The password of an encrypted -PrivateKeyPath.</summary>
        [Parameter]
        public SecureString? Password { get; set; }

        /// <summary>How many shares rebuild the key (M), 2 to -Shares.</summary>
        [Parameter(Mandatory = true)]
        [ValidateRange(2, 16)]
        public int Threshold { get; set; }

        /// <summary>How many shares to make (N), one per custodian, 2 to 16.</summary>
        [Parameter(Mandatory = true)]
        [ValidateRange(2, 16)]
        public int Shares { get; set; }

        /// <summary>The folder the share files are written to (made, owner-only, when missing).</summary>
        [Parameter(Mandatory = true)]
        public string OutPath { get; set; } = string.Empty;

        /// <summary>One RSA public key PEM per share, in share order: share i is encrypted to key i.</summary>
        [Parameter(Mandatory = true, ParameterSetName = CustodianKeySet)]
        public string[] CustodianPublicKeyPath { get; set; } = Array.Empty<string>();

        /// <summary>One password per share, in share order; or one password for every share.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PasswordSet)]
        public SecureString[] CustodianPassword { get; set; } = Array.Empty<SecureString>();

        /// <summary>Writes the shares in clear: whoever holds a share file holds the share.</summary>
        [Parameter(Mandatory = true, ParameterSetName = NoEncryptionSet)]
        public SwitchParameter NoEncryption { get; set; }

        /// <summary>Replaces share files of this key in -OutPath (the shares they hold are lost).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            string outPath = ResolvePath(OutPath, nameof(OutPath));
            string[]? custodians = ParameterSetName == CustodianKeySet ? ResolvePaths(CustodianPublicKeyPath, nameof(CustodianPublicKeyPath)) : null;
            if (!ShouldProcess(outPath, $"Split the wrapping key {privateKey} into {Shares} share files, {Threshold} of which rebuild it"))
            {
                return;
            }
            var request = new SplitWrappingKeyRequest
            {
                PrivateKeyPath = privateKey,
                Threshold = (uint)Threshold,
                Shares = (uint)Shares,
                OutPath = outPath,
                CustodianPublicKeyPaths = custodians,
                NoEncryption = NoEncryption.IsPresent,
                Force = Force.IsPresent,
            };
            SecureString[]? passwords = ParameterSetName == PasswordSet ? CustodianPassword : null;
            (TvmStatus status, byte[] bytes) = CallWithSecretList(Native.SplitWrappingKey, null, request, Password, passwords);
            foreach (TvmWrappingKeyShare share in ResultOf<SplitWrappingKeyResult>(status, bytes, outPath).Files)
            {
                WriteObject(share);
            }
        }
    }
}
