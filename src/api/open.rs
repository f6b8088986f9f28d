//! `tvm_vault_open_local` and `tvm_vault_open_moc`: the vault a command works on.
use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::error::Result;
use crate::vault::LocalVault;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenLocalRequest {
    /// The vault's folder, full path.
    pub vault_path: String,
    /// A missing or empty folder is a new vault, made on its first write; else it is refused.
    #[serde(default)]
    pub create: bool,
    /// The path came from `$env:TVM_VAULT_PATH`, not from `-VaultPath`: a backup warns that it read a local
    /// vault, not the cluster's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_environment: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenMocRequest {
    /// Also apply the MOC stack version gate (`(Get-MocConfig).version`), which the original checks only
    /// to import a wrapping key.
    #[serde(default)]
    pub check_stack_version: bool,
    /// The `-Group` the host's Moc cmdlets are given (default `AzureStackHostAttestation`); recorded in a
    /// backup's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The `-KeyVaultName` (default `AzureStackTvmKeyVault`); recorded in a backup's manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenResult {
    /// `local` or `moc`.
    pub vault: String,
    /// The local vault's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

pub fn open_local(request: &OpenLocalRequest) -> Result<(LocalVault, OpenResult)> {
    let path = checked_path(&request.vault_path, "vaultPath", "vault path")?;
    let vault = LocalVault::open(path.as_ref(), request.create)?.chosen_by_environment(request.from_environment);
    Ok((vault, OpenResult { vault: "local".into(), path: Some(path.to_string()) }))
}
