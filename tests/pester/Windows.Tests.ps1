# The module on Windows semantics: which engine library it loads, owner-only key files (a protected DACL on
# Windows, 0600/0700 on Linux), Windows paths (C:\ and Z:\, backslashes and forward slashes), device names
# refused, and key file names compared as Windows compares them. Runs in both test runs: on Linux (build.ps1
# Test) and in pwsh 7.6.9 for win-x64 under Wine (build.ps1 WindowsTest); a test that only means something on
# one of them says so with -Skip.
#
# Keys: the wrapping key pair is the one of tests/vectors (made with Python), never made with .NET: under
# Wine 8.0, .NET's RSA (CNG) cannot export a key (0xc1000002). The vault's own keys are made by the engine.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-TvmModule
    Clear-TvmVaultPath

    # A local vault with an AES key, an RSA key and the RSA-4096 attestation root key, made by the engine.
    function New-SourceVault {
        $vault = New-TestFolder vault
        $null = New-TvmVaultKey -Name '0b5e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b' -Type AES -Size 256 -VaultPath $vault
        $null = New-TvmVaultKey -Name vm_key_1 -Type AES -Size 256 -VaultPath $vault
        $null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 2048 -VaultPath $vault
        $vault
    }

    # What its permissions say of a file or folder: $null when only its owner can open it, else why not.
    # Windows: owned by the current user, the DACL protected (nothing inherited) and holding only allow ACEs for
    # that user, with full control. Under Wine ($env:TVM_UNDER_WINE, set by build/windows-toolchain.sh) no descriptor is stored:
    # Wine 8.0 derives it from the Unix mode (the owner, SYSTEM on every file, Everyone for any group or other
    # bit; never protected), so there only the owner and SYSTEM may appear, and protection is not asked for.
    function Get-NotOwnerOnly([string] $Path) {
        if ($IsWindows) {
            $wine = Test-UnderWine
            $acl = Get-Acl -LiteralPath $Path
            $user = [Security.Principal.WindowsIdentity]::GetCurrent().User
            $system = [Security.Principal.SecurityIdentifier]::new('S-1-5-18')
            $owner = $acl.GetOwner([Security.Principal.SecurityIdentifier])
            if ($owner -ne $user) { return "it is owned by $owner, not by the user $user" }
            if (-not $acl.AreAccessRulesProtected -and -not $wine) { return "its DACL inherits from its folder: $($acl.Sddl)" }
            $rules = @($acl.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier]))
            $mine = @($rules | Where-Object { $_.IdentityReference -eq $user -and $_.AccessControlType -eq 'Allow' })
            if ($mine.Count -eq 0) { return "its DACL has no ACE for its owner: $($acl.Sddl)" }
            foreach ($rule in $rules) {
                $allowed = $rule.AccessControlType -eq 'Allow' -and ($rule.IdentityReference -eq $user -or ($wine -and $rule.IdentityReference -eq $system))
                if (-not $allowed) { return "its DACL lets $($rule.IdentityReference) in: $($acl.Sddl)" }
                if ($rule.IsInherited -and -not $wine) { return "its ACE is inherited: $($acl.Sddl)" }
            }
            $full = [Security.AccessControl.FileSystemRights]::FullControl
            if (($mine[0].FileSystemRights -band $full) -ne $full) { return "its owner does not have full control: $($acl.Sddl)" }
            return $null
        }
        $mode = [int](Get-Item -LiteralPath $Path -Force).UnixFileMode
        if ($mode -band 0x3F) { return ('its mode is {0}' -f [Convert]::ToString($mode, 8)) }
        $null
    }
}

AfterAll { Restore-TvmVaultPath }

Describe 'The engine library' {
    It 'is the one for this platform, from runtimes/(rid)/native of the module folder' {
        $null = Get-TvmVaultKey -VaultPath (New-SourceVault)
        $name = if ($IsWindows) { 'tvmkeys.dll' } else { 'libtvmkeys.so' }
        $rid = if ($IsWindows) { 'win-x64' } else { 'linux-x64' }
        $loaded = @((Get-Process -Id $PID).Modules | Where-Object { $_.ModuleName -eq $name })
        $loaded.Count | Should -Be 1 -Because "$name is loaded once"
        $expected = [IO.Path]::Combine((Get-TvmModulePath), 'runtimes', $rid, 'native', $name)
        [IO.Path]::GetFullPath($loaded[0].FileName) | Should -Be ([IO.Path]::GetFullPath($expected))
    }

    It 'exports the same functions on Windows and Linux, and every function of include/tvmkeys.h' {
        $folder = Get-TvmModulePath
        $windows = Get-NativeExport ([IO.Path]::Combine($folder, 'runtimes', 'win-x64', 'native', 'tvmkeys.dll'))
        $linuxPath = [IO.Path]::Combine($folder, 'runtimes', 'linux-x64', 'native', 'libtvmkeys.so')
        # A module staged on Windows has only the Windows library (build.ps1 cross-builds on Linux only).
        $linux = if (Test-Path $linuxPath) { Get-NativeExport $linuxPath } elseif ($IsWindows -and -not (Test-UnderWine)) { $null } else { throw "no $linuxPath" }
        $header = @([regex]::Matches((Get-Content (Get-RepoPath 'include/tvmkeys.h') -Raw), '\b(tvm_\w+)\s*\(') | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
        $header.Count | Should -BeGreaterThan 10
        @($windows | Where-Object { $_ -like 'tvm_*' }) | Should -Be $header
        if ($null -ne $linux) { @($linux | Where-Object { $_ -like 'tvm_*' }) | Should -Be $header }
    }

    It 'imports only DLLs every Windows 10 and later has: no MinGW or MSVC runtime to install' {
        $imports = Get-NativeExport ([IO.Path]::Combine((Get-TvmModulePath), 'runtimes', 'win-x64', 'native', 'tvmkeys.dll')) -Imports
        $imports | Should -Contain 'kernel32.dll'
        $imports | Should -Contain 'advapi32.dll' -Because 'the owner-only DACLs are set through advapi32'
        $system = 'advapi32.dll', 'bcrypt.dll', 'bcryptprimitives.dll', 'kernel32.dll', 'msvcrt.dll', 'ntdll.dll', 'userenv.dll', 'ws2_32.dll'
        foreach ($dll in $imports) {
            ($system -contains $dll -or $dll -like 'api-ms-win-core-*') | Should -BeTrue -Because "$dll must be part of Windows"
        }
    }
}

Describe 'Owner-only key files' {
    It 'the local vault writes its keys folder and every key file so that only their owner can open them' {
        $vault = New-SourceVault
        $keys = [IO.Path]::Combine($vault, 'keys')
        Get-NotOwnerOnly $keys | Should -BeNullOrEmpty
        $files = @(Get-ChildItem -LiteralPath $keys -File)
        $files.Count | Should -Be 3
        foreach ($file in $files) { Get-NotOwnerOnly $file.FullName | Should -BeNullOrEmpty -Because $file.Name }
    }

    It 'writes the NO_KEY_WRAP import file, which holds a private key in clear, owner-only' {
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $out = [IO.Path]::Combine((New-TestFolder out), 'import.json')
        $null = New-TvmImportJson -PublicKeyPath $keys.Public -PrivateKeyPath $keys.Private -OutFilePath $out
        $out | Should -Exist
        Get-NotOwnerOnly $out | Should -BeNullOrEmpty
    }

    It 'the check can fail: a file written the ordinary way in an ordinary folder is not owner-only' {
        $plain = [IO.Path]::Combine((New-TestFolder plain), 'plain.txt')
        Set-Content -LiteralPath $plain -Value x
        if (-not $IsWindows) { [IO.File]::SetUnixFileMode($plain, [IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead') }
        Get-NotOwnerOnly $plain | Should -Not -BeNullOrEmpty
    }

    It 'leaves no temporary file with the private key after the wrapping key import' {
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $before = @(Get-ChildItem -LiteralPath ([IO.Path]::GetTempPath()) -Filter 'tvm*.tmp' -File -ErrorAction SilentlyContinue).Count
        $run = Invoke-Captured { Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $keys.Public -PrivateKeyPath $keys.Private -KeySize 2048 -VaultPath (New-TestFolder vault) }
        $null = Assert-Clean $run
        $cleaned = @($run.Host | Where-Object { $_ -like 'Temporary file * has been cleaned up.' })
        $cleaned.Count | Should -Be 1
        $temp = $cleaned[0] -replace '^Temporary file (.*) has been cleaned up\.$', '$1'
        $temp | Should -Not -Exist
        if ($IsWindows) { $temp | Should -Match '^[A-Za-z]:\\' -Because 'the temporary file is in the Windows temp folder' }
        @(Get-ChildItem -LiteralPath ([IO.Path]::GetTempPath()) -Filter 'tvm*.tmp' -File -ErrorAction SilentlyContinue).Count | Should -Be $before
    }
}

Describe 'Backup and restore with Windows paths' {
    BeforeAll {
        $script:Keys = Copy-VectorKeyPair (New-TestFolder keys)
    }

    # On Windows: C:\ (the test drive is the Windows temp folder) and Z:\ (Wine's drive for the Linux root),
    # with backslashes and with forward slashes; on Linux the same test with the test drive.
    It 'backs up and restores every key equal, with the backup root as <Form>' -ForEach @(
        @{ Form = 'the test drive (C:\ on Windows)'; Root = 'testdrive'; Slash = '\' }
        @{ Form = 'forward slashes'; Root = 'testdrive'; Slash = '/' }
        @{ Form = 'Z:\ (the Linux root under Wine)'; Root = 'z'; Slash = '\' }
    ) {
        if ($Root -eq 'z' -and -not $IsWindows) { Set-ItResult -Skipped -Because 'Z: is the Linux root only under Wine'; return }
        $base = if ($Root -eq 'z') { New-TestFolder wine -Root 'Z:\tmp' } else { New-TestFolder roots }
        if ($IsWindows) { $base | Should -Match '^[A-Za-z]:\\' }
        $source = New-SourceVault
        $backupRoot = [IO.Path]::Combine($base, 'TvmBackups')
        $typed = if ($Slash -eq '/') { $backupRoot -replace '\\', '/' } else { $backupRoot }
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $typed -VaultPath $source)
        @($backup.Keys).Count | Should -Be 3
        foreach ($key in $backup.Keys) { $key.File | Should -Exist }
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $Keys.Public -PrivateKeyPath $Keys.Private -KeySize 2048 -VaultPath $target
        $restores = @(Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName TvmWrap -VaultPath $target)
        @($restores | Where-Object Outcome -EQ 'Imported').Count | Should -Be 3
        $expected = @(Get-TvmVaultKey -VaultPath $source | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size) $($_.Fingerprint)" })
        $actual = @(Get-TvmVaultKey -VaultPath $target | Where-Object Name -NE TvmWrap | ForEach-Object { "$($_.Name) $($_.Type) $($_.Size) $($_.Fingerprint)" })
        $actual | Should -Be $expected
        if ($Root -eq 'z') { Remove-Item -LiteralPath $base -Recurse -Force }
    }

    It 'refuses a backup root that is the Windows device <Device>, naming -BackupRootPath, and writes nothing' -ForEach @(
        @{ Device = 'NUL' }, @{ Device = 'con' }, @{ Device = 'COM1.json' }, @{ Device = 'LPT1' }
    ) {
        $source = New-SourceVault
        $base = New-TestFolder devices
        $root = [IO.Path]::Combine($base, $Device)
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath $Keys.Public -BackupRootPath $root -VaultPath $source }
        if (-not $IsWindows) {
            # Linux has no devices by name: the folder is an ordinary one there.
            $null = Assert-Clean $run
            return
        }
        $e = Assert-TvmTerminating $run InvalidPath InvalidArgument
        $text = Get-ErrorText $e
        $text | Should -Match 'device name on Windows'
        $text | Should -Match 'backup root'
        @(Get-ChildItem -LiteralPath $base -Force).Count | Should -Be 0
    }

    It 'refuses a wrapping key path in the device namespace (\\.\)' -Skip:(-not $IsWindows) {
        $source = New-SourceVault
        $run = Invoke-Captured { Backup-TVMKeys -WrappingKeyPath '\\.\PhysicalDrive0' -BackupRootPath (New-TestFolder r) -VaultPath $source }
        $e = Assert-TvmTerminating $run InvalidPath InvalidArgument
        Get-ErrorText $e | Should -Match 'names a Windows device'
    }
}

Describe 'Key file names compared as Windows compares them' {
    # A backup folder can hold VM1_256.json and vm1_256.json only where the file system tells them apart: Linux,
    # or a backup copied from there. On Windows the second file is the first.
    It 'restores neither of two key files whose names differ only in case, and the others' -Skip:$IsWindows {
        $keys = Copy-VectorKeyPair (New-TestFolder keys)
        $source = New-TestFolder vault
        $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $source
        $null = New-TvmVaultKey -Name vm2 -Type AES -Size 256 -VaultPath $source
        $backup = Get-SingleBackup @(Backup-TVMKeys -WrappingKeyPath $keys.Public -BackupRootPath (New-TestFolder root) -VaultPath $source)
        $aes = [IO.Path]::Combine($backup.Path, 'AES')
        Copy-Item ([IO.Path]::Combine($aes, 'vm1_256.json')) ([IO.Path]::Combine($aes, 'VM1_256.json'))
        $target = New-TestFolder target
        $null = Import-TvmWrappingKeyFromPem -KeyName TvmWrap -PublicKeyPath $keys.Public -PrivateKeyPath $keys.Private -KeySize 2048 -VaultPath $target
        # The check of the backup as a whole finds the two names (and the copy): the backup is refused, nothing imported.
        $refused = Invoke-Captured { Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName TvmWrap -VaultPath $target }
        $e = Assert-TvmTerminating $refused BackupDamaged InvalidData
        $e.Exception.Message | Should -Match 'differ only in case'
        $e.Exception.Message | Should -Match '-Force'
        @(Get-TvmVaultKey -VaultPath $target).Name | Should -Be 'TvmWrap'
        # -Force restores the intact key files: neither of the two, and the others.
        $run = Invoke-Captured { Import-TVMKeys -BackupPath $backup.Path -WrappingKeyName TvmWrap -VaultPath $target -Force }
        $run.Terminating | Should -BeNullOrEmpty -Because (Format-Captured $run)
        @($run.Warnings | Where-Object { $_ -like "The backup $($backup.Path) is damaged at AES/*differ only in case*" }).Count | Should -BeGreaterOrEqual 1 -Because (Format-Captured $run)
        $failed = @($run.Output | Where-Object Outcome -EQ 'Failed')
        $failed.Count | Should -Be 2
        foreach ($f in $failed) {
            $f.ErrorId | Should -Be 'KeyFileNamesCollide'
            $f.Message | Should -Match 'differ only in case'
        }
        @($run.Output | Where-Object Outcome -EQ 'Imported').Name | Should -Be 'vm2'
        @(Get-TvmVaultKey -VaultPath $target).Name | Should -Not -Contain 'vm1'
    }

    It 'a vault key looked up in another case is the same key file on Windows' -Skip:(-not $IsWindows) {
        $vault = New-TestFolder vault
        $null = New-TvmVaultKey -Name vm1 -Type AES -Size 256 -VaultPath $vault
        $run = Invoke-Captured { New-TvmVaultKey -Name VM1 -Type AES -Size 256 -VaultPath $vault }
        $null = Assert-TvmTerminating $run KeyExists ResourceExists
        @(Get-TvmVaultKey -VaultPath $vault).Name | Should -Be 'vm1'
    }
}
