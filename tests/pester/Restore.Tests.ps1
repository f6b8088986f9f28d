# Import-TVMKeys beyond the happy path: re-runs, keys that exist already, corrupt key files, the pipeline, -WhatIf;
# and the failures of Backup-TVMKeys, Import-TvmWrappingKeyFromPem and Get-TvmVaultKey that must leave nothing behind.
# Moved from the xunit class RestoreTests (with its Rehearsal helper: seed vault A, back it up with the wrapping
# public key, import the wrapping key pair into vault B, restore the backup into B).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    $script:Names = @('5e0c2b7a-1d3f-4e6a-9b8c-7d6e5f4a3b2c', 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f', 'vm_key_1')
    $script:WrappingKeyName = 'TvmWrappingKey'
    # Two RSA-2048 pairs made with .NET once for the file (as the docs make the wrapping key), written per test.
    # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
    $script:WrappingRsa = New-TestRsa 2048
    $script:OtherRsa = New-TestRsa 2048

    # The rehearsal's folders in a new test folder: vaultA, vaultB, backups (not created) and keys (the wrapping pair).
    function New-Rehearsal {
        $dir = New-TestFolder restore
        $pair = Write-KeyPair $script:WrappingRsa (Join-Path $dir 'keys')
        [pscustomobject]@{
            Dir = $dir
            VaultA = Join-Path $dir 'vaultA'
            VaultB = Join-Path $dir 'vaultB'
            Root = Join-Path $dir 'backups'
            Public = $pair.Public
            Private = $pair.Private
        }
    }

    # New-TvmVaultKey AES 256 for each name into -Vault; any error fails the test.
    function Add-AesKey([string] $Vault, [string[]] $Name) {
        foreach ($n in $Name) { $null = New-TvmVaultKey -Name $n -Type AES -Size 256 -VaultPath $Vault -ErrorAction Stop }
    }

    # Import-TvmWrappingKeyFromPem by position into vault B; any error fails the test.
    function Import-RehearsalWrappingKey($R) {
        $null = Import-TvmWrappingKeyFromPem $script:WrappingKeyName $R.Public $R.Private '2048' -VaultPath $R.VaultB -ErrorAction Stop
    }

    # Seeds A with AES keys -Name, backs A up by name and imports the wrapping key into B; any error fails the test.
    # Returns the TvmBackup.
    function Initialize-AesBackup($R, [string[]] $Name) {
        Add-AesKey $R.VaultA $Name
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $R.Public -BackupRootPath $R.Root -VaultPath $R.VaultA -ErrorAction Stop)
        Import-RehearsalWrappingKey $R
        $backup
    }

    # Import-TVMKeys by position from -BackupPath into vault B (-Force: restore the intact key files of a damaged
    # backup). Returns Output, Warnings (texts) and Errors (the non-terminating ones); a terminating error is thrown on.
    function Invoke-Restore($R, [string] $BackupPath, [switch] $WhatIf, [switch] $Force) {
        $output = @(Import-TVMKeys $BackupPath $script:WrappingKeyName -VaultPath $R.VaultB -WhatIf:$WhatIf -Force:$Force `
                -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue)
        [pscustomobject]@{
            Output = $output
            Warnings = @($warns | ForEach-Object { "$($_.Message)" })
            Errors = @($errs)
        }
    }

    # Invoke-Restore of -BackupPath, whose key file -File (relative to the backup, e.g. AES/<name>_256.json) of key
    # -Name is bad. Without -Force the backup is refused as a whole: a terminating BackupDamaged naming the file, and
    # vault B unchanged. With -Force the restore goes on, with a warning naming the file, and that key alone fails,
    # Failed with one KeyImportFailed error, and is not written to vault B. Returns the -Force run, with Results (its
    # TvmKeyRestore objects).
    function Invoke-RestoreWithBadKey($R, [string] $BackupPath, [string] $Name, [string] $File) {
        $before = Get-FolderState $R.VaultB
        $roots = @(Get-RootEntry $R.Root)
        $refused = $null
        try { $null = Invoke-Restore $R $BackupPath } catch { $refused = $_ }
        $null = Assert-TvmTerminating $refused BackupDamaged InvalidData
        $refused.Exception.Message | Should -BeLikeExactly "Nothing was imported: the backup $BackupPath is damaged (* findings). $File*-Force*"
        $after = Get-FolderState $R.VaultB
        $after | Should -Be $before -Because 'a damaged backup is refused as a whole: nothing is written'
        @(Get-RootEntry $R.Root) | Should -Be $roots -Because 'nor is a pre-restore backup made'

        $terminating = $null
        try { $run = Invoke-Restore $R $BackupPath -Force } catch { $terminating = $_ }
        $terminating | Should -BeNullOrEmpty -Because 'with -Force, one bad key file does not stop the restore'
        $run.Warnings.Count | Should -BeGreaterOrEqual 1
        foreach ($w in $run.Warnings) { $w | Should -BeLikeExactly "The backup $BackupPath is damaged at ${File}: *Only intact key files are restored (-Force)." }
        $results = @(Get-OfType $run.Output TvmKeyRestore)
        $failed = @($results | Where-Object Name -EQ $Name)
        $failed.Count | Should -Be 1
        "$($failed[0].Outcome)" | Should -Be 'Failed'
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId.Split(',')[0] | Should -Be 'KeyImportFailed'
        Test-Path -LiteralPath (Get-VaultKeyFile $R.VaultB $Name) | Should -BeFalse -Because 'the bad key must not reach the vault'
        $run | Add-Member -NotePropertyName Results -NotePropertyValue $results -PassThru
    }

    # Get-TvmVaultKey of -Vault, without an error; every object a TvmKey.
    function Get-VaultKeyList([string] $Vault) {
        $keys = @(Get-TvmVaultKey -VaultPath $Vault -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs | Should -BeNullOrEmpty
        Get-OfType $keys TvmKey
    }

    # One line per key of a list (Name, Type, Size, Fingerprint, File), to compare two lists in order.
    function Format-KeyList([object[]] $Keys) {
        $Keys | ForEach-Object { "$($_.Name)|$($_.Type)|$([int]$_.Size)|$($_.Fingerprint)|$($_.File)" }
    }

    # The key material of the vault's file of key -Name (docs/format.md section 6: base64url "material").
    function Read-VaultKeyMaterial([string] $Vault, [string] $Name) {
        $file = Read-VaultKeyFile $Vault $Name
        $file.Name | Should -Not -BeNullOrEmpty
        $file.Type | Should -Not -BeNullOrEmpty
        , $file.Material
    }

    # The entries of -Root, or none when it does not exist.
    function Get-RootEntry([string] $Root) {
        if ([IO.Directory]::Exists($Root)) { [IO.Directory]::GetFileSystemEntries($Root) }
    }
}

Describe 'Restoring and backing up beyond the happy path' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    Context 'Import-TVMKeys' {
        It 'a key already in the vault is Exists with a warning naming it and no error, is left as it was, and the others are Imported' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            Add-AesKey $r.VaultB $Names[0]   # same name, different material
            $before = Read-VaultKeyMaterial $r.VaultB $Names[0]

            $run = Invoke-Restore $r $backup.Path

            $run.Errors | Should -BeNullOrEmpty
            $results = @(Get-OfType $run.Output TvmKeyRestore)
            $existing = @($results | Where-Object Name -EQ $Names[0])
            $existing.Count | Should -Be 1
            "$($existing[0].Outcome)" | Should -Be 'Exists'
            foreach ($x in @($results | Where-Object Name -NE $Names[0])) { "$($x.Outcome)" | Should -Be 'Imported' -Because "$($x.Name) is not in vault B" }
            $results.Count | Should -Be $Names.Count
            $run.Warnings.Count | Should -Be 1
            $run.Warnings[0] | Should -BeLike "*$($Names[0])*"
            # the existing key is left alone, not overwritten with the backed-up one
            [Convert]::ToBase64String((Read-VaultKeyMaterial $r.VaultB $Names[0])) | Should -Be ([Convert]::ToBase64String($before))
            [Convert]::ToBase64String((Read-VaultKeyMaterial $r.VaultA $Names[0])) | Should -Not -Be ([Convert]::ToBase64String($before))
        }

        It 'run twice: the second run is all Exists, a warning per key, and leaves the vault unchanged' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            $first = Invoke-Restore $r $backup.Path
            $first.Errors | Should -BeNullOrEmpty
            foreach ($x in (Get-OfType $first.Output TvmKeyRestore)) { "$($x.Outcome)" | Should -Be 'Imported' }
            $snapshot = Get-VaultSnapshot $r.VaultB
            $listBefore = @(Format-KeyList @(Get-VaultKeyList $r.VaultB))

            $second = Invoke-Restore $r $backup.Path

            $second.Errors | Should -BeNullOrEmpty
            $results = @(Get-OfType $second.Output TvmKeyRestore)
            $results.Count | Should -Be $Names.Count
            foreach ($x in $results) { "$($x.Outcome)" | Should -Be 'Exists' -Because "$($x.Name) was restored by the first run" }
            $second.Warnings.Count | Should -Be $Names.Count
            $after = Get-VaultSnapshot $r.VaultB
            @($after.Keys) | Should -Be @($snapshot.Keys)
            foreach ($k in $snapshot.Keys) { $after[$k] | Should -Be $snapshot[$k] -Because "$k changed" }
            @(Format-KeyList @(Get-VaultKeyList $r.VaultB)) | Should -Be $listBefore
        }

        It 'a truncated key file: the backup is refused (BackupDamaged); with -Force that key fails with KeyImportFailed ("Error Importing Key: ") and the others are imported' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            $corrupt = [IO.Path]::Combine($backup.Path, 'AES', "$($Names[1])_256.json")
            $bytes = [IO.File]::ReadAllBytes($corrupt)
            [IO.File]::WriteAllBytes($corrupt, [byte[]]$bytes[0..([int][Math]::Floor($bytes.Length / 2) - 1)])

            $run = Invoke-RestoreWithBadKey $r $backup.Path $Names[1] "AES/$($Names[1])_256.json"

            foreach ($x in @($run.Results | Where-Object Name -NE $Names[1])) { "$($x.Outcome)" | Should -Be 'Imported' }
            $run.Errors[0].Exception.Message | Should -BeLikeExactly 'Error Importing Key: *'
            @(Get-VaultKeyList $r.VaultB | Where-Object Name -EQ $Names[1]).Count | Should -Be 0
            foreach ($n in @($Names | Where-Object { $_ -ne $Names[1] })) {
                Test-Path -LiteralPath (Get-VaultKeyFile $r.VaultB $n) | Should -BeTrue -Because "$n was to be imported"
            }
        }

        It 'a key file wrapped for another wrapping key: the backup is refused (BackupDamaged); with -Force that key only fails, with KeyImportFailed' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            # replace one key file by a file of the same key wrapped with a different wrapping key
            $otherRoot = Join-Path $r.Dir 'other-backups'
            $otherPub = (Write-KeyPair $OtherRsa (Join-Path $r.Dir 'otherkeys')).Public
            $other = Get-SingleBackup @(Backup-TVMKeys $otherPub $otherRoot -VaultPath $r.VaultA -ErrorAction Stop)
            $victim = "$($Names[0])_256.json"
            Copy-Item -LiteralPath ([IO.Path]::Combine($other.Path, 'AES', $victim)) -Destination ([IO.Path]::Combine($backup.Path, 'AES', $victim)) -Force

            $run = Invoke-RestoreWithBadKey $r $backup.Path $Names[0] "AES/$victim"

            @($run.Results | Where-Object { "$($_.Outcome)" -eq 'Imported' }).Count | Should -Be ($Names.Count - 1)
        }

        It 'Backup-TVMKeys piped to Import-TVMKeys restores every key with its fingerprint' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names
            Import-RehearsalWrappingKey $r

            $output = @(Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -ErrorVariable backupErrors -ErrorAction SilentlyContinue |
                    Import-TVMKeys -WrappingKeyName $WrappingKeyName -VaultPath $r.VaultB -ErrorVariable restoreErrors -ErrorAction SilentlyContinue)

            $backupErrors | Should -BeNullOrEmpty
            $restoreErrors | Should -BeNullOrEmpty
            $results = @(Get-OfType $output TvmKeyRestore)
            [string[]] $restored = @($results | ForEach-Object { [string]$_.Name })
            [Array]::Sort($restored, [StringComparer]::Ordinal)
            [string[]] $expected = $Names.Clone()
            [Array]::Sort($expected, [StringComparer]::Ordinal)
            $restored | Should -Be $expected
            foreach ($x in $results) { "$($x.Outcome)" | Should -Be 'Imported' }
            $a = @(Get-VaultKeyList $r.VaultA)
            $b = @(Get-VaultKeyList $r.VaultB)
            foreach ($k in $a) {
                @($b | Where-Object { $_.Name -eq $k.Name -and $_.Fingerprint -eq $k.Fingerprint }).Count | Should -BeGreaterThan 0 -Because "$($k.Name) is in vault B with the same fingerprint"
            }
        }

        It 'a backup folder piped as a DirectoryInfo binds -BackupPath by FullName' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names[0]
            $dirInfo = [IO.DirectoryInfo]::new($backup.Path)

            $output = @($dirInfo | Import-TVMKeys -WrappingKeyName $WrappingKeyName -VaultPath $r.VaultB -ErrorVariable errs -ErrorAction SilentlyContinue)

            $errs | Should -BeNullOrEmpty
            $results = @(Get-OfType $output TvmKeyRestore)
            $results.Count | Should -Be 1
            "$($results[0].Outcome)" | Should -Be 'Imported'
        }

        It '-WhatIf writes nothing to the vault and imports no key' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            $before = Get-VaultSnapshot $r.VaultB

            $run = Invoke-Restore $r $backup.Path -WhatIf

            $run.Errors | Should -BeNullOrEmpty
            $after = Get-VaultSnapshot $r.VaultB
            @($after.Keys) | Should -Be @($before.Keys)
            foreach ($n in $Names) { Test-Path -LiteralPath (Get-VaultKeyFile $r.VaultB $n) | Should -BeFalse -Because "$n is not imported under -WhatIf" }
            @(Get-OfType $run.Output TvmKeyRestore | Where-Object { "$($_.Outcome)" -eq 'Imported' }).Count | Should -Be 0
        }

        It 'a backup folder that does not exist is terminating BackupFolderMissing (ObjectNotFound) naming it' {
            $r = New-Rehearsal
            Import-RehearsalWrappingKey $r
            $missing = [IO.Path]::Combine($r.Dir, 'backups', '20240101000000')

            $err = Get-TerminatingError { Invoke-Restore $r $missing }

            Assert-TvmTerminating $err 'BackupFolderMissing' ObjectNotFound
            Get-ErrorText $err | Should -BeLike '*20240101000000*'
        }
    }

    Context 'Backup-TVMKeys' {
        It '-WhatIf creates no backup folder' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names

            $null = Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -WhatIf -ErrorVariable errs -ErrorAction SilentlyContinue

            $errs | Should -BeNullOrEmpty
            $entries = @(Get-RootEntry $r.Root)
            $entries.Count | Should -Be 0 -Because "Backup-TVMKeys -WhatIf created $($entries -join ', ')"
        }

        It 'a wrapping public key file that does not exist is terminating FileMissing (ObjectNotFound) naming it, and creates no backup folder' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names[0]
            $absent = [IO.Path]::Combine($r.Dir, 'keys', 'absent.pem')

            $err = Get-TerminatingError { Backup-TVMKeys $absent $r.Root -VaultPath $r.VaultA -ErrorAction SilentlyContinue }

            Assert-TvmTerminating $err 'FileMissing' ObjectNotFound
            Get-ErrorText $err | Should -BeLike '*absent.pem*'
            $entries = @(Get-RootEntry $r.Root)
            $entries.Count | Should -Be 0 -Because "a failed backup left $($entries -join ', ')"
        }

        It 'run twice in one second never mixes two backups in one folder: BackupExists (ResourceExists) or a second folder' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names

            $first = @(Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -ErrorVariable firstErrors -ErrorAction SilentlyContinue)
            $secondTerminating = $null
            try {
                $second = @(Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -ErrorVariable secondErrors -ErrorAction SilentlyContinue)
            } catch {
                $secondTerminating = $_
            }

            $firstErrors | Should -BeNullOrEmpty
            $a = Get-SingleBackup $first
            $folders = @([IO.Directory]::GetDirectories($r.Root))
            if ($secondTerminating) {
                # same second: refused, the first backup left as it was
                Assert-TvmTerminating $secondTerminating 'BackupExists' ResourceExists
                $folders | Should -Be @($a.Path)
            } else {
                $secondErrors | Should -BeNullOrEmpty
                $b = Get-SingleBackup $second
                $b.Path | Should -Not -Be $a.Path
                $folders.Count | Should -Be 2
            }
            foreach ($folder in $folders) {
                @([IO.Directory]::GetFiles((Join-Path $folder 'AES'))).Count | Should -Be $Names.Count -Because "$folder holds one backup's AES keys"
            }
            @(Get-RootEntry $r.Root | Where-Object { [IO.Path]::GetFileName($_).StartsWith('.') }).Count | Should -Be 0 -Because 'no staging folder is left in the root'
        }

        It 'a vault with a damaged key file is terminating VaultKeyDamaged (InvalidData) naming the key, and leaves nothing in the root' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names
            [IO.File]::WriteAllText((Get-VaultKeyFile $r.VaultA $Names[1]), '{"name":"' + $Names[1] + '",')

            $err = Get-TerminatingError { Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -ErrorAction SilentlyContinue }

            Assert-TvmTerminating $err 'VaultKeyDamaged' InvalidData
            Get-ErrorText $err | Should -BeLike "*$($Names[1])*"
            $entries = @(Get-RootEntry $r.Root)
            $entries.Count | Should -Be 0 -Because "a failed backup left $($entries -join ', ')"
        }
    }

    Context 'Import-TvmWrappingKeyFromPem' {
        It 'a name the vault holds with another public key is terminating WrappingKeyConflict (ResourceExists) naming it, keeps the key and writes no temporary file' {
            $r = New-Rehearsal
            Import-RehearsalWrappingKey $r
            $keyFile = Get-VaultKeyFile $r.VaultB $WrappingKeyName
            $before = [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile))
            $other = Write-KeyPair $OtherRsa (Join-Path $r.Dir 'other')
            # The engine writes its temporary import file under TMPDIR, which only a new process can set for it.
            $tmp = Join-Path $r.Dir 'tmp'
            $null = New-Item -ItemType Directory -Path $tmp
            $run = Invoke-InNewPwsh -Body 'Import-TvmWrappingKeyFromPem $KeyName $PublicKeyPath $PrivateKeyPath ''2048'' -VaultPath $VaultPath' `
                -Variables @{ KeyName = $WrappingKeyName; PublicKeyPath = $other.Public; PrivateKeyPath = $other.Private; VaultPath = $r.VaultB } `
                -Environment @{ TMPDIR = $tmp + [IO.Path]::DirectorySeparatorChar }

            $run.ExitCode | Should -Be 0 -Because ($run.ProcessOutput -join "`n")
            $run.Threw | Should -BeTrue -Because 'importing a name the vault holds for another key is a terminating error'
            $null = Assert-TvmTerminating $run 'WrappingKeyConflict' ResourceExists
            Get-ErrorText $run.Terminating | Should -BeLike "*$WrappingKeyName*Remove-TvmWrappingKey -KeyName $WrappingKeyName*"
            [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile)) | Should -Be $before -Because 'the key in the vault is kept'
            @(Get-ChildItem -LiteralPath $tmp -Recurse -Force -File).Count | Should -Be 0 -Because 'no temporary import file is left'
            @($run.Host | Where-Object { $_.StartsWith('Generating import JSON', [StringComparison]::Ordinal) }).Count | Should -Be 0 -Because 'the name is compared before the plaintext import file is written'
        }

        It 'the same pair again is Exists with a warning, writes nothing and makes no temporary file' {
            $r = New-Rehearsal
            Import-RehearsalWrappingKey $r
            $keyFile = Get-VaultKeyFile $r.VaultB $WrappingKeyName
            $before = [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile))
            $tmp = Join-Path $r.Dir 'tmp'
            $null = New-Item -ItemType Directory -Path $tmp
            $run = Invoke-InNewPwsh -Body 'Import-TvmWrappingKeyFromPem $KeyName $PublicKeyPath $PrivateKeyPath ''2048'' -VaultPath $VaultPath | ForEach-Object { "outcome=$($_.Outcome)" }' `
                -Variables @{ KeyName = $WrappingKeyName; PublicKeyPath = $r.Public; PrivateKeyPath = $r.Private; VaultPath = $r.VaultB } `
                -Environment @{ TMPDIR = $tmp + [IO.Path]::DirectorySeparatorChar }

            $run.ExitCode | Should -Be 0 -Because ($run.ProcessOutput -join "`n")
            $run.Threw | Should -BeFalse
            @($run.Output) | Should -Be @('outcome=Exists')
            @($run.Warnings) -join ' ' | Should -BeLike "*already holds the wrapping key $WrappingKeyName with this public key*"
            [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile)) | Should -Be $before
            @(Get-ChildItem -LiteralPath $tmp -Recurse -Force -File).Count | Should -Be 0
            @($run.Host | Where-Object { $_.StartsWith('Generating import JSON', [StringComparison]::Ordinal) }).Count | Should -Be 0
        }
    }

    Context 'Get-TvmVaultKey' {
        It 'a vault folder that does not exist is terminating VaultMissing (ObjectNotFound) naming it, and is not created' {
            $novault = Join-Path (New-TestFolder work) 'novault'

            $err = Get-TerminatingError { Get-TvmVaultKey -VaultPath $novault -ErrorAction SilentlyContinue }

            Assert-TvmTerminating $err 'VaultMissing' ObjectNotFound
            Get-ErrorText $err | Should -BeLike "*$novault*"
            Test-Path -LiteralPath $novault | Should -BeFalse -Because 'reading a vault must not create it'
        }
    }
}
