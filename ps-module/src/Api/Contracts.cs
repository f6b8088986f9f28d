using System.Runtime.Serialization;

// The requests, events and host operations of docs/abi.md, as the C# side reads and writes them. Their Rust
// originals are in src/api/ (and src/vault/moc.rs for the host); tests/abi/samples.json holds one sample of
// each, which both the Rust and the C# tests round-trip. The results are the public objects in Models.cs.
namespace TvmBackupUtils.Api
{
    [DataContract]
    internal sealed class OpenLocalRequest
    {
        [DataMember(Name = "vaultPath")] internal string VaultPath { get; set; } = string.Empty;
        [DataMember(Name = "create")] internal bool Create { get; set; }
        [DataMember(Name = "fromEnvironment", EmitDefaultValue = false)] internal bool FromEnvironment { get; set; }
    }

    [DataContract]
    internal sealed class OpenMocRequest
    {
        [DataMember(Name = "checkStackVersion")] internal bool CheckStackVersion { get; set; }
        [DataMember(Name = "group", EmitDefaultValue = false)] internal string? Group { get; set; }
        [DataMember(Name = "vaultName", EmitDefaultValue = false)] internal string? VaultName { get; set; }
    }

    [DataContract]
    internal sealed class BackupRequest
    {
        [DataMember(Name = "wrappingKeyPath")] internal string WrappingKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "backupRootPath")] internal string BackupRootPath { get; set; } = string.Empty;
        [DataMember(Name = "shownBackupRootPath", EmitDefaultValue = false)] internal string? ShownBackupRootPath { get; set; }
        [DataMember(Name = "timestamp")] internal string Timestamp { get; set; } = string.Empty;
        [DataMember(Name = "label", EmitDefaultValue = false)] internal string? Label { get; set; }
        [DataMember(Name = "createdLocal", EmitDefaultValue = false)] internal string? CreatedLocal { get; set; }
        [DataMember(Name = "keyNames", EmitDefaultValue = false)] internal string[]? KeyNames { get; set; }
        [DataMember(Name = "wrappingKeyName", EmitDefaultValue = false)] internal string? WrappingKeyName { get; set; }
        // Null (left out) when -ThrottleLimit was not given; a 0 given is written, and refused by the engine.
        [DataMember(Name = "throttleLimit", EmitDefaultValue = false)] internal long? ThrottleLimit { get; set; }
    }

    [DataContract]
    internal sealed class RestoreRequest
    {
        [DataMember(Name = "backupPath")] internal string BackupPath { get; set; } = string.Empty;
        [DataMember(Name = "shownBackupPath", EmitDefaultValue = false)] internal string? ShownBackupPath { get; set; }
        [DataMember(Name = "wrappingKeyName")] internal string WrappingKeyName { get; set; } = string.Empty;
        [DataMember(Name = "ifExists", EmitDefaultValue = false)] internal string? IfExists { get; set; }
        [DataMember(Name = "keyNames", EmitDefaultValue = false)] internal string[]? KeyNames { get; set; }
        [DataMember(Name = "privateKeyPath", EmitDefaultValue = false)] internal string? PrivateKeyPath { get; set; }
        [DataMember(Name = "sharePaths", EmitDefaultValue = false)] internal string[]? SharePaths { get; set; }
        [DataMember(Name = "custodianPrivateKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPrivateKeyPaths { get; set; }
        [DataMember(Name = "replaceAttestationRootKey", EmitDefaultValue = false)] internal bool ReplaceAttestationRootKey { get; set; }
        [DataMember(Name = "whatIf", EmitDefaultValue = false)] internal bool WhatIf { get; set; }
        [DataMember(Name = "targetBackupRootPath", EmitDefaultValue = false)] internal string? TargetBackupRootPath { get; set; }
        [DataMember(Name = "skipTargetBackup", EmitDefaultValue = false)] internal bool SkipTargetBackup { get; set; }
        [DataMember(Name = "timestamp", EmitDefaultValue = false)] internal string? Timestamp { get; set; }
        [DataMember(Name = "createdLocal", EmitDefaultValue = false)] internal string? CreatedLocal { get; set; }
        [DataMember(Name = "removeWrappingKey", EmitDefaultValue = false)] internal bool RemoveWrappingKey { get; set; }
        [DataMember(Name = "restoreIntact", EmitDefaultValue = false)] internal bool RestoreIntact { get; set; }
        // Null (left out) when -ThrottleLimit was not given; a 0 given is written, and refused by the engine.
        [DataMember(Name = "throttleLimit", EmitDefaultValue = false)] internal long? ThrottleLimit { get; set; }
    }

    [DataContract]
    internal sealed class RestoreResult
    {
        [DataMember(Name = "backupPath")] internal string BackupPath { get; set; } = string.Empty;
        [DataMember(Name = "imported")] internal int Imported { get; set; }
        [DataMember(Name = "replaced")] internal int Replaced { get; set; }
        [DataMember(Name = "exists")] internal int Exists { get; set; }
        [DataMember(Name = "conflicts")] internal int Conflicts { get; set; }
        [DataMember(Name = "skipped")] internal int Skipped { get; set; }
        [DataMember(Name = "failed")] internal int Failed { get; set; }
        [DataMember(Name = "targetBackup", EmitDefaultValue = false)] internal string? TargetBackup { get; set; }
        [DataMember(Name = "wrappingKeyRemoved", EmitDefaultValue = false)] internal bool WrappingKeyRemoved { get; set; }
    }

    [DataContract]
    internal sealed class ImportWrappingKeyRequest
    {
        [DataMember(Name = "keyName")] internal string KeyName { get; set; } = string.Empty;
        [DataMember(Name = "publicKeyPath", EmitDefaultValue = false)] internal string? PublicKeyPath { get; set; }
        [DataMember(Name = "privateKeyPath", EmitDefaultValue = false)] internal string? PrivateKeyPath { get; set; }
        [DataMember(Name = "keySize")] internal string KeySize { get; set; } = string.Empty;
        [DataMember(Name = "sharePaths", EmitDefaultValue = false)] internal string[]? SharePaths { get; set; }
        [DataMember(Name = "custodianPrivateKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPrivateKeyPaths { get; set; }
    }

    [DataContract]
    internal sealed class SplitWrappingKeyRequest
    {
        [DataMember(Name = "privateKeyPath")] internal string PrivateKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "threshold")] internal uint Threshold { get; set; }
        [DataMember(Name = "shares")] internal uint Shares { get; set; }
        [DataMember(Name = "outPath")] internal string OutPath { get; set; } = string.Empty;
        [DataMember(Name = "custodianPublicKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPublicKeyPaths { get; set; }
        [DataMember(Name = "noEncryption", EmitDefaultValue = false)] internal bool NoEncryption { get; set; }
        [DataMember(Name = "force", EmitDefaultValue = false)] internal bool Force { get; set; }
    }

    [DataContract]
    internal sealed class SplitWrappingKeyResult
    {
        [DataMember(Name = "fingerprint")] internal string Fingerprint { get; set; } = string.Empty;
        [DataMember(Name = "keySize")] internal int KeySize { get; set; }
        [DataMember(Name = "splitId")] internal string SplitId { get; set; } = string.Empty;
        [DataMember(Name = "threshold")] internal int Threshold { get; set; }
        [DataMember(Name = "shares")] internal int Shares { get; set; }
        [DataMember(Name = "files")] internal TvmWrappingKeyShare[] Files { get; set; } = System.Array.Empty<TvmWrappingKeyShare>();
    }

    [DataContract]
    internal sealed class JoinWrappingKeyRequest
    {
        [DataMember(Name = "sharePaths")] internal string[] SharePaths { get; set; } = System.Array.Empty<string>();
        [DataMember(Name = "custodianPrivateKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPrivateKeyPaths { get; set; }
        [DataMember(Name = "outFile", EmitDefaultValue = false)] internal string? OutFile { get; set; }
        [DataMember(Name = "force", EmitDefaultValue = false)] internal bool Force { get; set; }
    }

    [DataContract]
    internal sealed class TestWrappingKeyShareRequest
    {
        [DataMember(Name = "sharePaths")] internal string[] SharePaths { get; set; } = System.Array.Empty<string>();
        [DataMember(Name = "custodianPrivateKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPrivateKeyPaths { get; set; }
    }

    [DataContract]
    internal sealed class TestWrappingKeyShareResult
    {
        [DataMember(Name = "shares")] internal TvmWrappingKeyShare[] Shares { get; set; } = System.Array.Empty<TvmWrappingKeyShare>();
    }

    [DataContract]
    internal sealed class GenerateWrappingKeyRequest
    {
        [DataMember(Name = "publicKeyPath")] internal string PublicKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "privateKeyPath")] internal string PrivateKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "keySize")] internal uint KeySize { get; set; }
        [DataMember(Name = "force", EmitDefaultValue = false)] internal bool Force { get; set; }
    }

    [DataContract]
    internal sealed class CreateWrappingKeyRequest
    {
        [DataMember(Name = "keyName")] internal string KeyName { get; set; } = string.Empty;
        [DataMember(Name = "publicKeyPath")] internal string PublicKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "keySize")] internal uint KeySize { get; set; }
        [DataMember(Name = "force", EmitDefaultValue = false)] internal bool Force { get; set; }
    }

    [DataContract]
    internal sealed class RemoveWrappingKeyRequest
    {
        [DataMember(Name = "keyName")] internal string KeyName { get; set; } = string.Empty;
    }

    [DataContract]
    internal sealed class ImportJsonRequest
    {
        [DataMember(Name = "publicKeyPath")] internal string PublicKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "privateKeyPath")] internal string PrivateKeyPath { get; set; } = string.Empty;
        [DataMember(Name = "outFilePath")] internal string OutFilePath { get; set; } = string.Empty;
    }

    [DataContract]
    internal sealed class ImportJsonResult
    {
        [DataMember(Name = "path")] internal string Path { get; set; } = string.Empty;
        [DataMember(Name = "keySize")] internal int KeySize { get; set; }
    }

    [DataContract]
    internal sealed class ListKeysRequest
    {
    }

    [DataContract]
    internal sealed class ListKeysResult
    {
        [DataMember(Name = "keys")] internal TvmKey[] Keys { get; set; } = System.Array.Empty<TvmKey>();
    }

    [DataContract]
    internal sealed class CreateKeyRequest
    {
        [DataMember(Name = "name")] internal string Name { get; set; } = string.Empty;
        [DataMember(Name = "type")] internal string Type { get; set; } = string.Empty;
        [DataMember(Name = "size")] internal uint Size { get; set; }
    }

    [DataContract]
    internal sealed class VerifyRequest
    {
        [DataMember(Name = "backupPath")] internal string BackupPath { get; set; } = string.Empty;
        [DataMember(Name = "wrappingKeyPath", EmitDefaultValue = false)] internal string? WrappingKeyPath { get; set; }
        [DataMember(Name = "deep", EmitDefaultValue = false)] internal bool Deep { get; set; }
        [DataMember(Name = "privateKeyPath", EmitDefaultValue = false)] internal string? PrivateKeyPath { get; set; }
        [DataMember(Name = "sharePaths", EmitDefaultValue = false)] internal string[]? SharePaths { get; set; }
        [DataMember(Name = "custodianPrivateKeyPaths", EmitDefaultValue = false)] internal string[]? CustodianPrivateKeyPaths { get; set; }
        [DataMember(Name = "coverage", EmitDefaultValue = false)] internal bool Coverage { get; set; }
        [DataMember(Name = "threads", EmitDefaultValue = false)] internal uint? Threads { get; set; }
        [DataMember(Name = "quick", EmitDefaultValue = false)] internal bool Quick { get; set; }
    }

    [DataContract]
    internal sealed class ListBackupsRequest
    {
        [DataMember(Name = "backupRootPath")] internal string BackupRootPath { get; set; } = string.Empty;
        [DataMember(Name = "latest", EmitDefaultValue = false)] internal bool Latest { get; set; }
    }

    [DataContract]
    internal sealed class ListBackupsResult
    {
        [DataMember(Name = "backups")] internal TvmBackupInfo[] Backups { get; set; } = System.Array.Empty<TvmBackupInfo>();
    }

    [DataContract]
    internal sealed class RemoveBackupsRequest
    {
        [DataMember(Name = "backupRootPath")] internal string BackupRootPath { get; set; } = string.Empty;
        [DataMember(Name = "keepLast")] internal uint? KeepLast { get; set; }
        [DataMember(Name = "olderThanSeconds")] internal ulong? OlderThanSeconds { get; set; }
        [DataMember(Name = "paths", EmitDefaultValue = false)] internal string[]? Paths { get; set; }
        [DataMember(Name = "force", EmitDefaultValue = false)] internal bool Force { get; set; }
        [DataMember(Name = "now")] internal string Now { get; set; } = string.Empty;
    }

    [DataContract]
    internal sealed class RemoveBackupsResult
    {
        [DataMember(Name = "removed")] internal TvmBackupInfo[] Removed { get; set; } = System.Array.Empty<TvmBackupInfo>();
        [DataMember(Name = "skipped")] internal TvmBackupInfo[] Skipped { get; set; } = System.Array.Empty<TvmBackupInfo>();
        [DataMember(Name = "protected")] internal TvmBackupInfo[] Protected { get; set; } = System.Array.Empty<TvmBackupInfo>();
    }

    /// <summary>Any result whose content the caller does not need (a vault being opened).</summary>
    [DataContract]
    internal sealed class OpenResult
    {
        [DataMember(Name = "vault")] internal string Vault { get; set; } = string.Empty;
        [DataMember(Name = "path", EmitDefaultValue = false)] internal string? Path { get; set; }
    }

    /// <summary>
    /// One event. <see cref="Event"/> is its name (message, warning, verbose, progress, keyPending, keyRestored);
    /// the other members are those of that event, the rest stay null.
    /// </summary>
    [DataContract]
    internal sealed class EngineEvent
    {
        [DataMember(Name = "event")] internal string Event { get; set; } = string.Empty;
        [DataMember(Name = "text", EmitDefaultValue = false)] internal string? Text { get; set; }
        [DataMember(Name = "activity", EmitDefaultValue = false)] internal string? Activity { get; set; }
        [DataMember(Name = "current", EmitDefaultValue = false)] internal uint? Current { get; set; }
        [DataMember(Name = "total", EmitDefaultValue = false)] internal uint? Total { get; set; }
        [DataMember(Name = "key", EmitDefaultValue = false)] internal TvmKey? Key { get; set; }
        [DataMember(Name = "action", EmitDefaultValue = false)] internal string? Action { get; set; }
        [DataMember(Name = "restore", EmitDefaultValue = false)] internal TvmKeyRestore? Restore { get; set; }
        [DataMember(Name = "path", EmitDefaultValue = false)] internal string? Path { get; set; }
    }

    /// <summary>
    /// One operation of the MOC vault for the Moc cmdlets. <see cref="Op"/> is its name (getConfig, list, export,
    /// import, publicKey, delete, create); the other members are that operation's.
    /// </summary>
    [DataContract]
    internal sealed class HostOp
    {
        [DataMember(Name = "op")] internal string Op { get; set; } = string.Empty;
        [DataMember(Name = "name", EmitDefaultValue = false)] internal string? Name { get; set; }
        [DataMember(Name = "type", EmitDefaultValue = false)] internal string? Type { get; set; }
        [DataMember(Name = "size", EmitDefaultValue = false)] internal uint? Size { get; set; }
        [DataMember(Name = "wrappingKeyPath", EmitDefaultValue = false)] internal string? WrappingKeyPath { get; set; }
        [DataMember(Name = "outFile", EmitDefaultValue = false)] internal string? OutFile { get; set; }
        [DataMember(Name = "file", EmitDefaultValue = false)] internal string? File { get; set; }
        [DataMember(Name = "wrappingKeyName", EmitDefaultValue = false)] internal string? WrappingKeyName { get; set; }
        /// <summary><c>batch</c>: the exports or imports to run, up to <see cref="Throttle"/> at a time.</summary>
        [DataMember(Name = "calls", EmitDefaultValue = false)] internal HostOp[]? Calls { get; set; }
        [DataMember(Name = "throttle", EmitDefaultValue = false)] internal uint? Throttle { get; set; }
    }

    /// <summary>The reply to a <see cref="HostOp"/>: outcome ok, failed (with MOC's whole text), timeout or cancelled.</summary>
    [DataContract]
    internal sealed class HostReply
    {
        [DataMember(Name = "outcome")] internal string Outcome { get; set; } = "ok";
        [DataMember(Name = "message", EmitDefaultValue = false)] internal string? Message { get; set; }
        [DataMember(Name = "keys", EmitDefaultValue = false)] internal TvmKey[]? Keys { get; set; }
        [DataMember(Name = "moduleVersion", EmitDefaultValue = false)] internal string? ModuleVersion { get; set; }
        [DataMember(Name = "version", EmitDefaultValue = false)] internal string? Version { get; set; }
        /// <summary><c>batch</c>: one reply per call, in the calls' order.</summary>
        [DataMember(Name = "replies", EmitDefaultValue = false)] internal HostReply[]? Replies { get; set; }
    }
}
