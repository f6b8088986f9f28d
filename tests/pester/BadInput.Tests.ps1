# Bad arguments to the two PEM commands (New-TvmImportJson / Generate-ImportJsonFromPEM and
# Import-TvmWrappingKeyFromPem): a terminating error with a stable ErrorId and category, a message that names the
# input, and nothing written (no out file, no key in the vault, no temporary file).
# Moved from the xunit class BadInputTests.
#
# The engine writes its temporary import file in the temp folder of the native environment, which $env:TMPDIR set
# here does not reach: the commands whose temp folder is checked run in a new pwsh (Invoke-Pwsh) with TMPDIR
# pointing at a private, empty folder, and the test looks at that folder when the process has ended.
BeforeDiscovery {
    $script:BadPemCases = foreach ($command in 'ImportJson', 'WrappingKey') {
        foreach ($case in 'missing-public', 'missing-private', 'public-is-a-private-key', 'private-is-a-public-key',
            'public-not-pem', 'ec-private', 'ec-public', 'encrypted-private', 'mismatched-public') {
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
    $script:Wrapping = [System.Security.Cryptography.RSA]::Create(2048)
    $script:Other = [System.Security.Cryptography.RSA]::Create(2048)

    # Writes public.pem (PKCS#1) and private.pem (PKCS#8) of -Rsa into -Folder, UTF-8 and LF; returns their paths.
    function Write-KeyPair([System.Security.Cryptography.RSA] $Rsa, [string] $Folder) {
        $null = New-Item -ItemType Directory -Path $Folder -Force
        $public = Join-Path $Folder 'public.pem'
        $private = Join-Path $Folder 'private.pem'
        Write-PemFile -Path $public -Pem $Rsa.ExportRSAPublicKeyPem()
        Write-PemFile -Path $private -Pem $Rsa.ExportPkcs8PrivateKeyPem()
        [pscustomobject]@{ Public = $public; Private = $private }
    }

    # The files of -Case under -Folder: Public and Private to pass, Culprit (the bad one) and Ids (the ErrorIds
    # accepted).
    function New-BadPemCase([string] $Case, [string] $Folder) {
        $dir = Join-Path $Folder 'pem'
        $pair = Write-KeyPair $Wrapping $dir
        $pub = $pair.Public
        $priv = $pair.Private
        switch ($Case) {
            'missing-public' { $pub = Join-Path $dir 'no-such-public.pem'; $culprit = $pub; $ids = @('FileMissing') }
            'missing-private' { $priv = Join-Path $dir 'no-such-private.pem'; $culprit = $priv; $ids = @('FileMissing') }
            'public-is-a-private-key' { $pub = $priv; $culprit = $pub; $ids = @('PemInvalid') }
            'private-is-a-public-key' { $priv = $pub; $culprit = $priv; $ids = @('PemInvalid') }
            'public-not-pem' {
                $pub = Join-Path $dir 'garbage-public.pem'
                [IO.File]::WriteAllText($pub, "this is not a PEM file`n")
                $culprit = $pub; $ids = @('PemInvalid')
            }
            'ec-private' {
                $ec = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
                $priv = Join-Path $dir 'ec-private.pem'
                [IO.File]::WriteAllText($priv, $ec.ExportPkcs8PrivateKeyPem() + "`n")
                $ec.Dispose()
                $culprit = $priv; $ids = @('PemInvalid')
            }
            'ec-public' {
                $ec = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
                $pub = Join-Path $dir 'ec-public.pem'
                [IO.File]::WriteAllText($pub, $ec.ExportSubjectPublicKeyInfoPem() + "`n")
                $ec.Dispose()
                $culprit = $pub; $ids = @('PemInvalid')
            }
            'encrypted-private' {
                $priv = Join-Path $dir 'encrypted-private.pem'
                $pbe = [System.Security.Cryptography.PbeParameters]::new([System.Security.Cryptography.PbeEncryptionAlgorithm]::Aes256Cbc,
                    [System.Security.Cryptography.HashAlgorithmName]::SHA256, 10000)
                [IO.File]::WriteAllText($priv, $Wrapping.ExportEncryptedPkcs8PrivateKeyPem([char[]]'p@ss', $pbe) + "`n")
                $culprit = $priv; $ids = @('PemEncrypted')
            }
            'mismatched-public' { $pub = (Write-KeyPair $Other (Join-Path $Folder 'other')).Public; $culprit = $pub; $ids = @('KeyPairMismatch') }
            default { throw "unknown case $Case" }
        }
        [pscustomobject]@{ Public = $pub; Private = $priv; Culprit = $culprit; Ids = $ids }
    }

    # file name -> hex of the bytes of every file under <vault>/keys (empty when there is none).
    function Get-VaultSnapshot([string] $Vault) {
        $snapshot = [ordered]@{}
        $keys = Join-Path $Vault 'keys'
        if (Test-Path -LiteralPath $keys) {
            foreach ($f in Get-ChildItem -LiteralPath $keys -File -Force | Sort-Object Name -CaseSensitive) {
                $snapshot[$f.Name] = [Convert]::ToHexString([IO.File]::ReadAllBytes($f.FullName))
            }
        }
        $snapshot
    }

    # A vault holding one AES key, made before the command runs; returns the snapshot of its files.
    function Initialize-SeededVault([string] $Vault) {
        $null = New-TvmVaultKey -Name existing -Type AES -Size 256 -VaultPath $Vault -ErrorAction Stop
        $before = Get-VaultSnapshot $Vault
        $before.Count | Should -Be 1 -Because 'the vault is seeded with one key'
        $before
    }

    # Runs one of the two commands in a new pwsh whose TMPDIR is -TempFolder; returns what the run ended with
    # (Threw, FullyQualifiedErrorId, Category, Message: error details then exception message, Errors, Output).
    $script:Runner = Join-Path $TestDrive 'run-command.ps1'
    Set-Content -LiteralPath $Runner -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $SpecPath, [string] $ResultPath)
Remove-Item Env:TVM_VAULT_PATH -ErrorAction SilentlyContinue
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force -ErrorAction Stop
$spec = Get-Content -LiteralPath $SpecPath -Raw | ConvertFrom-Json
$result = [ordered]@{ Threw = $false; FullyQualifiedErrorId = ''; Category = ''; Message = ''; Errors = @(); Output = @() }
$errors = $null
try {
    $output = @(switch ($spec.Command) {
        'ImportJson' { Generate-ImportJsonFromPEM $spec.Public $spec.Private $spec.Out -ErrorVariable errors }
        'WrappingKey' { Import-TvmWrappingKeyFromPem w $spec.Public $spec.Private $spec.KeySize -VaultPath $spec.Vault -ErrorVariable errors }
        default { throw "unknown command $($spec.Command)" }
    })
    $result.Output = @($output | ForEach-Object { "$_" })
} catch {
    $result.Threw = $true
    $result.FullyQualifiedErrorId = "$($_.FullyQualifiedErrorId)"
    $result.Category = "$($_.CategoryInfo.Category)"
    $result.Message = if ($_.ErrorDetails -and $_.ErrorDetails.Message) { "$($_.ErrorDetails.Message) $($_.Exception.Message)" } else { "$($_.Exception.Message)" }
}
$result.Errors = @($errors | Where-Object { $_ } | ForEach-Object { "[$($_.FullyQualifiedErrorId)] $($_.Exception.Message)" })
$result | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $ResultPath -Encoding utf8
'@
    function Invoke-CommandInNewPwsh {
        param([string] $Command, [string] $Public, [string] $Private, [string] $Out, [string] $Vault, [string] $KeySize = '2048',
            [Parameter(Mandatory)] [string] $TempFolder)
        $work = New-TestFolder run
        $spec = Join-Path $work 'spec.json'
        $resultPath = Join-Path $work 'result.json'
        @{ Command = $Command; Public = $Public; Private = $Private; Out = $Out; Vault = $Vault; KeySize = $KeySize } |
            ConvertTo-Json | Set-Content -LiteralPath $spec -Encoding utf8
        $run = Invoke-Pwsh -File $Runner -ArgumentList @((Get-TvmModulePath), $spec, $resultPath) -Environment @{ TMPDIR = $TempFolder + [IO.Path]::DirectorySeparatorChar }
        Test-Path -LiteralPath $resultPath | Should -BeTrue -Because "the new pwsh writes its result (exit $($run.ExitCode)): $($run.Output -join "`n")"
        $result = Get-Content -LiteralPath $resultPath -Raw | ConvertFrom-Json
        $result | Add-Member -NotePropertyName Describe -NotePropertyValue (
            "threw=$($result.Threw) [$($result.FullyQualifiedErrorId)] [$($result.Category)] $($result.Message); errors: $($result.Errors -join '; '); output: $($result.Output -join '; '); process: $($run.Output -join ' | ')")
        $result
    }

    # Fails unless the run stopped with a terminating error whose ErrorId is one of -Ids, raised by a TvmBackupUtils
    # command, in the category the contract pairs with that id (or -Category).
    function Assert-Terminating($Result, [string[]] $Ids, [string] $Category) {
        $Result.Threw | Should -BeTrue -Because "a terminating error $($Ids -join ' or ') is expected: $($Result.Describe)"
        $id = $Result.FullyQualifiedErrorId.Split(',')[0]
        $Ids | Should -Contain $id -Because $Result.Describe
        $Result.FullyQualifiedErrorId | Should -BeLike "$id,TvmBackupUtils.*" -Because 'the error names a TvmBackupUtils command'
        if (-not $Category) { $Category = $CategoryOf[$id] }
        $Result.Category | Should -Be $Category -Because "error $id is in category $Category"
    }

    # No out file (and nothing else in its folder), the vault's files as they were and no key w, and nothing left
    # in the private temp folder.
    function Assert-NothingWritten([string] $OutFile, [string] $Vault, $Before, [string] $TempFolder, $Result) {
        if ($OutFile) {
            Test-Path -LiteralPath $OutFile | Should -BeFalse -Because "$OutFile is not written: $($Result.Describe)"
            @(Get-ChildItem -LiteralPath ([IO.Path]::GetDirectoryName($OutFile)) -Force).Count | Should -Be 0 -Because 'nothing is left next to the out file'
        }
        $after = Get-VaultSnapshot $Vault
        @($after.Keys) | Should -Be @($Before.Keys)
        foreach ($name in $Before.Keys) { $after[$name] | Should -Be $Before[$name] -Because "$name is unchanged" }
        Test-Path -LiteralPath (Get-VaultKeyFile $Vault 'w') | Should -BeFalse -Because 'no key w is in the vault'
        $leftovers = @(Get-ChildItem -LiteralPath $TempFolder -Recurse -Force | ForEach-Object FullName)
        $leftovers | Should -BeNullOrEmpty -Because "nothing is left in the temp folder: $($Result.Describe)"
    }
}

Describe 'Bad PEM input' {
    It '<Command> with <Case> is a terminating error naming the file, and writes nothing' -ForEach $BadPemCases {
        $folder = New-TestFolder
        $vault = Join-Path $folder 'vault'
        $before = Initialize-SeededVault $vault
        $tmp = Join-Path $folder 'tmp'
        $null = New-Item -ItemType Directory -Path $tmp
        $bad = New-BadPemCase $Case $folder
        $outFolder = Join-Path $folder 'out'
        $null = New-Item -ItemType Directory -Path $outFolder
        $out = Join-Path $outFolder 'import.json'

        $r = Invoke-CommandInNewPwsh -Command $Command -Public $bad.Public -Private $bad.Private -Out $out -Vault $vault -TempFolder $tmp

        Assert-Terminating $r $bad.Ids
        $r.Message | Should -BeLike "*$([IO.Path]::GetFileName($bad.Culprit))*"
        Assert-NothingWritten $out $vault $before $tmp $r
    }

    It '<Command> with the vectors <PublicFile> and <PrivateFile> is a terminating <ErrorId> naming <Culprit>, and writes nothing' -ForEach $RefusedVectors {
        $folder = New-TestFolder
        $vault = Join-Path $folder 'vault'
        $before = Initialize-SeededVault $vault
        $tmp = Join-Path $folder 'tmp'
        $null = New-Item -ItemType Directory -Path $tmp
        $outFolder = Join-Path $folder 'out'
        $null = New-Item -ItemType Directory -Path $outFolder
        $out = Join-Path $outFolder 'import.json'

        $r = Invoke-CommandInNewPwsh -Command $Command -Public (Get-TestVector $PublicFile) -Private (Get-TestVector $PrivateFile) -Out $out -Vault $vault -TempFolder $tmp

        Assert-Terminating $r @($ErrorId)
        $r.Message | Should -BeLike "*$Culprit*"
        Assert-NothingWritten $(if ($Command -eq 'ImportJson') { $out } else { $null }) $vault $before $tmp $r
    }
}

Describe 'Import-TvmWrappingKeyFromPem' {
    It 'with KeySize ''<KeySize>'' is a terminating invalid-argument error naming it, and writes nothing' -ForEach $BadKeySizes {
        $folder = New-TestFolder
        $vault = Join-Path $folder 'vault'
        $before = Initialize-SeededVault $vault
        $tmp = Join-Path $folder 'tmp'
        $null = New-Item -ItemType Directory -Path $tmp
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')

        $r = Invoke-CommandInNewPwsh -Command WrappingKey -Public $pair.Public -Private $pair.Private -Vault $vault -KeySize $KeySize -TempFolder $tmp

        if ($KeySize -eq '') {
            # PowerShell itself refuses an empty string for a mandatory [string] parameter
            $r.Threw | Should -BeTrue -Because $r.Describe
        } else {
            Assert-Terminating $r @($ErrorId) -Category InvalidArgument
            ($r.Message.Contains($KeySize) -or $r.Message.Contains('KeySize')) | Should -BeTrue -Because "the message names the key size: $($r.Message)"
        }
        Assert-NothingWritten $null $vault $before $tmp $r
    }

    It 'with a missing public key file is a terminating FileMissing error that names the missing file' {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')
        $absent = Join-Path $folder 'pem' 'absent.pem'
        $vault = Join-Path $folder 'vault'
        $err = Get-TerminatingError { Import-TvmWrappingKeyFromPem w $absent $pair.Private '2048' -VaultPath $vault }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -BeLike 'FileMissing,TvmBackupUtils.*'
        $err.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $message = if ($err.ErrorDetails -and $err.ErrorDetails.Message) { "$($err.ErrorDetails.Message) $($err.Exception.Message)" } else { "$($err.Exception.Message)" }
        $message.Contains($absent) | Should -BeTrue -Because "the message names $absent`: $message"
        Test-Path -LiteralPath (Get-VaultKeyFile $vault 'w') | Should -BeFalse
    }
}
