<#
.SYNOPSIS
    Times Backup-TVMKeys and Import-TVMKeys of many keys on the local vault, for comparing two builds of the
    module (the C ABI boundary between the C# cmdlets and the Rust engine is what differs).
.DESCRIPTION
    Untimed setup: imports the module by its psd1 path, seeds a fresh local vault A with -Keys AES-256 keys
    named as GUIDs, and writes an RSA-2048 wrapping key pair as PEM files.
    Then, -Runs times:
      1. times  Backup-TVMKeys -VaultPath A <public.pem> <root>      (a new backup root per run, so no
         two backups ever share one root and second)
      2. untimed: a fresh vault B, Import-TvmWrappingKeyFromPem -VaultPath B -KeyName w ... -KeySize 2048
      3. times  Import-TVMKeys -VaultPath B -BackupPath <the backup's folder> -WrappingKeyName w
      4. checks that the backup holds -Keys keys and that all -Keys came back with Outcome Imported
         (anything else ends the script with exit 1). Nothing is deleted: remove -WorkPath afterwards.
    Host messages are dropped (-InformationAction Ignore) and progress is off ($ProgressPreference), the same
    way for every build. Each timing includes the cmdlet's pipeline output (the TvmBackup object; the
    TvmKeyRestore objects collected into an array), which is what a caller of the cmdlets pays.
    Prints one RUN line per run and then:
        BENCH keys=<n> runs=<n> backup_ms=<median> restore_ms=<median>
    Every vault write of the engine is fsync'ed, so on a disk the figures include the disk's sync latency
    (and its noise); a -WorkPath on tmpfs (/dev/shm) leaves mostly the CPU work: engine, C ABI, cmdlets.
    Uses only the module's cmdlets, core cmdlets and .NET.
.EXAMPLE
    pwsh -NoLogo -NoProfile -NonInteractive -File tests/bench/Boundary.ps1 -ModulePath target/TvmBackupUtils -WorkPath /tmp/bench
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $WorkPath,
    [ValidateRange(1, 1000000)] [int] $Keys = 1000,
    [ValidateRange(1, 1000)] [int] $Runs = 3
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$inv = [System.Globalization.CultureInfo]::InvariantCulture

function Get-FullPath([string] $Path) {
    $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

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

$ModulePath = Get-FullPath $ModulePath
$WorkPath = Get-FullPath $WorkPath
$manifest = [IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')
if (-not [IO.File]::Exists($manifest)) { Fail "no module manifest at $manifest" }
if ([IO.Directory]::Exists($WorkPath) -and [IO.Directory]::GetFileSystemEntries($WorkPath).Length -gt 0) {
    Fail "the work folder $WorkPath is not empty; give a new or empty one"
}
$null = [IO.Directory]::CreateDirectory($WorkPath)
Import-Module $manifest -Force

$vaultA = [IO.Path]::Combine($WorkPath, 'vault-A')
$publicPem = [IO.Path]::Combine($WorkPath, 'public.pem')
$privatePem = [IO.Path]::Combine($WorkPath, 'private.pem')

$hostName = $Host.Name
"HOST $hostName PowerShell $($PSVersionTable.PSVersion) .NET $([Environment]::Version) module $ModulePath"

# Seeding (not timed).
$seed = [System.Diagnostics.Stopwatch]::StartNew()
for ($i = 0; $i -lt $Keys; $i++) {
    $null = New-TvmVaultKey -VaultPath $vaultA -Name ([guid]::NewGuid().ToString()) -Type AES -Size 256 `
        -InformationAction Ignore
}
$rsa = [System.Security.Cryptography.RSA]::Create(2048)
[IO.File]::WriteAllText($privatePem, $rsa.ExportPkcs8PrivateKeyPem() + [Environment]::NewLine)
[IO.File]::WriteAllText($publicPem, $rsa.ExportRSAPublicKeyPem() + [Environment]::NewLine)
$rsa.Dispose()
$seed.Stop()
$inVault = @(Get-TvmVaultKey -VaultPath $vaultA -InformationAction Ignore).Count
if ($inVault -ne $Keys) { Fail "vault A holds $inVault keys after seeding, not $Keys" }
"SEED keys=$Keys seed_ms=$(Format-Ms $seed.Elapsed.TotalMilliseconds) (not timed in the figures)"

$backupTimes = [System.Collections.Generic.List[double]]::new()
$restoreTimes = [System.Collections.Generic.List[double]]::new()
for ($run = 1; $run -le $Runs; $run++) {
    $root = [IO.Path]::Combine($WorkPath, "backups-$run")
    $vaultB = [IO.Path]::Combine($WorkPath, "vault-B-$run")
    $null = [IO.Directory]::CreateDirectory($root)

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $backup = Backup-TVMKeys -VaultPath $vaultA $publicPem $root -InformationAction Ignore
    $watch.Stop()
    $backupMs = $watch.Elapsed.TotalMilliseconds
    if ($null -eq $backup -or -not $backup.Path) { Fail "run ${run}: Backup-TVMKeys wrote no backup object" }
    $backedUp = @($backup.Keys).Count
    if ($backedUp -ne $Keys) { Fail "run ${run}: the backup holds $backedUp keys, not $Keys" }

    $null = Import-TvmWrappingKeyFromPem -VaultPath $vaultB -KeyName w -PublicKeyPath $publicPem `
        -PrivateKeyPath $privatePem -KeySize 2048 -InformationAction Ignore

    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $restored = @(Import-TVMKeys -VaultPath $vaultB -BackupPath $backup.Path -WrappingKeyName w -InformationAction Ignore)
    $watch.Stop()
    $restoreMs = $watch.Elapsed.TotalMilliseconds

    $outcomes = @{}
    foreach ($r in $restored) { $outcomes[[string]$r.Outcome] = 1 + [int]$outcomes[[string]$r.Outcome] }
    $imported = [int]$outcomes['Imported']
    $summary = ($outcomes.Keys | ForEach-Object { "$_=$($outcomes[$_])" }) -join ','
    if ($imported -ne $Keys -or $restored.Count -ne $Keys) {
        Fail "run ${run}: $imported of $Keys keys Imported ($($restored.Count) results: $summary)"
    }

    $backupTimes.Add($backupMs)
    $restoreTimes.Add($restoreMs)
    "RUN $run keys=$Keys backup_ms=$(Format-Ms $backupMs) restore_ms=$(Format-Ms $restoreMs) outcomes=$summary"

    # The run's backup and vault B stay until the caller removes -WorkPath: deleting thousands of files
    # here (discards, journal commits) would slow the next run's fsyncs.
}

"BENCH keys=$Keys runs=$Runs backup_ms=$(Format-Ms (Get-Median $backupTimes.ToArray())) restore_ms=$(Format-Ms (Get-Median $restoreTimes.ToArray()))"
