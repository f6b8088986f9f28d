using System;
using System.Linq;
using System.Management.Automation;
using System.Security;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Test-TVMKeyBackup: checks backups offline (structure, manifest, every key file), with -WrappingKeyPath
    /// that they were made for that public key, with -Deep -PrivateKeyPath that every key unwraps, and with
    /// -Vault (or -VaultPath) that they still hold every key of the vault. One TvmBackupCheck per backup; a
    /// damaged, incomplete or out-of-date backup is also a non-terminating error, so $? is false.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "TVMKeyBackup")]
    [OutputType(typeof(TvmBackupCheck))]
    public sealed class TestTvmKeyBackupCommand : TvmVaultCmdlet
    {
        /// <summary>Backup folders (the Path of Get-TVMKeyBackup's objects, or folders' FullName).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "BackupPath")]
        public string[] Path { get; set; } = Array.Empty<string>();

        /// <summary>PEM file of the RSA public key the backups must have been made for.</summary>
        [Parameter]
        public string? WrappingKeyPath { get; set; }

        /// <summary>Unwraps every key in memory with the wrapping private key (-PrivateKeyPath).</summary>
        [Parameter]
        public SwitchParameter Deep { get; set; }

        /// <summary>PEM file of the wrapping private key (PKCS#8, plain or encrypted with -Password; or PKCS#1).</summary>
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

        /// <summary>Also compares each backup with the vault (-VaultPath, $env:TVM_VAULT_PATH, or the cluster's MOC vault), read-only.</summary>
        [Parameter]
        public SwitchParameter Vault { get; set; }

        /// <summary>Worker threads for -Deep. Default: every core.</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string? wrappingKey = WrappingKeyPath == null ? null : ResolvePath(WrappingKeyPath, nameof(WrappingKeyPath));
            string? privateKey = PrivateKeyPath == null ? null : ResolvePath(PrivateKeyPath, nameof(PrivateKeyPath));
            bool coverage = Vault.IsPresent || !string.IsNullOrEmpty(VaultPath);
            VaultHandle? vault = coverage ? OpenVault(create: false) : null;
            foreach (string given in Path)
            {
                string path = ResolvePath(given, nameof(Path));
                var request = new VerifyRequest
                {
                    BackupPath = path,
                    WrappingKeyPath = wrappingKey,
                    Deep = Deep.IsPresent || privateKey != null || SharePath != null,
                    PrivateKeyPath = privateKey,
                    SharePaths = ResolvePaths(SharePath, nameof(SharePath)),
                    CustodianPrivateKeyPaths = ResolvePaths(CustodianPrivateKeyPath, nameof(CustodianPrivateKeyPath)),
                    Coverage = coverage,
                    Threads = ThrottleLimit > 0 ? (uint)ThrottleLimit : (uint?)null,
                };
                TvmBackupCheck? check = Run(vault, request, path);
                if (check == null)
                {
                    continue;
                }
                WriteObject(check);
                Report(check);
            }
        }

        private TvmBackupCheck? Run(VaultHandle? vault, VerifyRequest request, string path)
        {
            (TvmStatus status, byte[] bytes) = SharePath == null
                ? CallWithSecret(Native.Verify, vault, request, Password)
                : CallWithSecretList(Native.Verify, vault, request, null, CustodianPassword);
            if (status != TvmStatus.Ok && status != TvmStatus.Cancelled)
            {
                // A problem with an input every backup shares (the keys, the password) ends the command once;
                // a problem with one backup is that backup's error, and the next one is checked.
                string? input = Errors.Read(bytes, status).Input;
                if (input != null && input != "backupPath")
                {
                    return ResultOf<TvmBackupCheck>(status, bytes, path);
                }
            }
            return ResultOrError<TvmBackupCheck>(status, bytes, path);
        }

        /// <summary>A non-terminating error for a backup that is not good, and one for a backup that is not current.</summary>
        private void Report(TvmBackupCheck check)
        {
            if (check.Status == "Incomplete")
            {
                TvmBackupFinding? unfinished = check.Findings.FirstOrDefault(f => f.Problem == "Incomplete");
                var failure = new TvmBackupException($"The backup '{check.Path}' is incomplete. {unfinished?.Message}", check);
                WriteError(new ErrorRecord(failure, "BackupDamaged", ErrorCategory.InvalidData, check.Path));
            }
            else if (check.Status == "Damaged")
            {
                string list = string.Join(" ", check.Findings.Take(5).Select(f => (f.File.Length > 0 ? f.File + ": " : string.Empty) + f.Problem + "."));
                string more = check.Findings.Length > 5 ? $" (and {check.Findings.Length - 5} more; see the Findings of the result)" : string.Empty;
                var failure = new TvmBackupException(
                    $"The backup '{check.Path}' is damaged: {check.Findings.Length} problem(s). {list}{more} {check.Findings.FirstOrDefault()?.Message}", check);
                WriteError(new ErrorRecord(failure, "BackupDamaged", ErrorCategory.InvalidData, check.Path));
            }
            TvmBackupCoverage? coverage = check.Coverage;
            if (coverage != null && !coverage.Covered)
            {
                string missing = string.Join(", ", coverage.MissingFromBackup.Select(k => k.Name));
                var failure = new TvmBackupException(
                    $"The backup '{check.Path}' does not cover {coverage.Vault}: {coverage.MissingFromBackup.Length} key(s) missing from the backup" +
                    (missing.Length > 0 ? $" ({missing})" : string.Empty) +
                    $", {coverage.NotInVault.Length} no longer in the vault, {coverage.Differing.Length} different. Take a new backup with Backup-TVMKeys.",
                    check);
                WriteError(new ErrorRecord(failure, "BackupNotCurrent", ErrorCategory.InvalidResult, check.Path));
            }
        }
    }

    /// <summary>A backup that Test-TVMKeyBackup found damaged, incomplete or out of date; <see cref="Check"/> has the details.</summary>
    public sealed class TvmBackupException : Exception
    {
        internal TvmBackupException(string message, TvmBackupCheck check) : base(message)
        {
            Check = check;
        }

        /// <summary>The check's result.</summary>
        public TvmBackupCheck Check { get; }
    }
}
