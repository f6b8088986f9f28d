// The stand-in's process-wide state: its configuration (Set-MocStandIn) and the record of the Moc cmdlet
// calls it received (Get-MocStandInCall). One static object for the whole process, shared by every runspace
// that imports the module: the tests that use it run one at a time, so there is no per-test isolation beyond
// calling Set-MocStandIn and Clear-MocStandInCall at the start of a test.

using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Globalization;
using System.Management.Automation;
using System.Text;

namespace MocStandIn;

/// <summary>
/// Configuration of the stand-in. Every Set-MocStandIn call replaces it whole: a setting it does not name goes
/// back to its default.
/// </summary>
internal sealed record StandInSettings(
    string? StateRoot,
    string? ModuleVersion,
    string? Version,
    string? CloudFqdn,
    bool HangOnWrappingKeyCollision,
    IReadOnlyList<HangRule> HangOn,
    int CallDelayMilliseconds)
{
    public const string DefaultModuleVersion = "1.2.27";
    public const string DefaultVersion = "1.14.1.10414";
    public const string DefaultCloudFqdn = "ca-mocstandin.test.local";

    public static StandInSettings Default { get; } = new(
        StateRoot: null,
        ModuleVersion: DefaultModuleVersion,
        Version: DefaultVersion,
        CloudFqdn: DefaultCloudFqdn,
        HangOnWrappingKeyCollision: true,
        HangOn: Array.Empty<HangRule>(),
        CallDelayMilliseconds: 0);
}

/// <summary>One <c>-HangOn</c> entry, <c>&lt;Cmdlet&gt;:&lt;keyName&gt;</c>; both parts take wildcards, case-insensitive.</summary>
internal sealed class HangRule
{
    private readonly WildcardPattern command;
    private readonly WildcardPattern key;

    private HangRule(string text, string command, string key)
    {
        Text = text;
        this.command = new WildcardPattern(command, WildcardOptions.IgnoreCase);
        this.key = new WildcardPattern(key, WildcardOptions.IgnoreCase);
    }

    public string Text { get; }

    /// <summary>Parses <c>Cmdlet:keyName</c> (split at the first colon); null with a reason when malformed.</summary>
    public static HangRule? Parse(string? text, out string? problem)
    {
        problem = null;
        int colon = text?.IndexOf(':') ?? -1;
        if (text is null || colon <= 0)
        {
            problem = $"'{text}' is not of the form <Cmdlet>:<keyName> (for example Export-MocKey:vm3 or Import-MocKey:*).";
            return null;
        }
        return new HangRule(text, text.Substring(0, colon), text.Substring(colon + 1));
    }

    /// <summary>A call with no key name (Get-MocConfig, Get-MocKey without -name) matches as the empty name.</summary>
    public bool Matches(string commandName, string? keyName) =>
        command.IsMatch(commandName) && key.IsMatch(keyName ?? string.Empty);
}

/// <summary>One Moc cmdlet call as the stand-in received it.</summary>
public sealed class MocStandInCall
{
    internal MocStandInCall(string command, OrderedDictionary parameters, DateTime time)
    {
        Command = command;
        Parameters = parameters;
        Time = time;
    }

    /// <summary>The cmdlet's name, e.g. <c>Import-MocKey</c>.</summary>
    public string Command { get; }

    /// <summary>
    /// Bound parameters (common parameters left out) in the order of the command line, named as the caller
    /// spelled them where the call came from script text (<c>-Type</c> stays <c>Type</c>), else by their declared
    /// names; values as strings (null stays null). Look-ups are case-insensitive.
    /// </summary>
    public OrderedDictionary Parameters { get; }

    /// <summary>Local time at which the call was received.</summary>
    public DateTime Time { get; }

    public override string ToString()
    {
        var text = new StringBuilder(Command);
        foreach (System.Collections.DictionaryEntry entry in Parameters)
        {
            text.Append(" -").Append(entry.Key).Append(' ');
            text.Append(entry.Value is null ? "$null" : "'" + ((string)entry.Value).Replace("'", "''") + "'");
        }
        return text.ToString();
    }

    internal MocStandInCall Copy()
    {
        var parameters = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in Parameters)
        {
            parameters.Add(entry.Key, entry.Value);
        }
        return new MocStandInCall(Command, parameters, Time);
    }
}

/// <summary>The process-wide state object.</summary>
internal static class StandIn
{
    private static readonly object Gate = new();
    private static StandInSettings settings = StandInSettings.Default;
    private static readonly List<MocStandInCall> Calls = new();

    public static StandInSettings Settings
    {
        get { lock (Gate) { return settings; } }
        set { lock (Gate) { settings = value; } }
    }

    public static void Record(MocStandInCall call)
    {
        lock (Gate) { Calls.Add(call); }
    }

    public static MocStandInCall[] RecordedCalls()
    {
        lock (Gate) { return Calls.ConvertAll(c => c.Copy()).ToArray(); }
    }

    public static void ClearCalls()
    {
        lock (Gate) { Calls.Clear(); }
    }

    /// <summary>How a bound value is written in the record.</summary>
    internal static string? AsString(object? value)
    {
        if (value is PSObject wrapped)
        {
            value = wrapped.BaseObject;
        }
        switch (value)
        {
            case null:
                return null;
            case string s:
                return s;
            case SwitchParameter sw:
                return sw.IsPresent ? "True" : "False";
            case IFormattable formattable:
                return formattable.ToString(null, CultureInfo.InvariantCulture);
            case System.Collections.IEnumerable items:
                var parts = new List<string>();
                foreach (object? item in items)
                {
                    parts.Add(AsString(item) ?? string.Empty);
                }
                return string.Join(" ", parts);
            default:
                return value.ToString();
        }
    }
}
