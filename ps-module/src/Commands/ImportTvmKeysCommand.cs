using System;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Import-TVMKeys: restores the keys of one backup folder into the vault, AES keys first, then RSA,
    /// unwrapped inside the vault with the wrapping key WrappingKeyName. Safe to re-run: a key that exists
    /// already is reported (Outcome Exists, a warning), not imported twice.
    /// </summary>
    [Cmdlet(VerbsData.Import, "TVMKeys", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmKeyRestore))]
    public sealed class ImportTvmKeysCommand : TvmVaultCmdlet
    {
        /// <summary>One timestamped backup folder (the Path of a TvmBackup, or a folder's FullName).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Path", "FullName")]
        public string BackupPath { get; set; } = string.Empty;

        /// <summary>Name of the wrapping key pair in the vault (imported with Import-TvmWrappingKeyFromPem).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string WrappingKeyName { get; set; } = string.Empty;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string backupPath = ResolvePath(BackupPath, nameof(BackupPath));
            VaultHandle vault = OpenVault(create: true);
            var request = new RestoreRequest { BackupPath = backupPath, ShownBackupPath = BackupPath, WrappingKeyName = WrappingKeyName };
            // The objects are written per key, as the keys are done (keyRestored); the result holds only the counts.
            Invoke<RestoreRequest, RestoreResult>(Native.Restore, vault, request, BackupPath);
        }

        private protected override string PendingTarget(TvmKey key) =>
            key.Name.Length > 0 ? $"{key.Name} ({key.Type} {key.Size})" : key.File ?? string.Empty;

        private protected override void OnKeyRestored(TvmKeyRestore restore)
        {
            // Exists: the engine has sent the warning already (a warning event); only the object is written here.
            WriteObject(restore);
            if (restore.Outcome == "Failed")
            {
                WriteKeyError(restore, "KeyImportFailed", "Error Importing Key: ");
            }
        }
    }
}
