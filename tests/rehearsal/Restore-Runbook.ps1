# The original's documented restore runbook ("Restore on a new cluster", steps 2 and 3), unchanged but for
# the values it asks the administrator to fill in. Run from the folder that holds the module.
param([string] $WrappingKeyName, [string] $PublicPem, [string] $PrivatePem, [string] $BackupFolder)

Import-Module .\TvmBackupUtils.psm1 -force
Import-TvmWrappingKeyFromPem -KeyName $WrappingKeyName -PublicKeyPath $PublicPem -PrivateKeyPath $PrivatePem -KeySize 2048

# Restore the keys from backup
Import-TVMKeys -WrappingKeyName  $WrappingKeyName -BackupPath $BackupFolder
