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
use rsa::RsaPublicKey;

use crate::keyfile::KeyFile;
use crate::layout;
use crate::pem;
use crate::vault::{KeySpec, KeyType, Vault};

/// Counts of what a restore did, per outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub imported: u32,
    pub exists: u32,
    pub skipped: u32,
    pub failed: u32,
}

/// `backup_path` is the resolved folder; `shown_path` is the same folder as the user typed it, which the
/// host messages show, as the original's did.
pub fn restore(vault: &dyn Vault, backup_path: &Path, shown_path: &Path, wrapping_key_name: &str, events: &mut dyn Events) -> Result<Summary> {
    layout::check_key_name(wrapping_key_name)
        .map_err(|e| Error::InvalidArgument(format!("-WrappingKeyName: {e}")))?;
    let files = key_files(backup_path)?;
    let existing: HashSet<String> = vault.list()?.into_iter().map(|k| k.name).collect();
    let wrapping = check_wrapping_key(vault, &files, &existing, wrapping_key_name, events)?;
    let target = Target { vault, wrapping_key_name, wrapping: wrapping.as_ref(), existing: &existing };
    events.message(&format!("Importing TVM  keys from {}", shown_path.display()));
    let total = files.len() as u32;
    let mut summary = Summary::default();
    for (i, (key_type, path)) in files.iter().enumerate() {
        if events.progress("Restoring TVM keys", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled(format!(
                "{} of {total} key files were handled; run Import-TVMKeys again to finish (keys already imported are reported as existing).",
                i
            )));
        }
        let shown = shown_path.join(path.strip_prefix(backup_path).unwrap_or(path));
        let outcome = restore_one(&target, *key_type, path, &shown, events)?;
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

/// What every key of one restore is imported into.
struct Target<'a> {
    vault: &'a dyn Vault,
    wrapping_key_name: &'a str,
    /// The vault's wrapping public key, when the vault could tell it.
    wrapping: Option<&'a RsaPublicKey>,
    /// The names the vault held before the restore.
    existing: &'a HashSet<String>,
}

fn restore_one(target: &Target<'_>, key_type: KeyType, path: &Path, shown_path: &Path, events: &mut dyn Events) -> Result<Outcome> {
    let Target { vault, wrapping_key_name, wrapping, existing } = *target;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    // Objects carry the full path; the host message shows it as the user typed it.
    let full = path.to_string_lossy().into_owned();
    let shown = shown_path.to_string_lossy().into_owned();
    let (name, size) = match layout::parse_key_file_name(&file_name) {
        Ok(parsed) => parsed,
        Err(e) => {
            let event = KeyEvent { name: &file_name, key_type: key_type.as_str(), size: 0, file: &full };
            events.key_done(&event, Outcome::Failed, Some(&e), &e.to_string());
            return Ok(Outcome::Failed);
        }
    };
    let folder = layout::folder_for(key_type);
    events.message(&format!("Importing key {name} with size {size} from {folder} folder path = {shown}"));
    let event = KeyEvent { name: &name, key_type: key_type.as_str(), size, file: &full };
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
    let key_file = match read_key_file(path) {
        Ok(file) => file,
        Err(e) => return fail(events, e),
    };
    if let (Some(vault_key), Some(file_key)) = (wrapping, pem::public_key_from_der(&key_file.wrapping_public_key)) {
        if *vault_key != file_key {
            return fail(
                events,
                Error::Crypto(format!(
                    "'{shown}' was wrapped for the key {}, not for the vault's wrapping key '{wrapping_key_name}' ({}).",
                    pem::fingerprint(&file_key),
                    pem::fingerprint(vault_key)
                )),
            );
        }
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

fn read_key_file(path: &Path) -> Result<KeyFile> {
    let bytes = fs::read(path).map_err(|e| Error::io("read", path, e))?;
    KeyFile::parse(&bytes, &format!("'{}'", path.display()))
}

/// Before the first write: the wrapping key must be in the vault whenever a key is to be imported, and
/// if the key files say which public key wrapped them, at least one must name the vault's key; else
/// nothing in the backup can be restored, and the user hears why once, not once per key.
/// Returns the vault's wrapping public key for the per-file check, when the vault can tell it.
fn check_wrapping_key(
    vault: &dyn Vault,
    files: &[(KeyType, PathBuf)],
    existing: &HashSet<String>,
    wrapping_key_name: &str,
    events: &mut dyn Events,
) -> Result<Option<RsaPublicKey>> {
    let pending: Vec<&PathBuf> = files
        .iter()
        .map(|(_, path)| path)
        .filter(|path| {
            let file_name = path.file_name().unwrap_or_default().to_string_lossy();
            matches!(layout::parse_key_file_name(&file_name), Ok((name, _)) if !existing.contains(&name) && name != wrapping_key_name)
        })
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
    let file_keys: Vec<RsaPublicKey> =
        pending.iter().filter_map(|p| read_key_file(p).ok()).filter_map(|f| pem::public_key_from_der(&f.wrapping_public_key)).collect();
    if let Some(first) = file_keys.first() {
        if !file_keys.contains(&vault_key) {
            return Err(Error::Crypto(format!(
                "The backup was wrapped with the key {}, but the vault's wrapping key '{wrapping_key_name}' is the key {}. \
                 Import the key pair whose public key was given to Backup-TVMKeys (under a new -KeyName) and give that name.",
                pem::fingerprint(first),
                pem::fingerprint(&vault_key)
            )));
        }
    }
    Ok(Some(vault_key))
}

fn exists(events: &mut dyn Events, event: &KeyEvent<'_>, name: &str) -> Result<Outcome> {
    let text = format!("Key {name} already exists in the vault; it was left as it is and not imported.");
    events.warning(&text);
    events.key_done(event, Outcome::Exists, None, &text);
    Ok(Outcome::Exists)
}
