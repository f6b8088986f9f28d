# New-TvmImportJson / Generate-ImportJsonFromPEM: the NO_KEY_WRAP file of docs/format.md section 3, byte for byte.
# Moved from the xunit class ImportJsonTests.
BeforeDiscovery {
    $script:CommandForms = @(
        @{ Form = 'Generate-ImportJsonFromPEM by position' }
        @{ Form = 'New-TvmImportJson by name' }
    )
    $script:VectorEncodings = @(
        @{ PublicFile = 'public_utf8bom.pem'; PrivateFile = 'private_utf8bom.pem' }
        @{ PublicFile = 'public_utf16le.pem'; PrivateFile = 'private_utf16le.pem' }
        @{ PublicFile = 'public_crlf.pem'; PrivateFile = 'private_crlf.pem' }
        @{ PublicFile = 'public_trailing_crlf.pem'; PrivateFile = 'private_trailing_crlf.pem' }
        @{ PublicFile = 'public_trailing_lf.pem'; PrivateFile = 'private_trailing_lf.pem' }
        @{ PublicFile = 'public_utf16le.pem'; PrivateFile = 'private_trailing_lf.pem' }
        @{ PublicFile = 'wrapping_public_pkcs1.pem'; PrivateFile = 'private_utf16le.pem' }
    )
    $script:AllFlavors = @('Utf8Lf', 'Utf8Crlf', 'Utf8BomLf', 'Utf8BomCrlf', 'Utf16LeBomCrlf', 'Utf16LeBomLf', 'Utf8NoFinalNewline')
    $script:ByNameFlavors = @('Utf8Lf', 'Utf16LeBomCrlf')
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    # docs/format.md section 3, exactly: ASCII, compact, a single trailing "\n".
    function Get-ExpectedImportJson([System.Security.Cryptography.RSA] $Rsa) {
        [Text.Encoding]::ASCII.GetBytes(
            '{"public-key":"' + (ConvertTo-Base64Url $Rsa.ExportRSAPublicKey()) + '","private-key":"' +
            (ConvertTo-Base64Url $Rsa.ExportPkcs8PrivateKey()) +
            '","private-key-wrapping-info":{"key-name":"","public-key":"","enc":"NO_KEY_WRAP"}}' + "`n")
    }

    function Get-Vector([string] $Name) {
        $path = Get-TestVector $Name
        if (-not (Test-Path -LiteralPath $path)) { throw "Test vector $path is missing (tests/vectors/ is made by the vectors script)." }
        $path
    }

    # Fails unless -File holds exactly -Expected (showing both, and their last bytes in hex, when not).
    function Assert-SameBytes([byte[]] $Expected, [string] $File) {
        Test-Path -LiteralPath $File -PathType Leaf | Should -BeTrue -Because "$File is written"
        $actual = [IO.File]::ReadAllBytes($File)
        if ([Convert]::ToHexString($Expected) -ne [Convert]::ToHexString($actual)) {
            $tail = { param($b) [Convert]::ToHexString($b[([Math]::Max(0, $b.Length - 8))..($b.Length - 1)]) }
            throw ("$([IO.Path]::GetFileName($File)) differs from the expected bytes.`nexpected: $([Text.Encoding]::Latin1.GetString($Expected))`n" +
                "actual:   $([Text.Encoding]::Latin1.GetString($actual))`nexpected hex tail: $(& $tail $Expected) actual hex tail: $(& $tail $actual)")
        }
    }

    # The key pairs shared by the file (RSA key generation costs time): RSA-2048 and RSA-3072, made with .NET.
    # New-TestRsa is RSA.Create(); under Wine, where .NET's CNG RSA fails, RSACryptoServiceProvider (TestHelpers.psm1).
    $script:Wrapping = New-TestRsa 2048
    $script:Rsa3072 = New-TestRsa 3072
}

Describe 'The import file of the key pair of tests/vectors' {
    It '<Form> writes exactly import_expected.json' -ForEach $CommandForms {
        $expected = [IO.File]::ReadAllBytes((Get-Vector 'import_expected.json'))
        $pub = Get-Vector 'wrapping_public_pkcs1.pem'
        $priv = Get-Vector 'wrapping_private_pkcs8.pem'
        $out = Join-Path (New-TestFolder) 'import.json'
        if ($Form -like 'Generate-*') {
            Generate-ImportJsonFromPEM $pub $priv $out -ErrorVariable errors
        } else {
            New-TvmImportJson -PublicKeyPath $pub -PrivateKeyPath $priv -OutFilePath $out -ErrorVariable errors
        }
        $errors | Should -BeNullOrEmpty
        Assert-SameBytes $expected $out
    }

    It 'from <PublicFile> and <PrivateFile> (other encodings of the same key) is exactly import_expected.json' -ForEach $VectorEncodings {
        $expected = [IO.File]::ReadAllBytes((Get-Vector 'import_expected.json'))
        $out = Join-Path (New-TestFolder) 'import.json'
        Generate-ImportJsonFromPEM (Get-Vector $PublicFile) (Get-Vector $PrivateFile) $out -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        Assert-SameBytes $expected $out
    }

    # A public key as SubjectPublicKeyInfo (BEGIN PUBLIC KEY, what `openssl rsa -pubout` writes): the import file
    # must still carry the PKCS#1 public key (docs/format.md section 3), or the command must refuse the file. It
    # must never copy the SPKI body into "public-key".
    It 'from an SPKI public key carries the PKCS#1 public key, or is refused as PemInvalid naming the file and writes nothing' {
        $pub = Get-Vector 'wrapping_public_spki.pem'
        $priv = Get-Vector 'wrapping_private_pkcs8.pem'
        $out = Join-Path (New-TestFolder) 'import.json'
        $err = $null
        try {
            Generate-ImportJsonFromPEM $pub $priv $out -ErrorVariable errors
        } catch {
            $err = $_
        }
        if ($err) {
            $null = Assert-TvmTerminating $err PemInvalid InvalidData
            Get-ErrorText $err | Should -BeLike '*wrapping_public_spki.pem*'
            Test-Path -LiteralPath $out | Should -BeFalse
        } else {
            $errors | Should -BeNullOrEmpty
            Assert-SameBytes ([IO.File]::ReadAllBytes((Get-Vector 'import_expected.json'))) $out
        }
    }
}

Describe 'The import file of a key pair made with .NET' {
    It 'Generate-ImportJsonFromPEM by position gives the same bytes from <_> PEM files' -ForEach $AllFlavors {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem') $_
        $out = Join-Path $folder 'import.json'
        Generate-ImportJsonFromPEM $pair.Public $pair.Private $out -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        Assert-SameBytes (Get-ExpectedImportJson $Wrapping) $out
    }

    It 'New-TvmImportJson by name gives the expected bytes for an RSA-3072 key from <_> PEM files' -ForEach $ByNameFlavors {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Rsa3072 (Join-Path $folder 'pem') $_
        $out = Join-Path $folder 'import.json'
        New-TvmImportJson -PublicKeyPath $pair.Public -PrivateKeyPath $pair.Private -OutFilePath $out -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        Assert-SameBytes (Get-ExpectedImportJson $Rsa3072) $out
    }
}

Describe 'New-TvmImportJson' {
    It 'writes nothing to the pipeline, the host or the warning stream, and writes the file' {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')
        $out = Join-Path $folder 'import.json'
        $output = @(New-TvmImportJson $pair.Public $pair.Private $out -ErrorVariable errors -WarningVariable warnings -InformationVariable iv)
        $errors | Should -BeNullOrEmpty
        $output.Count | Should -Be 0
        $warnings | Should -BeNullOrEmpty
        @($iv | Where-Object { $_.Tags -contains 'PSHOST' }).Count | Should -Be 0
        Test-Path -LiteralPath $out -PathType Leaf | Should -BeTrue
    }

    It '-WhatIf writes no file' {
        $folder = New-TestFolder
        $pair = Write-KeyPair $Wrapping (Join-Path $folder 'pem')
        $out = Join-Path $folder 'import.json'
        New-TvmImportJson $pair.Public $pair.Private $out -WhatIf -ErrorVariable errors
        $errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath $out | Should -BeFalse
    }

    It 'resolves relative paths (.\import.json) against the PowerShell location, not the process''s current directory' {
        $loc = Join-Path (New-TestFolder) 'loc'
        $null = Write-KeyPair $Wrapping $loc
        $processDir = [Environment]::CurrentDirectory
        $processDir | Should -Not -Be $loc
        $strayFile = Join-Path $processDir 'import.json'
        Test-Path -LiteralPath $strayFile | Should -BeFalse -Because 'the test cannot tell otherwise'
        Push-Location $loc
        try {
            Generate-ImportJsonFromPEM .\public.pem .\private.pem .\import.json -ErrorVariable errors
        } finally {
            Pop-Location
        }
        $errors | Should -BeNullOrEmpty
        Assert-SameBytes (Get-ExpectedImportJson $Wrapping) (Join-Path $loc 'import.json')
        Test-Path -LiteralPath $strayFile | Should -BeFalse
    }
}
