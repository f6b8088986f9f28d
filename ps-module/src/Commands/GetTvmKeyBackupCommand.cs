using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Get-TVMKeyBackup: every backup under a backup root, newest first, each with the verdict of a quick check
    /// (Complete, Legacy, Partial, Damaged); -Latest: the newest Complete or Legacy one.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "TVMKeyBackup")]
    [OutputType(typeof(TvmBackupInfo))]
    public sealed class GetTvmKeyBackupCommand : TvmCmdlet
    {
        /// <summary>The folder that holds the timestamped backups (Backup-TVMKeys -BackupRootPath).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string BackupRootPath { get; set; } = string.Empty;

        /// <summary>Only the newest backup that is Complete or Legacy (the one to restore).</summary>
        [Parameter]
        public SwitchParameter Latest { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string root = ResolvePath(BackupRootPath, nameof(BackupRootPath));
            var request = new ListBackupsRequest { BackupRootPath = root, Latest = Latest.IsPresent };
            (TvmStatus status, byte[] bytes) = CallWithoutVault(Native.BackupList, request);
            ListBackupsResult? result = ResultOrError<ListBackupsResult>(status, bytes, BackupRootPath);
            if (result != null)
            {
                WriteObject(result.Backups, enumerateCollection: true);
            }
        }
    }
}
