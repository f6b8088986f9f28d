# Runbooks run as a scheduled task runs them (pwsh -File) on a local vault, and the commands that
# TvmBackupUtils.psm1 exports: by the .psm1 a failing command ends the script with exit code 1, as the
# original's `throw` did; by the manifest (.psd1, or by name) the binary cmdlets end only their statement.
# The design is in the header comment of ps-module/TvmBackupUtils.psm1. New tests, not a port.
BeforeDiscovery {
    # One failing call per command of the module (and the original's alias), with the words of its error.
    # The runbook gets $Missing (a path that does not exist), $Work (an empty folder), $NotAVault (a folder
    # with a file and no tvmvault.json); the vault (k1, k2) is $env:TVM_VAULT_PATH.
    $script:FailingCalls = @(
        @{ Command = 'Backup-TVMKeys'; Failure = 'a missing wrapping key file'
            Call = 'Backup-TVMKeys -WrappingKeyPath $Missing -BackupRootPath $Work'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'Import-TVMKeys'; Failure = 'a missing backup folder'
            Call = 'Import-TVMKeys -BackupPath $Missing -WrappingKeyName TvmWrap'; Words = 'timestamped folder that Backup-TVMKeys created' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Failure = 'a missing public key file'
            Call = 'Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Missing -PrivateKeyPath $Missing -KeySize 2048'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'New-TvmImportJson'; Failure = 'a missing public key file'
            Call = 'New-TvmImportJson -PublicKeyPath $Missing -PrivateKeyPath $Missing -OutFilePath ([IO.Path]::Combine($Work, ''import.json''))'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'Generate-ImportJsonFromPEM'; Failure = 'a missing public key file'
            Call = 'Generate-ImportJsonFromPEM -PublicKeyPath $Missing -PrivateKeyPath $Missing -OutFilePath ([IO.Path]::Combine($Work, ''import.json''))'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'New-TvmVaultKey'; Failure = 'a key name the vault holds already'
            Call = 'New-TvmVaultKey -Name k1 -Type AES -Size 256'; Words = "A key named 'k1' already exists in the vault." }
        @{ Command = 'Get-TvmVaultKey'; Failure = 'a folder that is not a vault'
            Call = 'Get-TvmVaultKey -VaultPath $NotAVault'; Words = 'it has no valid tvmvault.json' }
        @{ Command = 'Split-TvmWrappingKey'; Failure = 'a missing private key file'
            Call = 'Split-TvmWrappingKey -PrivateKeyPath $Missing -Threshold 2 -Shares 3 -OutPath ([IO.Path]::Combine($Work, ''shares'')) -NoEncryption'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'Join-TvmWrappingKey'; Failure = 'a missing share file'
            Call = 'Join-TvmWrappingKey -SharePath $Missing'; Words = 'does not exist. Check the path and try again.' }
        @{ Command = 'Test-TvmWrappingKeyShare'; Failure = 'a missing custodian private key file'
            Call = 'Test-TvmWrappingKeyShare -SharePath $Missing -CustodianPrivateKeyPath $Missing'; Words = 'does not exist. Check the path and try again.' }
    )
    $script:ImportPaths = @('psm1', 'psd1')
    $script:CommandNames = @('Backup-TVMKeys', 'Get-TVMKeyBackup', 'Get-TvmVaultKey', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem', 'Join-TvmWrappingKey', 'New-TvmImportJson', 'New-TvmVaultKey', 'New-TvmWrappingKey', 'Remove-TVMKeyBackup', 'Remove-TvmWrappingKey', 'Split-TvmWrappingKey', 'Test-TVMKeyBackup', 'Test-TvmWrappingKeyShare')
    # How Import-TVMKeys is called in the comparisons of the .psm1's functions with the cmdlets.
    $script:RestoreVariants = @(
        @{ Variant = 'no common parameter' }
        @{ Variant = '-ErrorAction SilentlyContinue' }
        @{ Variant = '-ErrorAction Ignore' }
        @{ Variant = '-ErrorAction Stop' }
        @{ Variant = '-WarningAction SilentlyContinue' }
        @{ Variant = '-WhatIf' }
        @{ Variant = '$ErrorActionPreference = ''Stop'' in the caller' }
        @{ Variant = '$WarningPreference = ''SilentlyContinue'' in the caller' }
        @{ Variant = '$WhatIfPreference = $true in the caller' }
        @{ Variant = 'two backups piped in' }
        @{ Variant = 'a backup folder that does not exist' }
        @{ Variant = 'a backup folder that does not exist, and -ErrorAction SilentlyContinue' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    $script:ModuleFolder = Get-TvmModulePath

    # Writes -Text as a runbook (.ps1) in a new folder under $TestDrive; returns its path.
    function New-Runbook([Parameter(Mandatory)] [string] $Text) {
        $path = Join-Path (New-TestFolder runbook) 'runbook.ps1'
        Set-Content -LiteralPath $path -Value $Text -Encoding utf8
        $path
    }

    # What the console showed of a run, as one line: colours removed, the error view's gutter (" | ")
    # removed and the lines joined, so a message wrapped at the console width reads as it was written.
    function Get-ConsoleText([Parameter(Mandatory)] $Run) {
        $lines = foreach ($line in $Run.Output) {
            ($line -replace '\x1b\[[0-9;?]*[A-Za-z]', '') -replace '^\s*\|\s?', ''
        }
        ($lines -join ' ') -replace '\s+', ' '
    }

    # The lines of a run without colours.
    function Get-ConsoleLine([Parameter(Mandatory)] $Run) {
        foreach ($line in $Run.Output) { $line -replace '\x1b\[[0-9;?]*[A-Za-z]', '' }
    }

    # A new local vault holding the AES keys k1 and k2.
    function New-SeededVault {
        $vault = New-TestFolder vault
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault
        $null = New-TvmVaultKey -Name k2 -Type AES -Size 256 -VaultPath $vault
        $vault
    }

    # A backup of a new seeded vault whose k2 file is damaged (Path), and a vault with its wrapping key TvmWrap (VaultB).
    function New-DamagedBackup {
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $backup = Backup-TVMKeys $keys.Public (New-TestFolder backups) -VaultPath (New-SeededVault) 6>$null
        Set-Content -LiteralPath (Join-Path $backup.Path 'AES/k2_256.json') -Value 'not a key file'
        $vaultB = New-TestFolder vaultB
        $null = Import-TvmWrappingKeyFromPem TvmWrap $keys.Public $keys.Private 2048 -VaultPath $vaultB 6>$null
        [pscustomobject]@{ Path = $backup.Path; VaultB = $vaultB }
    }

    # Runs the runbook -Text (pwsh -File) on a new seeded vault (TVM_VAULT_PATH), with the arguments: the module
    # folder, a wrapping key file that does not exist, in the folder -Work (a new one by default), then -More
    # (by default -Work).
    function Invoke-MissingKeyRunbook([string] $Text, [string] $Work = (New-TestFolder work), [object[]] $More = @($Work)) {
        Invoke-Pwsh -File (New-Runbook $Text) -ArgumentList (@($script:ModuleFolder, (Join-Path $Work 'missing.pem')) + $More) `
            -Environment @{ TVM_VAULT_PATH = (New-SeededVault) }
    }

    # Runs a runbook whose only command is one failing -Call, importing the module by -By; returns the run.
    function Invoke-FailingRunbook([string] $By, [string] $Call) {
        $work = New-TestFolder work
        $notAVault = New-TestFolder notavault
        Set-Content -LiteralPath (Join-Path $notAVault 'readme.txt') -Value 'not a vault'
        $text = @'
param([string] $ModuleFolder, [string] $Missing, [string] $Work, [string] $NotAVault)
Import-Module $ModuleFolder\TvmBackupUtils.<By> -Force
<Call>
"RUNBOOK WENT ON: $?"
'@.Replace('<By>', $By).Replace('<Call>', $Call)
        Invoke-MissingKeyRunbook $text $work $work, $notAVault
    }
}

Describe 'A runbook that imports <folder>\TvmBackupUtils.psm1, run with pwsh -File' {
    It 'ends with exit code 1 when Backup-TVMKeys fails (a missing wrapping key file), prints the error, and writes no backup' {
        $work = New-TestFolder work
        $backupRoot = Join-Path $work 'backups'
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
'RUNBOOK WENT ON'
'@
        $run = Invoke-MissingKeyRunbook $text $work $backupRoot
        $run.ExitCode | Should -Be 1
        $console = Get-ConsoleText $run
        $console | Should -Match 'Backup-TVMKeys:'
        $console | Should -Match ([regex]::Escape("The wrapping key file '"))
        $console | Should -Match ([regex]::Escape('does not exist. Check the path and try again.'))
        $console | Should -Not -Match 'RUNBOOK WENT ON'
        @(Get-ChildItem -LiteralPath $work -Recurse -Force).Count | Should -Be 0 -Because 'no backup folder, partial or complete'
    }

    It 'ends with exit code 1 when <Command> fails (<Failure>), and prints the error' -ForEach $FailingCalls {
        $run = Invoke-FailingRunbook -By psm1 -Call $Call
        $run.ExitCode | Should -Be 1
        $console = Get-ConsoleText $run
        $console | Should -Match ([regex]::Escape($Words))
        $console | Should -Not -Match 'RUNBOOK WENT ON'
    }

    It 'written as the original documents it (Import-Module .\TvmBackupUtils.psm1 -Force, in the module folder), ends with exit code 1 when Backup-TVMKeys fails' {
        $work = New-TestFolder work
        $text = @'
param([string] $PublicPem, [string] $BackupRoot)
Import-Module .\TvmBackupUtils.psm1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
'RUNBOOK WENT ON'
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList (Join-Path $work 'missing.pem'), $work `
            -Environment @{ TVM_VAULT_PATH = (New-SeededVault) } -WorkingDirectory $ModuleFolder
        $run.ExitCode | Should -Be 1
        Get-ConsoleText $run | Should -Match ([regex]::Escape('does not exist. Check the path and try again.'))
        Get-ConsoleText $run | Should -Not -Match 'RUNBOOK WENT ON'
    }

    It 'backs up with exit code 0, and the restore runbook restores every key with exit code 0' {
        $vaultA = New-SeededVault
        $vaultB = New-TestFolder vaultB
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $backupRoot = New-TestFolder backups
        $backupText = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
'@
        $restoreText = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $PrivatePem, [string] $BackupPath)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $PublicPem -PrivateKeyPath $PrivatePem -KeySize 2048
Import-TVMKeys -WrappingKeyName TvmWrap -BackupPath $BackupPath
'@
        $backup = Invoke-Pwsh -File (New-Runbook $backupText) -ArgumentList $ModuleFolder, $keys.Public, $backupRoot -Environment @{ TVM_VAULT_PATH = $vaultA }
        $backup.ExitCode | Should -Be 0 -Because (Get-ConsoleText $backup)
        $lines = @(Get-ConsoleLine $backup)
        $lines | Should -Contain 'Backing up key k1 to AES folder'
        $lines | Should -Contain 'Backing up key k2 to AES folder'
        $folders = @(Get-ChildItem -LiteralPath $backupRoot -Directory)
        $folders.Count | Should -Be 1
        $folders[0].Name | Should -Match '^\d{14}$'

        $restore = Invoke-Pwsh -File (New-Runbook $restoreText) -ArgumentList $ModuleFolder, $keys.Public, $keys.Private, $folders[0].FullName -Environment @{ TVM_VAULT_PATH = $vaultB }
        $restore.ExitCode | Should -Be 0 -Because (Get-ConsoleText $restore)
        $restored = @(Get-TvmVaultKey -VaultPath $vaultB | Where-Object Name -In 'k1', 'k2' | Sort-Object Name)
        $original = @(Get-TvmVaultKey -VaultPath $vaultA | Sort-Object Name)
        $restored.Count | Should -Be 2
        $restored.Fingerprint | Should -Be $original.Fingerprint
        $lines = @(Get-ConsoleLine $restore)
        $lines | Should -Contain 'Key TvmWrap successfully imported into the vault.'
        @($lines | Where-Object { $_ -like 'Importing key k? with size 256 from AES folder path = *' }).Count | Should -Be 2
    }

    It 'goes on after a failure that it catches with try/catch, sees the cmdlet''s ErrorId, and exits 0' {
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
try {
    Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
} catch {
    "CAUGHT $($_.FullyQualifiedErrorId) $($_.CategoryInfo.Category) $($_.Exception.GetType().FullName)"
}
'RUNBOOK WENT ON'
'@
        $run = Invoke-MissingKeyRunbook $text
        $run.ExitCode | Should -Be 0
        $lines = @(Get-ConsoleLine $run)
        $lines | Should -Contain 'CAUGHT FileMissing,TvmBackupUtils.Commands.BackupTvmKeysCommand ObjectNotFound TvmBackupUtils.TvmException'
        @($run.StdOut -split '\r?\n' | Where-Object { $_ -ne '' })[-1] | Should -Be 'RUNBOOK WENT ON'
    }

    It 'goes on after a key that fails to import (a non-terminating error, as in the original), with $? false, and exits 0' {
        $damaged = New-DamagedBackup
        # -Force: the original never checked a backup as a whole and imported key by key, a damaged file failing
        # alone; Import-TVMKeys now refuses a damaged backup as a whole (BackupDamaged, tested below) unless
        # -Force, which restores the intact key files as the original did.
        $text = @'
param([string] $ModuleFolder, [string] $BackupPath)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Import-TVMKeys -WrappingKeyName TvmWrap -BackupPath $BackupPath -Force
"RUNBOOK WENT ON: $?"
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $damaged.Path -Environment @{ TVM_VAULT_PATH = $damaged.VaultB }
        $run.ExitCode | Should -Be 0
        Get-ConsoleText $run | Should -Match 'Error Importing Key:'
        @($run.StdOut -split '\r?\n' | Where-Object { $_ -ne '' })[-1] | Should -Be 'RUNBOOK WENT ON: False' -Because 'it is the last line the runbook writes'
        Get-VaultKeyFile $damaged.VaultB 'k1' | Should -Exist
        Get-VaultKeyFile $damaged.VaultB 'k2' | Should -Not -Exist
    }

    It 'with -ErrorAction Stop, ends with exit code 1 at a key that fails to import, as the cmdlet does' {
        $damaged = New-DamagedBackup
        # -Force, as above: without it the damaged backup is refused before any key is imported.
        $text = @'
param([string] $ModuleFolder, [string] $BackupPath)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Import-TVMKeys -WrappingKeyName TvmWrap -BackupPath $BackupPath -Force -ErrorAction Stop
'RUNBOOK WENT ON'
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $damaged.Path -Environment @{ TVM_VAULT_PATH = $damaged.VaultB }
        $run.ExitCode | Should -Be 1
        Get-ConsoleText $run | Should -Match 'Error Importing Key:'
        Get-ConsoleText $run | Should -Not -Match 'RUNBOOK WENT ON'
    }

    It 'ends with exit code 1 at a damaged backup without -Force (BackupDamaged: refused as a whole), and imports nothing' {
        $damaged = New-DamagedBackup
        $text = @'
param([string] $ModuleFolder, [string] $BackupPath)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Import-TVMKeys -WrappingKeyName TvmWrap -BackupPath $BackupPath
'RUNBOOK WENT ON'
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $damaged.Path -Environment @{ TVM_VAULT_PATH = $damaged.VaultB }
        $run.ExitCode | Should -Be 1
        $console = Get-ConsoleText $run
        $console | Should -Match ([regex]::Escape("Nothing was imported: the backup $($damaged.Path) is damaged"))
        $console | Should -Match ([regex]::Escape('run Import-TVMKeys again with -Force'))
        $console | Should -Not -Match 'RUNBOOK WENT ON'
        Get-VaultKeyFile $damaged.VaultB 'k1' | Should -Not -Exist
        Get-VaultKeyFile $damaged.VaultB 'k2' | Should -Not -Exist
    }

    It 'ends with exit code 1 when Backup-TVMKeys fails with -ErrorAction SilentlyContinue: that governs non-terminating errors, for the cmdlet too' {
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot -ErrorAction SilentlyContinue
'RUNBOOK WENT ON'
'@
        $run = Invoke-MissingKeyRunbook $text
        $run.ExitCode | Should -Be 1
        Get-ConsoleText $run | Should -Match ([regex]::Escape('does not exist. Check the path and try again.'))
        Get-ConsoleText $run | Should -Not -Match 'RUNBOOK WENT ON'
    }

    It 'with -WhatIf, says what it would do, writes no backup, and exits 0 with $? true' {
        $backupRoot = New-TestFolder backups
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot -WhatIf
"RUNBOOK WENT ON: $?"
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $keys.Public, $backupRoot -Environment @{ TVM_VAULT_PATH = (New-SeededVault) }
        $run.ExitCode | Should -Be 0
        Get-ConsoleText $run | Should -Match ([regex]::Escape('What if: Performing the operation "Back up the TVM vault keys into a new backup'))
        @($run.StdOut -split '\r?\n' | Where-Object { $_ -ne '' })[-1] | Should -Be 'RUNBOOK WENT ON: True'
        @(Get-ChildItem -LiteralPath $backupRoot -Force).Count | Should -Be 0
    }

    It 'pipes the backup object into Import-TVMKeys and gets one object per key, with exit code 0' {
        $vaultA = New-SeededVault
        $vaultB = New-TestFolder vaultB
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $PrivatePem, [string] $BackupRoot, [string] $VaultA, [string] $VaultB)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
$backup = Backup-TVMKeys $PublicPem $BackupRoot -VaultPath $VaultA
$null = Import-TvmWrappingKeyFromPem TvmWrap $PublicPem $PrivatePem 2048 -VaultPath $VaultB
$backup | Import-TVMKeys -WrappingKeyName TvmWrap -VaultPath $VaultB | ForEach-Object { "RESTORED $($_.GetType().FullName) $($_.Name) $($_.Outcome)" }
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $keys.Public, $keys.Private, (New-TestFolder backups), $vaultA, $vaultB
        $run.ExitCode | Should -Be 0 -Because (Get-ConsoleText $run)
        @(Get-ConsoleLine $run | Where-Object { $_ -like 'RESTORED *' }) | Should -Be @(
            'RESTORED TvmBackupUtils.TvmKeyRestore k1 Imported'
            'RESTORED TvmBackupUtils.TvmKeyRestore k2 Imported'
        )
    }
}

Describe 'A runbook that imports the manifest (<folder>\TvmBackupUtils.psd1, or TvmBackupUtils by name), run with pwsh -File' {
    It 'goes on after a failing <Command> (<Failure>) with $? false and exits 0: the cmdlets end only their statement' -ForEach $FailingCalls {
        $run = Invoke-FailingRunbook -By psd1 -Call $Call
        $run.ExitCode | Should -Be 0
        $console = Get-ConsoleText $run
        $console | Should -Match ([regex]::Escape($Words))
        @(Get-ConsoleLine $run) | Should -Contain 'RUNBOOK WENT ON: False'
    }

    It 'by name (Import-Module TvmBackupUtils, from $env:PSModulePath) gets the binary cmdlets, which end only their statement' {
        $work = New-TestFolder work
        $text = @'
param([string] $PublicPem, [string] $BackupRoot)
Import-Module TvmBackupUtils -Force
"COMMAND $((Get-Command Backup-TVMKeys).CommandType) FROM $((Get-Module TvmBackupUtils).ModuleBase)"
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
"RUNBOOK WENT ON: $?"
'@
        $modulePath = (Split-Path $ModuleFolder -Parent) + [IO.Path]::PathSeparator + $env:PSModulePath
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList (Join-Path $work 'missing.pem'), $work `
            -Environment @{ TVM_VAULT_PATH = (New-SeededVault); PSModulePath = $modulePath }
        $run.ExitCode | Should -Be 0
        $lines = @(Get-ConsoleLine $run)
        $lines | Should -Contain ('COMMAND Cmdlet FROM ' + $ModuleFolder)
        Get-ConsoleText $run | Should -Match ([regex]::Escape('does not exist. Check the path and try again.'))
        $lines | Should -Contain 'RUNBOOK WENT ON: False'
    }

    It 'ends with exit code 1 at a failing Backup-TVMKeys when the script sets $ErrorActionPreference = ''Stop''' {
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $BackupRoot)
$ErrorActionPreference = 'Stop'
Import-Module $ModuleFolder\TvmBackupUtils.psd1 -Force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
'RUNBOOK WENT ON'
'@
        $run = Invoke-MissingKeyRunbook $text
        $run.ExitCode | Should -Be 1
        Get-ConsoleText $run | Should -Not -Match 'RUNBOOK WENT ON'
    }
}

Describe 'The format views, in a new pwsh' {
    It 'load with Import-Module <folder>\TvmBackupUtils.<_>: Get-FormatData finds TvmBackupUtils.TvmKeyRestore and a restore prints as a table' -ForEach $ImportPaths {
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $text = @'
param([string] $ModuleFolder, [string] $PublicPem, [string] $PrivatePem, [string] $BackupRoot, [string] $VaultA, [string] $VaultB)
Import-Module $ModuleFolder\TvmBackupUtils.<By> -Force
"FORMATDATA $(@(Get-FormatData -TypeName TvmBackupUtils.TvmKeyRestore).Count) $((Get-FormatData -TypeName TvmBackupUtils.TvmKeyRestore).TypeNames)"
$null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $VaultA
$backup = Backup-TVMKeys $PublicPem $BackupRoot -VaultPath $VaultA 6>$null
$null = Import-TvmWrappingKeyFromPem TvmWrap $PublicPem $PrivatePem 2048 -VaultPath $VaultB 6>$null
$restored = Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName TvmWrap -VaultPath $VaultB 6>$null
$restored | Out-String -Width 200
'@.Replace('<By>', $_)
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder, $keys.Public, $keys.Private, (New-TestFolder backups), (New-TestFolder vaultA), (New-TestFolder vaultB)
        $run.ExitCode | Should -Be 0 -Because (Get-ConsoleText $run)
        $lines = @(Get-ConsoleLine $run)
        $lines | Should -Contain 'FORMATDATA 1 TvmBackupUtils.TvmKeyRestore'
        @($lines | Where-Object { $_ -match '^Name\s+Type\s+Size\s+Outcome\s+Message\s*$' }).Count | Should -Be 1 -Because 'the table header'
        @($lines | Where-Object { $_ -match '^k1\s+AES\s+256\s+Imported\s*$' }).Count | Should -Be 1 -Because 'the row of k1'
        @($lines | Where-Object { $_ -match '^(Name|Outcome)\s*:' }).Count | Should -Be 0 -Because 'a table, not a list'
    }

    BeforeAll {
        # The types the format file has views for: each is one FormatData once the file is loaded once.
        function Get-FormatTypeCount {
            $xml = [xml](Get-Content -LiteralPath (Join-Path (Get-TvmModulePath) 'TvmBackupUtils.Format.ps1xml') -Raw)
            @($xml.Configuration.ViewDefinitions.View | ForEach-Object { $_.ViewSelectedBy.TypeName } | Sort-Object -Unique).Count
        }
    }

    It 'load once: a second Import-Module .\TvmBackupUtils.psm1 -Force gives no error and lists the format file once' {
        $text = @'
param([string] $ModuleFolder)
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force -ErrorVariable first
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force -ErrorVariable second
$formatFile = [IO.Path]::Combine($ModuleFolder, 'TvmBackupUtils.Format.ps1xml')
"ERRORS $($first.Count + $second.Count + $Error.Count)"
"FORMATFILES $(@([runspace]::DefaultRunspace.InitialSessionState.Formats | Where-Object FileName -EQ $formatFile).Count)"
"VIEWS $(@(Get-FormatData -TypeName 'TvmBackupUtils.*').Count)"
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder
        $run.ExitCode | Should -Be 0
        @(Get-ConsoleLine $run) | Should -Be @('ERRORS 0', 'FORMATFILES 1', "VIEWS $(Get-FormatTypeCount)")
    }

    It 'stay loaded when the .psm1 is imported with -Force after the .psd1' {
        $text = @'
param([string] $ModuleFolder)
Import-Module $ModuleFolder\TvmBackupUtils.psd1 -Force
Import-Module $ModuleFolder\TvmBackupUtils.psm1 -Force
"ERRORS $($Error.Count)"
"VIEWS $(@(Get-FormatData -TypeName 'TvmBackupUtils.*').Count)"
'@
        $run = Invoke-Pwsh -File (New-Runbook $text) -ArgumentList $ModuleFolder
        $run.ExitCode | Should -Be 0
        @(Get-ConsoleLine $run) | Should -Be @('ERRORS 0', "VIEWS $(Get-FormatTypeCount)")
    }
}

Describe 'The commands that Import-Module <folder>\TvmBackupUtils.psm1 exports' {
    BeforeAll {
        Import-TvmModule -By psm1
        $script:Cmdlet = @{}
        foreach ($nested in (Get-Module TvmBackupUtils).NestedModules) {
            foreach ($c in $nested.ExportedCmdlets.Values) { $script:Cmdlet[$c.Name] = $c }
        }

        # A parameter as binding sees it: name, type, aliases, and per parameter set mandatory, position and
        # pipeline binding.
        function Get-ParameterShape($Command) {
            foreach ($p in $Command.Parameters.Values | Sort-Object Name) {
                $sets = foreach ($s in $p.ParameterSets.GetEnumerator() | Sort-Object Key) {
                    '{0}:{1}:{2}:{3}:{4}' -f $s.Key, $s.Value.IsMandatory, $s.Value.Position, $s.Value.ValueFromPipeline, $s.Value.ValueFromPipelineByPropertyName
                }
                '{0} [{1}] ({2}) {3}' -f $p.Name, $p.ParameterType.FullName, (($p.Aliases | Sort-Object) -join ','), ($sets -join ' ')
            }
        }
    }

    AfterAll {
        Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
    }

    It 'are fourteen functions, one per cmdlet and of its name, and the alias Generate-ImportJsonFromPEM of New-TvmImportJson' {
        $commands = @(Get-Command -Module TvmBackupUtils)
        @($commands | Where-Object CommandType -EQ Function | ForEach-Object Name | Sort-Object) | Should -Be ($CommandNames | Sort-Object)
        $alias = @($commands | Where-Object CommandType -EQ Alias)
        $alias.Count | Should -Be 1
        $alias[0].Name | Should -Be 'Generate-ImportJsonFromPEM'
        $alias[0].ResolvedCommand.Name | Should -Be 'New-TvmImportJson'
        $alias[0].ResolvedCommand.CommandType | Should -Be 'Function'
        $commands.Count | Should -Be 15
    }

    It '<_> has the parameters of its cmdlet: names, types, aliases, sets, positions, mandatory and pipeline binding' -ForEach $CommandNames {
        $function = Get-Command $_ -CommandType Function
        $Cmdlet[$_] | Should -Not -BeNullOrEmpty
        @(Get-ParameterShape $function) | Should -Be @(Get-ParameterShape $Cmdlet[$_])
        $function.DefaultParameterSet | Should -Be $Cmdlet[$_].DefaultParameterSet
        @($function.ParameterSets | ForEach-Object ToString) | Should -Be @($Cmdlet[$_].ParameterSets | ForEach-Object ToString)
        $function.CmdletBinding | Should -BeTrue
    }

    It 'Get-Help <_> shows the cmdlet''s help' -ForEach $CommandNames {
        $help = Get-Help $_
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match ([regex]::Escape($_)) -Because 'a help topic, not the generated syntax'
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
    }

    It 'write the cmdlets'' objects, of their own type' {
        $vault = New-SeededVault
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $key = Get-TvmVaultKey k1 -VaultPath $vault
        $key.GetType().FullName | Should -Be 'TvmBackupUtils.TvmKey'
        $key.pstypenames[0] | Should -Be 'TvmBackupUtils.TvmKey'
        $backup = Backup-TVMKeys $keys.Public (New-TestFolder backups) -VaultPath $vault 6>$null
        $backup.GetType().FullName | Should -Be 'TvmBackupUtils.TvmBackup'
        @($backup.Keys.Name | Sort-Object) | Should -Be @('k1', 'k2')
        @($backup.psobject.Properties.Name) | Should -Be @('Path', 'Timestamp', 'Keys', 'WrappingKeyFingerprint', 'Label') -Because 'no member added on the way'
    }

    It 'give try/catch the cmdlet''s own terminating ErrorRecord (ErrorId, category, exception, target)' {
        $work = New-TestFolder work
        $err = Get-TerminatingError { Backup-TVMKeys -WrappingKeyPath (Join-Path $work 'missing.pem') -BackupRootPath $work -VaultPath (New-SeededVault) }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'FileMissing,TvmBackupUtils.Commands.BackupTvmKeysCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.GetType().FullName | Should -Be 'TvmBackupUtils.TvmException'
        $err.Exception.Message | Should -BeLike "The wrapping key file '*missing.pem' does not exist. Check the path and try again."
        $err.TargetObject | Should -Be $work
        $err.InvocationInfo.MyCommand.Name | Should -Be 'Backup-TVMKeys'
    }

    It 'record a terminating error in -ErrorVariable (more than once: documented) and once in $Error' {
        $work = New-TestFolder work
        $Error.Clear()
        try {
            Backup-TVMKeys -WrappingKeyPath (Join-Path $work 'missing.pem') -BackupRootPath $work -VaultPath (New-SeededVault) -ErrorVariable failures
        } catch {
            $null = $_
        }
        $failures.Count | Should -BeGreaterOrEqual 1
        $failures[0].ErrorRecord.FullyQualifiedErrorId | Should -Be 'FileMissing,TvmBackupUtils.Commands.BackupTvmKeysCommand' -Because 'the first entry is the one the cmdlet records'
        foreach ($f in $failures | Select-Object -Skip 1) { $f.FullyQualifiedErrorId | Should -Be 'FileMissing,TvmBackupUtils.Commands.BackupTvmKeysCommand' }
        $Error.Count | Should -Be 1
    }

    Context 'compared with the cmdlets of Import-Module <folder>\TvmBackupUtils.psd1' {
        BeforeAll {
            # One backup of k1, k2, k3 whose k2 file is damaged; every run restores it into a new vault that
            # holds the wrapping key and already a k1: k1 Exists (a warning), k2 Failed (an error), k3 Imported.
            Import-TvmModule
            $vault = New-TestFolder vaultA
            foreach ($name in 'k1', 'k2', 'k3') { $null = New-TvmVaultKey -Name $name -Type AES -Size 256 -VaultPath $vault }
            $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
            $backupRoot = New-TestFolder backups
            $script:Backup = Backup-TVMKeys $Keys.Public $backupRoot -VaultPath $vault 6>$null
            Set-Content -LiteralPath (Join-Path $Backup.Path 'AES/k2_256.json') -Value 'not a key file'
            Start-Sleep -Milliseconds 1100
            $script:SecondBackup = Backup-TVMKeys $Keys.Public $backupRoot -VaultPath $vault 6>$null

            # Restores as -Variant says, in this function's scope (not the global one); returns what a caller sees.
            function Invoke-Restore([string] $Variant) {
                $target = New-TestFolder vaultB
                $null = Import-TvmWrappingKeyFromPem TvmWrap $Keys.Public $Keys.Private 2048 -VaultPath $target 6>$null
                $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $target
                $ErrorActionPreference = 'Continue'
                $common = @{}
                $path = $Backup.Path
                $piped = $null
                switch ($Variant) {
                    '-ErrorAction SilentlyContinue' { $common.ErrorAction = 'SilentlyContinue' }
                    '-ErrorAction Ignore' { $common.ErrorAction = 'Ignore' }
                    '-ErrorAction Stop' { $common.ErrorAction = 'Stop' }
                    '-WarningAction SilentlyContinue' { $common.WarningAction = 'SilentlyContinue' }
                    '-WhatIf' { $common.WhatIf = $true }
                    '$ErrorActionPreference = ''Stop'' in the caller' { $ErrorActionPreference = 'Stop' }
                    '$WarningPreference = ''SilentlyContinue'' in the caller' { $WarningPreference = 'SilentlyContinue' }
                    '$WhatIfPreference = $true in the caller' { $WhatIfPreference = $true }
                    'two backups piped in' { $piped = @($Backup, $SecondBackup) }
                    'a backup folder that does not exist' { $path = Join-Path $target 'no-backup' }
                    'a backup folder that does not exist, and -ErrorAction SilentlyContinue' { $path = Join-Path $target 'no-backup'; $common.ErrorAction = 'SilentlyContinue' }
                }
                $Error.Clear()
                $ok = $null
                $terminating = $null
                $output = @()
                try {
                    if ($piped) {
                        $output = @($piped | Import-TVMKeys -WrappingKeyName TvmWrap -VaultPath $target @common -ErrorVariable errors -WarningVariable warnings -InformationVariable information -OutVariable written 3>$null 6>$null 2>$null)
                    } else {
                        $output = @(Import-TVMKeys -BackupPath $path -WrappingKeyName TvmWrap -VaultPath $target @common -ErrorVariable errors -WarningVariable warnings -InformationVariable information -OutVariable written 3>$null 6>$null 2>$null)
                    }
                    $ok = $?
                } catch {
                    $terminating = $_.FullyQualifiedErrorId
                }
                $errorCount = $Error.Count
                $WhatIfPreference = $false
                [pscustomobject]@{
                    Output = @($output | ForEach-Object { "$($_.GetType().Name) $($_.Name) $($_.Outcome) $($_.ErrorId)" })
                    Written = @($written).Count
                    Errors = @($errors | ForEach-Object {
                            if ($_ -is [System.Management.Automation.ErrorRecord]) { "ErrorRecord $($_.FullyQualifiedErrorId)" }
                            else { "$($_.GetType().Name) $($_.ErrorRecord.FullyQualifiedErrorId)" }
                        })
                    Warnings = @($warnings | ForEach-Object { "$_" })
                    # The pre-restore backup of each run has its own timestamp: the folder name is not compared.
                    HostLines = @($information | Where-Object { $_.Tags -contains 'PSHOST' } | ForEach-Object {
                            "$($_.MessageData)".Replace($target, '<vault>') -replace '(backed up to .*[\\/])\d{14}( before the restore)', '$1<timestamp>$2'
                        })
                    Succeeded = $ok
                    Terminating = $terminating
                    ErrorCount = $errorCount
                    VaultKeys = @(Get-ChildItem -LiteralPath (Join-Path $target 'keys') -Filter 'k*.json' -ErrorAction SilentlyContinue | ForEach-Object Name | Sort-Object)
                }
            }
        }

        AfterAll {
            Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
        }

        It 'a restore with <Variant> writes the same objects, errors, warnings, host messages, $? and vault keys' -ForEach $RestoreVariants {
            Import-TvmModule -By psd1
            (Get-Command Import-TVMKeys).CommandType | Should -Be 'Cmdlet'
            $cmdlet = Invoke-Restore $Variant
            Import-TvmModule -By psm1
            (Get-Command Import-TVMKeys).CommandType | Should -Be 'Function'
            $function = Invoke-Restore $Variant
            $function.Output | Should -Be $cmdlet.Output
            $function.Written | Should -Be $cmdlet.Written
            if ($null -eq $cmdlet.Terminating) {
                $function.Errors | Should -Be $cmdlet.Errors
            } else {
                # A terminating error: the cmdlet's record comes first; the rethrows add it again (documented).
                $function.Errors[0] | Should -Be $cmdlet.Errors[0]
                @($function.Errors | ForEach-Object { $_.Split(' ')[1] } | Select-Object -Unique) | Should -Be @($cmdlet.Errors[0].Split(' ')[1])
            }
            $function.Warnings | Should -Be $cmdlet.Warnings
            $function.HostLines | Should -Be $cmdlet.HostLines
            $function.Succeeded | Should -Be $cmdlet.Succeeded
            $function.Terminating | Should -Be $cmdlet.Terminating
            $function.ErrorCount | Should -Be $cmdlet.ErrorCount
            $function.VaultKeys | Should -Be $cmdlet.VaultKeys
        }
    }
}
