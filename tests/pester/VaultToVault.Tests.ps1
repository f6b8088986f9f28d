# The vault-to-vault flow of the releases before 2505: the wrapping key is made inside the vault that will receive
# the keys (New-TvmWrappingKey -InVault), only its public key leaves that vault, the source vault's keys are
# exported wrapped to it and naming it (Backup-TVMKeys -WrappingKeyName), and the target vault unwraps them with it
# (Import-TVMKeys -WrappingKeyName) before it is removed (Remove-TvmWrappingKey). Each part, and the whole flow end
# to end, on the stand-in Moc module (tests/MocStandIn, NOT Microsoft's Moc module: no vault path, one StateRoot
# folder per cluster, its call record checked) and on local vaults (-VaultPath). Also the outcomes of
# Import-TvmWrappingKeyFromPem (Imported, Exists, WrappingKeyConflict).
# New tests (no xunit class before them).
BeforeDiscovery {
    # The two kinds of vault every part runs on: MOC (the stand-in) and local (-VaultPath).
    $script:Kinds = @(@{ Kind = 'MOC' }, @{ Kind = 'local' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Import-MocStandIn

    $script:Group = 'AzureStackHostAttestation'
    $script:Vault = 'AzureStackTvmKeyVault'
    $script:RootKey = 'AzureStackTvmAKRootKey'
    $script:Wrap = 'w'
    # The Moc cmdlets that change a vault or take a key out of it.
    $script:MocWrites = @('New-MocKey', 'Import-MocKey', 'Remove-MocKey', 'Export-MocKey', 'Get-MocKeyPublicKey')
    $script:PrivatePemHeader = '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----'

    # A vault of -Kind in -Folder: Kind, Root (the stand-in's StateRoot, or the local vault's folder, where the vault
    # keeps its keys) and Params (the vault parameters to splat: none for MOC, -VaultPath for a local vault). Enter-Vault
    # makes it the current one (for MOC: Set-MocStandIn, which keeps the call record).
    function New-VaultContext([string] $Kind, [string] $Folder) {
        $params = if ($Kind -eq 'MOC') { @{} } else { @{ VaultPath = $Folder } }
        [pscustomobject]@{ Kind = $Kind; Root = $Folder; Params = $params }
    }

    function Enter-Vault($Context) {
        if ($Context.Kind -eq 'MOC') { Set-MocStandIn -StateRoot $Context.Root }
    }

    # "<Name> <Type> <Size>" of every key of the current vault of -Context, ordinal order.
    function Get-KeyList($Context) {
        $p = $Context.Params
        $keys = [string[]]@(Get-TvmVaultKey @p -ErrorAction Stop | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size)" })
        [Array]::Sort($keys, [StringComparer]::Ordinal)
        $keys
    }

    # New-TvmVaultKey for each of -Key (a name: AES-256; or @{ Name; Type; Size }) in the vault of -Context.
    function Add-Key($Context, [object[]] $Key) {
        $p = $Context.Params
        foreach ($k in $Key) {
            if ($k -is [string]) { $k = @{ Name = $k; Type = 'AES'; Size = 256 } }
            $null = New-TvmVaultKey -Name $k.Name -Type $k.Type -Size $k.Size @p -ErrorAction Stop
        }
    }

    # The vault left as it was: the same folder state, which held a key file before (so the check can fail); on MOC
    # also none of the Moc calls -Writes (by default those that write a vault or take a key out of it).
    function Assert-VaultUnchanged($Context, [string[]] $Before, [string[]] $Writes = $MocWrites) {
        $after = Get-FolderState $Context.Root
        @(Compare-Object @($Before) @($after) | ForEach-Object { "$($_.SideIndicator) $($_.InputObject)" }) | Should -BeNullOrEmpty -Because 'the vault must be left as it was'
        @($Before | Where-Object { $_ -like 'file *' }).Count | Should -BeGreaterThan 0 -Because 'the vault held a key file to compare'
        if ($Context.Kind -eq 'MOC') {
            @(Get-StandInCall | Where-Object Command -In $Writes | ForEach-Object Command) | Should -BeNullOrEmpty -Because 'no Moc call may write the vault'
        }
    }

    # A recorded call as text, for the messages of failed assertions.
    function Format-Call($Call) {
        $Call.Command + (-join @(foreach ($p in $Call.Parameters.GetEnumerator()) { " -$($p.Key) '$($p.Value)'" }))
    }

    # The recorded calls of -Command among -Calls whose -name is -Name; exactly one, returned.
    function Get-OneCall([object[]] $Calls, [string] $Command, [string] $Name) {
        $found = @($Calls | Where-Object { $_.Command -eq $Command -and $_.Parameters['name'] -ceq $Name })
        $found.Count | Should -Be 1 -Because "one $Command of $Name among:`n$(@($Calls | ForEach-Object { Format-Call $_ }) -join "`n")"
        $found[0]
    }

    # The DER of a PEM file's body.
    function Get-PemDer([string] $Path) {
        $body = ([IO.File]::ReadAllText($Path) -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        , [Convert]::FromBase64String($body)
    }

    # The module's fingerprint of an RSA public key (docs/format.md section 8): SHA-256 of its PKCS#1 DER, first 16
    # bytes, lower-case hex.
    function Get-PublicFingerprint([byte[]] $Pkcs1Der) {
        [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Pkcs1Der), 0, 16).ToLowerInvariant()
    }

    # The modulus size in bits of a PKCS#1 RSAPublicKey DER, read with System.Formats.Asn1 (no .NET RSA: none under Wine).
    function Get-ModulusBits([byte[]] $Pkcs1Der) {
        Add-Type -AssemblyName System.Formats.Asn1
        $reader = [System.Formats.Asn1.AsnReader]::new($Pkcs1Der, 'DER')
        $sequence = $reader.ReadSequence()
        $reader.HasData | Should -BeFalse -Because 'nothing follows the RSAPublicKey'
        $modulus = $sequence.ReadIntegerBytes().ToArray()
        $null = $sequence.ReadIntegerBytes()
        $sequence.HasData | Should -BeFalse -Because 'an RSAPublicKey is the modulus and the exponent only'
        $i = 0
        while ($i -lt $modulus.Length - 1 -and $modulus[$i] -eq 0) { $i++ }
        ($modulus.Length - $i) * 8
    }

    # The checks of a public key file written by New-TvmWrappingKey -InVault: one PKCS#1 RSA PUBLIC KEY PEM of
    # -Bits, nothing private. Returns its DER.
    function Assert-PublicKeyFile([string] $Path, [int] $Bits) {
        [IO.File]::Exists($Path) | Should -BeTrue
        $text = [IO.File]::ReadAllText($Path)
        $text.TrimStart() | Should -BeLikeExactly '-----BEGIN RSA PUBLIC KEY-----*'
        $text.TrimEnd() | Should -BeLikeExactly '*-----END RSA PUBLIC KEY-----'
        ([regex]::Matches($text, '-----BEGIN ')).Count | Should -Be 1 -Because 'the file holds one PEM block'
        $text | Should -Not -Match 'PRIVATE'
        $der = Get-PemDer $Path
        Get-ModulusBits $der | Should -Be $Bits
        , $der
    }

    # Whether an item of Get-ChildItem is a regular file (not a FIFO or socket).
    function Test-RegularFile($Item) { -not $Item.PSIsContainer -and ($IsWindows -or "$($Item.UnixMode)".StartsWith('-')) }

    # Every regular file under -Root, hidden ones too, but those under the folders -Exclude.
    function Get-FilesOutside([string] $Root, [string[]] $Exclude = @()) {
        $prefixes = @($Exclude | ForEach-Object { [IO.Path]::GetFullPath($_).TrimEnd([IO.Path]::DirectorySeparatorChar) + [IO.Path]::DirectorySeparatorChar })
        @(Get-ChildItem -LiteralPath $Root -Recurse -Force -File | Where-Object { Test-RegularFile $_ } | ForEach-Object FullName |
                Where-Object { $f = $_; -not @($prefixes | Where-Object { $f.StartsWith($_, [StringComparison]::OrdinalIgnoreCase) }) })
    }

    # The files among -Files that hold a PRIVATE KEY PEM header (any PEM private key: RSA, EC, PKCS#8, encrypted),
    # read as UTF-8 and as UTF-16LE.
    function Find-PrivatePem([string[]] $Files) {
        foreach ($f in $Files) {
            $bytes = [IO.File]::ReadAllBytes($f)
            if ([Text.Encoding]::UTF8.GetString($bytes) -match $PrivatePemHeader -or [Text.Encoding]::Unicode.GetString($bytes) -match $PrivatePemHeader) { $f }
        }
    }

    # The files among -Files that hold one of the secret forms -Forms (Get-SecretForms): "<file>: <form>".
    function Find-Secret([string[]] $Files, $Forms) {
        foreach ($f in $Files) {
            $bytes = [IO.File]::ReadAllBytes($f)
            $plain = ([Text.Encoding]::UTF8.GetString($bytes) -replace '\\[rn]', '') -replace '\s', ''
            $wide = ([Text.Encoding]::Unicode.GetString($bytes) -replace '\\[rn]', '') -replace '\s', ''
            foreach ($t in $Forms.Texts) {
                if ($plain.Contains($t, [StringComparison]::Ordinal) -or $wide.Contains($t, [StringComparison]::Ordinal)) { "${f}: text form"; break }
            }
            $latin = [Text.Encoding]::Latin1.GetString($bytes)
            foreach ($b in $Forms.Binaries) {
                if ($latin.IndexOf([Text.Encoding]::Latin1.GetString($b), [StringComparison]::Ordinal) -ge 0) { "${f}: binary form"; break }
            }
        }
    }

    # Name -> material (bytes) of every key of the current stand-in cluster, read independently of the module:
    # Export-MocKey with -Check's public key into -Dir, unwrapped here (Unprotect-KeyBlob). RSA material is PKCS#8 DER.
    function Get-StandInMaterial($Check, [string] $Dir) {
        $null = New-Item -ItemType Directory -Path $Dir -Force
        $result = [System.Collections.Generic.Dictionary[string, byte[]]]::new([StringComparer]::Ordinal)
        foreach ($key in @(Get-MocKey -group $Group -keyvaultName $Vault -ErrorAction Stop)) {
            $file = Join-Path $Dir "check-$([guid]::NewGuid().ToString('N')).json"
            Export-MocKey -name $key.name -wrappingPubKeyFile $Check.Public -outFile $file -group $Group -keyvaultName $Vault -size ([int]$key.properties.key_size) -ErrorAction Stop
            $result[[string]$key.name] = Unprotect-KeyBlob ([IO.File]::ReadAllText($file) | ConvertFrom-Json).'private-key' $Check.Rsa
            Remove-Item -LiteralPath $file
        }
        , $result
    }

    # Name -> material (bytes) of every key of a local vault, from its key files (docs/format.md section 6).
    function Get-LocalMaterial([string] $VaultPath) {
        $result = [System.Collections.Generic.Dictionary[string, byte[]]]::new([StringComparer]::Ordinal)
        foreach ($key in @(Get-TvmVaultKey -VaultPath $VaultPath -ErrorAction Stop)) { $result[[string]$key.Name] = (Read-VaultKeyFile $VaultPath $key.Name).Material }
        , $result
    }

    # Name -> public key text of every RSA key of the current vault: on MOC the listing's PEM (Get-MocKey's value),
    # on a local vault Get-TvmVaultKey's Fingerprint.
    function Get-PublicKeys($Context) {
        $result = [ordered]@{}
        if ($Context.Kind -eq 'MOC') {
            foreach ($key in @(Get-MocKey -group $Group -keyvaultName $Vault -ErrorAction Stop | Where-Object { $_.properties.kty -eq 'RSA' })) {
                $result[[string]$key.name] = ([string]$key.value).Replace("`r`n", "`n").Trim()
            }
        } else {
            foreach ($key in @(Get-TvmVaultKey -VaultPath $Context.Root -ErrorAction Stop | Where-Object Type -EQ 'RSA')) { $result[[string]$key.Name] = [string]$key.Fingerprint }
        }
        $result
    }

    # The key files of a backup folder (AES and RSA), parsed: File (the path) and Json.
    function Get-BackupKeyFiles([string] $BackupPath) {
        foreach ($type in 'AES', 'RSA') {
            $folder = Join-Path $BackupPath $type
            if (-not [IO.Directory]::Exists($folder)) { continue }
            foreach ($f in [IO.Directory]::GetFiles($folder, '*.json')) {
                [pscustomobject]@{ File = $f; Json = ([IO.File]::ReadAllText($f) | ConvertFrom-Json) }
            }
        }
    }
}

Describe 'The vault-to-vault flow between two <Kind> vaults A and B, end to end' -ForEach $Kinds {
    # B makes the wrapping key w inside itself and gives out its public key only; A is backed up wrapped to it and
    # naming it; B imports the backup with -WrappingKeyName w (after its default pre-restore backup); then w is
    # removed. Everything is gathered here, in order, and checked by the tests below; the last one removes w.
    BeforeAll {
        Clear-TvmVaultPath
        Clear-MocStandInCall
        $Work = New-TestFolder "v2v-$Kind"
        $A = New-VaultContext $Kind (Join-Path $Work $(if ($Kind -eq 'MOC') { 'clusterA' } else { 'vaultA' }))
        $B = New-VaultContext $Kind (Join-Path $Work $(if ($Kind -eq 'MOC') { 'clusterB' } else { 'vaultB' }))
        $Pem = Join-Path $Work 'w.pem'
        $Root = Join-Path $Work 'TvmBackups'
        # Outside the work folder: the check key pair (a private key PEM) that reads the stand-in's material.
        $CheckDir = New-TestFolder "v2v-check-$Kind"
        $SourceKeys = @(
            @{ Name = [guid]::NewGuid().ToString(); Type = 'AES'; Size = 256 }
            @{ Name = [guid]::NewGuid().ToString(); Type = 'AES'; Size = 256 }
            @{ Name = 'vm_key_1'; Type = 'AES'; Size = 256 }
            @{ Name = $RootKey; Type = 'RSA'; Size = 2048 }
            @{ Name = 'rsa_key'; Type = 'RSA'; Size = 2048 }
        )

        # 1. Vault B: the wrapping key.
        Enter-Vault $B
        Clear-MocStandInCall
        $p = $B.Params
        $CreateRun = Invoke-Captured { New-TvmWrappingKey -InVault -KeyName $Wrap -PublicKeyPath $Pem @p }
        $CreateCalls = @(Get-StandInCall)
        $WorkFilesAfterCreate = @(Get-FilesOutside $Work @($A.Root, $B.Root))
        $BKeysAfterCreate = @(Get-KeyList $B)
        $BPublicAfterCreate = Get-PublicKeys $B
        $BWrapMaterial = if ($Kind -eq 'MOC') {
            $check = New-TestKeyPair -Folder (Join-Path $CheckDir 'keys')
            (Get-StandInMaterial $check (Join-Path $CheckDir 'exportB'))[$Wrap]
        } else {
            (Read-VaultKeyFile $B.Root $Wrap).Material
        }

        # 2. Vault A: its keys, backed up to w.
        Enter-Vault $A
        Add-Key $A $SourceKeys
        Clear-MocStandInCall
        $p = $A.Params
        $BackupRun = Invoke-Captured { Backup-TVMKeys $Pem $Root -WrappingKeyName $Wrap @p }
        $BackupCalls = @(Get-StandInCall)
        $AKeys = @(Get-KeyList $A)
        $APublic = Get-PublicKeys $A

        # 3. Vault B: the backup imported with w.
        $Backup = @($BackupRun.Output | Where-Object { $_.GetType().FullName -eq 'TvmBackupUtils.TvmBackup' }) | Select-Object -First 1
        $backupPath = if ($Backup) { $Backup.Path } else { Join-Path $Root 'none' }
        Enter-Vault $B
        Clear-MocStandInCall
        $p = $B.Params
        $ImportRun = Invoke-Captured { Import-TVMKeys -BackupPath $backupPath -WrappingKeyName $Wrap @p }
        $ImportCalls = @(Get-StandInCall)
        $BKeys = @(Get-KeyList $B)
        $BPublic = Get-PublicKeys $B

        # 4. The material of every key of A and B, read without the module.
        if ($Kind -eq 'MOC') {
            Enter-Vault $A
            $AMaterial = Get-StandInMaterial $check (Join-Path $CheckDir 'exportA')
            Enter-Vault $B
            $BMaterial = Get-StandInMaterial $check (Join-Path $CheckDir 'exportB')
            $CheckPrivate = $check.Private
        } else {
            $AMaterial = Get-LocalMaterial $A.Root
            $BMaterial = Get-LocalMaterial $B.Root
            $CheckPrivate = (New-TvmWrappingKey (Join-Path $CheckDir 'check-public.pem') (Join-Path $CheckDir 'check-private.pem') -ErrorAction Stop 6>$null).PrivateKeyPath
        }
        Clear-MocStandInCall
    }
    AfterAll { Restore-TvmVaultPath }

    It 'New-TvmWrappingKey -InVault makes w in B and writes only its public key (RSA PUBLIC KEY, PKCS#1) to the file' {
        $r = Assert-Clean $CreateRun
        $o = @(Get-OfType $r.Output TvmWrappingKeyFiles)
        $o.Count | Should -Be 1
        $o = $o[0]
        $o.PublicKeyPath | Should -BeExactly $Pem
        $o.PrivateKeyPath | Should -BeNullOrEmpty
        $o.KeySize | Should -Be 2048
        $o.Encrypted | Should -BeFalse
        $o.KeyName | Should -BeExactly $Wrap
        $o.Vault | Should -Not -BeNullOrEmpty
        if ($Kind -eq 'MOC') { $o.Vault | Should -BeLikeExactly "*MOC key vault $Vault*" } else { $o.Vault | Should -BeLikeExactly "*local vault*$([IO.Path]::GetFileName($B.Root))" }
        $der = Assert-PublicKeyFile $Pem 2048
        $o.Fingerprint | Should -BeExactly (Get-PublicFingerprint $der) -Because 'the fingerprint is the public key file''s'
        # The only file written outside the vault: the public key.
        $WorkFilesAfterCreate | Should -BeExactly @($Pem)
        $BKeysAfterCreate | Should -BeExactly @("$Wrap RSA 2048")
        # The file holds the vault's key: the listing's public key on MOC, Get-TvmVaultKey's fingerprint locally.
        if ($Kind -eq 'MOC') {
            $BPublicAfterCreate[$Wrap] | Should -BeExactly ([IO.File]::ReadAllText($Pem).Replace("`r`n", "`n").Trim())
        } else {
            $BPublicAfterCreate[$Wrap] | Should -BeExactly $o.Fingerprint
        }
        # The vault holds the private half: its PKCS#8 DER is that of the RSA key whose public key the file holds.
        Get-ModulusHex $BWrapMaterial -Private | Should -BeExactly (Get-ModulusHex $der)
    }

    if ($Kind -eq 'MOC') {
        It 'on MOC the key is made with New-MocKey -name w -type RSA -size 2048 and its public key read with Get-MocKeyPublicKey -name w' {
            $writes = @($CreateCalls | Where-Object Command -In $MocWrites)
            @($writes | ForEach-Object Command) | Should -BeExactly @('New-MocKey', 'Get-MocKeyPublicKey') -Because (@($CreateCalls | ForEach-Object { Format-Call $_ }) -join "`n")
            $new = $writes[0].Parameters
            @($new['name'], $new['type'], $new['size'], $new['group'], $new['keyvaultName']) | Should -BeExactly @($Wrap, 'RSA', '2048', $Group, $Vault)
            $public = $writes[1].Parameters
            @($public['name'], $public['group'], $public['keyvaultName']) | Should -BeExactly @($Wrap, $Group, $Vault)
            $public['outputFile'] | Should -Not -BeNullOrEmpty
            [IO.File]::Exists($public['outputFile']) | Should -BeFalse -Because 'the file Get-MocKeyPublicKey wrote is not left behind'
            @($CreateCalls | Where-Object Command -EQ 'Import-MocKey') | Should -BeNullOrEmpty -Because 'the key is made in the vault, not imported into it'
        }
    }

    It 'Backup-TVMKeys -WrappingKeyName w backs up every key of A, each key file naming w in private-key-wrapping-info.key-name' {
        $r = Assert-Clean $BackupRun
        $backup = Get-SingleBackup $r.Output
        @($backup.Keys).Count | Should -Be $SourceKeys.Count
        $backup.WrappingKeyFingerprint | Should -BeExactly (Get-PublicFingerprint (Get-PemDer $Pem))
        $files = @(Get-BackupKeyFiles $backup.Path)
        $files.Count | Should -Be $SourceKeys.Count
        $wrappingDer = ConvertTo-Base64Url (Get-PemDer $Pem)
        foreach ($f in $files) {
            $info = $f.Json.'private-key-wrapping-info'
            $info.'key-name' | Should -BeExactly $Wrap -Because $f.File
            $info.'public-key' | Should -BeExactly $wrappingDer -Because "$($f.File) is wrapped to w's public key"
            $info.enc | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP'
        }
        (Test-TVMKeyBackup -Path $backup.Path).Status | Should -Be 'Valid'
    }

    if ($Kind -eq 'MOC') {
        It 'on MOC every key is exported with Export-MocKey -wrappingKeyName w -wrappingPubKeyFile w.pem' {
            $exports = @($BackupCalls | Where-Object Command -EQ 'Export-MocKey')
            $exports.Count | Should -Be $SourceKeys.Count
            foreach ($k in $SourceKeys) {
                $c = (Get-OneCall $exports 'Export-MocKey' $k.Name).Parameters
                $c['wrappingKeyName'] | Should -BeExactly $Wrap
                $c['wrappingPubKeyFile'] | Should -BeExactly $Pem
                @($c['size'], $c['group'], $c['keyvaultName']) | Should -BeExactly @("$($k.Size)", $Group, $Vault)
            }
            @($BackupCalls | Where-Object Command -In 'New-MocKey', 'Import-MocKey', 'Remove-MocKey') | Should -BeNullOrEmpty
        }
    }

    It 'Import-TVMKeys -WrappingKeyName w imports every key of the backup into B' {
        $r = Assert-Clean $ImportRun
        $restores = @(Get-OfType $r.Output TvmKeyRestore)
        $restores.Count | Should -Be $SourceKeys.Count
        foreach ($k in $restores) { "$($k.Outcome)" | Should -Be 'Imported' -Because "key $($k.Name)" }
        (Get-OrdinalSorted @($restores | ForEach-Object Name)) | Should -BeExactly (Get-OrdinalSorted @($SourceKeys | ForEach-Object { $_.Name }))
    }

    if ($Kind -eq 'MOC') {
        It 'on MOC every key is imported with Import-MocKey -wrappingKeyName w, its type and size, from its key file' {
            $imports = @($ImportCalls | Where-Object Command -EQ 'Import-MocKey')
            $imports.Count | Should -Be $SourceKeys.Count
            foreach ($k in $SourceKeys) {
                $c = (Get-OneCall $imports 'Import-MocKey' $k.Name).Parameters
                $c['wrappingKeyName'] | Should -BeExactly $Wrap
                @($c['type'], $c['size'], $c['group'], $c['keyvaultName']) | Should -BeExactly @($k.Type, "$($k.Size)", $Group, $Vault)
                $c['importKeyFile'] | Should -BeExactly ([IO.Path]::Combine($Backup.Path, $k.Type, "$($k.Name)_$($k.Size).json"))
            }
            @($ImportCalls | Where-Object Command -In 'New-MocKey', 'Remove-MocKey', 'Export-MocKey') | Should -BeNullOrEmpty -Because 'B held only w, which a pre-restore backup leaves out'
        }
    }

    It 'every key of A is in B and the same: names, types, sizes, RSA public keys and key material' {
        $AKeys.Count | Should -Be $SourceKeys.Count
        $BKeys | Should -BeExactly (Get-OrdinalSorted (@($AKeys) + "$Wrap RSA 2048"))
        @($APublic.Keys).Count | Should -Be 2
        foreach ($name in $APublic.Keys) {
            $APublic[$name] | Should -Not -BeNullOrEmpty -Because "RSA key $name has a public key to compare"
            $BPublic[$name] | Should -BeExactly $APublic[$name] -Because "RSA key $name must not differ between A and B"
        }
        $AMaterial.Count | Should -Be $SourceKeys.Count
        foreach ($name in $AMaterial.Keys) {
            $BMaterial.ContainsKey($name) | Should -BeTrue -Because "key $name is in B"
            [Convert]::ToHexString($BMaterial[$name]) | Should -BeExactly ([Convert]::ToHexString($AMaterial[$name])) -Because "key $name must not differ between A and B"
        }
        [Convert]::ToHexString($BMaterial[$Wrap]) | Should -BeExactly ([Convert]::ToHexString($BWrapMaterial)) -Because 'w is the key New-TvmWrappingKey made'
    }

    It 'no private key left a vault: no file under the work folder, the vaults'' own folders left out, holds a PRIVATE KEY PEM or w''s private key' {
        $files = @(Get-FilesOutside $Work @($A.Root, $B.Root))
        # w.pem, the backup's key files and manifest, the pre-restore backup's manifest.
        $files.Count | Should -BeGreaterOrEqual ($SourceKeys.Count + 3)
        $files | Should -Contain $Pem
        @(Find-PrivatePem $files) | Should -BeNullOrEmpty
        $forms = Get-SecretForms $BWrapMaterial
        @(Find-Secret $files $forms) | Should -BeNullOrEmpty
        # The checks find what they look for where it is.
        @(Find-PrivatePem @($CheckPrivate)) | Should -BeExactly @($CheckPrivate)
        $planted = Join-Path $CheckDir 'planted.txt'
        [IO.File]::WriteAllText($planted, "x $(ConvertTo-Base64Url $BWrapMaterial) x")
        @(Find-Secret @($planted) $forms).Count | Should -Be 1
    }

    It 'Remove-TvmWrappingKey -WhatIf outputs nothing and keeps w; -Confirm:$false -PassThru removes it and outputs a TvmWrappingKey with Outcome Removed' {
        Enter-Vault $B
        Clear-MocStandInCall
        $p = $B.Params
        $whatIf = Assert-Clean (Invoke-Captured { Remove-TvmWrappingKey -KeyName $Wrap -WhatIf -PassThru @p })
        $whatIf.Output | Should -BeNullOrEmpty
        Get-KeyList $B | Should -Contain "$Wrap RSA 2048"
        @(Get-StandInCall | Where-Object Command -EQ 'Remove-MocKey') | Should -BeNullOrEmpty

        $r = Assert-Clean (Invoke-Captured { Remove-TvmWrappingKey -KeyName $Wrap -Confirm:$false -PassThru @p })

        $o = @(Get-OfType $r.Output TvmWrappingKey)
        $o.Count | Should -Be 1
        @($o[0].Name, $o[0].Type, $o[0].Size, $o[0].Outcome) | Should -Be @($Wrap, 'RSA', 2048, 'Removed')
        Get-KeyList $B | Should -BeExactly $AKeys -Because 'B holds the keys of A and nothing else'
        if ($Kind -eq 'MOC') {
            $removes = @(Get-StandInCall | Where-Object Command -EQ 'Remove-MocKey')
            $removes.Count | Should -Be 1
            $removes[0].Parameters['name'] | Should -BeExactly $Wrap
        }
    }
}

Describe 'New-TvmWrappingKey -InVault on a <Kind> vault' -ForEach $Kinds {
    BeforeEach {
        Clear-TvmVaultPath
        $work = New-TestFolder "invault-$Kind"
        $ctx = New-VaultContext $Kind (Join-Path $work $(if ($Kind -eq 'MOC') { 'cluster' } else { 'vault' }))
        Enter-Vault $ctx
        Add-Key $ctx @('vm1')
        Clear-MocStandInCall
        $p = $ctx.Params
        $pem = Join-Path $work 'w.pem'
        $before = Get-FolderState $ctx.Root
    }
    AfterEach { Restore-TvmVaultPath }

    It '-KeySize 3072 makes an RSA-3072 key in the vault and writes its 3072-bit public key' {
        $r = Assert-Clean (Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w3072 -PublicKeyPath $pem -KeySize 3072 @p })

        $o = @(Get-OfType $r.Output TvmWrappingKeyFiles)[0]
        $o.KeySize | Should -Be 3072
        $der = Assert-PublicKeyFile $pem 3072
        $o.Fingerprint | Should -BeExactly (Get-PublicFingerprint $der)
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256', 'w3072 RSA 3072')
        if ($Kind -eq 'MOC') {
            (Get-OneCall @(Get-StandInCall) 'New-MocKey' 'w3072').Parameters['size'] | Should -BeExactly '3072'
        }
    }

    It 'a name the vault holds is terminating KeyExists (ResourceExists): no public key file, the vault unchanged' {
        $r = Invoke-Captured { New-TvmWrappingKey -InVault -KeyName vm1 -PublicKeyPath $pem @p }

        $null = Assert-TvmTerminating $r KeyExists ResourceExists
        $r.Output | Should -BeNullOrEmpty
        [IO.File]::Exists($pem) | Should -BeFalse
        Assert-VaultUnchanged $ctx $before
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256')
    }

    It 'a public key file that exists, without -Force, is terminating WrappingKeyFileExists: the file and the vault unchanged; with -Force it is replaced' {
        [IO.File]::WriteAllText($pem, 'keep me')

        $r = Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w -PublicKeyPath $pem @p }

        $null = Assert-TvmTerminating $r WrappingKeyFileExists ResourceExists
        [IO.File]::ReadAllText($pem) | Should -BeExactly 'keep me'
        Assert-VaultUnchanged $ctx $before
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256')

        $forced = Assert-Clean (Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w -PublicKeyPath $pem -Force @p })

        $o = @(Get-OfType $forced.Output TvmWrappingKeyFiles)[0]
        $o.Fingerprint | Should -BeExactly (Get-PublicFingerprint (Assert-PublicKeyFile $pem 2048))
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256', 'w RSA 2048')
    }

    It '-KeyName AzureStackTvmAKRootKey is terminating InvalidKeyName: no public key file, the vault unchanged' {
        $r = Invoke-Captured { New-TvmWrappingKey -InVault -KeyName AzureStackTvmAKRootKey -PublicKeyPath $pem @p }

        $null = Assert-TvmTerminating $r InvalidKeyName InvalidArgument
        [IO.File]::Exists($pem) | Should -BeFalse
        Assert-VaultUnchanged $ctx $before
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256')
    }

    It '-WhatIf writes nothing: no public key file, no key in the vault' {
        $r = Assert-Clean (Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w -PublicKeyPath $pem -WhatIf @p })

        $r.Output | Should -BeNullOrEmpty
        [IO.File]::Exists($pem) | Should -BeFalse
        @([IO.Directory]::GetFileSystemEntries($work) | ForEach-Object { [IO.Path]::GetFileName($_) }) | Should -BeExactly @([IO.Path]::GetFileName($ctx.Root))
        Assert-VaultUnchanged $ctx $before
        Get-KeyList $ctx | Should -BeExactly @('vm1 AES 256')
    }

    if ($Kind -eq 'local') {
        It '-WhatIf with a -VaultPath that does not exist creates no vault folder' {
            $newVault = Join-Path $work 'new-vault'

            $r = Assert-Clean (Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w -PublicKeyPath $pem -VaultPath $newVault -WhatIf })

            $r.Output | Should -BeNullOrEmpty
            [IO.Directory]::Exists($newVault) | Should -BeFalse
            [IO.File]::Exists($pem) | Should -BeFalse
            # Without -WhatIf the same command creates it (so the check above could fail).
            $null = Assert-Clean (Invoke-Captured { New-TvmWrappingKey -InVault -KeyName w -PublicKeyPath $pem -VaultPath $newVault })
            @(Get-TvmVaultKey -VaultPath $newVault | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size)" }) | Should -BeExactly @('w RSA 2048')
        }
    }
}

Describe 'New-TvmWrappingKey with key files and a vault parameter' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'New-TvmWrappingKey a.pem b.pem -VaultPath x (the key files set) is terminating VaultParameterWithoutInVault, and writes no file and no vault' {
        $work = New-TestFolder 'files-vault'
        $public = Join-Path $work 'a.pem'
        $private = Join-Path $work 'b.pem'
        $vault = Join-Path $work 'x'

        $r = Invoke-Captured { New-TvmWrappingKey $public $private -VaultPath $vault }

        $null = Assert-TvmTerminating $r VaultParameterWithoutInVault InvalidArgument
        $r.Output | Should -BeNullOrEmpty
        @([IO.Directory]::GetFileSystemEntries($work)) | Should -BeNullOrEmpty -Because 'neither PEM file nor the vault folder is written'
    }
}

Describe 'Backup-TVMKeys -WrappingKeyName on a <Kind> vault' -ForEach $Kinds {
    BeforeEach {
        Clear-TvmVaultPath
        $work = New-TestFolder "wkname-$Kind"
        $ctx = New-VaultContext $Kind (Join-Path $work $(if ($Kind -eq 'MOC') { 'cluster' } else { 'vault' }))
        Enter-Vault $ctx
        Add-Key $ctx @('vm1', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        Clear-MocStandInCall
        $p = $ctx.Params
        $pub = (Copy-VectorKeyPair (Join-Path $work 'keys')).Public
        $root = Join-Path $work 'backups'
    }
    AfterEach { Restore-TvmVaultPath }

    It 'every key file''s private-key-wrapping-info.key-name is the -WrappingKeyName given; without it, ""' {
        $named = Get-SingleBackup (Assert-Clean (Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $root -WrappingKeyName TvmWrapB @p })).Output
        $namedCalls = @(Get-StandInCall -Command 'Export-MocKey')
        Clear-MocStandInCall
        $plainRoot = Join-Path $work 'plain-backups'
        $plain = Get-SingleBackup (Assert-Clean (Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $pub -BackupRootPath $plainRoot @p })).Output
        $plainCalls = @(Get-StandInCall -Command 'Export-MocKey')

        $files = @(Get-BackupKeyFiles $named.Path)
        $files.Count | Should -Be 2
        foreach ($f in $files) { $f.Json.'private-key-wrapping-info'.'key-name' | Should -BeExactly 'TvmWrapB' -Because $f.File }
        $files = @(Get-BackupKeyFiles $plain.Path)
        $files.Count | Should -Be 2
        foreach ($f in $files) { $f.Json.'private-key-wrapping-info'.'key-name' | Should -BeExactly '' -Because "$($f.File) (docs/format.md section 2)" }
        if ($Kind -eq 'MOC') {
            $namedCalls.Count | Should -Be 2
            foreach ($c in $namedCalls) {
                $c.Parameters['wrappingKeyName'] | Should -BeExactly 'TvmWrapB' -Because (Format-Call $c)
                $c.Parameters['wrappingPubKeyFile'] | Should -BeExactly $pub
            }
            $plainCalls.Count | Should -Be 2
            foreach ($c in $plainCalls) { $c.Parameters.Contains('wrappingKeyName') | Should -BeFalse -Because "$(Format-Call $c): the original's call has no -wrappingKeyName" }
        }
    }

    It 'a -WrappingKeyName equal to a key of the vault (<_>) is terminating KeyNamedLikeWrappingKey, and writes no backup' -ForEach @('vm1', 'VM1', 'azurestacktvmakrootkey') {
        $name = $_
        $before = Get-FolderState $ctx.Root

        $r = Invoke-Captured { Backup-TVMKeys $pub $root -WrappingKeyName $name @p }

        $null = Assert-TvmTerminating $r KeyNamedLikeWrappingKey InvalidArgument
        $r.Output | Should -BeNullOrEmpty
        [IO.Directory]::Exists($root) | Should -BeFalse -Because 'no backup folder, partial or complete, is written'
        Assert-VaultUnchanged $ctx $before
    }
}

Describe 'Import-TvmWrappingKeyFromPem outcomes on a local vault' {
    BeforeAll {
        Clear-TvmVaultPath
        $PairDir = New-TestFolder 'pairs'
        $Pair1 = New-TvmWrappingKey (Join-Path $PairDir 'p1.pem') (Join-Path $PairDir 'k1.pem') -ErrorAction Stop 6>$null
        $Pair2 = New-TvmWrappingKey (Join-Path $PairDir 'p2.pem') (Join-Path $PairDir 'k2.pem') -ErrorAction Stop 6>$null
        $Pair1.Fingerprint | Should -Not -Be $Pair2.Fingerprint
    }
    AfterAll { Restore-TvmVaultPath }

    BeforeEach {
        $vault = Join-Path (New-TestFolder 'wrapimport') 'v'
        $pub1 = $Pair1.PublicKeyPath; $priv1 = $Pair1.PrivateKeyPath
        $pub2 = $Pair2.PublicKeyPath; $priv2 = $Pair2.PrivateKeyPath
    }

    It 'a new name: a TvmWrappingKey with Outcome Imported, the pair''s fingerprint, and the key in the vault' {
        $r = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 -VaultPath $vault })

        $o = @(Get-OfType $r.Output TvmWrappingKey)
        $o.Count | Should -Be 1
        @($o[0].Name, $o[0].Type, $o[0].Size, $o[0].Outcome, $o[0].Fingerprint) | Should -Be @('wk', 'RSA', 2048, 'Imported', $Pair1.Fingerprint)
        $r.Warnings | Should -BeNullOrEmpty
        @(Get-TvmVaultKey -VaultPath $vault | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size) $($_.Fingerprint)" }) | Should -BeExactly @("wk RSA 2048 $($Pair1.Fingerprint)")
    }

    It 'the same pair again: Outcome Exists, a warning, and the vault''s key file unchanged' {
        $null = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 -VaultPath $vault })
        $file = Get-VaultKeyFile $vault 'wk'
        $bytes = [Convert]::ToBase64String([IO.File]::ReadAllBytes($file))
        $ticks = [IO.File]::GetLastWriteTimeUtc($file).Ticks
        $snapshot = Get-VaultSnapshot $vault

        $r = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 -VaultPath $vault })

        $o = @(Get-OfType $r.Output TvmWrappingKey)
        $o.Count | Should -Be 1
        @($o[0].Name, $o[0].Outcome, $o[0].Fingerprint) | Should -Be @('wk', 'Exists', $Pair1.Fingerprint)
        @($r.Warnings).Count | Should -Be 1
        $r.Warnings[0] | Should -BeLike '*wk*'
        [Convert]::ToBase64String([IO.File]::ReadAllBytes($file)) | Should -BeExactly $bytes
        [IO.File]::GetLastWriteTimeUtc($file).Ticks | Should -Be $ticks
        ((Get-VaultSnapshot $vault).Keys -join ',') | Should -BeExactly ($snapshot.Keys -join ',')
        @($r.Host | Where-Object { $_ -like 'Generating import JSON*' }) | Should -BeNullOrEmpty -Because 'no import file is written for a key the vault holds'
    }

    It 'another key pair under the same name is terminating WrappingKeyConflict (ResourceExists), and the vault unchanged' {
        $null = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 -VaultPath $vault })
        $before = Get-FolderState $vault

        $r = Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub2 $priv2 2048 -VaultPath $vault }

        $null = Assert-TvmTerminating $r WrappingKeyConflict ResourceExists
        $r.Output | Should -BeNullOrEmpty
        Assert-VaultUnchanged (New-VaultContext 'local' $vault) $before
        @(Get-TvmVaultKey -VaultPath $vault | ForEach-Object { "$($_.Name) $($_.Fingerprint)" }) | Should -BeExactly @("wk $($Pair1.Fingerprint)")
    }
}

Describe 'Import-TvmWrappingKeyFromPem outcomes on the stand-in MOC vault' {
    BeforeAll {
        Clear-TvmVaultPath
        $PairDir = New-TestFolder 'moc-pairs'
        $Pair1 = New-TvmWrappingKey (Join-Path $PairDir 'p1.pem') (Join-Path $PairDir 'k1.pem') -ErrorAction Stop 6>$null
        $Pair2 = New-TvmWrappingKey (Join-Path $PairDir 'p2.pem') (Join-Path $PairDir 'k2.pem') -ErrorAction Stop 6>$null
    }
    AfterAll { Restore-TvmVaultPath }

    It 'Imported, then Exists for the same pair and WrappingKeyConflict for another, neither making an Import-MocKey call' {
        $ctx = New-VaultContext 'MOC' (Join-Path (New-TestFolder 'moc-wrapimport') 'cluster')
        Set-StandInCluster -StateRoot $ctx.Root
        $pub1 = $Pair1.PublicKeyPath; $priv1 = $Pair1.PrivateKeyPath
        $pub2 = $Pair2.PublicKeyPath; $priv2 = $Pair2.PrivateKeyPath

        $first = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 })
        @(Get-OfType $first.Output TvmWrappingKey | ForEach-Object Outcome) | Should -Be @('Imported')
        @(Get-StandInCall -Command 'Import-MocKey').Count | Should -Be 1
        $before = Get-FolderState $ctx.Root
        Clear-MocStandInCall

        $again = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub1 $priv1 2048 })
        $conflict = Invoke-Captured { Import-TvmWrappingKeyFromPem wk $pub2 $priv2 2048 }

        @(Get-OfType $again.Output TvmWrappingKey | ForEach-Object Outcome) | Should -Be @('Exists')
        @($again.Warnings).Count | Should -Be 1
        $null = Assert-TvmTerminating $conflict WrappingKeyConflict ResourceExists
        Assert-VaultUnchanged $ctx $before -Writes @('New-MocKey', 'Import-MocKey', 'Remove-MocKey')
        @(Get-MocKey -group $Group -keyvaultName $Vault | ForEach-Object name) | Should -BeExactly @('wk')
    }
}
