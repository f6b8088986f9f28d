using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace TvmBackupUtils.Moc
{
    /// <summary>How one Moc cmdlet call ended; the names are the outcomes of a host reply (docs/abi.md).</summary>
    internal enum MocOutcome
    {
        Ok,
        Failed,
        Timeout,
        Cancelled,
    }

    /// <summary>What one Moc cmdlet call gave: its outcome, its output, and on failure its message in full.</summary>
    internal sealed class MocResult
    {
        private MocResult(MocOutcome status, Collection<PSObject> output, string? message)
        {
            Status = status;
            Output = output;
            Message = message;
        }

        internal MocOutcome Status { get; }
        internal Collection<PSObject> Output { get; }
        internal string? Message { get; }

        internal static MocResult Ok(Collection<PSObject> output) => new MocResult(MocOutcome.Ok, output, null);

        internal static MocResult Failed(MocOutcome status, string message) =>
            new MocResult(status, new Collection<PSObject>(), message);
    }

    /// <summary>One Moc cmdlet call: the cmdlet, the key it is about (null: none) and its parameters, as the original spells them.</summary>
    internal sealed class MocCall
    {
        internal MocCall(string command, string? keyName, KeyValuePair<string, object>[] parameters)
        {
            Command = command;
            KeyName = keyName;
            Parameters = parameters;
        }

        internal string Command { get; }
        internal string? KeyName { get; }
        internal KeyValuePair<string, object>[] Parameters { get; }
    }

    /// <summary>
    /// Runs the Moc cmdlets of one command in the caller's runspace, on its pipeline thread, as the original
    /// script runs them: a nested pipeline (<c>PowerShell.Create(RunspaceMode.CurrentRunspace)</c>), so the
    /// Moc module is found, auto-loaded and configured exactly as for the original. A call that has not
    /// returned within <c>-TimeoutSec</c> is stopped from a timer thread; the command's own stop (Ctrl+C)
    /// stops the running call too. Never throws: every failure is a <see cref="MocResult"/>. With -ThrottleLimit,
    /// a batch of calls runs on a runspace pool of the command instead (<see cref="InvokeMany"/>), each call in a
    /// runspace of its own that imports the same Moc module; the pool is closed when the command ends (Dispose).
    /// </summary>
    internal sealed class MocShell : IDisposable
    {
        private readonly Cmdlet _cmdlet;
        private readonly int _timeoutSec;
        private readonly int _pipelineThread;
        private readonly object _gate = new object();
        private PowerShell? _running;
        private readonly List<PowerShell> _many = new List<PowerShell>();
        private RunspacePool? _pool;

        internal MocShell(Cmdlet cmdlet, int timeoutSec)
        {
            _cmdlet = cmdlet;
            _timeoutSec = timeoutSec;
            _pipelineThread = Thread.CurrentThread.ManagedThreadId;
        }

        /// <summary>The command is stopping (Ctrl+C, PowerShell.Stop).</summary>
        internal bool Stopping => _cmdlet.Stopping;

        /// <summary>
        /// Runs <paramref name="command"/> with <paramref name="parameters"/> (names spelled as the original
        /// script spells them). <paramref name="keyName"/> names the key in a timeout message (null: none).
        /// </summary>
        internal MocResult Invoke(string command, string? keyName, params KeyValuePair<string, object>[] parameters)
        {
            if (_cmdlet.Stopping)
            {
                return MocResult.Failed(MocOutcome.Cancelled, $"{command} was not run: the command is stopping.");
            }
            if (Thread.CurrentThread.ManagedThreadId != _pipelineThread)
            {
                // The Moc cmdlets can only run on the pipeline thread of the caller's runspace.
                return MocResult.Failed(MocOutcome.Failed,
                    $"{command} was not run: the TvmBackupUtils engine called the Moc adapter from another thread than the command's pipeline thread.");
            }

            using PowerShell ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddCommand(command);
            foreach (KeyValuePair<string, object> parameter in parameters)
            {
                ps.AddParameter(parameter.Key, parameter.Value);
            }

            var call = new RunningCall(ps);
            lock (_gate)
            {
                _running = ps;
            }
            Collection<PSObject>? output = null;
            Exception? thrown = null;
            var timer = new Timer(OnTimeout, call, TimeSpan.FromSeconds(_timeoutSec), Timeout.InfiniteTimeSpan);
            try
            {
                output = ps.Invoke();
            }
            catch (Exception e)
            {
                thrown = e;
            }
            finally
            {
                // Wait for a timer callback in flight, so that nothing stops this PowerShell once it is disposed.
                using (var done = new ManualResetEvent(false))
                {
                    if (timer.Dispose(done))
                    {
                        done.WaitOne();
                    }
                }
                lock (_gate)
                {
                    _running = null;
                }
            }

            return Conclude(ps, call, output, thrown, command, keyName);
        }

        /// <summary>What a finished call gave: its outcome (a timeout, a stop, a failure with its text) and output.</summary>
        private MocResult Conclude(PowerShell ps, RunningCall call, Collection<PSObject>? output, Exception? thrown, string command, string? keyName)
        {
            bool stopped = thrown is PipelineStoppedException || ps.InvocationStateInfo.State == PSInvocationState.Stopped;
            bool failed = stopped || thrown != null || ps.Streams.Error.Count > 0;
            // A call that completed just as the timer fired did its work: only a call that failed or was stopped
            // after the timeout is a timeout.
            if (call.TimedOut && failed)
            {
                string forKey = keyName == null ? string.Empty : $" for key '{keyName}'";
                return MocResult.Failed(MocOutcome.Timeout,
                    $"{command} did not return within {_timeoutSec.ToString(CultureInfo.InvariantCulture)} seconds{forKey}; it was stopped.");
            }
            if (stopped || (failed && _cmdlet.Stopping))
            {
                return MocResult.Failed(MocOutcome.Cancelled, $"{command} was stopped.");
            }
            if (thrown != null)
            {
                return MocResult.Failed(MocOutcome.Failed, MessageOf(thrown));
            }
            if (ps.Streams.Error.Count > 0)
            {
                var messages = new List<string>();
                foreach (ErrorRecord record in ps.Streams.Error)
                {
                    messages.Add(MessageOf(record));
                }
                return MocResult.Failed(MocOutcome.Failed, string.Join(Environment.NewLine, messages));
            }
            return MocResult.Ok(output ?? new Collection<PSObject>());
        }

        /// <summary>
        /// Runs <paramref name="calls"/> with up to <paramref name="throttle"/> at a time (-ThrottleLimit), each in
        /// a runspace of a pool whose runspaces import the module that provides the Moc cmdlets in the caller's
        /// session (by its path, so the same module is used). Each call has its own -TimeoutSec, counted from its
        /// start; Ctrl+C stops every running call and starts no more. The results are in the calls' order. When the
        /// Moc cmdlets' module cannot be found, the calls run one at a time in the caller's runspace, which gives
        /// the usual message.
        /// </summary>
        internal MocResult[] InvokeMany(IReadOnlyList<MocCall> calls, int throttle)
        {
            var results = new MocResult?[calls.Count];
            RunspacePool? pool = throttle > 1 && calls.Count > 1 ? Pool(throttle) : null;
            if (pool == null)
            {
                for (int i = 0; i < calls.Count; i++)
                {
                    results[i] = Invoke(calls[i].Command, calls[i].KeyName, calls[i].Parameters);
                }
                return Finished(results);
            }
            var running = new List<(int Index, PowerShell Ps, RunningCall Call, IAsyncResult Async, Timer Timer)>();
            int next = 0;
            try
            {
                while (next < calls.Count || running.Count > 0)
                {
                    while (next < calls.Count && running.Count < throttle && !_cmdlet.Stopping)
                    {
                        MocCall c = calls[next];
                        PowerShell ps = PowerShell.Create();
                        ps.RunspacePool = pool;
                        ps.AddCommand(c.Command);
                        foreach (KeyValuePair<string, object> parameter in c.Parameters)
                        {
                            ps.AddParameter(parameter.Key, parameter.Value);
                        }
                        var call = new RunningCall(ps);
                        lock (_gate)
                        {
                            _many.Add(ps);
                        }
                        var timer = new Timer(OnTimeout, call, TimeSpan.FromSeconds(_timeoutSec), Timeout.InfiniteTimeSpan);
                        running.Add((next, ps, call, ps.BeginInvoke(), timer));
                        next++;
                    }
                    if (running.Count == 0)
                    {
                        break;
                    }
                    var handles = new WaitHandle[running.Count];
                    for (int i = 0; i < running.Count; i++)
                    {
                        handles[i] = running[i].Async.AsyncWaitHandle;
                    }
                    int done = WaitHandle.WaitAny(handles);
                    var (index, donePs, doneCall, async, doneTimer) = running[done];
                    running.RemoveAt(done);
                    results[index] = End(calls[index], donePs, doneCall, async, doneTimer);
                }
            }
            finally
            {
                // Only on an exception of this loop itself: stop what still runs, and wait for it.
                foreach (var (index, ps, call, async, timer) in running)
                {
                    BeginStop(ps);
                    results[index] = End(calls[index], ps, call, async, timer);
                }
            }
            for (int i = next; i < calls.Count; i++)
            {
                results[i] = MocResult.Failed(MocOutcome.Cancelled, $"{calls[i].Command} was not run: the command is stopping.");
            }
            return Finished(results);
        }

        private MocResult End(MocCall c, PowerShell ps, RunningCall call, IAsyncResult async, Timer timer)
        {
            Collection<PSObject>? output = null;
            Exception? thrown = null;
            try
            {
                PSDataCollection<PSObject> data = ps.EndInvoke(async);
                output = new Collection<PSObject>(new List<PSObject>(data));
            }
            catch (Exception e)
            {
                thrown = e;
            }
            using (var disposed = new ManualResetEvent(false))
            {
                if (timer.Dispose(disposed))
                {
                    disposed.WaitOne();
                }
            }
            lock (_gate)
            {
                _many.Remove(ps);
            }
            MocResult result = Conclude(ps, call, output, thrown, c.Command, c.KeyName);
            ps.Dispose();
            return result;
        }

        private static MocResult[] Finished(MocResult?[] results)
        {
            var all = new MocResult[results.Length];
            for (int i = 0; i < results.Length; i++)
            {
                all[i] = results[i] ?? MocResult.Failed(MocOutcome.Failed, "The call was not run.");
            }
            return all;
        }

        /// <summary>
        /// The command's runspace pool, made at its first batch: <paramref name="throttle"/> runspaces, each importing
        /// the module of <c>Export-MocKey</c> as the caller's session finds it. Null when that module cannot be found.
        /// </summary>
        private RunspacePool? Pool(int throttle)
        {
            if (_pool != null)
            {
                return _pool;
            }
            string? module = MocModulePath();
            if (module == null)
            {
                return null;
            }
            InitialSessionState state = InitialSessionState.CreateDefault2();
            state.ImportPSModule(new[] { module });
            RunspacePool pool = RunspaceFactory.CreateRunspacePool(state);
            pool.SetMaxRunspaces(throttle);
            pool.Open();
            _pool = pool;
            return pool;
        }

        /// <summary>Where the caller's session finds the Moc cmdlets: the path of the module of <c>Export-MocKey</c>.</summary>
        private string? MocModulePath()
        {
            using PowerShell ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddCommand("Get-Command").AddParameter("Name", "Export-MocKey").AddParameter("ErrorAction", "Ignore");
            try
            {
                foreach (PSObject found in ps.Invoke())
                {
                    if (found?.BaseObject is CommandInfo command && command.Module != null && !string.IsNullOrEmpty(command.Module.Path))
                    {
                        // A binary module's Path is its DLL; the manifest beside it, when there is one, is what was imported.
                        string path = command.Module.Path;
                        string manifest = System.IO.Path.ChangeExtension(path, ".psd1");
                        return System.IO.File.Exists(manifest) ? manifest : path;
                    }
                }
            }
            catch (Exception)
            {
                // Not found, or Get-Command failed: the calls run one at a time and say why.
            }
            return null;
        }

        /// <summary>Closes the command's runspace pool, if one was made.</summary>
        public void Dispose()
        {
            _pool?.Dispose();
            _pool = null;
        }

        /// <summary>Stops the running Moc calls, if any (from StopProcessing, on another thread).</summary>
        internal void Stop()
        {
            PowerShell? running;
            PowerShell[] many;
            lock (_gate)
            {
                running = _running;
                many = _many.ToArray();
            }
            BeginStop(running);
            foreach (PowerShell ps in many)
            {
                BeginStop(ps);
            }
        }

        private static void OnTimeout(object state)
        {
            var call = (RunningCall)state;
            call.TimedOut = true;
            BeginStop(call.PowerShell);
        }

        private static void BeginStop(PowerShell? ps)
        {
            try
            {
                ps?.BeginStop(null, null);
            }
            catch (Exception)
            {
                // It has finished, or is being disposed, in the meantime: nothing left to stop. A timer or
                // StopProcessing thread must never throw.
            }
        }

        /// <summary>The text the original shows for a failure (<c>"$_"</c>): ErrorDetails if set, else the exception's message.</summary>
        private static string MessageOf(Exception e)
        {
            if (e is IContainsErrorRecord withRecord && withRecord.ErrorRecord != null)
            {
                return MessageOf(withRecord.ErrorRecord);
            }
            return e.Message;
        }

        private static string MessageOf(ErrorRecord record) => record.ToString();

        private sealed class RunningCall
        {
            internal RunningCall(PowerShell ps)
            {
                PowerShell = ps;
            }

            internal PowerShell PowerShell { get; }

            internal volatile bool TimedOut;
        }
    }

    /// <summary>Reads members of the objects the Moc cmdlets return, as PowerShell's <c>$o.name</c> does.</summary>
    internal static class MocObjects
    {
        /// <summary>The member <paramref name="name"/> (case-insensitive) of an object or of a dictionary; null if none.</summary>
        internal static object? Member(object? target, string name)
        {
            if (target == null)
            {
                return null;
            }
            object baseObject = target is PSObject wrapped ? wrapped.BaseObject : target;
            if (baseObject is IDictionary dictionary)
            {
                if (dictionary.Contains(name))
                {
                    return Unwrap(dictionary[name]);
                }
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (string.Equals(Convert.ToString(entry.Key, CultureInfo.InvariantCulture), name, StringComparison.OrdinalIgnoreCase))
                    {
                        return Unwrap(entry.Value);
                    }
                }
                return null;
            }
            PSPropertyInfo? property = PSObject.AsPSObject(target).Properties[name];
            return property == null ? null : Unwrap(property.Value);
        }

        /// <summary>A value as text (invariant culture); null stays null.</summary>
        internal static string? Text(object? value) =>
            value == null ? null : value as string ?? Convert.ToString(value, CultureInfo.InvariantCulture);

        /// <summary>A size that may come as a number or as text; 0 when it is neither.</summary>
        internal static uint Size(object? value)
        {
            if (value == null)
            {
                return 0;
            }
            return LanguagePrimitives.TryConvertTo(value, CultureInfo.InvariantCulture, out uint size) ? size : 0;
        }

        private static object? Unwrap(object? value) => value is PSObject wrapped && !(wrapped.BaseObject is PSCustomObject) ? wrapped.BaseObject : value;
    }
}
