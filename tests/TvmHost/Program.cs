// TvmHost: runs a .ps1 file in the PowerShell 7.6 engine that ships on NuGet (System.Management.Automation),
// behaving like `pwsh -NoLogo -NoProfile -File <script> [args...]`. It exists because the machines that run
// this project's README rehearsal and CI have no pwsh binary; where pwsh exists, `pwsh -File` runs the same
// scripts unchanged.
//
//   dotnet run --project tests/TvmHost -- [-NoLogo] [-NoProfile] [-NonInteractive] [-File] <script.ps1> [args...]
//
// Exit codes follow pwsh -File: `exit N` -> N, a terminating error that escapes the script -> 1, else 0,
// 64 for a bad command line (no script, missing file). See TvmHostUI.cs for where each stream goes.
// Like pwsh, table rows that Out-Default is still holding back (up to 300 ms, to size columns) are lost
// when `exit` or `throw` ends the script; pipe such output to Out-Default explicitly before exiting.
//
// Note: the NuGet engine has only the core cmdlets (no Write-Host/Write-Output/Write-Warning/...: those live
// in Microsoft.PowerShell.Utility, which is not referenced). Scripts use our module's cmdlets, .NET calls
// and $PSCmdlet.Write* in advanced functions; see samples/streams.ps1.

using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;

namespace TvmHost;

internal static class Program
{
    /// <summary>pwsh's exit code for a command line it cannot use.</summary>
    private const int BadCommandLine = 64;

    private static int Main(string[] args)
    {
        if (!TryParseCommandLine(args, out string? script, out List<string> scriptArgs, out bool nonInteractive))
        {
            Console.Error.WriteLine("Usage: TvmHost [-NoLogo] [-NoProfile] [-NonInteractive] [-File] <script.ps1> [args...]");
            return BadCommandLine;
        }

        string scriptPath = Path.GetFullPath(script!);
        if (!File.Exists(scriptPath))
        {
            // pwsh's wording for the same mistake.
            Console.Error.WriteLine($"The argument '{script}' is not recognized as the name of a script file. " +
                "Check the spelling of the name, or if a path was included, verify that the path is correct and try again.");
            return BadCommandLine;
        }

        if (!scriptPath.EndsWith(".ps1", StringComparison.OrdinalIgnoreCase))
        {
            Console.Error.WriteLine($"Processing -File '{script}' failed because the file does not have a '.ps1' extension. " +
                "Specify a valid PowerShell script file name, and then try again.");
            return BadCommandLine;
        }

        // Without a console on stdin (CI), prompts must fail at once instead of waiting forever.
        var host = new TvmPSHost(interactive: !nonInteractive && !Console.IsInputRedirected);

        // CreateDefault2 loads only the core engine, as a module host would. ExecutionPolicy is deliberately
        // left alone: setting it throws on Linux.
        using Runspace runspace = RunspaceFactory.CreateRunspace(host, InitialSessionState.CreateDefault2());
        runspace.Open();

        // pwsh starts in the caller's directory; relative paths in the script (and in our cmdlets, which
        // resolve against the PowerShell location) must mean the same here.
        runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(Environment.CurrentDirectory));

        bool exitIsReported = LetExitReachHost(runspace);
        return Run(runspace, host, scriptPath, scriptArgs, exitIsReported);
    }

    /// <summary>
    /// Runs <c>&amp; script args | Out-Default</c> with the error stream merged into the output, which is what
    /// pwsh -File does: Out-Default then formats objects as tables/lists and errors in $ErrorView
    /// (ConciseView), and sends the errors to the host's error stream.
    /// </summary>
    private static int Run(Runspace runspace, TvmPSHost host, string scriptPath, List<string> scriptArgs, bool exitIsReported)
    {
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;

        // By path (not by content) so $PSScriptRoot, $PSCommandPath and $MyInvocation are those of the file.
        // useLocalScope: false as in pwsh -File: the script runs in the global scope, not a child scope.
        var command = new Command(scriptPath, isScript: false, useLocalScope: false);
        foreach (var arg in scriptArgs)
        {
            command.Parameters.Add(ToParameter(arg));
        }

        command.MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
        ps.Commands.AddCommand(command);
        ps.AddCommand("Out-Default");

        try
        {
            ps.Invoke();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            ReportTerminatingError(runspace, host, e);
            return 1;
        }

        // Errors that were not merged into the output (there should be none, but never lose one).
        foreach (var error in ps.Streams.Error)
        {
            Render(runspace, host, error);
        }

        if (host.ExitCode is int code)
        {
            return code;
        }

        // Only when LetExitReachHost failed: `exit N` then ends the script normally with $LASTEXITCODE = N.
        // (This also picks up a failing native command's code, which pwsh -File would not.)
        return !exitIsReported && runspace.SessionStateProxy.GetVariable("LASTEXITCODE") is int last ? last : 0;
    }

    /// <summary>
    /// pwsh -File sets the engine's internal ScriptCommandProcessorShouldRethrowExit so that <c>exit N</c> in
    /// the script file leaves the pipeline and reaches <see cref="TvmPSHost.SetShouldExit"/>; otherwise a
    /// script's exit just returns to its caller with $LASTEXITCODE set, indistinguishable from a native
    /// command's exit code. The flag is internal, so it is set by reflection; false if that failed.
    /// </summary>
    private static bool LetExitReachHost(Runspace runspace)
    {
        const BindingFlags NonPublic = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        try
        {
            object? context = null;
            for (Type? t = runspace.GetType(); t != null && context == null; t = t.BaseType)
            {
                context = t.GetProperty("ExecutionContext", NonPublic)?.GetValue(runspace);
            }

            PropertyInfo? flag = context?.GetType().GetProperty("ScriptCommandProcessorShouldRethrowExit", NonPublic);
            if (context == null || flag == null)
            {
                return false;
            }

            flag.SetValue(context, true);
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// Prints an error that ended the script the way pwsh's ConsoleHost.ReportException does: the engine's
    /// own error view through Out-Default, on stderr. Falls back to the bare message if that fails.
    /// </summary>
    private static void ReportTerminatingError(Runspace runspace, TvmPSHost host, Exception e)
    {
        var record = e is IContainsErrorRecord withRecord
            ? withRecord.ErrorRecord
            : new ErrorRecord(e, "TvmHost.ReportException", ErrorCategory.NotSpecified, null);
        Render(runspace, host, record);
    }

    private static void Render(Runspace runspace, TvmPSHost host, ErrorRecord record)
    {
        host.TvmUI.WriteToStderr = true;
        try
        {
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddCommand("Out-Default").Invoke(new[] { record });
        }
        catch (Exception)
        {
            Console.Error.WriteLine(record.Exception.Message);
            if (record.InvocationInfo != null) Console.Error.WriteLine(record.InvocationInfo.PositionMessage);
        }
        finally
        {
            host.TvmUI.WriteToStderr = false;
        }
    }

    /// <summary>
    /// As pwsh -File does: <c>-Name</c> becomes a parameter name (bound to the next argument unless it is a
    /// switch), <c>-Name:value</c> a named value, anything else a positional argument.
    /// </summary>
    private static CommandParameter ToParameter(string arg)
    {
        if (arg.Length > 1 && arg[0] == '-')
        {
            int colon = arg.IndexOf(':');
            if (colon < 0) return new CommandParameter(arg);
            if (colon == arg.Length - 1) return new CommandParameter(arg[..colon]);
            string value = arg[(colon + 1)..];
            object typed = value.Equals("$true", StringComparison.OrdinalIgnoreCase) ? true
                : value.Equals("$false", StringComparison.OrdinalIgnoreCase) ? false
                : value;
            return new CommandParameter(arg[..colon], typed);
        }

        return new CommandParameter(null, arg);
    }

    /// <summary>
    /// Accepts pwsh's spelling (<c>-NoLogo -NoProfile -File x.ps1 ...</c>, case-insensitive, in any order
    /// before the script) or just the script path. Everything after the script belongs to the script.
    /// </summary>
    private static bool TryParseCommandLine(string[] args, out string? script, out List<string> scriptArgs, out bool nonInteractive)
    {
        script = null;
        scriptArgs = new List<string>();
        nonInteractive = false;
        int i = 0;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a.Equals("-NoLogo", StringComparison.OrdinalIgnoreCase) || a.Equals("-NoProfile", StringComparison.OrdinalIgnoreCase))
            {
                continue; // What this host always does anyway.
            }

            if (a.Equals("-NonInteractive", StringComparison.OrdinalIgnoreCase))
            {
                nonInteractive = true;
                continue;
            }

            if (a.Equals("-File", StringComparison.OrdinalIgnoreCase) || a.Equals("-f", StringComparison.OrdinalIgnoreCase))
            {
                if (++i >= args.Length) return false;
                script = args[i];
                break;
            }

            if (a.StartsWith('-') && a.Length > 1) return false; // A pwsh option this host does not have.
            script = a;
            break;
        }

        if (script == null) return false;
        scriptArgs.AddRange(args.Skip(i + 1));
        return true;
    }
}
