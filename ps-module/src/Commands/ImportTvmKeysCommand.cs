using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Import-TVMKeys: restores the keys of one backup folder into the vault, AES keys first, then RSA,
    /// unwrapped inside the vault with the wrapping key WrappingKeyName. Safe to re-run: a key the vault holds
    /// already is compared with the backup's and reported (Exists when it is the same, Conflict when not), never
    /// imported twice; -IfExists Replace replaces it. Before the first write the target vault is backed up
    /// (-SkipTargetBackup opts out) and everything that can refuse the restore is checked; -WhatIf shows the plan.
    /// Objects from the pipeline (a backup's Path, a VM's VMId) are gathered and restored in one run per backup.
    /// </summary>
    [Cmdlet(VerbsData.Import, "TVMKeys", SupportsShouldProcess = true)]
    [OutputType(typeof(TvmKeyRestore))]
    public sealed class ImportTvmKeysCommand : TvmVaultCmdlet
    {
        private readonly List<(string Given, List<string>? Names)> _gathered = new List<(string, List<string>?)>();
        private bool _replaceAll;

        /// <summary>One timestamped backup folder (the Path of a TvmBackup, or a folder's FullName).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Path", "FullName")]
        public string BackupPath { get; set; } = string.Empty;

        /// <summary>Name of the wrapping key pair in the vault (imported with Import-TvmWrappingKeyFromPem).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        public string WrappingKeyName { get; set; } = string.Empty;

        /// <summary>Only these keys (wildcards allowed); a VM's key by its VMId (Get-VM web01 | Import-TVMKeys ...).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("VMId")]
        [SupportsWildcards]
        public string[]? KeyName { get; set; }

        /// <summary>Keys the vault holds already: Skip (leave them; the default), Fail (refuse the restore), Replace (replace those that differ).</summary>
        [Parameter]
        [ValidateSet("Skip", "Fail", "Replace")]
        public string IfExists { get; set; } = "Skip";

        /// <summary>The wrapping private key PEM, to compare the vault's existing AES keys with the backup's by their material.</summary>
        [Parameter]
        public string? PrivateKeyPath { get; set; }

        /// <summary>The password of an encrypted -PrivateKeyPath.</summary>
        [Parameter]
        public SecureString? Password { get; set; }

        /// <summary>Share files (Split-TvmWrappingKey) that rebuild the wrapping private key in memory, in place of -PrivateKeyPath.</summary>
        [Parameter]
        public string[]? SharePath { get; set; }

        /// <summary>The custodians' private key PEMs that open the shares encrypted to them.</summary>
        [Parameter]
        public string[]? CustodianPrivateKeyPath { get; set; }

        /// <summary>The custodians' passwords (of password-protected shares, or of encrypted custodian private keys).</summary>
        [Parameter]
        public SecureString[]? CustodianPassword { get; set; }

        /// <summary>Replaces the vault's AzureStackTvmAKRootKey when it differs from the backup's (a restore to the same instance).</summary>
        [Parameter]
        public SwitchParameter ReplaceAttestationRootKey { get; set; }

        /// <summary>Where the backup of the target vault taken before the restore goes. Default: the backup root of -BackupPath.</summary>
        [Parameter]
        public string? TargetBackupRootPath { get; set; }

        /// <summary>Does not back up the target vault before the first write.</summary>
        [Parameter]
        public SwitchParameter SkipTargetBackup { get; set; }

        /// <summary>Removes the wrapping key from the vault when the restore is done (not after a failure).</summary>
        [Parameter]
        public SwitchParameter RemoveWrappingKey { get; set; }

        /// <summary>
        /// Replaces keys without asking for each (-IfExists Replace), and restores the intact key files of a backup that
        /// is damaged (without it, a damaged backup is refused as a whole and nothing is imported).
        /// </summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>
        /// Up to this many Moc cmdlet calls at a time (1 to 16), each in a runspace of its own that imports the Moc
        /// module; the results come in the original order. Default 1, the original's one call at a time: overlapping
        /// calls has been tried only against the stand-in Moc module, not yet against real MOC. Ignored for a local vault.
        /// </summary>
        [Parameter]
        public int ThrottleLimit { get; set; } = 1;

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            List<string>? names = KeyName != null && KeyName.Length > 0 ? new List<string>(KeyName) : null;
            if (!MyInvocation.ExpectingInput)
            {
                Restore(BackupPath, names);
                return;
            }
            // From the pipeline: one restore per backup, with every key asked for (none asked: all of them).
            int at = _gathered.FindIndex(g => g.Given == BackupPath);
            if (at < 0)
            {
                _gathered.Add((BackupPath, names));
            }
            else if (_gathered[at].Names != null)
            {
                if (names == null)
                {
                    _gathered[at] = (BackupPath, null);
                }
                else
                {
                    _gathered[at].Names!.AddRange(names);
                }
            }
        }

        /// <inheritdoc />
        protected override void EndProcessing()
        {
            foreach ((string given, List<string>? names) in _gathered)
            {
                Restore(given, names);
            }
        }

        private void Restore(string given, List<string>? names)
        {
            string backupPath = ResolvePath(given, nameof(BackupPath));
            string? privateKey = PrivateKeyPath == null ? null : ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            string? targetRoot = TargetBackupRootPath == null ? null : ResolvePath(TargetBackupRootPath, nameof(TargetBackupRootPath));
            VaultHandle vault = OpenVault(create: true);
            DateTimeOffset now = DateTimeOffset.Now;
            var request = new RestoreRequest
            {
                BackupPath = backupPath,
                ShownBackupPath = given,
                WrappingKeyName = WrappingKeyName,
                IfExists = IfExists == "Skip" ? null : IfExists,
                KeyNames = names?.ToArray(),
                PrivateKeyPath = privateKey,
                SharePaths = ResolvePaths(SharePath, nameof(SharePath)),
                CustodianPrivateKeyPaths = ResolvePaths(CustodianPrivateKeyPath, nameof(CustodianPrivateKeyPath)),
                ReplaceAttestationRootKey = ReplaceAttestationRootKey.IsPresent,
                WhatIf = IsWhatIf(),
                TargetBackupRootPath = targetRoot,
                SkipTargetBackup = SkipTargetBackup.IsPresent,
                Timestamp = now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture),
                CreatedLocal = now.ToString("o", CultureInfo.InvariantCulture),
                RemoveWrappingKey = RemoveWrappingKey.IsPresent,
                RestoreIntact = Force.IsPresent,
                ThrottleLimit = MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? (long?)ThrottleLimit : null,
            };
            // The objects are written per key, as the keys are done (keyRestored); the result holds the counts.
            (TvmStatus status, byte[] bytes) = SharePath == null
                ? CallWithSecret(Native.Restore, vault, request, Password)
                : CallWithSecretList(Native.Restore, vault, request, null, CustodianPassword);
            ResultOf<RestoreResult>(status, bytes, given);
        }

        /// <summary>-WhatIf, given or by $WhatIfPreference: the engine then plans and writes nothing.</summary>
        private bool IsWhatIf()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? given))
            {
                return given is SwitchParameter s ? s.IsPresent : given is bool b && b;
            }
            object? preference = SessionState.PSVariable.GetValue("WhatIfPreference");
            return preference is SwitchParameter p ? p.IsPresent : preference is bool on && on;
        }

        private protected override string PendingTarget(TvmKey key) =>
            key.Name.Length > 0 ? $"{key.Name} ({key.Type} {key.Size})" : key.File ?? string.Empty;

        /// <summary>A replacement removes a key first: besides ShouldProcess, it asks (unless -Force) as a high-impact change.</summary>
        private protected override bool ConfirmPending(TvmKey key, string action)
        {
            if (action.StartsWith("Replace", StringComparison.Ordinal) && !Force.IsPresent && !_replaceAll)
            {
                bool yesToAll = _replaceAll, noToAll = false;
                bool go;
                try
                {
                    go = ShouldContinue(
                        $"Replace the key {key.Name} in the vault with the backup's? The vault's key is removed first (the pre-restore backup holds it).",
                        "Replace a key", ref yesToAll, ref noToAll);
                }
                catch (Exception e) when (e is PSInvalidOperationException || e is NullReferenceException
                                          || e is System.Management.Automation.Host.HostException || e is InvalidOperationException)
                {
                    // A host that cannot ask (a script, -NonInteractive): say how to replace without asking.
                    var failure = new InvalidOperationException(
                        $"Replacing the key {key.Name} needs a confirmation, and this session cannot ask for one. Nothing was replaced. " +
                        "Add -Force to replace without asking (the target vault is backed up first either way).", e);
                    ThrowTerminatingError(new ErrorRecord(failure, "ReplaceNeedsConfirmation", ErrorCategory.InvalidOperation, key.Name));
                    throw;
                }
                _replaceAll = yesToAll;
                return go;
            }
            return true;
        }

        private protected override void OnKeyRestored(TvmKeyRestore restore)
        {
            // Exists and Conflict: the engine has sent the warning already (a warning event); the object is written here.
            WriteObject(restore);
            if (restore.Outcome == "Failed")
            {
                WriteKeyError(restore, "KeyImportFailed", "Error Importing Key: ");
            }
            else if (restore.Outcome == "Conflict")
            {
                WriteKeyError(restore, "KeyConflict", string.Empty);
            }
        }
    }
}
