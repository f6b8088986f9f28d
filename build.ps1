<#
.SYNOPSIS
    Builds, stages, tests and packages TvmBackupUtils: the same steps on Windows and Linux.
.DESCRIPTION
    Tasks (several may be given; each runs what it needs first):
      Build      the Rust engine (cargo, release profile unless -DebugEngine) and the C# assembly (dotnet, Release)
      Stage      Build, then the module folder target/TvmBackupUtils/: manifest stamped with the one version
                 (Cargo.toml's) and the one cmdlet list (the [Cmdlet] attributes of ps-module/src/Commands),
                 the .psm1 loader, the assembly, formats, help, runtimes/<rid>/native/<engine library>
      Test       Stage, then every test: cargo test; the Pester tests of tests/pester in a new pwsh against
                 the staged module; the xunit tests of the C# internals; the rehearsal. Ends with one line
                 `tests: N passed, N failed`
      Rehearsal  Stage, then README command 1: backup of a local vault, restore into a second, in a new pwsh
      Package    Stage, then target/package/TvmBackupUtils/<version>/ and TvmBackupUtils.<version>.nupkg
                 (Compress-PSResource), which PSResourceGet publishes and installs
      Clean      removes what the tasks write (target/TvmBackupUtils, target/package, target/rehearsal,
                 the C# bin/obj folders); the cargo cache stays (cargo clean removes it)
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
    [ValidateSet('Build', 'Stage', 'Test', 'Rehearsal', 'Package', 'Clean')]
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

function Invoke-Build {
    $version = Get-ModuleVersion
    $cargo = @('build', '--offline')
    if (-not $DebugEngine) { $cargo += '--release' }
    Invoke-Native cargo $cargo
    Invoke-Native dotnet @('build', (Join-Path $moduleSource 'src'), '-c', 'Release', '--nologo', '-v', 'minimal', "-p:Version=$version")
}

function Invoke-Stage {
    Invoke-Build
    $version = Get-ModuleVersion
    $cmdlets = Get-CmdletNames
    $runtime = Get-RuntimeInfo
    $native = Join-Path $target "$profileName/$($runtime.Library)"
    if (-not (Test-Path $native)) { throw "build.ps1: the engine library $native was not built." }
    $dllDir = Join-Path $moduleSource 'src/bin/Release/netstandard2.0'
    Write-Step "staging TvmBackupUtils $version ($($runtime.Rid), $profileName engine) in $stage; cmdlets: $($cmdlets -join ', ')"
    if (Test-Path $stage) { Remove-Item $stage -Recurse -Force }
    $nativeDir = Join-Path $stage "runtimes/$($runtime.Rid)/native"
    $null = New-Item -ItemType Directory -Path $nativeDir -Force
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
    Copy-Item $native (Join-Path $nativeDir $runtime.Library)
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
    Write-Step 'cargo test --offline'
    $log = & cargo test --offline 2>&1 | ForEach-Object { "$_" } | Tee-Object -Variable lines
    $log | Out-Host
    $failedRun = $LASTEXITCODE -ne 0
    $passed = 0; $failed = 0
    foreach ($line in $lines) {
        if ($line -match '^test result: \w+\. (\d+) passed; (\d+) failed') {
            $passed += [int]$Matches[1]; $failed += [int]$Matches[2]
        }
    }
    if ($failedRun -and $failed -eq 0) { $failed = 1 }
    Add-Count 'cargo test' $passed $failed
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
    foreach ($path in $stage, $packageRoot, (Join-Path $target 'rehearsal'),
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
                $passed = ($script:Counts.Values | ForEach-Object { $_[0] } | Measure-Object -Sum).Sum
                $failed = ($script:Counts.Values | ForEach-Object { $_[1] } | Measure-Object -Sum).Sum
                foreach ($runner in $script:Counts.Keys) {
                    Write-Host ('  {0,-10} {1,5} passed, {2} failed' -f $runner, $script:Counts[$runner][0], $script:Counts[$runner][1])
                }
                Write-Host "tests: $passed passed, $failed failed"
                if ($failed -gt 0) { exit 1 }
            }
        }
    }
} catch {
    Write-Host "build.ps1: $($_.Exception.Message)" -ForegroundColor Red
    exit 1
}
