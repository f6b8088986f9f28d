// The key files MOC reads and writes (docs/format.md sections 2-4), with the behaviour of MOC's Go code:
// - export: compact JSON from Go's json.Marshal of KeyImportExportValue (keys in struct order, no "version",
//   HTML-safe string escaping), base64url WITH padding (Go base64.URLEncoding), no BOM, no trailing newline;
// - import: Go's json.Unmarshal (key names matched case-insensitively, unknown keys ignored, the last of
//   duplicate keys wins, a BOM is an error) and base64.URLEncoding.DecodeString (padding required, only the
//   URL alphabet, \r and \n ignored);
// - CKM_RSA_AES_KEY_WRAP: RSA-OAEP (SHA-1, MGF1 SHA-1, empty label) of a fresh AES-256 key K, followed by
//   the RFC 5649 key wrap (AES-KWP) of the target under K. RSA_AES_KEY_WRAP_256/_384 use SHA-256/SHA-384.

using System;
using System.Globalization;
using System.Management.Automation;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MocStandIn;

/// <summary>Go's base64.URLEncoding (padded).</summary>
internal static class GoBase64Url
{
    public static string Encode(ReadOnlySpan<byte> data) =>
        Convert.ToBase64String(data).Replace('+', '-').Replace('/', '_');

    /// <summary>Decodes as Go's URLEncoding.DecodeString; null and Go's error text on failure.</summary>
    public static byte[]? Decode(string value, out string? error)
    {
        error = null;
        var text = new StringBuilder(value.Length);
        int padding = 0;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c is '\r' or '\n')
            {
                continue;
            }
            bool alphabet = c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_';
            if (c == '=')
            {
                padding++;
            }
            else if (!alphabet || padding > 0)
            {
                error = $"illegal base64 data at input byte {i}";
                return null;
            }
            text.Append(c switch { '-' => '+', '_' => '/', _ => c });
        }
        if (text.Length % 4 != 0 || padding > 2 || (padding > 0 && text.Length - padding < 2))
        {
            error = $"illegal base64 data at input byte {value.Length}";
            return null;
        }
        return Convert.FromBase64String(text.ToString());
    }
}

/// <summary>An export file, written as MOC writes it.</summary>
internal static class ExportFile
{
    public const string CkmRsaAesKeyWrap = "CKM_RSA_AES_KEY_WRAP";

    public static byte[] Build(byte[] publicKey, byte[] privateKey, string wrappingKeyName, byte[] wrappingPublicKey, string enc)
    {
        var json = new StringBuilder();
        json.Append("{\"public-key\":");
        GoJsonString(json, GoBase64Url.Encode(publicKey));
        json.Append(",\"private-key\":");
        GoJsonString(json, GoBase64Url.Encode(privateKey));
        json.Append(",\"private-key-wrapping-info\":{\"key-name\":");
        GoJsonString(json, wrappingKeyName);
        json.Append(",\"public-key\":");
        GoJsonString(json, GoBase64Url.Encode(wrappingPublicKey));
        json.Append(",\"enc\":");
        GoJsonString(json, enc);
        json.Append("}}");
        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(json.ToString());
    }

    /// <summary>A JSON string as Go's json.Marshal writes it (HTML characters and U+2028/9 escaped).</summary>
    private static void GoJsonString(StringBuilder json, string value)
    {
        json.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': json.Append("\\\""); break;
                case '\\': json.Append("\\\\"); break;
                case '\n': json.Append("\\n"); break;
                case '\r': json.Append("\\r"); break;
                case '\t': json.Append("\\t"); break;
                case '<': case '>': case '&': case '\u2028': case '\u2029':
                    json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default:
                    if (c < 0x20)
                    {
                        json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        json.Append(c);
                    }
                    break;
            }
        }
        json.Append('"');
    }
}

/// <summary>The fields of an import file, as Go's json.Unmarshal fills KeyImportExportValue (null = absent or JSON null).</summary>
internal sealed class ImportFile
{
    public string? PublicKey { get; private set; }
    public string? PrivateKey { get; private set; }
    public bool HasWrappingInfo { get; private set; }
    public string? WrappingKeyName { get; private set; }
    public string? WrappingPublicKey { get; private set; }
    public string? Enc { get; private set; }

    /// <summary>Parses the file's bytes; throws a MocFailure with Go's error text.</summary>
    public static ImportFile Parse(byte[] bytes)
    {
        if (bytes.Length > 0 && bytes[0] is 0xEF or 0xFE or 0xFF)
        {
            // Go reads a BOM's first byte as a Latin-1 character: U+00EF 'ï' for UTF-8, 'þ'/'ÿ' for UTF-16.
            char first = (char)bytes[0];
            throw Syntax($"invalid character '{first}' looking for beginning of value");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw Syntax($"invalid character or end of JSON input ({e.Message})");
        }

        using (document)
        {
            JsonElement top = document.RootElement;
            if (top.ValueKind != JsonValueKind.Object)
            {
                throw Syntax($"json: cannot unmarshal {GoKind(top)} into Go value of type keyvault.KeyImportExportValue");
            }

            var file = new ImportFile();
            foreach (JsonProperty property in top.EnumerateObject())
            {
                if (Named(property, "public-key"))
                {
                    file.PublicKey = GoString(property, "KeyImportExportValue.public-key");
                }
                else if (Named(property, "private-key"))
                {
                    file.PrivateKey = GoString(property, "KeyImportExportValue.private-key");
                }
                else if (Named(property, "version"))
                {
                    GoString(property, "KeyImportExportValue.version");
                }
                else if (Named(property, "private-key-wrapping-info"))
                {
                    file.ReadWrappingInfo(property);
                }
            }
            return file;
        }
    }

    private void ReadWrappingInfo(JsonProperty property)
    {
        JsonElement value = property.Value;
        if (value.ValueKind == JsonValueKind.Null)
        {
            HasWrappingInfo = false;
            WrappingKeyName = WrappingPublicKey = Enc = null;
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Syntax($"json: cannot unmarshal {GoKind(value)} into Go struct field KeyImportExportValue.private-key-wrapping-info of type keyvault.PrivateKeyWrappingInfo");
        }
        HasWrappingInfo = true;
        foreach (JsonProperty inner in value.EnumerateObject())
        {
            if (Named(inner, "key-name"))
            {
                WrappingKeyName = GoString(inner, "KeyImportExportValue.private-key-wrapping-info.key-name");
            }
            else if (Named(inner, "public-key"))
            {
                WrappingPublicKey = GoString(inner, "KeyImportExportValue.private-key-wrapping-info.public-key");
            }
            else if (Named(inner, "enc"))
            {
                Enc = GoString(inner, "KeyImportExportValue.private-key-wrapping-info.enc");
            }
        }
    }

    private static bool Named(JsonProperty property, string name) =>
        string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase);

    private static string? GoString(JsonProperty property, string field) => property.Value.ValueKind switch
    {
        JsonValueKind.String => property.Value.GetString(),
        JsonValueKind.Null => null,
        _ => throw Syntax($"json: cannot unmarshal {GoKind(property.Value)} into Go struct field {field} of type string"),
    };

    private static string GoKind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.String => "string",
        _ => "null",
    };

    private static MocFailure Syntax(string message) =>
        new(message, "MocStandIn.InvalidKeyFile", ErrorCategory.InvalidData);
}

/// <summary>The wrapping mechanisms of docs/format.md section 4.</summary>
internal static class KeyWrap
{
    /// <summary>OAEP hash of a wrapped <c>enc</c>; null for NO_KEY_WRAP; throws for an unknown value.</summary>
    public static RSAEncryptionPadding? PaddingFor(string? enc) => enc switch
    {
        "CKM_RSA_AES_KEY_WRAP" => RSAEncryptionPadding.OaepSHA1,
        "RSA_AES_KEY_WRAP_256" => RSAEncryptionPadding.OaepSHA256,
        "RSA_AES_KEY_WRAP_384" => RSAEncryptionPadding.OaepSHA384,
        "NO_KEY_WRAP" => null,
        _ => throw MocFailure.InvalidInput($"Invalid Algorithm [{enc}]"),
    };

    /// <summary>RSA-OAEP-SHA1(K) || AES-KWP(K, target), K a fresh AES-256 key.</summary>
    public static byte[] Wrap(RSA wrappingPublicKey, byte[] target)
    {
        byte[] kek = RandomNumberGenerator.GetBytes(32);
        try
        {
            byte[] encryptedKek = wrappingPublicKey.Encrypt(kek, RSAEncryptionPadding.OaepSHA1);
            using Aes aes = Aes.Create();
            aes.Key = kek;
            byte[] wrapped = aes.EncryptKeyWrapPadded(target);
            byte[] blob = new byte[encryptedKek.Length + wrapped.Length];
            encryptedKek.CopyTo(blob, 0);
            wrapped.CopyTo(blob, encryptedKek.Length);
            return blob;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(kek);
        }
    }

    /// <summary>The inverse of <see cref="Wrap"/>; null with a reason when the blob does not open.</summary>
    public static byte[]? Unwrap(RSA wrappingPrivateKey, byte[] blob, RSAEncryptionPadding padding, out string? problem)
    {
        problem = null;
        int modulusBytes = (wrappingPrivateKey.KeySize + 7) / 8;
        if (blob.Length <= modulusBytes)
        {
            problem = $"wrapped key of {blob.Length} bytes is too short for a {wrappingPrivateKey.KeySize}-bit wrapping key";
            return null;
        }
        byte[]? kek = null;
        try
        {
            kek = wrappingPrivateKey.Decrypt(blob.AsSpan(0, modulusBytes).ToArray(), padding);
            if (kek.Length is not (16 or 24 or 32))
            {
                problem = $"RSA-OAEP gave a {kek.Length}-byte key, not an AES key";
                return null;
            }
            using Aes aes = Aes.Create();
            aes.Key = kek;
            return aes.DecryptKeyWrapPadded(blob.AsSpan(modulusBytes));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            problem = $"unwrap failed ({e.Message.TrimEnd('.')})";
            return null;
        }
        finally
        {
            if (kek is not null)
            {
                CryptographicOperations.ZeroMemory(kek);
            }
        }
    }

    /// <summary>A PEM block as Go's pem.EncodeToMemory writes it: 64-character lines, LF, a final LF.</summary>
    public static string GoPem(string label, byte[] der)
    {
        string body = Convert.ToBase64String(der);
        var pem = new StringBuilder().Append("-----BEGIN ").Append(label).Append("-----\n");
        for (int i = 0; i < body.Length; i += 64)
        {
            pem.Append(body, i, Math.Min(64, body.Length - i)).Append('\n');
        }
        return pem.Append("-----END ").Append(label).Append("-----\n").ToString();
    }
}

/// <summary>
/// The stand-in's RSA keys. <c>RSA.Create()</c>, except in the tests under Wine (TVM_UNDER_WINE on Windows, set by
/// build/windows-toolchain.sh): there .NET's CNG RSA fails in every call (0xc1000002, docs/windows.md), so the key
/// is an <see cref="RSACryptoServiceProvider"/> (CryptoAPI, Wine's rsaenh), a real RSA key behind the same API with
/// the OAEP-SHA1 the key wrap uses. A test-only workaround; the real Moc module is not .NET.
/// </summary>
internal static class StandInRsa
{
    private static bool WineVariable => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TVM_UNDER_WINE"));

    internal static RSA Create() => Create(2048);

    internal static RSA Create(int size) =>
        OperatingSystem.IsWindows() && WineVariable ? new RSACryptoServiceProvider(size) : RSA.Create(size);
}
