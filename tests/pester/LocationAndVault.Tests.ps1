# Relative paths, the choice of vault, the local vault's on-disk format and the wrapping key import.
# Moved from the xunit classes RelativePathTests, VaultChoiceTests, LocalVaultTests and WrappingKeyTests
# (tests/TvmBackupUtils.Tests/LocationAndVaultTests.cs).
BeforeDiscovery {
    # The commands that talk to a vault, as the xunit theory AllVaultCommands wrote them.
    $script:AllVaultCommands = @(
        'Get-TvmVaultKey'
        'New-TvmVaultKey -Name k -Type AES -Size 256'
        'Backup-TVMKeys $pub $root'
        'Import-TVMKeys $backup w'
        'Import-TvmWrappingKeyFromPem w $pub $priv 2048'
    )
    $script:RejectedTypeOrSize = @(
        @{ Type = 'AES'; Size = 128 }
        @{ Type = 'AES'; Size = 2048 }
        @{ Type = 'RSA'; Size = 1024 }
        @{ Type = 'EC'; Size = 256 }
    )
    $script:PemFlavors = @(
        @{ Flavor = 'Utf16LeBomCrlf'; Source = 'Windows PowerShell 5.1 Out-File' }
        @{ Flavor = 'Utf8BomCrlf'; Source = 'Set-Content -Encoding utf8BOM, editors on Windows' }
        @{ Flavor = 'Utf8NoFinalNewline'; Source = '[IO.File]::WriteAllText of ExportRSAPublicKeyPem()' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # Every file and folder under -Path (none when it does not exist).
    function Get-Entries([string] $Path) {
        if (-not (Test-Path $Path)) { return @() }
        @(Get-ChildItem -LiteralPath $Path -Recurse -Force)
    }
}

Describe 'Relative paths' {
    # They resolve against the PowerShell location, not the process working directory.
    BeforeAll { Import-TvmModule }

    It 'after Set-Location resolve under that location for every command, not under the process working directory' {
        $loc = New-TestFolder loc
        $null = Copy-VectorKeyPair -Folder $loc
        $processCwd = [Environment]::CurrentDirectory
        [IO.Path]::GetFullPath($loc) | Should -Not -Be ([IO.Path]::GetFullPath($processCwd))

        Push-Location $loc
        try {
            $run = Invoke-Captured {
                New-TvmVaultKey -Name vm_key_1 -Type AES -Size 256 -VaultPath .\vaultA | Out-Null
                $b = Backup-TVMKeys .\public.pem .\backups -VaultPath .\vaultA
                Import-TvmWrappingKeyFromPem w .\public.pem .\private.pem 2048 -VaultPath .\vaultB | Out-Null
                $rel = '.\backups\' + [System.IO.Path]::GetFileName($b.Path)
                Import-TVMKeys $rel w -VaultPath .\vaultB
                $b
            }
        } finally {
            Pop-Location
        }

        Assert-Clean $run
        $run.OutputTypes[-1] | Should -Be 'TvmBackupUtils.TvmBackup'
        $backup = $run.Output[-1]
        [IO.Path]::GetDirectoryName($backup.Path) | Should -Be ([IO.Path]::Combine($loc, 'backups'))
        [IO.Path]::Combine($backup.Path, 'AES', 'vm_key_1_256.json') | Should -Exist
        Get-VaultKeyFile ([IO.Path]::Combine($loc, 'vaultA')) vm_key_1 | Should -Exist
        Get-VaultKeyFile ([IO.Path]::Combine($loc, 'vaultB')) w | Should -Exist
        Get-VaultKeyFile ([IO.Path]::Combine($loc, 'vaultB')) vm_key_1 | Should -Exist
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmKeyRestore'
        "$($run.Output[0].Outcome)" | Should -Be 'Imported'
        # As the original's Join-Path: the key file is shown under the backup path as typed ...
        $typed = [IO.Path]::Combine('.\backups\' + [IO.Path]::GetFileName($backup.Path), 'AES', 'vm_key_1_256.json')
        $run.Host | Should -Contain "Importing key vm_key_1 with size 256 from AES folder path = $typed"
        # ... while the output object carries the full path.
        "$($run.Output[0].File)" | Should -Be ([IO.Path]::Combine($backup.Path, 'AES', 'vm_key_1_256.json'))
        foreach ($d in 'vaultA', 'vaultB', 'backups') {
            [IO.Path]::Combine($processCwd, $d) | Should -Not -Exist -Because "$d must not be created in the process cwd $processCwd"
        }
    }

    It 'of the backup are printed by Import-TVMKeys as given, in its first message and in the key file''s path' {
        # As the original prints $BackupPath and Join-Path of it: the paths in host messages are as typed.
        $loc = New-TestFolder loc
        $keys = Copy-VectorKeyPair -Folder ([IO.Path]::Combine($loc, 'keys'))
        $vaultA = [IO.Path]::Combine($loc, 'vaultA')
        $vaultB = [IO.Path]::Combine($loc, 'vaultB')
        $root = [IO.Path]::Combine($loc, 'backups')
        $wname = 'TvmWrappingKey'
        # The rehearsal prepared: k1 in vault A, backed up, the wrapping key in vault B.
        $prepare = Invoke-Captured {
            New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vaultA | Out-Null
            Backup-TVMKeys -WrappingKeyPath $keys.Public -BackupRootPath $root -VaultPath $vaultA
            Import-TvmWrappingKeyFromPem $wname $keys.Public $keys.Private '2048' -VaultPath $vaultB | Out-Null
        }
        Assert-Clean $prepare
        @($prepare.Output).Count | Should -Be 1
        $prepare.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmBackup'
        $rel = '.\backups\' + [IO.Path]::GetFileName($prepare.Output[0].Path)

        Push-Location $loc
        try {
            $run = Invoke-Captured { Import-TVMKeys $rel $wname -VaultPath .\vaultB }
        } finally {
            Pop-Location
        }

        Assert-Clean $run
        $run.Host[0] | Should -BeExactly ('Importing TVM  keys from .\backups\' + [IO.Path]::GetFileName($prepare.Output[0].Path))
        $typed = [IO.Path]::Combine($rel, 'AES', 'k1_256.json')
        # Between the two: the pre-restore backup of vault B, into the backup root of the backup restored.
        $run.Host[1] | Should -BeLike "The target vault was backed up to $([IO.Path]::Combine($loc, 'backups'))* before the restore (a pre-restore backup)."
        $run.Host[2] | Should -BeExactly "Importing key k1 with size 256 from AES folder path = $typed"
    }

    It 'with forward slashes resolve under the location' {
        $loc = New-TestFolder loc2
        Push-Location $loc
        try {
            $run = Invoke-Captured { New-TvmVaultKey -Name k -Type AES -Size 256 -VaultPath ./sub/vault }
        } finally {
            Pop-Location
        }
        Assert-Clean $run
        Get-VaultKeyFile ([IO.Path]::Combine($loc, 'sub', 'vault')) k | Should -Exist
    }
}

Describe 'The choice of vault' {
    # Which vault a command talks to: -VaultPath, else TVM_VAULT_PATH, else the MOC vault (the Moc cmdlets).
    BeforeAll { Import-TvmModule }
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'without -VaultPath, TVM_VAULT_PATH or a Moc module, <_> is the original''s terminating MocVersionUnknown "Unable to determine Moc installation versions." and changes nothing' -ForEach $AllVaultCommands {
        # Never a silent fallback to another vault: the MOC vault's version gate cannot run Get-MocConfig.
        $keys = Copy-VectorKeyPair -Folder (New-TestFolder keys)
        $work = New-TestFolder work
        $backup = [IO.Path]::Combine($work, 'backups', '20240101000000')
        $null = New-Item -ItemType Directory -Path ([IO.Path]::Combine($backup, 'AES')), ([IO.Path]::Combine($backup, 'RSA'))
        $root = [IO.Path]::Combine($work, 'root')
        $tmp = New-TestFolder tmp

        $run = Invoke-InNewPwsh -Body $_ -Variables ([ordered]@{ pub = $keys.Public; priv = $keys.Private; root = $root; backup = $backup }) `
            -Environment @{ TMPDIR = $tmp + [IO.Path]::DirectorySeparatorChar }

        $run.TvmVaultPath | Should -BeNullOrEmpty
        $run.MocConfigCommands | Should -Be 0 -Because 'no Moc module is loaded'
        $e = Assert-TvmTerminating $run MocVersionUnknown NotInstalled
        $e.Exception.Message | Should -BeExactly 'Unable to determine Moc installation versions.'
        $root | Should -Not -Exist -Because 'Backup-TVMKeys must not create its root before failing'
        Get-Entries $tmp | Should -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath $backup -Force | ForEach-Object Name | Sort-Object -CaseSensitive) | Should -BeExactly @('AES', 'RSA')
    }

    It 'TVM_VAULT_PATH set in the session is the vault when there is no -VaultPath' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'envvault')
        $run = Invoke-Captured {
            $env:TVM_VAULT_PATH = $vault
            New-TvmVaultKey -Name envkey -Type AES -Size 256 | Out-Null
            Get-TvmVaultKey
        }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmKey'
        $run.Output[0].Name | Should -Be 'envkey'
        Get-VaultKeyFile $vault envkey | Should -Exist
    }

    It 'TVM_VAULT_PATH of the process is the vault when there is no -VaultPath' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'procvault')
        $run = Invoke-InNewPwsh -Body 'New-TvmVaultKey -Name prockey -Type AES -Size 256' -Environment @{ TVM_VAULT_PATH = $vault }
        $run.TvmVaultPath | Should -Be $vault
        Assert-Clean $run
        Get-VaultKeyFile $vault prockey | Should -Exist
    }

    It '-VaultPath wins over TVM_VAULT_PATH' {
        $work = New-TestFolder work
        $envVault = [IO.Path]::Combine($work, 'envvault')
        $paramVault = [IO.Path]::Combine($work, 'paramvault')
        $run = Invoke-Captured {
            $env:TVM_VAULT_PATH = $envVault
            New-TvmVaultKey -Name k -Type AES -Size 256 -VaultPath $paramVault
        }
        Assert-Clean $run
        Get-VaultKeyFile $paramVault k | Should -Exist
        Get-VaultKeyFile $envVault k | Should -Not -Exist
    }
}

Describe 'The local vault' {
    # The LocalVault on-disk format of the contract, as New-TvmVaultKey writes it.
    BeforeAll { Import-TvmModule }

    It 'New-TvmVaultKey AES writes the vault marker and a key file with 32 bytes of padded base64url material' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        $run = Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmKey'
        $k = $run.Output[0]
        $k.Name | Should -Be 'k1'
        $k.Type | Should -Be 'AES'
        [int]$k.Size | Should -Be 256

        $marker = [IO.File]::ReadAllText([IO.Path]::Combine($vault, 'tvmvault.json')) | ConvertFrom-Json
        $marker.format | Should -BeExactly 'tvmkeys-local-vault'
        $marker.version | Should -BeOfType [long] -Because 'the version is a JSON integer'
        $marker.version | Should -Be 1
        $f = Read-VaultKeyFile $vault k1
        $f.Name | Should -Be 'k1'
        $f.Type | Should -Be 'AES'
        $f.Size | Should -Be 256
        $f.Material.Length | Should -Be 32
        Test-PaddedBase64Url $f.MaterialText | Should -BeTrue
    }

    It 'New-TvmVaultKey RSA 2048 stores PKCS#8 that .NET imports as a 2048-bit key' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        Assert-Clean (Invoke-Captured { New-TvmVaultKey -Name r1 -Type RSA -Size 2048 -VaultPath $vault })
        # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
        $rsa = New-TestRsa
        try {
            $read = 0
            $rsa.ImportPkcs8PrivateKey([byte[]](Read-VaultKeyFile $vault r1).Material, [ref]$read)
            $rsa.KeySize | Should -Be 2048
        } finally {
            $rsa.Dispose()
        }
    }

    It 'New-TvmVaultKey writes the key file readable and writable by its owner only' -Skip:$IsWindows {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        Assert-Clean (Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault })
        [IO.File]::GetUnixFileMode((Get-VaultKeyFile $vault k1)) | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite')
    }

    It 'New-TvmVaultKey of an existing name is the terminating KeyExists and keeps the key' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        Assert-Clean (Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault })
        $before = [IO.File]::ReadAllBytes((Get-VaultKeyFile $vault k1))
        $run = Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault }
        $null = Assert-TvmTerminating $run KeyExists ResourceExists
        [Convert]::ToHexString([IO.File]::ReadAllBytes((Get-VaultKeyFile $vault k1))) | Should -Be ([Convert]::ToHexString($before))
    }

    It 'New-TvmVaultKey -Type <Type> -Size <Size>, which the vault rejects, is terminating and writes no key' -ForEach $RejectedTypeOrSize {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        $run = Invoke-Captured { New-TvmVaultKey -Name bad -Type $Type -Size $Size -VaultPath $vault }
        $run.Terminating | Should -Not -BeNullOrEmpty -Because (Format-Captured $run)
        Get-VaultKeyFile $vault bad | Should -Not -Exist
    }

    It 'New-TvmVaultKey -Type aes is stored with the vault''s case-sensitive spelling AES' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        $run = Invoke-Captured { New-TvmVaultKey -Name k1 -Type aes -Size 256 -VaultPath $vault }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmKey'
        $run.Output[0].Type | Should -BeExactly 'AES'
        (Read-VaultKeyFile $vault k1).Type | Should -BeExactly 'AES'
    }

    It 'Get-TvmVaultKey by a positional name returns only that key, with its fingerprint' {
        $vault = [IO.Path]::Combine((New-TestFolder work), 'v')
        Assert-Clean (Invoke-Captured { 'a1', 'a2', 'a3' | ForEach-Object { New-TvmVaultKey -Name $_ -Type AES -Size 256 -VaultPath $vault } | Out-Null })
        $run = Invoke-Captured { Get-TvmVaultKey a2 -VaultPath $vault }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmKey'
        $run.Output[0].Name | Should -Be 'a2'
        $run.Output[0].Fingerprint | Should -Not -BeNullOrEmpty
    }
}

Describe 'The wrapping key import' {
    # Import-TvmWrappingKeyFromPem with the PEM files people actually have.
    BeforeAll {
        Import-TvmModule
        # The wrapping key of tests/vectors (RSA-2048), as a .NET key to write in every flavour and compare.
        $script:WrappingRsa = New-TestRsa
        $WrappingRsa.ImportFromPem([IO.File]::ReadAllText((Get-TestVector 'wrapping_private_pkcs8.pem')))

        # Import-TvmWrappingKeyFromPem w (with -WhatIf when asked) of the pair of tests/vectors into a new vault, in a
        # new pwsh whose TMPDIR is a new, empty folder; returns the run, with Vault and Tmp (that folder).
        function Invoke-ImportInNewPwsh([switch] $WhatIf) {
            $work = New-TestFolder work
            $keys = Copy-VectorKeyPair -Folder ([IO.Path]::Combine($work, 'pem'))
            $vault = [IO.Path]::Combine($work, 'vault')
            $tmp = New-TestFolder tmp
            $run = Invoke-InNewPwsh -Body ('Import-TvmWrappingKeyFromPem w $pub $priv 2048 -VaultPath $vault' + $(if ($WhatIf) { ' -WhatIf' })) `
                -Variables @{ pub = $keys.Public; priv = $keys.Private; vault = $vault } -Environment @{ TMPDIR = $tmp + [IO.Path]::DirectorySeparatorChar }
            $run | Add-Member -NotePropertyMembers ([ordered]@{ Vault = $vault; Tmp = $tmp }) -PassThru
        }
    }
    AfterAll { $WrappingRsa.Dispose() }

    It 'accepts PEM files written as <Flavor> (<Source>) and stores the same key' -ForEach $PemFlavors {
        $work = New-TestFolder work
        $pem = Write-KeyPair -Rsa $WrappingRsa -Folder ([IO.Path]::Combine($work, 'pem')) -Flavor $Flavor
        $vault = [IO.Path]::Combine($work, 'vault')
        $run = Invoke-Captured { Import-TvmWrappingKeyFromPem -KeyName w -PublicKeyPath $pem.Public -PrivateKeyPath $pem.Private -KeySize '2048' -VaultPath $vault }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmWrappingKey'
        $run.Output[0].Name | Should -Be 'w'
        $run.Output[0].Type | Should -Be 'RSA'
        [int]$run.Output[0].Size | Should -Be 2048
        $rsa = New-TestRsa
        try {
            $read = 0
            $rsa.ImportPkcs8PrivateKey([byte[]](Read-VaultKeyFile $vault w).Material, [ref]$read)
            [Convert]::ToHexString($rsa.ExportParameters($false).Modulus) | Should -Be ([Convert]::ToHexString($WrappingRsa.ExportParameters($false).Modulus))
        } finally {
            $rsa.Dispose()
        }
    }

    It 'of an RSA-3072 pair with -KeySize 3072 is stored as 3072' {
        $work = New-TestFolder work
        $pair = New-TestKeyPair -Folder ([IO.Path]::Combine($work, 'pem')) -Bits 3072
        $vault = [IO.Path]::Combine($work, 'vault')
        $run = Invoke-Captured { Import-TvmWrappingKeyFromPem w3 $pair.Public $pair.Private 3072 -VaultPath $vault }
        Assert-Clean $run
        @($run.Output).Count | Should -Be 1
        $run.OutputTypes[0] | Should -Be 'TvmBackupUtils.TvmWrappingKey'
        [int]$run.Output[0].Size | Should -Be 3072
        (Read-VaultKeyFile $vault w3).Size | Should -Be 3072
    }

    It 'makes its temporary import file in the temp folder (TMPDIR), removes it and leaves nothing there' {
        $run = Invoke-ImportInNewPwsh
        Assert-Clean $run
        $run.Host[0] | Should -Match 'at temporary location (.+)\.\.\.$' -Because (Format-Captured $run)
        $null = $run.Host[0] -match 'at temporary location (.+)\.\.\.$'
        $tempFile = $Matches[1]
        # In the module's owner-only folder of the temp folder, named for the process (a killed run's is swept later).
        $folder = [IO.Path]::GetDirectoryName([IO.Path]::GetFullPath($tempFile))
        [IO.Path]::GetDirectoryName($folder) | Should -Be ([IO.Path]::GetFullPath($run.Tmp).TrimEnd([IO.Path]::DirectorySeparatorChar))
        [IO.Path]::GetFileName($folder) | Should -BeLike 'tvmkeys-import-*'
        [IO.Path]::GetFileName($tempFile) | Should -Match '^import-\d+-.+\.json$'
        $tempFile | Should -Not -Exist
        @(Get-ChildItem -LiteralPath $run.Tmp -Recurse -Force -File) | Should -BeNullOrEmpty -Because 'only the empty folder stays'
        @(Get-ChildItem -LiteralPath $run.Tmp -Force | ForEach-Object Name) | Should -Be @([IO.Path]::GetFileName($folder))
    }

    It 'with -WhatIf writes no key and nothing in the temp folder' {
        $run = Invoke-ImportInNewPwsh -WhatIf
        Assert-Clean $run
        Get-VaultKeyFile $run.Vault w | Should -Not -Exist
        Get-Entries $run.Tmp | Should -BeNullOrEmpty
    }
}
