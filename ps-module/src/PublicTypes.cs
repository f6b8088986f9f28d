using System;

namespace TvmBackupUtils
{
    /// <summary>TvmStatus of include/tvmkeys.h. Never renumbered; 0 is success.</summary>
    public enum TvmStatus : uint
    {
        Ok = 0,
        NullArgument = 1,
        InvalidArgument = 2,
        Io = 3,
        Format = 4,
        Crypto = 5,
        Vault = 6,
        AlreadyExists = 7,
        NotFound = 8,
        Cancelled = 9,
        Timeout = 10,
        Unsupported = 11,
        IncompatibleVersion = 12,
        Panic = 99,
    }

    /// <summary>Raised when the engine library is missing, unloadable or of another ABI version.</summary>
    public sealed class TvmNativeLibraryException : Exception
    {
        internal TvmNativeLibraryException(string message, Exception? inner = null) : base(message, inner) { }
    }
}
