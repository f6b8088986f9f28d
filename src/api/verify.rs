//! `tvm_verify` (Test-TVMKeyBackup): one backup checked offline, deep with the wrapping private key, and
//! against the live vault.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::coverage::{self, Coverage};
use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::pem;
use crate::vault::Vault;
use crate::verify::{self, Against, BackupCheck, Depth};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    /// One backup folder, full path.
    pub backup_path: String,
    /// The RSA public key PEM the backup must have been made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapping_key_path: Option<String>,
    /// Unwrap every key in memory with `privateKeyPath`.
    #[serde(default)]
    pub deep: bool,
    /// The wrapping private key PEM (PKCS#8, plain or encrypted; PKCS#1). Its password, when it has one, is
    /// passed beside the request, never in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    /// Share files that rebuild the wrapping private key in memory, in place of `privateKeyPath`; the secret is
    /// then a secret list of custodian passwords (`api::shares::Secrets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share_paths: Vec<String>,
    /// The custodians' private key PEMs that open the shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_private_key_paths: Vec<String>,
    /// Compare the backup with the vault (the command's vault handle).
    #[serde(default)]
    pub coverage: bool,
    /// Worker threads for the deep check; absent or 0: every core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Only the quick check (what Get-TVMKeyBackup does).
    #[serde(default)]
    pub quick: bool,
}

/// The `TvmBackupCheck` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    #[serde(flatten)]
    pub check: BackupCheck,
    /// Present when the request asked for coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Worker threads the deep check ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

pub fn run(vault: Option<&dyn Vault>, request: &VerifyRequest, password: Option<&[u8]>, events: &mut dyn Events) -> Result<VerifyResult> {
    let backup = checked_path(&request.backup_path, "backupPath", "backup path")?;
    // Errors about the keys given name their input: they concern every backup of the command, not this one.
    let wrapping = match request.wrapping_key_path.as_deref() {
        Some(p) => Some(
            pem::read_public_key(Path::new(checked_path(p, "wrappingKeyPath", "wrapping key path")?), "wrapping key")
                .map_err(|e| e.concerning("wrappingKeyPath"))?,
        ),
        None => None,
    };
    if !request.deep && (!request.share_paths.is_empty() || !request.custodian_private_key_paths.is_empty()) {
        return Err(Error::for_input(ErrorCode::InvalidRequest, "sharePath", "Shares give the wrapping private key for a deep check. Add -Deep, or leave out -SharePath and -CustodianPrivateKeyPath."));
    }
    let rebuilt = match request.deep {
        true => super::shares::wrapping_private_key(request.private_key_path.as_deref(), &request.share_paths, &request.custodian_private_key_paths, password, events)?,
        false => None,
    };
    let private = match (request.deep, request.private_key_path.as_deref()) {
        _ if rebuilt.is_some() => rebuilt,
        (true, Some(p)) => {
            let path = checked_path(p, "privateKeyPath", "private key path")?;
            Some(pem::read_private_key_with(Path::new(path), "wrapping private key", password).map_err(|e| match e.input() {
                Some(_) => e,
                None => e.concerning("privateKeyPath"),
            })?)
        }
        (true, None) => {
            return Err(Error::for_input(
                ErrorCode::PrivateKeyRequired,
                "privateKeyPath",
                "A deep check unwraps every key with the wrapping private key, and no private key file was given.",
            ))
        }
        (false, _) => None,
    };
    let private_input = if request.share_paths.is_empty() { "privateKeyPath" } else { "sharePath" };
    if let (Some(public), Some(private)) = (&wrapping, &private) {
        if !private.matches(public) {
            return Err(Error::for_input(
                ErrorCode::KeyPairMismatch,
                private_input,
                format!(
                    "The private key ({}) is not the private half of the wrapping key given ({}). Give the two halves of one key pair.",
                    pem::fingerprint(&rsa::RsaPublicKey::from(&private.key)),
                    pem::fingerprint(&public.key)
                ),
            ));
        }
    }
    let vault = match (request.coverage, vault) {
        (true, None) => return Err(Error::new(ErrorCode::InvalidRequest, "A coverage check needs a vault; none was opened.")),
        (true, Some(v)) => Some(v),
        (false, _) => None,
    };
    let depth = if private.is_some() {
        Depth::Deep
    } else if request.quick {
        Depth::Quick
    } else {
        Depth::Full
    };
    let threads = request.threads.unwrap_or(0) as usize;
    let against = Against { wrapping_key: wrapping.as_ref().map(|w| &w.key), private_key: private.as_ref().map(|p| &p.key), threads };
    let check = verify::check(Path::new(backup), depth, &against, events)?;
    let coverage = match vault {
        Some(v) => Some(coverage::compare(v, &check, events)?),
        None => None,
    };
    let threads = private.as_ref().map(|_| {
        let n = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        n.min(check.keys.len().max(1)) as u32
    });
    Ok(VerifyResult { check, coverage, threads })
}
