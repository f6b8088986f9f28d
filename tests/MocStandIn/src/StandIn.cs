// The stand-in's process-wide state: its configuration (Set-MocStandIn) and the record of the Moc cmdlet
// calls it received (Get-MocStandInCall). One static object for the whole process, shared by every runspace
// that imports the module: the tests that use it run one at a time, so there is no per-test isolation beyond
// calling Set-MocStandIn and Clear-MocStandInCall at the start of a test.

using System;
using System.Threading;
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
    int CallDelayMilliseconds,
    int GatherCalls = 0)
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

    /// <summary>
    /// How many Moc cmdlet calls of this process were running (this one included) when this call began its work, after
    /// its delay and its gathering (Set-MocStandIn -GatherCalls): 1 for calls made one at a time.
    /// </summary>
    public int InFlight { get; internal set; }

    /// <summary>Whether this call was one of the first -GatherCalls exports or imports and met all the others of them before its work (false: it gave up after 30 s, or was not one).</summary>
    public bool Gathered { get; internal set; }

    /// <summary>
    /// How long the call took inside the stand-in, in milliseconds: from its arrival (its recording included) to its
    /// return, its delay, gathering and work included; 0 while it runs. What a benchmark counts as the vault's own time.
    /// </summary>
    public double Milliseconds { get; internal set; }

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
        return new MocStandInCall(Command, parameters, Time) { InFlight = InFlight, Gathered = Gathered, Milliseconds = Milliseconds };
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
        set { lock (Gate) { settings = value; joined = 0; } }
    }

    private static int inFlight;
    private static int joined;

    /// <summary>A Moc cmdlet call begins (its record made); returns nothing, see <see cref="Leave"/>.</summary>
    public static void Enter()
    {
        lock (Gate) { inFlight++; Monitor.PulseAll(Gate); }
    }

    /// <summary>A Moc cmdlet call ends, however it ends.</summary>
    public static void Leave()
    {
        lock (Gate) { inFlight--; Monitor.PulseAll(Gate); }
    }

    /// <summary>The calls running now.</summary>
    public static int InFlight
    {
        get { lock (Gate) { return inFlight; } }
    }

    /// <summary>
    /// -GatherCalls N: a barrier for the first N exports and imports since Set-MocStandIn. Each of them waits until all
    /// N have arrived (at most 30 s, or until <paramref name="stopped"/>), so only calls that truly run at the same time
    /// can pass it: calls made one at a time never meet, whatever the speed of the machine. Returns whether this call
    /// met the others; the calls after the first N do not wait.
    /// </summary>
    public static bool Gather(int count, Func<bool> stopped)
    {
        DateTime until = DateTime.UtcNow.AddSeconds(30);
        lock (Gate)
        {
            if (count <= 0 || joined >= count)
            {
                return false;
            }
            joined++;
            Monitor.PulseAll(Gate);
            while (joined < count)
            {
                TimeSpan left = until - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || stopped())
                {
                    return false;
                }
                Monitor.Wait(Gate, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
            return true;
        }
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
