//! `tvm_restore` (Import-TVMKeys): the keys of one backup into the vault.
use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::error::{ErrorInfo, Result};
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
}

/// What happened to one key of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Imported,
    /// The vault already held a key of that name; nothing was written.
    Exists,
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
    /// For `Failed`: the error, with its stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// Counts of what a restore did, per outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResult {
    pub backup_path: String,
    pub imported: u32,
    pub exists: u32,
    pub skipped: u32,
    pub failed: u32,
}

pub fn run(vault: &dyn Vault, request: &RestoreRequest, events: &mut dyn Events) -> Result<RestoreResult> {
    let path = checked_path(&request.backup_path, "backupPath", "backup path")?;
    let shown = request.shown_backup_path.as_deref().filter(|s| !s.is_empty()).unwrap_or(path);
    crate::restore::restore(vault, path.as_ref(), shown.as_ref(), &request.wrapping_key_name, events)
}
