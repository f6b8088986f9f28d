using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Remove-TvmWrappingKey: removes the wrapping key from the vault when a restore is done, as the documented
    /// steps require (a wrapping key left in a vault would be backed up with the next backup). Only an RSA key,
    /// never AzureStackTvmAKRootKey. Asks first (ConfirmImpact High).
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "TvmWrappingKey", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(TvmWrappingKey))]
    public sealed class RemoveTvmWrappingKeyCommand : TvmVaultCmdlet
    {
        /// <summary>Name of the wrapping key in the vault (the -WrappingKeyName of Import-TVMKeys).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("WrappingKeyName", "Name")]
        public string KeyName { get; set; } = string.Empty;

        /// <summary>Writes the removed key (Outcome Removed); nothing when it was kept.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            VaultHandle vault = OpenVault(create: false);
            TvmWrappingKey key = Invoke<RemoveWrappingKeyRequest, TvmWrappingKey>(Native.RemoveWrappingKey, vault, new RemoveWrappingKeyRequest { KeyName = KeyName }, KeyName);
            if (PassThru.IsPresent && key.Outcome == "Removed")
            {
                WriteObject(key);
            }
        }

        private protected override string PendingTarget(TvmKey key) => $"{key.Name} ({key.Type} {key.Size})";
    }
}
