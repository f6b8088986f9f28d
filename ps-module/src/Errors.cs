using System;
using System.Management.Automation;
using TvmBackupUtils.Native;

namespace TvmBackupUtils
{
    /// <summary>A failure reported by the tvmkeys engine; <see cref="Status"/> is its TvmStatus.</summary>
    public sealed class TvmException : Exception
    {
        internal TvmException(TvmStatus status, string message) : base(message)
        {
            Status = status;
        }

        /// <summary>The engine's status code for this failure.</summary>
        public TvmStatus Status { get; }
    }

    /// <summary>Turns an engine status into an ErrorRecord: ErrorId "Tvm" + status name, a real category.</summary>
    internal static class Errors
    {
        internal static string ErrorId(TvmStatus status) =>
            Enum.IsDefined(typeof(TvmStatus), status) ? "Tvm" + status : "TvmStatus" + ((uint)status).ToString(System.Globalization.CultureInfo.InvariantCulture);

        internal static ErrorCategory Category(TvmStatus status) => status switch
        {
            TvmStatus.NullArgument => ErrorCategory.InvalidArgument,
            TvmStatus.InvalidArgument => ErrorCategory.InvalidArgument,
            TvmStatus.Io => ErrorCategory.WriteError,
            TvmStatus.Format => ErrorCategory.InvalidData,
            TvmStatus.Crypto => ErrorCategory.SecurityError,
            TvmStatus.Vault => ErrorCategory.InvalidOperation,
            TvmStatus.AlreadyExists => ErrorCategory.ResourceExists,
            TvmStatus.NotFound => ErrorCategory.ObjectNotFound,
            TvmStatus.Cancelled => ErrorCategory.OperationStopped,
            TvmStatus.Timeout => ErrorCategory.OperationTimeout,
            TvmStatus.Unsupported => ErrorCategory.NotImplemented,
            TvmStatus.IncompatibleVersion => ErrorCategory.NotInstalled,
            _ => ErrorCategory.InvalidOperation, // Panic and codes newer than this assembly
        };

        /// <summary>The record for a failed engine call; <paramref name="text"/> is tvm_last_error() (may be null).</summary>
        internal static ErrorRecord FromStatus(TvmStatus status, string? text, object? target)
        {
            string message = string.IsNullOrEmpty(text)
                ? $"The TvmBackupUtils engine failed with status {status} ({(uint)status}) and gave no reason."
                : text!;
            return new ErrorRecord(new TvmException(status, message), ErrorId(status), Category(status), target);
        }
    }
}
