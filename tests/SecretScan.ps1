<#
.SYNOPSIS
    The secret scan after the whole suite (build.ps1 Test runs it last): no file under the temp folders or the work
    folders holds a test private key, outside the local vaults' own files that must hold it.
.DESCRIPTION
    The test private keys are those of tests/vectors (the wrapping key pair most tests use, and the other pair), each in
    every form Get-SecretForms gives (PKCS#8 and PKCS#1 DER as bytes, base64 and base64url, the private exponent and
    first prime as bytes and hex), searched as Find-TestSecret searches (tests/pester/TestHelpers.psm1). The folders:
    the temp folder of this process (where the module writes the plaintext import files MOC needs, and where the tests'
    own folders and the Rust tests' temporary folders were), and -WorkPath (build.ps1 gives target/rehearsal, the
    rehearsals' folders). Left out: the own files of every local vault found (tvmvault.json and keys/<name>: a local
    vault stores its keys in the clear by design); files over 64 MB; what cannot be read.

    First it proves itself: a planted file with the wrapping key's base64url PKCS#8 must be found, and a local vault's
    own key file must not be. Prints each file found; exits 1 when any is found (or the self-check fails), else 0.
#>
param(
    # Folders to scan besides the temp folder; several may be given as one comma-separated argument.
    [string[]] $WorkPath = @()
)
$ErrorActionPreference = 'Stop'
# Under pwsh -File the folders come as one argument, comma-separated.
$WorkPath = @($WorkPath | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
Import-Module (Join-Path $PSScriptRoot 'pester/TestHelpers.psm1') -Force

function Get-PemDer([string] $Path) {
    $text = [IO.File]::ReadAllText($Path)
    $body = ($text -split "`n" | Where-Object { $_ -notmatch '^-----' }) -join ''
    , [Convert]::FromBase64String($body.Trim())
}

$forms = @(foreach ($name in 'wrapping_private_pkcs8.pem', 'other_private_pkcs8.pem') { Get-SecretForms (Get-PemDer (Get-TestVector $name)) })

# The self-check, in a folder of its own under the temp folder (removed after).
$check = Join-Path ([IO.Path]::GetTempPath()) ('tvm-secret-scan-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$vault = Join-Path $check 'vault'
$null = New-Item -ItemType Directory -Path (Join-Path $vault 'keys') -Force
try {
    $b64url = ConvertTo-Base64Url (Get-PemDer (Get-TestVector 'wrapping_private_pkcs8.pem'))
    [IO.File]::WriteAllText((Join-Path $check 'planted.json'), "{ `"key`": `"$b64url`" }")
    [IO.File]::WriteAllText((Join-Path $vault 'tvmvault.json'), '{}')
    [IO.File]::WriteAllText((Join-Path $vault 'keys/w.json'), "{ `"material`": `"$b64url`" }")
    $found = @(Find-TestSecret -Root $check -Forms $forms -FindVaults | ForEach-Object { $_.Substring(0, $_.LastIndexOf(': ')) })
    $want = @([IO.Path]::GetFullPath((Join-Path $check 'planted.json')))
    if (($found -join '|') -cne ($want -join '|')) {
        Write-Host "secret scan: the self-check failed: found [$($found -join ', ')], expected [$($want -join ', ')]"
        exit 1
    }
} finally {
    Remove-Item -LiteralPath $check -Recurse -Force -ErrorAction SilentlyContinue
}

$roots = @([IO.Path]::GetTempPath()) + @($WorkPath | Where-Object { $_ -and (Test-Path -LiteralPath $_) })
$hits = @(foreach ($root in $roots) { Find-TestSecret -Root $root -Forms $forms -FindVaults })
Write-Host "secret scan: $($roots -join ', '): $($hits.Count) file(s) hold a test private key outside a local vault's own files"
$hits | ForEach-Object { Write-Host "  $_" }
exit ([int]($hits.Count -gt 0))
