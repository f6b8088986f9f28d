using System;
using System.Globalization;
using System.Management.Automation;
using TvmBackupUtils.Api;
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
        /// <summary>PEM file of the RSA public key that wraps the exported keys.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public string WrappingKeyPath { get; set; } = string.Empty;

        /// <summary>Folder that holds the timestamped backups.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string BackupRootPath { get; set; } = string.Empty;

        /// <summary>A line of text recorded in the backup's manifest.json (what the backup is for).</summary>
        [Parameter]
        public string? Label { get; set; }

        /// <summary>Only these keys (wildcards allowed): a VM's key by its VMId. Names that match no key are an error, and nothing is written.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("VMId")]
        [SupportsWildcards]
        public string[]? KeyName { get; set; }

        /// <summary>
        /// The vault-to-vault flow: the name of the wrapping key inside the vault that will import the backup
        /// (New-TvmWrappingKey -InVault made it there); every key file names it, as Export-MocKey -wrappingKeyName does.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? WrappingKeyName { get; set; }

        /// <summary>
        /// Up to this many Moc cmdlet calls at a time (1 to 16), each in a runspace of its own that imports the Moc
        /// module; the results come in the original order. Default 1, the original's one call at a time: overlapping
        /// calls has been tried only against the stand-in Moc module, not yet against real MOC. Ignored for a local vault.
        /// </summary>
        [Parameter]
        public int ThrottleLimit { get; set; } = 1;

        private readonly System.Collections.Generic.List<string> _gathered = new System.Collections.Generic.List<string>();
        private bool _gatheredAll;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            if (!MyInvocation.ExpectingInput)
            {
                Back(KeyName);
                return;
            }
            // VMs from the pipeline: one backup of all their keys, at the end.
            if (KeyName == null || KeyName.Length == 0)
            {
                _gatheredAll = true;
            }
            else
            {
                _gathered.AddRange(KeyName);
            }
        }

        /// <inheritdoc />
        protected override void EndProcessing()
        {
            if (MyInvocation.ExpectingInput && (_gatheredAll || _gathered.Count > 0))
            {
                Back(_gatheredAll ? null : _gathered.ToArray());
            }
        }

        private void Back(string[]? keyNames)
        {
            string wrappingKey = ResolvePath(WrappingKeyPath, nameof(WrappingKeyPath));
            string backupRoot = ResolvePath(BackupRootPath, nameof(BackupRootPath));
            VaultHandle vault = OpenVault(create: false);

            // Local time, as the original's Get-Date -Format yyyyMMddHHmmss.
            DateTimeOffset now = DateTimeOffset.Now;
            string timestamp = now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            if (!ShouldProcess(backupRoot, $"Back up the TVM vault keys into a new backup {timestamp}"))
            {
                return;
            }

            var request = new BackupRequest
            {
                WrappingKeyPath = wrappingKey,
                BackupRootPath = backupRoot,
                ShownBackupRootPath = BackupRootPath,
                Timestamp = timestamp,
                Label = Label,
                CreatedLocal = now.ToString("o", CultureInfo.InvariantCulture),
                KeyNames = keyNames != null && keyNames.Length > 0 ? keyNames : null,
                WrappingKeyName = WrappingKeyName,
                ThrottleLimit = MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? (long?)ThrottleLimit : null,
            };
            WriteObject(Invoke<BackupRequest, TvmBackup>(Native.Backup, vault, request, backupRoot));
        }
    }
}
