// MOC's key store, as the stand-in keeps it: one JSON file per (group, vault) under the StateRoot, holding the
// vault's keys in creation order with their plaintext material (test keys only). The format is the stand-in's
// own and shares nothing with the project's code:
//   <StateRoot>/vault-<first 32 hex digits of SHA-256("<group>\0<vault>")>.json
//   { "standIn": "MocStandIn key store 1", "writeId": "<guid, new at every save>", "group": "...", "vault": "...",
//     "keys": [ { "name": "...", "id": "<guid>", "kty": "AES"|"RSA", "keySize": 256,
//                 "material": "<base64: 32 raw bytes for AES, PKCS#8 DER for RSA>", "created": "<ISO 8601>" } ] }
// Group, vault and key names are compared exactly (ordinal). A vault nobody wrote to has no file and no keys.
// The file is the truth, also across processes (a killed test run, a child pwsh): each call reads it. Only the
// parse is cached: a load whose file begins with the writeId of the last parse of that file reuses the keys of
// that parse, so a call costs the same at 10 keys as at 10,000 (a real vault's calls do not grow with its size).

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

    /// <summary>The last parse of each store file: its writeId and keys (never handed out: callers get a copy of the list).</summary>
    private static readonly Dictionary<string, (string WriteId, List<StoredKey> Keys)> Parsed = new(StringComparer.Ordinal);

    /// <summary>How many bytes of the file's beginning hold its writeId (the first two members are fixed-length but for the tag).</summary>
    private const int HeadBytes = 160;

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
        byte[] bytes;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var head = new byte[HeadBytes];
            int read = 0, n;
            while (read < head.Length && (n = stream.Read(head, read, head.Length - read)) > 0)
            {
                read += n;
            }
            string? headId = WriteIdOf(head, read);
            if (headId != null && Parsed.TryGetValue(file, out var last) && last.WriteId == headId)
            {
                return new List<StoredKey>(last.Keys);
            }
            using var all = new MemoryStream();
            all.Write(head, 0, read);
            stream.CopyTo(all);
            bytes = all.ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException || e is DirectoryNotFoundException)
        {
            Parsed.Remove(file);
            return new List<StoredKey>();
        }
        string? writeId = WriteIdOf(bytes, bytes.Length);
        var keys = new List<StoredKey>();
        using JsonDocument document = JsonDocument.Parse(bytes);
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
        if (writeId != null && top.TryGetProperty("writeId", out JsonElement id) && id.GetString() == writeId)
        {
            Parsed[file] = (writeId, new List<StoredKey>(keys));
        }
        return keys;
    }

    /// <summary>The writeId at the head of a store file (<c>"writeId": "&lt;guid&gt;"</c>), or null if it has none there.</summary>
    private static string? WriteIdOf(byte[] bytes, int length)
    {
        string head = Encoding.UTF8.GetString(bytes, 0, Math.Min(length, HeadBytes));
        const string Member = "\"writeId\": \"";
        int at = head.IndexOf(Member, StringComparison.Ordinal);
        if (at < 0 || at + Member.Length + 36 > head.Length)
        {
            return null;
        }
        string id = head.Substring(at + Member.Length, 36);
        return Guid.TryParseExact(id, "D", out _) ? id : null;
    }

    private static void Save(string root, string group, string vault, List<StoredKey> keys)
    {
        Directory.CreateDirectory(root);
        string file = VaultFile(root, group, vault);
        string writeId = Guid.NewGuid().ToString("D");
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("standIn", FormatTag);
            writer.WriteString("writeId", writeId);
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
        Parsed[file] = (writeId, new List<StoredKey>(keys));
    }
}
