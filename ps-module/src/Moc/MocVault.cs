using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Runtime.InteropServices;
using TvmBackupUtils.Api;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Moc
{
    /// <summary>
    /// The host half of the cluster's MOC key vault: the engine's MOC vault (src/vault/moc.rs) sends each
    /// operation as JSON to one dispatcher, and this class runs the Moc cmdlet the original script calls for
    /// it, with its parameter names and values (docs/format.md section 9, docs/abi.md), and replies with what the
    /// cmdlet gave. It only calls and converts: what a failure means (MOC's <c>InvalidVersion</c>,
    /// <c>Not Found</c>) and the version gates are decided by the engine from the reply.
    /// </summary>
    internal sealed class MocVault
    {
        /// <summary>The original's <c>-group</c>.</summary>
        internal const string DefaultGroup = "AzureStackHostAttestation";

        /// <summary>The original's <c>-keyvaultName</c>.</summary>
        internal const string DefaultKeyVaultName = "AzureStackTvmKeyVault";

        // Static, so the delegates and their native thunks live as long as the process and a late call (release
        // from a finalizer) never meets a collected delegate. The vault's own state is reached through the
        // GCHandle in the context, which release frees.
        private static readonly TvmHostDispatch DispatchCallback = OnDispatch;
        private static readonly TvmHostRelease ReleaseCallback = OnRelease;

        private readonly MocShell _moc;
        private readonly string _group;
        private readonly string _keyVaultName;

        /// <summary>The last reply, in unmanaged memory: the engine reads it until the next dispatch or release.</summary>
        private IntPtr _reply;

        private MocVault(MocShell moc, string group, string keyVaultName)
        {
            _moc = moc;
            _group = group;
            _keyVaultName = keyVaultName;
        }

        /// <summary>
        /// Opens the engine's MOC vault over this adapter. The engine takes the host over: it calls release once,
        /// when the vault is freed or, if opening fails, before it returns.
        /// </summary>
        internal static (TvmStatus, byte[]) Open(TvmNative native, MocShell moc, string group, string keyVaultName,
            bool checkStackVersion, TvmEventSink sink, out IntPtr vault)
        {
            GCHandle context = GCHandle.Alloc(new MocVault(moc, group, keyVaultName));
            var host = new TvmHostVault
            {
                Context = GCHandle.ToIntPtr(context),
                Dispatch = Marshal.GetFunctionPointerForDelegate(DispatchCallback),
                Release = Marshal.GetFunctionPointerForDelegate(ReleaseCallback),
            };
            byte[] request = Json.Write(new OpenMocRequest { CheckStackVersion = checkStackVersion, Group = group, VaultName = keyVaultName });
            TvmStatus status = native.VaultOpenMoc(ref host, request, (UIntPtr)request.Length, sink, IntPtr.Zero, out vault, out TvmBuffer buffer);
            return (status, native.Take(buffer));
        }

        /// <summary>Runs one operation: one Moc cmdlet, parameters as the original spells them.</summary>
        private HostReply Run(HostOp op)
        {
            switch (op.Op)
            {
                case "getConfig":
                    return GetConfig();
                case "list":
                    return List();
                case "batch":
                    return Batch(op);
            }
            MocCall? call = Describe(op);
            return call == null ? Unknown(op) : Reply(_moc.Invoke(call.Command, call.KeyName, call.Parameters));
        }

        /// <summary>
        /// Several exports or imports (-ThrottleLimit): up to <c>throttle</c> at a time on a runspace pool, the
        /// replies in the calls' order (the engine decides what goes in a batch). The limit of 64 is WaitHandle.WaitAny's.
        /// </summary>
        private HostReply Batch(HostOp op)
        {
            HostOp[] ops = op.Calls ?? Array.Empty<HostOp>();
            var calls = new List<MocCall>(ops.Length);
            foreach (HostOp one in ops)
            {
                MocCall? call = Describe(one);
                if (call == null)
                {
                    return Unknown(one);
                }
                calls.Add(call);
            }
            MocResult[] results = _moc.InvokeMany(calls, (int)Math.Min(op.Throttle ?? 1, 64));
            var replies = new HostReply[results.Length];
            for (int i = 0; i < results.Length; i++)
            {
                replies[i] = Reply(results[i]);
            }
            return new HostReply { Replies = replies };
        }

        private static HostReply Unknown(HostOp op) => new HostReply
        {
            Outcome = "failed",
            Message = $"The Moc vault adapter does not know the operation '{op.Op}': the module folder mixes two builds.",
        };

        /// <summary>The Moc cmdlet call for an operation on one key; null for an operation this adapter does not know.</summary>
        private MocCall? Describe(HostOp op)
        {
            string name = op.Name ?? string.Empty;
            int size = (int)(op.Size ?? 0);
            switch (op.Op)
            {
                case "export" when !string.IsNullOrEmpty(op.WrappingKeyName):
                    // The vault-to-vault flow: the name of the wrapping key in the vault that will import the file.
                    return new MocCall("Export-MocKey", name, new[] {
                        P("name", name),
                        P("wrappingKeyName", op.WrappingKeyName!),
                        P("wrappingPubKeyFile", op.WrappingKeyPath ?? string.Empty),
                        P("outFile", op.OutFile ?? string.Empty),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("size", size) });
                case "export":
                    return new MocCall("Export-MocKey", name, new[] {
                        P("name", name),
                        P("wrappingPubKeyFile", op.WrappingKeyPath ?? string.Empty),
                        P("outFile", op.OutFile ?? string.Empty),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("size", size) });
                case "import" when string.IsNullOrEmpty(op.WrappingKeyName):
                    // The NO_KEY_WRAP wrapping key pair (Import-TvmWrappingKeyFromPem).
                    return new MocCall("Import-MocKey", name, new[] {
                        P("name", name),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("importKeyFile", op.File ?? string.Empty),
                        P("type", op.Type ?? string.Empty),
                        P("size", size) });
                case "import":
                    // A key of a backup (Import-TVMKeys).
                    return new MocCall("Import-MocKey", name, new[] {
                        P("name", name),
                        P("wrappingKeyName", op.WrappingKeyName!),
                        P("importKeyFile", op.File ?? string.Empty),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("size", size),
                        P("Type", op.Type ?? string.Empty) });
                case "delete":
                    return new MocCall("Remove-MocKey", name, new[] {
                        P("name", name),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName) });
                case "create":
                    return new MocCall("New-MocKey", name, new[] {
                        P("name", name),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("type", op.Type ?? string.Empty),
                        P("size", size) });
                case "publicKey":
                    return new MocCall("Get-MocKeyPublicKey", name, new[] {
                        P("name", name),
                        P("group", _group),
                        P("keyvaultName", _keyVaultName),
                        P("outputFile", op.OutFile ?? string.Empty) });
                default:
                    return null;
            }
        }

        /// <summary><c>(Get-MocConfig).moduleVersion</c> and <c>.version</c>, as text; absent when it gave none.</summary>
        private HostReply GetConfig()
        {
            MocResult result = _moc.Invoke("Get-MocConfig", null);
            if (result.Status != MocOutcome.Ok)
            {
                return Reply(result);
            }
            foreach (PSObject config in result.Output)
            {
                if (config != null)
                {
                    return new HostReply
                    {
                        ModuleVersion = MocObjects.Text(MocObjects.Member(config, "moduleVersion")),
                        Version = MocObjects.Text(MocObjects.Member(config, "version")),
                    };
                }
            }
            return new HostReply { Outcome = "failed", Message = "Get-MocConfig returned nothing." };
        }

        /// <summary><c>Get-MocKey</c>: each key's <c>Name</c>, <c>properties.kty</c> and <c>properties.key_size</c>.</summary>
        private HostReply List()
        {
            MocResult result = _moc.Invoke("Get-MocKey", null,
                P("group", _group),
                P("keyvaultName", _keyVaultName));
            if (result.Status != MocOutcome.Ok)
            {
                return Reply(result);
            }
            var keys = new List<TvmKey>();
            foreach (PSObject key in result.Output)
            {
                if (key == null)
                {
                    continue;
                }
                object? properties = MocObjects.Member(key, "properties");
                keys.Add(new TvmKey
                {
                    Name = MocObjects.Text(MocObjects.Member(key, "Name")) ?? string.Empty,
                    Type = MocObjects.Text(MocObjects.Member(properties, "kty")) ?? string.Empty,
                    Size = (int)MocObjects.Size(MocObjects.Member(properties, "key_size")),
                });
            }
            return new HostReply { Keys = keys.ToArray() };
        }

        private static HostReply Reply(MocResult result) => new HostReply
        {
            Outcome = result.Status switch
            {
                MocOutcome.Ok => "ok",
                MocOutcome.Timeout => "timeout",
                MocOutcome.Cancelled => "cancelled",
                _ => "failed",
            },
            Message = result.Message,
        };

        private static KeyValuePair<string, object> P(string name, object value) => new KeyValuePair<string, object>(name, value);

        /// <summary>Keeps <paramref name="bytes"/> in unmanaged memory until the next reply or release, and hands them to the engine.</summary>
        private void SetReply(IntPtr reply, byte[] bytes)
        {
            FreeReply();
            _reply = Marshal.AllocHGlobal(Math.Max(1, bytes.Length));
            Marshal.Copy(bytes, 0, _reply, bytes.Length);
            Marshal.StructureToPtr(new TvmHostReply { Data = _reply, Len = (UIntPtr)bytes.Length }, reply, fDeleteOld: false);
        }

        private void FreeReply()
        {
            if (_reply != IntPtr.Zero)
            {
                Marshal.FreeHGlobal(_reply);
                _reply = IntPtr.Zero;
            }
        }

        // ---- the native callbacks: no exception leaves them ----

        private static void OnDispatch(IntPtr context, IntPtr op, UIntPtr length, IntPtr reply)
        {
            MocVault? vault = null;
            try
            {
                vault = (MocVault)GCHandle.FromIntPtr(context).Target!;
                HostReply answer;
                try
                {
                    answer = vault.Run(Json.Read<HostOp>(TvmNative.Copy(op, length)));
                }
                catch (PipelineStoppedException)
                {
                    answer = new HostReply { Outcome = "cancelled", Message = "The command was stopped." };
                }
                catch (Exception e)
                {
                    answer = new HostReply { Outcome = "failed", Message = "The Moc vault adapter failed: " + e.Message };
                }
                vault.SetReply(reply, Json.Write(answer));
            }
            catch (Exception)
            {
                // No reply can be given (the reply is left empty): the engine reports that the adapter gave none.
            }
        }

        private static void OnRelease(IntPtr context)
        {
            try
            {
                if (context != IntPtr.Zero)
                {
                    GCHandle handle = GCHandle.FromIntPtr(context);
                    (handle.Target as MocVault)?.FreeReply();
                    handle.Free();
                }
            }
            catch (Exception)
            {
                // Must not unwind into the engine; a handle freed twice is all this could be.
            }
        }
    }
}
