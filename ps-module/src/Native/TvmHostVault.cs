using System;
using System.Runtime.InteropServices;

namespace TvmBackupUtils.Native
{
    /// <summary>
    /// Mirror of <c>struct TvmHostVault</c>: the context, then seven function pointers (list, export_key,
    /// import_key, delete_key, create_key, public_key, release). The engine copies it in
    /// <c>tvm_vault_from_host</c>; the context must stay valid until <c>release</c>.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TvmHostVaultNative
    {
        public IntPtr Context;
        public IntPtr List;
        public IntPtr ExportKey;
        public IntPtr ImportKey;
        public IntPtr DeleteKey;
        public IntPtr CreateKey;
        public IntPtr PublicKey;
        public IntPtr Release;
    }

    // The host callbacks of include/tvmkeys.h. Each returns a TvmStatus as uint; strings are borrowed
    // NUL-terminated UTF-16 (read with Marshal.PtrToStringUni); `call` is the engine's TvmHostCall*.

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostListFn(IntPtr context, IntPtr call);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostExportFn(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size, IntPtr wrappingKeyPath, IntPtr outFile);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostImportFn(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size, IntPtr file, IntPtr wrappingKeyName);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostNameFn(IntPtr context, IntPtr call, IntPtr name);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostCreateFn(IntPtr context, IntPtr call, IntPtr name, IntPtr keyType, uint size);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate uint TvmHostPublicKeyFn(IntPtr context, IntPtr call, IntPtr name, IntPtr outFile);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void TvmHostReleaseFn(IntPtr context);
}
