using TvmBackupUtils.Tests.Infrastructure;
using Xunit;

namespace TvmBackupUtils.Tests;

/// <summary>Import-TVMKeys beyond the happy path: re-runs, existing keys, corrupt files, the pipeline, -WhatIf.</summary>
public sealed class RestoreTests
{
    private static readonly string[] Names = { "5e0c2b7a-1d3f-4e6a-9b8c-7d6e5f4a3b2c", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "vm_key_1" };

    [Fact]
    public void Restore_KeyAlreadyInTheVault_IsExistsWithAWarningAndNoError_OthersImported()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.PrepareAes(Names);
        r.SeedAes(r.VaultB, Names[0]).AssertClean(); // same name, different material
        var before = VaultFiles.Read(r.VaultB, Names[0]);

        var run = r.Restore();

        run.AssertClean();
        var results = Objects.Restores(run);
        Assert.Equal("Exists", Assert.Single(results, x => x.Name == Names[0]).Outcome);
        Assert.All(results.Where(x => x.Name != Names[0]), x => Assert.Equal("Imported", x.Outcome));
        Assert.Equal(Names.Length, results.Count);
        var warning = Assert.Single(run.Warnings);
        Assert.Contains(Names[0], warning);
        // the existing key is left alone, not overwritten with the backed-up one
        Assert.True(before.Material.SequenceEqual(VaultFiles.Read(r.VaultB, Names[0]).Material));
        Assert.False(before.Material.SequenceEqual(VaultFiles.Read(r.VaultA, Names[0]).Material));
    }

    [Fact]
    public void Restore_RunTwice_SecondRunIsAllExistsAndLeavesTheVaultUnchanged()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.PrepareAes(Names);
        var first = r.Restore().AssertClean();
        Assert.All(Objects.Restores(first), x => Assert.Equal("Imported", x.Outcome));
        var snapshot = VaultFiles.Snapshot(r.VaultB);
        var listBefore = r.List(r.VaultB);

        var second = r.Restore();

        second.AssertClean();
        var results = Objects.Restores(second);
        Assert.Equal(Names.Length, results.Count);
        Assert.All(results, x => Assert.Equal("Exists", x.Outcome));
        Assert.Equal(Names.Length, second.Warnings.Count);
        var after = VaultFiles.Snapshot(r.VaultB);
        Assert.Equal(snapshot.Keys, after.Keys);
        Assert.All(snapshot, kv => Assert.True(kv.Value.SequenceEqual(after[kv.Key]), $"{kv.Key} changed"));
        Assert.Equal(listBefore, r.List(r.VaultB));
    }

    [Fact]
    public void Restore_TruncatedKeyFile_FailsThatKeyWithKeyImportFailed_AndImportsTheOthers()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        var backup = r.PrepareAes(Names);
        var corrupt = Path.Combine(backup.Path, "AES", Names[1] + "_256.json");
        var bytes = File.ReadAllBytes(corrupt);
        File.WriteAllBytes(corrupt, bytes[..(bytes.Length / 2)]);

        var run = r.Restore();

        Assert.False(run.Threw, run.Describe());
        var results = Objects.Restores(run);
        var failed = Assert.Single(results, x => x.Name == Names[1]);
        Assert.Equal("Failed", failed.Outcome);
        Assert.All(results.Where(x => x.Name != Names[1]), x => Assert.Equal("Imported", x.Outcome));
        var error = Assert.Single(run.Errors);
        Assert.Equal("KeyImportFailed", PsResult.ErrorIdOf(error));
        Assert.StartsWith("Error Importing Key: ", error.Exception.Message);
        Assert.False(File.Exists(VaultFiles.KeyPath(r.VaultB, Names[1])), "the corrupt key reached the vault");
        Assert.DoesNotContain(r.List(r.VaultB), k => k.Name == Names[1]);
        foreach (var n in Names.Where(n => n != Names[1]))
            Assert.True(File.Exists(VaultFiles.KeyPath(r.VaultB, n)), $"{n} was not imported");
    }

    [Fact]
    public void Restore_KeyFileWrappedForAnotherKey_FailsThatKeyOnly()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        var backup = r.PrepareAes(Names);
        // replace one key file by a file of the same key wrapped with a different wrapping key
        var otherRoot = s.P("other-backups");
        var otherPub = SharedKeys.Other.Write(s.P("otherkeys")).Public;
        s.Set("otherRoot", otherRoot);
        s.Set("otherPub", otherPub);
        var other = Objects.SingleBackup(s.Run("Backup-TVMKeys $otherPub $otherRoot -VaultPath $vaultA").AssertClean());
        var victim = Names[0] + "_256.json";
        File.Copy(Path.Combine(other.Path, "AES", victim), Path.Combine(backup.Path, "AES", victim), overwrite: true);

        var run = r.Restore();

        Assert.False(run.Threw, run.Describe());
        var results = Objects.Restores(run);
        Assert.Equal("Failed", Assert.Single(results, x => x.Name == Names[0]).Outcome);
        Assert.Equal("KeyImportFailed", PsResult.ErrorIdOf(Assert.Single(run.Errors)));
        Assert.False(File.Exists(VaultFiles.KeyPath(r.VaultB, Names[0])));
        Assert.Equal(Names.Length - 1, results.Count(x => x.Outcome == "Imported"));
    }

    [Fact]
    public void Pipeline_BackupPipedToImport_RestoresEveryKey()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.SeedAes(r.VaultA, Names).AssertClean();
        r.ImportWrappingKey().AssertClean();

        var run = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA | Import-TVMKeys -WrappingKeyName $wname -VaultPath $vaultB");

        run.AssertClean();
        var results = Objects.Restores(run);
        Assert.Equal(Names.OrderBy(x => x, StringComparer.Ordinal), results.Select(x => x.Name).OrderBy(x => x, StringComparer.Ordinal));
        Assert.All(results, x => Assert.Equal("Imported", x.Outcome));
        var a = r.List(r.VaultA);
        var b = r.List(r.VaultB);
        foreach (var k in a)
            Assert.Contains(b, x => x.Name == k.Name && x.Fingerprint == k.Fingerprint);
    }

    [Fact]
    public void Pipeline_BackupFolderFromDirectoryInfo_BindsByFullName()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        var backup = r.PrepareAes(Names[0]);
        s.Set("dirInfo", new DirectoryInfo(backup.Path));

        var run = s.Run("$dirInfo | Import-TVMKeys -WrappingKeyName $wname -VaultPath $vaultB");

        run.AssertClean();
        Assert.Equal("Imported", Assert.Single(Objects.Restores(run)).Outcome);
    }

    [Fact]
    public void Restore_WhatIf_WritesNothingToTheVault()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.PrepareAes(Names);
        var before = VaultFiles.Snapshot(r.VaultB);

        var run = s.Run("Import-TVMKeys $backupPath $wname -VaultPath $vaultB -WhatIf");

        run.AssertClean();
        var after = VaultFiles.Snapshot(r.VaultB);
        Assert.Equal(before.Keys, after.Keys);
        Assert.All(Names, n => Assert.False(File.Exists(VaultFiles.KeyPath(r.VaultB, n))));
        Assert.DoesNotContain(Objects.Restores(run), x => x.Outcome == "Imported");
    }

    [Fact]
    public void Backup_WhatIf_CreatesNoFolder()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.SeedAes(r.VaultA, Names).AssertClean();

        var run = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA -WhatIf");

        run.AssertClean();
        Assert.True(!Directory.Exists(r.Root) || Directory.GetFileSystemEntries(r.Root).Length == 0,
            "Backup-TVMKeys -WhatIf created " + (Directory.Exists(r.Root) ? string.Join(", ", Directory.GetFileSystemEntries(r.Root)) : ""));
    }

    [Fact]
    public void Backup_MissingWrappingPublicKey_IsTerminatingAndCreatesNoBackupFolder()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.SeedAes(r.VaultA, Names[0]).AssertClean();
        s.Set("pub", s.P("keys", "absent.pem"));

        var run = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA");

        run.AssertTerminating("FileMissing", System.Management.Automation.ErrorCategory.ObjectNotFound);
        Assert.Contains("absent.pem", run.TerminatingMessage);
        Assert.True(!Directory.Exists(r.Root) || Directory.GetFileSystemEntries(r.Root).Length == 0,
            "a failed backup left " + (Directory.Exists(r.Root) ? string.Join(", ", Directory.GetFileSystemEntries(r.Root)) : ""));
    }

    [Fact]
    public void Restore_MissingBackupFolder_IsTerminatingNotFound()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.ImportWrappingKey().AssertClean();
        s.Set("backupPath", s.P("backups", "20240101000000"));

        var run = r.Restore();

        run.AssertTerminating("BackupFolderMissing", System.Management.Automation.ErrorCategory.ObjectNotFound);
        Assert.Contains("20240101000000", run.TerminatingMessage);
    }

    [Fact]
    public void Backup_TwiceInOneSecond_NeverMixesTwoBackupsInOneFolder()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.SeedAes(r.VaultA, Names).AssertClean();

        var first = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA");
        var second = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA");

        var a = Objects.SingleBackup(first.AssertClean());
        var folders = Directory.GetDirectories(r.Root);
        if (second.Threw)
        {
            // same second: refused, the first backup left as it was
            second.AssertTerminating("BackupExists", System.Management.Automation.ErrorCategory.ResourceExists);
            Assert.Equal(new[] { a.Path }, folders);
        }
        else
        {
            var b = Objects.SingleBackup(second.AssertClean());
            Assert.NotEqual(a.Path, b.Path);
            Assert.Equal(2, folders.Length);
        }
        foreach (var folder in folders)
            Assert.Equal(Names.Length, Directory.GetFiles(Path.Combine(folder, "AES")).Length);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(r.Root), e => Path.GetFileName(e).StartsWith('.'));
    }

    [Fact]
    public void Backup_VaultWithADamagedKeyFile_FailsAndLeavesNothingInTheRoot()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.SeedAes(r.VaultA, Names).AssertClean();
        File.WriteAllText(VaultFiles.KeyPath(r.VaultA, Names[1]), "{\"name\":\"" + Names[1] + "\",");

        var run = s.Run("Backup-TVMKeys $pub $root -VaultPath $vaultA");

        var e = run.AssertTerminating(new[] { "VaultKeyDamaged" });
        Assert.Contains(Names[1], run.TerminatingMessage);
        Assert.True(!Directory.Exists(r.Root) || Directory.GetFileSystemEntries(r.Root).Length == 0,
            "a failed backup left " + (Directory.Exists(r.Root) ? string.Join(", ", Directory.GetFileSystemEntries(r.Root)) : ""));
    }

    [Fact]
    public void WrappingKeyImport_NameAlreadyInTheVault_IsTerminatingResourceExists_KeepsTheKeyAndCleansUp()
    {
        using var s = new TvmSession();
        var r = new Rehearsal(s);
        r.ImportWrappingKey().AssertClean();
        var before = File.ReadAllBytes(VaultFiles.KeyPath(r.VaultB, Rehearsal.WrappingKeyName));
        var (otherPub, otherPriv) = SharedKeys.Other.Write(s.P("other"));
        s.Set("pub", otherPub);
        s.Set("priv", otherPriv);
        var tmp = s.UsePrivateTempFolder();

        var run = r.ImportWrappingKey();

        run.AssertTerminating("KeyExists", System.Management.Automation.ErrorCategory.ResourceExists);
        Assert.Contains(Rehearsal.WrappingKeyName, run.TerminatingMessage);
        Assert.True(before.SequenceEqual(File.ReadAllBytes(VaultFiles.KeyPath(r.VaultB, Rehearsal.WrappingKeyName))));
        Assert.Empty(Directory.GetFileSystemEntries(tmp, "*", SearchOption.AllDirectories));
        Assert.Contains(run.Host, h => h.StartsWith("Temporary file ", StringComparison.Ordinal) && h.EndsWith(" has been cleaned up.", StringComparison.Ordinal));
    }

    [Fact]
    public void GetTvmVaultKey_VaultFolderThatDoesNotExist_IsTerminatingNotFound()
    {
        using var s = new TvmSession();
        s.Set("vault", s.P("novault"));
        var run = s.Run("Get-TvmVaultKey -VaultPath $vault");
        run.AssertTerminating("VaultMissing", System.Management.Automation.ErrorCategory.ObjectNotFound);
        Assert.Contains(s.P("novault"), run.TerminatingMessage);
        Assert.False(Directory.Exists(s.P("novault")), "reading a vault must not create it");
    }
}
