<#
.SYNOPSIS
    A disaster-recovery rehearsal on the built-in local vault: backup of one vault, restore into a second,
    empty one, with the original script's documented runbook, then proof that every key came back equal.
.DESCRIPTION
    1. Seeds vault A (a LocalVault folder) as a cluster's TVM vault looks: 20 VM keys (AES-256, GUID names)
       and the attestation root key AzureStackTvmAKRootKey (RSA-4096).
    2. Makes the wrapping key pair exactly as the original's usage notes say (RSA 2048, PKCS#8 private and
       PKCS#1 public PEM).
    3. Runs Backup-Runbook.ps1 with TVM_VAULT_PATH pointing at vault A, then Restore-Runbook.ps1 with it
       pointing at the new, empty vault B: the runbooks themselves name no vault, as on a cluster.
    4. Lists both vaults and compares every key's type, size and fingerprint; exits 1 on any difference.
    Uses only engine commands and .NET, so it runs in pwsh and in the project's small host alike.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $WorkPath
)
$ErrorActionPreference = 'Stop'
$null = New-Item -ItemType Directory -Path $WorkPath -Force
$vaultA = [IO.Path]::Combine($WorkPath, 'cluster-A-vault')
$vaultB = [IO.Path]::Combine($WorkPath, 'cluster-B-vault')
$backupRoot = [IO.Path]::Combine($WorkPath, 'backups')
$publicPem = [IO.Path]::Combine($WorkPath, 'public.pem')
$privatePem = [IO.Path]::Combine($WorkPath, 'private.pem')
Import-Module ([IO.Path]::Combine($ModulePath, 'TvmBackupUtils.psd1')) -Force

"== 1. Seeding vault A ($vaultA): 20 VM keys and AzureStackTvmAKRootKey"
foreach ($i in 1..20) {
    $null = New-TvmVaultKey -Name ([guid]::NewGuid().ToString()) -Type AES -Size 256 -VaultPath $vaultA
}
$null = New-TvmVaultKey -Name AzureStackTvmAKRootKey -Type RSA -Size 4096 -VaultPath $vaultA

"== 2. Wrapping key pair, as the original's usage notes make it (on a secure computer)"
# Under Wine (build.ps1 WindowsTest), RSA.Create() is RSACng, which Wine 8.0's bcrypt cannot use (0xc1000002); there,
# and only there, the pair is made by CryptoAPI (RSACryptoServiceProvider, Wine's rsaenh): the same .NET RSA API.
$rsa = if ($IsWindows -and $env:TVM_UNDER_WINE) { [System.Security.Cryptography.RSACryptoServiceProvider]::new(2048) } else { [System.Security.Cryptography.RSA]::Create(2048) }
# Out-File in PowerShell 7 writes UTF-8 and a new line; the same bytes without needing Out-File.
[IO.File]::WriteAllText($privatePem, $rsa.ExportPkcs8PrivateKeyPem() + [Environment]::NewLine)
[IO.File]::WriteAllText($publicPem, $rsa.ExportRSAPublicKeyPem() + [Environment]::NewLine)
$rsa.Dispose()

"== 3a. Backup runbook on cluster A"
$ExecutionContext.SessionState.Path.SetLocation($ModulePath) | Out-Null
$env:TVM_VAULT_PATH = $vaultA
$backup = & ([IO.Path]::Combine($PSScriptRoot, 'Backup-Runbook.ps1')) -PublicPem $publicPem -BackupRoot $backupRoot
$backup | Out-Default

"== 3b. Restore runbook on cluster B (empty vault $vaultB)"
$env:TVM_VAULT_PATH = $vaultB
$restored = & ([IO.Path]::Combine($PSScriptRoot, 'Restore-Runbook.ps1')) -WrappingKeyName 'TvmRehearsalWrappingKey' `
    -PublicPem $publicPem -PrivatePem $privatePem -BackupFolder $backup.Path
$restored | Out-Default
$env:TVM_VAULT_PATH = $null

"== 4. Every key of vault A in vault B, equal"
$before = @(Get-TvmVaultKey -VaultPath $vaultA)
$after = @(Get-TvmVaultKey -VaultPath $vaultB)
$rows = foreach ($key in $before) {
    $match = $after | Where-Object Name -eq $key.Name
    [pscustomobject]@{
        Name        = $key.Name
        Type        = $key.Type
        Size        = $key.Size
        Fingerprint = $key.Fingerprint
        Equal       = [bool]($match -and $match.Type -eq $key.Type -and $match.Size -eq $key.Size -and $match.Fingerprint -eq $key.Fingerprint)
    }
}
$rows | Out-Default
$equal = @($rows | Where-Object Equal).Count
$imported = @($restored | Where-Object { $_ -is [TvmBackupUtils.TvmKeyRestore] -and $_.Outcome -eq 'Imported' }).Count
"Vault A holds $($before.Count) keys; $imported were imported into vault B; $equal of $($before.Count) are equal in both."
if ($before.Count -ne 21 -or $equal -ne $before.Count -or $imported -ne $before.Count) {
    'REHEARSAL FAILED: the restored vault does not hold every key of the backed-up vault.'
    exit 1
}
'REHEARSAL PASSED: every key came back equal.'
