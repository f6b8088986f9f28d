using System.Management.Automation;
using System.Security.Cryptography;
using System.Text.Json;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;

namespace TvmBackupUtils.Tests;

/// <summary>Relative paths resolve against the PowerShell location, not the process working directory.</summary>
public sealed class RelativePathTests
{
    [Fact]
    public void RelativePaths_AfterSetLocation_ResolveUnderThatLocationForEveryCommand()
    {
        using var s = new TvmSession();
        var loc = s.P("loc");
        SharedKeys.Wrapping.Write(loc);
        s.Set("loc", loc);
        var processCwd = Environment.CurrentDirectory;
        Assert.NotEqual(Path.GetFullPath(loc), Path.GetFullPath(processCwd));

        var run = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($loc) | Out-Null
New-TvmVaultKey -Name vm_key_1 -Type AES -Size 256 -VaultPath .\vaultA | Out-Null
$b = Backup-TVMKeys .\public.pem .\backups -VaultPath .\vaultA
Import-TvmWrappingKeyFromPem w .\public.pem .\private.pem 2048 -VaultPath .\vaultB | Out-Null
$rel = '.\backups\' + [System.IO.Path]::GetFileName($b.Path)
Import-TVMKeys $rel w -VaultPath .\vaultB
$b");

        run.AssertClean();
        var backup = Objects.Backup(run.Output[^1]);
        Assert.Equal(Path.Combine(loc, "backups"), Path.GetDirectoryName(backup.Path));
        Assert.True(File.Exists(Path.Combine(backup.Path, "AES", "vm_key_1_256.json")));
        Assert.True(File.Exists(VaultFiles.KeyPath(Path.Combine(loc, "vaultA"), "vm_key_1")));
        Assert.True(File.Exists(VaultFiles.KeyPath(Path.Combine(loc, "vaultB"), "w")));
        Assert.True(File.Exists(VaultFiles.KeyPath(Path.Combine(loc, "vaultB"), "vm_key_1")));
        Assert.Equal("Imported", Objects.Restore(run.Output[0]).Outcome);
        // As the original's Join-Path: the key file is shown under the backup path as typed ...
        var typed = Path.Combine(".\\backups\\" + Path.GetFileName(backup.Path), "AES", "vm_key_1_256.json");
        Assert.Contains($"Importing key vm_key_1 with size 256 from AES folder path = {typed}", run.Host);
        // ... while the output object carries the full path.
        Assert.Equal(Path.Combine(backup.Path, "AES", "vm_key_1_256.json"), Objects.Restore(run.Output[0]).File);
        foreach (var d in new[] { "vaultA", "vaultB", "backups" })
            Assert.False(Directory.Exists(Path.Combine(processCwd, d)), $"{d} was created in the process cwd {processCwd}");
    }

    /// <summary>As the original prints $BackupPath and Join-Path of it: the paths in host messages are as typed.</summary>
    [Fact]
    public void Restore_RelativeBackupPath_IsPrintedAsGivenInTheFirstMessage()
    {
        using var s = new TvmSession();
        var loc = s.P("loc");
        var r = new Rehearsal(s, baseDir: "loc");
        var backup = r.PrepareAes("k1");
        s.Set("loc", loc);
        s.Set("rel", ".\\backups\\" + Path.GetFileName(backup.Path));

        var run = s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($loc) | Out-Null
Import-TVMKeys $rel $wname -VaultPath .\vaultB");

        run.AssertClean();
        Assert.Equal("Importing TVM  keys from .\\backups\\" + Path.GetFileName(backup.Path), run.Host[0]);
        var typed = Path.Combine(".\\backups\\" + Path.GetFileName(backup.Path), "AES", "k1_256.json");
        Assert.Equal($"Importing key k1 with size 256 from AES folder path = {typed}", run.Host[1]);
    }

    [Fact]
    public void RelativePaths_ForwardSlashes_ResolveUnderTheLocation()
    {
        using var s = new TvmSession();
        var loc = s.P("loc2");
        Directory.CreateDirectory(loc);
        s.Set("loc", loc);
        s.Run(@"$ExecutionContext.SessionState.Path.SetLocation($loc) | Out-Null
New-TvmVaultKey -Name k -Type AES -Size 256 -VaultPath ./sub/vault").AssertClean();
        Assert.True(File.Exists(VaultFiles.KeyPath(Path.Combine(loc, "sub", "vault"), "k")));
    }
}

/// <summary>Which vault a command talks to: -VaultPath, else TVM_VAULT_PATH, else the MOC vault (the Moc cmdlets).</summary>
public sealed class VaultChoiceTests
{
    public static TheoryData<string> AllVaultCommands => new()
    {
        "Get-TvmVaultKey",
        "New-TvmVaultKey -Name k -Type AES -Size 256",
        "Backup-TVMKeys $pub $root",
        "Import-TVMKeys $backup w",
        "Import-TvmWrappingKeyFromPem w $pub $priv 2048",
    };

    /// <summary>
    /// No local vault and no Moc module: the MOC vault's version gate cannot run Get-MocConfig, which the original
    /// reports as "Unable to determine Moc installation versions." (never a silent fallback to another vault).
    /// </summary>
    [Theory]
    [MemberData(nameof(AllVaultCommands))]
    public void NoVaultPathNoEnvironmentVariableAndNoMocModule_IsTheOriginalsUnableToDetermineVersions(string script)
    {
        using var s = new TvmSession();
        Assert.Null(Environment.GetEnvironmentVariable("TVM_VAULT_PATH"));
        Assert.Empty(s.Run("Get-Command Get-MocConfig -ErrorAction SilentlyContinue").Output);
        var (pub, priv) = SharedKeys.Wrapping.Write(s.P("keys"));
        var backup = s.P("backups", "20240101000000");
        Directory.CreateDirectory(Path.Combine(backup, "AES"));
        Directory.CreateDirectory(Path.Combine(backup, "RSA"));
        s.Set("pub", pub);
        s.Set("priv", priv);
        s.Set("root", s.P("root"));
        s.Set("backup", backup);
        var tmp = s.UsePrivateTempFolder();

        var r = s.Run(script);

        var e = r.AssertTerminating("MocVersionUnknown", ErrorCategory.NotInstalled);
        Assert.Equal("Unable to determine Moc installation versions.", e.Exception.Message);
        Assert.False(Directory.Exists(s.P("root")), "Backup-TVMKeys created its root before failing");
        Assert.Empty(Directory.GetFileSystemEntries(tmp, "*", SearchOption.AllDirectories));
        Assert.Equal(new[] { "AES", "RSA" }, Directory.GetFileSystemEntries(backup).Select(Path.GetFileName).OrderBy(x => x, StringComparer.Ordinal));
    }

    [Fact]
    public void EnvironmentVariableSetInTheSession_IsTheVaultWhenNoVaultPath()
    {
        using var s = new TvmSession();
        var vault = s.P("envvault");
        s.Set("vault", vault);

        var r = s.Run(@"$env:TVM_VAULT_PATH = $vault
New-TvmVaultKey -Name envkey -Type AES -Size 256 | Out-Null
Get-TvmVaultKey");

        r.AssertClean();
        Assert.Equal("envkey", Assert.Single(Objects.Keys(r)).Name);
        Assert.True(File.Exists(VaultFiles.KeyPath(vault, "envkey")));
    }

    [Fact]
    public void EnvironmentVariableOfTheProcess_IsTheVaultWhenNoVaultPath()
    {
        using var s = new TvmSession();
        var vault = s.P("procvault");
        NativeEnv.Set("TVM_VAULT_PATH", vault); // restored by the session's Dispose

        var r = s.Run("New-TvmVaultKey -Name prockey -Type AES -Size 256");

        r.AssertClean();
        Assert.True(File.Exists(VaultFiles.KeyPath(vault, "prockey")));
    }

    [Fact]
    public void VaultPathParameter_WinsOverTheEnvironmentVariable()
    {
        using var s = new TvmSession();
        var envVault = s.P("envvault");
        var paramVault = s.P("paramvault");
        s.Set("envVault", envVault);
        s.Set("paramVault", paramVault);

        s.Run(@"$env:TVM_VAULT_PATH = $envVault
New-TvmVaultKey -Name k -Type AES -Size 256 -VaultPath $paramVault").AssertClean();

        Assert.True(File.Exists(VaultFiles.KeyPath(paramVault, "k")));
        Assert.False(File.Exists(VaultFiles.KeyPath(envVault, "k")));
    }
}

/// <summary>The LocalVault on-disk format of the contract, as New-TvmVaultKey writes it.</summary>
public sealed class LocalVaultTests
{
    [Fact]
    public void NewTvmVaultKey_Aes_WritesVaultMarkerAndKeyFileWith32ByteMaterial()
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        var k = Objects.Key(Assert.Single(s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault").AssertClean().Output));
        Assert.Equal(("k1", "AES", 256), (k.Name, k.Type, k.Size));

        using (var marker = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(vault, "tvmvault.json"))))
        {
            Assert.Equal("tvmkeys-local-vault", marker.RootElement.GetProperty("format").GetString());
            Assert.Equal(1, marker.RootElement.GetProperty("version").GetInt32());
        }
        var f = VaultFiles.Read(vault, "k1");
        Assert.Equal(("k1", "AES", 256), (f.Name, f.Type, f.Size));
        Assert.Equal(32, f.Material.Length);
        Assert.True(B64.IsPaddedUrl(JsonDocument.Parse(f.RawText).RootElement.GetProperty("material").GetString()!));
    }

    [Fact]
    public void NewTvmVaultKey_Rsa2048_StoresPkcs8ThatDotNetImports()
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        s.Run("New-TvmVaultKey -Name r1 -Type RSA -Size 2048 -VaultPath $vault").AssertClean();
        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(VaultFiles.Read(vault, "r1").Material, out _);
        Assert.Equal(2048, rsa.KeySize);
    }

    [Fact]
    public void NewTvmVaultKey_KeyFileIsOwnerOnly()
    {
        if (OperatingSystem.IsWindows()) return;
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault").AssertClean();
        var mode = File.GetUnixFileMode(VaultFiles.KeyPath(vault, "k1"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public void NewTvmVaultKey_ExistingName_IsTerminatingAlreadyExistsAndKeepsTheKey()
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault").AssertClean();
        var before = File.ReadAllBytes(VaultFiles.KeyPath(vault, "k1"));
        var r = s.Run("New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault");
        r.AssertTerminating("KeyExists", ErrorCategory.ResourceExists);
        Assert.True(before.SequenceEqual(File.ReadAllBytes(VaultFiles.KeyPath(vault, "k1"))));
    }

    [Theory]
    [InlineData("AES", 128)]
    [InlineData("AES", 2048)]
    [InlineData("RSA", 1024)]
    [InlineData("EC", 256)]
    public void NewTvmVaultKey_TypeOrSizeTheVaultRejects_IsTerminatingAndWritesNoKey(string type, int size)
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        s.Set("type", type);
        s.Set("size", size);
        var r = s.Run("New-TvmVaultKey -Name bad -Type $type -Size $size -VaultPath $vault");
        Assert.True(r.Threw, r.Describe());
        Assert.False(File.Exists(VaultFiles.KeyPath(vault, "bad")));
    }

    [Fact]
    public void NewTvmVaultKey_LowercaseType_IsStoredWithTheVaultsCaseSensitiveSpelling()
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        var k = Objects.Key(Assert.Single(s.Run("New-TvmVaultKey -Name k1 -Type aes -Size 256 -VaultPath $vault").AssertClean().Output));
        Assert.Equal("AES", k.Type);
        Assert.Equal("AES", VaultFiles.Read(vault, "k1").Type);
    }

    [Fact]
    public void GetTvmVaultKey_ByPositionalName_ReturnsOnlyThatKey()
    {
        using var s = new TvmSession();
        var vault = s.P("v");
        s.Set("vault", vault);
        s.Run("'a1','a2','a3' | ForEach-Object { New-TvmVaultKey -Name $_ -Type AES -Size 256 -VaultPath $vault } | Out-Null").AssertClean();
        var r = s.Run("Get-TvmVaultKey a2 -VaultPath $vault").AssertClean();
        var k = Assert.Single(Objects.Keys(r));
        Assert.Equal("a2", k.Name);
        Assert.False(string.IsNullOrEmpty(k.Fingerprint));
    }
}

/// <summary>Import-TvmWrappingKeyFromPem with the PEM files people actually have.</summary>
public sealed class WrappingKeyTests
{
    [Theory]
    [InlineData(PemFlavor.Utf16LeBomCrlf)] // Windows PowerShell 5.1 Out-File
    [InlineData(PemFlavor.Utf8BomCrlf)]
    [InlineData(PemFlavor.Utf8NoFinalNewline)]
    public void WrappingKeyImport_AcceptsEveryPemEncodingAndStoresTheSameKey(PemFlavor flavor)
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Wrapping, flavor);
        s.Set("vault", s.P("vault"));
        var r = s.Run("Import-TvmWrappingKeyFromPem -KeyName w -PublicKeyPath $pub -PrivateKeyPath $priv -KeySize '2048' -VaultPath $vault").AssertClean();
        var k = Objects.Key(Assert.Single(r.Output));
        Assert.Equal(("w", "RSA", 2048), (k.Name, k.Type, k.Size));
        using var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(VaultFiles.Read(s.P("vault"), "w").Material, out _);
        Assert.Equal(Convert.ToHexString(SharedKeys.Wrapping.Rsa.ExportParameters(false).Modulus!),
            Convert.ToHexString(rsa.ExportParameters(false).Modulus!));
    }

    [Fact]
    public void WrappingKeyImport_Rsa3072WithKeySize3072_IsStoredAs3072()
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Rsa3072);
        s.Set("vault", s.P("vault"));
        var r = s.Run("Import-TvmWrappingKeyFromPem w3 $pub $priv 3072 -VaultPath $vault").AssertClean();
        Assert.Equal(3072, Objects.Key(Assert.Single(r.Output)).Size);
        Assert.Equal(3072, VaultFiles.Read(s.P("vault"), "w3").Size);
    }

    [Fact]
    public void WrappingKeyImport_LeavesNothingInTheTempFolder()
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Wrapping);
        s.Set("vault", s.P("vault"));
        var tmp = s.UsePrivateTempFolder();
        var r = s.Run("Import-TvmWrappingKeyFromPem w $pub $priv 2048 -VaultPath $vault").AssertClean();
        // the temporary import file is made in the temp folder (TMPDIR) and removed again
        var m = System.Text.RegularExpressions.Regex.Match(r.Host[0], "at temporary location (.+)\\.\\.\\.$");
        Assert.True(m.Success, r.Describe());
        Assert.Equal(Path.GetFullPath(tmp), Path.GetDirectoryName(Path.GetFullPath(m.Groups[1].Value)));
        Assert.False(File.Exists(m.Groups[1].Value));
        Assert.Empty(Directory.GetFileSystemEntries(tmp, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void WrappingKeyImport_WhatIf_WritesNoKey()
    {
        using var s = new TvmSession();
        s.SetKeyPair(SharedKeys.Wrapping);
        s.Set("vault", s.P("vault"));
        var tmp = s.UsePrivateTempFolder();
        s.Run("Import-TvmWrappingKeyFromPem w $pub $priv 2048 -VaultPath $vault -WhatIf").AssertClean();
        Assert.False(File.Exists(VaultFiles.KeyPath(s.P("vault"), "w")));
        Assert.Empty(Directory.GetFileSystemEntries(tmp, "*", SearchOption.AllDirectories));
    }
}
