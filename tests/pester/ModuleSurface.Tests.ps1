# What the module exports, and the parameters of the four commands of the original (docs/format.md section 9).
# Moved from the xunit class ModuleSurfaceTests.
BeforeDiscovery {
    $script:ImportPaths = @('psd1', 'psm1')
    $script:OriginalCommands = @(
        @{ Command = 'Backup-TVMKeys'; Parameters = @('WrappingKeyPath', 'BackupRootPath') }
        @{ Command = 'Import-TVMKeys'; Parameters = @('BackupPath', 'WrappingKeyName') }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Parameters = @('KeyName', 'PublicKeyPath', 'PrivateKeyPath', 'KeySize') }
        @{ Command = 'Generate-ImportJsonFromPEM'; Parameters = @('PublicKeyPath', 'PrivateKeyPath', 'OutFilePath') }
        @{ Command = 'New-TvmImportJson'; Parameters = @('PublicKeyPath', 'PrivateKeyPath', 'OutFilePath') }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Cmdlets = @('Backup-TVMKeys', 'Get-TVMKeyBackup', 'Get-TvmVaultKey', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem', 'Join-TvmWrappingKey', 'New-TvmImportJson', 'New-TvmVaultKey', 'New-TvmWrappingKey', 'Remove-TVMKeyBackup', 'Remove-TvmWrappingKey', 'Split-TvmWrappingKey', 'Test-TVMKeyBackup', 'Test-TvmWrappingKeyShare')
}

Describe 'Import-Module' {
    # By the manifest the commands are the binary cmdlets; by the .psm1, as the original's runbooks import it,
    # they are functions of the same names and parameters that end the script on failure, as the original's
    # `throw` did (ps-module/TvmBackupUtils.psm1; Runbook.Tests.ps1).
    It 'by <_> exports exactly the fourteen commands and the Generate-ImportJsonFromPEM alias, without a warning or an error' -ForEach $ImportPaths {
        Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
        $path = Join-Path (Get-TvmModulePath) "TvmBackupUtils.$_"
        Import-Module $path -Force -WarningVariable warnings -ErrorVariable errors -ErrorAction Stop
        $warnings | Should -BeNullOrEmpty
        $errors | Should -BeNullOrEmpty
        $commands = @(Get-Command -Module TvmBackupUtils)
        $type = if ($_ -eq 'psd1') { 'Cmdlet' } else { 'Function' }
        @($commands | Where-Object CommandType -EQ $type | ForEach-Object Name | Sort-Object) | Should -Be ($Cmdlets | Sort-Object)
        $alias = @($commands | Where-Object CommandType -EQ Alias)
        $alias.Count | Should -Be 1
        $alias[0].Name | Should -Be 'Generate-ImportJsonFromPEM'
        $alias[0].ResolvedCommand.Name | Should -Be 'New-TvmImportJson'
        $commands.Count | Should -Be 15 -Because 'no functions, no stray commands'
    }

    It 'of .\TvmBackupUtils.psm1 from the module folder, as runbooks write it, makes the commands available' {
        Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
        Push-Location (Get-TvmModulePath)
        try {
            Import-Module .\TvmBackupUtils.psm1 -Force -WarningVariable warnings
            $warnings | Should -BeNullOrEmpty
            @(Get-Command Backup-TVMKeys, Import-TVMKeys, Import-TvmWrappingKeyFromPem, Generate-ImportJsonFromPEM).Count | Should -Be 4
        } finally {
            Pop-Location
        }
    }

    It 'twice with -Force keeps the commands working' {
        Import-TvmModule -By psm1
        Import-Module (Join-Path (Get-TvmModulePath) 'TvmBackupUtils.psm1') -Force
        @(Get-Command -Module TvmBackupUtils).Count | Should -Be 15
        $key = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath (New-TestFolder vault)
        $key.Name | Should -Be 'k1'
    }
}

Describe 'The parameters of the commands' {
    BeforeAll { Import-TvmModule }

    It '<Command> has mandatory positional [string] parameters in the original''s order, and no other positional one' -ForEach $OriginalCommands {
        $info = Get-Command $Command
        if ($info -is [System.Management.Automation.AliasInfo]) { $info = $info.ResolvedCommand }
        for ($i = 0; $i -lt $Parameters.Count; $i++) {
            $p = $info.Parameters[$Parameters[$i]]
            $p | Should -Not -BeNullOrEmpty -Because "$Command has a -$($Parameters[$i])"
            $p.ParameterType | Should -Be ([string])
            $p.ParameterSets.Count | Should -BeGreaterThan 0
            # The original's parameters, in every set but Import-TvmWrappingKeyFromPem's Shares (the private key rebuilt
            # from -SharePath, a set the original does not have; its positional -KeyName is checked below).
            foreach ($set in $p.ParameterSets.GetEnumerator() | Where-Object Key -NE 'Shares') {
                $set.Value.IsMandatory | Should -BeTrue -Because "-$($Parameters[$i]) is mandatory in set $($set.Key)"
                $set.Value.Position | Should -Be $i -Because "-$($Parameters[$i]) is at position $i in set $($set.Key)"
            }
        }
        $positional = @($info.Parameters.Values | Where-Object { @($_.ParameterSets.Values | Where-Object Position -GE 0).Count -gt 0 } | ForEach-Object Name)
        ($positional | Sort-Object) | Should -Be ($Parameters | Sort-Object)
    }

    It 'Import-TvmWrappingKeyFromPem -SharePath keeps -KeyName first and takes no -PrivateKeyPath or -Password' {
        $info = Get-Command Import-TvmWrappingKeyFromPem
        $info.DefaultParameterSet | Should -Be 'Files' -Because 'the original''s call binds as before'
        $shares = $info.ParameterSets | Where-Object Name -EQ 'Shares'
        $shares | Should -Not -BeNullOrEmpty
        $byName = @{}; foreach ($p in $shares.Parameters) { $byName[$p.Name] = $p }
        $byName['KeyName'].Position | Should -Be 0
        $byName['KeyName'].IsMandatory | Should -BeTrue
        $byName['SharePath'].IsMandatory | Should -BeTrue
        $byName['KeySize'].IsMandatory | Should -BeTrue
        $byName['PublicKeyPath'].IsMandatory | Should -BeFalse
        $byName.Keys | Should -Not -Contain 'PrivateKeyPath'
        $byName.Keys | Should -Not -Contain 'Password'
    }

    It '<_> supports -WhatIf and -Confirm' -ForEach @('Backup-TVMKeys', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem', 'New-TvmImportJson', 'New-TvmVaultKey', 'Split-TvmWrappingKey', 'Join-TvmWrappingKey') {
        $info = Get-Command $_
        $info.Parameters.Keys | Should -Contain 'WhatIf'
        $info.Parameters.Keys | Should -Contain 'Confirm'
    }

    It '<_> has an optional, named [string] -VaultPath' -ForEach @('Backup-TVMKeys', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem', 'New-TvmVaultKey', 'Get-TvmVaultKey') {
        $p = (Get-Command $_).Parameters['VaultPath']
        $p | Should -Not -BeNullOrEmpty
        $p.ParameterType | Should -Be ([string])
        foreach ($set in $p.ParameterSets.Values) {
            $set.IsMandatory | Should -BeFalse
            $set.Position | Should -BeLessThan 0 -Because '-VaultPath is not positional'
        }
    }

    It 'Import-TVMKeys -BackupPath binds from the pipeline by the property Path or FullName' {
        $p = (Get-Command Import-TVMKeys).Parameters['BackupPath']
        $p.Aliases | Should -Contain 'Path'
        $p.Aliases | Should -Contain 'FullName'
        foreach ($set in $p.ParameterSets.Values) { $set.ValueFromPipelineByPropertyName | Should -BeTrue }
    }

    It 'New-TvmVaultKey has a mandatory [string] -Name and -Type and an [int] -Size' {
        $info = Get-Command New-TvmVaultKey
        $info.Parameters['Name'].ParameterType | Should -Be ([string])
        $info.Parameters['Type'].ParameterType | Should -Be ([string])
        $info.Parameters['Size'].ParameterType | Should -Be ([int])
        foreach ($n in 'Name', 'Type', 'Size') {
            foreach ($set in $info.Parameters[$n].ParameterSets.Values) { $set.IsMandatory | Should -BeTrue -Because "-$n is mandatory" }
        }
    }
}
