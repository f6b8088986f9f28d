//! `tvm_vault_list` and `tvm_vault_create_key` (Get-TvmVaultKey, New-TvmVaultKey): the keys of a vault.
use serde::{Deserialize, Serialize};

use super::Key;
use crate::error::{Error, ErrorCode, Result};
use crate::layout;
use crate::vault::{KeySpec, Vault};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeysRequest {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListKeysResult {
    /// Every key, in the vault's order, with a fingerprint where the vault can compute one.
    pub keys: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    /// `AES` or `RSA`, exactly.
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u32,
}

/// The key as created (a `TvmKey`).
pub type CreateKeyResult = Key;

pub fn list(vault: &dyn Vault, _request: &ListKeysRequest) -> Result<ListKeysResult> {
    Ok(ListKeysResult { keys: vault.list()? })
}

pub fn create(vault: &dyn Vault, request: &CreateKeyRequest) -> Result<CreateKeyResult> {
    layout::check_key_name(&request.name).map_err(|e| e.at_input("name"))?;
    let spec = KeySpec::parse(&request.key_type, request.size).map_err(|e| match e {
        Error::Problem { code: ErrorCode::InvalidKeyType, .. } => e.at_input("type"),
        e => e.at_input("size"),
    })?;
    let fingerprint = vault.create(&request.name, spec)?;
    Ok(Key { fingerprint, ..Key::new(&request.name, spec) })
}
