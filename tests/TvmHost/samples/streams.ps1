<#
.SYNOPSIS
    Exercises every stream TvmHost shows. Compare with `pwsh -NoLogo -NoProfile -File streams.ps1`.
.DESCRIPTION
    Expected: a host message, a warning, three progress lines (stderr), a non-terminating error (stderr),
    a table of two objects, the script's folder, then exit code 3 (or -ExitCode N). -Verbose adds a
    VERBOSE line, -InformationAction Continue the plain information record.
    With -Throw the script ends with a terminating error instead: exit code 1.
    The NuGet engine has no Write-* cmdlets (Microsoft.PowerShell.Utility is not loaded), so an advanced
    function writes through $PSCmdlet, which is also exactly what our binary cmdlets do.
#>
[CmdletBinding()]
param(
    [int] $ExitCode = 3,
    [switch] $Throw
)

function Show-Streams {
    [CmdletBinding()]
    param()

    # What Write-Host (and our cmdlets' host messages) send: an information record tagged PSHOST.
    $PSCmdlet.WriteInformation([System.Management.Automation.HostInformationMessage]@{ Message = 'hello' }, [string[]]'PSHOST')
    # Plain information: hidden unless $InformationPreference / -InformationAction Continue.
    $PSCmdlet.WriteInformation('plain information', [string[]]'note')
    $PSCmdlet.WriteWarning('something to look at')
    $PSCmdlet.WriteVerbose('shown only with -Verbose')

    foreach ($step in 1..3) {
        $progress = [System.Management.Automation.ProgressRecord]::new(1, 'Sample', "Step $step of 3")
        $progress.PercentComplete = $step * 100 / 3
        $PSCmdlet.WriteProgress($progress)
    }

    $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new(
        [System.InvalidOperationException]::new('a non-terminating error'),
        'SampleError', [System.Management.Automation.ErrorCategory]::InvalidOperation, $null))

    [pscustomobject]@{ Name = 'alpha'; Type = 'AES'; Size = 256 }
    [pscustomobject]@{ Name = 'wrap'; Type = 'RSA'; Size = 2048 }
}

# Piped to Out-Default explicitly so the table is printed before `exit`: Out-Default holds table rows
# back for up to 300 ms to size the columns, and an `exit` or `throw` that ends the script first drops
# them. pwsh -File does the same (PowerShell issue #13985); TvmHost keeps that behaviour.
Show-Streams | Out-Default
"Script folder: $([System.IO.Path]::GetFileName($PSScriptRoot))"

if ($Throw) {
    throw 'the sample failed on purpose'
}

exit $ExitCode
