# Shared by the Pester tests of tests/pester: the staged module, test folders, key pairs, the stand-in Moc
# module, and running scripts in a new pwsh. Import it in BeforeAll:
#     BeforeAll { Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force }
# Every test works in its own folder under $TestDrive (Pester removes it) and imports the module itself.
Set-StrictMode -Version 3.0

$script:Repo = [IO.Path]::GetFullPath([IO.Path]::Combine($PSScriptRoot, '..', '..'))

# The staged module folder: $env:TVM_TEST_MODULE_PATH (Invoke-Tests.ps1 sets it), else target/TvmBackupUtils.
function Get-TvmModulePath {
    $path = if ($env:TVM_TEST_MODULE_PATH) { $env:TVM_TEST_MODULE_PATH } else { [IO.Path]::Combine($script:Repo, 'target', 'TvmBackupUtils') }
    if (-not (Test-Path ([IO.Path]::Combine($path, 'TvmBackupUtils.psd1')))) {
        throw "No staged module at ${path}: run ./build.ps1 Stage first."
    }
    $path
}

function Get-RepoPath([string] $Relative) { [IO.Path]::Combine($script:Repo, $Relative) }

# A file of tests/vectors (keys and files made with Python's cryptography; see tests/vectors/README.md).
function Get-TestVector([string] $Name) { [IO.Path]::Combine($script:Repo, 'tests', 'vectors', $Name) }

# Imports the staged module by its manifest (default) or, as runbooks do, by its .psm1.
function Import-TvmModule([ValidateSet('psd1', 'psm1')] [string] $By = 'psd1') {
    Remove-Module TvmBackupUtils -ErrorAction SilentlyContinue
    Import-Module ([IO.Path]::Combine((Get-TvmModulePath), "TvmBackupUtils.$By")) -Force -Global -ErrorAction Stop
}

# A new, empty folder under $TestDrive (or under -Root), named for what it holds.
function New-TestFolder([string] $Name = 'work', [string] $Root) {
    if (-not $Root) { $Root = (Get-Variable -Name TestDrive -Scope Global -ValueOnly -ErrorAction SilentlyContinue) }
    if (-not $Root) { $Root = [IO.Path]::GetTempPath() }
    $path = [IO.Path]::Combine($Root, "$Name-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $null = New-Item -ItemType Directory -Path $path -Force
    $path
}

# An RSA key pair made with .NET as the docs make the wrapping key (PKCS#1 public, PKCS#8 private PEM),
# written into -Folder. -Encoding: how the PEM files are written (Utf8, Utf8Crlf, Utf8Bom, Utf16LE as Windows
# PowerShell 5.1's Out-File writes). Returns Public, Private (paths), Bits and Rsa (the .NET key, to compare).
function New-TestKeyPair {
    param(
        [Parameter(Mandatory)] [string] $Folder,
        [int] $Bits = 2048,
        [string] $Prefix = '',
        [ValidateSet('Utf8', 'Utf8Crlf', 'Utf8Bom', 'Utf16LE')] [string] $Encoding = 'Utf8'
    )
    $null = New-Item -ItemType Directory -Path $Folder -Force
    $rsa = [System.Security.Cryptography.RSA]::Create($Bits)
    $public = [IO.Path]::Combine($Folder, "${Prefix}public.pem")
    $private = [IO.Path]::Combine($Folder, "${Prefix}private.pem")
    Write-PemFile -Path $public -Pem $rsa.ExportRSAPublicKeyPem() -Encoding $Encoding
    Write-PemFile -Path $private -Pem $rsa.ExportPkcs8PrivateKeyPem() -Encoding $Encoding
    [pscustomobject]@{ Public = $public; Private = $private; Bits = $Bits; Rsa = $rsa }
}

# The wrapping key pair of tests/vectors (RSA-2048, made with Python), copied into -Folder: fast, and the same
# key in every test. Returns Public and Private.
function Copy-VectorKeyPair([Parameter(Mandatory)] [string] $Folder, [string] $Name = 'wrapping') {
    $null = New-Item -ItemType Directory -Path $Folder -Force
    $public = [IO.Path]::Combine($Folder, 'public.pem')
    $private = [IO.Path]::Combine($Folder, 'private.pem')
    $publicName = if ($Name -eq 'wrapping') { 'wrapping_public_pkcs1.pem' } else { "${Name}_public_pkcs1.pem" }
    Copy-Item (Get-TestVector $publicName) $public
    Copy-Item (Get-TestVector "${Name}_private_pkcs8.pem") $private
    [pscustomobject]@{ Public = $public; Private = $private; Bits = 2048 }
}

function Write-PemFile([string] $Path, [string] $Pem, [string] $Encoding = 'Utf8') {
    $text = $Pem.Replace("`r`n", "`n").TrimEnd("`n")
    $newline = if ($Encoding -in 'Utf8Crlf', 'Utf16LE') { "`r`n" } else { "`n" }
    $text = $text.Replace("`n", $newline) + $newline
    $bytes = switch ($Encoding) {
        'Utf16LE' { [byte[]](0xFF, 0xFE) + [Text.Encoding]::Unicode.GetBytes($text) }
        'Utf8Bom' { [byte[]](0xEF, 0xBB, 0xBF) + [Text.Encoding]::UTF8.GetBytes($text) }
        default { [Text.Encoding]::UTF8.GetBytes($text) }
    }
    [IO.File]::WriteAllBytes($Path, $bytes)
}

# The local vault's file of key -Name (docs/format.md section 6).
function Get-VaultKeyFile([string] $Vault, [string] $Name) { [IO.Path]::Combine($Vault, 'keys', "$Name.json") }

# The stand-in Moc module (tests/MocStandIn, built by build.ps1 Test): NOT Microsoft's Moc module; it
# reproduces the documented behaviours of the Moc key vault cmdlets and records every call.
function Get-MocStandInPath {
    $path = [IO.Path]::Combine($script:Repo, 'tests', 'MocStandIn', 'bin', 'Release', 'net10.0', 'MocStandIn.psd1')
    if (-not (Test-Path $path)) { throw "The stand-in Moc module is not built: dotnet build tests/MocStandIn -c Release" }
    $path
}

function Import-MocStandIn { Import-Module (Get-MocStandInPath) -Force -Global -ErrorAction Stop }

# Points the stand-in at the simulated cluster in -StateRoot (Set-MocStandIn replaces the whole configuration)
# and clears its call record. -Settings: more Set-MocStandIn parameters, e.g. @{ ModuleVersion = '1.2.26' }.
function Set-StandInCluster([Parameter(Mandatory)] [string] $StateRoot, [hashtable] $Settings = @{}) {
    Set-MocStandIn -StateRoot $StateRoot @Settings
    Clear-MocStandInCall
}

# Runs -ScriptBlock and returns the ErrorRecord of the terminating error it ends with (or $null).
function Get-TerminatingError([Parameter(Mandatory)] [scriptblock] $ScriptBlock) {
    try {
        $null = & $ScriptBlock
    } catch {
        return $_
    }
    $null
}

# The pwsh executable of this PowerShell: $PSHOME/pwsh (pwsh.exe on Windows). Not the process path: under
# `dotnet pwsh` (the local tool) that is dotnet itself.
function Get-PwshExecutable {
    foreach ($name in 'pwsh.exe', 'pwsh') {
        $candidate = [IO.Path]::Combine($PSHOME, $name)
        if ([IO.File]::Exists($candidate)) { return $candidate }
    }
    (Get-Process -Id $PID).Path
}

# Runs a .ps1 file in a new pwsh, as a scheduled task would (pwsh -File); returns ExitCode, Output (lines of
# stdout and stderr) and the command line. -Environment: variables for that process only (TMPDIR, TVM_VAULT_PATH).
function Invoke-Pwsh {
    param(
        [Parameter(Mandatory)] [string] $File,
        [string[]] $ArgumentList = @(),
        [hashtable] $Environment = @{},
        [string] $WorkingDirectory = (Get-Location).ProviderPath
    )
    $pwsh = Get-PwshExecutable
    $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
    foreach ($a in @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $File) + $ArgumentList) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $info.WorkingDirectory = $WorkingDirectory
    foreach ($k in $Environment.Keys) { $info.Environment[$k] = [string]$Environment[$k] }
    $process = [System.Diagnostics.Process]::Start($info)
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    [pscustomobject]@{
        ExitCode = $process.ExitCode
        Output = @(($stdout + $stderr.Result) -split "`r?`n" | Where-Object { $_ -ne '' })
        StdOut = $stdout
        StdErr = $stderr.Result
    }
}

Export-ModuleMember -Function *
