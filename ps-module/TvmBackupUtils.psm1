# TvmBackupUtils.psm1: loads the binary module so that runbooks written for the original script keep
# working with `Import-Module .\TvmBackupUtils.psm1 -Force`; TvmBackupUtils.psd1 uses it as RootModule.
#
# Only engine (Microsoft.PowerShell.Core) commands and language features are used here: some hosts have
# no Microsoft.PowerShell.Utility / .Management module (no Set-Alias, no Join-Path). The one Utility command
# used, Update-FormatData, is looked up first and skipped where it is missing.
#
# Two ways in, two behaviours on failure:
#
# - By the .psm1 (`Import-Module .\TvmBackupUtils.psm1`, `Import-Module <folder>\TvmBackupUtils.psm1`), as the
#   original's runbooks import it: every command is an advanced function of the cmdlet's name and parameters
#   (a proxy made with ProxyCommand from the cmdlet's CommandMetadata) that runs the cmdlet in a steppable
#   pipeline and rethrows its terminating error with `throw`. The original's functions threw, and `throw`
#   ends the script: a scheduled `pwsh -File backup.ps1` whose Backup-TVMKeys fails exits 1, as it did. A
#   cmdlet's terminating error ends only its statement, and that script would exit 0 (docs/DESIGN.md,
#   "Measured in pwsh 7.6.9"). Everything else passes through unchanged: parameters (by name, position
#   and pipeline), -WhatIf/-Confirm, -ErrorAction and the other common parameters, the caller's preference
#   variables, non-terminating errors (a key that fails to import: the restore goes on, as the original's
#   did), warnings, host messages, progress, the objects written, $?, one record in $Error; try/catch sees
#   the cmdlet's own ErrorRecord (same FullyQualifiedErrorId, category, exception and target), Get-Help
#   the cmdlet's help. Generate-ImportJsonFromPEM is an alias of New-TvmImportJson, so it reaches the
#   proxy. Get-Command -Module TvmBackupUtils lists six Functions and the alias (not six Cmdlets).
#   What differs from calling the cmdlet: a terminating error ends the script also under
#   -ErrorAction SilentlyContinue/Ignore (those govern non-terminating errors, for the cmdlets too; the
#   cmdlet's terminating error was never silenced by them); and -ErrorVariable receives a terminating error
#   more than once (PowerShell appends the record again at each rethrow inside an advanced function).
#   Parameter binding errors (an unknown parameter, a value outside a ValidateSet) happen before the
#   function runs and end only the statement, as with the original's functions.
#
# - By the manifest (`Import-Module TvmBackupUtils` by name, `Import-Module <folder>\TvmBackupUtils.psd1`):
#   the binary cmdlets themselves, statement-terminating as every binary module's cmdlets are: a failing
#   command ends its statement and the script goes on ($? is false) unless the script sets
#   $ErrorActionPreference = 'Stop' or uses try/catch. Scripts that import a module by name are written
#   for cmdlets and keep the cmdlets' full fidelity (one record in -ErrorVariable, no function frame per
#   call, CommandType Cmdlet); the manifest's CmdletsToExport and FunctionsToExport = @() state that
#   surface, and runbooks of the original never used a manifest (the original is a lone .psm1). The
#   manifest hands its PrivateData to its RootModule; a .psm1 imported by path has none, which is how this
#   file tells the two apart. FormatsToProcess loads the format views.

$binaryModule = [System.IO.Path]::Combine($PSScriptRoot, 'TvmBackupUtils.dll')
$binary = Import-Module -Name $binaryModule -ErrorAction Stop -PassThru

# The cmdlet class carries [Alias('Generate-ImportJsonFromPEM')]; a host that does not apply aliases of
# binary cmdlets still gets it, without needing Set-Alias. It names New-TvmImportJson, which is looked up
# when the alias runs: the proxy function below when imported by the .psm1 (a function wins over a cmdlet).
if (-not $ExecutionContext.SessionState.InvokeCommand.GetCommand('Generate-ImportJsonFromPEM', 'Alias')) {
    ${alias:Generate-ImportJsonFromPEM} = 'New-TvmImportJson'
}

if ($null -ne $ExecutionContext.SessionState.Module.PrivateData) {
    # Imported by TvmBackupUtils.psd1: every cmdlet of the assembly; the manifest names them one by one,
    # stamped at staging, and loads TvmBackupUtils.Format.ps1xml (FormatsToProcess).
    Export-ModuleMember -Cmdlet * -Alias 'Generate-ImportJsonFromPEM'
    return
}

# Imported by the .psm1: the format views the manifest would load. Update-FormatData -PrependPath adds a file
# once (a second import -Force finds it there and adds nothing); views are cosmetic, so a host whose format
# table cannot be updated (a shared FormatTable) still gets the commands.
$formatFile = [System.IO.Path]::Combine($PSScriptRoot, 'TvmBackupUtils.Format.ps1xml')
if ($ExecutionContext.SessionState.InvokeCommand.GetCommand('Update-FormatData', 'Cmdlet')) {
    try {
        Update-FormatData -PrependPath $formatFile -ErrorAction Stop
    } catch {
        # the commands work without their table views
    }
}

# The cmdlets the proxies run, by name.
$script:TvmCmdlets = @{}

# A function of a script module reads the global preference variables, a cmdlet its caller's: each proxy
# copies the caller's ($ErrorActionPreference = 'Stop' in a script, $WhatIfPreference, ...) into its own
# scope, where the cmdlet it runs reads them, unless the matching common parameter was given.
$script:TvmPreferences = @{
    ErrorAction       = 'ErrorActionPreference'
    WarningAction     = 'WarningPreference'
    InformationAction = 'InformationPreference'
    ProgressAction    = 'ProgressPreference'
    Verbose           = 'VerbosePreference'
    Debug             = 'DebugPreference'
    WhatIf            = 'WhatIfPreference'
    Confirm           = 'ConfirmPreference'
}

# Common parameters the proxy's own runtime serves for the records that pass through it; given to the cmdlet
# as well, they would fill the caller's variable twice.
$script:TvmProxyOnly = @('ErrorVariable', 'WarningVariable', 'InformationVariable', 'OutVariable', 'PipelineVariable')

# The body of every proxy, as ProxyCommand.Create writes it (a steppable pipeline over the cmdlet, begun with
# this function's $PSCmdlet so output, errors and the other streams flow as the cmdlet's), with the caller's
# preferences, the parameters above kept back, and `throw` made to leave the function even when
# -ErrorAction SilentlyContinue has set $ErrorActionPreference in it (`throw` obeys that variable).
$proxyBody = @'
begin
{
    $steppablePipeline = $null
    try {
        foreach ($tvmPreference in $script:TvmPreferences.GetEnumerator()) {
            if (-not $PSBoundParameters.ContainsKey($tvmPreference.Key)) {
                $tvmCallerValue = $PSCmdlet.SessionState.PSVariable.Get($tvmPreference.Value)
                if ($null -ne $tvmCallerValue) {
                    $ExecutionContext.SessionState.PSVariable.Set($tvmPreference.Value, $tvmCallerValue.Value)
                }
            }
        }
        $tvmParameters = @{} + $PSBoundParameters
        foreach ($tvmProxyOnly in $script:TvmProxyOnly) {
            $null = $tvmParameters.Remove($tvmProxyOnly)
        }
        if ($tvmParameters.ContainsKey('OutBuffer')) {
            $tvmParameters['OutBuffer'] = 1
        }
        $wrappedCmd = $script:TvmCmdlets['<Name>']
        $scriptCmd = { & $wrappedCmd @tvmParameters }
        $steppablePipeline = $scriptCmd.GetSteppablePipeline($MyInvocation.CommandOrigin)
        $steppablePipeline.Begin($PSCmdlet)
    } catch {
        $ErrorActionPreference = 'Continue'
        throw
    }
}

process
{
    try {
        $steppablePipeline.Process($_)
    } catch {
        $ErrorActionPreference = 'Continue'
        throw
    }
}

end
{
    try {
        $steppablePipeline.End()
    } catch {
        $ErrorActionPreference = 'Continue'
        throw
    }
}
'@

# PowerShell 7.3 and later run a clean block after a failure or Ctrl+C too (ProxyCommand.GetClean exists
# where the language has the block); Windows PowerShell 5.1 has neither.
if ($null -ne [System.Management.Automation.ProxyCommand].GetMethod('GetClean')) {
    $proxyBody += @'


clean
{
    if ($null -ne $steppablePipeline) {
        $steppablePipeline.Clean()
    }
}
'@
}

foreach ($cmdlet in $binary.ExportedCmdlets.Values) {
    $script:TvmCmdlets[$cmdlet.Name] = $cmdlet
    $metadata = [System.Management.Automation.CommandMetadata]::new($cmdlet)
    # A cmdlet's parameter is positional only where it says Position; a function's would be numbered in order
    # (New-TvmVaultKey -Name -Type -Size would take positions) unless PositionalBinding is off.
    $metadata.PositionalBinding = $false
    $definition = 'function ' + $cmdlet.Name + " {`n" +
        [System.Management.Automation.ProxyCommand]::GetCmdletBindingAttribute($metadata) + "`n" +
        'param(' + [System.Management.Automation.ProxyCommand]::GetParamBlock($metadata) + ")`n`n" +
        $proxyBody.Replace('<Name>', $cmdlet.Name) + "`n" +
        "<#`n.ExternalHelp TvmBackupUtils.dll-Help.xml`n#>`n}"
    # Dot-sourced here, so the function belongs to this module (its $script: scope and the cmdlets above).
    . ([scriptblock]::Create($definition))
}

Export-ModuleMember -Function @($script:TvmCmdlets.Keys) -Alias 'Generate-ImportJsonFromPEM'
