using System;
using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Join-TvmWrappingKey: rebuilds the wrapping private key from M share files in memory and checks that it is
    /// the key the shares name. Without -OutFile nothing is written: it proves that these shares restore. With
    /// -OutFile the key is written as a PEM (encrypted with -Password). Share files come from -SharePath or the
    /// pipeline (FullName, Path) and are joined once, at the end.
    /// </summary>
    [Cmdlet(VerbsCommon.Join, "TvmWrappingKey", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmWrappingKeyJoin))]
    public sealed class JoinTvmWrappingKeyCommand : ShareCmdlet
    {
        /// <summary>Writes the rebuilt private key to this PEM file (owner-only). Without it, nothing is written.</summary>
        [Parameter]
        public string? OutFile { get; set; }

        /// <summary>-OutFile: encrypts the PEM with this password (ENCRYPTED PRIVATE KEY).</summary>
        [Parameter]
        public SecureString? Password { get; set; }

        /// <summary>-OutFile: replaces a file that exists.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc />
        protected override void EndProcessing()
        {
            string? outFile = OutFile == null ? null : ResolvePath(OutFile, nameof(OutFile));
            if (outFile != null && !ShouldProcess(outFile, "Write the wrapping private key rebuilt from the shares"))
            {
                return;
            }
            var request = new JoinWrappingKeyRequest
            {
                SharePaths = Shares,
                CustodianPrivateKeyPaths = ResolvePaths(CustodianPrivateKeyPath, nameof(CustodianPrivateKeyPath)),
                OutFile = outFile,
                Force = Force.IsPresent,
            };
            (TvmStatus status, byte[] bytes) = CallWithSecretList(Native.JoinWrappingKey, null, request, Password, CustodianPassword);
            WriteObject(ResultOf<TvmWrappingKeyJoin>(status, bytes, outFile ?? (object)request.SharePaths));
        }
    }
}
