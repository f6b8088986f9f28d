# Shared by the Pester tests of tests/pester: the staged module, test folders, key pairs and PEM files, the local
# vault's files, the stand-in Moc module, runs captured in this process or in a new pwsh, and the checks on them.
# Import it in BeforeAll:
#     BeforeAll { Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force }
# Every test works in its own folder under $TestDrive (Pester removes it) and imports the module itself.
Set-StrictMode -Version 3.0
# As in the tests (Invoke-Tests.ps1 runs them with 'Stop'): an error in a helper fails the test.
$ErrorActionPreference = 'Stop'

$script:Repo = [IO.Path]::GetFullPath([IO.Path]::Combine($PSScriptRoot, '..', '..'))
$script:SavedVaultPath = $null

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

# For a test of the MOC vault, or one whose commands name their vault, as the xunit session ran: no TVM_VAULT_PATH
# in this process. Restore-TvmVaultPath puts it back (BeforeEach/AfterEach, or BeforeAll/AfterAll).
function Clear-TvmVaultPath {
    $script:SavedVaultPath = $env:TVM_VAULT_PATH
    $env:TVM_VAULT_PATH = $null
}

function Restore-TvmVaultPath { $env:TVM_VAULT_PATH = $script:SavedVaultPath }

# Writes the PEM text -Pem to -Path as -Flavor, one of the encodings and line ends the docs' PowerShell recipes
# produce (the PemFlavor of the xunit tests): Utf8Lf, Utf8Crlf, Utf8BomLf, Utf8BomCrlf (Set-Content -Encoding
# utf8BOM, editors on Windows), Utf16LeBomCrlf (Windows PowerShell 5.1's Out-File), Utf16LeBomLf, or
# Utf8NoFinalNewline ([IO.File]::WriteAllText of ExportRSAPublicKeyPem()).
function Write-PemFile {
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [string] $Pem,
        [ValidateSet('Utf8Lf', 'Utf8Crlf', 'Utf8BomLf', 'Utf8BomCrlf', 'Utf16LeBomCrlf', 'Utf16LeBomLf', 'Utf8NoFinalNewline')]
        [string] $Flavor = 'Utf8Lf'
    )
    $text = $Pem.Replace("`r`n", "`n").TrimEnd("`n")
    $crlf = $Flavor -like '*Crlf'
    if ($crlf) { $text = $text.Replace("`n", "`r`n") }
    if ($Flavor -ne 'Utf8NoFinalNewline') { $text += $(if ($crlf) { "`r`n" } else { "`n" }) }
    $bytes = switch -Wildcard ($Flavor) {
        'Utf8Bom*' { [byte[]](0xEF, 0xBB, 0xBF) + [Text.Encoding]::UTF8.GetBytes($text) }
        'Utf16LeBom*' { [byte[]](0xFF, 0xFE) + [Text.Encoding]::Unicode.GetBytes($text) }
        default { [Text.Encoding]::UTF8.GetBytes($text) }
    }
    [IO.File]::WriteAllBytes($Path, [byte[]]$bytes)
}

# Writes the public (PKCS#1) and private (PKCS#8) PEM of the .NET key -Rsa into -Folder as -Flavor (see
# Write-PemFile): public.pem and private.pem, public-<Flavor>.pem and private-<Flavor>.pem for another flavor than
# Utf8Lf. Returns Public and Private (paths).
function Write-KeyPair {
    param(
        [Parameter(Mandatory)] [System.Security.Cryptography.RSA] $Rsa,
        [Parameter(Mandatory)] [string] $Folder,
        [string] $Flavor = 'Utf8Lf'
    )
    $null = New-Item -ItemType Directory -Path $Folder -Force
    $suffix = if ($Flavor -eq 'Utf8Lf') { '' } else { "-$Flavor" }
    $pair = [pscustomobject]@{ Public = [IO.Path]::Combine($Folder, "public$suffix.pem"); Private = [IO.Path]::Combine($Folder, "private$suffix.pem") }
    Write-PemFile -Path $pair.Public -Pem $Rsa.ExportRSAPublicKeyPem() -Flavor $Flavor
    Write-PemFile -Path $pair.Private -Pem $Rsa.ExportPkcs8PrivateKeyPem() -Flavor $Flavor
    $pair
}

# True in the win-x64 pwsh under Wine (build.ps1 WindowsTest; build/windows-toolchain.sh sets TVM_UNDER_WINE).
function Test-UnderWine { [bool]($IsWindows -and $env:TVM_UNDER_WINE) }

# A new .NET RSA key of -Bits, as the docs make the wrapping key (RSA.Create). Under Wine, RSA.Create() is RSACng,
# which Wine 8.0's bcrypt can neither export, import nor use (0xc1000002); there, and only there, the key is an
# RSACryptoServiceProvider (CryptoAPI, Wine's rsaenh): the narrowest test-only workaround, a real RSA key behind the
# same .NET RSA API, with the OAEP-SHA1 and PEM export the tests use.
function New-TestRsa([int] $Bits = 2048) {
    if (Test-UnderWine) { return [System.Security.Cryptography.RSACryptoServiceProvider]::new($Bits) }
    [System.Security.Cryptography.RSA]::Create($Bits)
}

# The SubjectPublicKeyInfo PEM of the EC key in the PKCS#8 PEM text -Pkcs8Pem: its algorithm identifier and the
# public key its ECPrivateKey carries ([1] publicKey), read and written with System.Formats.Asn1 (no CNG).
function ConvertTo-EcPublicPem([Parameter(Mandatory)] [string] $Pkcs8Pem) {
    Add-Type -AssemblyName System.Formats.Asn1
    $body = ($Pkcs8Pem -replace '-----[A-Z ]+-----', '') -replace '\s', ''
    $der = [Convert]::FromBase64String($body)
    $info = [System.Formats.Asn1.AsnReader]::new($der, 'DER').ReadSequence()
    $null = $info.ReadInteger()
    $algorithm = $info.ReadEncodedValue().ToArray()
    $key = [System.Formats.Asn1.AsnReader]::new($info.ReadOctetString(), 'DER').ReadSequence()
    $null = $key.ReadInteger(); $null = $key.ReadOctetString()
    $point = $null
    while ($key.HasData) {
        $tag = $key.PeekTag()
        if ($tag.TagClass -eq 'ContextSpecific' -and $tag.TagValue -eq 1) {
            $unused = 0
            $point = $key.ReadSequence($tag).ReadBitString([ref]$unused)
        } else {
            $null = $key.ReadEncodedValue()
        }
    }
    if ($null -eq $point) { throw 'The PKCS#8 EC key carries no public key.' }
    $writer = [System.Formats.Asn1.AsnWriter]::new('DER')
    $scope = $writer.PushSequence()
    $writer.WriteEncodedValue($algorithm)
    $writer.WriteBitString($point)
    $scope.Dispose()
    $body = [Convert]::ToBase64String($writer.Encode())
    $lines = for ($i = 0; $i -lt $body.Length; $i += 64) { $body.Substring($i, [Math]::Min(64, $body.Length - $i)) }
    "-----BEGIN PUBLIC KEY-----`n$($lines -join "`n")`n-----END PUBLIC KEY-----"
}

# A new RSA key pair made with .NET as the docs make the wrapping key, written into -Folder by Write-KeyPair.
# Returns Public, Private (paths), Bits and Rsa (the .NET key, to compare).
function New-TestKeyPair([Parameter(Mandatory)] [string] $Folder, [int] $Bits = 2048, [string] $Flavor = 'Utf8Lf') {
    $rsa = New-TestRsa $Bits
    Write-KeyPair -Rsa $rsa -Folder $Folder -Flavor $Flavor | Add-Member -NotePropertyMembers ([ordered]@{ Bits = $Bits; Rsa = $rsa }) -PassThru
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

# base64url (RFC 4648 section 5) with its '=' padding, as the key files hold keys (docs/format.md sections 2 and 6).
function ConvertTo-Base64Url([byte[]] $Data) { [Convert]::ToBase64String($Data).Replace('+', '-').Replace('/', '_') }

function ConvertFrom-Base64Url([string] $Text) { , [Convert]::FromBase64String($Text.Replace('-', '+').Replace('_', '/')) }

# base64url WITH '=' padding, as MOC wants it (the xunit B64.IsPaddedUrl).
function Test-PaddedBase64Url([string] $Text) { ($Text.Length % 4 -eq 0) -and ($Text -cmatch '^[A-Za-z0-9_-]*={0,2}$') }

# Opens a key blob of docs/format.md section 4, the base64url text -Blob (a key file's "private-key"), with the
# wrapping private key -Rsa: RSAES-OAEP-SHA1 of the 32-byte AES key K (the first modulus-length bytes), then
# RFC 5649 AES-KWP of the target with K (.NET's Aes.DecryptKeyWrapPadded). Returns the target's bytes.
function Unprotect-KeyBlob([Parameter(Mandatory)] [string] $Blob, [Parameter(Mandatory)] [System.Security.Cryptography.RSA] $Rsa) {
    $bytes = ConvertFrom-Base64Url $Blob
    $modulus = $Rsa.KeySize / 8
    if ($bytes.Length -le $modulus + 16) { throw "The blob of $($bytes.Length) bytes must hold more than the RSA part ($modulus bytes) and 16 bytes." }
    $k = $Rsa.Decrypt([byte[]]$bytes[0..($modulus - 1)], [System.Security.Cryptography.RSAEncryptionPadding]::OaepSHA1)
    if ($k.Length -ne 32) { throw "The RSA part of the blob holds $($k.Length) bytes, not a 32-byte AES key." }
    $aes = [System.Security.Cryptography.Aes]::Create()
    try {
        $aes.Key = $k
        , $aes.DecryptKeyWrapPadded([byte[]]$bytes[$modulus..($bytes.Length - 1)])
    } finally {
        $aes.Dispose()
    }
}

# The local vault's file of key -Name (docs/format.md section 6).
function Get-VaultKeyFile([string] $Vault, [string] $Name) { [IO.Path]::Combine($Vault, 'keys', "$Name.json") }

# The local vault's key file of -Name, read as the xunit VaultFiles.Read did: Name, Type, Size, MaterialText (the
# base64url text), Material (its bytes) and RawText.
function Read-VaultKeyFile([string] $Vault, [string] $Name) {
    $raw = [IO.File]::ReadAllText((Get-VaultKeyFile $Vault $Name))
    $json = $raw | ConvertFrom-Json
    [pscustomobject]@{
        Name = $json.name
        Type = $json.type
        Size = [int]$json.size
        MaterialText = [string]$json.material
        Material = ConvertFrom-Base64Url ([string]$json.material)
        RawText = $raw
    }
}

# File name -> base64 of the bytes of every file under <vault>/keys, in ordinal order (empty when there is none):
# a vault to compare with itself later.
function Get-VaultSnapshot([string] $Vault) {
    $snapshot = [System.Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
    $keys = [IO.Path]::Combine($Vault, 'keys')
    if (Test-Path -LiteralPath $keys -PathType Container) {
        foreach ($f in [IO.Directory]::GetFiles($keys)) {
            $snapshot[[IO.Path]::GetFileName($f)] = [Convert]::ToBase64String([IO.File]::ReadAllBytes($f))
        }
    }
    , $snapshot
}

# Strings sorted with the ordinal comparer, as the xunit tests sorted them (Sort-Object compares by culture and
# ignores case): -Values, or the strings of the pipeline. Returns one array.
function Get-OrdinalSorted([string[]] $Values) {
    $sorted = [string[]]@(if ($PSBoundParameters.ContainsKey('Values')) { $Values } else { $input })
    [Array]::Sort($sorted, [StringComparer]::Ordinal)
    , $sorted
}

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

# New-MocKey for each of -Key in the current cluster's vault (by default the original's group and vault): a name
# (of -Type and -Size) or an object with Name, Type and Size.
function Add-StandInKey {
    param(
        [Parameter(Mandatory)] [object[]] $Key,
        [string] $Type = 'AES',
        [int] $Size = 256,
        [string] $Group = 'AzureStackHostAttestation',
        [string] $KeyVaultName = 'AzureStackTvmKeyVault'
    )
    foreach ($k in $Key) {
        if ($k -is [string]) { $k = @{ Name = $k; Type = $Type; Size = $Size } }
        New-MocKey -name $k.Name -group $Group -keyvaultName $KeyVaultName -type $k.Type -size $k.Size -ErrorAction Stop
    }
}

# The stand-in's call record (of -Command, a wildcard pattern): Command and Parameters (an OrderedDictionary,
# case-insensitive) of each call.
function Get-StandInCall([string] $Command = '*') { @(Get-MocStandInCall | Where-Object { $_.Command -like $Command }) }

# Removes the functions a test put in front of a Moc cmdlet (function global:Get-MocKey ...): they are process-wide.
function Remove-MocOverride {
    foreach ($name in 'Get-MocConfig', 'Get-MocKey', 'Get-MocKeyPublicKey', 'Import-MocKey', 'Export-MocKey', 'New-MocKey') {
        Remove-Item -Path "Function:\$name" -ErrorAction SilentlyContinue
    }
}

# Runs -ScriptBlock as the xunit TvmSession.Run did: with $ErrorActionPreference and $WarningPreference 'Continue'
# and every stream redirected, inside a try/catch, so that a cmdlet's terminating error ends the script block and
# is kept, not thrown on. It runs in a child scope of the caller's, as in a function of the test file: it sees the
# caller's variables (and the preferences, which a scope of this module would hide from it). Returns Script (its
# text), Output (the objects it wrote, those before a terminating error too) and OutputTypes (their .NET type
# names), Host (the texts of the information records tagged PSHOST: Write-Host, the cmdlets' host lines), Warnings
# (texts), Errors (the non-terminating ErrorRecords), Terminating (the ErrorRecord it ended with, or $null) and Threw.
function Invoke-Captured {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [scriptblock] $ScriptBlock)
    $inCaller = [scriptblock]::Create(@'
& {
    $ErrorActionPreference = 'Continue'
    $WarningPreference = 'Continue'
    try { & $args[0] *>&1 } catch { [pscustomobject]@{ PSTypeName = 'TvmTests.Terminating'; ErrorRecord = $_ } }
} $args[0]
'@)
    $records = $PSCmdlet.SessionState.InvokeCommand.InvokeScript($PSCmdlet.SessionState, $inCaller, $ScriptBlock)
    $output = [System.Collections.Generic.List[object]]::new()
    $hostLines = [System.Collections.Generic.List[string]]::new()
    $warnings = [System.Collections.Generic.List[string]]::new()
    $errors = [System.Collections.Generic.List[object]]::new()
    $terminating = $null
    foreach ($r in $records) {
        if ($null -eq $r) { continue }
        if ($r -is [System.Management.Automation.InformationRecord]) {
            if ($r.Tags -contains 'PSHOST') { $hostLines.Add("$($r.MessageData)") }
        } elseif ($r -is [System.Management.Automation.WarningRecord]) {
            $warnings.Add($r.Message)
        } elseif ($r -is [System.Management.Automation.ErrorRecord]) {
            $errors.Add($r)
        } elseif ($r.PSObject.TypeNames -contains 'TvmTests.Terminating') {
            $terminating = $r.ErrorRecord
        } elseif ($r -isnot [System.Management.Automation.VerboseRecord] -and $r -isnot [System.Management.Automation.DebugRecord]) {
            $output.Add($r)
        }
    }
    [pscustomobject]@{
        Script = "$ScriptBlock".Trim()
        Output = $output.ToArray()
        OutputTypes = @($output | ForEach-Object { $_.GetType().FullName })
        Host = $hostLines.ToArray()
        Warnings = $warnings.ToArray()
        Errors = $errors.ToArray()
        Terminating = $terminating
        Threw = $null -ne $terminating
    }
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

# The message of an error as the xunit tests read it: the error details' message, then the exception's.
function Get-ErrorText([System.Management.Automation.ErrorRecord] $Record) {
    if ($Record.ErrorDetails -and $Record.ErrorDetails.Message) { "$($Record.ErrorDetails.Message) $($Record.Exception.Message)" } else { "$($Record.Exception.Message)" }
}

# Everything a captured run (Invoke-Captured, Invoke-InNewPwsh) sent, or an ErrorRecord, for the message of a
# failed assertion.
function Format-Captured($Run) {
    $describe = { param($e) "[$($e.FullyQualifiedErrorId)] [$($e.CategoryInfo.Category)] $($e.Exception.Message)" }
    if ($null -eq $Run) { return '(no run and no error)' }
    if ($Run -is [System.Management.Automation.ErrorRecord]) { return & $describe $Run }
    $lines = @('---- script ----', $Run.Script, "---- output ($(@($Run.Output).Count)) ----") +
        @($Run.Output | ForEach-Object { "  $($_.GetType().FullName): " + (@($_.PSObject.Properties | ForEach-Object { "$($_.Name)=$($_.Value)" }) -join '; ') }) +
        "---- host ($(@($Run.Host).Count)) ----" + @($Run.Host | ForEach-Object { "  $_" }) +
        "---- warnings ($(@($Run.Warnings).Count)) ----" + @($Run.Warnings | ForEach-Object { "  $_" }) +
        "---- errors ($(@($Run.Errors).Count)) ----" + @($Run.Errors | ForEach-Object { '  ' + (& $describe $_) })
    if ($Run.Terminating) { $lines += '---- terminating ----', ('  ' + (& $describe $Run.Terminating)) }
    $lines -join "`n"
}

# The xunit AssertClean: the captured run ended without a terminating error and wrote no error. Returns the run.
function Assert-Clean($Run) {
    if ($Run.Terminating -or @($Run.Errors).Count -gt 0) {
        throw "Expected to succeed without errors.`n$(Format-Captured $Run)"
    }
    $Run
}

# The xunit AssertTerminating: a terminating error of -ErrorId raised by a TvmBackupUtils command (its
# FullyQualifiedErrorId is '<ErrorId>,TvmBackupUtils.*'), of -Category. -Run: a captured run (Invoke-Captured,
# Invoke-InNewPwsh), or the ErrorRecord (Get-TerminatingError). Returns the ErrorRecord.
function Assert-TvmTerminating {
    param(
        [Parameter(Position = 0)] $Run,
        [Parameter(Mandatory, Position = 1)] [string] $ErrorId,
        [Parameter(Mandatory, Position = 2)] [System.Management.Automation.ErrorCategory] $Category
    )
    $e = if ($null -eq $Run -or $Run -is [System.Management.Automation.ErrorRecord]) { $Run } else { $Run.Terminating }
    if (-not $e) { throw "Expected a terminating error $ErrorId, got none.`n$(Format-Captured $Run)" }
    "$($e.FullyQualifiedErrorId)".Split(',')[0] | Should -BeExactly $ErrorId -Because (Format-Captured $Run)
    $e.FullyQualifiedErrorId | Should -BeLikeExactly "$ErrorId,TvmBackupUtils.*" -Because 'the error names a TvmBackupUtils command'
    $e.CategoryInfo.Category | Should -Be $Category
    $e
}

# -Objects, each required to be of the .NET type -Type (TvmBackupUtils.<Type> for a name without a dot), as the
# xunit Objects.Keys and Objects.Restores required. Returns them.
function Get-OfType([object[]] $Objects, [string] $Type = 'TvmKey') {
    if ($Type -notlike '*.*') { $Type = "TvmBackupUtils.$Type" }
    foreach ($o in $Objects) {
        $o.GetType().FullName | Should -BeExactly $Type
        $o
    }
}

# The TvmBackup of a backup's output -Objects, which must be exactly that one object.
function Get-SingleBackup([object[]] $Objects) {
    @($Objects | Where-Object { $null -ne $_ }).Count | Should -Be 1 -Because 'Backup-TVMKeys writes exactly one TvmBackup object'
    $Objects[0].GetType().FullName | Should -BeExactly 'TvmBackupUtils.TvmBackup'
    $Objects[0]
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
# stdout and stderr), StdOut and StdErr. -Environment: variables for that process only (TMPDIR, TVM_VAULT_PATH);
# a $null value removes the variable there. TMPDIR is the temp folder on Unix; on Windows the temp folder is TMP
# (then TEMP), so there a TMPDIR given here sets those two as well.
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
    $variables = @{} + $Environment
    if ($IsWindows -and $variables.ContainsKey('TMPDIR')) { $variables['TMP'] = $variables['TEMP'] = $variables['TMPDIR'] }
    foreach ($k in $variables.Keys) {
        if ($null -eq $variables[$k]) { $null = $info.Environment.Remove($k) } else { $info.Environment[$k] = [string]$variables[$k] }
    }
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

# An ErrorRecord as data that crosses a process (Export-Clixml keeps neither its category nor its error details);
# ConvertFrom-ErrorData makes an ErrorRecord of it again, with the same ErrorId, category, target (as text),
# exception message and error details.
function ConvertTo-ErrorData($Record) {
    if ($null -eq $Record) { return }
    [pscustomobject]@{
        FullyQualifiedErrorId = [string]$Record.FullyQualifiedErrorId
        Category = [string]$Record.CategoryInfo.Category
        TargetObject = if ($null -ne $Record.TargetObject) { [string]$Record.TargetObject } else { $null }
        Message = [string]$Record.Exception.Message
        Details = if ($Record.ErrorDetails) { [string]$Record.ErrorDetails.Message } else { $null }
    }
}

function ConvertFrom-ErrorData($Data) {
    if ($null -eq $Data) { return }
    $record = [System.Management.Automation.ErrorRecord]::new([Exception]::new($Data.Message), $Data.FullyQualifiedErrorId,
        [System.Management.Automation.ErrorCategory]$Data.Category, $Data.TargetObject)
    if ($Data.Details) { $record.ErrorDetails = [System.Management.Automation.ErrorDetails]::new($Data.Details) }
    $record
}

# Runs -Body in a new pwsh (Invoke-Pwsh: -Environment there only, e.g. TMPDIR or TVM_VAULT_PATH, which the engine
# of this process would not see) with the staged module imported and -Variables as [string] parameters of the
# script. The body runs in Invoke-Captured there; returns what it captured (output objects deserialized, errors
# ErrorRecords again: ConvertFrom-ErrorData) plus TvmVaultPath (the child's $env:TVM_VAULT_PATH), MocConfigCommands
# (how many Get-MocConfig commands it had), ExitCode and ProcessOutput (Invoke-Pwsh's Output).
# -Raw: the body runs as the script's own statements, as a runbook's do (a terminating error ends the script with
# exit code 1, $? and the What if lines are as a runbook sees them); returns Invoke-Pwsh's result.
function Invoke-InNewPwsh {
    param(
        [Parameter(Mandatory)] [string] $Body,
        [System.Collections.IDictionary] $Variables = @{},
        [hashtable] $Environment = @{},
        [switch] $Raw
    )
    $folder = New-TestFolder pwsh
    $file = [IO.Path]::Combine($folder, 'script.ps1')
    $resultFile = [IO.Path]::Combine($folder, 'result.clixml')
    $names = @($Variables.Keys)
    $fixed = if ($Raw) { @('TvmModulePath') } else { @('TvmModulePath', 'TvmResultFile') }
    $params = "param($((@($fixed) + $names | ForEach-Object { "[string] `$$_" }) -join ', '))"
    $importModule = 'Import-Module ([IO.Path]::Combine($TvmModulePath, ''TvmBackupUtils.psd1'')) -Force -ErrorAction Stop'
    $text = if ($Raw) {
        @($params, $importModule, $Body)
    } else {
        @(
            $params
            "Import-Module '$([IO.Path]::Combine($PSScriptRoot, 'TestHelpers.psm1').Replace("'", "''"))' -Force"
            $importModule
            '$TvmMocConfigCommands = @(Get-Command Get-MocConfig -ErrorAction SilentlyContinue).Count'
            "`$TvmRun = Invoke-Captured {`n$Body`n}"
            '$TvmRun.Errors = @($TvmRun.Errors | ForEach-Object { ConvertTo-ErrorData $_ })'
            '$TvmRun.Terminating = ConvertTo-ErrorData $TvmRun.Terminating'
            '$TvmRun | Add-Member TvmVaultPath $env:TVM_VAULT_PATH'
            '$TvmRun | Add-Member MocConfigCommands $TvmMocConfigCommands'
            '$TvmRun | Export-Clixml -Path $TvmResultFile -Depth 4'
        )
    }
    Set-Content -LiteralPath $file -Value ($text -join "`n") -Encoding utf8
    $arguments = @((Get-TvmModulePath)) + @($(if (-not $Raw) { $resultFile })) + @($names | ForEach-Object { [string]$Variables[$_] })
    $process = Invoke-Pwsh -File $file -ArgumentList $arguments -Environment $Environment
    if ($Raw) { return $process }
    if (-not (Test-Path -LiteralPath $resultFile)) {
        throw "The new pwsh (exit code $($process.ExitCode)) wrote no result:`n$($process.Output -join "`n")"
    }
    $run = Import-Clixml -Path $resultFile
    $run.Errors = @($run.Errors | ForEach-Object { ConvertFrom-ErrorData $_ })
    $run.Terminating = ConvertFrom-ErrorData $run.Terminating
    $run | Add-Member -NotePropertyMembers ([ordered]@{ ExitCode = $process.ExitCode; ProcessOutput = $process.Output }) -PassThru
}


# The names a native library exports, read from the file itself, sorted: a PE's export directory (a .dll) or an
# ELF's dynamic symbol table (a .so: defined global functions). No tool needed, so it reads both libraries of the
# staged module on either platform. -Imports: for a .dll, the DLLs it imports instead (lower case).
function Get-NativeExport([Parameter(Mandatory)] [string] $Path, [switch] $Imports) {
    $b = [IO.File]::ReadAllBytes($Path)
    $u16 = { param($o) [BitConverter]::ToUInt16($b, $o) }
    $u32 = { param($o) [BitConverter]::ToUInt32($b, $o) }
    $u64 = { param($o) [BitConverter]::ToUInt64($b, $o) }
    $cstr = { param($o) $e = $o; while ($b[$e] -ne 0) { $e++ }; [Text.Encoding]::ASCII.GetString($b, $o, $e - $o) }
    $names = [Collections.Generic.List[string]]::new()
    if ($b[0] -eq 0x4D -and $b[1] -eq 0x5A) {
        $pe = & $u32 0x3C
        if ((& $u32 $pe) -ne 0x4550) { throw "$Path is not a PE file." }
        $sections = & $u16 ($pe + 6)
        $optional = $pe + 24
        if ((& $u16 $optional) -ne 0x20B) { throw "$Path is not PE32+." }
        $exportRva = & $u32 ($optional + 112)
        $table = $optional + (& $u16 ($pe + 20))
        $toOffset = {
            param($rva)
            for ($i = 0; $i -lt $sections; $i++) {
                $s = $table + 40 * $i
                $va = & $u32 ($s + 12); $size = [Math]::Max((& $u32 ($s + 8)), (& $u32 ($s + 16)))
                if ($rva -ge $va -and $rva -lt $va + $size) { return $rva - $va + (& $u32 ($s + 20)) }
            }
            throw "RVA $rva of $Path is in no section."
        }
        if ($Imports) {
            # The import directory: 20-byte descriptors, the DLL's name at +12, ended by an empty one.
            for ($d = & $toOffset (& $u32 ($optional + 120)); (& $u32 ($d + 12)) -ne 0; $d += 20) {
                $names.Add((& $cstr (& $toOffset (& $u32 ($d + 12)))).ToLowerInvariant())
            }
            return @($names | Sort-Object -Unique)
        }
        $dir = & $toOffset $exportRva
        $count = & $u32 ($dir + 24)
        $nameTable = & $toOffset (& $u32 ($dir + 32))
        for ($i = 0; $i -lt $count; $i++) { $names.Add((& $cstr (& $toOffset (& $u32 ($nameTable + 4 * $i))))) }
    } elseif ($b[0] -eq 0x7F -and $b[1] -eq 0x45 -and $b[2] -eq 0x4C -and $b[3] -eq 0x46) {
        if ($b[4] -ne 2) { throw "$Path is not a 64-bit ELF file." }
        $shoff = [int64](& $u64 0x28); $shentsize = & $u16 0x3A; $shnum = & $u16 0x3C
        for ($i = 0; $i -lt $shnum; $i++) {
            $s = $shoff + $shentsize * $i
            if ((& $u32 ($s + 4)) -ne 11) { continue }   # SHT_DYNSYM
            $symOffset = [int64](& $u64 ($s + 24)); $symSize = [int64](& $u64 ($s + 32)); $entry = [int64](& $u64 ($s + 56))
            $strings = $shoff + $shentsize * (& $u32 ($s + 40))
            $strOffset = [int64](& $u64 ($strings + 24))
            for ($sym = $symOffset; $sym -lt $symOffset + $symSize; $sym += $entry) {
                $info = $b[$sym + 4]; $shndx = & $u16 ($sym + 6)
                $bind = $info -shr 4; $type = $info -band 0xF
                if ($shndx -ne 0 -and ($bind -eq 1 -or $bind -eq 2) -and $type -eq 2) {
                    $names.Add((& $cstr ($strOffset + (& $u32 $sym))))
                }
            }
        }
    } else {
        throw "$Path is neither a PE nor an ELF file."
    }
    @($names | Sort-Object -Unique)
}

# Key material as the secret scans and key comparisons of several test files need it (Shares, RestoreSafety, VaultToVault).
function Remove-LeadingZero([byte[]] $Bytes) {
    $i = 0
    while ($i -lt $Bytes.Length - 1 -and $Bytes[$i] -eq 0) { $i++ }
    , [byte[]]$Bytes[$i..($Bytes.Length - 1)]
}

# The secret forms of a PKCS#8 RSA private key's DER (as RestoreSafety.Tests.ps1 finds them): the DER and the
# PKCS#1 RSAPrivateKey inside it, each as bytes, base64 and base64url (unpadded, so the padded forms and a PEM
# body with its line breaks removed match too), and its private exponent and first prime as bytes and as hex
# (upper and lower case).
function Get-SecretForms([byte[]] $Pkcs8) {
    Add-Type -AssemblyName System.Formats.Asn1
    $info = [System.Formats.Asn1.AsnReader]::new($Pkcs8, 'DER').ReadSequence()
    $null = $info.ReadInteger()
    $null = $info.ReadEncodedValue()
    $pkcs1 = $info.ReadOctetString()
    $rsaKey = [System.Formats.Asn1.AsnReader]::new($pkcs1, 'DER').ReadSequence()
    $null = $rsaKey.ReadInteger(); $null = $rsaKey.ReadInteger(); $null = $rsaKey.ReadInteger()
    $d = Remove-LeadingZero $rsaKey.ReadIntegerBytes().ToArray()
    $p = Remove-LeadingZero $rsaKey.ReadIntegerBytes().ToArray()
    $texts = [System.Collections.Generic.List[string]]::new()
    $binaries = [System.Collections.Generic.List[byte[]]]::new()
    foreach ($der in @(, $Pkcs8) + @(, $pkcs1)) {
        $b64 = [Convert]::ToBase64String($der).TrimEnd('=')
        $texts.Add($b64)
        $texts.Add($b64.Replace('+', '-').Replace('/', '_'))
        $binaries.Add($der)
    }
    foreach ($n in @(, $d) + @(, $p)) {
        $texts.Add([Convert]::ToHexString($n))
        $texts.Add([Convert]::ToHexString($n).ToLowerInvariant())
        $binaries.Add($n)
    }
    [pscustomobject]@{ Texts = $texts.ToArray(); Binaries = $binaries.ToArray() }
}

# The modulus (hex, no leading zeros) of a PKCS#1 RSAPublicKey DER, or of the PKCS#8 DER of an RSA private key.
function Get-ModulusHex([byte[]] $Der, [switch] $Private) {
    Add-Type -AssemblyName System.Formats.Asn1
    $sequence = [System.Formats.Asn1.AsnReader]::new($Der, 'DER').ReadSequence()
    if ($Private) {
        $null = $sequence.ReadInteger()
        $null = $sequence.ReadEncodedValue()
        $sequence = [System.Formats.Asn1.AsnReader]::new($sequence.ReadOctetString(), 'DER').ReadSequence()
        $null = $sequence.ReadInteger()
    }
    [Convert]::ToHexString($sequence.ReadIntegerBytes().ToArray()).TrimStart('0')
}

# Every folder and file under -Root, hidden ones too: "dir <relative>" or "file <relative> <length> <SHA-256>
# <last write ticks>", ordinal order; none when -Root does not exist. Equal lists: nothing changed there.
function Get-FolderState([string] $Root) {
    if (-not [IO.Directory]::Exists($Root)) { return , [string[]]@() }
    $lines = foreach ($item in Get-ChildItem -LiteralPath $Root -Recurse -Force) {
        $relative = [IO.Path]::GetRelativePath($Root, $item.FullName).Replace('\', '/')
        if ($item.PSIsContainer) { "dir $relative" }
        else { "file $relative $($item.Length) $((Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256).Hash) $($item.LastWriteTimeUtc.Ticks)" }
    }
    Get-OrdinalSorted @($lines)
}

# The secret scan of Crash.Tests.ps1 and of the whole suite (tests/SecretScan.ps1): "<file>: <form>" for each regular
# file under -Root that holds one of -Forms (Get-SecretForms: a private key's PKCS#8 and PKCS#1 DER as bytes, base64
# and base64url, its private exponent and first prime as bytes and hex), or with -PrivatePemHeader a private key PEM
# header, read as Latin-1 (one character per byte) for the binary forms, and made plain for the text forms (UTF-16LE's
# NULs, whitespace and the JSON escapes of line breaks removed, those of '+', '/', '=' undone). Left out: the own
# files of the local vaults -Vault (tvmvault.json and keys/<name>, not their .tmp-* files), and with -FindVaults those
# of every local vault under -Root (a folder holding tvmvault.json). Files over 64 MB are not read.
$script:TextUndo = @(("`0", ''), ("`r", ''), ("`n", ''), ("`t", ''), (' ', ''), ('\r', ''), ('\n', ''),
    ('\u002B', '+'), ('\u002b', '+'), ('\u002F', '/'), ('\u002f', '/'), ('\/', '/'), ('\u003D', '='), ('\u003d', '='))
function Find-TestSecret {
    param(
        [Parameter(Mandatory)] [string] $Root,
        [Parameter(Mandatory)] [object[]] $Forms,
        [string[]] $Vault = @(),
        [switch] $PrivatePemHeader,
        [switch] $FindVaults
    )
    $latin1 = [Text.Encoding]::Latin1
    $binaries = @($Forms | ForEach-Object { $_.Binaries } | ForEach-Object { $latin1.GetString($_) })
    $texts = @($Forms | ForEach-Object { $_.Texts })
    $files = @(Get-ChildItem -LiteralPath $Root -Recurse -Force -File -ErrorAction SilentlyContinue)
    if ($FindVaults) {
        $Vault = @($Vault) + @($files | Where-Object Name -CEQ 'tvmvault.json' | ForEach-Object DirectoryName)
    }
    $own = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
    foreach ($v in $Vault) {
        $full = [IO.Path]::GetFullPath($v)
        $null = $own.Add([IO.Path]::Combine($full, 'tvmvault.json'))
        $keysDir = [IO.Path]::Combine($full, 'keys')
        if ([IO.Directory]::Exists($keysDir)) {
            foreach ($f in [IO.Directory]::GetFiles($keysDir)) { if (-not [IO.Path]::GetFileName($f).StartsWith('.')) { $null = $own.Add($f) } }
        }
    }
    foreach ($f in $files) {
        if (-not $IsWindows -and -not "$($f.UnixMode)".StartsWith('-')) { continue }
        if ($own.Contains($f.FullName) -or $f.Length -gt 64MB) { continue }
        try { $raw = $latin1.GetString([IO.File]::ReadAllBytes($f.FullName)) } catch { continue }
        $hit = $null
        foreach ($b in $binaries) { if ($raw.IndexOf($b, [StringComparison]::Ordinal) -ge 0) { $hit = 'binary form'; break } }
        if (-not $hit) {
            $text = $raw
            foreach ($u in $script:TextUndo) { $text = $text.Replace($u[0], $u[1]) }
            if ($PrivatePemHeader -and $text.IndexOf('PRIVATEKEY-----', [StringComparison]::Ordinal) -ge 0) { $hit = 'a private key PEM header' }
            foreach ($t in $texts) { if (-not $hit -and $text.IndexOf($t, [StringComparison]::Ordinal) -ge 0) { $hit = "text form $($t.Substring(0, 12))..." } }
        }
        if ($hit) { "$($f.FullName): $hit" }
    }
}

Export-ModuleMember -Function *
