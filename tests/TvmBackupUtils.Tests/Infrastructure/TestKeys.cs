using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>How a PEM file is written: the encodings and line ends the docs' PowerShell recipes produce.</summary>
public enum PemFlavor
{
    Utf8Lf,             // PowerShell 7 Out-File on Linux
    Utf8Crlf,           // PowerShell 7 Out-File on Windows
    Utf8BomLf,
    Utf8BomCrlf,        // Set-Content -Encoding utf8BOM / editors on Windows
    Utf16LeBomCrlf,     // Windows PowerShell 5.1 Out-File
    Utf16LeBomLf,
    Utf8NoFinalNewline, // [IO.File]::WriteAllText($p, $rsa.ExportRSAPublicKeyPem())
}

/// <summary>An RSA key pair made with .NET, as the docs make the wrapping key with PowerShell 7.</summary>
public sealed class TestKeyPair
{
    public RSA Rsa { get; }
    public int Bits => Rsa.KeySize;

    public TestKeyPair(int bits) { Rsa = RSA.Create(bits); }

    public string PublicPem => Rsa.ExportRSAPublicKeyPem();        // -----BEGIN RSA PUBLIC KEY----- (PKCS#1)
    public string PrivatePem => Rsa.ExportPkcs8PrivateKeyPem();    // -----BEGIN PRIVATE KEY----- (PKCS#8)
    public byte[] PublicDer => Rsa.ExportRSAPublicKey();
    public byte[] PrivateDer => Rsa.ExportPkcs8PrivateKey();

    /// <summary>docs/format.md section 3, exactly: ASCII, compact, a single trailing "\n".</summary>
    public byte[] ExpectedImportJson =>
        Encoding.ASCII.GetBytes(
            "{\"public-key\":\"" + B64.Url(PublicDer) + "\",\"private-key\":\"" + B64.Url(PrivateDer) +
            "\",\"private-key-wrapping-info\":{\"key-name\":\"\",\"public-key\":\"\",\"enc\":\"NO_KEY_WRAP\"}}\n");

    /// <summary>Writes public.pem and private.pem (with a flavor suffix) into dir; returns their paths.</summary>
    public (string Public, string Private) Write(string dir, PemFlavor flavor = PemFlavor.Utf8Lf, string prefix = "")
    {
        Directory.CreateDirectory(dir);
        var suffix = flavor == PemFlavor.Utf8Lf ? "" : "-" + flavor;
        var pub = Path.Combine(dir, $"{prefix}public{suffix}.pem");
        var priv = Path.Combine(dir, $"{prefix}private{suffix}.pem");
        PemFiles.Write(pub, PublicPem, flavor);
        PemFiles.Write(priv, PrivatePem, flavor);
        return (pub, priv);
    }
}

public static class PemFiles
{
    public static void Write(string path, string pem, PemFlavor flavor)
    {
        var text = pem.Replace("\r\n", "\n").TrimEnd('\n');
        var crlf = flavor is PemFlavor.Utf8Crlf or PemFlavor.Utf8BomCrlf or PemFlavor.Utf16LeBomCrlf;
        if (crlf) text = text.Replace("\n", "\r\n");
        if (flavor != PemFlavor.Utf8NoFinalNewline) text += crlf ? "\r\n" : "\n";
        var bytes = flavor switch
        {
            PemFlavor.Utf8BomLf or PemFlavor.Utf8BomCrlf => new UTF8Encoding(true).GetPreamble().Concat(Encoding.UTF8.GetBytes(text)).ToArray(),
            PemFlavor.Utf16LeBomCrlf or PemFlavor.Utf16LeBomLf => Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes(text)).ToArray(),
            _ => Encoding.UTF8.GetBytes(text),
        };
        File.WriteAllBytes(path, bytes);
    }
}

/// <summary>Key pairs shared by the whole run (RSA key generation costs time on 2 cores).</summary>
public static class SharedKeys
{
    private static readonly Lazy<TestKeyPair> WrappingLazy = new(() => new TestKeyPair(2048));
    private static readonly Lazy<TestKeyPair> OtherLazy = new(() => new TestKeyPair(2048));
    private static readonly Lazy<TestKeyPair> Rsa3072Lazy = new(() => new TestKeyPair(3072));

    /// <summary>The wrapping key pair most tests use (RSA-2048).</summary>
    public static TestKeyPair Wrapping => WrappingLazy.Value;
    /// <summary>A second RSA-2048 pair, for "public key does not match the private key".</summary>
    public static TestKeyPair Other => OtherLazy.Value;
    public static TestKeyPair Rsa3072 => Rsa3072Lazy.Value;
}

public static class B64
{
    /// <summary>base64url WITH '=' padding, as MOC wants it.</summary>
    public static string Url(byte[] data) => Convert.ToBase64String(data).Replace('+', '-').Replace('/', '_');

    public static byte[] FromUrl(string s) => Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/'));

    public static bool IsPaddedUrl(string s) =>
        s.Length % 4 == 0 && System.Text.RegularExpressions.Regex.IsMatch(s, "^[A-Za-z0-9_-]*={0,2}$");
}

/// <summary>Reads the LocalVault on-disk format of the contract.</summary>
public static class VaultFiles
{
    public sealed record VaultKeyFile(string Name, string Type, int Size, byte[] Material, string RawText);

    public static string KeyPath(string vault, string name) => Path.Combine(vault, "keys", name + ".json");

    public static VaultKeyFile Read(string vault, string name)
    {
        var text = File.ReadAllText(KeyPath(vault, name));
        using var doc = JsonDocument.Parse(text);
        var r = doc.RootElement;
        return new VaultKeyFile(r.GetProperty("name").GetString()!, r.GetProperty("type").GetString()!,
            r.GetProperty("size").GetInt32(), B64.FromUrl(r.GetProperty("material").GetString()!), text);
    }

    /// <summary>file name -> bytes of every file under vault/keys (empty when there is none).</summary>
    public static SortedDictionary<string, byte[]> Snapshot(string vault)
    {
        var d = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        var keys = Path.Combine(vault, "keys");
        if (Directory.Exists(keys))
            foreach (var f in Directory.GetFiles(keys))
                d[Path.GetFileName(f)] = File.ReadAllBytes(f);
        return d;
    }
}
