using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.ExceptionServices;
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
        private Action<TvmKey>? _keyListed;

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
        /// Runs one engine call that streams events to this cmdlet. The callback delegate is kept alive for the
        /// call; an exception thrown while handling an event (PipelineStoppedException included) is held, the
        /// engine is told to cancel, and the exception is rethrown here once the engine has returned.
        /// </summary>
        private protected TvmStatus RunWithEvents(Func<TvmEventCallback, uint> call)
        {
            _callbackFailure = null;
            TvmEventCallback callback = OnNativeEvent;
            uint status;
            ExceptionDispatchInfo? failure = null;
            try
            {
                status = call(callback);
            }
            finally
            {
                GC.KeepAlive(callback);
                failure = _callbackFailure;
                _callbackFailure = null;
                try
                {
                    CompleteProgress();
                }
                catch (Exception) when (failure != null)
                {
                    // the held exception is the one to report
                }
            }
            failure?.Throw();
            return (TvmStatus)status;
        }

        /// <summary>Terminating error for a failed whole-command call (reads and frees tvm_last_error()).</summary>
        private protected void ThrowIfFailed(TvmStatus status, object? target)
        {
            if (status == TvmStatus.Ok)
            {
                return;
            }
            string? text = Native.TakeLastError();
            if (Stopping)
            {
                // Ctrl+C: whatever the engine made of the stopped call, the command ends stopped.
                throw new PipelineStoppedException();
            }
            ThrowTerminatingError(Errors.FromStatus(status, text, target));
        }

        /// <summary>Lists the keys of a vault through KeyListed events.</summary>
        private protected void ListKeys(VaultHandle vault, Action<TvmKey> onKey)
        {
            TvmNative native = Native;
            _keyListed = onKey;
            try
            {
                TvmStatus status = RunWithEvents(callback => vault.Use(v => native.VaultList(v, callback, IntPtr.Zero)));
                ThrowIfFailed(status, null);
            }
            finally
            {
                _keyListed = null;
            }
        }

        /// <summary>Non-terminating error for one key that failed (the loop in the engine goes on).</summary>
        private protected void WriteKeyError(TvmEvent e, string errorId, string messagePrefix)
        {
            var exception = new TvmException(e.Status, messagePrefix + e.Text);
            object target = e.KeyName.Length > 0 ? e.KeyName : e.File;
            WriteError(new ErrorRecord(exception, errorId, Errors.Category(e.Status), target));
        }

        /// <summary>A KeyListed event as a key (Fingerprint is the event's text).</summary>
        private protected static TvmKey KeyFromEvent(TvmEvent e, string? fingerprint) => new TvmKey
        {
            Name = e.KeyName,
            Type = e.KeyType,
            Size = (int)e.KeySize,
            Fingerprint = string.IsNullOrEmpty(fingerprint) ? null : fingerprint,
            File = e.File.Length > 0 ? e.File : null,
        };

        /// <summary>KeyDone: one key's result. Default: ignored.</summary>
        private protected virtual void OnKeyDone(TvmEvent e) { }

        /// <summary>Backup: the text is the path of the backup folder. Default: ignored.</summary>
        private protected virtual void OnBackup(TvmEvent e) { }

        /// <summary>The ShouldProcess target for a KeyPending event (the action is the event's text).</summary>
        private protected virtual string PendingTarget(TvmEvent e) => e.KeyName.Length > 0 ? e.KeyName : e.File;

        private uint OnNativeEvent(IntPtr context, IntPtr evt)
        {
            try
            {
                if (_callbackFailure != null || Stopping)
                {
                    return (uint)TvmReply.Cancel;
                }
                return (uint)Dispatch(TvmEvent.FromNative(evt));
            }
            catch (Exception e)
            {
                _callbackFailure = ExceptionDispatchInfo.Capture(e);
                return (uint)TvmReply.Cancel;
            }
        }

        private TvmReply Dispatch(TvmEvent e)
        {
            switch (e.Kind)
            {
                case TvmEventKind.Message:
                    WriteInformation(new HostInformationMessage { Message = e.Text }, new[] { "PSHOST" });
                    break;
                case TvmEventKind.Warning:
                    WriteWarning(e.Text);
                    break;
                case TvmEventKind.Progress:
                    WriteProgress(e);
                    break;
                case TvmEventKind.KeyPending:
                    return ShouldProcess(PendingTarget(e), e.Text.Length > 0 ? e.Text : "Write key into the vault")
                        ? TvmReply.Proceed
                        : TvmReply.Skip;
                case TvmEventKind.KeyDone:
                    OnKeyDone(e);
                    break;
                case TvmEventKind.Backup:
                    OnBackup(e);
                    break;
                case TvmEventKind.KeyListed:
                    _keyListed?.Invoke(KeyFromEvent(e, e.Text));
                    break;
                default:
                    break; // a kind newer than this assembly: nothing to show
            }
            return TvmReply.Proceed;
        }

        // One progress activity per command; two commands of one pipeline get distinct bars.
        private int ProgressActivityId => 0x7476 + (MyInvocation?.PipelinePosition ?? 0);

        private string _progressActivity = string.Empty;

        /// <summary>Progress: <c>current</c> of <c>total</c> (1-based) is about to be handled; text is the activity.</summary>
        private void WriteProgress(TvmEvent e)
        {
            _progressActivity = e.Text.Length > 0 ? e.Text : MyInvocation?.MyCommand?.Name ?? "TvmBackupUtils";
            var record = new ProgressRecord(ProgressActivityId, _progressActivity, $"{e.Current} of {e.Total}");
            if (e.Total > 0 && e.Current > 0)
            {
                record.PercentComplete = (int)Math.Min(100UL, (ulong)(e.Current - 1) * 100UL / e.Total);
            }
            WriteProgress(record);
            _progressShown = true;
        }

        private void CompleteProgress()
        {
            if (!_progressShown || Stopping)
            {
                return;
            }
            _progressShown = false;
            WriteProgress(new ProgressRecord(ProgressActivityId, _progressActivity, "Completed")
            {
                RecordType = ProgressRecordType.Completed,
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
            var status = (TvmStatus)native.VaultOpenLocal(path, create ? 1u : 0u, out IntPtr vault);
            if (status != TvmStatus.Ok || vault == IntPtr.Zero)
            {
                ThrowIfFailed(status == TvmStatus.Ok ? TvmStatus.Vault : status, path);
            }
            _vault = VaultHandle.FromPointer(vault);
            return _vault;
        }

        /// <summary>The MOC vault: the version gates first (Get-MocConfig, once), then the adapter.</summary>
        private VaultHandle OpenMocVault()
        {
            TvmNative native = Native;
            var moc = new MocShell(this, TimeoutSec);
            _moc = moc;
            (string? moduleVersion, string? version, string? failure) = MocVault.ReadVersions(moc);
            if (failure != null)
            {
                WriteVerbose("Get-MocConfig: " + failure);
            }
            var gate = (TvmStatus)native.MocCheckVersions(moduleVersion, version, ChecksMocStackVersion ? 1u : 0u);
            ThrowIfFailed(gate, null);
            TvmStatus status = MocVault.Open(native, moc, Group, KeyVaultName, out IntPtr vault);
            ThrowIfFailed(status, KeyVaultName);
            return VaultHandle.FromPointer(vault);
        }

        /// <summary>Ctrl+C: stops the running Moc call, if any (the engine then stops between keys).</summary>
        protected override void StopProcessing()
        {
            _moc?.Stop();
            base.StopProcessing();
        }

        /// <summary>The vault key of that exact name, or null.</summary>
        private protected TvmKey? FindKey(VaultHandle vault, string name)
        {
            TvmKey? found = null;
            ListKeys(vault, key =>
            {
                if (found == null && string.Equals(key.Name, name, StringComparison.Ordinal))
                {
                    found = key;
                }
            });
            return found;
        }

        /// <summary>Frees the vault (the engine calls this when the command ends, also on failure).</summary>
        public void Dispose()
        {
            _vault?.Dispose();
            _vault = null;
        }
    }
}
