using Xunit.Sdk;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>
/// The README's rehearsal in small: seed vault A, back it up with a wrapping public key, import the wrapping
/// key pair into vault B, restore the backup into B. Steps are separate so each test can stop where it needs.
/// </summary>
public sealed class Rehearsal
{
    public const string WrappingKeyName = "TvmWrappingKey";

    public TvmSession S { get; }
    public TestKeyPair Wrapping { get; }
    public string VaultA { get; }
    public string VaultB { get; }
    public string Root { get; }
    public string PublicPem { get; }
    public string PrivatePem { get; }

    public Rehearsal(TvmSession s, TestKeyPair? wrapping = null, string baseDir = "")
    {
        S = s;
        Wrapping = wrapping ?? SharedKeys.Wrapping;
        VaultA = s.P(baseDir, "vaultA");
        VaultB = s.P(baseDir, "vaultB");
        Root = s.P(baseDir, "backups");
        (PublicPem, PrivatePem) = Wrapping.Write(s.P(baseDir, "keys"));
        s.Set("vaultA", VaultA);
        s.Set("vaultB", VaultB);
        s.Set("root", Root);
        s.Set("pub", PublicPem);
        s.Set("priv", PrivatePem);
        s.Set("wname", WrappingKeyName);
    }

    /// <summary>New-TvmVaultKey for each (name, type, size) into the given vault.</summary>
    public PsResult Seed(string vault, params (string Name, string Type, int Size)[] keys)
    {
        S.Set("seedVault", vault);
        S.Set("seedKeys", keys.Select(k => new object[] { k.Name, k.Type, k.Size }).ToArray());
        return S.Run("foreach ($k in $seedKeys) { New-TvmVaultKey -Name $k[0] -Type $k[1] -Size $k[2] -VaultPath $seedVault }");
    }

    public PsResult SeedAes(string vault, params string[] names) =>
        Seed(vault, names.Select(n => (n, "AES", 256)).ToArray());

    /// <summary>Backup-TVMKeys by name; returns the run and the backup (null if there was no single TvmBackup).</summary>
    public (PsResult Run, BackupInfo? Backup) Backup()
    {
        var r = S.Run("Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $root -VaultPath $vaultA");
        BackupInfo? b = null;
        if (!r.Threw && r.Output.Count == 1) b = Objects.Backup(r.Output[0]);
        if (b != null) S.Set("backupPath", b.Path);
        return (r, b);
    }

    /// <summary>Import-TvmWrappingKeyFromPem by position into vault B.</summary>
    public PsResult ImportWrappingKey() =>
        S.Run("Import-TvmWrappingKeyFromPem $wname $pub $priv '2048' -VaultPath $vaultB");

    /// <summary>Import-TVMKeys by position from $backupPath into vault B.</summary>
    public PsResult Restore() => S.Run("Import-TVMKeys $backupPath $wname -VaultPath $vaultB");

    public List<KeyInfo> List(string vault)
    {
        S.Set("listVault", vault);
        var r = S.Run("Get-TvmVaultKey -VaultPath $listVault");
        r.AssertClean();
        return Objects.Keys(r);
    }

    /// <summary>Seeds A with AES keys, backs it up and imports the wrapping key into B; fails on any error.</summary>
    public BackupInfo PrepareAes(params string[] aesNames)
    {
        SeedAes(VaultA, aesNames).AssertClean();
        var (run, backup) = Backup();
        run.AssertClean();
        if (backup == null) throw new XunitException("Backup-TVMKeys returned no TvmBackup.\n" + run.Describe());
        ImportWrappingKey().AssertClean();
        return backup;
    }
}
