# Wrapping key shares: Split-TvmWrappingKey (Shamir M of N of the wrapping private key, in clear, to custodian
# public keys or under custodian passwords), Join-TvmWrappingKey (the key rebuilt in memory, a PEM only with
# -OutFile), Test-TvmWrappingKeyShare (each file alone: Valid, Opened, Damaged, NotOpened), and -SharePath in place
# of -PrivateKeyPath for Import-TvmWrappingKeyFromPem, Test-TVMKeyBackup -Deep and Import-TVMKeys. The format is that
# of src/shares.rs (ShareFile, binding(), seal_to_key, seal_to_password).
# - Every 3 of a 3-of-5 split rebuild the key (the -OutFile PEM read back, and by Python's cryptography), every 2 do
#   not (ShareTooFew); shares of two splits (ShareSplitMismatch), one flipped byte (ShareInvalid, Damaged), a share
#   changed and sealed again (ShareRebuildFailed), duplicates, thresholds and custodians out of range, share files
#   that exist; custodian keys and passwords that open their shares only (Opened, NotOpened, ShareLocked,
#   SharePasswordWrong).
# - A restore from shares alone, the wrapping private key file deleted, on a local vault (-VaultPath) and on the
#   stand-in Moc module (tests/MocStandIn: NOT Microsoft's Moc module; it reproduces the documented behaviours of
#   the Moc key vault cmdlets in plain files), with every key compared, and no copy of the wrapping private key left
#   in the work folders or the temp folder (the target vault's own folder left out: it must hold the key).
# - The share files read by an independent implementation (share_open.py beside this file: Python's cryptography
#   and its own GF(256)): checksums, custodian key and password envelopes, and the key rebuilt by interpolation.
#   Under Wine there is no python3: those tests are skipped.
# New tests (no xunit class before them).
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:UnderWine = Test-UnderWine
    $script:Kinds = @(@{ Kind = 'local' }, @{ Kind = 'MOC' })
    # Every 3 of shares 1 to 5 (10), and every 2 (10), ascending.
    $script:Triples = @(foreach ($a in 1..3) { foreach ($b in ($a + 1)..4) { foreach ($c in ($b + 1)..5) { @{ Name = "$a, $b, $c"; Indexes = @($a, $b, $c) } } } })
    $script:Pairs = @(foreach ($a in 1..4) { foreach ($b in ($a + 1)..5) { @{ Name = "$a, $b"; Indexes = @($a, $b) } } })
    # One byte of a share file XORed with 0x01: at the match of Pattern (a regex on the file's text) plus Skip. Source:
    # share 1 of the clear split, or of the split to custodian keys.
    $script:DamageCases = @(
        @{ Case = 'a byte in the middle of the base64 share'; Source = 'clear'; Pattern = '"share": "'; Skip = 300 }
        @{ Case = 'the first character of the base64 share'; Source = 'clear'; Pattern = '"share": "'; Skip = 0 }
        @{ Case = 'the last character of the base64 share before its padding'; Source = 'clear'; Pattern = '[A-Za-z0-9+/](?==*",\s*"shareSha256")'; Skip = -1 }
        @{ Case = 'the index digit'; Source = 'clear'; Pattern = '"index": '; Skip = 0 }
        @{ Case = 'the threshold digit'; Source = 'clear'; Pattern = '"threshold": '; Skip = 0 }
        @{ Case = 'a digit of the key size'; Source = 'clear'; Pattern = '"keySize": '; Skip = 1 }
        @{ Case = 'a hex digit of the checksum'; Source = 'clear'; Pattern = '"checksum": "'; Skip = 30 }
        @{ Case = 'the last hex digit of the checksum'; Source = 'clear'; Pattern = '"checksum": "'; Skip = 63 }
        @{ Case = 'a hex digit of the fingerprint'; Source = 'clear'; Pattern = '"fingerprint": "'; Skip = 7 }
        @{ Case = 'a hex digit of the split id'; Source = 'clear'; Pattern = '"splitId": "'; Skip = 0 }
        @{ Case = 'a hex digit of the share''s SHA-256'; Source = 'clear'; Pattern = '"shareSha256": "'; Skip = 40 }
        @{ Case = 'the protection'; Source = 'clear'; Pattern = '"protection": "'; Skip = 0 }
        @{ Case = 'the format'; Source = 'clear'; Pattern = '"format": "'; Skip = 0 }
        @{ Case = 'a field name'; Source = 'clear'; Pattern = '"creat'; Skip = -4 }
        @{ Case = 'the opening brace'; Source = 'clear'; Pattern = '^'; Skip = 0 }
        @{ Case = 'the encrypted key of a custodian share'; Source = 'keyed'; Pattern = '"encryptedKey": "'; Skip = 100 }
        @{ Case = 'the custodian fingerprint of a custodian share'; Source = 'keyed'; Pattern = '"custodianFingerprint": "'; Skip = 3 }
        @{ Case = 'a byte of the ciphertext of a custodian share'; Source = 'keyed'; Pattern = '"share": "'; Skip = 20 }
    )
    # Keys: the custodian public keys given, in share order: 1 to 5 custodian i, 6 the outsider, 0 the wrapping key's
    # own public key, -1 an RSA-1024 key.
    $script:CustodianCases = @(
        @{ Case = '4 custodian public keys for 5 shares'; Keys = @(1, 2, 3, 4); Words = '4 custodian public keys were given for 5 shares' }
        @{ Case = '6 custodian public keys for 5 shares'; Keys = @(1, 2, 3, 4, 5, 6); Words = '6 custodian public keys were given for 5 shares' }
        @{ Case = 'the same custodian key twice'; Keys = @(1, 2, 3, 4, 1); Words = 'are the same key' }
        @{ Case = 'the wrapping key itself as a custodian key'; Keys = @(1, 2, 3, 4, 0); Words = 'is the wrapping key itself' }
        @{ Case = 'an RSA-1024 custodian key'; Keys = @(1, 2, 3, 4, -1); Words = 'RSA 1024' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Import-MocStandIn

    $script:UnderWine = Test-UnderWine
    $script:SharePy = Join-Path $PSScriptRoot 'share_open.py'
    $script:Group = 'AzureStackHostAttestation'
    $script:Vault = 'AzureStackTvmKeyVault'
    $script:RootKey = 'AzureStackTvmAKRootKey'
    $script:Wrap = 'w'
    $script:PrivatePemHeader = '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----'

    function New-Password([string] $Text) { ConvertTo-SecureString $Text -AsPlainText -Force }

    # The DER of an unencrypted PEM file's body (no .NET RSA: none under Wine).
    function Get-PemDer([string] $Path) {
        $body = ([IO.File]::ReadAllText($Path) -replace '-----[A-Z ]+-----', '') -replace '\s', ''
        , [Convert]::FromBase64String($body)
    }

    # The module's fingerprint of an RSA public key (docs/format.md section 8): SHA-256 of its PKCS#1 DER, first 16
    # bytes, lower-case hex.
    function Get-PublicFingerprint([byte[]] $Pkcs1Der) {
        [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Pkcs1Der), 0, 16).ToLowerInvariant()
    }

    # The names of the files in -Folder, ordinal order.
    function Get-FileNames([string] $Folder) { Get-OrdinalSorted @([IO.Directory]::GetFiles($Folder) | ForEach-Object { [IO.Path]::GetFileName($_) }) }

    # The objects of -Type (TvmBackupUtils.<Type>) a captured run wrote, those only (a status marker left out).
    function Get-Written($Run, [string] $Type) {
        @(Get-OfType @($Run.Output | Where-Object { $_.PSObject.TypeNames -notcontains 'Shares.Status' }) $Type)
    }

    # The one TvmWrappingKeyJoin of a captured run that must have succeeded without an error.
    function Get-Join($Run) {
        $null = Assert-Clean $Run
        $joins = @(Get-Written $Run TvmWrappingKeyJoin)
        $joins.Count | Should -Be 1 -Because (Format-Captured $Run)
        $joins[0]
    }

    # The $? the run's status marker recorded ([pscustomobject]@{ PSTypeName = 'Shares.Status'; Succeeded = $? }).
    function Get-Succeeded($Run) {
        $marker = @($Run.Output | Where-Object { $_.PSObject.TypeNames -contains 'Shares.Status' })
        $marker.Count | Should -Be 1 -Because (Format-Captured $Run)
        $marker[0].Succeeded
    }

    # The ErrorIds (before the comma) of the non-terminating errors of a captured run.
    function Get-ErrorIds($Run) { @($Run.Errors | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] }) }

    # share_open.py (beside this file) with -Arguments; returns ExitCode and Output (stdout and stderr lines).
    function Invoke-SharePython([string[]] $Arguments) {
        $output = @(& python3 $SharePy @Arguments 2>&1 | ForEach-Object { "$_" })
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $output }
    }

    # The value of "<Name>=<value>" among the lines of a Python run (the first such line).
    function Get-PythonValue($Run, [string] $Name) {
        $line = @($Run.Output | Where-Object { $_ -like "$Name=*" })
        $line.Count | Should -BeGreaterThan 0 -Because "Python printed $Name=: $($Run.Output -join "`n")"
        $line[0].Substring($Name.Length + 1)
    }

    # A copy of the file -Path in a new test folder, under the same name.
    function Copy-ToNewFolder([string] $Path, [string] $Name = 'copy') {
        $copy = Join-Path (New-TestFolder $Name) ([IO.Path]::GetFileName($Path))
        Copy-Item -LiteralPath $Path -Destination $copy
        $copy
    }

    # XORs the byte of -Path at the match of -Pattern (a regex on its text) plus -Skip with 0x01. Returns the offset.
    function Set-FlippedByte([string] $Path, [string] $Pattern, [int] $Skip) {
        $bytes = [IO.File]::ReadAllBytes($Path)
        $m = [regex]::Match([Text.Encoding]::ASCII.GetString($bytes), $Pattern)
        $m.Success | Should -BeTrue -Because "the share file holds $Pattern"
        $offset = $m.Index + $m.Length + $Skip
        $bytes[$offset] = $bytes[$offset] -bxor 0x01
        [IO.File]::WriteAllBytes($Path, $bytes)
        $offset
    }

    # The checksum text of a share file's JSON (src/shares.rs binding(), written here from the format's words):
    # every field but "checksum", the fields of "custodian" as "custodian.<name>", sorted bytewise by name, each as
    # "name=value" and a line feed; strings as they are, numbers in decimal.
    function Get-ShareBinding([string] $Text) {
        $doc = [System.Text.Json.JsonDocument]::Parse($Text)
        try {
            $fields = [System.Collections.Generic.SortedDictionary[string, string]]::new([StringComparer]::Ordinal)
            $textOf = { param($e) if ($e.ValueKind -eq [System.Text.Json.JsonValueKind]::String) { $e.GetString() } else { $e.GetRawText() } }
            foreach ($p in $doc.RootElement.EnumerateObject()) {
                if ($p.Value.ValueKind -eq [System.Text.Json.JsonValueKind]::Object) {
                    foreach ($q in $p.Value.EnumerateObject()) { $fields["$($p.Name).$($q.Name)"] = & $textOf $q.Value }
                } elseif ($p.Name -cne 'checksum') {
                    $fields[$p.Name] = & $textOf $p.Value
                }
            }
            -join @(foreach ($f in $fields.GetEnumerator()) { "$($f.Key)=$($f.Value)`n" })
        } finally {
            $doc.Dispose()
        }
    }

    function Get-Sha256Hex([byte[]] $Bytes) { [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant() }

    # A string field of a share file's JSON text.
    function Get-ShareField([string] $Text, [string] $Name) {
        $doc = [System.Text.Json.JsonDocument]::Parse($Text)
        try { $doc.RootElement.GetProperty($Name).ToString() } finally { $doc.Dispose() }
    }

    # Whether an item of Get-ChildItem is a regular file (not a FIFO or socket, whose opening would wait).
    function Test-RegularFile($Item) { -not $Item.PSIsContainer -and ($IsWindows -or "$($Item.UnixMode)".StartsWith('-')) }

    # Every regular file under -Root (hidden ones too, symbolic links not followed) of at most 8 MB, but those under
    # the folders -Exclude.
    function Get-FilesUnder([string] $Root, [string[]] $Exclude = @()) {
        $prefixes = @($Exclude | ForEach-Object { [IO.Path]::GetFullPath($_).TrimEnd([IO.Path]::DirectorySeparatorChar) + [IO.Path]::DirectorySeparatorChar })
        @(Get-ChildItem -LiteralPath $Root -Recurse -Force -File -ErrorAction SilentlyContinue |
                Where-Object { (Test-RegularFile $_) -and $_.Length -le 8MB -and -not ($_.Attributes -band [IO.FileAttributes]::ReparsePoint) } |
                ForEach-Object FullName |
                Where-Object { $f = $_; -not @($prefixes | Where-Object { $f.StartsWith($_, [StringComparison]::OrdinalIgnoreCase) }) })
    }

    # The files among -Files that hold a PRIVATE KEY PEM header, read as UTF-8 and as UTF-16LE.
    function Find-PrivatePem([string[]] $Files) {
        foreach ($f in $Files) {
            try { $bytes = [IO.File]::ReadAllBytes($f) } catch { continue }
            if ([Text.Encoding]::UTF8.GetString($bytes) -match $PrivatePemHeader -or [Text.Encoding]::Unicode.GetString($bytes) -match $PrivatePemHeader) { $f }
        }
    }

    # What a text is searched in, after: UTF-16LE read byte by byte (its NULs removed), whitespace and the JSON
    # escapes of line breaks removed, and the JSON escapes of '+', '/' and '=' undone (System.Text.Json writes '+'
    # as \u002B, as the stand-in's key store does).
    $script:TextUndo = @(("`0", ''), ("`r", ''), ("`n", ''), ("`t", ''), (' ', ''), ('\r', ''), ('\n', ''),
        ('\u002B', '+'), ('\u002b', '+'), ('\u002F', '/'), ('\u002f', '/'), ('\/', '/'), ('\u003D', '='), ('\u003d', '='))

    # The files among -Files that hold one of the secret forms -Forms (Get-SecretForms): "<file>: <form>". A file
    # that cannot be read is skipped. Each file is read once as Latin-1 (one character per byte) and searched with
    # ordinal string searches: the binary forms as they are; the text forms in the file made plain (TextUndo), for
    # the files that hold the first 16 characters of a text form as ASCII or UTF-16LE (where a text form is, its
    # first 16 characters are, whatever its line breaks: they are letters and digits, which JSON does not escape).
    # So a temp folder of a gigabyte takes seconds, not minutes.
    function Find-Secret([string[]] $Files, $Forms) {
        $latin1 = [Text.Encoding]::Latin1
        $binaries = @($Forms.Binaries | ForEach-Object { $latin1.GetString($_) })
        $starts = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
        foreach ($t in $Forms.Texts) {
            $start = $t.Substring(0, 16)
            $start | Should -MatchExactly '^[A-Za-z0-9]{16}$' -Because 'the start of a text form is not escaped in JSON'
            $null = $starts.Add($start)
            $null = $starts.Add($latin1.GetString([Text.Encoding]::Unicode.GetBytes($start)))
        }
        foreach ($f in $Files) {
            try { $raw = $latin1.GetString([IO.File]::ReadAllBytes($f)) } catch { continue }
            $hit = $null
            foreach ($b in $binaries) { if ($raw.IndexOf($b, [StringComparison]::Ordinal) -ge 0) { $hit = 'binary form'; break } }
            if (-not $hit -and @($starts | Where-Object { $raw.IndexOf($_, [StringComparison]::Ordinal) -ge 0 }).Count -gt 0) {
                $text = $raw
                foreach ($u in $TextUndo) { $text = $text.Replace($u[0], $u[1]) }
                foreach ($t in $Forms.Texts) { if ($text.IndexOf($t, [StringComparison]::Ordinal) -ge 0) { $hit = "text form $($t.Substring(0, 12))..."; break } }
            }
            if ($hit) { "${f}: $hit" }
        }
    }

    # --- The fixtures of the file: keys and splits made once, read (never changed) by the tests. ---
    $script:Fx = New-TestFolder 'shares-fixture'
    # The wrapping key pair (.NET, as the docs make it), another key, an outsider custodian.
    $script:Key = New-TestKeyPair (Join-Path $Fx 'wrapping')
    $script:KeyDer = Get-PemDer $Key.Public
    $script:KeyFingerprint = Get-PublicFingerprint $KeyDer
    $script:KeyModulus = Get-ModulusHex $KeyDer
    $script:KeyPrivateHash = (Get-FileHash -LiteralPath $Key.Private -Algorithm SHA256).Hash
    $script:Other = New-TestKeyPair (Join-Path $Fx 'other')
    $script:Outsider = New-TestKeyPair (Join-Path $Fx 'outsider')
    # Five custodians: 1 to 4 .NET key pairs, 5 made by New-TvmWrappingKey with an encrypted private key.
    $script:C5Password = 'custodian five password'
    $script:Custodians = [System.Collections.Generic.List[object]]::new()
    foreach ($i in 1..4) { $Custodians.Add((New-TestKeyPair (Join-Path $Fx "custodian$i"))) }
    $c5 = Join-Path $Fx 'custodian5'
    $null = New-Item -ItemType Directory -Path $c5
    $made = New-TvmWrappingKey -PublicKeyPath (Join-Path $c5 'public.pem') -PrivateKeyPath (Join-Path $c5 'private.pem') -Password (New-Password $C5Password) -ErrorAction Stop 6>$null
    $Custodians.Add([pscustomobject]@{ Public = $made.PublicKeyPath; Private = $made.PrivateKeyPath; Bits = 2048 })
    $script:CustodianPublics = [string[]]@($Custodians | ForEach-Object Public)
    $script:CustodianPrivates = [string[]]@($Custodians | ForEach-Object Private)
    $script:CustodianFingerprints = [string[]]@($CustodianPublics | ForEach-Object { Get-PublicFingerprint (Get-PemDer $_) })

    # The 3-of-5 split in clear, to the five custodian keys, and the 2-of-3 split under three passwords.
    $script:ClearDir = Join-Path $Fx 'clear'
    $script:ClearRun = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $ClearDir -NoEncryption }
    $script:ClearSplit = @(Get-Written $ClearRun TvmWrappingKeyShare)
    $script:Clear = [string[]]@($ClearSplit | ForEach-Object Path)
    $script:KeyedDir = Join-Path $Fx 'keyed'
    $script:KeyedRun = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $KeyedDir -CustodianPublicKeyPath $CustodianPublics }
    $script:KeyedSplit = @(Get-Written $KeyedRun TvmWrappingKeyShare)
    $script:Keyed = [string[]]@($KeyedSplit | ForEach-Object Path)
    $script:Passwords = @('alpha pass', 'beta pass', 'gamma pass')
    $script:PwDir = Join-Path $Fx 'password'
    $secure = @($Passwords | ForEach-Object { New-Password $_ })
    $script:PwRun = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 2 -Shares 3 -OutPath $PwDir -CustodianPassword $secure }
    $script:PwSplit = @(Get-Written $PwRun TvmWrappingKeyShare)
    $script:Pw = [string[]]@($PwSplit | ForEach-Object Path)
}

Describe 'Split-TvmWrappingKey: one share file and one TvmWrappingKeyShare per share' {
    It '-NoEncryption 3 of 5 writes five share files in clear, one object each, naming the key, the split and the share' {
        $null = Assert-Clean $ClearRun
        $ClearSplit.Count | Should -Be 5
        @($ClearSplit | ForEach-Object Index) | Should -Be @(1, 2, 3, 4, 5)
        $splitId = $ClearSplit[0].SplitId
        $splitId | Should -MatchExactly '^[0-9a-f]{32}$'
        foreach ($s in $ClearSplit) {
            $s.Path | Should -BeExactly (Join-Path $ClearDir "wrapping-key-$($KeyFingerprint.Substring(0, 8))-share-$($s.Index)-of-5.json")
            $s.Path | Should -Exist
            @($s.Threshold, $s.Shares, $s.SplitId, $s.Fingerprint, $s.KeySize, $s.Protection) | Should -Be @(3, 5, $splitId, $KeyFingerprint, 2048, 'None')
            $s.CustodianFingerprint | Should -BeNullOrEmpty
            $s.Status | Should -BeNullOrEmpty
            $json = [IO.File]::ReadAllText($s.Path) | ConvertFrom-Json
            @($json.format, $json.version, $json.index, $json.threshold, $json.shares, $json.fingerprint, $json.protection) | Should -Be @('TvmWrappingKeyShare', 1, $s.Index, 3, 5, $KeyFingerprint, 'None')
            $json.PSObject.Properties.Name | Should -Not -Contain 'custodian'
            # In clear the share is the index byte and one byte per byte of the key's PKCS#8 DER (the DER of .NET's
            # ExportPkcs8PrivateKey is what the split read).
            $share = [Convert]::FromBase64String($json.share)
            $share[0] | Should -Be $s.Index
            $share.Length | Should -Be ((Get-PemDer $Key.Private).Length + 1)
            Get-Sha256Hex $share | Should -BeExactly $json.shareSha256
        }
        # Only the five share files: no temporary file left.
        $names = Get-FileNames $ClearDir
        $names | Should -BeExactly (Get-OrdinalSorted @($ClearSplit | ForEach-Object { [IO.Path]::GetFileName($_.Path) }))
        (Get-FileHash -LiteralPath $Key.Private -Algorithm SHA256).Hash | Should -Be $KeyPrivateHash -Because 'the private key file is not touched'
    }

    It 'the checksum of a share file is the SHA-256 of its binding text (every field but checksum, sorted, name=value lines)' {
        foreach ($path in @($Clear) + @($Keyed) + @($Pw)) {
            $text = [IO.File]::ReadAllText($path)
            Get-Sha256Hex ([Text.Encoding]::UTF8.GetBytes((Get-ShareBinding $text))) | Should -BeExactly (Get-ShareField $text 'checksum') -Because $path
        }
        # The binding text of a custodian share names its envelope's fields as custodian.<name>.
        $binding = Get-ShareBinding ([IO.File]::ReadAllText($Keyed[0]))
        $binding | Should -BeLikeExactly "*`ncustodian.algorithm=RSA-OAEP-SHA256+AES-256-KWP`ncustodian.custodianFingerprint=$($CustodianFingerprints[0])`ncustodian.encryptedKey=*"
        $binding | Should -Not -BeLike '*checksum=*'
    }

    It 'to custodian public keys: share i is encrypted to custodian i (Protection CustodianKey, its fingerprint)' {
        $null = Assert-Clean $KeyedRun
        $KeyedSplit.Count | Should -Be 5
        @($KeyedSplit.SplitId | Sort-Object -Unique).Count | Should -Be 1
        $KeyedSplit[0].SplitId | Should -Not -Be $ClearSplit[0].SplitId -Because 'every split has its own id'
        foreach ($s in $KeyedSplit) {
            @($s.Protection, $s.Fingerprint, $s.Threshold, $s.Shares) | Should -Be @('CustodianKey', $KeyFingerprint, 3, 5)
            $s.CustodianFingerprint | Should -BeExactly $CustodianFingerprints[$s.Index - 1]
            $json = [IO.File]::ReadAllText($s.Path) | ConvertFrom-Json
            $json.custodian.algorithm | Should -BeExactly 'RSA-OAEP-SHA256+AES-256-KWP'
            $json.custodian.custodianFingerprint | Should -BeExactly $CustodianFingerprints[$s.Index - 1]
            [Convert]::FromBase64String($json.custodian.encryptedKey).Length | Should -Be 256 -Because 'the AES key is RSA-OAEP encrypted to a 2048-bit key'
            @($json.custodian.PSObject.Properties.Name) | Should -Not -Contain 'iterations'
        }
    }

    It 'under custodian passwords: Protection Password, PBKDF2 with 600000 iterations, a salt and an iv of 16 bytes each' {
        $null = Assert-Clean $PwRun
        $PwSplit.Count | Should -Be 3
        $salts = foreach ($s in $PwSplit) {
            @($s.Protection, $s.Threshold, $s.Shares) | Should -Be @('Password', 2, 3)
            $s.CustodianFingerprint | Should -BeNullOrEmpty
            $json = [IO.File]::ReadAllText($s.Path) | ConvertFrom-Json
            $json.custodian.algorithm | Should -BeExactly 'PBES2-PBKDF2-HMAC-SHA256+AES-256-CBC'
            $json.custodian.iterations | Should -Be 600000
            [Convert]::FromBase64String($json.custodian.salt).Length | Should -Be 16
            [Convert]::FromBase64String($json.custodian.iv).Length | Should -Be 16
            $json.custodian.salt
        }
        @($salts | Sort-Object -Unique).Count | Should -Be 3 -Because 'every share has its own salt'
    }

    It 'one password for every share warns that whoever knows it and holds 2 share files can rebuild the key' {
        $out = Join-Path (New-TestFolder 'one-password') 'shares'
        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 2 -Shares 2 -OutPath $out -CustodianPassword (New-Password 'the same') }
        $r.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $r)
        @(Get-Written $r TvmWrappingKeyShare).Count | Should -Be 2
        @($r.Warnings | Where-Object { $_ -like 'Every share is encrypted under the same password*holds 2 share files*' }).Count | Should -Be 1 -Because (Format-Captured $r)
    }

    It '-WhatIf writes nothing and outputs nothing' {
        $out = Join-Path (New-TestFolder 'whatif') 'shares'
        $r = Assert-Clean (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -NoEncryption -WhatIf })
        $r.Output | Should -BeNullOrEmpty
        [IO.Directory]::Exists($out) | Should -BeFalse
    }
}

Describe 'Any 3 of the 5 shares rebuild the key (Join-TvmWrappingKey -OutFile)' {
    BeforeAll {
        $OutDir = New-TestFolder 'joined'
        # Every 3 of the 5, given in descending order; and one with -Password.
        $Joins = @{}
        foreach ($a in 1..3) {
            foreach ($b in ($a + 1)..4) {
                foreach ($c in ($b + 1)..5) {
                    $paths = @($Clear[$c - 1], $Clear[$b - 1], $Clear[$a - 1])
                    $out = Join-Path $OutDir "key-$a$b$c.pem"
                    $Joins["$a, $b, $c"] = [pscustomobject]@{ Run = Invoke-Captured { Join-TvmWrappingKey -SharePath $paths -OutFile $out }; Out = $out }
                }
            }
        }
        $EncryptedOut = Join-Path $OutDir 'encrypted.pem'
        $JoinPassword = 'join -OutFile password'
        $EncryptedRun = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[1], $Clear[3], $Clear[4] -OutFile $EncryptedOut -Password (New-Password $JoinPassword) }
    }

    It 'shares <Name>: the key the shares name, written to -OutFile as a PKCS#8 PEM of the original key' -ForEach $Triples {
        $j = $Joins[$Name]
        $o = Get-Join $j.Run
        $o.Fingerprint | Should -BeExactly $KeyFingerprint
        @($o.KeySize, $o.SplitId, $o.Threshold, $o.Shares, $o.OutFile, $o.Encrypted) | Should -Be @(2048, $ClearSplit[0].SplitId, 3, 5, $j.Out, $false)
        @($o.Used) | Should -Be $Indexes -Because 'Used lists the shares ascending'
        $text = [IO.File]::ReadAllText($j.Out)
        $text | Should -BeLikeExactly '-----BEGIN PRIVATE KEY-----*-----END PRIVATE KEY-----*'
        Get-ModulusHex (Get-PemDer $j.Out) -Private | Should -BeExactly $KeyModulus
        @($j.Run.Warnings | Where-Object { $_ -like "*$KeyFingerprint*is written to '$($j.Out)' in clear*" }).Count | Should -Be 1 -Because 'the PEM written in clear is named in a warning'
    }

    It 'Python''s cryptography loads every -OutFile PEM, and its public numbers are the original key''s' -Skip:$UnderWine {
        $files = @($Joins.Values | ForEach-Object Out | Sort-Object)
        $files.Count | Should -Be 10
        $r = Invoke-SharePython (@('public', $Key.Private, $Key.Public) + $files)
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $r.Output.Count | Should -Be 12
        $original = $r.Output[0].Split(' ')[0..1] -join ' '
        $original | Should -BeLikeExactly 'n=* e=65537'
        $r.Output[1] | Should -BeExactly "$original $($Key.Public)" -Because 'Python reads the public key file as the private key''s'
        # n in hex as .NET's public key file holds it.
        $original.Split(' ')[0].Substring(2) | Should -Be $KeyModulus.ToLowerInvariant()
        for ($i = 0; $i -lt $files.Count; $i++) { $r.Output[$i + 2] | Should -BeExactly "$original $($files[$i])" }
    }

    It '-Password writes an ENCRYPTED PRIVATE KEY PEM (Encrypted True)' {
        $o = Get-Join $EncryptedRun
        @($o.Fingerprint, $o.OutFile, $o.Encrypted) | Should -Be @($KeyFingerprint, $EncryptedOut, $true)
        @($o.Used) | Should -Be @(2, 4, 5)
        $text = [IO.File]::ReadAllText($EncryptedOut)
        $text | Should -BeLikeExactly '-----BEGIN ENCRYPTED PRIVATE KEY-----*-----END ENCRYPTED PRIVATE KEY-----*'
        @($EncryptedRun.Warnings | Where-Object { $_ -like "*is written to '$EncryptedOut', encrypted with the password*" }).Count | Should -Be 1 -Because (Format-Captured $EncryptedRun)
    }

    It 'Python''s cryptography opens the -Password PEM with the password, to the original key, and not without it' -Skip:$UnderWine {
        $original = Invoke-SharePython @('public', $Key.Public)
        $r = Invoke-SharePython @('public', '--password', $JoinPassword, $EncryptedOut)
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $r.Output | Should -BeExactly @($original.Output[0].Replace($Key.Public, $EncryptedOut))
        $none = Invoke-SharePython @('public', $EncryptedOut)
        $none.ExitCode | Should -Be 4 -Because ($none.Output -join "`n")
        $wrong = Invoke-SharePython @('public', '--password', 'not it', $EncryptedOut)
        $wrong.ExitCode | Should -Be 4 -Because ($wrong.Output -join "`n")
    }

    It 'share objects on the pipeline (Path) and files (FullName) rebuild the key; without -OutFile nothing is written' {
        $before = Get-FolderState $Fx
        $byPath = Get-Join (Invoke-Captured { $ClearSplit[0], $ClearSplit[2], $ClearSplit[3] | Join-TvmWrappingKey })
        @($byPath.Fingerprint, $byPath.OutFile, $byPath.Encrypted) | Should -Be @($KeyFingerprint, $null, $false)
        @($byPath.Used) | Should -Be @(1, 3, 4)
        $run = Invoke-Captured { Get-ChildItem -LiteralPath $ClearDir -Filter '*.json' | Sort-Object Name | Select-Object -Last 3 | Join-TvmWrappingKey }
        $byName = Get-Join $run
        @($byName.Used) | Should -Be @(3, 4, 5)
        $byName.Fingerprint | Should -BeExactly $KeyFingerprint
        $run.Host | Should -Contain "Shares 3, 4, 5 rebuild the wrapping key $KeyFingerprint (3 of 5); nothing was written."
        $run.Warnings | Should -BeNullOrEmpty
        $after = Get-FolderState $Fx
        $after | Should -BeExactly $before
    }

    It 'an -OutFile that exists is WrappingKeyFileExists without -Force (the file kept); -Force replaces it' {
        $out = Join-Path (New-TestFolder 'exists') 'key.pem'
        [IO.File]::WriteAllText($out, 'keep me')
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0..2] -OutFile $out }
        $null = Assert-TvmTerminating $r WrappingKeyFileExists ResourceExists
        [IO.File]::ReadAllText($out) | Should -BeExactly 'keep me'
        $o = Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0..2] -OutFile $out -Force })
        $o.OutFile | Should -BeExactly $out
        Get-ModulusHex (Get-PemDer $out) -Private | Should -BeExactly $KeyModulus
    }

    It '-Password without -OutFile is refused (InvalidRequest), and -WhatIf with -OutFile writes nothing' {
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0..2] -Password (New-Password 'x') }
        $null = Assert-TvmTerminating $r InvalidRequest InvalidArgument
        $out = Join-Path (New-TestFolder 'whatif-join') 'key.pem'
        $w = Assert-Clean (Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0..2] -OutFile $out -WhatIf })
        $w.Output | Should -BeNullOrEmpty
        $out | Should -Not -Exist
    }
}

Describe 'Any 2 of the 5 shares do not rebuild the key' {
    It 'shares <Name>: ShareTooFew, "Give 1 more share file", nothing written' -ForEach $Pairs {
        $out = Join-Path (New-TestFolder 'two') 'key.pem'
        $paths = @($Indexes | ForEach-Object { $Clear[$_ - 1] })
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $paths -OutFile $out }
        $e = Assert-TvmTerminating $r ShareTooFew InvalidArgument
        $text = Get-ErrorText $e
        $text | Should -BeLike '*Give 1 more share file;*'
        $text | Should -BeLike "*3 shares of the wrapping key $KeyFingerprint rebuild it (a 3-of-5 split), and 2 were given (shares $($Indexes -join ', '))*"
        $r.Output | Should -BeNullOrEmpty
        $out | Should -Not -Exist
        [IO.Directory]::GetFileSystemEntries((Split-Path $out)) | Should -BeNullOrEmpty
    }

    It 'one share: ShareTooFew, "Give 2 more share files"' {
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[4] }
        Get-ErrorText (Assert-TvmTerminating $r ShareTooFew InvalidArgument) | Should -BeLike '*1 was given (share 5). Give 2 more share files;*'
    }
}

Describe 'Shares that do not belong together, or are damaged' {
    BeforeAll {
        # A second split of the same key (3 of 5), and a split of another key (3 of 5).
        $Again = @(Get-Written (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath (Join-Path $Fx 'again') -NoEncryption }) TvmWrappingKeyShare)
        $Foreign = @(Get-Written (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Other.Private -Threshold 3 -Shares 5 -OutPath (Join-Path $Fx 'foreign') -NoEncryption }) TvmWrappingKeyShare)
        $OtherFingerprint = Get-PublicFingerprint (Get-PemDer $Other.Public)
    }

    It 'two splits of the same key mixed: ShareSplitMismatch naming both files and both split ids' {
        $Again.Count | Should -Be 5
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $Clear[1], $Again[2].Path }
        $text = Get-ErrorText (Assert-TvmTerminating $r ShareSplitMismatch InvalidData)
        $text | Should -BeLike "*'$($Clear[0])' (split $($ClearSplit[0].SplitId), 3 of 5, wrapping key $KeyFingerprint)*"
        $text | Should -BeLike "*'$($Again[2].Path)' (split $($Again[0].SplitId), 3 of 5, wrapping key $KeyFingerprint)*"
        # Each file alone is sound: Test-TvmWrappingKeyShare finds nothing wrong with any of them.
        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Clear[0], $Clear[1], $Again[2].Path })
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Valid', 'Valid', 'Valid')
    }

    It 'a split of another key mixed in: ShareSplitMismatch naming both files and both keys' {
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $Foreign[1].Path, $Clear[2] }
        $text = Get-ErrorText (Assert-TvmTerminating $r ShareSplitMismatch InvalidData)
        $text | Should -BeLike "*'$($Clear[0])'*wrapping key $KeyFingerprint)*"
        $text | Should -BeLike "*'$($Foreign[1].Path)' (split $($Foreign[0].SplitId), 3 of 5, wrapping key $OtherFingerprint)*"
    }

    It 'the same file twice and one other: the duplicate counts once (ShareTooFew, "Give 1 more share file"); so does a copy of it' {
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $Clear[0], $Clear[1] }
        Get-ErrorText (Assert-TvmTerminating $r ShareTooFew InvalidArgument) | Should -BeLike '*2 were given (shares 1, 2). Give 1 more share file;*'
        $copy = Copy-ToNewFolder $Clear[0]
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $copy, $Clear[1] }
        Get-ErrorText (Assert-TvmTerminating $r ShareTooFew InvalidArgument) | Should -BeLike '*Give 1 more share file;*'
        # With a third share the duplicate does no harm.
        @((Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $copy, $Clear[1], $Clear[4] })).Used) | Should -Be @(1, 2, 5)
    }

    It 'one byte flipped, <Case>: ShareInvalid naming the file in Join-TvmWrappingKey, and Damaged in Test-TvmWrappingKeyShare' -ForEach $DamageCases {
        $set = if ($Source -eq 'clear') { $Clear } else { $Keyed }
        $damaged = Copy-ToNewFolder $set[0] 'damaged'
        $original = [IO.File]::ReadAllBytes($damaged)
        $offset = Set-FlippedByte $damaged $Pattern $Skip
        $after = [IO.File]::ReadAllBytes($damaged)
        @(for ($i = 0; $i -lt $after.Length; $i++) { if ($after[$i] -ne $original[$i]) { $i } }) | Should -Be @($offset) -Because 'one byte differs'
        $keys = if ($Source -eq 'clear') { @() } else { $CustodianPrivates[0..2] }
        $join = @{ SharePath = @($damaged, $set[1], $set[2]) }
        if ($keys) { $join.CustodianPrivateKeyPath = $keys }

        $r = Invoke-Captured { Join-TvmWrappingKey @join }
        $e = Assert-TvmTerminating $r ShareInvalid InvalidData
        Get-ErrorText $e | Should -BeLike "*The share file '$damaged' is damaged or is not a share file*"
        $r.Output | Should -BeNullOrEmpty

        $t = Invoke-Captured {
            Test-TvmWrappingKeyShare -SharePath $damaged, $set[1]
            [pscustomobject]@{ PSTypeName = 'Shares.Status'; Succeeded = $? }
        }
        $t.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $t)
        $o = @(Get-Written $t TvmWrappingKeyShare)
        @($o | ForEach-Object Status) | Should -Be @('Damaged', 'Valid')
        @($o[0].Path, $o[0].ErrorId, $o[0].Category) | Should -Be @($damaged, 'ShareInvalid', 'InvalidData')
        $o[0].Message | Should -BeLike "*'$damaged'*"
        Get-ErrorIds $t | Should -Be @('ShareInvalid')
        $t.Errors[0].FullyQualifiedErrorId | Should -BeLikeExactly 'ShareInvalid,TvmBackupUtils.*'
        $t.Errors[0].TargetObject | Should -Be $damaged
        Get-Succeeded $t | Should -BeFalse
    }

    It 'a share changed and sealed again (its shareSha256 and checksum made anew): Valid alone, ShareRebuildFailed with two others' {
        $sealed = Copy-ToNewFolder $Clear[0] 'sealed'
        $text = [IO.File]::ReadAllText($sealed)
        $oldShare = Get-ShareField $text 'share'
        $bytes = [Convert]::FromBase64String($oldShare)
        # y[0]: the share's value for the first byte of the key's DER (its SEQUENCE tag), changed.
        $bytes[1] = $bytes[1] -bxor 0x5A
        $text = $text.Replace($oldShare, [Convert]::ToBase64String($bytes)).Replace((Get-ShareField $text 'shareSha256'), (Get-Sha256Hex $bytes))
        $text = $text.Replace((Get-ShareField $text 'checksum'), (Get-Sha256Hex ([Text.Encoding]::UTF8.GetBytes((Get-ShareBinding $text)))))
        [IO.File]::WriteAllText($sealed, $text)

        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $sealed })
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Valid') -Because 'the file is sound: its checksum was made as the format says'

        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $sealed, $Clear[1], $Clear[2] -OutFile (Join-Path (Split-Path $sealed) 'key.pem') }
        $text = Get-ErrorText (Assert-TvmTerminating $r ShareRebuildFailed SecurityError)
        $text | Should -BeLike "*'$sealed'*not the wrapping key $KeyFingerprint*"
        Join-Path (Split-Path $sealed) 'key.pem' | Should -Not -Exist

        # Beside the intact share 1 it is a second, different share 1: ShareInvalid naming both.
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $sealed, $Clear[1] }
        Get-ErrorText (Assert-TvmTerminating $r ShareInvalid InvalidData) | Should -BeLike "*'$($Clear[0])' and '$sealed' both hold share 1*"
    }

    It 'a share file saved again with a UTF-8 BOM and CRLF line ends (as a Windows editor does) is Valid and joins: the checksum is over the fields, not the bytes' {
        $resaved = Copy-ToNewFolder $Clear[3] 'resaved'
        $text = [IO.File]::ReadAllText($resaved).Replace("`r`n", "`n").Replace("`n", "`r`n")
        [IO.File]::WriteAllBytes($resaved, [byte[]](@(0xEF, 0xBB, 0xBF) + [Text.Encoding]::UTF8.GetBytes($text)))
        [IO.File]::ReadAllBytes($resaved).Length | Should -BeGreaterThan ([IO.File]::ReadAllBytes($Clear[3]).Length + 3) -Because 'the file did change'
        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $resaved })
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Valid')
        @((Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $resaved, $Clear[4] })).Used) | Should -Be @(1, 4, 5)
    }

    It 'a share file that does not exist: FileMissing; in Test-TvmWrappingKeyShare Damaged, and the other files checked' {
        $missing = Join-Path (New-TestFolder 'missing') 'none.json'
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Clear[0], $Clear[1], $missing }
        $null = Assert-TvmTerminating $r FileMissing ObjectNotFound
        $t = Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $missing, $Clear[3] }
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Damaged', 'Valid')
        Get-ErrorIds $t | Should -Be @('FileMissing')
    }
}

Describe 'Split-TvmWrappingKey refuses what cannot be a split, and writes nothing' {
    BeforeEach { $work = New-TestFolder 'refused'; $out = Join-Path $work 'shares' }

    It '-Threshold <Threshold> -Shares <Shares>: parameter validation (ValidateRange 2 to 16)' -ForEach @(
        @{ Threshold = 1; Shares = 3 }, @{ Threshold = 2; Shares = 17 }, @{ Threshold = 0; Shares = 5 }, @{ Threshold = 17; Shares = 16 }, @{ Threshold = 2; Shares = 1 }
    ) {
        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold $Threshold -Shares $Shares -OutPath $out -NoEncryption }
        $r.Terminating | Should -Not -BeNullOrEmpty
        $r.Terminating.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentValidationError,TvmBackupUtils.Commands.SplitTvmWrappingKeyCommand'
        [IO.Directory]::Exists($out) | Should -BeFalse
    }

    It '-Threshold <Threshold> -Shares <Shares>: the engine''s ShareCountInvalid' -ForEach @(@{ Threshold = 4; Shares = 3 }, @{ Threshold = 16; Shares = 2 }) {
        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold $Threshold -Shares $Shares -OutPath $out -NoEncryption }
        Get-ErrorText (Assert-TvmTerminating $r ShareCountInvalid InvalidArgument) | Should -BeLike "*-Threshold is $Threshold with -Shares $Shares*"
        [IO.Directory]::Exists($out) | Should -BeFalse
        [IO.Directory]::GetFileSystemEntries($work) | Should -BeNullOrEmpty
    }

    It '<Case>: CustodiansInvalid' -ForEach $CustodianCases {
        $small = if ($Keys -contains -1) { Write-KeyPair (New-TestRsa 1024) (Join-Path (New-TestFolder 'small') 'k') } else { $null }
        $paths = [string[]]@(foreach ($k in $Keys) {
                if ($k -eq 0) { $Key.Public } elseif ($k -eq -1) { $small.Public } elseif ($k -eq 6) { $Outsider.Public } else { $CustodianPublics[$k - 1] }
            })
        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -CustodianPublicKeyPath $paths }
        Get-ErrorText (Assert-TvmTerminating $r CustodiansInvalid InvalidArgument) | Should -BeLike "*$Words*"
        [IO.Directory]::Exists($out) | Should -BeFalse
    }

    It '2 custodian passwords for 5 shares: CustodiansInvalid' {
        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -CustodianPassword (New-Password 'a'), (New-Password 'b') }
        Get-ErrorText (Assert-TvmTerminating $r CustodiansInvalid InvalidArgument) | Should -BeLike '*2 custodian passwords were given for 5 shares*'
        [IO.Directory]::Exists($out) | Should -BeFalse
    }

    It 'share files of the key in -OutPath already: ShareFileExists without -Force, the folder unchanged; -Force replaces them' {
        $first = @(Get-Written (Assert-Clean (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -NoEncryption })) TvmWrappingKeyShare)
        $first.Count | Should -Be 5
        $before = Get-FolderState $out
        @($before | Where-Object { $_ -like 'file *' }).Count | Should -Be 5

        $r = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -NoEncryption }
        $text = Get-ErrorText (Assert-TvmTerminating $r ShareFileExists ResourceExists)
        $text | Should -BeLike "*'$out' holds share files of this key already (wrapping-key-$($KeyFingerprint.Substring(0, 8))-share-1-of-5.json,*"
        $text | Should -BeLike '*-Force*'
        $r.Output | Should -BeNullOrEmpty
        $after = Get-FolderState $out
        $after | Should -BeExactly $before -Because 'nothing in the folder changed'
        # The refused split also for custodian keys (checked before anything is written).
        $null = Assert-TvmTerminating (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -CustodianPublicKeyPath $CustodianPublics }) ShareFileExists ResourceExists
        $after = Get-FolderState $out
        $after | Should -BeExactly $before
        @((Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath @($first[0..2].Path) })).Used) | Should -Be @(1, 2, 3)

        $forced = @(Get-Written (Assert-Clean (Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Key.Private -Threshold 3 -Shares 5 -OutPath $out -NoEncryption -Force })) TvmWrappingKeyShare)
        $forced.Count | Should -Be 5
        $forced[0].SplitId | Should -Not -Be $first[0].SplitId
        $names = Get-FileNames $out
        $names | Should -BeExactly (Get-OrdinalSorted @($first | ForEach-Object { [IO.Path]::GetFileName($_.Path) }))
        @(Test-TvmWrappingKeyShare -SharePath @($forced.Path) | ForEach-Object SplitId | Sort-Object -Unique) | Should -Be @($forced[0].SplitId)
    }
}

Describe 'Shares encrypted to custodian keys open with their custodian''s key only' {
    BeforeAll { $c5pw = New-Password $C5Password }

    It 'Test-TvmWrappingKeyShare with each custodian''s own key (5: encrypted, with -CustodianPassword): Opened, no error' {
        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Keyed -CustodianPrivateKeyPath $CustodianPrivates -CustodianPassword $c5pw })
        $o = @(Get-Written $t TvmWrappingKeyShare)
        @($o | ForEach-Object Status) | Should -Be @('Opened', 'Opened', 'Opened', 'Opened', 'Opened')
        @($o | ForEach-Object Index) | Should -Be @(1, 2, 3, 4, 5)
        @($o | ForEach-Object CustodianFingerprint) | Should -Be $CustodianFingerprints
        @($o | Where-Object { $_.ErrorId -or $_.Message }) | Should -BeNullOrEmpty
        # A custodian checks his share alone, with his key alone.
        $alone = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Keyed[2] -CustodianPrivateKeyPath $CustodianPrivates[2] })
        @(Get-Written $alone TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Opened')
    }

    It 'with another custodian''s key: NotOpened, ShareLocked, a non-terminating error; $? false' {
        $t = Invoke-Captured {
            Test-TvmWrappingKeyShare -SharePath $Keyed[0] -CustodianPrivateKeyPath $CustodianPrivates[1]
            [pscustomobject]@{ PSTypeName = 'Shares.Status'; Succeeded = $? }
        }
        $t.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $t)
        $o = @(Get-Written $t TvmWrappingKeyShare)
        $o.Count | Should -Be 1
        @($o[0].Status, $o[0].ErrorId, $o[0].Category) | Should -Be @('NotOpened', 'ShareLocked', 'InvalidArgument')
        $o[0].Message | Should -BeLike "*encrypted to the custodian key $($CustodianFingerprints[0]), and none of the custodian private keys given is that key*"
        Get-ErrorIds $t | Should -Be @('ShareLocked')
        $t.Errors[0].TargetObject | Should -Be $Keyed[0]
        Get-Succeeded $t | Should -BeFalse
    }

    It 'with an outsider''s key: every share NotOpened, one ShareLocked error each' {
        $t = Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Keyed -CustodianPrivateKeyPath $Outsider.Private }
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('NotOpened', 'NotOpened', 'NotOpened', 'NotOpened', 'NotOpened')
        Get-ErrorIds $t | Should -Be @('ShareLocked', 'ShareLocked', 'ShareLocked', 'ShareLocked', 'ShareLocked')
    }

    It 'without a key: Valid (sound, not opened), no error' {
        $t = Assert-Clean (Invoke-Captured { $Keyed | Test-TvmWrappingKeyShare })
        $o = @(Get-Written $t TvmWrappingKeyShare)
        @($o | ForEach-Object Status) | Should -Be @('Valid', 'Valid', 'Valid', 'Valid', 'Valid')
        @($o | ForEach-Object Protection | Sort-Object -Unique) | Should -Be @('CustodianKey')
    }

    It 'Join-TvmWrappingKey with the right custodians'' keys rebuilds the key (shares 1, 3, 5; key 5 encrypted)' {
        $o = Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[4], $Keyed[0], $Keyed[2] -CustodianPrivateKeyPath $CustodianPrivates[0], $CustodianPrivates[2], $CustodianPrivates[4] -CustodianPassword $c5pw })
        $o.Fingerprint | Should -BeExactly $KeyFingerprint
        @($o.Used) | Should -Be @(1, 3, 5)
        $o.SplitId | Should -BeExactly $KeyedSplit[0].SplitId
    }

    It 'Join-TvmWrappingKey with the wrong custodians'' keys, or none, or too few of them: ShareLocked' {
        $wrong = Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[0..2] -CustodianPrivateKeyPath $CustodianPrivates[3], $Outsider.Private }
        Get-ErrorText (Assert-TvmTerminating $wrong ShareLocked InvalidArgument) | Should -BeLike "*share 1 '$($Keyed[0])' is encrypted to the custodian key $($CustodianFingerprints[0]), and none of the custodian private keys given is that key*"
        $none = Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[0..2] }
        Get-ErrorText (Assert-TvmTerminating $none ShareLocked InvalidArgument) | Should -BeLike '*no custodian private key was given*-CustodianPrivateKeyPath*'
        $some = Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[0..2] -CustodianPrivateKeyPath $CustodianPrivates[0..1] }
        Get-ErrorText (Assert-TvmTerminating $some ShareLocked InvalidArgument) | Should -BeLike "*share 3 '$($Keyed[2])'*"
    }

    It 'an encrypted custodian private key: without -CustodianPassword PemEncrypted, with a wrong one PemPasswordWrong, naming the file' {
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[2..4] -CustodianPrivateKeyPath $CustodianPrivates[2..4] }
        Get-ErrorText (Assert-TvmTerminating $r PemEncrypted NotImplemented) | Should -BeLike "*'$($CustodianPrivates[4])' is encrypted, and no password was given*"
        $r = Invoke-Captured { Join-TvmWrappingKey -SharePath $Keyed[2..4] -CustodianPrivateKeyPath $CustodianPrivates[2..4] -CustodianPassword (New-Password 'not it') }
        Get-ErrorText (Assert-TvmTerminating $r PemPasswordWrong SecurityError) | Should -BeLike "*'$($CustodianPrivates[4])' is encrypted, and no password given opens it*"
    }
}

Describe 'Shares under custodian passwords open with their password only' {
    It 'Test-TvmWrappingKeyShare with the right password: Opened' {
        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Pw[0] -CustodianPassword (New-Password $Passwords[0]) })
        $o = @(Get-Written $t TvmWrappingKeyShare)
        @($o | ForEach-Object Status) | Should -Be @('Opened')
        $o[0].Protection | Should -Be 'Password'
    }

    It 'with a wrong password: NotOpened, SharePasswordWrong, a non-terminating error' {
        $t = Invoke-Captured {
            Test-TvmWrappingKeyShare -SharePath $Pw[0] -CustodianPassword (New-Password 'not the password')
            [pscustomobject]@{ PSTypeName = 'Shares.Status'; Succeeded = $? }
        }
        $t.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $t)
        $o = @(Get-Written $t TvmWrappingKeyShare)
        @($o[0].Status, $o[0].ErrorId, $o[0].Category) | Should -Be @('NotOpened', 'SharePasswordWrong', 'SecurityError')
        $o[0].Message | Should -BeLike "*share 1 '$($Pw[0])' could not be opened with the password given*"
        Get-ErrorIds $t | Should -Be @('SharePasswordWrong')
        Get-Succeeded $t | Should -BeFalse
    }

    It 'without a password: Valid, no error' {
        $t = Assert-Clean (Invoke-Captured { Test-TvmWrappingKeyShare -SharePath $Pw })
        @(Get-Written $t TvmWrappingKeyShare | ForEach-Object Status) | Should -Be @('Valid', 'Valid', 'Valid')
    }

    It 'Join-TvmWrappingKey with the passwords of shares 1 and 2 rebuilds the key; without a password: ShareLocked' {
        $o = Get-Join (Invoke-Captured { Join-TvmWrappingKey -SharePath $Pw[1], $Pw[0] -CustodianPassword (New-Password $Passwords[0]), (New-Password $Passwords[1]) })
        $o.Fingerprint | Should -BeExactly $KeyFingerprint
        @($o.Used) | Should -Be @(1, 2)
        @($o.Threshold, $o.Shares) | Should -Be @(2, 3)
        $none = Invoke-Captured { Join-TvmWrappingKey -SharePath $Pw[0], $Pw[1] }
        Get-ErrorText (Assert-TvmTerminating $none ShareLocked InvalidArgument) | Should -BeLike '*encrypted under its custodian''s password. Give it with -CustodianPassword*'
    }
}

Describe 'A restore from shares alone, the wrapping private key file deleted, on a <Kind> vault' -ForEach $Kinds {
    # A wrapping key pair; a source vault with AES and RSA keys backed up to its public key; its private key split 3 of
    # 5 to the custodians' public keys, then deleted. Then, from shares only: Test-TVMKeyBackup -Deep (shares 2, 3, 4),
    # Import-TvmWrappingKeyFromPem into a target vault (shares 1, 4, 5), Import-TVMKeys (shares 1, 2, 3), and
    # Import-TVMKeys again (shares 3, 4, 5: the AES keys compared by material). Gathered here, checked below.
    BeforeAll {
        Clear-TvmVaultPath
        $Work = New-TestFolder "restore-$Kind"
        $SourceRoot = Join-Path $Work $(if ($Kind -eq 'MOC') { 'clusterA' } else { 'vaultA' })
        $TargetRoot = Join-Path $Work $(if ($Kind -eq 'MOC') { 'clusterB' } else { 'vaultB' })
        $p = if ($Kind -eq 'MOC') { @{} } else { @{ VaultPath = $SourceRoot } }
        $q = if ($Kind -eq 'MOC') { @{} } else { @{ VaultPath = $TargetRoot } }
        $Enter = { param($Root) if ($Kind -eq 'MOC') { Set-StandInCluster -StateRoot $Root } }
        $ListKeys = {
            param($Params)
            Get-OrdinalSorted @(Get-TvmVaultKey @Params -ErrorAction Stop | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size)" })
        }
        # Name -> material (bytes) of every key of the current vault, read without the module: the local vault's key
        # files; the stand-in's keys exported with a check key pair's public key and unwrapped here (Unprotect-KeyBlob).
        $CheckDir = New-TestFolder "restore-check-$Kind"
        $Check = New-TestKeyPair (Join-Path $CheckDir 'keys')
        $ReadMaterial = {
            param([string] $Root)
            $result = [System.Collections.Generic.Dictionary[string, byte[]]]::new([StringComparer]::Ordinal)
            if ($Kind -eq 'MOC') {
                foreach ($key in @(Get-MocKey -group $Group -keyvaultName $Vault -ErrorAction Stop)) {
                    $file = Join-Path $CheckDir "export-$([guid]::NewGuid().ToString('N')).json"
                    Export-MocKey -name $key.name -wrappingPubKeyFile $Check.Public -outFile $file -group $Group -keyvaultName $Vault -size ([int]$key.properties.key_size) -ErrorAction Stop
                    $result[[string]$key.name] = Unprotect-KeyBlob ([IO.File]::ReadAllText($file) | ConvertFrom-Json).'private-key' $Check.Rsa
                    Remove-Item -LiteralPath $file
                }
            } else {
                foreach ($key in @(Get-TvmVaultKey -VaultPath $Root -ErrorAction Stop)) { $result[[string]$key.Name] = (Read-VaultKeyFile $Root $key.Name).Material }
            }
            , $result
        }
        # Name -> public key of every RSA key of the current vault: the stand-in's listing PEM, or the local fingerprint.
        $ReadPublic = {
            param($Params)
            $result = [ordered]@{}
            if ($Kind -eq 'MOC') {
                foreach ($key in @(Get-MocKey -group $Group -keyvaultName $Vault -ErrorAction Stop | Where-Object { $_.properties.kty -eq 'RSA' })) { $result[[string]$key.name] = ([string]$key.value).Trim() }
            } else {
                foreach ($key in @(Get-TvmVaultKey @Params -ErrorAction Stop | Where-Object Type -EQ 'RSA')) { $result[[string]$key.Name] = [string]$key.Fingerprint }
            }
            $result
        }
        $SourceKeys = @(
            @{ Name = 'vm1'; Type = 'AES'; Size = 256 }
            @{ Name = [guid]::NewGuid().ToString(); Type = 'AES'; Size = 256 }
            @{ Name = $RootKey; Type = 'RSA'; Size = 2048 }
            @{ Name = 'rsa_key'; Type = 'RSA'; Size = 2048 }
        )

        # The wrapping key pair (New-TvmWrappingKey); its private key DER kept in memory only, for the search below.
        $Pair = New-TvmWrappingKey -PublicKeyPath (Join-Path $Work 'wrapping-public.pem') -PrivateKeyPath (Join-Path $Work 'wrapping-private.pem') -ErrorAction Stop 6>$null
        $WrapPublic = $Pair.PublicKeyPath
        $WrapPrivateDer = Get-PemDer $Pair.PrivateKeyPath
        $WrapModulus = Get-ModulusHex (Get-PemDer $WrapPublic)

        # The source vault and its backup to the public key.
        & $Enter $SourceRoot
        foreach ($k in $SourceKeys) { $null = New-TvmVaultKey -Name $k.Name -Type $k.Type -Size $k.Size @p -ErrorAction Stop }
        $Root = Join-Path $Work 'backups'
        $BackupRun = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $WrapPublic -BackupRootPath $Root @p }
        $Backup = @(Get-Written $BackupRun TvmBackup) | Select-Object -First 1
        $BackupPath = if ($Backup) { $Backup.Path } else { Join-Path $Root 'none' }
        $SourceList = & $ListKeys $p
        $SourcePublic = & $ReadPublic $p
        $SourceMaterial = & $ReadMaterial $SourceRoot

        # The split to the custodians, and the private key file deleted.
        $SharesDir = Join-Path $Work 'shares'
        $SplitRun = Invoke-Captured { Split-TvmWrappingKey -PrivateKeyPath $Pair.PrivateKeyPath -Threshold 3 -Shares 5 -OutPath $SharesDir -CustodianPublicKeyPath $CustodianPublics }
        $Shares = [string[]]@(Get-Written $SplitRun TvmWrappingKeyShare | ForEach-Object Path)
        Remove-Item -LiteralPath $Pair.PrivateKeyPath
        $PrivateGone = -not (Test-Path -LiteralPath $Pair.PrivateKeyPath)
        $PemsAfterDelete = @(Get-ChildItem -LiteralPath $Work -Recurse -Force -File -Filter '*.pem' | ForEach-Object FullName)
        $c5pw = New-Password $C5Password

        # From the shares only.
        $CheckRun = Invoke-Captured { Test-TVMKeyBackup -Path $BackupPath -Deep -SharePath $Shares[1..3] -CustodianPrivateKeyPath $CustodianPrivates[1..3] }
        & $Enter $TargetRoot
        $ImportKeyRun = Invoke-Captured {
            Import-TvmWrappingKeyFromPem -KeyName $Wrap -SharePath $Shares[0], $Shares[3], $Shares[4] -KeySize 2048 -PublicKeyPath $WrapPublic `
                -CustodianPrivateKeyPath $CustodianPrivates[0], $CustodianPrivates[3], $CustodianPrivates[4] -CustodianPassword $c5pw @q
        }
        $TargetWrapMaterial = (& $ReadMaterial $TargetRoot)[$Wrap]
        $RestoreRun = Invoke-Captured { Import-TVMKeys -BackupPath $BackupPath -WrappingKeyName $Wrap -SharePath $Shares[0..2] -CustodianPrivateKeyPath $CustodianPrivates[0..2] @q }
        $AgainRun = Invoke-Captured {
            Import-TVMKeys -BackupPath $BackupPath -WrappingKeyName $Wrap -SharePath $Shares[2..4] -CustodianPrivateKeyPath $CustodianPrivates[2..4] -CustodianPassword $c5pw @q
        }
        $WithoutSharesRun = Invoke-Captured { Import-TVMKeys -BackupPath $BackupPath -WrappingKeyName $Wrap @q }
        $TargetList = & $ListKeys $q
        $TargetPublic = & $ReadPublic $q
        $TargetMaterial = & $ReadMaterial $TargetRoot
    }
    AfterAll { Restore-TvmVaultPath }

    It 'the backup is made to the wrapping public key, and the split to the five custodians, before the private key file is deleted' {
        $null = Assert-Clean $BackupRun
        $Backup.WrappingKeyFingerprint | Should -BeExactly $Pair.Fingerprint
        @($Backup.Keys).Count | Should -Be $SourceKeys.Count
        $null = Assert-Clean $SplitRun
        $Shares.Count | Should -Be 5
        @(Get-Written $SplitRun TvmWrappingKeyShare | ForEach-Object { "$($_.Protection) $($_.Fingerprint) $($_.Threshold) $($_.Shares)" } | Sort-Object -Unique) | Should -Be @("CustodianKey $($Pair.Fingerprint) 3 5")
        $PrivateGone | Should -BeTrue
        $PemsAfterDelete | Should -BeExactly @($WrapPublic) -Because 'the public key is the only PEM left in the work folder'
    }

    It 'Test-TVMKeyBackup -Deep -SharePath (shares 2, 3, 4 and their custodians'' keys) is Valid: every key unwrapped' {
        $r = Assert-Clean $CheckRun
        $checks = @(Get-Written $r TvmBackupCheck)
        $checks.Count | Should -Be 1
        @($checks[0].Status, $checks[0].Depth, $checks[0].KeyCount) | Should -Be @('Valid', 'Deep', $SourceKeys.Count)
        @($checks[0].Findings).Count | Should -Be 0
        @($checks[0].Keys | ForEach-Object Status | Sort-Object -Unique) | Should -Be @('Valid')
        @($checks[0].Keys).Count | Should -Be $SourceKeys.Count
    }

    It 'Test-TVMKeyBackup -SharePath without -Deep is a deep check too; with two shares it is ShareTooFew' {
        $r = Assert-Clean (Invoke-Captured { Test-TVMKeyBackup -Path $BackupPath -SharePath $Shares[0..2] -CustodianPrivateKeyPath $CustodianPrivates[0..2] })
        (@(Get-Written $r TvmBackupCheck)[0]).Depth | Should -Be 'Deep'
        $few = Invoke-Captured { Test-TVMKeyBackup -Path $BackupPath -Deep -SharePath $Shares[0..1] -CustodianPrivateKeyPath $CustodianPrivates[0..1] }
        $all = @(@($few.Terminating) + @($few.Errors) | Where-Object { $null -ne $_ })
        @($all | ForEach-Object { "$($_.FullyQualifiedErrorId)".Split(',')[0] } | Sort-Object -Unique) | Should -Be @('ShareTooFew') -Because (Format-Captured $few)
        @(Get-Written $few TvmBackupCheck) | Should -BeNullOrEmpty
    }

    It 'Import-TvmWrappingKeyFromPem -SharePath (shares 1, 4, 5) imports the rebuilt key into the target vault: Imported, the original key' {
        $r = Assert-Clean $ImportKeyRun
        $o = @(Get-Written $r TvmWrappingKey)
        $o.Count | Should -Be 1
        @($o[0].Name, $o[0].Type, $o[0].Size, $o[0].Outcome, $o[0].Fingerprint) | Should -Be @($Wrap, 'RSA', 2048, 'Imported', $Pair.Fingerprint)
        $TargetWrapMaterial | Should -Not -BeNullOrEmpty
        Get-ModulusHex $TargetWrapMaterial -Private | Should -BeExactly $WrapModulus
        [Convert]::ToHexString($TargetWrapMaterial) | Should -BeExactly ([Convert]::ToHexString($WrapPrivateDer)) -Because 'the vault holds the PKCS#8 DER of the key New-TvmWrappingKey made'
    }

    It 'Import-TVMKeys -SharePath (shares 1, 2, 3) imports every key of the backup' {
        $r = Assert-Clean $RestoreRun
        $restores = @(Get-Written $r TvmKeyRestore)
        $outcomes = Get-OrdinalSorted @($restores | ForEach-Object { "$($_.Name)=$($_.Outcome)" })
        $outcomes | Should -BeExactly (Get-OrdinalSorted @($SourceKeys | ForEach-Object { "$($_.Name)=Imported" }))
    }

    It 'every key is in the target vault and the same: names, types, sizes, RSA public keys and key material' {
        $SourceList.Count | Should -Be $SourceKeys.Count
        $TargetList | Should -BeExactly (Get-OrdinalSorted (@($SourceList) + "$Wrap RSA 2048"))
        @($SourcePublic.Keys).Count | Should -Be 2
        foreach ($name in $SourcePublic.Keys) {
            $SourcePublic[$name] | Should -Not -BeNullOrEmpty
            $TargetPublic[$name] | Should -BeExactly $SourcePublic[$name] -Because "RSA key $name"
        }
        $SourceMaterial.Count | Should -Be $SourceKeys.Count
        foreach ($name in $SourceMaterial.Keys) {
            $TargetMaterial.ContainsKey($name) | Should -BeTrue -Because "key $name is in the target vault"
            $SourceMaterial[$name].Length | Should -BeGreaterThan 0
            [Convert]::ToHexString($TargetMaterial[$name]) | Should -BeExactly ([Convert]::ToHexString($SourceMaterial[$name])) -Because "key $name must not differ"
        }
    }

    It 'Import-TVMKeys again with -SharePath (shares 3, 4, 5) compares every key: Exists, Same (AES by material); without -SharePath the AES keys are NotCompared' {
        $again = @(Get-Written (Assert-Clean $AgainRun) TvmKeyRestore)
        $outcomes = Get-OrdinalSorted @($again | ForEach-Object { "$($_.Name)=$($_.Outcome)/$($_.Comparison)" })
        $outcomes | Should -BeExactly (Get-OrdinalSorted @($SourceKeys | ForEach-Object { "$($_.Name)=Exists/Same" }))
        $without = @(Get-Written (Assert-Clean $WithoutSharesRun) TvmKeyRestore)
        @($without | Where-Object Type -EQ 'AES' | ForEach-Object { "$($_.Outcome)/$($_.Comparison)" } | Sort-Object -Unique) | Should -Be @('Exists/NotCompared')
    }

    It 'no file under the work folders or the temp folder holds the wrapping private key (PEM, DER, base64, base64url), the target vault left out' {
        $forms = Get-SecretForms $WrapPrivateDer
        $workFiles = @(Get-FilesUnder $Work @($TargetRoot))
        # The public key, the backup's key files and manifest, the five shares.
        $workFiles.Count | Should -BeGreaterOrEqual ($SourceKeys.Count + 7)
        @($workFiles | Where-Object { $_ -like '*.json' -and $_.StartsWith($SharesDir) }).Count | Should -Be 5
        @(Find-PrivatePem $workFiles) | Should -BeNullOrEmpty
        @(Find-Secret $workFiles $forms) | Should -BeNullOrEmpty
        $temp = @(Get-FilesUnder ([IO.Path]::GetTempPath()) @($TargetRoot))
        $temp.Count | Should -BeGreaterThan $workFiles.Count
        @(Find-Secret $temp $forms) | Should -BeNullOrEmpty
        # The search finds the key where it is: in the target vault's own files; and in files planted for the check
        # (removed at once): a PEM with CRLF line breaks, the same in UTF-16LE, base64url in JSON, the DER in bytes.
        @(Find-Secret @(Get-FilesUnder $TargetRoot) $forms).Count | Should -BeGreaterThan 0
        $plant = New-TestFolder 'planted'
        try {
            $body = [Convert]::ToBase64String($WrapPrivateDer)
            $pem = "-----BEGIN PRIVATE KEY-----`r`n" + (-join @(for ($i = 0; $i -lt $body.Length; $i += 64) { $body.Substring($i, [Math]::Min(64, $body.Length - $i)) + "`r`n" })) + "-----END PRIVATE KEY-----`r`n"
            [IO.File]::WriteAllText((Join-Path $plant 'key.pem'), $pem)
            [IO.File]::WriteAllText((Join-Path $plant 'key-utf16.txt'), $pem, [Text.Encoding]::Unicode)
            [IO.File]::WriteAllText((Join-Path $plant 'key.json'), '{"material":"' + (ConvertTo-Base64Url $WrapPrivateDer) + '"}')
            [IO.File]::WriteAllBytes((Join-Path $plant 'key.bin'), [byte[]](@(7, 7, 7) + $WrapPrivateDer + @(7)))
            $found = @(Find-Secret @(Get-FilesUnder $plant) $forms)
            $found.Count | Should -Be 4 -Because ($found -join "`n")
        } finally {
            Remove-Item -LiteralPath $plant -Recurse -Force
        }
    }
}

Describe 'The share files read by an independent implementation (share_open.py: Python''s cryptography, its own GF(256))' {
    BeforeAll {
        $Original = if (-not $UnderWine) { Invoke-SharePython @('public', $Key.Public) } else { $null }
        $OriginalN = if ($Original) { $Original.Output[0].Split(' ')[0] } else { $null }
    }

    It 'Python finds the checksum of every share file (clear, custodian key, password) right, and of a flipped byte wrong' -Skip:$UnderWine {
        $damaged = Copy-ToNewFolder $Keyed[1] 'py-damaged'
        $null = Set-FlippedByte $damaged '"encryptedKey": "' 50
        $files = @($Clear) + @($Keyed) + @($Pw) + @($damaged)
        $r = Invoke-SharePython (@('checksum') + $files)
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $expected = @(foreach ($f in @($Clear) + @($Keyed) + @($Pw)) { "ok $(([IO.File]::ReadAllText($f) | ConvertFrom-Json).index) $f" }) + "bad 2 $damaged"
        $r.Output | Should -BeExactly $expected
    }

    It 'Python opens custodian key shares 2, 4, 5 with the custodians'' private keys and rebuilds the original key' -Skip:$UnderWine {
        $r = Invoke-SharePython @('rebuild', '--key', $CustodianPrivates[1], '--key', $CustodianPrivates[3], '--key', $CustodianPrivates[4], '--key-password', $C5Password,
            '--original', $Key.Private, $Keyed[1], $Keyed[3], $Keyed[4])
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        @($r.Output | Where-Object { $_ -like 'opened *' }) | Should -BeExactly @('opened 2 CustodianKey', 'opened 4 CustodianKey', 'opened 5 CustodianKey')
        "n=$(Get-PythonValue $r 'n')" | Should -BeExactly $OriginalN
        Get-PythonValue $r 'e' | Should -BeExactly '65537'
        Get-PythonValue $r 'same-private' | Should -BeExactly 'True'
        Get-PythonValue $r 'der-sha256' | Should -BeExactly (Get-Sha256Hex (Get-PemDer $Key.Private)) -Because 'the secret split is the PKCS#8 DER of the key file'
    }

    It 'Python does not open a custodian share with another custodian''s key' -Skip:$UnderWine {
        $r = Invoke-SharePython @('rebuild', '--key', $CustodianPrivates[1], $Keyed[0], $Keyed[1], $Keyed[2])
        $r.ExitCode | Should -Be 2 -Because ($r.Output -join "`n")
        $r.Output[-1] | Should -BeLike "no key for custodian $($CustodianFingerprints[0]) of *"
    }

    It 'Python opens password shares 3 and 1 with their passwords, checks their SHA-256, and rebuilds the original key' -Skip:$UnderWine {
        $r = Invoke-SharePython @('rebuild', '--password', $Passwords[2], '--password', $Passwords[0], '--original', $Key.Private, $Pw[2], $Pw[0])
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        @($r.Output | Where-Object { $_ -like 'opened *' }) | Should -BeExactly @('opened 3 Password', 'opened 1 Password')
        "n=$(Get-PythonValue $r 'n')" | Should -BeExactly $OriginalN
        Get-PythonValue $r 'same-private' | Should -BeExactly 'True'
        $wrong = Invoke-SharePython @('rebuild', '--password', $Passwords[1], $Pw[0], $Pw[2])
        $wrong.ExitCode | Should -Be 2 -Because ($wrong.Output -join "`n")
        $wrong.Output[-1] | Should -BeLike 'no password opens *'
    }

    It 'Python rebuilds the original key from clear shares 5, 1, 3, and no key from 2 of them' -Skip:$UnderWine {
        $r = Invoke-SharePython @('rebuild', '--original', $Key.Private, $Clear[4], $Clear[0], $Clear[2])
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        "n=$(Get-PythonValue $r 'n')" | Should -BeExactly $OriginalN
        Get-PythonValue $r 'same-private' | Should -BeExactly 'True'
        $two = Invoke-SharePython @('rebuild', $Clear[4], $Clear[0])
        $two.ExitCode | Should -Be 3 -Because ($two.Output -join "`n")
        Get-PythonValue $two 'der-sha256' | Should -Not -Be (Get-Sha256Hex (Get-PemDer $Key.Private))
    }

    It 'Python rebuilds the same key from shares of different protections of one split only: the clear split''s and the custodian split''s shares do not mix' -Skip:$UnderWine {
        # Shares 1 and 2 of the clear split with share 3 of the custodian split: another polynomial, no key.
        $r = Invoke-SharePython @('rebuild', '--key', $CustodianPrivates[2], $Clear[0], $Clear[1], $Keyed[2])
        $r.ExitCode | Should -Be 3 -Because ($r.Output -join "`n")
    }
}
