using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests;

/// <summary>
/// One full rehearsal, run once for the class: vault A seeded with 5 AES-256 keys (GUID names and vm_key_1),
/// an RSA-2048 key and the RSA-4096 AzureStackTvmAKRootKey; Backup-TVMKeys by name; the wrapping key pair
/// imported into an empty vault B by position; Import-TVMKeys by position.
/// </summary>
public sealed class RehearsalFixture : IDisposable
{
    public static readonly string[] AesNames =
    {
        "0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01",
        "3b9d1e44-2a6f-4c8b-8e7d-1f2a3b4c5d6e",
        "a4e2f6c1-9b3d-4e5f-a7b8-c9d0e1f2a3b4",
        "D7C1B2A3-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
        "vm_key_1",
    };
    public const string RootKey = "AzureStackTvmAKRootKey";
    public const string Rsa2048Name = "rsa_2048_key";

    public TvmSession Session { get; }
    public Rehearsal R { get; }
    public PsResult SeedRun { get; }
    public PsResult BackupRun { get; }
    public BackupInfo? Backup { get; }
    public DateTime BackupStarted { get; }
    public DateTime BackupEnded { get; }
    public PsResult WrapRun { get; }
    public PsResult RestoreRun { get; }
    public List<KeyInfo> ListA { get; } = new();
    public List<KeyInfo> ListB { get; } = new();
    public Exception? ListFailure { get; }

    public RehearsalFixture()
    {
        Session = new TvmSession();
        R = new Rehearsal(Session);
        SeedRun = R.Seed(R.VaultA,
            AesNames.Select(n => (n, "AES", 256))
                .Append((RootKey, "RSA", 4096))
                .Append((Rsa2048Name, "RSA", 2048)).ToArray());
        BackupStarted = DateTime.Now;
        (BackupRun, Backup) = R.Backup();
        BackupEnded = DateTime.Now;
        WrapRun = R.ImportWrappingKey();
        RestoreRun = R.Restore();
        try
        {
            ListA = R.List(R.VaultA);
            ListB = R.List(R.VaultB);
        }
        catch (Exception e) { ListFailure = e; }
    }

    public IEnumerable<(string Name, string Type, int Size)> Seeded =>
        AesNames.Select(n => (n, "AES", 256)).Append((RootKey, "RSA", 4096)).Append((Rsa2048Name, "RSA", 2048));

    public BackupInfo RequireBackup()
    {
        BackupRun.AssertClean();
        return Backup ?? throw new XunitException("Backup-TVMKeys did not return one TvmBackup.\n" + BackupRun.Describe());
    }

    public void RequireLists()
    {
        if (ListFailure != null) throw new XunitException("Get-TvmVaultKey failed: " + ListFailure.Message);
    }

    public void Dispose() => Session.Dispose();
}

public sealed class RehearsalTests : IClassFixture<RehearsalFixture>
{
    private readonly RehearsalFixture _f;
    public RehearsalTests(RehearsalFixture f) { _f = f; }

    private string AesFile(string name) => Path.Combine(_f.RequireBackup().Path, "AES", name + "_256.json");

    // ---------- seeding (LocalVault, New-/Get-TvmVaultKey) ----------

    [Fact]
    public void Seeding_NewTvmVaultKey_ReturnsOneTvmKeyPerKeyWithNameTypeSize()
    {
        _f.SeedRun.AssertClean();
        var keys = Objects.Keys(_f.SeedRun);
        Assert.Equal(
            _f.Seeded.Select(k => $"{k.Name}|{k.Type}|{k.Size}").ToList(),
            keys.Select(k => $"{k.Name}|{k.Type}|{k.Size}").ToList());
    }

    [Fact]
    public void Seeding_GetTvmVaultKey_ListsEveryKeyWithDistinctHexFingerprints()
    {
        _f.RequireLists();
        Assert.Equal(
            _f.Seeded.Select(k => $"{k.Name}|{k.Type}|{k.Size}").OrderBy(x => x, StringComparer.Ordinal),
            _f.ListA.Select(k => $"{k.Name}|{k.Type}|{k.Size}").OrderBy(x => x, StringComparer.Ordinal));
        foreach (var k in _f.ListA)
            Assert.Matches("^[0-9a-fA-F]{16,}$", k.Fingerprint ?? "");
        Assert.Equal(_f.ListA.Count, _f.ListA.Select(k => k.Fingerprint!.ToLowerInvariant()).Distinct().Count());
    }

    // ---------- Backup-TVMKeys ----------

    [Fact]
    public void Backup_ByName_WritesTheOriginalHostMessagesWordForWord()
    {
        var b = _f.RequireBackup();
        var host = _f.BackupRun.Host;
        Assert.True(host.Count > 0, _f.BackupRun.Describe());
        Assert.Equal($"Backing up TVM Vault keys to {b.Path}", host[0]);
        var expectedPerKey = _f.Seeded.Select(k => $"Backing up key {k.Name} to {k.Type} folder")
            .OrderBy(x => x, StringComparer.Ordinal).ToList();
        Assert.Equal(expectedPerKey, host.Skip(1).OrderBy(x => x, StringComparer.Ordinal).ToList());
    }

    [Fact]
    public void Backup_ReturnsTvmBackupWithFullPathAndTimestampOfItsFolder()
    {
        var b = _f.RequireBackup();
        Assert.True(Path.IsPathFullyQualified(b.Path), b.Path);
        Assert.Equal(Path.GetFullPath(_f.R.Root), Path.GetDirectoryName(b.Path));
        Assert.Matches("^[0-9]{14}$", Path.GetFileName(b.Path));
        Assert.Equal(Path.GetFileName(b.Path), b.Timestamp.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture));
        // local time of the run, like Get-Date -Format yyyyMMddHHmmss
        Assert.InRange(b.Timestamp, _f.BackupStarted.AddSeconds(-1), _f.BackupEnded.AddSeconds(1));
    }

    [Fact]
    public void Backup_OutputKeys_MatchTheVault()
    {
        var b = _f.RequireBackup();
        _f.RequireLists();
        Assert.Equal(
            _f.ListA.Select(k => $"{k.Name}|{k.Type}|{k.Size}").OrderBy(x => x, StringComparer.Ordinal),
            b.Keys.Select(k => $"{k.Name}|{k.Type}|{k.Size}").OrderBy(x => x, StringComparer.Ordinal));
    }

    [Fact]
    public void Backup_Layout_IsTimestampFolderWithOneNameUnderscoreSizeFilePerKeyInAesAndRsa()
    {
        var b = _f.RequireBackup();
        Assert.Equal(new[] { "AES", "RSA" },
            Directory.GetFileSystemEntries(b.Path).Select(Path.GetFileName).Where(n => n != "manifest.json")
                .OrderBy(x => x, StringComparer.Ordinal));
        Assert.Equal(
            _f.Seeded.Where(k => k.Type == "AES").Select(k => $"{k.Name}_{k.Size}.json").OrderBy(x => x, StringComparer.Ordinal),
            Directory.GetFileSystemEntries(Path.Combine(b.Path, "AES")).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal));
        Assert.Equal(
            new[] { $"{RehearsalFixture.RootKey}_4096.json", $"{RehearsalFixture.Rsa2048Name}_2048.json" }.OrderBy(x => x, StringComparer.Ordinal),
            Directory.GetFileSystemEntries(Path.Combine(b.Path, "RSA")).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal));
    }

    [Fact]
    public void Backup_LeavesNoPartialFolderInTheRoot()
    {
        var b = _f.RequireBackup();
        var entries = Directory.GetFileSystemEntries(_f.R.Root).Select(Path.GetFileName).ToList();
        Assert.Equal(new[] { Path.GetFileName(b.Path) }, entries);
        Assert.DoesNotContain(entries, e => e!.Contains("partial", StringComparison.OrdinalIgnoreCase) || e.StartsWith('.'));
    }

    [Fact]
    public void Backup_KeyFiles_AreCompactJsonWithoutBomInMocKeyOrder()
    {
        var b = _f.RequireBackup();
        var files = Directory.GetFiles(Path.Combine(b.Path, "AES")).Concat(Directory.GetFiles(Path.Combine(b.Path, "RSA"))).ToList();
        Assert.Equal(_f.Seeded.Count(), files.Count);
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            Assert.True(bytes.Length > 3 && bytes[0] == (byte)'{', $"{file} must start with '{{' (no BOM)");
            var text = Encoding.ASCII.GetString(bytes).TrimEnd('\n');
            Assert.DoesNotMatch(@"\s", text);
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            Assert.Equal(new[] { "public-key", "private-key", "private-key-wrapping-info" },
                root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(new[] { "key-name", "public-key", "enc" },
                root.GetProperty("private-key-wrapping-info").EnumerateObject().Select(p => p.Name));
            Assert.Equal("CKM_RSA_AES_KEY_WRAP", root.GetProperty("private-key-wrapping-info").GetProperty("enc").GetString());
        }
    }

    [Fact]
    public void Backup_KeyFiles_UsePaddedBase64Url()
    {
        var b = _f.RequireBackup();
        foreach (var file in Directory.GetFiles(b.Path, "*.json", SearchOption.AllDirectories))
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            var root = doc.RootElement;
            var values = new[]
            {
                root.GetProperty("public-key").GetString()!,
                root.GetProperty("private-key").GetString()!,
                root.GetProperty("private-key-wrapping-info").GetProperty("public-key").GetString()!,
            };
            foreach (var v in values)
                Assert.True(B64.IsPaddedUrl(v), $"{Path.GetFileName(file)}: not padded base64url: {v[..Math.Min(40, v.Length)]}...");
        }
    }

    [Fact]
    public void Backup_AesKeyFile_HasEmptyPublicKeyAndTheWrappingPublicKeyDer()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(AesFile(RehearsalFixture.AesNames[0])));
        var root = doc.RootElement;
        Assert.Equal("", root.GetProperty("public-key").GetString());
        var info = root.GetProperty("private-key-wrapping-info");
        Assert.Equal("", info.GetProperty("key-name").GetString());
        Assert.Equal(B64.Url(_f.R.Wrapping.PublicDer), info.GetProperty("public-key").GetString());
    }

    [Fact]
    public void Backup_AesBlob_Is296BytesWithAnRsa2048WrappingKey()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(AesFile(RehearsalFixture.AesNames[1])));
        var blob = doc.RootElement.GetProperty("private-key").GetString()!;
        Assert.Equal(396, blob.Length);
        Assert.Equal(296, B64.FromUrl(blob).Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)] // vm_key_1
    public void Backup_AesKeyFile_UnwrapsWithDotNetToTheVaultKeyMaterial(int index)
    {
        var name = RehearsalFixture.AesNames[index];
        using var doc = JsonDocument.Parse(File.ReadAllBytes(AesFile(name)));
        var target = Unwrap(doc.RootElement.GetProperty("private-key").GetString()!, _f.R.Wrapping.Rsa);
        var vault = VaultFiles.Read(_f.R.VaultA, name);
        Assert.Equal(32, vault.Material.Length);
        Assert.Equal(Convert.ToHexString(vault.Material), Convert.ToHexString(target));
    }

    [Fact]
    public void Backup_Rsa4096KeyFile_UnwrapsToTheVaultPkcs8AndCarriesItsPkcs1PublicKey()
    {
        var b = _f.RequireBackup();
        var file = Path.Combine(b.Path, "RSA", $"{RehearsalFixture.RootKey}_4096.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        var target = Unwrap(doc.RootElement.GetProperty("private-key").GetString()!, _f.R.Wrapping.Rsa);
        var vault = VaultFiles.Read(_f.R.VaultA, RehearsalFixture.RootKey);
        Assert.Equal(Convert.ToHexString(vault.Material), Convert.ToHexString(target));

        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(target, out _);
        Assert.Equal(4096, rsa.KeySize);
        Assert.Equal(B64.Url(rsa.ExportRSAPublicKey()), doc.RootElement.GetProperty("public-key").GetString());
    }

    /// <summary>docs/format.md section 4: RSAES-OAEP-SHA1(K) (modulus length) || RFC 5649 AES-KWP(K, target).</summary>
    internal static byte[] Unwrap(string privateKeyB64Url, RSA wrapping)
    {
        var blob = B64.FromUrl(privateKeyB64Url);
        var modulusBytes = wrapping.KeySize / 8;
        Assert.True(blob.Length > modulusBytes + 16, $"blob of {blob.Length} bytes is too short");
        var kek = wrapping.Decrypt(blob[..modulusBytes], RSAEncryptionPadding.OaepSHA1);
        Assert.Equal(32, kek.Length);
        using var aes = Aes.Create();
        aes.Key = kek;
        return aes.DecryptKeyWrapPadded(blob[modulusBytes..]);
    }

    // ---------- Import-TvmWrappingKeyFromPem ----------

    [Fact]
    public void WrappingKeyImport_ByPosition_WritesTheFourOriginalMessagesAndRemovesTheTempFile()
    {
        _f.WrapRun.AssertClean();
        var host = _f.WrapRun.Host;
        Assert.Equal(4, host.Count);
        var w = Rehearsal.WrappingKeyName;
        var m = Regex.Match(host[0], $"^Generating import JSON for key {w} at temporary location (.+)\\.\\.\\.$");
        Assert.True(m.Success, host[0]);
        var tmp = m.Groups[1].Value;
        Assert.Equal($"Importing key {w} into the vault...", host[1]);
        Assert.Equal($"Key {w} successfully imported into the vault.", host[2]);
        Assert.Equal($"Temporary file {tmp} has been cleaned up.", host[3]);
        Assert.False(File.Exists(tmp), $"temporary file {tmp} still exists");
    }

    [Fact]
    public void WrappingKeyImport_ReturnsTheRsaKeyAndStoresThePrivateKey()
    {
        _f.WrapRun.AssertClean();
        var k = Assert.Single(Objects.Keys(_f.WrapRun));
        Assert.Equal((Rehearsal.WrappingKeyName, "RSA", 2048), (k.Name, k.Type, k.Size));
        var stored = VaultFiles.Read(_f.R.VaultB, Rehearsal.WrappingKeyName);
        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(stored.Material, out _);
        var expected = _f.R.Wrapping.Rsa.ExportParameters(true);
        var actual = rsa.ExportParameters(true);
        Assert.Equal(Convert.ToHexString(expected.Modulus!), Convert.ToHexString(actual.Modulus!));
        Assert.Equal(Convert.ToHexString(expected.D!), Convert.ToHexString(actual.D!));
    }

    // ---------- Import-TVMKeys ----------

    [Fact]
    public void Restore_ByPosition_WritesTheOriginalHostMessagesWordForWordAesFirstInOrdinalOrder()
    {
        var b = _f.RequireBackup();
        _f.RestoreRun.AssertClean();
        var expected = new List<string> { $"Importing TVM  keys from {b.Path}" };
        foreach (var type in new[] { "AES", "RSA" })
            foreach (var k in _f.Seeded.Where(k => k.Type == type)
                         .Select(k => (k.Name, k.Size, File: $"{k.Name}_{k.Size}.json"))
                         .OrderBy(k => k.File, StringComparer.Ordinal))
                expected.Add($"Importing key {k.Name} with size {k.Size} from {type} folder path = {Path.Combine(b.Path, type, k.File)}");
        Assert.Equal(expected, _f.RestoreRun.Host);
    }

    [Fact]
    public void Restore_ReturnsOneImportedResultPerKeyFile()
    {
        var b = _f.RequireBackup();
        _f.RestoreRun.AssertClean();
        var results = Objects.Restores(_f.RestoreRun);
        Assert.Equal(
            _f.Seeded.Select(k => $"{k.Name}|{k.Type}|{k.Size}|Imported").OrderBy(x => x, StringComparer.Ordinal),
            results.Select(r => $"{r.Name}|{r.Type}|{r.Size}|{r.Outcome}").OrderBy(x => x, StringComparer.Ordinal));
        foreach (var r in results)
            Assert.Equal(Path.Combine(b.Path, r.Type, $"{r.Name}_{r.Size}.json"), r.File);
        Assert.Empty(_f.RestoreRun.Warnings);
    }

    [Fact]
    public void Restore_EveryKeyOfVaultAIsInVaultBWithSameTypeSizeAndFingerprint()
    {
        _f.RestoreRun.AssertClean();
        _f.RequireLists();
        Assert.Equal(_f.Seeded.Count(), _f.ListA.Count);
        foreach (var a in _f.ListA)
        {
            var b = _f.ListB.SingleOrDefault(k => k.Name == a.Name)
                ?? throw new XunitException($"key {a.Name} of vault A is missing from vault B; B has: " +
                                            string.Join(", ", _f.ListB.Select(k => k.Name)));
            Assert.Equal((a.Type, a.Size, a.Fingerprint), (b.Type, b.Size, b.Fingerprint));
        }
        // B holds A's keys and the wrapping key, nothing else
        Assert.Equal(
            _f.ListA.Select(k => k.Name).Append(Rehearsal.WrappingKeyName).OrderBy(x => x, StringComparer.Ordinal),
            _f.ListB.Select(k => k.Name).OrderBy(x => x, StringComparer.Ordinal));
    }

    [Fact]
    public void Restore_KeyMaterialInVaultBIsByteIdenticalToVaultA()
    {
        _f.RestoreRun.AssertClean();
        foreach (var k in _f.Seeded)
        {
            var a = VaultFiles.Read(_f.R.VaultA, k.Name);
            var b = VaultFiles.Read(_f.R.VaultB, k.Name);
            Assert.Equal((a.Name, a.Type, a.Size), (b.Name, b.Type, b.Size));
            Assert.True(a.Material.SequenceEqual(b.Material), $"material of {k.Name} differs");
        }
    }

    [Fact]
    public void Restore_KeyNameWithUnderscores_KeepsItsFullName()
    {
        _f.RestoreRun.AssertClean();
        _f.RequireLists();
        Assert.Contains(_f.ListB, k => k.Name == "vm_key_1" && k.Type == "AES" && k.Size == 256);
        Assert.Contains(_f.ListB, k => k.Name == RehearsalFixture.Rsa2048Name && k.Type == "RSA" && k.Size == 2048);
        // the original's first-'_' split would have made "vm" (size "key_1_256") and "rsa"
        Assert.DoesNotContain(_f.ListB, k => k.Name is "vm" or "vm_key" or "rsa" or "rsa_2048");
        Assert.True(File.Exists(VaultFiles.KeyPath(_f.R.VaultB, "vm_key_1")));
    }

    [Fact]
    public void RestoredAndImportedKeyFiles_AreOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        _f.RestoreRun.AssertClean();
        var files = Directory.GetFiles(Path.Combine(_f.R.VaultB, "keys"));
        Assert.Equal(_f.Seeded.Count() + 1, files.Length);
        foreach (var file in files)
            Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite),
                $"{Path.GetFileName(file)} has mode {File.GetUnixFileMode(file)}");
    }
}
