# A backup killed by a real process kill, not an exception: a new pwsh runs Backup-TVMKeys on a local vault of 3 keys
# with the engine's test-only crash point (src/backup.rs, crash_point) set for that process only. At the point
# (TVM_TEST_CRASH_POINT: key<N> after the N-th key file is on disk, manifest after manifest.json and before the rename
# that completes the backup) the engine writes the file TVM_TEST_CRASH_READY names and waits to be killed; this file
# waits for that file (polling, 60 s at most: a bound, never part of the verdict) and kills the process
# (Process.Kill($true)). What the kill leaves must be what docs/format.md sections 1 and 8 promise: a hidden
# .<timestamp>.partial folder that every command knows for an unfinished backup (Get-TVMKeyBackup: Partial, never
# Complete; Test-TVMKeyBackup: Incomplete; Import-TVMKeys: BackupIncomplete, nothing imported), which holds only
# wrapped key files (no plaintext key material) and leaves nothing in the temp folder; and the next backup on that
# root completes. With the variables set to a point the backup never reaches, the hook does nothing.
# Under Wine (build.ps1 WindowsTest) the kills are skipped: killing a Windows process tree of the win-x64 pwsh
# through Wine's process emulation is not a Windows kill (what Wine's wineserver does with the child's open files and
# its process tree is Wine's, not Windows'), so it would prove nothing about Windows. The runs that are not killed
# (the inert hook) run there too.
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

    # The child's script: the backup as a runbook runs it; BACKUP-DONE only when Backup-TVMKeys returned.
    $script:ChildScript = [IO.Path]::Combine((New-TestFolder child), 'backup.ps1')
    Set-Content -LiteralPath $ChildScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Public, [string] $Root, [string] $Vault)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
$backup = Backup-TVMKeys -WrappingKeyPath $Public -BackupRootPath $Root -VaultPath $Vault
"BACKUP-DONE $($backup.Path)"
exit 0
'@

    # Starts the child pwsh (as Invoke-Pwsh does: -NoLogo -NoProfile -NonInteractive -File, its own environment) on a
    # new backup root with TVM_TEST_CRASH_POINT = -Point (none without one) and TVM_TEST_CRASH_READY = a new file's
    # path (none with -NoReady), and its own, empty temp folder (TMPDIR; TMP and TEMP on Windows). Polls, 60 s at
    # most, until the ready file exists or the child exits; if the child is still running then, kills it
    # (Process.Kill($true)) and waits for it to end. Returns Root, Tmp, ReadyFile, Ready (the file existed when the
    # polling stopped), ReadyText, Killed (the child was running when it was killed), TimedOut, ExitCode, Output
    # (stdout and stderr) and Done (the child wrote BACKUP-DONE).
    function Invoke-CrashingBackup([string] $Point, [switch] $NoReady) {
        $case = New-TestFolder case
        $root = [IO.Path]::Combine($case, 'root')
        $tmp = [IO.Path]::Combine($case, 'tmp')
        $null = New-Item -ItemType Directory -Path $tmp
        $ready = [IO.Path]::Combine($case, 'ready')
        $info = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshExecutable))
        foreach ($a in @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $ChildScript, (Get-TvmModulePath), $Keys.Public, $root, $Source)) {
            $info.ArgumentList.Add($a)
        }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.WorkingDirectory = $case
        $variables = @{ TVM_VAULT_PATH = $null; TVM_TEST_CRASH_POINT = $null; TVM_TEST_CRASH_READY = $null; TMPDIR = $tmp }
        if ($IsWindows) { $variables['TMP'] = $variables['TEMP'] = $tmp }
        if ($Point) { $variables['TVM_TEST_CRASH_POINT'] = $Point }
        if (-not $NoReady) { $variables['TVM_TEST_CRASH_READY'] = $ready }
        foreach ($k in $variables.Keys) {
            if ($null -eq $variables[$k]) { $null = $info.Environment.Remove($k) } else { $info.Environment[$k] = [string]$variables[$k] }
        }
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while (-not [IO.File]::Exists($ready) -and -not $process.HasExited -and $clock.Elapsed.TotalSeconds -lt 60) {
                Start-Sleep -Milliseconds 50
            }
            $isReady = [IO.File]::Exists($ready)
            $killed = $false
            if (-not $process.HasExited) {
                $process.Kill($true)
                $killed = $true
            }
            $process.WaitForExit()
            $output = @(($stdout.Result + $stderr.Result) -split "`r?`n" | Where-Object { $_ -ne '' })
            [pscustomobject]@{
                Root = $root
                Tmp = $tmp
                ReadyFile = $ready
                Ready = $isReady
                ReadyText = if ($isReady) { [IO.File]::ReadAllText($ready) } else { $null }
                Killed = $killed
                TimedOut = $killed -and -not $isReady
                ExitCode = $process.ExitCode
                Output = $output
                Done = [bool]($output | Where-Object { $_ -like 'BACKUP-DONE *' })
            }
        } finally {
            if (-not $process.HasExited) { $process.Kill($true); $process.WaitForExit() }
            $process.Dispose()
        }
    }

    # Every entry under -Path (files, folders, links), as paths relative to it with '/', sorted.
    function Get-RelativeEntries([string] $Path) {
        if (-not (Test-Path -LiteralPath $Path)) { return @() }
        $full = [IO.Path]::GetFullPath($Path)
        Get-OrdinalSorted @(Get-ChildItem -LiteralPath $full -Recurse -Force | ForEach-Object {
                [IO.Path]::GetRelativePath($full, $_.FullName).Replace('\', '/')
            })
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

    # The vector wrapping key's private half, to unwrap the key files with (.NET; the kill tests do not run under Wine).
    function Get-WrappingRsa {
        $rsa = [System.Security.Cryptography.RSA]::Create()
        $rsa.ImportFromPem([IO.File]::ReadAllText($Keys.Private))
        $rsa
    }

    # The DER of the vector wrapping public key (PKCS#1), as key files carry it.
    function Get-WrappingPublicDer {
        $body = ([IO.File]::ReadAllText($Keys.Public) -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        , [Convert]::FromBase64String($body)
    }
}

AfterAll { Restore-TvmVaultPath }

Describe 'A backup killed <Why>' -Skip:$UnderWine -ForEach @(
    @{ Why = 'after its first key file'; Point = 'key1'; KeyFiles = 1; WithManifest = $false }
    @{ Why = 'after its second key file'; Point = 'key2'; KeyFiles = 2; WithManifest = $false }
    @{ Why = 'after its third (last) key file, before the manifest'; Point = 'key3'; KeyFiles = 3; WithManifest = $false }
    @{ Why = 'after its manifest, before the rename that completes it'; Point = 'manifest'; KeyFiles = 3; WithManifest = $true }
) {
    # Skipped under Wine: a kill there is Wine's emulation of TerminateProcess, not Windows' (see the top of the file).
    BeforeAll {
        $script:Crash = Invoke-CrashingBackup -Point $Point
        $script:Story = "child exit code $($Crash.ExitCode), ready $($Crash.Ready), killed $($Crash.Killed):`n$($Crash.Output -join "`n")"
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

    It 'holds the key files written before the kill (<KeyFiles>), and the manifest only after it was written (<WithManifest>)' {
        # .writer names the run writing the folder (src/sweep.rs) until just before the rename that completes it.
        $expected = @('.writer', 'AES', 'RSA') + $(if ($WithManifest) { 'manifest.json' })
        $top = Get-OrdinalSorted @(Get-ChildItem -LiteralPath $PartialPath -Force | ForEach-Object Name)
        $top | Should -BeExactly (Get-OrdinalSorted $expected)
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

    It 'does not stop the next backup on the same root, which completes' {
        $next = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $Crash.Root -VaultPath $Source }
        $backup = Get-SingleBackup (Assert-Clean $next).Output
        @($backup.Keys.Name | Sort-Object) | Should -Be $KeyNames
        $latest = @(Get-TVMKeyBackup -BackupRootPath $Crash.Root -Latest)
        $latest | Should -HaveCount 1
        $latest[0].Path | Should -Be $backup.Path
        "$($latest[0].Status)" | Should -BeExactly 'Complete'
        $latest[0].KeyCount | Should -Be 3
        "$((Test-TVMKeyBackup -Path $backup.Path).Status)" | Should -BeExactly 'Valid'
    }
}

Describe 'The crash hook when its point is never reached' {
    # No kill here: these run under Wine too.
    It 'with <Why> the backup completes normally and writes no ready file' -ForEach @(
        @{ Why = 'TVM_TEST_CRASH_POINT=key99 (a 3-key vault)'; Point = 'key99'; NoReady = $false }
        @{ Why = 'TVM_TEST_CRASH_POINT=key1 but no TVM_TEST_CRASH_READY'; Point = 'key1'; NoReady = $true }
    ) {
        $run = Invoke-CrashingBackup -Point $Point -NoReady:$NoReady
        $describe = "child exit code $($run.ExitCode), killed $($run.Killed):`n$($run.Output -join "`n")"
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
        $script:Tmp = [IO.Path]::Combine($Case, 'tmp')
        $null = New-Item -ItemType Directory -Path $Tmp
        $script:Vault = [IO.Path]::Combine($Case, 'vault')
        $ready = [IO.Path]::Combine($Case, 'ready')
        $script:ImportScript = [IO.Path]::Combine($Case, 'import.ps1')
        Set-Content -LiteralPath $ImportScript -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Public, [string] $Private, [string] $Vault)
$ErrorActionPreference = 'Stop'
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
$null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Public -PrivateKeyPath $Private -KeySize 2048 -VaultPath $Vault
"IMPORT-DONE"
'@
        # Runs a script in a child pwsh with this case's temp folder; with -Point, kills it when the point is reached.
        function Invoke-Child([string] $Script, [string[]] $Arguments, [string] $Point) {
            $info = [System.Diagnostics.ProcessStartInfo]::new((Get-PwshExecutable))
            foreach ($a in @('-NoLogo', '-NoProfile', '-NonInteractive', '-File', $Script) + $Arguments) { $info.ArgumentList.Add($a) }
            $info.RedirectStandardOutput = $true
            $info.RedirectStandardError = $true
            $info.UseShellExecute = $false
            $info.Environment['TMPDIR'] = $Tmp
            $null = $info.Environment.Remove('TVM_VAULT_PATH')
            if ($Point) { $info.Environment['TVM_TEST_CRASH_POINT'] = $Point; $info.Environment['TVM_TEST_CRASH_READY'] = $ready }
            $process = [System.Diagnostics.Process]::Start($info)
            try {
                $stdout = $process.StandardOutput.ReadToEndAsync()
                $stderr = $process.StandardError.ReadToEndAsync()
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                while ($Point -and -not [IO.File]::Exists($ready) -and -not $process.HasExited -and $clock.Elapsed.TotalSeconds -lt 60) {
                    Start-Sleep -Milliseconds 50
                }
                $killed = $false
                if ($Point -and -not $process.HasExited) { $process.Kill($true); $killed = $true }
                $process.WaitForExit()
                [pscustomobject]@{ Killed = $killed; Output = @(($stdout.Result + "`n" + $stderr.Result) -split "`r?`n" | Where-Object { $_ -ne '' }) }
            } finally {
                if (-not $process.HasExited) { $process.Kill($true); $process.WaitForExit() }
                $process.Dispose()
            }
        }
        $script:Killed = Invoke-Child $ImportScript @((Get-TvmModulePath), $Keys.Public, $Keys.Private, $Vault) 'import'
        $script:Left = @(Get-ChildItem -LiteralPath $Tmp -Recurse -Force -File -Filter 'import-*.json')
        $script:PrivateBody = ((Get-Content -LiteralPath $Keys.Private) | Where-Object { $_ -notlike '-----*' }) -join ''
    }

    It 'is killed with the plaintext file in the module''s owner-only import folder, named for its process' {
        $Killed.Killed | Should -BeTrue -Because ($Killed.Output -join "`n")
        $Left.Count | Should -Be 1
        $Left[0].Directory.Name | Should -BeLike 'tvmkeys-import-*'
        $Left[0].Name | Should -Match '^import-\d+-.+\.json$'
        "$($Left[0].UnixMode)" | Should -Be '-rw-------'
        "$((Get-Item -LiteralPath $Left[0].DirectoryName -Force).UnixMode)" | Should -Be 'drwx------'
    }

    It 'is swept by the next command of the module, with a warning naming it' {
        $next = [IO.Path]::Combine($Case, 'next.ps1')
        Set-Content -LiteralPath $next -Encoding utf8 -Value @'
param([string] $ModulePath, [string] $Vault)
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force
New-TvmVaultKey -Name after -Type AES -Size 256 -VaultPath $Vault 3>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.WarningRecord]) { "WARN $($_.Message)" } }
'@
        $run = Invoke-Child $next @((Get-TvmModulePath), (Join-Path $Case 'vault2'))
        $warning = @($run.Output | Where-Object { $_ -like 'WARN Removed *' })
        $warning.Count | Should -Be 1 -Because ($run.Output -join "`n")
        $warning[0] | Should -BeLike "*$($Left[0].Name)*left by a run of Import-TvmWrappingKeyFromPem that was stopped*"
        [IO.File]::Exists($Left[0].FullName) | Should -BeFalse
        # Regular files only: the runtime's FIFOs in a temp folder would block a reader.
        $holding = @(Get-ChildItem -LiteralPath $Tmp -Recurse -Force -File | Where-Object { "$($_.UnixMode)" -like '-*' } | Where-Object {
                (Get-Content -LiteralPath $_.FullName -Raw -ErrorAction SilentlyContinue) -match [regex]::Escape($PrivateBody.Substring(0, 64).Replace('+', '-').Replace('/', '_'))
            })
        $holding | Should -BeNullOrEmpty -Because 'no file under the temp folder holds the private key any more'
    }
}
