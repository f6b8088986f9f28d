<#
.SYNOPSIS
    Runs the Pester tests of tests/pester against a staged module, in this pwsh process.
.DESCRIPTION
    build.ps1 Test runs it in a new pwsh; run it alone to work on the tests:
        dotnet pwsh tests/pester/Invoke-Tests.ps1 -PesterPath <Pester.psd1> [-Path tests/pester/Restore.Tests.ps1]
    Writes "<passed> <failed>" to -ResultPath when given; exits 1 when a test failed or none ran.
.EXAMPLE
    dotnet pwsh tests/pester/Invoke-Tests.ps1 -PesterPath ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    # The staged module folder (default: target/TvmBackupUtils of this repository).
    [string] $ModulePath = ([IO.Path]::Combine($PSScriptRoot, '..', '..', 'target', 'TvmBackupUtils')),
    [string] $ResultPath,
    # Test files or folders (default: every *.Tests.ps1 here).
    [string[]] $Path = @($PSScriptRoot),
    [string[]] $TagFilter,
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')] [string] $Output = 'Detailed'
)
$ErrorActionPreference = 'Stop'
# pwsh -File passes "-Path a,b" as one string: split it, as -Command would have.
$Path = @($Path | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
Import-Module $PesterPath -MinimumVersion 5.7.1 -Force
$env:TVM_TEST_MODULE_PATH = [IO.Path]::GetFullPath($ModulePath)
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Run.Exit = $false
$config.Output.Verbosity = $Output
if ($TagFilter) { $config.Filter.Tag = $TagFilter }
$result = Invoke-Pester -Configuration $config
$passed = $result.PassedCount
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
if ($ResultPath) { Set-Content -Path $ResultPath -Value "$passed $failed" }
"pester: $passed passed, $failed failed"
if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
