namespace TvmBackupUtils.Tests.Infrastructure;

/// <summary>Where the repository and the staged module are.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Cargo.toml")))
            dir = dir.Parent;
        return dir?.FullName
            ?? throw new InvalidOperationException(
                $"No Cargo.toml above {AppContext.BaseDirectory}: the tests must run from inside the repository.");
    });

    public static string Root => RootLazy.Value;
    public static string ModuleDir => Path.Combine(Root, "target", "TvmBackupUtils");

    /// <summary>The staged engine library for this platform, as the module's loader finds it.</summary>
    public static string NativeLibrary
    {
        get
        {
            var (os, name) = OperatingSystem.IsWindows() ? ("win", "tvmkeys.dll")
                : OperatingSystem.IsMacOS() ? ("osx", "libtvmkeys.dylib")
                : ("linux", "libtvmkeys.so");
            var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            return Path.Combine(ModuleDir, "runtimes", $"{os}-{arch}", "native", name);
        }
    }
}
