//! `tvm_backup_list` (Get-TVMKeyBackup) and `tvm_backup_remove` (Remove-TVMKeyBackup): the backups of a
//! backup root, and retention.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checked_path;
use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::inventory::{self, BackupInfo, Removal, Selection};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListBackupsRequest {
    /// The folder that holds the timestamped backups, full path.
    pub backup_root_path: String,
    /// Only the newest backup that is Complete or Legacy and not a pre-restore backup; none is an error.
    #[serde(default)]
    pub latest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBackupsResult {
    /// Newest first.
    pub backups: Vec<BackupInfo>,
}

pub fn list(request: &ListBackupsRequest, events: &mut dyn Events) -> Result<ListBackupsResult> {
    let root = checked_path(&request.backup_root_path, "backupRootPath", "backup root")?;
    let mut backups = inventory::list(Path::new(root), events)?;
    if request.latest {
        // The backup to restore: a backup of the whole vault (not a pre-restore backup, nor one of chosen keys).
        let Some(newest) = backups.into_iter().find(|b| b.status.is_usable() && b.purpose.is_none()) else {
            return Err(Error::for_input(
                ErrorCode::NoCompleteBackup,
                "backupRootPath",
                format!(
                    "The backup root '{root}' holds no complete backup (Complete or Legacy). Run Get-TVMKeyBackup without -Latest to see \
                     what it holds, and take a new backup with Backup-TVMKeys."
                ),
            ));
        };
        backups = vec![newest];
    }
    Ok(ListBackupsResult { backups })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveBackupsRequest {
    pub backup_root_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than_seconds: Option<u64>,
    /// Backups of the root to remove (full paths), instead of a rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default)]
    pub force: bool,
    /// The caller's local time, `yyyyMMddHHmmss`.
    pub now: String,
}

pub fn remove(request: &RemoveBackupsRequest, events: &mut dyn Events) -> Result<Removal> {
    let root = checked_path(&request.backup_root_path, "backupRootPath", "backup root")?;
    let mut paths = Vec::new();
    for p in &request.paths {
        paths.push(PathBuf::from(checked_path(p, "paths", "backup path")?));
    }
    let selection = Selection {
        keep_last: request.keep_last,
        older_than_seconds: request.older_than_seconds,
        paths,
        force: request.force,
        now: request.now.clone(),
    };
    inventory::remove(Path::new(root), &selection, events)
}
