//! `Backup-TVMKeys`: every AES and RSA key of the vault, exported wrapped with the caller's RSA public key
//! into `<backup root>/<timestamp>/{AES,RSA}/<name>_<size>.json` (`docs/format.md` section 1).
//!
//! Unlike the original, a backup is either complete or absent: it is written in a hidden partial folder
//! that is renamed to its timestamp only after every key was exported and read back, flushed to disk, and
//! listed with its SHA-256 in `manifest.json` ([`crate::manifest`]), itself flushed with the folder; the
//! rename is the commit point. Any failure removes the partial folder, and one a killed run left is swept by
//! the next backup of the root ([`crate::sweep`]). The partial folder is created atomically and marked with its
//! writer's process: of two runs in the same second, the second is refused with a plain message. The backup's
//! folders are owner-only ([`crate::owner_only`]): they hold the key names.
use std::fs;
use std::path::{Path, PathBuf};


use crate::api::backup::BackupResult;
use crate::api::Key;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Events, Reply};
use crate::keyfile::KeyFile;
use crate::layout;
use crate::manifest::{self, Manifest, ManifestKey};
use crate::pem;
use crate::vault::{ExportJob, KeySpec, KeyType, Vault};

/// What a backup's manifest records beyond the keys: the caller's label and its local clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Details<'a> {
    pub label: Option<&'a str>,
    /// The moment of the backup in the caller's local time with its offset (RFC 3339).
    pub created_local: Option<&'a str>,
    /// Keys left out by name (a pre-restore backup leaves out the wrapping key).
    pub exclude: &'a [&'a str],
    /// [`Manifest::purpose`].
    pub purpose: Option<&'a str>,
    /// `-KeyName`: only the keys these names match (wildcards `*` `?`, case-insensitive); empty: every key.
    /// A name that matches no key of the vault is refused before anything is written.
    pub key_names: &'a [String],
    /// `-WrappingKeyName`: the name of the wrapping key in the vault that will import the backup (the
    /// vault-to-vault flow); every key file names it, as `Export-MocKey -wrappingKeyName` does.
    pub wrapping_key_name: Option<&'a str>,
    /// `-ThrottleLimit`: up to this many exports at a time where the vault can overlap them (0 and 1: one at a
    /// time, as the original).
    pub throttle: u32,
}

/// `backup_root` is the resolved folder; `shown_root` is the same folder as the user typed it, which the
/// host messages show, as the original's `Join-Path $BackupRootPath $timestamp` did.
pub fn backup(
    vault: &dyn Vault,
    wrapping_key_path: &Path,
    backup_root: &Path,
    shown_root: &Path,
    timestamp: &str,
    events: &mut dyn Events,
) -> Result<BackupResult> {
    backup_with(vault, wrapping_key_path, backup_root, shown_root, timestamp, Details::default(), events)
}

/// [`backup`] with the label and local time its manifest records.
pub fn backup_with(
    vault: &dyn Vault,
    wrapping_key_path: &Path,
    backup_root: &Path,
    shown_root: &Path,
    timestamp: &str,
    details: Details<'_>,
    events: &mut dyn Events,
) -> Result<BackupResult> {
    layout::check_timestamp(timestamp)?;
    if let Some(label) = details.label {
        manifest::check_label(label)?;
    }
    if let Some(name) = details.wrapping_key_name {
        layout::check_key_name(name).map_err(|e| e.at_input("wrappingKeyName"))?;
    }
    // Refuse a wrong wrapping key before anything is created: a backup nobody can restore is worse
    // than none.
    let wrapping_key = pem::read_public_key(wrapping_key_path, "wrapping key")?;
    if !matches!(wrapping_key.bits(), 2048 | 3072 | 4096) {
        return Err(Error::for_input(
            ErrorCode::InvalidKeySize,
            "wrappingKeyPath",
            format!(
                "The wrapping key '{}' is RSA {}: MOC unwraps only with RSA 2048, 3072 or 4096, so no vault could restore this \
                 backup. Give a 2048-, 3072- or 4096-bit public key (New-TvmWrappingKey makes one).",
                wrapping_key_path.display(),
                wrapping_key.bits()
            ),
        ));
    }
    if backup_root.exists() && !backup_root.is_dir() {
        return Err(Error::for_input(
            ErrorCode::BackupRootIsFile,
            "backupRootPath",
            format!("The backup root '{}' is a file, not a folder.", backup_root.display()),
        ));
    }
    let final_path = backup_root.join(timestamp);
    if final_path.exists() {
        return Err(Error::new(
            ErrorCode::BackupExists,
            format!("A backup '{}' already exists. Wait a second and run Backup-TVMKeys again.", final_path.display()),
        ));
    }
    let listed = select(vault.list()?, &details, vault)?;
    if let Some(wrapping_name) = details.wrapping_key_name {
        // The restore would import a key named like the key that unwraps it, which can hang MOC: refused
        // now, while the source vault is still there to choose another name.
        if let Some(key) = listed.iter().find(|k| k.name.eq_ignore_ascii_case(wrapping_name)) {
            return Err(Error::for_input(
                ErrorCode::KeyNamedLikeWrappingKey,
                "wrappingKeyName",
                format!(
                    "The vault holds a key named {}, the wrapping key name given: a backup that names its wrapping key like one of its keys \
                     cannot be imported (the import can hang MOC). Nothing was written. Give the wrapping key another name.",
                    key.name
                ),
            ));
        }
    }
    check_file_names_apart(&listed)?;
    fs::create_dir_all(backup_root).map_err(|e| Error::io("create the backup root", backup_root, e))?;
    // What killed runs left in this root goes first (their partial folders), with a warning naming each.
    crate::sweep::sweep_partial_folders(backup_root, events);
    let partial = layout::partial_folder(backup_root, timestamp);
    // The atomic create is the lock: of two runs in the same second, one makes the folder and the other is told.
    match crate::owner_only::create_dir(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::new(
                ErrorCode::BackupExists,
                format!(
                    "Another Backup-TVMKeys is writing a backup of this same second into '{}' ({}{}). Nothing was written. Wait a \
                     second and run Backup-TVMKeys again.",
                    backup_root.display(),
                    partial.display(),
                    crate::sweep::writer_of(&partial).map(|w| format!(", process {w}")).unwrap_or_default()
                ),
            ))
        }
        Err(e) => return Err(Error::io("create the backup folder", &partial, e)),
    }
    let mut guard = PartialGuard { path: partial.clone(), armed: true };
    // Another run of this second may have completed between the check above and the create.
    if final_path.exists() {
        return Err(completed_meanwhile(&final_path));
    }
    crate::sweep::mark_writer(&partial).map_err(|e| Error::io("create the backup folder", &partial, e))?;
    for folder in [layout::AES_FOLDER, layout::RSA_FOLDER] {
        let dir = partial.join(folder);
        crate::owner_only::create_dir(&dir).map_err(|e| Error::io("create the backup folder", &dir, e))?;
    }
    let (keys, files) = export_all(vault, &listed, (wrapping_key_path, details.wrapping_key_name), details.throttle, &partial, &final_path, &shown_root.join(timestamp), events)?;
    let source = vault.source();
    if details.key_names.is_empty() && details.purpose.is_none() {
        warn_about_contents(&keys, &source, events);
    }
    let fingerprint = pem::fingerprint(&wrapping_key.key);
    let record = Manifest {
        format: manifest::FORMAT.into(),
        schema_version: manifest::SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        timestamp: timestamp.into(),
        created_utc: manifest::utc_now(),
        created_local: details.created_local.filter(|t| !t.is_empty()).map(str::to_string),
        source,
        wrapping_key_fingerprint: fingerprint.clone(),
        label: details.label.filter(|l| !l.is_empty()).map(str::to_string),
        // A backup of chosen keys is not a backup of the vault: -Latest passes over it.
        purpose: details.purpose.map(str::to_string).or_else(|| (!details.key_names.is_empty()).then(|| manifest::PURPOSE_SELECTED_KEYS.to_string())),
        keys: files,
        manifest_sha256: None,
    };
    // The key files, the manifest last, then the folders, so that the rename (the commit point) finds all of it on disk.
    sync_key_files(&partial, &record.keys)?;
    manifest::write(&partial, &record)?;
    crate::crash_point::reached("manifest");
    // The writer's mark goes before the rename: a complete backup holds only what its manifest lists.
    crate::sweep::unmark_writer(&partial).map_err(|e| Error::io("complete the backup folder", &partial, e))?;
    for folder in [layout::AES_FOLDER, layout::RSA_FOLDER] {
        sync_folder(&partial.join(folder))?;
    }
    sync_folder(&partial)?;
    fs::rename(&partial, &final_path).map_err(|e| {
        // A run of this same second that completed first holds the name: on Linux the rename fails with "directory
        // not empty", on Windows with "access denied". Either way it is that plain refusal, not an I/O error.
        if final_path.is_dir() {
            completed_meanwhile(&final_path)
        } else {
            Error::io("complete the backup by renaming it to", &final_path, e)
        }
    })?;
    guard.armed = false;
    // The backup is complete from here on: a root that cannot be flushed is worth a warning, not a failure.
    if let Err(e) = sync_folder(backup_root) {
        events.warning(&format!("The backup is complete, but {e}"));
    }
    Ok(BackupResult {
        path: final_path.display().to_string(),
        timestamp: timestamp.to_string(),
        keys,
        wrapping_key_fingerprint: fingerprint,
        label: record.label,
    })
}

/// The keys of the vault a backup takes: `-KeyName`'s, less the excluded. Unmatched names are an error.
fn select(listed: Vec<Key>, details: &Details<'_>, vault: &dyn Vault) -> Result<Vec<Key>> {
    let unmatched: Vec<&str> = details
        .key_names
        .iter()
        .filter(|p| !listed.iter().any(|k| crate::restore::wildcard_match(p, &k.name)))
        .map(String::as_str)
        .collect();
    if !unmatched.is_empty() {
        return Err(Error::for_input(
            ErrorCode::KeyNotInVault,
            "keyNames",
            format!(
                "{} holds no key named {}. No backup was written. Get-TvmVaultKey lists the keys of the vault.",
                capitalized(&vault.source().describe()),
                unmatched.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(listed
        .into_iter()
        .filter(|k| details.key_names.is_empty() || details.key_names.iter().any(|p| crate::restore::wildcard_match(p, &k.name)))
        .filter(|k| !details.exclude.contains(&k.name.as_str()))
        .collect())
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The attestation root key every cluster's TVM key vault holds beside the VMs' keys.
const ROOT_KEY: &str = "AzureStackTvmAKRootKey";

/// A backup that holds no key, or no attestation root key, is most likely a backup of the wrong vault (a
/// `TVM_VAULT_PATH` left set, a mistyped `-KeyVaultName`): it is still written, and says so.
fn warn_about_contents(keys: &[Key], source: &manifest::Source, events: &mut dyn Events) {
    if keys.is_empty() {
        events.warning(&format!(
            "The backup holds no key: {} has no AES or RSA key. Check that it is the vault you meant to back up.",
            source.describe()
        ));
    } else if !keys.iter().any(|k| k.name == ROOT_KEY) {
        events.warning(&format!(
            "The backup holds no {ROOT_KEY}: {} has no attestation root key, which Trusted launch VMs need. \
             Check that it is the cluster's TVM key vault.",
            source.describe()
        ));
    }
}

/// Flushes a folder's entries (the names of the files in it) to disk. Unix only: Windows cannot open a
/// folder as a file without backup privileges, and NTFS journals its metadata.
fn sync_folder(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| Error::io("flush to disk the folder", path, e))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Removes the partial folder on every way out that is not success: an error, a cancel or a panic.
struct PartialGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for PartialGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Exports every key; returns the keys and their manifest entries. With a throttle above 1 the keys go to the
/// vault in batches of sixteen times the throttle (one host call each, the calls overlapping in the host); every
/// file is read back and recorded in the keys' order, so the backup is the same whatever the throttle.
#[allow(clippy::too_many_arguments)]
fn export_all(
    vault: &dyn Vault,
    listed: &[Key],
    (wrapping_key_path, wrapping_key_name): (&Path, Option<&str>),
    throttle: u32,
    partial: &Path,
    final_path: &Path,
    shown_path: &Path,
    events: &mut dyn Events,
) -> Result<(Vec<Key>, Vec<ManifestKey>)> {
    events.message(&format!("Backing up TVM Vault keys to {}", shown_path.display()));
    let source = vault.source();
    events.message(&format!("Source vault: {}", source.describe()));
    if vault.from_environment() {
        events.warning(&format!(
            "This backup reads {}, chosen by the environment variable TVM_VAULT_PATH, not the cluster's MOC key vault. If you meant \
             to back up the cluster, clear it (Remove-Item Env:TVM_VAULT_PATH) and run Backup-TVMKeys again.",
            source.describe()
        ));
    }
    let total = listed.len() as u32;
    let mut keys = Vec::with_capacity(listed.len());
    let mut files = Vec::with_capacity(listed.len());
    let mut shown = 0u32;
    for chunk in listed.chunks(crate::vault::batch_size(throttle)) {
        // The keys of this batch, with their spec and key file, in order.
        let mut batch: Vec<(&Key, KeySpec, PathBuf)> = Vec::with_capacity(chunk.len());
        for key in chunk {
            shown += 1;
            if events.progress("Backing up TVM keys", shown, total) == Reply::Cancel {
                return Err(Error::Cancelled("No backup was written.".into()));
            }
            let Some(key_type) = KeyType::parse(&key.key_type) else {
                // The original skipped other types silently; say so, since the backup will not hold them.
                events.warning(&format!(
                    "Key {} is of type {} size {}, which is not backed up (only AES and RSA keys are).",
                    key.name, key.key_type, key.size
                ));
                continue;
            };
            // An AES or RSA key with a size the vault cannot export would be missing from the backup: that
            // fails the backup rather than leaving a backup that looks complete without it.
            let spec = KeySpec::new(key_type, key.size).map_err(|e| Error::Backup { name: key.name.clone(), source: Box::new(e) })?;
            let folder = layout::folder_for(spec.key_type);
            let file = partial.join(folder).join(layout::key_file_name(&key.name, spec.size)?);
            events.message(&format!("Backing up key {} to {folder} folder", key.name));
            batch.push((key, spec, file));
        }
        let jobs: Vec<ExportJob<'_>> = batch
            .iter()
            .map(|(key, spec, file)| ExportJob { name: &key.name, spec: *spec, wrapping_key_path, wrapping_key_name, out_file: file })
            .collect();
        let exported = vault.export_many(&jobs, throttle);
        if exported.len() != jobs.len() {
            return Err(Error::new(ErrorCode::InternalError, format!("The vault gave {} results for {} exports.", exported.len(), jobs.len())));
        }
        for ((key, spec, file), result) in batch.into_iter().zip(exported) {
            let folder = layout::folder_for(spec.key_type);
            // The file's name once the backup is complete, which is what the result reports.
            let final_file = final_path.join(folder).join(file.file_name().unwrap_or_default());
            let bytes = result.and_then(|()| verify_written(&file)).map_err(|e| Error::Backup { name: key.name.clone(), source: Box::new(e) })?;
            let file_name = file.file_name().unwrap_or_default().to_string_lossy().into_owned();
            files.push(ManifestKey {
                name: key.name.clone(),
                key_type: spec.key_type.as_str().into(),
                size: spec.size,
                file: format!("{folder}/{file_name}"),
                sha256: manifest::sha256_hex(&bytes),
                length: bytes.len() as u64,
            });
            keys.push(Key { file: Some(final_file.display().to_string()), ..Key::new(&key.name, spec) });
            crate::crash_point::reached(&format!("key{}", keys.len()));
        }
    }
    Ok((keys, files))
}

/// Of two runs of one second, the one that finds the other's backup complete before its own.
fn completed_meanwhile(final_path: &Path) -> Error {
    Error::new(
        ErrorCode::BackupExists,
        format!(
            "Another Backup-TVMKeys completed the backup '{}' of this same second while this one ran; this run's files were removed. \
             Wait a second and run Backup-TVMKeys again.",
            final_path.display()
        ),
    )
}

/// Refuses, before anything is written, a vault whose keys would get key file names that Windows takes for
/// one file (`VM1_256.json` and `vm1_256.json`): on Windows the second export would replace the first, and
/// a backup made elsewhere could not be copied to Windows whole.
fn check_file_names_apart(listed: &[Key]) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for key in listed {
        let Some(key_type) = KeyType::parse(&key.key_type) else { continue };
        // A name that cannot be a file name fails the export, with its own error.
        let Ok(file_name) = layout::key_file_name(&key.name, key.size) else { continue };
        let file = format!("{}/{file_name}", layout::folder_for(key_type));
        if let Some(first) = seen.insert(crate::win_path::file_name_key(&file), key.name.as_str()) {
            return Err(Error::new(
                ErrorCode::KeyFileNamesCollide,
                format!(
                    "The vault holds the keys '{first}' and '{}', whose key files ({}_{size}.json and {}_{size}.json) differ only in case: \
                     Windows takes them for one file, and one would replace the other. No backup was written. \
                     Give one of the two keys another name in the vault, then run Backup-TVMKeys again.",
                    key.name,
                    first,
                    key.name,
                    size = key.size
                ),
            ));
        }
    }
    Ok(())
}

/// Reads an exported file back and flushes it to disk: a vault that wrote nothing, or half a file, fails
/// the backup now rather than the restore later. Returns the bytes, for the manifest.
fn verify_written(file: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(file).map_err(|e| Error::io("read back the exported key file", file, e))?;
    KeyFile::parse(&bytes, &format!("The exported file '{}'", file.display()))?;
    Ok(bytes)
}

/// Flushes every key file of the backup to disk, in one pass after the last export, before the manifest: one
/// flush per file at the end lets the file system commit them together instead of one commit per export.
fn sync_key_files(partial: &Path, files: &[ManifestKey]) -> Result<()> {
    for f in files {
        let file = partial.join(&f.file);
        // Opened for writing: Windows flushes only a handle with write access.
        fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("flush to disk the exported key file", &file, e))?;
    }
    Ok(())
}
