<#
.SYNOPSIS
    Benchmark (not a test) of the module's key commands on the local vault and on the stand-in Moc module, side by
    side: backup, restore, full check and deep check at several vault sizes, Import-Module cold time, peak memory
    and per-key cost against a floor measured on the same machine, with the project's goals printed as PASS/MISS.
.DESCRIPTION
    Usage (the staged module; ./build.ps1 Stage makes target/TvmBackupUtils; the stand-in is built with
    dotnet build tests/MocStandIn -c Release):
        dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Bench.ps1
        dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Bench.ps1 -Sizes 10,100 -MocSizes 10 -Runs 1
    The stand-in (tests/MocStandIn) is NOT Microsoft's Moc module: it reproduces the documented Moc key vault
    cmdlets; -MocDelayMs is its per-call delay (Set-MocStandIn -CallDelayMilliseconds), a stand-in for the
    latency of a real cloud agent. At 50 ms a call, 10,000 keys take 8 minutes a pass: hence -MocSizes.

    Untimed setup (reported as SEED): the wrapping key pair of tests/vectors (RSA-2048) is copied to -WorkPath; a
    local vault and a stand-in cluster "A" grow to each size in turn (-RsaKeys RSA-2048 keys, the first named
    AzureStackTvmAKRootKey, the rest AES-256), made one by one in this process with New-TvmVaultKey (local) and
    New-MocKey at no delay (stand-in), as Add-StandInKey in tests/pester/TestHelpers.psm1 does. Before the
    first timed run each command runs once, untimed, at the smallest size (warm-up: JIT, engine load).
    Timed, at each size, -Runs times (the figures are the medians; -LargeRuns for sizes of 10,000 and more):
      backup    Backup-TVMKeys <public.pem> <a new backup root>      (-VaultPath <vault> for the local vault)
      restore   Import-TVMKeys <that backup> w -SkipTargetBackup into a new local vault / a new stand-in
                cluster, which holds only the wrapping key w (Import-TvmWrappingKeyFromPem, untimed)
      full      Test-TVMKeyBackup <that backup>                      (every key file's bytes and content)
      deep      Test-TVMKeyBackup <that backup> -Deep -PrivateKeyPath <private.pem>   (every core)
      deep_1    the same with -ThrottleLimit 1
      backup_t, restore_t   (the stand-in Moc only) backup and restore again with -ThrottleLimit <-Throttle>
    Every check must say Valid with every key, every backup must hold every key and every restore must give
    every key (Outcome Imported, and the target then lists them), or the script prints BENCH FAILED and exits 1.
    The stand-in's calls are counted and timed (Get-MocStandInCall: each call's Milliseconds inside the stand-in,
    its delay and work) for each timed command: per-key cost above the vault's own = (ms - the calls' time in the
    stand-in) / keys; (ms - calls * delay) / keys, which also counts the stand-in's work, is printed beside it.
    Also measured:
      floor     in .NET (Add-Type), in -WorkPath: one RSA-OAEP-SHA1 encryption of a random 32-byte AES key with
                the RSA-2048 wrapping key + one durable 1 KB file write (a new file, FileStream.Write,
                Flush(true) = fsync), per key: the least a backup must do per key on the local vault. The same
                with the decryption of that ciphertext by the private key is the floor of a restore.
      import    Import-Module <psd1> cold: a fresh pwsh per run measures Measure-Command { Import-Module } inside,
                median of -ImportRuns; the floor is an empty .psm1 imported the same way (runs alternate).
      memory    at the largest size of each vault, each command once more in a fresh pwsh -NoProfile -File child
                (modules imported, command timed, checked): its peak working set at its end (PeakWorkingSet64;
                VmHWM of /proc/self/status where there is one), and the same for a child that runs no command
                (the baseline: the host and the modules).
    Goals (PASS/MISS; a MISS never fails the script):
      per-key cost above the vault's own <= 1 ms at the largest size (local: ms/key - the floor per key of a
      backup or a restore; Moc: (ms - the calls' time in the stand-in) / keys); local backup <= 2x the floor per key; deep check
      of 1,000 keys < 1.5 s; linear: ms/key at 10,000 <= 1.2x ms/key at 1,000; Import-Module cold < 150 ms;
      Moc backup and restore at -ThrottleLimit <-Throttle> in at most 0.3x the time at 1.
    Host messages are dropped (-InformationAction Ignore), progress is off. -WorkPath (default: a new folder
    under the temp folder) is removed at the end unless -Keep is given or -WorkPath was.
.EXAMPLE
    dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Bench.ps1 -ModulePath target/TvmBackupUtils-bench -MocDelayMs 20
#>
param(
    [string] $ModulePath = [IO.Path]::Combine($PSScriptRoot, '..', '..', 'target', 'TvmBackupUtils'),
    [string] $MocModulePath = [IO.Path]::Combine($PSScriptRoot, '..', 'MocStandIn', 'bin', 'Release', 'net10.0', 'MocStandIn.psd1'),
    [string] $WorkPath,
    # Vault sizes, ascending; with -File give them as one argument: -Sizes 10,100.
    [string[]] $Sizes = @('10', '100', '1000', '10000'),
    # Sizes for the stand-in Moc; 'none' skips it.
    [string[]] $MocSizes = @('10', '100', '1000'),
    [ValidateRange(0, 60000)] [int] $MocDelayMs = 50,
    # -ThrottleLimit of the stand-in Moc's backup_t and restore_t.
    [ValidateRange(2, 16)] [int] $Throttle = 4,
    [ValidateRange(0, 100)] [int] $RsaKeys = 3,
    [ValidateRange(1, 100)] [int] $Runs = 3,
    # Runs at sizes of 10,000 keys and more; 0: as -Runs.
    [ValidateRange(0, 100)] [int] $LargeRuns = 0,
    [ValidateRange(1, 100)] [int] $ImportRuns = 5,
    # Iterations of the floor per run.
    [ValidateRange(10, 100000)] [int] $FloorIterations = 1000,
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
$inv = [System.Globalization.CultureInfo]::InvariantCulture
$totalWatch = [System.Diagnostics.Stopwatch]::StartNew()

function Get-FullPath([string] $Path) { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path) }

function Get-Median([double[]] $Values) {
    $sorted = [double[]] $Values.Clone()
    [Array]::Sort($sorted)
    $n = $sorted.Length
    if ($n -eq 0) { return [double]::NaN }
    if ($n % 2 -eq 1) { return $sorted[($n - 1) / 2] }
    ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2
}

function Format-Ms([double] $Value) { if ([double]::IsNaN($Value)) { '-' } else { $Value.ToString('F1', $inv) } }
function Format-PerKey([double] $Value) { if ([double]::IsNaN($Value)) { '-' } else { $Value.ToString('F3', $inv) } }
function Format-Mb([double] $Bytes) { ($Bytes / 1MB).ToString('F1', $inv) }

# The work folder this run made (null until then, and with -Keep or -WorkPath): it holds the test wrapping private key,
# so a run that fails or stops on an error removes it too, not only one that ends.
$benchWork = $null
function Remove-BenchWork { if ($script:benchWork -and [IO.Directory]::Exists($script:benchWork)) { [IO.Directory]::Delete($script:benchWork, $true) } }
trap { Remove-BenchWork; break }

function Fail([string] $Message) {
    [Console]::Error.WriteLine("BENCH FAILED: $Message")
    Remove-BenchWork
    exit 1
}

# Runs $Block once; returns its elapsed milliseconds and its output.
function Measure-Block([scriptblock] $Block) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $output = @(& $Block)
    $watch.Stop()
    [pscustomobject]@{ Ms = $watch.Elapsed.TotalMilliseconds; Output = $output }
}

function ConvertTo-Sizes([string[]] $Given, [string] $Name) {
    $list = @($Given | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ -and $_ -ne 'none' })
    $numbers = @(foreach ($s in $list) {
            $n = 0
            if (-not [int]::TryParse($s, [ref]$n) -or $n -lt 1) { Fail "$Name must be positive numbers of keys, not '$($Given -join ',')'" }
            $n
        })
    , [int[]]@($numbers | Sort-Object -Unique)
}

$localSizes = ConvertTo-Sizes $Sizes '-Sizes'
$mocSizesSorted = ConvertTo-Sizes $MocSizes '-MocSizes'
if ($localSizes.Count -eq 0) { Fail '-Sizes names no size' }
foreach ($set in @($localSizes, $mocSizesSorted)) {
    if ($set.Count -gt 0 -and $RsaKeys -gt $set[0]) { Fail "-RsaKeys $RsaKeys is more than the smallest size $($set[0])" }
}
$ModulePath = Get-FullPath $ModulePath
$manifest = [IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')
if (-not [IO.File]::Exists($manifest)) { Fail "no module manifest at $manifest (run ./build.ps1 Stage)" }
$withMoc = $mocSizesSorted.Count -gt 0
if ($withMoc) {
    $MocModulePath = Get-FullPath $MocModulePath
    if (-not [IO.File]::Exists($MocModulePath)) { Fail "the stand-in Moc module is not built at $MocModulePath (dotnet build tests/MocStandIn -c Release)" }
}
$ownWork = -not $WorkPath
if ($ownWork) { $WorkPath = [IO.Path]::Combine([IO.Path]::GetTempPath(), 'tvm-bench-' + [IO.Path]::GetRandomFileName()) }
$WorkPath = Get-FullPath $WorkPath
if ([IO.Directory]::Exists($WorkPath) -and [IO.Directory]::GetFileSystemEntries($WorkPath).Length -gt 0) {
    Fail "the work folder $WorkPath is not empty; give a new or empty one"
}
$null = [IO.Directory]::CreateDirectory($WorkPath)
if ($ownWork -and -not $Keep) { $benchWork = $WorkPath }
# Every command below names its vault: no -VaultPath means the Moc vault, so TVM_VAULT_PATH must not point
# elsewhere (the children inherit this process's environment).
$env:TVM_VAULT_PATH = $null
Import-Module $manifest -Force
if ($withMoc) { Import-Module $MocModulePath -Force }

function Get-RunsFor([int] $Size) { if ($Size -ge 10000 -and $LargeRuns -gt 0) { $LargeRuns } else { $Runs } }

# The machine.
$cpu = 'unknown CPU'
if ([IO.File]::Exists('/proc/cpuinfo')) {
    $line = [IO.File]::ReadAllLines('/proc/cpuinfo') | Where-Object { $_ -like 'model name*' } | Select-Object -First 1
    if ($line) { $cpu = ($line -split ':', 2)[1].Trim() }
} elseif ($env:PROCESSOR_IDENTIFIER) {
    $cpu = $env:PROCESSOR_IDENTIFIER
}
$fileSystem = ''
if ($IsLinux) { $fileSystem = " ($(& stat -f -c %T $WorkPath 2>$null))" }
function Get-Load { if ([IO.File]::Exists('/proc/loadavg')) { ([IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2] -join ' ' } else { 'unknown' } }
function Get-Uptime {
    if (Get-Command uptime -CommandType Application -ErrorAction SilentlyContinue) { (& uptime) -join ' ' } else { "load average: $(Get-Load)" }
}
"UPTIME before: $(Get-Uptime)"
"MACHINE cores=$([Environment]::ProcessorCount) cpu=`"$cpu`" os=`"$([System.Runtime.InteropServices.RuntimeInformation]::OSDescription)`""
"HOST PowerShell $($PSVersionTable.PSVersion) .NET $([Environment]::Version) module $((Get-Module TvmBackupUtils).Version) $ModulePath"
"WORK $WorkPath$fileSystem runs=$Runs large_runs=$(if ($LargeRuns) { $LargeRuns } else { $Runs }) sizes=$($localSizes -join ',') moc_sizes=$(if ($withMoc) { $mocSizesSorted -join ',' } else { 'none' }) moc_delay_ms=$MocDelayMs rsa=$RsaKeys"

# The pwsh of this PowerShell, for the children: $PSHOME/pwsh (under `dotnet pwsh` the process is dotnet).
$pwsh = $null
foreach ($name in 'pwsh.exe', 'pwsh') {
    $candidate = [IO.Path]::Combine($PSHOME, $name)
    if ([IO.File]::Exists($candidate)) { $pwsh = $candidate; break }
}
if (-not $pwsh) { $pwsh = (Get-Process -Id $PID).Path }

# Runs a .ps1 in a fresh pwsh -NoProfile -File; returns its stdout lines (stderr is appended to a failure).
function Invoke-Child([string] $File, [string[]] $Arguments) {
    $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
    foreach ($a in @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $File) + $Arguments) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $info.WorkingDirectory = $WorkPath
    $process = [System.Diagnostics.Process]::Start($info)
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    $process.WaitForExit()
    $lines = @($stdout -split "`r?`n" | Where-Object { $_ -ne '' })
    if ($process.ExitCode -ne 0) { Fail "the child pwsh $File $($Arguments -join ' ') exited with $($process.ExitCode): $(($lines + $stderr.Result) -join ' | ')" }
    $lines
}

# The wrapping key pair of tests/vectors (as Copy-VectorKeyPair in tests/pester/TestHelpers.psm1 copies it).
$vectors = [IO.Path]::Combine($PSScriptRoot, '..', 'vectors')
$publicPem = [IO.Path]::Combine($WorkPath, 'public.pem')
$privatePem = [IO.Path]::Combine($WorkPath, 'private.pem')
Copy-Item ([IO.Path]::Combine($vectors, 'wrapping_public_pkcs1.pem')) $publicPem
Copy-Item ([IO.Path]::Combine($vectors, 'wrapping_private_pkcs8.pem')) $privatePem

# ---------------------------------------------------------------------------------------------------------
# The floor, in .NET.
Add-Type -TypeDefinition @'
using System;
using System.Diagnostics;
using System.IO;
using System.Security.Cryptography;

public static class TvmBenchFloor
{
    // Per iteration: a fresh random 32-byte key, RSA-OAEP-SHA1 encrypted (decrypt: the ciphertext decrypted),
    // written into a new 1 KB file and fsync'ed (Flush(true)). Returns the milliseconds per iteration for
    // [0] crypto + durable write, [1] crypto alone, [2] durable write alone.
    public static double[] Measure(RSA rsa, string folder, int iterations, bool decrypt)
    {
        Directory.CreateDirectory(folder);
        var key = new byte[32];
        var page = new byte[1024];
        byte[] cipher = rsa.Encrypt(key, RSAEncryptionPadding.OaepSHA1);
        var both = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            RandomNumberGenerator.Fill(key);
            byte[] result = decrypt ? rsa.Decrypt(cipher, RSAEncryptionPadding.OaepSHA1) : rsa.Encrypt(key, RSAEncryptionPadding.OaepSHA1);
            Buffer.BlockCopy(result, 0, page, 0, result.Length);
            using (var file = new FileStream(Path.Combine(folder, "b" + i + ".bin"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096))
            {
                file.Write(page, 0, page.Length);
                file.Flush(true);
            }
        }
        both.Stop();
        var crypto = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            RandomNumberGenerator.Fill(key);
            byte[] result = decrypt ? rsa.Decrypt(cipher, RSAEncryptionPadding.OaepSHA1) : rsa.Encrypt(key, RSAEncryptionPadding.OaepSHA1);
            page[0] ^= result[0];
        }
        crypto.Stop();
        var write = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            using (var file = new FileStream(Path.Combine(folder, "w" + i + ".bin"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096))
            {
                file.Write(page, 0, page.Length);
                file.Flush(true);
            }
        }
        write.Stop();
        return new[] {
            both.Elapsed.TotalMilliseconds / iterations,
            crypto.Elapsed.TotalMilliseconds / iterations,
            write.Elapsed.TotalMilliseconds / iterations };
    }
}
'@
$floorRuns = @{ Encrypt = @(); EncryptCrypto = @(); Decrypt = @(); DecryptCrypto = @(); Write = @() }
$rsaPublic = [System.Security.Cryptography.RSA]::Create()
$rsaPublic.ImportFromPem([IO.File]::ReadAllText($publicPem))
$rsaPrivate = [System.Security.Cryptography.RSA]::Create()
$rsaPrivate.ImportFromPem([IO.File]::ReadAllText($privatePem))
for ($run = 0; $run -le $Runs; $run++) {
    # Run 0 is a warm-up.
    $e = [TvmBenchFloor]::Measure($rsaPublic, [IO.Path]::Combine($WorkPath, 'floor', "encrypt-$run"), $FloorIterations, $false)
    $d = [TvmBenchFloor]::Measure($rsaPrivate, [IO.Path]::Combine($WorkPath, 'floor', "decrypt-$run"), $FloorIterations, $true)
    if ($run -eq 0) { continue }
    $floorRuns.Encrypt += $e[0]; $floorRuns.EncryptCrypto += $e[1]; $floorRuns.Write += $e[2], $d[2]
    $floorRuns.Decrypt += $d[0]; $floorRuns.DecryptCrypto += $d[1]
    "FLOORRUN run=$run encrypt_write_ms=$(Format-PerKey $e[0]) decrypt_write_ms=$(Format-PerKey $d[0]) encrypt_ms=$(Format-PerKey $e[1]) decrypt_ms=$(Format-PerKey $d[1]) write_fsync_ms=$(Format-PerKey $e[2])"
}
$rsaPublic.Dispose(); $rsaPrivate.Dispose()
[IO.Directory]::Delete([IO.Path]::Combine($WorkPath, 'floor'), $true)
$floor = [pscustomobject]@{
    Backup = Get-Median $floorRuns.Encrypt
    Restore = Get-Median $floorRuns.Decrypt
    Encrypt = Get-Median $floorRuns.EncryptCrypto
    Decrypt = Get-Median $floorRuns.DecryptCrypto
    Write = Get-Median $floorRuns.Write
}
"FLOOR per key (median of $Runs x $FloorIterations): backup=$(Format-PerKey $floor.Backup) ms (RSA-OAEP-SHA1 encrypt $(Format-PerKey $floor.Encrypt) + 1 KB write+fsync $(Format-PerKey $floor.Write)); restore=$(Format-PerKey $floor.Restore) ms (decrypt $(Format-PerKey $floor.Decrypt) + write+fsync)"

# ---------------------------------------------------------------------------------------------------------
# Import-Module cold, and an empty .psm1 as the floor.
$importChild = [IO.Path]::Combine($WorkPath, 'import-child.ps1')
[IO.File]::WriteAllText($importChild, @'
param([string] $Module)
$ms = (Measure-Command { Import-Module $Module -ErrorAction Stop }).TotalMilliseconds
$ms.ToString('R', [System.Globalization.CultureInfo]::InvariantCulture)
'@)
$emptyModule = [IO.Path]::Combine($WorkPath, 'empty', 'Empty.psm1')
$null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($emptyModule))
[IO.File]::WriteAllText($emptyModule, '')
$importMs = @{ module = @(); empty = @() }
for ($run = 1; $run -le $ImportRuns; $run++) {
    foreach ($kind in 'module', 'empty') {
        $path = if ($kind -eq 'module') { $manifest } else { $emptyModule }
        $out = @(Invoke-Child $importChild @($path))
        $importMs[$kind] += [double]::Parse($out[-1], $inv)
    }
    "IMPORTRUN run=$run module_ms=$(Format-Ms $importMs.module[-1]) empty_psm1_ms=$(Format-Ms $importMs.empty[-1])"
}
$import = [pscustomobject]@{ Module = Get-Median $importMs.module; Empty = Get-Median $importMs.empty }

# ---------------------------------------------------------------------------------------------------------
# The benchmark child: one command in a fresh pwsh, timed and checked there, with its peak working set.
$benchChild = [IO.Path]::Combine($WorkPath, 'bench-child.ps1')
[IO.File]::WriteAllText($benchChild, @'
param([string] $Manifest, [string] $MocManifest, [string] $StateRoot, [string] $DelayMs, [string] $What,
    [string] $VaultPath, [string] $PublicPem, [string] $PrivatePem, [string] $Target, [string] $Keys)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Import-Module $Manifest
$vault = @{}
if ($VaultPath) { $vault.VaultPath = $VaultPath }
if ($MocManifest) {
    Import-Module $MocManifest
    Set-MocStandIn -StateRoot $StateRoot -CallDelayMilliseconds ([int]$DelayMs)
    Clear-MocStandInCall
}
$n = [int]$Keys
$watch = [System.Diagnostics.Stopwatch]::StartNew()
$out = @(switch ($What) {
        'none' { }
        'backup' { Backup-TVMKeys @vault $PublicPem $Target -InformationAction Ignore }
        'restore' { Import-TVMKeys @vault -BackupPath $Target -WrappingKeyName w -SkipTargetBackup -InformationAction Ignore }
        'full' { Test-TVMKeyBackup -Path $Target -InformationAction Ignore }
        'deep' { Test-TVMKeyBackup -Path $Target -Deep -PrivateKeyPath $PrivatePem -InformationAction Ignore }
        'deep_1' { Test-TVMKeyBackup -Path $Target -Deep -PrivateKeyPath $PrivatePem -ThrottleLimit 1 -InformationAction Ignore }
    })
$watch.Stop()
$calls = if ($MocManifest) { @(Get-MocStandInCall).Count } else { 0 }
$check = switch ($What) {
    'none' { 'ok' }
    'backup' { if ($out.Count -eq 1 -and @($out[0].Keys).Count -eq $n) { 'ok' } else { "backup of $(if ($out.Count) { @($out[0].Keys).Count } else { 'no' }) keys" } }
    'restore' {
        $imported = @($out | Where-Object { "$($_.Outcome)" -eq 'Imported' }).Count
        if ($out.Count -eq $n -and $imported -eq $n) { 'ok' } else { "$imported of $n Imported ($($out.Count) results)" }
    }
    default { if ($out.Count -eq 1 -and "$($out[0].Status)" -eq 'Valid' -and $out[0].KeyCount -eq $n) { 'ok' } else { "not Valid with $n keys: $(if ($out.Count) { "$($out[0].Status), $($out[0].KeyCount) keys" } else { 'no result' })" } }
}
$peak = [System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
$hwm = -1
if ([IO.File]::Exists('/proc/self/status')) {
    $line = [IO.File]::ReadAllLines('/proc/self/status') | Where-Object { $_ -like 'VmHWM:*' } | Select-Object -First 1
    if ($line -match '(\d+)\s*kB') { $hwm = [long]$Matches[1] * 1024 }
}
$inv = [System.Globalization.CultureInfo]::InvariantCulture
"CHILD ms=$($watch.Elapsed.TotalMilliseconds.ToString('R', $inv)) peak=$peak hwm=$hwm calls=$calls check=$check"
'@)

function Invoke-BenchChild([string] $Vault, [string] $What, [int] $Keys, [string] $Target, [string] $StateRoot = '', [string] $VaultPath = '', [int] $Delay = 0) {
    $moc = if ($Vault -eq 'moc') { $MocModulePath } else { '' }
    $lines = @(Invoke-Child $benchChild @($manifest, $moc, $StateRoot, "$Delay", $What, $VaultPath, $publicPem, $privatePem, $Target, "$Keys"))
    $line = $lines | Where-Object { $_ -like 'CHILD *' } | Select-Object -Last 1
    if (-not $line -or $line -notmatch '^CHILD ms=(\S+) peak=(\d+) hwm=(-?\d+) calls=(\d+) check=(.*)$') { Fail "the $Vault $What child printed no result: $($lines -join ' | ')" }
    if ($Matches[5] -ne 'ok') { Fail "$Vault $What of $Keys keys in a fresh pwsh: $($Matches[5])" }
    [pscustomobject]@{ Vault = $Vault; What = $What; Keys = $Keys; Ms = [double]::Parse($Matches[1], $inv); Peak = [long]$Matches[2]; Hwm = [long]$Matches[3]; Calls = [int]$Matches[4] }
}

# ---------------------------------------------------------------------------------------------------------
# The checks.
function Assert-Check($Output, [int] $Keys, [string] $What) {
    $check = if ($Output.Count -eq 1) { $Output[0] } else { $null }
    if ($null -eq $check -or "$($check.Status)" -ne 'Valid' -or $check.KeyCount -ne $Keys) {
        $found = if ($check) { "$($check.Status), $($check.KeyCount) keys, $(@($check.Findings).Count) findings" } else { "$($Output.Count) results" }
        Fail "${What}: expected Valid with $Keys keys, got $found"
    }
    $check
}

function Assert-Backup($Output, [int] $Keys, [string] $What) {
    $backup = if ($Output.Count -eq 1) { $Output[0] } else { $null }
    if ($null -eq $backup -or @($backup.Keys).Count -ne $Keys) { Fail "${What} wrote $(if ($backup) { @($backup.Keys).Count } else { 'no' }) keys, not $Keys" }
    $backup
}

function Assert-Restore($Output, [int] $Keys, [string] $What) {
    $outcomes = @{}
    foreach ($r in $Output) { $outcomes[[string]$r.Outcome] = 1 + [int]$outcomes[[string]$r.Outcome] }
    $imported = [int]$outcomes['Imported']
    if ($imported -ne $Keys -or $Output.Count -ne $Keys) {
        Fail "${What}: $imported of $Keys keys Imported ($($Output.Count) results: $(($outcomes.Keys | ForEach-Object { "$_=$($outcomes[$_])" }) -join ','))"
    }
}

# The stand-in's configuration: Set-MocStandIn replaces it whole; the call record is cleared for counting.
function Use-Cluster([string] $StateRoot, [int] $Delay) {
    Set-MocStandIn -StateRoot $StateRoot -CallDelayMilliseconds $Delay
    Clear-MocStandInCall
}
function Get-CallCount { @(Get-MocStandInCall).Count }
# The stand-in's own time of the calls since the last Clear-MocStandInCall, ms (each call's Milliseconds: delay and work).
function Get-CallMs { $sum = 0.0; foreach ($call in @(Get-MocStandInCall)) { $sum += $call.Milliseconds }; $sum }

# ---------------------------------------------------------------------------------------------------------
# One vault (local or moc) at all its sizes.
$commands = 'backup', 'restore', 'full', 'deep', 'deep_1'
# The stand-in Moc's backup and restore at -ThrottleLimit $Throttle.
$throttled = 'backup_t', 'restore_t'
$results = [System.Collections.Generic.List[object]]::new()
$memory = [System.Collections.Generic.List[object]]::new()
$threads = 0
$mocCalibration = $null

function Invoke-VaultBench([string] $Vault, [int[]] $VaultSizes) {
    $isMoc = $Vault -eq 'moc'
    $local = [IO.Path]::Combine($WorkPath, 'vault')
    $clusterA = [IO.Path]::Combine($WorkPath, 'moc-A')
    $vaultArgs = if ($isMoc) { @{} } else { @{ VaultPath = $local } }
    $keysInVault = 0
    $number = 0
    $lastBackup = $null

    if ($isMoc) {
        # The stand-in's delay, measured: Get-MocConfig calls at the delay and at none.
        Use-Cluster $clusterA 0
        $calls = 20
        $m0 = Measure-Block { for ($i = 0; $i -lt $calls; $i++) { $null = Get-MocConfig } }
        Use-Cluster $clusterA $MocDelayMs
        $md = Measure-Block { for ($i = 0; $i -lt $calls; $i++) { $null = Get-MocConfig } }
        $script:mocCalibration = ($md.Ms - $m0.Ms) / $calls
        "DELAY stand-in -CallDelayMilliseconds $MocDelayMs costs $(Format-PerKey $script:mocCalibration) ms per call (measured on $calls Get-MocConfig calls; the goals use $MocDelayMs)"
    }

    # Seeds one key (not timed): local with New-TvmVaultKey, the stand-in with New-MocKey at no delay.
    function Add-Key([int] $Index) {
        $isRsa = $Index -lt $RsaKeys
        $name = if ($Index -eq 0) { 'AzureStackTvmAKRootKey' } elseif ($isRsa) { "rsa-$Index" } else { [guid]::NewGuid().ToString() }
        $type = if ($isRsa) { 'RSA' } else { 'AES' }
        $size = if ($isRsa) { 2048 } else { 256 }
        if ($isMoc) {
            New-MocKey -name $name -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault -type $type -size $size
        } else {
            $null = New-TvmVaultKey -VaultPath $local -Name $name -Type $type -Size $size -InformationAction Ignore
        }
    }

    function Get-VaultKeyCount([string] $Target) {
        if ($isMoc) {
            Use-Cluster $Target 0
            @(Get-MocKey -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault).Count
        } else {
            @(Get-TvmVaultKey -VaultPath $Target -InformationAction Ignore).Count
        }
    }

    # A new, empty target (a local vault or a stand-in cluster) holding only the wrapping key w (untimed).
    function New-Target([string] $Name) {
        $target = [IO.Path]::Combine($WorkPath, $Name)
        if ($isMoc) {
            Use-Cluster $target 0
            $null = Import-TvmWrappingKeyFromPem -KeyName w -PublicKeyPath $publicPem -PrivateKeyPath $privatePem -KeySize 2048 -InformationAction Ignore
        } else {
            $null = Import-TvmWrappingKeyFromPem -VaultPath $target -KeyName w -PublicKeyPath $publicPem -PrivateKeyPath $privatePem -KeySize 2048 -InformationAction Ignore
        }
        $target
    }

    # One pass of the five commands; returns ms and call counts per command.
    function Invoke-Pass([int] $Size, [string] $Label) {
        $script:passNumber++
        $n = $script:passNumber
        $root = [IO.Path]::Combine($WorkPath, "$Vault-root-$Size-$n")
        $ms = @{}; $calls = @{}; $inVault = @{}
        if ($isMoc) { Use-Cluster $clusterA $MocDelayMs }
        $m = Measure-Block { Backup-TVMKeys @vaultArgs $publicPem $root -InformationAction Ignore }
        $backup = Assert-Backup $m.Output $Size "$Vault Backup-TVMKeys of $Size keys"
        $ms.backup = $m.Ms; $calls.backup = if ($isMoc) { Get-CallCount } else { 0 }; $inVault.backup = if ($isMoc) { Get-CallMs } else { 0 }

        $target = New-Target "$Vault-target-$Size-$n"
        if ($isMoc) { Use-Cluster $target $MocDelayMs; $restoreArgs = @{} } else { $restoreArgs = @{ VaultPath = $target } }
        $m = Measure-Block { Import-TVMKeys @restoreArgs -BackupPath $backup.Path -WrappingKeyName w -SkipTargetBackup -InformationAction Ignore }
        $ms.restore = $m.Ms; $calls.restore = if ($isMoc) { Get-CallCount } else { 0 }; $inVault.restore = if ($isMoc) { Get-CallMs } else { 0 }
        Assert-Restore $m.Output $Size "$Vault Import-TVMKeys of $Size keys"
        $listed = Get-VaultKeyCount $target
        if ($listed -ne $Size + 1) { Fail "$Vault Import-TVMKeys of $Size keys: the target lists $listed keys, not $($Size + 1) (the keys and w)" }

        if ($isMoc) {
            # The same backup and restore with -ThrottleLimit: up to $Throttle Moc calls at a time.
            Use-Cluster $clusterA $MocDelayMs
            $m = Measure-Block { Backup-TVMKeys $publicPem "$root-t" -ThrottleLimit $Throttle -InformationAction Ignore }
            $null = Assert-Backup $m.Output $Size "$Vault Backup-TVMKeys -ThrottleLimit $Throttle of $Size keys"
            $ms.backup_t = $m.Ms; $calls.backup_t = Get-CallCount; $inVault.backup_t = Get-CallMs
            $targetT = New-Target "$Vault-target-$Size-$n-t"
            Use-Cluster $targetT $MocDelayMs
            $m = Measure-Block { Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName w -SkipTargetBackup -ThrottleLimit $Throttle -InformationAction Ignore }
            $ms.restore_t = $m.Ms; $calls.restore_t = Get-CallCount; $inVault.restore_t = Get-CallMs
            Assert-Restore $m.Output $Size "$Vault Import-TVMKeys -ThrottleLimit $Throttle of $Size keys"
            if ((Get-VaultKeyCount $targetT) -ne $Size + 1) { Fail "$Vault Import-TVMKeys -ThrottleLimit $Throttle of $Size keys: the target does not list every key" }
        }

        if ($isMoc) { Use-Cluster $clusterA $MocDelayMs }
        $m = Measure-Block { Test-TVMKeyBackup -Path $backup.Path -InformationAction Ignore }
        $null = Assert-Check $m.Output $Size "$Vault Test-TVMKeyBackup of $Size keys"
        $ms.full = $m.Ms; $calls.full = if ($isMoc) { Get-CallCount } else { 0 }; $inVault.full = if ($isMoc) { Get-CallMs } else { 0 }

        if ($isMoc) { Clear-MocStandInCall }
        $m = Measure-Block { Test-TVMKeyBackup -Path $backup.Path -Deep -PrivateKeyPath $privatePem -InformationAction Ignore }
        $check = Assert-Check $m.Output $Size "$Vault Test-TVMKeyBackup -Deep of $Size keys"
        $script:threads = $check.Threads
        $ms.deep = $m.Ms; $calls.deep = if ($isMoc) { Get-CallCount } else { 0 }; $inVault.deep = if ($isMoc) { Get-CallMs } else { 0 }

        if ($isMoc) { Clear-MocStandInCall }
        $m = Measure-Block { Test-TVMKeyBackup -Path $backup.Path -Deep -PrivateKeyPath $privatePem -ThrottleLimit 1 -InformationAction Ignore }
        $check = Assert-Check $m.Output $Size "$Vault Test-TVMKeyBackup -Deep -ThrottleLimit 1 of $Size keys"
        if ($check.Threads -ne 1) { Fail "-ThrottleLimit 1 ran on $($check.Threads) threads" }
        $ms.deep_1 = $m.Ms; $calls.deep_1 = if ($isMoc) { Get-CallCount } else { 0 }; $inVault.deep_1 = if ($isMoc) { Get-CallMs } else { 0 }

        $line = "$Label vault=$Vault keys=$Size " + ((@($commands) + @(if ($isMoc) { $throttled }) | ForEach-Object { "${_}_ms=$(Format-Ms $ms[$_])" + $(if ($isMoc) { " ${_}_calls=$($calls[$_])" } else { '' }) }) -join ' ') + " threads=$($script:threads)"
        [pscustomobject]@{ Ms = $ms; Calls = $calls; InVault = $inVault; Backup = $backup.Path; Line = $line }
    }

    foreach ($size in $VaultSizes) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $from = $keysInVault
        if ($isMoc) { Use-Cluster $clusterA 0 }
        while ($keysInVault -lt $size) { Add-Key $keysInVault; $keysInVault++ }
        $watch.Stop()
        $listed = Get-VaultKeyCount $(if ($isMoc) { $clusterA } else { $local })
        if ($listed -ne $size) { Fail "the $Vault vault holds $listed keys, not $size" }
        "SEED vault=$Vault keys=$size added=$($size - $from) seed_ms=$(Format-Ms $watch.Elapsed.TotalMilliseconds) (not timed in the figures)"

        if ($size -eq $VaultSizes[0]) {
            $saved = $script:MocDelayMs
            $script:MocDelayMs = 0
            (Invoke-Pass $size 'WARMUP (not in the figures)').Line
            $script:MocDelayMs = $saved
        }
        $runs = Get-RunsFor $size
        $passes = [System.Collections.Generic.List[object]]::new()
        for ($run = 1; $run -le $runs; $run++) {
            $p = Invoke-Pass $size "RUN run=$run"
            $p.Line
            $passes.Add($p)
        }
        $lastBackup = $passes[-1].Backup
        foreach ($c in @($commands) + @(if ($isMoc) { $throttled })) {
            $results.Add([pscustomobject]@{
                    Vault = $Vault; Keys = $size; Command = $c; Runs = $runs
                    Ms = Get-Median @($passes | ForEach-Object { $_.Ms[$c] })
                    Calls = Get-Median @($passes | ForEach-Object { $_.Calls[$c] })
                    InVaultMs = Get-Median @($passes | ForEach-Object { $_.InVault[$c] })
                })
        }
    }

    # Peak memory at the largest size: each command once more in a fresh pwsh, and a child that runs none.
    $size = $VaultSizes[-1]
    $stateArgs = if ($isMoc) { @{ StateRoot = $clusterA; Delay = $MocDelayMs } } else { @{ VaultPath = $local } }
    # The baseline (host and modules, no command): the median of three children, as it varies by a few MB.
    $bases = @(1..3 | ForEach-Object { Invoke-BenchChild $Vault 'none' $size '' @stateArgs })
    $peakMedian = Get-Median @($bases | ForEach-Object Peak)
    $base = $bases | Sort-Object { [math]::Abs($_.Peak - $peakMedian) } | Select-Object -First 1
    $memory.Add($base)
    "MEM vault=$Vault command=none keys=$size peak_mb=$(Format-Mb $base.Peak) vmhwm_mb=$(Format-Mb $base.Hwm) (median of 3: $(($bases | ForEach-Object { Format-Mb $_.Peak }) -join ', ') MB)"
    foreach ($c in $commands) {
        $childArgs = $stateArgs.Clone()
        $target = $lastBackup
        switch ($c) {
            'backup' { $target = [IO.Path]::Combine($WorkPath, "$Vault-root-mem") }
            'restore' {
                $t = New-Target "$Vault-target-mem"
                if ($isMoc) { $childArgs = @{ StateRoot = $t; Delay = $MocDelayMs } } else { $childArgs = @{ VaultPath = $t } }
            }
        }
        $r = Invoke-BenchChild $Vault $c $size $target @childArgs
        $memory.Add($r)
        "MEM vault=$Vault command=$c keys=$size peak_mb=$(Format-Mb $r.Peak) vmhwm_mb=$(Format-Mb $r.Hwm) over_baseline_mb=$(Format-Mb ($r.Peak - $base.Peak)) cold_ms=$(Format-Ms $r.Ms) calls=$($r.Calls)"
    }

    if ($isMoc) {
        # The stand-in's own cost per call, without the module: the same Export-MocKey and Import-MocKey calls made
        # directly from script at no delay, for every key of the last backup (into a new cluster holding w).
        $files = @(foreach ($sub in 'AES', 'RSA') {
                $folder = [IO.Path]::Combine($lastBackup, $sub)
                if ([IO.Directory]::Exists($folder)) { [IO.Directory]::GetFiles($folder, '*.json') | ForEach-Object { [pscustomobject]@{ Path = $_; Type = $sub } } }
            })
        if ($files.Count -ne $size) { Fail "the last stand-in backup holds $($files.Count) key files, not $size" }
        $outFolder = [IO.Directory]::CreateDirectory([IO.Path]::Combine($WorkPath, 'moc-direct-export')).FullName
        Use-Cluster $clusterA 0
        $export = Measure-Block {
            foreach ($f in $files) {
                $stem = [IO.Path]::GetFileNameWithoutExtension($f.Path)
                $cut = $stem.LastIndexOf('_')
                Export-MocKey -name $stem.Substring(0, $cut) -wrappingPubKeyFile $publicPem -outFile ([IO.Path]::Combine($outFolder, "$stem.json")) `
                    -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault -size ([int]$stem.Substring($cut + 1))
            }
        }
        $direct = New-Target 'moc-target-direct'
        Use-Cluster $direct 0
        $importDirect = Measure-Block {
            foreach ($f in $files) {
                $stem = [IO.Path]::GetFileNameWithoutExtension($f.Path)
                $cut = $stem.LastIndexOf('_')
                Import-MocKey -name $stem.Substring(0, $cut) -importKeyFile $f.Path -group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault `
                    -size ([int]$stem.Substring($cut + 1)) -type $f.Type -wrappingKeyName w
            }
        }
        if ((Get-VaultKeyCount $direct) -ne $size + 1) { Fail "the direct Import-MocKey calls did not give $size keys" }
        $script:mocDirect = [pscustomobject]@{ Keys = $size; Export = $export.Ms / $size; Import = $importDirect.Ms / $size }
        "STANDIN direct calls from script at no delay, without the module, $size keys: Export-MocKey $(Format-PerKey $script:mocDirect.Export) ms/call, Import-MocKey $(Format-PerKey $script:mocDirect.Import) ms/call"
    }
}

$passNumber = 0
$mocDirect = $null
Invoke-VaultBench 'local' $localSizes
if ($withMoc) { Invoke-VaultBench 'moc' $mocSizesSorted }

# ---------------------------------------------------------------------------------------------------------
# The figures.
function Get-Result([string] $Vault, [int] $Keys, [string] $Command) {
    $results | Where-Object { $_.Vault -eq $Vault -and $_.Keys -eq $Keys -and $_.Command -eq $Command } | Select-Object -First 1
}

# The vault's own cost of a command, ms: local backup/restore = the floor per key x keys; Moc = the time its calls
# spent inside the stand-in (delay and work, Get-MocStandInCall's Milliseconds), one at a time only (at -ThrottleLimit
# above 1 the calls overlap and their sum is not a part of the elapsed time).
function Get-OwnMs($R) {
    if ($R.Vault -eq 'moc') { if ($R.Command -like '*_t') { return [double]::NaN } else { return $R.InVaultMs } }
    switch ($R.Command) {
        'backup' { $R.Keys * $floor.Backup }
        'restore' { $R.Keys * $floor.Restore }
        default { 0 }
    }
}

$vaults = @('local') + @(if ($withMoc) { 'moc' })
$load = Get-Load
''
"Medians, ms total (ms per key); -Runs $Runs$(if ($LargeRuns) { ", $LargeRuns at 10,000 keys and more" }); $([Environment]::ProcessorCount) cores ($cpu); load average now $load"
"Moc = the stand-in (tests/MocStandIn, NOT Microsoft's Moc) at $MocDelayMs ms per call; deep = Test-TVMKeyBackup -Deep on every core ($threads threads), deep -Thr 1 = -ThrottleLimit 1"
$fmt = '{0,-5} {1,6} | {2,20} | {3,20} | {4,18} | {5,20} | {6,20}'
$header = $fmt -f 'vault', 'keys', 'Backup', 'Restore', 'Test (full)', "Test -Deep ($threads thr)", 'Deep -Thr 1'
$header
'-' * $header.Length
foreach ($v in $vaults) {
    foreach ($k in @($results | Where-Object Vault -EQ $v | ForEach-Object Keys | Sort-Object -Unique)) {
        $cells = foreach ($c in $commands) {
            $r = Get-Result $v $k $c
            "$(Format-Ms $r.Ms) ($(Format-PerKey ($r.Ms / $k)))"
        }
        $fmt -f $v, $k, $cells[0], $cells[1], $cells[2], $cells[3], $cells[4]
    }
}

''
"Per-key cost above the vault's own, ms/key: local = ms/key - floor (backup $(Format-PerKey $floor.Backup), restore $(Format-PerKey $floor.Restore)); Moc = (ms - the calls' time inside the stand-in, delay and work) / keys"
$fmt2 = '{0,-5} {1,6} | {2,14} {3,11} {4,10} | {5,14} {6,11} | {7,10} {8,10} {9,10}'
$header2 = $fmt2 -f 'vault', 'keys', 'backup above', 'calls/key', 'x floor', 'restore above', 'calls/key', 'full', 'deep', 'deep -T1'
$header2
'-' * $header2.Length
foreach ($v in $vaults) {
    foreach ($k in @($results | Where-Object Vault -EQ $v | ForEach-Object Keys | Sort-Object -Unique)) {
        $b = Get-Result $v $k 'backup'; $re = Get-Result $v $k 'restore'
        $ratio = if ($v -eq 'local') { ($b.Ms / $k / $floor.Backup).ToString('F2', $inv) + 'x' } else { '-' }
        $fmt2 -f $v, $k, (Format-PerKey (($b.Ms - (Get-OwnMs $b)) / $k)), ($b.Calls / $k).ToString('F3', $inv), $ratio,
            (Format-PerKey (($re.Ms - (Get-OwnMs $re)) / $k)), ($re.Calls / $k).ToString('F3', $inv),
            (Format-PerKey (((Get-Result $v $k 'full').Ms - (Get-OwnMs (Get-Result $v $k 'full'))) / $k)),
            (Format-PerKey (((Get-Result $v $k 'deep').Ms - (Get-OwnMs (Get-Result $v $k 'deep'))) / $k)),
            (Format-PerKey (((Get-Result $v $k 'deep_1').Ms - (Get-OwnMs (Get-Result $v $k 'deep_1'))) / $k))
    }
}

''
"Linearity, ms/key at the largest size / ms/key at a tenth of it (1.00 = linear)"
$linear = [System.Collections.Generic.List[object]]::new()
foreach ($v in $vaults) {
    $ks = @($results | Where-Object Vault -EQ $v | ForEach-Object Keys | Sort-Object -Unique)
    $big = $ks[-1]; $small = $big / 10
    if ($ks -notcontains $small) { "  $v : no size $small beside $big" ; continue }
    $cells = foreach ($c in $commands) {
        $rb = Get-Result $v $big $c; $rs = Get-Result $v $small $c
        $ratio = ($rb.Ms / $big) / ($rs.Ms / $small)
        $linear.Add([pscustomobject]@{ Vault = $v; Command = $c; Big = $big; Small = $small; Ratio = $ratio; BigPerKey = $rb.Ms / $big; SmallPerKey = $rs.Ms / $small })
        "$c $($ratio.ToString('F2', $inv))"
    }
    "  $v ($small -> $big keys): $($cells -join ', ')"
}

''
"Peak working set of a fresh pwsh -NoProfile -File child that runs the command once (its time: cold, one run)"
$fmt3 = '{0,-5} {1,6} {2,-8} | {3,9} {4,9} {5,14} | {6,12} {7,7}'
$header3 = $fmt3 -f 'vault', 'keys', 'command', 'peak MB', 'VmHWM MB', 'over baseline', 'cold ms', 'calls'
$header3
'-' * $header3.Length
foreach ($v in $vaults) {
    $base = $memory | Where-Object { $_.Vault -eq $v -and $_.What -eq 'none' } | Select-Object -First 1
    foreach ($r in @($memory | Where-Object Vault -EQ $v)) {
        $over = if ($r.What -eq 'none') { '(baseline)' } else { Format-Mb ($r.Peak - $base.Peak) }
        $ms = if ($r.What -eq 'none') { '-' } else { Format-Ms $r.Ms }
        $fmt3 -f $v, $r.Keys, $r.What, (Format-Mb $r.Peak), $(if ($r.Hwm -ge 0) { Format-Mb $r.Hwm } else { '-' }), $over, $ms, $r.Calls
    }
}

''
"Import-Module cold (fresh pwsh per run, median of $ImportRuns): module $(Format-Ms $import.Module) ms, empty .psm1 $(Format-Ms $import.Empty) ms (floor), module above the floor $(Format-Ms ($import.Module - $import.Empty)) ms"
if ($withMoc) {
    ''
    "Moc at -ThrottleLimit $Throttle against 1 (the stand-in at $MocDelayMs ms per call), ms total (ms per key)"
    $fmt4 = '{0,6} | {1,18} {2,18} {3,7} | {4,18} {5,18} {6,7}'
    $header4 = $fmt4 -f 'keys', 'backup at 1', "backup at $Throttle", 'ratio', 'restore at 1', "restore at $Throttle", 'ratio'
    $header4
    '-' * $header4.Length
    foreach ($k in @($results | Where-Object Vault -EQ 'moc' | ForEach-Object Keys | Sort-Object -Unique)) {
        $b1 = Get-Result 'moc' $k 'backup'; $bt = Get-Result 'moc' $k 'backup_t'
        $r1 = Get-Result 'moc' $k 'restore'; $rt = Get-Result 'moc' $k 'restore_t'
        $fmt4 -f $k, "$(Format-Ms $b1.Ms) ($(Format-PerKey ($b1.Ms / $k)))", "$(Format-Ms $bt.Ms) ($(Format-PerKey ($bt.Ms / $k)))", ($bt.Ms / $b1.Ms).ToString('F2', $inv),
            "$(Format-Ms $r1.Ms) ($(Format-PerKey ($r1.Ms / $k)))", "$(Format-Ms $rt.Ms) ($(Format-PerKey ($rt.Ms / $k)))", ($rt.Ms / $r1.Ms).ToString('F2', $inv)
    }
}

# ---------------------------------------------------------------------------------------------------------
# Goals: PASS/MISS, never a failure of the script.
''
function Write-Goal([string] $Name, [double] $Value, [double] $Limit, [string] $Unit, [string] $Detail, [switch] $Strict) {
    $pass = if ($Strict) { $Value -lt $Limit } else { $Value -le $Limit }
    $verdict = if ($pass) { 'PASS' } else { 'MISS' }
    "GOAL $verdict  $Name : $($Value.ToString('F3', $inv)) $Unit $(if ($Strict) { '<' } else { '<=' }) $($Limit.ToString('F3', $inv)) $Unit$(if ($Detail) { "  ($Detail)" })"
}
foreach ($v in $vaults) {
    $k = @($results | Where-Object Vault -EQ $v | ForEach-Object Keys | Sort-Object -Unique)[-1]
    foreach ($c in 'backup', 'restore') {
        $r = Get-Result $v $k $c
        $own = Get-OwnMs $r
        $detail = if ($v -eq 'moc') {
            $standIn = if ($mocDirect) { "; the stand-in alone, called directly: $(Format-PerKey $(if ($c -eq 'backup') { $mocDirect.Export } else { $mocDirect.Import })) ms/call" } else { '' }
            $byDelay = ($r.Ms - $r.Calls * $MocDelayMs) / $k
            "$(Format-Ms $r.Ms) ms - $(Format-Ms $own) ms of $($r.Calls) calls inside the stand-in, over $k keys; less only $($r.Calls) x $MocDelayMs ms of delay: $(Format-PerKey $byDelay) ms/key$standIn"
        } else { "$(Format-PerKey ($r.Ms / $k)) ms/key - floor $(Format-PerKey ($own / $k)) ms/key" }
        Write-Goal "$v $c of $k keys, per-key cost above the vault's own" (($r.Ms - $own) / $k) 1 'ms/key' $detail
    }
}
$lb = Get-Result 'local' $localSizes[-1] 'backup'
Write-Goal "local backup of $($localSizes[-1]) keys, per key / floor" ($lb.Ms / $lb.Keys / $floor.Backup) 2 'x' "$(Format-PerKey ($lb.Ms / $lb.Keys)) ms/key vs floor $(Format-PerKey $floor.Backup) ms/key"
$deepDone = $false
foreach ($v in $vaults) {
    $r = Get-Result $v 1000 'deep'
    if ($r) {
        $deepDone = $true
        Write-Goal "$v deep check of 1000 keys ($threads threads)" ($r.Ms / 1000) 1.5 's' "-ThrottleLimit 1: $(Format-Ms (Get-Result $v 1000 'deep_1').Ms) ms" -Strict
    }
}
if (-not $deepDone) { 'GOAL n/a   deep check of 1000 keys: no size 1000 in -Sizes' }
foreach ($l in $linear) {
    Write-Goal "$($l.Vault) $($l.Command) linear, ms/key at $($l.Big) / at $($l.Small)" $l.Ratio 1.2 'x' "$(Format-PerKey $l.BigPerKey) vs $(Format-PerKey $l.SmallPerKey) ms/key"
}
if ($linear.Count -eq 0) { 'GOAL n/a   linear: no pair of sizes N and N/10' }
if ($withMoc) {
    $k = $mocSizesSorted[-1]
    foreach ($c in 'backup', 'restore') {
        $one = Get-Result 'moc' $k $c; $t = Get-Result 'moc' $k "${c}_t"
        Write-Goal "moc $c of $k keys at -ThrottleLimit $Throttle / at 1" ($t.Ms / $one.Ms) 0.3 'x' "$(Format-Ms $t.Ms) ms vs $(Format-Ms $one.Ms) ms, $MocDelayMs ms per call"
    }
}
Write-Goal 'Import-Module cold (median)' $import.Module 150 'ms' "empty .psm1: $(Format-Ms $import.Empty) ms" -Strict

''
foreach ($r in $results) {
    "BENCH vault=$($r.Vault) keys=$($r.Keys) command=$($r.Command) runs=$($r.Runs) ms=$(Format-Ms $r.Ms) ms_per_key=$(Format-PerKey ($r.Ms / $r.Keys)) calls=$($r.Calls) above_own_ms_per_key=$(Format-PerKey (($r.Ms - (Get-OwnMs $r)) / $r.Keys))"
}
"BENCH floor_backup_ms_per_key=$(Format-PerKey $floor.Backup) floor_restore_ms_per_key=$(Format-PerKey $floor.Restore) import_ms=$(Format-Ms $import.Module) import_empty_ms=$(Format-Ms $import.Empty)"
if ($ownWork -and -not $Keep) { [IO.Directory]::Delete($WorkPath, $true) }
$totalWatch.Stop()
"UPTIME after: $(Get-Uptime)"
"TOTAL elapsed $(($totalWatch.Elapsed.TotalSeconds).ToString('F1', $inv)) s"
