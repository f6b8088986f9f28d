using System;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Import-TvmWrappingKeyFromPem: imports an RSA key pair (PEM files) into the vault as the wrapping key
    /// that Import-TVMKeys unwraps a backup with. The engine checks KeySize and that the two halves match.
    /// </summary>
    [Cmdlet(VerbsData.Import, "TvmWrappingKeyFromPem", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmKey))]
    public sealed class ImportTvmWrappingKeyFromPemCommand : TvmVaultCmdlet
    {
        /// <summary>Name of the key in the vault.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string KeyName { get; set; } = string.Empty;

        /// <summary>PEM file of the RSA public key.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>PEM file of the RSA private key.</summary>
        [Parameter(Mandatory = true, Position = 2)]
        public string PrivateKeyPath { get; set; } = string.Empty;

        /// <summary>Modulus size as the original takes it, a string: 2048, 3072 or 4096.</summary>
        [Parameter(Mandatory = true, Position = 3)]
        public string KeySize { get; set; } = string.Empty;

        /// <summary>The original checks the MOC stack version ((Get-MocConfig).version) for this command only.</summary>
        private protected override bool ChecksMocStackVersion => true;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string publicKey = ResolvePath(PublicKeyPath, nameof(PublicKeyPath));
            string privateKey = ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            if (!ShouldProcess(KeyName, $"Import the RSA key pair {publicKey} / {privateKey} into the vault as a wrapping key"))
            {
                return;
            }
            VaultHandle vault = OpenVault(create: true);
            var request = new ImportWrappingKeyRequest
            {
                KeyName = KeyName,
                PublicKeyPath = publicKey,
                PrivateKeyPath = privateKey,
                KeySize = KeySize,
            };
            WriteObject(Invoke<ImportWrappingKeyRequest, TvmKey>(Native.ImportWrappingKey, vault, request, KeyName));
        }
    }
}
