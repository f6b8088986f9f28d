using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;
using Xunit.Sdk;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>Where the repository and the staged module are.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Cargo.toml")))
            dir = dir.Parent;
        return dir?.FullName
            ?? throw new InvalidOperationException(
                $"No Cargo.toml above {AppContext.BaseDirectory}: the tests must run from inside the repository.");
    });

    public static string Root => RootLazy.Value;
    public static string ModuleDir => Path.Combine(Root, "target", "TvmBackupUtils");
    public static string Psd1 => Path.Combine(ModuleDir, "TvmBackupUtils.psd1");
    public static string Psm1 => Path.Combine(ModuleDir, "TvmBackupUtils.psm1");
    public static string Vectors => Path.Combine(Root, "tests", "vectors");

    public static void RequireStagedModule()
    {
        if (!File.Exists(Psd1) || !File.Exists(Psm1))
            throw new InvalidOperationException(
                $"The staged module {Psd1} is missing. Run `bash ps-module/build.sh` in {Root} first " +
                "(it builds the Rust engine and the C# cmdlets and stages them in target/TvmBackupUtils/).");
    }
}

/// <summary>What one script run produced.</summary>
public sealed class PsResult
{
    public required string Script { get; init; }
    public required IReadOnlyList<PSObject> Output { get; init; }
    /// <summary>Texts of the Information records tagged PSHOST (what Write-Host prints).</summary>
    public required IReadOnlyList<string> Host { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>Non-terminating errors (the Error stream).</summary>
    public required IReadOnlyList<ErrorRecord> Errors { get; init; }
    /// <summary>The terminating error, if the script stopped with one.</summary>
    public ErrorRecord? Terminating { get; init; }
    public Exception? TerminatingException { get; init; }
    public bool Threw => TerminatingException != null;

    /// <summary>The ErrorId part of a FullyQualifiedErrorId ("Id,Namespace.Command" -> "Id").</summary>
    public static string ErrorIdOf(ErrorRecord r)
    {
        var fq = r.FullyQualifiedErrorId ?? "";
        var comma = fq.IndexOf(',');
        return comma < 0 ? fq : fq[..comma];
    }

    public IEnumerable<T> Objects<T>() => Output.Select(o => o.BaseObject).OfType<T>();

    public string Describe()
    {
        var sb = new StringBuilder();
        sb.AppendLine("---- script ----").AppendLine(Script.Trim());
        sb.AppendLine($"---- output ({Output.Count}) ----");
        foreach (var o in Output)
        {
            sb.Append("  ").Append(o.BaseObject.GetType().FullName).Append(": ");
            try
            {
                sb.AppendLine(string.Join("; ", o.Properties.Select(p => $"{p.Name}={SafeValue(p)}")));
            }
            catch (Exception e) { sb.AppendLine(e.Message); }
        }
        sb.AppendLine($"---- host ({Host.Count}) ----");
        foreach (var h in Host) sb.Append("  ").AppendLine(h);
        sb.AppendLine($"---- warnings ({Warnings.Count}) ----");
        foreach (var w in Warnings) sb.Append("  ").AppendLine(w);
        sb.AppendLine($"---- errors ({Errors.Count}) ----");
        foreach (var e in Errors) sb.Append("  ").AppendLine(DescribeError(e));
        if (Threw)
        {
            sb.AppendLine("---- terminating ----");
            sb.Append("  ").AppendLine(Terminating != null ? DescribeError(Terminating) : TerminatingException!.ToString());
        }
        return sb.ToString();
    }

    private static string SafeValue(PSPropertyInfo p)
    {
        try
        {
            var v = p.Value;
            if (v is System.Collections.IEnumerable e && v is not string)
                return "[" + string.Join(", ", e.Cast<object?>().Select(x => x?.ToString())) + "]";
            return v?.ToString() ?? "<null>";
        }
        catch (Exception e) { return "<" + e.GetType().Name + ">"; }
    }

    public static string DescribeError(ErrorRecord e) =>
        $"[{e.FullyQualifiedErrorId}] [{e.CategoryInfo.Category}] {e.Exception?.Message}" +
        (e.ErrorDetails?.Message is { } d ? $" (details: {d})" : "");

    /// <summary>Fails (with everything the run printed) unless the script ran without any error.</summary>
    public PsResult AssertClean()
    {
        if (Threw || Errors.Count > 0)
            throw new XunitException("Script was expected to succeed without errors.\n" + Describe());
        return this;
    }

    /// <summary>Fails unless the script stopped with a terminating error of this id and category.</summary>
    public ErrorRecord AssertTerminating(string errorId, ErrorCategory category) =>
        AssertTerminating(new[] { errorId }, category: category);

    /// <summary>Fails unless the script stopped with a terminating error whose id is one of <paramref name="errorIds"/>
    /// and whose category is the one the contract pairs with that id (or <paramref name="category"/> if given).</summary>
    public ErrorRecord AssertTerminating(IReadOnlyCollection<string> errorIds, ErrorCategory? category = null)
    {
        if (!Threw || Terminating == null)
            throw new XunitException(
                $"Expected a terminating error {string.Join(" or ", errorIds)}, got none.\n" + Describe());
        var id = ErrorIdOf(Terminating);
        if (!errorIds.Contains(id))
            throw new XunitException(
                $"Expected terminating error id {string.Join(" or ", errorIds)}, got '{id}'.\n" + Describe());
        if (!Terminating.FullyQualifiedErrorId.StartsWith(id + ",TvmBackupUtils.", StringComparison.Ordinal))
            throw new XunitException(
                $"FullyQualifiedErrorId '{Terminating.FullyQualifiedErrorId}' does not name a TvmBackupUtils command.\n" + Describe());
        var expectedCategory = category ?? Contract.CategoryOf(id);
        if (Terminating.CategoryInfo.Category != expectedCategory)
            throw new XunitException(
                $"Error {id}: expected category {expectedCategory}, got {Terminating.CategoryInfo.Category}.\n" + Describe());
        return Terminating;
    }

    public string TerminatingMessage =>
        Terminating?.ErrorDetails?.Message is { Length: > 0 } d ? d + " " + Terminating.Exception?.Message
        : Terminating?.Exception?.Message ?? TerminatingException?.Message ?? "";
}

/// <summary>
/// ErrorIds and their categories: the engine's codes (src/error.rs, docs/abi.md), one per problem. Before ABI 3
/// the ErrorIds were "Tvm" + a broad kind; the README maps the old ones to the new.
/// </summary>
public static class Contract
{
    public static readonly IReadOnlyDictionary<string, ErrorCategory> Categories = new Dictionary<string, ErrorCategory>
    {
        ["FileMissing"] = ErrorCategory.ObjectNotFound,
        ["BackupFolderMissing"] = ErrorCategory.ObjectNotFound,
        ["VaultMissing"] = ErrorCategory.ObjectNotFound,
        ["KeyNotFound"] = ErrorCategory.ObjectNotFound,
        ["WrappingKeyMissing"] = ErrorCategory.ObjectNotFound,
        ["InvalidKeyName"] = ErrorCategory.InvalidArgument,
        ["InvalidKeySize"] = ErrorCategory.InvalidArgument,
        ["KeySizeMismatch"] = ErrorCategory.InvalidArgument,
        ["PemInvalid"] = ErrorCategory.InvalidData,
        ["PemEncrypted"] = ErrorCategory.NotImplemented,
        ["NotABackup"] = ErrorCategory.InvalidData,
        ["NotALocalVault"] = ErrorCategory.InvalidData,
        ["VaultKeyDamaged"] = ErrorCategory.InvalidData,
        ["KeyFileInvalid"] = ErrorCategory.InvalidData,
        ["FileWriteFailed"] = ErrorCategory.WriteError,
        ["FileReadFailed"] = ErrorCategory.ReadError,
        ["KeyPairMismatch"] = ErrorCategory.SecurityError,
        ["WrappingKeyMismatch"] = ErrorCategory.SecurityError,
        ["KeyExists"] = ErrorCategory.ResourceExists,
        ["BackupExists"] = ErrorCategory.ResourceExists,
        ["VaultFailed"] = ErrorCategory.InvalidOperation,
        ["Cancelled"] = ErrorCategory.OperationStopped,
        ["VaultTimeout"] = ErrorCategory.OperationTimeout,
        ["InternalError"] = ErrorCategory.InvalidOperation,
        ["MocVersionUnknown"] = ErrorCategory.NotInstalled,
        ["MocModuleVersionTooOld"] = ErrorCategory.NotInstalled,
        ["MocStackVersionTooOld"] = ErrorCategory.NotInstalled,
    };

    public static ErrorCategory CategoryOf(string id) =>
        Categories.TryGetValue(id, out var c) ? c
        : throw new XunitException($"ErrorId '{id}' is not one the contract defines.");

    public static readonly string[] CmdletNames =
    {
        "Backup-TVMKeys", "Import-TVMKeys", "Import-TvmWrappingKeyFromPem",
        "New-TvmImportJson", "New-TvmVaultKey", "Get-TvmVaultKey",
    };
    public const string Alias = "Generate-ImportJsonFromPEM";
}

/// <summary>
/// One test's world: a temporary work folder (deleted afterwards) and a PowerShell 7.6 runspace with the
/// staged module imported. TVM_VAULT_PATH is cleared for the session's lifetime and restored afterwards.
/// </summary>
public sealed class TvmSession : IDisposable
{
    private readonly PowerShell _ps;
    private readonly string? _savedVaultEnv;
    private readonly string? _savedTmpDir;
    private bool _tmpDirChanged;

    public string Dir { get; }
    public PsResult? ImportResult { get; }

    /// <param name="import">null: no import; otherwise the path of the .psd1 or .psm1 to import.</param>
    public TvmSession(string? import = "psd1")
    {
        if (import != null) Repo.RequireStagedModule();
        Dir = Path.Combine(Path.GetTempPath(), "tvmtests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);

        _savedVaultEnv = Environment.GetEnvironmentVariable("TVM_VAULT_PATH");
        _savedTmpDir = Environment.GetEnvironmentVariable("TMPDIR");
        NativeEnv.Set("TVM_VAULT_PATH", null);

        _ps = PowerShell.Create(InitialSessionState.CreateDefault2());
        Set("work", Dir);
        if (import != null)
        {
            var path = import switch
            {
                "psd1" => Repo.Psd1,
                "psm1" => Repo.Psm1,
                _ => import,
            };
            Set("tvmModulePath", path);
            ImportResult = Run("Import-Module $tvmModulePath -Force -ErrorAction Stop");
            if (ImportResult.Threw || ImportResult.Errors.Count > 0)
                throw new XunitException("Import-Module of the staged module failed.\n" + ImportResult.Describe());
        }
    }

    public string P(params string[] parts) => Path.Combine(new[] { Dir }.Concat(parts).ToArray());

    /// <summary>Sets a PowerShell variable in the session (paths are passed this way, not quoted into scripts).</summary>
    public void Set(string name, object? value) => _ps.Runspace.SessionStateProxy.SetVariable(name, value);

    /// <summary>Writes the key pair into <paramref name="folder"/> and sets $pub and $priv to its files; returns the paths.</summary>
    public (string Public, string Private) SetKeyPair(TestKeyPair key, PemFlavor flavor = PemFlavor.Utf8Lf, string folder = "pem")
    {
        var (pub, priv) = key.Write(P(folder), flavor);
        Set("pub", pub);
        Set("priv", priv);
        return (pub, priv);
    }

    public object? Get(string name) => _ps.Runspace.SessionStateProxy.GetVariable(name);

    /// <summary>Points TMPDIR (managed and native environment) at a fresh folder under the work folder.</summary>
    public string UsePrivateTempFolder()
    {
        var tmp = P("tmp");
        Directory.CreateDirectory(tmp);
        NativeEnv.Set("TMPDIR", tmp + Path.DirectorySeparatorChar);
        _tmpDirChanged = true;
        return tmp;
    }

    public PsResult Run(string script)
    {
        _ps.Commands.Clear();
        _ps.Streams.ClearStreams();
        Set("__tvmTerminating", null);
        // A cmdlet's ThrowTerminatingError only ends the statement in a script (the script goes on and the
        // record lands in the Error stream); try/catch is how a script tells it from a non-terminating
        // WriteError, so every script runs inside one.
        _ps.AddScript("try {\n" + script + "\n} catch { $global:__tvmTerminating = $_ }");
        Collection<PSObject> output = new();
        Exception? thrown = null;
        ErrorRecord? terminating = null;
        try
        {
            output = _ps.Invoke();
        }
        catch (Exception e)
        {
            thrown = e;
            terminating = FindErrorRecord(e);
        }

        if (terminating == null && Get("__tvmTerminating") is { } caught)
        {
            terminating = (caught as PSObject)?.BaseObject as ErrorRecord ?? caught as ErrorRecord;
            thrown = terminating?.Exception ?? new RuntimeException(caught.ToString());
        }

        var result = new PsResult
        {
            Script = script,
            Output = output.Where(o => o != null).ToList(),
            Host = _ps.Streams.Information
                .Where(i => i.Tags.Contains("PSHOST"))
                .Select(i => i.MessageData?.ToString() ?? "")
                .ToList(),
            Warnings = _ps.Streams.Warning.Select(w => w.Message).ToList(),
            Errors = _ps.Streams.Error.ToList(),
            Terminating = terminating,
            TerminatingException = thrown,
        };
        // TVM_TEST_TRACE=<file>: append every run (script, output, host, warnings, errors) for reading later.
        if (Environment.GetEnvironmentVariable("TVM_TEST_TRACE") is { Length: > 0 } trace)
            File.AppendAllText(trace, result.Describe() + Environment.NewLine);
        return result;
    }

    private static ErrorRecord? FindErrorRecord(Exception e)
    {
        // The record PowerShell reports for the failure; wrappers such as CmdletInvocationException carry
        // the cmdlet's own record one level down.
        for (var x = e; x != null; x = x.InnerException)
        {
            if (x is IContainsErrorRecord c && c.ErrorRecord != null)
            {
                var r = c.ErrorRecord;
                if (x is CmdletInvocationException && x.InnerException is IContainsErrorRecord inner && inner.ErrorRecord != null)
                    continue;
                return r;
            }
        }
        return null;
    }

    public void Dispose()
    {
        try { _ps.Dispose(); } catch { /* the runspace may be broken by the test */ }
        NativeEnv.Set("TVM_VAULT_PATH", _savedVaultEnv);
        if (_tmpDirChanged) NativeEnv.Set("TMPDIR", _savedTmpDir);
        try { Directory.Delete(Dir, recursive: true); } catch { /* best effort */ }
    }
}
