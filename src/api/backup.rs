//! `tvm_backup` (Backup-TVMKeys): every AES and RSA key of the vault into a new timestamped backup.
use serde::{Deserialize, Serialize};

use super::{checked_path, Key};
use crate::error::Result;
use crate::events::Events;
use crate::vault::Vault;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupRequest {
    /// The RSA public key PEM that wraps every exported key, full path.
    pub wrapping_key_path: String,
    /// The folder that holds the timestamped backups, full path.
    pub backup_root_path: String,
    /// The backup root as the user typed it; host messages show it, as the original's did. Default: the
    /// same as `backupRootPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_backup_root_path: Option<String>,
    /// `yyyyMMddHHmmss`, local time of the run (the caller's clock, so tests can fix it).
    pub timestamp: String,
    /// Recorded in the backup's manifest (`-Label`): one line, at most 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The same moment as `timestamp` with its UTC offset (RFC 3339), for the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_local: Option<String>,
    /// `-KeyName`: only these keys (wildcards); names that match no key are refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_names: Vec<String>,
    /// `-WrappingKeyName`: the wrapping key's name in the vault that will import the backup (the vault-to-vault
    /// flow, `Export-MocKey -wrappingKeyName`); recorded in every key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapping_key_name: Option<String>,
    /// `-ThrottleLimit`: up to this many vault exports at a time (1 to 16; absent: 1, the original's one at a
    /// time). Only the MOC vault overlaps its calls; the local vault runs them one after the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_limit: Option<i64>,
}

/// A finished backup: the `TvmBackup` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupResult {
    /// `<backup root>/<timestamp>`, full path.
    pub path: String,
    /// The folder name, `yyyyMMddHHmmss`.
    pub timestamp: String,
    /// The keys the backup holds, each with its key file.
    pub keys: Vec<Key>,
    /// The module's fingerprint of the wrapping public key the keys are wrapped with (as in the manifest).
    pub wrapping_key_fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

pub fn run(vault: &dyn Vault, request: &BackupRequest, events: &mut dyn Events) -> Result<BackupResult> {
    let throttle = crate::vault::check_throttle(request.throttle_limit)?;
    let wrapping = checked_path(&request.wrapping_key_path, "wrappingKeyPath", "wrapping key path")?;
    let root = checked_path(&request.backup_root_path, "backupRootPath", "backup root")?;
    let shown = request.shown_backup_root_path.as_deref().filter(|s| !s.is_empty()).unwrap_or(root);
    let details = crate::backup::Details {
        label: request.label.as_deref(),
        created_local: request.created_local.as_deref(),
        key_names: &request.key_names,
        wrapping_key_name: request.wrapping_key_name.as_deref().filter(|n| !n.is_empty()),
        throttle,
        ..Default::default()
    };
    crate::backup::backup_with(vault, wrapping.as_ref(), root.as_ref(), shown.as_ref(), &request.timestamp, details, events)
}
