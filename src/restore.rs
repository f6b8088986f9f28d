//! `Import-TVMKeys`: every key file of one backup (AES folder first, then RSA, ordinal name order)
//! imported into the vault, unwrapped there with the named wrapping key.
//!
//! Safe to re-run: a key the vault already holds is reported as `Exists`, not as a failure, and left
//! alone. Each file is checked (name, size, JSON, base64url, the wrapping key it was made for) before it
//! reaches the vault, so a damaged file fails alone and never reaches MOC; the file itself is passed to
//! the vault unchanged. The backup is read once, by [`crate::reader`].
use std::collections::HashSet;
use std::path::Path;

use rsa::RsaPublicKey;

use crate::api::restore::{KeyRestore, Outcome, RestoreResult};
use crate::api::Key;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, Events, Reply};
use crate::layout;
use crate::pem;
use crate::reader::{self, Entry};
use crate::vault::{KeySpec, Vault};

/// `backup_path` is the resolved folder; `shown_path` is the same folder as the user typed it, which the
/// host messages show, as the original's did.
pub fn restore(vault: &dyn Vault, backup_path: &Path, shown_path: &Path, wrapping_key_name: &str, events: &mut dyn Events) -> Result<RestoreResult> {
    layout::check_key_name(wrapping_key_name).map_err(|e| e.at_input("wrappingKeyName"))?;
    refuse_partial(backup_path)?;
    let entries = reader::read(backup_path)?;
    let existing: HashSet<String> = vault.names()?.into_iter().collect();
    let wrapping = check_wrapping_key(vault, &entries, &existing, wrapping_key_name, events)?;
    let target = Target { vault, wrapping_key_name, wrapping: wrapping.as_ref(), existing: &existing };
    events.message(&format!("Importing TVM  keys from {}", shown_path.display()));
    let total = entries.len() as u32;
    let mut result = RestoreResult { backup_path: backup_path.display().to_string(), ..RestoreResult::default() };
    for (i, entry) in entries.iter().enumerate() {
        if events.progress("Restoring TVM keys", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled(format!(
                "{i} of {total} key files were handled; run Import-TVMKeys again to finish (keys already imported are reported as existing)."
            )));
        }
        let shown = shown_path.join(entry.path.strip_prefix(backup_path).unwrap_or(&entry.path));
        let done = restore_one(&target, entry, &shown, events)?;
        match done.outcome {
            Outcome::Imported => result.imported += 1,
            Outcome::Exists => result.exists += 1,
            Outcome::Skipped => result.skipped += 1,
            Outcome::Failed => result.failed += 1,
        }
        events.send(Event::KeyRestored { restore: done });
    }
    Ok(result)
}

/// What every key of one restore is imported into.
struct Target<'a> {
    vault: &'a dyn Vault,
    wrapping_key_name: &'a str,
    /// The vault's wrapping public key, when the vault could tell it.
    wrapping: Option<&'a RsaPublicKey>,
    /// The names the vault held before the restore.
    existing: &'a HashSet<String>,
}

fn record(key: &Key, outcome: Outcome, message: Option<String>, error: Option<&Error>) -> KeyRestore {
    KeyRestore {
        name: key.name.clone(),
        key_type: key.key_type.clone(),
        size: key.size,
        outcome,
        message,
        file: key.file.clone().unwrap_or_default(),
        error: error.map(Error::info),
    }
}

fn failed(key: &Key, e: Error) -> KeyRestore {
    record(key, Outcome::Failed, Some(e.to_string()), Some(&e))
}

fn restore_one(target: &Target<'_>, entry: &Entry, shown_path: &Path, events: &mut dyn Events) -> Result<KeyRestore> {
    let Target { vault, wrapping_key_name, wrapping, existing } = *target;
    // Objects carry the full path; the host message shows it as the user typed it.
    let full = entry.path.display().to_string();
    let shown = shown_path.display().to_string();
    let key_type = entry.key_type.as_str().to_string();
    let (name, size) = match &entry.name {
        Ok(parsed) => parsed.clone(),
        Err(e) => {
            let key = Key { name: entry.file_name.clone(), key_type, size: 0, fingerprint: None, file: Some(full) };
            return Ok(record(&key, Outcome::Failed, Some(e.to_string()), Some(e)));
        }
    };
    let folder = layout::folder_for(entry.key_type);
    events.message(&format!("Importing key {name} with size {size} from {folder} folder path = {shown}"));
    let key = Key { name: name.clone(), key_type, size, fingerprint: None, file: Some(full) };
    let spec = match KeySpec::new(entry.key_type, size) {
        Ok(spec) => spec,
        Err(e) => return Ok(failed(&key, Error::new(ErrorCode::KeyFileNameInvalid, format!("'{}' in the {folder} folder: {e}", entry.file_name)))),
    };
    if name == wrapping_key_name {
        return Ok(failed(
            &key,
            Error::new(
                ErrorCode::KeyNamedLikeWrappingKey,
                format!(
                    "The backup holds a key named '{name}', the same name as the wrapping key; importing it can hang MOC. \
                     Import the wrapping key under another name and run Import-TVMKeys again."
                ),
            ),
        ));
    }
    if existing.contains(&name) {
        return Ok(exists(events, &key));
    }
    let key_file = match &entry.content {
        Ok(file) => file,
        Err(e) => return Ok(record(&key, Outcome::Failed, Some(e.to_string()), Some(e))),
    };
    if let (Some(vault_key), Some(file_key)) = (wrapping, pem::public_key_from_der(&key_file.wrapping_public_key)) {
        if *vault_key != file_key {
            return Ok(failed(
                &key,
                Error::new(
                    ErrorCode::KeyFileWrappingKeyMismatch,
                    format!(
                        "'{shown}' was wrapped for the key {}, not for the vault's wrapping key '{wrapping_key_name}' ({}).",
                        pem::fingerprint(&file_key),
                        pem::fingerprint(vault_key)
                    ),
                ),
            ));
        }
    }
    match events.key_pending(&key, "Import key into the vault") {
        Reply::Proceed => {}
        Reply::Skip => return Ok(record(&key, Outcome::Skipped, Some("Not imported (-WhatIf or declined).".into()), None)),
        Reply::Cancel => return Err(Error::Cancelled("Run Import-TVMKeys again to finish.".into())),
    }
    match vault.import(&name, spec, &entry.path, Some(wrapping_key_name)) {
        Ok(()) => Ok(record(&key, Outcome::Imported, None, None)),
        Err(Error::KeyExists { .. }) => Ok(exists(events, &key)),
        Err(e @ Error::Cancelled(_)) => Err(e),
        Err(e) => Ok(failed(&key, e)),
    }
}

/// Before the first write: the wrapping key must be in the vault whenever a key is to be imported, and
/// if the key files say which public key wrapped them, at least one must name the vault's key; else
/// nothing in the backup can be restored, and the user hears why once, not once per key.
/// Returns the vault's wrapping public key for the per-file check, when the vault can tell it.
fn check_wrapping_key(
    vault: &dyn Vault,
    entries: &[Entry],
    existing: &HashSet<String>,
    wrapping_key_name: &str,
    events: &mut dyn Events,
) -> Result<Option<RsaPublicKey>> {
    let pending: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.key_name(), Some(name) if !existing.contains(name) && name != wrapping_key_name))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    if !existing.contains(wrapping_key_name) {
        return Err(Error::WrappingKeyMissing { name: wrapping_key_name.into() });
    }
    let vault_key = match vault.public_key(wrapping_key_name) {
        Ok(der) => pem::public_key_from_der(&der),
        Err(e) => {
            events.warning(&format!(
                "The public key of the wrapping key '{wrapping_key_name}' could not be read to check it against the backup ({e}). \
                 The vault checks each key as it imports it."
            ));
            None
        }
    };
    let Some(vault_key) = vault_key else { return Ok(None) };
    let file_keys: Vec<RsaPublicKey> = pending
        .iter()
        .filter_map(|e| e.content.as_ref().ok())
        .filter_map(|f| pem::public_key_from_der(&f.wrapping_public_key))
        .collect();
    if let Some(first) = file_keys.first() {
        if !file_keys.contains(&vault_key) {
            return Err(Error::new(
                ErrorCode::WrappingKeyMismatch,
                format!(
                    "The backup was wrapped with the key {}, but the vault's wrapping key '{wrapping_key_name}' is the key {}. \
                     Import the key pair whose public key was given to Backup-TVMKeys (under a new key name) and give that name.",
                    pem::fingerprint(first),
                    pem::fingerprint(&vault_key)
                ),
            ));
        }
    }
    Ok(Some(vault_key))
}

/// A hidden `.<timestamp>.partial` folder is a backup whose writer never finished (stopped, killed, or failed
/// on a key): it may lack keys, and restoring it would look like a complete restore.
fn refuse_partial(backup_path: &Path) -> Result<()> {
    let name = backup_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match layout::partial_timestamp(&name) {
        None => Ok(()),
        Some(timestamp) => Err(Error::for_input(
            ErrorCode::BackupIncomplete,
            "backupPath",
            format!(
                "'{}' is an unfinished backup: Backup-TVMKeys writes each backup in a hidden .<timestamp>.partial folder and \
                 renames it to its timestamp only when every key is in it, and the run of {timestamp} never got there (it was \
                 stopped or failed), so this folder may lack keys. Restore a complete backup instead: a folder named \
                 yyyyMMddHHmmss in the same backup root.",
                backup_path.display()
            ),
        )),
    }
}

fn exists(events: &mut dyn Events, key: &Key) -> KeyRestore {
    let text = format!("Key {} already exists in the vault; it was left as it is and not imported.", key.name);
    events.warning(&text);
    record(key, Outcome::Exists, Some(text), None)
}
