# Every object the module writes (TvmKey, TvmBackup, TvmKeyRestore of every outcome; of Test-TVMKeyBackup TvmBackupCheck,
# TvmBackupFinding, TvmKeyCheck, TvmBackupCoverage, TvmKeyDifference; of Get-TVMKeyBackup and
# Remove-TVMKeyBackup -PassThru TvmBackupInfo; of New-TvmWrappingKey TvmWrappingKeyFiles) through Format-Table,
# Format-List and Out-String, as a person reads it: the headers of the views in TvmBackupUtils.Format.ps1xml, the
# values, a backup's Keys as a count, a check's findings and keys as counts and names, a restore's Comparison in the
# list only (the table keeps the five columns runbooks read), nothing as {...}. For both import paths (the .psd1 loads the views with
# FormatsToProcess, the .psm1 with Update-FormatData). New tests, not a port.
# Text is rendered with Out-String -Width 300, a wide console, so that nothing is cut at the console's width.
BeforeDiscovery {
    $script:ImportPaths = @(@{ By = 'psd1' }, @{ By = 'psm1' })
    $script:KeySources = @(
        @{ Source = 'Get-TvmVaultKey' }
        @{ Source = 'New-TvmVaultKey' }
    )
    $script:TableWays = @(@{ Way = 'Format-Table' }, @{ Way = 'Out-String' })
    $script:RestoreSets = @(
        @{ Set = 'Imported' }
        @{ Set = 'Exists' }
        @{ Set = 'Failed' }
        @{ Set = 'Conflict' }
        @{ Set = 'Replaced' }
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

    # The time as the views print it.
    function Format-ViewTime($Time) { if ($null -ne $Time) { $Time.ToString('yyyy-MM-dd HH:mm:ss') } }

    # Asserts that every "Label : value" of -Expected (an ordered table) is one line of -Lines.
    function Assert-ListLine([string[]] $Lines, [System.Collections.IDictionary] $Expected, [string] $Because) {
        foreach ($item in $Expected.GetEnumerator()) {
            @($Lines | Where-Object { $_ -match (Get-ListPattern $item.Key $item.Value) }).Count | Should -BeGreaterOrEqual 1 -Because "$Because shows $($item.Key) : $($item.Value)"
        }
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
        # The pre-restore backups of the restores below go to a root of their own, so that $backupRoot holds only the
        # backups made here (a pre-restore backup may take the next second, which Backup-TVMKeys would then refuse).
        $preRestore = New-TestFolder pre-restore
        $script:Backup = Backup-TVMKeys $keys.Public $backupRoot -VaultPath $vault 6>$null
        $Objects['Imported'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $restoreVault -TargetBackupRootPath $preRestore 6>$null)
        # Re-run: k1 (AES) is there but not compared (no -PrivateKeyPath), AzureStackTvmAKRootKey is the same key.
        $Objects['Exists'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $restoreVault -TargetBackupRootPath $preRestore 6>$null 3>$null)
        # Vault E holds other keys of both names: compared with the wrapping private key, both are in conflict; then
        # -IfExists Replace replaces both.
        $conflictVault = New-TestFolder vaultE
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $conflictVault
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $conflictVault
        $null = Import-TvmWrappingKeyFromPem TvmWrap $keys.Public $keys.Private 2048 -VaultPath $conflictVault 6>$null
        $Objects['Conflict'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $conflictVault -PrivateKeyPath $keys.Private -TargetBackupRootPath $preRestore -ErrorAction SilentlyContinue 6>$null 3>$null)
        $Objects['Replaced'] = @(Import-TVMKeys $Backup.Path TvmWrap -VaultPath $conflictVault -PrivateKeyPath $keys.Private -IfExists Replace -Force -TargetBackupRootPath $preRestore 6>$null 3>$null)
        # A second backup whose k1 file is damaged: refused as a whole without -Force; with -Force (its BackupDamaged
        # warnings dropped) k1 Failed, AzureStackTvmAKRootKey Imported.
        Start-Sleep -Milliseconds 1100
        $damaged = Backup-TVMKeys $keys.Public $backupRoot -VaultPath $vault 6>$null
        Set-Content -LiteralPath (Join-Path $damaged.Path 'AES/k1_256.json') -Value 'not a key file'
        $failVault = New-TestFolder vaultC
        $null = Import-TvmWrappingKeyFromPem TvmWrap $keys.Public $keys.Private 2048 -VaultPath $failVault 6>$null
        $Objects['Failed'] = @(Import-TVMKeys $damaged.Path TvmWrap -VaultPath $failVault -TargetBackupRootPath $preRestore -Force -ErrorAction SilentlyContinue 6>$null 3>$null)

        # Test-TVMKeyBackup: the first backup checked deeply against its own vault (Valid, covered); the same backup
        # against vault D, whose k1 is another key, which has k3 and lacks AzureStackTvmAKRootKey (one key of each
        # difference); and the damaged backup (LengthMismatch and KeyFileInvalid on AES/k1_256.json).
        $script:Covered = Test-TVMKeyBackup $Backup.Path -VaultPath $vault -PrivateKeyPath $keys.Private 6>$null
        $vaultD = New-TestFolder vaultD
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vaultD
        $null = New-TvmVaultKey -Name k3 -Type AES -Size 256 -VaultPath $vaultD
        $script:NotCovered = Test-TVMKeyBackup $Backup.Path -VaultPath $vaultD -PrivateKeyPath $keys.Private -ErrorAction SilentlyContinue 3>$null 6>$null
        $script:DamagedCheck = Test-TVMKeyBackup $damaged.Path -ErrorAction SilentlyContinue
        # Get-TVMKeyBackup of a root with a labelled Complete backup, a Legacy one (a copy without its manifest) and
        # a left-over partial folder; then Remove-TVMKeyBackup -KeepLast 1 -PassThru removes the two old ones.
        $inventory = New-TestFolder inventory
        $labelled = Backup-TVMKeys $keys.Public $inventory -VaultPath $vault -Label weekly 6>$null 3>$null
        $legacy = Join-Path $inventory 20200102030405
        Copy-Item -LiteralPath $labelled.Path -Destination $legacy -Recurse
        Remove-Item -LiteralPath (Join-Path $legacy manifest.json)
        $null = New-Item -ItemType Directory -Path (Join-Path $inventory '.20200101000000.partial/AES') -Force
        $script:Listed = @(Get-TVMKeyBackup $inventory)
        $script:Removed = @(Remove-TVMKeyBackup $inventory -KeepLast 1 -Confirm:$false -PassThru)
        # New-TvmWrappingKey: a plain pair and one with an encrypted private key.
        $pairFolder = New-TestFolder pairs
        $password = ConvertTo-SecureString 'test password' -AsPlainText -Force
        $script:Pairs = @(
            New-TvmWrappingKey (Join-Path $pairFolder plain.pub.pem) (Join-Path $pairFolder plain.pem) 6>$null
            New-TvmWrappingKey (Join-Path $pairFolder sealed.pub.pem) (Join-Path $pairFolder sealed.pem) -Password $password 6>$null
        )
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
                $pattern = (Get-RowPattern @($restore.Name, $restore.Type, $restore.Size, $restore.Outcome)).TrimEnd('$')
                # The message is the last column: a long one (a conflict's) may be cut at the line's end; its beginning shows.
                if ($restore.Message -and $restore.Message.Length -le 200) { $pattern += '\s+' + [regex]::Escape($restore.Message) + '$' }
                elseif ($restore.Message) { $pattern += '\s+' + [regex]::Escape($restore.Message.Substring(0, 100)) + '.*$' }
                else { $pattern += '$' }
                @($lines | Where-Object { $_ -match $pattern }).Count | Should -Be 1 -Because "the row of $($restore.Name)"
            }
            $lines.Count | Should -Be 4
            $lines -join "`n" | Should -Not -Match '[{}]'
            $lines[0] | Should -Not -Match 'Comparison' -Because 'the table keeps its five columns'
        }

        It 'with outcome <Set>, through Format-List, shows Name, Type, Size, Outcome, Comparison (when there is one), Message, File and ErrorId with their values' -ForEach $RestoreSets {
            $objects = $Objects[$Set]
            $lines = @(Get-PrintedLine $objects 'Format-List')
            $lines -join "`n" | Should -Not -Match '[{}]'
            # One item per "Label : value"; a long value wraps onto indented lines, joined to it here. Values are
            # compared without blanks, since a line may break at a blank.
            $items = [System.Collections.Generic.List[object]]::new()
            foreach ($line in $lines) {
                if ($line -match '^(\w+)\s*:\s?(.*)$') { $items.Add([pscustomobject]@{ Label = $Matches[1]; Value = $Matches[2] }) }
                else { $items[$items.Count - 1].Value += $line.Trim() }
            }
            $groups = @(for ($i = 0; $i -lt $items.Count; $i++) { if ($items[$i].Label -eq 'Name') { , @($items | Select-Object -Skip $i -First 8) } })
            $groups.Count | Should -Be $objects.Count
            for ($i = 0; $i -lt $objects.Count; $i++) {
                $restore = $objects[$i]
                $expected = [ordered]@{ Name = $restore.Name; Type = $restore.Type; Size = $restore.Size; Outcome = $restore.Outcome }
                if ($null -ne $restore.Comparison) { $expected['Comparison'] = $restore.Comparison }
                $expected['Message'] = $restore.Message; $expected['File'] = $restore.File; $expected['ErrorId'] = $restore.ErrorId
                $shown = @($groups[$i] | Select-Object -First $expected.Count)
                @($shown.Label) | Should -Be @($expected.Keys) -Because "the list of $($restore.Name) shows these, in this order (Comparison only for a key the vault held)"
                foreach ($item in $shown) {
                    ($item.Value -replace '\s', '') | Should -Be ("$($expected[$item.Label])" -replace '\s', '') -Because "$($item.Label) of $($restore.Name)"
                }
            }
            $items.Count | Should -Be (7 * $objects.Count + @($objects | Where-Object { $null -ne $_.Comparison }).Count)
        }

        It 'says why (<Set>): Exists, Conflict, Replaced and Failed carry a message, Conflict and Failed an ErrorId, a key the vault held a Comparison' -ForEach $RestoreSets {
            $restores = @($Objects[$Set] | Where-Object Outcome -EQ $Set)
            $restores.Count | Should -BeGreaterThan 0
            $original = 'Key {0} already exists in the vault; it was left as it is and not imported.'
            foreach ($restore in $restores) {
                switch ($Set) {
                    'Imported' { $restore.Message | Should -BeNullOrEmpty; $restore.ErrorId | Should -BeNullOrEmpty; $restore.Comparison | Should -BeNullOrEmpty }
                    'Exists' {
                        $restore.ErrorId | Should -BeNullOrEmpty
                        if ($restore.Type -eq 'RSA') {
                            $restore.Comparison | Should -Be 'Same' -Because 'an RSA key is compared by its public key'
                            $restore.Message | Should -Be ($original -f $restore.Name)
                        } else {
                            $restore.Comparison | Should -Be 'NotCompared' -Because 'an AES key is compared only with -PrivateKeyPath'
                            $restore.Message | Should -BeLike (($original -f $restore.Name) + ' It was not compared*-PrivateKeyPath).')
                        }
                    }
                    'Conflict' {
                        $restore.Comparison | Should -Be 'Different'
                        $restore.ErrorId | Should -Be 'KeyConflict'
                        $restore.Message | Should -BeLike "The vault's*$($restore.Name) is not the*in the backup*"
                    }
                    'Replaced' {
                        $restore.Comparison | Should -Be 'Different'
                        $restore.ErrorId | Should -BeNullOrEmpty
                        $restore.Message | Should -Be "The vault's key was removed and the backup's imported."
                    }
                    'Failed' { $restore.Message | Should -Match 'is not a valid key file'; $restore.ErrorId | Should -Be 'KeyFileInvalid' }
                }
            }
        }
    }

    Context 'TvmBackupCheck (Test-TVMKeyBackup)' {
        It 'through <Way>, is a table with the headers Status, Keys, Findings, Timestamp, Path and a row per backup checked' -ForEach $TableWays {
            $checks = @($Covered, $DamagedCheck)
            $lines = @(Get-PrintedLine $checks $Way)
            $lines[0] | Should -Match '^Status\s+Keys\s+Findings\s+Timestamp\s+Path$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+$'
            @($lines | Where-Object { $_ -match (Get-RowPattern 'Valid', 2, 0, (Format-ViewTime $Covered.Timestamp), $Covered.Path) }).Count | Should -Be 1 -Because 'the row of the Valid backup'
            @($lines | Where-Object { $_ -match (Get-RowPattern 'Damaged', 2, 2, (Format-ViewTime $DamagedCheck.Timestamp), $DamagedCheck.Path) }).Count | Should -Be 1 -Because 'the row of the Damaged backup'
            $lines.Count | Should -Be 4
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'through Format-List, shows the verdict, the keys and findings as counts and names, the coverage in words, and no {...}' {
            $lines = @(Get-PrintedLine @($Covered, $NotCovered, $DamagedCheck) 'Format-List')
            Assert-ListLine $lines ([ordered]@{
                    Path = $Covered.Path; Timestamp = (Format-ViewTime $Covered.Timestamp); Status = 'Valid'; Depth = 'Deep'
                    Keys = '2 (AES 1, RSA 1)'; Findings = '0'; HasManifest = 'True'; WrappingKeyFingerprint = $Covered.WrappingKeyFingerprint
                    CreatedUtc = (Format-ViewTime $Covered.CreatedUtc) + ' UTC'; Source = "local vault $($Covered.Source.Path)"; Threads = $Covered.Threads
                    Coverage = "Covered: 2 keys in both, 2 compared by material ($($Covered.Coverage.Vault))"
                }) 'the deep, covered check'
            Assert-ListLine $lines ([ordered]@{
                    Coverage = "Not covered: 1 missing from the backup, 1 no longer in the vault, 1 different ($($NotCovered.Coverage.Vault))"
                }) 'the check against vault D'
            Assert-ListLine $lines ([ordered]@{
                    Path = $DamagedCheck.Path; Status = 'Damaged'; Depth = 'Full'; Findings = '2: LengthMismatch, KeyFileInvalid'; Coverage = ''; Threads = ''
                }) 'the damaged backup'
            $lines.Count | Should -Be (13 * 3)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }
    }

    Context 'TvmBackupFinding (a check''s Findings)' {
        It 'through <Way>, is a table with the headers File, Problem, Message and a row per finding' -ForEach $TableWays {
            $findings = @($DamagedCheck.Findings)
            $findings.Problem | Should -Be @('LengthMismatch', 'KeyFileInvalid')
            $lines = @(Get-PrintedLine $findings $Way)
            $lines[0] | Should -Match '^File\s+Problem\s+Message$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+$'
            foreach ($finding in $findings) {
                @($lines | Where-Object { $_ -match (Get-RowPattern $finding.File, $finding.Problem, $finding.Message) }).Count | Should -Be 1 -Because "the row of $($finding.Problem)"
            }
            $lines.Count | Should -Be 4
        }

        It 'wraps a message in its column on a narrow console instead of cutting it off' {
            $text = $DamagedCheck.Findings | Format-Table | Out-String -Width 80
            $text | Should -Not -Match '…' -Because 'nothing is cut off'
            foreach ($finding in $DamagedCheck.Findings) {
                ($text -replace '\s', '') | Should -BeLike ('*' + ($finding.Message -replace '\s', '') + '*') -Because 'every word of the message is shown'
            }
        }
    }

    Context 'TvmKeyCheck (a check''s Keys)' {
        It 'after a deep check, through <Way>, is a table with the headers Name, Type, Size, Status, Fingerprint, File' -ForEach $TableWays {
            $lines = @(Get-PrintedLine $Covered.Keys $Way)
            $lines[0] | Should -Match '^Name\s+Type\s+Size\s+Status\s+Fingerprint\s+File$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+\s+-+$'
            foreach ($key in $Covered.Keys) {
                $key.Fingerprint | Should -Not -BeNullOrEmpty -Because 'a deep check gives every key a fingerprint'
                @($lines | Where-Object { $_ -match (Get-RowPattern $key.Name, $key.Type, $key.Size, 'Valid', $key.Fingerprint, $key.File) }).Count | Should -Be 1
            }
            $lines.Count | Should -Be 4
        }

        It 'of a damaged backup, through Format-Table, shows the damaged key file as Damaged' {
            $lines = @(Get-PrintedLine $DamagedCheck.Keys 'Format-Table')
            @($lines | Where-Object { $_ -match (Get-RowPattern 'k1', 'AES', 256, 'Damaged', 'AES/k1_256.json') }).Count | Should -Be 1
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'through Format-List, shows Name, Type, Size, Status, File, Enc, KeyWrap and Fingerprint' {
            $lines = @(Get-PrintedLine $Covered.Keys 'Format-List')
            foreach ($key in $Covered.Keys) {
                Assert-ListLine $lines ([ordered]@{ Name = $key.Name; Status = 'Valid'; File = $key.File; Enc = 'CKM_RSA_AES_KEY_WRAP'; KeyWrap = 'RFC5649'; Fingerprint = $key.Fingerprint }) $key.Name
            }
            $lines.Count | Should -Be (8 * @($Covered.Keys).Count)
        }
    }

    Context 'TvmBackupCoverage (a check''s Coverage)' {
        It 'through <Way>, is a list that names the keys missing, extra and different' -ForEach @(@{ Way = 'Format-List' }, @{ Way = 'Out-String' }) {
            $lines = @(Get-PrintedLine $NotCovered.Coverage $Way)
            Assert-ListLine $lines ([ordered]@{
                    Vault = $NotCovered.Coverage.Vault; Covered = 'False'; InBoth = 1; MissingFromBackup = 'k3'; NotInVault = 'AzureStackTvmAKRootKey'
                    Differing = 'k1'; MaterialCompared = 1
                }) 'the coverage of vault D'
            $lines.Count | Should -Be 7
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'when covered, through Format-List, shows Covered True and no key names' {
            $lines = @(Get-PrintedLine $Covered.Coverage 'Format-List')
            Assert-ListLine $lines ([ordered]@{ Covered = 'True'; InBoth = 2; MissingFromBackup = ''; NotInVault = ''; Differing = ''; MaterialCompared = 2 }) 'a covered backup'
        }
    }

    Context 'TvmKeyDifference (a coverage''s Differing)' {
        It 'through <Way>, is a table with the headers Name, Reason' -ForEach $TableWays {
            $differing = @($NotCovered.Coverage.Differing)
            $differing.Count | Should -Be 1
            $lines = @(Get-PrintedLine $differing $Way)
            $lines[0] | Should -Match '^Name\s+Reason$'
            $lines[1] | Should -Match '^-+\s+-+$'
            $lines[2] | Should -Match (Get-RowPattern 'k1', $differing[0].Reason)
            $differing[0].Reason | Should -Match 'replaced after the backup'
            $lines.Count | Should -Be 3
        }
    }

    Context 'TvmBackupInfo (Get-TVMKeyBackup, Remove-TVMKeyBackup -PassThru)' {
        BeforeAll {
            # The row of one backup: its age as '<days>d <hours>h', from its timestamp to now.
            function Get-InfoRowPattern($Info) {
                '^' + [regex]::Escape($Info.Timestamp.ToString('yyyy-MM-dd HH:mm:ss')) + '\s+\d+d \d\dh\s+' + [regex]::Escape($Info.Status) + '\s+' +
                $Info.KeyCount + '\s+' + $(if ($Info.Label) { [regex]::Escape($Info.Label) + '\s+' }) + [regex]::Escape($Info.Path) + '$'
            }
        }

        It 'from Get-TVMKeyBackup, through <Way>, is a table with the headers Timestamp, Age, Status, Keys, Label, Path, newest first' -ForEach $TableWays {
            $Listed.Status | Should -Be @('Complete', 'Legacy', 'Partial')
            $lines = @(Get-PrintedLine $Listed $Way)
            $lines[0] | Should -Match '^Timestamp\s+Age\s+Status\s+Keys\s+Label\s+Path$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+\s+-+$'
            for ($i = 0; $i -lt $Listed.Count; $i++) { $lines[2 + $i] | Should -Match (Get-InfoRowPattern $Listed[$i]) }
            $lines[2] | Should -Match '\s0d 00h\s+Complete\s+2\s+weekly\s' -Because 'the new backup is less than an hour old, and labelled'
            $lines.Count | Should -Be 5
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'shows the age of an old backup as its Age in days and hours (2525d 22h)' {
            foreach ($info in $Listed | Where-Object Status -NE 'Complete') {
                $age = $info.Age
                $line = @(Get-PrintedLine $info 'Format-Table')[2]
                $line | Should -Match ('\s{0}d {1:00}h\s' -f $age.Days, $age.Hours)
            }
        }

        It 'from Remove-TVMKeyBackup -PassThru, through <Way>, is the same table, one row per backup removed, oldest first' -ForEach $TableWays {
            $Removed.Status | Should -Be @('Partial', 'Legacy')
            $lines = @(Get-PrintedLine $Removed $Way)
            $lines[0] | Should -Match '^Timestamp\s+Age\s+Status\s+Keys\s+Label\s+Path$'
            for ($i = 0; $i -lt $Removed.Count; $i++) { $lines[2 + $i] | Should -Match (Get-InfoRowPattern $Removed[$i]) }
            $lines.Count | Should -Be 4
        }

        It 'through Format-List, shows Path, Timestamp, Age, Status, Keys, Label, WrappingKeyFingerprint, CreatedUtc and Problem' {
            $lines = @(Get-PrintedLine $Listed 'Format-List')
            $complete = $Listed[0]
            Assert-ListLine $lines ([ordered]@{
                    Path = $complete.Path; Timestamp = (Format-ViewTime $complete.Timestamp); Age = '0d 00h'; Status = 'Complete'; Keys = 2; Label = 'weekly'
                    WrappingKeyFingerprint = $complete.WrappingKeyFingerprint; CreatedUtc = (Format-ViewTime $complete.CreatedUtc) + ' UTC'; Problem = ''
                }) 'the labelled backup'
            Assert-ListLine $lines ([ordered]@{ Path = $Listed[2].Path; Status = 'Partial'; Keys = 0; CreatedUtc = '' }) 'the partial folder'
            $lines.Count | Should -Be (9 * $Listed.Count)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }
    }

    Context 'TvmWrappingKey (Import-TvmWrappingKeyFromPem)' {
        It 'through <Way>, is a table with the headers Name, Type, Size, Outcome, Fingerprint and a row of values' -ForEach $TableWays {
            $objects = @($Objects['Import-TvmWrappingKeyFromPem'])
            $objects.Count | Should -Be 1
            $objects[0].GetType().FullName | Should -BeExactly 'TvmBackupUtils.TvmWrappingKey'
            $key = $objects[0]
            $key.Outcome | Should -BeExactly 'Imported'
            $lines = @(Get-PrintedLine $objects $Way)
            $lines[0] | Should -Match '^Name\s+Type\s+Size\s+Outcome\s+Fingerprint$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+$'
            @($lines | Where-Object { $_ -match (Get-RowPattern $key.Name, $key.Type, $key.Size, $key.Outcome, $key.Fingerprint) }).Count | Should -Be 1
            $lines.Count | Should -Be 3
        }
    }

    Context 'TvmWrappingKeyFiles (New-TvmWrappingKey)' {
        It 'by default (Out-String) and through Format-List, is a list of PublicKeyPath, PrivateKeyPath, KeySize, Encrypted and Fingerprint, the paths in full' -ForEach @(@{ Way = 'Out-String' }, @{ Way = 'Format-List' }) {
            $Pairs.Encrypted | Should -Be @($false, $true)
            $lines = @(Get-PrintedLine $Pairs $Way)
            foreach ($pair in $Pairs) {
                $pair.Fingerprint | Should -Match '^[0-9a-f]{32}$'
                Assert-ListLine $lines ([ordered]@{
                        PublicKeyPath = $pair.PublicKeyPath; PrivateKeyPath = $pair.PrivateKeyPath; KeySize = 2048
                        Encrypted = $pair.Encrypted; Fingerprint = $pair.Fingerprint
                    }) $pair.PrivateKeyPath
            }
            @($lines | ForEach-Object { ($_ -split '\s*:', 2)[0] } | Select-Object -First 5) | Should -Be @('PublicKeyPath', 'PrivateKeyPath', 'KeySize', 'Encrypted', 'Fingerprint')
            $lines.Count | Should -Be (5 * $Pairs.Count)
            $lines -join "`n" | Should -Not -Match '[{}]'
        }

        It 'through Format-Table, is a table with the headers KeySize, Encrypted, Fingerprint, PublicKeyPath, PrivateKeyPath and a row per key pair' {
            $lines = @(Get-PrintedLine $Pairs 'Format-Table')
            $lines[0] | Should -Match '^KeySize\s+Encrypted\s+Fingerprint\s+PublicKeyPath\s+PrivateKeyPath$'
            $lines[1] | Should -Match '^-+\s+-+\s+-+\s+-+\s+-+$'
            foreach ($pair in $Pairs) {
                # KeySize is aligned right: the row may start with blanks.
                $pattern = '^\s*' + (Get-RowPattern 2048, $pair.Encrypted, $pair.Fingerprint, $pair.PublicKeyPath, $pair.PrivateKeyPath).Substring(1)
                @($lines | Where-Object { $_ -match $pattern }).Count | Should -Be 1 -Because "the row of $($pair.PrivateKeyPath)"
            }
            $lines.Count | Should -Be (2 + $Pairs.Count)
        }
    }
}
