# Bad arguments to the two PEM commands (New-TvmImportJson / Generate-ImportJsonFromPEM and
# Import-TvmWrappingKeyFromPem), and a bad wrapping public key PEM for Backup-TVMKeys -WrappingKeyPath: a terminating
# error with a stable ErrorId and category, a message that names the input, and nothing written (no out file, no key
# in the vault, nothing in the backup root, no temporary file).
# Moved from the xunit class BadInputTests (the PEM files of more than one block or with text after the END line,
# and the Backup-TVMKeys cases, are new).
#
# The engine writes its temporary import file in the temp folder of the native environment, which $env:TMPDIR set
# here does not reach: the commands whose temp folder is checked run in a new pwsh (Invoke-InNewPwsh) with TMPDIR
# pointing at a private, empty folder, and the test looks at that folder when the process has ended.
BeforeDiscovery {
    $script:BadPemCases = foreach ($command in 'ImportJson', 'WrappingKey') {
        foreach ($case in 'missing-public', 'missing-private', 'public-is-a-private-key', 'private-is-a-public-key',
            'public-not-pem', 'ec-private', 'ec-public', 'encrypted-private', 'mismatched-public',
            'public-two-blocks', 'private-two-blocks', 'public-text-after-end', 'private-text-after-end') {
            @{ Command = $command; Case = $case }
        }
    }
    $script:RefusedVectors = @(
        @{ Command = 'ImportJson'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'encrypted_private_pkcs8.pem'; Culprit = 'encrypted_private_pkcs8.pem'; ErrorId = 'PemEncrypted' }
        @{ Command = 'ImportJson'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'ec_private_sec1.pem'; Culprit = 'ec_private_sec1.pem'; ErrorId = 'PemInvalid' }
        @{ Command = 'ImportJson'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'ec_private_pkcs8.pem'; Culprit = 'ec_private_pkcs8.pem'; ErrorId = 'PemInvalid' }
        @{ Command = 'ImportJson'; PublicFile = 'other_public_pkcs1.pem'; PrivateFile = 'wrapping_private_pkcs8.pem'; Culprit = 'other_public_pkcs1.pem'; ErrorId = 'KeyPairMismatch' }
        @{ Command = 'WrappingKey'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'encrypted_private_pkcs8.pem'; Culprit = 'encrypted_private_pkcs8.pem'; ErrorId = 'PemEncrypted' }
        @{ Command = 'WrappingKey'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'ec_private_sec1.pem'; Culprit = 'ec_private_sec1.pem'; ErrorId = 'PemInvalid' }
        @{ Command = 'WrappingKey'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'ec_private_pkcs8.pem'; Culprit = 'ec_private_pkcs8.pem'; ErrorId = 'PemInvalid' }
        @{ Command = 'WrappingKey'; PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'other_private_pkcs8.pem'; Culprit = 'other_private_pkcs8.pem'; ErrorId = 'KeyPairMismatch' }
    )
    # Wrapping public key files for Backup-TVMKeys -WrappingKeyPath that are not one PEM block ending the file (the
    # keys of tests/vectors, whose files have no final newline), with the words of the message.
    $script:BadWrappingPems = @(
        @{ Case = 'two public keys concatenated'; Words = "it holds more than one PEM block ('RSA PUBLIC KEY', then 'RSA PUBLIC KEY')" }
        @{ Case = 'the same public key twice'; Words = 'it holds more than one PEM block' }
        @{ Case = 'an SPKI public key, then a PKCS#1 one'; Words = "it holds more than one PEM block ('PUBLIC KEY', then 'RSA PUBLIC KEY')" }
        @{ Case = 'two public keys concatenated, CRLF line ends'; Words = 'it holds more than one PEM block' }
        @{ Case = 'two public keys concatenated, UTF-16LE'; Words = 'it holds more than one PEM block' }
        @{ Case = 'two public keys whose files have no final newline, concatenated'; Words = 'is not a PEM key file' }
        @{ Case = 'a line of text after the END line'; Words = 'it has text after its -----END RSA PUBLIC KEY----- line' }
        @{ Case = 'text without a final newline after the END line'; Words = 'it has text after its -----END RSA PUBLIC KEY----- line' }
        @{ Case = 'a comment line after the END line of an SPKI public key'; Words = 'it has text after its -----END PUBLIC KEY----- line' }
    )
    # 1024 and abc are not sizes the vault takes; 4096 and 3072 are not the size of the 2048-bit key; PowerShell
    # itself refuses an empty string for a mandatory [string] parameter.
    $script:BadKeySizes = @(
        @{ KeySize = '1024'; ErrorId = 'InvalidKeySize' }
        @{ KeySize = 'abc'; ErrorId = 'InvalidKeySize' }
        @{ KeySize = '4096'; ErrorId = 'KeySizeMismatch' }
        @{ KeySize = '3072'; ErrorId = 'KeySizeMismatch' }
        @{ KeySize = ''; ErrorId = $null }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    # The categories the contract pairs with the ErrorIds of these tests (src/error.rs, docs/abi.md).
    $script:CategoryOf = @{
        FileMissing = 'ObjectNotFound'
        PemInvalid = 'InvalidData'
        PemEncrypted = 'NotImplemented'
        KeyPairMismatch = 'SecurityError'
        InvalidKeySize = 'InvalidArgument'
        KeySizeMismatch = 'InvalidArgument'
    }

    # The key pairs shared by the file (RSA key generation costs time): the wrapping key and a second, unrelated
    # one, RSA-2048 made with .NET.
    # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
    $script:Wrapping = New-TestRsa 2048
    $script:Other = New-TestRsa 2048

    # An EC key (P-256) written as PEM to -Path: its private key (PKCS#8), or its public key (SPKI); returns the path.
    # Under Wine .NET's ECDsa is CNG as well (see New-TestRsa): there the key is the P-256 fixture of tests/vectors,
    # and its public key is taken out of that PKCS#8 file with the managed ASN.1 reader.
    function Write-EcPem([string] $Path, [switch] $Public) {
        if (Test-UnderWine) {
            $pem = [IO.File]::ReadAllText((Get-TestVector 'ec_private_pkcs8.pem')).TrimEnd()
            if ($Public) { $pem = ConvertTo-EcPublicPem $pem }
            [IO.File]::WriteAllText($Path, $pem + "`n")
            return $Path
        }
        $ec = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        try {
            [IO.File]::WriteAllText($Path, $(if ($Public) { $ec.ExportSubjectPublicKeyInfoPem() } else { $ec.ExportPkcs8PrivateKeyPem() }) + "`n")
        } finally {
            $ec.Dispose()
        }
        $Path
    }

    # The files of -Case under -Folder: Public and Private to pass, Culprit (the bad one), Id (the ErrorId) and, for
    # the cases whose ErrorId alone does not tell why, Words (of the message).
    function New-BadPemCase([string] $Case, [string] $Folder) {
        $dir = Join-Path $Folder 'pem'
        $words = $null
        $pair = Write-KeyPair $Wrapping $dir
        $pub = $pair.Public
        $priv = $pair.Private
        switch ($Case) {
            'missing-public' { $pub = Join-Path $dir 'no-such-public.pem'; $culprit = $pub; $id = 'FileMissing' }
            'missing-private' { $priv = Join-Path $dir 'no-such-private.pem'; $culprit = $priv; $id = 'FileMissing' }
            'public-is-a-private-key' { $pub = $priv; $culprit = $pub; $id = 'PemInvalid' }
            'private-is-a-public-key' { $priv = $pub; $culprit = $priv; $id = 'PemInvalid' }
            'public-not-pem' {
                $pub = Join-Path $dir 'garbage-public.pem'
                [IO.File]::WriteAllText($pub, "this is not a PEM file`n")
                $culprit = $pub; $id = 'PemInvalid'
            }
            'ec-private' { $priv = Write-EcPem (Join-Path $dir 'ec-private.pem'); $culprit = $priv; $id = 'PemInvalid' }
            'ec-public' { $pub = Write-EcPem (Join-Path $dir 'ec-public.pem') -Public; $culprit = $pub; $id = 'PemInvalid' }
            'encrypted-private' {
                $priv = Join-Path $dir 'encrypted-private.pem'
                $pbe = [System.Security.Cryptography.PbeParameters]::new([System.Security.Cryptography.PbeEncryptionAlgorithm]::Aes256Cbc,
                    [System.Security.Cryptography.HashAlgorithmName]::SHA256, 10000)
                [IO.File]::WriteAllText($priv, $Wrapping.ExportEncryptedPkcs8PrivateKeyPem([char[]]'p@ss', $pbe) + "`n")
                $culprit = $priv; $id = 'PemEncrypted'
            }
            'mismatched-public' { $pub = (Write-KeyPair $Other (Join-Path $Folder 'other')).Public; $culprit = $pub; $id = 'KeyPairMismatch' }
            'public-two-blocks' {
                $pub = Join-Path $dir 'two-public.pem'
                [IO.File]::WriteAllText($pub, $Wrapping.ExportRSAPublicKeyPem() + "`n" + $Other.ExportRSAPublicKeyPem() + "`n")
                $culprit = $pub; $id = 'PemInvalid'; $words = 'it holds more than one PEM block'
            }
            'private-two-blocks' {
                $priv = Join-Path $dir 'two-private.pem'
                [IO.File]::WriteAllText($priv, $Wrapping.ExportPkcs8PrivateKeyPem() + "`n" + $Other.ExportPkcs8PrivateKeyPem() + "`n")
                $culprit = $priv; $id = 'PemInvalid'; $words = 'it holds more than one PEM block'
            }
            'public-text-after-end' {
                $pub = Join-Path $dir 'public-and-text.pem'
                [IO.File]::WriteAllText($pub, $Wrapping.ExportRSAPublicKeyPem() + "`nthis is not part of the key`n")
                $culprit = $pub; $id = 'PemInvalid'; $words = 'it has text after its -----END RSA PUBLIC KEY----- line'
            }
            'private-text-after-end' {
                $priv = Join-Path $dir 'private-and-text.pem'
                [IO.File]::WriteAllText($priv, $Wrapping.ExportPkcs8PrivateKeyPem() + "`nthis is not part of the key`n")
                $culprit = $priv; $id = 'PemInvalid'; $words = 'it has text after its -----END PRIVATE KEY----- line'
            }
            default { throw "unknown case $Case" }
        }
        [pscustomobject]@{ Public = $pub; Private = $priv; Culprit = $culprit; Id = $id; Words = $words }
    }

    # A test folder (Folder) with a vault (Vault) holding one AES key, made before the command runs (Before: the
    # snapshot of its files), an empty Tmp folder (the new pwsh's TMPDIR), Out, an import file in an empty folder, and
    # Root, an empty backup root.
    function New-BadInputFolder {
        $folder = New-TestFolder
        $vault = Join-Path $folder 'vault'
        $null = New-TvmVaultKey -Name existing -Type AES -Size 256 -VaultPath $vault -ErrorAction Stop
        $before = Get-VaultSnapshot $vault
        $before.Count | Should -Be 1 -Because 'the vault is seeded with one key'
        $work = [pscustomobject]@{ Folder = $folder; Vault = $vault; Before = $before; Tmp = (Join-Path $folder 'tmp'); Out = [IO.Path]::Combine($folder, 'out', 'import.json'); Root = (Join-Path $folder 'backups') }
        $null = New-Item -ItemType Directory -Path $work.Tmp, (Join-Path $folder 'out'), $work.Root
        $work
    }

    # The wrapping public key file of the Backup-TVMKeys case -Case (see $BadWrappingPems) under -Folder, made of the
    # PEM files of tests/vectors (which have no final newline); returns its path.
    function New-BadWrappingPem([string] $Case, [string] $Folder) {
        $wrapping = [IO.File]::ReadAllText((Get-TestVector 'wrapping_public_pkcs1.pem'))
        $other = [IO.File]::ReadAllText((Get-TestVector 'other_public_pkcs1.pem'))
        $spki = [IO.File]::ReadAllText((Get-TestVector 'wrapping_public_spki.pem')).TrimEnd()
        $path = Join-Path $Folder 'wrapping-public.pem'
        switch ($Case) {
            'two public keys concatenated' { [IO.File]::WriteAllText($path, "$wrapping`n$other`n") }
            'the same public key twice' { [IO.File]::WriteAllText($path, "$wrapping`n$wrapping`n") }
            'an SPKI public key, then a PKCS#1 one' { [IO.File]::WriteAllText($path, "$spki`n$wrapping`n") }
            'two public keys concatenated, CRLF line ends' { [IO.File]::WriteAllText($path, "$wrapping`n$other`n".Replace("`n", "`r`n")) }
            'two public keys concatenated, UTF-16LE' { [IO.File]::WriteAllText($path, "$wrapping`n$other`n", [Text.Encoding]::Unicode) }
            'two public keys whose files have no final newline, concatenated' { [IO.File]::WriteAllText($path, "$wrapping$other") }
            'a line of text after the END line' { [IO.File]::WriteAllText($path, "$wrapping`nthis is not part of the key`n") }
            'text without a final newline after the END line' { [IO.File]::WriteAllText($path, "$wrapping`njunk") }
            'a comment line after the END line of an SPKI public key' { [IO.File]::WriteAllText($path, "$spki`n# the wrapping key`n") }
            default { throw "unknown case $Case" }
        }
        $path
    }

    # Runs one of the commands (ImportJson: Generate-ImportJsonFromPEM into -Work's Out; WrappingKey:
    # Import-TvmWrappingKeyFromPem w into its vault; Backup: Backup-TVMKeys -WrappingKeyPath -Public of its vault into
    # its Root) in a new pwsh without TVM_VAULT_PATH and with its Tmp as TMPDIR.
    function Invoke-PemCommand([string] $Command, $Work, [string] $Public, [string] $Private, [string] $KeySize = '2048') {
        $body = switch ($Command) {
            'ImportJson' { 'Generate-ImportJsonFromPEM $Public $Private $Out' }
            'WrappingKey' { 'Import-TvmWrappingKeyFromPem w $Public $Private $KeySize -VaultPath $Vault' }
            'Backup' { 'Backup-TVMKeys -WrappingKeyPath $Public -BackupRootPath $Root -VaultPath $Vault' }
            default { throw "unknown command $Command" }
        }
        Invoke-InNewPwsh -Body $body -Variables @{ Public = $Public; Private = $Private; Out = $Work.Out; Vault = $Work.Vault; KeySize = $KeySize; Root = $Work.Root } `
            -Environment @{ TMPDIR = $Work.Tmp + [IO.Path]::DirectorySeparatorChar; TVM_VAULT_PATH = $null }
    }

    # Nothing written by the run -Result in the test folder -Work: no -OutFile (and nothing else in its folder), the
    # vault's files as they were and no key w, and nothing left in the private temp folder.
    function Assert-NothingWritten($Work, $Result, [string] $OutFile) {
        if ($OutFile) {
            Test-Path -LiteralPath $OutFile | Should -BeFalse -Because "$OutFile is not written: $(Format-Captured $Result)"
            @(Get-ChildItem -LiteralPath ([IO.Path]::GetDirectoryName($OutFile)) -Force).Count | Should -Be 0 -Because 'nothing is left next to the out file'
        }
        $after = Get-VaultSnapshot $Work.Vault
        @($after.Keys) | Should -Be @($Work.Before.Keys)
        foreach ($name in $Work.Before.Keys) { $after[$name] | Should -Be $Work.Before[$name] -Because "$name is unchanged" }
        Test-Path -LiteralPath (Get-VaultKeyFile $Work.Vault 'w') | Should -BeFalse -Because 'no key w is in the vault'
        $leftovers = @(Get-ChildItem -LiteralPath $Work.Tmp -Recurse -Force | ForEach-Object FullName)
        $leftovers | Should -BeNullOrEmpty -Because "nothing is left in the temp folder: $(Format-Captured $Result)"
    }
}

Describe 'Bad PEM input' {
    It '<Command> with <Case> is a terminating error naming the file, and writes nothing' -ForEach $BadPemCases {
        $w = New-BadInputFolder
        $bad = New-BadPemCase $Case $w.Folder

        $r = Invoke-PemCommand $Command $w $bad.Public $bad.Private

        $null = Assert-TvmTerminating $r $bad.Id $CategoryOf[$bad.Id]
        Get-ErrorText $r.Terminating | Should -BeLike "*$([IO.Path]::GetFileName($bad.Culprit))*"
        if ($bad.Words) { (Get-ErrorText $r.Terminating).Contains($bad.Words) | Should -BeTrue -Because "the message says '$($bad.Words)': $(Get-ErrorText $r.Terminating)" }
        Assert-NothingWritten $w $r $w.Out
    }

    It '<Command> with the vectors <PublicFile> and <PrivateFile> is a terminating <ErrorId> naming <Culprit>, and writes nothing' -ForEach $RefusedVectors {
        $w = New-BadInputFolder

        $r = Invoke-PemCommand $Command $w (Get-TestVector $PublicFile) (Get-TestVector $PrivateFile)

        $null = Assert-TvmTerminating $r $ErrorId $CategoryOf[$ErrorId]
        Get-ErrorText $r.Terminating | Should -BeLike "*$Culprit*"
        Assert-NothingWritten $w $r $(if ($Command -eq 'ImportJson') { $w.Out })
    }
}

Describe 'Backup-TVMKeys with a bad wrapping public key PEM' {
    It '-WrappingKeyPath of <Case> is a terminating PemInvalid naming the file, and writes nothing in the backup root' -ForEach $BadWrappingPems {
        $w = New-BadInputFolder
        $pem = New-BadWrappingPem $Case $w.Folder

        $r = Invoke-PemCommand Backup $w $pem $null

        $null = Assert-TvmTerminating $r PemInvalid InvalidData
        $message = Get-ErrorText $r.Terminating
        $message | Should -BeLikeExactly "*The wrapping key file '$pem' is not a PEM key file*"
        $message.Contains($Words) | Should -BeTrue -Because "the message says '$Words': $message"
        @(Get-ChildItem -LiteralPath $w.Root -Force -Recurse).Count | Should -Be 0 -Because "nothing is written in the backup root: $(Format-Captured $r)"
        Assert-NothingWritten $w $r
    }
}

Describe 'Import-TvmWrappingKeyFromPem' {
    It 'with KeySize ''<KeySize>'' is a terminating invalid-argument error naming it, and writes nothing' -ForEach $BadKeySizes {
        $w = New-BadInputFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $w.Folder 'pem')

        $r = Invoke-PemCommand WrappingKey $w $pair.Public $pair.Private -KeySize $KeySize

        if ($KeySize -eq '') {
            # PowerShell itself refuses an empty string for a mandatory [string] parameter
            $r.Threw | Should -BeTrue -Because (Format-Captured $r)
        } else {
            $null = Assert-TvmTerminating $r $ErrorId InvalidArgument
            $message = Get-ErrorText $r.Terminating
            ($message.Contains($KeySize) -or $message.Contains('KeySize')) | Should -BeTrue -Because "the message names the key size: $message"
        }
        Assert-NothingWritten $w $r
    }

    It 'with a missing public key file is a terminating FileMissing error that names the missing file' {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')
        $absent = Join-Path $folder 'pem' 'absent.pem'
        $vault = Join-Path $folder 'vault'
        $err = Get-TerminatingError { Import-TvmWrappingKeyFromPem w $absent $pair.Private '2048' -VaultPath $vault }
        $null = Assert-TvmTerminating $err FileMissing ObjectNotFound
        $message = Get-ErrorText $err
        $message.Contains($absent) | Should -BeTrue -Because "the message names $absent`: $message"
        Test-Path -LiteralPath (Get-VaultKeyFile $vault 'w') | Should -BeFalse
    }
}

# Inputs that once gave a silent wrong success (issue 12's sweep): each is now refused before anything is written.
Describe 'Inputs that must not succeed silently' {
    It 'Backup-TVMKeys to an RSA-1024 public key, which no vault can unwrap with, is InvalidKeySize and writes no backup' {
        $folder = New-TestFolder
        $small = Write-KeyPair (New-TestRsa 1024) (Join-Path $folder 'small')
        $vault = Join-Path $folder 'vault'
        $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $vault
        $root = Join-Path $folder 'backups'
        $err = Get-TerminatingError { Backup-TVMKeys -WrappingKeyPath $small.Public -BackupRootPath $root -VaultPath $vault }
        $null = Assert-TvmTerminating $err InvalidKeySize InvalidArgument
        (Get-ErrorText $err) | Should -Match 'RSA 1024'
        Test-Path -LiteralPath $root | Should -BeFalse
    }

    It 'New-TvmImportJson -OutFilePath equal to the private key file is InvalidPath, and the key file is unchanged' {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')
        $before = [IO.File]::ReadAllBytes($pair.Private)
        $err = Get-TerminatingError { New-TvmImportJson -PublicKeyPath $pair.Public -PrivateKeyPath $pair.Private -OutFilePath $pair.Private }
        $null = Assert-TvmTerminating $err InvalidPath InvalidArgument
        (Get-ErrorText $err) | Should -Match 'would destroy the key'
        [IO.File]::ReadAllBytes($pair.Private) | Should -Be $before
    }

    It 'New-TvmVaultKey -Name .hidden on a local vault is InvalidKeyName: such a key would be in no listing and no backup' {
        $vault = Join-Path (New-TestFolder) 'vault'
        $err = Get-TerminatingError { New-TvmVaultKey -Name '.hidden' -Type AES -Size 256 -VaultPath $vault }
        $null = Assert-TvmTerminating $err InvalidKeyName InvalidArgument
        @(Get-ChildItem -LiteralPath $vault -Recurse -Force -File -ErrorAction SilentlyContinue | Where-Object Name -Like '.hidden*').Count | Should -Be 0
    }
}
