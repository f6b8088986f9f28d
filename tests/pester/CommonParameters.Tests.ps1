# The common parameters on local vaults (-VaultPath): -WhatIf writes nothing and prints What if lines,
# -Confirm:$false runs without a prompt, $ErrorActionPreference / -ErrorAction / -ErrorVariable act on the
# per-key failure of Import-TVMKeys (KeyImportFailed) as on any non-terminating error, and $? tells a failed
# command from a good one. A backup with a damaged key file is refused as a whole (BackupDamaged) unless -Force:
# the per-key failure is that of Import-TVMKeys -Force, which restores the intact key files. New tests (no xunit class before them).
#
# -WhatIf and -Confirm run in a new pwsh (-NonInteractive, so a prompt is an error instead of a wait for input),
# because What if lines go to the host and cannot be captured in this process. Its TMPDIR is a folder inside the
# work folder, so a temporary file the engine writes there counts as a write too.
BeforeDiscovery {
    # The commands that write, each with a call on the fixture ($w, see New-Fixture), the What if lines it
    # prints with -WhatIf (regular expressions; {Field} is the fixture's path, escaped), the objects it writes with
    # -WhatIf (WhatIfObjects, none where not given) and with -Confirm:$false ("<type> <Name> <Outcome>"), and a check
    # (run with $w) that it wrote.
    $script:Writers = @(
        # A backup writes the key files of vault A and its manifest.json.
        @{ Command = 'Backup-TVMKeys'; Case = 'a backup of vault A into a backup root that does not exist yet'
            Script = 'Backup-TVMKeys -WrappingKeyPath $w.Public -BackupRootPath $w.NewBackupRoot -VaultPath $w.VaultA'
            WhatIf = @('^What if: Performing the operation "Back up the TVM vault keys into a new backup \d{14}" on target "{NewBackupRoot}"\.$')
            Objects = @('TvmBackup'); Wrote = '@(Get-ChildItem -Path $w.NewBackupRoot -Recurse -File).Count -eq 4' }
        @{ Command = 'Import-TVMKeys'; Case = 'a restore of the backup into vault B, which holds the wrapping key'
            Script = 'Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB'
            WhatIf = @(
                '^What if: Performing the operation "Back up the target vault before the restore" on target "{Root}[\\/]backups"\.$'
                '^What if: Performing the operation "Import key into the vault" on target "k1 \(AES 256\)"\.$'
                '^What if: Performing the operation "Import key into the vault" on target "k2 \(AES 256\)"\.$'
                '^What if: Performing the operation "Import key into the vault" on target "r1 \(RSA 2048\)"\.$'
            )
            WhatIfObjects = @('TvmKeyRestore k1 Skipped', 'TvmKeyRestore k2 Skipped', 'TvmKeyRestore r1 Skipped')
            Objects = @('TvmKeyRestore k1 Imported', 'TvmKeyRestore k2 Imported', 'TvmKeyRestore r1 Imported')
            Wrote = '(@(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) -join ",") -eq "k1,k2,r1,wrap"' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Case = 'a second wrapping key into vault B'
            Script = 'Import-TvmWrappingKeyFromPem -KeyName wrap2 -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -KeySize 2048 -VaultPath $w.VaultB'
            WhatIf = @('^What if: Performing the operation "Import the RSA key pair {Public} / {Private} into the vault as a wrapping key" on target "wrap2"\.$')
            Objects = @('TvmWrappingKey wrap2 Imported'); Wrote = 'Test-Path (Get-VaultKeyFile $w.VaultB wrap2)' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Case = 'a wrapping key into a vault folder that does not exist yet'
            Script = 'Import-TvmWrappingKeyFromPem -KeyName wrap -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -KeySize 2048 -VaultPath $w.NewVault'
            WhatIf = @('^What if: Performing the operation "Import the RSA key pair {Public} / {Private} into the vault as a wrapping key" on target "wrap"\.$')
            Objects = @('TvmWrappingKey wrap Imported'); Wrote = 'Test-Path (Get-VaultKeyFile $w.NewVault wrap)' }
        @{ Command = 'New-TvmImportJson'; Case = 'the import file of the key pair'
            Script = 'New-TvmImportJson -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -OutFilePath $w.ImportJson'
            WhatIf = @('^What if: Performing the operation "Write the import JSON \(NO_KEY_WRAP\) of the RSA key pair" on target "{ImportJson}"\.$')
            Objects = @(); Wrote = '(Get-Item $w.ImportJson).Length -gt 2000' }
        @{ Command = 'New-TvmVaultKey'; Case = 'a new key in vault A'
            Script = 'New-TvmVaultKey -Name k9 -Type AES -Size 256 -VaultPath $w.VaultA'
            WhatIf = @('^What if: Performing the operation "Create an? AES key of 256 bits in the vault" on target "k9"\.$')
            Objects = @('TvmKey k9'); Wrote = 'Test-Path (Get-VaultKeyFile $w.VaultA k9)' }
        @{ Command = 'New-TvmVaultKey'; Case = 'a new key into a vault folder that does not exist yet'
            Script = 'New-TvmVaultKey -Name k9 -Type RSA -Size 2048 -VaultPath $w.NewVault'
            WhatIf = @('^What if: Performing the operation "Create an? RSA key of 2048 bits in the vault" on target "k9"\.$')
            Objects = @('TvmKey k9'); Wrote = 'Test-Path (Get-VaultKeyFile $w.NewVault k9)' }
    )
    foreach ($writer in $Writers) { if (-not $writer.ContainsKey('WhatIfObjects')) { $writer.WhatIfObjects = @() } }

    # For $?: each command once failing (the ErrorId it fails with) and once succeeding, on the fixture.
    $script:Failures = @(
        @{ Command = 'Backup-TVMKeys'; Case = 'a wrapping key file that does not exist'; ErrorId = 'FileMissing'
            Script = 'Backup-TVMKeys -WrappingKeyPath (Join-Path $w.Root none.pem) -BackupRootPath $w.NewBackupRoot -VaultPath $w.VaultA' }
        @{ Command = 'Import-TVMKeys'; Case = 'a damaged key file, with -Force (a non-terminating error)'; ErrorId = 'KeyImportFailed'
            Script = 'Import-TVMKeys -BackupPath $w.DamagedBackup -WrappingKeyName wrap -VaultPath $w.VaultB -Force' }
        @{ Command = 'Import-TVMKeys'; Case = 'a damaged key file, without -Force (the backup refused as a whole)'; ErrorId = 'BackupDamaged'
            Script = 'Import-TVMKeys -BackupPath $w.DamagedBackup -WrappingKeyName wrap -VaultPath $w.VaultB' }
        @{ Command = 'Import-TVMKeys'; Case = 'a backup folder that does not exist'; ErrorId = 'BackupFolderMissing'
            Script = 'Import-TVMKeys -BackupPath (Join-Path $w.Root none) -WrappingKeyName wrap -VaultPath $w.VaultB' }
        @{ Command = 'Import-TVMKeys'; Case = 'a wrapping key that is not in the vault'; ErrorId = 'WrappingKeyMissing'
            Script = 'Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName other -VaultPath $w.VaultB' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Case = 'a -KeySize that is not the key''s size'; ErrorId = 'KeySizeMismatch'
            Script = 'Import-TvmWrappingKeyFromPem -KeyName wrap2 -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -KeySize 4096 -VaultPath $w.VaultB' }
        @{ Command = 'New-TvmImportJson'; Case = 'a public key file that does not exist'; ErrorId = 'FileMissing'
            Script = 'New-TvmImportJson -PublicKeyPath (Join-Path $w.Root none.pem) -PrivateKeyPath $w.Private -OutFilePath $w.ImportJson' }
        @{ Command = 'New-TvmVaultKey'; Case = 'an AES key of 128 bits'; ErrorId = 'InvalidKeySize'
            Script = 'New-TvmVaultKey -Name k9 -Type AES -Size 128 -VaultPath $w.VaultA' }
        @{ Command = 'New-TvmVaultKey'; Case = 'a name the vault holds'; ErrorId = 'KeyExists'
            Script = 'New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $w.VaultA' }
        @{ Command = 'Get-TvmVaultKey'; Case = 'a name the vault does not hold (a non-terminating error)'; ErrorId = 'KeyNotFound'
            Script = 'Get-TvmVaultKey -Name nosuch -VaultPath $w.VaultA' }
        @{ Command = 'Get-TvmVaultKey'; Case = 'a vault folder that does not exist'; ErrorId = 'VaultMissing'
            Script = 'Get-TvmVaultKey -VaultPath $w.NewVault' }
    )
    $script:Successes = @(
        @{ Command = 'Backup-TVMKeys'; Script = 'Backup-TVMKeys -WrappingKeyPath $w.Public -BackupRootPath $w.NewBackupRoot -VaultPath $w.VaultA' }
        @{ Command = 'Import-TVMKeys'; Script = 'Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB' }
        @{ Command = 'Import-TvmWrappingKeyFromPem'; Script = 'Import-TvmWrappingKeyFromPem -KeyName wrap2 -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -KeySize 2048 -VaultPath $w.VaultB' }
        @{ Command = 'New-TvmImportJson'; Script = 'New-TvmImportJson -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -OutFilePath $w.ImportJson' }
        @{ Command = 'New-TvmVaultKey'; Script = 'New-TvmVaultKey -Name k9 -Type AES -Size 256 -VaultPath $w.VaultA' }
        @{ Command = 'Get-TvmVaultKey'; Script = 'Get-TvmVaultKey -Name k1 -VaultPath $w.VaultA' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    # A work folder with: vault A (AES k1, k2; RSA-2048 r1), the wrapping key pair of tests/vectors, a backup of
    # vault A, a copy of it whose k2 file is damaged, vault B holding the wrapping key 'wrap', an empty tmp folder
    # (the child pwsh's TMPDIR), and the names of things that do not exist yet. Writes the paths as JSON beside the
    # work folder (not in it) for the child pwsh. Returns them.
    function New-Fixture {
        $root = New-TestFolder work
        $w = [ordered]@{
            Root = $root
            VaultA = Join-Path $root 'vault-a'
            VaultB = Join-Path $root 'vault-b'
            NewVault = Join-Path $root 'vault-new'
            NewBackupRoot = Join-Path $root 'backups-new'
            ImportJson = Join-Path $root 'import.json'
            Tmp = Join-Path $root 'tmp'
        }
        $pair = Copy-VectorKeyPair -Folder (Join-Path $root 'keys')
        $w.Public = $pair.Public
        $w.Private = $pair.Private
        $null = New-Item -ItemType Directory -Path $w.Tmp
        $null = New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $w.VaultA
        $null = New-TvmVaultKey -Name k2 -Type AES -Size 256 -VaultPath $w.VaultA
        $null = New-TvmVaultKey -Name r1 -Type RSA -Size 2048 -VaultPath $w.VaultA
        $w.Backup = (Backup-TVMKeys -WrappingKeyPath $w.Public -BackupRootPath (Join-Path $root 'backups') -VaultPath $w.VaultA 6>$null).Path
        $damagedRoot = Join-Path $root 'backups-damaged'
        $null = New-Item -ItemType Directory -Path $damagedRoot
        Copy-Item -LiteralPath $w.Backup -Destination $damagedRoot -Recurse
        $w.DamagedBackup = Join-Path $damagedRoot (Split-Path $w.Backup -Leaf)
        [IO.File]::WriteAllText((Join-Path $w.DamagedBackup 'AES/k2_256.json'), '{"public-key":"","private-key":')
        $null = Import-TvmWrappingKeyFromPem -KeyName wrap -PublicKeyPath $w.Public -PrivateKeyPath $w.Private -KeySize 2048 -VaultPath $w.VaultB 6>$null
        $w.FixtureFile = Join-Path (Split-Path $root) "fixture-$(Split-Path $root -Leaf).json"
        [pscustomobject]$w | ConvertTo-Json | Set-Content -LiteralPath $w.FixtureFile
        [pscustomobject]$w
    }

    # Every folder and every file under -Root (hidden ones too): relative path, and for a file its length and
    # SHA-256; with the last write time of each, so a file written back unchanged, or a file created and removed
    # in a folder (which changes the folder's time), also shows. Not the time of the tmp folder itself: the child
    # pwsh's runtime makes and removes its own pipes there (clr-debug-pipe-*, dotnet-diagnostic-*, CoreFxPipe_*);
    # Watch-Folder sees the files made and removed there.
    function Get-FolderState([string] $Root) {
        $tmp = Join-Path $Root 'tmp'
        $rootItem = Get-Item -LiteralPath $Root -Force
        "folder . $($rootItem.LastWriteTimeUtc.Ticks)"
        foreach ($item in Get-ChildItem -LiteralPath $Root -Recurse -Force | Sort-Object FullName) {
            $relative = [IO.Path]::GetRelativePath($Root, $item.FullName)
            if ($item.FullName -eq $tmp) {
                "folder $relative"
            } elseif ($item.PSIsContainer) {
                "folder $relative $($item.LastWriteTimeUtc.Ticks)"
            } else {
                "file $relative $($item.Length) $((Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256).Hash) $($item.LastWriteTimeUtc.Ticks)"
            }
        }
    }

    # Runs -Action while a FileSystemWatcher records every change under -Root (created, changed, renamed or
    # deleted, in any folder). Returns Result (what -Action returned) and Changes ("<change> <relative path>" of
    # each, less the child pwsh runtime's own pipes in tmp). Catches what the states before and after cannot: a
    # file written and removed again.
    function Watch-Folder([string] $Root, [scriptblock] $Action) {
        $watcher = [IO.FileSystemWatcher]::new($Root)
        $watcher.IncludeSubdirectories = $true
        $watcher.NotifyFilter = [IO.NotifyFilters]'FileName, DirectoryName, LastWrite, Size, Attributes, CreationTime, Security'
        $id = "watch-$([guid]::NewGuid().ToString('N'))"
        $null = foreach ($name in 'Created', 'Changed', 'Deleted', 'Renamed') {
            Register-ObjectEvent -InputObject $watcher -EventName $name -SourceIdentifier "$id-$name"
        }
        $watcher.EnableRaisingEvents = $true
        try {
            $result = & $Action
            Start-Sleep -Milliseconds 300 # let the last notifications arrive
        } finally {
            $watcher.EnableRaisingEvents = $false
            $seen = @(foreach ($name in 'Created', 'Changed', 'Deleted', 'Renamed') {
                    Get-Event -SourceIdentifier "$id-$name" -ErrorAction SilentlyContinue
                    Remove-Event -SourceIdentifier "$id-$name" -ErrorAction SilentlyContinue
                    Unregister-Event -SourceIdentifier "$id-$name" -ErrorAction SilentlyContinue
                })
            $watcher.Dispose()
        }
        $runtime = '^tmp[\\/](clr-debug-pipe-|dotnet-diagnostic-|CoreFxPipe_)'
        $changes = @(foreach ($e in $seen) {
                $relative = [IO.Path]::GetRelativePath($Root, $e.SourceEventArgs.FullPath)
                if ($relative -notmatch $runtime) { "$($e.SourceEventArgs.ChangeType) $relative" }
            })
        [pscustomobject]@{ Result = $result; Changes = $changes }
    }

    # What changed between two Get-FolderState lists: '<= <entry>' gone or changed, '=> <entry>' new or changed.
    function Compare-FolderState([string[]] $Before, [string[]] $After) {
        @(Compare-Object $Before $After | ForEach-Object { "$($_.SideIndicator) $($_.InputObject)" })
    }

    # Runs -Script (a call on the fixture $w) in a new pwsh with TMPDIR in the work folder, as a runbook's statements
    # (Invoke-InNewPwsh -Raw); -ConfirmLevel sets $ConfirmPreference there first. The child stops at the first error
    # (exit code 1). Returns Invoke-Pwsh's result plus WhatIf (the What if lines) and Objects ("<type> <Name>
    # <Outcome>" of each output object).
    function Invoke-OnFixture($Fixture, [string] $Script, [string] $ConfirmLevel = '') {
        $body = @'
$ErrorActionPreference = 'Stop'
$w = Get-Content -Raw -LiteralPath $FixtureFile | ConvertFrom-Json
if ($ConfirmLevel) { $ConfirmPreference = $ConfirmLevel }
& ([scriptblock]::Create($Script)) | ForEach-Object { "OBJECT $($_.GetType().Name) $($_.Name) $($_.Outcome)".TrimEnd() }
'@
        $run = Invoke-InNewPwsh -Raw -Body $body -Variables @{ FixtureFile = $Fixture.FixtureFile; Script = $Script; ConfirmLevel = $ConfirmLevel } `
            -Environment @{ TMPDIR = $Fixture.Tmp }
        $run | Add-Member -NotePropertyName WhatIf -NotePropertyValue @($run.Output | Where-Object { $_ -like 'What if:*' })
        $run | Add-Member -NotePropertyName Objects -NotePropertyValue @($run.Output | Where-Object { $_ -like 'OBJECT *' } | ForEach-Object { $_.Substring(7) })
        $run
    }

    # Invoke-OnFixture of -Script on a new fixture, watched (Watch-Folder); returns the fixture, the run, the changes
    # seen under the work folder, and Get-FolderState of it before and after, in that order.
    function Invoke-WatchedOnFixture([string] $Script) {
        $fixture = New-Fixture
        $before = @(Get-FolderState $fixture.Root)
        $watch = Watch-Folder $fixture.Root { Invoke-OnFixture $fixture $Script }
        $fixture, $watch.Result, $watch.Changes, $before, @(Get-FolderState $fixture.Root)
    }

    # A row's What if patterns with {Field} replaced by the fixture's path, escaped.
    function Expand-Pattern([string] $Pattern, $Fixture) {
        [regex]::Replace($Pattern, '\{([A-Za-z]\w*)\}', { param($m) [regex]::Escape([string]$Fixture.($m.Groups[1].Value)) })
    }
}

Describe '-WhatIf on <Command>: <Case>' -ForEach $Writers {
    BeforeAll { $w, $run, $changes, $before, $after = Invoke-WatchedOnFixture "$Script -WhatIf" }

    It 'runs without an error' {
        $run.StdErr | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
    }

    It 'writes nothing anywhere under the work folder, temporary folder included' {
        $before.Count | Should -BeGreaterThan 20 -Because 'the fixture has vaults, backups and keys to look at'
        Compare-FolderState $before $after | Should -BeNullOrEmpty
        $changes | Should -BeNullOrEmpty -Because 'no file or folder was made, changed or removed there, not even for a moment'
    }

    It 'prints the What if line of each write it would make' {
        $run.WhatIf.Count | Should -Be $WhatIf.Count -Because ($run.Output -join "`n")
        for ($i = 0; $i -lt $WhatIf.Count; $i++) {
            $run.WhatIf[$i] | Should -Match (Expand-Pattern $WhatIf[$i] $w)
        }
    }

    It 'writes the objects of what it would do, and no others' {
        $run.Objects | Should -Be $WhatIfObjects
    }
}

Describe '-Confirm:$false on <Command>: <Case>' -ForEach $Writers {
    BeforeAll {
        $w = New-Fixture
        # $ConfirmPreference = 'Low' would make every ShouldProcess ask; the non-interactive child would fail then.
        $run = Invoke-OnFixture $w "$Script -Confirm:`$false" -ConfirmLevel Low
    }

    It 'runs to the end without a prompt, even with $ConfirmPreference = ''Low''' {
        $run.StdErr | Should -BeNullOrEmpty
        $run.Output | Should -Not -Match 'NonInteractive|Confirm|Are you sure'
        $run.ExitCode | Should -Be 0
        $run.WhatIf | Should -BeNullOrEmpty
    }

    It 'writes what the command writes' {
        $run.Objects | Should -Be $Objects
        & ([scriptblock]::Create($Wrote)) | Should -BeTrue -Because $Wrote
    }
}

Describe '-Confirm on <Command>: <Case>, in a host that cannot prompt' -ForEach $Writers {
    # The control for -Confirm:$false: the same call with -Confirm does ask, so the test above shows something.
    BeforeAll { $w, $run, $changes, $before, $after = Invoke-WatchedOnFixture "$Script -Confirm" }

    It 'asks for confirmation, which the non-interactive host refuses, and stops' {
        $run.ExitCode | Should -Be 1
        $run.StdErr | Should -Match 'NonInteractive'
    }

    It 'writes nothing under the work folder' {
        Compare-FolderState $before $after | Should -BeNullOrEmpty
        $changes | Should -BeNullOrEmpty
    }
}

Describe 'Error preferences on the KeyImportFailed of a damaged key file' {
    # Import-TVMKeys refuses a damaged backup as a whole (BackupDamaged) without -Force; every call here has -Force,
    # so that the damaged key file fails alone, with the non-terminating KeyImportFailed these tests are about.
    BeforeEach {
        $w = New-Fixture
        Copy-Item -LiteralPath (Join-Path $w.DamagedBackup 'AES/k2_256.json') -Destination (Join-Path $w.Backup 'AES/k2_256.json') -Force
        # k1, k2 (damaged) and r1, in that order: the restore meets the damaged file second.
        $damaged = Join-Path $w.Backup 'AES/k2_256.json'
    }

    It 'is by default a non-terminating error: the restore goes on, and writes a Failed result for the key' {
        $ErrorActionPreference = 'Continue'
        $all = @(Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -Force 2>&1 3>&1 6>$null)
        $ok = $?
        $ok | Should -BeFalse
        $errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'KeyImportFailed,*'
        # -Force: each finding of the check on the backup is a warning naming the damaged file, not an error.
        $warnings = @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message)
        $warnings.Count | Should -BeGreaterOrEqual 1
        foreach ($warning in $warnings) {
            $warning | Should -BeLike "The backup $($w.Backup) is damaged at AES/k2_256.json: *Only intact key files are restored (-Force)."
        }
        @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] } | ForEach-Object { "$($_.Name) $($_.Outcome)" }) |
            Should -Be @('k1 Imported', 'k2 Failed', 'r1 Imported')
        @(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) | Should -Be @('k1', 'r1', 'wrap')
    }

    It '$ErrorActionPreference = ''Stop'' makes it a terminating error that stops the restore at the damaged key' {
        $ErrorActionPreference = 'Stop'
        $out = [System.Collections.Generic.List[object]]::new()
        $caught = $null
        try {
            Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -Force 6>$null 3>$null | ForEach-Object { $out.Add($_) }
        } catch {
            $caught = $_
        }
        $caught | Should -Not -BeNullOrEmpty -Because 'the error is thrown'
        $caught.FullyQualifiedErrorId | Should -BeLike 'KeyImportFailed,*'
        $caught.CategoryInfo.Category | Should -Be 'InvalidData'
        $caught.TargetObject | Should -Be 'k2'
        $caught.Exception.Message | Should -BeLike "Error Importing Key: *$damaged*"
        @($out | ForEach-Object { "$($_.Name) $($_.Outcome)" }) | Should -Be @('k1 Imported', 'k2 Failed')
        @(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) | Should -Be @('k1', 'wrap') -Because 'r1, after the damaged key, was not imported'
    }

    It '-ErrorAction Stop makes it a terminating error that stops the restore at the damaged key' {
        $ErrorActionPreference = 'Continue'
        $caught = Get-TerminatingError { Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -Force -ErrorAction Stop 6>$null 3>$null }
        $caught | Should -Not -BeNullOrEmpty -Because 'the error is thrown'
        $caught.FullyQualifiedErrorId | Should -BeLike 'KeyImportFailed,*'
        $caught.TargetObject | Should -Be 'k2'
        @(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) | Should -Be @('k1', 'wrap')
    }

    It '-ErrorAction SilentlyContinue hides it, -ErrorVariable still holds it, and the restore goes on' {
        $ErrorActionPreference = 'Continue'
        $all = @(Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -Force -ErrorAction SilentlyContinue -ErrorVariable failures 2>&1 6>$null 3>$null)
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty -Because 'nothing reaches the error stream'
        @($all | ForEach-Object { "$($_.Name) $($_.Outcome)" }) | Should -Be @('k1 Imported', 'k2 Failed', 'r1 Imported')
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'KeyImportFailed,*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $failures[0].TargetObject | Should -Be 'k2'
        $failures[0].Exception.Message | Should -BeLike "Error Importing Key: *$damaged*"
    }

    It '$ErrorActionPreference = ''SilentlyContinue'' hides it too, and -ErrorVariable holds it' {
        $ErrorActionPreference = 'SilentlyContinue'
        $all = @(Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -Force -ErrorVariable failures 2>&1 6>$null 3>$null)
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'KeyImportFailed,*'
    }

    It 'without -Force, the backup is refused as a whole with a terminating BackupDamaged that -ErrorAction SilentlyContinue does not hide' {
        $ErrorActionPreference = 'Continue'
        $caught = Get-TerminatingError { Import-TVMKeys -BackupPath $w.Backup -WrappingKeyName wrap -VaultPath $w.VaultB -ErrorAction SilentlyContinue 6>$null 3>$null }
        $caught | Should -Not -BeNullOrEmpty -Because 'a terminating error is thrown whatever -ErrorAction says'
        $caught.FullyQualifiedErrorId | Should -BeLike 'BackupDamaged,*'
        $caught.CategoryInfo.Category | Should -Be 'InvalidData'
        $caught.Exception.Message | Should -BeLike "Nothing was imported: the backup $($w.Backup) is damaged *AES/k2_256.json*-Force*"
        @(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) | Should -Be @('wrap') -Because 'nothing was imported'
    }
}

Describe '$? after a command, in a script run by pwsh -File' -ForEach @(@{ Failures = $Failures; Successes = $Successes }) {
    # In a new pwsh, as a runbook runs: inside Pester's own try/catch, a terminating error would be caught
    # instead of ending only its statement, and $? would not be reached. Each row gets a fixture of its own.
    BeforeAll {
        $rows = @(@($Failures) + @($Successes) | ForEach-Object { @{ Script = $_.Script; FixtureFile = (New-Fixture).FixtureFile } })
        $rowsFile = Join-Path $TestDrive 'status-rows.json'
        ConvertTo-Json -InputObject $rows -Depth 3 | Set-Content -LiteralPath $rowsFile
        $run = Invoke-InNewPwsh -Raw -Variables @{ RowsFile = $rowsFile } -Body @'
# -ErrorVariable holds the ErrorRecord of a non-terminating error, and the exception (whose ErrorRecord it is) of
# a terminating one.
foreach ($row in @(Get-Content -Raw -LiteralPath $RowsFile | ConvertFrom-Json)) {
    $w = Get-Content -Raw -LiteralPath $row.FixtureFile | ConvertFrom-Json
    $call = "$($row.Script) -ErrorVariable failure -ErrorAction SilentlyContinue *> `$null`n" +
        '$ok = $?' + "`n" +
        '"STATUS $ok " + (@($failure | ForEach-Object { $_.ErrorRecord ?? $_ } | ForEach-Object { $_.FullyQualifiedErrorId.Split(",")[0] }) -join ",")'
    & ([scriptblock]::Create($call)) 2> $null
}
'@
        $lines = @($run.Output | Where-Object { $_ -like 'STATUS *' })
        $status = @{}
        for ($i = 0; $i -lt $lines.Count; $i++) {
            $fields = $lines[$i].Split(' ', 3)
            $status[$rows[$i].Script] = [pscustomobject]@{ Succeeded = $fields[1] -eq 'True'; ErrorIds = @($fields[2].Split(',', [StringSplitOptions]::RemoveEmptyEntries)) }
        }
    }

    It 'reports every call' {
        $run.ExitCode | Should -Be 0
        $lines.Count | Should -Be $rows.Count -Because ($run.Output -join "`n")
    }

    It 'is $false after <Command> fails with <ErrorId>: <Case>' -ForEach $Failures {
        $result = $status[$Script]
        $result.Succeeded | Should -BeFalse
        $result.ErrorIds | Should -Be @($ErrorId)
    }

    It 'is $true after <Command> succeeds' -ForEach $Successes {
        $result = $status[$Script]
        $result.ErrorIds | Should -BeNullOrEmpty
        $result.Succeeded | Should -BeTrue
    }
}
