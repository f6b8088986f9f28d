# The module as users get it: build.ps1 Package writes a versioned module folder and a .nupkg; PSResourceGet
# publishes it to a local file repository, installs it from there, and a new pwsh imports it by name and runs a
# backup and a restore. Everything PSResourceGet writes (its repository list, the installed module) goes to a
# private HOME under $TestDrive, so the machine's own modules and repositories are left alone.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModulePath = Get-TvmModulePath
    $script:Version = (Import-PowerShellDataFile (Join-Path $ModulePath 'TvmBackupUtils.psd1')).ModuleVersion
    $script:PackageRoot = Join-Path (Split-Path $ModulePath -Parent) 'package'
    $script:Nupkg = Join-Path $PackageRoot "TvmBackupUtils.$Version.nupkg"
    $script:Folder = Join-Path $PackageRoot "TvmBackupUtils/$Version"
    if (-not (Test-Path $Nupkg)) { throw "No package at ${Nupkg}: run ./build.ps1 Package (build.ps1 Test does)." }
    # Built on Linux: the engine for Linux and the one for Windows (cross-built, docs/windows.md), each in its
    # runtimes folder. Built on Windows: the Windows one (cargo cannot cross-build for Linux there).
    $script:Engines = if ($IsWindows) { @('runtimes/win-x64/native/tvmkeys.dll') } else { @('runtimes/linux-x64/native/libtvmkeys.so', 'runtimes/win-x64/native/tvmkeys.dll') }
}

Describe 'build.ps1 Package' {
    It 'writes a versioned module folder with the manifest, the assembly, the engine, the formats, the help and the LICENSE' {
        foreach ($file in 'TvmBackupUtils.psd1', 'TvmBackupUtils.psm1', 'TvmBackupUtils.dll', 'TvmBackupUtils.Format.ps1xml', 'LICENSE', 'en-US/TvmBackupUtils.dll-Help.xml') {
            Join-Path $Folder $file | Should -Exist
        }
        foreach ($engine in $Engines) { Join-Path $Folder $engine | Should -Exist }
        @(Get-ChildItem (Join-Path $Folder 'runtimes') -File -Recurse).Count | Should -Be $Engines.Count
    }

    It 'stamps the manifest with one version and the fields the PowerShell Gallery shows' {
        $manifest = Import-PowerShellDataFile (Join-Path $Folder 'TvmBackupUtils.psd1')
        $manifest.ModuleVersion | Should -Be $Version
        (Get-Item (Join-Path $Folder 'TvmBackupUtils.dll')).VersionInfo.ProductVersion | Should -BeLike "$Version*"
        foreach ($field in 'Author', 'CompanyName', 'Copyright', 'Description') { $manifest[$field] | Should -Not -BeNullOrEmpty -Because "$field is shown" }
        foreach ($field in 'ProjectUri', 'LicenseUri', 'Tags', 'ReleaseNotes') { $manifest.PrivateData.PSData[$field] | Should -Not -BeNullOrEmpty -Because "$field is shown" }
        $manifest.CmdletsToExport | Should -Not -Contain '*'
        @($manifest.CmdletsToExport).Count | Should -Be 14
    }

    It 'writes a .nupkg whose nuspec carries those fields and which holds the module files and the engine' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($Nupkg)
        try {
            $names = @($zip.Entries | ForEach-Object FullName)
            $names | Should -Contain 'TvmBackupUtils.psd1'
            $names | Should -Contain 'TvmBackupUtils.dll'
            $names | Should -Contain 'LICENSE'
            foreach ($engine in $Engines) { $names | Should -Contain $engine }
            @($names | Where-Object { $_ -like 'runtimes/*' }).Count | Should -Be $Engines.Count
            $nuspec = $zip.Entries | Where-Object FullName -EQ 'TvmBackupUtils.nuspec'
            $reader = [IO.StreamReader]::new($nuspec.Open())
            [xml] $xml = $reader.ReadToEnd()
            $reader.Dispose()
            $metadata = $xml.package.metadata
            $metadata.id | Should -Be 'TvmBackupUtils'
            $metadata.version | Should -Be $Version
            $metadata.authors | Should -Not -BeNullOrEmpty
            $metadata.description | Should -Not -BeNullOrEmpty
            $metadata.projectUrl | Should -Not -BeNullOrEmpty
            $metadata.tags | Should -Match 'AzureLocal'
        } finally {
            $zip.Dispose()
        }
    }
}

Describe 'Install through PSResourceGet' {
    It 'publishes to a local file repository, installs for the current user, and a new pwsh imports it by name and backs up and restores' {
        $home_ = New-TestFolder home
        $repo = New-TestFolder repository
        $work = New-TestFolder work
        $keys = Copy-VectorKeyPair (Join-Path $work 'keys')
        $install = Join-Path $work 'install.ps1'
        Set-Content $install @'
param($Folder, $Repo)
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name TvmBackupUtilsTest -Uri $Repo -Trusted
Publish-PSResource -Path $Folder -Repository TvmBackupUtilsTest
Install-PSResource TvmBackupUtils -Scope CurrentUser -Repository TvmBackupUtilsTest -TrustRepository
$installed = Get-InstalledPSResource TvmBackupUtils -Scope CurrentUser
"INSTALLED $($installed.Name) $($installed.Version) $($installed.InstalledLocation)"
'@
        $use = Join-Path $work 'use.ps1'
        Set-Content $use @'
param($Work, $Public, $Private)
$ErrorActionPreference = 'Stop'
$elapsed = Measure-Command { Import-Module TvmBackupUtils }
"IMPORTED $((Get-Module TvmBackupUtils).ModuleBase) in $([int]$elapsed.TotalMilliseconds) ms"
$a = Join-Path $Work 'vault-a'; $b = Join-Path $Work 'vault-b'
$null = New-TvmVaultKey -VaultPath $a -Name vm1 -Type AES -Size 256
$null = New-TvmVaultKey -VaultPath $a -Name AzureStackTvmAKRootKey -Type RSA -Size 2048
$backup = Backup-TVMKeys -VaultPath $a $Public (Join-Path $Work 'backups') 6>$null
$null = Import-TvmWrappingKeyFromPem -VaultPath $b w $Public $Private 2048 6>$null
$restored = @(Import-TVMKeys -VaultPath $b -BackupPath $backup.Path -WrappingKeyName w 6>$null)
"RESTORED $(@($restored | Where-Object Outcome -EQ Imported).Count) of $(@($backup.Keys).Count)"
$same = @(Get-TvmVaultKey -VaultPath $a | Where-Object { $k = $_; Get-TvmVaultKey -VaultPath $b -Name $k.Name | Where-Object Fingerprint -EQ $k.Fingerprint })
"EQUAL $($same.Count)"
'@
        # Every per-user folder .NET and PSResourceGet use, under the private home (Linux: XDG_*, Windows: the profile).
        $env = @{
            HOME = $home_; USERPROFILE = $home_; APPDATA = (Join-Path $home_ 'AppData/Roaming'); LOCALAPPDATA = (Join-Path $home_ 'AppData/Local')
            XDG_DATA_HOME = (Join-Path $home_ '.local/share'); XDG_CONFIG_HOME = (Join-Path $home_ '.config'); XDG_CACHE_HOME = (Join-Path $home_ '.cache')
            PSModulePath = ''
        }
        $r = Invoke-Pwsh -File $install -ArgumentList @('-Folder', $Folder, '-Repo', $repo) -Environment $env -WorkingDirectory $work
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        Join-Path $repo "TvmBackupUtils.$Version.nupkg" | Should -Exist
        $line = $r.Output | Where-Object { $_ -like 'INSTALLED *' }
        $line | Should -BeLike "INSTALLED TvmBackupUtils $Version $home_*"

        $r = Invoke-Pwsh -File $use -ArgumentList @('-Work', $work, '-Public', $keys.Public, '-Private', $keys.Private) -Environment $env -WorkingDirectory $work
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        ($r.Output | Where-Object { $_ -like 'IMPORTED *' }) | Should -BeLike "IMPORTED $home_*"
        $r.Output | Should -Contain 'RESTORED 2 of 2'
        $r.Output | Should -Contain 'EQUAL 2'
        Write-Host ($r.Output | Where-Object { $_ -like 'IMPORTED *' })
    }
}
