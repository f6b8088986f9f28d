# The original's documented backup runbook (TvmBackupUtils.psm1, "Backup the Tvm Vault", step 3), unchanged
# but for the two paths it asks the administrator to fill in. Run from the folder that holds the module.
param([string] $PublicPem, [string] $BackupRoot)

import-module .\TvmBackupUtils.psm1 -force
Backup-TVMKeys -WrappingKeyPath $PublicPem -BackupRootPath $BackupRoot
