using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace TvmHost;

/// <summary>
/// The <see cref="PSHost"/> the engine talks to. It exists so that everything the engine would show on a
/// console (host messages, warnings, progress, prompts) reaches this process's stdout/stderr the way
/// <c>pwsh -File</c> shows it, and so that <c>exit N</c> reaches us through <see cref="SetShouldExit"/>.
/// </summary>
internal sealed class TvmPSHost : PSHost
{
    private readonly TvmHostUI _ui;

    public TvmPSHost(bool interactive) => _ui = new TvmHostUI(interactive);

    /// <summary>The code passed to <c>exit N</c>, once the engine has handed it to us.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>The UI, typed, so Program can route a re-rendered terminating error to stderr.</summary>
    public TvmHostUI TvmUI => _ui;

    public override string Name => "TvmHost";
    public override Version Version { get; } = new(1, 0);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override PSHostUserInterface UI => _ui;
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;

    /// <summary>Called by the engine when a top-level <c>exit N</c> ends the pipeline.</summary>
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;

    // A script host has no nested prompt (pwsh -File has none either: $Host.EnterNestedPrompt() fails there).
    public override void EnterNestedPrompt() => throw new NotSupportedException("TvmHost has no nested prompt.");
    public override void ExitNestedPrompt() => throw new NotSupportedException("TvmHost has no nested prompt.");
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
}

/// <summary>
/// Writes what the engine shows as plain text lines, with no colours and no cursor movement, because the
/// main reader is a CI log. Streams follow pwsh: output, host messages, warnings, verbose and debug go to
/// stdout; errors and (here, one line per record) progress go to stderr.
/// </summary>
internal sealed class TvmHostUI : PSHostUserInterface
{
    /// <summary>pwsh -NonInteractive's own wording, so a script author recognises the failure.</summary>
    private const string NonInteractiveMessage =
        "PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.";

    private readonly bool _interactive;
    private readonly TvmRawUI _rawUI = new();

    public TvmHostUI(bool interactive) => _interactive = interactive;

    /// <summary>
    /// While true, ordinary writes go to stderr. Used when Program re-renders a terminating error through
    /// Out-Default: the engine formats it as output, but pwsh prints it on the error stream.
    /// </summary>
    public bool WriteToStderr { get; set; }

    private TextWriter Out => WriteToStderr ? Console.Error : Console.Out;

    public override PSHostRawUserInterface RawUI => _rawUI;

    /// <summary>
    /// False: logs get no ANSI escapes. With $PSStyle.OutputRendering = Host (the default) the error view
    /// then writes none, and <see cref="Plain"/> strips the ones the table formatter still adds.
    /// </summary>
    public override bool SupportsVirtualTerminal => false;

    /// <summary>
    /// The formatter decorates table headers with ANSI sequences ($PSStyle.Formatting) whatever the host;
    /// as pwsh's console host does, strip them unless the host supports VT (never, here).
    /// </summary>
    private string Plain(string value) => GetOutputString(value, SupportsVirtualTerminal);

    public override void Write(string value) => Out.Write(Plain(value));
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Out.Write(Plain(value));
    public override void WriteLine() => Out.WriteLine();
    public override void WriteLine(string value) => Out.WriteLine(Plain(value));
    public override void WriteLine(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Out.WriteLine(Plain(value));
    public override void WriteErrorLine(string value) => Console.Error.WriteLine(Plain(value));
    public override void WriteWarningLine(string message) => Console.Out.WriteLine("WARNING: " + Plain(message));
    public override void WriteVerboseLine(string message) => Console.Out.WriteLine("VERBOSE: " + Plain(message));
    public override void WriteDebugLine(string message) => Console.Out.WriteLine("DEBUG: " + Plain(message));

    // WriteInformation(InformationRecord) is deliberately not overridden: the engine calls it for every
    // record, shown or not, and itself displays the ones to show (PSHOST-tagged HostInformationMessages
    // such as Write-Host's and our cmdlets' host messages, and any record when InformationPreference is
    // Continue) through Write/WriteLine above.

    /// <summary>
    /// One plain line per record on stderr instead of pwsh's redrawn bar: a CI log cannot redraw, and
    /// stderr keeps progress out of anything that parses stdout. Completion records carry no news.
    /// </summary>
    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
        if (record.RecordType == ProgressRecordType.Completed)
        {
            return;
        }

        var line = new StringBuilder($"[{record.Activity}] {record.StatusDescription}");
        if (record.PercentComplete >= 0)
        {
            line.Append(' ').Append(record.PercentComplete).Append('%');
        }

        if (!string.IsNullOrEmpty(record.CurrentOperation))
        {
            line.Append(" - ").Append(record.CurrentOperation);
        }

        Console.Error.WriteLine(line.ToString());
    }

    // ---- Input. In CI there is no one to answer: fail at once, as pwsh -NonInteractive does, never hang. ----

    private void RequireInteractive()
    {
        if (!_interactive)
        {
            throw new PSInvalidOperationException(NonInteractiveMessage);
        }
    }

    public override string ReadLine()
    {
        RequireInteractive();
        return Console.ReadLine() ?? throw new PSInvalidOperationException("Standard input was closed.");
    }

    public override SecureString ReadLineAsSecureString()
    {
        RequireInteractive();
        var secure = new SecureString();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                if (secure.Length > 0) secure.RemoveAt(secure.Length - 1);
            }
            else
            {
                secure.AppendChar(key.KeyChar);
            }
        }

        Console.Out.WriteLine();
        secure.MakeReadOnly();
        return secure;
    }

    /// <summary>
    /// Used by -Confirm and by ShouldContinue. Shows the choices the way pwsh does
    /// (<c>[Y] Yes  [N] No  [?] Help (default is "Y"):</c>) and accepts a hot key or a full label.
    /// </summary>
    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
    {
        RequireInteractive();
        if (!string.IsNullOrEmpty(caption)) Console.Out.WriteLine(caption);
        if (!string.IsNullOrEmpty(message)) Console.Out.WriteLine(message);

        // "&Yes" -> hot key "Y", label "Yes".
        var keys = choices.Select(c => { int i = c.Label.IndexOf('&'); return i >= 0 && i + 1 < c.Label.Length ? c.Label[i + 1].ToString() : ""; }).ToList();
        var labels = choices.Select(c => c.Label.Replace("&", "")).ToList();
        var menu = string.Join("  ", labels.Select((l, i) => $"[{(keys[i].Length > 0 ? keys[i].ToUpperInvariant() : l)}] {l}"));
        var defaultText = defaultChoice >= 0 && defaultChoice < choices.Count ? $" (default is \"{(keys[defaultChoice].Length > 0 ? keys[defaultChoice].ToUpperInvariant() : labels[defaultChoice])}\")" : "";

        while (true)
        {
            Console.Out.Write($"{menu}  [?] Help{defaultText}: ");
            var answer = ReadLine().Trim();
            if (answer.Length == 0 && defaultChoice >= 0) return defaultChoice;
            if (answer == "?")
            {
                for (int i = 0; i < choices.Count; i++) Console.Out.WriteLine($"{keys[i].ToUpperInvariant()} - {choices[i].HelpMessage}");
                continue;
            }

            for (int i = 0; i < choices.Count; i++)
            {
                if (answer.Equals(keys[i], StringComparison.OrdinalIgnoreCase) || answer.Equals(labels[i], StringComparison.OrdinalIgnoreCase)) return i;
            }
        }
    }

    /// <summary>Used for mandatory parameters left unbound: asks for each field as text.</summary>
    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
    {
        RequireInteractive();
        if (!string.IsNullOrEmpty(caption)) Console.Out.WriteLine(caption);
        if (!string.IsNullOrEmpty(message)) Console.Out.WriteLine(message);
        var result = new Dictionary<string, PSObject>();
        foreach (var field in descriptions)
        {
            Console.Out.Write($"{field.Name}: ");
            result[field.Name] = field.ParameterTypeFullName == typeof(SecureString).FullName
                ? new PSObject(ReadLineAsSecureString())
                : new PSObject(ReadLine());
        }

        return result;
    }

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
    {
        RequireInteractive();
        if (!string.IsNullOrEmpty(caption)) Console.Out.WriteLine(caption);
        if (!string.IsNullOrEmpty(message)) Console.Out.WriteLine(message);
        if (string.IsNullOrEmpty(userName))
        {
            Console.Out.Write("User: ");
            userName = ReadLine();
        }

        Console.Out.Write($"Password for user {userName}: ");
        return new PSCredential(userName, ReadLineAsSecureString());
    }
}

/// <summary>
/// A fixed-size "console". The width is what Out-Default wraps tables to: $env:COLUMNS if set, the
/// terminal's width when stdout is a terminal, else 120 so CI logs get stable, readable tables.
/// Buffer operations (used only by full-screen UIs) are not supported.
/// </summary>
internal sealed class TvmRawUI : PSHostRawUserInterface
{
    private static readonly int Width = GetWidth();

    private static int GetWidth()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out int columns) && columns > 0) return columns;
        try
        {
            if (!Console.IsOutputRedirected && Console.WindowWidth > 0) return Console.WindowWidth;
        }
        catch (IOException)
        {
            // No terminal after all.
        }

        return 120;
    }

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
    public override Coordinates CursorPosition { get; set; }
    public override Coordinates WindowPosition { get; set; }
    public override int CursorSize { get; set; } = 25;
    public override Size BufferSize { get => new(Width, 9001); set { } }
    public override Size WindowSize { get => new(Width, 50); set { } }
    public override Size MaxWindowSize => new(Width, 50);
    public override Size MaxPhysicalWindowSize => new(Width, 50);
    public override string WindowTitle { get; set; } = "TvmHost";
    public override bool KeyAvailable => false;
    public override void FlushInputBuffer() { }
    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new PSInvalidOperationException("TvmHost cannot read single keys.");
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw new NotSupportedException();
}
