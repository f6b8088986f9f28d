using System.Management.Automation;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>The module's output types, read through PowerShell's property adapter (the test does not
/// reference the module's assembly).</summary>
public sealed record KeyInfo(string Name, string Type, int Size, string? Fingerprint, string? File);

public sealed record RestoreInfo(string Name, string Type, int Size, string Outcome, string? Message, string? File);

public sealed record BackupInfo(string Path, DateTime Timestamp, IReadOnlyList<KeyInfo> Keys);

public static class Objects
{
    public const string TvmKeyType = "TvmBackupUtils.TvmKey";
    public const string TvmKeyRestoreType = "TvmBackupUtils.TvmKeyRestore";
    public const string TvmBackupType = "TvmBackupUtils.TvmBackup";

    public static object? Prop(PSObject o, string name)
    {
        var p = o.Properties[name] ?? throw new XunitException(
            $"Object of type {o.BaseObject.GetType().FullName} has no property '{name}'.");
        return p.Value;
    }

    private static void RequireType(PSObject o, string type)
    {
        var actual = o.BaseObject.GetType().FullName;
        if (actual != type) throw new XunitException($"Expected an object of type {type}, got {actual}: {o}");
    }

    public static KeyInfo Key(PSObject o)
    {
        RequireType(o, TvmKeyType);
        return new KeyInfo((string)Prop(o, "Name")!, (string)Prop(o, "Type")!, Convert.ToInt32(Prop(o, "Size")),
            (string?)Prop(o, "Fingerprint"), (string?)Prop(o, "File"));
    }

    public static RestoreInfo Restore(PSObject o)
    {
        RequireType(o, TvmKeyRestoreType);
        return new RestoreInfo((string)Prop(o, "Name")!, (string)Prop(o, "Type")!, Convert.ToInt32(Prop(o, "Size")),
            (string)Prop(o, "Outcome")!.ToString()!, Prop(o, "Message")?.ToString(), Prop(o, "File")?.ToString());
    }

    public static BackupInfo Backup(PSObject o)
    {
        RequireType(o, TvmBackupType);
        var keys = ((System.Collections.IEnumerable?)Prop(o, "Keys") ?? Array.Empty<object>())
            .Cast<object>().Select(k => Key(PSObject.AsPSObject(k))).ToList();
        return new BackupInfo((string)Prop(o, "Path")!, (DateTime)Prop(o, "Timestamp")!, keys);
    }

    public static List<KeyInfo> Keys(PsResult r) => r.Output.Select(Key).ToList();
    public static List<RestoreInfo> Restores(PsResult r) => r.Output.Select(Restore).ToList();

    public static BackupInfo SingleBackup(PsResult r)
    {
        if (r.Output.Count != 1)
            throw new XunitException($"Expected exactly one TvmBackup object, got {r.Output.Count}.\n" + r.Describe());
        return Backup(r.Output[0]);
    }
}
