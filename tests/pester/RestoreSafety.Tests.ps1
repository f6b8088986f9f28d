# The safety of a restore: re-runs that change nothing (local vault and the stand-in Moc module), -IfExists Skip,
# Fail and Replace with the backup of the target vault taken before the first write (the pre-restore backup),
# -WhatIf that writes nothing anywhere, a VM's key by its VMId on the pipeline, the attestation root key, AES keys
# compared by their material, -RemoveWrappingKey, a damaged backup (refused as a whole; -Force restores only its
# intact key files), and New-TvmWrappingKey with the PEM files it writes (read by
# Python's cryptography), the wrapping key imports they feed, and no copy of a generated private key left behind.
# New tests (no xunit class before them).
#
# What if lines go to the host and cannot be captured in this process: the -WhatIf runs are in a new pwsh, whose
# TMPDIR is a folder inside the work folder, so a temporary file written there counts as a write too.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:UnderWine = Test-UnderWine
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule

    $script:Wrap = 'wrap'
    $script:RootKey = 'AzureStackTvmAKRootKey'
    $script:VmId = [guid]'0f8c3a52-7d4e-4b1a-9c2e-5a6b7c8d9e01'
    $script:Vm = [pscustomobject]@{ VMId = $VmId; Name = 'web01'; Path = 'C:\whatever' }

    # A work folder: the wrapping key pair of tests/vectors (Public, Private), vaultA, vaultB and vaultC (not created),
    # backups (the backup root), pre (a root for pre-restore backups) and tmp (a child pwsh's TMPDIR).
    function New-Work([string] $Name = 'safety') {
        $dir = New-TestFolder $Name
        $pair = Copy-VectorKeyPair (Join-Path $dir 'keys')
        $tmp = Join-Path $dir 'tmp'
        $null = New-Item -ItemType Directory -Path $tmp
        [pscustomobject]@{
            Dir = $dir
            Public = $pair.Public
            Private = $pair.Private
            VaultA = Join-Path $dir 'vaultA'
            VaultB = Join-Path $dir 'vaultB'
            VaultC = Join-Path $dir 'vaultC'
            Root = Join-Path $dir 'backups'
            Pre = Join-Path $dir 'pre'
            Tmp = $tmp
        }
    }

    # New-TvmVaultKey for each of -Key (a name: AES-256; or @{ Name; Type; Size }) into -Vault.
    function Add-VaultKey([string] $Vault, [object[]] $Key) {
        foreach ($k in $Key) {
            if ($k -is [string]) { $k = @{ Name = $k; Type = 'AES'; Size = 256 } }
            $null = New-TvmVaultKey -Name $k.Name -Type $k.Type -Size $k.Size -VaultPath $Vault -ErrorAction Stop
        }
    }

    # The wrapping key pair of -Work imported into -Vault as 'wrap'.
    function Add-WrappingKey($Work, [string] $Vault) {
        $null = Import-TvmWrappingKeyFromPem $Wrap $Work.Public $Work.Private 2048 -VaultPath $Vault -ErrorAction Stop 6>$null
    }

    # Seeds vault A with -Key, backs it up into the backup root, and imports the wrapping key into vault B.
    # Returns the backup's path.
    function Initialize-Restore($Work, [object[]] $Key) {
        Add-VaultKey $Work.VaultA $Key
        $backup = Get-SingleBackup @(Backup-TVMKeys $Work.Public $Work.Root -VaultPath $Work.VaultA -ErrorAction Stop 6>$null 3>$null)
        Add-WrappingKey $Work $Work.VaultB
        $backup.Path
    }

    # The TvmKeyRestore objects of a captured run (the status marker left out).
    function Get-Restores($Run) {
        @(Get-OfType @($Run.Output | Where-Object { $_.PSObject.TypeNames -notcontains 'RestoreSafety.Status' }) TvmKeyRestore)
    }

    # "<name>=<Outcome>/<Comparison>" of each restore of a run, in order.
    function Format-Restores($Run) {
        @(Get-Restores $Run | ForEach-Object { "$($_.Name)=$($_.Outcome)/$($_.Comparison)" })
    }

    # The $? the run's status marker recorded ([pscustomobject]@{ PSTypeName = 'RestoreSafety.Status'; Succeeded = $? }).
    function Get-Succeeded($Run) {
        $marker = @($Run.Output | Where-Object { $_.PSObject.TypeNames -contains 'RestoreSafety.Status' })
        $marker.Count | Should -Be 1 -Because 'the run records $? once'
        $marker[0].Succeeded
    }

    # Name -> fingerprint of every key of a local vault.
    function Get-Fingerprints([string] $Vault) {
        $map = [ordered]@{}
        foreach ($k in @(Get-TvmVaultKey -VaultPath $Vault -ErrorAction Stop)) { $map[[string]$k.Name] = [string]$k.Fingerprint }
        $map
    }

    # -Values sorted with the ordinal comparer, written one by one (Get-OrdinalSorted writes one array).
    function Sort-Ordinal([string[]] $Values) {
        $sorted = [string[]]@($Values)
        [Array]::Sort($sorted, [StringComparer]::Ordinal)
        $sorted
    }

    # The names of a local vault's keys, ordinal order.
    function Get-VaultNames([string] $Vault) { Sort-Ordinal @(Get-TvmVaultKey -VaultPath $Vault -ErrorAction Stop | ForEach-Object { [string]$_.Name }) }

    # Every folder and file under -Root, hidden ones too: "dir <relative>" or "file <relative> <length> <SHA-256>
    # <last write ticks>", ordinal order. Equal lists: nothing was created, removed or changed there.
    function Get-TreeState([string] $Root) {
        $lines = foreach ($item in Get-ChildItem -LiteralPath $Root -Recurse -Force) {
            $relative = [IO.Path]::GetRelativePath($Root, $item.FullName).Replace('\', '/')
            if ($item.PSIsContainer) { "dir $relative" }
            elseif (-not (Test-RegularFile $item)) { "special $relative" }
            else { "file $relative $($item.Length) $((Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256).Hash) $($item.LastWriteTimeUtc.Ticks)" }
        }
        Sort-Ordinal @($lines)
    }

    # Two Get-TreeState lists are equal; -Minimum: how many entries the first must have, for a check that can fail.
    function Assert-SameTree([string[]] $Before, [string[]] $After, [int] $Minimum = 4) {
        $diff = @(Compare-Object @($Before) @($After) | ForEach-Object { "$($_.SideIndicator) $($_.InputObject)" })
        $diff | Should -BeNullOrEmpty -Because 'nothing under the work folder may change'
        $Before.Count | Should -BeGreaterOrEqual $Minimum
    }

    # The backup folders (yyyyMMddHHmmss) of a backup root, ordinal order; none when it does not exist.
    function Get-BackupFolders([string] $Root) {
        if ([IO.Directory]::Exists($Root)) { Sort-Ordinal @([IO.Directory]::GetDirectories($Root) | ForEach-Object { [IO.Path]::GetFileName($_) }) }
    }

    function Read-Manifest([string] $BackupPath) { Get-Content -Raw -LiteralPath (Join-Path $BackupPath 'manifest.json') | ConvertFrom-Json }

    # The path the host line 'The target vault was backed up to <path> before the restore (a pre-restore backup).'
    # of a run names, or $null.
    function Get-TargetBackupPath($Run) {
        $line = @($Run.Host | Where-Object { $_ -like 'The target vault was backed up to * before the restore (a pre-restore backup).' })
        if ($line.Count -eq 0) { return $null }
        $line.Count | Should -Be 1
        $line[0].Substring('The target vault was backed up to '.Length, $line[0].Length - 'The target vault was backed up to '.Length - ' before the restore (a pre-restore backup).'.Length)
    }

    # -Script (a call on the work folder $w) in a new pwsh with TMPDIR in the work folder, as a runbook's statements:
    # the child stops at its first error (exit code 1). The work folder's paths go to the child as a JSON file beside
    # the work folder, not in it. Returns Invoke-Pwsh's result plus WhatIf (the What if lines), Warnings (the
    # WARNING: lines, without the prefix) and Objects ("<type> <Name> <Outcome>" of each output object).
    function Invoke-InChild($Work, [string] $Script) {
        $fixture = Join-Path (Split-Path $Work.Dir) "fixture-$(Split-Path $Work.Dir -Leaf).json"
        $Work | ConvertTo-Json | Set-Content -LiteralPath $fixture
        $body = @'
$ErrorActionPreference = 'Stop'
$w = Get-Content -Raw -LiteralPath $FixtureFile | ConvertFrom-Json
& ([scriptblock]::Create($Script)) | ForEach-Object { if ($_ -is [string]) { $_ } else { "OBJECT $($_.GetType().Name) $($_.Name) $($_.Outcome)".TrimEnd() } }
'@
        $run = Invoke-InNewPwsh -Raw -Body $body -Variables @{ FixtureFile = $fixture; Script = $Script } -Environment @{ TMPDIR = $Work.Tmp }
        $lines = @($run.Output | ForEach-Object { $_ -replace "`e\[[0-9;]*[A-Za-z]", '' })
        $run | Add-Member -NotePropertyName Lines -NotePropertyValue $lines
        $run | Add-Member -NotePropertyName WhatIf -NotePropertyValue @($lines | Where-Object { $_ -like 'What if:*' })
        $run | Add-Member -NotePropertyName Warnings -NotePropertyValue @($lines | Where-Object { $_ -like 'WARNING: *' } | ForEach-Object { $_.Substring(9) })
        $run | Add-Member -NotePropertyName Objects -NotePropertyValue @($lines | Where-Object { $_ -like 'OBJECT *' } | ForEach-Object { $_.Substring(7) })
        $run
    }

    # python3 -c -Code with -Arguments; returns ExitCode and Output (stdout and stderr lines).
    function Invoke-Python([string] $Code, [string[]] $Arguments = @()) {
        $output = @(& python3 -c $Code @Arguments 2>&1 | ForEach-Object { "$_" })
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $output }
    }

    # Reads a private key PEM (with -Password when given) and a public key PEM with Python's cryptography. Prints
    # "<private key size> <public key size> <whether the public key is the private key's> <whether it is RSA>".
    $script:PyCheckPair = @'
import sys
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
password = sys.argv[3].encode() if len(sys.argv) > 3 else None
private = load_pem_private_key(open(sys.argv[1], 'rb').read(), password=password)
public = load_pem_public_key(open(sys.argv[2], 'rb').read())
print(private.key_size, public.key_size, private.public_key().public_numbers() == public.public_numbers(), isinstance(private, rsa.RSAPrivateKey))
'@

    # The PKCS#8 DER of a private key PEM (decrypted with the password when given), base64, by Python's cryptography.
    $script:PyPkcs8Der = @'
import sys, base64
from cryptography.hazmat.primitives import serialization
password = sys.argv[2].encode() if len(sys.argv) > 2 else None
key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=password)
print(base64.b64encode(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode())
'@

    # The DER of an unencrypted PEM file (its base64 body), read without .NET's RSA (none under Wine).
    function Get-PemDer([string] $Path) {
        $text = [IO.File]::ReadAllText($Path)
        $body = ($text -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        , [Convert]::FromBase64String($body)
    }

    # Whether -Needle's bytes are in -Haystack's (both as Latin-1 text: one character per byte).
    function Test-ContainsBytes([byte[]] $Haystack, [byte[]] $Needle) {
        [Text.Encoding]::Latin1.GetString($Haystack).IndexOf([Text.Encoding]::Latin1.GetString($Needle), [StringComparison]::Ordinal) -ge 0
    }

    # The files among -Files that hold one of the secret forms -Forms (Get-SecretForms): "<file>: <form>".
    function Find-Secret([string[]] $Files, $Forms) {
        foreach ($f in $Files) {
            try { $bytes = [IO.File]::ReadAllBytes($f) } catch { continue }
            $text = [Text.Encoding]::UTF8.GetString($bytes)
            $plain = ($text -replace '\\[rn]', '') -replace '\s', ''
            $wide = ([Text.Encoding]::Unicode.GetString($bytes) -replace '\\[rn]', '') -replace '\s', ''
            foreach ($t in $Forms.Texts) {
                if ($plain.Contains($t, [StringComparison]::OrdinalIgnoreCase) -or $wide.Contains($t, [StringComparison]::OrdinalIgnoreCase)) {
                    "${f}: text form $($t.Substring(0, 12))..."
                    break
                }
            }
            foreach ($b in $Forms.Binaries) {
                if (Test-ContainsBytes $bytes $b) { "${f}: binary form"; break }
            }
        }
    }

    # Whether an item of Get-ChildItem is a regular file: not a FIFO or socket (a .NET runtime's diagnostic pipes in
    # a temp folder), whose opening would wait for a writer.
    function Test-RegularFile($Item) { -not $Item.PSIsContainer -and ($IsWindows -or "$($Item.UnixMode)".StartsWith('-')) }

    function Get-AllFiles([string] $Root) { @(Get-ChildItem -LiteralPath $Root -Recurse -Force -File | Where-Object { Test-RegularFile $_ } | ForEach-Object FullName) }
}

Describe 'A restore run twice' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'on a local vault: the second run reports every key Exists (RSA Same), writes nothing and takes no target backup' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $first = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB })
        Format-Restores $first | Should -Be @('k1=Imported/', 'k2=Imported/', "$RootKey=Imported/")
        # The first run backed up vault B first, into the backup root of the backup (its parent folder).
        $target = Get-TargetBackupPath $first
        $target | Should -Not -BeNullOrEmpty
        [IO.Path]::GetDirectoryName($target) | Should -Be $w.Root
        (Read-Manifest $target).purpose | Should -BeExactly 'preRestore'
        $before = Get-TreeState $w.Dir
        $folders = @(Get-BackupFolders $w.Root)

        $second = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB })

        Format-Restores $second | Should -Be @('k1=Exists/NotCompared', 'k2=Exists/NotCompared', "$RootKey=Exists/Same")
        $second.Warnings.Count | Should -Be 3
        Get-TargetBackupPath $second | Should -BeNullOrEmpty -Because 'a run that writes nothing takes no target backup'
        $second.Host[-1] | Should -BeExactly "Restore of ${backup}: 0 imported, 0 replaced, 3 already there, 0 in conflict, 0 skipped, 0 failed."
        @(Get-BackupFolders $w.Root) | Should -Be $folders
        Assert-SameTree $before (Get-TreeState $w.Dir)

        # With the wrapping private key the AES keys are compared too: Same.
        $third = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -PrivateKeyPath $w.Private })
        Format-Restores $third | Should -Be @('k1=Exists/Same', 'k2=Exists/Same', "$RootKey=Exists/Same")
        Assert-SameTree $before (Get-TreeState $w.Dir)
    }

    It 'on the stand-in MOC vault: the second run reports every key Exists (RSA Same) and makes no Import-MocKey call' {
        Import-MocStandIn
        $w = New-Work 'moc'
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterA')
        Add-StandInKey @(@{ Name = 'k1'; Type = 'AES'; Size = 256 }, @{ Name = 'k2'; Type = 'AES'; Size = 256 }, @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $backup = (Get-SingleBackup @(Backup-TVMKeys $w.Public $w.Root -ErrorAction Stop 6>$null)).Path
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterB')
        $null = Import-TvmWrappingKeyFromPem $Wrap $w.Public $w.Private 2048 -ErrorAction Stop 6>$null
        $first = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap })
        Format-Restores $first | Should -Be @('k1=Imported/', 'k2=Imported/', "$RootKey=Imported/")
        @(Get-StandInCall 'Import-MocKey').Count | Should -Be 4 -Because 'the wrapping key and the three keys were imported'
        $folders = @(Get-BackupFolders $w.Root)
        Clear-MocStandInCall

        $second = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap })

        Format-Restores $second | Should -Be @('k1=Exists/NotCompared', 'k2=Exists/NotCompared', "$RootKey=Exists/Same")
        $calls = @(Get-StandInCall)
        $calls.Count | Should -BeGreaterThan 0
        @($calls | Where-Object Command -In 'Import-MocKey', 'Remove-MocKey', 'New-MocKey', 'Export-MocKey') | Should -BeNullOrEmpty -Because 'a re-run writes nothing and takes no target backup'
        @(Get-BackupFolders $w.Root) | Should -Be $folders

        # With the wrapping private key: AES keys compared by their material (an export), still nothing imported.
        Clear-MocStandInCall
        $third = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -PrivateKeyPath $w.Private })
        Format-Restores $third | Should -Be @('k1=Exists/Same', 'k2=Exists/Same', "$RootKey=Exists/Same")
        @(Get-StandInCall 'Import-MocKey') | Should -BeNullOrEmpty
        @(Get-StandInCall 'Remove-MocKey') | Should -BeNullOrEmpty
    }
}

Describe '-IfExists Fail and Replace' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It '-IfExists Fail with one conflicting key is terminating KeysExist naming that key, and writes nothing anywhere' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2', 'k3')
        Add-VaultKey $w.VaultB 'k2'   # the same name, other material
        $before = Get-TreeState $w.Dir

        $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -IfExists Fail -PrivateKeyPath $w.Private }

        $e = Assert-TvmTerminating $run 'KeysExist' ResourceExists
        $text = Get-ErrorText $e
        $text | Should -BeLike '*k2*'
        $text | Should -Not -BeLike '*k1*'
        $text | Should -Not -BeLike '*k3*'
        Get-Restores $run | Should -BeNullOrEmpty
        Assert-SameTree $before (Get-TreeState $w.Dir)
        Get-VaultNames $w.VaultB | Should -Be @('k2', $Wrap)
    }

    It '-IfExists Fail on the stand-in makes no write call (no Import-, Remove- or New-MocKey) and takes no target backup' {
        Import-MocStandIn
        $w = New-Work 'moc'
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterA')
        Add-StandInKey @('k1', 'k2')
        $backup = (Get-SingleBackup @(Backup-TVMKeys $w.Public $w.Root -ErrorAction Stop 6>$null)).Path
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterB')
        $null = Import-TvmWrappingKeyFromPem $Wrap $w.Public $w.Private 2048 -ErrorAction Stop 6>$null
        Add-StandInKey 'k2'
        $folders = @(Get-BackupFolders $w.Root)
        $clusterBefore = Get-TreeState (Join-Path $w.Dir 'clusterB')
        Clear-MocStandInCall

        $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -IfExists Fail -PrivateKeyPath $w.Private }

        $e = Assert-TvmTerminating $run 'KeysExist' ResourceExists
        Get-ErrorText $e | Should -BeLike '*k2*'
        Get-ErrorText $e | Should -Not -BeLike '*k1*'
        @(Get-StandInCall | Where-Object Command -In 'Import-MocKey', 'Remove-MocKey', 'New-MocKey') | Should -BeNullOrEmpty
        # k2 is exported once, to compare it (-PrivateKeyPath); the export file does not stay
        $exports = @(Get-StandInCall 'Export-MocKey')
        @($exports | ForEach-Object { $_.Parameters['name'] }) | Should -Be @('k2')
        foreach ($x in $exports) { [IO.File]::Exists($x.Parameters['outFile']) | Should -BeFalse }
        @(Get-BackupFolders $w.Root) | Should -Be $folders
        Assert-SameTree $clusterBefore (Get-TreeState (Join-Path $w.Dir 'clusterB')) -Minimum 1
    }

    It '-IfExists Fail with no key of the backup in the vault imports them all' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -IfExists Fail -SkipTargetBackup })
        Format-Restores $run | Should -Be @('k1=Imported/', 'k2=Imported/')
    }

    It '-IfExists Replace replaces the different key after the target backup, and that backup restores the old key into a fresh vault' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')
        Add-VaultKey $w.VaultB 'k1'
        $old = (Get-Fingerprints $w.VaultB)['k1']
        $fromA = Get-Fingerprints $w.VaultA
        $old | Should -Not -Be $fromA['k1']

        $run = Assert-Clean (Invoke-Captured {
                Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -IfExists Replace -PrivateKeyPath $w.Private -Confirm:$false -Force
            })

        Format-Restores $run | Should -Be @('k1=Replaced/Different', 'k2=Imported/')
        $after = Get-Fingerprints $w.VaultB
        $after['k1'] | Should -Be $fromA['k1'] -Because 'the backup''s k1 replaced the vault''s'
        $after['k2'] | Should -Be $fromA['k2']
        # The target backup came first: its host line before the first key's, and it holds the old k1.
        $target = Get-TargetBackupPath $run
        $target | Should -Not -BeNullOrEmpty
        $backupLine = [array]::IndexOf($run.Host, @($run.Host | Where-Object { $_ -like 'The target vault was backed up to *' })[0])
        $firstKeyLine = [array]::IndexOf($run.Host, @($run.Host | Where-Object { $_ -like 'Importing key k1 *' })[0])
        $backupLine | Should -BeLessThan $firstKeyLine
        $manifest = Read-Manifest $target
        $manifest.purpose | Should -BeExactly 'preRestore'
        $manifest.label | Should -BeLike 'pre-restore backup of *'
        @($manifest.keys | ForEach-Object name) | Should -Be @('k1') -Because 'every key of vault B but the wrapping key'
        $run.Host[-1] | Should -BeExactly "Restore of ${backup}: 1 imported, 1 replaced, 0 already there, 0 in conflict, 0 skipped, 0 failed."

        # The pre-restore backup, restored into a fresh vault, gives back the replaced key.
        Add-WrappingKey $w $w.VaultC
        $back = Assert-Clean (Invoke-Captured { Import-TVMKeys $target $Wrap -VaultPath $w.VaultC -SkipTargetBackup })
        Format-Restores $back | Should -Be @('k1=Imported/')
        (Get-Fingerprints $w.VaultC)['k1'] | Should -Be $old
    }

    It '-IfExists Replace on the stand-in: the key is exported into the target backup before it is removed and imported again' {
        Import-MocStandIn
        $w = New-Work 'moc'
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterA')
        Add-StandInKey @('k1', 'k2')
        $backup = (Get-SingleBackup @(Backup-TVMKeys $w.Public $w.Root -ErrorAction Stop 6>$null)).Path
        Set-StandInCluster -StateRoot (Join-Path $w.Dir 'clusterB')
        $null = Import-TvmWrappingKeyFromPem $Wrap $w.Public $w.Private 2048 -ErrorAction Stop 6>$null
        Add-StandInKey 'k2'
        Clear-MocStandInCall

        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -IfExists Replace -PrivateKeyPath $w.Private -TargetBackupRootPath $w.Pre -Force })

        Format-Restores $run | Should -Be @('k1=Imported/', 'k2=Replaced/Different')
        $calls = @(Get-StandInCall | ForEach-Object { "$($_.Command) $($_.Parameters['name'])".Trim() })
        $exportK2 = [array]::LastIndexOf($calls, 'Export-MocKey k2')
        $removeK2 = [array]::IndexOf($calls, 'Remove-MocKey k2')
        $importK2 = [array]::IndexOf($calls, 'Import-MocKey k2')
        $exportK2 | Should -BeGreaterOrEqual 0 -Because "k2 is exported for the comparison and for the target backup`n$($calls -join "`n")"
        $removeK2 | Should -BeGreaterThan $exportK2 -Because "k2 is removed only after the target backup holds it`n$($calls -join "`n")"
        $importK2 | Should -BeGreaterThan $removeK2
        @($calls | Where-Object { $_ -like 'Remove-MocKey *' }) | Should -Be @('Remove-MocKey k2')
        $target = Get-TargetBackupPath $run
        [IO.Path]::GetDirectoryName($target) | Should -Be $w.Pre
        @((Read-Manifest $target).keys | ForEach-Object name) | Should -Be @('k2')
    }

    It '-IfExists Replace without -Force in a non-interactive session asks, cannot, and replaces nothing' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')
        Add-VaultKey $w.VaultB 'k1'
        $old = (Read-VaultKeyFile $w.VaultB 'k1').MaterialText

        $run = Invoke-InChild $w "Import-TVMKeys -BackupPath '$backup' -WrappingKeyName $Wrap -VaultPath `$w.VaultB -IfExists Replace -PrivateKeyPath `$w.Private"

        $run.ExitCode | Should -Not -Be 0 -Because ($run.Lines -join "`n")
        $run.StdErr | Should -Not -BeNullOrEmpty
        @($run.Objects | Where-Object { $_ -like '* Replaced' }) | Should -BeNullOrEmpty
        (Read-VaultKeyFile $w.VaultB 'k1').MaterialText | Should -BeExactly $old
    }

    It '-SkipTargetBackup takes no target backup' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1')
        $folders = @(Get-BackupFolders $w.Root)
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -SkipTargetBackup -TargetBackupRootPath $w.Pre })
        Format-Restores $run | Should -Be @('k1=Imported/')
        Get-TargetBackupPath $run | Should -BeNullOrEmpty
        @(Get-BackupFolders $w.Root) | Should -Be $folders
        [IO.Directory]::Exists($w.Pre) | Should -BeFalse
    }
}

Describe '-WhatIf writes nothing under the work folder' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'Import-TVMKeys -WhatIf into a vault with the wrapping key: What if lines for the target backup, each key and the wrapping key''s removal' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $before = Get-TreeState $w.Dir

        $run = Invoke-InChild $w "Import-TVMKeys -BackupPath '$backup' -WrappingKeyName $Wrap -VaultPath `$w.VaultB -RemoveWrappingKey -WhatIf"

        $run.StdErr | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Assert-SameTree $before (Get-TreeState $w.Dir)
        $run.WhatIf.Count | Should -Be 4 -Because ($run.Lines -join "`n")
        $run.WhatIf[0] | Should -BeExactly "What if: Performing the operation `"Back up the target vault before the restore`" on target `"$($w.Root)`"."
        $run.WhatIf[1] | Should -BeExactly 'What if: Performing the operation "Import key into the vault" on target "k1 (AES 256)".'
        $run.WhatIf[2] | Should -BeExactly "What if: Performing the operation `"Import key into the vault`" on target `"$RootKey (RSA 2048)`"."
        $run.Objects | Should -Be @('TvmKeyRestore k1 Skipped', "TvmKeyRestore $RootKey Skipped")
        $run.WhatIf[3] | Should -BeLikeExactly 'What if: Performing the operation "Remove the wrapping key from the vault" on target "wrap*".'
        $run.WhatIf[3] | Should -Match 'on target "wrap( \(RSA 2048\))?"\.$' -Because 'the wrapping key is RSA-2048, not "RSA 0"'
    }

    It 'Import-TVMKeys -WhatIf into a fresh vault without the wrapping key: a warning naming it, What if lines, no error' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')
        $fresh = Join-Path $w.Dir 'vault-fresh'
        $before = Get-TreeState $w.Dir

        $run = Invoke-InChild $w "Import-TVMKeys -BackupPath '$backup' -WrappingKeyName $Wrap -VaultPath '$fresh' -WhatIf"

        $run.StdErr | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Assert-SameTree $before (Get-TreeState $w.Dir)
        [IO.Directory]::Exists($fresh) | Should -BeFalse
        @($run.Warnings | Where-Object { $_ -like "*'$Wrap'*" }).Count | Should -Be 1 -Because ($run.Lines -join "`n")
        $run.WhatIf | Should -Be @(
            "What if: Performing the operation `"Back up the target vault before the restore`" on target `"$($w.Root)`"."
            'What if: Performing the operation "Import key into the vault" on target "k1 (AES 256)".'
            'What if: Performing the operation "Import key into the vault" on target "k2 (AES 256)".'
        )
        $run.Objects | Should -Be @('TvmKeyRestore k1 Skipped', 'TvmKeyRestore k2 Skipped')
    }

    It 'Backup-TVMKeys -KeyName -WhatIf: one What if line, no backup' {
        $w = New-Work
        Add-VaultKey $w.VaultA @('k1', $VmId.ToString())
        $before = Get-TreeState $w.Dir

        $run = Invoke-InChild $w "Backup-TVMKeys -WrappingKeyPath `$w.Public -BackupRootPath `$w.Root -VaultPath `$w.VaultA -KeyName '$VmId' -WhatIf"

        $run.StdErr | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Assert-SameTree $before (Get-TreeState $w.Dir)
        [IO.Directory]::Exists($w.Root) | Should -BeFalse
        $run.WhatIf.Count | Should -Be 1
        $run.WhatIf[0] | Should -Match "^What if: Performing the operation `"Back up the TVM vault keys into a new backup \d{14}`" on target `"$([regex]::Escape($w.Root))`"\.$"
        $run.Objects | Should -BeNullOrEmpty
    }

    It 'New-TvmWrappingKey -WhatIf: one What if line, no key file' {
        $w = New-Work
        $public = Join-Path $w.Dir 'new-public.pem'
        $private = Join-Path $w.Dir 'new-private.pem'
        $before = Get-TreeState $w.Dir

        $run = Invoke-InChild $w "New-TvmWrappingKey -PublicKeyPath '$public' -PrivateKeyPath '$private' -Password (ConvertTo-SecureString pw -AsPlainText -Force) -WhatIf"

        $run.StdErr | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Assert-SameTree $before (Get-TreeState $w.Dir)
        $run.WhatIf | Should -Be @("What if: Performing the operation `"Write a new RSA-2048 wrapping key pair`" on target `"$public, $private`".")
        $run.Objects | Should -BeNullOrEmpty
    }
}

Describe 'A VM on the pipeline' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'Import-TVMKeys restores exactly the key named by the VMId of a VM-shaped object' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', $VmId.ToString(), 'k3')

        $run = Assert-Clean (Invoke-Captured { $Vm | Import-TVMKeys -BackupPath $backup -WrappingKeyName $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre })

        Format-Restores $run | Should -Be @("$VmId=Imported/")
        Get-VaultNames $w.VaultB | Should -Be @(Sort-Ordinal @($VmId.ToString(), $Wrap))
        (Get-Fingerprints $w.VaultB)[$VmId.ToString()] | Should -Be (Get-Fingerprints $w.VaultA)[$VmId.ToString()]
    }

    It 'two VMs on the pipeline are restored in one run (one pre-restore backup, one summary)' {
        $w = New-Work
        $other = [guid]'1a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d'
        $backup = Initialize-Restore $w @('k1', $VmId.ToString(), $other.ToString())
        $vms = @($Vm, [pscustomobject]@{ VMId = $other; Name = 'web02'; Path = 'C:\whatever2' })

        $run = Assert-Clean (Invoke-Captured { $vms | Import-TVMKeys -BackupPath $backup -WrappingKeyName $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre })

        Sort-Ordinal @(Get-Restores $run | ForEach-Object { "$($_.Name)=$($_.Outcome)" }) | Should -Be @(Sort-Ordinal @("$VmId=Imported", "$other=Imported"))
        @($run.Host | Where-Object { $_ -like 'Importing TVM  keys from *' }).Count | Should -Be 1
        @($run.Host | Where-Object { $_ -like 'Restore of *' }).Count | Should -Be 1
        @(Get-BackupFolders $w.Pre).Count | Should -Be 1
        Get-VaultNames $w.VaultB | Should -Be @(Sort-Ordinal @($VmId.ToString(), $other.ToString(), $Wrap))
    }

    It '-KeyName takes wildcards and ignores case' {
        $w = New-Work
        $backup = Initialize-Restore $w @('vm-a', 'vm-b', 'other')
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -KeyName 'VM-*' -SkipTargetBackup })
        Format-Restores $run | Should -Be @('vm-a=Imported/', 'vm-b=Imported/')
        Get-VaultNames $w.VaultB | Should -Be @('vm-a', 'vm-b', $Wrap)
    }

    It 'an unknown VMId is terminating KeyNotInBackup naming it, and writes nothing' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', $VmId.ToString())
        $unknown = [guid]'99999999-8888-4777-8666-555555555555'
        $before = Get-TreeState $w.Dir

        $run = Invoke-Captured { [pscustomobject]@{ VMId = $unknown; Name = 'ghost'; Path = 'C:\ghost' } | Import-TVMKeys -BackupPath $backup -WrappingKeyName $Wrap -VaultPath $w.VaultB }

        $e = Assert-TvmTerminating $run 'KeyNotInBackup' ObjectNotFound
        Get-ErrorText $e | Should -BeLike "*$unknown*"
        Get-Restores $run | Should -BeNullOrEmpty
        Assert-SameTree $before (Get-TreeState $w.Dir)
    }

    It 'Backup-TVMKeys with the VM on the pipeline backs up exactly its key' {
        $w = New-Work
        Add-VaultKey $w.VaultA @('k1', $VmId.ToString(), @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })

        $run = Assert-Clean (Invoke-Captured { $Vm | Backup-TVMKeys -WrappingKeyPath $w.Public -BackupRootPath $w.Root -VaultPath $w.VaultA })

        $backup = Get-SingleBackup $run.Output
        @($backup.Keys | ForEach-Object Name) | Should -Be @($VmId.ToString())
        @((Read-Manifest $backup.Path).keys | ForEach-Object name) | Should -Be @($VmId.ToString())
        Sort-Ordinal @(Get-ChildItem -LiteralPath $backup.Path -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($backup.Path, $_.FullName).Replace('\', '/') }) |
            Should -Be @("AES/${VmId}_256.json", 'manifest.json')
    }

    It 'Backup-TVMKeys -KeyName takes wildcards and ignores case' {
        $w = New-Work
        Add-VaultKey $w.VaultA @('k1', $VmId.ToString())
        $run = Assert-Clean (Invoke-Captured { Backup-TVMKeys $w.Public $w.Root -VaultPath $w.VaultA -KeyName '0F8C3A52-*' })
        @((Get-SingleBackup $run.Output).Keys | ForEach-Object Name) | Should -Be @($VmId.ToString())
    }

    It 'Backup-TVMKeys -KeyName of a key the vault lacks is terminating KeyNotInVault, and writes no backup' {
        $w = New-Work
        Add-VaultKey $w.VaultA @('k1')
        $run = Invoke-Captured { Backup-TVMKeys $w.Public $w.Root -VaultPath $w.VaultA -KeyName 'k1', 'nosuch' }
        $e = Assert-TvmTerminating $run 'KeyNotInVault' ObjectNotFound
        Get-ErrorText $e | Should -BeLike '*nosuch*'
        [IO.Directory]::Exists($w.Root) | Should -BeFalse
    }
}

Describe 'The attestation root key AzureStackTvmAKRootKey' {
    BeforeAll {
        Clear-TvmVaultPath
        $w = New-Work 'akroot'
        $backup = Initialize-Restore $w @('k1', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $fromA = Get-Fingerprints $w.VaultA
        $advice = '*-ReplaceAttestationRootKey*'
    }
    AfterAll { Restore-TvmVaultPath }

    It 'absent from the target: Imported; then, the same key: Exists, Same' {
        $first = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre })
        Format-Restores $first | Should -Be @('k1=Imported/', "$RootKey=Imported/")
        (Get-Fingerprints $w.VaultB)[$RootKey] | Should -Be $fromA[$RootKey]

        $second = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -KeyName $RootKey })
        Format-Restores $second | Should -Be @("$RootKey=Exists/Same")
    }

    Context 'different in the target' {
        BeforeEach {
            $vault = Join-Path $w.Dir "vault-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
            Add-WrappingKey $w $vault
            Add-VaultKey $vault @(@{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
            $theirs = (Get-Fingerprints $vault)[$RootKey]
        }

        # Every cluster has its own root key: on a new cluster a different one is as it should be, so it is said (a
        # warning with the advice for a restore to the same instance), not an error.
        It 'is Exists/Different: a warning giving the advice (-ReplaceAttestationRootKey), no error, $? true, the key left as it is' {
            $run = Invoke-Captured {
                Import-TVMKeys $backup $Wrap -VaultPath $vault -TargetBackupRootPath $w.Pre
                [pscustomobject]@{ PSTypeName = 'RestoreSafety.Status'; Succeeded = $? }
            }

            $run.Terminating | Should -BeNullOrEmpty
            (Get-Fingerprints $vault)[$RootKey] | Should -Be $theirs -Because 'the vault''s root key is left as it is'
            @($run.Warnings | Where-Object { $_ -like "*$RootKey*" -and $_ -like $advice }).Count | Should -Be 1 -Because (Format-Captured $run)
            Format-Restores $run | Should -Be @('k1=Imported/', "$RootKey=Exists/Different")
            Get-Succeeded $run | Should -BeTrue
            $run.Errors | Should -BeNullOrEmpty
        }

        It '-ReplaceAttestationRootKey replaces it, after the target backup that holds the old one' {
            # -Force: a replacement asks (ShouldContinue) otherwise
            $replace = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $vault -ReplaceAttestationRootKey -Force -TargetBackupRootPath $w.Pre })

            Format-Restores $replace | Should -Be @('k1=Imported/', "$RootKey=Replaced/Different")
            (Get-Fingerprints $vault)[$RootKey] | Should -Be $fromA[$RootKey]
            $target = Get-TargetBackupPath $replace
            $target | Should -Not -BeNullOrEmpty -Because 'the replaced root key is backed up first'
            @((Read-Manifest $target).keys | ForEach-Object name) | Should -Be @($RootKey)
            # The pre-restore backup gives the cluster's own root key back.
            $fresh = Join-Path $w.Dir "vault-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
            Add-WrappingKey $w $fresh
            $null = Assert-Clean (Invoke-Captured { Import-TVMKeys $target $Wrap -VaultPath $fresh -SkipTargetBackup })
            (Get-Fingerprints $fresh)[$RootKey] | Should -Be $theirs
        }

        It 'is not replaced by -IfExists Replace alone, which is for the VM keys' {
            $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $vault -IfExists Replace -Force -TargetBackupRootPath $w.Pre }

            $run.Terminating | Should -BeNullOrEmpty
            @(Get-Restores $run | Where-Object Name -EQ $RootKey | ForEach-Object { "$($_.Outcome)" }) | Should -Not -Contain 'Replaced'
            (Get-Fingerprints $vault)[$RootKey] | Should -Be $theirs -Because 'a new cluster keeps its own attestation root key unless -ReplaceAttestationRootKey says otherwise'
            @($run.Warnings | Where-Object { $_ -like "*$RootKey*" -and $_ -like $advice }).Count | Should -Be 1 -Because (Format-Captured $run)
        }
    }
}

Describe 'AES keys the vault holds already' {
    BeforeAll {
        Clear-TvmVaultPath
        $w = New-Work 'aes'
        $backup = Initialize-Restore $w @('k1', 'k2')
        $null = Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -SkipTargetBackup -ErrorAction Stop 6>$null
        # Vault C: the wrapping key and a k1 of its own material.
        Add-WrappingKey $w $w.VaultC
        Add-VaultKey $w.VaultC 'k1'
        $password = ConvertTo-SecureString 'test' -AsPlainText -Force
    }
    AfterAll { Restore-TvmVaultPath }

    It 'the same key, with -PrivateKeyPath: Exists, Same' {
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -PrivateKeyPath $w.Private })
        Format-Restores $run | Should -Be @('k1=Exists/Same', 'k2=Exists/Same')
    }

    It 'the same key, with an encrypted -PrivateKeyPath and its -Password: Exists, Same' {
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -PrivateKeyPath (Get-TestVector 'encrypted_private_pkcs8.pem') -Password $password })
        Format-Restores $run | Should -Be @('k1=Exists/Same', 'k2=Exists/Same')
    }

    It 'an encrypted -PrivateKeyPath with a wrong -Password is terminating PemPasswordWrong, and writes nothing' {
        $before = Get-TreeState $w.Dir
        $wrong = ConvertTo-SecureString 'wrong' -AsPlainText -Force
        $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultC -PrivateKeyPath (Get-TestVector 'encrypted_private_pkcs8.pem') -Password $wrong }
        $null = Assert-TvmTerminating $run 'PemPasswordWrong' SecurityError
        Assert-SameTree $before (Get-TreeState $w.Dir)
    }

    It 'different material, with -PrivateKeyPath: Conflict, a KeyConflict error, $? false, the key left as it is' {
        $before = (Read-VaultKeyFile $w.VaultC 'k1').MaterialText
        $run = Invoke-Captured {
            Import-TVMKeys $backup $Wrap -VaultPath $w.VaultC -PrivateKeyPath $w.Private -KeyName k1
            [pscustomobject]@{ PSTypeName = 'RestoreSafety.Status'; Succeeded = $? }
        }
        $run.Terminating | Should -BeNullOrEmpty
        Format-Restores $run | Should -Be @('k1=Conflict/Different')
        Get-Succeeded $run | Should -BeFalse
        @($run.Warnings | Where-Object { $_ -like '*k1*' }).Count | Should -Be 1
        @($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] }) | Should -Be @('KeyConflict')
        (Read-VaultKeyFile $w.VaultC 'k1').MaterialText | Should -BeExactly $before
    }

    It 'without -PrivateKeyPath: Exists, NotCompared, saying why' {
        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultC -KeyName k1 })
        Format-Restores $run | Should -Be @('k1=Exists/NotCompared')
        (Get-Restores $run)[0].Message | Should -BeLike '*-PrivateKeyPath*'
    }
}

Describe '-RemoveWrappingKey' {
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'after a clean restore the wrapping key is gone from the vault' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')

        $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -RemoveWrappingKey -TargetBackupRootPath $w.Pre })

        Format-Restores $run | Should -Be @('k1=Imported/', 'k2=Imported/')
        Get-VaultNames $w.VaultB | Should -Be @('k1', 'k2')
        Test-Path -LiteralPath (Get-VaultKeyFile $w.VaultB $Wrap) | Should -BeFalse
        $run.Host | Should -Contain "The wrapping key $Wrap was removed from the vault."
    }

    It 'after a restore with a key in conflict the wrapping key stays, with a warning naming it' {
        $w = New-Work
        $backup = Initialize-Restore $w @('k1', 'k2')
        Add-VaultKey $w.VaultB 'k1'

        $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -PrivateKeyPath $w.Private -RemoveWrappingKey -TargetBackupRootPath $w.Pre }

        $run.Terminating | Should -BeNullOrEmpty
        Format-Restores $run | Should -Be @('k1=Conflict/Different', 'k2=Imported/')
        Get-VaultNames $w.VaultB | Should -Be @('k1', 'k2', $Wrap)
        @($run.Warnings | Where-Object { $_ -like "*$Wrap*left in the vault*" }).Count | Should -Be 1 -Because (Format-Captured $run)
    }

    Context 'after a restore with a failed key' {
        BeforeAll {
            $w = New-Work
            $backup = Initialize-Restore $w @('k1', 'k2')
            $damaged = Join-Path $backup 'AES/k2_256.json'
            [IO.File]::WriteAllText($damaged, '{"public-key":"","private-key":')
            # -Force: without it the damaged backup is refused as a whole (BackupDamaged) and no key fails alone.
            $run = Invoke-Captured { Import-TVMKeys $backup $Wrap -VaultPath $w.VaultB -RemoveWrappingKey -TargetBackupRootPath $w.Pre -Force }
            $damage = @($run.Warnings | Where-Object { $_ -like 'The backup * is damaged at *' })
            $warning = @($run.Warnings | Where-Object { $_ -like "*$Wrap*" -and $_ -notlike 'The backup * is damaged at *' })
        }

        It 'the wrapping key stays, with a warning naming it' {
            $run.Terminating | Should -BeNullOrEmpty
            $damage.Count | Should -BeGreaterOrEqual 1 -Because 'with -Force each finding on the damaged backup is a warning'
            foreach ($d in $damage) { $d | Should -BeLike "The backup $backup is damaged at AES/k2_256.json: *" }
            Format-Restores $run | Should -Be @('k1=Imported/', 'k2=Failed/')
            @($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] }) | Should -Be @('KeyImportFailed')
            Get-VaultNames $w.VaultB | Should -Be @('k1', $Wrap)
            $warning.Count | Should -Be 1 -Because (Format-Captured $run)
            $warning[0] | Should -BeLike '*left in the vault*'
        }

        It 'the warning''s advice names only commands the module has' {
            $warning.Count | Should -Be 1
            $commands = @([regex]::Matches($warning[0], '\b[A-Z][a-z]+-[A-Za-z]+\b') | ForEach-Object Value)
            foreach ($c in $commands) {
                Get-Command -Name $c -Module TvmBackupUtils -ErrorAction SilentlyContinue | Should -Not -BeNullOrEmpty -Because "the warning tells the user to run $c"
            }
        }
    }
}

Describe 'A damaged backup' {
    # Import-TVMKeys checks the backup first as Test-TVMKeyBackup does (the manifest, every key file's bytes, name and
    # content): a damaged backup is refused as a whole (BackupDamaged, nothing written); -Force restores only the key
    # files that are intact, with a warning per finding. Real files, local vaults, the vector wrapping key.
    BeforeAll {
        # Three AES keys and the attestation root key (so the backup has no warning of its own), in restore order.
        $script:DamagedKeys = @('k1', 'k2', 'k3', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })

        # A work folder whose backup of $DamagedKeys (vault A) is at Backup, with the wrapping key in vault B.
        function New-DamagedWork {
            $w = New-Work 'damaged'
            $backup = Initialize-Restore $w $DamagedKeys
            $w | Add-Member -NotePropertyName Backup -NotePropertyValue $backup -PassThru
        }

        # Changes one character of the wrapped key in the key file -Path (one byte; the file stays valid JSON of the
        # same length).
        function Set-OneByte([string] $Path) {
            $text = [IO.File]::ReadAllText($Path)
            $i = $text.IndexOf('"private-key":"', [StringComparison]::Ordinal) + '"private-key":"'.Length + 40
            $new = if ($text[$i] -ceq 'A') { 'B' } else { 'A' }
            $changed = $text.Substring(0, $i) + $new + $text.Substring($i + 1)
            [IO.File]::WriteAllText($Path, $changed)
            $null = $changed | ConvertFrom-Json
            [IO.File]::ReadAllBytes($Path).Length | Should -Be ([Text.Encoding]::UTF8.GetByteCount($text))
        }

        # Swaps the contents of two files.
        function Switch-FileContent([string] $A, [string] $B) {
            $bytesA = [IO.File]::ReadAllBytes($A)
            [IO.File]::WriteAllBytes($A, [IO.File]::ReadAllBytes($B))
            [IO.File]::WriteAllBytes($B, $bytesA)
        }

        # Asserts that a captured run refused the backup -Backup as a whole: a terminating BackupDamaged (InvalidData)
        # whose message names each of -Files and says -Force, no restore object and no other error. Returns the error.
        function Assert-Refused($Run, [string] $Backup, [string[]] $Files) {
            $e = Assert-TvmTerminating $Run BackupDamaged InvalidData
            $message = $e.Exception.Message
            $message | Should -BeLikeExactly "Nothing was imported: the backup $Backup is damaged (* finding*). $($Files[0]): *"
            foreach ($f in $Files) { $message | Should -BeLikeExactly "*$($f): *" -Because "the message names $f" }
            $message | Should -BeLikeExactly '*run Import-TVMKeys again with -Force to restore only the key files that are intact.'
            Get-Restores $Run | Should -BeNullOrEmpty
            $Run.Errors | Should -BeNullOrEmpty
            $e
        }

        # Asserts that the warnings of a -Force run are the findings on -Files of -Backup, each file at least once.
        function Assert-DamageWarning($Run, [string] $Backup, [string[]] $Files) {
            $Run.Warnings.Count | Should -BeGreaterOrEqual $Files.Count -Because (Format-Captured $Run)
            foreach ($warning in $Run.Warnings) {
                $warning | Should -BeLikeExactly "The backup $Backup is damaged at *: *Only intact key files are restored (-Force)."
            }
            foreach ($f in $Files) {
                @($Run.Warnings | Where-Object { $_ -like "The backup $Backup is damaged at ${f}: *" }).Count | Should -BeGreaterOrEqual 1 -Because "a warning names $f"
            }
        }

        # Asserts that the keys -Names of vault B have the material of vault A's (their fingerprints), and that the
        # keys -Missing are not in vault B.
        function Assert-RestoredFromSource($Work, [string[]] $Names, [string[]] $Missing) {
            $source = Get-Fingerprints $Work.VaultA
            $target = Get-Fingerprints $Work.VaultB
            foreach ($n in $Names) {
                $target[$n] | Should -Not -BeNullOrEmpty -Because "$n was restored"
                $target[$n] | Should -BeExactly $source[$n] -Because "$n has the material of the backed-up key"
            }
            foreach ($n in $Missing) {
                $target.Contains($n) | Should -BeFalse -Because "$n was not restored"
                Test-Path -LiteralPath (Get-VaultKeyFile $Work.VaultB $n) | Should -BeFalse
            }
        }
    }
    BeforeEach { Clear-TvmVaultPath }
    AfterEach { Restore-TvmVaultPath }

    It 'a key file changed by one byte (still valid JSON) is refused: terminating BackupDamaged naming the file and -Force, the vault unchanged, no pre-restore backup' {
        $w = New-DamagedWork
        Add-VaultKey $w.VaultB 'other'
        Set-OneByte (Join-Path $w.Backup 'AES/k2_256.json')
        $vaultBefore = Get-FolderState $w.VaultB
        $before = Get-TreeState $w.Dir

        $run = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre }

        $e = Assert-Refused $run $w.Backup @('AES/k2_256.json')
        $e.Exception.Message | Should -BeLikeExactly "Nothing was imported: the backup $($w.Backup) is damaged (1 finding). AES/k2_256.json: *"
        $vaultAfter = Get-FolderState $w.VaultB
        $vaultAfter | Should -Be $vaultBefore -Because 'the target vault is byte for byte as it was'
        $vaultBefore.Count | Should -BeGreaterOrEqual 3
        [IO.Directory]::Exists($w.Pre) | Should -BeFalse -Because 'no pre-restore backup was made'
        Assert-SameTree $before (Get-TreeState $w.Dir)

        # Without -TargetBackupRootPath the pre-restore backup would go to the backup's own root: none there either.
        $run = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB }
        $null = Assert-Refused $run $w.Backup @('AES/k2_256.json')
        Get-TargetBackupPath $run | Should -BeNullOrEmpty
        @(Get-BackupFolders $w.Root) | Should -Be @(Split-Path $w.Backup -Leaf)
        Assert-SameTree $before (Get-TreeState $w.Dir)
    }

    It 'a key file changed by one byte, with -Force: the other keys are restored with the material of the source, the damaged one Failed, a warning naming it' {
        $w = New-DamagedWork
        Set-OneByte (Join-Path $w.Backup 'AES/k2_256.json')

        $run = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre -Force }

        $run.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $run)
        Format-Restores $run | Should -Be @('k1=Imported/', 'k2=Failed/', 'k3=Imported/', "$RootKey=Imported/")
        $failed = @(Get-Restores $run | Where-Object Name -EQ 'k2')
        # Only the manifest tells this file is damaged (its own checks pass): it fails with BackupDamaged.
        $failed[0].ErrorId | Should -BeExactly 'BackupDamaged'
        $failed[0].Message | Should -BeLike '*AES/k2_256.json*'
        @($run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] + " $($_.TargetObject)" }) | Should -Be @('KeyImportFailed k2')
        Assert-DamageWarning $run $w.Backup @('AES/k2_256.json')
        $run.Warnings.Count | Should -Be 1 -Because 'one finding: the file''s bytes are not those the manifest recorded'
        Assert-RestoredFromSource $w @('k1', 'k3', $RootKey) @('k2')
        Get-TargetBackupPath $run | Should -Not -BeNullOrEmpty -Because 'a restore that writes takes its pre-restore backup'
    }

    It 'two AES key files swapped: Test-TVMKeyBackup names both, Import-TVMKeys refuses, -Force restores neither of the two and the rest' {
        $w = New-DamagedWork
        Switch-FileContent (Join-Path $w.Backup 'AES/k1_256.json') (Join-Path $w.Backup 'AES/k2_256.json')

        $check = Invoke-Captured { Test-TVMKeyBackup $w.Backup }
        $result = @(Get-OfType $check.Output TvmBackupCheck)
        $result.Count | Should -Be 1
        "$($result[0].Status)" | Should -Be 'Damaged'
        Sort-Ordinal @($result[0].Findings | ForEach-Object { [string]$_.File } | Select-Object -Unique) | Should -Be @('AES/k1_256.json', 'AES/k2_256.json')
        @($check.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] }) | Should -Be @('BackupDamaged')

        $before = Get-TreeState $w.Dir
        $run = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre }
        $null = Assert-Refused $run $w.Backup @('AES/k1_256.json', 'AES/k2_256.json')
        Assert-SameTree $before (Get-TreeState $w.Dir)

        $forced = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre -Force }
        $forced.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $forced)
        Format-Restores $forced | Should -Be @('k1=Failed/', 'k2=Failed/', 'k3=Imported/', "$RootKey=Imported/")
        @($forced.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] + " $($_.TargetObject)" }) | Should -Be @('KeyImportFailed k1', 'KeyImportFailed k2')
        Assert-DamageWarning $forced $w.Backup @('AES/k1_256.json', 'AES/k2_256.json')
        Assert-RestoredFromSource $w @('k3', $RootKey) @('k1', 'k2')
    }

    It 'a key file duplicated under another name: refused; -Force imports the original and not the copy' {
        $w = New-DamagedWork
        Copy-Item -LiteralPath (Join-Path $w.Backup 'AES/k1_256.json') -Destination (Join-Path $w.Backup 'AES/k9_256.json')
        $before = Get-TreeState $w.Dir

        $run = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre }
        $null = Assert-Refused $run $w.Backup @('AES/k9_256.json')
        Assert-SameTree $before (Get-TreeState $w.Dir)

        $forced = Invoke-Captured { Import-TVMKeys $w.Backup $Wrap -VaultPath $w.VaultB -TargetBackupRootPath $w.Pre -Force }
        $forced.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $forced)
        Format-Restores $forced | Should -Be @('k1=Imported/', 'k2=Imported/', 'k3=Imported/', 'k9=Failed/', "$RootKey=Imported/")
        @($forced.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] + " $($_.TargetObject)" }) | Should -Be @('KeyImportFailed k9')
        Assert-DamageWarning $forced $w.Backup @('AES/k9_256.json')
        @($forced.Warnings | Where-Object { $_ -like '*AES/k1_256.json:*' }) | Should -BeNullOrEmpty -Because 'the original is intact'
        Assert-RestoredFromSource $w @('k1', 'k2', 'k3', $RootKey) @('k9')
    }

    It '-WhatIf on a damaged backup still refuses it (BackupDamaged) and writes nothing, the temporary folder included' {
        $w = New-DamagedWork
        Set-OneByte (Join-Path $w.Backup 'AES/k2_256.json')
        $before = Get-TreeState $w.Dir

        $run = Invoke-InNewPwsh -Body 'Import-TVMKeys -BackupPath $Backup -WrappingKeyName wrap -VaultPath $VaultB -WhatIf' `
            -Variables @{ Backup = $w.Backup; VaultB = $w.VaultB } -Environment @{ TMPDIR = $w.Tmp }

        $null = Assert-Refused $run $w.Backup @('AES/k2_256.json')
        Assert-SameTree $before (Get-TreeState $w.Dir)
    }
}

Describe 'New-TvmWrappingKey' {
    BeforeAll {
        $dir = New-TestFolder 'newkey'
        $password = ConvertTo-SecureString 'Correct horse battery staple' -AsPlainText -Force
        $plain = New-TvmWrappingKey -PublicKeyPath (Join-Path $dir 'public.pem') -PrivateKeyPath (Join-Path $dir 'private.pem') -ErrorAction Stop 6>$null
        $encrypted = New-TvmWrappingKey -PublicKeyPath (Join-Path $dir 'enc-public.pem') -PrivateKeyPath (Join-Path $dir 'enc-private.pem') `
            -Password $password -ErrorAction Stop 6>$null
    }

    It 'writes TvmWrappingKeyFiles with the paths, the size, the fingerprint and whether it is encrypted' {
        foreach ($o in $plain, $encrypted) {
            $o.GetType().FullName | Should -BeExactly 'TvmBackupUtils.TvmWrappingKeyFiles'
            $o.KeySize | Should -Be 2048
            $o.Fingerprint | Should -Match '^[0-9a-f]{32}$'
        }
        $plain.PublicKeyPath | Should -Be (Join-Path $dir 'public.pem')
        $plain.PrivateKeyPath | Should -Be (Join-Path $dir 'private.pem')
        $plain.Encrypted | Should -BeFalse
        $encrypted.Encrypted | Should -BeTrue
        $plain.Fingerprint | Should -Not -Be $encrypted.Fingerprint
        [IO.File]::ReadAllText($plain.PublicKeyPath) | Should -BeLike '-----BEGIN RSA PUBLIC KEY-----*-----END RSA PUBLIC KEY-----*'
        [IO.File]::ReadAllText($plain.PrivateKeyPath) | Should -BeLike '-----BEGIN PRIVATE KEY-----*-----END PRIVATE KEY-----*'
        [IO.File]::ReadAllText($encrypted.PrivateKeyPath) | Should -BeLike '-----BEGIN ENCRYPTED PRIVATE KEY-----*-----END ENCRYPTED PRIVATE KEY-----*'
    }

    It 'encrypts the private key with PBES2: PBKDF2 with HMAC-SHA256, AES-256-CBC' {
        Add-Type -AssemblyName System.Formats.Asn1
        $der = Get-PemDer $encrypted.PrivateKeyPath
        $outer = [System.Formats.Asn1.AsnReader]::new($der, 'DER').ReadSequence()
        $algorithm = $outer.ReadSequence()
        $algorithm.ReadObjectIdentifier() | Should -Be '1.2.840.113549.1.5.13' -Because 'PBES2'
        $params = $algorithm.ReadSequence()
        $kdf = $params.ReadSequence()
        $kdf.ReadObjectIdentifier() | Should -Be '1.2.840.113549.1.5.12' -Because 'PBKDF2'
        $kdfParams = $kdf.ReadSequence()
        $null = $kdfParams.ReadOctetString()
        $null = $kdfParams.ReadInteger()
        if ($kdfParams.PeekTag().TagValue -eq 2) { $null = $kdfParams.ReadInteger() }   # keyLength, optional
        $kdfParams.ReadSequence().ReadObjectIdentifier() | Should -Be '1.2.840.113549.2.9' -Because 'HMAC-SHA256'
        $params.ReadSequence().ReadObjectIdentifier() | Should -Be '2.16.840.1.101.3.4.1.42' -Because 'AES-256-CBC'
    }

    It 'writes a pair Python''s cryptography reads: RSA-2048, the public key the private key''s' -Skip:$UnderWine {
        $r = Invoke-Python $PyCheckPair @($plain.PrivateKeyPath, $plain.PublicKeyPath)
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $r.Output | Should -Be @('2048 2048 True True')
        # and not the other pair's public key
        $r = Invoke-Python $PyCheckPair @($plain.PrivateKeyPath, $encrypted.PublicKeyPath)
        $r.Output | Should -Be @('2048 2048 False True')
    }

    It 'writes an encrypted private key Python''s cryptography opens with the password only' -Skip:$UnderWine {
        $r = Invoke-Python $PyCheckPair @($encrypted.PrivateKeyPath, $encrypted.PublicKeyPath, 'Correct horse battery staple')
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $r.Output | Should -Be @('2048 2048 True True')
        (Invoke-Python $PyCheckPair @($encrypted.PrivateKeyPath, $encrypted.PublicKeyPath, 'wrong')).ExitCode | Should -Not -Be 0
        (Invoke-Python $PyCheckPair @($encrypted.PrivateKeyPath, $encrypted.PublicKeyPath)).ExitCode | Should -Not -Be 0
    }

    It '-KeySize 3072 writes an RSA-3072 pair' -Skip:$UnderWine {
        $o = New-TvmWrappingKey -PublicKeyPath (Join-Path $dir 'p3072.pem') -PrivateKeyPath (Join-Path $dir 'k3072.pem') -KeySize 3072 -ErrorAction Stop 6>$null
        $o.KeySize | Should -Be 3072
        $r = Invoke-Python $PyCheckPair @($o.PrivateKeyPath, $o.PublicKeyPath)
        $r.Output | Should -Be @('3072 3072 True True') -Because ($r.Output -join "`n")
    }

    It 'refuses a -KeySize other than 2048, 3072 and 4096, and writes nothing' {
        $before = Get-TreeState $dir
        $e = Get-TerminatingError { New-TvmWrappingKey (Join-Path $dir 'p1024.pem') (Join-Path $dir 'k1024.pem') -KeySize 1024 }
        $e | Should -Not -BeNullOrEmpty
        $e.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError,*'
        Assert-SameTree $before (Get-TreeState $dir)
    }

    It 'writes both files readable and writable by the owner only (0600)' -Skip:(-not $IsLinux) {
        foreach ($f in $plain.PublicKeyPath, $plain.PrivateKeyPath, $encrypted.PublicKeyPath, $encrypted.PrivateKeyPath) {
            (Get-Item -LiteralPath $f).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') -Because $f
        }
    }

    It 'refuses existing files without -Force (WrappingKeyFileExists) and leaves them unchanged; -Force replaces them' {
        $before = Get-TreeState $dir
        $run = Invoke-Captured { New-TvmWrappingKey -PublicKeyPath $plain.PublicKeyPath -PrivateKeyPath $plain.PrivateKeyPath }
        $null = Assert-TvmTerminating $run 'WrappingKeyFileExists' ResourceExists
        Assert-SameTree $before (Get-TreeState $dir)

        # One of the two files existing is enough: the other is not written either.
        $lonePrivate = Join-Path $dir 'lone-private.pem'
        $run = Invoke-Captured { New-TvmWrappingKey -PublicKeyPath $plain.PublicKeyPath -PrivateKeyPath $lonePrivate }
        $e = Assert-TvmTerminating $run 'WrappingKeyFileExists' ResourceExists
        Get-ErrorText $e | Should -BeLike "*$($plain.PublicKeyPath)*"
        Test-Path -LiteralPath $lonePrivate | Should -BeFalse

        $forceDir = New-TestFolder 'force'
        $first = New-TvmWrappingKey (Join-Path $forceDir 'public.pem') (Join-Path $forceDir 'private.pem') -ErrorAction Stop 6>$null
        $firstPrivate = [IO.File]::ReadAllText($first.PrivateKeyPath)
        $second = New-TvmWrappingKey (Join-Path $forceDir 'public.pem') (Join-Path $forceDir 'private.pem') -Force -ErrorAction Stop 6>$null
        $second.Fingerprint | Should -Not -Be $first.Fingerprint
        [IO.File]::ReadAllText($second.PrivateKeyPath) | Should -Not -Be $firstPrivate
        Sort-Ordinal @(Get-ChildItem -LiteralPath $forceDir -Force | ForEach-Object Name) | Should -Be @('private.pem', 'public.pem')
        if ($IsLinux) { (Get-Item -LiteralPath $second.PrivateKeyPath).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') }
    }

    Context 'the pair in Import-TvmWrappingKeyFromPem and a restore' {
        BeforeEach { Clear-TvmVaultPath }
        AfterEach { Restore-TvmVaultPath }

        It 'the plain pair is accepted, and a backup made with its public key restores with it' {
            $w = New-Work
            Add-VaultKey $w.VaultA @('k1', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
            $backup = Get-SingleBackup @(Backup-TVMKeys $plain.PublicKeyPath $w.Root -VaultPath $w.VaultA -ErrorAction Stop 6>$null)
            $backup.WrappingKeyFingerprint | Should -Be $plain.Fingerprint

            $import = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem gen $plain.PublicKeyPath $plain.PrivateKeyPath 2048 -VaultPath $w.VaultB })
            (Get-OfType $import.Output TvmWrappingKey).Fingerprint | Should -Be $plain.Fingerprint
            $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup.Path gen -VaultPath $w.VaultB -PrivateKeyPath $plain.PrivateKeyPath })

            Format-Restores $run | Should -Be @('k1=Imported/', "$RootKey=Imported/")
            $a = Get-Fingerprints $w.VaultA
            $b = Get-Fingerprints $w.VaultB
            foreach ($name in $a.Keys) { $b[$name] | Should -Be $a[$name] -Because "$name is restored with its material" }
        }

        It 'the encrypted pair is accepted with -Password, and a backup made with its public key restores with it' {
            $w = New-Work
            Add-VaultKey $w.VaultA @('k1')
            $backup = Get-SingleBackup @(Backup-TVMKeys $encrypted.PublicKeyPath $w.Root -VaultPath $w.VaultA -ErrorAction Stop 6>$null)

            $import = Assert-Clean (Invoke-Captured { Import-TvmWrappingKeyFromPem gen $encrypted.PublicKeyPath $encrypted.PrivateKeyPath 2048 -VaultPath $w.VaultB -Password $password })
            (Get-OfType $import.Output TvmWrappingKey).Fingerprint | Should -Be $encrypted.Fingerprint
            $run = Assert-Clean (Invoke-Captured { Import-TVMKeys $backup.Path gen -VaultPath $w.VaultB -PrivateKeyPath $encrypted.PrivateKeyPath -Password $password })

            Format-Restores $run | Should -Be @('k1=Imported/')
            (Get-Fingerprints $w.VaultB)['k1'] | Should -Be (Get-Fingerprints $w.VaultA)['k1']
        }

        It 'a wrong -Password is terminating PemPasswordWrong, and nothing is written to the vault' {
            $w = New-Work
            Add-WrappingKey $w $w.VaultB
            $before = Get-TreeState $w.Dir
            $wrong = ConvertTo-SecureString 'Correct horse battery stapler' -AsPlainText -Force
            $run = Invoke-Captured { Import-TvmWrappingKeyFromPem gen $encrypted.PublicKeyPath $encrypted.PrivateKeyPath 2048 -VaultPath $w.VaultB -Password $wrong }
            $null = Assert-TvmTerminating $run 'PemPasswordWrong' SecurityError
            Assert-SameTree $before (Get-TreeState $w.Dir)
        }

        It 'the encrypted key without -Password in a non-interactive session is terminating PemEncrypted, and nothing is written' {
            $w = New-Work
            Add-WrappingKey $w $w.VaultB
            $before = Get-TreeState $w.Dir
            $run = Invoke-InNewPwsh -Body 'Import-TvmWrappingKeyFromPem gen $Public $Private 2048 -VaultPath $Vault' `
                -Variables ([ordered]@{ Public = $encrypted.PublicKeyPath; Private = $encrypted.PrivateKeyPath; Vault = $w.VaultB }) -Environment @{ TMPDIR = $w.Tmp }
            $e = Assert-TvmTerminating $run 'PemEncrypted' NotImplemented
            Get-ErrorText $e | Should -BeLike '*-Password*'
            Assert-SameTree $before (Get-TreeState $w.Dir)
        }

        It 'a truncated encrypted PEM is a terminating error naming the file, and nothing is written' {
            $w = New-Work
            Add-WrappingKey $w $w.VaultB
            $lines = @([IO.File]::ReadAllLines($encrypted.PrivateKeyPath))
            $cut = Join-Path $w.Dir 'cut-private.pem'
            $half = Join-Path $w.Dir 'half-private.pem'
            # the END line lost, and the base64 body cut with the END line kept
            [IO.File]::WriteAllText($cut, (($lines[0..([int]($lines.Count / 2))]) -join "`n") + "`n")
            [IO.File]::WriteAllText($half, (@($lines[0..([int]($lines.Count / 2))]) + $lines[-1] -join "`n") + "`n")
            $before = Get-TreeState $w.Dir
            foreach ($file in $cut, $half) {
                $run = Invoke-Captured { Import-TvmWrappingKeyFromPem gen $encrypted.PublicKeyPath $file 2048 -VaultPath $w.VaultB -Password $password }
                $run.Terminating | Should -Not -BeNullOrEmpty -Because $file
                "$($run.Terminating.FullyQualifiedErrorId)" | Should -BeLikeExactly 'Pem*,TvmBackupUtils.*'
                Get-ErrorText $run.Terminating | Should -BeLike "*$file*"
            }
            Assert-SameTree $before (Get-TreeState $w.Dir)
            Get-VaultNames $w.VaultB | Should -Be @($Wrap)
        }

        It 'a mismatched pair (the public key of one, the private key of the other) is terminating KeyPairMismatch, and nothing is written' {
            $w = New-Work
            Add-WrappingKey $w $w.VaultB
            $before = Get-TreeState $w.Dir
            $run = Invoke-Captured { Import-TvmWrappingKeyFromPem gen $encrypted.PublicKeyPath $plain.PrivateKeyPath 2048 -VaultPath $w.VaultB }
            $e = Assert-TvmTerminating $run 'KeyPairMismatch' SecurityError
            Get-ErrorText $e | Should -BeLike "*$($encrypted.PublicKeyPath)*"
            $run = Invoke-Captured { Import-TvmWrappingKeyFromPem gen $plain.PublicKeyPath $encrypted.PrivateKeyPath 2048 -VaultPath $w.VaultB -Password $password }
            $null = Assert-TvmTerminating $run 'KeyPairMismatch' SecurityError
            Assert-SameTree $before (Get-TreeState $w.Dir)
        }
    }
}

Describe 'No copy of a generated private key is left behind' {
    # In a new pwsh whose TMPDIR is in the work folder: two pairs made, one replaced with -Force, both imported as
    # wrapping keys (the encrypted one with -Password), backups made with their public keys and restored with the
    # AES keys compared (-PrivateKeyPath) and replaced (a pre-restore backup), the wrapping keys removed at the end,
    # and the refusals (a wrong password, a mismatched pair). Then no file under the work folder, tmp included, holds
    # either private key but its own private key file; nor does any file of the temp folder made during this file.
    BeforeAll {
        Clear-TvmVaultPath
        $started = [DateTime]::UtcNow
        $w = New-Work 'hygiene'
        Add-VaultKey $w.VaultA @('k1', 'k2', @{ Name = $RootKey; Type = 'RSA'; Size = 2048 })
        $scenario = @'
$null = New-Item -ItemType Directory -Path (Join-Path $w.Dir 'gen')
$pw = ConvertTo-SecureString 'hygiene password' -AsPlainText -Force
$plain = New-TvmWrappingKey (Join-Path $w.Dir 'gen/public.pem') (Join-Path $w.Dir 'gen/private.pem')
$first = [IO.File]::ReadAllText((Join-Path $w.Dir 'gen/private.pem'))
"FIRSTKEY " + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($first))
$plain = New-TvmWrappingKey (Join-Path $w.Dir 'gen/public.pem') (Join-Path $w.Dir 'gen/private.pem') -Force
$enc = New-TvmWrappingKey (Join-Path $w.Dir 'gen/enc-public.pem') (Join-Path $w.Dir 'gen/enc-private.pem') -Password $pw
$b1 = Backup-TVMKeys $plain.PublicKeyPath (Join-Path $w.Dir 'b1') -VaultPath $w.VaultA
$b2 = Backup-TVMKeys $enc.PublicKeyPath (Join-Path $w.Dir 'b2') -VaultPath $w.VaultA
foreach ($attempt in @(
        { Import-TvmWrappingKeyFromPem g1 $enc.PublicKeyPath $plain.PrivateKeyPath 2048 -VaultPath $w.VaultB },
        { Import-TvmWrappingKeyFromPem g2 $enc.PublicKeyPath $enc.PrivateKeyPath 2048 -VaultPath $w.VaultC -Password (ConvertTo-SecureString 'no' -AsPlainText -Force) })) {
    try { & $attempt; "UNEXPECTED success" } catch { "EXPECTED $($_.FullyQualifiedErrorId.Split(',')[0])" }
}
$null = Import-TvmWrappingKeyFromPem g1 $plain.PublicKeyPath $plain.PrivateKeyPath 2048 -VaultPath $w.VaultB
$null = Import-TvmWrappingKeyFromPem g2 $enc.PublicKeyPath $enc.PrivateKeyPath 2048 -VaultPath $w.VaultC -Password $pw
New-TvmVaultKey -Name k1 -Type AES -Size 256 -VaultPath $w.VaultB | Out-Null
Import-TVMKeys $b1.Path g1 -VaultPath $w.VaultB -PrivateKeyPath $plain.PrivateKeyPath -IfExists Replace -Force -RemoveWrappingKey
Import-TVMKeys $b2.Path g2 -VaultPath $w.VaultC -PrivateKeyPath $enc.PrivateKeyPath -Password $pw -RemoveWrappingKey
Import-TVMKeys $b2.Path g2 -VaultPath $w.VaultC -PrivateKeyPath $enc.PrivateKeyPath -Password $pw -SkipTargetBackup -WarningAction SilentlyContinue
"VAULTB " + (@(Get-TvmVaultKey -VaultPath $w.VaultB | ForEach-Object Name) -join ',')
"VAULTC " + (@(Get-TvmVaultKey -VaultPath $w.VaultC | ForEach-Object Name) -join ',')
'@
        $run = Invoke-InChild $w $scenario
        $genPrivate = Join-Path $w.Dir 'gen/private.pem'
        $genEncrypted = Join-Path $w.Dir 'gen/enc-private.pem'
        $ownFiles = @($genPrivate, $genEncrypted)
    }
    AfterAll { Restore-TvmVaultPath }

    It 'the scenario ran as planned' {
        $run.StdErr | Should -BeNullOrEmpty -Because ($run.Lines -join "`n")
        $run.ExitCode | Should -Be 0 -Because ($run.Lines -join "`n")
        @($run.Lines | Where-Object { $_ -like 'EXPECTED *' -or $_ -like 'UNEXPECTED *' }) | Should -Be @('EXPECTED KeyPairMismatch', 'EXPECTED PemPasswordWrong')
        $run.Objects | Should -Be @(
            'TvmKeyRestore k1 Replaced', 'TvmKeyRestore k2 Imported', "TvmKeyRestore $RootKey Imported"
            'TvmKeyRestore k1 Imported', 'TvmKeyRestore k2 Imported', "TvmKeyRestore $RootKey Imported"
            'TvmKeyRestore k1 Exists', 'TvmKeyRestore k2 Exists', "TvmKeyRestore $RootKey Exists"
        )
        @($run.Lines | Where-Object { $_ -like 'VAULT*' }) | Should -Be @("VAULTB $RootKey,k1,k2", "VAULTC $RootKey,k1,k2") -Because 'the wrapping keys were removed'
        @(Get-ChildItem -LiteralPath $w.Tmp -Force -Recurse -File | ForEach-Object FullName) | Should -BeNullOrEmpty -Because 'every temporary file is removed'
    }

    It 'no file under the work folder holds the plain private key (PEM body, DER base64 or base64url), but the key file itself' {
        $forms = Get-SecretForms (Get-PemDer $genPrivate)
        $files = @(Get-AllFiles $w.Dir | Where-Object { $_ -notin $ownFiles })
        $files.Count | Should -BeGreaterThan 10
        @(Find-Secret $files $forms) | Should -BeNullOrEmpty
        # the check finds the key where it is
        @(Find-Secret @($genPrivate) $forms) | Should -Not -BeNullOrEmpty
    }

    It 'no file under the work folder holds the private key replaced by -Force, not even the key file' {
        $line = @($run.Lines | Where-Object { $_ -like 'FIRSTKEY *' })
        $line.Count | Should -Be 1
        $firstPem = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($line[0].Substring(9)))
        $body = ($firstPem -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        $forms = Get-SecretForms ([Convert]::FromBase64String($body))
        @(Find-Secret @(Get-AllFiles $w.Dir) $forms) | Should -BeNullOrEmpty
    }

    It 'no file under the work folder holds the encrypted private key in the clear (DER from Python)' -Skip:$UnderWine {
        $r = Invoke-Python $PyPkcs8Der @($genEncrypted, 'hygiene password')
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $forms = Get-SecretForms ([Convert]::FromBase64String($r.Output[0]))
        @(Find-Secret @(Get-AllFiles $w.Dir) $forms) | Should -BeNullOrEmpty
    }

    It 'no file the temp folder got during this test file holds a private key New-TvmWrappingKey made in this process' {
        # In this process: a pair made, imported as the wrapping key, a restore with the AES keys compared, the key removed.
        $local = New-Work 'hygiene-local'
        $pair = New-TvmWrappingKey (Join-Path $local.Dir 'gen-public.pem') (Join-Path $local.Dir 'gen-private.pem') -ErrorAction Stop 6>$null
        Add-VaultKey $local.VaultA @('k1')
        $backup = Get-SingleBackup @(Backup-TVMKeys $pair.PublicKeyPath $local.Root -VaultPath $local.VaultA -ErrorAction Stop 6>$null)
        $null = Import-TvmWrappingKeyFromPem g $pair.PublicKeyPath $pair.PrivateKeyPath 2048 -VaultPath $local.VaultB -ErrorAction Stop 6>$null
        Add-VaultKey $local.VaultB @('k1')
        $null = Import-TVMKeys $backup.Path g -VaultPath $local.VaultB -PrivateKeyPath $pair.PrivateKeyPath -IfExists Replace -Force -RemoveWrappingKey -ErrorAction Stop 6>$null
        $forms = Get-SecretForms (Get-PemDer $pair.PrivateKeyPath)

        # What the temp folder got since this Describe began: its entries written since, and what is in those folders.
        $temp = [IO.Path]::GetTempPath()
        $since = $started.AddSeconds(-2)
        $files = [System.Collections.Generic.List[string]]::new()
        $pending = [System.Collections.Generic.Queue[object]]::new()
        $pending.Enqueue(@($temp, 0))
        while ($pending.Count -gt 0 -and $files.Count -lt 20000) {
            $folder, $depth = $pending.Dequeue()
            $entries = @(Get-ChildItem -LiteralPath $folder -Force -ErrorAction SilentlyContinue)
            foreach ($e in $entries) {
                if ($e.LastWriteTimeUtc -lt $since -and $depth -eq 0) { continue }
                if ($e.Attributes -band [IO.FileAttributes]::ReparsePoint) { continue }
                if ($e.PSIsContainer) { if ($depth -lt 6) { $pending.Enqueue(@($e.FullName, ($depth + 1))) } }
                elseif ((Test-RegularFile $e) -and $e.Length -lt 4MB -and $e.FullName -ne $pair.PrivateKeyPath) { $files.Add($e.FullName) }
            }
        }
        $files.Count | Should -BeGreaterThan 0
        @(Find-Secret $files.ToArray() $forms) | Should -BeNullOrEmpty
        Get-VaultNames $local.VaultB | Should -Be @('k1')
    }
}
