<#
.SYNOPSIS
    Times the backup commands on a local vault of 10, 100 and 1000 keys: Backup-TVMKeys, Test-TVMKeyBackup (full
    check), Test-TVMKeyBackup -Deep -PrivateKeyPath on every core and with -ThrottleLimit 1, and Get-TVMKeyBackup
    over a backup root of 100 backups. A benchmark, not a test: it prints figures (ms) and the machine it ran on.
.DESCRIPTION
    Usage (the staged module; ./build.ps1 Stage makes target/TvmBackupUtils):
        dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Backups.ps1
        dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Backups.ps1 -Sizes 10,100 -CompleteBackups 0 -Runs 1
    Untimed setup: the wrapping key pair of tests/vectors (RSA-2048) is copied to -WorkPath; one local vault
    grows to each size of -Sizes in turn (-RsaKeys RSA-2048 keys, the first named AzureStackTvmAKRootKey, the
    rest AES-256 keys made with New-TvmVaultKey; making 1000 keys takes a while and is reported as SEED).
    Timed, at each size, -Runs times (the figures are the medians):
      backup     Backup-TVMKeys -VaultPath <vault> <public.pem> <a new backup root per run>
      full       Test-TVMKeyBackup <the backup>                              (every key file's bytes and content)
      deep_all   Test-TVMKeyBackup <the backup> -Deep -PrivateKeyPath <pem>  (every key unwrapped, every core)
      deep_1     the same with -ThrottleLimit 1
    Every check must say Valid, every backup must hold every key, or the script stops with exit code 1.
    Then Get-TVMKeyBackup (-Runs times) over two roots of 100 backups of 10 keys:
      legacy     copies of one backup's AES and RSA folders, without manifest.json, under 100 timestamp folders
                 (a copy with its manifest would not match the folder's timestamp: Damaged, ManifestMismatch)
      complete   -CompleteBackups real backups, written by Backup-TVMKeys one per second (about 1 s each);
                 -CompleteBackups 0 skips them
    Host messages are dropped (-InformationAction Ignore), progress is off. Prints RUN and LIST lines, a table
    and one BACKUPS line per size. -WorkPath (default: a new folder under the temp folder) is removed at the
    end unless -Keep is given or -WorkPath was; on tmpfs (/dev/shm) the disk's fsync latency drops out.
.EXAMPLE
    dotnet pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Backups.ps1 -WorkPath /dev/shm/tvm-bench
#>
param(
    [string] $ModulePath = [IO.Path]::Combine($PSScriptRoot, '..', '..', 'target', 'TvmBackupUtils'),
    [string] $WorkPath,
    # Vault sizes, ascending; with -File give them as one argument: -Sizes 10,100.
    [string[]] $Sizes = @('10', '100', '1000'),
    [ValidateRange(0, 100)] [int] $RsaKeys = 3,
    [ValidateRange(1, 100)] [int] $Runs = 3,
    [ValidateRange(0, 1000)] [int] $LegacyCopies = 100,
    [ValidateRange(0, 1000)] [int] $CompleteBackups = 100,
    [switch] $Keep
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
$inv = [System.Globalization.CultureInfo]::InvariantCulture

function Get-FullPath([string] $Path) { $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path) }

function Get-Median([double[]] $Values) {
    $sorted = [double[]] $Values.Clone()
    [Array]::Sort($sorted)
    $n = $sorted.Length
    if ($n % 2 -eq 1) { return $sorted[($n - 1) / 2] }
    ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2
}

function Format-Ms([double] $Value) { $Value.ToString('F1', $inv) }

function Fail([string] $Message) {
    [Console]::Error.WriteLine("BENCH FAILED: $Message")
    exit 1
}

# Runs $Block once; returns its elapsed milliseconds and its output.
function Measure-Block([scriptblock] $Block) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $output = @(& $Block)
    $watch.Stop()
    [pscustomobject]@{ Ms = $watch.Elapsed.TotalMilliseconds; Output = $output }
}

$sizesSorted = @($Sizes | ForEach-Object { $_ -split ',' } | Where-Object { $_.Trim() } | ForEach-Object { [int]$_.Trim() } | Sort-Object -Unique)
if ($sizesSorted.Count -eq 0 -or $sizesSorted[0] -lt 1) { Fail "-Sizes must be positive numbers of keys, not '$($Sizes -join ',')'" }
if ($RsaKeys -gt $sizesSorted[0]) { Fail "-RsaKeys $RsaKeys is more than the smallest size $($sizesSorted[0])" }
$ModulePath = Get-FullPath $ModulePath
$manifest = [IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')
if (-not [IO.File]::Exists($manifest)) { Fail "no module manifest at $manifest (run ./build.ps1 Stage)" }
$ownWork = -not $WorkPath
if ($ownWork) { $WorkPath = [IO.Path]::Combine([IO.Path]::GetTempPath(), 'tvm-backups-bench-' + [IO.Path]::GetRandomFileName()) }
$WorkPath = Get-FullPath $WorkPath
if ([IO.Directory]::Exists($WorkPath) -and [IO.Directory]::GetFileSystemEntries($WorkPath).Length -gt 0) {
    Fail "the work folder $WorkPath is not empty; give a new or empty one"
}
$null = [IO.Directory]::CreateDirectory($WorkPath)
Import-Module $manifest -Force

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
$moduleVersion = (Get-Module TvmBackupUtils).Version
# The load average: other processes on the machine take cores from the deep check.
function Get-Load { if ([IO.File]::Exists('/proc/loadavg')) { ([IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2] -join ' ' } else { 'unknown' } }
"MACHINE cores=$([Environment]::ProcessorCount) cpu=`"$cpu`" os=`"$([System.Runtime.InteropServices.RuntimeInformation]::OSDescription)`" load=`"$(Get-Load)`""
"HOST PowerShell $($PSVersionTable.PSVersion) .NET $([Environment]::Version) module $moduleVersion $ModulePath"
"WORK $WorkPath$fileSystem runs=$Runs sizes=$($sizesSorted -join ',') rsa=$RsaKeys"

# The wrapping key pair of tests/vectors (as Copy-VectorKeyPair in tests/pester/TestHelpers.psm1 copies it).
$vectors = [IO.Path]::Combine($PSScriptRoot, '..', 'vectors')
$publicPem = [IO.Path]::Combine($WorkPath, 'public.pem')
$privatePem = [IO.Path]::Combine($WorkPath, 'private.pem')
Copy-Item ([IO.Path]::Combine($vectors, 'wrapping_public_pkcs1.pem')) $publicPem
Copy-Item ([IO.Path]::Combine($vectors, 'wrapping_private_pkcs8.pem')) $privatePem

$vault = [IO.Path]::Combine($WorkPath, 'vault')
$keysInVault = 0

# Grows the vault to $Total keys: the RSA keys first, then AES keys. Not timed in the figures.
function Grow-Vault([int] $Total) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $from = $script:keysInVault
    while ($script:keysInVault -lt $Total) {
        $i = $script:keysInVault
        if ($i -lt $RsaKeys) {
            $name = if ($i -eq 0) { 'AzureStackTvmAKRootKey' } else { "rsa-$i" }
            $null = New-TvmVaultKey -VaultPath $vault -Name $name -Type RSA -Size 2048 -InformationAction Ignore
        } else {
            $null = New-TvmVaultKey -VaultPath $vault -Name ([guid]::NewGuid().ToString()) -Type AES -Size 256 -InformationAction Ignore
        }
        $script:keysInVault++
    }
    $watch.Stop()
    $listed = @(Get-TvmVaultKey -VaultPath $vault -InformationAction Ignore).Count
    if ($listed -ne $Total) { Fail "the vault holds $listed keys, not $Total" }
    "SEED keys=$Total added=$($Total - $from) seed_ms=$(Format-Ms $watch.Elapsed.TotalMilliseconds) (not timed in the figures)"
}

function Assert-Check($Check, [int] $Keys, [string] $What) {
    if ($null -eq $Check -or $Check.Status -ne 'Valid' -or $Check.KeyCount -ne $Keys) {
        $found = if ($Check) { "$($Check.Status), $($Check.KeyCount) keys, $(@($Check.Findings).Count) findings" } else { 'no result' }
        Fail "${What}: expected Valid with $Keys keys, got $found"
    }
}

# Writes a backup of the vault into a new root; returns the TvmBackup.
$rootNumber = 0
function New-Backup([int] $Keys) {
    $script:rootNumber++
    $root = [IO.Path]::Combine($WorkPath, "root-$Keys-$($script:rootNumber)")
    $m = Measure-Block { Backup-TVMKeys -VaultPath $vault $publicPem $root -InformationAction Ignore }
    $backup = $m.Output | Select-Object -First 1
    if ($null -eq $backup -or @($backup.Keys).Count -ne $Keys) { Fail "Backup-TVMKeys of $Keys keys wrote $(if ($backup) { @($backup.Keys).Count } else { 'no' }) keys" }
    [pscustomobject]@{ Ms = $m.Ms; Backup = $backup }
}

$rows = [System.Collections.Generic.List[object]]::new()
$firstSmallBackup = $null
$listing = [ordered]@{}

# Waits for the next second of the local clock: Backup-TVMKeys names a backup by its second.
function Wait-NextSecond {
    $now = [DateTime]::Now
    Start-Sleep -Milliseconds (1000 - $now.Millisecond + 15)
}

foreach ($size in $sizesSorted) {
    Grow-Vault $size
    $times = @{ backup = @(); full = @(); deep_all = @(); deep_1 = @() }
    $threads = 0
    for ($run = 1; $run -le $Runs; $run++) {
        $b = New-Backup $size
        $path = $b.Backup.Path
        if ($null -eq $firstSmallBackup) { $firstSmallBackup = $path }

        $full = Measure-Block { Test-TVMKeyBackup -Path $path -InformationAction Ignore }
        Assert-Check $full.Output[0] $size "Test-TVMKeyBackup of $size keys"
        $all = Measure-Block { Test-TVMKeyBackup -Path $path -Deep -PrivateKeyPath $privatePem -InformationAction Ignore }
        Assert-Check $all.Output[0] $size "Test-TVMKeyBackup -Deep of $size keys"
        $threads = $all.Output[0].Threads
        $one = Measure-Block { Test-TVMKeyBackup -Path $path -Deep -PrivateKeyPath $privatePem -ThrottleLimit 1 -InformationAction Ignore }
        Assert-Check $one.Output[0] $size "Test-TVMKeyBackup -Deep -ThrottleLimit 1 of $size keys"
        if ($one.Output[0].Threads -ne 1) { Fail "-ThrottleLimit 1 ran on $($one.Output[0].Threads) threads" }

        $times.backup += $b.Ms; $times.full += $full.Ms; $times.deep_all += $all.Ms; $times.deep_1 += $one.Ms
        "RUN keys=$size run=$run backup_ms=$(Format-Ms $b.Ms) full_ms=$(Format-Ms $full.Ms) deep_all_ms=$(Format-Ms $all.Ms) threads=$threads deep_1_ms=$(Format-Ms $one.Ms)"
    }
    $row = [pscustomobject]@{
        Keys = $size
        Backup = Get-Median $times.backup
        Full = Get-Median $times.full
        DeepAll = Get-Median $times.deep_all
        Threads = $threads
        Deep1 = Get-Median $times.deep_1
    }
    $rows.Add($row)

    # At the first (smallest) size: the two roots of backups to list.
    if ($size -eq $sizesSorted[0]) {
        if ($LegacyCopies -gt 0) {
            $legacyRoot = [IO.Path]::Combine($WorkPath, 'list-legacy')
            $start = [DateTime]::new(2026, 1, 1, 0, 0, 0)
            for ($i = 0; $i -lt $LegacyCopies; $i++) {
                $folder = [IO.Path]::Combine($legacyRoot, $start.AddMinutes($i).ToString('yyyyMMddHHmmss', $inv))
                foreach ($sub in 'AES', 'RSA') {
                    $from = [IO.Path]::Combine($firstSmallBackup, $sub)
                    if (-not [IO.Directory]::Exists($from)) { continue }
                    $to = [IO.Directory]::CreateDirectory([IO.Path]::Combine($folder, $sub)).FullName
                    foreach ($file in [IO.Directory]::GetFiles($from)) { [IO.File]::Copy($file, [IO.Path]::Combine($to, [IO.Path]::GetFileName($file))) }
                }
            }
            $listing['legacy'] = @{ Root = $legacyRoot; Count = $LegacyCopies; Status = 'Legacy'; Keys = $size }
        }
        if ($CompleteBackups -gt 0) {
            $completeRoot = [IO.Path]::Combine($WorkPath, 'list-complete')
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            for ($i = 0; $i -lt $CompleteBackups; $i++) {
                Wait-NextSecond
                $backup = Backup-TVMKeys -VaultPath $vault $publicPem $completeRoot -InformationAction Ignore
                if ($null -eq $backup) { Fail "backup $($i + 1) of $CompleteBackups for the listing wrote nothing" }
            }
            $watch.Stop()
            "SEED complete_backups=$CompleteBackups keys=$size seed_ms=$(Format-Ms $watch.Elapsed.TotalMilliseconds) (one per second; not timed in the figures)"
            $listing['complete'] = @{ Root = $completeRoot; Count = $CompleteBackups; Status = 'Complete'; Keys = $size }
        }
        foreach ($kind in @($listing.Keys)) {
            $l = $listing[$kind]
            $ms = @()
            for ($run = 1; $run -le $Runs; $run++) {
                $m = Measure-Block { Get-TVMKeyBackup -BackupRootPath $l.Root -InformationAction Ignore }
                $wrong = @($m.Output | Where-Object { $_.Status -ne $l.Status -or $_.KeyCount -ne $l.Keys })
                if ($m.Output.Count -ne $l.Count -or $wrong.Count -gt 0) {
                    Fail "Get-TVMKeyBackup of the $kind root listed $($m.Output.Count) backups ($($wrong.Count) not $($l.Status) with $($l.Keys) keys), not $($l.Count)"
                }
                $ms += $m.Ms
                "LIST kind=$kind backups=$($l.Count) keys_each=$($l.Keys) run=$run list_ms=$(Format-Ms $m.Ms)"
            }
            $l['Ms'] = Get-Median $ms
        }
    }
}

''
"Medians of $Runs run(s), ms; $([Environment]::ProcessorCount) cores ($cpu); load average now $(Get-Load)"
$header = '{0,6} {1,12} {2,14} {3,16} {4,14} {5,9}' -f 'keys', 'Backup', 'Test (Full)', 'Test -Deep', 'Deep -Thr. 1', 'speed-up'
$header
'-' * $header.Length
foreach ($r in $rows) {
    $speedup = if ($r.DeepAll -gt 0) { ($r.Deep1 / $r.DeepAll).ToString('F2', $inv) + 'x' } else { '-' }
    '{0,6} {1,12} {2,14} {3,16} {4,14} {5,9}' -f $r.Keys, (Format-Ms $r.Backup), (Format-Ms $r.Full),
        ("$(Format-Ms $r.DeepAll) ($($r.Threads) thr)"), (Format-Ms $r.Deep1), $speedup
}
foreach ($kind in @($listing.Keys)) {
    $l = $listing[$kind]
    "Get-TVMKeyBackup over $($l.Count) $($l.Status.ToLowerInvariant()) backups of $($l.Keys) keys: $(Format-Ms $l.Ms) ms ($(Format-Ms ($l.Ms / $l.Count)) ms per backup)"
}
''
foreach ($r in $rows) {
    "BACKUPS keys=$($r.Keys) runs=$Runs backup_ms=$(Format-Ms $r.Backup) full_ms=$(Format-Ms $r.Full) deep_all_ms=$(Format-Ms $r.DeepAll) threads=$($r.Threads) deep_1_ms=$(Format-Ms $r.Deep1)"
}
foreach ($kind in @($listing.Keys)) {
    "BACKUPS list=$kind backups=$($listing[$kind].Count) list_ms=$(Format-Ms $listing[$kind].Ms)"
}
if ($ownWork -and -not $Keep) { Remove-Item -LiteralPath $WorkPath -Recurse -Force }
