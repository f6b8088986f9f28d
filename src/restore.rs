//! `Import-TVMKeys`: every key file of one backup (AES folder first, then RSA, ordinal name order)
//! imported into the vault, unwrapped there with the named wrapping key.
//!
//! Safe to re-run: a key the vault already holds is reported as `Exists`, not as a failure, and left
//! alone. Each file is checked (name, size, JSON, base64url) before it reaches the vault, so a damaged
//! file fails alone and never reaches MOC; the file itself is passed to the vault unchanged.
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::events::{Events, KeyEvent, Outcome, Reply};
use crate::keyfile::KeyFile;
use crate::layout;
use crate::vault::{KeySpec, KeyType, Vault};

/// Counts of what a restore did, per outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub imported: u32,
    pub exists: u32,
    pub skipped: u32,
    pub failed: u32,
}

pub fn restore(vault: &dyn Vault, backup_path: &Path, wrapping_key_name: &str, events: &mut dyn Events) -> Result<Summary> {
    layout::check_key_name(wrapping_key_name)
        .map_err(|e| Error::InvalidArgument(format!("-WrappingKeyName: {e}")))?;
    let files = key_files(backup_path)?;
    let existing: HashSet<String> = vault.list()?.into_iter().map(|k| k.name).collect();
    events.message(&format!("Importing TVM  keys from {}", backup_path.display()));
    let total = files.len() as u32;
    let mut summary = Summary::default();
    for (i, (key_type, path)) in files.iter().enumerate() {
        if events.progress("Restoring TVM keys", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled(format!(
                "{} of {total} key files were handled; run Import-TVMKeys again to finish (keys already imported are reported as existing).",
                i
            )));
        }
        let outcome = restore_one(vault, *key_type, path, wrapping_key_name, &existing, events)?;
        match outcome {
            Outcome::Imported => summary.imported += 1,
            Outcome::Exists => summary.exists += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Failed | Outcome::Exported => summary.failed += 1,
        }
    }
    Ok(summary)
}

/// The `*.json` files of `AES\` then `RSA\`, as the original enumerated them.
fn key_files(backup_path: &Path) -> Result<Vec<(KeyType, PathBuf)>> {
    if !backup_path.is_dir() {
        return Err(Error::Missing {
            what: "The backup folder",
            path: backup_path.to_path_buf(),
            fix: "Give the timestamped folder that Backup-TVMKeys created (<backup root>\\<yyyyMMddHHmmss>).",
        });
    }
    let mut found_folder = false;
    let mut files = Vec::new();
    for key_type in [KeyType::Aes, KeyType::Rsa] {
        let dir = backup_path.join(layout::folder_for(key_type));
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        found_folder = true;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.to_ascii_lowercase().ends_with(".json") && entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                names.push(name);
            }
        }
        names.sort();
        files.extend(names.into_iter().map(|n| (key_type, dir.join(n))));
    }
    if !found_folder {
        let hint = if fs::read_dir(backup_path)
            .map(|mut d| d.any(|e| e.map(|e| layout::check_timestamp(&e.file_name().to_string_lossy()).is_ok()).unwrap_or(false)))
            .unwrap_or(false)
        {
            " It holds timestamped folders: it looks like the backup root; give one of its timestamped folders."
        } else {
            ""
        };
        return Err(Error::Format(format!(
            "'{}' is not a backup: it has no AES or RSA folder.{hint}",
            backup_path.display()
        )));
    }
    Ok(files)
}

fn restore_one(
    vault: &dyn Vault,
    key_type: KeyType,
    path: &Path,
    wrapping_key_name: &str,
    existing: &HashSet<String>,
    events: &mut dyn Events,
) -> Result<Outcome> {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let shown = path.to_string_lossy().into_owned();
    let (name, size) = match layout::parse_key_file_name(&file_name) {
        Ok(parsed) => parsed,
        Err(e) => {
            let event = KeyEvent { name: &file_name, key_type: key_type.as_str(), size: 0, file: &shown };
            events.key_done(&event, Outcome::Failed, Some(&e), &e.to_string());
            return Ok(Outcome::Failed);
        }
    };
    let folder = layout::folder_for(key_type);
    events.message(&format!("Importing key {name} with size {size} from {folder} folder path = {shown}"));
    let event = KeyEvent { name: &name, key_type: key_type.as_str(), size, file: &shown };
    let fail = |events: &mut dyn Events, e: Error| {
        events.key_done(&event, Outcome::Failed, Some(&e), &e.to_string());
        Ok(Outcome::Failed)
    };
    let spec = match KeySpec::new(key_type, size) {
        Ok(spec) => spec,
        Err(e) => return fail(events, Error::Format(format!("'{file_name}' in the {folder} folder: {e}"))),
    };
    if name == wrapping_key_name {
        return fail(
            events,
            Error::InvalidArgument(format!(
                "The backup holds a key named '{name}', the same name as the wrapping key; importing it can hang MOC. \
                 Import the wrapping key under another -KeyName and run Import-TVMKeys again."
            )),
        );
    }
    if existing.contains(&name) {
        return exists(events, &event, &name);
    }
    if let Err(e) = fs::read(path)
        .map_err(|e| Error::io("read", path, e))
        .and_then(|bytes| KeyFile::parse(&bytes, &format!("'{shown}'")).map(|_| ()))
    {
        return fail(events, e);
    }
    match events.key_pending(&event, "Import key into the vault") {
        Reply::Proceed => {}
        Reply::Skip => {
            events.key_done(&event, Outcome::Skipped, None, "Not imported (-WhatIf or declined).");
            return Ok(Outcome::Skipped);
        }
        Reply::Cancel => return Err(Error::Cancelled("Run Import-TVMKeys again to finish.".into())),
    }
    match vault.import(&name, spec, path, Some(wrapping_key_name)) {
        Ok(()) => {
            events.key_done(&event, Outcome::Imported, None, "");
            Ok(Outcome::Imported)
        }
        Err(Error::KeyExists { .. }) => exists(events, &event, &name),
        Err(e @ Error::Cancelled(_)) => Err(e),
        Err(e) => fail(events, e),
    }
}

fn exists(events: &mut dyn Events, event: &KeyEvent<'_>, name: &str) -> Result<Outcome> {
    let text = format!("Key {name} already exists in the vault; it was left as it is and not imported.");
    events.warning(&text);
    events.key_done(event, Outcome::Exists, None, &text);
    Ok(Outcome::Exists)
}
