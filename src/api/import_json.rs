//! `tvm_generate_import_json` (Generate-ImportJsonFromPEM): the NO_KEY_WRAP import file of a PEM pair.
use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportJsonRequest {
    pub public_key_path: String,
    pub private_key_path: String,
    /// The file to write, full path.
    pub out_file_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJsonResult {
    /// The file written, full path.
    pub path: String,
    /// The size of the RSA key in bits.
    pub key_size: u32,
}

pub fn run(request: &ImportJsonRequest) -> Result<ImportJsonResult> {
    let public = checked_path(&request.public_key_path, "publicKeyPath", "public key path")?;
    let private = checked_path(&request.private_key_path, "privateKeyPath", "private key path")?;
    let out = checked_path(&request.out_file_path, "outFilePath", "output file path")?;
    let key_size = crate::wrapping_key::generate_import_json(public.as_ref(), private.as_ref(), out.as_ref())?;
    Ok(ImportJsonResult { path: out.to_string(), key_size })
}
