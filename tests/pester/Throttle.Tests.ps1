# -ThrottleLimit on Backup-TVMKeys and Import-TVMKeys: up to n Moc cmdlet calls at a time, each in a runspace of a
# pool that imports the Moc module, the results in the original order; default 1, the original's one call at a time.
# In real pwsh against the stand-in Moc module (tests/MocStandIn, NOT Microsoft's Moc module). Whether calls overlap
# is told without timing: Set-MocStandIn -GatherCalls n makes the first n exports (or imports) each wait until all n
# have arrived, which only calls that truly overlap can do (calls made one at a time never meet); each call records how many ran when it began
# (InFlight). A call that hangs is stopped by its own -TimeoutSec while the others finish.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Import-MocStandIn
    Clear-TvmVaultPath
    $script:Work = New-TestFolder 'throttle'
    $script:Pair = Copy-VectorKeyPair (Join-Path $Work 'pair')
    $script:Names = @(foreach ($i in 1..12) { 'vm{0:d2}' -f $i }) + @('rsa1')

    # A new cluster (a stand-in StateRoot) with the 12 AES keys and one RSA key; returns its StateRoot.
    function New-SourceCluster([string] $Name, [hashtable] $Settings = @{}) {
        $root = Join-Path $Work $Name
        Set-StandInCluster -StateRoot $root
        Add-StandInKey -Key ($Names | Select-Object -First 12)
        Add-StandInKey -Key 'rsa1' -Type RSA -Size 2048
        Set-StandInCluster -StateRoot $root -Settings $Settings
        $root
    }

    # A new cluster with only the wrapping key 'w' (the vector pair), ready to restore into.
    function New-TargetCluster([string] $Name, [hashtable] $Settings = @{}) {
        $root = Join-Path $Work $Name
        Set-StandInCluster -StateRoot $root
        $null = Import-TvmWrappingKeyFromPem w $Pair.Public $Pair.Private 2048 -ErrorAction Stop
        Set-StandInCluster -StateRoot $root -Settings $Settings
        $root
    }
}

AfterAll { Restore-TvmVaultPath }

Describe 'Backup-TVMKeys -ThrottleLimit on the MOC vault' {
    It 'at -ThrottleLimit 4 the exports overlap (4 met at once), never more than 4 run, and the backup is complete and in order' {
        $null = New-SourceCluster 'src4' @{ GatherCalls = 4 }
        $backup = Backup-TVMKeys $Pair.Public (Join-Path $Work 'root4') -ThrottleLimit 4 -ErrorAction Stop
        $exports = Get-StandInCall 'Export-MocKey'
        $exports.Count | Should -Be 13
        @($exports | Where-Object Gathered).Count | Should -Be 4 -Because 'the first four exports ran at the same time'
        ($exports | Measure-Object InFlight -Maximum).Maximum | Should -BeLessOrEqual 4
        @($backup.Keys | ForEach-Object Name) | Should -Be (@(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault | ForEach-Object Name))
        $check = Test-TVMKeyBackup -Path $backup.Path -ErrorAction Stop
        $check.Status | Should -Be 'Valid'
        $check.KeyCount | Should -Be 13
    }

    It 'without -ThrottleLimit (1, the default) every call runs alone, on the pipeline thread, as the original' {
        $null = New-SourceCluster 'src1'
        $backup = Backup-TVMKeys $Pair.Public (Join-Path $Work 'root1') -ErrorAction Stop
        $calls = Get-StandInCall
        @($calls | Where-Object InFlight -NE 1 | ForEach-Object { "$($_.Command) $($_.InFlight)" }) | Should -BeNullOrEmpty
        @($calls | Where-Object Command -EQ 'Export-MocKey').Count | Should -Be 13
        $backup.Keys.Count | Should -Be 13
    }

    It 'a hanging export is stopped by its own -TimeoutSec while the others run: the backup fails naming that key, and nothing is left' {
        $null = New-SourceCluster 'srchang' @{ HangOn = @('Export-MocKey:vm05') }
        $root = Join-Path $Work 'roothang'
        $run = Invoke-Captured { Backup-TVMKeys $Pair.Public $root -ThrottleLimit 4 -TimeoutSec 2 }
        $e = Assert-TvmTerminating $run VaultTimeout OperationTimeout
        (Get-ErrorText $e) | Should -Match 'vm05'
        (Get-ErrorText $e) | Should -Match 'did not return within 2 seconds'
        @(Get-ChildItem -LiteralPath $root -Force -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty -Because 'a failed backup leaves nothing in the root'
        @(Get-StandInCall 'Export-MocKey' | Where-Object { $_.Parameters['name'] -eq 'vm06' }).Count | Should -Be 1 -Because 'the other calls of the batch ran'
    }

    It 'Ctrl+C (PowerShell.Stop) stops every running export at once, starts no more, and leaves no backup' {
        $null = New-SourceCluster 'srcstop' @{ HangOn = @('Export-MocKey:*') }
        $root = Join-Path $Work 'rootstop'
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript('param($Module, $StandIn, $Public, $Root) Import-Module $Module; Import-Module $StandIn; Backup-TVMKeys $Public $Root -ThrottleLimit 4 -TimeoutSec 600').
                AddArgument((Join-Path (Get-TvmModulePath) 'TvmBackupUtils.psd1')).AddArgument((Get-MocStandInPath)).AddArgument($Pair.Public).AddArgument($root)
            $async = $ps.BeginInvoke()
            # The four calls of the first round hang (until stopped); wait until all four have begun (at most 60 s).
            $until = [DateTime]::UtcNow.AddSeconds(60)
            while (@(Get-StandInCall 'Export-MocKey').Count -lt 4 -and [DateTime]::UtcNow -lt $until) { Start-Sleep -Milliseconds 50 }
            @(Get-StandInCall 'Export-MocKey').Count | Should -Be 4 -Because 'four calls run at once, and none more while they hang'
            $ps.Stop()
            $async.IsCompleted | Should -BeTrue -Because 'Stop returns once the command has ended'
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            @(Get-StandInCall 'Export-MocKey').Count | Should -Be 4 -Because 'no call starts after the stop'
            @(Get-ChildItem -LiteralPath $root -Force -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty -Because 'a stopped backup leaves nothing'
        } finally {
            $ps.Dispose()
        }
    }

    It '-ThrottleLimit <Limit> is refused as ThrottleLimitInvalid naming -ThrottleLimit, and nothing is written' -TestCases @(
        @{ Limit = 0 }, @{ Limit = 17 }, @{ Limit = -3 }
    ) {
        $null = New-SourceCluster "srcbad$($Limit + 10)"
        $root = Join-Path $Work "rootbad$Limit"
        $run = Invoke-Captured { Backup-TVMKeys $Pair.Public $root -ThrottleLimit $Limit }
        $e = Assert-TvmTerminating $run ThrottleLimitInvalid InvalidArgument
        (Get-ErrorText $e) | Should -Match "-ThrottleLimit $Limit is out of range: give 1 .* to 16"
        Test-Path -LiteralPath $root | Should -BeFalse
        @(Get-StandInCall 'Export-MocKey').Count | Should -Be 0
    }
}

Describe 'Import-TVMKeys -ThrottleLimit on the MOC vault' {
    BeforeAll {
        $null = New-SourceCluster 'srcr'
        $script:Backup = Backup-TVMKeys $Pair.Public (Join-Path $Work 'rootr') -ErrorAction Stop
    }

    It 'at -ThrottleLimit 4 the imports overlap, every key comes back, reported in the order of a restore at 1' {
        $null = New-TargetCluster 'dst1'
        $one = @(Import-TVMKeys $Backup.Path w -SkipTargetBackup -ErrorAction Stop)
        @(Get-StandInCall 'Import-MocKey' | Where-Object InFlight -NE 1).Count | Should -Be 0

        $null = New-TargetCluster 'dst4' @{ GatherCalls = 4 }
        $four = @(Import-TVMKeys $Backup.Path w -SkipTargetBackup -ThrottleLimit 4 -ErrorAction Stop)
        $imports = Get-StandInCall 'Import-MocKey'
        $imports.Count | Should -Be 13
        @($imports | Where-Object Gathered).Count | Should -Be 4
        ($imports | Measure-Object InFlight -Maximum).Maximum | Should -BeLessOrEqual 4

        @($four | ForEach-Object Name) | Should -Be @($one | ForEach-Object Name)
        @($four | Where-Object Outcome -NE 'Imported').Count | Should -Be 0
        $keys = @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault | ForEach-Object Name | Sort-Object)
        $keys | Should -Be @(@($Names) + 'w' | Sort-Object)
    }

    It 'one import that fails among overlapped ones fails alone; the rest are imported' {
        $null = New-TargetCluster 'dstfail' @{ HangOn = @('Import-MocKey:vm03') }
        $run = Invoke-Captured { Import-TVMKeys $Backup.Path w -SkipTargetBackup -ThrottleLimit 3 -TimeoutSec 2 }
        $run.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $run)
        $restored = @(Get-OfType $run.Output 'TvmKeyRestore')
        @($restored | Where-Object Outcome -EQ 'Failed' | ForEach-Object Name) | Should -Be @('vm03')
        @($restored | Where-Object Outcome -EQ 'Imported').Count | Should -Be 12
        @($restored | Where-Object Outcome -EQ 'Failed' | ForEach-Object ErrorId) | Should -Be @('VaultTimeout')
        @($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] }) | Should -Be @('KeyImportFailed')
    }

    It '-ThrottleLimit 99 is refused before anything is imported' {
        $null = New-TargetCluster 'dstbad'
        $run = Invoke-Captured { Import-TVMKeys $Backup.Path w -SkipTargetBackup -ThrottleLimit 99 }
        $null = Assert-TvmTerminating $run ThrottleLimitInvalid InvalidArgument
        @(Get-StandInCall 'Import-MocKey').Count | Should -Be 0
    }
}
