//! `tvm_restore` (Import-TVMKeys): the keys of one backup into the vault.
use serde::{Deserialize, Serialize};

use super::checked_path;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, ErrorInfo, Result};
use crate::events::Events;
use crate::vault::Vault;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreRequest {
    /// One timestamped backup folder, full path.
    pub backup_path: String,
    /// The folder as the user typed it, for the host messages. Default: `backupPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_backup_path: Option<String>,
    /// The vault's key that unwraps the backup.
    pub wrapping_key_name: String,
    /// `Skip` (default), `Fail` or `Replace`: what to do with keys the vault already holds.
    #[serde(default, skip_serializing_if = "is_default")]
    pub if_exists: crate::restore::IfExists,
    /// Only these keys (wildcards; `-KeyName`, or a VM's `VMId` from the pipeline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_names: Vec<String>,
    /// The wrapping private key PEM, to compare existing AES keys by their material. Its password, if any,
    /// is passed beside the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    /// Share files that rebuild the wrapping private key in memory, in place of `privateKeyPath`; the secret is
    /// then a secret list of custodian passwords (`api::shares::Secrets`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share_paths: Vec<String>,
    /// The custodians' private key PEMs that open the shares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_private_key_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace_attestation_root_key: bool,
    /// Report the plan; write nothing anywhere (`-WhatIf`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub what_if: bool,
    /// Where the backup of the target vault goes first. Default: the backup root of the backup restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_backup_root_path: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_target_backup: bool,
    /// `yyyyMMddHHmmss`, the caller's local time, for the target backup's folder; required unless skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_local: Option<String>,
    /// Remove the wrapping key from the vault when the restore is done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_wrapping_key: bool,
    /// Restore the intact key files of a damaged backup (`-Force`); without it a damaged backup is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_intact: bool,
    /// `-ThrottleLimit`: up to this many vault imports at a time (1 to 16; absent: 1, the original's one at a time).
    /// Only the MOC vault overlaps its calls; the local vault runs them one after the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_limit: Option<i64>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What happened to one key of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Imported,
    /// The vault held a key of that name, different or not compared, and it was replaced (`-IfExists Replace`).
    Replaced,
    /// The vault already held a key of that name (the same, or not compared: see `comparison`); nothing was written.
    Exists,
    /// The vault holds a key of that name with other material than the backup's; it was left as it is.
    Conflict,
    /// Not imported: `-WhatIf`, or declined at a prompt.
    Skipped,
    Failed,
}

/// One key of a restore: the `TvmKeyRestore` object, sent as a `keyRestored` event when the key is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRestore {
    /// The key name (for a key file whose name cannot be read, the file name).
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u32,
    pub outcome: Outcome,
    /// Why, for Exists, Skipped and Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The key file, full path.
    pub file: String,
    /// For `Failed` and `Conflict`: the error, with its stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// For a key the vault held already: `Same`, `Different` or `NotCompared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
}

/// Counts of what a restore did, per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResult {
    pub backup_path: String,
    pub imported: u32,
    #[serde(default)]
    pub replaced: u32,
    pub exists: u32,
    #[serde(default)]
    pub conflicts: u32,
    pub skipped: u32,
    pub failed: u32,
    /// The pre-restore backup of the target vault, when one was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_backup: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrapping_key_removed: bool,
}

pub fn run(vault: &dyn Vault, request: &RestoreRequest, password: Option<&[u8]>, events: &mut dyn Events) -> Result<RestoreResult> {
    let throttle = crate::vault::check_throttle(request.throttle_limit)?;
    let path = checked_path(&request.backup_path, "backupPath", "backup path")?;
    let shown = request.shown_backup_path.as_deref().filter(|s| !s.is_empty()).unwrap_or(path);
    let rebuilt = super::shares::wrapping_private_key(request.private_key_path.as_deref(), &request.share_paths, &request.custodian_private_key_paths, password, events)?;
    let private = match request.private_key_path.as_deref() {
        _ if rebuilt.is_some() => rebuilt,
        Some(p) => {
            let p = checked_path(p, "privateKeyPath", "private key path")?;
            Some(crate::pem::read_private_key_with(Path::new(p), "wrapping private key", password).map_err(|e| match e.input() {
                Some(_) => e,
                None => e.concerning("privateKeyPath"),
            })?)
        }
        None => None,
    };
    let target_backup = if request.skip_target_backup {
        None
    } else {
        let root = match request.target_backup_root_path.as_deref() {
            Some(r) => PathBuf::from(checked_path(r, "targetBackupRootPath", "target backup root")?),
            None => Path::new(path).parent().map(Path::to_path_buf).ok_or_else(|| {
                Error::for_input(ErrorCode::InvalidPath, "targetBackupRootPath", "The backup has no parent folder to take the target backup into; give -TargetBackupRootPath.")
            })?,
        };
        let timestamp = request.timestamp.clone().ok_or_else(|| {
            Error::for_input(ErrorCode::InvalidRequest, "timestamp", "A restore that backs up the target vault first needs the caller's timestamp.")
        })?;
        crate::layout::check_timestamp(&timestamp).map_err(|e| e.at_input("timestamp"))?;
        Some(crate::restore::TargetBackup { root, timestamp, created_local: request.created_local.clone() })
    };
    let options = crate::restore::Options {
        if_exists: request.if_exists,
        key_names: &request.key_names,
        private_key: private.as_ref().map(|p| &p.key),
        replace_root_key: request.replace_attestation_root_key,
        what_if: request.what_if,
        target_backup,
        remove_wrapping_key: request.remove_wrapping_key,
        restore_intact: request.restore_intact,
        throttle,
    };
    let from_shares = !request.share_paths.is_empty();
    crate::restore::restore_with(vault, path.as_ref(), shown.as_ref(), &request.wrapping_key_name, &options, events).map_err(|e| {
        // The private key came from -SharePath: that is the input a mismatch is about.
        if from_shares && e.code() == ErrorCode::KeyPairMismatch {
            e.at_input("sharePath")
        } else {
            e
        }
    })
}
