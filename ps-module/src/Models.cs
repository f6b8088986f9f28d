using System;

namespace TvmBackupUtils
{
    /// <summary>A key in a vault (Get-TvmVaultKey, New-TvmVaultKey, Import-TvmWrappingKeyFromPem) or in a backup.</summary>
    public sealed class TvmKey
    {
        /// <summary>Key name in the vault.</summary>
        public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA.</summary>
        public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits (256 for AES; 2048, 3072 or 4096 for RSA).</summary>
        public int Size { get; set; }

        /// <summary>Hex fingerprint of the key, when the vault can give one; otherwise null.</summary>
        public string? Fingerprint { get; set; }

        /// <summary>The key file (in a backup or a LocalVault), when there is one; otherwise null.</summary>
        public string? File { get; set; }
    }

    /// <summary>One timestamped backup folder written by Backup-TVMKeys.</summary>
    public sealed class TvmBackup
    {
        /// <summary>Full path of &lt;BackupRootPath&gt;/&lt;yyyyMMddHHmmss&gt;; pipes into Import-TVMKeys -BackupPath.</summary>
        public string Path { get; set; } = string.Empty;

        /// <summary>Local time of the backup (the folder name).</summary>
        public DateTime Timestamp { get; set; }

        /// <summary>The keys the backup holds.</summary>
        public TvmKey[] Keys { get; set; } = Array.Empty<TvmKey>();
    }

    /// <summary>What Import-TVMKeys did with one key file of a backup.</summary>
    public sealed class TvmKeyRestore
    {
        /// <summary>Key name.</summary>
        public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA (the backup folder it came from).</summary>
        public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits.</summary>
        public int Size { get; set; }

        /// <summary>Imported, Exists, Skipped or Failed.</summary>
        public string Outcome { get; set; } = string.Empty;

        /// <summary>The engine's text for this key (the reason for Exists, Skipped and Failed).</summary>
        public string? Message { get; set; }

        /// <summary>Full path of the key file.</summary>
        public string? File { get; set; }
    }
}
