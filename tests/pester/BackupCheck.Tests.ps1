# Test-TVMKeyBackup and Get-TVMKeyBackup on real backups with real crypto: one good backup of a local vault, and
# copies of it damaged one way each (every key file and manifest.json truncated, changed in one character of each
# JSON value, deleted, duplicated, swapped, extra files added); the undamaged backup, -WrappingKeyPath, -Deep with
# the wrapping private key (plain and encrypted), legacy backups (no manifest.json, as the original script writes
# them), coverage against the vault, and the listing of a backup root.
#
# Keys: the wrapping key pair and the second, unrelated pair are those of tests/vectors (made with Python), so no
# .NET RSA key is generated. .NET's RSA is used once, to export the vector private key encrypted with a password
# (under Wine, where .NET's CNG RSA fails, an RSACryptoServiceProvider does it, as New-TestRsa does). Key files that
# Backup-TVMKeys cannot write (a wrong key length, RFC 3394, SHA-256 OAEP) are made with Python's cryptography,
# an implementation that shares no code with the engine; python3 is not there under Wine, so those tests are
# skipped there.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # The good backup's files (its vault: vm1 and vm2, AES-256; AzureStackTvmAKRootKey, RSA-2048).
    $aes1 = 'AES/vm1_256.json'; $aes2 = 'AES/vm2_256.json'; $rsa = 'RSA/AzureStackTvmAKRootKey_2048.json'; $man = 'manifest.json'

    # One damage per case, applied to a fresh copy of the good backup by Invoke-Damage. Named: the files a finding
    # must name, each with every problem of Problems; no finding may name another file.
    $cases = [System.Collections.Generic.List[hashtable]]::new()
    $add = { param($Case, $Damage, $Named, $Problems) $cases.Add(@{ Case = $Case; Damage = $Damage; Named = @($Named); Problems = @($Problems); Also = @() }) }

    # Truncated to 0 bytes, 1 byte, half its length, and all but its last byte. For manifest.json the last is all
    # but its last two bytes: its last byte is the final line feed, which carries no value (manifestSha256 covers the
    # manifest's content, not its white space), so the manifest without it is the same manifest.
    foreach ($file in $aes1, $aes2, $rsa, $man) {
        foreach ($at in '0', '1', 'half', 'last') {
            $to = if ($at -eq 'last' -and $file -eq $man) { 'lastContent' } else { $at }
            $what = @{ '0' = 'to 0 bytes'; '1' = 'to 1 byte'; 'half' = 'to half its length'; 'last' = 'by its last byte'; 'lastContent' = 'by its last two bytes (the } and the line feed)' }[$to]
            & $add "$file truncated $what" @{ Kind = 'Truncate'; File = $file; At = $to } $file $(if ($file -eq $man) { 'ManifestInvalid' } else { 'LengthMismatch' })
        }
    }

    # One character inside a value changed to another of its class (digit, lower- or upper-case letter; hex stays
    # hex), so the JSON still parses: every value of a key file (public-key of an AES key file is empty).
    foreach ($file in $aes1, $aes2, $rsa) {
        $fields = @('private-key', 'private-key-wrapping-info.public-key', 'private-key-wrapping-info.enc')
        if ($file -eq $rsa) { $fields = @('public-key') + $fields }
        foreach ($field in $fields) {
            & $add "one character of $field in $file changed" @{ Kind = 'Change'; File = $file; Field = $field } $file 'HashMismatch'
        }
    }
    # ... and every value of the manifest, the members of a key entry (vm1's) too.
    foreach ($field in 'format', 'schemaVersion', 'toolVersion', 'timestamp', 'createdUtc', 'createdLocal', 'source.kind', 'source.path',
        'wrappingKeyFingerprint', 'label', 'keys[vm1].name', 'keys[vm1].type', 'keys[vm1].size', 'keys[vm1].file', 'keys[vm1].sha256',
        'keys[vm1].length', 'manifestSha256') {
        & $add "one character of $field in $man changed" @{ Kind = 'Change'; File = $man; Field = $field } $man 'ManifestInvalid'
    }

    # Deleted (manifest.json deleted is a legacy backup: see 'Legacy backups').
    foreach ($file in $aes1, $aes2, $rsa) {
        & $add "$file deleted" @{ Kind = 'Delete'; File = $file } $file 'FileMissing'
    }

    # Duplicated under another valid key file name.
    & $add "$aes1 copied to AES/vmX_256.json" @{ Kind = 'Copy'; File = $aes1; Target = 'AES/vmX_256.json' } 'AES/vmX_256.json' 'FileUnlisted', 'DuplicateContent'
    & $add "$aes2 copied to AES/vm0_256.json" @{ Kind = 'Copy'; File = $aes2; Target = 'AES/vm0_256.json' } 'AES/vm0_256.json' 'FileUnlisted', 'DuplicateContent'
    & $add "$rsa copied to RSA/vmX_2048.json" @{ Kind = 'Copy'; File = $rsa; Target = 'RSA/vmX_2048.json' } 'RSA/vmX_2048.json' 'FileUnlisted', 'DuplicateContent'
    & $add "$man copied to AES/vmX_256.json" @{ Kind = 'Copy'; File = $man; Target = 'AES/vmX_256.json' } 'AES/vmX_256.json' 'FileUnlisted', 'KeyFileInvalid'

    # Swapped: the two AES key files (same length, so only their hashes tell), and across the folders.
    & $add "$aes1 and $aes2 swapped" @{ Kind = 'Swap'; File = $aes1; With = $aes2 } $aes1, $aes2 'HashMismatch'
    & $add "$rsa and $aes1 swapped" @{ Kind = 'Swap'; File = $rsa; With = $aes1 } $rsa, $aes1 'LengthMismatch'

    # Extra files and folders, in AES/, RSA/ and at the top.
    & $add 'a text file added to AES/' @{ Kind = 'Add'; Target = 'AES/notes.txt'; Content = 'text' } 'AES/notes.txt' 'KeyFileNameInvalid'
    & $add 'random bytes added as AES/vm9_256.json' @{ Kind = 'Add'; Target = 'AES/vm9_256.json'; Content = 'random' } 'AES/vm9_256.json' 'FileUnlisted', 'KeyFileInvalid'
    & $add 'a good key file of another backup added as AES/vm8_256.json' @{ Kind = 'Add'; Target = 'AES/vm8_256.json'; Content = 'vector:export_aes_example.json' } 'AES/vm8_256.json' 'FileUnlisted'
    & $add 'a good key file of another backup added as RSA/vm9_2048.json' @{ Kind = 'Add'; Target = 'RSA/vm9_2048.json'; Content = 'vector:export_rsa_example.json' } 'RSA/vm9_2048.json' 'FileUnlisted'
    & $add 'a NO_KEY_WRAP import file (plaintext key) added as RSA/TvmWrap_2048.json' @{ Kind = 'Add'; Target = 'RSA/TvmWrap_2048.json'; Content = 'vector:import_expected.json' } 'RSA/TvmWrap_2048.json' 'FileUnlisted', 'KeyFileUnwrapped'
    & $add 'an RSA key file added under an AES name' @{ Kind = 'Add'; Target = 'AES/vmR_256.json'; Content = 'vector:export_rsa_example.json' } 'AES/vmR_256.json' 'FileUnlisted', 'PublicKeyInvalid'
    & $add 'an AES key file added under an RSA name' @{ Kind = 'Add'; Target = 'RSA/vmA_2048.json'; Content = 'vector:export_aes_example.json' } 'RSA/vmA_2048.json' 'FileUnlisted', 'PublicKeyInvalid'
    & $add 'an RSA-2048 key file added under an RSA-4096 name' @{ Kind = 'Add'; Target = 'RSA/vmR_4096.json'; Content = 'vector:export_rsa_example.json' } 'RSA/vmR_4096.json' 'FileUnlisted', 'PublicKeyInvalid'
    & $add 'an AES key file holding an RSA key''s blob added' @{ Kind = 'Add'; Target = 'AES/vmB_256.json'; Content = 'aes-with-rsa-blob' } 'AES/vmB_256.json' 'FileUnlisted', 'BlobLengthInvalid'
    & $add 'a folder added to AES/' @{ Kind = 'Add'; Target = 'AES/old'; Content = 'folder' } 'AES/old' 'StrayItem'
    & $add 'a text file added at the top' @{ Kind = 'Add'; Target = 'readme.txt'; Content = 'text' } 'readme.txt' 'StrayItem'
    & $add 'a folder added at the top' @{ Kind = 'Add'; Target = 'old'; Content = 'folder' } 'old' 'StrayItem'
    & $add "$aes1 copied to the top" @{ Kind = 'Copy'; File = $aes1; Target = 'vm1_256.json' } 'vm1_256.json' 'StrayItem'
    $script:DamageCases = $cases.ToArray()

    # A manifest changed and sealed again (manifestSha256 computed anew, as a tool that rewrites it would): the
    # manifest is readable, so what it says is checked against the files. Also: files a finding may name besides.
    $script:ResealedCases = @(
        @{ Case = "vm1's length changed"; Change = 'length'; Named = @($aes1); Problem = 'LengthMismatch'; Also = @() }
        @{ Case = "vm1's sha256 changed"; Change = 'sha256'; Named = @($aes1); Problem = 'HashMismatch'; Also = @() }
        @{ Case = "vm2's entry removed"; Change = 'removeEntry'; Named = @($aes2); Problem = 'FileUnlisted'; Also = @() }
        @{ Case = 'an entry for a file that is not there added'; Change = 'addEntry'; Named = @('AES/vm9_256.json'); Problem = 'FileMissing'; Also = @() }
        @{ Case = "vm1's entry listed twice"; Change = 'duplicateEntry'; Named = @($man); Problem = 'ManifestInvalid'; Also = @() }
        @{ Case = "vm1's entry naming vm2's file"; Change = 'wrongFile'; Named = @($man); Problem = 'ManifestInvalid'; Also = @($aes1) }
        @{ Case = 'the timestamp of another backup'; Change = 'timestamp'; Named = @($man); Problem = 'ManifestMismatch'; Also = @() }
        @{ Case = 'another wrapping key fingerprint'; Change = 'fingerprint'; Named = @($aes1, $aes2, $rsa); Problem = 'WrappingKeyMismatch'; Also = @() }
        @{ Case = 'another format'; Change = 'format'; Named = @($man); Problem = 'ManifestInvalid'; Also = @() }
        @{ Case = 'schema version 2'; Change = 'schema'; Named = @($man); Problem = 'ManifestInvalid'; Also = @() }
        @{ Case = 'an unknown member'; Change = 'unknownMember'; Named = @($man); Problem = 'ManifestInvalid'; Also = @() }
        @{ Case = 'no manifestSha256'; Change = 'noChecksum'; Named = @($man); Problem = 'ManifestInvalid'; Also = @() }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath
    $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
    $script:OtherKeys = Copy-VectorKeyPair (New-TestFolder otherkeys) -Name other
    $script:Utf8 = [Text.UTF8Encoding]::new($false)

    # A local vault with two AES keys and the attestation root key (RSA-2048, to keep the file fast).
    function New-SourceVault {
        $vault = New-TestFolder vault
        foreach ($name in 'vm1', 'vm2') { $null = New-TvmVaultKey -Name $name -Type AES -Size 256 -VaultPath $vault }
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $vault
        $vault
    }

    # Backup-TVMKeys of -Vault into a new root (or -Root); returns the TvmBackup.
    function New-Backup([string] $Vault, [string] $PublicKey = $script:Keys.Public, [string] $Root = (New-TestFolder root)) {
        Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $PublicKey -BackupRootPath $Root -VaultPath $Vault -Label weekly 3>$null 6>$null)
    }

    # A file of a backup by its relative, '/'-separated name.
    function Join-Backup([string] $Backup, [string] $Relative) { [IO.Path]::Combine([string[]](@($Backup) + ($Relative -split '/'))) }

    # A fresh copy of the backup folder -From under a new test folder, under the same (timestamp) name, or -Name.
    function Copy-Backup([string] $From = $script:Good.Path, [string] $Name = (Split-Path $From -Leaf), [string] $Root = (New-TestFolder copy)) {
        $to = [IO.Path]::Combine($Root, $Name)
        Copy-Item -LiteralPath $From -Destination $to -Recurse
        $to
    }

    # A copy of -From without manifest.json: what the original script writes (the key files are the same bytes).
    function Copy-Legacy([string] $From = $script:Good.Path, [string] $Root = (New-TestFolder legacy)) {
        $to = Copy-Backup -From $From -Root $Root
        Remove-Item -LiteralPath (Join-Backup $to 'manifest.json')
        $to
    }

    # The character that replaces -C: the next of its class (0-9, a-f, other a-z, A-Z), so a hex digit stays one.
    function Step-Char([char] $C) {
        $n = [int]$C
        if ($n -ge 48 -and $n -le 56) { return [char]($n + 1) }
        if ($C -ceq '9') { return [char]'0' }
        if ($C -ceq 'f') { return [char]'a' }
        if ($C -ceq 'z') { return [char]'y' }
        if ($C -ceq 'Z') { return [char]'Y' }
        if (($n -ge 97 -and $n -le 121) -or ($n -ge 65 -and $n -le 89)) { return [char]($n + 1) }
        throw "No replacement for '$C'."
    }

    # The span (Index, Length) of the value of -Field in the JSON text -Text: 'member' (its first occurrence),
    # 'parent.member' (inside the object that is parent's value), 'keys[name].member' (inside the keys entry of that
    # name). A string's span is inside its quotes.
    function Find-JsonValue([string] $Text, [string] $Field) {
        $from = 0; $to = $Text.Length
        if ($Field -match '^keys\[(?<name>[^\]]+)\]\.(?<member>.+)$') {
            $scope = [regex]::Match($Text, '\{[^{}]*"name"\s*:\s*"' + [regex]::Escape($Matches.name) + '"[^{}]*\}')
            $member = $Matches.member
        } elseif ($Field -match '^(?<parent>[^.]+)\.(?<member>.+)$') {
            $scope = [regex]::Match($Text, '"' + [regex]::Escape($Matches.parent) + '"\s*:\s*\{[^{}]*\}')
            $member = $Matches.member
        } else {
            $scope = $null
            $member = $Field
        }
        if ($scope) {
            if (-not $scope.Success) { throw "No scope for $Field." }
            $from = $scope.Index; $to = $scope.Index + $scope.Length
        }
        $m = [regex]::new('"' + [regex]::Escape($member) + '"\s*:\s*(?:"(?<v>(?:[^"\\]|\\.)*)"|(?<v>-?[0-9]+))').Match($Text, $from, $to - $from)
        if (-not $m.Success) { throw "No value for $Field." }
        [pscustomobject]@{ Index = $m.Groups['v'].Index; Length = $m.Groups['v'].Length }
    }

    # -Text with one character in the value of -Field replaced (the letter or digit nearest the value's middle).
    function Set-OneCharacter([string] $Text, [string] $Field) {
        $span = Find-JsonValue $Text $Field
        if ($span.Length -eq 0) { throw "The value of $Field is empty." }
        $middle = $span.Index + [Math]::Floor($span.Length / 2)
        for ($d = 0; $d -lt $span.Length; $d++) {
            foreach ($i in ($middle + $d), ($middle - $d)) {
                if ($i -ge $span.Index -and $i -lt $span.Index + $span.Length -and $Text[$i] -match '[A-Za-z0-9]') {
                    return $Text.Substring(0, $i) + (Step-Char $Text[$i]) + $Text.Substring($i + 1)
                }
            }
        }
        throw "The value of $Field has no letter or digit."
    }

    # Applies one damage of the corruption matrix (BeforeDiscovery) to the backup folder -Backup.
    function Invoke-Damage([string] $Backup, [hashtable] $Damage) {
        $path = if ($Damage.File) { Join-Backup $Backup $Damage.File }
        switch ($Damage.Kind) {
            'Truncate' {
                $bytes = [IO.File]::ReadAllBytes($path)
                $keep = switch ($Damage.At) { '0' { 0 } '1' { 1 } 'half' { [int][Math]::Floor($bytes.Length / 2) } 'last' { $bytes.Length - 1 } 'lastContent' { $bytes.Length - 2 } }
                $keep | Should -BeLessThan $bytes.Length
                [IO.File]::WriteAllBytes($path, [byte[]]@($bytes | Select-Object -First $keep))
                (Get-Item -LiteralPath $path).Length | Should -Be $keep
            }
            'Change' {
                $text = [IO.File]::ReadAllText($path)
                $changed = Set-OneCharacter $text $Damage.Field
                $changed | Should -Not -BeExactly $text
                $changed.Length | Should -Be $text.Length
                { $null = $changed | ConvertFrom-Json } | Should -Not -Throw -Because 'the change keeps the JSON readable'
                [IO.File]::WriteAllText($path, $changed, $script:Utf8)
            }
            'Delete' { Remove-Item -LiteralPath $path }
            'Copy' { Copy-Item -LiteralPath $path -Destination (Join-Backup $Backup $Damage.Target) }
            'Swap' {
                $other = Join-Backup $Backup $Damage.With
                $a = [IO.File]::ReadAllBytes($path); $b = [IO.File]::ReadAllBytes($other)
                [IO.File]::WriteAllBytes($path, $b); [IO.File]::WriteAllBytes($other, $a)
            }
            'Add' {
                $target = Join-Backup $Backup $Damage.Target
                switch -Wildcard ($Damage.Content) {
                    'text' { [IO.File]::WriteAllText($target, "notes`n", $script:Utf8) }
                    'random' { [IO.File]::WriteAllBytes($target, [Security.Cryptography.RandomNumberGenerator]::GetBytes(879)) }
                    'folder' { $null = New-Item -ItemType Directory -Path $target }
                    'vector:*' { Copy-Item -LiteralPath (Get-TestVector $Damage.Content.Substring(7)) -Destination $target }
                    'aes-with-rsa-blob' {
                        # The AES example key file with the RSA example's wrapped key: both wrapped for our wrapping key.
                        $aes = [IO.File]::ReadAllText((Get-TestVector 'export_aes_example.json'))
                        $rsa = [IO.File]::ReadAllText((Get-TestVector 'export_rsa_example.json'))
                        $a = Find-JsonValue $aes 'private-key'; $r = Find-JsonValue $rsa 'private-key'
                        $text = $aes.Substring(0, $a.Index) + $rsa.Substring($r.Index, $r.Length) + $aes.Substring($a.Index + $a.Length)
                        [IO.File]::WriteAllText($target, $text, $script:Utf8)
                    }
                }
            }
            default { throw "Unknown damage $($Damage.Kind)." }
        }
    }

    # The manifest of -Backup as an object (times as written).
    function Read-Manifest([string] $Backup) {
        [IO.File]::ReadAllText((Join-Backup $Backup 'manifest.json')) | ConvertFrom-Json -DateKind String
    }

    # Writes -Manifest into -Backup, sealed: manifestSha256 is the SHA-256 of the manifest without it as compact
    # JSON, members in order (docs/format.md section 8). -NoSeal: as it is.
    function Write-Manifest([string] $Backup, $Manifest, [switch] $NoSeal) {
        if (-not $NoSeal) {
            $Manifest.PSObject.Properties.Remove('manifestSha256')
            $canonical = $Manifest | ConvertTo-Json -Compress -Depth 10
            $sha = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($script:Utf8.GetBytes($canonical))).ToLowerInvariant()
            $Manifest | Add-Member -NotePropertyName manifestSha256 -NotePropertyValue $sha
        }
        [IO.File]::WriteAllText((Join-Backup $Backup 'manifest.json'), ($Manifest | ConvertTo-Json -Depth 10) + "`n", $script:Utf8)
    }

    # The manifest entry of -Name, and the entry of a file's new bytes.
    function Get-Entry($Manifest, [string] $Name) { @($Manifest.keys | Where-Object name -CEQ $Name)[0] }
    function Update-Entry($Manifest, [string] $Backup, [string] $Relative) {
        $entry = @($Manifest.keys | Where-Object file -CEQ $Relative)[0]
        $path = Join-Backup $Backup $Relative
        $entry.sha256 = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
        $entry.length = (Get-Item -LiteralPath $path).Length
    }

    # The findings of a check, for the message of a failed assertion.
    function Format-Findings($Check) {
        'findings: ' + (@($Check.Findings | ForEach-Object { "[$($_.File) | $($_.Problem) | $($_.Message)]" }) -join ' ')
    }

    # The one TvmBackupCheck a captured run wrote, which must not have ended in a terminating error.
    function Get-Check($Run) {
        if ($Run.Terminating) { throw "Unexpected terminating error.`n$(Format-Captured $Run)" }
        $checks = @(Get-OfType $Run.Output TvmBackupCheck)
        $checks.Count | Should -Be 1 -Because (Format-Captured $Run)
        $checks[0]
    }

    # Asserts a Damaged check of -Backup: the findings name each of -Named with each of -Problems (and, with -Only,
    # no other file than those and -Also), the keys named are Damaged and the others Valid, and exactly one error
    # BackupDamaged was written for it, naming the first of -Named. Returns the check.
    function Assert-Damaged($Run, [string] $Backup, [string[]] $Named, [string[]] $Problems, [switch] $Only, [string[]] $Also = @()) {
        $check = Get-Check $Run
        $why = Format-Findings $check
        $check.Status | Should -BeExactly 'Damaged' -Because $why
        foreach ($file in $Named) {
            foreach ($problem in $Problems) {
                @($check.Findings | Where-Object { $_.File -ceq $file -and $_.Problem -ceq $problem }).Count | Should -BeGreaterThan 0 -Because "a finding $problem must name '$file'; $why"
            }
        }
        if ($Only) {
            $blamed = @($Named) + @($Also)
            @($check.Findings | Where-Object { $blamed -cnotcontains $_.File }) | Should -BeNullOrEmpty -Because "only $($blamed -join ', ') is damaged; $why"
            foreach ($key in $check.Keys) {
                $key.Status | Should -BeExactly $(if ($blamed -ccontains $key.File) { 'Damaged' } else { 'Valid' }) -Because "the key file $($key.File); $why"
            }
        }
        $damaged = @($Run.Errors | Where-Object { "$($_.FullyQualifiedErrorId)" -like 'BackupDamaged,*' })
        $damaged.Count | Should -Be 1 -Because (Format-Captured $Run)
        $damaged[0].FullyQualifiedErrorId | Should -BeExactly 'BackupDamaged,TvmBackupUtils.Commands.TestTvmKeyBackupCommand'
        $damaged[0].CategoryInfo.Category | Should -Be 'InvalidData'
        "$($damaged[0].TargetObject)" | Should -Be $Backup
        $damaged[0].Exception.Message | Should -BeLike "*$($Named[0])*"
        $damaged[0].Exception.Check.Status | Should -BeExactly 'Damaged'
        $check
    }

    # The one error of -ErrorId a captured run ended with or wrote (for the errors that are about the command's
    # inputs, not one backup), and nothing written to the pipeline.
    function Assert-TvmError($Run, [string] $ErrorId, [string] $Category) {
        $all = @(@($Run.Terminating) + @($Run.Errors) | Where-Object { $null -ne $_ })
        $all.Count | Should -BeGreaterThan 0 -Because (Format-Captured $Run)
        foreach ($e in $all) {
            "$($e.FullyQualifiedErrorId)".Split(',')[0] | Should -BeExactly $ErrorId -Because (Format-Captured $Run)
            $e.FullyQualifiedErrorId | Should -BeLikeExactly "$ErrorId,TvmBackupUtils.*"
            $e.CategoryInfo.Category | Should -Be $Category
        }
        @($Run.Output).Count | Should -Be 0 -Because (Format-Captured $Run)
        $all[0]
    }

    # The vault's keys as name -> fingerprint.
    function Get-Fingerprints([string] $Vault) {
        $map = @{}
        foreach ($k in Get-TvmVaultKey -VaultPath $Vault) { $map[$k.Name] = $k.Fingerprint }
        $map
    }

    # A key file of docs/format.md section 2 made with Python's cryptography for the wrapping public key -PublicKey:
    # -Bytes random bytes wrapped with -Oaep (sha1: CKM_RSA_AES_KEY_WRAP, sha256: RSA_AES_KEY_WRAP_256) and -Wrap
    # (kwp: RFC 5649, kw: RFC 3394), written to -Path.
    function New-PythonKeyFile([string] $Path, [int] $Bytes, [string] $Oaep = 'sha1', [string] $Wrap = 'kwp', [string] $PublicKey = $script:Keys.Public) {
        $script = [IO.Path]::Combine((New-TestFolder python), 'keyfile.py')
        [IO.File]::WriteAllText($script, @'
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap, aes_key_wrap_with_padding
public_pem, out, size, oaep, wrap = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
public = serialization.load_pem_public_key(open(public_pem, 'rb').read())
h = {'sha1': hashes.SHA1(), 'sha256': hashes.SHA256()}[oaep]
enc = {'sha1': 'CKM_RSA_AES_KEY_WRAP', 'sha256': 'RSA_AES_KEY_WRAP_256'}[oaep]
kek, target = os.urandom(32), os.urandom(size)
wrapped = aes_key_wrap_with_padding(kek, target) if wrap == 'kwp' else aes_key_wrap(kek, target)
blob = public.encrypt(kek, padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)) + wrapped
b64 = lambda b: base64.urlsafe_b64encode(b).decode('ascii')
der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
doc = {'public-key': '', 'private-key': b64(blob), 'private-key-wrapping-info': {'key-name': '', 'public-key': b64(der), 'enc': enc}}
open(out, 'wb').write(json.dumps(doc, separators=(',', ':')).encode('ascii'))
'@, $script:Utf8)
        $out = & python3 $script $PublicKey $Path $Bytes $Oaep $Wrap 2>&1
        if ($LASTEXITCODE -ne 0) { throw "python3 failed: $out" }
        $Path | Should -Exist
    }

    # The good backup, made once for the file; its copies are damaged, never it.
    $script:Vault = New-SourceVault
    $script:Good = New-Backup $script:Vault
    $script:GoodManifest = Read-Manifest $script:Good.Path
}

AfterAll { Restore-TvmVaultPath }

Describe 'A damaged copy of a good backup is Damaged, and the finding names the damaged file' {
    It '<Case>' -ForEach $DamageCases {
        $copy = Copy-Backup
        Invoke-Damage $copy $Damage
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $copy }
        $null = Assert-Damaged $run $copy $Named $Problems -Only -Also $Also
    }
}

Describe 'A manifest changed and sealed again: what it says is checked against the files' {
    It '<Case>' -ForEach $ResealedCases {
        $copy = Copy-Backup
        $m = Read-Manifest $copy
        $vm1 = Get-Entry $m 'vm1'
        switch ($Change) {
            'length' { $vm1.length = $vm1.length + 1 }
            'sha256' { $vm1.sha256 = ($vm1.sha256.Substring(0, 10) + (Step-Char $vm1.sha256[10]) + $vm1.sha256.Substring(11)) }
            'removeEntry' { $m.keys = @($m.keys | Where-Object name -CNE 'vm2') }
            'addEntry' {
                $extra = $vm1.PSObject.Copy(); $extra.name = 'vm9'; $extra.file = 'AES/vm9_256.json'
                $m.keys = @($m.keys) + $extra
            }
            'duplicateEntry' { $m.keys = @($m.keys) + $vm1.PSObject.Copy() }
            'wrongFile' { $vm1.file = 'AES/vm2_256.json' }
            'timestamp' { $m.timestamp = '20200101000000' }
            'fingerprint' { $m.wrappingKeyFingerprint = ($m.wrappingKeyFingerprint.Substring(0, 5) + (Step-Char $m.wrappingKeyFingerprint[5]) + $m.wrappingKeyFingerprint.Substring(6)) }
            'format' { $m.format = 'tvmkeys-backup-manifesu' }
            'schema' { $m.schemaVersion = 2 }
            'unknownMember' { $m | Add-Member -NotePropertyName comment -NotePropertyValue 'added by hand' }
            'noChecksum' { $m.PSObject.Properties.Remove('manifestSha256') }
        }
        Write-Manifest $copy $m -NoSeal:($Change -eq 'noChecksum')
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $copy }
        $null = Assert-Damaged $run $copy $Named $Problem -Only -Also $Also
    }

    It 'a manifest sealed again with nothing changed is Valid (the test seals as the engine does)' {
        $copy = Copy-Backup
        Write-Manifest $copy (Read-Manifest $copy)
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $copy }))
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        (Read-Manifest $copy).manifestSha256 | Should -BeExactly $GoodManifest.manifestSha256
    }
}

Describe 'The undamaged backup' {
    It 'is Valid with no findings, and says what it holds' {
        $run = Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path })
        $check = Get-Check $run
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        @($check.Findings).Count | Should -Be 0
        $check.Path | Should -Be $Good.Path
        $check.Timestamp | Should -Be $Good.Timestamp
        $check.HasManifest | Should -BeTrue
        $check.KeyCount | Should -Be 3
        $check.AesCount | Should -Be 2
        $check.RsaCount | Should -Be 1
        $check.Depth | Should -BeExactly 'Full'
        $check.WrappingKeyFingerprint | Should -BeExactly $Good.WrappingKeyFingerprint
        $check.WrappingKeyFingerprint | Should -BeExactly $GoodManifest.wrappingKeyFingerprint
        $check.Label | Should -BeExactly 'weekly'
        $check.Source.Kind | Should -BeExactly 'local'
        $check.Source.Path | Should -Be $Vault
        $check.CreatedUtc | Should -Be ([DateTime]::Parse($GoodManifest.createdUtc, [Globalization.CultureInfo]::InvariantCulture, 'AdjustToUniversal'))
        $check.Coverage | Should -BeNullOrEmpty
        $check.Threads | Should -BeNullOrEmpty
        ($check.Keys | ForEach-Object { "$($_.Type) $($_.Size) $($_.Name) $($_.File) $($_.Status)" } | Get-OrdinalSorted) | Should -BeExactly @(
            'AES 256 vm1 AES/vm1_256.json Valid', 'AES 256 vm2 AES/vm2_256.json Valid', 'RSA 2048 AzureStackTvmAKRootKey RSA/AzureStackTvmAKRootKey_2048.json Valid')
        # An RSA key file carries its public half: its fingerprint is the vault's.
        $rsa = @($check.Keys | Where-Object Type -EQ 'RSA')[0]
        $rsa.Fingerprint | Should -BeExactly (Get-Fingerprints $Vault)['AzureStackTvmAKRootKey']
    }

    It 'passes -WrappingKeyPath with the public key it was made for' {
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -WrappingKeyPath $Keys.Public }))
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        @($check.Findings).Count | Should -Be 0
    }

    It 'is Damaged (WrappingKeyMismatch) for another public key' {
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -WrappingKeyPath $OtherKeys.Public }
        $check = Assert-Damaged $run $Good.Path 'manifest.json' 'WrappingKeyMismatch'
        @($check.Findings | Where-Object Problem -CEQ 'WrappingKeyMismatch')[0].Message | Should -BeLike "*$($Good.WrappingKeyFingerprint)*"
    }

    It 'a legacy copy checked with another public key: every key file is WrappingKeyMismatch' {
        $legacy = Copy-Legacy
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -WrappingKeyPath $OtherKeys.Public }
        $null = Assert-Damaged $run $legacy 'AES/vm1_256.json', 'AES/vm2_256.json', 'RSA/AzureStackTvmAKRootKey_2048.json' 'WrappingKeyMismatch' -Only
    }

    It 'takes its paths from the pipeline, as strings and as folders (FullName), one result each in order' {
        $legacy = Copy-Legacy
        foreach ($items in @(@($Good.Path, $legacy), @(Get-Item -LiteralPath $Good.Path, $legacy))) {
            $run = Assert-Clean (Invoke-Captured { $items | Test-TVMKeyBackup })
            $checks = @(Get-OfType $run.Output TvmBackupCheck)
            @($checks.Status) | Should -BeExactly @('Valid', 'Legacy')
            @($checks.Path) | Should -Be @($Good.Path, $legacy)
        }
    }

    # Windows (and Wine) file systems cannot hold two names that differ only in case.
    It 'finds two key files whose names differ only in case (NamesCollide)' -Skip:$IsWindows {
        $copy = Copy-Backup
        Copy-Item -LiteralPath (Join-Backup $copy 'AES/vm1_256.json') -Destination (Join-Backup $copy 'AES/VM1_256.json')
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $copy }
        $check = Assert-Damaged $run $copy 'AES/VM1_256.json' 'FileUnlisted' -Only -Also 'AES/vm1_256.json'
        # Windows takes the two for one file: the finding is on the pair, whichever of them it names.
        @($check.Findings | Where-Object { $_.Problem -ceq 'NamesCollide' -and $_.Message -clike '*VM1_256.json*' -and $_.Message -clike '*vm1_256.json*' }).Count | Should -Be 1 -Because (Format-Findings $check)
    }

    It 'writes one BackupDamaged error per damaged backup and a result for every backup' {
        $damaged = Copy-Backup
        Remove-Item -LiteralPath (Join-Backup $damaged 'AES/vm2_256.json')
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $damaged, $Good.Path }
        $checks = @(Get-OfType $run.Output TvmBackupCheck)
        @($checks.Status) | Should -BeExactly @('Damaged', 'Valid')
        @($run.Errors).Count | Should -Be 1
        "$($run.Errors[0].TargetObject)" | Should -Be $damaged
    }
}

Describe 'Deep check with the wrapping private key' {
    BeforeAll {
        # The same vault backed up for the other wrapping key, and a second vault whose root key is another RSA key.
        $script:ForeignBackup = New-Backup $Vault -PublicKey $OtherKeys.Public
        $second = New-TestFolder vault2
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $second
        $script:SecondBackup = New-Backup $second
        $script:RsaFile = 'RSA/AzureStackTvmAKRootKey_2048.json'

        # The key file -Relative of -Backup as text, and written back.
        function Read-KeyFile([string] $Backup, [string] $Relative) { [IO.File]::ReadAllText((Join-Backup $Backup $Relative)) }
        function Write-KeyFile([string] $Backup, [string] $Relative, [string] $Text) { [IO.File]::WriteAllText((Join-Backup $Backup $Relative), $Text, $script:Utf8) }
        # -Text with the string value of -Field (Find-JsonValue) replaced by -Value.
        function Set-JsonValue([string] $Text, [string] $Field, [string] $Value) {
            $span = Find-JsonValue $Text $Field
            $Text.Substring(0, $span.Index) + $Value + $Text.Substring($span.Index + $span.Length)
        }
        function Get-JsonValue([string] $Text, [string] $Field) { $span = Find-JsonValue $Text $Field; $Text.Substring($span.Index, $span.Length) }
    }

    It 'the good backup is Valid: every key unwraps (CKM_RSA_AES_KEY_WRAP, RFC 5649) to the vault''s key' {
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -Deep -PrivateKeyPath $Keys.Private }))
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        $check.Depth | Should -BeExactly 'Deep'
        @($check.Findings).Count | Should -Be 0
        @($check.Keys).Count | Should -Be 3
        $vault = Get-Fingerprints $Vault
        foreach ($key in $check.Keys) {
            $key.Status | Should -BeExactly 'Valid'
            $key.Enc | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP'
            $key.KeyWrap | Should -BeExactly 'RFC5649'
            $key.Fingerprint | Should -Not -BeNullOrEmpty
            $key.Fingerprint | Should -BeExactly $vault[$key.Name] -Because "the key $($key.Name) unwraps to the vault's key"
        }
        $check.Threads | Should -BeGreaterOrEqual 1
        $check.Threads | Should -BeLessOrEqual 3
    }

    It '-PrivateKeyPath alone is a deep check, and -ThrottleLimit 1 runs it on one thread' {
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -PrivateKeyPath $Keys.Private -ThrottleLimit 1 }))
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        $check.Depth | Should -BeExactly 'Deep'
        $check.Threads | Should -Be 1
        @($check.Keys.Enc) | Should -BeExactly @('CKM_RSA_AES_KEY_WRAP', 'CKM_RSA_AES_KEY_WRAP', 'CKM_RSA_AES_KEY_WRAP')
    }

    It '-Deep without -PrivateKeyPath is an error that asks for it, and checks nothing' {
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -Deep }
        $e = Assert-TvmError $run PrivateKeyRequired InvalidArgument
        Get-ErrorText $e | Should -BeLike '*-PrivateKeyPath*'
    }

    It 'with the private key of another wrapping key: Damaged, WrappingKeyMismatch for the backup' {
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -Deep -PrivateKeyPath $OtherKeys.Private }
        $check = Assert-Damaged $run $Good.Path '' 'WrappingKeyMismatch'
        @($check.Findings | Where-Object Problem -CEQ 'WrappingKeyMismatch')[0].Message | Should -BeLike "*$($Good.WrappingKeyFingerprint)*"
    }

    It 'refuses a -WrappingKeyPath that is not the public half of -PrivateKeyPath (KeyPairMismatch)' {
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -WrappingKeyPath $OtherKeys.Public -Deep -PrivateKeyPath $Keys.Private }
        $null = Assert-TvmError $run KeyPairMismatch SecurityError
    }

    It 'finds a key file of a backup made for another wrapping key (WrappingKeyMismatch), with and without -Deep' {
        $copy = Copy-Backup
        Copy-Item -LiteralPath (Join-Backup $ForeignBackup.Path 'AES/vm1_256.json') -Destination (Join-Backup $copy 'AES/vm1_256.json') -Force
        foreach ($deep in $false, $true) {
            $run = if ($deep) { Invoke-Captured { Test-TVMKeyBackup -Path $copy -Deep -PrivateKeyPath $Keys.Private } } else { Invoke-Captured { Test-TVMKeyBackup -Path $copy } }
            $null = Assert-Damaged $run $copy 'AES/vm1_256.json' 'WrappingKeyMismatch', 'HashMismatch' -Only
        }
    }

    It 'finds a key file wrapped for another key that claims the backup''s key, in a manifest made consistent: only -Deep can (UnwrapFailed)' {
        $copy = Copy-Backup
        $good = Read-KeyFile $copy 'AES/vm1_256.json'
        $foreign = Read-KeyFile $ForeignBackup.Path 'AES/vm1_256.json'
        # The foreign blob, under the backup's wrapping public key; the manifest records the new bytes and is sealed.
        $forged = Set-JsonValue $good 'private-key' (Get-JsonValue $foreign 'private-key')
        $forged | Should -Not -BeExactly $good
        Write-KeyFile $copy 'AES/vm1_256.json' $forged
        $m = Read-Manifest $copy
        Update-Entry $m $copy 'AES/vm1_256.json'
        Write-Manifest $copy $m
        $full = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $copy }))
        $full.Status | Should -BeExactly 'Valid' -Because "nothing but the key can tell; $(Format-Findings $full)"
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $copy -Deep -PrivateKeyPath $Keys.Private }
        $null = Assert-Damaged $run $copy 'AES/vm1_256.json' 'UnwrapFailed' -Only
    }

    It 'in a legacy backup, finds the one key file made for another wrapping key, though it is the first file' {
        # A legacy backup records no wrapping key; given the private key, the backup's wrapping key is known: the
        # foreign file is the damaged one, and the others unwrap.
        $legacy = Copy-Legacy
        Copy-Item -LiteralPath (Join-Backup $ForeignBackup.Path 'AES/vm1_256.json') -Destination (Join-Backup $legacy 'AES/vm1_256.json') -Force
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }
        $check = Assert-Damaged $run $legacy 'AES/vm1_256.json' 'WrappingKeyMismatch' -Only
        foreach ($key in @($check.Keys | Where-Object File -CNE 'AES/vm1_256.json')) {
            $key.Enc | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP' -Because "$($key.File) unwraps with the private key; $(Format-Findings $check)"
        }
        # The same with -WrappingKeyPath instead (no deep check).
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -WrappingKeyPath $Keys.Public }
        $null = Assert-Damaged $run $legacy 'AES/vm1_256.json' 'WrappingKeyMismatch' -Only
    }

    It 'finds a changed character in a wrapped key of a legacy backup (UnwrapFailed): <Field>' -ForEach @(
        @{ File = 'AES/vm2_256.json'; Field = 'private-key' }
        @{ File = 'RSA/AzureStackTvmAKRootKey_2048.json'; Field = 'private-key' }
    ) {
        $legacy = Copy-Legacy
        Write-KeyFile $legacy $File (Set-OneCharacter (Read-KeyFile $legacy $File) $Field)
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }
        $null = Assert-Damaged $run $legacy $File 'UnwrapFailed' -Only
    }

    It 'finds a key file whose enc is not the one it was wrapped with (EncMismatch)' {
        $legacy = Copy-Legacy
        $text = Read-KeyFile $legacy 'AES/vm1_256.json'
        Write-KeyFile $legacy 'AES/vm1_256.json' (Set-JsonValue $text 'private-key-wrapping-info.enc' 'RSA_AES_KEY_WRAP_256')
        $full = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $legacy }))
        $full.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $full)
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }
        $check = Assert-Damaged $run $legacy 'AES/vm1_256.json' 'EncMismatch' -Only
        @($check.Keys | Where-Object File -CEQ 'AES/vm1_256.json')[0].Enc | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP'
    }

    It 'finds an RSA key file whose wrapped private key is not the half of its public key (KeyMaterialInvalid)' {
        # The public key of this vault's root key, the wrapped private key of the other vault's (same wrapping key).
        $legacy = Copy-Legacy
        $text = Read-KeyFile $legacy $RsaFile
        $other = Read-KeyFile $SecondBackup.Path $RsaFile
        $spliced = Set-JsonValue $text 'private-key' (Get-JsonValue $other 'private-key')
        $spliced | Should -Not -BeExactly $text
        Write-KeyFile $legacy $RsaFile $spliced
        $full = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $legacy }))
        $full.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $full)
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }
        $null = Assert-Damaged $run $legacy $RsaFile 'KeyMaterialInvalid' -Only
    }

    # python3 (cryptography) is not there in the win-x64 pwsh under Wine.
    It 'accepts key files made by another implementation (Python): RFC 5649, RFC 3394, SHA-256 OAEP' -Skip:(Test-UnderWine) {
        $legacy = Copy-Legacy
        New-PythonKeyFile (Join-Backup $legacy 'AES/py5649_256.json') 32
        New-PythonKeyFile (Join-Backup $legacy 'AES/py3394_256.json') 32 -Wrap kw
        New-PythonKeyFile (Join-Backup $legacy 'AES/pysha256_256.json') 32 -Oaep sha256
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }))
        $check.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $check)
        $check.KeyCount | Should -Be 6
        $byFile = @{}; foreach ($k in $check.Keys) { $byFile[$k.File] = $k }
        "$($byFile['AES/py5649_256.json'].Enc) $($byFile['AES/py5649_256.json'].KeyWrap)" | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP RFC5649'
        "$($byFile['AES/py3394_256.json'].Enc) $($byFile['AES/py3394_256.json'].KeyWrap)" | Should -BeExactly 'CKM_RSA_AES_KEY_WRAP RFC3394'
        "$($byFile['AES/pysha256_256.json'].Enc) $($byFile['AES/pysha256_256.json'].KeyWrap)" | Should -BeExactly 'RSA_AES_KEY_WRAP_256 RFC5649'
    }

    It 'finds an AES key file whose wrapped key is 31 bytes, not 32 (KeyMaterialInvalid): only -Deep can' -Skip:(Test-UnderWine) {
        # 31 bytes wrap (RFC 5649, padded to 32) to a blob as long as an AES-256 key's: nothing but the key can tell.
        $legacy = Copy-Legacy
        New-PythonKeyFile (Join-Backup $legacy 'AES/bad_256.json') 31
        $full = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $legacy }))
        $full.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $full)
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private }
        $check = Assert-Damaged $run $legacy 'AES/bad_256.json' 'KeyMaterialInvalid' -Only
        @($check.Findings | Where-Object File -CEQ 'AES/bad_256.json')[0].Message | Should -BeLike '*248*'
    }

    It 'finds an AES key file whose wrapped key is 16 bytes, by the length of its blob (BlobLengthInvalid)' -Skip:(Test-UnderWine) {
        $legacy = Copy-Legacy
        New-PythonKeyFile (Join-Backup $legacy 'AES/bad_256.json') 16
        foreach ($deep in $false, $true) {
            $run = if ($deep) { Invoke-Captured { Test-TVMKeyBackup -Path $legacy -Deep -PrivateKeyPath $Keys.Private } } else { Invoke-Captured { Test-TVMKeyBackup -Path $legacy } }
            $null = Assert-Damaged $run $legacy 'AES/bad_256.json' 'BlobLengthInvalid' -Only
        }
    }

    Context 'An encrypted private key' {
        BeforeAll {
            # The vector private key exported with a password by .NET, as an operator would (under Wine by CryptoAPI).
            $rsa = if (Test-UnderWine) { [System.Security.Cryptography.RSACryptoServiceProvider]::new() } else { [System.Security.Cryptography.RSA]::Create() }
            $rsa.ImportFromPem([IO.File]::ReadAllText($Keys.Private))
            $pbe = [System.Security.Cryptography.PbeParameters]::new([System.Security.Cryptography.PbeEncryptionAlgorithm]::Aes256Cbc,
                [System.Security.Cryptography.HashAlgorithmName]::SHA256, 100000)
            $script:EncryptedPem = [IO.Path]::Combine((New-TestFolder encrypted), 'private-encrypted.pem')
            [IO.File]::WriteAllText($EncryptedPem, $rsa.ExportEncryptedPkcs8PrivateKeyPem('s3cret pass', $pbe) + "`n", $script:Utf8)
            $rsa.Dispose()
            $script:Password = ConvertTo-SecureString 's3cret pass' -AsPlainText -Force
        }

        It 'opens a .NET export (PBES2, AES-256-CBC, SHA-256, 100000 iterations) with -Password' {
            (Get-Content -LiteralPath $EncryptedPem -First 1) | Should -BeExactly '-----BEGIN ENCRYPTED PRIVATE KEY-----'
            $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -Deep -PrivateKeyPath $EncryptedPem -Password $Password }))
            $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
            $check.Depth | Should -BeExactly 'Deep'
            @($check.Keys | Where-Object { $_.Enc -ceq 'CKM_RSA_AES_KEY_WRAP' -and $_.KeyWrap -ceq 'RFC5649' }).Count | Should -Be 3
        }

        It 'opens the encrypted vector key (made with Python) with its password' {
            $check = Get-Check (Assert-Clean (Invoke-Captured {
                        Test-TVMKeyBackup -Path $Good.Path -Deep -PrivateKeyPath (Get-TestVector 'encrypted_private_pkcs8.pem') -Password (ConvertTo-SecureString 'test' -AsPlainText -Force) }))
            $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
            @($check.Keys.Enc | Where-Object { $_ -ceq 'CKM_RSA_AES_KEY_WRAP' }).Count | Should -Be 3
        }

        It 'stops with PemPasswordWrong for a wrong password, and checks nothing' {
            $wrong = ConvertTo-SecureString 's3cret pasS' -AsPlainText -Force
            $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path, $Good.Path -Deep -PrivateKeyPath $EncryptedPem -Password $wrong }
            $e = Assert-TvmTerminating $run PemPasswordWrong SecurityError
            Get-ErrorText $e | Should -BeLike '*password*'
            @($run.Output).Count | Should -Be 0
            @($run.Errors).Count | Should -Be 0 -Because "a wrong password is one error, not one per backup: $(Format-Captured $run)"
        }

        It 'asks for -Password when the key is encrypted and none is given (PemEncrypted)' {
            $run = Invoke-Captured { Test-TVMKeyBackup -Path $Good.Path -Deep -PrivateKeyPath $EncryptedPem }
            $e = Assert-TvmError $run PemEncrypted NotImplemented
            Get-ErrorText $e | Should -BeLike '*-Password*'
        }
    }
}

Describe 'Legacy backups (no manifest.json, as the original script writes them)' {
    BeforeAll {
        $script:LegacyRoot = New-TestFolder legacyroot
        $script:Legacy = Copy-Legacy -Root $LegacyRoot
    }

    It 'is Legacy, with no findings and no error, and names its wrapping key from its key files' {
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Legacy }))
        $check.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $check)
        @($check.Findings).Count | Should -Be 0
        $check.HasManifest | Should -BeFalse
        $check.KeyCount | Should -Be 3
        $check.AesCount | Should -Be 2
        $check.RsaCount | Should -Be 1
        $check.WrappingKeyFingerprint | Should -BeExactly $Good.WrappingKeyFingerprint
        $check.Label | Should -BeNullOrEmpty
        $check.Source | Should -BeNullOrEmpty
        @($check.Keys.Status | Where-Object { $_ -ceq 'Valid' }).Count | Should -Be 3
    }

    It 'is Legacy with -WrappingKeyPath of its key and with -Deep' {
        $check = Get-Check (Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $Legacy -WrappingKeyPath $Keys.Public -Deep -PrivateKeyPath $Keys.Private }))
        $check.Status | Should -BeExactly 'Legacy' -Because (Format-Findings $check)
        $vault = Get-Fingerprints $Vault
        foreach ($key in $check.Keys) { $key.Fingerprint | Should -BeExactly $vault[$key.Name] }
    }

    It 'restores: Import-TVMKeys imports every key into a new vault, the same keys' {
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $restores = @(Import-TVMKeys -BackupPath $Legacy -WrappingKeyName TvmWrap -VaultPath $target -SkipTargetBackup 6>$null)
        ($restores | ForEach-Object { "$($_.Name) $($_.Outcome)" } | Get-OrdinalSorted) | Should -BeExactly @('AzureStackTvmAKRootKey Imported', 'vm1 Imported', 'vm2 Imported')
        $source = Get-Fingerprints $Vault
        $restored = Get-Fingerprints $target
        foreach ($name in 'vm1', 'vm2', 'AzureStackTvmAKRootKey') { $restored[$name] | Should -BeExactly $source[$name] -Because "the key $name" }
    }

    It 'Get-TVMKeyBackup lists it as Legacy, with its wrapping key from its key files' {
        $list = @(Get-OfType @(Get-TVMKeyBackup -BackupRootPath $LegacyRoot) TvmBackupInfo)
        $list.Count | Should -Be 1
        $list[0].Status | Should -BeExactly 'Legacy'
        $list[0].Path | Should -Be $Legacy
        $list[0].KeyCount | Should -Be 3
        $list[0].WrappingKeyFingerprint | Should -BeExactly $Good.WrappingKeyFingerprint
        $list[0].Problem | Should -BeNullOrEmpty
    }
}

Describe 'Coverage: does the backup still hold every key of the vault' {
    It 'an untouched vault is covered, with no error and no warning' {
        $vault = New-SourceVault
        $backup = New-Backup $vault
        $run = Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $backup.Path -VaultPath $vault })
        $check = Get-Check $run
        $check.Status | Should -BeExactly 'Valid'
        $check.Coverage.Covered | Should -BeTrue
        $check.Coverage.InBoth | Should -Be 3
        @($check.Coverage.MissingFromBackup).Count | Should -Be 0
        @($check.Coverage.NotInVault).Count | Should -Be 0
        @($check.Coverage.Differing).Count | Should -Be 0
        $check.Coverage.MaterialCompared | Should -Be 1 -Because 'without -Deep only the RSA key''s material is known (its public half)'
        $check.Coverage.Vault | Should -BeLike "*$vault*"
        @($run.Warnings).Count | Should -Be 0
        $run.Host | Should -Contain "Coverage of $($backup.Path) against the local vault ${vault}: 3 keys in both, 0 missing from the backup, 0 no longer in the vault, 0 different."
    }

    It 'names a key added to the vault and a key removed from it since the backup, once each' {
        $vault = New-SourceVault
        $backup = New-Backup $vault
        $null = New-TvmVaultKey -Name vm3 -Type AES -Size 256 -VaultPath $vault
        Remove-Item -LiteralPath (Get-VaultKeyFile $vault 'vm2')
        $run = Invoke-Captured { Test-TVMKeyBackup -Path $backup.Path -VaultPath $vault }
        $check = Get-Check $run
        $check.Status | Should -BeExactly 'Valid' -Because 'the backup itself is intact'
        $check.Coverage.Covered | Should -BeFalse
        $check.Coverage.InBoth | Should -Be 2
        @($check.Coverage.MissingFromBackup.Name) | Should -BeExactly @('vm3')
        @($check.Coverage.NotInVault.Name) | Should -BeExactly @('vm2')
        @($check.Coverage.Differing).Count | Should -Be 0
        @($run.Warnings).Count | Should -Be 2 -Because (Format-Captured $run)
        @($run.Warnings | Where-Object { $_ -like 'Key vm3 *' }).Count | Should -Be 1 -Because (Format-Captured $run)
        @($run.Warnings | Where-Object { $_ -like 'Key vm2 *' }).Count | Should -Be 1 -Because (Format-Captured $run)
        $run.Host | Should -Contain "Coverage of $($backup.Path) against the local vault ${vault}: 2 keys in both, 1 missing from the backup, 1 no longer in the vault, 0 different."
        @($run.Errors).Count | Should -Be 1 -Because (Format-Captured $run)
        $run.Errors[0].FullyQualifiedErrorId | Should -BeExactly 'BackupNotCurrent,TvmBackupUtils.Commands.TestTvmKeyBackupCommand'
        $run.Errors[0].CategoryInfo.Category | Should -Be 'InvalidResult'
        $run.Errors[0].Exception.Message | Should -BeLike '*vm3*'
    }

    It 'names a key replaced by another of the same name: RSA always, AES with -Deep' {
        $vault = New-SourceVault
        $backup = New-Backup $vault
        foreach ($k in @(@{ Name = 'AzureStackTvmAKRootKey'; Type = 'RSA'; Size = 2048 }, @{ Name = 'vm1'; Type = 'AES'; Size = 256 })) {
            $before = (Get-Fingerprints $vault)[$k.Name]
            Remove-Item -LiteralPath (Get-VaultKeyFile $vault $k.Name)
            $null = New-TvmVaultKey -Name $k.Name -Type $k.Type -Size $k.Size -VaultPath $vault
            (Get-Fingerprints $vault)[$k.Name] | Should -Not -BeExactly $before
        }
        $full = Invoke-Captured { Test-TVMKeyBackup -Path $backup.Path -VaultPath $vault }
        $check = Get-Check $full
        @($check.Coverage.Differing.Name) | Should -BeExactly @('AzureStackTvmAKRootKey') -Because (Format-Captured $full)
        $check.Coverage.MaterialCompared | Should -Be 1
        $check.Coverage.Covered | Should -BeFalse
        @($full.Errors | Where-Object { "$($_.FullyQualifiedErrorId)" -like 'BackupNotCurrent,*' }).Count | Should -Be 1

        $deep = Invoke-Captured { Test-TVMKeyBackup -Path $backup.Path -VaultPath $vault -Deep -PrivateKeyPath $Keys.Private }
        $check = Get-Check $deep
        $check.Status | Should -BeExactly 'Valid' -Because (Format-Findings $check)
        ($check.Coverage.Differing.Name | Get-OrdinalSorted) | Should -BeExactly @('AzureStackTvmAKRootKey', 'vm1') -Because (Format-Captured $deep)
        $check.Coverage.MaterialCompared | Should -Be 3
        $check.Coverage.InBoth | Should -Be 3
        @($check.Coverage.MissingFromBackup).Count + @($check.Coverage.NotInVault).Count | Should -Be 0
        $check.Coverage.Covered | Should -BeFalse
        @($deep.Warnings).Count | Should -Be 2 -Because (Format-Captured $deep)
        @($deep.Warnings | Where-Object { $_ -like 'Key vm1 *' }).Count | Should -Be 1
        @($deep.Warnings | Where-Object { $_ -like 'Key AzureStackTvmAKRootKey *' }).Count | Should -Be 1
        @($deep.Errors).Count | Should -Be 1
        $deep.Errors[0].FullyQualifiedErrorId | Should -BeExactly 'BackupNotCurrent,TvmBackupUtils.Commands.TestTvmKeyBackupCommand'
    }
}

Describe 'Get-TVMKeyBackup' {
    BeforeAll {
        # A root with every kind of folder: a complete backup made now, a legacy one, damaged ones and partial ones
        # (the 2099 ones are newer than it), and things that are not backups.
        $script:Root = New-TestFolder root
        $script:Complete = New-Backup $Vault -Root $Root
        $script:Legacy2099 = Copy-Backup -From $Complete.Path -Name '20991229000000' -Root $Root
        Remove-Item -LiteralPath (Join-Backup $Legacy2099 'manifest.json')
        # A backup of 2099 in its own right (its manifest says so), that lost a key file.
        $script:Damaged2099 = Copy-Backup -From $Complete.Path -Name '20991230000000' -Root $Root
        $m = Read-Manifest $Damaged2099; $m.timestamp = '20991230000000'; Write-Manifest $Damaged2099 $m
        Remove-Item -LiteralPath (Join-Backup $Damaged2099 'AES/vm2_256.json')
        $script:Partial2099 = Copy-Backup -From $Complete.Path -Name '.20991231000000.partial' -Root $Root
        $script:Partial2020 = Copy-Backup -From $Complete.Path -Name '.20200102000000.partial' -Root $Root
        $script:Empty2020 = [IO.Path]::Combine($Root, '20200101000000')
        $null = New-Item -ItemType Directory -Path $Empty2020
        $null = New-Item -ItemType Directory -Path ([IO.Path]::Combine($Root, 'notes'))
        [IO.File]::WriteAllText([IO.Path]::Combine($Root, 'readme.txt'), "not a backup`n", $script:Utf8)
        $script:Expected = @(
            "$Partial2099 Partial", "$Damaged2099 Damaged", "$Legacy2099 Legacy", "$($Complete.Path) Complete", "$Partial2020 Partial", "$Empty2020 Damaged")
    }

    It 'lists every backup of the root, newest first, each with its status' {
        $list = @(Get-OfType @(Get-TVMKeyBackup -BackupRootPath $Root) TvmBackupInfo)
        @($list | ForEach-Object { "$($_.Path) $($_.Status)" }) | Should -Be $Expected
        $byStatus = @{}; foreach ($b in $list) { $byStatus["$($b.Path)"] = $b }
        $complete = $byStatus[$Complete.Path]
        $complete.Timestamp | Should -Be $Complete.Timestamp
        $complete.KeyCount | Should -Be 3
        $complete.Label | Should -BeExactly 'weekly'
        $complete.WrappingKeyFingerprint | Should -BeExactly $Complete.WrappingKeyFingerprint
        $complete.CreatedUtc | Should -Not -BeNullOrEmpty
        $complete.Problem | Should -BeNullOrEmpty
        $complete.Age.TotalMinutes | Should -BeGreaterOrEqual -1
        $complete.Age.TotalMinutes | Should -BeLessThan 30
        $byStatus[$Legacy2099].Timestamp | Should -Be ([datetime]::new(2099, 12, 29))
        $byStatus[$Partial2099].Timestamp | Should -Be ([datetime]::new(2099, 12, 31))
        $byStatus[$Damaged2099].Problem | Should -BeLike '*AES/vm2_256.json*'
        $byStatus[$Damaged2099].KeyCount | Should -Be 2
        $byStatus[$Empty2020].Problem | Should -Not -BeNullOrEmpty
    }

    It '-Latest gives the newest Complete or Legacy backup' {
        $latest = @(Get-OfType @(Get-TVMKeyBackup -BackupRootPath $Root -Latest) TvmBackupInfo)
        $latest.Count | Should -Be 1
        $latest[0].Path | Should -Be $Legacy2099
        $latest[0].Status | Should -BeExactly 'Legacy'
    }

    It 'pipes into Test-TVMKeyBackup: one check per backup, an error for each that is not good' {
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $Root | Test-TVMKeyBackup }
        $checks = @(Get-OfType $run.Output TvmBackupCheck)
        @($checks | ForEach-Object { "$($_.Path) $($_.Status)" }) | Should -Be @(
            "$Partial2099 Incomplete", "$Damaged2099 Damaged", "$Legacy2099 Legacy", "$($Complete.Path) Valid", "$Partial2020 Incomplete", "$Empty2020 Damaged")
        @($checks[0].Findings | Where-Object { $_.File -ceq '' -and $_.Problem -ceq 'Incomplete' }).Count | Should -Be 1 -Because (Format-Findings $checks[0])
        @($checks[1].Findings | Where-Object { $_.File -ceq 'AES/vm2_256.json' -and $_.Problem -ceq 'FileMissing' }).Count | Should -Be 1 -Because (Format-Findings $checks[1])
        @($checks[5].Findings | Where-Object { $_.File -ceq '' -and $_.Problem -ceq 'NotABackup' }).Count | Should -Be 1 -Because (Format-Findings $checks[5])
        @($run.Errors | ForEach-Object { "$($_.TargetObject) $("$($_.FullyQualifiedErrorId)".Split(',')[0])" }) | Should -Be @(
            "$Partial2099 BackupDamaged", "$Damaged2099 BackupDamaged", "$Partial2020 BackupDamaged", "$Empty2020 BackupDamaged")
    }

    It '-Latest pipes into Import-TVMKeys, which restores that backup (the newest complete one behind a damaged one)' {
        $root = New-TestFolder root
        $complete = New-Backup $Vault -Root $root
        # A copy under a newer name: its manifest is that of another backup (ManifestMismatch).
        $null = Copy-Backup -From $complete.Path -Name '20991230000000' -Root $root
        (Get-TVMKeyBackup -BackupRootPath $root)[0].Status | Should -BeExactly 'Damaged'
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target 6>$null
        $restores = @(Get-TVMKeyBackup -BackupRootPath $root -Latest | Import-TVMKeys -WrappingKeyName TvmWrap -VaultPath $target 6>$null)
        ($restores | ForEach-Object { "$($_.Name) $($_.Outcome)" } | Get-OrdinalSorted) | Should -BeExactly @('AzureStackTvmAKRootKey Imported', 'vm1 Imported', 'vm2 Imported')
        $source = Get-Fingerprints $Vault
        $restored = Get-Fingerprints $target
        foreach ($name in 'vm1', 'vm2', 'AzureStackTvmAKRootKey') { $restored[$name] | Should -BeExactly $source[$name] -Because "the key $name" }
    }

    It '-Latest with no Complete or Legacy backup is the error NoCompleteBackup' {
        $root = New-TestFolder root
        $null = Copy-Backup -From $Good.Path -Name '.20200102000000.partial' -Root $root
        $null = New-Item -ItemType Directory -Path ([IO.Path]::Combine($root, '20200101000000'))
        @(Get-TVMKeyBackup -BackupRootPath $root).Count | Should -Be 2
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $root -Latest }
        $null = Assert-TvmError $run NoCompleteBackup ObjectNotFound
    }

    It 'a backup root that is not there is the error BackupRootMissing' {
        $missing = [IO.Path]::Combine((New-TestFolder parent), 'no-such-root')
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $missing }
        $e = Assert-TvmError $run BackupRootMissing ObjectNotFound
        Get-ErrorText $e | Should -BeLike "*$missing*"
        $missing | Should -Not -Exist
    }

    It 'a backup root that is a file is the error BackupRootIsFile' {
        $file = [IO.Path]::Combine((New-TestFolder parent), 'root.txt')
        [IO.File]::WriteAllText($file, 'x')
        $run = Invoke-Captured { Get-TVMKeyBackup -BackupRootPath $file }
        $null = Assert-TvmError $run BackupRootIsFile InvalidArgument
    }
}
