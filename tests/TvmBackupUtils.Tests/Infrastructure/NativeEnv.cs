using System.Runtime.InteropServices;

namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>
/// Sets an environment variable for managed code AND for native code. On Unix, .NET keeps its own copy of
/// the environment, so Environment.SetEnvironmentVariable is invisible to the Rust engine's getenv.
/// </summary>
public static class NativeEnv
{
    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "unsetenv")]
    private static extern int unsetenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    public static void Set(string name, string? value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsWindows()) return; // one environment on Windows
        if (value == null) unsetenv(name);
        else setenv(name, value, 1);
    }
}
