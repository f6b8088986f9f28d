using System.Management.Automation;
using TvmBackupUtils.Api;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// New-TvmImportJson (alias Generate-ImportJsonFromPEM, the original's name): writes the NO_KEY_WRAP
    /// import file of an RSA key pair given as PEM files.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "TvmImportJson", SupportsShouldProcess = true)]
    [Alias("Generate-ImportJsonFromPEM")]
    public sealed class NewTvmImportJsonCommand : TvmCmdlet
    {
        /// <summary>PEM file of the RSA public key.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>PEM file of the RSA private key.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>File to write.</summary>
        [Parameter(Mandatory = true, Position = 2)]
        public string OutFilePath { get; set; } = string.Empty;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string publicKey = ResolvePath(PublicKeyPath, nameof(PublicKeyPath));
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            string outFile = ResolvePath(OutFilePath, nameof(OutFilePath));
            if (!ShouldProcess(outFile, "Write the import JSON (NO_KEY_WRAP) of the RSA key pair"))
            {
                return;
            }
            var request = new ImportJsonRequest { PublicKeyPath = publicKey, PrivateKeyPath = privateKey, OutFilePath = outFile };
            // The original wrote no object; the result (the file and the key size) is not written either.
            Invoke<ImportJsonRequest, ImportJsonResult>(Native.GenerateImportJson, null, request, OutFilePath);
        }
    }
}
