# manifest.json (docs/format.md section 8): every backup lists its key files with their SHA-256 and length, what
# made it, when, from which vault and for which wrapping key, and an optional -Label. The original script reads
# only AES\*.json and RSA\*.json, so the manifest changes nothing for it. The wrapping key pair is the one of
# tests/vectors (no .NET RSA), so this file runs under Wine as it is.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath
    $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)

    # -DateKind String: the times as written, not turned into DateTime values.
    function Read-Manifest([string] $Backup) {
        Get-Content -LiteralPath ([IO.Path]::Combine($Backup, 'manifest.json')) -Raw | ConvertFrom-Json -DateKind String
    }
}

AfterAll { Restore-TvmVaultPath }

Describe 'The manifest of a local vault backup' {
    BeforeAll {
        $script:Source = New-TestFolder vault
        $null = New-TvmVaultKey -Name vm_key_1 -Type AES -Size 256 -VaultPath $Source
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $Source
        $script:Backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath (New-TestFolder root) -VaultPath $Source -Label 'before patch Tuesday')
        $script:Manifest = Read-Manifest $Backup.Path
    }

    It 'names its format, schema, the module version and the backup folder' {
        $Manifest.format | Should -BeExactly 'tvmkeys-backup-manifest'
        $Manifest.schemaVersion | Should -Be 1
        $Manifest.toolVersion | Should -Be (Get-Module TvmBackupUtils).Version.ToString()
        $Manifest.timestamp | Should -BeExactly (Split-Path $Backup.Path -Leaf)
    }

    It 'records when, in UTC and in local time with its offset, the same moment as the folder name' {
        $utc = [DateTimeOffset]::Parse($Manifest.createdUtc, [Globalization.CultureInfo]::InvariantCulture)
        $local = [DateTimeOffset]::Parse($Manifest.createdLocal, [Globalization.CultureInfo]::InvariantCulture)
        $Manifest.createdUtc | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
        $Manifest.createdLocal | Should -Match '[+-]\d\d:\d\d$' -Because 'the local time carries its offset'
        $local.ToString('yyyyMMddHHmmss') | Should -BeExactly $Manifest.timestamp
        # The shim's clock and the engine's are read a moment apart; they tell the same minute.
        [Math]::Abs(($utc - $local).TotalSeconds) | Should -BeLessThan 60
    }

    It 'names the vault it came from and the -Label' {
        $Manifest.source.kind | Should -BeExactly 'local'
        $Manifest.source.path | Should -Be $Source
        $Manifest.label | Should -BeExactly 'before patch Tuesday'
        $Backup.Label | Should -BeExactly 'before patch Tuesday'
    }

    It 'records the wrapping key by the fingerprint the module shows everywhere' {
        $target = New-TestFolder target
        $wrap = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $Manifest.wrappingKeyFingerprint | Should -Match '^[0-9a-f]{32}$'
        $Manifest.wrappingKeyFingerprint | Should -BeExactly $wrap.Fingerprint
        $Backup.WrappingKeyFingerprint | Should -BeExactly $wrap.Fingerprint
    }

    It 'lists every key file, and only those, with its SHA-256 and length' {
        $files = @(Get-ChildItem -LiteralPath ([IO.Path]::Combine($Backup.Path, 'AES')), ([IO.Path]::Combine($Backup.Path, 'RSA')) -File)
        @($Manifest.keys).Count | Should -Be $files.Count
        @($Manifest.keys).Count | Should -Be 2
        foreach ($entry in $Manifest.keys) {
            $path = [IO.Path]::Combine($Backup.Path, $entry.file)
            $path | Should -Exist
            $entry.file | Should -BeExactly "$($entry.type)/$($entry.name)_$($entry.size).json"
            $entry.length | Should -Be (Get-Item -LiteralPath $path).Length
            $entry.sha256 | Should -BeExactly (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
        }
        @($Manifest.keys.name | Sort-Object) | Should -Be @('AzureStackTvmAKRootKey', 'vm_key_1')
    }

    It 'is not a key file: the restore imports the keys and leaves the manifest alone' {
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $restores = @(Import-TVMKeys -BackupPath $Backup.Path -WrappingKeyName TvmWrap -VaultPath $target 6>$null)
        @($restores | Where-Object Outcome -EQ 'Imported').Count | Should -Be 2
        @(Get-TvmVaultKey -VaultPath $target).Count | Should -Be 3 -Because 'the two keys and the wrapping key, nothing from manifest.json'
    }
}

Describe 'Labels' {
    It 'a backup without -Label has no label' {
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $source
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath (New-TestFolder root) -VaultPath $source 3>$null 6>$null)
        (Read-Manifest $backup.Path).PSObject.Properties.Name | Should -Not -Contain 'label'
        $backup.Label | Should -BeNullOrEmpty
    }

    It 'refuses a label of <Why>, naming -Label, and writes nothing' -ForEach @(
        @{ Why = 'two lines'; Label = "line one`nline two" }
        @{ Why = '257 characters'; Label = ('x' * 257) }
    ) {
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $source
        $root = New-TestFolder root
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $root -VaultPath $source -Label $Label }
        $e = Assert-TvmTerminating $run InvalidLabel InvalidArgument
        Get-ErrorText $e | Should -Match 'label'
        @(Get-ChildItem -LiteralPath $root -Force).Count | Should -Be 0
    }
}

Describe 'The manifest of a MOC vault backup (the stand-in Moc module)' {
    BeforeAll {
        Import-MocStandIn
    }

    It 'names the group and the vault the Moc cmdlets were given' -ForEach @(
        @{ Form = 'the defaults'; Group = 'AzureStackHostAttestation'; VaultName = 'AzureStackTvmKeyVault'; Arguments = @{} }
        @{ Form = '-Group and -KeyVaultName'; Group = 'OtherGroup'; VaultName = 'OtherVault'; Arguments = @{ Group = 'OtherGroup'; KeyVaultName = 'OtherVault' } }
    ) {
        Set-StandInCluster -StateRoot (New-TestFolder cluster)
        Add-StandInKey -Key vm1 -Type AES -Size 256 -Group $Group -KeyVaultName $VaultName
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath (New-TestFolder root) @Arguments 3>$null 6>$null)
        $manifest = Read-Manifest $backup.Path
        $manifest.source.kind | Should -BeExactly 'moc'
        $manifest.source.group | Should -BeExactly $Group
        $manifest.source.vaultName | Should -BeExactly $VaultName
        @($manifest.keys).Count | Should -Be 1
    }
}

Describe 'What a backup says about what it holds, and unfinished backups' {
    It 'backs up a vault with no key, with a warning that names the vault' {
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $source
        Remove-Item -LiteralPath ([IO.Path]::Combine($source, 'keys', 'k1.json'))
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath (New-TestFolder root) -VaultPath $source }
        $backup = Get-SingleBackup (Assert-Clean $run).Output
        @($backup.Keys).Count | Should -Be 0
        $run.Warnings.Count | Should -Be 1
        $run.Warnings[0] | Should -BeLike "The backup holds no key: the local vault $source has no AES or RSA key.*"
    }

    It 'backs up a vault without AzureStackTvmAKRootKey, with a warning that says so' {
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $source
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath (New-TestFolder root) -VaultPath $source }
        $null = Assert-Clean $run
        $run.Warnings.Count | Should -Be 1
        $run.Warnings[0] | Should -BeLike 'The backup holds no AzureStackTvmAKRootKey:*'
    }

    It 'Import-TVMKeys refuses a hidden .<timestamp>.partial folder as an unfinished backup and imports nothing' {
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $source
        $root = New-TestFolder root
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $root -VaultPath $source 3>$null 6>$null)
        # What a killed run leaves: the files in the hidden folder, never renamed.
        $partial = [IO.Path]::Combine($root, ".$($backup.Timestamp.ToString('yyyyMMddHHmmss')).partial")
        Move-Item -LiteralPath $backup.Path -Destination $partial
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $run = Invoke-Captured { Import-TVMKeys -BackupPath $partial -WrappingKeyName TvmWrap -VaultPath $target }
        $e = Assert-TvmTerminating $run BackupIncomplete InvalidData
        Get-ErrorText $e | Should -Match 'unfinished backup'
        @(Get-TvmVaultKey -VaultPath $target).Name | Should -Be @('TvmWrap')
    }
}
