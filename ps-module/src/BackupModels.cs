using System;
using System.Globalization;
using System.Runtime.Serialization;

// The objects of Test-TVMKeyBackup, Get-TVMKeyBackup and Remove-TVMKeyBackup: the results of src/verify.rs,
// src/coverage.rs and src/inventory.rs as the engine sends them (docs/abi.md).
namespace TvmBackupUtils
{
    /// <summary>Reads the engine's yyyyMMddHHmmss (local time) and RFC 3339 UTC times.</summary>
    internal static class EngineTime
    {
        internal static DateTime? Local(string? text) =>
            DateTime.TryParseExact(text, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out DateTime t)
                ? t
                : (DateTime?)null;

        internal static DateTime? Utc(string? text) =>
            DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t)
                ? t
                : (DateTime?)null;
    }

    /// <summary>The vault a backup was made from, as its manifest records it.</summary>
    [DataContract]
    public sealed class TvmBackupSource
    {
        /// <summary>moc or local.</summary>
        [DataMember(Name = "kind")] public string Kind { get; set; } = string.Empty;

        /// <summary>The MOC group (moc only).</summary>
        [DataMember(Name = "group", EmitDefaultValue = false)] public string? Group { get; set; }

        /// <summary>The MOC key vault name (moc only).</summary>
        [DataMember(Name = "vaultName", EmitDefaultValue = false)] public string? VaultName { get; set; }

        /// <summary>The local vault's folder (local only).</summary>
        [DataMember(Name = "path", EmitDefaultValue = false)] public string? Path { get; set; }

        /// <inheritdoc />
        public override string ToString() =>
            Kind == "moc" ? $"moc:{Group}/{VaultName}" : $"{Kind}:{Path}";
    }

    /// <summary>One problem Test-TVMKeyBackup found in a backup.</summary>
    [DataContract]
    public sealed class TvmBackupFinding
    {
        /// <summary>The file or folder, relative to the backup with '/' (AES/vm1_256.json, manifest.json); empty for the backup folder.</summary>
        [DataMember(Name = "file")] public string File { get; set; } = string.Empty;

        /// <summary>What kind of problem (HashMismatch, FileMissing, UnwrapFailed, ...); stable names a script may match.</summary>
        [DataMember(Name = "problem")] public string Problem { get; set; } = string.Empty;

        /// <summary>What is wrong and what to do.</summary>
        [DataMember(Name = "message")] public string Message { get; set; } = string.Empty;
    }

    /// <summary>One key file of a checked backup.</summary>
    [DataContract]
    public sealed class TvmKeyCheck
    {
        /// <summary>Key name (from the file name).</summary>
        [DataMember(Name = "name")] public string Name { get; set; } = string.Empty;

        /// <summary>AES or RSA (the folder).</summary>
        [DataMember(Name = "type")] public string Type { get; set; } = string.Empty;

        /// <summary>Size in bits (from the file name).</summary>
        [DataMember(Name = "size")] public int Size { get; set; }

        /// <summary>The key file, relative to the backup.</summary>
        [DataMember(Name = "file")] public string File { get; set; } = string.Empty;

        /// <summary>Valid, or Damaged when a finding names this file.</summary>
        [DataMember(Name = "status")] public string Status { get; set; } = string.Empty;

        /// <summary>-Deep: the mechanism that unwrapped the key (CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, RSA_AES_KEY_WRAP_384).</summary>
        [DataMember(Name = "enc", EmitDefaultValue = false)] public string? Enc { get; set; }

        /// <summary>-Deep: the AES key wrap that matched (RFC5649 or RFC3394).</summary>
        [DataMember(Name = "keyWrap", EmitDefaultValue = false)] public string? KeyWrap { get; set; }

        /// <summary>The key's fingerprint as a vault lists it (RSA: always; AES: after -Deep).</summary>
        [DataMember(Name = "fingerprint", EmitDefaultValue = false)] public string? Fingerprint { get; set; }
    }

    /// <summary>A key in both the backup and the vault that is not the same key.</summary>
    [DataContract]
    public sealed class TvmKeyDifference
    {
        /// <summary>Key name.</summary>
        [DataMember(Name = "name")] public string Name { get; set; } = string.Empty;

        /// <summary>What differs.</summary>
        [DataMember(Name = "reason")] public string Reason { get; set; } = string.Empty;
    }

    /// <summary>Test-TVMKeyBackup -Vault: how a backup compares with the vault it should cover.</summary>
    [DataContract]
    public sealed class TvmBackupCoverage
    {
        /// <summary>The vault compared with.</summary>
        [DataMember(Name = "vault")] public string Vault { get; set; } = string.Empty;

        /// <summary>True when the backup holds every key of the vault, each the same, and no key the vault lost.</summary>
        [DataMember(Name = "covered")] public bool Covered { get; set; }

        /// <summary>Keys in both.</summary>
        [DataMember(Name = "inBoth")] public int InBoth { get; set; }

        /// <summary>Keys in the vault that the backup lacks (created after the backup: new VMs).</summary>
        [DataMember(Name = "missingFromBackup")] public TvmKey[] MissingFromBackup { get; set; } = Array.Empty<TvmKey>();

        /// <summary>Keys in the backup that the vault no longer holds.</summary>
        [DataMember(Name = "notInVault")] public TvmKey[] NotInVault { get; set; } = Array.Empty<TvmKey>();

        /// <summary>Keys in both whose type, size or material differ.</summary>
        [DataMember(Name = "differing")] public TvmKeyDifference[] Differing { get; set; } = Array.Empty<TvmKeyDifference>();

        /// <summary>Keys in both whose material could be compared (fingerprints on both sides).</summary>
        [DataMember(Name = "materialCompared")] public int MaterialCompared { get; set; }
    }

    /// <summary>The verdict of Test-TVMKeyBackup on one backup.</summary>
    [DataContract]
    public sealed class TvmBackupCheck
    {
        /// <summary>Full path of the backup folder.</summary>
        [DataMember(Name = "path")] public string Path { get; set; } = string.Empty;

        /// <summary>Local time of the backup (the folder name), when the folder is named by a timestamp.</summary>
        public DateTime? Timestamp => EngineTime.Local(TimestampText);

        /// <summary>Valid, Legacy (no manifest: written by the original script), Damaged or Incomplete (a partial folder).</summary>
        [DataMember(Name = "status")] public string Status { get; set; } = string.Empty;

        /// <summary>True when the backup has a manifest.json.</summary>
        [DataMember(Name = "hasManifest")] public bool HasManifest { get; set; }

        /// <summary>Key files found.</summary>
        [DataMember(Name = "keyCount")] public int KeyCount { get; set; }

        /// <summary>AES key files found.</summary>
        [DataMember(Name = "aesCount")] public int AesCount { get; set; }

        /// <summary>RSA key files found.</summary>
        [DataMember(Name = "rsaCount")] public int RsaCount { get; set; }

        /// <summary>Fingerprint of the wrapping public key the backup was made for.</summary>
        [DataMember(Name = "wrappingKeyFingerprint", EmitDefaultValue = false)] public string? WrappingKeyFingerprint { get; set; }

        /// <summary>The backup's -Label, if it has one.</summary>
        [DataMember(Name = "label", EmitDefaultValue = false)] public string? Label { get; set; }

        /// <summary>preRestore for the backup Import-TVMKeys takes of its target vault before it writes; otherwise null.</summary>
        [DataMember(Name = "purpose", EmitDefaultValue = false)] public string? Purpose { get; set; }

        /// <summary>When the backup was made (UTC), from its manifest.</summary>
        public DateTime? CreatedUtc => EngineTime.Utc(CreatedUtcText);

        /// <summary>The vault it was made from, from its manifest.</summary>
        [DataMember(Name = "source", EmitDefaultValue = false)] public TvmBackupSource? Source { get; set; }

        /// <summary>Quick, Full or Deep.</summary>
        [DataMember(Name = "depth")] public string Depth { get; set; } = string.Empty;

        /// <summary>Every problem found; empty for a Valid or Legacy backup.</summary>
        [DataMember(Name = "findings")] public TvmBackupFinding[] Findings { get; set; } = Array.Empty<TvmBackupFinding>();

        /// <summary>Every key file, with its own status.</summary>
        [DataMember(Name = "keys")] public TvmKeyCheck[] Keys { get; set; } = Array.Empty<TvmKeyCheck>();

        /// <summary>-Vault: how the backup compares with the vault; otherwise null.</summary>
        [DataMember(Name = "coverage", EmitDefaultValue = false)] public TvmBackupCoverage? Coverage { get; set; }

        /// <summary>-Deep: the worker threads the keys were unwrapped on.</summary>
        [DataMember(Name = "threads", EmitDefaultValue = false)] public int? Threads { get; set; }

        [DataMember(Name = "timestamp", EmitDefaultValue = false)] internal string? TimestampText { get; set; }

        [DataMember(Name = "createdUtc", EmitDefaultValue = false)] internal string? CreatedUtcText { get; set; }
    }

    /// <summary>One backup under a backup root, as Get-TVMKeyBackup lists it.</summary>
    [DataContract]
    public sealed class TvmBackupInfo
    {
        /// <summary>Full path of the backup folder; pipes into Test-TVMKeyBackup, Import-TVMKeys and Remove-TVMKeyBackup.</summary>
        [DataMember(Name = "path")] public string Path { get; set; } = string.Empty;

        /// <summary>Local time of the backup (the folder name).</summary>
        public DateTime Timestamp => EngineTime.Local(TimestampText) ?? DateTime.MinValue;

        /// <summary>How long ago the backup was made.</summary>
        public TimeSpan Age => DateTime.Now - Timestamp;

        /// <summary>Complete, Legacy (written by the original script), Partial (a left-over unfinished backup) or Damaged.</summary>
        [DataMember(Name = "status")] public string Status { get; set; } = string.Empty;

        /// <summary>Key files in the backup.</summary>
        [DataMember(Name = "keyCount")] public int KeyCount { get; set; }

        /// <summary>Fingerprint of the wrapping public key the backup was made for.</summary>
        [DataMember(Name = "wrappingKeyFingerprint", EmitDefaultValue = false)] public string? WrappingKeyFingerprint { get; set; }

        /// <summary>The backup's -Label, if it has one.</summary>
        [DataMember(Name = "label", EmitDefaultValue = false)] public string? Label { get; set; }

        /// <summary>preRestore for the backup Import-TVMKeys takes of its target vault before it writes (Get-TVMKeyBackup -Latest passes over it); otherwise null.</summary>
        [DataMember(Name = "purpose", EmitDefaultValue = false)] public string? Purpose { get; set; }

        /// <summary>When the backup was made (UTC), from its manifest.</summary>
        public DateTime? CreatedUtc => EngineTime.Utc(CreatedUtcText);

        /// <summary>For a Damaged backup, the first problem found (Test-TVMKeyBackup lists them all).</summary>
        [DataMember(Name = "problem", EmitDefaultValue = false)] public string? Problem { get; set; }

        [DataMember(Name = "timestamp")] internal string TimestampText { get; set; } = string.Empty;

        [DataMember(Name = "createdUtc", EmitDefaultValue = false)] internal string? CreatedUtcText { get; set; }
    }
}

namespace TvmBackupUtils
{
    /// <summary>A wrapping key pair New-TvmWrappingKey wrote.</summary>
    [DataContract]
    public sealed class TvmWrappingKeyFiles
    {
        /// <summary>The public key PEM (PKCS#1, RSA PUBLIC KEY).</summary>
        [DataMember(Name = "publicKeyPath")] public string PublicKeyPath { get; set; } = string.Empty;

        /// <summary>The private key PEM (PKCS#8 PRIVATE KEY, or ENCRYPTED PRIVATE KEY with -Password); null for a key made -InVault, whose private key stays in the vault.</summary>
        [DataMember(Name = "privateKeyPath", EmitDefaultValue = false)] public string? PrivateKeyPath { get; set; }

        /// <summary>Modulus size in bits.</summary>
        [DataMember(Name = "keySize")] public int KeySize { get; set; }

        /// <summary>The module's fingerprint of the public key: the one backups made with it record.</summary>
        [DataMember(Name = "fingerprint")] public string Fingerprint { get; set; } = string.Empty;

        /// <summary>True when the private key PEM is encrypted with a password.</summary>
        [DataMember(Name = "encrypted")] public bool Encrypted { get; set; }

        /// <summary>-InVault: the key's name in the vault (give it to Backup-TVMKeys -WrappingKeyName and Import-TVMKeys -WrappingKeyName); otherwise null.</summary>
        [DataMember(Name = "keyName", EmitDefaultValue = false)] public string? KeyName { get; set; }

        /// <summary>-InVault: the vault that holds the private key; otherwise null.</summary>
        [DataMember(Name = "vault", EmitDefaultValue = false)] public string? Vault { get; set; }
    }

    /// <summary>What Import-TvmWrappingKeyFromPem or Remove-TvmWrappingKey did with a wrapping key in the vault.</summary>
    [DataContract]
    public sealed class TvmWrappingKey
    {
        /// <summary>The key's name in the vault.</summary>
        [DataMember(Name = "name")] public string Name { get; set; } = string.Empty;

        /// <summary>RSA.</summary>
        [DataMember(Name = "type")] public string Type { get; set; } = string.Empty;

        /// <summary>Modulus size in bits.</summary>
        [DataMember(Name = "size")] public int Size { get; set; }

        /// <summary>Imported, Exists (the vault held this same key: nothing written), Removed, or Kept (-WhatIf, or declined).</summary>
        [DataMember(Name = "outcome")] public string Outcome { get; set; } = string.Empty;

        /// <summary>The module's fingerprint of the public key: the one backups wrapped to it record; null when the vault gave none.</summary>
        [DataMember(Name = "fingerprint", EmitDefaultValue = false)] public string? Fingerprint { get; set; }
    }

    /// <summary>One share file of a split wrapping key: written by Split-TvmWrappingKey, checked by Test-TvmWrappingKeyShare.</summary>
    [DataContract]
    public sealed class TvmWrappingKeyShare
    {
        /// <summary>The share file, full path.</summary>
        [DataMember(Name = "path")] public string Path { get; set; } = string.Empty;

        /// <summary>The share's number, 1 to Shares (0 when the file could not be read).</summary>
        [DataMember(Name = "index")] public int Index { get; set; }

        /// <summary>How many shares of the split rebuild the key (M).</summary>
        [DataMember(Name = "threshold")] public int Threshold { get; set; }

        /// <summary>How many shares the split made (N).</summary>
        [DataMember(Name = "shares")] public int Shares { get; set; }

        /// <summary>The split this share belongs to: shares of different splits never rebuild a key together.</summary>
        [DataMember(Name = "splitId")] public string SplitId { get; set; } = string.Empty;

        /// <summary>The fingerprint of the wrapping key the shares rebuild (as backups' manifests record it).</summary>
        [DataMember(Name = "fingerprint")] public string Fingerprint { get; set; } = string.Empty;

        /// <summary>The wrapping key's size in bits.</summary>
        [DataMember(Name = "keySize")] public int KeySize { get; set; }

        /// <summary>None (in clear), CustodianKey or Password.</summary>
        [DataMember(Name = "protection")] public string Protection { get; set; } = string.Empty;

        /// <summary>CustodianKey: the fingerprint of the custodian public key the share is encrypted to.</summary>
        [DataMember(Name = "custodianFingerprint", EmitDefaultValue = false)] public string? CustodianFingerprint { get; set; }

        /// <summary>Test-TvmWrappingKeyShare: Valid, Opened, Damaged or NotOpened; null from Split-TvmWrappingKey.</summary>
        [DataMember(Name = "status", EmitDefaultValue = false)] public string? Status { get; set; }

        /// <summary>What was found, for a share that is Damaged or NotOpened.</summary>
        [DataMember(Name = "message", EmitDefaultValue = false)] public string? Message { get; set; }

        /// <summary>The ErrorId of what was found, for a share that is Damaged or NotOpened.</summary>
        [DataMember(Name = "errorId", EmitDefaultValue = false)] public string? ErrorId { get; set; }

        /// <summary>The PowerShell error category of <see cref="ErrorId"/>.</summary>
        [DataMember(Name = "category", EmitDefaultValue = false)] public string? Category { get; set; }
    }

    /// <summary>What Join-TvmWrappingKey rebuilt from the shares.</summary>
    [DataContract]
    public sealed class TvmWrappingKeyJoin
    {
        /// <summary>The fingerprint of the wrapping key rebuilt (checked to be the one the shares name).</summary>
        [DataMember(Name = "fingerprint")] public string Fingerprint { get; set; } = string.Empty;

        /// <summary>The key's size in bits.</summary>
        [DataMember(Name = "keySize")] public int KeySize { get; set; }

        /// <summary>The split the shares belong to.</summary>
        [DataMember(Name = "splitId")] public string SplitId { get; set; } = string.Empty;

        /// <summary>How many shares rebuild the key (M).</summary>
        [DataMember(Name = "threshold")] public int Threshold { get; set; }

        /// <summary>How many shares the split made (N).</summary>
        [DataMember(Name = "shares")] public int Shares { get; set; }

        /// <summary>The share numbers the key was rebuilt from.</summary>
        [DataMember(Name = "used")] public int[] Used { get; set; } = Array.Empty<int>();

        /// <summary>-OutFile: the PEM written; null when nothing was written.</summary>
        [DataMember(Name = "outFile", EmitDefaultValue = false)] public string? OutFile { get; set; }

        /// <summary>True when the PEM written is encrypted with -Password.</summary>
        [DataMember(Name = "encrypted", EmitDefaultValue = false)] public bool Encrypted { get; set; }
    }
}
