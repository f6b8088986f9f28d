#
# Module manifest of TvmBackupUtils: backup and restore of the Trusted launch VM keys of Azure Local.
# A drop-in replacement of Microsoft's TvmBackupUtils.psm1 sample (same commands, parameters and host
# messages); the cmdlets are in TvmBackupUtils.dll (C#), the logic in the tvmkeys engine beside it under
# runtimes/<rid>/native/. Staged by build.ps1 Stage into target/TvmBackupUtils/.
#
# This file is a template: build.ps1 Stage stamps ModuleVersion (from Cargo.toml, the one version of the
# module, the engine and the assembly) and CmdletsToExport (from the [Cmdlet] attributes of the C# sources,
# the one list of cmdlets) into the staged copy.
#
@{
    RootModule           = 'TvmBackupUtils.psm1'
    ModuleVersion        = '{{Version}}'
    GUID                 = '044b29b8-d918-457d-a70a-0505ff73c73e'
    Author               = 'TvmBackupUtils contributors'
    CompanyName          = 'TvmBackupUtils contributors'
    Copyright            = '(c) TvmBackupUtils contributors. MIT License.'
    Description          = 'Backup and restore of the Trusted launch VM keys (TVM key vault) of Azure Local: verified, re-runnable, no plaintext key left behind.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('TvmBackupUtils.Format.ps1xml')
    CmdletsToExport      = @({{Cmdlets}})
    AliasesToExport      = @('Generate-ImportJsonFromPEM')
    FunctionsToExport    = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('AzureLocal', 'AzureStackHCI', 'TrustedLaunch', 'TVM', 'Backup', 'KeyVault', 'Windows', 'Linux')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ProjectUri   = 'https://github.com/tvmbackuputils/TvmBackupUtils'
            ReleaseNotes = 'Drop-in replacement of the TvmBackupUtils.psm1 sample: the same commands, parameters and host messages; backups that are complete or absent, restores that are safe to re-run, stable ErrorIds (see the README for the ErrorIds that changed).'
        }
    }
}
