using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace TvmBackupUtils.Native
{
    /// <summary>TvmEventKind: what a callback event carries.</summary>
    internal enum TvmEventKind : uint
    {
        Message = 1,
        Warning = 2,
        Progress = 3,
        KeyPending = 4,
        KeyDone = 5,
        Backup = 6,
        KeyListed = 7,
    }

    /// <summary>TvmOutcome: the result for one key.</summary>
    internal enum TvmOutcome : uint
    {
        None = 0,
        Exported = 1,
        Imported = 2,
        Exists = 3,
        Skipped = 4,
        Failed = 5,
    }

    /// <summary>TvmReply: the callback's answer.</summary>
    internal enum TvmReply : uint
    {
        Proceed = 0,
        Skip = 1,
        Cancel = 2,
    }

    /// <summary>Mirror of <c>struct TvmEvent</c>: six uint32 then four UTF-16 string pointers (never NULL).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TvmEventNative
    {
        public uint Kind;
        public uint Outcome;
        public uint Status;
        public uint KeySize;
        public uint Current;
        public uint Total;
        public IntPtr Text;
        public IntPtr KeyName;
        public IntPtr KeyType;
        public IntPtr File;
    }

    /// <summary>A TvmEvent copied into managed memory (the native one is valid only during the callback).</summary>
    internal sealed class TvmEvent
    {
        private TvmEvent(TvmEventNative e)
        {
            Kind = (TvmEventKind)e.Kind;
            Outcome = (TvmOutcome)e.Outcome;
            Status = (TvmStatus)e.Status;
            KeySize = e.KeySize;
            Current = e.Current;
            Total = e.Total;
            Text = Read(e.Text);
            KeyName = Read(e.KeyName);
            KeyType = Read(e.KeyType);
            File = Read(e.File);
        }

        internal TvmEventKind Kind { get; }
        internal TvmOutcome Outcome { get; }
        internal TvmStatus Status { get; }
        internal uint KeySize { get; }
        internal uint Current { get; }
        internal uint Total { get; }
        internal string Text { get; }
        internal string KeyName { get; }
        internal string KeyType { get; }
        internal string File { get; }

        internal static TvmEvent FromNative(IntPtr evt) => new TvmEvent(Marshal.PtrToStructure<TvmEventNative>(evt));

        private static string Read(IntPtr text) => text == IntPtr.Zero ? string.Empty : Marshal.PtrToStringUni(text) ?? string.Empty;
    }

    /// <summary><c>TvmEventCallback</c>: returns a <see cref="TvmReply"/>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmEventCallback(IntPtr context, IntPtr evt);

    /// <summary>
    /// The exports of libtvmkeys bound to delegates. Loaded once, lazily and thread-safely, by full path
    /// (see <see cref="NativeLoader"/>); the module initializer loads it on import so a broken install fails there.
    /// </summary>
    internal sealed class TvmNative
    {
        /// <summary>The ABI version this assembly was built for (<c>tvm_abi_version()</c>).</summary>
        internal const uint AbiVersion = 2;

        private static readonly Lazy<TvmNative> Loaded = new Lazy<TvmNative>(Load, LazyThreadSafetyMode.ExecutionAndPublication);

        /// <summary>The bound library; throws <see cref="TvmNativeLibraryException"/> when it cannot be used.</summary>
        internal static TvmNative Instance => Loaded.Value;

        internal string LibraryPath { get; }
        internal string Version { get; }

        // ---- delegate types, one per export (cdecl, strings as UTF-16) ----
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate uint AbiVersionFn();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate IntPtr VersionFn();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate IntPtr LastErrorFn();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void StringFreeFn(IntPtr text);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint VaultOpenLocalFn([MarshalAs(UnmanagedType.LPWStr)] string path, uint create, out IntPtr vault);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void VaultFreeFn(IntPtr vault);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint BackupFn(
            IntPtr vault,
            [MarshalAs(UnmanagedType.LPWStr)] string wrappingKeyPath,
            [MarshalAs(UnmanagedType.LPWStr)] string backupRoot,
            [MarshalAs(UnmanagedType.LPWStr)] string shownBackupRoot,
            [MarshalAs(UnmanagedType.LPWStr)] string timestamp,
            TvmEventCallback callback,
            IntPtr context);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint RestoreFn(
            IntPtr vault,
            [MarshalAs(UnmanagedType.LPWStr)] string backupPath,
            [MarshalAs(UnmanagedType.LPWStr)] string shownBackupPath,
            [MarshalAs(UnmanagedType.LPWStr)] string wrappingKeyName,
            TvmEventCallback callback,
            IntPtr context);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint ImportWrappingKeyFn(
            IntPtr vault,
            [MarshalAs(UnmanagedType.LPWStr)] string keyName,
            [MarshalAs(UnmanagedType.LPWStr)] string publicKeyPath,
            [MarshalAs(UnmanagedType.LPWStr)] string privateKeyPath,
            [MarshalAs(UnmanagedType.LPWStr)] string keySize,
            TvmEventCallback callback,
            IntPtr context);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint GenerateImportJsonFn(
            [MarshalAs(UnmanagedType.LPWStr)] string publicKeyPath,
            [MarshalAs(UnmanagedType.LPWStr)] string privateKeyPath,
            [MarshalAs(UnmanagedType.LPWStr)] string outFilePath);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint VaultCreateKeyFn(
            IntPtr vault,
            [MarshalAs(UnmanagedType.LPWStr)] string name,
            [MarshalAs(UnmanagedType.LPWStr)] string keyType,
            uint size);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate uint VaultListFn(IntPtr vault, TvmEventCallback callback, IntPtr context);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate uint VaultFromHostFn(ref TvmHostVaultNative host, out IntPtr vault);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate uint MocCheckVersionsFn(
            [MarshalAs(UnmanagedType.LPWStr)] string? moduleVersion,
            [MarshalAs(UnmanagedType.LPWStr)] string? stackVersion,
            uint checkStack);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate void HostCallSetErrorFn(IntPtr call, [MarshalAs(UnmanagedType.LPWStr)] string message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Unicode)]
        internal delegate void HostCallAddKeyFn(
            IntPtr call,
            [MarshalAs(UnmanagedType.LPWStr)] string name,
            [MarshalAs(UnmanagedType.LPWStr)] string keyType,
            uint size);

        private readonly LastErrorFn _lastError;
        private readonly StringFreeFn _stringFree;

        internal VaultOpenLocalFn VaultOpenLocal { get; }
        internal VaultFreeFn VaultFree { get; }
        internal BackupFn Backup { get; }
        internal RestoreFn Restore { get; }
        internal ImportWrappingKeyFn ImportWrappingKey { get; }
        internal GenerateImportJsonFn GenerateImportJson { get; }
        internal VaultCreateKeyFn VaultCreateKey { get; }
        internal VaultListFn VaultList { get; }
        internal VaultFromHostFn VaultFromHost { get; }
        internal MocCheckVersionsFn MocCheckVersions { get; }
        internal HostCallSetErrorFn HostCallSetError { get; }
        internal HostCallAddKeyFn HostCallAddKey { get; }

        private TvmNative(string path, IntPtr library)
        {
            LibraryPath = path;
            T Bind<T>(string name) where T : Delegate
            {
                IntPtr address = NativeLoader.Symbol(library, name);
                if (address == IntPtr.Zero)
                {
                    throw new TvmNativeLibraryException(
                        $"The TvmBackupUtils engine library '{path}' has no export '{name}': it does not belong to this " +
                        "version of the module. Re-stage the module (bash ps-module/build.sh) or reinstall it.");
                }
                return Marshal.GetDelegateForFunctionPointer<T>(address);
            }

            uint abi = Bind<AbiVersionFn>("tvm_abi_version")();
            if (abi != AbiVersion)
            {
                throw new TvmNativeLibraryException(
                    $"The TvmBackupUtils engine library '{path}' has ABI version {abi}, but this module " +
                    $"(TvmBackupUtils.dll) was built for ABI version {AbiVersion}. The module folder mixes two builds: " +
                    "re-stage the module (bash ps-module/build.sh) or reinstall it.");
            }
            Version = Utf8.FromNative(Bind<VersionFn>("tvm_version")());
            _lastError = Bind<LastErrorFn>("tvm_last_error");
            _stringFree = Bind<StringFreeFn>("tvm_string_free");
            VaultOpenLocal = Bind<VaultOpenLocalFn>("tvm_vault_open_local");
            VaultFree = Bind<VaultFreeFn>("tvm_vault_free");
            Backup = Bind<BackupFn>("tvm_backup");
            Restore = Bind<RestoreFn>("tvm_restore");
            ImportWrappingKey = Bind<ImportWrappingKeyFn>("tvm_import_wrapping_key");
            GenerateImportJson = Bind<GenerateImportJsonFn>("tvm_generate_import_json");
            VaultCreateKey = Bind<VaultCreateKeyFn>("tvm_vault_create_key");
            VaultList = Bind<VaultListFn>("tvm_vault_list");
            VaultFromHost = Bind<VaultFromHostFn>("tvm_vault_from_host");
            MocCheckVersions = Bind<MocCheckVersionsFn>("tvm_moc_check_versions");
            HostCallSetError = Bind<HostCallSetErrorFn>("tvm_host_call_set_error");
            HostCallAddKey = Bind<HostCallAddKeyFn>("tvm_host_call_add_key");
        }

        /// <summary>This thread's last failure text from the engine (freed here), or null.</summary>
        internal string? TakeLastError()
        {
            IntPtr text = _lastError();
            if (text == IntPtr.Zero)
            {
                return null;
            }
            try
            {
                return Marshal.PtrToStringUni(text);
            }
            finally
            {
                _stringFree(text);
            }
        }

        private static TvmNative Load()
        {
            string path;
            try
            {
                path = NativeLoader.ExpectedLibraryPath();
            }
            catch (PlatformNotSupportedException e)
            {
                throw new TvmNativeLibraryException(e.Message, e);
            }
            if (!File.Exists(path))
            {
                throw new TvmNativeLibraryException(
                    $"The TvmBackupUtils engine library was not found at '{path}'. The module folder is incomplete " +
                    $"for this platform ({NativeLoader.RuntimeIdentifier}): re-stage the module (bash ps-module/build.sh) " +
                    "or reinstall it.");
            }
            IntPtr library;
            try
            {
                library = NativeLoader.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException || e is BadImageFormatException || e is EntryPointNotFoundException)
            {
                throw new TvmNativeLibraryException(
                    $"The TvmBackupUtils engine library '{path}' could not be loaded ({e.Message}). It may be built for " +
                    $"another platform than {NativeLoader.RuntimeIdentifier}: re-stage the module (bash ps-module/build.sh) " +
                    "or reinstall it.", e);
            }
            return new TvmNative(path, library);
        }
    }
}
