# Retention: Remove-TVMKeyBackup on a root of several backups. -KeepLast N keeps the newest N Complete or Legacy
# backups and everything newer than the oldest of them; -OlderThan (days, or a TimeSpan) removes only older ones; the
# two combine (both must hold); -WhatIf changes nothing and says what would go; the newest Complete-or-Legacy backup
# is never removed without -Force (a warning instead); partial folders older than a day go with any rule, younger
# ones are kept (a warning); links are never listed, followed or removed; a piped path that is not a backup of its
# parent root is NotInBackupRoot; ConfirmImpact is High, so every call here passes -Confirm:$false.
#
# The root is built quickly: two real backups (Backup-TVMKeys, a second apart) and, for the old ones, legacy copies
# of the first (manifest.json removed: the original's backups have none, and so no timestamp to check) named for
# 40, 200 and 400 days ago. Each test works on its own copy of that root.
# Under Wine (build.ps1 WindowsTest) the link tests are skipped: making a symbolic link on Windows needs a privilege
# or developer mode, and Wine's links are Unix links under the emulated drive, not NTFS reparse points, so they would
# not show what Windows does.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:UnderWine = Test-UnderWine
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath
    $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
    $script:Source = New-TestFolder vault
    $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $Source
    $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $Source

    function Get-Stamp([datetime] $Time) { $Time.ToString('yyyyMMddHHmmss', [Globalization.CultureInfo]::InvariantCulture) }

    # A real backup into -Root, in a second after -After (Backup-TVMKeys refuses a second backup in the same second).
    function New-RealBackup([string] $Root, [string] $After = '') {
        while ((Get-Stamp (Get-Date)) -le $After) { Start-Sleep -Milliseconds 100 }
        Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $Root -VaultPath $Source 3>$null 6>$null)
    }

    # The template root: C1 and C2 (Complete, C2 the newest) and Old40, Old200, Old400 (Legacy, that many days old).
    $script:Template = New-TestFolder template
    $c1 = New-RealBackup $Template
    $c2 = New-RealBackup $Template -After (Get-Stamp $c1.Timestamp)
    $now = Get-Date
    $script:Stamps = [ordered]@{
        C2 = Get-Stamp $c2.Timestamp
        C1 = Get-Stamp $c1.Timestamp
        Old40 = Get-Stamp $now.AddDays(-40)
        Old200 = Get-Stamp $now.AddDays(-200)
        Old400 = Get-Stamp $now.AddDays(-400)
    }
    foreach ($name in 'Old40', 'Old200', 'Old400') {
        $legacy = [IO.Path]::Combine($Template, $Stamps[$name])
        Copy-Item -LiteralPath $c1.Path -Destination $legacy -Recurse
        Remove-Item -LiteralPath ([IO.Path]::Combine($legacy, 'manifest.json'))
    }

    # A new copy of the template root (its folder under $TestDrive). Returns Root, a path per backup (C2, C1, Old40,
    # Old200, Old400) and Stamps.
    function New-Root {
        $root = New-TestFolder root
        foreach ($item in Get-ChildItem -LiteralPath $Template -Force) { Copy-Item -LiteralPath $item.FullName -Destination $root -Recurse -Force }
        $f = [ordered]@{ Root = $root; Stamps = $Stamps }
        foreach ($name in $Stamps.Keys) { $f[$name] = [IO.Path]::Combine($root, $Stamps[$name]) }
        [pscustomobject]$f
    }

    # A folder -Name in -Root holding a copy of the legacy backup Old40 (AES/, RSA/): a partial folder as a killed run
    # leaves it, a backup to damage, or a backup outside the root. Returns its path.
    function Add-BackupCopy([string] $Root, [string] $Name) {
        $path = [IO.Path]::Combine($Root, $Name)
        Copy-Item -LiteralPath ([IO.Path]::Combine($Template, $Stamps.Old40)) -Destination $path -Recurse
        $path
    }

    # A copy of the Complete backup C1, manifest and all, named -Name in -Root: Damaged, as a manifest's timestamp is
    # its folder's name (Get-TVMKeyBackup's quick check reads no key file, so a broken key file would not show).
    function Add-DamagedCopy([string] $Root, [string] $Name) {
        $path = [IO.Path]::Combine($Root, $Name)
        Copy-Item -LiteralPath ([IO.Path]::Combine($Template, $Stamps.C1)) -Destination $path -Recurse
        $path
    }

    # Every entry under -Path, without following links: "D <relative path>", "F <relative path> <SHA-256>" and
    # "L <relative path> -> <target>", in ordinal order. Two equal states: nothing was created, removed or changed.
    function Get-TreeState([string] $Path) {
        $full = [IO.Path]::GetFullPath($Path)
        $lines = [System.Collections.Generic.List[string]]::new()
        $walk = {
            param([IO.DirectoryInfo] $Folder)
            foreach ($e in $Folder.EnumerateFileSystemInfos()) {
                $relative = [IO.Path]::GetRelativePath($full, $e.FullName).Replace('\', '/')
                if ($null -ne $e.LinkTarget) {
                    $lines.Add("L $relative -> $($e.LinkTarget)")
                } elseif ($e -is [IO.DirectoryInfo]) {
                    $lines.Add("D $relative")
                    & $walk $e
                } else {
                    $lines.Add("F $relative $((Get-FileHash -LiteralPath $e.FullName -Algorithm SHA256).Hash)")
                }
            }
        }
        & $walk ([IO.DirectoryInfo]::new($full))
        Get-ListText $lines.ToArray()
    }

    # -Values as one text to compare: sorted (ordinal), one a line ("" for none; Should compares texts reliably, and an
    # empty list is an empty text, not an empty pipeline).
    function Get-ListText([object[]] $Values) {
        (Get-OrdinalSorted @($Values | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })) -join "`n"
    }

    # The names of the entries of -Root, as Get-ListText.
    function Get-RootNames([string] $Root) { Get-ListText @(Get-ChildItem -LiteralPath $Root -Force | ForEach-Object Name) }

    # The stamps of -Names (keys of Stamps).
    function Get-StampsOf([string[]] $Names) { @($Names | ForEach-Object { $Stamps[$_] }) }

    # The one error of a captured run, terminating or not, required to be -ErrorId of a TvmBackupUtils command, of
    # -Category.
    function Assert-TvmError($Run, [string] $ErrorId, [System.Management.Automation.ErrorCategory] $Category) {
        $all = @(@($Run.Errors) + @($Run.Terminating) | Where-Object { $null -ne $_ })
        $all | Should -HaveCount 1 -Because (Format-Captured $Run)
        "$($all[0].FullyQualifiedErrorId)".Split(',')[0] | Should -BeExactly $ErrorId -Because (Format-Captured $Run)
        $all[0].FullyQualifiedErrorId | Should -BeLikeExactly "$ErrorId,TvmBackupUtils.*"
        $all[0].CategoryInfo.Category | Should -Be $Category
        $all[0]
    }

    # The paths of the TvmBackupInfo objects of a captured run's output (-PassThru: what was removed).
    function Get-PassThruPaths($Run) { @(Get-OfType $Run.Output TvmBackupInfo | ForEach-Object Path) }

    # The same, as Get-ListText.
    function Get-PassThruText($Run) { Get-ListText (Get-PassThruPaths $Run) }
}

AfterAll { Restore-TvmVaultPath }

Describe 'The test root' {
    It 'lists C2, C1 (Complete) and Old40, Old200, Old400 (Legacy), newest first' {
        $f = New-Root
        $listed = @(Get-TVMKeyBackup -BackupRootPath $f.Root)
        @($listed | ForEach-Object { "$([IO.Path]::GetFileName($_.Path)) $($_.Status)" }) | Should -BeExactly @(
            "$($Stamps.C2) Complete", "$($Stamps.C1) Complete", "$($Stamps.Old40) Legacy", "$($Stamps.Old200) Legacy", "$($Stamps.Old400) Legacy")
        (Get-TVMKeyBackup -BackupRootPath $f.Root -Latest).Path | Should -Be $f.C2
    }
}

Describe 'Remove-TVMKeyBackup is a high-impact command' {
    It 'declares SupportsShouldProcess and ConfirmImpact High' {
        $command = Get-Command Remove-TVMKeyBackup
        $attribute = $command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)
        @($attribute) | Should -HaveCount 1
        $attribute[0].SupportsShouldProcess | Should -BeTrue
        $attribute[0].ConfirmImpact | Should -Be ([System.Management.Automation.ConfirmImpact]::High)
        $metadata = [System.Management.Automation.CommandMetadata]::new($command)
        $metadata.ConfirmImpact | Should -Be ([System.Management.Automation.ConfirmImpact]::High)
        $command.Parameters.Keys | Should -Contain 'WhatIf'
        $command.Parameters.Keys | Should -Contain 'Confirm'
    }

    It 'asks before removing at the default $ConfirmPreference (High): a host that cannot prompt refuses, and nothing goes' {
        $f = New-Root
        $before = Get-TreeState $f.Root
        $run = Invoke-InNewPwsh -Raw -Body '$ErrorActionPreference = ''Stop''; Remove-TVMKeyBackup -BackupRootPath $root -KeepLast 2' -Variables @{ root = $f.Root }
        $run.ExitCode | Should -Be 1 -Because ($run.Output -join "`n")
        $run.StdErr | Should -Match 'NonInteractive'
        Get-TreeState $f.Root | Should -BeExactly $before
    }
}

Describe '-WhatIf' {
    # In a new pwsh: the What if lines go to the host, which only a process's output captures.
    It '-KeepLast 2 -WhatIf changes nothing on disk and says exactly which backups would go' {
        $f = New-Root
        $before = Get-TreeState $f.Root
        $body = 'Remove-TVMKeyBackup -BackupRootPath $root -KeepLast 2 -WhatIf -PassThru | ForEach-Object { "OBJECT $($_.Path)" }'
        $run = Invoke-InNewPwsh -Raw -Body $body -Variables @{ root = $f.Root }
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        Get-TreeState $f.Root | Should -BeExactly $before
        $whatIf = @($run.Output | Where-Object { $_ -like 'What if:*' })
        $targets = foreach ($line in $whatIf) {
            $line -match '^What if: Performing the operation "Remove backup \(Legacy, 2 keys, (\d{14})\)" on target "(.+)"\.$' | Should -BeTrue -Because $line
            $Matches[2] | Should -BeExactly ([IO.Path]::Combine($f.Root, $Matches[1]))
            $Matches[2]
        }
        Get-ListText $targets | Should -BeExactly (Get-ListText @($f.Old40, $f.Old200, $f.Old400)) -Because ($run.Output -join "`n")
        @($run.Output | Where-Object { $_ -like 'OBJECT *' }) | Should -BeNullOrEmpty -Because '-PassThru lists what was removed: nothing'
    }
}

Describe '-KeepLast' {
    It '-KeepLast 2 removes exactly the older backups and -PassThru returns them' {
        $f = New-Root
        $kept = @{ C2 = Get-TreeState $f.C2; C1 = Get-TreeState $f.C1 }
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 2 -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $run.Warnings | Should -BeNullOrEmpty
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.Old40, $f.Old200, $f.Old400))
        @(Get-OfType $run.Output TvmBackupInfo | ForEach-Object { "$($_.Status)" } | Sort-Object -Unique) | Should -BeExactly @('Legacy')
        Get-RootNames $f.Root | Should -BeExactly (Get-ListText (Get-StampsOf C1, C2))
        Get-TreeState $f.C2 | Should -BeExactly $kept.C2
        Get-TreeState $f.C1 | Should -BeExactly $kept.C1
    }

    It '-KeepLast <N> removes <Expected>' -ForEach @(
        @{ N = 1; Removed = @('C1', 'Old40', 'Old200', 'Old400'); Expected = 'all but the newest' }
        @{ N = 4; Removed = @('Old400'); Expected = 'only the oldest' }
        @{ N = 5; Removed = @(); Expected = 'nothing (as many backups as there are)' }
        @{ N = 10; Removed = @(); Expected = 'nothing (more than there are)' }
    ) {
        $f = New-Root
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast $N -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $gone = @(Get-StampsOf $Removed)
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($gone | ForEach-Object { [IO.Path]::Combine($f.Root, $_) }))
        Get-RootNames $f.Root | Should -BeExactly (Get-ListText @($Stamps.Values | Where-Object { $_ -notin $gone }))
    }

    It 'keeps a damaged backup newer than the oldest kept one, and removes a damaged one older than that' {
        $f = New-Root
        # Damaged backups, not counted by -KeepLast.
        $newer = Add-DamagedCopy $f.Root (Get-Stamp (Get-Date).AddDays(-20))
        $older = Add-DamagedCopy $f.Root (Get-Stamp (Get-Date).AddDays(-100))
        $listed = @(Get-TVMKeyBackup -BackupRootPath $f.Root)
        @($listed | Where-Object { "$($_.Status)" -eq 'Damaged' } | ForEach-Object Path | Sort-Object) | Should -Be @(@($newer, $older) | Sort-Object)
        # The newest 3 Complete or Legacy: C2, C1, Old40 (-40 days); the damaged one at -20 days is newer than Old40.
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 3 -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($older, $f.Old200, $f.Old400))
        $newer | Should -Exist
        $older | Should -Not -Exist
    }

    It '-KeepLast 0 without -Force is refused (NothingSelected) and removes nothing' {
        $f = New-Root
        $before = Get-TreeState $f.Root
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 0 -Confirm:$false -PassThru }
        $e = Assert-TvmError $run NothingSelected InvalidArgument
        Get-ErrorText $e | Should -Match 'KeepLast'
        @(Get-OfType $run.Output TvmBackupInfo) | Should -BeNullOrEmpty
        Get-TreeState $f.Root | Should -BeExactly $before
    }

    It '-KeepLast 0 -Force removes every backup, the newest complete one too' {
        $f = New-Root
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 0 -Force -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.C2, $f.C1, $f.Old40, $f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeNullOrEmpty
    }

    It 'without -KeepLast, -OlderThan or a piped backup is refused (NothingSelected) and removes nothing' {
        $f = New-Root
        $before = Get-TreeState $f.Root
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -Confirm:$false }
        $null = Assert-TvmError $run NothingSelected InvalidArgument
        Get-TreeState $f.Root | Should -BeExactly $before
    }
}

Describe '-OlderThan' {
    It '-OlderThan <Given> removes <Expected>' -ForEach @(
        @{ Given = '100 (days, a number)'; Age = { 100 }; Removed = @('Old200', 'Old400'); Expected = 'the backups of 200 and 400 days ago' }
        @{ Given = '0.5 (days, a fraction)'; Age = { 0.5 }; Removed = @('Old40', 'Old200', 'Old400'); Expected = 'every legacy one, not the backups of today' }
        @{ Given = '(New-TimeSpan -Days 300)'; Age = { New-TimeSpan -Days 300 }; Removed = @('Old400'); Expected = 'only the backup of 400 days ago' }
        @{ Given = '[TimeSpan]''30.00:00:00'''; Age = { [TimeSpan]'30.00:00:00' }; Removed = @('Old40', 'Old200', 'Old400'); Expected = 'the backups older than 30 days' }
        @{ Given = '1000 (days)'; Age = { 1000 }; Removed = @(); Expected = 'nothing' }
    ) {
        $f = New-Root
        $olderThan = & $Age
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -OlderThan $olderThan -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $gone = @(Get-StampsOf $Removed)
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($gone | ForEach-Object { [IO.Path]::Combine($f.Root, $_) }))
        Get-RootNames $f.Root | Should -BeExactly (Get-ListText @($Stamps.Values | Where-Object { $_ -notin $gone }))
    }

    It '-OlderThan <Age> -KeepLast <N> removes only what both select: <Expected>' -ForEach @(
        # -KeepLast 4 alone: Old400; -OlderThan 30 alone: Old40, Old200, Old400.
        @{ Age = 30; N = 4; Removed = @('Old400'); Expected = 'the backup of 400 days ago' }
        # -KeepLast 1 alone: all but C2; -OlderThan 300 alone: Old400.
        @{ Age = 300; N = 1; Removed = @('Old400'); Expected = 'the backup of 400 days ago' }
        # -KeepLast 2 alone: the three legacy ones; -OlderThan 100 alone: Old200, Old400.
        @{ Age = 100; N = 2; Removed = @('Old200', 'Old400'); Expected = 'the backups of 200 and 400 days ago' }
    ) {
        $f = New-Root
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -OlderThan $Age -KeepLast $N -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $gone = @(Get-StampsOf $Removed)
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($gone | ForEach-Object { [IO.Path]::Combine($f.Root, $_) }))
        Get-RootNames $f.Root | Should -BeExactly (Get-ListText @($Stamps.Values | Where-Object { $_ -notin $gone }))
    }
}

Describe 'The newest complete backup' {
    It 'survives -OlderThan 0 without -Force, with a warning that names it; the others go' {
        $f = New-Root
        $kept = Get-TreeState $f.C2
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -OlderThan 0 -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.C1, $f.Old40, $f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeExactly $Stamps.C2
        Get-TreeState $f.C2 | Should -BeExactly $kept
        @($run.Warnings) | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike "*$($f.C2)*newest complete backup*-Force*"
    }

    It 'survives a piped removal of every backup without -Force, with a warning; the others go' {
        $f = New-Root
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $f.Root | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.C1, $f.Old40, $f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeExactly $Stamps.C2
        @($run.Warnings) | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike "*$($f.C2)*newest complete backup*-Force*"
    }

    It 'goes with the others in a piped removal with -Force' {
        $f = New-Root
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $f.Root | Remove-TVMKeyBackup -Force -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $run.Warnings | Should -BeNullOrEmpty
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.C2, $f.C1, $f.Old40, $f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeNullOrEmpty
    }

    It 'is the newest Legacy one when there is no Complete backup: it survives a piped removal without -Force' {
        $f = New-Root
        Remove-Item -LiteralPath $f.C2, $f.C1 -Recurse -Force
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $f.Root | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeExactly $Stamps.Old40
        @($run.Warnings) | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike "*$($f.Old40)*"
    }

    It 'is the newest Complete one even when a Damaged backup is newer' {
        $f = New-Root
        # A damaged backup newer than C2: C2 is still the newest complete backup, and only it is kept.
        $damaged = Add-DamagedCopy $f.Root (Get-Stamp (Get-Date).AddSeconds(1))
        "$((Get-TVMKeyBackup -BackupRootPath $f.Root | Where-Object Path -EQ $damaged).Status)" | Should -BeExactly 'Damaged'
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $f.Root | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($damaged, $f.C1, $f.Old40, $f.Old200, $f.Old400))
        Get-RootNames $f.Root | Should -BeExactly $Stamps.C2
    }
}

Describe 'Partial folders' {
    It 'a partial folder of 2020 goes with any rule: <Rule>' -ForEach @(
        @{ Rule = '-KeepLast 10'; Arguments = @{ KeepLast = 10 } }
        @{ Rule = '-KeepLast 1'; Arguments = @{ KeepLast = 1 } }
        @{ Rule = '-OlderThan 36500 (100 years)'; Arguments = @{ OlderThan = 36500 } }
        @{ Rule = '-OlderThan 30 -KeepLast 5'; Arguments = @{ OlderThan = 30; KeepLast = 5 } }
    ) {
        $f = New-Root
        $partial = Add-BackupCopy $f.Root '.20200101000000.partial'
        (Get-TVMKeyBackup -BackupRootPath $f.Root | Where-Object Path -EQ $partial).Status | Should -Be 'Partial'
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root @Arguments -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        $partial | Should -Not -Exist
        Get-PassThruPaths $run | Should -Contain $partial
    }

    It 'a partial folder of 25 hours ago goes; one of 23 hours ago and one of now are kept' {
        $f = New-Root
        $old = Add-BackupCopy $f.Root ".$(Get-Stamp (Get-Date).AddHours(-25)).partial"
        $recent = Add-BackupCopy $f.Root ".$(Get-Stamp (Get-Date).AddHours(-23)).partial"
        $current = Add-BackupCopy $f.Root ".$(Get-Stamp (Get-Date)).partial"
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 10 -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText $old)
        $old | Should -Not -Exist
        $recent | Should -Exist
        $current | Should -Exist
    }

    It 'a partial folder named with the current time is kept by a rule run, with a warning that names it' {
        $f = New-Root
        $current = Add-BackupCopy $f.Root ".$(Get-Stamp (Get-Date)).partial"
        $kept = Get-TreeState $current
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root -KeepLast 1 -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruPaths $run | Should -Not -Contain $current
        Get-TreeState $current | Should -BeExactly $kept
        @($run.Warnings | Where-Object { $_ -like "*$current*" }) | Should -HaveCount 1 -Because "a kept partial folder is worth a warning (warnings: $($run.Warnings -join ' | '))"
    }

    It 'a piped partial folder named with the current time is kept with a warning, and goes with -Force' {
        $f = New-Root
        $current = Add-BackupCopy $f.Root ".$(Get-Stamp (Get-Date)).partial"
        $run = Invoke-Captured { $current | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruPaths $run | Should -BeNullOrEmpty
        $current | Should -Exist
        @($run.Warnings) | Should -HaveCount 1
        $run.Warnings[0] | Should -BeLike "*$current*less than a day old*-Force*"

        $run = Invoke-Captured { $current | Remove-TVMKeyBackup -Force -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText $current)
        $current | Should -Not -Exist
    }

    It '-WhatIf lists an old partial folder with the backups that would go' {
        $f = New-Root
        $partial = Add-BackupCopy $f.Root '.20200101000000.partial'
        $before = Get-TreeState $f.Root
        $run = Invoke-InNewPwsh -Raw -Body 'Remove-TVMKeyBackup -BackupRootPath $root -KeepLast 4 -WhatIf' -Variables @{ root = $f.Root }
        $run.ExitCode | Should -Be 0 -Because ($run.Output -join "`n")
        $targets = @($run.Output | Where-Object { $_ -like 'What if:*' } | ForEach-Object { if ($_ -match 'on target "(.+)"\.$') { $Matches[1] } })
        Get-ListText $targets | Should -BeExactly (Get-ListText @($partial, $f.Old400)) -Because ($run.Output -join "`n")
        @($run.Output | Where-Object { $_ -like "What if:*Partial*$partial*" }) | Should -HaveCount 1
        Get-TreeState $f.Root | Should -BeExactly $before
    }
}

Describe 'Links' -Skip:$UnderWine {
    # Skipped under Wine: see the top of the file.
    BeforeAll {
        # A fixture root with links named like backups, to folders outside it that hold backups, and a link inside
        # the oldest backup to a folder outside the root. Returns the root's fixture plus Links (paths of the links),
        # Outside (the folder that holds every target) and Inner (the link inside Old400).
        function New-LinkedRoot {
            $f = New-Root
            $outside = New-TestFolder outside
            $targetBackup = Add-BackupCopy $outside '20190101000000'
            $targetPartial = Add-BackupCopy $outside '.20190101000000.partial'
            $targetInner = [IO.Path]::Combine($outside, 'precious')
            $null = New-Item -ItemType Directory -Path $targetInner
            [IO.File]::WriteAllText([IO.Path]::Combine($targetInner, 'keep.txt'), 'keep me')
            $links = @(
                (New-Item -ItemType SymbolicLink -Path ([IO.Path]::Combine($f.Root, '20190101000000')) -Target $targetBackup).FullName
                (New-Item -ItemType SymbolicLink -Path ([IO.Path]::Combine($f.Root, '.20190101000000.partial')) -Target $targetPartial).FullName
                (New-Item -ItemType SymbolicLink -Path ([IO.Path]::Combine($f.Root, (Get-Stamp (Get-Date).AddDays(1)))) -Target $targetBackup).FullName
            )
            $inner = (New-Item -ItemType SymbolicLink -Path ([IO.Path]::Combine($f.Old400, 'AES', 'escape')) -Target $targetInner).FullName
            $f | Add-Member -NotePropertyMembers ([ordered]@{ Links = $links; Outside = $outside; Inner = $inner }) -PassThru
        }
    }

    It 'a link named like a backup is never listed by Get-TVMKeyBackup' {
        $f = New-LinkedRoot
        foreach ($l in $f.Links) { (Get-Item -LiteralPath $l -Force).LinkTarget | Should -Not -BeNullOrEmpty }
        $listed = @(Get-TVMKeyBackup -BackupRootPath $f.Root)
        @($listed.Path | Sort-Object) | Should -Be @(@($f.C2, $f.C1, $f.Old40, $f.Old200, $f.Old400) | Sort-Object)
        (Get-TVMKeyBackup -BackupRootPath $f.Root -Latest).Path | Should -Be $f.C2 -Because 'a link named for tomorrow is not the newest backup'
    }

    It 'no rule removes a link or follows it: <Rule>' -ForEach @(
        @{ Rule = '-KeepLast 0 -Force'; Arguments = @{ KeepLast = 0; Force = $true } }
        @{ Rule = '-OlderThan 100'; Arguments = @{ OlderThan = 100 } }
        @{ Rule = '-KeepLast 1'; Arguments = @{ KeepLast = 1 } }
    ) {
        $f = New-LinkedRoot
        $outside = Get-TreeState $f.Outside
        $run = Invoke-Captured { Remove-TVMKeyBackup -BackupRootPath $f.Root @Arguments -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        foreach ($l in $f.Links) {
            (Get-Item -LiteralPath $l -Force).LinkTarget | Should -Not -BeNullOrEmpty -Because "the link $l is left alone"
            Get-PassThruPaths $run | Should -Not -Contain $l
        }
        Get-TreeState $f.Outside | Should -BeExactly $outside -Because 'nothing outside the root is touched'
        $f.Old400 | Should -Not -Exist -Because 'the backup that held a link is removed, the link with it, not its target'
    }

    It 'a piped link named like a backup is NotInBackupRoot, and neither it nor its target is touched' {
        $f = New-LinkedRoot
        $root = Get-TreeState $f.Root
        $outside = Get-TreeState $f.Outside
        foreach ($l in $f.Links) {
            $run = Invoke-Captured { $l | Remove-TVMKeyBackup -Force -Confirm:$false -PassThru }
            $null = Assert-TvmError $run NotInBackupRoot InvalidArgument
            @(Get-OfType $run.Output TvmBackupInfo) | Should -BeNullOrEmpty
        }
        Get-TreeState $f.Root | Should -BeExactly $root
        Get-TreeState $f.Outside | Should -BeExactly $outside
    }
}

Describe 'Piped paths that are not backups of their root' {
    It '<What> is NotInBackupRoot and nothing is removed' -ForEach @(
        @{ What = 'a folder of the root not named like a backup'; Make = { param($f) $p = [IO.Path]::Combine($f.Root, 'notes'); $null = New-Item -ItemType Directory $p; $p } }
        @{ What = 'a file of the root named like a backup'; Make = { param($f) $p = [IO.Path]::Combine($f.Root, '20180101000000'); [IO.File]::WriteAllText($p, 'x'); $p } }
        @{ What = 'a key folder inside a backup'; Make = { param($f) [IO.Path]::Combine($f.Old400, 'AES') } }
        @{ What = 'the backup root itself'; Make = { param($f) $f.Root } }
    ) {
        $f = New-Root
        $path = & $Make $f
        $before = Get-TreeState $f.Root
        $run = Invoke-Captured { $path | Remove-TVMKeyBackup -Force -Confirm:$false -PassThru }
        $e = Assert-TvmError $run NotInBackupRoot InvalidArgument
        Get-ErrorText $e | Should -Match 'not a backup'
        @(Get-OfType $run.Output TvmBackupInfo) | Should -BeNullOrEmpty
        Get-TreeState $f.Root | Should -BeExactly $before
    }

    It 'a bad path in the pipeline does not stop the good ones' {
        $f = New-Root
        $notes = [IO.Path]::Combine($f.Root, 'notes')
        $null = New-Item -ItemType Directory $notes
        $run = Invoke-Captured { $f.Old400, $notes, $f.Old200 | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-TvmError $run NotInBackupRoot InvalidArgument
        Get-PassThruText $run | Should -BeExactly (Get-ListText @($f.Old400, $f.Old200))
        $notes | Should -Exist
    }

    It 'takes FullName from Get-ChildItem' {
        $f = New-Root
        $run = Invoke-Captured { Get-Item -LiteralPath $f.Old400 | Remove-TVMKeyBackup -Confirm:$false -PassThru }
        $null = Assert-Clean $run
        Get-PassThruText $run | Should -BeExactly (Get-ListText $f.Old400)
        $f.Old400 | Should -Not -Exist
    }
}
