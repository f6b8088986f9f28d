<#
.SYNOPSIS
    Builds, stages, tests and packages TvmBackupUtils: the same steps on Windows and Linux.
.DESCRIPTION
    Tasks (several may be given; each runs what it needs first):
      WindowsToolchain
                 on Linux: build/windows-toolchain.sh setup, the cross toolchain for the Windows engine and the
                 Wine prefix its tests run in (docs/windows.md; idempotent, cached under build/windows/)
      Build      the Rust engine (cargo, release profile unless -DebugEngine) and the C# assembly (dotnet,
                 Release); on Linux also the Windows engine, tvmkeys.dll (x86_64-pc-windows-gnu, release)
      Stage      Build, then the module folder target/TvmBackupUtils/: manifest stamped with the one version
                 (Cargo.toml's) and the one cmdlet list (the [Cmdlet] attributes of ps-module/src/Commands),
                 the .psm1 loader, the assembly, formats, help, runtimes/<rid>/native/<engine library> for
                 linux-x64 and win-x64
      Test       Stage, then every test: cargo test; the Pester tests of tests/pester in a new pwsh against
                 the staged module; the xunit tests of the C# internals; the rehearsal; then WindowsTest.
                 Ends with one line `tests: N passed, N failed`
      WindowsTest
                 on Linux, under Wine: the Rust tests cross-built for Windows, every Pester file but
                 Package.Tests.ps1 (tests/pester/WindowsSuite.txt) and the rehearsal, in pwsh 7.6.9 for
                 win-x64 (tests/WindowsHost) against the staged module with tvmkeys.dll
      Rehearsal  Stage, then README command 1: backup of a local vault, restore into a second, in a new pwsh
      Package    Stage, then target/package/TvmBackupUtils/<version>/ and TvmBackupUtils.<version>.nupkg
                 (Compress-PSResource), which PSResourceGet publishes and installs
      Clean      removes what the tasks write (target/TvmBackupUtils, target/package, target/rehearsal,
                 target/windows-host, the C# bin/obj folders); the cargo cache and the Windows toolchain
                 (build/windows) stay (cargo clean, git clean -xdf remove them)
    Every step says what it runs; a failing step stops the script with exit code 1.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 Test
    Installs pwsh from the tool manifest (.config/dotnet-tools.json), then runs every test.
.EXAMPLE
    ./build.ps1 Stage -DebugEngine
    Stages the module with a debug build of the engine (faster to build, slower to run).
.EXAMPLE
    ./build.ps1 Package
    Writes the versioned module folder and the .nupkg under target/package.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('WindowsToolchain', 'Build', 'Stage', 'Test', 'WindowsTest', 'Rehearsal', 'Package', 'Clean')]
    [string[]] $Task = @('Stage'),

    # A debug build of the engine instead of a release one.
    [switch] $DebugEngine,

    # Where Stage puts the module folder (default target/TvmBackupUtils); Package writes beside it, in package/.
    [string] $StagePath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$repo = $PSScriptRoot
$target = Join-Path $repo 'target'
$stage = if ($StagePath) { [IO.Path]::GetFullPath($StagePath) } else { Join-Path $target 'TvmBackupUtils' }
$packageRoot = Join-Path (Split-Path $stage -Parent) 'package'
$moduleSource = Join-Path $repo 'ps-module'
$profileName = if ($DebugEngine) { 'debug' } else { 'release' }
$onLinux = [System.Runtime.InteropServices.RuntimeInformation]::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::Linux)
# The Windows engine's target: windows-gnu (mingw-w64), which needs no MSVC runtime (docs/windows.md).
$windowsTarget = 'x86_64-pc-windows-gnu'
$toolchain = Join-Path $repo 'build/windows-toolchain.sh'

function Write-Step([string] $Text) {
    Write-Host "build.ps1: $Text" -ForegroundColor Cyan
}

# Runs a native command, echoing it; a non-zero exit stops the build.
function Invoke-Native([string] $Command, [string[]] $Arguments) {
    Write-Step "$Command $($Arguments -join ' ')"
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "build.ps1: '$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE."
    }
}

# The one version: [package] version of Cargo.toml (the engine reports it as tvm_version()).
function Get-ModuleVersion {
    $line = Get-Content (Join-Path $repo 'Cargo.toml') | Where-Object { $_ -match '^version = "([0-9][0-9.]*)"$' } | Select-Object -First 1
    if (-not $line) { throw "build.ps1: no version = ""x.y.z"" line in Cargo.toml." }
    $null = $line -match '^version = "([0-9][0-9.]*)"$'
    $Matches[1]
}

# The one cmdlet list: the [Cmdlet(Verbs..., "Noun")] attributes of the C# commands, in file order.
function Get-CmdletNames {
    $names = foreach ($file in Get-ChildItem (Join-Path $moduleSource 'src/Commands') -Filter '*.cs' | Sort-Object Name) {
        foreach ($match in [regex]::Matches((Get-Content $file.FullName -Raw), '\[Cmdlet\(Verbs\w*\.(\w+),\s*"(\w+)"')) {
            '{0}-{1}' -f $match.Groups[1].Value, $match.Groups[2].Value
        }
    }
    if (-not $names) { throw "build.ps1: found no [Cmdlet(...)] attribute in ps-module/src/Commands." }
    @($names)
}

# win-x64, linux-x64, osx-arm64, ... as the module's loader computes it at run time.
function Get-RuntimeInfo {
    $platform = [System.Runtime.InteropServices.RuntimeInformation]
    $os = if ($platform::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::Windows)) { 'win' }
        elseif ($platform::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::OSX)) { 'osx' }
        else { 'linux' }
    $arch = switch ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture) {
        'X64' { 'x64' } 'Arm64' { 'arm64' } 'X86' { 'x86' } default { throw "build.ps1: unsupported architecture $_." }
    }
    $library = switch ($os) { 'win' { 'tvmkeys.dll' } 'osx' { 'libtvmkeys.dylib' } default { 'libtvmkeys.so' } }
    [pscustomobject]@{ Rid = "$os-$arch"; Library = $library }
}

function Invoke-WindowsToolchain {
    if (-not $onLinux) {
        Write-Step 'WindowsToolchain: the Windows engine is cross-built on Linux only; on Windows cargo builds tvmkeys.dll itself'
        return
    }
    Invoke-Native bash @($toolchain, 'setup')
}

function Invoke-Build {
    $version = Get-ModuleVersion
    $cargo = @('build', '--offline')
    if (-not $DebugEngine) { $cargo += '--release' }
    Invoke-Native cargo $cargo
    if ($onLinux) {
        Invoke-Native bash @($toolchain, 'setup')
        $windows = @($toolchain, 'cargo', 'build')
        if (-not $DebugEngine) { $windows += '--release' }
        Invoke-Native bash $windows
    }
    Invoke-Native dotnet @('build', (Join-Path $moduleSource 'src'), '-c', 'Release', '--nologo', '-v', 'minimal', "-p:Version=$version")
}

# The engine libraries a staged module carries: the one built for this machine, and on Linux the Windows
# one cross-built beside it.
function Get-NativeLibraries {
    $runtime = Get-RuntimeInfo
    $libraries = @([pscustomobject]@{ Rid = $runtime.Rid; Library = $runtime.Library; Path = Join-Path $target "$profileName/$($runtime.Library)" })
    if ($onLinux) {
        $libraries += [pscustomobject]@{ Rid = 'win-x64'; Library = 'tvmkeys.dll'; Path = Join-Path $target "$windowsTarget/$profileName/tvmkeys.dll" }
    }
    foreach ($library in $libraries) {
        if (-not (Test-Path $library.Path)) { throw "build.ps1: the engine library $($library.Path) was not built." }
    }
    $libraries
}

function Invoke-Stage {
    Invoke-Build
    $version = Get-ModuleVersion
    $cmdlets = Get-CmdletNames
    $libraries = Get-NativeLibraries
    $dllDir = Join-Path $moduleSource 'src/bin/Release/netstandard2.0'
    Write-Step "staging TvmBackupUtils $version ($(($libraries.Rid) -join ', '), $profileName engine) in $stage; cmdlets: $($cmdlets -join ', ')"
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $stage -Force
    $manifest = (Get-Content (Join-Path $moduleSource 'TvmBackupUtils.psd1') -Raw).
        Replace('{{Version}}', $version).
        Replace('{{Cmdlets}}', (($cmdlets | ForEach-Object { "'$_'" }) -join ', '))
    if ($manifest.Contains('{{')) { throw "build.ps1: the staged manifest still has a {{placeholder}}." }
    Set-Content -Path (Join-Path $stage 'TvmBackupUtils.psd1') -Value $manifest -NoNewline -Encoding utf8
    foreach ($file in 'TvmBackupUtils.psm1', 'TvmBackupUtils.Format.ps1xml', 'LICENSE') {
        $source = Join-Path $moduleSource $file
        if (-not (Test-Path $source)) { $source = Join-Path $repo $file }
        Copy-Item $source $stage
    }
    Copy-Item (Join-Path $moduleSource 'en-US') $stage -Recurse
    Copy-Item (Join-Path $dllDir 'TvmBackupUtils.dll') $stage
    foreach ($library in $libraries) {
        $nativeDir = Join-Path $stage "runtimes/$($library.Rid)/native"
        $null = New-Item -ItemType Directory -Path $nativeDir -Force
        Copy-Item $library.Path (Join-Path $nativeDir $library.Library)
    }
    Write-Step "staged $stage"
}

# The passed and failed counts of every runner, summed into the closing line.
$script:Counts = [ordered]@{}

function Add-Count([string] $Runner, [int] $Passed, [int] $Failed) {
    $script:Counts[$Runner] = @($Passed, $Failed)
    Write-Step "$Runner`: $Passed passed, $Failed failed"
}

function Get-PwshPath {
    # The pwsh running this script, so a test run uses the same PowerShell as the build: $PSHOME/pwsh, not
    # the process path, which under `dotnet pwsh` (the local tool) is dotnet itself.
    foreach ($name in 'pwsh.exe', 'pwsh') {
        $candidate = [IO.Path]::Combine($PSHOME, $name)
        if ([IO.File]::Exists($candidate)) { return $candidate }
    }
    $found = Get-Command pwsh -ErrorAction SilentlyContinue
    if ($found) { return $found.Source }
    throw "build.ps1: no pwsh found; run 'dotnet tool restore' and 'dotnet pwsh ./build.ps1 ...'."
}

function Invoke-CargoTest {
    Write-Step 'cargo test --offline --no-fail-fast'
    $lines = & cargo test --offline --no-fail-fast 2>&1 | ForEach-Object { "$_" }
    $exit = $LASTEXITCODE
    $lines | Out-Host
    Add-CargoCount 'cargo test' $lines $exit
}

# The Rust tests cross-built for Windows and run under wine64 (the toolchain's cargo runner).
function Invoke-WindowsCargoTest {
    $arguments = @($toolchain, 'cargo', 'test', '--release', '--no-fail-fast')
    Write-Step "bash $($arguments -join ' ')"
    $lines = & bash @arguments 2>&1 | ForEach-Object { "$_".TrimEnd("`r") }
    $exit = $LASTEXITCODE
    $lines | Out-Host
    Add-CargoCount 'cargo test (Windows, Wine)' $lines $exit
}

function Add-CargoCount([string] $Runner, [string[]] $Lines, [int] $Exit) {
    $failedRun = $Exit -ne 0
    $passed = 0; $failed = 0
    foreach ($line in $Lines) {
        if ($line -match '^test result: \w+\. (\d+) passed; (\d+) failed') {
            $passed += [int]$Matches[1]; $failed += [int]$Matches[2]
        }
    }
    if ($failedRun -and $failed -eq 0) { $failed = 1 }
    if ($passed -eq 0 -and $failed -eq 0) { $failed = 1; Write-Step "$Runner ran no test" }
    Add-Count $Runner $passed $failed
}

function Invoke-XunitTest {
    $project = Join-Path $repo 'tests/TvmBackupUtils.Tests'
    Write-Step "dotnet test $project"
    $lines = & dotnet test $project --nologo --logger 'console;verbosity=normal' 2>&1 | ForEach-Object { "$_" }
    $exit = $LASTEXITCODE
    $lines | Out-Host
    $passed = 0; $failed = 0
    foreach ($line in $lines) {
        if ($line -match '^\s*Passed:\s*(\d+)') { $passed += [int]$Matches[1] }
        if ($line -match '^\s*Failed:\s*(\d+)') { $failed += [int]$Matches[1] }
    }
    if ($exit -ne 0 -and $failed -eq 0) { $failed = 1 }
    if ($passed -eq 0 -and $failed -eq 0) { $failed = 1; Write-Step 'dotnet test ran no test' }
    Add-Count 'xunit' $passed $failed
}

function Get-PesterPath {
    Invoke-Native dotnet @('restore', (Join-Path $repo 'build/Tools.proj'), '--nologo', '-v', 'quiet')
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $pester = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $pester)) { throw "build.ps1: Pester 5.7.1 is not at $pester after the restore of build/Tools.proj." }
    $pester
}

function Invoke-PesterTest {
    Invoke-Native dotnet @('build', (Join-Path $repo 'tests/MocStandIn'), '-c', 'Release', '--nologo', '-v', 'quiet')
    $pester = Get-PesterPath
    $results = Join-Path $target 'pester-results.txt'
    $runner = Join-Path $repo 'tests/pester/Invoke-Tests.ps1'
    $pwsh = Get-PwshPath
    Write-Step "$pwsh -File $runner (Pester $pester, module $stage)"
    & $pwsh -NoLogo -NoProfile -NonInteractive -File $runner -PesterPath $pester -ModulePath $stage -ResultPath $results
    $exit = $LASTEXITCODE
    $passed = 0; $failed = 1
    if (Test-Path $results) {
        $counts = (Get-Content $results -Raw).Trim() -split ' '
        $passed = [int]$counts[0]; $failed = [int]$counts[1]
    }
    if ($exit -ne 0 -and $failed -eq 0) { $failed = 1 }
    Add-Count 'pester' $passed $failed
}

# A Linux path as Wine's Windows processes see it: Z: is the Linux root.
function ConvertTo-WinePath([string] $Path) { 'Z:' + ([IO.Path]::GetFullPath($Path) -replace '/', '\') }

# Runs the win-x64 pwsh (tests/WindowsHost, published to target/windows-host) under Wine with -Arguments;
# returns its output lines and exit code. pwsh under Wine 8.0 writes nothing and runs nothing when its standard
# output is a Unix pipe or file, so it runs in a pseudo-terminal (script) and its output is read from there.
function Invoke-WinePwsh([string[]] $Arguments) {
    $pwshExe = Join-Path $target 'windows-host/pwsh.exe'
    # As a Windows process: the execution policy for this process only (Windows' default, Restricted, would
    # refuse every script), and plain text for the output.
    $env:PSExecutionPolicyPreference = 'Bypass'
    $env:NO_COLOR = '1'
    try {
        $command = ((@('bash', $toolchain, 'wine', $pwshExe, '-NoLogo', '-NoProfile', '-NonInteractive') + $Arguments) |
            ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }) -join ' '
        Write-Step "script -qec `"$command`" /dev/null"
        $lines = @(& script -qec "stty cols 250 rows 50; $command" /dev/null 2>&1 |
            ForEach-Object { ("$_" -replace '\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07', '').TrimEnd("`r") })
        [pscustomobject]@{ Lines = $lines; Exit = $LASTEXITCODE }
    } finally {
        $env:PSExecutionPolicyPreference = $null
        $env:NO_COLOR = $null
    }
}

function Publish-WindowsHost {
    Invoke-Native dotnet @('publish', (Join-Path $repo 'tests/WindowsHost'), '-c', 'Release', '-o', (Join-Path $target 'windows-host'), '--nologo', '-v', 'quiet')
}

# The Pester tests of tests/pester/WindowsSuite.txt in pwsh 7.6.9 for win-x64 under Wine, against the staged
# module, which loads runtimes/win-x64/native/tvmkeys.dll there.
function Invoke-WindowsPesterTest {
    Invoke-Native dotnet @('build', (Join-Path $repo 'tests/MocStandIn'), '-c', 'Release', '--nologo', '-v', 'quiet')
    $pester = Get-PesterPath
    $results = Join-Path $target 'pester-windows-results.txt'
    if (Test-Path $results) { Remove-Item $results }
    $suite = Join-Path $repo 'tests/pester/WindowsSuite.txt'
    $files = @(Get-Content $suite | ForEach-Object { $_.Trim() } | Where-Object { $_ -and -not $_.StartsWith('#') } |
        ForEach-Object { ConvertTo-WinePath (Join-Path $repo "tests/pester/$_") })
    $run = Invoke-WinePwsh @('-File', (ConvertTo-WinePath (Join-Path $repo 'tests/pester/Invoke-Tests.ps1')),
        '-PesterPath', (ConvertTo-WinePath $pester), '-ModulePath', (ConvertTo-WinePath $stage),
        '-ResultPath', (ConvertTo-WinePath $results), '-Path', ($files -join ','), '-Output', 'Detailed')
    $run.Lines | Out-Host
    $passed = 0; $failed = 1
    if (Test-Path $results) {
        $counts = (Get-Content $results -Raw).Trim() -split ' '
        $passed = [int]$counts[0]; $failed = [int]$counts[1]
    }
    if ($run.Exit -ne 0 -and $failed -eq 0) { $failed = 1 }
    Add-Count 'pester (Windows, Wine)' $passed $failed
}

# README command 1 in the win-x64 pwsh under Wine: the module with tvmkeys.dll, vaults and backups under C:\.
function Invoke-WindowsRehearsal {
    $work = 'C:\users\Public\tvm-rehearsal\{0}-{1}' -f (Get-Date -Format 'yyyyMMddHHmmss'), $PID
    $run = Invoke-WinePwsh @('-File', (ConvertTo-WinePath (Join-Path $repo 'tests/rehearsal/Rehearsal.ps1')),
        '-ModulePath', (ConvertTo-WinePath $stage), '-WorkPath', $work)
    $run.Lines | Out-Host
    $ok = $run.Exit -eq 0 -and ($run.Lines -match '^REHEARSAL PASSED')
    Add-Count 'rehearsal (Windows, Wine)' ([int][bool]$ok) ([int](-not $ok))
}

function Invoke-WindowsTest {
    if (-not $onLinux) {
        Write-Step 'WindowsTest: runs on Linux under Wine; on Windows, Test runs the same tests natively'
        return
    }
    Invoke-WindowsCargoTest
    Publish-WindowsHost
    Invoke-WindowsPesterTest
    Invoke-WindowsRehearsal
}

# The secret scan after every other test (tests/SecretScan.ps1): the temp folder, the rehearsals' folders and, after
# the Wine runs, the Wine prefix's user folders (its Temp and C:\users\Public), for the test private keys.
function Invoke-SecretScan {
    $work = @((Join-Path $target 'rehearsal'))
    $toolchainRoot = if ($env:TVM_WINDOWS_TOOLCHAIN) { $env:TVM_WINDOWS_TOOLCHAIN } else { Join-Path $repo 'build/windows' }
    $wineUsers = Join-Path $toolchainRoot 'wineprefix/drive_c/users'
    if (Test-Path $wineUsers) { $work += $wineUsers }
    $script = Join-Path $repo 'tests/SecretScan.ps1'
    Write-Step "secret scan: $script -WorkPath $($work -join ', ')"
    & (Get-PwshPath) -NoLogo -NoProfile -NonInteractive -File $script -WorkPath ($work -join ',') | Out-Host
    $exit = $LASTEXITCODE
    Add-Count 'secret scan' ([int]($exit -eq 0)) ([int]($exit -ne 0))
}

function Write-TestSummary {
    $passed = ($script:Counts.Values | ForEach-Object { $_[0] } | Measure-Object -Sum).Sum
    $failed = ($script:Counts.Values | ForEach-Object { $_[1] } | Measure-Object -Sum).Sum
    foreach ($runner in $script:Counts.Keys) {
        Write-Host ('  {0,-26} {1,5} passed, {2} failed' -f $runner, $script:Counts[$runner][0], $script:Counts[$runner][1])
    }
    Write-Host "tests: $passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Rehearsal([switch] $Counted) {
    $work = Join-Path $target ('rehearsal/{0}-{1}' -f (Get-Date -Format 'yyyyMMddHHmmss'), $PID)
    $null = New-Item -ItemType Directory -Path $work -Force
    $pwsh = Get-PwshPath
    $script = Join-Path $repo 'tests/rehearsal/Rehearsal.ps1'
    Write-Step "$pwsh -File $script -ModulePath $stage -WorkPath $work"
    $lines = & $pwsh -NoLogo -NoProfile -NonInteractive -File $script -ModulePath $stage -WorkPath $work 2>&1 | ForEach-Object { "$_" }
    $exit = $LASTEXITCODE
    $lines | Out-Host
    $ok = $exit -eq 0 -and ($lines -match '^REHEARSAL PASSED')
    if ($Counted) {
        Add-Count 'rehearsal' ([int][bool]$ok) ([int](-not $ok))
    } elseif (-not $ok) {
        throw "build.ps1: the rehearsal failed (exit code $exit); its folder is $work."
    }
}

function Invoke-Package {
    Invoke-Stage
    $version = Get-ModuleVersion
    $folder = Join-Path $packageRoot "TvmBackupUtils/$version"
    if (Test-Path $packageRoot) { Remove-Item $packageRoot -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $folder -Force
    Copy-Item (Join-Path $stage '*') $folder -Recurse
    Write-Step "versioned module folder $folder"
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop
    Write-Step "Compress-PSResource -Path $folder -DestinationPath $packageRoot"
    Compress-PSResource -Path $folder -DestinationPath $packageRoot
    $nupkg = Join-Path $packageRoot "TvmBackupUtils.$version.nupkg"
    if (-not (Test-Path $nupkg)) { throw "build.ps1: Compress-PSResource wrote no $nupkg." }
    Write-Step "package $nupkg"
}

function Invoke-Clean {
    foreach ($path in $stage, $packageRoot, (Join-Path $target 'rehearsal'), (Join-Path $target 'windows-host'),
        (Join-Path $moduleSource 'src/bin'), (Join-Path $moduleSource 'src/obj')) {
        if (Test-Path $path) {
            Write-Step "removing $path"
            Remove-Item $path -Recurse -Force
        }
    }
}

try {
    foreach ($name in $Task) {
        Write-Step "task $name"
        switch ($name) {
            'WindowsToolchain' { Invoke-WindowsToolchain }
            'Build' { Invoke-Build }
            'Stage' { Invoke-Stage }
            'Rehearsal' { Invoke-Stage; Invoke-Rehearsal }
            'Package' { Invoke-Package }
            'Clean' { Invoke-Clean }
            'Test' {
                Invoke-Package
                Invoke-CargoTest
                Invoke-PesterTest
                Invoke-XunitTest
                Invoke-Rehearsal -Counted
                Invoke-WindowsTest
                Invoke-SecretScan
                Write-TestSummary
            }
            'WindowsTest' {
                Invoke-Stage
                Invoke-WindowsTest
                Write-TestSummary
            }
        }
    }
} catch {
    Write-Host "build.ps1: $($_.Exception.Message)" -ForegroundColor Red
    exit 1
}
