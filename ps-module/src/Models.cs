using System;
using System.Globalization;
using System.Runtime.Serialization;

namespace TvmBackupUtils
{
    /// <summary>A key in a vault (Get-TvmVaultKey, New-TvmVaultKey, Import-TvmWrappingKeyFromPem) or in a backup.</summary>
    [DataContract]
    public sealed class TvmKey
    {
        /// <summary>Key name in the vault.</summary>
        [DataMember(Name = "name")]
        public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA.</summary>
        [DataMember(Name = "type")]
        public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits (256 for AES; 2048, 3072 or 4096 for RSA).</summary>
        [DataMember(Name = "size")]
        public int Size { get; set; }

        /// <summary>Hex fingerprint of the key, when the vault can give one; otherwise null.</summary>
        [DataMember(Name = "fingerprint", EmitDefaultValue = false)]
        public string? Fingerprint { get; set; }

        /// <summary>The key file (in a backup), when there is one; otherwise null.</summary>
        [DataMember(Name = "file", EmitDefaultValue = false)]
        public string? File { get; set; }
    }

    /// <summary>One timestamped backup folder written by Backup-TVMKeys.</summary>
    [DataContract]
    public sealed class TvmBackup
    {
        /// <summary>Full path of &lt;BackupRootPath&gt;/&lt;yyyyMMddHHmmss&gt;; pipes into Import-TVMKeys -BackupPath.</summary>
        [DataMember(Name = "path")]
        public string Path { get; set; } = string.Empty;

        /// <summary>Local time of the backup (the folder name).</summary>
        public DateTime Timestamp { get; set; }

        /// <summary>The keys the backup holds.</summary>
        [DataMember(Name = "keys")]
        public TvmKey[] Keys { get; set; } = Array.Empty<TvmKey>();

        /// <summary>Fingerprint of the wrapping public key the keys are wrapped with, as the backup's manifest records it.</summary>
        [DataMember(Name = "wrappingKeyFingerprint")]
        public string WrappingKeyFingerprint { get; set; } = string.Empty;

        /// <summary>The -Label given to Backup-TVMKeys, recorded in the manifest; otherwise null.</summary>
        [DataMember(Name = "label", EmitDefaultValue = false)]
        public string? Label { get; set; }

        /// <summary>The folder name as the engine gives it, yyyyMMddHHmmss (local time).</summary>
        [DataMember(Name = "timestamp")]
        private string TimestampText
        {
            get => Timestamp.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            set => Timestamp = DateTime.ParseExact(value, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal);
        }
    }

    /// <summary>What Import-TVMKeys did with one key file of a backup.</summary>
    [DataContract]
    public sealed class TvmKeyRestore
    {
        /// <summary>Key name.</summary>
        [DataMember(Name = "name")]
        public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA (the backup folder it came from).</summary>
        [DataMember(Name = "type")]
        public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits.</summary>
        [DataMember(Name = "size")]
        public int Size { get; set; }

        /// <summary>Imported, Replaced, Exists, Conflict, Skipped or Failed.</summary>
        [DataMember(Name = "outcome")]
        public string Outcome { get; set; } = string.Empty;

        /// <summary>The engine's text for this key (the reason for Exists, Skipped and Failed).</summary>
        [DataMember(Name = "message", EmitDefaultValue = false)]
        public string? Message { get; set; }

        /// <summary>Full path of the key file.</summary>
        [DataMember(Name = "file", EmitDefaultValue = false)]
        public string? File { get; set; }

        /// <summary>For a key the vault held already: Same, Different or NotCompared (an AES key without -PrivateKeyPath).</summary>
        [DataMember(Name = "comparison", EmitDefaultValue = false)]
        public string? Comparison { get; set; }

        /// <summary>For a Failed key, the engine's code for the problem (KeyFileInvalid, UnwrapFailed, ...); otherwise null.</summary>
        public string? ErrorId => Error?.ErrorId;

        [DataMember(Name = "error", EmitDefaultValue = false)]
        internal TvmError? Error { get; set; }
    }
}
