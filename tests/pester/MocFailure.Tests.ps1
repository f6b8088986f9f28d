# Failures of the Moc cmdlets (hangs, Ctrl+C, existing keys, and their messages), and the parameters the MOC
# vault adds to every vault command. Moved from the xunit classes MocFailureTests and MocParameterTests
# (tests/TvmBackupUtils.Tests/MocAdapterTests.cs).
# The MOC vault: no -VaultPath and no TVM_VAULT_PATH, so every command talks to the Moc cmdlets, here those of
# the stand-in (tests/MocStandIn). Its state is process-wide: each test starts with Set-StandInCluster on a
# fresh StateRoot (one folder = one cluster), which also clears the call record.
BeforeDiscovery {
    $script:VaultCommands = @('Backup-TVMKeys', 'Import-TVMKeys', 'Import-TvmWrappingKeyFromPem', 'New-TvmVaultKey', 'Get-TvmVaultKey')
    $script:OutOfRangeTimeouts = @('0', '86401', '-5')
    $script:FailingImports = @(
        # terminating, as the real Moc cmdlets fail (a script's throw)
        @{ Kind = 'terminating (a throw)'; Failure = 'throw "$global:mocctl [Error: rpc error: code = Unavailable desc = connection refused]"' }
        # non-terminating
        @{ Kind = 'non-terminating (WriteError)'; Failure = '$PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new([System.Exception]::new("$global:mocctl [Error: rpc error: code = Unavailable desc = connection refused]"), ''MocError'', ''NotSpecified'', $name))' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Import-MocStandIn

    $script:Names = @('k1', 'k2', 'k3')

    function Get-ErrorId([System.Management.Automation.ErrorRecord] $Record) { "$($Record.FullyQualifiedErrorId)".Split(',')[0] }

    # A cluster with k1, k2 and k3 (AES-256) and an empty call record; returns the test's paths (Pub, Priv, Root:
    # the backup root, not created, and Work).
    function New-MocCluster([hashtable] $Settings = @{}) {
        $work = New-TestFolder 'moc'
        Set-StandInCluster -StateRoot (Join-Path $work 'cluster') -Settings $Settings
        Add-StandInKey $script:Names
        Clear-MocStandInCall
        $keys = Copy-VectorKeyPair -Folder (Join-Path $work 'keys')
        [pscustomobject]@{ Work = $work; Pub = $keys.Public; Priv = $keys.Private; Root = (Join-Path $work 'backups') }
    }

    # A backup of the cluster, then cluster B with the wrapping key TvmWrap and an empty call record; returns
    # the backup folder.
    function Backup-AndSwitchToB($Cluster, [hashtable] $SettingsB = @{}) {
        $backup = Get-SingleBackup (Assert-Clean (Invoke-Captured { Backup-TVMKeys $Cluster.Pub $Cluster.Root })).Output
        Set-StandInCluster -StateRoot (Join-Path $Cluster.Work 'clusterB') -Settings $SettingsB
        $null = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem TvmWrap $Cluster.Pub $Cluster.Priv 2048 | Out-Null })
        Clear-MocStandInCall
        $backup.Path
    }

    function Assert-NoBackupFolder($Cluster) {
        $left = if (Test-Path $Cluster.Root) { @(Get-ChildItem -LiteralPath $Cluster.Root -Force | ForEach-Object FullName) } else { @() }
        $left | Should -BeNullOrEmpty -Because "nothing is left in the backup root: $($left -join ', ')"
    }
}

Describe 'Failures of the Moc cmdlets' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach {
        Restore-TvmVaultPath
        Remove-MocOverride
        Remove-Variable -Name mocctl -Scope Global -ErrorAction SilentlyContinue
    }

    It 'a hung Export-MocKey is stopped after -TimeoutSec with VaultTimeout naming the key, leaves no backup, and the session stays usable' {
        $c = New-MocCluster @{ HangOn = 'Export-MocKey:k2' }

        $r = Invoke-Captured { Backup-TVMKeys $c.Pub $c.Root -TimeoutSec 2 }

        $e = Assert-TvmTerminating $r 'VaultTimeout' OperationTimeout
        $e.Exception.Message | Should -BeLike "*Export-MocKey did not return within 2 seconds for key 'k2'; it was stopped.*"
        Assert-NoBackupFolder $c
        @(Get-StandInCall 'Export-MocKey' | ForEach-Object { $_.Parameters['name'] }) | Should -Be @('k1', 'k2')
        # The session is still usable: the stopped call was the nested one, not the command's pipeline.
        $keys = Assert-Clean (Invoke-Captured { Get-TvmVaultKey })
        @(Get-OfType $keys.Output TvmKey).Count | Should -Be 3
    }

    It 'a hung Import-MocKey fails that key with a timeout (one KeyImportFailed error) and the other keys are imported' {
        $c = New-MocCluster
        $backup = Backup-AndSwitchToB $c @{ HangOn = 'Import-MocKey:k2' }

        $r = Invoke-Captured { Import-TVMKeys $backup TvmWrap -TimeoutSec 2 }

        $r.Threw | Should -BeFalse -Because "$($r.Terminating)"
        $outcomes = @{}
        foreach ($k in (Get-OfType $r.Output TvmKeyRestore)) { $outcomes[$k.Name] = $k }
        "$($outcomes['k1'].Outcome)" | Should -BeExactly 'Imported'
        "$($outcomes['k2'].Outcome)" | Should -BeExactly 'Failed'
        "$($outcomes['k3'].Outcome)" | Should -BeExactly 'Imported'
        "$($outcomes['k2'].Message)" | Should -BeLike "*Import-MocKey did not return within 2 seconds for key 'k2'; it was stopped.*"
        $r.Errors.Count | Should -Be 1
        Get-ErrorId $r.Errors[0] | Should -BeExactly 'KeyImportFailed'
        $r.Errors[0].CategoryInfo.Category | Should -Be OperationTimeout
        $r.Errors[0].Exception.Message | Should -BeLikeExactly 'Error Importing Key: *'
    }

    It 'Ctrl+C while a Moc call hangs stops the command (PipelineStoppedException), leaves no backup and exports no further key' {
        $c = New-MocCluster @{ HangOn = 'Export-MocKey:k2' }
        # A PowerShell of its own in this process (the stand-in's state is shared), stopped from this thread as
        # Ctrl+C does.
        $ps = [powershell]::Create([System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())
        try {
            foreach ($m in (Get-MocStandInPath), (Join-Path (Get-TvmModulePath) 'TvmBackupUtils.psd1')) {
                $null = $ps.AddCommand('Import-Module').AddParameter('Name', $m).AddParameter('ErrorAction', 'Stop').Invoke()
                $ps.Commands.Clear()
            }
            $ps.Runspace.SessionStateProxy.SetVariable('pub', $c.Pub)
            $ps.Runspace.SessionStateProxy.SetVariable('root', $c.Root)
            $null = $ps.AddScript('Backup-TVMKeys $pub $root')

            $running = $ps.BeginInvoke()
            # Wait until the export of k2 hangs (the stand-in records a call before it hangs).
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not @(Get-StandInCall 'Export-MocKey' | Where-Object { $_.Parameters['name'] -eq 'k2' }).Count) {
                [DateTime]::UtcNow | Should -BeLessThan $deadline -Because 'Export-MocKey of k2 starts'
                $running.IsCompleted | Should -BeFalse -Because 'Backup-TVMKeys reaches k2 before it ends'
                [System.Threading.Thread]::Sleep(50)
            }
            $ps.Stop() # what Ctrl+C does: from another thread than the pipeline's
            $thrown = $null
            try {
                $null = $ps.EndInvoke($running)
            } catch {
                $thrown = $_.Exception
                if ($thrown -is [System.Management.Automation.MethodInvocationException]) { $thrown = $thrown.InnerException }
            }

            $ps.InvocationStateInfo.State | Should -Be ([System.Management.Automation.PSInvocationState]::Stopped)
            # EndInvoke of a stopped pipeline usually throws PipelineStoppedException, but PowerShell itself
            # sometimes returns from it without throwing once Stop() has finished (seen once in four suite runs);
            # the state above is what says the command was stopped. What it throws, if anything, is that.
            if ($null -ne $thrown) {
                $thrown.GetType() | Should -Be ([System.Management.Automation.PipelineStoppedException]) -Because 'exactly PipelineStoppedException'
            }
            Assert-NoBackupFolder $c
            @(Get-StandInCall 'Export-MocKey' | Where-Object { $_.Parameters['name'] -eq 'k3' }) | Should -BeNullOrEmpty
        } finally {
            $ps.Dispose()
        }
    }

    It 'a restore of a key the cluster has already is Exists, with a warning, and is not imported again' {
        $c = New-MocCluster
        $backup = Backup-AndSwitchToB $c
        Add-StandInKey 'k2'
        Clear-MocStandInCall

        $r = Invoke-Captured { Import-TVMKeys $backup TvmWrap }

        $r.Threw | Should -BeFalse -Because "$($r.Terminating)"
        $r.Errors | Should -BeNullOrEmpty
        $k2 = @(Get-OfType $r.Output TvmKeyRestore | Where-Object Name -CEQ 'k2')
        $k2.Count | Should -Be 1
        "$($k2[0].Outcome)" | Should -BeExactly 'Exists'
        @($r.Warnings | Where-Object { $_.Contains('k2') }).Count | Should -BeGreaterThan 0 -Because 'a warning names k2'
        @(Get-StandInCall 'Import-MocKey' | Where-Object { $_.Parameters['name'] -eq 'k2' }) | Should -BeNullOrEmpty
    }

    # A key created in the cluster after the engine listed it (here by a Get-MocKeyPublicKey that another
    # administrator's New-MocKey overtakes): the stand-in's Import-MocKey fails with MOC's InvalidVersion,
    # which the engine reads as Exists.
    It 'a restore of a key created after the listing reads MOC''s InvalidVersion as Exists' {
        $c = New-MocCluster
        $backup = Backup-AndSwitchToB $c
        function global:Get-MocKeyPublicKey {
            param($name, $group, $keyvaultName, $outputFile)
            New-MocKey -name k2 -group $group -keyvaultName $keyvaultName -type AES -size 256
            MocStandIn\Get-MocKeyPublicKey -name $name -group $group -keyvaultName $keyvaultName -outputFile $outputFile
        }

        $r = Invoke-Captured { Import-TVMKeys $backup TvmWrap }

        $r.Threw | Should -BeFalse -Because "$($r.Terminating)"
        $r.Errors | Should -BeNullOrEmpty
        @(Get-OfType $r.Output TvmKeyRestore | ForEach-Object { "$($_.Name)=$($_.Outcome)" }) | Should -BeExactly @('k1=Imported', 'k2=Exists', 'k3=Imported')
        @($r.Warnings | Where-Object { $_.Contains('k2') }).Count | Should -BeGreaterThan 0 -Because 'a warning names k2'
        @(Get-StandInCall 'Import-MocKey' | Where-Object { $_.Parameters['name'] -eq 'k2' }).Count | Should -Be 1
    }

    It 'a failing Import-MocKey, <Kind>, gives its whole message as the key''s Message and the KeyImportFailed error' -ForEach $FailingImports {
        $c = New-MocCluster
        $backup = Backup-AndSwitchToB $c
        $mocctl = 'C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca.test security keyvault key import --name "k2" System.Collections.Hashtable.generic_non_zero 1'
        $global:mocctl = $mocctl
        Invoke-Expression @"
function global:Import-MocKey { [CmdletBinding()] param(`$name, `$wrappingKeyName, `$importKeyFile, `$group, `$keyvaultName, `$size, `$Type)
    if (`$name -eq 'k2') { $Failure ; return }
    MocStandIn\Import-MocKey -name `$name -wrappingKeyName `$wrappingKeyName -importKeyFile `$importKeyFile -group `$group -keyvaultName `$keyvaultName -size `$size -Type `$Type
}
"@

        $r = Invoke-Captured { Import-TVMKeys $backup TvmWrap }

        $r.Threw | Should -BeFalse -Because "$($r.Terminating)"
        $text = $mocctl + ' [Error: rpc error: code = Unavailable desc = connection refused]'
        $restores = @(Get-OfType $r.Output TvmKeyRestore)
        $k2 = @($restores | Where-Object Name -CEQ 'k2')
        $k2.Count | Should -Be 1
        "$($k2[0].Outcome)" | Should -BeExactly 'Failed'
        "$($k2[0].Message)" | Should -BeExactly $text
        $r.Errors.Count | Should -Be 1
        Get-ErrorId $r.Errors[0] | Should -BeExactly 'KeyImportFailed'
        $r.Errors[0].Exception.Message | Should -BeExactly ('Error Importing Key: ' + $text)
        @($restores | Where-Object Name -CNE 'k2' | ForEach-Object { "$($_.Outcome)" }) | Should -BeExactly @('Imported', 'Imported')
    }

    # The stand-in's own failures (binary cmdlets, ThrowTerminatingError) reach the user in full.
    It 'a restore with an AES key as the wrapping key stops before the target backup, and without it gives MOC''s full text for each key' {
        $c = New-MocCluster
        $backup = Backup-AndSwitchToB $c
        Add-StandInKey 'aeswrap'

        # Without -SkipTargetBackup the restore stops first: the backup of the target cannot be wrapped to an AES key.
        $refused = Invoke-Captured { Import-TVMKeys $backup aeswrap }
        $refused.Terminating.FullyQualifiedErrorId | Should -BeLike 'TargetBackupFailed,*'
        $refused.Terminating.Exception.Message | Should -BeLike 'Nothing was imported: the target vault could not be backed up first (*Key of type `[AES`] has no public key*'
        @(Get-StandInCall 'Import-MocKey').Count | Should -Be 0

        $r = Invoke-Captured { Import-TVMKeys $backup aeswrap -SkipTargetBackup }

        $r.Threw | Should -BeFalse -Because "$($r.Terminating)"
        # The check of the wrapping key before the first write could not read an AES key's public half.
        $r.Warnings.Count | Should -Be 1
        $warning = $r.Warnings[0]
        $warning.Contains('C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca-mocstandin.test.local security keyvault key download --name "aeswrap" ' +
            '--vault-name "AzureStackTvmKeyVault" --group "AzureStackHostAttestation" --file-path "') | Should -BeTrue -Because "the warning is: $warning"
        $warning.Contains('System.Collections.Hashtable.generic_non_zero 1 [Error: Type[Key] Vault[AzureStackTvmKeyVault] Name[aeswrap]: Key of type [AES] has no public key: Invalid Type]') |
            Should -BeTrue -Because "the warning is: $warning"
        $r.Errors.Count | Should -Be 3
        $errorMessages = @($r.Errors | ForEach-Object { $_.Exception.Message })
        foreach ($k in (Get-OfType $r.Output TvmKeyRestore)) {
            "$($k.Outcome)" | Should -BeExactly 'Failed'
            $expected = 'C:\Program Files\AksHci\mocctl.exe --cloudFqdn ca-mocstandin.test.local security keyvault key import ' +
                "--group `"AzureStackHostAttestation`" --key-size `"256`" --vault-name `"AzureStackTvmKeyVault`" --key-type `"AES`" --key-file-path `"$($k.File)`" " +
                "--name `"$($k.Name)`" --wrapping-key-name `"aeswrap`" System.Collections.Hashtable.generic_non_zero 1 " +
                "[Error: Keys Import failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[$($k.Name)]: Wrapping key [aeswrap] is not an RSA key: Invalid Type]"
            "$($k.Message)" | Should -BeExactly $expected
            $errorMessages -ccontains ('Error Importing Key: ' + $expected) | Should -BeTrue -Because "an error says it for $($k.Name): $($errorMessages -join ' | ')"
        }
    }

    It 'New-TvmVaultKey of a name the cluster has reads MOC''s InvalidVersion as KeyExists' {
        $null = New-MocCluster

        $r = Invoke-Captured { New-TvmVaultKey -Name k1 -Type AES -Size 256 }

        $e = Assert-TvmTerminating $r 'KeyExists' ResourceExists
        $e.Exception.Message | Should -BeExactly "A key named 'k1' already exists in the vault."
        @(Get-StandInCall 'New-MocKey').Count | Should -Be 1
    }

    It 'a backup whose Export-MocKey fails in MOC ends with VaultFailed carrying the whole message, and leaves no backup' {
        $c = New-MocCluster
        function global:Export-MocKey {
            param($name, $wrappingPubKeyFile, $outFile, $group, $keyvaultName, $size)
            if ($name -eq 'k3') { throw 'mocctl.exe ... [Error: Keys Export failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[k3]: Failed]' }
            MocStandIn\Export-MocKey -name $name -wrappingPubKeyFile $wrappingPubKeyFile -outFile $outFile -group $group -keyvaultName $keyvaultName -size $size
        }

        $r = Invoke-Captured { Backup-TVMKeys $c.Pub $c.Root }

        $e = Assert-TvmTerminating $r 'VaultFailed' InvalidOperation
        $e.Exception.Message.Contains('mocctl.exe ... [Error: Keys Export failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[k3]: Failed]') |
            Should -BeTrue -Because "the message is: $($e.Exception.Message)"
        Assert-NoBackupFolder $c
    }
}

Describe 'The parameters the MOC vault adds to every vault command' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It '<_> has optional, named -Group and -KeyVaultName [string] and -TimeoutSec [int] 1..86400, all documented' -ForEach $VaultCommands {
        $cmdName = $_
        $found = Assert-Clean (Invoke-Captured { Get-Command $cmdName })
        $found.Output.Count | Should -Be 1
        $info = $found.Output[0]
        $info | Should -BeOfType ([System.Management.Automation.CommandInfo])
        foreach ($p in @(@{ Name = 'Group'; Type = [string] }, @{ Name = 'KeyVaultName'; Type = [string] }, @{ Name = 'TimeoutSec'; Type = [int] })) {
            $info.Parameters.ContainsKey($p.Name) | Should -BeTrue -Because "$cmdName has a -$($p.Name)"
            $parameter = $info.Parameters[$p.Name]
            $parameter.ParameterType | Should -Be $p.Type
            foreach ($set in $parameter.ParameterSets.Values) {
                ($set.IsMandatory -or $set.Position -ge 0) | Should -BeFalse -Because "-$($p.Name) must be optional and named"
            }
        }
        $range = @($info.Parameters['TimeoutSec'].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] })
        $range.Count | Should -Be 1
        [Convert]::ToInt32($range[0].MinRange) | Should -Be 1
        [Convert]::ToInt32($range[0].MaxRange) | Should -Be 86400

        $help = Assert-Clean (Invoke-Captured { (Get-Help $cmdName -Full).parameters.parameter | ForEach-Object { $_.name + '=' + ($_.description | ForEach-Object { $_.Text }) } })
        $documented = @($help.Output | ForEach-Object { "$_" })
        foreach ($name in 'VaultPath', 'Group', 'KeyVaultName', 'TimeoutSec') {
            @($documented | Where-Object { $_.StartsWith("$name=", [StringComparison]::Ordinal) -and $_.Length -gt $name.Length + 20 }).Count |
                Should -BeGreaterThan 0 -Because "-$name of $cmdName is documented"
        }
        @($documented | Where-Object { $_.Contains('MocVaultUnavailable') }) | Should -BeNullOrEmpty
    }

    It '-TimeoutSec <_> is refused by parameter binding before any Moc call' -ForEach $OutOfRangeTimeouts {
        $t = $_
        Set-StandInCluster -StateRoot (Join-Path (New-TestFolder 'moc') 'cluster')

        $r = Invoke-Captured { Get-TvmVaultKey -TimeoutSec $t }

        $r.Threw | Should -BeTrue
        "$($r.Terminating.FullyQualifiedErrorId)" | Should -BeLikeExactly '*ParameterArgumentValidationError*'
        @(Get-MocStandInCall) | Should -BeNullOrEmpty
    }
}
