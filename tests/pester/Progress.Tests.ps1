# Progress on every loop: each command that works through keys or backups shows a bar that reaches 100% and is then
# completed, and a command that fails part-way does not claim 100%. Progress is not a stream a script can redirect,
# so each command runs in a PowerShell instance of this process whose Streams.Progress keeps every record. The
# wrapping key pair is the one of tests/vectors (no .NET RSA), so this file runs under Wine as it is.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath
    $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
    $script:Vault = New-TestFolder vault
    foreach ($name in 'vm1', 'vm2', 'vm3') { $null = New-TvmVaultKey -Name $name -Type AES -Size 256 -VaultPath $Vault }
    $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $Vault
    $script:Root = New-TestFolder root

    # Runs $Script (with $Arguments as its param block's arguments) with the staged module; returns the records.
    function Get-ProgressOf([string] $Script, [hashtable] $Arguments = @{}) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path (Get-TvmModulePath) 'TvmBackupUtils.psd1')'; `$ProgressPreference = 'Continue'").AddStatement()
            $null = $ps.AddScript($Script)
            foreach ($name in $Arguments.Keys) { $null = $ps.AddParameter($name, $Arguments[$name]) }
            $output = $ps.Invoke()
            [pscustomobject]@{ Output = @($output); Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error) }
        } finally {
            $ps.Dispose()
        }
    }

    function Assert-FullBar($Run, [string] $Activity) {
        $records = @($Run.Progress | Where-Object Activity -EQ $Activity)
        $records.Count | Should -BeGreaterThan 1 -Because "'$Activity' shows progress (seen: $(@($Run.Progress.Activity | Select-Object -Unique) -join ', '))"
        $processing = @($records | Where-Object RecordType -EQ Processing)
        $processing[-1].PercentComplete | Should -Be 100 -Because 'the bar reaches 100% once the loop is done'
        $processing.PercentComplete | Should -Be ($processing.PercentComplete | Sort-Object) -Because 'it never goes back'
        @($Run.Progress)[-1].RecordType | Should -Be Completed
    }
}

AfterAll { Restore-TvmVaultPath }

Describe 'Progress' {
    It 'of Backup-TVMKeys reaches 100% and completes' {
        $run = Get-ProgressOf 'param($w, $r, $v) Backup-TVMKeys -WrappingKeyPath $w -BackupRootPath $r -VaultPath $v' @{ w = $Keys.Public; r = $Root; v = $Vault }
        $run.Errors | Should -BeNullOrEmpty
        Assert-FullBar $run 'Backing up TVM keys'
        $script:Backup = @($run.Output | Where-Object { $_ -is [TvmBackupUtils.TvmBackup] })[0]
    }

    It 'of Test-TVMKeyBackup reaches 100% for the file check, and for the unwrapping with -Deep' {
        $run = Get-ProgressOf 'param($p, $k) Test-TVMKeyBackup -Path $p -Deep -PrivateKeyPath $k' @{ p = $Backup.Path; k = $Keys.Private }
        $run.Errors | Should -BeNullOrEmpty
        Assert-FullBar $run 'Checking key files'
        Assert-FullBar $run 'Unwrapping keys (deep check)'
    }

    It 'of Import-TVMKeys reaches 100% and completes' {
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $run = Get-ProgressOf 'param($p, $v) Import-TVMKeys -BackupPath $p -WrappingKeyName TvmWrap -VaultPath $v -SkipTargetBackup' @{ p = $Backup.Path; v = $target }
        $run.Errors | Should -BeNullOrEmpty
        Assert-FullBar $run 'Restoring TVM keys'
    }

    It 'of Get-TVMKeyBackup and Remove-TVMKeyBackup reaches 100% and completes' {
        $old = Join-Path $Root '20200101000000'
        Copy-Item -LiteralPath $Backup.Path -Destination $old -Recurse
        Remove-Item -LiteralPath (Join-Path $old 'manifest.json')
        $list = Get-ProgressOf 'param($r) Get-TVMKeyBackup -BackupRootPath $r' @{ r = $Root }
        $list.Output.Count | Should -Be 2
        Assert-FullBar $list 'Listing TVM key backups'
        $remove = Get-ProgressOf 'param($r) Remove-TVMKeyBackup -BackupRootPath $r -KeepLast 1 -Confirm:$false' @{ r = $Root }
        $remove.Errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath $old | Should -BeFalse
        Assert-FullBar $remove 'Removing TVM key backups'
    }

    It 'of a command that fails completes without claiming 100%' {
        # Every backup of this root is damaged, so -Latest fails once the listing is done.
        $root = New-TestFolder damaged-root
        $copy = Join-Path $root '20200101000000'
        Copy-Item -LiteralPath $Backup.Path -Destination $copy -Recurse
        Remove-Item -LiteralPath (Join-Path $copy 'AES' 'vm1_256.json')
        $run = Get-ProgressOf 'param($r) Get-TVMKeyBackup -BackupRootPath $r -Latest' @{ r = $root }
        @($run.Errors.FullyQualifiedErrorId) | Should -Be @('NoCompleteBackup,TvmBackupUtils.Commands.GetTvmKeyBackupCommand')
        $processing = @($run.Progress | Where-Object RecordType -EQ Processing)
        $processing.Count | Should -BeGreaterThan 0
        $processing.PercentComplete | Should -Not -Contain 100
        @($run.Progress)[-1].RecordType | Should -Be Completed
    }
}
