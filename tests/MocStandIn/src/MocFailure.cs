// How the stand-in fails: the way the Moc cmdlets surface a failed mocctl.exe run (docs/format.md section 9),
//   <mocctl command line> System.Collections.Hashtable.generic_non_zero 1 [Error: <mocctl stderr>]
// as a terminating error. The stderr texts follow MOC's Go SDK where it is public (errors.Wrapf gives
// "<message>: <cause>", the causes being MOC's error words "Not Found", "Invalid Input", "InvalidVersion", ...;
// a cloud agent failure is prefixed "Keys <Operation> failed:  " with two spaces, as docs/format.md section 9 quotes it).

using System;
using System.Management.Automation;
using System.Text;

namespace MocStandIn;

/// <summary>A failed mocctl run: its stderr, and the ErrorId and category the stand-in reports it with.</summary>
internal sealed class MocFailure : Exception
{
    public MocFailure(string stderr, string errorId, ErrorCategory category, object? target = null)
        : base(stderr)
    {
        Stderr = stderr;
        ErrorId = errorId;
        Category = category;
        Target = target;
    }

    public string Stderr { get; }
    public string ErrorId { get; }
    public ErrorCategory Category { get; }
    public object? Target { get; }

    /// <summary>A failure reported by the cloud agent for one key: <c>Keys Import failed:  Type[Key] Vault[v] Name[n]: detail</c>.</summary>
    public static MocFailure Agent(string? operation, string vault, string name, string detail, string errorId, ErrorCategory category)
    {
        string prefix = operation is null ? string.Empty : $"Keys {operation} failed:  ";
        return new MocFailure($"{prefix}Type[Key] Vault[{vault}] Name[{name}]: {detail}", errorId, category, name);
    }

    public static MocFailure NotFound(string? operation, string vault, string name) =>
        Agent(operation, vault, name, "Not Found", "MocStandIn.KeyNotFound", ErrorCategory.ObjectNotFound);

    public static MocFailure AlreadyExists(string operation, string vault, string name) =>
        Agent(operation, vault, name, "InvalidVersion", "MocStandIn.KeyExists", ErrorCategory.ResourceExists);

    public static MocFailure InvalidInput(string message, object? target = null) =>
        new($"{message}: Invalid Input", "MocStandIn.InvalidInput", ErrorCategory.InvalidArgument, target);
}

/// <summary>Builds the mocctl.exe command line that the real Moc cmdlet would have run.</summary>
internal sealed class MocctlCommandLine
{
    private const string Mocctl = @"C:\Program Files\AksHci\mocctl.exe";
    private readonly StringBuilder text;

    public MocctlCommandLine(string? cloudFqdn, string subcommand)
    {
        text = new StringBuilder(Mocctl).Append(" --cloudFqdn ").Append(cloudFqdn).Append(' ').Append(subcommand);
    }

    /// <summary>Appends <c>--flag "value"</c>; a null value is left out, as the Moc cmdlets leave out unset options.</summary>
    public MocctlCommandLine Flag(string flag, string? value)
    {
        if (value is not null)
        {
            text.Append(" --").Append(flag).Append(" \"").Append(value).Append('"');
        }
        return this;
    }

    public override string ToString() => text.ToString();

    /// <summary>The message of the terminating error.</summary>
    public string FailureMessage(string stderr) =>
        $"{text} System.Collections.Hashtable.generic_non_zero 1 [Error: {stderr}]";
}
