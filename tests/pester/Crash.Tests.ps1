# Runs of the module stopped by a real signal, not an exception, and what the next command does with what they left.
# A new pwsh runs a command (Backup-TVMKeys, Import-TvmWrappingKeyFromPem, Import-TVMKeys, New-TvmVaultKey) with the
# engine's test-only crash point (src/crash_point.rs) set for that process only: at the point TVM_TEST_CRASH_POINT
# names (key<N>: a backup after its N-th key file; manifest: after manifest.json, before the rename that completes
# the backup; import: a wrapping key's plaintext import file written; restore<N>: a restore after its N-th key;
# vault-create: a new local vault's keys folder made, no marker yet; vault-write: a local vault's file written to its
# temporary name .tmp-<pid>-*, before the link that names it) the engine writes the file TVM_TEST_CRASH_READY names
# and sleeps; this file waits for that file (60 s at most: a bound, never part of the verdict) and stops the process:
# SIGKILL (Process.Kill($true)), or SIGTERM / SIGINT (kill -TERM / -INT), then SIGKILL if it has not ended 15 s later
# (it sleeps at the point: a bound again). A backup of 40 keys is also killed with no crash point, at fixed delays:
# whatever it had done then, the verdict is the same.
# What a kill leaves must be what docs/format.md sections 1 and 8 promise: a hidden .<timestamp>.partial folder,
# never a timestamped one, that every command knows for an unfinished backup (Get-TVMKeyBackup: Partial;
# Test-TVMKeyBackup: Incomplete; Import-TVMKeys: BackupIncomplete), which holds only wrapped key files and .writer
# ("<process id> <machine>" of its run), and nothing in the temp folder. And what it leaves is removed
# (src/sweep.rs), each with a warning naming it: the partial folders of dead processes by the next Backup-TVMKeys on
# the root, which completes; the plaintext import file by the next command of the module; a local vault's
# temporary files by the next command that opens the vault. A restore run again finishes (every key with the
# source's fingerprint), and a half-made new vault is adopted by the next write. Every kill ends with a secret scan:
# no file of the case folder (the child's temp folder is in it) holds the wrapping private key, but the local
# vault's own files. With the variables set to a point the backup never reaches, the hook does nothing.
# Under Wine (build.ps1 WindowsTest) the kills are skipped: killing a Windows process tree of the win-x64 pwsh
# through Wine's process emulation is not a Windows kill (what Wine's wineserver does with the child's open files and
# its process tree is Wine's, not Windows'), so it would prove nothing about Windows; the signals are Linux's. The
# runs that are not killed (the inert hook) run there too.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:UnderWine = Test-UnderWine
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath
    # The crash variables are for the child only: this process must never stop at a crash point.
    $env:TVM_TEST_CRASH_POINT | Should -BeNullOrEmpty -Because 'the crash point is set for the child pwsh only'
    $env:TVM_TEST_CRASH_READY | Should -BeNullOrEmpty -Because 'the crash point is set for the child pwsh only'
    $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
    $script:KeyNames = @('AzureStackTvmAKRootKey', 'vm1', 'vm2')
    $script:Source = New-TestFolder vault
    $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $Source
    $null = New-TvmVaultKey -Name vm2 -Type AES -Size 256 -VaultPath $Source
    $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $Source
    # The vault of 40 AES keys of the kills by elapsed time (here: a Describe's TestDrive files go with it).
    $script:BigVault = New-TestFolder vault40
    if (-not (Test-UnderWine)) {
        foreach ($i in 1..40) { $null = New-TvmVaultKey -Name ('k{0:d2}' -f $i) -Type AES -Size 256 -VaultPath $BigVault }
    }

    # The children's scripts, each as a runbook runs the command, with a <COMMAND>-DONE line only when it returned.
    $children = New-TestFolder child
    $script:BackupScript = [IO.Path]::Combine($children, 'backup.ps1')
    # TVMTEST_MARK (Invoke-KilledChild -FromMark): a file written just before Backup-TVMKeys is called.
    Set-Content -LiteralPath $BackupScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Public, [string] $Root, [string] $Vault)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
if ($env:TVMTEST_MARK) { [IO.File]::WriteAllText($env:TVMTEST_MARK, 'backup') }
$backup = Backup-TVMKeys -WrappingKeyPath $Public -BackupRootPath $Root -VaultPath $Vault
"BACKUP-DONE $($backup.Path)"
exit 0
'@
    $script:ImportScript = [IO.Path]::Combine($children, 'import.ps1')
    Set-Content -LiteralPath $ImportScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Public, [string] $Private, [string] $Vault)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
$null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Public -PrivateKeyPath $Private -KeySize 2048 -VaultPath $Vault
"IMPORT-DONE"
'@
    $script:RestoreScript = [IO.Path]::Combine($children, 'restore.ps1')
    Set-Content -LiteralPath $RestoreScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Backup, [string] $Vault)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
$null = Import-TVMKeys -BackupPath $Backup -WrappingKeyName TvmWrap -VaultPath $Vault
"RESTORE-DONE"
'@
    $script:NewKeyScript = [IO.Path]::Combine($children, 'newkey.ps1')
    Set-Content -LiteralPath $NewKeyScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Vault, [string] $Name)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
$null = New-TvmVaultKey -Name $Name -Type AES -Size 256 -VaultPath $Vault
"NEWKEY-DONE"
'@
    # The next command of the module, in a new pwsh with the killed child's temp folder: Get-TvmVaultKey, its
    # warnings as "WARN <message>" lines.
    $script:NextScript = [IO.Path]::Combine($children, 'next.ps1')
    Set-Content -LiteralPath $NextScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Vault)
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
Get-TvmVaultKey -VaultPath $Vault 3>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.WarningRecord]) { "WARN $($_.Message)" } else { "KEY $($_.Name)" } }
"NEXT-DONE"
'@

    # Runs -Script with -Arguments in a child pwsh (as Invoke-Pwsh does: -NoLogo -NoProfile -NonInteractive -File,
    # its own environment) in -Case (a new folder by default), with its own temp folder <case>/tmp (TMPDIR; TMP and
    # TEMP on Windows) and no TVM_VAULT_PATH, and stops it with -Signal (KILL: Process.Kill($true); TERM or INT:
    # kill -TERM/-INT <pid>, then SIGKILL if it has not ended 15 s later) when it is still running:
    # - with -Point: TVM_TEST_CRASH_POINT = -Point and TVM_TEST_CRASH_READY = <case>/ready (none with -NoReady); with
    #   the ready file, when it exists;
    # - with -Delay (seconds): that long after the start, or with -FromMark after the child wrote the file
    #   TVMTEST_MARK names (<case>/mark; the backup script writes it just before Backup-TVMKeys);
    # - otherwise the child runs to its end.
    # Every wait is bounded (60 s; then the child is killed): a bound, never a verdict. Returns Case, Root
    # (<case>/root), Tmp, ReadyFile, Ready (the ready file existed when the waiting stopped), ReadyText, Pid,
    # Signal, Killed (the child was running when the signal was sent), Forced (SIGKILL after the 15 s), SignalAt
    # (seconds after the start), TimedOut (killed while waiting for the ready file, which never came), ExitCode,
    # Output (stdout and stderr) and Done (a <COMMAND>-DONE line).
    function Invoke-KilledChild {
        param(
            [Parameter(Mandatory)] [string] $Script,
            [string[]] $Arguments = @(),
            [string] $Case,
            [string] $Point,
            [switch] $NoReady,
            [ValidateSet('KILL', 'TERM', 'INT')] [string] $Signal = 'KILL',
            [double] $Delay = -1,
            [switch] $FromMark
        )
        if (-not $Case) { $Case = New-TestFolder case }
        $tmp = [IO.Path]::Combine($Case, 'tmp')
        $null = New-Item -ItemType Directory -Path $tmp -Force
        $ready = [IO.Path]::Combine($Case, 'ready')
        $mark = [IO.Path]::Combine($Case, 'mark')
        foreach ($f in $ready, $mark) { if ([IO.File]::Exists($f)) { [IO.File]::Delete($f) } }
        $info = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshExecutable))
        foreach ($a in @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $Script) + $Arguments) { $info.ArgumentList.Add($a) }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.WorkingDirectory = $Case
        $variables = @{ TVM_VAULT_PATH = $null; TVM_TEST_CRASH_POINT = $null; TVM_TEST_CRASH_READY = $null; TVMTEST_MARK = $null; TMPDIR = $tmp }
        if ($IsWindows) { $variables['TMP'] = $variables['TEMP'] = $tmp }
        if ($Point) { $variables['TVM_TEST_CRASH_POINT'] = $Point }
        if ($Point -and -not $NoReady) { $variables['TVM_TEST_CRASH_READY'] = $ready }
        if ($FromMark) { $variables['TVMTEST_MARK'] = $mark }
        foreach ($k in $variables.Keys) {
            if ($null -eq $variables[$k]) { $null = $info.Environment.Remove($k) } else { $info.Environment[$k] = [string]$variables[$k] }
        }
        $waitReady = $Point -and -not $NoReady
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            $markAt = $null
            while (-not $process.HasExited -and $clock.Elapsed.TotalSeconds -lt 60) {
                $now = $clock.Elapsed.TotalSeconds
                if ($waitReady) {
                    if ([IO.File]::Exists($ready)) { break }
                } elseif ($Delay -ge 0 -and $FromMark) {
                    if ($null -eq $markAt -and [IO.File]::Exists($mark)) { $markAt = $now }
                    if ($null -ne $markAt -and $now - $markAt -ge $Delay) { break }
                } elseif ($Delay -ge 0) {
                    if ($now -ge $Delay) { break }
                }
                Start-Sleep -Milliseconds $(if ($Delay -ge 0) { 2 } else { 50 })
            }
            $isReady = [IO.File]::Exists($ready)
            $killed = $false
            $forced = $false
            $signalAt = $clock.Elapsed.TotalSeconds
            if (-not $process.HasExited) {
                $killed = $true
                if ($Signal -eq 'KILL') {
                    $process.Kill($true)
                } else {
                    $send = [System.Diagnostics.ProcessStartInfo]::new('/bin/kill')
                    foreach ($a in "-$Signal", [string]$process.Id) { $send.ArgumentList.Add($a) }
                    $send.RedirectStandardOutput = $true
                    $send.RedirectStandardError = $true
                    $send.UseShellExecute = $false
                    $sender = [System.Diagnostics.Process]::Start($send)
                    $sender.WaitForExit()
                    $sender.Dispose()
                    if (-not $process.WaitForExit(15000)) {
                        $process.Kill($true)
                        $forced = $true
                    }
                }
            }
            $process.WaitForExit()
            $output = @(($stdout.Result + "`n" + $stderr.Result) -split "`r?`n" | Where-Object { $_ -ne '' })
            [pscustomobject]@{
                Case = $Case
                Root = [IO.Path]::Combine($Case, 'root')
                Tmp = $tmp
                ReadyFile = $ready
                Ready = $isReady
                ReadyText = if ($isReady) { [IO.File]::ReadAllText($ready) } else { $null }
                Pid = $process.Id
                Signal = $Signal
                Killed = $killed
                Forced = $forced
                SignalAt = $signalAt
                TimedOut = $killed -and $waitReady -and -not $isReady
                ExitCode = $process.ExitCode
                Output = $output
                Done = [bool]($output | Where-Object { $_ -match '^[A-Z]+-DONE\b' })
            }
        } finally {
            if (-not $process.HasExited) { $process.Kill($true); $process.WaitForExit() }
            $process.Dispose()
        }
    }

    # Invoke-KilledChild of the backup script: Backup-TVMKeys of -Vault (the 3-key vault by default) into
    # <case>/root with the vector wrapping public key.
    function Invoke-CrashingBackup {
        param([string] $Point, [switch] $NoReady, [string] $Signal = 'KILL', [double] $Delay = -1, [switch] $FromMark, [string] $Vault = $Source)
        $case = New-TestFolder case
        Invoke-KilledChild -Script $BackupScript -Arguments @((Get-TvmModulePath), $Keys.Public, [IO.Path]::Combine($case, 'root'), $Vault) -Case $case `
            -Point $Point -NoReady:$NoReady -Signal $Signal -Delay $Delay -FromMark:$FromMark
    }

    # What a run told about itself, for the message of a failed assertion.
    function Get-Story($Run) {
        "child $($Run.Pid) exit code $($Run.ExitCode), ready $($Run.Ready), killed $($Run.Killed) (SIG$($Run.Signal) at $([Math]::Round($Run.SignalAt, 3)) s, forced $($Run.Forced)):`n$($Run.Output -join "`n")"
    }

    # Every entry under -Path (files, folders, links), as paths relative to it with '/', sorted.
    function Get-RelativeEntries([string] $Path) {
        if (-not (Test-Path -LiteralPath $Path)) { return @() }
        $full = [IO.Path]::GetFullPath($Path)
        Get-OrdinalSorted @(Get-ChildItem -LiteralPath $full -Recurse -Force | ForEach-Object {
                [IO.Path]::GetRelativePath($full, $_.FullName).Replace('\', '/')
            })
    }

    # The partial folders (.<yyyyMMddHHmmss>.partial) and the timestamped folders (yyyyMMddHHmmss) of a backup root.
    function Get-PartialFolders([string] $Root) {
        @(Get-ChildItem -LiteralPath $Root -Force -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\.\d{14}\.partial$')
    }
    function Get-TimestampFolders([string] $Root) {
        @(Get-ChildItem -LiteralPath $Root -Force -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d{14}$')
    }

    # The local vault's temporary files (.tmp-*), in its folder and its keys folder.
    function Get-VaultTempFiles([string] $Vault) {
        @(foreach ($dir in $Vault, [IO.Path]::Combine($Vault, 'keys')) {
                if ([IO.Directory]::Exists($dir)) { Get-ChildItem -LiteralPath $dir -Force -File | Where-Object Name -Like '.tmp-*' }
            })
    }

    # The files in the module's import folders (<temp>/tvmkeys-import-*) of a case's temp folder.
    function Get-ImportFiles([string] $Case) {
        @(Get-ChildItem -LiteralPath ([IO.Path]::Combine($Case, 'tmp')) -Force -Directory -Filter 'tvmkeys-import-*' -ErrorAction SilentlyContinue |
                ForEach-Object { Get-ChildItem -LiteralPath $_.FullName -Force -File })
    }

    # Runs the next Backup-TVMKeys of -Vault on -Root in this process, once the clock has left the second of any
    # backup folder in the root (a backup of a second that has one is refused: a test's haste, not the kill's
    # doing; a bound of 3 s). Returns Run (Invoke-Captured) and PartialBefore (the partial folders before it).
    function Invoke-NextBackup([string] $Root, [string] $Vault = $Source) {
        $before = @(Get-PartialFolders $Root | ForEach-Object FullName)
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        while ($clock.Elapsed.TotalSeconds -lt 3 -and
            [IO.Directory]::Exists([IO.Path]::Combine($Root, [DateTimeOffset]::Now.ToString('yyyyMMddHHmmss', [Globalization.CultureInfo]::InvariantCulture)))) {
            Start-Sleep -Milliseconds 50
        }
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $Root -VaultPath $Vault }
        [pscustomobject]@{ Root = $Root; Run = $run; PartialBefore = $before }
    }

    # The verdict on Invoke-NextBackup after a run of process -KilledPid was killed: it completed without an error,
    # with -KeyCount keys, a backup that Test-TVMKeyBackup finds Valid; every partial folder that was in the root is
    # gone, each named in one warning of the sweep (src/sweep.rs), and there is no partial folder in the root.
    # Returns the TvmBackup.
    function Assert-NextBackupSwept($Next, [int] $KilledPid, [int] $KeyCount = 3) {
        $run = Assert-Clean $Next.Run
        $backup = Get-SingleBackup $run.Output
        @($backup.Keys).Count | Should -Be $KeyCount
        "$((Test-TVMKeyBackup -Path $backup.Path).Status)" | Should -BeExactly 'Valid'
        $removed = @($run.Warnings | Where-Object { $_ -like 'Removed *: an unfinished backup*' })
        $removed.Count | Should -Be $Next.PartialBefore.Count -Because "one warning for each partial folder removed:`n$(Format-Captured $run)"
        foreach ($p in $Next.PartialBefore) {
            [IO.Directory]::Exists($p) | Should -BeFalse -Because "the next backup removes the partial folder of the killed run ($p)"
            $expected = "Removed ${p}: an unfinished backup (its run (process $KilledPid) was stopped before it completed)."
            @($removed | Where-Object { $_.StartsWith($expected, [StringComparison]::Ordinal) }).Count | Should -Be 1 -Because "a warning names $p and process ${KilledPid}:`n$(Format-Captured $run)"
        }
        @(Get-PartialFolders $Next.Root | ForEach-Object Name) | Should -BeNullOrEmpty -Because 'the root holds no partial folder after the next backup'
        $backup
    }

    # Runs the next command of the module (Get-TvmVaultKey of the 3-key vault) in a new pwsh with the temp folder
    # of -Case, and checks it: it lists the vault; every import file that was there before (-Left) is gone, each
    # named in one warning of the sweep; no file is left in the import folder. Returns the run.
    function Assert-ImportFileSwept([string] $Case, [object[]] $Left) {
        $run = Invoke-KilledChild -Script $NextScript -Arguments @((Get-TvmModulePath), $Source) -Case $Case
        $story = Get-Story $run
        $run.Killed | Should -BeFalse -Because $story
        $run.ExitCode | Should -Be 0 -Because $story
        $listed = Get-OrdinalSorted @($run.Output | Where-Object { $_ -like 'KEY *' })
        $listed | Should -BeExactly (Get-OrdinalSorted @($KeyNames | ForEach-Object { "KEY $_" })) -Because $story
        $warnings = @($run.Output | Where-Object { $_ -like 'WARN Removed *' })
        $warnings.Count | Should -Be @($Left).Count -Because "one warning for each file removed; $story"
        foreach ($f in $Left) {
            @($warnings | Where-Object { $_.StartsWith("WARN Removed $($f.FullName): the plaintext import file", [StringComparison]::Ordinal) }).Count | Should -Be 1 -Because "a warning names $($f.FullName); $story"
            [IO.File]::Exists($f.FullName) | Should -BeFalse
        }
        @(Get-ImportFiles $Case | ForEach-Object FullName) | Should -BeNullOrEmpty -Because 'no plaintext import file is left after the next command'
        $run
    }

    # What the child left in its temp folder, less what the .NET runtime and PowerShell make there in every process
    # and remove only on a normal exit: the debugger's FIFOs (clr-debug-pipe-<pid>-*), the diagnostics socket
    # (dotnet-diagnostic-<pid>-*-socket) and PowerShell's host IPC socket (CoreFxPipe_PSHost.*). Those are sockets or
    # FIFOs (UnixMode s or p): they hold no data, and they are not the module's; a regular file of those names counts.
    function Get-TempLeftovers([string] $Tmp) {
        @(Get-ChildItem -LiteralPath $Tmp -Recurse -Force | Where-Object {
                $runtime = $_.Name -match '^(clr-debug-pipe-\d+-\d+-(in|out)|dotnet-diagnostic-\d+-\d+-socket|CoreFxPipe_PSHost\..+)$'
                $special = (-not $IsWindows) -and ("$($_.UnixMode)" -match '^[sp]')
                -not ($runtime -and $special)
            } | ForEach-Object { $_.FullName })
    }

    function Get-Hex([byte[]] $Bytes) { [Convert]::ToHexString($Bytes) }

    # The DER of a PEM file's body.
    function Get-PemDer([string] $Path) {
        $body = ([IO.File]::ReadAllText($Path) -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        , [Convert]::FromBase64String($body)
    }

    # The vector wrapping key's private half, to unwrap the key files with (.NET; the kill tests do not run under Wine).
    function Get-WrappingRsa {
        $rsa = [System.Security.Cryptography.RSA]::Create()
        $rsa.ImportFromPem([IO.File]::ReadAllText($Keys.Private))
        $rsa
    }

    # The DER of the vector wrapping public key (PKCS#1), as key files carry it.
    function Get-WrappingPublicDer { , (Get-PemDer $Keys.Public) }

    # The secret scan (as Shares.Tests.ps1 scans): the vector wrapping private key's forms (Get-SecretForms: its
    # PKCS#8 and PKCS#1 DER as bytes, base64 and base64url, its private exponent and first prime as bytes and hex).
    # Find-WrappingSecret returns "<file>: <form>" for each regular file under -Root that holds one, or a private
    # key PEM header, read as Latin-1 (one character per byte) for the binary forms, and made plain for the text
    # forms (UTF-16LE's NULs, whitespace and the JSON escapes of line breaks removed, those of '+', '/', '=' undone).
    # Left out: the own files of the local vaults -Vault (tvmvault.json and keys/<name>, not their .tmp-* files).
    $script:SecretForms = Get-SecretForms (Get-PemDer $Keys.Private)
    function Find-WrappingSecret([string] $Root, [string[]] $Vault = @()) { Find-TestSecret -Root $Root -Forms $SecretForms -Vault $Vault -PrivatePemHeader }
}

AfterAll { Restore-TvmVaultPath }

Describe 'The secret scan that ends every kill test' -Skip:$UnderWine {
    # Skipped under Wine with the kills it serves.
    It 'finds the wrapping private key as PEM (CRLF, no header), UTF-16LE PEM, base64url in JSON and DER bytes, and in a vault''s key file unless the vault is left out' {
        $plant = New-TestFolder planted
        $der = Get-PemDer $Keys.Private
        $body = [Convert]::ToBase64String($der)
        $lines = -join @(for ($i = 0; $i -lt $body.Length; $i += 64) { $body.Substring($i, [Math]::Min(64, $body.Length - $i)) + "`r`n" })
        [IO.File]::WriteAllText([IO.Path]::Combine($plant, 'body.txt'), $lines)
        [IO.File]::WriteAllText([IO.Path]::Combine($plant, 'utf16.txt'), "-----BEGIN PRIVATE KEY-----`r`n$lines-----END PRIVATE KEY-----`r`n", [Text.Encoding]::Unicode)
        [IO.File]::WriteAllText([IO.Path]::Combine($plant, 'key.json'), "{`"material`":`"$((ConvertTo-Base64Url $der).TrimEnd('='))`"}")
        [IO.File]::WriteAllBytes([IO.Path]::Combine($plant, 'key.der'), [byte[]](@(1, 2, 3) + $der + @(4)))
        [IO.File]::WriteAllText([IO.Path]::Combine($plant, 'public.pem'), [IO.File]::ReadAllText($Keys.Public))
        $hits = @(Find-WrappingSecret $plant)
        $found = Get-OrdinalSorted @($hits | ForEach-Object { [IO.Path]::GetFileName($_.Substring(0, $_.IndexOf(': '))) })
        $found | Should -BeExactly (Get-OrdinalSorted @('body.txt', 'key.der', 'key.json', 'utf16.txt'))
        $vault = New-TestFolder vault
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $vault 6>$null
        @(Find-WrappingSecret $vault) | Should -HaveCount 1 -Because 'the vault holds the wrapping key'
        @(Find-WrappingSecret $vault -Vault $vault) | Should -BeNullOrEmpty -Because 'its own files are left out'
        # A temporary file of the vault is not the vault's own.
        Copy-Item -LiteralPath (Get-VaultKeyFile $vault TvmWrap) -Destination ([IO.Path]::Combine($vault, 'keys', '.tmp-1-planted'))
        @(Find-WrappingSecret $vault -Vault $vault) | Should -HaveCount 1
    }
}

Describe 'A backup killed <Why>' -Skip:$UnderWine -ForEach @(
    @{ Why = 'after its first key file'; Point = 'key1'; KeyFiles = 1; WithManifest = $false }
    @{ Why = 'after its second key file'; Point = 'key2'; KeyFiles = 2; WithManifest = $false }
    @{ Why = 'after its third (last) key file, before the manifest'; Point = 'key3'; KeyFiles = 3; WithManifest = $false }
    @{ Why = 'after its manifest, before the rename that completes it'; Point = 'manifest'; KeyFiles = 3; WithManifest = $true }
) {
    # Skipped under Wine: a kill there is Wine's emulation of TerminateProcess, not Windows' (see the top of the file).
    BeforeAll {
        $script:Crash = Invoke-CrashingBackup -Point $Point
        $script:Story = Get-Story $Crash
        $script:Entries = @(Get-ChildItem -LiteralPath $Crash.Root -Force -ErrorAction SilentlyContinue)
        $script:Partial = @($Entries | Where-Object Name -Match '^\.\d{14}\.partial$')
        $script:Timestamp = if ($Partial.Count -eq 1) { $Partial[0].Name.Substring(1, 14) } else { $null }
        $script:PartialPath = if ($Partial.Count -eq 1) { $Partial[0].FullName } else { $null }
    }

    It 'is killed at the crash point, not ended by itself' {
        $Crash.TimedOut | Should -BeFalse -Because "the child must reach the crash point within 60 s; $Story"
        $Crash.Ready | Should -BeTrue -Because $Story
        $Crash.ReadyText | Should -BeExactly $Point -Because 'the engine names the point it stopped at'
        $Crash.Killed | Should -BeTrue -Because "the child was still running when it was killed; $Story"
        $Crash.Done | Should -BeFalse -Because "Backup-TVMKeys never returned; $Story"
        $Crash.ExitCode | Should -Not -Be 0 -Because $Story
        if (-not $IsWindows) { $Crash.ExitCode | Should -Be 137 -Because "128 + SIGKILL: the process was killed; $Story" }
    }

    It 'leaves only its hidden .<Timestamp>.partial folder in the root, never the <Timestamp> folder' {
        @($Entries.Name) | Should -HaveCount 1 -Because "the root holds the partial folder alone; it holds: $($Entries.Name -join ', ')"
        $PartialPath | Should -Not -BeNullOrEmpty
        [IO.Path]::Combine($Crash.Root, $Timestamp) | Should -Not -Exist
    }

    It 'holds the key files written before the kill (<KeyFiles>), the manifest only after it was written (<WithManifest>), and .writer naming the killed process' {
        # .writer names the run writing the folder (src/sweep.rs) until just before the rename that completes it.
        $expected = @('.writer', 'AES', 'RSA') + $(if ($WithManifest) { 'manifest.json' })
        $top = Get-OrdinalSorted @(Get-ChildItem -LiteralPath $PartialPath -Force | ForEach-Object Name)
        $top | Should -BeExactly (Get-OrdinalSorted $expected)
        # The writer's mark: "<process id> <machine>" of the run that made the folder, the child killed.
        $writer = Get-Item -LiteralPath ([IO.Path]::Combine($PartialPath, '.writer')) -Force
        $writer.PSIsContainer | Should -BeFalse
        [IO.File]::ReadAllText($writer.FullName) | Should -MatchExactly "^$($Crash.Pid) \S+$" -Because "the mark names the killed child, process $($Crash.Pid)"
        $files = @(Get-ChildItem -LiteralPath ([IO.Path]::Combine($PartialPath, 'AES')), ([IO.Path]::Combine($PartialPath, 'RSA')) -Force)
        $files | Should -HaveCount $KeyFiles -Because "the kill came after key file $KeyFiles; found: $($files.Name -join ', ')"
        foreach ($f in $files) {
            $f.PSIsContainer | Should -BeFalse
            $f.Name | Should -Match '^(AzureStackTvmAKRootKey_2048|vm1_256|vm2_256)\.json$' -Because 'no temporary file is left beside the key files'
        }
    }

    It 'holds only wrapped key files (MOC format, CKM_RSA_AES_KEY_WRAP for the wrapping key), no plaintext key material' {
        $publicDer = ConvertTo-Base64Url (Get-WrappingPublicDer)
        $rsa = Get-WrappingRsa
        $files = @(Get-ChildItem -LiteralPath ([IO.Path]::Combine($PartialPath, 'AES')), ([IO.Path]::Combine($PartialPath, 'RSA')) -File -Force)
        $files.Count | Should -Be $KeyFiles
        foreach ($f in $files) {
            $text = [IO.File]::ReadAllText($f.FullName)
            $json = $text | ConvertFrom-Json
            @($json.PSObject.Properties.Name) | Should -BeExactly @('public-key', 'private-key', 'private-key-wrapping-info')
            $info = $json.'private-key-wrapping-info'
            @($info.PSObject.Properties.Name) | Should -BeExactly @('key-name', 'public-key', 'enc')
            $info.enc | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP'
            $info.'public-key' | Should -BeExactly $publicDer -Because 'the key is wrapped for the wrapping key given'
            Test-PaddedBase64Url $json.'private-key' | Should -BeTrue
            # The blob is the vault's key, wrapped: it opens with the wrapping private key to exactly that material.
            $name = $f.BaseName.Substring(0, $f.BaseName.LastIndexOf('_'))
            $vault = Read-VaultKeyFile $Source $name
            Get-Hex (Unprotect-KeyBlob $json.'private-key' $rsa) | Should -BeExactly (Get-Hex $vault.Material)
        }
        # Nowhere in the partial folder is any key's material in the clear, as the vault's text or as base64.
        $everything = @(Get-ChildItem -LiteralPath $PartialPath -Recurse -File -Force | ForEach-Object { [IO.File]::ReadAllText($_.FullName) }) -join "`n"
        foreach ($name in $KeyNames) {
            $vault = Read-VaultKeyFile $Source $name
            $everything.Contains($vault.MaterialText) | Should -BeFalse -Because "$name's material (base64url) is not in the backup"
            $everything.Contains([Convert]::ToBase64String($vault.Material)) | Should -BeFalse -Because "$name's material (base64) is not in the backup"
        }
    }

    It 'leaves nothing in the temp folder of the killed process' {
        Get-TempLeftovers $Crash.Tmp | Should -BeNullOrEmpty
    }

    It 'Get-TVMKeyBackup lists it as Partial and never as Complete or Legacy' {
        $listed = @(Get-TVMKeyBackup -BackupRootPath $Crash.Root)
        $listed | Should -HaveCount 1
        $listed[0].Path | Should -Be $PartialPath
        "$($listed[0].Status)" | Should -BeExactly 'Partial'
        $listed[0].Timestamp.ToString('yyyyMMddHHmmss', [Globalization.CultureInfo]::InvariantCulture) | Should -BeExactly $Timestamp
        @($listed | Where-Object { "$($_.Status)" -in 'Complete', 'Legacy' }) | Should -BeNullOrEmpty
        # -Latest: the newest backup to restore, and there is none.
        $latest = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $Crash.Root -Latest }
        @($latest.Output) | Should -BeNullOrEmpty -Because (Format-Captured $latest)
        $e = @(@($latest.Errors) + @($latest.Terminating) | Where-Object { $null -ne $_ })
        $e | Should -HaveCount 1 -Because (Format-Captured $latest)
        $e[0].FullyQualifiedErrorId | Should -BeLikeExactly 'NoCompleteBackup,TvmBackupUtils.*'
    }

    It 'Test-TVMKeyBackup says Incomplete, with an error' {
        $test = Invoke-Captured { Test-TVMKeyBackup -Path $PartialPath }
        $test.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $test)
        $check = @(Get-OfType $test.Output TvmBackupCheck)
        $check | Should -HaveCount 1
        "$($check[0].Status)" | Should -BeExactly 'Incomplete' -Because (Format-Captured $test)
        @($test.Errors) | Should -HaveCount 1 -Because 'an unfinished backup is not a good one ($? is false)'
        $test.Errors[0].CategoryInfo.Category | Should -Be InvalidData
    }

    It 'Import-TVMKeys refuses it (BackupIncomplete) and imports nothing into a fresh vault' {
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $before = Get-VaultSnapshot $target
        $import = Invoke-Captured { Import-TVMKeys -BackupPath $PartialPath -WrappingKeyName TvmWrap -VaultPath $target }
        $null = Assert-TvmTerminating $import BackupIncomplete InvalidData
        @($import.Output | Where-Object { $_.PSObject.Properties['Outcome'] -and $_.Outcome -eq 'Imported' }) | Should -BeNullOrEmpty
        @(Get-TvmVaultKey -VaultPath $target).Name | Should -BeExactly @('TvmWrap')
        $after = Get-VaultSnapshot $target
        @($after.Keys) | Should -BeExactly @($before.Keys)
    }

    It 'does not stop the next backup on the same root, which completes and removes the partial folder, with a warning naming it' {
        $next = Invoke-NextBackup $Crash.Root
        $next.PartialBefore | Should -BeExactly @($PartialPath)
        $backup = Assert-NextBackupSwept $next $Crash.Pid 3
        @($backup.Keys.Name | Sort-Object) | Should -Be $KeyNames
        $latest = @(Get-TVMKeyBackup -BackupRootPath $Crash.Root -Latest)
        $latest | Should -HaveCount 1
        $latest[0].Path | Should -Be $backup.Path
        "$($latest[0].Status)" | Should -BeExactly 'Complete'
        $latest[0].KeyCount | Should -Be 3
        @(Get-ChildItem -LiteralPath $Crash.Root -Force).Name | Should -BeExactly @(Split-Path -Leaf $backup.Path) -Because 'the root holds the new backup alone'
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it)' {
        @(Find-WrappingSecret $Crash.Case) | Should -BeNullOrEmpty
    }
}

Describe 'The crash hook when its point is never reached' {
    # No kill here: these run under Wine too.
    It 'with <Why> the backup completes normally and writes no ready file' -ForEach @(
        @{ Why = 'TVM_TEST_CRASH_POINT=key99 (a 3-key vault)'; Point = 'key99'; NoReady = $false }
        @{ Why = 'TVM_TEST_CRASH_POINT=key1 but no TVM_TEST_CRASH_READY'; Point = 'key1'; NoReady = $true }
    ) {
        $run = Invoke-CrashingBackup -Point $Point -NoReady:$NoReady
        $describe = Get-Story $run
        $run.Killed | Should -BeFalse -Because "the child ends by itself within 60 s; $describe"
        $run.ExitCode | Should -Be 0 -Because $describe
        $run.Done | Should -BeTrue -Because $describe
        $run.ReadyFile | Should -Not -Exist
        $listed = @(Get-TVMKeyBackup -BackupRootPath $run.Root)
        $listed | Should -HaveCount 1 -Because 'one complete backup and no partial folder'
        "$($listed[0].Status)" | Should -BeExactly 'Complete'
        $listed[0].KeyCount | Should -Be 3
        @(Get-ChildItem -LiteralPath $run.Root -Force | Where-Object Name -Like '.*') | Should -BeNullOrEmpty
        Get-TempLeftovers $run.Tmp | Should -BeNullOrEmpty
    }
}

Describe 'Import-TvmWrappingKeyFromPem killed with its plaintext import file written' -Skip:$UnderWine {
    BeforeAll {
        $script:Case = New-TestFolder import-kill
        $script:Vault = [IO.Path]::Combine($Case, 'vault')
        $script:Killed = Invoke-KilledChild -Script $ImportScript -Arguments @((Get-TvmModulePath), $Keys.Public, $Keys.Private, $Vault) -Case $Case -Point import
        $script:Left = @(Get-ImportFiles $Case)
        # The secret scan before the next command: it must find the file left (so the scan after it means something).
        $script:SecretsBefore = @(Find-WrappingSecret $Case -Vault $Vault)
    }

    It 'is killed with the plaintext file in the module''s owner-only import folder, named for its process' {
        $Killed.Killed | Should -BeTrue -Because (Get-Story $Killed)
        $Killed.ReadyText | Should -BeExactly 'import'
        $Left.Count | Should -Be 1
        $Left[0].Directory.Name | Should -BeLike 'tvmkeys-import-*'
        $Left[0].Name | Should -Match "^import-$($Killed.Pid)-.+\.json$"
        "$($Left[0].UnixMode)" | Should -Be '-rw-------'
        "$((Get-Item -LiteralPath $Left[0].DirectoryName -Force).UnixMode)" | Should -Be 'drwx------'
        @($SecretsBefore | ForEach-Object { $_.Substring(0, $_.LastIndexOf(': ')) }) | Should -BeExactly @($Left[0].FullName) -Because 'the secret scan finds the private key in the file left, and nowhere else'
    }

    It 'is swept by the next command of the module, with a warning naming it' {
        $run = Assert-ImportFileSwept $Case $Left
        @($run.Output | Where-Object { $_ -like 'WARN Removed *' })[0] | Should -BeLike "*$($Left[0].Name)*left by a run of Import-TvmWrappingKeyFromPem that was stopped (process $($Killed.Pid))*"
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it), the vault''s own files left out' {
        @(Find-WrappingSecret $Case -Vault $Vault) | Should -BeNullOrEmpty
    }
}

Describe 'A backup stopped by SIG<Signal> at its first key file' -Skip:$UnderWine -ForEach @(
    @{ Signal = 'TERM' }
    @{ Signal = 'INT' }
) {
    BeforeAll {
        $script:Crash = Invoke-CrashingBackup -Point key1 -Signal $Signal
        $script:Story = Get-Story $Crash
        $script:PartialLeft = @(Get-PartialFolders $Crash.Root)
        Write-Host "    (SIG$Signal at $([Math]::Round($Crash.SignalAt, 3)) s: $(if ($Crash.Forced) { 'still running 15 s later, then SIGKILL' } else { 'ended at once' }), exit code $($Crash.ExitCode); $($PartialLeft.Count) partial folder(s) left)"
    }

    It 'is stopped at the crash point by the signal (SIGKILL only when it had not ended 15 s later)' {
        $Crash.TimedOut | Should -BeFalse -Because "the child must reach the crash point within 60 s; $Story"
        $Crash.ReadyText | Should -BeExactly 'key1' -Because $Story
        $Crash.Killed | Should -BeTrue -Because "the child was still running when the signal came; $Story"
        $Crash.Done | Should -BeFalse -Because "Backup-TVMKeys never returned; $Story"
        $Crash.ExitCode | Should -Not -Be 0 -Because $Story
    }

    It 'leaves no timestamped folder (which looks complete) without its manifest, nor any; a partial folder it leaves names the stopped process' {
        foreach ($e in @(Get-ChildItem -LiteralPath $Crash.Root -Force)) {
            $e.Name | Should -Match '^(\d{14}|\.\d{14}\.partial)$' -Because 'the root holds backup folders only'
            if ($e.Name -match '^\d{14}$') { [IO.Path]::Combine($e.FullName, 'manifest.json') | Should -Exist }
        }
        @(Get-TimestampFolders $Crash.Root | ForEach-Object Name) | Should -BeNullOrEmpty -Because "the backup stopped before its rename; $Story"
        foreach ($p in $PartialLeft) {
            [IO.File]::ReadAllText([IO.Path]::Combine($p.FullName, '.writer')) | Should -MatchExactly "^$($Crash.Pid) \S+$"
        }
    }

    It 'leaves nothing in the temp folder of the stopped process' {
        Get-TempLeftovers $Crash.Tmp | Should -BeNullOrEmpty
    }

    It 'does not stop the next Backup-TVMKeys on the root, which completes and leaves no partial folder (one left is removed, with a warning naming it)' {
        $next = Invoke-NextBackup $Crash.Root
        $null = Assert-NextBackupSwept $next $Crash.Pid 3
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it)' {
        @(Find-WrappingSecret $Crash.Case) | Should -BeNullOrEmpty
    }
}

Describe 'Import-TvmWrappingKeyFromPem stopped by SIG<Signal> with its plaintext import file written' -Skip:$UnderWine -ForEach @(
    @{ Signal = 'TERM' }
    @{ Signal = 'INT' }
) {
    BeforeAll {
        $script:Case = New-TestFolder import-signal
        $script:Vault = [IO.Path]::Combine($Case, 'vault')
        $script:Stopped = Invoke-KilledChild -Script $ImportScript -Arguments @((Get-TvmModulePath), $Keys.Public, $Keys.Private, $Vault) -Case $Case -Point import -Signal $Signal
        $script:Story = Get-Story $Stopped
        $script:Left = @(Get-ImportFiles $Case)
        $script:SecretsBefore = @(Find-WrappingSecret $Case -Vault $Vault)
        Write-Host "    (SIG$Signal at $([Math]::Round($Stopped.SignalAt, 3)) s: $(if ($Stopped.Forced) { 'still running 15 s later, then SIGKILL' } else { 'ended at once' }), exit code $($Stopped.ExitCode); $($Left.Count) import file(s) left)"
    }

    It 'is stopped at the crash point by the signal (SIGKILL only when it had not ended 15 s later)' {
        $Stopped.TimedOut | Should -BeFalse -Because "the child must reach the crash point within 60 s; $Story"
        $Stopped.ReadyText | Should -BeExactly 'import' -Because $Story
        $Stopped.Killed | Should -BeTrue -Because $Story
        $Stopped.Done | Should -BeFalse -Because "the import never returned; $Story"
        $Stopped.ExitCode | Should -Not -Be 0 -Because $Story
        foreach ($f in $Left) { $f.Name | Should -Match "^import-$($Stopped.Pid)-.+\.json$" -Because 'the only import file is the stopped run''s' }
        # The secret scan before the next command finds exactly the files left (so the scan after it means something).
        $found = Get-OrdinalSorted @($SecretsBefore | ForEach-Object { $_.Substring(0, $_.LastIndexOf(': ')) })
        $found | Should -BeExactly (Get-OrdinalSorted @($Left | ForEach-Object FullName))
    }

    It 'the next command of the module (Get-TvmVaultKey) leaves no plaintext import file, and names each it removed in a warning' {
        $null = Assert-ImportFileSwept $Case $Left
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it), the vault''s own files left out' {
        @(Find-WrappingSecret $Case -Vault $Vault) | Should -BeNullOrEmpty
    }
}

Describe 'A backup of 40 keys killed (SIGKILL, no crash point) <Delay> s after <From>' -Skip:$UnderWine -ForEach @(
    @{ Delay = 0.3; From = 'its process started'; FromMark = $false }
    @{ Delay = 0.6; From = 'its process started'; FromMark = $false }
    @{ Delay = 0.7; From = 'its process started'; FromMark = $false }
    @{ Delay = 0.8; From = 'its process started'; FromMark = $false }
    @{ Delay = 1.5; From = 'its process started'; FromMark = $false }
    @{ Delay = 3.0; From = 'its process started'; FromMark = $false }
    @{ Delay = 0.0; From = 'Backup-TVMKeys was called'; FromMark = $true }
    @{ Delay = 0.02; From = 'Backup-TVMKeys was called'; FromMark = $true }
    @{ Delay = 0.05; From = 'Backup-TVMKeys was called'; FromMark = $true }
) {
    # The moment decides what the kill finds (nothing yet, a partial folder, a complete backup), never the verdict.
    BeforeAll {
        $script:Crash = Invoke-CrashingBackup -Delay $Delay -FromMark:$FromMark -Vault $BigVault
        $script:Story = Get-Story $Crash
        $script:Stamped = @(Get-TimestampFolders $Crash.Root)
        $script:PartialLeft = @(Get-PartialFolders $Crash.Root)
        $found = if (-not $Crash.Killed) { 'it had ended' } elseif ($Stamped) { 'a complete backup' } elseif ($PartialLeft) {
            "a partial folder of $(@(Get-ChildItem -LiteralPath $PartialLeft[0].FullName -Recurse -File -Force).Count) files"
        } else { 'no backup folder yet' }
        Write-Host "    (killed at $([Math]::Round($Crash.SignalAt, 3)) s after the start, exit code $($Crash.ExitCode): $found)"
    }

    It 'leaves in its root only backup folders: each timestamped one passes Test-TVMKeyBackup (Valid, 40 keys)' {
        foreach ($e in @(Get-ChildItem -LiteralPath $Crash.Root -Force -ErrorAction SilentlyContinue)) {
            $e.PSIsContainer | Should -BeTrue -Because "$($e.Name) is a backup folder; $Story"
            $e.Name | Should -Match '^(\d{14}|\.\d{14}\.partial)$' -Because "the root holds backup folders only; $Story"
        }
        $Stamped.Count | Should -BeLessOrEqual 1
        foreach ($f in $Stamped) {
            $test = Invoke-Captured { Test-TVMKeyBackup -Path $f.FullName }
            $check = @(Get-OfType $test.Output TvmBackupCheck)
            $check | Should -HaveCount 1 -Because (Format-Captured $test)
            "$($check[0].Status)" | Should -BeExactly 'Valid' -Because "a timestamped folder is a complete backup; $(Format-Captured $test)"
            $check[0].KeyCount | Should -Be 40
            @($test.Errors) | Should -BeNullOrEmpty -Because (Format-Captured $test)
        }
        # A run that ended by itself, or said it was done, made its backup.
        if ($Crash.Done -or -not $Crash.Killed) { $Stamped.Count | Should -Be 1 -Because $Story }
        if (-not $Crash.Killed) { $Crash.ExitCode | Should -Be 0 -Because $Story }
        foreach ($p in $PartialLeft) {
            $mark = [IO.Path]::Combine($p.FullName, '.writer')
            if ([IO.File]::Exists($mark)) { [IO.File]::ReadAllText($mark) | Should -MatchExactly "^($($Crash.Pid) \S+)?$" }
        }
    }

    It 'does not stop the next backup, which completes and removes a partial folder left, with a warning naming it' {
        $next = Invoke-NextBackup $Crash.Root -Vault $BigVault
        $null = Assert-NextBackupSwept $next $Crash.Pid 40
        @(Get-TimestampFolders $Crash.Root).Count | Should -Be ($Stamped.Count + 1)
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it)' {
        @(Find-WrappingSecret $Crash.Case) | Should -BeNullOrEmpty
    }
}

Describe 'Import-TVMKeys into a new local vault killed <Why>, then run again' -Skip:$UnderWine -ForEach @(
    @{ Why = 'after its first key (restore1)'; Point = 'restore1'; Restored = 1; Temporary = 0 }
    @{ Why = 'with its first key written to a temporary file (vault-write)'; Point = 'vault-write'; Restored = 0; Temporary = 1 }
) {
    BeforeAll {
        $script:Case = New-TestFolder restore-kill
        $made = Assert-Clean (Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath ([IO.Path]::Combine($Case, 'backups')) -VaultPath $Source })
        $script:BackupPath = (Get-SingleBackup $made.Output).Path
        $script:Target = [IO.Path]::Combine($Case, 'target')
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $Target 6>$null
        $script:Crash = Invoke-KilledChild -Script $RestoreScript -Arguments @((Get-TvmModulePath), $BackupPath, $Target) -Case $Case -Point $Point
        $script:Story = Get-Story $Crash
        # What the kill left, read before any command of the module opens the vault.
        $script:KeysAfterKill = @(Get-ChildItem -LiteralPath ([IO.Path]::Combine($Target, 'keys')) -Force -File | Where-Object Name -NotLike '.*' | ForEach-Object BaseName)
        $script:TempAfterKill = @(Get-VaultTempFiles $Target)
        # The same command again, in this process.
        $script:Rerun = Invoke-Captured { Import-TVMKeys -BackupPath $BackupPath -WrappingKeyName TvmWrap -VaultPath $Target }
    }

    It 'is killed at the crash point, leaving <Restored> key(s) restored and <Temporary> temporary file(s) of its process' {
        $Crash.TimedOut | Should -BeFalse -Because "the child must reach the crash point within 60 s; $Story"
        $Crash.ReadyText | Should -BeExactly $Point -Because $Story
        $Crash.Killed | Should -BeTrue -Because $Story
        $Crash.Done | Should -BeFalse -Because $Story
        $Crash.ExitCode | Should -Be 137 -Because "128 + SIGKILL; $Story"
        @($KeysAfterKill | Where-Object { $_ -ne 'TvmWrap' }).Count | Should -Be $Restored
        $TempAfterKill.Count | Should -Be $Temporary
        foreach ($t in $TempAfterKill) { $t.Name | Should -Match "^\.tmp-$($Crash.Pid)-" }
    }

    It 'the re-run completes without an error, reporting Imported or Exists for each key: Exists exactly for those the killed run restored' {
        $run = Assert-Clean $Rerun
        $outcomes = @($run.Output | Where-Object { $_.PSObject.Properties['Outcome'] })
        $reported = Get-OrdinalSorted @($outcomes | ForEach-Object { "$($_.Name)=$($_.Outcome)" })
        $reported | Should -BeExactly (Get-OrdinalSorted @($KeyNames | ForEach-Object { "$_=$(if ($_ -in $KeysAfterKill) { 'Exists' } else { 'Imported' })" })) -Because (Format-Captured $run)
    }

    It 'ends with every key of the backup in the vault, each with the source''s fingerprint' {
        # (PowerShell's variable names ignore case: these are not $Source and $Target.)
        $sourcePrints = @{}; foreach ($k in Get-TvmVaultKey -VaultPath $Source) { $sourcePrints[$k.Name] = $k.Fingerprint }
        $targetPrints = @{}; foreach ($k in Get-TvmVaultKey -VaultPath $Target) { $targetPrints[$k.Name] = $k.Fingerprint }
        $names = Get-OrdinalSorted @($targetPrints.Keys)
        $names | Should -BeExactly (Get-OrdinalSorted (@($KeyNames) + 'TvmWrap'))
        foreach ($name in $KeyNames) {
            $targetPrints[$name] | Should -Not -BeNullOrEmpty
            $targetPrints[$name] | Should -BeExactly $sourcePrints[$name] -Because "key $name is the source's"
        }
    }

    It 'leaves no .tmp-* file in the vault''s folder or its keys folder; the re-run named each it removed in a warning' {
        @(Get-VaultTempFiles $Target | ForEach-Object FullName) | Should -BeNullOrEmpty
        $removed = @($Rerun.Warnings | Where-Object { $_ -like 'Removed *: a temporary file of the local vault*' })
        $removed.Count | Should -Be $TempAfterKill.Count -Because (Format-Captured $Rerun)
        foreach ($t in $TempAfterKill) {
            @($removed | Where-Object { $_.StartsWith("Removed $($t.FullName): a temporary file of the local vault left by a stopped run (process $($Crash.Pid))", [StringComparison]::Ordinal) }).Count |
                Should -Be 1 -Because (Format-Captured $Rerun)
        }
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it), the vault''s own files left out' {
        @(Find-WrappingSecret $Case -Vault $Target) | Should -BeNullOrEmpty
    }
}

Describe 'New-TvmVaultKey into a new folder killed <Why>, then run again' -Skip:$UnderWine -ForEach @(
    @{ Why = 'with its keys folder made and no marker (vault-create)'; Point = 'vault-create' }
    @{ Why = 'with its marker written to a temporary file (vault-write)'; Point = 'vault-write' }
) {
    BeforeAll {
        $script:Case = New-TestFolder newvault-kill
        $script:Vault = [IO.Path]::Combine($Case, 'vault')
        $script:Crash = Invoke-KilledChild -Script $NewKeyScript -Arguments @((Get-TvmModulePath), $Vault, 'vmNew') -Case $Case -Point $Point
        $script:Story = Get-Story $Crash
        $script:LeftEntries = Get-RelativeEntries $Vault
        $script:TempAfterKill = @(Get-VaultTempFiles $Vault)
        $script:Next = Invoke-Captured { New-TvmVaultKey -Name vmNew -Type AES -Size 256 -VaultPath $Vault }
    }

    It 'is killed at the crash point, leaving a half-made vault: an empty keys folder, no marker, at vault-write a temporary file' {
        $Crash.TimedOut | Should -BeFalse -Because "the child must reach the crash point within 60 s; $Story"
        $Crash.ReadyText | Should -BeExactly $Point -Because $Story
        $Crash.Killed | Should -BeTrue -Because $Story
        $Crash.ExitCode | Should -Be 137 -Because $Story
        $expected = @('keys') + $(if ($Point -eq 'vault-write') { @($TempAfterKill | ForEach-Object Name) })
        $LeftEntries | Should -BeExactly (Get-OrdinalSorted $expected)
        $TempAfterKill.Count | Should -Be $(if ($Point -eq 'vault-write') { 1 } else { 0 })
        foreach ($t in $TempAfterKill) { $t.Name | Should -Match "^\.tmp-$($Crash.Pid)-" }
    }

    It 'the next New-TvmVaultKey into the folder succeeds, and Get-TvmVaultKey lists the key' {
        $run = Assert-Clean $Next
        @($run.Output | ForEach-Object Name) | Should -BeExactly @('vmNew')
        [IO.Path]::Combine($Vault, 'tvmvault.json') | Should -Exist
        @(Get-TvmVaultKey -VaultPath $Vault | ForEach-Object Name) | Should -BeExactly @('vmNew')
    }

    It 'leaves no .tmp-* file; the next command named each it removed in a warning' {
        @(Get-VaultTempFiles $Vault | ForEach-Object FullName) | Should -BeNullOrEmpty
        $removed = @($Next.Warnings | Where-Object { $_ -like 'Removed *: a temporary file of the local vault*' })
        $removed.Count | Should -Be $TempAfterKill.Count -Because (Format-Captured $Next)
        foreach ($t in $TempAfterKill) {
            @($removed | Where-Object { $_.StartsWith("Removed $($t.FullName): a temporary file of the local vault left by a stopped run (process $($Crash.Pid))", [StringComparison]::Ordinal) }).Count |
                Should -Be 1 -Because (Format-Captured $Next)
        }
    }

    It 'leaves the wrapping private key in no file of the case folder (the child''s temp folder is in it), the vault''s own files left out' {
        @(Find-WrappingSecret $Case -Vault $Vault) | Should -BeNullOrEmpty
    }
}
