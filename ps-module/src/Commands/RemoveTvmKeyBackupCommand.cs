using System;
using System.Globalization;
using System.Management.Automation;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Commands
{
    /// <summary>
    /// Remove-TVMKeyBackup: retention. Removes the backups of a root beyond the newest -KeepLast, or older than
    /// -OlderThan, or the backups piped in; also left-over partial folders older than a day. Never the newest
    /// complete backup unless -Force; never anything through a link. Asks for each (ConfirmImpact High).
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "TVMKeyBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = RuleSet)]
    [OutputType(typeof(TvmBackupInfo))]
    public sealed class RemoveTvmKeyBackupCommand : TvmCmdlet
    {
        private const string RuleSet = "Rule";
        private const string PathSet = "Path";

        /// <summary>The folder that holds the timestamped backups.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = RuleSet)]
        public string BackupRootPath { get; set; } = string.Empty;

        /// <summary>Keep the newest N Complete or Legacy backups (and anything newer than the oldest of them).</summary>
        [Parameter(ParameterSetName = RuleSet)]
        [ValidateRange(0, int.MaxValue)]
        public int? KeepLast { get; set; }

        /// <summary>Only backups older than this: a TimeSpan, or a number of days.</summary>
        [Parameter(ParameterSetName = RuleSet)]
        [DaysOrTimeSpan]
        public TimeSpan? OlderThan { get; set; }

        /// <summary>Backups to remove (the Path of Get-TVMKeyBackup's objects).</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        public string[] Path { get; set; } = Array.Empty<string>();

        /// <summary>Also remove the newest complete backup, and partial folders less than a day old.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Writes a TvmBackupInfo for each backup removed.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            string now = DateTime.Now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            if (ParameterSetName == RuleSet)
            {
                if (OlderThan.HasValue && OlderThan.Value < TimeSpan.Zero)
                {
                    var failure = new ArgumentException($"-OlderThan {OlderThan.Value} is negative; give an age such as 30 (days) or (New-TimeSpan -Days 30).");
                    ThrowTerminatingError(new ErrorRecord(failure, "InvalidAge", ErrorCategory.InvalidArgument, OlderThan));
                }
                var request = new RemoveBackupsRequest
                {
                    BackupRootPath = ResolvePath(BackupRootPath, nameof(BackupRootPath)),
                    KeepLast = KeepLast.HasValue ? (uint)KeepLast.Value : (uint?)null,
                    OlderThanSeconds = OlderThan.HasValue ? (ulong)OlderThan.Value.TotalSeconds : (ulong?)null,
                    Force = Force.IsPresent,
                    Now = now,
                };
                Run(request, BackupRootPath, terminating: true);
                return;
            }
            foreach (string given in Path)
            {
                string path = ResolvePath(given, nameof(Path)).TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
                string? root = System.IO.Path.GetDirectoryName(path);
                var request = new RemoveBackupsRequest
                {
                    BackupRootPath = root ?? path,
                    Paths = new[] { path },
                    Force = Force.IsPresent,
                    Now = now,
                };
                Run(request, given, terminating: false);
            }
        }

        /// <summary>A rule's failure ends the command; a piped backup's is that backup's error, and the next one is removed.</summary>
        private void Run(RemoveBackupsRequest request, string target, bool terminating)
        {
            (TvmStatus status, byte[] bytes) = CallWithoutVault(Native.BackupRemove, request);
            RemoveBackupsResult? result = terminating
                ? ResultOf<RemoveBackupsResult>(status, bytes, target)
                : ResultOrError<RemoveBackupsResult>(status, bytes, target);
            if (result != null && PassThru.IsPresent)
            {
                WriteObject(result.Removed, enumerateCollection: true);
            }
        }
    }

    /// <summary>Lets -OlderThan take a number of days (30, 0.5) as well as a TimeSpan.</summary>
    internal sealed class DaysOrTimeSpanAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            switch (value)
            {
                case int days:
                    return TimeSpan.FromDays(days);
                case long days:
                    return TimeSpan.FromDays(days);
                case double days:
                    return TimeSpan.FromDays(days);
                case decimal days:
                    return TimeSpan.FromDays((double)days);
                case string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double days):
                    return TimeSpan.FromDays(days);
                default:
                    return inputData;
            }
        }
    }
}
