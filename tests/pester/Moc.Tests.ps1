# The MOC vault: no -VaultPath and no TVM_VAULT_PATH, so every command talks to the Moc cmdlets, here those of
# the stand-in (tests/MocStandIn, NOT Microsoft's Moc module). Its state (configuration and call record) is
# process-wide: each test starts with Set-StandInCluster on a fresh StateRoot (one folder = one cluster), which
# also clears the call record.
# Moved from the xunit classes MocRunbookTests, MocCallTests and MocVersionGateTests
# (tests/TvmBackupUtils.Tests/MocAdapterTests.cs); its MocFailureTests and MocParameterTests are in
# MocFailure.Tests.ps1.
BeforeDiscovery {
    $unable = 'Unable to determine Moc installation versions.'
    $oldModule = 'Incompatible moc powershell version: 1.2.26 found. Version 1.2.27 is needed. Please update your cluster.'
    $oldStack = 'Incompatible moc stack version: 1.14.1.10413 found. 1.14.1.10414 is needed. Please update your cluster.'
    # Script, the stand-in's settings (and how the xunit theory wrote them), the gate's message and the engine's code for it.
    $script:Gates = @(
        @{ Script = 'Backup-TVMKeys $pub $root'; SettingsText = '-ModuleVersion 1.2.26'; Settings = @{ ModuleVersion = '1.2.26' }; Message = $oldModule; Id = 'MocModuleVersionTooOld' }
        @{ Script = 'Import-TVMKeys $backup w'; SettingsText = '-ModuleVersion 1.2.26'; Settings = @{ ModuleVersion = '1.2.26' }; Message = $oldModule; Id = 'MocModuleVersionTooOld' }
        @{ Script = 'Import-TvmWrappingKeyFromPem w $pub $priv 2048'; SettingsText = '-ModuleVersion 1.2.26'; Settings = @{ ModuleVersion = '1.2.26' }; Message = $oldModule; Id = 'MocModuleVersionTooOld' }
        @{ Script = 'Get-TvmVaultKey'; SettingsText = '-ModuleVersion 1.2.26'; Settings = @{ ModuleVersion = '1.2.26' }; Message = $oldModule; Id = 'MocModuleVersionTooOld' }
        @{ Script = 'New-TvmVaultKey -Name k -Type AES -Size 256'; SettingsText = '-ModuleVersion 1.2.26'; Settings = @{ ModuleVersion = '1.2.26' }; Message = $oldModule; Id = 'MocModuleVersionTooOld' }
        @{ Script = 'Import-TvmWrappingKeyFromPem w $pub $priv 2048'; SettingsText = '-Version 1.14.1.10413'; Settings = @{ Version = '1.14.1.10413' }; Message = $oldStack; Id = 'MocStackVersionTooOld' }
        @{ Script = 'Backup-TVMKeys $pub $root'; SettingsText = '-ModuleVersion unknown'; Settings = @{ ModuleVersion = 'unknown' }; Message = $unable; Id = 'MocVersionUnknown' }
        @{ Script = 'Backup-TVMKeys $pub $root'; SettingsText = '-ModuleVersion $null'; Settings = @{ ModuleVersion = $null }; Message = $unable; Id = 'MocVersionUnknown' }
        @{ Script = 'Import-TVMKeys $backup w'; SettingsText = "-ModuleVersion ''"; Settings = @{ ModuleVersion = '' }; Message = $unable; Id = 'MocVersionUnknown' }
        @{ Script = 'Import-TvmWrappingKeyFromPem w $pub $priv 2048'; SettingsText = '-Version unknown'; Settings = @{ Version = 'unknown' }; Message = $unable; Id = 'MocVersionUnknown' }
        @{ Script = 'Import-TvmWrappingKeyFromPem w $pub $priv 2048'; SettingsText = '-Version $null'; Settings = @{ Version = $null }; Message = $unable; Id = 'MocVersionUnknown' }
    )
    $script:LocalVaultCommands = @(
        'Backup-TVMKeys $pub $root -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1'
        'Import-TvmWrappingKeyFromPem w $pub $priv 2048 -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1'
        'Get-TvmVaultKey -VaultPath $vault -Group g -KeyVaultName v -TimeoutSec 1'
        '$env:TVM_VAULT_PATH = $vault; try { Backup-TVMKeys $pub $root; Import-TvmWrappingKeyFromPem w $pub $priv 2048 } finally { $env:TVM_VAULT_PATH = $null }'
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Import-MocStandIn

    $script:Group = 'AzureStackHostAttestation'
    $script:Vault = 'AzureStackTvmKeyVault'
    $script:RootKey = 'AzureStackTvmAKRootKey'

    # StandIn.Keys: the keys of the current cluster's vault, in its order (Name, Type, Size).
    function Get-StandInKey([string] $KeyGroup = $Group, [string] $KeyVault = $Vault) {
        Get-MocKey -group $KeyGroup -keyvaultName $KeyVault -ErrorAction Stop | ForEach-Object {
            [pscustomobject]@{ Name = [string]$_.name; Type = [string]$_.properties.kty; Size = [int]$_.properties.key_size }
        }
    }

    function Format-Key($Key) { "$($Key.Name) $($Key.Type) $($Key.Size)" }

    # A recorded call as MocCallTests.AssertCalls showed it, or an expected call (-Parameters an [ordered] table,
    # in the original's order): parameter names lower-cased, values quoted.
    function Format-MocCall([string] $Command, [System.Collections.IDictionary] $Parameters = [ordered]@{}) {
        $Command + (-join @(foreach ($p in $Parameters.GetEnumerator()) { " -$(([string]$p.Key).ToLowerInvariant()) '$($p.Value)'" }))
    }

    # Same commands in the same order, each with the same parameters in the same order and the same values.
    function Assert-Calls([string[]] $Expected, $Actual) {
        $shown = @($Actual | ForEach-Object { Format-MocCall $_.Command $_.Parameters })
        ($shown -join "`n") | Should -Be ($Expected -join "`n")
    }

    # StandIn.Material: the key material of every key of the current cluster, read independently of the module:
    # Export-MocKey with -Check's public key, then unwrapped here (Unprotect-KeyBlob).
    function Get-StandInMaterial($Check, [string] $Dir) {
        $null = New-Item -ItemType Directory -Path $Dir -Force
        $pem = Join-Path $Dir 'check-public.pem'
        [IO.File]::WriteAllText($pem, $Check.Rsa.ExportRSAPublicKeyPem())
        $result = [System.Collections.Generic.Dictionary[string, byte[]]]::new([System.StringComparer]::Ordinal)
        foreach ($key in (Get-StandInKey)) {
            $file = Join-Path $Dir "check-$([guid]::NewGuid().ToString('N')).json"
            Export-MocKey -name $key.Name -wrappingPubKeyFile $pem -outFile $file -group $Group -keyvaultName $Vault -size $key.Size -ErrorAction Stop
            $result[$key.Name] = Unprotect-KeyBlob ([IO.File]::ReadAllText($file) | ConvertFrom-Json).'private-key' $Check.Rsa
            Remove-Item -LiteralPath $file
        }
        , $result
    }
}

Describe 'The original''s documented runbooks, unchanged, against stand-in clusters A and B' {
    # From MocRunbookTests.
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath; Remove-MocOverride }

    It 'with no vault path back up cluster A and restore it into cluster B, every key equal' {
        $env:TVM_VAULT_PATH | Should -BeNullOrEmpty
        $work = New-TestFolder 'runbook'
        $wrapping = New-TestKeyPair -Folder (Join-Path $work 'keys')
        $pub = $wrapping.Public
        $priv = $wrapping.Private
        $root = Join-Path $work 'TvmBackups'
        $moduleDir = Get-TvmModulePath
        $backupRunbook = Get-RepoPath 'tests/rehearsal/Backup-Runbook.ps1'
        $restoreRunbook = Get-RepoPath 'tests/rehearsal/Restore-Runbook.ps1'

        # Cluster A: 20 GSP keys (AES-256, GUID names) and the attestation root key (RSA-4096).
        Set-StandInCluster -StateRoot (Join-Path $work 'clusterA')
        $aes = @(1..20 | ForEach-Object { [guid]::NewGuid().ToString() })
        Add-StandInKey (@($aes | ForEach-Object { @{ Name = $_; Type = 'AES'; Size = 256 } }) + @{ Name = $RootKey; Type = 'RSA'; Size = 4096 })
        Clear-MocStandInCall

        $backupRun = Assert-Clean (Invoke-Captured {
                Push-Location $moduleDir
                try { & $backupRunbook -PublicPem $pub -BackupRoot $root } finally { Pop-Location }
            })
        $backup = Get-SingleBackup $backupRun.Output
        @($backup.Keys).Count | Should -Be 21
        $backupRun.Host[0] | Should -BeExactly "Backing up TVM Vault keys to $($backup.Path)"
        [IO.Directory]::GetFiles((Join-Path $backup.Path 'AES')).Count | Should -Be 20
        @([IO.Directory]::GetFiles((Join-Path $backup.Path 'RSA')) | ForEach-Object { [IO.Path]::GetFileName($_) }) | Should -BeExactly @("${RootKey}_4096.json")
        @([IO.Directory]::GetFileSystemEntries($root) | ForEach-Object { [IO.Path]::GetFileName($_) }) | Should -BeExactly @([IO.Path]::GetFileName($backup.Path))

        # Cluster B, empty: the wrapping key pair, then the keys.
        Set-StandInCluster -StateRoot (Join-Path $work 'clusterB')
        $backupFolder = $backup.Path
        $restoreRun = Assert-Clean (Invoke-Captured {
                Push-Location $moduleDir
                try { & $restoreRunbook -WrappingKeyName TvmWrap -PublicPem $pub -PrivatePem $priv -BackupFolder $backupFolder } finally { Pop-Location }
            })
        $restored = @($restoreRun.Output | Where-Object { $_.GetType().FullName -eq 'TvmBackupUtils.TvmKeyRestore' })
        $restored.Count | Should -Be 21
        foreach ($k in $restored) { "$($k.Outcome)" | Should -Be 'Imported' -Because "key $($k.Name)" }
        $restoreRun.Host | Should -Contain 'Key TvmWrap successfully imported into the vault.'
        $restoreRun.Host | Should -Contain "Importing TVM  keys from $($backup.Path)"

        # Every key of A is in B with the same material, read independently: Export-MocKey with a check key
        # pair, unwrapped here.
        $check = New-TestKeyPair -Folder (Join-Path $work 'check')
        Set-StandInCluster -StateRoot (Join-Path $work 'clusterA')
        $inA = Get-StandInMaterial $check (Join-Path $work 'checkA')
        Set-StandInCluster -StateRoot (Join-Path $work 'clusterB')
        $inB = Get-StandInMaterial $check (Join-Path $work 'checkB')
        $inA.Count | Should -Be 21
        ((Get-OrdinalSorted (@($inA.Keys) + 'TvmWrap')) -join "`n") | Should -BeExactly ((Get-OrdinalSorted @($inB.Keys)) -join "`n")
        foreach ($name in $inA.Keys) {
            [Convert]::ToHexString($inA[$name]) | Should -BeExactly ([Convert]::ToHexString($inB[$name])) -Because "key $name must not differ between cluster A and cluster B"
            if ($name -ne $RootKey) { $inA[$name].Length | Should -Be 32 }
        }
        # The wrapping key in B is the PEM pair's private key.
        [Convert]::ToHexString($inB['TvmWrap']) | Should -BeExactly ([Convert]::ToHexString($wrapping.Rsa.ExportPkcs8PrivateKey()))
    }
}

Describe 'The Moc cmdlet calls, checked against the original''s (docs/format.md section 9) through the stand-in''s record' {
    # From MocCallTests. The calls must be exactly the expected ones: same commands in the same order, each with
    # the same parameters in the same order and with the same values; parameter names compare case-insensitively,
    # as PowerShell binds them (calls made through the API are recorded under the cmdlet's declared spelling: the
    # original's -Type is the stand-in's -type).
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath; Remove-MocOverride }

    BeforeAll {
        $script:Keys = @(
            [pscustomobject]@{ Name = '0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01'; Type = 'AES'; Size = 256 }
            [pscustomobject]@{ Name = 'vm_key_1'; Type = 'AES'; Size = 256 }
            [pscustomobject]@{ Name = 'rsa_key'; Type = 'RSA'; Size = 2048 }
        )

        # Seeds stand-in cluster A with $Keys, backs it up (no vault path: the MOC adapter), switches to cluster B,
        # imports the wrapping key there as TvmWrap and clears the call record; returns the backup's path.
        function Backup-ClusterAThenPrepareB([string] $Work, $KeyPair) {
            Set-StandInCluster -StateRoot (Join-Path $Work 'clusterA')
            Add-StandInKey $Keys
            $pub = $KeyPair.Public
            $priv = $KeyPair.Private
            $root = Join-Path $Work 'backups'
            $backup = Get-SingleBackup (Assert-Clean (Invoke-Captured { Backup-TVMKeys $pub $root })).Output
            Set-StandInCluster -StateRoot (Join-Path $Work 'clusterB')
            $null = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem TvmWrap $pub $priv 2048 })
            Clear-MocStandInCall
            $backup.Path
        }
    }

    It 'Backup-TVMKeys calls Get-MocConfig, Get-MocKey and one Export-MocKey per key, as the original' {
        $work = New-TestFolder 'calls'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        Add-StandInKey $Keys
        Clear-MocStandInCall
        $pub = (Copy-VectorKeyPair (Join-Path $work 'keys')).Public
        $root = Join-Path $work 'backups'

        $r = Assert-Clean (Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $root })

        $backup = Get-SingleBackup $r.Output
        # The engine exports into the hidden partial folder and renames it when every key was read back; the
        # original wrote into <root>/<timestamp>/ directly. That is the only value that differs.
        $partial = [IO.Path]::Combine($root, '.' + [IO.Path]::GetFileName($backup.Path) + '.partial')
        $expected = @(
            Format-MocCall 'Get-MocConfig'
            Format-MocCall 'Get-MocKey' ([ordered]@{ group = $Group; keyvaultName = $Vault })
            foreach ($k in $Keys) {
                Format-MocCall 'Export-MocKey' ([ordered]@{
                        name = $k.Name; wrappingPubKeyFile = $pub; outFile = [IO.Path]::Combine($partial, $k.Type, "$($k.Name)_$($k.Size).json")
                        group = $Group; keyvaultName = $Vault; size = "$($k.Size)"
                    })
            }
        )
        Assert-Calls $expected (Get-StandInCall)
        [IO.Directory]::Exists($partial) | Should -BeFalse
        foreach ($k in $Keys) {
            [IO.File]::Exists([IO.Path]::Combine($backup.Path, $k.Type, "$($k.Name)_$($k.Size).json")) | Should -BeTrue -Because "$($k.Name) is in the backup"
        }
    }

    It 'Import-TvmWrappingKeyFromPem calls Get-MocConfig and Import-MocKey as the original, and nothing else' {
        $work = New-TestFolder 'calls'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        $pair = Copy-VectorKeyPair (Join-Path $work 'keys')
        $pub = $pair.Public
        $priv = $pair.Private

        $r = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $pub -PrivateKeyPath $priv -KeySize 2048 })

        $r.Host.Count | Should -BeGreaterThan 0 -Because (Format-Captured $r)
        $r.Host[0] -match '^Generating import JSON for key .+ at temporary location (.+)\.\.\.$' | Should -BeTrue -Because (Format-Captured $r)
        $tmp = $Matches[1]
        Assert-Calls @(
            Format-MocCall 'Get-MocConfig'
            # One call beyond the original's: the vault is listed once, so that a name it holds is compared (Exists, or
            # WrappingKeyConflict) before the plaintext import file is written.
            Format-MocCall 'Get-MocKey' ([ordered]@{ group = $Group; keyvaultName = $Vault })
            Format-MocCall 'Import-MocKey' ([ordered]@{ name = 'TvmWrap'; group = $Group; keyvaultName = $Vault; importKeyFile = $tmp; type = 'RSA'; size = '2048' })
            # The TvmWrappingKey written to the pipeline is the engine's result: the vault is not listed a second time.
        ) (Get-StandInCall)
        [IO.File]::Exists($tmp) | Should -BeFalse
        $r.Output.Count | Should -Be 1
        $null = Get-OfType $r.Output TvmWrappingKey
        Format-Key $r.Output[0] | Should -BeExactly 'TvmWrap RSA 2048'
        @(@(Get-StandInKey) | ForEach-Object { Format-Key $_ }) | Should -BeExactly @('TvmWrap RSA 2048')
    }

    It 'Import-TVMKeys calls one Import-MocKey per key as the original, after read-only queries and the listing of the target backup' {
        $work = New-TestFolder 'calls'
        $backup = Backup-ClusterAThenPrepareB $work (Copy-VectorKeyPair (Join-Path $work 'keys'))

        $r = Assert-Clean (Invoke-Captured { Import-TVMKeys -BackupPath $backup -WrappingKeyName TvmWrap })

        $restores = @(Get-OfType $r.Output TvmKeyRestore)
        $restores.Count | Should -Be 3
        foreach ($k in $restores) { "$($k.Outcome)" | Should -Be 'Imported' -Because "key $($k.Name)" }
        $calls = @(Get-StandInCall)
        $publicKeyCall = @($calls | Where-Object Command -EQ 'Get-MocKeyPublicKey') | Select-Object -First 1
        $outputFile = if ($publicKeyCall) { $publicKeyCall.Parameters['outputFile'] } else { $null }
        $sorted = [System.Collections.Generic.List[object]]::new([object[]]$Keys)
        $sorted.Sort([Comparison[object]] {
                param($a, $b)
                $c = [string]::CompareOrdinal($a.Type, $b.Type)
                if ($c -ne 0) { $c } else { [string]::CompareOrdinal($a.Name, $b.Name) }
            })
        $expected = @(
            Format-MocCall 'Get-MocConfig'
            # Not in the original: the listing (a key that exists is reported as Exists, not imported again) and
            # the wrapping key's public half (checked against the backup before the first write).
            Format-MocCall 'Get-MocKey' ([ordered]@{ group = $Group; keyvaultName = $Vault })
            Format-MocCall 'Get-MocKeyPublicKey' ([ordered]@{ name = 'TvmWrap'; group = $Group; keyvaultName = $Vault; outputFile = $outputFile })
            # The backup of the target vault before the first write: its listing; it holds only the wrapping key,
            # which a pre-restore backup leaves out, so nothing is exported.
            Format-MocCall 'Get-MocKey' ([ordered]@{ group = $Group; keyvaultName = $Vault })
            # AES folder first, then RSA, as the original enumerated them.
            foreach ($k in $sorted) {
                Format-MocCall 'Import-MocKey' ([ordered]@{
                        name = $k.Name; wrappingKeyName = 'TvmWrap'; importKeyFile = [IO.Path]::Combine($backup, $k.Type, "$($k.Name)_$($k.Size).json")
                        group = $Group; keyvaultName = $Vault; size = "$($k.Size)"; Type = $k.Type
                    })
            }
        )
        Assert-Calls $expected $calls
        $outputFile | Should -Not -BeNullOrEmpty
        [IO.File]::Exists($outputFile) | Should -BeFalse -Because 'the public key file of the wrapping key must not be left behind'
    }

    It 'Import-TVMKeys -WhatIf makes only the read-only calls' {
        $work = New-TestFolder 'calls'
        $backup = Backup-ClusterAThenPrepareB $work (Copy-VectorKeyPair (Join-Path $work 'keys'))

        $r = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup TvmWrap -WhatIf })

        foreach ($k in @(Get-OfType $r.Output TvmKeyRestore)) { "$($k.Outcome)" | Should -Be 'Skipped' -Because "key $($k.Name)" }
        @(@(Get-StandInCall) | ForEach-Object Command) | Should -BeExactly @('Get-MocConfig', 'Get-MocKey', 'Get-MocKeyPublicKey')
        @(@(Get-StandInKey) | ForEach-Object Name) | Should -BeExactly @('TvmWrap')
    }

    It '-Group and -KeyVaultName go to every Moc call' {
        $work = New-TestFolder 'calls'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        $pub = (Copy-VectorKeyPair (Join-Path $work 'keys')).Public
        $root = Join-Path $work 'backups'

        $r = Assert-Clean (Invoke-Captured {
                New-TvmVaultKey -Name k1 -Type aes -Size 256 -Group g1 -KeyVaultName v1 | Out-Null
                Get-TvmVaultKey -Group g1 -KeyVaultName v1
                Backup-TVMKeys $pub $root -Group g1 -KeyVaultName v1 | Out-Null
            })

        $r.Output.Count | Should -Be 1
        $null = Get-OfType $r.Output TvmKey
        Format-Key $r.Output[0] | Should -BeExactly 'k1 AES 256'
        $calls = @(Get-StandInCall)
        $create = @($calls | Where-Object Command -EQ 'New-MocKey')
        $create.Count | Should -Be 1
        $create = $create[0]
        (Get-OrdinalSorted @($create.Parameters.Keys | ForEach-Object { ([string]$_).ToLowerInvariant() })) | Should -BeExactly @('group', 'keyvaultname', 'name', 'size', 'type')
        @($create.Parameters['name'], $create.Parameters['group'], $create.Parameters['keyvaultName'], $create.Parameters['type'], $create.Parameters['size']) |
            Should -BeExactly @('k1', 'g1', 'v1', 'AES', '256')
        foreach ($c in @($calls | Where-Object Command -NE 'Get-MocConfig')) {
            "$($c.Parameters['group']) $($c.Parameters['keyvaultName'])" | Should -BeExactly 'g1 v1' -Because (Format-MocCall $c.Command $c.Parameters)
        }
        @(Get-StandInKey).Count | Should -Be 0 -Because 'nothing is in the default vault'
        @(Get-StandInKey g1 v1).Count | Should -Be 1
    }

    It 'the listing reads name, kty and key_size of dictionaries and objects, numbers or text' {
        $work = New-TestFolder 'calls'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        # A Moc module whose objects come in other shapes: the adapter reads them as $key.properties.key_size does.
        function global:Get-MocKey {
            param($group, $keyvaultName)
            [pscustomobject]@{ Name = 'a1'; properties = [pscustomobject]@{ kty = 'AES'; key_size = '256' } }
            @{ name = 'r1'; properties = @{ KTY = 'RSA'; Key_Size = [long]4096 } }
            [pscustomobject]@{ name = 'a2'; properties = @{ kty = 'AES'; key_size = 256 } }
        }

        $r = Assert-Clean (Invoke-Captured { Get-TvmVaultKey })

        @(Get-OfType $r.Output TvmKey | ForEach-Object { Format-Key $_ }) | Should -BeExactly @('a1 AES 256', 'r1 RSA 4096', 'a2 AES 256')
    }
}

Describe 'The original''s MOC version gates (docs/format.md section 9), applied by the engine to the MOC vault only' {
    # From MocVersionGateTests.
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath; Remove-MocOverride }

    BeforeAll {
        # Prepare: the wrapping key pair, a backup folder with one (empty) key file, and paths; sets $pub, $priv,
        # $root (not created) and $backup in the caller's scope.
        function Initialize-GateTest([string] $Work) {
            $pair = Copy-VectorKeyPair (Join-Path $Work 'keys')
            $backupPath = [IO.Path]::Combine($Work, 'backups', '20240101000000')
            $null = New-Item -ItemType Directory -Path (Join-Path $backupPath 'AES') -Force
            [IO.File]::WriteAllText([IO.Path]::Combine($backupPath, 'AES', 'k_256.json'), '{}')
            Set-Variable -Scope 1 -Name pub -Value $pair.Public
            Set-Variable -Scope 1 -Name priv -Value $pair.Private
            Set-Variable -Scope 1 -Name root -Value (Join-Path $Work 'root')
            Set-Variable -Scope 1 -Name backup -Value $backupPath
        }
    }

    It '<Script> with the stand-in''s <SettingsText> fails with <Id> and the original''s message, before any other Moc call' -ForEach $Gates {
        $work = New-TestFolder 'gate'
        Initialize-GateTest $work
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings $Settings
        Add-StandInKey @(@{ Name = 'existing'; Type = 'AES'; Size = 256 })
        Clear-MocStandInCall

        $r = Invoke-Captured ([scriptblock]::Create($Script))

        $e = Assert-TvmTerminating $r $Id NotInstalled
        $e.Exception.Message | Should -BeExactly $Message
        @(@(Get-StandInCall) | ForEach-Object Command) | Should -BeExactly @('Get-MocConfig')
        [IO.Directory]::Exists($root) | Should -BeFalse
        @(@(Get-StandInKey) | ForEach-Object Name) | Should -BeExactly @('existing')
    }

    It 'the exact minimum versions pass, with one Get-MocConfig per command' {
        $work = New-TestFolder 'gate'
        Initialize-GateTest $work
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings @{ ModuleVersion = '1.2.27'; Version = '1.14.1.10414' }

        $null = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem w $pub $priv 2048 | Out-Null; Backup-TVMKeys $pub $root | Out-Null })

        @(@(Get-StandInCall) | Where-Object Command -EQ 'Get-MocConfig').Count | Should -Be 2 -Because 'once per command'
    }

    It 'the stack version is checked only for the wrapping key import' {
        $work = New-TestFolder 'gate'
        Initialize-GateTest $work
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings @{ Version = '1.0.0' }
        Add-StandInKey @(@{ Name = 'k1'; Type = 'AES'; Size = 256 })

        $null = Assert-Clean (Invoke-Captured { Backup-TVMKeys $pub $root | Out-Null; Get-TvmVaultKey | Out-Null })
        $r = Invoke-Captured { Import-TvmWrappingKeyFromPem w $pub $priv 2048 }

        $null = Assert-TvmTerminating $r MocStackVersionTooOld NotInstalled
    }

    It 'a failing Get-MocConfig is "Unable to determine Moc installation versions." (MocVersionUnknown)' {
        $work = New-TestFolder 'gate'
        Initialize-GateTest $work
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        function global:Get-MocConfig { throw 'the cloud agent is not running' }

        $r = Invoke-Captured { Backup-TVMKeys $pub $root }

        (Assert-TvmTerminating $r MocVersionUnknown NotInstalled).Exception.Message | Should -BeExactly 'Unable to determine Moc installation versions.'
        @(Get-StandInCall).Count | Should -Be 0
        [IO.Directory]::Exists($root) | Should -BeFalse
    }

    It 'the local vault is never gated and ignores the Moc parameters: <_>' -ForEach $LocalVaultCommands {
        $command = $_
        $work = New-TestFolder 'gate'
        Initialize-GateTest $work
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings @{ ModuleVersion = '1.0.0'; Version = '1.0.0' }
        $vault = Join-Path $work 'vault'
        $null = Assert-Clean (Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $vault | Out-Null })

        $null = Assert-Clean (Invoke-Captured ([scriptblock]::Create($command)))

        @(Get-StandInCall).Count | Should -Be 0
    }
}

Describe 'Backups of the MOC vault that check themselves' {
    BeforeAll {
        $script:Work = New-TestFolder moc-coverage
        $script:Pair = Copy-VectorKeyPair (Join-Path $Work 'keys')
        Set-StandInCluster -StateRoot (Join-Path $Work 'cluster')
        Add-StandInKey @('vm1', 'vm2')
        Add-StandInKey @(@{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $script:BackupRun = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Pair.Public -BackupRootPath (Join-Path $Work 'root') -Label weekly }
        $script:MocBackup = Get-SingleBackup $BackupRun.Output
    }

    It 'names the MOC vault in the host line after the original''s first, and in the manifest' {
        $BackupRun.Host[0] | Should -BeExactly "Backing up TVM Vault keys to $($MocBackup.Path)"
        $BackupRun.Host[1] | Should -BeExactly "Source vault: the MOC key vault $Vault (group $Group)"
        $check = Test-TVMKeyBackup -Path $MocBackup.Path
        $check.Status | Should -Be 'Valid'
        ($check.Source.Kind, $check.Source.Group, $check.Source.VaultName) | Should -Be @('moc', $Group, $Vault)
        $check.Label | Should -BeExactly 'weekly'
    }

    It 'reports, read-only, the key created after the backup and the key removed since' {
        Add-StandInKey 'vm3'
        Remove-MocKey -name vm1 -group $Group -keyvaultName $Vault -ErrorAction Stop
        Clear-MocStandInCall
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $MocBackup.Path -Vault }
        $check = @($run.Output)[0]
        $check.Status | Should -Be 'Valid' -Because 'the backup itself is undamaged'
        $check.Coverage.Covered | Should -BeFalse
        @($check.Coverage.MissingFromBackup.Name) | Should -Be @('vm3')
        @($check.Coverage.NotInVault.Name) | Should -Be @('vm1')
        $check.Coverage.Vault | Should -BeExactly "the MOC key vault $Vault (group $Group)"
        @($run.Errors.FullyQualifiedErrorId) | Should -Be @('BackupNotCurrent,TvmBackupUtils.Commands.TestTvmKeyBackupCommand')
        ($run.Warnings -match "^Key vm3 \(AES 256\) is in the MOC key vault").Count | Should -Be 1
        ($run.Warnings -match '^Key vm1 \(AES 256\) is in the backup').Count | Should -Be 1
        $run.Host | Should -Contain "Coverage of $($MocBackup.Path) against the MOC key vault $Vault (group $Group): 2 keys in both, 1 missing from the backup, 1 no longer in the vault, 0 different."
        $writes = @(Get-StandInCall | Where-Object Command -In 'New-MocKey', 'Import-MocKey', 'Remove-MocKey', 'Export-MocKey')
        $writes | Should -BeNullOrEmpty -Because 'a coverage check only lists the vault'
    }
}

Describe 'The stand-in itself: its call times and its store across processes' {
    It 'records each call''s time inside the stand-in, and no more than the command took' {
        $work = New-TestFolder 'standin-times'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster')
        Add-StandInKey 'vm1', 'vm2'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings @{ CallDelayMilliseconds = 40 }
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $keys = @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault)
        $null = Get-MocKey -name vm2 -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault
        $watch.Stop()
        $keys.Count | Should -Be 2
        $calls = Get-StandInCall 'Get-MocKey'
        $calls.Count | Should -Be 2
        # Not compared with the delay: a wait's length is the timer's (under Wine a 40 ms wait can end at 38.7 ms).
        foreach ($call in $calls) { $call.Milliseconds | Should -BeGreaterThan 0 -Because 'a call that ran has a time' }
        ($calls | Measure-Object Milliseconds -Sum).Sum | Should -BeLessOrEqual $watch.Elapsed.TotalMilliseconds
    }

    It 'sees at its next call the keys another process added to the same cluster, and their removal' {
        $work = New-TestFolder 'standin-store'
        $cluster = Join-Path $work 'cluster'
        Set-StandInCluster -StateRoot $cluster
        Add-StandInKey 'here1'
        @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault).name | Should -Be @('here1')
        $child = Join-Path $work 'child.ps1'
        Set-Content -Path $child -Value @'
param([string] $StandIn, [string] $Cluster)
$ErrorActionPreference = 'Stop'
Import-Module $StandIn
Set-MocStandIn -StateRoot $Cluster
New-MocKey -name there1 -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault -type AES -size 256
New-MocKey -name there2 -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault -type AES -size 256
Remove-MocKey -name here1 -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault
'@
        $run = Invoke-Pwsh -File $child -ArgumentList (Get-MocStandInPath), $cluster
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault).name | Should -Be @('there1', 'there2')
        Add-StandInKey 'here2'
        @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault).name | Should -Be @('there1', 'there2', 'here2')
    }
}
