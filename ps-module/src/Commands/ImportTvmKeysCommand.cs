using System;
using System.Management.Automation;
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
            TvmNative native = Native;
            string wrappingKeyName = WrappingKeyName;
            TvmStatus status = RunWithEvents(callback => vault.Use(v =>
                native.Restore(v, backupPath, BackupPath, wrappingKeyName, callback, IntPtr.Zero)));
            ThrowIfFailed(status, BackupPath);
        }

        private protected override string PendingTarget(TvmEvent e) =>
            e.KeyName.Length > 0 ? $"{e.KeyName} ({e.KeyType} {e.KeySize})" : e.File;

        private protected override void OnKeyDone(TvmEvent e)
        {
            // Exists: the engine has sent the warning already (a Warning event); only the object is written here.
            WriteObject(new TvmKeyRestore
            {
                Name = e.KeyName,
                Type = e.KeyType,
                Size = (int)e.KeySize,
                Outcome = e.Outcome.ToString(),
                Message = e.Text.Length > 0 ? e.Text : null,
                File = e.File.Length > 0 ? e.File : null,
            });
            if (e.Outcome == TvmOutcome.Failed)
            {
                WriteKeyError(e, "KeyImportFailed", "Error Importing Key: ");
            }
        }
    }
}
