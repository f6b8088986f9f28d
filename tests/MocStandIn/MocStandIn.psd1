#
# MocStandIn: a STAND-IN for the Moc PowerShell module of Azure Local, FOR TESTS ONLY.
# It is not Microsoft's Moc module and reaches no MOC cloud agent. It keeps key vaults in a folder chosen with
# Set-MocStandIn -StateRoot and reproduces the documented behaviours of the Moc cmdlets that the original
# TvmBackupUtils.psm1 calls (see tests/MocStandIn/README.md). Import the copy built beside MocStandIn.dll:
#   dotnet build tests/MocStandIn -c Release
#   Import-Module tests/MocStandIn/bin/Release/net10.0/MocStandIn.psd1
#
@{
    RootModule           = 'MocStandIn.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '03259e51-8854-4df8-a609-44d53ce3ef92'
    Author               = 'TvmBackupUtils contributors'
    CompanyName          = 'TvmBackupUtils contributors'
    Copyright            = '(c) TvmBackupUtils contributors. MIT License.'
    Description          = 'STAND-IN for the Moc PowerShell module, for tests only: NOT the real Moc module. Same cmdlet and parameter names as the Moc key vault cmdlets, backed by a folder of test keys (Set-MocStandIn), with a record of every call (Get-MocStandInCall).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    CmdletsToExport      = @(
        'Get-MocConfig'
        'Get-MocKey'
        'Export-MocKey'
        'Import-MocKey'
        'Remove-MocKey'
        'New-MocKey'
        'Get-MocKeyPublicKey'
        'Set-MocStandIn'
        'Get-MocStandInCall'
        'Clear-MocStandInCall'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('StandIn', 'Test')
        }
    }
}
