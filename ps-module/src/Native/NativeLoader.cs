using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;

namespace TvmBackupUtils.Native
{
    /// <summary>
    /// Loads the engine library by full path and resolves its exports. Windows PowerShell 5.1 never looks in
    /// a module's folder for native libraries, so DllImport probing is not used for the engine at all: the
    /// library is loaded from <c>&lt;assembly dir&gt;/runtimes/&lt;rid&gt;/native/</c>.
    /// </summary>
    internal static class NativeLoader
    {
        /// <summary>The runtime identifier of this process (win-x64, linux-arm64, osx-arm64, ...).</summary>
        internal static string RuntimeIdentifier
        {
            get
            {
                string os = IsWindows ? "win"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "linux"
                    : throw new PlatformNotSupportedException(
                        $"TvmBackupUtils has no native engine for this operating system ({RuntimeInformation.OSDescription}).");
                string arch = RuntimeInformation.ProcessArchitecture switch
                {
                    Architecture.X64 => "x64",
                    Architecture.X86 => "x86",
                    Architecture.Arm64 => "arm64",
                    Architecture.Arm => "arm",
                    var other => throw new PlatformNotSupportedException(
                        $"TvmBackupUtils has no native engine for the {other} architecture."),
                };
                return os + "-" + arch;
            }
        }

        /// <summary>File name of the engine library on this operating system.</summary>
        internal static string LibraryFileName =>
            IsWindows ? "tvmkeys.dll"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libtvmkeys.dylib"
            : "libtvmkeys.so";

        /// <summary>Full path where the staged module keeps the engine library for this process.</summary>
        internal static string ExpectedLibraryPath()
        {
            string assemblyDir = Path.GetDirectoryName(typeof(NativeLoader).Assembly.Location) ?? ".";
            return Path.Combine(Path.Combine(Path.Combine(Path.Combine(assemblyDir, "runtimes"), RuntimeIdentifier), "native"), LibraryFileName);
        }

        internal static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        /// <summary>Loads the library; throws <see cref="DllNotFoundException"/> with the loader's reason.</summary>
        internal static IntPtr Load(string path) => IsWindows ? Windows.Load(path) : Posix.Load(path);

        /// <summary>Address of an export, or <see cref="IntPtr.Zero"/> when the library does not have it.</summary>
        internal static IntPtr Symbol(IntPtr library, string name) =>
            IsWindows ? Windows.GetProcAddress(library, name) : Posix.Symbol(library, name);

        /// <summary>
        /// kernel32 loading: the plain LoadLibraryW/GetProcAddress pair and nothing more. Run by the tests in the
        /// win-x64 pwsh under Wine (build.ps1 WindowsTest, docs/windows.md); not yet on real Windows.
        /// </summary>
        private static class Windows
        {
            [DllImport("kernel32", EntryPoint = "LoadLibraryW", CharSet = CharSet.Unicode, SetLastError = true)]
            private static extern IntPtr LoadLibraryW(string path);

            [DllImport("kernel32", EntryPoint = "GetProcAddress", CharSet = CharSet.Ansi, ExactSpelling = true, SetLastError = true)]
            internal static extern IntPtr GetProcAddress(IntPtr module, string name);

            internal static IntPtr Load(string path)
            {
                IntPtr handle = LoadLibraryW(path);
                if (handle == IntPtr.Zero)
                {
                    int code = Marshal.GetLastWin32Error();
                    throw new DllNotFoundException($"LoadLibraryW failed: {new Win32Exception(code).Message} (error {code})");
                }
                return handle;
            }
        }

        /// <summary>dlopen/dlsym: from libdl.so.2 (glibc), else from libc (musl, macOS, glibc 2.34+).</summary>
        private static class Posix
        {
            private const int RtldNow = 2;

            private static bool? _useLibDl;

            internal static IntPtr Load(string path)
            {
                IntPtr handle = Call(() => LibDl.dlopen(path, RtldNow), () => LibC.dlopen(path, RtldNow));
                if (handle == IntPtr.Zero)
                {
                    throw new DllNotFoundException("dlopen failed: " + LastError());
                }
                return handle;
            }

            internal static IntPtr Symbol(IntPtr library, string name) =>
                Call(() => LibDl.dlsym(library, name), () => LibC.dlsym(library, name));

            private static string LastError()
            {
                IntPtr text = Call(LibDl.dlerror, LibC.dlerror);
                return text == IntPtr.Zero ? "no reason given" : Utf8.FromNative(text);
            }

            private static T Call<T>(Func<T> libdl, Func<T> libc)
            {
                if (_useLibDl != false)
                {
                    try
                    {
                        T result = libdl();
                        _useLibDl = true;
                        return result;
                    }
                    catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException)
                    {
                        _useLibDl = false;
                    }
                }
                return libc();
            }

            private static class LibDl
            {
                [DllImport("libdl.so.2")]
                internal static extern IntPtr dlopen(string path, int flags);

                [DllImport("libdl.so.2")]
                internal static extern IntPtr dlsym(IntPtr handle, string name);

                [DllImport("libdl.so.2")]
                internal static extern IntPtr dlerror();
            }

            private static class LibC
            {
                [DllImport("libc")]
                internal static extern IntPtr dlopen(string path, int flags);

                [DllImport("libc")]
                internal static extern IntPtr dlsym(IntPtr handle, string name);

                [DllImport("libc")]
                internal static extern IntPtr dlerror();
            }
        }
    }

    /// <summary>Reads NUL-terminated UTF-8 (netstandard2.0 has no Marshal.PtrToStringUTF8).</summary>
    internal static class Utf8
    {
        internal static string FromNative(IntPtr text)
        {
            if (text == IntPtr.Zero)
            {
                return string.Empty;
            }
            int length = 0;
            while (Marshal.ReadByte(text, length) != 0)
            {
                length++;
            }
            byte[] bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return System.Text.Encoding.UTF8.GetString(bytes);
        }
    }
}
