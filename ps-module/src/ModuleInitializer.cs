using System.Management.Automation;
using TvmBackupUtils.Native;

namespace TvmBackupUtils
{
    /// <summary>
    /// Runs when PowerShell imports TvmBackupUtils.dll: loads the engine library by full path and checks its
    /// ABI version, so a module folder with a missing or mismatched library fails at Import-Module with a
    /// message that names the expected path, instead of at the first command.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        /// <inheritdoc />
        public void OnImport()
        {
            _ = TvmNative.Instance;
        }
    }
}
