using System.Diagnostics;
using System.Management.Automation;
using System.Text.RegularExpressions;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests;

// The MOC vault: no -VaultPath and no TVM_VAULT_PATH, so every command talks to the Moc cmdlets, here those of
// the stand-in (tests/MocStandIn). Its state is process-wide; each test starts with StandIn.Configure on a fresh
// StateRoot (one folder = one cluster), which also clears the call record.

/// <summary>The original's documented runbooks, unchanged, against stand-in clusters A and B.</summary>
public sealed class MocRunbookTests
{
    private readonly ITestOutputHelper _out;
    public MocRunbookTests(ITestOutputHelper output) { _out = output; }

    [Fact]
    public void Runbook_NoVaultPath_BacksUpClusterAAndRestoresIntoClusterB_EveryKeyEqual()
    {
        Repo.RequireStagedModule();
        using var s = new TvmSession(import: null);
        Assert.Null(Environment.GetEnvironmentVariable("TVM_VAULT_PATH"));
        StandIn.Import(s);
        var wrapping = SharedKeys.Wrapping;
        var (pub, priv) = wrapping.Write(s.P("keys"));
        var root = s.P("TvmBackups");

        // Cluster A: 20 GSP keys (AES-256, GUID names) and the attestation root key (RSA-4096).
        StandIn.Configure(s, s.P("clusterA"));
        var aes = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid().ToString()).ToArray();
        StandIn.Seed(s, aes.Select(n => (n, "AES", 256)).Append((StandIn.RootKey, "RSA", 4096)).ToArray());
        StandIn.ClearCalls(s);

        s.Set("moduleDir", Repo.ModuleDir);
        s.Set("backupRunbook", Path.Combine(Repo.Root, "tests", "rehearsal", "Backup-Runbook.ps1"));
        s.Set("restoreRunbook", Path.Combine(Repo.Root, "tests", "rehearsal", "Restore-Runbook.ps1"));
        s.Set("pub", pub);
        s.Set("priv", priv);
        s.Set("root", root);
        var backupRun = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($moduleDir) | Out-Null
& $backupRunbook -PublicPem $pub -BackupRoot $root");
        backupRun.AssertClean();
        var backup = Objects.SingleBackup(backupRun);
        Assert.Equal(21, backup.Keys.Count);
        Assert.Equal($"Backing up TVM Vault keys to {backup.Path}", backupRun.Host[0]);
        Assert.Equal(20, Directory.GetFiles(Path.Combine(backup.Path, "AES")).Length);
        Assert.Equal(new[] { StandIn.RootKey + "_4096.json" }, Directory.GetFiles(Path.Combine(backup.Path, "RSA")).Select(Path.GetFileName));
        Assert.Equal(new[] { Path.GetFileName(backup.Path) }, Directory.GetFileSystemEntries(root).Select(Path.GetFileName));

        // Cluster B, empty: the wrapping key pair, then the keys.
        StandIn.Configure(s, s.P("clusterB"));
        s.Set("backupFolder", backup.Path);
        var restoreRun = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($moduleDir) | Out-Null
& $restoreRunbook -WrappingKeyName TvmWrap -PublicPem $pub -PrivatePem $priv -BackupFolder $backupFolder");
        restoreRun.AssertClean();
        var restored = restoreRun.Output.Where(o => o.BaseObject.GetType().FullName == Objects.TvmKeyRestoreType).Select(Objects.Restore).ToList();
        Assert.Equal(21, restored.Count);
        Assert.All(restored, k => Assert.Equal("Imported", k.Outcome));
        Assert.Contains("Key TvmWrap successfully imported into the vault.", restoreRun.Host);
        Assert.Contains($"Importing TVM  keys from {backup.Path}", restoreRun.Host);

        // Every key of A is in B with the same material, read independently: Export-MocKey with a check key
        // pair, unwrapped here.
        var check = SharedKeys.Other;
        StandIn.Configure(s, s.P("clusterA"));
        var inA = StandIn.Material(s, check, s.P("checkA"));
        StandIn.Configure(s, s.P("clusterB"));
        var inB = StandIn.Material(s, check, s.P("checkB"));
        Assert.Equal(21, inA.Count);
        Assert.Equal(inA.Keys.Append("TvmWrap").OrderBy(x => x, StringComparer.Ordinal), inB.Keys.OrderBy(x => x, StringComparer.Ordinal));
        foreach (var (name, material) in inA)
        {
            Assert.True(material.AsSpan().SequenceEqual(inB[name]), $"key {name} differs between cluster A and cluster B");
            if (name != StandIn.RootKey) Assert.Equal(32, material.Length);
        }
        // The wrapping key in B is the PEM pair's private key.
        Assert.True(inB["TvmWrap"].AsSpan().SequenceEqual(wrapping.PrivateDer));
        _out.WriteLine($"{inA.Count} keys equal in A and B");
    }
}

/// <summary>The Moc cmdlet calls, checked against the original's (docs/format.md section 9) through the stand-in's record.</summary>
public sealed class MocCallTests
{
    private readonly ITestOutputHelper _out;
    public MocCallTests(ITestOutputHelper output) { _out = output; }

    private static readonly (string Name, string Type, int Size)[] Keys =
    {
        ("0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01", "AES", 256),
        ("vm_key_1", "AES", 256),
        ("rsa_key", "RSA", 2048),
    };

    private static (string Name, string? Value)[] Ps(params (string, string?)[] p) => p;

    /// <summary>
    /// The calls must be exactly these: same commands in the same order, each with the same parameters in the
    /// same order and with the same values. Parameter names compare case-insensitively, as PowerShell binds them
    /// (calls made through the API are recorded under the cmdlet's declared spelling: the original's -Type is
    /// the stand-in's -type).
    /// </summary>
    private void AssertCalls(IReadOnlyList<(string Command, (string Name, string? Value)[] Parameters)> expected, IReadOnlyList<MocCall> actual)
    {
        foreach (var c in actual) _out.WriteLine(c.ToString());
        string Show((string Command, (string Name, string? Value)[] Parameters) c) =>
            c.Command + string.Concat(c.Parameters.Select(p => $" -{p.Name.ToLowerInvariant()} '{p.Value}'"));
        string ShowActual(MocCall c) =>
            c.Command + string.Concat(c.Parameters.Select(p => $" -{p.Key.ToLowerInvariant()} '{p.Value}'"));
        Assert.Equal(expected.Select(Show).ToList(), actual.Select(ShowActual).ToList());
    }

    private static string ImportTmp(PsResult r)
    {
        var m = Regex.Match(r.Host[0], "^Generating import JSON for key .+ at temporary location (.+)\\.\\.\\.$");
        Assert.True(m.Success, r.Describe());
        return m.Groups[1].Value;
    }

    [Fact]
    public void Backup_CallsGetMocConfigGetMocKeyAndOneExportMocKeyPerKey_AsTheOriginal()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"));
        StandIn.Seed(s, Keys);
        StandIn.ClearCalls(s);
        var (pub, _) = SharedKeys.Wrapping.Write(s.P("keys"));
        s.Set("pub", pub);
        s.Set("root", s.P("backups"));

        var r = s.Run("Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $root").AssertClean();

        var backup = Objects.SingleBackup(r);
        // The engine exports into the hidden partial folder and renames it when every key was read back; the
        // original wrote into <root>/<timestamp>/ directly. That is the only value that differs.
        var partial = Path.Combine(s.P("backups"), "." + Path.GetFileName(backup.Path) + ".partial");
        var expected = new List<(string, (string, string?)[])>
        {
            ("Get-MocConfig", Ps()),
            ("Get-MocKey", Ps(("group", StandIn.Group), ("keyvaultName", StandIn.Vault))),
        };
        foreach (var (name, type, size) in Keys)
            expected.Add(("Export-MocKey", Ps(("name", name), ("wrappingPubKeyFile", pub),
                ("outFile", Path.Combine(partial, type, $"{name}_{size}.json")),
                ("group", StandIn.Group), ("keyvaultName", StandIn.Vault), ("size", size.ToString()))));
        AssertCalls(expected, StandIn.Calls(s));
        Assert.False(Directory.Exists(partial));
        foreach (var (name, type, size) in Keys)
            Assert.True(File.Exists(Path.Combine(backup.Path, type, $"{name}_{size}.json")));
    }

    [Fact]
    public void WrappingKeyImport_CallsGetMocConfigAndImportMocKeyAsTheOriginal_AndNothingElse()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"));
        s.SetKeyPair(SharedKeys.Wrapping, folder: "keys");

        var r = s.Run("Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $pub -PrivateKeyPath $priv -KeySize 2048").AssertClean();

        var tmp = ImportTmp(r);
        AssertCalls(new List<(string, (string, string?)[])>
        {
            ("Get-MocConfig", Ps()),
            ("Import-MocKey", Ps(("name", "TvmWrap"), ("group", StandIn.Group), ("keyvaultName", StandIn.Vault),
                ("importKeyFile", tmp), ("type", "RSA"), ("size", "2048"))),
            // The TvmKey written to the pipeline is the engine's result: the vault is not listed a second time.
        }, StandIn.Calls(s));
        Assert.False(File.Exists(tmp));
        Assert.Equal(("TvmWrap", "RSA", 2048), Objects.Key(Assert.Single(r.Output)) is var k ? (k.Name, k.Type, k.Size) : default);
        Assert.Equal(new[] { ("TvmWrap", "RSA", 2048) }, StandIn.Keys(s));
    }

    /// <summary>
    /// Seeds stand-in cluster A with <see cref="Keys"/>, backs it up (no vault path: the MOC adapter), switches
    /// to cluster B, imports the wrapping key there as TvmWrap and clears the call record; $backup is the backup.
    /// </summary>
    private static BackupInfo BackUpClusterAThenPrepareB(TvmSession s)
    {
        StandIn.Import(s);
        StandIn.Configure(s, s.P("clusterA"));
        StandIn.Seed(s, Keys);
        s.SetKeyPair(SharedKeys.Wrapping, folder: "keys");
        s.Set("root", s.P("backups"));
        var backup = Objects.SingleBackup(s.Run("Backup-TVMKeys $pub $root").AssertClean());
        StandIn.Configure(s, s.P("clusterB"));
        s.Run("Import-TvmWrappingKeyFromPem TvmWrap $pub $priv 2048").AssertClean();
        StandIn.ClearCalls(s);
        s.Set("backup", backup.Path);
        return backup;
    }

    [Fact]
    public void Restore_CallsOneImportMocKeyPerKeyAsTheOriginal_AfterExactlyTwoReadOnlyQueries()
    {
        using var s = new TvmSession();
        var backup = BackUpClusterAThenPrepareB(s);

        var r = s.Run("Import-TVMKeys -BackupPath $backup -WrappingKeyName TvmWrap").AssertClean();

        Assert.All(Objects.Restores(r), k => Assert.Equal("Imported", k.Outcome));
        var calls = StandIn.Calls(s);
        var publicKeyCall = calls.FirstOrDefault(c => c.Command == "Get-MocKeyPublicKey");
        var expected = new List<(string, (string, string?)[])>
        {
            ("Get-MocConfig", Ps()),
            // Not in the original: the listing (a key that exists is reported as Exists, not imported again) and
            // the wrapping key's public half (checked against the backup before the first write).
            ("Get-MocKey", Ps(("group", StandIn.Group), ("keyvaultName", StandIn.Vault))),
            ("Get-MocKeyPublicKey", Ps(("name", "TvmWrap"), ("group", StandIn.Group), ("keyvaultName", StandIn.Vault),
                ("outputFile", publicKeyCall?["outputFile"]))),
        };
        // AES folder first, then RSA, as the original enumerated them.
        foreach (var (name, type, size) in Keys.OrderBy(k => k.Type, StringComparer.Ordinal).ThenBy(k => k.Name, StringComparer.Ordinal))
            expected.Add(("Import-MocKey", Ps(("name", name), ("wrappingKeyName", "TvmWrap"),
                ("importKeyFile", Path.Combine(backup.Path, type, $"{name}_{size}.json")),
                ("group", StandIn.Group), ("keyvaultName", StandIn.Vault), ("size", size.ToString()), ("Type", type))));
        AssertCalls(expected, calls);
        Assert.False(string.IsNullOrEmpty(publicKeyCall?["outputFile"]));
        Assert.False(File.Exists(publicKeyCall!["outputFile"]), "the public key file of the wrapping key was left behind");
    }

    [Fact]
    public void Restore_WhatIf_MakesOnlyTheReadOnlyCalls()
    {
        using var s = new TvmSession();
        BackUpClusterAThenPrepareB(s);

        var r = s.Run("Import-TVMKeys $backup TvmWrap -WhatIf").AssertClean();

        Assert.All(Objects.Restores(r), k => Assert.Equal("Skipped", k.Outcome));
        Assert.Equal(new[] { "Get-MocConfig", "Get-MocKey", "Get-MocKeyPublicKey" }, StandIn.Calls(s).Select(c => c.Command));
        Assert.Equal(new[] { "TvmWrap" }, StandIn.Keys(s).Select(k => k.Name));
    }

    [Fact]
    public void GroupAndKeyVaultName_GoToEveryMocCall()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"));
        var (pub, _) = SharedKeys.Wrapping.Write(s.P("keys"));
        s.Set("pub", pub);
        s.Set("root", s.P("backups"));

        var r = s.Run(@"New-TvmVaultKey -Name k1 -Type aes -Size 256 -Group g1 -KeyVaultName v1 | Out-Null
Get-TvmVaultKey -Group g1 -KeyVaultName v1
Backup-TVMKeys $pub $root -Group g1 -KeyVaultName v1 | Out-Null").AssertClean();

        Assert.Equal(("k1", "AES", 256), Objects.Key(Assert.Single(r.Output)) is var k ? (k.Name, k.Type, k.Size) : default);
        var calls = StandIn.Calls(s);
        var create = Assert.Single(calls, c => c.Command == "New-MocKey");
        Assert.Equal(new[] { "group", "keyvaultname", "name", "size", "type" }, create.Names);
        Assert.Equal(("k1", "g1", "v1", "AES", "256"), (create["name"], create["group"], create["keyvaultName"], create["type"], create["size"]));
        foreach (var c in calls.Where(c => c.Command != "Get-MocConfig"))
            Assert.Equal(("g1", "v1"), (c["group"], c["keyvaultName"]));
        Assert.Empty(StandIn.Keys(s)); // nothing in the default vault
        Assert.Single(StandIn.Keys(s, "g1", "v1"));
    }

    [Fact]
    public void Listing_ReadsNameKtyAndKeySize_OfDictionariesAndObjects_NumbersOrText()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"));
        // A Moc module whose objects come in other shapes: the adapter reads them as $key.properties.key_size does.
        s.Run(@"function global:Get-MocKey { param($group, $keyvaultName)
    [pscustomobject]@{ Name = 'a1'; properties = [pscustomobject]@{ kty = 'AES'; key_size = '256' } }
    @{ name = 'r1'; properties = @{ KTY = 'RSA'; Key_Size = [long]4096 } }
    [pscustomobject]@{ name = 'a2'; properties = @{ kty = 'AES'; key_size = 256 } }
}").AssertClean();

        var r = s.Run("Get-TvmVaultKey").AssertClean();

        Assert.Equal(new[] { ("a1", "AES", 256), ("r1", "RSA", 4096), ("a2", "AES", 256) },
            Objects.Keys(r).Select(k => (k.Name, k.Type, k.Size)));
    }
}

/// <summary>The original's MOC version gates (docs/format.md section 9), applied by the engine to the MOC vault only.</summary>
public sealed class MocVersionGateTests
{
    private const string Unable = "Unable to determine Moc installation versions.";
    private const string OldModule = "Incompatible moc powershell version: 1.2.26 found. Version 1.2.27 is needed. Please update your cluster.";
    private const string OldStack = "Incompatible moc stack version: 1.14.1.10413 found. 1.14.1.10414 is needed. Please update your cluster.";

    /// <summary>The engine's code for each gate's message.</summary>
    private static string GateId(string message) =>
        message == Unable ? "MocVersionUnknown" : message == OldModule ? "MocModuleVersionTooOld" : "MocStackVersionTooOld";

    public static TheoryData<string, string, string> Gates => new()
    {
        { "Backup-TVMKeys $pub $root", "-ModuleVersion 1.2.26", OldModule },
        { "Import-TVMKeys $backup w", "-ModuleVersion 1.2.26", OldModule },
        { "Import-TvmWrappingKeyFromPem w $pub $priv 2048", "-ModuleVersion 1.2.26", OldModule },
        { "Get-TvmVaultKey", "-ModuleVersion 1.2.26", OldModule },
        { "New-TvmVaultKey -Name k -Type AES -Size 256", "-ModuleVersion 1.2.26", OldModule },
        { "Import-TvmWrappingKeyFromPem w $pub $priv 2048", "-Version 1.14.1.10413", OldStack },
        { "Backup-TVMKeys $pub $root", "-ModuleVersion unknown", Unable },
        { "Backup-TVMKeys $pub $root", "-ModuleVersion $null", Unable },
        { "Import-TVMKeys $backup w", "-ModuleVersion ''", Unable },
        { "Import-TvmWrappingKeyFromPem w $pub $priv 2048", "-Version unknown", Unable },
        { "Import-TvmWrappingKeyFromPem w $pub $priv 2048", "-Version $null", Unable },
    };

    private static void Prepare(TvmSession s)
    {
        var (pub, priv) = SharedKeys.Wrapping.Write(s.P("keys"));
        var backup = s.P("backups", "20240101000000");
        Directory.CreateDirectory(Path.Combine(backup, "AES"));
        File.WriteAllText(Path.Combine(backup, "AES", "k_256.json"), "{}");
        s.Set("pub", pub);
        s.Set("priv", priv);
        s.Set("root", s.P("root"));
        s.Set("backup", backup);
    }

    [Theory]
    [MemberData(nameof(Gates))]
    public void Gate_Fails_WithTheOriginalsMessage_BeforeAnyOtherMocCall(string script, string settings, string message)
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        Prepare(s);
        StandIn.Configure(s, s.P("cluster"), settings);
        StandIn.Seed(s, ("existing", "AES", 256));
        StandIn.ClearCalls(s);

        var r = s.Run(script);

        var e = r.AssertTerminating(GateId(message), ErrorCategory.NotInstalled);
        Assert.Equal(message, e.Exception.Message);
        Assert.Equal(new[] { "Get-MocConfig" }, StandIn.Calls(s).Select(c => c.Command));
        Assert.False(Directory.Exists(s.P("root")));
        Assert.Equal(new[] { "existing" }, StandIn.Keys(s).Select(k => k.Name));
    }

    [Fact]
    public void Gate_ExactMinimumVersions_Pass()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        Prepare(s);
        StandIn.Configure(s, s.P("cluster"), "-ModuleVersion 1.2.27 -Version 1.14.1.10414");

        s.Run("Import-TvmWrappingKeyFromPem w $pub $priv 2048 | Out-Null; Backup-TVMKeys $pub $root | Out-Null").AssertClean();

        Assert.Equal(2, StandIn.Calls(s).Count(c => c.Command == "Get-MocConfig")); // once per command
    }

    [Fact]
    public void Gate_StackVersion_IsCheckedOnlyForTheWrappingKeyImport()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        Prepare(s);
        StandIn.Configure(s, s.P("cluster"), "-Version 1.0.0");
        StandIn.Seed(s, ("k1", "AES", 256));

        s.Run("Backup-TVMKeys $pub $root | Out-Null; Get-TvmVaultKey | Out-Null").AssertClean();
        s.Run("Import-TvmWrappingKeyFromPem w $pub $priv 2048")
            .AssertTerminating("MocStackVersionTooOld", ErrorCategory.NotInstalled);
    }

    [Fact]
    public void Gate_GetMocConfigFails_IsUnableToDetermine()
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        Prepare(s);
        StandIn.Configure(s, s.P("cluster"));
        s.Run("function global:Get-MocConfig { throw 'the cloud agent is not running' }").AssertClean();

        var r = s.Run("Backup-TVMKeys $pub $root");

        Assert.Equal(Unable, r.AssertTerminating("MocVersionUnknown", ErrorCategory.NotInstalled).Exception.Message);
        Assert.Empty(StandIn.Calls(s));
        Assert.False(Directory.Exists(s.P("root")));
    }

    public static TheoryData<string> LocalVaultCommands => new()
    {
        "Backup-TVMKeys $pub $root -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1",
        "Import-TvmWrappingKeyFromPem w $pub $priv 2048 -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1",
        "Get-TvmVaultKey -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1",
        "$env:TVM_VAULT_PATH = $vault; try { Backup-TVMKeys $pub $root; Import-TvmWrappingKeyFromPem w $pub $priv 2048 } finally { $env:TVM_VAULT_PATH = $null }",
    };

    [Theory]
    [MemberData(nameof(LocalVaultCommands))]
    public void LocalVault_IsNeverGated_AndIgnoresTheMocParameters(string script)
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        Prepare(s);
        StandIn.Configure(s, s.P("cluster"), "-ModuleVersion 1.0.0 -Version 1.0.0");
        s.Set("vault", s.P("vault"));
        s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault | Out-Null").AssertClean();

        s.Run(script).AssertClean();

        Assert.Empty(StandIn.Calls(s));
    }
}

/// <summary>Failures of the Moc cmdlets: hangs, Ctrl+C, existing keys, and their messages.</summary>
public sealed class MocFailureTests
{
    private readonly ITestOutputHelper _out;
    public MocFailureTests(ITestOutputHelper output) { _out = output; }

    private static readonly string[] Names = { "k1", "k2", "k3" };

    private static void Cluster(TvmSession s, string settings = "")
    {
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"), settings);
        StandIn.Seed(s, Names.Select(n => (n, "AES", 256)).ToArray());
        StandIn.ClearCalls(s);
        s.SetKeyPair(SharedKeys.Wrapping, folder: "keys");
        s.Set("root", s.P("backups"));
    }

    /// <summary>A backup of the cluster, then cluster B with the wrapping key TvmWrap; returns the backup folder.</summary>
    private static string BackupAndSwitchToB(TvmSession s, string settingsB = "")
    {
        var backup = Objects.SingleBackup(s.Run("Backup-TVMKeys $pub $root").AssertClean());
        StandIn.Configure(s, s.P("clusterB"), settingsB);
        s.Run("Import-TvmWrappingKeyFromPem TvmWrap $pub $priv 2048 | Out-Null").AssertClean();
        StandIn.ClearCalls(s);
        s.Set("backup", backup.Path);
        return backup.Path;
    }

    private static void AssertNoBackupFolder(TvmSession s)
    {
        var root = s.P("backups");
        var left = Directory.Exists(root) ? Directory.GetFileSystemEntries(root) : Array.Empty<string>();
        Assert.True(left.Length == 0, "left in the backup root: " + string.Join(", ", left));
    }

    [Fact]
    public void HungExport_IsStoppedAfterTimeoutSec_NamesTheKey_AndLeavesNoBackup()
    {
        using var s = new TvmSession();
        Cluster(s, "-HangOn 'Export-MocKey:k2'");

        var clock = Stopwatch.StartNew();
        var r = s.Run("Backup-TVMKeys $pub $root -TimeoutSec 2");
        clock.Stop();
        _out.WriteLine($"Backup-TVMKeys with a hung Export-MocKey ended after {clock.Elapsed.TotalSeconds:F1} s");

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        var e = r.AssertTerminating("VaultTimeout", ErrorCategory.OperationTimeout);
        Assert.Contains("Export-MocKey did not return within 2 seconds for key 'k2'; it was stopped.", e.Exception.Message);
        AssertNoBackupFolder(s);
        Assert.Equal(new[] { "k1", "k2" }, StandIn.Calls(s).Where(c => c.Command == "Export-MocKey").Select(c => c["name"]));
        // The session is still usable: the stopped call was the nested one, not the command's pipeline.
        Assert.Equal(3, Objects.Keys(s.Run("Get-TvmVaultKey").AssertClean()).Count);
    }

    [Fact]
    public void HungImport_FailsThatKeyWithATimeout_AndTheOthersAreImported()
    {
        using var s = new TvmSession();
        Cluster(s);
        BackupAndSwitchToB(s, "-HangOn 'Import-MocKey:k2'");

        var clock = Stopwatch.StartNew();
        var r = s.Run("Import-TVMKeys $backup TvmWrap -TimeoutSec 2");
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.False(r.Threw, r.Describe());
        var outcomes = Objects.Restores(r).ToDictionary(k => k.Name, k => k);
        Assert.Equal("Imported", outcomes["k1"].Outcome);
        Assert.Equal("Failed", outcomes["k2"].Outcome);
        Assert.Equal("Imported", outcomes["k3"].Outcome);
        Assert.Contains("Import-MocKey did not return within 2 seconds for key 'k2'; it was stopped.", outcomes["k2"].Message);
        var error = Assert.Single(r.Errors);
        Assert.Equal("KeyImportFailed", PsResult.ErrorIdOf(error));
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
        Assert.StartsWith("Error Importing Key: ", error.Exception.Message);
    }

    [Fact]
    public void CtrlC_WhileAMocCallHangs_StopsTheCommand_AndLeavesNoBackup()
    {
        using var s = new TvmSession();
        Cluster(s, "-HangOn 'Export-MocKey:k2'");
        using var other = new SeparatePowerShell(StandIn.Psd1, Repo.Psd1);
        other.SetVariable("pub", s.Get("pub"));
        other.SetVariable("root", s.Get("root"));
        var ps = other.PowerShell;
        ps.AddScript("Backup-TVMKeys $pub $root");

        var clock = Stopwatch.StartNew();
        var running = ps.BeginInvoke();
        // Wait until the export of k2 hangs (the stand-in records a call before it hangs).
        while (!StandIn.Calls(s).Any(c => c.Command == "Export-MocKey" && c["name"] == "k2"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "Export-MocKey of k2 never started");
            Assert.False(running.IsCompleted, "Backup-TVMKeys ended before it reached k2");
            Thread.Sleep(50);
        }
        ps.Stop(); // what Ctrl+C does: from another thread than the pipeline's
        var thrown = Record.Exception(() => ps.EndInvoke(running));
        clock.Stop();
        _out.WriteLine($"stopped after {clock.Elapsed.TotalSeconds:F1} s: {thrown?.GetType().Name}");

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
        Assert.IsType<PipelineStoppedException>(thrown);
        AssertNoBackupFolder(s);
        Assert.DoesNotContain(StandIn.Calls(s), c => c.Command == "Export-MocKey" && c["name"] == "k3");
    }

    [Fact]
    public void Restore_KeyTheClusterHasAlready_IsExists_AWarning_AndNotImportedAgain()
    {
        using var s = new TvmSession();
        Cluster(s);
        BackupAndSwitchToB(s);
        StandIn.Seed(s, ("k2", "AES", 256));
        StandIn.ClearCalls(s);

        var r = s.Run("Import-TVMKeys $backup TvmWrap");

        Assert.False(r.Threw, r.Describe());
        Assert.Empty(r.Errors);
        var k2 = Assert.Single(Objects.Restores(r), k => k.Name == "k2");
        Assert.Equal("Exists", k2.Outcome);
        Assert.Contains(r.Warnings, w => w.Contains("k2"));
        Assert.DoesNotContain(StandIn.Calls(s), c => c.Command == "Import-MocKey" && c["name"] == "k2");
    }

    /// <summary>
    /// A key created in the cluster after the engine listed it (here by a Get-MocKeyPublicKey that another
    /// administrator's New-MocKey overtakes): the stand-in's Import-MocKey fails with MOC's InvalidVersion,
    /// which the engine reads as Exists.
    /// </summary>
    [Fact]
    public void Restore_KeyCreatedAfterTheListing_MocsInvalidVersionIsExists()
    {
        using var s = new TvmSession();
        Cluster(s);
        BackupAndSwitchToB(s);
        s.Run(@"function global:Get-MocKeyPublicKey { param($name, $group, $keyvaultName, $outputFile)
    New-MocKey -name k2 -group $group -keyvaultName $keyvaultName -type AES -size 256
    MocStandIn\Get-MocKeyPublicKey -name $name -group $group -keyvaultName $keyvaultName -outputFile $outputFile
}").AssertClean();

        var r = s.Run("Import-TVMKeys $backup TvmWrap");

        Assert.False(r.Threw, r.Describe());
        Assert.Empty(r.Errors);
        Assert.Equal(new[] { ("k1", "Imported"), ("k2", "Exists"), ("k3", "Imported") },
            Objects.Restores(r).Select(k => (k.Name, k.Outcome)));
        Assert.Contains(r.Warnings, w => w.Contains("k2"));
        Assert.Single(StandIn.Calls(s), c => c.Command == "Import-MocKey" && c["name"] == "k2");
    }

    public static TheoryData<string> FailingImports => new()
    {
        // terminating, as the real Moc cmdlets fail (a script's throw)
        "throw \"$mocctl [Error: rpc error: code = Unavailable desc = connection refused]\"",
        // non-terminating
        "$PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new([System.Exception]::new(\"$mocctl [Error: rpc error: code = Unavailable desc = connection refused]\"), 'MocError', 'NotSpecified', $name))",
    };

    [Theory]
    [MemberData(nameof(FailingImports))]
    public void FailingMocCmdlet_TerminatingOrNot_ItsWholeMessageIsTheKeysError(string failure)
    {
        using var s = new TvmSession();
        Cluster(s);
        BackupAndSwitchToB(s);
        const string Mocctl = @"C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca.test security keyvault key import --name ""k2"" System.Collections.Hashtable.generic_non_zero 1";
        s.Set("mocctl", Mocctl);
        s.Run(@"function global:Import-MocKey { [CmdletBinding()] param($name, $wrappingKeyName, $importKeyFile, $group, $keyvaultName, $size, $Type)
    if ($name -eq 'k2') { " + failure + @" ; return }
    MocStandIn\Import-MocKey -name $name -wrappingKeyName $wrappingKeyName -importKeyFile $importKeyFile -group $group -keyvaultName $keyvaultName -size $size -Type $Type
}").AssertClean();

        var r = s.Run("Import-TVMKeys $backup TvmWrap");

        Assert.False(r.Threw, r.Describe());
        var text = Mocctl + " [Error: rpc error: code = Unavailable desc = connection refused]";
        var k2 = Assert.Single(Objects.Restores(r), k => k.Name == "k2");
        Assert.Equal("Failed", k2.Outcome);
        Assert.Equal(text, k2.Message);
        var error = Assert.Single(r.Errors);
        Assert.Equal("KeyImportFailed", PsResult.ErrorIdOf(error));
        Assert.Equal("Error Importing Key: " + text, error.Exception.Message);
        Assert.Equal(new[] { "Imported", "Imported" }, Objects.Restores(r).Where(k => k.Name != "k2").Select(k => k.Outcome));
    }

    /// <summary>The stand-in's own failures (binary cmdlets, ThrowTerminatingError) reach the user in full.</summary>
    [Fact]
    public void Restore_WithAnAesKeyAsWrappingKey_MocsFullTextForEachKey()
    {
        using var s = new TvmSession();
        Cluster(s);
        BackupAndSwitchToB(s);
        StandIn.Seed(s, ("aeswrap", "AES", 256));

        var r = s.Run("Import-TVMKeys $backup aeswrap");

        Assert.False(r.Threw, r.Describe());
        // The check of the wrapping key before the first write could not read an AES key's public half.
        var warning = Assert.Single(r.Warnings);
        Assert.Contains(@"C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca-mocstandin.test.local security keyvault key download --name ""aeswrap"" " +
            @"--vault-name ""AzureStackTvmKeyVault"" --group ""AzureStackHostAttestation"" --file-path """, warning);
        Assert.Contains("System.Collections.Hashtable.generic_non_zero 1 [Error: Type[Key] Vault[AzureStackTvmKeyVault] Name[aeswrap]: Key of type [AES] has no public key: Invalid Type]", warning);
        Assert.Equal(3, r.Errors.Count);
        foreach (var k in Objects.Restores(r))
        {
            Assert.Equal("Failed", k.Outcome);
            var expected = @"C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca-mocstandin.test.local security keyvault key import " +
                $@"--group ""AzureStackHostAttestation"" --key-size ""256"" --vault-name ""AzureStackTvmKeyVault"" --key-type ""AES"" --key-file-path ""{k.File}"" " +
                $@"--name ""{k.Name}"" --wrapping-key-name ""aeswrap"" System.Collections.Hashtable.generic_non_zero 1 " +
                $"[Error: Keys Import failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[{k.Name}]: Wrapping key [aeswrap] is not an RSA key: Invalid Type]";
            Assert.Equal(expected, k.Message);
            Assert.Contains(r.Errors, e => e.Exception.Message == "Error Importing Key: " + expected);
        }
    }

    [Fact]
    public void NewTvmVaultKey_NameTheClusterHas_MocsInvalidVersionIsAlreadyExists()
    {
        using var s = new TvmSession();
        Cluster(s);

        var r = s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256");

        Assert.Equal("A key named 'k1' already exists in the vault.",
            r.AssertTerminating("KeyExists", ErrorCategory.ResourceExists).Exception.Message);
        Assert.Single(StandIn.Calls(s), c => c.Command == "New-MocKey");
    }

    [Fact]
    public void Backup_ExportFailsInMoc_WholeMessageInTheError_AndNoBackup()
    {
        using var s = new TvmSession();
        Cluster(s);
        s.Run(@"function global:Export-MocKey { param($name, $wrappingPubKeyFile, $outFile, $group, $keyvaultName, $size)
    if ($name -eq 'k3') { throw 'mocctl.exe ... [Error: Keys Export failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[k3]: Failed]' }
    MocStandIn\Export-MocKey -name $name -wrappingPubKeyFile $wrappingPubKeyFile -outFile $outFile -group $group -keyvaultName $keyvaultName -size $size
}").AssertClean();

        var r = s.Run("Backup-TVMKeys $pub $root");

        var e = r.AssertTerminating("VaultFailed", ErrorCategory.InvalidOperation);
        Assert.Contains("mocctl.exe ... [Error: Keys Export failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[k3]: Failed]", e.Exception.Message);
        AssertNoBackupFolder(s);
    }
}

/// <summary>The parameters the MOC vault adds to every vault command, and their help.</summary>
public sealed class MocParameterTests
{
    [Theory]
    [InlineData("Backup-TVMKeys")]
    [InlineData("Import-TVMKeys")]
    [InlineData("Import-TvmWrappingKeyFromPem")]
    [InlineData("New-TvmVaultKey")]
    [InlineData("Get-TvmVaultKey")]
    public void VaultCommand_HasNamedOptionalGroupKeyVaultNameAndTimeoutSec_Documented(string command)
    {
        using var s = new TvmSession();
        s.Set("cmdName", command);
        var info = (CommandInfo)Assert.Single(s.Run("Get-Command $cmdName").AssertClean().Output).BaseObject;
        foreach (var (name, type) in new[] { ("Group", typeof(string)), ("KeyVaultName", typeof(string)), ("TimeoutSec", typeof(int)) })
        {
            Assert.True(info.Parameters.TryGetValue(name, out var p), $"{command} has no -{name}");
            Assert.Equal(type, p!.ParameterType);
            Assert.All(p.ParameterSets.Values, set => Assert.False(set.IsMandatory || set.Position >= 0, $"-{name} must be optional and named"));
        }
        var range = Assert.Single(info.Parameters["TimeoutSec"].Attributes.OfType<ValidateRangeAttribute>());
        Assert.Equal((1, 86400), (Convert.ToInt32(range.MinRange), Convert.ToInt32(range.MaxRange)));

        var help = s.Run("(Get-Help $cmdName -Full).parameters.parameter | ForEach-Object { $_.name + '=' + ($_.description | ForEach-Object { $_.Text }) }").AssertClean();
        var documented = help.Output.Select(o => o.BaseObject.ToString()!).ToList();
        foreach (var name in new[] { "VaultPath", "Group", "KeyVaultName", "TimeoutSec" })
            Assert.Contains(documented, d => d.StartsWith(name + "=", StringComparison.Ordinal) && d.Length > name.Length + 20);
        Assert.DoesNotContain(documented, d => d.Contains("MocVaultUnavailable"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("86401")]
    [InlineData("-5")]
    public void TimeoutSec_OutOfRange_IsRefusedByParameterBinding_BeforeAnyMocCall(string value)
    {
        using var s = new TvmSession();
        StandIn.Import(s);
        StandIn.Configure(s, s.P("cluster"));
        s.Set("t", value);

        var r = s.Run("Get-TvmVaultKey -TimeoutSec $t");

        Assert.True(r.Threw, r.Describe());
        Assert.Contains("ParameterArgumentValidationError", r.Terminating?.FullyQualifiedErrorId ?? "");
        Assert.Empty(StandIn.Calls(s));
    }
}
