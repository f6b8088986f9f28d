using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace TvmBackupUtils.Native
{
    /// <summary>Mirror of <c>struct TvmBuffer</c>: bytes the engine hands out, freed by <c>tvm_buffer_free</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TvmBuffer
    {
        public IntPtr Data;
        public UIntPtr Len;
    }

    /// <summary>Mirror of <c>struct TvmHostReply</c>: a host's reply, owned by the host.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TvmHostReply
    {
        public IntPtr Data;
        public UIntPtr Len;
    }

    /// <summary>Mirror of <c>struct TvmHostVault</c>: the context, the dispatcher and the release function.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TvmHostVault
    {
        public IntPtr Context;
        public IntPtr Dispatch;
        public IntPtr Release;
    }

    /// <summary>The <c>TVM_REPLY_*</c> values a sink answers an event with.</summary>
    internal enum TvmReply : uint
    {
        Proceed = 0,
        Skip = 1,
        Cancel = 2,
    }

    /// <summary><c>TvmEventSink</c>: one event, UTF-8 JSON borrowed for the call.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate TvmReply TvmEventSink(IntPtr context, IntPtr evt, UIntPtr length);

    /// <summary><c>TvmHostDispatch</c>: one operation in, the reply stored in <paramref name="reply"/>.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void TvmHostDispatch(IntPtr context, IntPtr op, UIntPtr length, IntPtr reply);

    /// <summary><c>TvmHostRelease</c>: called once when the engine no longer needs the host.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void TvmHostRelease(IntPtr context);

    /// <summary>Every command export: a vault, the request as UTF-8 JSON, an event sink, the result buffer.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate TvmStatus CommandFn(IntPtr vault, byte[] request, UIntPtr length, TvmEventSink? sink, IntPtr context, out TvmBuffer result);

    /// <summary><c>tvm_verify</c>, <c>tvm_generate_wrapping_key</c>: a command export with a secret (a password) passed beside the request, never in it.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate TvmStatus SecretCommandFn(IntPtr vault, byte[] request, UIntPtr length, byte[]? secret, UIntPtr secretLength,
        TvmEventSink? sink, IntPtr context, out TvmBuffer result);

    /// <summary>
    /// The exports of libtvmkeys bound to delegates. Loaded once, lazily and thread-safely, by full path
    /// (see <see cref="NativeLoader"/>); the module initializer loads it on import so a broken install fails there.
    /// Requests, results, events and errors are JSON (see docs/abi.md); this class only moves bytes.
    /// </summary>
    internal sealed class TvmNative
    {
        /// <summary>The ABI version this assembly was built for (<c>TVM_ABI_VERSION</c>).</summary>
        internal const uint AbiVersion = 6;

        private static readonly Lazy<TvmNative> Loaded = new Lazy<TvmNative>(Load, LazyThreadSafetyMode.ExecutionAndPublication);

        /// <summary>The bound library; throws <see cref="TvmNativeLibraryException"/> when it cannot be used.</summary>
        internal static TvmNative Instance => Loaded.Value;

        internal string LibraryPath { get; }
        internal string Version { get; }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate uint AbiVersionFn();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate IntPtr VersionFn();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void BufferFreeFn(TvmBuffer buffer);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate TvmStatus VaultOpenLocalFn(byte[] request, UIntPtr length, out IntPtr vault, out TvmBuffer result);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate TvmStatus VaultOpenMocFn(ref TvmHostVault host, byte[] request, UIntPtr length, TvmEventSink? sink, IntPtr context, out IntPtr vault, out TvmBuffer result);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void VaultFreeFn(IntPtr vault);

        private readonly BufferFreeFn _bufferFree;

        internal VaultOpenLocalFn VaultOpenLocal { get; }
        internal VaultOpenMocFn VaultOpenMoc { get; }
        internal VaultFreeFn VaultFree { get; }
        internal CommandFn Backup { get; }
        internal SecretCommandFn Restore { get; }
        internal SecretCommandFn ImportWrappingKey { get; }
        internal CommandFn GenerateImportJson { get; }
        internal CommandFn VaultList { get; }
        internal CommandFn VaultCreateKey { get; }
        internal SecretCommandFn Verify { get; }
        internal SecretCommandFn GenerateWrappingKey { get; }
        internal CommandFn BackupList { get; }
        internal CommandFn BackupRemove { get; }
        internal CommandFn RemoveWrappingKey { get; }
        internal CommandFn CreateWrappingKey { get; }
        internal SecretCommandFn SplitWrappingKey { get; }
        internal SecretCommandFn JoinWrappingKey { get; }
        internal SecretCommandFn TestWrappingKeyShare { get; }

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
                        "version of the module. Re-stage the module (./build.ps1 Stage) or reinstall it.");
                }
                return Marshal.GetDelegateForFunctionPointer<T>(address);
            }

            uint abi = Bind<AbiVersionFn>("tvm_abi_version")();
            if (abi != AbiVersion)
            {
                throw new TvmNativeLibraryException(
                    $"The TvmBackupUtils engine library '{path}' has ABI version {abi}, but this module " +
                    $"(TvmBackupUtils.dll) was built for ABI version {AbiVersion}. The module folder mixes two builds: " +
                    "re-stage the module (./build.ps1 Stage) or reinstall it.");
            }
            Version = Utf8.FromNative(Bind<VersionFn>("tvm_version")());
            _bufferFree = Bind<BufferFreeFn>("tvm_buffer_free");
            VaultOpenLocal = Bind<VaultOpenLocalFn>("tvm_vault_open_local");
            VaultOpenMoc = Bind<VaultOpenMocFn>("tvm_vault_open_moc");
            VaultFree = Bind<VaultFreeFn>("tvm_vault_free");
            Backup = Bind<CommandFn>("tvm_backup");
            Restore = Bind<SecretCommandFn>("tvm_restore");
            ImportWrappingKey = Bind<SecretCommandFn>("tvm_import_wrapping_key");
            GenerateImportJson = Bind<CommandFn>("tvm_generate_import_json");
            VaultList = Bind<CommandFn>("tvm_vault_list");
            VaultCreateKey = Bind<CommandFn>("tvm_vault_create_key");
            Verify = Bind<SecretCommandFn>("tvm_verify");
            GenerateWrappingKey = Bind<SecretCommandFn>("tvm_generate_wrapping_key");
            BackupList = Bind<CommandFn>("tvm_backup_list");
            BackupRemove = Bind<CommandFn>("tvm_backup_remove");
            RemoveWrappingKey = Bind<CommandFn>("tvm_remove_wrapping_key");
            CreateWrappingKey = Bind<CommandFn>("tvm_create_wrapping_key");
            SplitWrappingKey = Bind<SecretCommandFn>("tvm_split_wrapping_key");
            JoinWrappingKey = Bind<SecretCommandFn>("tvm_join_wrapping_key");
            TestWrappingKeyShare = Bind<SecretCommandFn>("tvm_test_wrapping_key_share");
        }

        /// <summary>Copies a buffer the engine handed out into managed memory and frees it.</summary>
        internal byte[] Take(TvmBuffer buffer)
        {
            try
            {
                return Copy(buffer.Data, buffer.Len);
            }
            finally
            {
                _bufferFree(buffer);
            }
        }

        /// <summary>Copies <paramref name="length"/> bytes at <paramref name="data"/> (NULL: none).</summary>
        internal static byte[] Copy(IntPtr data, UIntPtr length)
        {
            ulong count = length.ToUInt64();
            if (data == IntPtr.Zero || count == 0)
            {
                return Array.Empty<byte>();
            }
            if (count > int.MaxValue)
            {
                throw new InvalidDataException($"The TvmBackupUtils engine handed out {count} bytes, more than a managed array holds.");
            }
            var bytes = new byte[(int)count];
            Marshal.Copy(data, bytes, 0, bytes.Length);
            return bytes;
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
                    $"for this platform ({NativeLoader.RuntimeIdentifier}): re-stage the module (./build.ps1 Stage) " +
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
                    $"another platform than {NativeLoader.RuntimeIdentifier}: re-stage the module (./build.ps1 Stage) " +
                    "or reinstall it.", e);
            }
            return new TvmNative(path, library);
        }
    }
}
