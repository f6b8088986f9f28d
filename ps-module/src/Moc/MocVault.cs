using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Runtime.InteropServices;
using TvmBackupUtils.Native;

namespace TvmBackupUtils.Moc
{
    /// <summary>
    /// The cluster's MOC key vault for the engine: a host vault (<c>tvm_vault_from_host</c>) whose operations
    /// are the Moc cmdlets the original script calls, with its parameter names and values (REFERENCE.md 2, 3.4).
    /// It only calls and converts: what a failure means (MOC's <c>InvalidVersion</c>, <c>Not Found</c>) is read
    /// by the engine from the full message text passed with <c>tvm_host_call_set_error</c>.
    /// </summary>
    internal sealed class MocVault
    {
        /// <summary>The original's <c>-group</c>.</summary>
        internal const string DefaultGroup = "AzureStackHostAttestation";

        /// <summary>The original's <c>-keyvaultName</c>.</summary>
        internal const string DefaultKeyVaultName = "AzureStackTvmKeyVault";

        // The callbacks are static, so their delegates and native thunks live as long as the process and a
        // late call (release from a finalizer) never meets a collected delegate. The vault's own state is
        // reached through the GCHandle in the context, which is freed by release.
        private static readonly TvmHostListFn ListCallback = OnList;
        private static readonly TvmHostExportFn ExportCallback = OnExport;
        private static readonly TvmHostImportFn ImportCallback = OnImport;
        private static readonly TvmHostNameFn DeleteCallback = OnDelete;
        private static readonly TvmHostCreateFn CreateCallback = OnCreate;
        private static readonly TvmHostPublicKeyFn PublicKeyCallback = OnPublicKey;
        private static readonly TvmHostReleaseFn ReleaseCallback = OnRelease;

        private readonly TvmNative _native;
        private readonly MocShell _moc;
        private readonly string _group;
        private readonly string _keyVaultName;

        private MocVault(TvmNative native, MocShell moc, string group, string keyVaultName)
        {
            _native = native;
            _moc = moc;
            _group = group;
            _keyVaultName = keyVaultName;
        }

        /// <summary>
        /// <c>(Get-MocConfig).moduleVersion</c> and <c>.version</c>; null for a value it did not give, and both
        /// null when it failed or does not exist (the engine's gate then says it cannot tell the versions, as the
        /// original did); <c>Failure</c> is then Get-MocConfig's own message.
        /// </summary>
        internal static (string? ModuleVersion, string? Version, string? Failure) ReadVersions(MocShell moc)
        {
            MocResult result = moc.Invoke("Get-MocConfig", null);
            if (result.Status == TvmStatus.Cancelled && moc.Stopping)
            {
                throw new PipelineStoppedException();
            }
            if (result.Status != TvmStatus.Ok)
            {
                return (null, null, result.Message);
            }
            foreach (PSObject config in result.Output)
            {
                if (config != null)
                {
                    return (MocObjects.Text(MocObjects.Member(config, "moduleVersion")), MocObjects.Text(MocObjects.Member(config, "version")), null);
                }
            }
            return (null, null, "Get-MocConfig returned nothing.");
        }

        /// <summary>Builds the engine's vault over the Moc cmdlets; on failure the engine's status (tvm_last_error says why).</summary>
        internal static TvmStatus Open(TvmNative native, MocShell moc, string group, string keyVaultName, out IntPtr vault)
        {
            GCHandle context = GCHandle.Alloc(new MocVault(native, moc, group, keyVaultName));
            var host = new TvmHostVaultNative
            {
                Context = GCHandle.ToIntPtr(context),
                List = Marshal.GetFunctionPointerForDelegate(ListCallback),
                ExportKey = Marshal.GetFunctionPointerForDelegate(ExportCallback),
                ImportKey = Marshal.GetFunctionPointerForDelegate(ImportCallback),
                DeleteKey = Marshal.GetFunctionPointerForDelegate(DeleteCallback),
                CreateKey = Marshal.GetFunctionPointerForDelegate(CreateCallback),
                PublicKey = Marshal.GetFunctionPointerForDelegate(PublicKeyCallback),
                Release = Marshal.GetFunctionPointerForDelegate(ReleaseCallback),
            };
            var status = (TvmStatus)native.VaultFromHost(ref host, out vault);
            if (status != TvmStatus.Ok || vault == IntPtr.Zero)
            {
                // No vault was made, so release will never be called.
                context.Free();
                vault = IntPtr.Zero;
                return status == TvmStatus.Ok ? TvmStatus.Vault : status;
            }
            return TvmStatus.Ok;
        }

        // ---- the operations: one Moc cmdlet each, parameters as the original spells them ----

        private MocResult List(IntPtr call)
        {
            MocResult result = _moc.Invoke("Get-MocKey", null,
                P("group", _group),
                P("keyvaultName", _keyVaultName));
            if (result.Status == TvmStatus.Ok)
            {
                foreach (PSObject key in result.Output)
                {
                    if (key == null)
                    {
                        continue;
                    }
                    object? properties = MocObjects.Member(key, "properties");
                    _native.HostCallAddKey(call,
                        MocObjects.Text(MocObjects.Member(key, "Name")) ?? string.Empty,
                        MocObjects.Text(MocObjects.Member(properties, "kty")) ?? string.Empty,
                        MocObjects.Size(MocObjects.Member(properties, "key_size")));
                }
            }
            return result;
        }

        private MocResult Export(string name, uint size, string wrappingKeyPath, string outFile) =>
            _moc.Invoke("Export-MocKey", name,
                P("name", name),
                P("wrappingPubKeyFile", wrappingKeyPath),
                P("outFile", outFile),
                P("group", _group),
                P("keyvaultName", _keyVaultName),
                P("size", (int)size));

        private MocResult Import(string name, string keyType, uint size, string file, string wrappingKeyName) =>
            wrappingKeyName.Length == 0
                // The NO_KEY_WRAP wrapping key pair (Import-TvmWrappingKeyFromPem).
                ? _moc.Invoke("Import-MocKey", name,
                    P("name", name),
                    P("group", _group),
                    P("keyvaultName", _keyVaultName),
                    P("importKeyFile", file),
                    P("type", keyType),
                    P("size", (int)size))
                // A key of a backup (Import-TVMKeys).
                : _moc.Invoke("Import-MocKey", name,
                    P("name", name),
                    P("wrappingKeyName", wrappingKeyName),
                    P("importKeyFile", file),
                    P("group", _group),
                    P("keyvaultName", _keyVaultName),
                    P("size", (int)size),
                    P("Type", keyType));

        private MocResult Delete(string name) =>
            _moc.Invoke("Remove-MocKey", name,
                P("name", name),
                P("group", _group),
                P("keyvaultName", _keyVaultName));

        private MocResult Create(string name, string keyType, uint size) =>
            _moc.Invoke("New-MocKey", name,
                P("name", name),
                P("group", _group),
                P("keyvaultName", _keyVaultName),
                P("type", keyType),
                P("size", (int)size));

        private MocResult PublicKey(string name, string outFile) =>
            _moc.Invoke("Get-MocKeyPublicKey", name,
                P("name", name),
                P("group", _group),
                P("keyvaultName", _keyVaultName),
                P("outputFile", outFile));

        private static KeyValuePair<string, object> P(string name, object value) => new KeyValuePair<string, object>(name, value);

        // ---- the native callbacks ----

        private static uint OnList(IntPtr context, IntPtr call) =>
            Run(context, call, vault => vault.List(call));

        private static uint OnExport(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size, IntPtr wrappingKeyPath, IntPtr outFile) =>
            Run(context, call, vault => vault.Export(Str(name), size, Str(wrappingKeyPath), Str(outFile)));

        private static uint OnImport(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size, IntPtr file, IntPtr wrappingKeyName) =>
            Run(context, call, vault => vault.Import(Str(name), Str(keyType), size, Str(file), Str(wrappingKeyName)));

        private static uint OnDelete(IntPtr context, IntPtr call, IntPtr name) =>
            Run(context, call, vault => vault.Delete(Str(name)));

        private static uint OnCreate(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size) =>
            Run(context, call, vault => vault.Create(Str(name), Str(keyType), size));

        private static uint OnPublicKey(IntPtr context, IntPtr call, IntPtr name, IntPtr outFile) =>
            Run(context, call, vault => vault.PublicKey(Str(name), Str(outFile)));

        private static void OnRelease(IntPtr context)
        {
            try
            {
                if (context != IntPtr.Zero)
                {
                    GCHandle.FromIntPtr(context).Free();
                }
            }
            catch (Exception)
            {
                // Must not unwind into the engine; a handle freed twice is all this could be.
            }
        }

        /// <summary>Runs one operation; no exception leaves it. A failure's text goes to the engine in full.</summary>
        private static uint Run(IntPtr context, IntPtr call, Func<MocVault, MocResult> operation)
        {
            MocVault? vault = null;
            try
            {
                vault = (MocVault)GCHandle.FromIntPtr(context).Target!;
                MocResult result = operation(vault);
                if (result.Status != TvmStatus.Ok && result.Message != null)
                {
                    vault._native.HostCallSetError(call, result.Message);
                }
                return (uint)result.Status;
            }
            catch (PipelineStoppedException)
            {
                return (uint)TvmStatus.Cancelled;
            }
            catch (Exception e)
            {
                try
                {
                    vault?._native.HostCallSetError(call, "The Moc vault adapter failed: " + e.Message);
                }
                catch (Exception)
                {
                    // nothing more can be reported
                }
                return (uint)TvmStatus.Vault;
            }
        }

        private static string Str(IntPtr text) => text == IntPtr.Zero ? string.Empty : Marshal.PtrToStringUni(text) ?? string.Empty;
    }
}
