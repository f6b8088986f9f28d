// PowerShell's console entry point, as PowerShell's own src/powershell/Program.cs has it: the process is
// pwsh, with its command line (-NoProfile, -File, -Command ...), its console host and its exit codes.
namespace Microsoft.PowerShell
{
    /// <summary>The entry point of the test host: hands the command line to PowerShell's console host.</summary>
    public static class WindowsHostEntry
    {
        /// <summary>Starts pwsh with the process's arguments and returns its exit code.</summary>
        public static int Main(string[] args)
        {
            return UnmanagedPSEntry.Start(args, args.Length);
        }
    }
}
