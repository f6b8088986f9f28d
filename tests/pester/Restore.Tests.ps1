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
    $script:WrappingRsa = [System.Security.Cryptography.RSA]::Create(2048)
    $script:OtherRsa = [System.Security.Cryptography.RSA]::Create(2048)

    # Writes public.pem (PKCS#1) and private.pem (PKCS#8) of -Rsa into -Folder; returns their paths.
    function Write-KeyPair([System.Security.Cryptography.RSA] $Rsa, [string] $Folder) {
        $null = New-Item -ItemType Directory -Path $Folder -Force
        $public = Join-Path $Folder 'public.pem'
        $private = Join-Path $Folder 'private.pem'
        Write-PemFile -Path $public -Pem $Rsa.ExportRSAPublicKeyPem()
        Write-PemFile -Path $private -Pem $Rsa.ExportPkcs8PrivateKeyPem()
        [pscustomobject]@{ Public = $public; Private = $private }
    }

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

    # The TvmBackup of a run's output, which must be exactly that one object.
    function Get-SingleBackup([object[]] $Output) {
        $Output.Count | Should -Be 1 -Because 'the backup writes exactly one TvmBackup object'
        $Output[0].GetType().FullName | Should -Be 'TvmBackupUtils.TvmBackup'
        $Output[0]
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

    # Import-TVMKeys by position from -BackupPath into vault B. Returns Output, Warnings (texts) and Errors (the
    # non-terminating ones); a terminating error is thrown on.
    function Invoke-Restore($R, [string] $BackupPath, [switch] $WhatIf) {
        $output = @(Import-TVMKeys $BackupPath $script:WrappingKeyName -VaultPath $R.VaultB -WhatIf:$WhatIf `
                -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue)
        [pscustomobject]@{
            Output = $output
            Warnings = @($warns | ForEach-Object { "$($_.Message)" })
            Errors = @($errs)
        }
    }

    # Every output object is a TvmKeyRestore (as the xunit Objects.Restores required); returns them.
    function Get-Restores([object[]] $Output) {
        foreach ($o in $Output) { $o.GetType().FullName | Should -Be 'TvmBackupUtils.TvmKeyRestore' }
        $Output
    }

    # Get-TvmVaultKey of -Vault, without an error; every object a TvmKey.
    function Get-VaultKeyList([string] $Vault) {
        $keys = @(Get-TvmVaultKey -VaultPath $Vault -ErrorVariable errs -ErrorAction SilentlyContinue)
        $errs | Should -BeNullOrEmpty
        foreach ($k in $keys) { $k.GetType().FullName | Should -Be 'TvmBackupUtils.TvmKey' }
        $keys
    }

    # One line per key of a list (Name, Type, Size, Fingerprint, File), to compare two lists in order.
    function Format-KeyList([object[]] $Keys) {
        $Keys | ForEach-Object { "$($_.Name)|$($_.Type)|$([int]$_.Size)|$($_.Fingerprint)|$($_.File)" }
    }

    # The key material of the vault's file of key -Name (docs/format.md section 6: base64url "material").
    function Read-VaultKeyMaterial([string] $Vault, [string] $Name) {
        $json = Get-Content -Raw (Get-VaultKeyFile $Vault $Name) | ConvertFrom-Json
        $json.name | Should -Not -BeNullOrEmpty
        $json.type | Should -Not -BeNullOrEmpty
        $null = [int]$json.size
        [Convert]::FromBase64String($json.material.Replace('-', '+').Replace('_', '/'))
    }

    # File name -> base64 of the bytes of every file under vault/keys (empty when there is none), sorted ordinally.
    function Get-VaultSnapshot([string] $Vault) {
        $snapshot = [System.Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
        $keys = Join-Path $Vault 'keys'
        if (Test-Path -LiteralPath $keys -PathType Container) {
            foreach ($f in [IO.Directory]::GetFiles($keys)) {
                $snapshot[[IO.Path]::GetFileName($f)] = [Convert]::ToBase64String([IO.File]::ReadAllBytes($f))
            }
        }
        , $snapshot
    }

    # The entries of -Root, or none when it does not exist.
    function Get-RootEntry([string] $Root) {
        if ([IO.Directory]::Exists($Root)) { [IO.Directory]::GetFileSystemEntries($Root) }
    }

    # A terminating error with one of -ErrorId, from a TvmBackupUtils command, of -Category.
    function Assert-TvmTerminating($ErrorRecord, [string[]] $ErrorId, [System.Management.Automation.ErrorCategory] $Category) {
        $ErrorRecord | Should -Not -BeNullOrEmpty -Because "a terminating error $($ErrorId -join ' or ') was expected"
        $id = $ErrorRecord.FullyQualifiedErrorId.Split(',')[0]
        $id | Should -BeIn $ErrorId
        $ErrorRecord.FullyQualifiedErrorId | Should -BeLike "$id,TvmBackupUtils.*" -Because 'the ErrorId names a TvmBackupUtils command'
        $ErrorRecord.CategoryInfo.Category | Should -Be $Category
    }

    # What the xunit TerminatingMessage was: the ErrorDetails message and the exception's message.
    function Get-TerminatingMessage($ErrorRecord) {
        if ($ErrorRecord.ErrorDetails -and $ErrorRecord.ErrorDetails.Message) {
            "$($ErrorRecord.ErrorDetails.Message) $($ErrorRecord.Exception.Message)"
        } else {
            "$($ErrorRecord.Exception.Message)"
        }
    }
}

Describe 'Restoring and backing up beyond the happy path' {
    BeforeEach {
        # As the xunit session did: no TVM_VAULT_PATH while a test runs, restored afterwards.
        $script:SavedVaultPath = $env:TVM_VAULT_PATH
        $env:TVM_VAULT_PATH = $null
    }
    AfterEach {
        $env:TVM_VAULT_PATH = $script:SavedVaultPath
    }

    Context 'Import-TVMKeys' {
        It 'a key already in the vault is Exists with a warning naming it and no error, is left as it was, and the others are Imported' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            Add-AesKey $r.VaultB $Names[0]   # same name, different material
            $before = Read-VaultKeyMaterial $r.VaultB $Names[0]

            $run = Invoke-Restore $r $backup.Path

            $run.Errors | Should -BeNullOrEmpty
            $results = @(Get-Restores $run.Output)
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
            foreach ($x in (Get-Restores $first.Output)) { "$($x.Outcome)" | Should -Be 'Imported' }
            $snapshot = Get-VaultSnapshot $r.VaultB
            $listBefore = @(Format-KeyList @(Get-VaultKeyList $r.VaultB))

            $second = Invoke-Restore $r $backup.Path

            $second.Errors | Should -BeNullOrEmpty
            $results = @(Get-Restores $second.Output)
            $results.Count | Should -Be $Names.Count
            foreach ($x in $results) { "$($x.Outcome)" | Should -Be 'Exists' -Because "$($x.Name) was restored by the first run" }
            $second.Warnings.Count | Should -Be $Names.Count
            $after = Get-VaultSnapshot $r.VaultB
            @($after.Keys) | Should -Be @($snapshot.Keys)
            foreach ($k in $snapshot.Keys) { $after[$k] | Should -Be $snapshot[$k] -Because "$k changed" }
            @(Format-KeyList @(Get-VaultKeyList $r.VaultB)) | Should -Be $listBefore
        }

        It 'a truncated key file fails that key with KeyImportFailed ("Error Importing Key: ") and imports the others' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            $corrupt = [IO.Path]::Combine($backup.Path, 'AES', "$($Names[1])_256.json")
            $bytes = [IO.File]::ReadAllBytes($corrupt)
            [IO.File]::WriteAllBytes($corrupt, [byte[]]$bytes[0..([int][Math]::Floor($bytes.Length / 2) - 1)])

            $terminating = $null
            try { $run = Invoke-Restore $r $backup.Path } catch { $terminating = $_ }

            $terminating | Should -BeNullOrEmpty -Because 'one bad key file does not stop the restore'
            $results = @(Get-Restores $run.Output)
            $failed = @($results | Where-Object Name -EQ $Names[1])
            $failed.Count | Should -Be 1
            "$($failed[0].Outcome)" | Should -Be 'Failed'
            foreach ($x in @($results | Where-Object Name -NE $Names[1])) { "$($x.Outcome)" | Should -Be 'Imported' }
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId.Split(',')[0] | Should -Be 'KeyImportFailed'
            $run.Errors[0].Exception.Message | Should -BeLikeExactly 'Error Importing Key: *'
            Test-Path -LiteralPath (Get-VaultKeyFile $r.VaultB $Names[1]) | Should -BeFalse -Because 'the corrupt key must not reach the vault'
            @(Get-VaultKeyList $r.VaultB | Where-Object Name -EQ $Names[1]).Count | Should -Be 0
            foreach ($n in @($Names | Where-Object { $_ -ne $Names[1] })) {
                Test-Path -LiteralPath (Get-VaultKeyFile $r.VaultB $n) | Should -BeTrue -Because "$n was to be imported"
            }
        }

        It 'a key file wrapped for another wrapping key fails that key only, with KeyImportFailed' {
            $r = New-Rehearsal
            $backup = Initialize-AesBackup $r $Names
            # replace one key file by a file of the same key wrapped with a different wrapping key
            $otherRoot = Join-Path $r.Dir 'other-backups'
            $otherPub = (Write-KeyPair $OtherRsa (Join-Path $r.Dir 'otherkeys')).Public
            $other = Get-SingleBackup @(Backup-TVMKeys $otherPub $otherRoot -VaultPath $r.VaultA -ErrorAction Stop)
            $victim = "$($Names[0])_256.json"
            Copy-Item -LiteralPath ([IO.Path]::Combine($other.Path, 'AES', $victim)) -Destination ([IO.Path]::Combine($backup.Path, 'AES', $victim)) -Force

            $terminating = $null
            try { $run = Invoke-Restore $r $backup.Path } catch { $terminating = $_ }

            $terminating | Should -BeNullOrEmpty -Because 'one bad key file does not stop the restore'
            $results = @(Get-Restores $run.Output)
            $failed = @($results | Where-Object Name -EQ $Names[0])
            $failed.Count | Should -Be 1
            "$($failed[0].Outcome)" | Should -Be 'Failed'
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId.Split(',')[0] | Should -Be 'KeyImportFailed'
            Test-Path -LiteralPath (Get-VaultKeyFile $r.VaultB $Names[0]) | Should -BeFalse
            @($results | Where-Object { "$($_.Outcome)" -eq 'Imported' }).Count | Should -Be ($Names.Count - 1)
        }

        It 'Backup-TVMKeys piped to Import-TVMKeys restores every key with its fingerprint' {
            $r = New-Rehearsal
            Add-AesKey $r.VaultA $Names
            Import-RehearsalWrappingKey $r

            $output = @(Backup-TVMKeys $r.Public $r.Root -VaultPath $r.VaultA -ErrorVariable backupErrors -ErrorAction SilentlyContinue |
                    Import-TVMKeys -WrappingKeyName $WrappingKeyName -VaultPath $r.VaultB -ErrorVariable restoreErrors -ErrorAction SilentlyContinue)

            $backupErrors | Should -BeNullOrEmpty
            $restoreErrors | Should -BeNullOrEmpty
            $results = @(Get-Restores $output)
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
            $results = @(Get-Restores $output)
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
            @(Get-Restores $run.Output | Where-Object { "$($_.Outcome)" -eq 'Imported' }).Count | Should -Be 0
        }

        It 'a backup folder that does not exist is terminating BackupFolderMissing (ObjectNotFound) naming it' {
            $r = New-Rehearsal
            Import-RehearsalWrappingKey $r
            $missing = [IO.Path]::Combine($r.Dir, 'backups', '20240101000000')

            $err = Get-TerminatingError { Invoke-Restore $r $missing }

            Assert-TvmTerminating $err 'BackupFolderMissing' ObjectNotFound
            Get-TerminatingMessage $err | Should -BeLike '*20240101000000*'
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
            Get-TerminatingMessage $err | Should -BeLike '*absent.pem*'
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
            Get-TerminatingMessage $err | Should -BeLike "*$($Names[1])*"
            $entries = @(Get-RootEntry $r.Root)
            $entries.Count | Should -Be 0 -Because "a failed backup left $($entries -join ', ')"
        }
    }

    Context 'Import-TvmWrappingKeyFromPem' {
        It 'a name already in the vault is terminating KeyExists (ResourceExists) naming it, keeps the key and cleans up its temporary file' {
            $r = New-Rehearsal
            Import-RehearsalWrappingKey $r
            $keyFile = Get-VaultKeyFile $r.VaultB $WrappingKeyName
            $before = [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile))
            $other = Write-KeyPair $OtherRsa (Join-Path $r.Dir 'other')
            # The engine writes its temporary import file under TMPDIR, which only a new process can set for it.
            $tmp = Join-Path $r.Dir 'tmp'
            $null = New-Item -ItemType Directory -Path $tmp
            $resultPath = Join-Path $r.Dir 'result.json'
            $script = Join-Path $TestDrive 'import-wrapping-key-again.ps1'
            Set-Content -LiteralPath $script -Value @'
param([string] $ModulePath, [string] $KeyName, [string] $PublicKeyPath, [string] $PrivateKeyPath, [string] $VaultPath, [string] $ResultPath)
$ErrorActionPreference = 'Continue'
Import-Module (Join-Path $ModulePath 'TvmBackupUtils.psd1') -Force -ErrorAction Stop
$terminating = $null
$iv = $null
try {
    $null = Import-TvmWrappingKeyFromPem $KeyName $PublicKeyPath $PrivateKeyPath '2048' -VaultPath $VaultPath -InformationVariable iv
} catch {
    $terminating = $_
}
[pscustomobject]@{
    Threw = $null -ne $terminating
    FullyQualifiedErrorId = if ($terminating) { $terminating.FullyQualifiedErrorId } else { $null }
    Category = if ($terminating) { "$($terminating.CategoryInfo.Category)" } else { $null }
    Details = if ($terminating -and $terminating.ErrorDetails) { "$($terminating.ErrorDetails.Message)" } else { $null }
    Message = if ($terminating) { "$($terminating.Exception.Message)" } else { $null }
    Host = @($iv | Where-Object { $_.Tags -contains 'PSHOST' } | ForEach-Object { "$($_.MessageData)" })
} | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $ResultPath -Encoding utf8
'@

            $run = Invoke-Pwsh -File $script -ArgumentList @((Get-TvmModulePath), $WrappingKeyName, $other.Public, $other.Private, $r.VaultB, $resultPath) `
                -Environment @{ TMPDIR = $tmp + [IO.Path]::DirectorySeparatorChar }

            $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
            $result = Get-Content -Raw -LiteralPath $resultPath | ConvertFrom-Json
            $result.Threw | Should -BeTrue -Because 'importing a name the vault holds is a terminating error'
            $err = [pscustomobject]@{
                FullyQualifiedErrorId = $result.FullyQualifiedErrorId
                CategoryInfo = [pscustomobject]@{ Category = [System.Management.Automation.ErrorCategory]$result.Category }
            }
            Assert-TvmTerminating $err 'KeyExists' ResourceExists
            $message = if ($result.Details) { "$($result.Details) $($result.Message)" } else { $result.Message }
            $message | Should -BeLike "*$WrappingKeyName*"
            [Convert]::ToBase64String([IO.File]::ReadAllBytes($keyFile)) | Should -Be $before -Because 'the key in the vault is kept'
            @(Get-ChildItem -LiteralPath $tmp -Recurse -Force).Count | Should -Be 0 -Because 'the temporary import file is removed'
            $cleaned = @($result.Host | Where-Object { $_.StartsWith('Temporary file ', [StringComparison]::Ordinal) -and $_.EndsWith(' has been cleaned up.', [StringComparison]::Ordinal) })
            $cleaned.Count | Should -BeGreaterThan 0 -Because "the host lines were: $($result.Host -join ' | ')"
            # (not in the xunit test) the temporary file was in the private TMPDIR, so the check above means something
            $cleaned[0] | Should -BeLike "Temporary file $tmp*"
        }
    }

    Context 'Get-TvmVaultKey' {
        It 'a vault folder that does not exist is terminating VaultMissing (ObjectNotFound) naming it, and is not created' {
            $novault = Join-Path (New-TestFolder work) 'novault'

            $err = Get-TerminatingError { Get-TvmVaultKey -VaultPath $novault -ErrorAction SilentlyContinue }

            Assert-TvmTerminating $err 'VaultMissing' ObjectNotFound
            Get-TerminatingMessage $err | Should -BeLike "*$novault*"
            Test-Path -LiteralPath $novault | Should -BeFalse -Because 'reading a vault must not create it'
        }
    }
}
