# Every object the module writes (TvmKey, TvmBackup, TvmKeyRestore) through Format-Table, Format-List and
# Out-String, as a person reads it: the headers of the views in TvmBackupUtils.Format.ps1xml, the values,
# a backup's Keys as a count, nothing as {...}. For both import paths (the .psd1 loads the views with
# FormatsToProcess, the .psm1 with Update-FormatData). New tests, not a port.
# Text is rendered with Out-String -Width 300, a wide console, so that nothing is cut at the console's width.
BeforeDiscovery {
    $script:ImportPaths = @(@{ By = 'psd1' }, @{ By = 'psm1' })
    $script:KeySources = @(
        @{ Source = 'Get-TvmVaultKey' }
        @{ Source = 'New-TvmVaultKey' }
        @{ Source = 'Import-TvmWrappingKeyFromPem' }
    )
    $script:TableWays = @(@{ Way = 'Format-Table' }, @{ Way = 'Out-String' })
    $script:RestoreSets = @(
        @{ Set = 'Imported' }
        @{ Set = 'Exists' }
        @{ Set = 'Failed' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # The lines -Objects print as through -Way (Format-Table, Format-List or Out-String, the default view),
    # without colours and trailing blanks, empty lines left out.
    function Get-PrintedLine([object[]] $Objects, [string] $Way) {
        $text = switch ($Way) {
            'Format-Table' { $Objects | Format-Table | Out-String -Width 300 }
            'Format-List' { $Objects | Format-List | Out-String -Width 300 }
            'Out-String' { $Objects | Out-String -Width 300 }
        }
        foreach ($line in $text -split '\r?\n') {
            $line = ($line -replace '\x1b\[[0-9;?]*[A-Za-z]', '').TrimEnd()
            if ($line -ne '') { $line }
        }
    }

    # A regular expression for one table row: the cells in order, separated by blanks.
    function Get-RowPattern([object[]] $Cells) {
        '^' + (($Cells | ForEach-Object { [regex]::Escape("$_") }) -join '\s+') + '$'
    }

    # A regular expression for one line of a list: "Label : value" (the labels are padded to one width).
    function Get-ListPattern([string] $Label, $Value) {
        if ($null -eq $Value -or "$Value" -eq '') { return '^' + [regex]::Escape($Label) + '\s*:$' }
        '^' + [regex]::Escape($Label) + '\s*: ' + [regex]::Escape("$Value") + '$'
    }
}

Describe 'What the module writes, imported by its <By>, as a person reads it' -ForEach $ImportPaths {
    BeforeAll {
        Import-TvmModule -By $By
        $vault = New-TestFolder vaultA
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $script:Printed = @{}
        $newKey = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $vault
        $script:Objects = @{
            'New-TvmVaultKey' = @($newKey)
            'Get-TvmVaultKey' = @(Get-TvmVaultKey -VaultPath $vault)
        }
        $restoreVault = New-TestFolder vaultB
        $Objects['Import-TvmWrappingKeyFromPem'] = @(Import-TvmWrappingKeyFromPem TvmWrap $keys.Public $keys.Private 2048 -VaultPath $restoreVault 6>$null)
        $backupRoot = New-TestFolder backups
        $script:Backup = Backup-TVMKeys $keys.Public $backupRoot -VaultPath $vault 6>$null
        $Objects['Imported'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $restoreVault 6>$null)
        $Objects['Exists'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $restoreVault 6>$null 3>$null)
        # A second backup whose k1 file is damaged: k1 Failed, AzureStackTvmAKRootKey Imported.
        Start-Sleep -Milliseconds 1100
        $damaged = Backup-TVMKeys $keys.Public $backupRoot -VaultPath $vault 6>$null
        Set-Content -LiteralPath (Join-Path $damaged.Path 'AES/k1_256.json') -Value 'not a key file'
        $failVault = New-TestFolder vaultC
        $null = Import-TvmWrappingKeyFromPem TvmWrap $keys.Public $keys.Private 2048 -VaultPath $failVault 6>$null
        $Objects['Failed'] = @(Import-TVMKeys $damaged.Path TvmWrap -VaultPath $failVault -ErrorAction SilentlyContinue 6>$null)
    }

    AfterAll {
        Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
    }

    Context 'TvmKey' {
        It 'from <Source>, through <Way>, is a table with the headers Name, Type, Size, Fingerprint and a row of values per key' -ForEach ($KeySources | ForEach-Object { $s = $_; $TableWays | ForEach-Object { @{ Source = $s.Source; Way = $_.Way } } }) {
            $objects = $Objects[$Source]
            $objects.Count | Should -BeGreaterThan 0
            $lines = @(Get-PrintedLine $objects $Way)
            $lines[0] | Should -Match '^Name\s+Type\s+Size\s+Fingerprint$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+$'
            foreach ($key in $objects) {
                $key.Fingerprint | Should -Not -BeNullOrEmpty -Because 'a local vault gives a fingerprint'
                @($lines | Where-Object { $_ -match (Get-RowPattern $key.Name, $key.Type, $key.Size, $key.Fingerprint) }).Count | Should -Be 1 -Because "the row of $($key.Name)"
            }
            $lines.Count | Should -Be (2 + $objects.Count)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'from <Source>, through Format-List, shows Name, Type, Size, Fingerprint and File with their values' -ForEach $KeySources {
            $objects = $Objects[$Source]
            $lines = @(Get-PrintedLine $objects 'Format-List')
            foreach ($key in $objects) {
                foreach ($property in 'Name', 'Type', 'Size', 'Fingerprint') {
                    $lines | Where-Object { $_ -match (Get-ListPattern $property $key.$property) } | Should -Not -BeNullOrEmpty -Because "$property of $($key.Name)"
                }
            }
            @($lines | Where-Object { $_ -match '^File\s*:' }).Count | Should -Be $objects.Count
            $lines.Count | Should -Be (5 * $objects.Count)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'in a backup (TvmBackup.Keys), through <Way>, is a table of Name, Type and Size' -ForEach $TableWays {
            $lines = @(Get-PrintedLine $Backup.Keys $Way)
            $lines[0] | Should -Match '^Name\s+Type\s+Size\s+Fingerprint$'
            foreach ($key in $Backup.Keys) {
                @($lines | Where-Object { $_ -match ('^' + [regex]::Escape($key.Name) + '\s+' + $key.Type + '\s+' + $key.Size + '(\s|$)') }).Count | Should -Be 1
            }
            $lines -join "`n" | Should -Not -Match '[{}]'
        }
    }

    Context 'TvmBackup' {
        It 'through <Way>, is a table with the headers Timestamp, Keys, Path: the time, the number of keys and the folder' -ForEach $TableWays {
            $lines = @(Get-PrintedLine $Backup $Way)
            $lines[0] | Should -Match '^Timestamp\s+Keys\s+Path$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+$'
            $lines[2] | Should -Match (Get-RowPattern $Backup.Timestamp.ToString('yyyy-MM-dd HH:mm:ss'), 2, $Backup.Path)
            $lines.Count | Should -Be 3
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'through Format-List, shows Path, Timestamp and Keys as the number of keys, not as {...}' {
            $lines = @(Get-PrintedLine $Backup 'Format-List')
            $lines | Where-Object { $_ -match (Get-ListPattern 'Path' $Backup.Path) } | Should -Not -BeNullOrEmpty
            $lines | Where-Object { $_ -match '^Timestamp\s*: \S' } | Should -Not -BeNullOrEmpty
            $lines -join "`n" | Should -Not -Match '[{}]' -Because 'a person reads the keys as a count, not as {AzureStackTvmAKRootKey, k1}'
            $lines | Where-Object { $_ -match (Get-ListPattern 'Keys' 2) } | Should -Not -BeNullOrEmpty
        }
    }

    Context 'TvmKeyRestore' {
        It 'with outcome <Set>, through <Way>, is a table with the headers Name, Type, Size, Outcome, Message and a row per key' -ForEach ($RestoreSets | ForEach-Object { $s = $_; $TableWays | ForEach-Object { @{ Set = $s.Set; Way = $_.Way } } }) {
            $objects = $Objects[$Set]
            $objects.Count | Should -Be 2
            $objects.Outcome | Should -Contain $Set
            $lines = @(Get-PrintedLine $objects $Way)
            $lines[0] | Should -Match '^Name\s+Type\s+Size\s+Outcome\s+Message$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+$'
            foreach ($restore in $objects) {
                $cells = @($restore.Name, $restore.Type, $restore.Size, $restore.Outcome)
                if ($restore.Message) { $cells += $restore.Message }
                @($lines | Where-Object { $_ -match (Get-RowPattern $cells) }).Count | Should -Be 1 -Because "the row of $($restore.Name)"
            }
            $lines.Count | Should -Be 4
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'with outcome <Set>, through Format-List, shows Name, Type, Size, Outcome, Message, File and ErrorId with their values' -ForEach $RestoreSets {
            $objects = $Objects[$Set]
            $lines = @(Get-PrintedLine $objects 'Format-List')
            foreach ($restore in $objects) {
                foreach ($property in 'Name', 'Type', 'Size', 'Outcome', 'File') {
                    $lines | Where-Object { $_ -match (Get-ListPattern $property $restore.$property) } | Should -Not -BeNullOrEmpty -Because "$property of $($restore.Name)"
                }
                if ($restore.Message) {
                    $lines | Where-Object { $_ -match (Get-ListPattern 'Message' $restore.Message) } | Should -Not -BeNullOrEmpty
                }
                if ($restore.ErrorId) {
                    $lines | Where-Object { $_ -match (Get-ListPattern 'ErrorId' $restore.ErrorId) } | Should -Not -BeNullOrEmpty
                }
            }
            $lines.Count | Should -Be (7 * $objects.Count)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'says why (<Set>): Exists and Failed carry a message, Failed the ErrorId KeyFileInvalid' -ForEach $RestoreSets {
            $restore = @($Objects[$Set] | Where-Object Outcome -EQ $Set)[0]
            switch ($Set) {
                'Imported' { $restore.Message | Should -BeNullOrEmpty; $restore.ErrorId | Should -BeNullOrEmpty }
                'Exists' { $restore.Message | Should -Be "Key $($restore.Name) already exists in the vault; it was left as it is and not imported."; $restore.ErrorId | Should -BeNullOrEmpty }
                'Failed' { $restore.Message | Should -Match 'is not a valid key file'; $restore.ErrorId | Should -Be 'KeyFileInvalid' }
            }
        }
    }
}
