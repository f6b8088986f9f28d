using System;
using System.Management.Automation;
using System.Runtime.Serialization;
using TvmBackupUtils.Native;

namespace TvmBackupUtils
{
    /// <summary>A failure reported by the tvmkeys engine, with its stable code.</summary>
    public sealed class TvmException : Exception
    {
        internal TvmException(TvmStatus status, TvmError error, string message) : base(message)
        {
            Status = status;
            ErrorId = error.ErrorId ?? "InternalError";
            Input = error.Input;
        }

        /// <summary>How the engine call ended (Failed, Cancelled, Panic, ...).</summary>
        public TvmStatus Status { get; }

        /// <summary>The engine's code for this problem (WrappingKeyMissing, KeyExists, ...): the ErrorId of the record.</summary>
        public string ErrorId { get; }

        /// <summary>The request field that failed, when the problem is one input (keySize, wrappingKeyName).</summary>
        public string? Input { get; }
    }

    /// <summary>The engine's structured error: <c>{"errorId","category","message","target","input"}</c>.</summary>
    [DataContract]
    internal sealed class TvmError
    {
        [DataMember(Name = "errorId")] internal string? ErrorId { get; set; }
        [DataMember(Name = "category")] internal string? Category { get; set; }
        [DataMember(Name = "message")] internal string? Message { get; set; }
        [DataMember(Name = "target", EmitDefaultValue = false)] internal string? Target { get; set; }
        [DataMember(Name = "input", EmitDefaultValue = false)] internal string? Input { get; set; }

        /// <summary>The PowerShell category the engine named; one the engine added later reads as NotSpecified.</summary>
        internal ErrorCategory PowerShellCategory =>
            Enum.TryParse(Category, ignoreCase: false, out ErrorCategory category) ? category : ErrorCategory.NotSpecified;
    }

    /// <summary>Turns engine errors into ErrorRecords: the engine's code as ErrorId, its category.</summary>
    internal static class Errors
    {
        /// <summary>The record for a failed engine call. <paramref name="parameter"/> names the cmdlet parameter the input is.</summary>
        internal static ErrorRecord FromEngine(TvmStatus status, TvmError error, string? parameter, object? target)
        {
            string message = string.IsNullOrEmpty(error.Message)
                ? $"The TvmBackupUtils engine failed with status {status} ({(uint)status}) and gave no reason."
                : error.Message!;
            // The engine names the input in its own words; the front end names its parameter, for argument problems.
            if (parameter != null && error.PowerShellCategory == ErrorCategory.InvalidArgument)
            {
                message = $"-{parameter}: {message}";
            }
            return new ErrorRecord(new TvmException(status, error, message), error.ErrorId ?? "InternalError", error.PowerShellCategory, target);
        }

        /// <summary>The error in an engine buffer that should hold one; a buffer that does not is reported as such.</summary>
        internal static TvmError Read(byte[] bytes, TvmStatus status)
        {
            try
            {
                return Json.Read<TvmError>(bytes);
            }
            catch (System.IO.InvalidDataException e)
            {
                return new TvmError
                {
                    ErrorId = "InternalError",
                    Category = nameof(ErrorCategory.InvalidOperation),
                    Message = $"The TvmBackupUtils engine failed with status {status} ({(uint)status}); its error could not be read: {e.Message}",
                };
            }
        }
    }
}
