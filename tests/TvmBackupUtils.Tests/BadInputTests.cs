using System.Management.Automation;
using System.Security.Cryptography;
using TvmBackupUtils.Tests.Infrastructure;
using Xunit;

namespace TvmBackupUtils.Tests;

/// <summary>
/// Bad arguments to the two PEM commands: a terminating error with a stable ErrorId and category, a message
/// that names the input, and nothing written (no out file, no key in the vault, no temporary file).
/// </summary>
public sealed class BadInputTests
{
    public enum Command { ImportJson, WrappingKey }

    private static readonly string[] FormatIds = { "PemInvalid" };
    private static readonly string[] EncryptedIds = { "PemEncrypted" };
    private static readonly string[] MismatchIds = { "KeyPairMismatch" };

    /// <summary>case -> (which file is bad, accepted error ids)</summary>
    private static (string Culprit, string[] Ids) Prepare(string @case, TvmSession s, out string pub, out string priv)
    {
        var dir = s.P("pem");
        (pub, priv) = SharedKeys.Wrapping.Write(dir);
        switch (@case)
        {
            case "missing-public":
                pub = Path.Combine(dir, "no-such-public.pem");
                return (pub, new[] { "FileMissing" });
            case "missing-private":
                priv = Path.Combine(dir, "no-such-private.pem");
                return (priv, new[] { "FileMissing" });
            case "public-is-a-private-key":
                pub = priv;
                return (pub, FormatIds);
            case "private-is-a-public-key":
                priv = pub;
                return (priv, FormatIds);
            case "public-not-pem":
                pub = Path.Combine(dir, "garbage-public.pem");
                File.WriteAllText(pub, "this is not a PEM file\n");
                return (pub, FormatIds);
            case "ec-private":
            {
                using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                priv = Path.Combine(dir, "ec-private.pem");
                File.WriteAllText(priv, ec.ExportPkcs8PrivateKeyPem() + "\n");
                return (priv, FormatIds);
            }
            case "ec-public":
            {
                using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                pub = Path.Combine(dir, "ec-public.pem");
                File.WriteAllText(pub, ec.ExportSubjectPublicKeyInfoPem() + "\n");
                return (pub, FormatIds);
            }
            case "encrypted-private":
                priv = Path.Combine(dir, "encrypted-private.pem");
                File.WriteAllText(priv, SharedKeys.Wrapping.Rsa.ExportEncryptedPkcs8PrivateKeyPem("p@ss".AsSpan(),
                    new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10000)) + "\n");
                return (priv, EncryptedIds);
            case "mismatched-public":
                pub = SharedKeys.Other.Write(s.P("other")).Public;
                return (pub, MismatchIds);
            default:
                throw new ArgumentException(@case);
        }
    }

    public static TheoryData<Command, string> Cases()
    {
        var d = new TheoryData<Command, string>();
        foreach (var c in new[] { Command.ImportJson, Command.WrappingKey })
            foreach (var k in new[]
                     {
                         "missing-public", "missing-private", "public-is-a-private-key", "private-is-a-public-key",
                         "public-not-pem", "ec-private", "ec-public", "encrypted-private", "mismatched-public",
                     })
                d.Add(c, k);
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadPemInput_IsATerminatingErrorNamingTheFile_AndWritesNothing(Command command, string @case)
    {
        using var s = new TvmSession();
        var vault = s.P("vault");
        var seeded = Seed(s, vault);
        var tmp = s.UsePrivateTempFolder();
        var (culprit, ids) = Prepare(@case, s, out var pub, out var priv);
        var outFile = s.P("out", "import.json");
        Directory.CreateDirectory(s.P("out"));
        s.Set("pub", pub);
        s.Set("priv", priv);
        s.Set("out", outFile);
        s.Set("vault", vault);

        var r = command == Command.ImportJson
            ? s.Run("Generate-ImportJsonFromPEM $pub $priv $out")
            : s.Run("Import-TvmWrappingKeyFromPem w $pub $priv '2048' -VaultPath $vault");

        r.AssertTerminating(ids);
        Assert.Contains(Path.GetFileName(culprit), r.TerminatingMessage);
        AssertNothingWritten(s, outFile, vault, seeded, tmp, r);
    }

    [Theory]
    [InlineData(Command.ImportJson, "wrapping_public_pkcs1.pem", "encrypted_private_pkcs8.pem", "encrypted_private_pkcs8.pem", "PemEncrypted")]
    [InlineData(Command.ImportJson, "wrapping_public_pkcs1.pem", "ec_private_sec1.pem", "ec_private_sec1.pem", "PemInvalid")]
    [InlineData(Command.ImportJson, "wrapping_public_pkcs1.pem", "ec_private_pkcs8.pem", "ec_private_pkcs8.pem", "PemInvalid")]
    [InlineData(Command.ImportJson, "other_public_pkcs1.pem", "wrapping_private_pkcs8.pem", "other_public_pkcs1.pem", "KeyPairMismatch")]
    [InlineData(Command.WrappingKey, "wrapping_public_pkcs1.pem", "encrypted_private_pkcs8.pem", "encrypted_private_pkcs8.pem", "PemEncrypted")]
    [InlineData(Command.WrappingKey, "wrapping_public_pkcs1.pem", "ec_private_sec1.pem", "ec_private_sec1.pem", "PemInvalid")]
    [InlineData(Command.WrappingKey, "wrapping_public_pkcs1.pem", "ec_private_pkcs8.pem", "ec_private_pkcs8.pem", "PemInvalid")]
    [InlineData(Command.WrappingKey, "wrapping_public_pkcs1.pem", "other_private_pkcs8.pem", "other_private_pkcs8.pem", "KeyPairMismatch")]
    public void VectorThatMustBeRefused_IsATerminatingErrorNamingTheFile_AndWritesNothing(
        Command command, string publicFile, string privateFile, string culprit, string errorId)
    {
        using var s = new TvmSession();
        var vault = s.P("vault");
        var seeded = Seed(s, vault);
        var tmp = s.UsePrivateTempFolder();
        var outFile = s.P("out", "import.json");
        Directory.CreateDirectory(s.P("out"));
        s.Set("pub", Path.Combine(Repo.Vectors, publicFile));
        s.Set("priv", Path.Combine(Repo.Vectors, privateFile));
        s.Set("out", outFile);

        var r = command == Command.ImportJson
            ? s.Run("Generate-ImportJsonFromPEM $pub $priv $out")
            : s.Run("Import-TvmWrappingKeyFromPem w $pub $priv '2048' -VaultPath $vault");

        r.AssertTerminating(new[] { errorId });
        Assert.Contains(culprit, r.TerminatingMessage);
        AssertNothingWritten(s, command == Command.ImportJson ? outFile : null, vault, seeded, tmp, r);
    }

    [Theory]
    [InlineData("1024")]
    [InlineData("abc")]
    [InlineData("4096")] // a 2048-bit key
    [InlineData("3072")]
    [InlineData("")]
    public void WrappingKeyImport_BadKeySize_IsATerminatingInvalidArgumentNamingIt_AndWritesNothing(string keySize)
    {
        using var s = new TvmSession();
        var vault = s.P("vault");
        var seeded = Seed(s, vault);
        var tmp = s.UsePrivateTempFolder();
        s.SetKeyPair(SharedKeys.Wrapping);
        s.Set("vault", vault);
        s.Set("size", keySize);

        var r = s.Run("Import-TvmWrappingKeyFromPem w $pub $priv $size -VaultPath $vault");

        if (keySize == "")
        {
            // PowerShell itself refuses an empty string for a mandatory [string] parameter
            Assert.True(r.Threw, r.Describe());
        }
        else
        {
            // 1024 and abc are not sizes the vault takes; 4096 and 3072 are not the size of the 2048-bit key.
            r.AssertTerminating(keySize is "1024" or "abc" ? "InvalidKeySize" : "KeySizeMismatch", ErrorCategory.InvalidArgument);
            var msg = r.TerminatingMessage;
            Assert.True(msg.Contains(keySize) || msg.Contains("KeySize"), $"message does not name the key size: {msg}");
        }
        AssertNothingWritten(s, null, vault, seeded, tmp, r);
    }

    [Fact]
    public void WrappingKeyImport_MissingPublicKey_ErrorTellsWhatIsMissing()
    {
        using var s = new TvmSession();
        var (_, priv) = SharedKeys.Wrapping.Write(s.P("pem"));
        s.Set("priv", priv);
        s.Set("pub", s.P("pem", "absent.pem"));
        s.Set("vault", s.P("vault"));
        var r = s.Run("Import-TvmWrappingKeyFromPem w $pub $priv '2048' -VaultPath $vault");
        r.AssertTerminating("FileMissing", ErrorCategory.ObjectNotFound);
        Assert.Contains(s.P("pem", "absent.pem"), r.TerminatingMessage);
        Assert.False(File.Exists(VaultFiles.KeyPath(s.P("vault"), "w")));
    }

    private static SortedDictionary<string, byte[]> Seed(TvmSession s, string vault)
    {
        s.Set("vault", vault);
        s.Run("New-TvmVaultKey -Name existing -Type AES -Size 256 -VaultPath $vault").AssertClean();
        return VaultFiles.Snapshot(vault);
    }

    private static void AssertNothingWritten(TvmSession s, string? outFile, string vault,
        SortedDictionary<string, byte[]> before, string tmp, PsResult r)
    {
        if (outFile != null)
        {
            Assert.False(File.Exists(outFile), $"{outFile} was written.\n" + r.Describe());
            Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(outFile)!));
        }
        var after = VaultFiles.Snapshot(vault);
        Assert.Equal(before.Keys, after.Keys);
        Assert.All(before, kv => Assert.True(kv.Value.SequenceEqual(after[kv.Key])));
        Assert.False(File.Exists(VaultFiles.KeyPath(vault, "w")));
        var leftovers = Directory.GetFileSystemEntries(tmp, "*", SearchOption.AllDirectories);
        Assert.True(leftovers.Length == 0, "left in the temp folder: " + string.Join(", ", leftovers) + "\n" + r.Describe());
    }
}
