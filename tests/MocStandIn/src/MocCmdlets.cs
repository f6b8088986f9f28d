// The stand-in Moc cmdlets: the names and parameter names of the real Moc module's key vault cmdlets
// (docs/format.md section 9), lower-camel as the real ones (PowerShell binds them case-insensitively). STAND-IN for tests.

using System;
using System.Collections;
using System.IO;
using System.Management.Automation;
using System.Security.Cryptography;

namespace MocStandIn;

/// <summary>Get-MocConfig: the Moc configuration hashtable, with the versions set by Set-MocStandIn.</summary>
[Cmdlet(VerbsCommon.Get, "MocConfig")]
[OutputType(typeof(Hashtable))]
public sealed class GetMocConfigCommand : MocCmdletBase
{
    internal override string? KeyName => null;

    internal override MocctlCommandLine CommandLine() => new(Settings.CloudFqdn, "config get");

    internal override void Execute()
    {
        var config = new Hashtable(StringComparer.OrdinalIgnoreCase)
        {
            ["moduleVersion"] = Settings.ModuleVersion,
            ["version"] = Settings.Version,
            ["cloudFqdn"] = Settings.CloudFqdn,
            ["mocLoginYAML"] = Settings.StateRoot is null ? null : Path.Combine(Settings.StateRoot, "mocLogin.yaml"),
        };
        WriteObject(config);
    }
}

/// <summary>Get-MocKey: the keys of a vault (or one, with -name) as MOC lists them.</summary>
[Cmdlet(VerbsCommon.Get, "MocKey")]
[OutputType(typeof(PSObject))]
public sealed class GetMocKeyCommand : MocVaultCmdletBase
{
    [Parameter]
    [AllowEmptyString]
    public string? name { get; set; }

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() => name is null
        ? new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key list")
            .Flag("vault-name", keyvaultName).Flag("group", group)
        : new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key show")
            .Flag("name", name).Flag("vault-name", keyvaultName).Flag("group", group);

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        if (name is null)
        {
            foreach (StoredKey key in KeyStore.List(root, group, keyvaultName))
            {
                WriteObject(View(key));
            }
            return;
        }
        RequireKeyName(name);
        StoredKey found = KeyStore.Find(root, group, keyvaultName, name) ?? throw MocFailure.NotFound(null, keyvaultName, name);
        WriteObject(View(found));
    }

    /// <summary>
    /// The object of one key: name, id, properties (kty, key_size as [int], as MOC's SDK types it: *int32),
    /// value (the PEM "RSA PUBLIC KEY" for RSA keys, as MOC's SDK writes it; empty for AES).
    /// </summary>
    internal static PSObject View(StoredKey key)
    {
        var properties = new PSObject();
        properties.Properties.Add(new PSNoteProperty("kty", key.Kty));
        properties.Properties.Add(new PSNoteProperty("key_size", key.KeySize));

        var view = new PSObject();
        view.Properties.Add(new PSNoteProperty("name", key.Name));
        view.Properties.Add(new PSNoteProperty("id", key.Id));
        view.Properties.Add(new PSNoteProperty("properties", properties));
        view.Properties.Add(new PSNoteProperty("value", key.Kty == "RSA" ? PublicKeyPem(key) : string.Empty));
        return view;
    }

    internal static string PublicKeyPem(StoredKey key)
    {
        using RSA rsa = StandInRsa.Create();
        rsa.ImportPkcs8PrivateKey(key.Material, out _);
        return KeyWrap.GoPem("RSA PUBLIC KEY", rsa.ExportRSAPublicKey());
    }
}

/// <summary>Export-MocKey: writes a key wrapped with CKM_RSA_AES_KEY_WRAP under the given RSA public key.</summary>
[Cmdlet(VerbsData.Export, "MocKey")]
public sealed class ExportMocKeyCommand : MocVaultCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string name { get; set; } = null!;

    [Parameter]
    [AllowEmptyString]
    public string? wrappingKeyName { get; set; }

    [Parameter(Mandatory = true)]
    public string wrappingPubKeyFile { get; set; } = null!;

    [Parameter(Mandatory = true)]
    public string outFile { get; set; } = null!;

    [Parameter(Mandatory = true)]
    public int size { get; set; }

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() =>
        new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key export")
            .Flag("name", name).Flag("vault-name", keyvaultName)
            .Flag("wrapping-pub-key-file", wrappingPubKeyFile).Flag("out-file", outFile)
            .Flag("group", group).Flag("key-size", size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Flag("wrapping-key-name", string.IsNullOrEmpty(wrappingKeyName) ? null : wrappingKeyName);

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        RequireKeyName(name);
        RequireSize(size);

        StoredKey key = KeyStore.Find(root, group, keyvaultName, name) ?? throw MocFailure.NotFound("Export", keyvaultName, name);
        if (key.KeySize != size)
        {
            throw MocFailure.Agent("Export", keyvaultName, name,
                $"Key size [{size}] does not match the size of the key [{key.KeySize}]: Invalid Input",
                "MocStandIn.KeySizeMismatch", ErrorCategory.InvalidArgument);
        }

        using RSA wrapping = StandInRsa.Create();
        string pemPath = MocctlPath(wrappingPubKeyFile);
        string pem = ReadText(pemPath);
        try
        {
            wrapping.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new MocFailure($"Failed to parse the wrapping public key [{wrappingPubKeyFile}]: {e.Message.TrimEnd('.')}: Invalid Input",
                "MocStandIn.InvalidWrappingKey", ErrorCategory.InvalidData, wrappingPubKeyFile);
        }

        byte[] publicKey;
        byte[] target;
        if (key.Kty == "RSA")
        {
            using RSA rsa = StandInRsa.Create();
            rsa.ImportPkcs8PrivateKey(key.Material, out _);
            publicKey = rsa.ExportRSAPublicKey();
            target = key.Material;
        }
        else
        {
            publicKey = Array.Empty<byte>();
            target = key.Material;
        }

        byte[] file = ExportFile.Build(publicKey, KeyWrap.Wrap(wrapping, target), wrappingKeyName ?? string.Empty,
            wrapping.ExportRSAPublicKey(), ExportFile.CkmRsaAesKeyWrap);
        string outPath = MocctlPath(outFile);
        try
        {
            File.WriteAllBytes(outPath, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MocFailure($"open {outFile}: {e.Message}", "MocStandIn.WriteFailed", ErrorCategory.WriteError, outFile);
        }
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MocFailure($"open {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "The system cannot find the file specified." : e.Message)}",
                "MocStandIn.ReadFailed", e is FileNotFoundException or DirectoryNotFoundException ? ErrorCategory.ObjectNotFound : ErrorCategory.ReadError, path);
        }
    }
}

/// <summary>Import-MocKey: imports a key file (wrapped, or NO_KEY_WRAP) into the vault.</summary>
[Cmdlet(VerbsData.Import, "MocKey")]
public sealed class ImportMocKeyCommand : MocVaultCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string name { get; set; } = null!;

    [Parameter]
    [AllowEmptyString]
    public string? wrappingKeyName { get; set; }

    [Parameter(Mandatory = true)]
    public string importKeyFile { get; set; } = null!;

    [Parameter(Mandatory = true)]
    public int size { get; set; }

    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string type { get; set; } = null!;

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() =>
        new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key import")
            .Flag("group", group).Flag("key-size", size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Flag("vault-name", keyvaultName).Flag("key-type", type).Flag("key-file-path", importKeyFile)
            .Flag("name", name).Flag("wrapping-key-name", string.IsNullOrEmpty(wrappingKeyName) ? null : wrappingKeyName);

    /// <summary>MOC hangs when the key imported has the wrapping key's name (docs/format.md section 9).</summary>
    internal override string? DocumentedHang() =>
        Settings.HangOnWrappingKeyCollision && !string.IsNullOrEmpty(wrappingKeyName)
            && string.Equals(name, wrappingKeyName, StringComparison.OrdinalIgnoreCase)
            ? $"the key imported is named as the wrapping key '{wrappingKeyName}'"
            : null;

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        RequireKeyName(name);
        RequireSize(size);
        RequireTypeAndSize("Import", keyvaultName, name, type, size);

        // An existing name fails before the file is even read.
        if (KeyStore.Find(root, group, keyvaultName, name) is not null)
        {
            throw MocFailure.AlreadyExists("Import", keyvaultName, name);
        }

        ImportFile file = ImportFile.Parse(ReadBytes(MocctlPath(importKeyFile)));
        // MOC's SDK checks, in its order.
        if (!file.HasWrappingInfo)
        {
            throw MocFailure.InvalidInput("Private key wrapping info - Missing");
        }
        RSAEncryptionPadding? padding = KeyWrap.PaddingFor(file.Enc);
        if (file.PublicKey is null)
        {
            throw MocFailure.InvalidInput("Public key - Missing");
        }
        _ = GoBase64Url.Decode(file.PublicKey, out string? error) ?? throw Base64(error);
        if (file.PrivateKey is null)
        {
            throw MocFailure.InvalidInput("Private key - Missing");
        }
        byte[] privateKey = GoBase64Url.Decode(file.PrivateKey, out error) ?? throw Base64(error);
        if (file.WrappingKeyName is null)
        {
            throw MocFailure.InvalidInput("Wrapping key name - Missing");
        }

        byte[] material = padding is null ? privateKey : Unwrap(root, file, privateKey, padding);
        CheckMaterial(material);

        KeyStore.Update(root, group, keyvaultName, keys =>
        {
            if (keys.Exists(k => k.Name == name))
            {
                throw MocFailure.AlreadyExists("Import", keyvaultName, name);
            }
            keys.Add(new StoredKey(name, Guid.NewGuid().ToString(), type, size, material, DateTimeOffset.Now));
            return true;
        });
    }

    /// <summary>Opens the blob with the vault's RSA key named by -wrappingKeyName (it wins) or the file's key-name.</summary>
    private byte[] Unwrap(string root, ImportFile file, byte[] blob, RSAEncryptionPadding padding)
    {
        string wrapping = !string.IsNullOrEmpty(wrappingKeyName) ? wrappingKeyName : file.WrappingKeyName ?? string.Empty;
        if (wrapping.Length == 0)
        {
            throw MocFailure.Agent("Import", keyvaultName, name, "Wrapping key name is empty: Invalid Input",
                "MocStandIn.NoWrappingKey", ErrorCategory.InvalidArgument);
        }
        StoredKey wrappingKey = KeyStore.Find(root, group, keyvaultName, wrapping)
            ?? throw MocFailure.NotFound("Import", keyvaultName, wrapping);
        if (wrappingKey.Kty != "RSA")
        {
            throw MocFailure.Agent("Import", keyvaultName, name, $"Wrapping key [{wrapping}] is not an RSA key: Invalid Type",
                "MocStandIn.InvalidWrappingKey", ErrorCategory.InvalidArgument);
        }
        using RSA rsa = StandInRsa.Create();
        rsa.ImportPkcs8PrivateKey(wrappingKey.Material, out _);
        return KeyWrap.Unwrap(rsa, blob, padding, out string? problem)
            ?? throw MocFailure.Agent("Import", keyvaultName, name, $"Failed to unwrap the private key with wrapping key [{wrapping}]: {problem}: Failed",
                "MocStandIn.UnwrapFailed", ErrorCategory.SecurityError);
    }

    /// <summary>The material must be what -type and -size say: 32 raw bytes for AES, a PKCS#8 RSA key of -size bits.</summary>
    private void CheckMaterial(byte[] material)
    {
        string? problem = null;
        if (type == "AES")
        {
            if (material.Length * 8 != size)
            {
                problem = $"the key material is {material.Length} bytes, not an AES-{size} key";
            }
        }
        else
        {
            try
            {
                using RSA rsa = StandInRsa.Create();
                rsa.ImportPkcs8PrivateKey(material, out int read);
                if (read != material.Length)
                {
                    problem = "the key material has bytes after its PKCS#8 RSA private key";
                }
                else if (rsa.KeySize != size)
                {
                    problem = $"the key material is an RSA-{rsa.KeySize} key, not RSA-{size}";
                }
            }
            catch (CryptographicException)
            {
                problem = "the key material is not a PKCS#8 RSA private key";
            }
        }
        if (problem is not null)
        {
            throw MocFailure.Agent("Import", keyvaultName, name, $"{problem}: Invalid Input",
                "MocStandIn.KeyMaterialMismatch", ErrorCategory.InvalidData);
        }
    }

    private static MocFailure Base64(string? error) =>
        new(error ?? "illegal base64 data", "MocStandIn.InvalidKeyFile", ErrorCategory.InvalidData);

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            bool missing = e is FileNotFoundException or DirectoryNotFoundException;
            throw new MocFailure($"open {path}: {(missing ? "The system cannot find the file specified." : e.Message)}",
                "MocStandIn.ReadFailed", missing ? ErrorCategory.ObjectNotFound : ErrorCategory.ReadError, path);
        }
    }
}

/// <summary>Remove-MocKey: deletes a key.</summary>
[Cmdlet(VerbsCommon.Remove, "MocKey")]
public sealed class RemoveMocKeyCommand : MocVaultCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string name { get; set; } = null!;

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() =>
        new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key delete")
            .Flag("name", name).Flag("vault-name", keyvaultName).Flag("group", group);

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        RequireKeyName(name);
        KeyStore.Update(root, group, keyvaultName, keys =>
        {
            if (keys.RemoveAll(k => k.Name == name) == 0)
            {
                throw MocFailure.NotFound(null, keyvaultName, name);
            }
            return true;
        });
    }
}

/// <summary>New-MocKey: creates a random key (AES-256, or RSA-2048/3072/4096).</summary>
[Cmdlet(VerbsCommon.New, "MocKey")]
public sealed class NewMocKeyCommand : MocVaultCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string name { get; set; } = null!;

    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string type { get; set; } = null!;

    [Parameter(Mandatory = true)]
    public int size { get; set; }

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() =>
        new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key create")
            .Flag("name", name).Flag("vault-name", keyvaultName).Flag("group", group)
            .Flag("key-type", type).Flag("key-size", size.ToString(System.Globalization.CultureInfo.InvariantCulture));

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        RequireKeyName(name);
        RequireSize(size);
        RequireTypeAndSize("Create", keyvaultName, name, type, size);

        byte[] material;
        if (type == "AES")
        {
            material = RandomNumberGenerator.GetBytes(32);
        }
        else
        {
            using RSA rsa = StandInRsa.Create(size);
            material = rsa.ExportPkcs8PrivateKey();
        }

        KeyStore.Update(root, group, keyvaultName, keys =>
        {
            if (keys.Exists(k => k.Name == name))
            {
                throw MocFailure.AlreadyExists("Create", keyvaultName, name);
            }
            keys.Add(new StoredKey(name, Guid.NewGuid().ToString(), type, size, material, DateTimeOffset.Now));
            return true;
        });
    }
}

/// <summary>Get-MocKeyPublicKey: writes the public key of an RSA key as PEM (RSA PUBLIC KEY, PKCS#1).</summary>
[Cmdlet(VerbsCommon.Get, "MocKeyPublicKey")]
public sealed class GetMocKeyPublicKeyCommand : MocVaultCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string name { get; set; } = null!;

    [Parameter(Mandatory = true)]
    public string outputFile { get; set; } = null!;

    internal override string? KeyName => name;

    internal override MocctlCommandLine CommandLine() =>
        new MocctlCommandLine(Settings.CloudFqdn, "security keyvault key download")
            .Flag("name", name).Flag("vault-name", keyvaultName).Flag("group", group).Flag("file-path", outputFile);

    internal override void Execute()
    {
        string root = StateRoot();
        RequireVault(group, keyvaultName);
        RequireKeyName(name);
        StoredKey key = KeyStore.Find(root, group, keyvaultName, name) ?? throw MocFailure.NotFound(null, keyvaultName, name);
        if (key.Kty != "RSA")
        {
            throw MocFailure.Agent(null, keyvaultName, name, $"Key of type [{key.Kty}] has no public key: Invalid Type",
                "MocStandIn.NoPublicKey", ErrorCategory.InvalidOperation);
        }
        string path = MocctlPath(outputFile);
        try
        {
            File.WriteAllBytes(path, System.Text.Encoding.ASCII.GetBytes(GetMocKeyCommand.PublicKeyPem(key)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MocFailure($"open {outputFile}: {e.Message}", "MocStandIn.WriteFailed", ErrorCategory.WriteError, outputFile);
        }
    }
}
