# A transcript (Start-Transcript) of a rehearsal-sized backup and restore on local vaults holds the original's host
# lines and no key material: not the wrapping private key (PEM, DER as base64, base64url or hex) and not the
# material of any vault key (docs/format.md section 6: the "material" of keys/<name>.json, base64url).
# New tests (no xunit class before them).
BeforeDiscovery {
    $script:Flow = @{
        VmKeys = @(1..5 | ForEach-Object { [guid]::NewGuid().ToString() })
        RootKey = 'AzureStackTvmAKRootKey'
        WrappingKey = 'TvmWrap'
    }
    $script:VaultKeys = @(
        foreach ($name in @($Flow.VmKeys) + $Flow.RootKey) {
            @{ Vault = 'A'; Name = $name }
            @{ Vault = 'B'; Name = $name }
        }
        @{ Vault = 'B'; Name = $Flow.WrappingKey }
    )
}

Describe 'A transcript of a backup and a restore on local vaults' -ForEach @($Flow) {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        Import-TvmModule

        # The forms a key's bytes could be printed in: base64 and base64url (without their '=' padding, so that
        # padded and unpadded text both match), hex in both cases, and hex with dashes (BitConverter).
        function Get-MaterialForm([byte[]] $Bytes) {
            $base64 = [Convert]::ToBase64String($Bytes)
            $hex = [Convert]::ToHexString($Bytes)
            [ordered]@{
                base64 = $base64.TrimEnd('=')
                base64url = $base64.TrimEnd('=').Replace('+', '-').Replace('/', '_')
                'hex (lower case)' = $hex.ToLowerInvariant()
                'hex (upper case)' = $hex
                'hex with dashes' = [BitConverter]::ToString($Bytes)
            }
        }

        # The names of the forms of -Bytes that occur in -Text (ordinal, case-sensitive).
        function Find-Material([string] $Text, [byte[]] $Bytes) {
            $forms = Get-MaterialForm $Bytes
            foreach ($name in $forms.Keys) {
                if ($Text.Contains($forms[$name], [StringComparison]::Ordinal)) { $name }
            }
        }

        $root = New-TestFolder transcript
        $vaultA = Join-Path $root 'vault-a'
        $vaultB = Join-Path $root 'vault-b'
        $backupRoot = Join-Path $root 'backups'
        $transcriptPath = Join-Path $root 'transcript.txt'
        # The wrapping key pair, made with .NET as the original's notes make it.
        $pair = New-TestKeyPair -Folder (Join-Path $root 'keys') -Bits 4096

        $started = Start-Transcript -Path $transcriptPath
        try {
            # Objects go to the host as an interactive run shows them, every property, so that a property with
            # key material in it would be in the transcript too.
            foreach ($name in $VmKeys) {
                New-TvmVaultKey -Name $name -Type AES -Size 256 -VaultPath $vaultA -Verbose | Format-List * | Out-Host
            }
            New-TvmVaultKey -Name $RootKey -Type RSA -Size 4096 -VaultPath $vaultA -Verbose | Format-List * | Out-Host
            Get-TvmVaultKey -VaultPath $vaultA -Verbose | Format-Table * -AutoSize | Out-Host
            $backup = Backup-TVMKeys -WrappingKeyPath $pair.Public -BackupRootPath $backupRoot -VaultPath $vaultA -Verbose
            $backup | Format-List * | Out-Host
            $backup.Keys | Format-List * | Out-Host
            Import-TvmWrappingKeyFromPem -KeyName $WrappingKey -PublicKeyPath $pair.Public -PrivateKeyPath $pair.Private -KeySize 4096 -VaultPath $vaultB -Verbose |
                Format-List * | Out-Host
            $restored = @($backup | Import-TVMKeys -WrappingKeyName $WrappingKey -VaultPath $vaultB -Verbose)
            $restored | Format-List * | Out-Host
            # Run again: every key exists now (warnings, Outcome Exists).
            $again = @(Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName $WrappingKey -VaultPath $vaultB -Verbose)
            $again | Format-Table * -AutoSize | Out-Host
            $keysB = @(Get-TvmVaultKey -VaultPath $vaultB -Verbose)
            $keysB | Format-List * | Out-Host
        } finally {
            Stop-Transcript | Out-Null
        }
        $text = [IO.File]::ReadAllText($transcriptPath)
        $lines = @($text -split '\r?\n')

        # The wrapping private key as it is in its PEM file, and its DER as PKCS#8 and as PKCS#1.
        $pem = [IO.File]::ReadAllText($pair.Private)
        $pemBody = @($pem -split '\r?\n' | Where-Object { $_ -and $_ -notlike '-----*' })
        $pkcs8 = [Convert]::FromBase64String($pemBody -join '')
        $pkcs1 = $pair.Rsa.ExportRSAPrivateKey()

        # The material of each key of both vaults, from keys/<name>.json.
        function Get-VaultMaterial([string] $Vault, [string] $Name) {
            (Read-VaultKeyFile $(if ($Vault -eq 'A') { $vaultA } else { $vaultB }) $Name).Material
        }
    }

    Context 'the flow' {
        It 'started a transcript, and backed up and restored every key' {
            $started | Should -Not -BeNullOrEmpty
            $text.Length | Should -BeGreaterThan 2000
            @($backup.Keys).Count | Should -Be ($VmKeys.Count + 1)
            @($restored | ForEach-Object Outcome | Select-Object -Unique) | Should -Be @('Imported')
            $restored.Count | Should -Be ($VmKeys.Count + 1)
            @($again | ForEach-Object Outcome | Select-Object -Unique) | Should -Be @('Exists')
            @($keysB | ForEach-Object Name | Sort-Object) | Should -Be @(@($VmKeys) + $RootKey + $WrappingKey | Sort-Object)
        }

        It 'reads the key material the checks look for: AES keys of 32 bytes, RSA keys and the wrapping key as PKCS#8' {
            foreach ($name in $VmKeys) { (Get-VaultMaterial A $name).Length | Should -Be 32 }
            # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
            $rsa = New-TestRsa
            $rsa.ImportPkcs8PrivateKey([byte[]](Get-VaultMaterial A $RootKey), [ref]$null)
            $rsa.KeySize | Should -Be 4096
            [Convert]::ToBase64String((Get-VaultMaterial B $WrappingKey)) | Should -Be ([Convert]::ToBase64String($pkcs8)) -Because 'vault B holds the wrapping private key'
            [Convert]::ToBase64String((Get-VaultMaterial B $RootKey)) | Should -Be ([Convert]::ToBase64String((Get-VaultMaterial A $RootKey)))
        }

        It 'would find key material in each form if it were there' {
            $material = Get-VaultMaterial A $VmKeys[0]
            $forms = Get-MaterialForm $material
            foreach ($name in $forms.Keys) {
                @(Find-Material "$text`n$($forms[$name])=`n" $material) | Should -Contain $name
            }
        }
    }

    Context 'the original''s host lines' {
        It 'holds "Backing up TVM Vault keys to" and the backup folder' {
            $lines | Should -Contain "Backing up TVM Vault keys to $($backup.Path)"
        }

        It 'holds "Backing up key ... to AES folder" for each VM key, and "... to RSA folder" for the root key' {
            foreach ($name in $VmKeys) { $lines | Should -Contain "Backing up key $name to AES folder" }
            $lines | Should -Contain "Backing up key $RootKey to RSA folder"
        }

        It 'holds the four lines of the wrapping key import' {
            $generating = @($lines | Where-Object { $_ -like "Generating import JSON for key $WrappingKey at temporary location *..." })
            $generating.Count | Should -Be 1
            $temporary = $generating[0] -replace "^Generating import JSON for key $WrappingKey at temporary location (.*)\.\.\.$", '$1'
            $lines | Should -Contain "Importing key $WrappingKey into the vault..."
            $lines | Should -Contain "Key $WrappingKey successfully imported into the vault."
            $lines | Should -Contain "Temporary file $temporary has been cleaned up."
            Test-Path -LiteralPath $temporary | Should -BeFalse
        }

        It 'holds "Importing TVM  keys from" the backup folder, and "Importing key ... with size ... from ... folder path = ..." for each key' {
            @($lines | Where-Object { $_ -ceq "Importing TVM  keys from $($backup.Path)" }).Count | Should -Be 2 -Because 'the restore ran twice'
            foreach ($name in $VmKeys) {
                $lines | Should -Contain "Importing key $name with size 256 from AES folder path = $(Join-Path $backup.Path "AES/${name}_256.json")"
            }
            $lines | Should -Contain "Importing key $RootKey with size 4096 from RSA folder path = $(Join-Path $backup.Path "RSA/${RootKey}_4096.json")"
        }

        It 'holds the warning of each key that exists already, from the second restore' {
            foreach ($name in @($VmKeys) + $RootKey) {
                $lines | Should -Contain "WARNING: Key $name already exists in the vault; it was left as it is and not imported."
            }
        }

        It 'holds the objects as they were shown, with their fingerprints' {
            foreach ($key in $keysB) {
                $text | Should -BeLike "*$($key.Fingerprint)*"
            }
        }
    }

    Context 'the wrapping private key' {
        It 'is not in the transcript as its PEM text, nor any line of it' {
            $text.Contains($pem.Trim().Replace("`r`n", "`n"), [StringComparison]::Ordinal) | Should -BeFalse
            $text.Contains($pem.Trim().Replace("`n", "`r`n"), [StringComparison]::Ordinal) | Should -BeFalse
            $pemBody.Count | Should -BeGreaterThan 20
            foreach ($line in $pemBody | Where-Object Length -GE 20) {
                $text.Contains($line, [StringComparison]::Ordinal) | Should -BeFalse -Because "'$line' is a line of the private key PEM"
            }
        }

        It 'is not in the transcript as its <_> DER in base64, base64url or hex' -ForEach @('PKCS#8', 'PKCS#1') {
            $der = if ($_ -eq 'PKCS#8') { $pkcs8 } else { $pkcs1 }
            @(Find-Material $text $der) | Should -BeNullOrEmpty
        }
    }

    Context 'the vault keys' {
        It 'vault <Vault> key <Name>: its material is not in the transcript in base64, base64url or hex' -ForEach $VaultKeys {
            $material = Get-VaultMaterial $Vault $Name
            $material.Length | Should -BeGreaterThan 0
            @(Find-Material $text $material) | Should -BeNullOrEmpty
        }
    }
}
