using System;

namespace TvmBackupUtils
{
    /// <summary>
    /// TvmStatus of include/tvmkeys.h: how an engine call ended, as a transport matter. What went wrong is the
    /// error's <see cref="TvmException.ErrorId"/>. Never renumbered; 2 to 8 and 10 to 12 are retired.
    /// </summary>
    public enum TvmStatus : uint
    {
        Ok = 0,
        NullArgument = 1,
        Cancelled = 9,
        InvalidRequest = 13,
        Failed = 14,
        Panic = 99,
    }

    /// <summary>Raised when the engine library is missing, unloadable or of another ABI version.</summary>
    public sealed class TvmNativeLibraryException : Exception
    {
        internal TvmNativeLibraryException(string message, Exception? inner = null) : base(message, inner) { }
    }
}
