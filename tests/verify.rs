//! Test-TVMKeyBackup, Get-TVMKeyBackup and Remove-TVMKeyBackup through the engine's public API, on real
//! backups of real LocalVaults: the verdict of every depth, each kind of damage named by its file, the deep
//! check's unwrap on one and on every core, cancellation, the listing of a backup root, retention and its
//! protections, and the coverage of a vault by a backup.
//!
//! No RSA key is generated: the vault's RSA key is the second key pair of tests/vectors, imported.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rand::rngs::OsRng;
use rand::RngCore;
use tvmkeys::api::inventory::{ListBackupsRequest, RemoveBackupsRequest};
use tvmkeys::api::verify::VerifyRequest;
use tvmkeys::backup::{self, Details};
use tvmkeys::error::ErrorCode;
use tvmkeys::events::{Event, Events, NoEvents, Reply};
use tvmkeys::inventory::{self, Selection, Standing, PARTIAL_GRACE_SECONDS};
use tvmkeys::keyfile::{Enc, KeyFile};
use tvmkeys::manifest::{self, Manifest, ManifestKey};
use tvmkeys::vault::{KeySpec, KeyType, LocalVault, Vault};
use tvmkeys::verify::{self, Against, BackupCheck, Depth, Problem, Status};
use tvmkeys::{keywrap, pem, wrapping_key};
use zeroize::Zeroizing;

fn vectors() -> PathBuf {
    // A full path on every platform (under Wine the Linux build path is root-relative, which the engine refuses).
    std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")).unwrap()
}

fn wrapping_public() -> PathBuf {
    vectors().join("wrapping_public_pkcs1.pem")
}

fn wrapping_private() -> pem::PrivateKey {
    pem::read_private_key(&vectors().join("wrapping_private_pkcs8.pem"), "wrapping private key").unwrap()
}

fn public(file: &str) -> pem::PublicKey {
    pem::read_public_key(&vectors().join(file), "wrapping key").unwrap()
}

const ROOT_KEY: &str = "AzureStackTvmAKRootKey";
const T1: &str = "20261120093000";
const T2: &str = "20261121093000";
const T3: &str = "20261122093000";
const T4: &str = "20261123093000";
const T5: &str = "20261124093000";

/// A vault of three AES keys and one RSA-2048 key (the vectors' second key pair), and a backup root beside it.
struct Setup {
    dir: tempfile::TempDir,
    vault: LocalVault,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalVault::open(&dir.path().join("vault"), true).unwrap();
        for name in ["vm1", "vm2", "vm3"] {
            vault.create(name, KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
        }
        wrapping_key::import_wrapping_key(
            &vault,
            ROOT_KEY,
            &vectors().join("other_public_pkcs1.pem"),
            &vectors().join("other_private_pkcs8.pem"),
            "2048",
            &mut NoEvents,
        )
        .unwrap();
        Setup { dir, vault }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("backups")
    }

    /// A complete backup of the vault at `timestamp`, labelled "weekly".
    fn backup(&self, timestamp: &str) -> PathBuf {
        let details = Details { label: Some("weekly"), created_local: None, ..Default::default() };
        let done = backup::backup_with(&self.vault, &wrapping_public(), &self.root(), &self.root(), timestamp, details, &mut NoEvents).unwrap();
        PathBuf::from(done.path)
    }
}

fn check(path: &Path, depth: Depth) -> BackupCheck {
    verify::check(path, depth, &Against::default(), &mut NoEvents).unwrap()
}

fn deep_with(path: &Path, threads: usize) -> BackupCheck {
    let private = wrapping_private();
    verify::check(path, Depth::Deep, &Against { private_key: Some(&private.key), threads, ..Default::default() }, &mut NoEvents).unwrap()
}

fn deep(path: &Path) -> BackupCheck {
    deep_with(path, 0)
}

/// Every finding as (file, problem), in the check's order.
fn problems(c: &BackupCheck) -> Vec<(String, Problem)> {
    c.findings.iter().map(|f| (f.file.clone(), f.problem)).collect()
}

fn has(c: &BackupCheck, file: &str, problem: Problem) -> bool {
    c.findings.iter().any(|f| f.file == file && f.problem == problem)
}

fn key_status<'a>(c: &'a BackupCheck, file: &str) -> &'a str {
    &c.keys.iter().find(|k| k.file == file).unwrap_or_else(|| panic!("no key {file} in {:?}", c.keys)).status
}

/// Asserts that `c` is `Damaged`, holds the finding (file, problem), and that the finding's message names the file.
fn assert_damaged(c: &BackupCheck, file: &str, problem: Problem) {
    assert_eq!(c.status, Status::Damaged, "{:?}", problems(c));
    let finding = c.findings.iter().find(|f| f.file == file && f.problem == problem);
    let finding = finding.unwrap_or_else(|| panic!("no {problem:?} for {file}: {:?}", problems(c)));
    assert!(finding.message.contains(file), "the message does not name {file}: {}", finding.message);
}

fn manifest_of(folder: &Path) -> Manifest {
    manifest::parse(&fs::read(folder.join(manifest::FILE_NAME)).unwrap()).unwrap()
}

/// Rewrites the manifest of `folder` for the key files now on disk, sealed with a correct manifestSha256:
/// a backup whose every file is listed, with its hash and length, as Backup-TVMKeys would have written it.
fn reseal(folder: &Path) {
    let old = manifest_of(folder);
    let mut keys = Vec::new();
    for (folder_name, key_type) in [("AES", "AES"), ("RSA", "RSA")] {
        let Ok(entries) = fs::read_dir(folder.join(folder_name)) else { continue };
        let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for file_name in names {
            let bytes = fs::read(folder.join(folder_name).join(&file_name)).unwrap();
            let (name, size) = tvmkeys::layout::parse_key_file_name(&file_name).unwrap();
            keys.push(ManifestKey {
                name,
                key_type: key_type.into(),
                size,
                file: format!("{folder_name}/{file_name}"),
                sha256: manifest::sha256_hex(&bytes),
                length: bytes.len() as u64,
            });
        }
    }
    fs::remove_file(folder.join(manifest::FILE_NAME)).unwrap();
    manifest::write(folder, &Manifest { keys, manifest_sha256: None, ..old }).unwrap();
}

/// An AES key file that states the backup's wrapping key (`states`) and `enc`, holding `blob`.
fn aes_file(blob: Vec<u8>, states: &pem::PublicKey, enc: Enc) -> Zeroizing<Vec<u8>> {
    KeyFile {
        public_key: Vec::new(),
        private_key: Zeroizing::new(blob),
        wrapping_key_name: String::new(),
        wrapping_public_key: states.pkcs1_der.clone(),
        enc,
    }
    .to_export_bytes()
}

fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Every file and folder under `root`, with the files' bytes: to tell that nothing changed.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                out.insert(rel, None);
                walk(&path, base, out);
            } else {
                out.insert(rel, Some(fs::read(&path).unwrap_or_default()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Changes one base64url character in the middle of the `private-key` value: the file keeps its length.
fn flip_private_key_byte(file: &Path) {
    let mut text = fs::read_to_string(file).unwrap();
    let start = text.find("\"private-key\":\"").unwrap() + "\"private-key\":\"".len();
    let end = start + text[start..].find('"').unwrap();
    let at = (start + end) / 2;
    let old = text.as_bytes()[at];
    let new = if old == b'A' { "B" } else { "A" };
    text.replace_range(at..at + 1, new);
    let before = fs::metadata(file).unwrap().len();
    fs::write(file, &text).unwrap();
    assert_eq!(fs::metadata(file).unwrap().len(), before);
}

/// Records events and answers them from a script.
#[derive(Default)]
struct Recorder {
    activities: Vec<String>,
    warnings: Vec<String>,
    messages: Vec<String>,
    pending: Vec<(String, String)>,
    /// Cancel the progress event of this activity (its start) at this item.
    cancel_progress: Option<(&'static str, u32)>,
    /// The answer to every backupPending event.
    pending_reply: Option<Reply>,
    /// Cancel at the n-th backupPending event (1-based).
    cancel_pending_at: Option<usize>,
}

impl Events for Recorder {
    fn send(&mut self, event: Event) -> Reply {
        match event {
            Event::Progress { activity, current, .. } => {
                let cancel = self.cancel_progress.is_some_and(|(a, n)| activity.starts_with(a) && current == n);
                if !self.activities.contains(&activity) {
                    self.activities.push(activity);
                }
                if cancel {
                    return Reply::Cancel;
                }
            }
            Event::Warning { text } => self.warnings.push(text),
            Event::Message { text } => self.messages.push(text),
            Event::BackupPending { path, action } => {
                self.pending.push((path, action));
                if self.cancel_pending_at == Some(self.pending.len()) {
                    return Reply::Cancel;
                }
                return self.pending_reply.unwrap_or(Reply::Proceed);
            }
            _ => {}
        }
        Reply::Proceed
    }
}

// ---- the verdict on a backup as written ---------------------------------------------------------------------

#[test]
fn a_fresh_backup_is_valid_at_every_depth_and_deep_names_how_each_key_is_wrapped() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let wrapping_fingerprint = pem::fingerprint(&public("wrapping_public_pkcs1.pem").key);
    let listed = s.vault.list().unwrap();
    let in_vault = |name: &str| listed.iter().find(|k| k.name == name).unwrap().fingerprint.clone().unwrap();

    for depth in [Depth::Quick, Depth::Full] {
        let c = check(&folder, depth);
        assert_eq!(c.status, Status::Valid, "{depth:?}: {:?}", problems(&c));
        assert!(c.findings.is_empty());
        assert_eq!(c.depth, format!("{depth:?}"));
        assert!(c.has_manifest);
        assert_eq!((c.key_count, c.aes_count, c.rsa_count), (4, 3, 1));
        assert_eq!(c.timestamp.as_deref(), Some(T1));
        assert_eq!(c.label.as_deref(), Some("weekly"));
        assert_eq!(c.wrapping_key_fingerprint.as_deref(), Some(wrapping_fingerprint.as_str()));
        assert_eq!(c.source, Some(s.vault.source()));
        let files: Vec<&str> = c.keys.iter().map(|k| k.file.as_str()).collect();
        assert_eq!(files, ["AES/vm1_256.json", "AES/vm2_256.json", "AES/vm3_256.json", "RSA/AzureStackTvmAKRootKey_2048.json"]);
        assert!(c.keys.iter().all(|k| k.status == "Valid" && k.enc.is_none() && k.key_wrap.is_none()), "{:?}", c.keys);
    }
    // Full reads each file: an RSA key's fingerprint comes from its public half, and is the vault's.
    let full = check(&folder, Depth::Full);
    let rsa = full.keys.iter().find(|k| k.name == ROOT_KEY).unwrap();
    assert_eq!(rsa.fingerprint.as_deref(), Some(in_vault(ROOT_KEY).as_str()));
    assert!(full.keys.iter().filter(|k| k.key_type == "AES").all(|k| k.fingerprint.is_none()), "AES material is unknown without -Deep");

    let d = deep(&folder);
    assert_eq!(d.status, Status::Valid, "{:?}", problems(&d));
    assert_eq!(d.depth, "Deep");
    for k in &d.keys {
        assert_eq!(k.enc.as_deref(), Some("CKM_RSA_AES_KEY_WRAP"), "{}", k.file);
        assert_eq!(k.key_wrap.as_deref(), Some("RFC5649"), "{}", k.file);
        assert_eq!(k.status, "Valid");
        assert_eq!(k.fingerprint.as_deref(), Some(in_vault(&k.name).as_str()), "{}: the unwrapped key is the vault's", k.file);
    }
}

#[test]
fn the_wrapping_key_given_must_be_the_backups() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let right = public("wrapping_public_pkcs1.pem");
    let c = verify::check(&folder, Depth::Full, &Against { wrapping_key: Some(&right.key), ..Default::default() }, &mut NoEvents).unwrap();
    assert_eq!(c.status, Status::Valid, "{:?}", problems(&c));
    let other = public("other_public_pkcs1.pem");
    let c = verify::check(&folder, Depth::Quick, &Against { wrapping_key: Some(&other.key), ..Default::default() }, &mut NoEvents).unwrap();
    assert_eq!(problems(&c), [("manifest.json".to_string(), Problem::WrappingKeyMismatch)]);
    assert_eq!(c.status, Status::Damaged);
    // Deep with the private key of another pair: one finding for the backup, no unwrap attempted.
    let other_private = pem::read_private_key(&vectors().join("other_private_pkcs8.pem"), "wrapping private key").unwrap();
    let c = verify::check(&folder, Depth::Deep, &Against { private_key: Some(&other_private.key), ..Default::default() }, &mut NoEvents).unwrap();
    assert_eq!(problems(&c), [(String::new(), Problem::WrappingKeyMismatch)]);
    assert!(c.keys.iter().all(|k| k.enc.is_none()));
}

// ---- damage -------------------------------------------------------------------------------------------------

#[test]
fn a_truncated_key_file_is_a_length_mismatch_at_every_depth() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let file = folder.join("AES/vm2_256.json");
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
    for depth in [Depth::Quick, Depth::Full] {
        let c = check(&folder, depth);
        assert_damaged(&c, "AES/vm2_256.json", Problem::LengthMismatch);
        assert!(c.findings.iter().all(|f| f.file == "AES/vm2_256.json"), "{depth:?}: {:?}", problems(&c));
        assert_eq!(key_status(&c, "AES/vm2_256.json"), "Damaged");
        assert_eq!(key_status(&c, "AES/vm1_256.json"), "Valid");
    }
    // Full also reads it: truncated JSON is no key file.
    assert!(has(&check(&folder, Depth::Full), "AES/vm2_256.json", Problem::KeyFileInvalid));
    assert!(has(&deep(&folder), "AES/vm2_256.json", Problem::LengthMismatch));
}

#[test]
fn one_changed_byte_in_the_wrapped_key_is_a_hash_mismatch_and_fails_to_unwrap() {
    let s = Setup::new();
    let folder = s.backup(T1);
    flip_private_key_byte(&folder.join("AES/vm1_256.json"));
    let c = check(&folder, Depth::Full);
    assert_eq!(problems(&c), [("AES/vm1_256.json".to_string(), Problem::HashMismatch)]);
    assert_damaged(&c, "AES/vm1_256.json", Problem::HashMismatch);
    let d = deep(&folder);
    assert_damaged(&d, "AES/vm1_256.json", Problem::UnwrapFailed);
    assert!(has(&d, "AES/vm1_256.json", Problem::HashMismatch));
    assert_eq!(key_status(&d, "AES/vm1_256.json"), "Damaged");
    assert!(d.keys.iter().filter(|k| k.file != "AES/vm1_256.json").all(|k| k.status == "Valid" && k.enc.is_some()));
    // The same change in an RSA key file.
    let s = Setup::new();
    let folder = s.backup(T1);
    let rsa = "RSA/AzureStackTvmAKRootKey_2048.json";
    flip_private_key_byte(&folder.join(rsa));
    let d = deep(&folder);
    assert_damaged(&d, rsa, Problem::HashMismatch);
    assert_damaged(&d, rsa, Problem::UnwrapFailed);
}

#[test]
fn a_deleted_key_file_is_missing_and_named() {
    let s = Setup::new();
    let folder = s.backup(T1);
    fs::remove_file(folder.join("RSA/AzureStackTvmAKRootKey_2048.json")).unwrap();
    for c in [check(&folder, Depth::Quick), check(&folder, Depth::Full), deep(&folder)] {
        assert_eq!(problems(&c), [("RSA/AzureStackTvmAKRootKey_2048.json".to_string(), Problem::FileMissing)], "{}", c.depth);
        assert_damaged(&c, "RSA/AzureStackTvmAKRootKey_2048.json", Problem::FileMissing);
        assert!(c.findings[0].message.contains(ROOT_KEY), "{}", c.findings[0].message);
        assert_eq!((c.key_count, c.rsa_count), (3, 0));
    }
}

#[test]
fn an_extra_file_is_unlisted_a_copy_is_a_duplicate_and_anything_else_is_stray() {
    let s = Setup::new();
    let folder = s.backup(T1);
    fs::copy(folder.join("AES/vm1_256.json"), folder.join("AES/extra_256.json")).unwrap();
    let c = check(&folder, Depth::Quick);
    assert_eq!(problems(&c), [("AES/extra_256.json".to_string(), Problem::FileUnlisted)]);
    assert_damaged(&c, "AES/extra_256.json", Problem::FileUnlisted);
    assert_eq!(key_status(&c, "AES/extra_256.json"), "Damaged");
    assert_eq!(key_status(&c, "AES/vm1_256.json"), "Valid");
    let full = check(&folder, Depth::Full);
    let duplicate: Vec<_> = full.findings.iter().filter(|f| f.problem == Problem::DuplicateContent).collect();
    assert_eq!(duplicate.len(), 1, "{:?}", problems(&full));
    assert!(duplicate[0].message.contains("AES/extra_256.json") && duplicate[0].message.contains("AES/vm1_256.json"), "{}", duplicate[0].message);

    let s = Setup::new();
    let folder = s.backup(T1);
    fs::write(folder.join("notes.txt"), "x").unwrap();
    fs::create_dir(folder.join("AES/sub")).unwrap();
    fs::write(folder.join("AES/readme"), "x").unwrap();
    let c = check(&folder, Depth::Full);
    assert_damaged(&c, "notes.txt", Problem::StrayItem);
    assert_damaged(&c, "AES/sub", Problem::StrayItem);
    // (Its message gives the file name alone, 'readme'; the finding's file is the path in the backup.)
    assert!(has(&c, "AES/readme", Problem::KeyFileNameInvalid), "{:?}", problems(&c));
    assert_eq!(c.key_count, 4, "only key files count");
}

#[test]
fn two_swapped_key_files_are_both_hash_mismatches() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let (a, b) = (folder.join("AES/vm1_256.json"), folder.join("AES/vm3_256.json"));
    let (bytes_a, bytes_b) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
    assert_eq!(bytes_a.len(), bytes_b.len());
    fs::write(&a, &bytes_b).unwrap();
    fs::write(&b, &bytes_a).unwrap();
    // Same names, same lengths: only the bytes tell.
    assert_eq!(check(&folder, Depth::Quick).status, Status::Valid);
    let c = check(&folder, Depth::Full);
    assert_eq!(
        problems(&c),
        [("AES/vm1_256.json".to_string(), Problem::HashMismatch), ("AES/vm3_256.json".to_string(), Problem::HashMismatch)]
    );
    assert_damaged(&c, "AES/vm1_256.json", Problem::HashMismatch);
    assert_damaged(&c, "AES/vm3_256.json", Problem::HashMismatch);
    assert_eq!(key_status(&c, "AES/vm2_256.json"), "Valid");
}

#[test]
fn a_changed_manifest_value_makes_the_manifest_invalid() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let path = folder.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    for (from, to) in [("\"weekly\"", "\"weekla\""), ("\"length\": ", "\"length\": 1")] {
        let changed = text.replacen(from, to, 1);
        assert_ne!(changed, text, "{from}");
        fs::write(&path, &changed).unwrap();
        for depth in [Depth::Quick, Depth::Full] {
            let c = check(&folder, depth);
            assert_eq!(problems(&c), [("manifest.json".to_string(), Problem::ManifestInvalid)], "{from} at {depth:?}");
            assert_eq!(c.status, Status::Damaged);
            assert!(c.has_manifest);
            assert!(c.findings[0].message.contains("manifestSha256"), "{}", c.findings[0].message);
            assert_eq!(c.label, None, "nothing of a changed manifest is believed");
        }
    }
    // Not JSON, another format, no checksum.
    let sealed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut other = sealed.clone();
    other["format"] = "something-else".into();
    let mut unsealed = sealed.clone();
    unsealed.as_object_mut().unwrap().remove("manifestSha256");
    for bad in [text[..text.len() / 2].to_string(), other.to_string(), unsealed.to_string()] {
        fs::write(&path, &bad).unwrap();
        let c = check(&folder, Depth::Quick);
        assert_eq!(problems(&c), [("manifest.json".to_string(), Problem::ManifestInvalid)], "{bad}");
    }
    // As written, it is valid again.
    fs::write(&path, &text).unwrap();
    assert_eq!(check(&folder, Depth::Full).status, Status::Valid);
}

#[test]
fn a_backup_without_its_manifest_is_legacy_with_no_finding() {
    let s = Setup::new();
    let folder = s.backup(T1);
    fs::remove_file(folder.join("manifest.json")).unwrap();
    for c in [check(&folder, Depth::Quick), check(&folder, Depth::Full), deep(&folder)] {
        assert_eq!(c.status, Status::Legacy, "{}: {:?}", c.depth, problems(&c));
        assert!(c.findings.is_empty());
        assert!(!c.has_manifest);
        assert_eq!(c.key_count, 4);
        assert_eq!(c.label, None);
    }
    // Read from the first key file at Full.
    let fingerprint = pem::fingerprint(&public("wrapping_public_pkcs1.pem").key);
    assert_eq!(check(&folder, Depth::Full).wrapping_key_fingerprint, Some(fingerprint));
    assert!(deep(&folder).keys.iter().all(|k| k.key_wrap.as_deref() == Some("RFC5649")));
    // A legacy backup is still checked as far as its files allow.
    fs::write(folder.join("AES/vm1_256.json"), "{").unwrap();
    assert_damaged(&check(&folder, Depth::Full), "AES/vm1_256.json", Problem::KeyFileInvalid);
}

#[test]
fn a_backup_copied_to_another_timestamp_does_not_match_its_manifest() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let copy = s.root().join(T2);
    copy_dir(&folder, &copy);
    let c = check(&copy, Depth::Quick);
    assert_eq!(problems(&c), [("manifest.json".to_string(), Problem::ManifestMismatch)]);
    assert!(c.findings[0].message.contains(T1) && c.findings[0].message.contains(T2), "{}", c.findings[0].message);
    assert_eq!(check(&folder, Depth::Quick).status, Status::Valid);
}

#[test]
fn folders_that_are_not_backups() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify::check(&dir.path().join("absent"), Depth::Quick, &Against::default(), &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BackupFolderMissing);
    fs::write(dir.path().join("file"), "x").unwrap();
    let err = verify::check(&dir.path().join("file"), Depth::Quick, &Against::default(), &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotABackup);
    let empty = dir.path().join(T1);
    fs::create_dir(&empty).unwrap();
    let c = check(&empty, Depth::Full);
    assert_eq!(problems(&c), [(String::new(), Problem::NotABackup)]);
    assert_eq!(c.status, Status::Damaged);
    // A partial folder is Incomplete, whatever it holds.
    let s = Setup::new();
    let folder = s.backup(T1);
    let partial = s.root().join(format!(".{T2}.partial"));
    fs::rename(&folder, &partial).unwrap();
    let c = check(&partial, Depth::Quick);
    assert_eq!(c.status, Status::Incomplete);
    assert_eq!(c.timestamp.as_deref(), Some(T2));
    assert!(has(&c, "", Problem::Incomplete), "{:?}", problems(&c));
}

#[test]
fn a_plaintext_key_file_and_an_rsa_file_under_an_aes_name_are_refused() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let plain = KeyFile { public_key: Vec::new(), private_key: Zeroizing::new(random(32)), wrapping_key_name: String::new(), wrapping_public_key: Vec::new(), enc: Enc::NoKeyWrap };
    fs::write(folder.join("AES/plain_256.json"), plain.to_export_bytes()).unwrap();
    fs::copy(folder.join("RSA/AzureStackTvmAKRootKey_2048.json"), folder.join("AES/rsa_256.json")).unwrap();
    let rsa_bytes = fs::read(folder.join("RSA/AzureStackTvmAKRootKey_2048.json")).unwrap();
    fs::write(folder.join("RSA/big_4096.json"), &rsa_bytes).unwrap();
    reseal(&folder);
    let c = check(&folder, Depth::Full);
    assert_damaged(&c, "AES/plain_256.json", Problem::KeyFileUnwrapped);
    assert_damaged(&c, "AES/rsa_256.json", Problem::PublicKeyInvalid);
    assert_damaged(&c, "RSA/big_4096.json", Problem::PublicKeyInvalid);
    assert_eq!(key_status(&c, "AES/vm1_256.json"), "Valid");
}

#[cfg(unix)]
#[test]
fn names_that_differ_only_in_case_and_links_inside_a_backup_are_findings() {
    let s = Setup::new();
    let folder = s.backup(T1);
    fs::copy(folder.join("AES/vm1_256.json"), folder.join("AES/VM1_256.json")).unwrap();
    std::os::unix::fs::symlink(folder.join("AES/vm2_256.json"), folder.join("AES/link_256.json")).unwrap();
    std::os::unix::fs::symlink(folder.join("AES"), folder.join("linked")).unwrap();
    let c = check(&folder, Depth::Quick);
    // Sorted by byte: "VM1_256.json" comes before "vm1_256.json", so the lower-case one is the second.
    assert_damaged(&c, "AES/vm1_256.json", Problem::NamesCollide);
    assert_damaged(&c, "AES/link_256.json", Problem::StrayItem);
    assert_damaged(&c, "linked", Problem::StrayItem);
}

// ---- Quick reads no key file --------------------------------------------------------------------------------

#[test]
fn quick_does_not_read_key_files_full_does() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let file = folder.join("AES/vm3_256.json");
    let len = fs::metadata(&file).unwrap().len() as usize;
    // Not even a key file: the same number of bytes of garbage.
    fs::write(&file, vec![b'#'; len]).unwrap();
    let quick = check(&folder, Depth::Quick);
    assert_eq!(quick.status, Status::Valid, "{:?}", problems(&quick));
    assert!(quick.keys.iter().all(|k| k.fingerprint.is_none()));
    let full = check(&folder, Depth::Full);
    assert_damaged(&full, "AES/vm3_256.json", Problem::HashMismatch);
    assert_damaged(&full, "AES/vm3_256.json", Problem::KeyFileInvalid);
    // And a file that cannot be read at all is not noticed by Quick either.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let s = Setup::new();
        let folder = s.backup(T1);
        let file = folder.join("AES/vm1_256.json");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
        let readable = fs::read(&file).is_ok(); // root reads it anyway
        assert_eq!(check(&folder, Depth::Quick).status, Status::Valid);
        if !readable {
            assert_damaged(&check(&folder, Depth::Full), "AES/vm1_256.json", Problem::KeyFileInvalid);
        }
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    }
}

// ---- deep ---------------------------------------------------------------------------------------------------

/// A backup with, besides the vault's four keys, files that only a deep check can tell from good ones (their
/// manifest lists them as they are), and two that a full check already refuses.
fn backup_with_hidden_damage(s: &Setup) -> PathBuf {
    let folder = s.backup(T1);
    let mine = public("wrapping_public_pkcs1.pem");
    let other = public("other_public_pkcs1.pem");
    let aes = folder.join("AES");
    // Wrapped for another key, but stating the backup's: only the unwrap fails.
    let blob = keywrap::wrap(&other.key, &random(32), Enc::RsaAesKeyWrap, &mut OsRng).unwrap();
    fs::write(aes.join("foreign_256.json"), aes_file(blob, &mine, Enc::RsaAesKeyWrap)).unwrap();
    // 31 bytes under an AES-256 name: the blob has the length of a 32-byte key (RFC 5649 pads to 32).
    let blob = keywrap::wrap(&mine.key, &random(31), Enc::RsaAesKeyWrap, &mut OsRng).unwrap();
    fs::write(aes.join("odd_256.json"), aes_file(blob, &mine, Enc::RsaAesKeyWrap)).unwrap();
    // Wrapped with OAEP SHA-1, stating SHA-256.
    let blob = keywrap::wrap(&mine.key, &random(32), Enc::RsaAesKeyWrap, &mut OsRng).unwrap();
    fs::write(aes.join("sha1_256.json"), aes_file(blob, &mine, Enc::RsaAesKeyWrap256)).unwrap();
    // Good, but RFC 3394 after the OAEP part, as some producers write it.
    let kek = random(32);
    let mut blob = mine.key.encrypt(&mut OsRng, rsa::Oaep::new::<sha1::Sha1>(), &kek).unwrap();
    blob.extend(aes_kw::KekAes256::new(kek.as_slice().into()).wrap_vec(&random(32)).unwrap());
    fs::write(aes.join("kw3394_256.json"), aes_file(blob, &mine, Enc::RsaAesKeyWrap)).unwrap();
    // 16 bytes: the blob is too short for an AES-256 key, which a full check sees.
    let blob = keywrap::wrap(&mine.key, &random(16), Enc::RsaAesKeyWrap, &mut OsRng).unwrap();
    fs::write(aes.join("short_256.json"), aes_file(blob, &mine, Enc::RsaAesKeyWrap)).unwrap();
    // Wrapped for another key and saying so.
    let blob = keywrap::wrap(&other.key, &random(32), Enc::RsaAesKeyWrap, &mut OsRng).unwrap();
    fs::write(aes.join("honest_256.json"), aes_file(blob, &other, Enc::RsaAesKeyWrap)).unwrap();
    reseal(&folder);
    folder
}

#[test]
fn deep_finds_keys_wrapped_for_another_key_with_another_hash_or_of_another_size() {
    let s = Setup::new();
    let folder = backup_with_hidden_damage(&s);
    let full = check(&folder, Depth::Full);
    assert_eq!(
        problems(&full),
        [("AES/honest_256.json".to_string(), Problem::WrappingKeyMismatch), ("AES/short_256.json".to_string(), Problem::BlobLengthInvalid)],
        "{:#?}",
        full.findings
    );
    let d = deep(&folder);
    // The full check's findings first, then the deep ones, each in the files' order.
    let want: Vec<(String, Problem)> = [
        ("AES/honest_256.json", Problem::WrappingKeyMismatch),
        ("AES/short_256.json", Problem::BlobLengthInvalid),
        ("AES/foreign_256.json", Problem::UnwrapFailed),
        ("AES/odd_256.json", Problem::KeyMaterialInvalid),
        ("AES/sha1_256.json", Problem::EncMismatch),
    ]
    .into_iter()
    .map(|(f, p)| (f.to_string(), p))
    .collect();
    assert_eq!(problems(&d), want, "{:#?}", d.findings);
    for (file, problem) in &want {
        assert_damaged(&d, file, *problem);
    }
    assert!(d.findings.iter().any(|f| f.file == "AES/odd_256.json" && f.message.contains("248-bit")), "{:#?}", d.findings);
    let key = |file: &str| d.keys.iter().find(|k| k.file == file).unwrap().clone();
    assert_eq!((key("AES/kw3394_256.json").enc.as_deref(), key("AES/kw3394_256.json").key_wrap.as_deref()), (Some("CKM_RSA_AES_KEY_WRAP"), Some("RFC3394")));
    assert_eq!(key("AES/kw3394_256.json").status, "Valid");
    assert!(key("AES/kw3394_256.json").fingerprint.is_some());
    assert_eq!(key("AES/sha1_256.json").enc.as_deref(), Some("CKM_RSA_AES_KEY_WRAP"), "the mechanism that did unwrap it");
    assert!(key("AES/odd_256.json").fingerprint.is_none());
    assert!(key("AES/foreign_256.json").enc.is_none());
    for good in ["AES/vm1_256.json", "AES/vm2_256.json", "AES/vm3_256.json", "RSA/AzureStackTvmAKRootKey_2048.json"] {
        assert_eq!(key(good).status, "Valid");
        assert_eq!(key(good).key_wrap.as_deref(), Some("RFC5649"));
    }
}

#[test]
fn deep_on_one_thread_and_on_every_core_finds_the_same() {
    let s = Setup::new();
    let folder = backup_with_hidden_damage(&s);
    let one = deep_with(&folder, 1);
    let every = deep_with(&folder, 0);
    let three = deep_with(&folder, 3);
    assert!(one.findings.len() >= 5);
    assert_eq!(one.findings, every.findings);
    assert_eq!(one.keys, every.keys);
    assert_eq!(one.findings, three.findings);
    assert_eq!(one.keys, three.keys);
    assert_eq!(one, every, "the whole result is the same");
}

#[test]
fn a_cancel_reply_to_a_progress_event_stops_the_check() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let private = wrapping_private();
    let against = Against { private_key: Some(&private.key), ..Default::default() };
    let mut events = Recorder { cancel_progress: Some(("Checking key files", 2)), ..Default::default() };
    let err = verify::check(&folder, Depth::Full, &against, &mut events).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    let mut events = Recorder { cancel_progress: Some(("Unwrapping", 1)), ..Default::default() };
    let err = verify::check(&folder, Depth::Deep, &against, &mut events).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert_eq!(events.activities, ["Checking key files", "Unwrapping keys (deep check)"]);
    // Through the request, too.
    let request = VerifyRequest { backup_path: folder.display().to_string(), ..Default::default() };
    let mut events = Recorder { cancel_progress: Some(("Checking key files", 4)), ..Default::default() };
    let err = tvmkeys::api::verify::run(None, &request, None, &mut events).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    // And the listing of a root.
    let mut events = Recorder { cancel_progress: Some(("Listing", 1)), ..Default::default() };
    assert_eq!(inventory::list(&s.root(), &mut events).unwrap_err().code(), ErrorCode::Cancelled);
}

// ---- the request --------------------------------------------------------------------------------------------

#[test]
fn the_verify_request_picks_the_depth_and_checks_its_keys() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let path = folder.display().to_string();
    let private_path = vectors().join("wrapping_private_pkcs8.pem").display().to_string();
    let run = |r: &VerifyRequest| tvmkeys::api::verify::run(None, r, None, &mut NoEvents);
    let base = VerifyRequest { backup_path: path.clone(), ..Default::default() };
    let r = run(&base).unwrap();
    assert_eq!((r.check.depth.as_str(), r.check.status, r.threads, r.coverage.is_none()), ("Full", Status::Valid, None, true));
    assert_eq!(run(&VerifyRequest { quick: true, ..base.clone() }).unwrap().check.depth, "Quick");
    let deep = VerifyRequest { deep: true, private_key_path: Some(private_path.clone()), ..base.clone() };
    let r = run(&deep).unwrap();
    assert_eq!((r.check.depth.as_str(), r.check.status), ("Deep", Status::Valid));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    assert_eq!(r.threads, Some(cores.min(4) as u32));
    assert_eq!(run(&VerifyRequest { threads: Some(1), ..deep.clone() }).unwrap().threads, Some(1));
    assert_eq!(run(&VerifyRequest { threads: Some(64), ..deep.clone() }).unwrap().threads, Some(4), "no more workers than keys");

    let err = run(&VerifyRequest { deep: true, ..base.clone() }).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::PrivateKeyRequired, Some("privateKeyPath")));
    let err = run(&VerifyRequest { coverage: true, ..base.clone() }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    let other_public = vectors().join("other_public_pkcs1.pem").display().to_string();
    let err = run(&VerifyRequest { wrapping_key_path: Some(other_public.clone()), ..deep.clone() }).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyPairMismatch);
    let r = run(&VerifyRequest { wrapping_key_path: Some(other_public), ..base.clone() }).unwrap();
    assert_eq!(problems(&r.check), [("manifest.json".to_string(), Problem::WrappingKeyMismatch)]);
    let err = run(&VerifyRequest { backup_path: String::new(), ..base.clone() }).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::InvalidPath, Some("backupPath")));

    // An encrypted private key, with its password.
    let encrypted = VerifyRequest { private_key_path: Some(vectors().join("encrypted_private_pkcs8.pem").display().to_string()), ..deep.clone() };
    let r = tvmkeys::api::verify::run(None, &encrypted, Some(b"test"), &mut NoEvents).unwrap();
    assert_eq!((r.check.depth.as_str(), r.check.status), ("Deep", Status::Valid));
    let err = tvmkeys::api::verify::run(None, &encrypted, Some(b"wrong"), &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PemPasswordWrong);
}

// ---- Get-TVMKeyBackup ---------------------------------------------------------------------------------------

#[test]
fn list_sorts_newest_first_and_classifies_each_backup() {
    let s = Setup::new();
    s.backup(T1);
    let legacy = s.backup(T2);
    fs::remove_file(legacy.join("manifest.json")).unwrap();
    let damaged = s.backup(T3);
    fs::remove_file(damaged.join("AES/vm2_256.json")).unwrap();
    let partial = s.backup(T4);
    fs::rename(&partial, s.root().join(format!(".{T4}.partial"))).unwrap();
    let newest = s.backup(T5);
    copy_dir(&newest, &s.root().join(format!(".{T5}.partial")));
    // Not backups: left out.
    fs::create_dir(s.root().join("notes")).unwrap();
    fs::create_dir(s.root().join("2026")).unwrap();
    fs::create_dir(s.root().join(".hidden")).unwrap();
    fs::write(s.root().join("readme.txt"), "x").unwrap();
    fs::write(s.root().join("20261201093000"), "a file named as a backup").unwrap();

    let listed = inventory::list(&s.root(), &mut NoEvents).unwrap();
    let seen: Vec<(&str, Standing, u32)> = listed.iter().map(|b| (b.timestamp.as_str(), b.status, b.key_count)).collect();
    assert_eq!(
        seen,
        [
            (T5, Standing::Complete, 4),
            (T5, Standing::Partial, 4),
            (T4, Standing::Partial, 4),
            (T3, Standing::Damaged, 3),
            (T2, Standing::Legacy, 4),
            (T1, Standing::Complete, 4),
        ]
    );
    assert_eq!(Path::new(&listed[0].path), newest);
    assert_eq!(Path::new(&listed[2].path), s.root().join(format!(".{T4}.partial")));
    let fingerprint = pem::fingerprint(&public("wrapping_public_pkcs1.pem").key);
    assert!(listed.iter().all(|b| b.wrapping_key_fingerprint.as_deref() == Some(fingerprint.as_str())), "legacy too, from its key files");
    let problem = listed[3].problem.as_deref().unwrap();
    assert!(problem.contains("AES/vm2_256.json"), "{problem}");
    assert!(listed.iter().filter(|b| b.status != Standing::Damaged).all(|b| b.problem.is_none()));
    assert_eq!(listed[0].label.as_deref(), Some("weekly"));
    assert!(listed[0].created_utc.as_deref().is_some_and(|t| t.ends_with('Z')));
    assert_eq!((listed[4].label.as_deref(), listed[4].created_utc.as_deref()), (None, None));

    // -Latest: the newest Complete or Legacy one.
    let request = ListBackupsRequest { backup_root_path: s.root().display().to_string(), latest: true };
    let latest = tvmkeys::api::inventory::list(&request, &mut NoEvents).unwrap();
    assert_eq!(latest.backups.len(), 1);
    assert_eq!(Path::new(&latest.backups[0].path), newest);
    fs::remove_file(newest.join("manifest.json")).unwrap();
    fs::write(newest.join("AES/vm1_256.json"), "{}").unwrap(); // without a manifest, Quick has no length to compare
    let latest = tvmkeys::api::inventory::list(&request, &mut NoEvents).unwrap();
    assert_eq!(latest.backups[0].status, Standing::Legacy);
    let all = tvmkeys::api::inventory::list(&ListBackupsRequest { latest: false, ..request.clone() }, &mut NoEvents).unwrap();
    assert_eq!(all.backups.len(), 6);
}

#[test]
fn list_refuses_a_missing_root_or_a_file_and_latest_needs_a_usable_backup() {
    let s = Setup::new();
    assert_eq!(inventory::list(&s.root(), &mut NoEvents).unwrap_err().code(), ErrorCode::BackupRootMissing);
    fs::create_dir_all(s.root()).unwrap();
    assert!(inventory::list(&s.root(), &mut NoEvents).unwrap().is_empty());
    let file = s.dir.path().join("file");
    fs::write(&file, "x").unwrap();
    assert_eq!(inventory::list(&file, &mut NoEvents).unwrap_err().code(), ErrorCode::BackupRootIsFile);
    let partial = s.backup(T1);
    fs::rename(&partial, s.root().join(format!(".{T1}.partial"))).unwrap();
    let damaged = s.backup(T2);
    fs::remove_file(damaged.join("AES/vm1_256.json")).unwrap();
    let request = ListBackupsRequest { backup_root_path: s.root().display().to_string(), latest: true };
    let err = tvmkeys::api::inventory::list(&request, &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::NoCompleteBackup, Some("backupRootPath")));
}

#[cfg(unix)]
#[test]
fn list_skips_links_named_as_backups() {
    let s = Setup::new();
    let real = s.backup(T1);
    let elsewhere = s.dir.path().join("elsewhere");
    copy_dir(&real, &elsewhere.join(T2));
    std::os::unix::fs::symlink(elsewhere.join(T2), s.root().join(T2)).unwrap();
    std::os::unix::fs::symlink(&real, s.root().join(format!(".{T3}.partial"))).unwrap();
    let listed = inventory::list(&s.root(), &mut NoEvents).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(Path::new(&listed[0].path), real);
}

// ---- Remove-TVMKeyBackup ------------------------------------------------------------------------------------

/// A root with complete backups at T1..T4.
fn four_backups() -> Setup {
    let s = Setup::new();
    for t in [T1, T2, T3, T4] {
        s.backup(t);
    }
    s
}

fn selection(now: &str) -> Selection {
    Selection { now: now.into(), ..Default::default() }
}

fn names(removal: &[inventory::BackupInfo]) -> Vec<String> {
    removal.iter().map(|b| Path::new(&b.path).file_name().unwrap().to_string_lossy().into_owned()).collect()
}

/// The folder names left in the root.
fn left(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn keep_last_removes_the_older_backups_oldest_first_asking_for_each() {
    let s = four_backups();
    let mut events = Recorder::default();
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(2), ..selection(T5) }, &mut events).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2]);
    assert!(removal.skipped.is_empty() && removal.protected.is_empty());
    assert_eq!(left(&s.root()), [T3, T4]);
    let asked: Vec<&str> = events.pending.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(asked, [s.root().join(T1).display().to_string(), s.root().join(T2).display().to_string()]);
    assert!(events.pending[0].1.contains("Complete") && events.pending[0].1.contains(T1), "{}", events.pending[0].1);
    // Fewer than N: nothing goes.
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(5), ..selection(T5) }, &mut NoEvents).unwrap();
    assert!(removal.removed.is_empty());
    assert_eq!(left(&s.root()), [T3, T4]);
}

#[test]
fn keep_last_counts_only_usable_backups() {
    let s = four_backups();
    // T3 damaged: the two newest usable backups are T4 and T2, so only what is older than T2 goes; T3 stays.
    fs::remove_file(s.root().join(T3).join("AES/vm1_256.json")).unwrap();
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(2), ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1]);
    assert_eq!(left(&s.root()), [T2, T3, T4]);
}

#[test]
fn older_than_removes_by_age_strictly() {
    let s = four_backups();
    // At T5 the ages are 4, 3, 2 and 1 days; "older than 2 days" keeps T3, which is exactly 2 days old.
    let removal = inventory::remove(&s.root(), &Selection { older_than_seconds: Some(2 * 86_400), ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2]);
    assert_eq!(left(&s.root()), [T3, T4]);
    // With -KeepLast both must hold: keep 1 and older than 1.5 days: T3 only.
    let removal = inventory::remove(
        &s.root(),
        &Selection { keep_last: Some(1), older_than_seconds: Some(129_600), ..selection(T5) },
        &mut NoEvents,
    )
    .unwrap();
    assert_eq!(names(&removal.removed), [T3]);
    assert_eq!(left(&s.root()), [T4]);
}

#[test]
fn the_newest_complete_backup_is_removed_only_with_force() {
    let s = four_backups();
    let mut events = Recorder::default();
    let removal = inventory::remove(&s.root(), &Selection { older_than_seconds: Some(0), ..selection(T5) }, &mut events).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2, T3]);
    assert_eq!(names(&removal.protected), [T4]);
    assert_eq!(events.warnings.len(), 1);
    assert!(events.warnings[0].contains(T4) && events.warnings[0].contains("-Force"), "{}", events.warnings[0]);
    assert_eq!(events.pending.len(), 3, "no question for a protected backup");
    assert_eq!(left(&s.root()), [T4]);
    // By path, too.
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![s.root().join(T4)], ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.protected), [T4]);
    assert_eq!(left(&s.root()), [T4]);
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![s.root().join(T4)], force: true, ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T4]);
    assert!(left(&s.root()).is_empty());
}

#[test]
fn a_damaged_newer_backup_does_not_protect_the_newest_complete_one_from_being_counted() {
    let s = four_backups();
    let damaged = s.backup(T5);
    fs::remove_file(damaged.join("manifest.json")).unwrap();
    fs::write(damaged.join("stray.txt"), "x").unwrap();
    // Every backup is older than 0 seconds at a later now; T4 is the newest usable one and stays; the damaged T5 goes.
    let removal = inventory::remove(&s.root(), &Selection { older_than_seconds: Some(0), ..selection("20261201000000") }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2, T3, T5]);
    assert_eq!(names(&removal.protected), [T4]);
    assert_eq!(left(&s.root()), [T4]);
}

#[test]
fn keep_last_zero_needs_force_and_a_rule_is_needed() {
    let s = four_backups();
    let before = snapshot(&s.root());
    // Not one parameter's fault: no input is named (the front end would otherwise prefix its parameter).
    let err = inventory::remove(&s.root(), &Selection { keep_last: Some(0), ..selection(T5) }, &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::NothingSelected, None));
    let err = inventory::remove(&s.root(), &selection(T5), &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::NothingSelected, None));
    let err = inventory::remove(&s.root(), &Selection { keep_last: Some(1), ..selection("2026-11-24") }, &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::InvalidTimestamp, Some("now")));
    assert_eq!(snapshot(&s.root()), before, "nothing changed");
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(0), force: true, ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2, T3, T4]);
    assert!(left(&s.root()).is_empty());
}

#[test]
fn paths_remove_exactly_those_and_refuse_anything_outside_the_root() {
    let s = four_backups();
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![s.root().join(T2)], ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T2]);
    assert_eq!(left(&s.root()), [T1, T3, T4]);
    // A backup of another root, with one of this root before it: nothing is removed.
    let other = s.dir.path().join("other-root");
    copy_dir(&s.root().join(T1), &other.join(T1));
    let before = snapshot(s.dir.path());
    for outside in [other.join(T1), s.root().join("nope"), s.root()] {
        let err = inventory::remove(&s.root(), &Selection { paths: vec![s.root().join(T1), outside.clone()], ..selection(T5) }, &mut NoEvents)
            .unwrap_err();
        assert_eq!((err.code(), err.input()), (ErrorCode::NotInBackupRoot, Some("paths")), "{}", outside.display());
        assert!(err.to_string().contains("Nothing was removed"), "{err}");
    }
    assert_eq!(snapshot(s.dir.path()), before);
    // Through the request.
    let request = RemoveBackupsRequest {
        backup_root_path: s.root().display().to_string(),
        paths: vec![s.root().join(T1).display().to_string()],
        now: T5.into(),
        ..Default::default()
    };
    let removal = tvmkeys::api::inventory::remove(&request, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1]);
    assert_eq!(left(&s.root()), [T3, T4]);
}

#[cfg(unix)]
#[test]
fn a_link_in_the_root_is_not_a_backup_to_remove() {
    let s = four_backups();
    let target = s.dir.path().join("precious");
    copy_dir(&s.root().join(T1), &target);
    let link = s.root().join("20261119093000");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let before = snapshot(&target);
    let err = inventory::remove(&s.root(), &Selection { paths: vec![link.clone()], force: true, ..selection(T5) }, &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotInBackupRoot);
    // And no rule reaches it: it is older than every backup.
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(1), ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [T1, T2, T3]);
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(snapshot(&target), before);
}

#[test]
fn a_partial_folder_is_removed_after_its_grace_period_only() {
    let s = four_backups();
    // At T5: .T1.partial is 4 days old; .20261124000000.partial 9.5 hours; one exactly at the grace period.
    let old = s.root().join(format!(".{T1}.partial"));
    let young = s.root().join(".20261124000000.partial");
    let edge = s.root().join(format!(".{T4}.partial"));
    assert_eq!(inventory::seconds_between(T4, T5), Some(PARTIAL_GRACE_SECONDS as i64));
    for p in [&old, &young, &edge] {
        copy_dir(&s.root().join(T2), p);
    }
    // Any rule: the old partial goes, whatever the count says.
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(10), ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [format!(".{T1}.partial")]);
    let mut protected = names(&removal.protected);
    protected.sort();
    assert_eq!(protected, [format!(".{T4}.partial"), ".20261124000000.partial".to_string()]);
    assert!(!old.exists() && young.exists() && edge.exists());
    // By path: a young one only with -Force.
    let mut events = Recorder::default();
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![young.clone()], ..selection(T5) }, &mut events).unwrap();
    assert!(removal.removed.is_empty());
    assert_eq!(names(&removal.protected), [".20261124000000.partial"]);
    assert!(events.warnings[0].contains("-Force"), "{:?}", events.warnings);
    assert!(young.exists());
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![young.clone()], force: true, ..selection(T5) }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [".20261124000000.partial"]);
    assert!(!young.exists());
    // One past the grace period goes without -Force.
    let removal = inventory::remove(&s.root(), &Selection { paths: vec![edge.clone()], ..selection("20261124093001") }, &mut NoEvents).unwrap();
    assert_eq!(names(&removal.removed), [format!(".{T4}.partial")]);
    assert_eq!(left(&s.root()), [T1, T2, T3, T4]);
}

#[test]
fn a_skip_reply_keeps_everything_as_whatif_does() {
    let s = four_backups();
    copy_dir(&s.root().join(T1), &s.root().join(".20261101093000.partial"));
    let before = snapshot(&s.root());
    let mut events = Recorder { pending_reply: Some(Reply::Skip), ..Default::default() };
    let removal = inventory::remove(&s.root(), &Selection { keep_last: Some(1), ..selection(T5) }, &mut events).unwrap();
    assert!(removal.removed.is_empty());
    assert_eq!(names(&removal.skipped), [".20261101093000.partial", T1, T2, T3]);
    assert_eq!(events.pending.len(), 4);
    assert_eq!(snapshot(&s.root()), before, "the tree is unchanged");
}

#[test]
fn a_cancel_reply_stops_after_the_backups_already_removed() {
    let s = four_backups();
    let mut events = Recorder { cancel_pending_at: Some(2), ..Default::default() };
    let err = inventory::remove(&s.root(), &Selection { keep_last: Some(1), ..selection(T5) }, &mut events).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert!(err.to_string().contains("1 backups were removed"), "{err}");
    assert_eq!(left(&s.root()), [T2, T3, T4]);
}

// ---- coverage -----------------------------------------------------------------------------------------------

#[test]
fn coverage_reports_the_added_the_removed_and_the_replaced_key() {
    let s = Setup::new();
    let folder = s.backup(T1);
    let mut events = Recorder::default();
    let current = tvmkeys::coverage::compare(&s.vault, &deep(&folder), &mut events).unwrap();
    assert!(current.covered, "{current:?}");
    assert_eq!((current.in_both, current.material_compared), (4, 4));
    assert!(current.missing_from_backup.is_empty() && current.not_in_vault.is_empty() && current.differing.is_empty());
    assert!(events.warnings.is_empty());
    assert_eq!(current.vault, s.vault.source().describe());

    // A new VM, a removed one, and a key replaced under its name.
    let aes = KeySpec::new(KeyType::Aes, 256).unwrap();
    s.vault.create("vm4", aes).unwrap();
    s.vault.delete("vm2").unwrap();
    s.vault.delete("vm3").unwrap();
    s.vault.create("vm3", aes).unwrap();
    let mut events = Recorder::default();
    let c = tvmkeys::coverage::compare(&s.vault, &deep(&folder), &mut events).unwrap();
    assert!(!c.covered);
    let names = |keys: &[tvmkeys::api::Key]| keys.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&c.missing_from_backup), ["vm4"]);
    assert_eq!(names(&c.not_in_vault), ["vm2"]);
    assert_eq!(c.not_in_vault[0].file.as_deref(), Some("AES/vm2_256.json"));
    assert_eq!(c.differing.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["vm3"]);
    assert!(c.differing[0].reason.contains("replaced"), "{}", c.differing[0].reason);
    assert_eq!((c.in_both, c.material_compared), (3, 3));
    assert_eq!(events.warnings.len(), 3, "{:?}", events.warnings);
    assert!(events.messages.last().unwrap().contains("1 missing from the backup, 1 no longer in the vault, 1 different"));

    // Without -Deep an AES key's material is unknown: the replaced key is not seen, the RSA key is compared.
    let c = tvmkeys::coverage::compare(&s.vault, &check(&folder, Depth::Full), &mut NoEvents).unwrap();
    assert!(c.differing.is_empty(), "{:?}", c.differing);
    assert_eq!((c.in_both, c.material_compared), (3, 1));
    assert!(!c.covered);

    // Through the request, with the vault.
    let request = VerifyRequest {
        backup_path: folder.display().to_string(),
        coverage: true,
        deep: true,
        private_key_path: Some(vectors().join("wrapping_private_pkcs8.pem").display().to_string()),
        ..Default::default()
    };
    let r = tvmkeys::api::verify::run(Some(&s.vault), &request, None, &mut NoEvents).unwrap();
    assert_eq!(r.check.status, Status::Valid, "the backup itself is fine");
    let c = r.coverage.unwrap();
    assert_eq!((names(&c.missing_from_backup), names(&c.not_in_vault), c.differing.len()), (vec!["vm4".to_string()], vec!["vm2".to_string()], 1));
}
