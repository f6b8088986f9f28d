//! `tvm_import_wrapping_key` (Import-TvmWrappingKeyFromPem): an RSA pair from PEM files into the vault.
use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::error::Result;
use crate::events::Events;
use crate::vault::Vault;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportWrappingKeyRequest {
    /// The name the key gets in the vault.
    pub key_name: String,
    pub public_key_path: String,
    pub private_key_path: String,
    /// The size as the user typed it (the original took a string such as `2048`); checked against the key.
    pub key_size: String,
}

/// The key as imported, or as the vault held it already (`TvmWrappingKey`); `fingerprint` is that of its public half.
pub type ImportWrappingKeyResult = crate::wrapping_key::WrappingKeyResult;

pub fn run(vault: &dyn Vault, request: &ImportWrappingKeyRequest, password: Option<&[u8]>, events: &mut dyn Events) -> Result<ImportWrappingKeyResult> {
    let public = checked_path(&request.public_key_path, "publicKeyPath", "public key path")?;
    let private = checked_path(&request.private_key_path, "privateKeyPath", "private key path")?;
    crate::wrapping_key::import_wrapping_key_with(vault, &request.key_name, public.as_ref(), private.as_ref(), &request.key_size, password, events)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateWrappingKeyRequest {
    pub public_key_path: String,
    pub private_key_path: String,
    /// 2048, 3072 or 4096.
    pub key_size: u32,
    /// Replace files that exist.
    #[serde(default)]
    pub force: bool,
}

/// `tvm_generate_wrapping_key` (New-TvmWrappingKey); `password` is passed beside the request.
pub fn generate(request: &GenerateWrappingKeyRequest, password: Option<&[u8]>, events: &mut dyn Events) -> Result<crate::wrapping_key::GeneratedPair> {
    let public = checked_path(&request.public_key_path, "publicKeyPath", "public key path")?;
    let private = checked_path(&request.private_key_path, "privateKeyPath", "private key path")?;
    crate::wrapping_key::generate(public.as_ref(), private.as_ref(), request.key_size, password, request.force, events)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveWrappingKeyRequest {
    pub key_name: String,
}

/// `tvm_remove_wrapping_key` (Remove-TvmWrappingKey): the key as it was, with `Removed`, or `Kept` when declined.
pub fn remove(vault: &dyn Vault, request: &RemoveWrappingKeyRequest, events: &mut dyn Events) -> Result<crate::wrapping_key::WrappingKeyResult> {
    crate::wrapping_key::remove(vault, &request.key_name, events)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWrappingKeyRequest {
    /// The name the key gets in the vault.
    pub key_name: String,
    /// The public key PEM to write.
    pub public_key_path: String,
    /// 2048, 3072 or 4096.
    pub key_size: u32,
    /// Replace a public key file that exists.
    #[serde(default)]
    pub force: bool,
}

/// `tvm_create_wrapping_key` (New-TvmWrappingKey -InVault): a wrapping key made inside the vault, its public key
/// written to a file.
pub fn create(vault: &dyn Vault, request: &CreateWrappingKeyRequest, events: &mut dyn Events) -> Result<crate::wrapping_key::GeneratedPair> {
    let public = checked_path(&request.public_key_path, "publicKeyPath", "public key path")?;
    crate::wrapping_key::create_in_vault(vault, &request.key_name, public.as_ref(), request.key_size, request.force, events)
}
