# One full rehearsal on the local vault, run once for the Describe: vault A seeded with 5 AES-256 keys (GUID
# names and vm_key_1), an RSA-2048 key and the RSA-4096 AzureStackTvmAKRootKey; Backup-TVMKeys by name; the
# wrapping key pair imported into an empty vault B by position; Import-TVMKeys by position. The tests then
# read what each step returned and wrote.
# Moved from the xunit classes RehearsalTests and RehearsalFixture (with Infrastructure/Rehearsal.cs).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # The TvmBackup the backup step returned; fails when the step had an error or returned no single TvmBackup.
    function Get-RequiredBackup {
        $null = Assert-Clean $BackupRun
        if ($null -eq $Backup) { throw "Backup-TVMKeys did not return one TvmBackup.`n$(Format-Captured $BackupRun)" }
        $Backup
    }

    function Assert-Lists {
        if ($ListFailure) { throw "Get-TvmVaultKey failed: $ListFailure" }
    }

    function Get-KeyRow { process { "$($_.Name)|$($_.Type)|$($_.Size)" } }

    function Get-EntryNames([string] $Folder) { @([IO.Directory]::GetFileSystemEntries($Folder) | ForEach-Object { [IO.Path]::GetFileName($_) }) }

    function Get-Hex([byte[]] $Data) { [Convert]::ToHexString($Data) }

    $AesNames = @(
        '0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01'
        '3b9d1e44-2a6f-4c8b-8e7d-1f2a3b4c5d6e'
        'a4e2f6c1-9b3d-4e5f-a7b8-c9d0e1f2a3b4'
        'D7C1B2A3-4E5F-4A6B-8C7D-9E0F1A2B3C4D'
        'vm_key_1'
    )
    $RootKey = 'AzureStackTvmAKRootKey'
    $Rsa2048Name = 'rsa_2048_key'
    $WrappingKeyName = 'TvmWrappingKey'
    $Seeded = @($AesNames | ForEach-Object { [pscustomobject]@{ Name = $_; Type = 'AES'; Size = 256 } }) + @(
        [pscustomobject]@{ Name = $RootKey; Type = 'RSA'; Size = 4096 }
        [pscustomobject]@{ Name = $Rsa2048Name; Type = 'RSA'; Size = 2048 }
    )
    function Get-AesFile([string] $Name) { [IO.Path]::Combine((Get-RequiredBackup).Path, 'AES', "${Name}_256.json") }
}

Describe 'The rehearsal: seed vault A, back it up, import the wrapping key into vault B, restore into B' {
    BeforeAll {
        # The xunit session ran with TVM_VAULT_PATH cleared; every step here names its vault.
        Clear-TvmVaultPath
        Import-TvmModule

        $work = New-TestFolder rehearsal
        $VaultA = [IO.Path]::Combine($work, 'vaultA')
        $VaultB = [IO.Path]::Combine($work, 'vaultB')
        $Root = [IO.Path]::Combine($work, 'backups')
        $Wrapping = New-TestKeyPair -Folder ([IO.Path]::Combine($work, 'keys'))
        $pub = $Wrapping.Public
        $priv = $Wrapping.Private
        $wname = $WrappingKeyName

        $SeedRun = Invoke-Captured { foreach ($k in $Seeded) { New-TvmVaultKey -Name $k.Name -Type $k.Type -Size $k.Size -VaultPath $VaultA } }
        $BackupStarted = [DateTime]::Now
        $BackupRun = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $Root -VaultPath $VaultA }
        $BackupEnded = [DateTime]::Now
        $Backup = $null
        if (-not $BackupRun.Terminating -and $BackupRun.Output.Count -eq 1 -and $BackupRun.Output[0].GetType().FullName -eq 'TvmBackupUtils.TvmBackup') {
            $Backup = $BackupRun.Output[0]
        }
        $backupPath = if ($Backup) { $Backup.Path } else { $null }
        $WrapRun = Invoke-Captured { Import-TvmWrappingKeyFromPem $wname $pub $priv '2048' -VaultPath $VaultB }
        $RestoreRun = Invoke-Captured { Import-TVMKeys $backupPath $wname -VaultPath $VaultB }
        # The folder name of the pre-restore backup, from the restore's host line.
        function Get-PreRestoreName {
            $line = @($RestoreRun.Host | Where-Object { $_ -like 'The target vault was backed up to *' })[0]
            if ($line -match '[\\/](\d{14}) before the restore') { $Matches[1] } else { '<no pre-restore backup>' }
        }
        $ListA = @()
        $ListB = @()
        $ListFailure = $null
        try {
            foreach ($vault in $VaultA, $VaultB) {
                $run = Invoke-Captured { Get-TvmVaultKey -VaultPath $vault }
                $null = Assert-Clean $run
                if ($vault -eq $VaultA) { $ListA = @(Get-OfType $run.Output) } else { $ListB = @(Get-OfType $run.Output) }
            }
        } catch {
            $ListFailure = $_
        }
    }

    AfterAll {
        Restore-TvmVaultPath
        if ($Wrapping) { $Wrapping.Rsa.Dispose() }
    }

    Context 'Seeding (the local vault, New-TvmVaultKey and Get-TvmVaultKey)' {
        It 'New-TvmVaultKey returns one TvmKey per key, with its name, type and size' {
            Assert-Clean $SeedRun
            $keys = @(Get-OfType $SeedRun.Output)
            @($keys | Get-KeyRow) | Should -Be @($Seeded | Get-KeyRow)
        }

        It 'Get-TvmVaultKey lists every key, with distinct hex fingerprints' {
            Assert-Lists
            ($ListA | Get-KeyRow | Get-OrdinalSorted) | Should -Be ($Seeded | Get-KeyRow | Get-OrdinalSorted)
            foreach ($k in $ListA) { "$($k.Fingerprint)" | Should -MatchExactly '^[0-9a-fA-F]{16,}$' -Because "the fingerprint of $($k.Name)" }
            @($ListA | ForEach-Object { $_.Fingerprint.ToLowerInvariant() } | Select-Object -Unique).Count | Should -Be $ListA.Count
        }
    }

    Context 'Backup-TVMKeys' {
        It 'by name writes the original''s host messages word for word, and names its source vault' {
            $b = Get-RequiredBackup
            $hostLines = $BackupRun.Host
            $hostLines.Count | Should -BeGreaterThan 0 -Because (Format-Captured $BackupRun)
            $hostLines[0] | Should -BeExactly "Backing up TVM Vault keys to $($b.Path)"
            # After the original's first line, ours names the vault it read.
            $hostLines[1] | Should -BeExactly "Source vault: the local vault $VaultA"
            $expectedPerKey = $Seeded | ForEach-Object { "Backing up key $($_.Name) to $($_.Type) folder" } | Get-OrdinalSorted
            ($hostLines | Select-Object -Skip 2 | Get-OrdinalSorted) | Should -BeExactly $expectedPerKey
        }

        It 'returns a TvmBackup with the full path of its folder and the timestamp the folder is named for' {
            $b = Get-RequiredBackup
            [IO.Path]::IsPathFullyQualified($b.Path) | Should -BeTrue -Because $b.Path
            [IO.Path]::GetDirectoryName($b.Path) | Should -BeExactly ([IO.Path]::GetFullPath($Root))
            $folder = [IO.Path]::GetFileName($b.Path)
            $folder | Should -MatchExactly '^[0-9]{14}$'
            $b.Timestamp | Should -BeOfType [DateTime]
            $b.Timestamp.ToString('yyyyMMddHHmmss', [Globalization.CultureInfo]::InvariantCulture) | Should -BeExactly $folder
            # local time of the run, like Get-Date -Format yyyyMMddHHmmss
            $b.Timestamp | Should -BeGreaterOrEqual $BackupStarted.AddSeconds(-1)
            $b.Timestamp | Should -BeLessOrEqual $BackupEnded.AddSeconds(1)
        }

        It 'returns in its Keys the keys of the vault' {
            $b = Get-RequiredBackup
            Assert-Lists
            $keys = @($b.Keys | ForEach-Object {
                    $_.GetType().FullName | Should -Be 'TvmBackupUtils.TvmKey'
                    $_
                })
            ($keys | Get-KeyRow | Get-OrdinalSorted) | Should -Be ($ListA | Get-KeyRow | Get-OrdinalSorted)
        }

        It 'lays out a timestamp folder with AES and RSA folders holding one NAME_SIZE.json file per key' {
            $b = Get-RequiredBackup
            (Get-EntryNames $b.Path | Where-Object { $_ -ne 'manifest.json' } | Get-OrdinalSorted) | Should -BeExactly @('AES', 'RSA')
            (Get-EntryNames ([IO.Path]::Combine($b.Path, 'AES')) | Get-OrdinalSorted) |
                Should -BeExactly ($Seeded | Where-Object Type -EQ 'AES' | ForEach-Object { "$($_.Name)_$($_.Size).json" } | Get-OrdinalSorted)
            (Get-EntryNames ([IO.Path]::Combine($b.Path, 'RSA')) | Get-OrdinalSorted) |
                Should -BeExactly (@("${RootKey}_4096.json", "${Rsa2048Name}_2048.json") | Get-OrdinalSorted)
        }

        It 'leaves no partial folder in the backup root' {
            $b = Get-RequiredBackup
            $entries = Get-EntryNames $Root | Get-OrdinalSorted
            # The backup, and the pre-restore backup Import-TVMKeys took of vault B before it wrote (see below).
            $entries | Should -BeExactly (@([IO.Path]::GetFileName($b.Path), (Get-PreRestoreName)) | Get-OrdinalSorted)
            @($entries | Where-Object { $_ -like '*partial*' -or $_.StartsWith('.') }) | Should -BeNullOrEmpty
        }

        It 'writes key files of compact JSON without a BOM, members in the Moc key order' {
            $b = Get-RequiredBackup
            $files = @([IO.Directory]::GetFiles([IO.Path]::Combine($b.Path, 'AES'))) + @([IO.Directory]::GetFiles([IO.Path]::Combine($b.Path, 'RSA')))
            $files.Count | Should -Be $Seeded.Count
            foreach ($file in $files) {
                $bytes = [IO.File]::ReadAllBytes($file)
                ($bytes.Length -gt 3 -and $bytes[0] -eq [byte][char]'{') | Should -BeTrue -Because "$file must start with '{' (no BOM)"
                $text = [Text.Encoding]::ASCII.GetString($bytes).TrimEnd("`n")
                $text | Should -Not -Match '\s' -Because "$file is compact"
                $doc = [System.Text.Json.JsonDocument]::Parse([Text.Encoding]::UTF8.GetString($bytes))
                try {
                    $rootElement = $doc.RootElement
                    @($rootElement.EnumerateObject() | ForEach-Object Name) | Should -BeExactly @('public-key', 'private-key', 'private-key-wrapping-info')
                    $info = $rootElement.GetProperty('private-key-wrapping-info')
                    @($info.EnumerateObject() | ForEach-Object Name) | Should -BeExactly @('key-name', 'public-key', 'enc')
                    $info.GetProperty('enc').GetString() | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP'
                } finally {
                    $doc.Dispose()
                }
            }
        }

        It 'writes key files whose keys are padded base64url' {
            $b = Get-RequiredBackup
            # The key files of AES/ and RSA/ (manifest.json beside them is not a key file).
            $keyFiles = foreach ($folder in 'AES', 'RSA') { [IO.Directory]::GetFiles([IO.Path]::Combine($b.Path, $folder), '*.json') }
            @($keyFiles).Count | Should -BeGreaterThan 0
            foreach ($file in $keyFiles) {
                $json = [IO.File]::ReadAllText($file) | ConvertFrom-Json
                foreach ($v in $json.'public-key', $json.'private-key', $json.'private-key-wrapping-info'.'public-key') {
                    Test-PaddedBase64Url $v | Should -BeTrue -Because "$([IO.Path]::GetFileName($file)): not padded base64url: $($v.Substring(0, [Math]::Min(40, $v.Length)))..."
                }
            }
        }

        It 'writes an AES key file with an empty public key and the wrapping public key''s DER' {
            $json = [IO.File]::ReadAllText((Get-AesFile $AesNames[0])) | ConvertFrom-Json
            $json.'public-key' | Should -BeExactly ''
            $info = $json.'private-key-wrapping-info'
            $info.'key-name' | Should -BeExactly ''
            $info.'public-key' | Should -BeExactly (ConvertTo-Base64Url $Wrapping.Rsa.ExportRSAPublicKey())
        }

        It 'writes an AES blob of 296 bytes (396 characters) with an RSA-2048 wrapping key' {
            $json = [IO.File]::ReadAllText((Get-AesFile $AesNames[1])) | ConvertFrom-Json
            $blob = $json.'private-key'
            $blob.Length | Should -Be 396
            ([byte[]](ConvertFrom-Base64Url $blob)).Length | Should -Be 296
        }

        It 'writes an AES key file that unwraps with .NET to the vault''s key material (<Name>)' -ForEach @(
            @{ Index = 0; Name = '0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01' }
            @{ Index = 3; Name = 'D7C1B2A3-4E5F-4A6B-8C7D-9E0F1A2B3C4D' }
            @{ Index = 4; Name = 'vm_key_1' }
        ) {
            $AesNames[$Index] | Should -BeExactly $Name
            $json = [IO.File]::ReadAllText((Get-AesFile $Name)) | ConvertFrom-Json
            $target = Unprotect-KeyBlob $json.'private-key' $Wrapping.Rsa
            $vault = Read-VaultKeyFile $VaultA $Name
            $vault.Material.Length | Should -Be 32
            Get-Hex $target | Should -BeExactly (Get-Hex $vault.Material)
        }

        It 'writes an RSA-4096 key file that unwraps to the vault''s PKCS#8 and carries its PKCS#1 public key' {
            $b = Get-RequiredBackup
            $file = [IO.Path]::Combine($b.Path, 'RSA', "${RootKey}_4096.json")
            $json = [IO.File]::ReadAllText($file) | ConvertFrom-Json
            $target = Unprotect-KeyBlob $json.'private-key' $Wrapping.Rsa
            $vault = Read-VaultKeyFile $VaultA $RootKey
            Get-Hex $target | Should -BeExactly (Get-Hex $vault.Material)

            # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
            $rsa = New-TestRsa
            try {
                $read = 0
                $rsa.ImportPkcs8PrivateKey($target, [ref]$read)
                $rsa.KeySize | Should -Be 4096
                $json.'public-key' | Should -BeExactly (ConvertTo-Base64Url $rsa.ExportRSAPublicKey())
            } finally {
                $rsa.Dispose()
            }
        }
    }

    Context 'Import-TvmWrappingKeyFromPem' {
        It 'by position writes the original''s four messages and removes the temporary file' {
            Assert-Clean $WrapRun
            $hostLines = $WrapRun.Host
            $hostLines.Count | Should -Be 4
            $w = $WrappingKeyName
            $hostLines[0] | Should -MatchExactly "^Generating import JSON for key $w at temporary location (.+)\.\.\.$"
            $null = $hostLines[0] -cmatch "^Generating import JSON for key $w at temporary location (.+)\.\.\.$"
            $tmp = $Matches[1]
            $hostLines[1] | Should -BeExactly "Importing key $w into the vault..."
            $hostLines[2] | Should -BeExactly "Key $w successfully imported into the vault."
            $hostLines[3] | Should -BeExactly "Temporary file $tmp has been cleaned up."
            Test-Path -LiteralPath $tmp | Should -BeFalse -Because "the temporary file $tmp must be gone"
        }

        It 'returns the RSA key and stores the private key in the vault' {
            Assert-Clean $WrapRun
            $keys = @(Get-OfType $WrapRun.Output TvmWrappingKey)
            $keys.Count | Should -Be 1
            $keys | Get-KeyRow | Should -BeExactly "$WrappingKeyName|RSA|2048"
            $stored = Read-VaultKeyFile $VaultB $WrappingKeyName
            $rsa = New-TestRsa
            try {
                $read = 0
                $rsa.ImportPkcs8PrivateKey($stored.Material, [ref]$read)
                $expected = $Wrapping.Rsa.ExportParameters($true)
                $actual = $rsa.ExportParameters($true)
                Get-Hex $actual.Modulus | Should -BeExactly (Get-Hex $expected.Modulus)
                Get-Hex $actual.D | Should -BeExactly (Get-Hex $expected.D)
            } finally {
                $rsa.Dispose()
            }
        }
    }

    Context 'Import-TVMKeys' {
        It 'by position writes the original''s host messages word for word, AES first, files in ordinal order' {
            $b = Get-RequiredBackup
            Assert-Clean $RestoreRun
            $expected = @("Importing TVM  keys from $($b.Path)")
            # Not in the original: the backup of the target vault before the first write.
            $expected += "The target vault was backed up to $([IO.Path]::Combine($Root, (Get-PreRestoreName))) before the restore (a pre-restore backup)."
            foreach ($type in 'AES', 'RSA') {
                $keys = @($Seeded | Where-Object Type -EQ $type)
                $files = $keys | ForEach-Object { "$($_.Name)_$($_.Size).json" } | Get-OrdinalSorted
                foreach ($f in $files) {
                    $k = $keys | Where-Object { "$($_.Name)_$($_.Size).json" -ceq $f }
                    $expected += "Importing key $($k.Name) with size $($k.Size) from $type folder path = $([IO.Path]::Combine($b.Path, $type, $f))"
                }
            }
            # Not in the original either: the summary line.
            $expected += "Restore of $($b.Path): $($Seeded.Count) imported, 0 replaced, 0 already there, 0 in conflict, 0 skipped, 0 failed."
            $RestoreRun.Host | Should -BeExactly $expected
        }

        It 'backs up vault B first, labelled as a pre-restore backup that Get-TVMKeyBackup -Latest passes over' {
            $b = Get-RequiredBackup
            $pre = Get-TVMKeyBackup -BackupRootPath $Root | Where-Object { (Split-Path $_.Path -Leaf) -eq (Get-PreRestoreName) }
            $pre.Status | Should -Be 'Complete'
            $pre.Purpose | Should -Be 'preRestore'
            $pre.KeyCount | Should -Be 0 -Because 'vault B held only the wrapping key, which a pre-restore backup leaves out'
            $pre.Label | Should -BeExactly "pre-restore backup of the target vault before restoring $(Split-Path $b.Path -Leaf)"
            (Get-TVMKeyBackup -BackupRootPath $Root -Latest).Path | Should -Be $b.Path
        }

        It 'returns one Imported result per key file' {
            $b = Get-RequiredBackup
            Assert-Clean $RestoreRun
            $results = @(Get-OfType $RestoreRun.Output TvmKeyRestore)
            ($results | ForEach-Object { "$($_.Name)|$($_.Type)|$($_.Size)|$($_.Outcome)" } | Get-OrdinalSorted) |
                Should -BeExactly ($Seeded | ForEach-Object { "$($_.Name)|$($_.Type)|$($_.Size)|Imported" } | Get-OrdinalSorted)
            foreach ($r in $results) { "$($r.File)" | Should -BeExactly ([IO.Path]::Combine($b.Path, $r.Type, "$($r.Name)_$($r.Size).json")) }
            $RestoreRun.Warnings | Should -BeNullOrEmpty
        }

        It 'puts every key of vault A into vault B with the same type, size and fingerprint' {
            Assert-Clean $RestoreRun
            Assert-Lists
            $ListA.Count | Should -Be $Seeded.Count
            foreach ($a in $ListA) {
                $inB = @($ListB | Where-Object Name -CEQ $a.Name)
                $inB.Count | Should -Be 1 -Because "key $($a.Name) of vault A must be in vault B once; B has: $(($ListB | ForEach-Object Name) -join ', ')"
                "$($inB[0].Type)|$($inB[0].Size)|$($inB[0].Fingerprint)" | Should -BeExactly "$($a.Type)|$($a.Size)|$($a.Fingerprint)"
            }
            # B holds A's keys and the wrapping key, nothing else
            ($ListB | ForEach-Object Name | Get-OrdinalSorted) | Should -BeExactly (@($ListA | ForEach-Object Name) + $WrappingKeyName | Get-OrdinalSorted)
        }

        It 'restores key material into vault B byte for byte as in vault A' {
            Assert-Clean $RestoreRun
            foreach ($k in $Seeded) {
                $a = Read-VaultKeyFile $VaultA $k.Name
                $b = Read-VaultKeyFile $VaultB $k.Name
                "$($b.Name)|$($b.Type)|$($b.Size)" | Should -BeExactly "$($a.Name)|$($a.Type)|$($a.Size)"
                [System.Linq.Enumerable]::SequenceEqual($a.Material, $b.Material) | Should -BeTrue -Because "the material of $($k.Name) must not differ"
            }
        }

        It 'keeps the full name of a key whose name has underscores' {
            Assert-Clean $RestoreRun
            Assert-Lists
            @($ListB | Where-Object { $_.Name -ceq 'vm_key_1' -and $_.Type -eq 'AES' -and $_.Size -eq 256 }).Count | Should -BeGreaterThan 0
            @($ListB | Where-Object { $_.Name -ceq $Rsa2048Name -and $_.Type -eq 'RSA' -and $_.Size -eq 2048 }).Count | Should -BeGreaterThan 0
            # the original's first-'_' split would have made "vm" (size "key_1_256") and "rsa"
            @($ListB | Where-Object { $_.Name -cin 'vm', 'vm_key', 'rsa', 'rsa_2048' }) | Should -BeNullOrEmpty
            Test-Path -LiteralPath (Get-VaultKeyFile $VaultB 'vm_key_1') -PathType Leaf | Should -BeTrue
        }

        It 'leaves the restored and imported key files readable and writable by the owner only' -Skip:$IsWindows {
            Assert-Clean $RestoreRun
            $files = [IO.Directory]::GetFiles([IO.Path]::Combine($VaultB, 'keys'))
            $files.Count | Should -Be ($Seeded.Count + 1)
            foreach ($file in $files) {
                $mode = [IO.File]::GetUnixFileMode($file)
                $mode | Should -Be ([IO.UnixFileMode]::UserRead -bor [IO.UnixFileMode]::UserWrite) -Because "$([IO.Path]::GetFileName($file)) has mode $mode"
            }
        }
    }
}
