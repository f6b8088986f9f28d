//! `tvm_import_wrapping_key` (Import-TvmWrappingKeyFromPem): an RSA pair from PEM files into the vault.
use std::path::Path;

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
    /// The public key PEM; required with `privateKeyPath`, optional with `sharePaths` (then checked against the key
    /// the shares rebuild).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_path: Option<String>,
    /// The private key PEM; or give `sharePaths`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    /// The size as the user typed it (the original took a string such as `2048`); checked against the key.
    pub key_size: String,
    /// Share files that rebuild the private key in memory (Split-TvmWrappingKey), in place of `privateKeyPath`;
    /// the secret is then a secret list of custodian passwords (`api::shares::Secrets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share_paths: Vec<String>,
    /// The custodians' private key PEMs that open the shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_private_key_paths: Vec<String>,
}

/// The key as imported, or as the vault held it already (`TvmWrappingKey`); `fingerprint` is that of its public half.
pub type ImportWrappingKeyResult = crate::wrapping_key::WrappingKeyResult;

pub fn run(vault: &dyn Vault, request: &ImportWrappingKeyRequest, password: Option<&[u8]>, events: &mut dyn Events) -> Result<ImportWrappingKeyResult> {
    if let Some(private) = super::shares::wrapping_private_key(
        request.private_key_path.as_deref(),
        &request.share_paths,
        &request.custodian_private_key_paths,
        password,
        events,
    )? {
        let public = match request.public_key_path.as_deref() {
            Some(p) => Some(Path::new(checked_path(p, "publicKeyPath", "public key path")?)),
            None => None,
        };
        let source = format!("rebuilt from {} share files", request.share_paths.len());
        return crate::wrapping_key::import_wrapping_key_from(vault, &request.key_name, public, private, &source, &request.key_size, events);
    }
    let public = checked_path(request.public_key_path.as_deref().unwrap_or_default(), "publicKeyPath", "public key path")?;
    let private = checked_path(request.private_key_path.as_deref().unwrap_or_default(), "privateKeyPath", "private key path")?;
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
