using System;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>New-TvmVaultKey: creates a key in a vault (to seed rehearsal vaults).</summary>
    [Cmdlet(VerbsCommon.New, "TvmVaultKey", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmKey))]
    public sealed class NewTvmVaultKeyCommand : TvmVaultCmdlet
    {
        /// <summary>Key name.</summary>
        [Parameter(Mandatory = true)]
        public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA.</summary>
        [Parameter(Mandatory = true)]
        [ValidateSet("AES", "RSA", IgnoreCase = true)]
        public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits (the engine accepts 256 for AES; 2048, 3072, 4096 for RSA).</summary>
        [Parameter(Mandatory = true)]
        [ValidateRange(1, int.MaxValue)]
        public int Size { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            // ValidateSet ignores case; the engine gets the canonical spelling.
            string type = Type.ToUpperInvariant();
            if (!ShouldProcess(Name, $"Create an {type} key of {Size} bits in the vault"))
            {
                return;
            }
            VaultHandle vault = OpenVault(create: true);
            var request = new CreateKeyRequest { Name = Name, Type = type, Size = (uint)Size };
            WriteObject(Invoke<CreateKeyRequest, TvmKey>(Native.VaultCreateKey, vault, request, Name));
        }
    }
}
