//! Test-TVMKeyBackup and the quick check of Get-TVMKeyBackup: whether a backup folder is what
//! Backup-TVMKeys wrote, offline, before the day it is needed.
//!
//! Three depths, one code path, so that every command judges a backup the same way:
//! - [`Depth::Quick`] (Get-TVMKeyBackup): the folders and names, the manifest, every listed file present with
//!   its length. No key file is read.
//! - [`Depth::Full`] (Test-TVMKeyBackup): also every key file's bytes against the manifest's SHA-256, and each
//!   file's JSON, `enc`, base64url, public key and wrapped-blob length (`docs/format.md` sections 2 and 4).
//! - [`Depth::Deep`] (`-Deep -PrivateKeyPath`): also every key unwrapped in memory with the wrapping private
//!   key, on every core, and checked against its file's name (size) and public half; the material is wiped
//!   when each check ends.
//!
//! Every problem is a [`Finding`] naming the file (relative to the backup, `/`-separated) and what is wrong;
//! a backup with any finding is `Damaged`. A backup without a manifest is `Legacy` (the original script's),
//! checked as far as its files allow; a hidden `.<timestamp>.partial` folder is `Incomplete`.
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use rayon::prelude::*;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::events::{Events, Reply};
use crate::keyfile::{Enc, KeyFile};
use crate::keywrap::{self, KeyWrap};
use crate::layout;
use crate::manifest::{self, Manifest, Source};
use crate::pem;
use crate::vault::{KeySpec, KeyType};

/// How far a check goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Depth {
    Quick,
    Full,
    Deep,
}

/// The verdict on one backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Written by this module, complete, every check passed.
    Valid,
    /// No manifest (written by the original script); every check its files allow passed.
    Legacy,
    /// At least one finding.
    Damaged,
    /// A hidden `.<timestamp>.partial` folder: a backup whose writer never finished.
    Incomplete,
}

/// What kind of problem a finding is. The names are a contract (scripts may match them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// The folder has no AES or RSA folder.
    NotABackup,
    /// A hidden partial folder.
    Incomplete,
    /// A file or folder that a backup does not hold.
    StrayItem,
    /// Two key files whose names differ only in case.
    NamesCollide,
    /// Two key files with the same bytes.
    DuplicateContent,
    /// `manifest.json` cannot be read, is of another format or schema, or was changed after it was written.
    ManifestInvalid,
    /// The manifest describes another backup (its timestamp is not the folder's).
    ManifestMismatch,
    /// A file the manifest lists is not there.
    FileMissing,
    /// A key file the manifest does not list.
    FileUnlisted,
    /// A key file's bytes are not the ones the manifest recorded.
    HashMismatch,
    LengthMismatch,
    KeyFileNameInvalid,
    KeyFileInvalid,
    /// A key file that holds its key unwrapped (`NO_KEY_WRAP`): plaintext key material in a backup.
    KeyFileUnwrapped,
    /// The file's public key is not an RSA key of the size in its name (or an AES file has one).
    PublicKeyInvalid,
    /// The wrapped blob's length is not that of the key in the file's name wrapped for its wrapping key.
    BlobLengthInvalid,
    /// The file was wrapped for another public key than the backup's (or the one given).
    WrappingKeyMismatch,
    /// Deep: the blob does not unwrap with the wrapping private key.
    UnwrapFailed,
    /// Deep: it unwraps only with another OAEP hash than the `enc` the file states; the vault would refuse it.
    EncMismatch,
    /// Deep: the unwrapped material is not the key the file names (size, type or public half).
    KeyMaterialInvalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The file or folder, relative to the backup with `/` (`AES/vm1_256.json`, `manifest.json`); empty
    /// for the backup folder itself.
    pub file: String,
    pub problem: Problem,
    /// What is wrong and what to do, in full.
    pub message: String,
}

/// One key file, as the check found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCheck {
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u32,
    /// Relative to the backup, with `/`.
    pub file: String,
    /// `Valid` or `Damaged` (this file has a finding).
    pub status: String,
    /// Deep: the mechanism that unwrapped it (`CKM_RSA_AES_KEY_WRAP`, ...), and the AES key wrap
    /// (`RFC5649` or `RFC3394`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_wrap: Option<String>,
    /// The key's fingerprint as a vault lists it: RSA from the file's public key; AES only after a deep
    /// unwrap (a one-way digest of the material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// The verdict on one backup and everything it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupCheck {
    pub path: String,
    /// From the folder name, when it is a timestamp (or a partial folder's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub status: Status,
    pub has_manifest: bool,
    /// Key files found (AES and RSA).
    pub key_count: u32,
    pub aes_count: u32,
    pub rsa_count: u32,
    /// The wrapping public key's fingerprint: the manifest's, else the first key file's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapping_key_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The manifest's purpose: `preRestore` for a backup Import-TVMKeys took of its target first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_utc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// `Quick`, `Full` or `Deep`.
    pub depth: String,
    pub findings: Vec<Finding>,
    pub keys: Vec<KeyCheck>,
}

impl Finding {
    /// The problem's name as scripts see it (`HashMismatch`).
    pub fn problem_name(&self) -> String {
        format!("{:?}", self.problem)
    }
}

impl BackupCheck {
    fn add(&mut self, file: &str, problem: Problem, message: String) {
        self.findings.push(Finding { file: file.to_string(), problem, message });
    }
}

/// What the caller holds to check against.
#[derive(Default)]
pub struct Against<'a> {
    /// `-WrappingKeyPath`: the public key the backup must have been made for.
    pub wrapping_key: Option<&'a RsaPublicKey>,
    /// `-PrivateKeyPath` (deep): the wrapping private key.
    pub private_key: Option<&'a RsaPrivateKey>,
    /// Worker threads for the deep check; 0 = every core.
    pub threads: usize,
}

/// A key file as listed, before any check.
struct Listed {
    rel: String,
    key_type: KeyType,
    file_name: String,
    length: u64,
}

/// The bytes of the key files a check read, by path: a restore parses these, so that each key file is read
/// once and the bytes checked against the manifest are the bytes restored. Key files hold wrapped keys only.
#[derive(Default)]
pub struct Contents(HashMap<PathBuf, zeroize::Zeroizing<Vec<u8>>>);

impl Contents {
    /// The bytes read from `path`, if the check read it.
    pub fn get(&self, path: &Path) -> Option<&[u8]> {
        self.0.get(path).map(|b| b.as_slice())
    }
}

/// Checks the backup folder `path`. An error is returned only when the folder itself cannot be read (it is
/// missing, or listing it fails); every problem inside it is a finding.
pub fn check(path: &Path, depth: Depth, against: &Against<'_>, events: &mut dyn Events) -> Result<BackupCheck> {
    check_keeping(path, depth, against, events, None)
}

/// [`check`], keeping in `contents` the bytes of every key file it read (at [`Depth::Full`] and deeper).
pub fn check_keeping(path: &Path, depth: Depth, against: &Against<'_>, events: &mut dyn Events, contents: Option<&mut Contents>) -> Result<BackupCheck> {
    let folder_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = layout::partial_timestamp(&folder_name).map(str::to_string);
    let timestamp = partial.clone().or_else(|| layout::check_timestamp(&folder_name).ok().map(|()| folder_name.clone()));
    let mut out = BackupCheck {
        path: path.display().to_string(),
        timestamp: timestamp.clone(),
        status: Status::Valid,
        has_manifest: false,
        key_count: 0,
        aes_count: 0,
        rsa_count: 0,
        wrapping_key_fingerprint: None,
        label: None,
        purpose: None,
        created_utc: None,
        source: None,
        depth: format!("{depth:?}"),
        findings: Vec::new(),
        keys: Vec::new(),
    };
    let meta = fs::symlink_metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Missing {
            code: ErrorCode::BackupFolderMissing,
            what: "The backup folder",
            path: path.to_path_buf(),
            fix: "Give a timestamped folder that Backup-TVMKeys created (<backup root>\\<yyyyMMddHHmmss>); Get-TVMKeyBackup lists them.",
        },
        _ => Error::io("read", path, e),
    })?;
    if !meta.is_dir() && !(meta.file_type().is_symlink() && path.is_dir()) {
        return Err(Error::new(ErrorCode::NotABackup, format!("'{}' is a file, not a backup folder.", path.display())));
    }
    let listed = list_folder(path, &mut out)?;
    let manifest = read_manifest(path, &mut out);
    if let Some(m) = &manifest {
        out.has_manifest = true;
        out.wrapping_key_fingerprint = Some(m.wrapping_key_fingerprint.clone());
        out.label = m.label.clone();
        out.purpose = m.purpose.clone();
        out.created_utc = Some(m.created_utc.clone());
        out.source = Some(m.source.clone());
        if let Some(ts) = &timestamp {
            if m.timestamp != *ts {
                out.add(manifest::FILE_NAME, Problem::ManifestMismatch, format!(
                    "The manifest is that of the backup {}, not of this folder ({ts}): it was copied from another backup, or the \
                     folder was renamed. Use the backup under its own name.",
                    m.timestamp
                ));
            }
        }
        compare_with_manifest(path, m, &listed, &mut out);
    }
    if let (Some(expected), Some(recorded)) = (against.wrapping_key, manifest.as_ref().map(|m| &m.wrapping_key_fingerprint)) {
        let given = pem::fingerprint(expected);
        if *recorded != given {
            out.add(manifest::FILE_NAME, Problem::WrappingKeyMismatch, format!(
                "The backup was made for the wrapping key {recorded}, not for the key given ({given}): it can be restored only \
                 with the private key of {recorded}."
            ));
        }
    }
    // The key the files must be wrapped for: the one given, or the public half of the private key given.
    let expected_wrapping = against
        .wrapping_key
        .cloned()
        .or_else(|| against.private_key.map(RsaPublicKey::from))
        .map(|k| (pem::fingerprint(&k), k));
    let mut files = Vec::new();
    if depth >= Depth::Full {
        files = check_key_files(path, &listed, expected_wrapping.as_ref(), manifest.as_ref(), &mut out, events, contents)?;
    } else {
        for item in &listed {
            let (name, size) = layout::parse_key_file_name(&item.file_name).unwrap_or_default();
            out.keys.push(KeyCheck {
                name,
                key_type: item.key_type.as_str().into(),
                size,
                file: item.rel.clone(),
                status: String::new(),
                enc: None,
                key_wrap: None,
                fingerprint: None,
            });
        }
    }
    if depth == Depth::Deep {
        if let Some(private) = against.private_key {
            deep_check(private, &mut files, against.threads, &mut out, events)?;
        }
    }
    if let Some(ts) = &partial {
        out.add("", Problem::Incomplete, format!(
            "This is an unfinished backup: the run of {ts} stopped before it completed, so it may lack keys. Use a complete \
             backup (a folder named yyyyMMddHHmmss); Remove-TVMKeyBackup removes left-over partial folders older than a day."
        ));
    }
    out.key_count = listed.len() as u32;
    out.aes_count = listed.iter().filter(|l| l.key_type == KeyType::Aes).count() as u32;
    out.rsa_count = out.key_count - out.aes_count;
    let damaged: HashSet<&str> = out.findings.iter().map(|f| f.file.as_str()).collect();
    for key in &mut out.keys {
        key.status = if damaged.contains(key.file.as_str()) { "Damaged" } else { "Valid" }.into();
    }
    out.status = if partial.is_some() {
        Status::Incomplete
    } else if !out.findings.is_empty() {
        Status::Damaged
    } else if out.has_manifest {
        Status::Valid
    } else {
        Status::Legacy
    };
    Ok(out)
}

/// The backup folder's entries: `AES/` and `RSA/` with their key files, `manifest.json`; anything else is a
/// stray item. Names that Windows does not tell apart are a finding too.
fn list_folder(path: &Path, out: &mut BackupCheck) -> Result<Vec<Listed>> {
    let mut listed = Vec::new();
    let mut found_folder = false;
    let mut top: Vec<(String, fs::FileType)> = Vec::new();
    for item in fs::read_dir(path).map_err(|e| Error::io("list", path, e))? {
        let item = item.map_err(|e| Error::io("list", path, e))?;
        let kind = item.file_type().map_err(|e| Error::io("list", path, e))?;
        top.push((item.file_name().to_string_lossy().into_owned(), kind));
    }
    top.sort_by(|a, b| a.0.cmp(&b.0));
    let mut strays = Vec::new();
    let is_partial = path.file_name().is_some_and(|n| layout::partial_timestamp(&n.to_string_lossy()).is_some());
    for (name, kind) in &top {
        let is_folder = kind.is_dir();
        match name.as_str() {
            layout::AES_FOLDER | layout::RSA_FOLDER if is_folder => found_folder = true,
            manifest::FILE_NAME if kind.is_file() => {}
            // The mark of the run writing an unfinished backup (src/sweep.rs), which is Incomplete anyway.
            crate::sweep::WRITER_FILE if kind.is_file() && is_partial => {}
            _ => strays.push((name, kind.is_symlink())),
        }
    }
    if !found_folder {
        // Not a backup at all: its contents are not findings of a backup.
        let holds_backups = top.iter().any(|(n, k)| k.is_dir() && (layout::check_timestamp(n).is_ok() || layout::partial_timestamp(n).is_some()));
        let hint = if holds_backups {
            " It holds timestamped folders: it looks like the backup root. Give one of its folders, or pipe Get-TVMKeyBackup into Test-TVMKeyBackup."
        } else {
            " Give a timestamped folder that Backup-TVMKeys created."
        };
        out.add("", Problem::NotABackup, format!("'{}' has no AES or RSA folder, so it holds no key.{hint}", out.path));
        return Ok(listed);
    }
    for (name, is_link) in strays {
        out.add(name, Problem::StrayItem, format!(
            "'{name}' is not part of a backup (a backup holds only AES, RSA and manifest.json){}. Move it out of the backup folder.",
            if is_link { "; it is a link" } else { "" }
        ));
    }
    for key_type in [KeyType::Aes, KeyType::Rsa] {
        let folder = layout::folder_for(key_type);
        let dir = path.join(folder);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut names = Vec::new();
        for item in entries {
            let item = item.map_err(|e| Error::io("list", &dir, e))?;
            let kind = item.file_type().map_err(|e| Error::io("list", &dir, e))?;
            let meta_len = if kind.is_file() { item.metadata().map(|m| m.len()).unwrap_or(0) } else { 0 };
            names.push((item.file_name().to_string_lossy().into_owned(), kind, meta_len));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut seen: HashMap<String, String> = HashMap::new();
        for (file_name, kind, length) in names {
            let rel = format!("{folder}/{file_name}");
            if !kind.is_file() {
                out.add(&rel, Problem::StrayItem, format!(
                    "'{rel}' is a {}, not a key file. Move it out of the backup folder.",
                    if kind.is_dir() { "folder" } else { "link" }
                ));
                continue;
            }
            if let Err(e) = layout::parse_key_file_name(&file_name) {
                out.add(&rel, Problem::KeyFileNameInvalid, format!("In the {folder} folder: {e}"));
                continue;
            }
            if let Some(first) = seen.insert(crate::win_path::file_name_key(&file_name), file_name.clone()) {
                out.add(&rel, Problem::NamesCollide, format!(
                    "'{rel}' and '{folder}/{first}' differ only in case: Windows takes them for one file and the restore refuses both. \
                     Keep the right one and remove the other."
                ));
            }
            listed.push(Listed { rel, key_type, file_name, length });
        }
    }
    Ok(listed)
}

/// The manifest, when there is one that can be read; a damaged one is a finding.
fn read_manifest(path: &Path, out: &mut BackupCheck) -> Option<Manifest> {
    let file = path.join(manifest::FILE_NAME);
    let bytes = match fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            out.has_manifest = true;
            out.add(manifest::FILE_NAME, Problem::ManifestInvalid, format!("The manifest could not be read: {e}."));
            return None;
        }
    };
    out.has_manifest = true;
    match manifest::parse(&bytes) {
        Ok(m) => Some(m),
        Err(why) => {
            out.add(manifest::FILE_NAME, Problem::ManifestInvalid, format!(
                "The manifest is damaged: {why}. The key files cannot be checked against it; check them with -Deep, or take a new backup."
            ));
            None
        }
    }
}

/// Every listed file there with its length (from [`Depth::Full`] on its hash too, checked with the file's
/// bytes in [`check_key_files`]); every key file listed; the entries themselves consistent.
fn compare_with_manifest(path: &Path, m: &Manifest, listed: &[Listed], out: &mut BackupCheck) {
    let on_disk: HashMap<&str, &Listed> = listed.iter().map(|l| (l.rel.as_str(), l)).collect();
    let mut in_manifest = HashSet::new();
    for key in &m.keys {
        let expected = layout::key_file_name(&key.name, key.size).map(|f| format!("{}/{f}", key.key_type));
        if expected.as_deref().ok() != Some(key.file.as_str()) {
            out.add(manifest::FILE_NAME, Problem::ManifestInvalid, format!(
                "The manifest lists the key '{}' ({} {}) as the file '{}', which is not that key's file name.",
                key.name, key.key_type, key.size, key.file
            ));
            continue;
        }
        if !in_manifest.insert(key.file.as_str()) {
            out.add(manifest::FILE_NAME, Problem::ManifestInvalid, format!("The manifest lists '{}' twice.", key.file));
            continue;
        }
        match on_disk.get(key.file.as_str()) {
            None => {
                let exists = path.join(&key.file).exists();
                out.add(&key.file, Problem::FileMissing, if exists {
                    format!("'{}' is in the manifest but is not a key file the backup can use.", key.file)
                } else {
                    format!(
                        "'{}' is missing: the key {} is in the manifest but its file is not in the backup, so a restore would not \
                         bring it back. Copy the file back from another copy of this backup, or take a new backup.",
                        key.file, key.name
                    )
                });
            }
            Some(l) if l.length != key.length => out.add(&key.file, Problem::LengthMismatch, format!(
                "'{}' is {} bytes; the manifest recorded {}: the file was truncated or changed after the backup.",
                key.file, l.length, key.length
            )),
            Some(_) => {}
        }
    }
    for l in listed {
        if !in_manifest.contains(l.rel.as_str()) {
            out.add(&l.rel, Problem::FileUnlisted, format!(
                "'{}' is not in the manifest: it was added after the backup was made (a copy or a file from another backup). \
                 Move it out of the backup folder.",
                l.rel
            ));
        }
    }
}

/// A key file read and checked, kept for the deep check.
struct Checked {
    index: usize,
    spec: KeySpec,
    file: KeyFile,
    public: Option<RsaPublicKey>,
}

/// [`Depth::Full`]: each key file's bytes, hash and content.
fn check_key_files(
    path: &Path,
    listed: &[Listed],
    expected: Option<&(String, RsaPublicKey)>,
    manifest: Option<&Manifest>,
    out: &mut BackupCheck,
    events: &mut dyn Events,
    mut contents: Option<&mut Contents>,
) -> Result<Vec<Checked>> {
    let recorded: HashMap<&str, &manifest::ManifestKey> = manifest.map(|m| m.keys.iter().map(|k| (k.file.as_str(), k)).collect()).unwrap_or_default();
    // A legacy backup records no wrapping key: the one given, else the first key file's, is the one every file must share.
    let mut backup_fingerprint = manifest.map(|m| m.wrapping_key_fingerprint.clone()).or_else(|| expected.map(|e| e.0.clone()));
    let mut by_hash: HashMap<String, String> = HashMap::new();
    let mut checked = Vec::new();
    let total = listed.len() as u32;
    for (i, item) in listed.iter().enumerate() {
        if events.progress("Checking key files", i as u32 + 1, total) == Reply::Cancel {
            return Err(Error::Cancelled("The check was stopped; nothing was changed.".into()));
        }
        let (name, size) = layout::parse_key_file_name(&item.file_name).unwrap_or_default();
        let index = out.keys.len();
        out.keys.push(KeyCheck {
            name: name.clone(),
            key_type: item.key_type.as_str().into(),
            size,
            file: item.rel.clone(),
            status: String::new(),
            enc: None,
            key_wrap: None,
            fingerprint: None,
        });
        let file_path = path.join(layout::folder_for(item.key_type)).join(&item.file_name);
        let bytes = match fs::read(&file_path) {
            Ok(b) => zeroize::Zeroizing::new(b),
            Err(e) => {
                out.add(&item.rel, Problem::KeyFileInvalid, format!("'{}' could not be read: {e}.", item.rel));
                continue;
            }
        };
        let hash = manifest::sha256_hex(&bytes);
        if let Some(kept) = contents.as_deref_mut() {
            kept.0.insert(file_path.clone(), bytes.clone());
        }
        if let Some(entry) = recorded.get(item.rel.as_str()) {
            if entry.length == bytes.len() as u64 && entry.sha256 != hash {
                out.add(&item.rel, Problem::HashMismatch, format!(
                    "'{}' is not the file the backup wrote: its SHA-256 is {hash}, the manifest recorded {}. It was changed or replaced \
                     after the backup; copy it back from another copy of this backup, or take a new backup.",
                    item.rel, entry.sha256
                ));
            }
        }
        let genuine = |rel: &str, hash: &str| recorded.get(rel).is_some_and(|e| e.sha256 == hash);
        if let Some(first) = by_hash.get(&hash).cloned() {
            // With a manifest, the copy is the file whose bytes it does not record; without one, either may be.
            let (this_ok, first_ok) = (genuine(&item.rel, &hash), genuine(&first, &hash));
            if !this_ok || manifest.is_none() {
                out.add(&item.rel, Problem::DuplicateContent, format!(
                    "'{}' has the same bytes as '{first}': {}",
                    item.rel,
                    if manifest.is_some() { "it is a copy of that file under another name, not the key it names." } else { "one of them is a copy under another name, not the key it names." }
                ));
            }
            if !first_ok && (this_ok || manifest.is_none()) {
                out.add(&first, Problem::DuplicateContent, format!(
                    "'{first}' has the same bytes as '{}': {}",
                    item.rel,
                    if manifest.is_some() { "it is a copy of that file under another name, not the key it names." } else { "one of them is a copy under another name, not the key it names." }
                ));
            }
        } else {
            by_hash.insert(hash, item.rel.clone());
        }
        let spec = match KeySpec::new(item.key_type, size) {
            Ok(spec) => spec,
            Err(e) => {
                out.add(&item.rel, Problem::KeyFileNameInvalid, format!("'{}': {e}", item.rel));
                continue;
            }
        };
        let file = match KeyFile::parse(&bytes, &format!("'{}'", item.rel)) {
            Ok(file) => file,
            Err(e) => {
                out.add(&item.rel, Problem::KeyFileInvalid, e.to_string());
                continue;
            }
        };
        if backup_fingerprint.is_none() {
            backup_fingerprint = pem::public_key_from_der(&file.wrapping_public_key).map(|k| pem::fingerprint(&k));
        }
        if let Some(c) = check_content(&item.rel, spec, file, backup_fingerprint.as_deref(), expected, out) {
            if let Some(public) = &c.public {
                out.keys[index].fingerprint = Some(pem::fingerprint(public));
            }
            checked.push(Checked { index, ..c });
        }
        if out.wrapping_key_fingerprint.is_none() {
            if let Some(k) = checked.last().and_then(|c| pem::public_key_from_der(&c.file.wrapping_public_key)) {
                out.wrapping_key_fingerprint = Some(pem::fingerprint(&k));
            }
        }
    }
    Ok(checked)
}

/// One key file's content: not plaintext, the public key its name says, wrapped for the backup's key, a
/// blob as long as that key wrapped for that wrapping key makes.
fn check_content(
    rel: &str,
    spec: KeySpec,
    file: KeyFile,
    backup_fingerprint: Option<&str>,
    expected: Option<&(String, RsaPublicKey)>,
    out: &mut BackupCheck,
) -> Option<Checked> {
    if file.enc == Enc::NoKeyWrap {
        out.add(rel, Problem::KeyFileUnwrapped, format!(
            "'{rel}' holds its key unwrapped (NO_KEY_WRAP): this is plaintext key material, not a backup file. Delete it securely and \
             take a new backup."
        ));
        return None;
    }
    let mut public = None;
    match spec.key_type {
        KeyType::Aes if !file.public_key.is_empty() => {
            out.add(rel, Problem::PublicKeyInvalid, format!(
                "'{rel}' has a public key, which an AES key file never has: it is an RSA key file under an AES name."
            ));
            return None;
        }
        KeyType::Aes => {}
        KeyType::Rsa => match pem::public_key_from_der(&file.public_key) {
            Some(k) if k.n().bits() == spec.size as usize => public = Some(k),
            Some(k) => {
                out.add(rel, Problem::PublicKeyInvalid, format!(
                    "'{rel}' holds an RSA-{} public key, but its name says {}.", k.n().bits(), spec.size
                ));
                return None;
            }
            None => {
                out.add(rel, Problem::PublicKeyInvalid, format!("'{rel}' has no RSA public key that can be read ('public-key')."));
                return None;
            }
        },
    }
    let file_wrapping = if file.wrapping_public_key.is_empty() {
        None
    } else {
        match pem::public_key_from_der(&file.wrapping_public_key) {
            Some(k) => Some(k),
            None => {
                out.add(rel, Problem::KeyFileInvalid, format!(
                    "'{rel}': 'private-key-wrapping-info.public-key' is not an RSA public key."
                ));
                return None;
            }
        }
    };
    if let (Some(k), Some(recorded)) = (&file_wrapping, backup_fingerprint) {
        let fingerprint = pem::fingerprint(k);
        if fingerprint != recorded {
            out.add(rel, Problem::WrappingKeyMismatch, format!(
                "'{rel}' was wrapped for the key {fingerprint}, not for the backup's wrapping key {recorded}: it comes from another backup \
                 and cannot be restored with this backup's key."
            ));
            return None;
        }
    }
    let modulus = file_wrapping.as_ref().or(expected.map(|e| &e.1)).map(|k| k.size());
    if let Some(why) = blob_length_problem(spec, file.private_key.len(), modulus) {
        out.add(rel, Problem::BlobLengthInvalid, format!("'{rel}': the wrapped key is {} bytes, {why}.", file.private_key.len()));
        return None;
    }
    Some(Checked { index: 0, spec, file, public })
}

/// Why a wrapped blob of `len` bytes cannot be the key `spec` wrapped for a `modulus`-byte RSA key: the
/// OAEP part is `modulus` bytes, the RFC 5649 part a multiple of 8 bytes, 8 more than the padded key (40
/// for an AES-256 key; about 4.5 bytes per modulus byte of an RSA key's PKCS#8).
fn blob_length_problem(spec: KeySpec, len: usize, modulus: Option<usize>) -> Option<String> {
    let moduli: Vec<usize> = match modulus {
        Some(m) => vec![m],
        None => vec![256, 384, 512],
    };
    let fits = |m: usize| {
        let Some(tail) = len.checked_sub(m) else { return false };
        if tail < 16 || tail % 8 != 0 {
            return false;
        }
        match spec.key_type {
            KeyType::Aes => tail == spec.size as usize / 8 + 8,
            KeyType::Rsa => {
                let n = spec.size as usize / 8;
                (4 * n..=5 * n + 128).contains(&tail)
            }
        }
    };
    if moduli.iter().any(|&m| fits(m)) {
        return None;
    }
    Some(match modulus {
        Some(m) => format!(
            "not the length of a {} {} key wrapped for a {}-bit wrapping key: the file is truncated, or holds another key than its name says",
            spec.key_type.as_str(), spec.size, m * 8
        ),
        None => format!("not the length of a {} {} key wrapped for any RSA wrapping key", spec.key_type.as_str(), spec.size),
    })
}

/// The result of unwrapping one key, sent from a worker.
struct Unwrapped {
    index: usize,
    matched: Option<keywrap::Matched>,
    fingerprint: Option<String>,
    problem: Option<(Problem, String)>,
}

/// [`Depth::Deep`]: every key unwrapped on `threads` workers (0: every core); progress and findings on the
/// calling thread, in the files' order.
fn deep_check(private: &RsaPrivateKey, files: &mut [Checked], threads: usize, out: &mut BackupCheck, events: &mut dyn Events) -> Result<()> {
    let recorded = out.wrapping_key_fingerprint.clone();
    let given = pem::fingerprint(&RsaPublicKey::from(private));
    if let Some(recorded) = recorded {
        if recorded != given {
            out.add("", Problem::WrappingKeyMismatch, format!(
                "The backup was made for the wrapping key {recorded}, but the private key given is that of {given}: this backup \
                 cannot be restored with it. Give the private key of {recorded}."
            ));
            return Ok(());
        }
    }
    let total = files.len();
    if total == 0 {
        return Ok(());
    }
    let workers = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads }.min(total);
    // A pool of this command's own: its size is the caller's -ThrottleLimit, and it ends with the check.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("tvmkeys-deep-{i}"))
        .build()
        .map_err(|e| Error::Problem {
            code: ErrorCode::InternalError,
            message: format!("The deep check could not start its {workers} worker thread(s): {e}. Nothing was changed; run it again with -ThrottleLimit 1."),
            input: None,
        })?;
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Unwrapped>();
    let rels: Vec<String> = files.iter().map(|c| out.keys[c.index].file.clone()).collect();
    let shared: &[Checked] = files;
    let mut results = Vec::with_capacity(total);
    let mut cancelled = false;
    // The workers unwrap; this thread (the one that may call back into the host) reports progress as
    // results arrive, and a Cancel stops the workers before their next key.
    pool.in_place_scope(|scope| {
        let stop = &stop;
        scope.spawn(move |_| {
            let _ = shared.par_iter().enumerate().try_for_each_with(tx, |tx, (i, c)| {
                if stop.load(Ordering::Relaxed) {
                    return Err(());
                }
                tx.send(unwrap_one(private, i, c)).map_err(|_| ())
            });
        });
        for (done, result) in rx.iter().enumerate() {
            results.push(result);
            if !cancelled && events.progress("Unwrapping keys (deep check)", done as u32 + 1, total as u32) == Reply::Cancel {
                cancelled = true;
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    if cancelled {
        return Err(Error::Cancelled("The deep check was stopped; nothing was changed.".into()));
    }
    results.sort_by_key(|r| r.index);
    for r in results {
        let c = &files[r.index];
        let key = &mut out.keys[c.index];
        if let Some(m) = r.matched {
            key.enc = Some(m.enc.as_str().into());
            key.key_wrap = Some(match m.key_wrap {
                KeyWrap::Rfc5649 => "RFC5649",
                KeyWrap::Rfc3394 => "RFC3394",
            }.into());
        }
        if r.fingerprint.is_some() {
            key.fingerprint = r.fingerprint;
        }
        if let Some((problem, message)) = r.problem {
            let rel = rels[r.index].clone();
            out.add(&rel, problem, format!("'{rel}': {message}"));
        }
    }
    Ok(())
}

/// Unwraps one key in memory and checks it against its file; the material is wiped on return.
fn unwrap_one(private: &RsaPrivateKey, index: usize, c: &Checked) -> Unwrapped {
    let mut result = Unwrapped { index, matched: None, fingerprint: None, problem: None };
    // The enc the file states first, then the others the format doc lists.
    let mut order = vec![c.file.enc];
    order.extend([Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384].into_iter().filter(|e| *e != c.file.enc));
    let mut last = None;
    let mut found = None;
    for enc in order {
        match keywrap::unwrap(private, &c.file.private_key, enc) {
            Ok(ok) => {
                found = Some(ok);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some((material, matched)) = found else {
        let why = last.map(|e| e.to_string()).unwrap_or_default();
        result.problem = Some((Problem::UnwrapFailed, format!("{why} (tried every OAEP hash and RFC 5649 and RFC 3394)")));
        return result;
    };
    result.matched = Some(matched);
    if matched.enc != c.file.enc {
        result.problem = Some((Problem::EncMismatch, format!(
            "it unwraps with {} but states {}: the vault unwraps it as stated and would refuse it.",
            matched.enc.as_str(),
            c.file.enc.as_str()
        )));
        return result;
    }
    match c.spec.key_type {
        KeyType::Aes => {
            if material.len() * 8 != c.spec.size as usize {
                result.problem = Some((Problem::KeyMaterialInvalid, format!(
                    "it unwraps to a {}-bit key, but its name says AES {}: it is not the key it names.",
                    material.len() * 8,
                    c.spec.size
                )));
            } else {
                result.fingerprint = Some(crate::vault::aes_fingerprint(&material));
            }
        }
        KeyType::Rsa => match RsaPrivateKey::from_pkcs8_der(&material) {
            Err(_) => {
                result.problem = Some((Problem::KeyMaterialInvalid, "it unwraps, but not to an RSA private key (PKCS#8).".into()));
            }
            Ok(key) if key.n().bits() != c.spec.size as usize => {
                result.problem = Some((Problem::KeyMaterialInvalid, format!(
                    "it unwraps to an RSA-{} key, but its name says {}.", key.n().bits(), c.spec.size
                )));
            }
            Ok(key) => {
                let public = RsaPublicKey::from(&key);
                if c.public.as_ref() != Some(&public) {
                    result.problem = Some((Problem::KeyMaterialInvalid, "the private key it unwraps to does not match the file's public key.".into()));
                } else {
                    result.fingerprint = Some(pem::fingerprint(&public));
                }
            }
        },
    }
    result
}

