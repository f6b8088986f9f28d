using System;
using Microsoft.Win32.SafeHandles;

namespace TvmBackupUtils.Native
{
    /// <summary>An open <c>TvmVault*</c>, freed with <c>tvm_vault_free</c>.</summary>
    internal sealed class VaultHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        private VaultHandle() : base(ownsHandle: true) { }

        internal static VaultHandle FromPointer(IntPtr vault)
        {
            var handle = new VaultHandle();
            handle.SetHandle(vault);
            return handle;
        }

        /// <summary>Runs <paramref name="call"/> with the raw pointer, which stays valid for the whole call.</summary>
        internal T Use<T>(Func<IntPtr, T> call)
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                return call(DangerousGetHandle());
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }

        protected override bool ReleaseHandle()
        {
            TvmNative.Instance.VaultFree(handle);
            return true;
        }
    }
}
