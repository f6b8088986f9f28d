using System.Collections;
using System.Collections.Specialized;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Security.Cryptography;
using System.Text.Json;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>One Moc cmdlet call as the stand-in recorded it: the command and its parameters (name -> value as text).</summary>
public sealed record MocCall(string Command, IReadOnlyList<KeyValuePair<string, string?>> Parameters)
{
    public string? this[string name] =>
        Parameters.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The parameter names, lower-cased (PowerShell binds names case-insensitively), sorted.</summary>
    public IEnumerable<string> Names => Parameters.Select(p => p.Key.ToLowerInvariant()).OrderBy(n => n, StringComparer.Ordinal);

    public override string ToString() =>
        Command + string.Concat(Parameters.Select(p => $" -{p.Key} {(p.Value == null ? "$null" : "'" + p.Value + "'")}"));

    public static MocCall From(PSObject o)
    {
        var command = (string)Objects.Prop(o, "Command")!;
        var parameters = (IDictionary)((Objects.Prop(o, "Parameters") as PSObject)?.BaseObject ?? Objects.Prop(o, "Parameters")!);
        var list = new List<KeyValuePair<string, string?>>();
        foreach (DictionaryEntry e in parameters)
            list.Add(new((string)e.Key, e.Value?.ToString()));
        return new MocCall(command, list);
    }
}

/// <summary>
/// The stand-in for the Moc module (tests/MocStandIn, built into this project's output folder by its
/// ProjectReference). Its state is process-wide: each test sets it with <see cref="Configure"/>, which also
/// clears the call record.
/// </summary>
public static class StandIn
{
    public const string Group = "AzureStackHostAttestation";
    public const string Vault = "AzureStackTvmKeyVault";
    public const string RootKey = "AzureStackTvmAKRootKey";

    public static string Psd1 => Path.Combine(AppContext.BaseDirectory, "MocStandIn.psd1");

    /// <summary>Imports the stand-in into the session (as a cluster has the Moc module).</summary>
    public static void Import(TvmSession s)
    {
        if (!File.Exists(Psd1))
            throw new InvalidOperationException($"The stand-in Moc module {Psd1} was not built with the tests.");
        s.Set("mocStandInPath", Psd1);
        s.Run("Import-Module $mocStandInPath -ErrorAction Stop").AssertClean();
    }

    /// <summary>Set-MocStandIn with <paramref name="settings"/> (a script fragment, e.g. "-ModuleVersion 1.2.26"), then Clear-MocStandInCall.</summary>
    public static void Configure(TvmSession s, string stateRoot, string settings = "")
    {
        s.Set("mocStateRoot", stateRoot);
        s.Run($"Set-MocStandIn -StateRoot $mocStateRoot {settings}; Clear-MocStandInCall").AssertClean();
    }

    public static List<MocCall> Calls(TvmSession s)
    {
        var r = s.Run("Get-MocStandInCall").AssertClean();
        return r.Output.Select(MocCall.From).ToList();
    }

    public static void ClearCalls(TvmSession s) => s.Run("Clear-MocStandInCall").AssertClean();

    /// <summary>New-MocKey for each key in the current cluster (default group and vault).</summary>
    public static void Seed(TvmSession s, params (string Name, string Type, int Size)[] keys)
    {
        s.Set("mocSeed", keys.Select(k => new object[] { k.Name, k.Type, k.Size }).ToArray());
        s.Run($"foreach ($k in $mocSeed) {{ New-MocKey -name $k[0] -group '{Group}' -keyvaultName '{Vault}' -type $k[1] -size $k[2] }}")
            .AssertClean();
    }

    /// <summary>The names of the keys of the current cluster's vault, in its order.</summary>
    public static List<(string Name, string Type, int Size)> Keys(TvmSession s, string group = Group, string vault = Vault)
    {
        s.Set("mocListGroup", group);
        s.Set("mocListVault", vault);
        var r = s.Run("Get-MocKey -group $mocListGroup -keyvaultName $mocListVault").AssertClean();
        return r.Output.Select(o =>
        {
            var props = (PSObject)Objects.Prop(o, "properties")!;
            return ((string)Objects.Prop(o, "name")!, (string)Objects.Prop(props, "kty")!, Convert.ToInt32(Objects.Prop(props, "key_size")));
        }).ToList();
    }

    /// <summary>
    /// The key material of every key of the current cluster, read independently of the module: Export-MocKey
    /// with <paramref name="wrapping"/>'s public key, then unwrapped here (RSA-OAEP SHA-1, then RFC 5649).
    /// </summary>
    public static Dictionary<string, byte[]> Material(TvmSession s, TestKeyPair wrapping, string dir)
    {
        Directory.CreateDirectory(dir);
        var pem = Path.Combine(dir, "check-public.pem");
        File.WriteAllText(pem, wrapping.PublicPem);
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (name, _, size) in Keys(s))
        {
            var file = Path.Combine(dir, $"check-{Guid.NewGuid():N}.json");
            s.Set("chkName", name);
            s.Set("chkSize", size);
            s.Set("chkPem", pem);
            s.Set("chkFile", file);
            s.Run($"Export-MocKey -name $chkName -wrappingPubKeyFile $chkPem -outFile $chkFile -group '{Group}' -keyvaultName '{Vault}' -size $chkSize")
                .AssertClean();
            result[name] = Unwrap(wrapping, File.ReadAllBytes(file));
            File.Delete(file);
        }
        return result;
    }

    /// <summary>Opens a MOC export file (docs/format.md sections 2 and 4) with the wrapping private key.</summary>
    public static byte[] Unwrap(TestKeyPair wrapping, byte[] exportFile)
    {
        using var doc = JsonDocument.Parse(exportFile);
        var blob = B64.FromUrl(doc.RootElement.GetProperty("private-key").GetString()!);
        var modulus = wrapping.Bits / 8;
        var k = wrapping.Rsa.Decrypt(blob.AsSpan(0, modulus).ToArray(), RSAEncryptionPadding.OaepSHA1);
        using var aes = Aes.Create();
        aes.Key = k;
        return aes.DecryptKeyWrapPadded(blob.AsSpan(modulus));
    }
}

/// <summary>
/// A PowerShell of its own (runspace and all) for tests that must stop a running command from another
/// thread, as Ctrl+C does, or watch it from a second runspace.
/// </summary>
public sealed class SeparatePowerShell : IDisposable
{
    public PowerShell PowerShell { get; }

    public SeparatePowerShell(params string[] modules)
    {
        var iss = InitialSessionState.CreateDefault2();
        PowerShell = PowerShell.Create(iss);
        foreach (var m in modules)
        {
            PowerShell.AddCommand("Import-Module").AddParameter("Name", m).AddParameter("ErrorAction", "Stop").Invoke();
            PowerShell.Commands.Clear();
        }
    }

    public void SetVariable(string name, object? value) => PowerShell.Runspace.SessionStateProxy.SetVariable(name, value);

    public void Dispose()
    {
        try { PowerShell.Dispose(); } catch { /* best effort */ }
    }
}
