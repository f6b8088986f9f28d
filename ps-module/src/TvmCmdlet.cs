using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.ExceptionServices;
using TvmBackupUtils.Api;
using TvmBackupUtils.Moc;
using TvmBackupUtils.Native;

namespace TvmBackupUtils
{
    /// <summary>
    /// What every cmdlet of the module shares: the engine library, path resolution, the event callback
    /// (host messages, warnings, progress, ShouldProcess per key) and status-to-error conversion.
    /// It binds, converts and reports; every decision about keys, files and formats is in the engine.
    /// </summary>
    public abstract class TvmCmdlet : PSCmdlet
    {
        private ExceptionDispatchInfo? _callbackFailure;
        private bool _progressShown;

        private protected TvmCmdlet() { }

        /// <summary>The bound engine; a missing or mismatched library is a terminating error.</summary>
        private protected TvmNative Native
        {
            get
            {
                try
                {
                    return TvmNative.Instance;
                }
                catch (TvmNativeLibraryException e)
                {
                    ThrowTerminatingError(new ErrorRecord(e, "TvmNativeLibraryUnavailable", ErrorCategory.ResourceUnavailable, null));
                    throw;
                }
            }
        }

        /// <summary>
        /// A file system path as the engine needs it: relative paths resolve against the PowerShell location
        /// (not the process working directory); the item need not exist.
        /// </summary>
        private protected string ResolvePath(string path, string parameterName)
        {
            string resolved;
            ProviderInfo provider;
            try
            {
                resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
            }
            catch (Exception e) when (e is ItemNotFoundException || e is DriveNotFoundException
                                      || e is ProviderNotFoundException || e is ProviderInvocationException
                                      || e is NotSupportedException || e is ArgumentException)
            {
                var failure = new ArgumentException($"{parameterName} '{path}' cannot be resolved to a file system path: {e.Message}", e);
                ThrowTerminatingError(new ErrorRecord(failure, "PathNotResolved", ErrorCategory.InvalidArgument, path));
                throw;
            }
            if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
            {
                var failure = new ArgumentException(
                    $"{parameterName} '{path}' is a path of the {provider.Name} provider; give a file system path.");
                ThrowTerminatingError(new ErrorRecord(failure, "PathNotFileSystem", ErrorCategory.InvalidArgument, path));
            }
            return resolved;
        }

        /// <summary>
        /// Runs one command of the engine: <paramref name="request"/> as JSON in, the result of type
        /// <typeparamref name="TResult"/> out, events handled as they come. A failure is a terminating error
        /// whose ErrorId is the engine's code; <paramref name="target"/> is the record's target object.
        /// </summary>
        private protected TResult Invoke<TRequest, TResult>(CommandFn export, VaultHandle? vault, TRequest request, object? target)
            where TResult : class
        {
            byte[] json = Json.Write(request);
            var length = (UIntPtr)json.Length;
            (TvmStatus status, byte[] bytes) = CallEngine(sink =>
            {
                TvmNative native = Native;
                TvmBuffer buffer = default;
                TvmStatus s = vault == null
                    ? export(IntPtr.Zero, json, length, sink, IntPtr.Zero, out buffer)
                    : vault.Use(v => export(v, json, length, sink, IntPtr.Zero, out buffer));
                return (s, native.Take(buffer));
            });
            return ResultOf<TResult>(status, bytes, target);
        }

        /// <summary>
        /// Runs one engine call with this cmdlet as its event sink. The sink delegate is kept alive for the call;
        /// an exception thrown while handling an event (PipelineStoppedException included) is held, the engine is
        /// told to cancel, and the exception is rethrown here once the engine has returned.
        /// </summary>
        private protected (TvmStatus Status, byte[] Bytes) CallEngine(Func<TvmEventSink, (TvmStatus, byte[])> call)
        {
            _callbackFailure = null;
            TvmEventSink sink = OnEngineEvent;
            (TvmStatus, byte[]) result;
            ExceptionDispatchInfo? failure = null;
            bool succeeded = false;
            try
            {
                result = call(sink);
                succeeded = result.Item1 == TvmStatus.Ok;
            }
            finally
            {
                GC.KeepAlive(sink);
                failure = _callbackFailure;
                _callbackFailure = null;
                try
                {
                    CompleteProgress(succeeded && failure == null);
                }
                catch (Exception) when (failure != null)
                {
                    // the held exception is the one to report
                }
            }
            failure?.Throw();
            return result;
        }

        /// <summary>
        /// The result in <paramref name="bytes"/>, or the terminating error it holds when the call failed.
        /// <paramref name="source"/>, when given, is how the user gave the input every error of this call is about
        /// (-VaultPath, or $env:TVM_VAULT_PATH); the message then starts with it.
        /// </summary>
        private protected TResult ResultOf<TResult>(TvmStatus status, byte[] bytes, object? target, string? source = null) where TResult : class
        {
            if (status == TvmStatus.Ok)
            {
                return Json.Read<TResult>(bytes);
            }
            if (Stopping)
            {
                // Ctrl+C: whatever the engine made of the stopped call, the command ends stopped.
                throw new PipelineStoppedException();
            }
            ThrowTerminatingError(ErrorRecordOf(status, bytes, target, source));
            throw new InvalidOperationException("ThrowTerminatingError returned.");
        }

        /// <summary>
        /// As <see cref="ResultOf{TResult}"/>, for a cmdlet that handles many inputs: a failed call is a
        /// non-terminating error for this input, and the result is null; the cmdlet goes on with the next one.
        /// </summary>
        private protected TResult? ResultOrError<TResult>(TvmStatus status, byte[] bytes, object? target) where TResult : class
        {
            if (status == TvmStatus.Ok)
            {
                return Json.Read<TResult>(bytes);
            }
            if (Stopping || status == TvmStatus.Cancelled)
            {
                throw new PipelineStoppedException();
            }
            WriteError(ErrorRecordOf(status, bytes, target, null));
            return null;
        }

        private ErrorRecord ErrorRecordOf(TvmStatus status, byte[] bytes, object? target, string? source)
        {
            TvmError error = Errors.Read(bytes, status);
            if (source != null)
            {
                error.Message = $"{source}: {error.Message}";
            }
            return Errors.FromEngine(status, error, source == null ? ParameterFor(error.Input) : null, target);
        }

        /// <summary>
        /// Runs an export that takes a secret beside its request (<paramref name="password"/>, null: none): the
        /// password crosses as UTF-8 in an array that is cleared when the call returns; no managed string of it is made.
        /// </summary>
        private protected (TvmStatus Status, byte[] Bytes) CallWithSecret<TRequest>(SecretCommandFn export, VaultHandle? vault, TRequest request, System.Security.SecureString? password)
        {
            byte[]? secret = password == null ? null : Utf8Of(password);
            try
            {
                return CallWithSecretBytes(export, vault, request, secret);
            }
            finally
            {
                if (secret != null)
                {
                    Array.Clear(secret, 0, secret.Length);
                }
            }
        }

        /// <summary>The call of <see cref="CallWithSecret"/> and <see cref="CallWithSecretList"/>: <paramref name="secret"/> (null: none) crosses as it is; the caller clears it.</summary>
        private (TvmStatus Status, byte[] Bytes) CallWithSecretBytes<TRequest>(SecretCommandFn export, VaultHandle? vault, TRequest request, byte[]? secret)
        {
            byte[] json = Json.Write(request);
            return CallEngine(sink =>
            {
                TvmNative native = Native;
                TvmBuffer buffer = default;
                var secretLength = (UIntPtr)(secret?.Length ?? 0);
                TvmStatus s = vault == null
                    ? export(IntPtr.Zero, json, (UIntPtr)json.Length, secret, secretLength, sink, IntPtr.Zero, out buffer)
                    : vault.Use(v => export(v, json, (UIntPtr)json.Length, secret, secretLength, sink, IntPtr.Zero, out buffer));
                return (s, native.Take(buffer));
            });
        }

        /// <summary>
        /// Runs an export that takes a secret list beside its request (the engine's <c>api::shares::Secrets</c>):
        /// <paramref name="keyPassword"/> (tag 1, the password of the private key file read or written) and
        /// <paramref name="custodianPasswords"/> (tag 2 each, in order); each record is a tag byte, a little-endian
        /// 32-bit length and UTF-8. The list is built in one array that is cleared when the call returns.
        /// </summary>
        private protected (TvmStatus Status, byte[] Bytes) CallWithSecretList<TRequest>(SecretCommandFn export, VaultHandle? vault, TRequest request,
            System.Security.SecureString? keyPassword, System.Security.SecureString[]? custodianPasswords)
        {
            var parts = new List<(byte Tag, byte[] Value)>();
            byte[]? secret = null;
            try
            {
                if (keyPassword != null)
                {
                    parts.Add((1, Utf8Of(keyPassword)));
                }
                foreach (System.Security.SecureString password in custodianPasswords ?? Array.Empty<System.Security.SecureString>())
                {
                    parts.Add((2, Utf8Of(password)));
                }
                int length = 0;
                foreach ((byte _, byte[] value) in parts)
                {
                    length += 5 + value.Length;
                }
                secret = new byte[length];
                int at = 0;
                foreach ((byte tag, byte[] value) in parts)
                {
                    secret[at] = tag;
                    secret[at + 1] = (byte)value.Length;
                    secret[at + 2] = (byte)(value.Length >> 8);
                    secret[at + 3] = (byte)(value.Length >> 16);
                    secret[at + 4] = (byte)(value.Length >> 24);
                    Buffer.BlockCopy(value, 0, secret, at + 5, value.Length);
                    at += 5 + value.Length;
                }
                return CallWithSecretBytes(export, vault, request, secret);
            }
            finally
            {
                foreach ((byte _, byte[] value) in parts)
                {
                    Array.Clear(value, 0, value.Length);
                }
                if (secret != null)
                {
                    Array.Clear(secret, 0, secret.Length);
                }
            }
        }

        /// <summary>Each path resolved as <see cref="ResolvePath"/> does; null stays null.</summary>
        private protected string[]? ResolvePaths(string[]? paths, string parameterName)
        {
            if (paths == null)
            {
                return null;
            }
            var resolved = new string[paths.Length];
            for (int i = 0; i < paths.Length; i++)
            {
                resolved[i] = ResolvePath(paths[i], parameterName);
            }
            return resolved;
        }

        private static byte[] Utf8Of(System.Security.SecureString password)
        {
            IntPtr bstr = System.Runtime.InteropServices.Marshal.SecureStringToBSTR(password);
            char[] chars = new char[password.Length];
            try
            {
                System.Runtime.InteropServices.Marshal.Copy(bstr, chars, 0, chars.Length);
                return System.Text.Encoding.UTF8.GetBytes(chars);
            }
            finally
            {
                Array.Clear(chars, 0, chars.Length);
                System.Runtime.InteropServices.Marshal.ZeroFreeBSTR(bstr);
            }
        }

        /// <summary>Runs a command export that needs no vault and returns its status and bytes (events handled).</summary>
        private protected (TvmStatus Status, byte[] Bytes) CallWithoutVault<TRequest>(CommandFn export, TRequest request)
        {
            byte[] json = Json.Write(request);
            var length = (UIntPtr)json.Length;
            return CallEngine(sink =>
            {
                TvmNative native = Native;
                TvmStatus s = export(IntPtr.Zero, json, length, sink, IntPtr.Zero, out TvmBuffer buffer);
                return (s, native.Take(buffer));
            });
        }

        /// <summary>The parameter of this cmdlet that a request field is (keySize: KeySize), or null.</summary>
        private string? ParameterFor(string? input)
        {
            if (string.IsNullOrEmpty(input))
            {
                return null;
            }
            string name = char.ToUpperInvariant(input![0]) + input.Substring(1);
            return MyInvocation?.MyCommand?.Parameters?.ContainsKey(name) == true ? name : null;
        }

        /// <summary>Non-terminating error for one key that failed (the loop in the engine goes on).</summary>
        private protected void WriteKeyError(TvmKeyRestore key, string errorId, string messagePrefix)
        {
            TvmError error = key.Error ?? new TvmError { ErrorId = errorId, Category = nameof(ErrorCategory.InvalidOperation), Message = key.Message };
            var exception = new TvmException(TvmStatus.Failed, error, messagePrefix + (key.Message ?? error.Message));
            object? target = key.Name.Length > 0 ? key.Name : key.File;
            WriteError(new ErrorRecord(exception, errorId, error.PowerShellCategory, target));
        }

        /// <summary>After ShouldProcess agreed to a keyPending action: a further question for a high-impact one. Default: yes.</summary>
        private protected virtual bool ConfirmPending(TvmKey key, string action) => true;

        /// <summary>keyRestored: one key's result. Default: ignored.</summary>
        private protected virtual void OnKeyRestored(TvmKeyRestore restore) { }

        /// <summary>The ShouldProcess target for a keyPending event (the action is the event's).</summary>
        private protected virtual string PendingTarget(TvmKey key) => key.Name.Length > 0 ? key.Name : key.File ?? string.Empty;

        private TvmReply OnEngineEvent(IntPtr context, IntPtr evt, UIntPtr length)
        {
            try
            {
                if (_callbackFailure != null || Stopping)
                {
                    return TvmReply.Cancel;
                }
                return Dispatch(Json.Read<EngineEvent>(TvmNative.Copy(evt, length)));
            }
            catch (Exception e)
            {
                _callbackFailure = ExceptionDispatchInfo.Capture(e);
                return TvmReply.Cancel;
            }
        }

        private TvmReply Dispatch(EngineEvent e)
        {
            switch (e.Event)
            {
                case "message":
                    WriteInformation(new HostInformationMessage { Message = e.Text ?? string.Empty }, new[] { "PSHOST" });
                    break;
                case "warning":
                    WriteWarning(e.Text ?? string.Empty);
                    break;
                case "verbose":
                    WriteVerbose(e.Text ?? string.Empty);
                    break;
                case "progress":
                    WriteProgress(e.Activity, e.Current ?? 0, e.Total ?? 0);
                    break;
                case "keyPending":
                    string action = string.IsNullOrEmpty(e.Action) ? "Write key into the vault" : e.Action!;
                    bool proceed = ShouldProcess(e.Key == null ? string.Empty : PendingTarget(e.Key), action)
                        && (e.Key == null || ConfirmPending(e.Key, action));
                    return proceed ? TvmReply.Proceed : TvmReply.Skip;
                case "backupPending":
                    return ShouldProcess(e.Path ?? string.Empty, string.IsNullOrEmpty(e.Action) ? "Remove backup" : e.Action!)
                        ? TvmReply.Proceed
                        : TvmReply.Skip;
                case "keyRestored":
                    if (e.Restore != null)
                    {
                        OnKeyRestored(e.Restore);
                    }
                    break;
                default:
                    break; // an event newer than this assembly: nothing to show
            }
            return TvmReply.Proceed;
        }

        // One progress activity per command; two commands of one pipeline get distinct bars.
        private int ProgressActivityId => 0x7476 + (MyInvocation?.PipelinePosition ?? 0);

        private string _progressActivity = string.Empty;
        private uint _progressTotal;

        /// <summary>Progress: <paramref name="current"/> of <paramref name="total"/> (1-based) is about to be handled.</summary>
        private void WriteProgress(string? activity, uint current, uint total)
        {
            string next = !string.IsNullOrEmpty(activity) ? activity! : MyInvocation?.MyCommand?.Name ?? "TvmBackupUtils";
            if (_progressShown && next != _progressActivity)
            {
                // A command with two loops (check the files, then unwrap the keys) finishes the first bar at 100%.
                WriteFullProgress();
            }
            _progressActivity = next;
            _progressTotal = total;
            var record = new ProgressRecord(ProgressActivityId, _progressActivity, $"{current} of {total}");
            if (total > 0 && current > 0)
            {
                record.PercentComplete = (int)Math.Min(100UL, (ulong)(current - 1) * 100UL / total);
            }
            WriteProgress(record);
            _progressShown = true;
        }

        /// <summary>Ends the bar; one that finished its loop (<paramref name="finished"/>) shows 100% first.</summary>
        private void CompleteProgress(bool finished)
        {
            if (!_progressShown || Stopping)
            {
                return;
            }
            _progressShown = false;
            if (finished)
            {
                WriteFullProgress();
            }
            WriteProgress(new ProgressRecord(ProgressActivityId, _progressActivity, "Completed")
            {
                RecordType = ProgressRecordType.Completed,
            });
        }

        /// <summary>The last item of a loop is done: the bar reaches 100% before it is completed.</summary>
        private void WriteFullProgress()
        {
            WriteProgress(new ProgressRecord(ProgressActivityId, _progressActivity, $"{_progressTotal} of {_progressTotal}")
            {
                PercentComplete = 100,
            });
        }
    }

    /// <summary>
    /// A cmdlet that works on a vault: -VaultPath, else the environment variable TVM_VAULT_PATH (a local
    /// vault), else the cluster's MOC key vault through the Moc cmdlets (-Group, -KeyVaultName, -TimeoutSec),
    /// after the original's MOC version gates. The vault stays open for the command.
    /// </summary>
    public abstract class TvmVaultCmdlet : TvmCmdlet, IDisposable
    {
        /// <summary>Name of the environment variable that selects a LocalVault folder.</summary>
        internal const string VaultPathVariable = "TVM_VAULT_PATH";

        private VaultHandle? _vault;
        private volatile MocShell? _moc;

        private protected TvmVaultCmdlet() { }

        /// <summary>Folder of a LocalVault; default: $env:TVM_VAULT_PATH.</summary>
        [Parameter]
        public string? VaultPath { get; set; }

        /// <summary>MOC resource group of the key vault (the Moc cmdlets' -group). Ignored for a local vault.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; } = MocVault.DefaultGroup;

        /// <summary>MOC key vault (the Moc cmdlets' -keyvaultName). Ignored for a local vault.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyVaultName { get; set; } = MocVault.DefaultKeyVaultName;

        /// <summary>Seconds one Moc cmdlet call may take before it is stopped. Ignored for a local vault.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        /// <summary>
        /// Whether the MOC stack version gate applies too ((Get-MocConfig).version; the original checks it only
        /// to import the wrapping key).
        /// </summary>
        private protected virtual bool ChecksMocStackVersion => false;

        /// <summary>Opens the vault once per command (<paramref name="create"/>: make an empty LocalVault if none).</summary>
        private protected VaultHandle OpenVault(bool create)
        {
            if (_vault != null)
            {
                return _vault;
            }
            string? given = VaultPath;
            string source = "-VaultPath";
            if (string.IsNullOrEmpty(given))
            {
                given = Environment.GetEnvironmentVariable(VaultPathVariable);
                source = "$env:" + VaultPathVariable;
            }
            if (string.IsNullOrEmpty(given))
            {
                _vault = OpenMocVault();
                return _vault;
            }
            string path = ResolvePath(given!, source);
            TvmNative native = Native;
            byte[] request = Json.Write(new OpenLocalRequest { VaultPath = path, Create = create, FromEnvironment = source != "-VaultPath" });
            TvmStatus status = native.VaultOpenLocal(request, (UIntPtr)request.Length, out IntPtr vault, out TvmBuffer buffer);
            byte[] result = native.Take(buffer);
            if (status == TvmStatus.Ok && vault != IntPtr.Zero)
            {
                _vault = VaultHandle.FromPointer(vault);
            }
            ResultOf<OpenResult>(status, result, path, source);
            return _vault!;
        }

        /// <summary>The MOC vault: the engine reads Get-MocConfig through the adapter and applies the version gates.</summary>
        private VaultHandle OpenMocVault()
        {
            TvmNative native = Native;
            var moc = new MocShell(this, TimeoutSec);
            _moc = moc;
            IntPtr vault = IntPtr.Zero;
            (TvmStatus status, byte[] bytes) = CallEngine(sink =>
                MocVault.Open(native, moc, Group, KeyVaultName, ChecksMocStackVersion, sink, out vault));
            if (status == TvmStatus.Ok && vault != IntPtr.Zero)
            {
                _vault = VaultHandle.FromPointer(vault);
            }
            ResultOf<OpenResult>(status, bytes, null);
            return _vault!;
        }

        /// <summary>Ctrl+C: stops the running Moc call, if any (the engine then stops between keys).</summary>
        protected override void StopProcessing()
        {
            _moc?.Stop();
            base.StopProcessing();
        }

        /// <summary>Frees the vault (the engine calls this when the command ends, also on failure).</summary>
        public void Dispose()
        {
            _vault?.Dispose();
            _vault = null;
            _moc?.Dispose();
            _moc = null;
        }
    }
}
