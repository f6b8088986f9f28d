# TvmBackupUtils.psm1: loads the binary module so that runbooks written for the original script keep
# working with `Import-Module .\TvmBackupUtils.psm1 -Force`; TvmBackupUtils.psd1 uses it as RootModule.
#
# Only engine (Microsoft.PowerShell.Core) commands and language features are used here: some hosts have
# no Microsoft.PowerShell.Utility / .Management module (no Set-Alias, no Join-Path).

$binaryModule = [System.IO.Path]::Combine($PSScriptRoot, 'TvmBackupUtils.dll')
Import-Module -Name $binaryModule -ErrorAction Stop

# The cmdlet class carries [Alias('Generate-ImportJsonFromPEM')]; a host that does not apply aliases of
# binary cmdlets still gets it, without needing Set-Alias.
if (-not $ExecutionContext.SessionState.InvokeCommand.GetCommand('Generate-ImportJsonFromPEM', 'Alias')) {
    ${alias:Generate-ImportJsonFromPEM} = 'New-TvmImportJson'
}

# Every cmdlet of the assembly; the manifest (TvmBackupUtils.psd1) names them one by one, stamped at staging.
Export-ModuleMember -Cmdlet * -Alias 'Generate-ImportJsonFromPEM'
