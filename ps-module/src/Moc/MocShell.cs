using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
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

    /// <summary>
    /// Runs the Moc cmdlets of one command in the caller's runspace, on its pipeline thread, as the original
    /// script runs them: a nested pipeline (<c>PowerShell.Create(RunspaceMode.CurrentRunspace)</c>), so the
    /// Moc module is found, auto-loaded and configured exactly as for the original. A call that has not
    /// returned within <c>-TimeoutSec</c> is stopped from a timer thread; the command's own stop (Ctrl+C)
    /// stops the running call too. Never throws: every failure is a <see cref="MocResult"/>.
    /// </summary>
    internal sealed class MocShell
    {
        private readonly Cmdlet _cmdlet;
        private readonly int _timeoutSec;
        private readonly int _pipelineThread;
        private readonly object _gate = new object();
        private PowerShell? _running;

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

        /// <summary>Stops the running Moc call, if any (from StopProcessing, on another thread).</summary>
        internal void Stop()
        {
            PowerShell? running;
            lock (_gate)
            {
                running = _running;
            }
            BeginStop(running);
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
