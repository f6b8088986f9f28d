using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Backup-TVMKeys: exports every key of the vault, wrapped with the RSA public key in WrappingKeyPath,
    /// into a new timestamped backup under BackupRootPath (the original's layout: AES\ and RSA\ key files).
    /// </summary>
    [Cmdlet(VerbsData.Backup, "TVMKeys", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmBackup))]
    public sealed class BackupTvmKeysCommand : TvmVaultCmdlet
    {
        private readonly List<TvmKey> _keys = new List<TvmKey>();
        private string? _backupPath;

        /// <summary>PEM file of the RSA public key that wraps the exported keys.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string WrappingKeyPath { get; set; } = string.Empty;

        /// <summary>Folder that holds the timestamped backups.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string BackupRootPath { get; set; } = string.Empty;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string wrappingKey = ResolvePath(WrappingKeyPath, nameof(WrappingKeyPath));
            string backupRoot = ResolvePath(BackupRootPath, nameof(BackupRootPath));
            VaultHandle vault = OpenVault(create: false);

            // Local time, as the original's Get-Date -Format yyyyMMddHHmmss.
            DateTime now = DateTime.Now;
            string timestamp = now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            if (!ShouldProcess(backupRoot, $"Back up the TVM vault keys into a new backup {timestamp}"))
            {
                return;
            }

            TvmNative native = Native;
            TvmStatus status = RunWithEvents(callback => vault.Use(v =>
                native.Backup(v, wrappingKey, backupRoot, BackupRootPath, timestamp, callback, IntPtr.Zero)));
            ThrowIfFailed(status, backupRoot);

            WriteObject(new TvmBackup
            {
                Path = _backupPath ?? System.IO.Path.Combine(backupRoot, timestamp),
                Timestamp = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond)),
                Keys = _keys.ToArray(),
            });
        }

        private protected override void OnBackup(TvmEvent e) => _backupPath = e.Text;

        private protected override void OnKeyDone(TvmEvent e)
        {
            // A failed export fails the whole backup (the engine returns its status, reported as the
            // terminating error), so only the exported keys matter here.
            if (e.Outcome == TvmOutcome.Exported)
            {
                _keys.Add(KeyFromEvent(e, fingerprint: null));
            }
        }
    }
}
