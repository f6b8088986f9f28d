//! Get-TVMKeyBackup and Remove-TVMKeyBackup: the backups under a backup root, newest first, each with the
//! verdict of a quick check ([`crate::verify`], [`Depth::Quick`]), and retention.
//!
//! A backup root holds `<yyyyMMddHHmmss>` folders (complete backups, or the original's) and, after a run that
//! was killed, hidden `.<yyyyMMddHHmmss>.partial` folders. Anything else in it is not a backup and is left
//! alone. Links are never followed: a linked folder is not a backup of this root, and removing one never
//! reaches outside it.
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, Events, NoEvents, Reply};
use crate::layout;
use crate::verify::{self, Against, Depth, Status};

/// A backup's standing in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    /// Written by this module; the quick check passed.
    Complete,
    /// Written by the original script (no manifest); the quick check passed.
    Legacy,
    /// A hidden partial folder left by a run that did not finish.
    Partial,
    /// The quick check found a problem (Test-TVMKeyBackup says which).
    Damaged,
}

impl Standing {
    /// Complete and Legacy backups can be restored as they are.
    pub fn is_usable(self) -> bool {
        matches!(self, Standing::Complete | Standing::Legacy)
    }
}

/// One backup of a backup root: the `TvmBackupInfo` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupInfo {
    pub path: String,
    /// `yyyyMMddHHmmss`, local time of the run (the folder name).
    pub timestamp: String,
    pub status: Standing,
    pub key_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapping_key_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `preRestore` for a backup Import-TVMKeys took of its target before it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_utc: Option<String>,
    /// For a Damaged backup, the first problem found (Test-TVMKeyBackup lists them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Every backup under `root`, newest first (a partial folder sorts by its timestamp too).
pub fn list(root: &Path, events: &mut dyn Events) -> Result<Vec<BackupInfo>> {
    let listing = match fs::read_dir(root) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Missing {
                code: ErrorCode::BackupRootMissing,
                what: "The backup root",
                path: root.to_path_buf(),
                fix: "Give the folder that was given to Backup-TVMKeys as -BackupRootPath.",
            })
        }
        Err(_) if root.is_file() => {
            return Err(Error::for_input(
                ErrorCode::BackupRootIsFile,
                "backupRootPath",
                format!("The backup root '{}' is a file, not a folder. Give the folder that holds the timestamped backups.", root.display()),
            ))
        }
        Err(e) => return Err(Error::io("list", root, e)),
    };
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for item in listing {
        let item = item.map_err(|e| Error::io("list", root, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let timestamp = layout::partial_timestamp(&name).unwrap_or(&name);
        // Fourteen digits that are no date and time (20261399999999) are not a backup's name either.
        let is_backup_name = layout::check_timestamp(timestamp).is_ok() && civil_seconds(timestamp).is_some();
        if !is_backup_name {
            continue;
        }
        let kind = item.file_type().map_err(|e| Error::io("list", root, e))?;
        if kind.is_symlink() {
            events.verbose(&format!("'{}' is a link, not a backup folder of this root; it is left alone.", item.path().display()));
            continue;
        }
        if kind.is_dir() {
            found.push((name, item.path()));
        }
    }
    let total = found.len() as u32;
    let mut backups = Vec::with_capacity(found.len());
    for (i, (name, path)) in found.into_iter().enumerate() {
        if events.progress("Listing TVM key backups", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled("Nothing was changed.".into()));
        }
        backups.push(info(&name, &path)?);
    }
    backups.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(a.status.is_usable().cmp(&b.status.is_usable()).reverse()));
    Ok(backups)
}

/// The quick check of one folder of a root, as a listing entry.
fn info(name: &str, path: &Path) -> Result<BackupInfo> {
    let checked = verify::check(path, Depth::Quick, &Against::default(), &mut NoEvents)?;
    let status = match checked.status {
        Status::Valid => Standing::Complete,
        Status::Legacy => Standing::Legacy,
        Status::Incomplete => Standing::Partial,
        Status::Damaged => Standing::Damaged,
    };
    let problem = match status {
        Standing::Damaged => checked.findings.first().map(|f| f.message.clone()),
        _ => None,
    };
    Ok(BackupInfo {
        path: path.display().to_string(),
        timestamp: layout::partial_timestamp(name).unwrap_or(name).to_string(),
        status,
        key_count: checked.key_count,
        wrapping_key_fingerprint: checked.wrapping_key_fingerprint.or_else(|| legacy_fingerprint(path)),
        label: checked.label,
        purpose: checked.purpose,
        created_utc: checked.created_utc,
        problem,
    })
}

/// A legacy backup records no wrapping key; its first key file names it.
fn legacy_fingerprint(path: &Path) -> Option<String> {
    for folder in [layout::AES_FOLDER, layout::RSA_FOLDER] {
        let mut names: Vec<PathBuf> = fs::read_dir(path.join(folder)).ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for file in names.into_iter().filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))) {
            let bytes = zeroize::Zeroizing::new(fs::read(&file).ok()?);
            if let Ok(parsed) = crate::keyfile::KeyFile::parse(&bytes, "") {
                if let Some(k) = crate::pem::public_key_from_der(&parsed.wrapping_public_key) {
                    return Some(crate::pem::fingerprint(&k));
                }
            }
        }
    }
    None
}

/// Which backups a removal is about.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Keep the newest N complete (or legacy) backups, and every backup newer than the oldest of them.
    pub keep_last: Option<u32>,
    /// Only backups older than this many seconds (by their timestamp against `now`).
    pub older_than_seconds: Option<u64>,
    /// These backups of the root (full paths), instead of a rule.
    pub paths: Vec<PathBuf>,
    /// Also the newest complete backup.
    pub force: bool,
    /// The caller's local time, `yyyyMMddHHmmss` (what backup timestamps are in).
    pub now: String,
}

/// A partial folder younger than this may belong to a backup that is still running.
pub const PARTIAL_GRACE_SECONDS: u64 = 86_400;

/// What a removal did: the backups removed, and those that matched but were kept, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    pub removed: Vec<BackupInfo>,
    /// Matched the selection but declined at a prompt, or `-WhatIf`.
    pub skipped: Vec<BackupInfo>,
    /// Kept by the rules (the newest complete backup, a recent partial folder).
    pub protected: Vec<BackupInfo>,
}

/// Removes the backups of `root` that `selection` names, asking first for each (a `backupPending` event:
/// `-WhatIf` and `-Confirm` answer it), oldest first.
pub fn remove(root: &Path, selection: &Selection, events: &mut dyn Events) -> Result<Removal> {
    layout::check_timestamp(&selection.now).map_err(|e| e.at_input("now"))?;
    if selection.keep_last.is_none() && selection.older_than_seconds.is_none() && selection.paths.is_empty() {
        return Err(Error::new(
            ErrorCode::NothingSelected,
            "Say which backups to remove: -KeepLast N (keep the newest N), -OlderThan (an age), or backups from the pipeline \
             (Get-TVMKeyBackup ... | Remove-TVMKeyBackup).",
        ));
    }
    if selection.keep_last == Some(0) && !selection.force {
        return Err(Error::new(
            ErrorCode::NothingSelected,
            "-KeepLast 0 would remove every backup, the newest complete one too. Keep at least 1, or add -Force.",
        ));
    }
    let backups = list(root, &mut NoEvents)?;
    let newest_usable = backups.iter().find(|b| b.status.is_usable()).map(|b| b.path.clone());
    let age = |b: &BackupInfo| seconds_between(&b.timestamp, &selection.now);
    let mut chosen: Vec<&BackupInfo> = Vec::new();
    let mut removal = Removal::default();
    if selection.paths.is_empty() {
        let kept_floor = selection.keep_last.filter(|n| *n > 0).and_then(|n| {
            backups.iter().filter(|b| b.status.is_usable()).nth(n as usize - 1).map(|b| b.timestamp.clone())
        });
        for b in &backups {
            if b.status == Standing::Partial {
                if age(b).is_some_and(|a| a > PARTIAL_GRACE_SECONDS as i64) {
                    chosen.push(b);
                } else {
                    events.warning(&format!(
                        "The partial folder {} was not removed: it is less than a day old and may belong to a backup that is still \
                         running. Remove-TVMKeyBackup removes it once it is a day old.",
                        b.path
                    ));
                    removal.protected.push(b.clone());
                }
                continue;
            }
            let by_count = match (selection.keep_last, &kept_floor) {
                (None, _) | (Some(0), _) => true,
                // Fewer usable backups than N: nothing goes by count.
                (Some(_), None) => false,
                (Some(_), Some(floor)) => b.timestamp < *floor,
            };
            let by_age = selection.older_than_seconds.map_or(true, |limit| age(b).is_some_and(|a| a > limit as i64));
            if by_count && by_age {
                chosen.push(b);
            }
        }
    } else {
        for path in &selection.paths {
            let found = backups.iter().find(|b| Path::new(&b.path) == path.as_path());
            match found {
                Some(b) if b.status == Standing::Partial && !selection.force && !age(b).is_some_and(|a| a > PARTIAL_GRACE_SECONDS as i64) => {
                    events.warning(&format!(
                        "The partial folder {} was not removed: it is less than a day old and may belong to a backup that is still \
                         running. Add -Force to remove it.",
                        b.path
                    ));
                    removal.protected.push(b.clone());
                }
                Some(b) => chosen.push(b),
                None => {
                    return Err(Error::for_input(
                        ErrorCode::NotInBackupRoot,
                        "paths",
                        format!(
                            "'{}' is not a backup of the backup root '{}' (a yyyyMMddHHmmss folder, or a hidden .<timestamp>.partial folder, \
                             that is not a link). Nothing was removed.",
                            path.display(),
                            root.display()
                        ),
                    ))
                }
            }
        }
    }
    chosen.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    let total = chosen.len() as u32;
    for (i, b) in chosen.into_iter().enumerate() {
        if newest_usable.as_deref() == Some(b.path.as_str()) && !selection.force {
            events.warning(&format!(
                "The backup {} was not removed: it is the newest complete backup of '{}'. Add -Force to remove it too.",
                b.path,
                root.display()
            ));
            removal.protected.push(b.clone());
            continue;
        }
        if events.progress("Removing TVM key backups", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled(format!("{} backups were removed before the stop.", removal.removed.len())));
        }
        let action = format!("Remove backup ({:?}, {} keys, {})", b.status, b.key_count, b.timestamp);
        match events.send(Event::BackupPending { path: b.path.clone(), action }) {
            Reply::Proceed => {}
            Reply::Skip => {
                removal.skipped.push(b.clone());
                continue;
            }
            Reply::Cancel => return Err(Error::Cancelled(format!("{} backups were removed before the stop.", removal.removed.len()))),
        }
        remove_backup_folder(root, Path::new(&b.path))?;
        events.verbose(&format!("Removed the backup {}.", b.path));
        removal.removed.push(b.clone());
    }
    Ok(removal)
}

/// Removes one backup folder, after checking again that it is a folder of `root` and not a link. The
/// standard library's `remove_dir_all` removes links inside it as links, never what they point to.
fn remove_backup_folder(root: &Path, path: &Path) -> Result<()> {
    let inside = path.parent() == Some(root);
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io("read", path, e))?;
    if !inside || meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(Error::new(
            ErrorCode::NotInBackupRoot,
            format!("'{}' is no longer a backup folder of '{}' (it changed while the command ran); it was not removed.", path.display(), root.display()),
        ));
    }
    fs::remove_dir_all(path).map_err(|e| Error::io("remove the backup", path, e))
}

/// Seconds from the local time `from` to `to` (both `yyyyMMddHHmmss`), or `None` for a malformed one. Local
/// times: a daylight-saving change in between shifts the result by its hour.
pub fn seconds_between(from: &str, to: &str) -> Option<i64> {
    Some(civil_seconds(to)? - civil_seconds(from)?)
}

/// The timestamp `seconds` after `t` (both `yyyyMMddHHmmss`), or `None` for a malformed `t`.
pub fn timestamp_after(t: &str, seconds: i64) -> Option<String> {
    let next = u64::try_from(civil_seconds(t)? + seconds).ok()?;
    Some(crate::manifest::utc_from_unix(next).chars().filter(char::is_ascii_digit).collect())
}

fn civil_seconds(t: &str) -> Option<i64> {
    layout::check_timestamp(t).ok()?;
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(8..10)?, n(10..12)?, n(12..14)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_come_from_timestamps() {
        assert_eq!(seconds_between("20261201093000", "20261202093000"), Some(86_400));
        assert_eq!(seconds_between("20261231235959", "20270101000000"), Some(1));
        assert_eq!(seconds_between("20240228000000", "20240301000000"), Some(2 * 86_400));
        assert_eq!(seconds_between("2026120109300x", "20261202093000"), None);
        assert_eq!(seconds_between("20261301093000", "20261202093000"), None);
        assert_eq!(timestamp_after("20261231235959", 1).as_deref(), Some("20270101000000"));
        assert_eq!(timestamp_after("20240228235959", 1).as_deref(), Some("20240229000000"));
    }
}
