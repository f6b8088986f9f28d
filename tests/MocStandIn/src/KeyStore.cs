// MOC's key store, as the stand-in keeps it: one JSON file per (group, vault) under the StateRoot, holding the
// vault's keys in creation order with their plaintext material (test keys only). The format is the stand-in's
// own and shares nothing with the project's code:
//   <StateRoot>/vault-<first 32 hex digits of SHA-256("<group>\0<vault>")>.json
//   { "standIn": "MocStandIn key store 1", "group": "...", "vault": "...",
//     "keys": [ { "name": "...", "id": "<guid>", "kty": "AES"|"RSA", "keySize": 256,
//                 "material": "<base64: 32 raw bytes for AES, PKCS#8 DER for RSA>", "created": "<ISO 8601>" } ] }
// Group, vault and key names are compared exactly (ordinal). A vault nobody wrote to has no file and no keys.

using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MocStandIn;

internal sealed record StoredKey(string Name, string Id, string Kty, int KeySize, byte[] Material, DateTimeOffset Created);

internal static class KeyStore
{
    private const string FormatTag = "MocStandIn key store 1";
    private static readonly object Gate = new();

    public static List<StoredKey> List(string root, string group, string vault)
    {
        lock (Gate) { return Load(root, group, vault); }
    }

    public static StoredKey? Find(string root, string group, string vault, string name)
    {
        lock (Gate) { return Load(root, group, vault).Find(k => k.Name == name); }
    }

    /// <summary>Runs <paramref name="change"/> on the vault's keys under the store's lock and saves them if it returns true.</summary>
    public static void Update(string root, string group, string vault, Func<List<StoredKey>, bool> change)
    {
        lock (Gate)
        {
            var keys = Load(root, group, vault);
            if (change(keys))
            {
                Save(root, group, vault, keys);
            }
        }
    }

    private static string VaultFile(string root, string group, string vault)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(group + "\0" + vault));
        return Path.Combine(root, "vault-" + Convert.ToHexStringLower(hash, 0, 16) + ".json");
    }

    private static List<StoredKey> Load(string root, string group, string vault)
    {
        string file = VaultFile(root, group, vault);
        var keys = new List<StoredKey>();
        if (!File.Exists(file))
        {
            return keys;
        }
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(file));
        JsonElement top = document.RootElement;
        if (top.GetProperty("standIn").GetString() != FormatTag
            || top.GetProperty("group").GetString() != group
            || top.GetProperty("vault").GetString() != vault)
        {
            throw new InvalidDataException($"MocStandIn: {file} is not the stand-in's store of vault '{vault}' in group '{group}'.");
        }
        foreach (JsonElement key in top.GetProperty("keys").EnumerateArray())
        {
            keys.Add(new StoredKey(
                key.GetProperty("name").GetString()!,
                key.GetProperty("id").GetString()!,
                key.GetProperty("kty").GetString()!,
                key.GetProperty("keySize").GetInt32(),
                Convert.FromBase64String(key.GetProperty("material").GetString()!),
                key.GetProperty("created").GetDateTimeOffset()));
        }
        return keys;
    }

    private static void Save(string root, string group, string vault, List<StoredKey> keys)
    {
        Directory.CreateDirectory(root);
        string file = VaultFile(root, group, vault);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("standIn", FormatTag);
            writer.WriteString("group", group);
            writer.WriteString("vault", vault);
            writer.WriteStartArray("keys");
            foreach (StoredKey key in keys)
            {
                writer.WriteStartObject();
                writer.WriteString("name", key.Name);
                writer.WriteString("id", key.Id);
                writer.WriteString("kty", key.Kty);
                writer.WriteNumber("keySize", key.KeySize);
                writer.WriteString("material", Convert.ToBase64String(key.Material));
                writer.WriteString("created", key.Created);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        string temporary = file + ".tmp";
        File.WriteAllBytes(temporary, buffer.ToArray());
        File.Move(temporary, file, overwrite: true);
    }
}
