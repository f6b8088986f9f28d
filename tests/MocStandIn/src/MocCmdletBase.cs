// What every stand-in Moc cmdlet does around its own work: record the call, wait the configured per-call delay,
// hang where the stand-in is told to (or where MOC is documented to), and turn a MocFailure into the terminating error the Moc cmdlets raise.

using System;
using System.Management.Automation;
using System.Threading;

namespace MocStandIn;

public abstract class MocCmdletBase : PSCmdlet, IDisposable
{
    /// <summary>How long a hang lasts at most when nobody stops the pipeline.</summary>
    private static readonly TimeSpan HangSafetyCap = TimeSpan.FromMinutes(10);

    private readonly ManualResetEventSlim stopped = new(initialState: false);

    internal StandInSettings Settings { get; private set; } = StandInSettings.Default;

    /// <summary>The key the call is about, for -HangOn rules; null when it names none.</summary>
    internal abstract string? KeyName { get; }

    /// <summary>The mocctl.exe command line the real cmdlet would run (for the error message).</summary>
    internal abstract MocctlCommandLine CommandLine();

    /// <summary>The cmdlet's own work.</summary>
    internal abstract void Execute();

    /// <summary>A hang MOC is documented to show for this call, or null.</summary>
    internal virtual string? DocumentedHang() => null;

    protected sealed override void ProcessRecord()
    {
        Settings = StandIn.Settings;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        MocStandInCall call = CallRecorder.Capture(MyInvocation);
        StandIn.Record(call);
        StandIn.Enter();
        try
        {
            Delay(Settings.CallDelayMilliseconds);
            // Only the calls a -ThrottleLimit overlaps gather: exports and imports.
            string name = MyInvocation.MyCommand.Name;
            bool overlapped = name == "Export-MocKey" || name == "Import-MocKey";
            call.Gathered = overlapped && StandIn.Gather(Settings.GatherCalls, () => stopped.IsSet);
            call.InFlight = StandIn.InFlight;
            Work();
        }
        finally
        {
            StandIn.Leave();
            call.Milliseconds = watch.Elapsed.TotalMilliseconds;
        }
    }

    private void Work()
    {

        string command = MyInvocation.MyCommand.Name;
        string? reason = DocumentedHang();
        if (reason is null)
        {
            foreach (HangRule rule in Settings.HangOn)
            {
                if (rule.Matches(command, KeyName))
                {
                    reason = $"Set-MocStandIn -HangOn '{rule.Text}'";
                    break;
                }
            }
        }
        if (reason is not null)
        {
            Hang(reason);
        }

        try
        {
            Execute();
        }
        catch (MocFailure failure)
        {
            ThrowTerminatingError(new ErrorRecord(
                new RuntimeException(CommandLine().FailureMessage(failure.Stderr)),
                failure.ErrorId,
                failure.Category,
                failure.Target));
        }
    }

    protected override void StopProcessing() => stopped.Set();

    public void Dispose()
    {
        stopped.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Set-MocStandIn -CallDelayMilliseconds: waits that long (a slow cloud agent), ending early with
    /// PipelineStoppedException when the pipeline is stopped, as a hang does.
    /// </summary>
    private void Delay(int milliseconds)
    {
        if (milliseconds > 0 && stopped.Wait(milliseconds))
        {
            throw new PipelineStoppedException();
        }
    }

    /// <summary>Blocks until the pipeline is stopped (PowerShell.Stop(), Ctrl+C), at most <see cref="HangSafetyCap"/>.</summary>
    private void Hang(string reason)
    {
        WriteVerbose($"MocStandIn: {MyInvocation.MyCommand.Name} hangs ({reason}) until the pipeline is stopped.");
        if (stopped.Wait(HangSafetyCap))
        {
            throw new PipelineStoppedException();
        }
        ThrowTerminatingError(new ErrorRecord(
            new TimeoutException(CommandLine().FailureMessage(
                $"MocStandIn: the hang ({reason}) reached its safety cap of {HangSafetyCap.TotalMinutes} minutes: The operation has timed out")),
            "MocStandIn.HangSafetyCap",
            ErrorCategory.OperationTimeout,
            KeyName));
    }

    /// <summary>The StateRoot, or a terminating error when Set-MocStandIn was never called.</summary>
    internal string StateRoot()
    {
        if (Settings.StateRoot is { } root)
        {
            return root;
        }
        ThrowTerminatingError(new ErrorRecord(
            new InvalidOperationException(
                "MocStandIn (a stand-in for the Moc module, for tests) has no key store: call Set-MocStandIn -StateRoot <folder> first."),
            "MocStandIn.NotConfigured",
            ErrorCategory.InvalidOperation,
            null));
        return null!;
    }

    /// <summary>A path as mocctl.exe, a separate process, would open it: relative to the process's current directory.</summary>
    internal static string MocctlPath(string path) => System.IO.Path.GetFullPath(path);

    // --- checks shared by the key cmdlets (MOC's Go SDK wording) ---

    internal static void RequireVault(string group, string keyvaultName)
    {
        if (string.IsNullOrEmpty(group))
        {
            throw new MocFailure("Group not specified: InvalidGroup", "MocStandIn.InvalidGroup", ErrorCategory.InvalidArgument);
        }
        if (string.IsNullOrEmpty(keyvaultName))
        {
            throw MocFailure.InvalidInput("Keyvault name is missing");
        }
    }

    internal static void RequireKeyName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw MocFailure.InvalidInput("Key name is missing");
        }
    }

    internal static void RequireSize(int size)
    {
        if (size is not (256 or 2048 or 3072 or 4096))
        {
            throw MocFailure.InvalidInput("Invalid key size", size);
        }
    }

    /// <summary>Types are case-sensitive (AES, RSA); AES is 256 bits, RSA 2048/3072/4096.</summary>
    internal static void RequireTypeAndSize(string operation, string vault, string name, string type, int size)
    {
        if (type is not ("AES" or "RSA"))
        {
            throw MocFailure.Agent(operation, vault, name, $"Invalid key type [{type}]: Invalid Type",
                "MocStandIn.InvalidKeyType", ErrorCategory.InvalidArgument);
        }
        if ((type == "AES") != (size == 256))
        {
            throw MocFailure.Agent(operation, vault, name, $"Key size [{size}] is not valid for key type [{type}]: Invalid Input",
                "MocStandIn.InvalidKeySize", ErrorCategory.InvalidArgument);
        }
    }
}

/// <summary>
/// A Moc cmdlet that works on one key vault: every one of them but Get-MocConfig takes -group and
/// -keyvaultName, mandatory, as the real module does (docs/format.md section 9). Emptiness is the vault's to refuse.
/// </summary>
public abstract class MocVaultCmdletBase : MocCmdletBase
{
    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string group { get; set; } = null!;

    [Parameter(Mandatory = true)]
    [AllowEmptyString]
    public string keyvaultName { get; set; } = null!;
}
