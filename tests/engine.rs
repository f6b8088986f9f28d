//! Backup and restore through the engine against real LocalVaults, real files and real RSA/AES.
use std::cell::Cell;
use std::path::{Path, PathBuf};

use tvmkeys::api::backup::BackupResult;
use tvmkeys::api::restore::{Outcome, RestoreResult};
use tvmkeys::api::Key;
use tvmkeys::error::{Error, ErrorCode, Result};
use tvmkeys::events::{Event, Events, NoEvents, Reply};
use tvmkeys::vault::{KeySpec, KeyType, LocalVault, Vault};
use tvmkeys::{backup, restore, wrapping_key};

mod common;
use common::vectors;

/// Records every event, and answers from a script.
#[derive(Default)]
struct Recorder {
    messages: Vec<String>,
    warnings: Vec<String>,
    done: Vec<(String, Outcome, Option<String>, String)>,
    cancel_at_progress: Option<u32>,
    skip_pending: bool,
}

impl Events for Recorder {
    fn send(&mut self, event: Event) -> Reply {
        match event {
            Event::Message { text } => self.messages.push(text),
            Event::Warning { text } => self.warnings.push(text),
            Event::Verbose { .. } => {}
            Event::Progress { current, .. } if self.cancel_at_progress == Some(current) => return Reply::Cancel,
            Event::Progress { .. } => {}
            Event::KeyPending { .. } if self.skip_pending => return Reply::Skip,
            Event::KeyPending { .. } => {}
            Event::BackupPending { .. } if self.skip_pending => return Reply::Skip,
            Event::BackupPending { .. } => {}
            Event::KeyRestored { restore: r } => {
                self.done.push((r.name, r.outcome, r.error.map(|e| e.error_id), r.message.unwrap_or_default()))
            }
        }
        Reply::Proceed
    }
}

/// A restore summary: imported, exists, skipped, failed.
fn counts(r: &RestoreResult) -> (u32, u32, u32, u32) {
    (r.imported, r.exists, r.skipped, r.failed)
}

struct Setup {
    dir: tempfile::TempDir,
    source: LocalVault,
    target: LocalVault,
}

impl Setup {
    fn new(keys: &[(&str, KeyType, u32)]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let source = LocalVault::open(&dir.path().join("a"), true).unwrap();
        for (name, t, size) in keys {
            source.create(name, KeySpec::new(*t, *size).unwrap()).unwrap();
        }
        let target = common::vault_with_wrapping_key(&dir.path().join("b"));
        Setup { dir, source, target }
    }
    fn root(&self) -> PathBuf {
        self.dir.path().join("backups")
    }
    fn backup(&self, events: &mut dyn Events) -> Result<BackupResult> {
        backup::backup(&self.source, &vectors().join("wrapping_public_pkcs1.pem"), &self.root(), &self.root(), "20261125093000", events)
    }
}

fn fingerprints(vault: &dyn Vault) -> Vec<Key> {
    vault.list().unwrap()
}

const KEYS: [(&str, KeyType, u32); 4] = [
    ("0b5e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", KeyType::Aes, 256),
    ("vm_key_1", KeyType::Aes, 256),
    ("zz", KeyType::Aes, 256),
    ("AzureStackTvmAKRootKey", KeyType::Rsa, 2048),
];

#[test]
fn backup_then_restore_gives_equal_keys_and_the_original_messages() {
    let s = Setup::new(&KEYS);
    let mut events = Recorder::default();
    let done = s.backup(&mut events).unwrap();
    let folder = s.root().join("20261125093000");
    assert_eq!(Path::new(&done.path), folder);
    assert_eq!(done.timestamp, "20261125093000");
    assert_eq!(done.keys[0].file.as_deref().map(Path::new), Some(folder.join("AES/0b5e3f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b_256.json").as_path()));
    assert_eq!(done.keys.len(), 4);
    assert!(folder.join("AES/vm_key_1_256.json").is_file());
    assert!(folder.join("RSA/AzureStackTvmAKRootKey_2048.json").is_file());
    assert!(!s.root().join(".20261125093000.partial").exists());
    assert_eq!(events.messages[0], format!("Backing up TVM Vault keys to {}", folder.display()));
    assert!(events.messages.contains(&"Backing up key vm_key_1 to AES folder".to_string()));
    assert!(events.messages.contains(&"Backing up key AzureStackTvmAKRootKey to RSA folder".to_string()));

    let mut events = Recorder::default();
    let summary = restore::restore(&s.target, &folder, &folder, "wrap", &mut events).unwrap();
    assert_eq!(counts(&summary), (4, 0, 0, 0));
    assert_eq!(events.messages[0], format!("Importing TVM  keys from {}", folder.display()));
    let aes_file = folder.join("AES").join("vm_key_1_256.json");
    assert!(events.messages.contains(&format!("Importing key vm_key_1 with size 256 from AES folder path = {}", aes_file.display())));
    // AES folder first, then RSA, as the original.
    assert!(events.done.last().unwrap().0 == "AzureStackTvmAKRootKey");
    let target: Vec<_> = fingerprints(&s.target).into_iter().filter(|k| k.name != "wrap").collect();
    assert_eq!(target, fingerprints(&s.source));
}

#[test]
fn restore_is_safe_to_run_again_and_reports_existing_keys() {
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    // The target already holds one key of the same name but different material.
    s.target.create("zz", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
    let before = s.target.list().unwrap().into_iter().find(|k| k.name == "zz").unwrap();
    let mut events = Recorder::default();
    let summary = restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut events).unwrap();
    assert_eq!(counts(&summary), (3, 1, 0, 0));
    assert_eq!(events.warnings.len(), 1);
    assert!(events.warnings[0].contains("zz"));
    let after = s.target.list().unwrap().into_iter().find(|k| k.name == "zz").unwrap();
    assert_eq!(before, after, "an existing key is never replaced");
    let summary = restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut Recorder::default()).unwrap();
    assert_eq!(counts(&summary), (0, 4, 0, 0));
}

/// Restores the intact key files of a damaged backup (`-Force`), after checking that the plain restore refuses
/// it as a whole (BackupDamaged) and writes nothing.
fn restore_intact(s: &Setup, path: &str, events: &mut Recorder) -> RestoreResult {
    let before: Vec<_> = s.target.list().unwrap().into_iter().map(|k| k.name).collect();
    let err = restore::restore(&s.target, path.as_ref(), path.as_ref(), "wrap", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BackupDamaged, "{err}");
    assert!(err.to_string().contains("Nothing was imported") && err.to_string().contains("-Force"), "{err}");
    let after: Vec<_> = s.target.list().unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(before, after, "a refused restore writes nothing");
    let options = restore::Options { restore_intact: true, ..Default::default() };
    restore::restore_with(&s.target, path.as_ref(), path.as_ref(), "wrap", &options, events).unwrap()
}

#[test]
fn a_damaged_key_file_fails_alone_and_never_reaches_the_vault() {
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    let victim = Path::new(&done.path).join("AES/zz_256.json");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    // And one file whose wrapped key is corrupted but still valid JSON: the vault refuses it.
    let other = Path::new(&done.path).join("AES/vm_key_1_256.json");
    let text = std::fs::read_to_string(&other).unwrap();
    let flipped = text.replacen("\"private-key\":\"", "\"private-key\":\"AAAA", 1);
    std::fs::write(&other, flipped).unwrap();
    let mut events = Recorder::default();
    let summary = restore_intact(&s, &done.path, &mut events);
    assert_eq!(summary.failed, 2);
    assert_eq!(summary.imported, 2);
    let names: Vec<_> = s.target.list().unwrap().into_iter().map(|k| k.name).collect();
    assert!(!names.contains(&"zz".to_string()) && !names.contains(&"vm_key_1".to_string()));
    let failed: Vec<_> = events.done.iter().filter(|d| d.1 == Outcome::Failed).collect();
    assert_eq!(failed[0].2.as_deref(), Some("BackupDamaged"), "{}", failed[0].3);
    assert!(failed[0].3.contains("the manifest recorded"), "{}", failed[0].3);
    assert_eq!(failed[1].2.as_deref(), Some("KeyFileInvalid"), "{}", failed[1].3);
}

#[test]
fn a_plaintext_key_file_planted_in_a_backup_is_refused_and_never_reaches_the_vault() {
    use tvmkeys::keyfile::{Enc, KeyFile};
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    // An AES key in clear (NO_KEY_WRAP), in the form MOC's export file has, in place of a wrapped one.
    let planted = KeyFile {
        public_key: Vec::new(),
        private_key: zeroize::Zeroizing::new(vec![7u8; 32]),
        wrapping_key_name: String::new(),
        wrapping_public_key: Vec::new(),
        enc: Enc::NoKeyWrap,
    };
    std::fs::write(Path::new(&done.path).join("AES/zz_256.json"), planted.to_export_bytes().as_slice()).unwrap();
    let mut events = Recorder::default();
    let summary = restore_intact(&s, &done.path, &mut events);
    assert_eq!((summary.imported, summary.failed), (3, 1));
    assert!(!s.target.list().unwrap().iter().any(|k| k.name == "zz"), "the planted key is not in the vault");
    let failed: Vec<_> = events.done.iter().filter(|d| d.1 == Outcome::Failed).collect();
    assert_eq!(failed[0].0, "zz");
    assert_eq!(failed[0].2.as_deref(), Some("KeyFileInvalid"));
    assert!(failed[0].3.contains("NO_KEY_WRAP"), "{}", failed[0].3);
}

#[test]
fn bad_file_names_sizes_and_the_wrapping_key_name_fail_per_key() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    let done = s.backup(&mut NoEvents).unwrap();
    let good = Path::new(&done.path).join("AES/k1_256.json");
    std::fs::copy(&good, Path::new(&done.path).join("AES/nosize.json")).unwrap();
    std::fs::copy(&good, Path::new(&done.path).join("AES/k2_512.json")).unwrap();
    std::fs::copy(&good, Path::new(&done.path).join("AES/wrap_256.json")).unwrap();
    let mut events = Recorder::default();
    let summary = restore_intact(&s, &done.path, &mut events);
    assert_eq!(counts(&summary), (1, 0, 0, 3));
    assert!(events.done.iter().any(|d| d.0 == "wrap" && d.3.contains("same name as the wrapping key")));
}

#[test]
fn backup_root_given_instead_of_a_backup_is_refused_with_a_hint() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    s.backup(&mut NoEvents).unwrap();
    let err = restore::restore(&s.target, &s.root(), &s.root(), "wrap", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotABackup);
    assert!(err.to_string().contains("backup root"), "{err}");
    let err = restore::restore(&s.target, &s.dir.path().join("nope"), &s.dir.path().join("nope"), "wrap", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BackupFolderMissing);
}

#[test]
fn skip_answer_imports_nothing() {
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    let mut events = Recorder { skip_pending: true, ..Default::default() };
    let summary = restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut events).unwrap();
    assert_eq!(summary.skipped, 4);
    assert_eq!(s.target.list().unwrap().len(), 1);
}

#[test]
fn cancelled_backup_leaves_nothing_that_looks_like_a_backup() {
    let s = Setup::new(&KEYS);
    let mut events = Recorder { cancel_at_progress: Some(3), ..Default::default() };
    let err = s.backup(&mut events).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert_eq!(std::fs::read_dir(s.root()).unwrap().count(), 0, "the backup root is left empty");
}

#[test]
fn same_second_backup_is_refused_and_the_first_is_untouched() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    s.backup(&mut NoEvents).unwrap();
    let err = s.backup(&mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BackupExists);
    assert!(s.root().join("20261125093000/AES/k1_256.json").is_file());
}

/// A vault whose export fails for one key, to check that a failing export leaves no backup.
struct FailingExport<'a> {
    inner: &'a LocalVault,
    fail_on: &'a str,
    exports: Cell<u32>,
}

impl Vault for FailingExport<'_> {
    fn list(&self) -> Result<Vec<Key>> {
        self.inner.list()
    }
    fn export(&self, name: &str, spec: KeySpec, w: &Path, wn: Option<&str>, out: &Path) -> Result<()> {
        self.exports.set(self.exports.get() + 1);
        if name == self.fail_on {
            return Err(Error::new(ErrorCode::VaultTimeout, format!("Export-MocKey did not return within 300 seconds for key {name}.")));
        }
        self.inner.export(name, spec, w, wn, out)
    }
    fn import(&self, name: &str, spec: KeySpec, file: &Path, w: Option<&str>) -> Result<()> {
        self.inner.import(name, spec, file, w)
    }
    fn public_key(&self, name: &str) -> Result<Vec<u8>> {
        self.inner.public_key(name)
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.inner.delete(name)
    }
    fn create(&self, name: &str, spec: KeySpec) -> Result<Option<String>> {
        self.inner.create(name, spec)
    }
    fn source(&self) -> tvmkeys::manifest::Source {
        self.inner.source()
    }
}

#[test]
fn a_failing_export_aborts_and_removes_the_partial_backup() {
    let s = Setup::new(&KEYS);
    let vault = FailingExport { inner: &s.source, fail_on: "vm_key_1", exports: Cell::new(0) };
    let err = backup::backup(&vault, &vectors().join("wrapping_public_pkcs1.pem"), &s.root(), &s.root(), "20261125093000", &mut NoEvents).unwrap_err();
    assert!(err.to_string().contains("vm_key_1"), "the error names the key: {err}");
    assert_eq!(err.code(), ErrorCode::VaultTimeout, "the cause's code is kept: {err}");
    assert!(err.to_string().contains("no backup was written"), "{err}");
    assert!(vault.exports.get() >= 2);
    assert_eq!(std::fs::read_dir(s.root()).unwrap().count(), 0);
}

#[test]
fn backup_refuses_a_bad_wrapping_key_before_creating_anything() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    for (file, code) in [("wrapping_private_pkcs8.pem", ErrorCode::PemInvalid), ("absent.pem", ErrorCode::FileMissing)] {
        let err = backup::backup(&s.source, &vectors().join(file), &s.root(), &s.root(), "20261125093000", &mut NoEvents).unwrap_err();
        assert_eq!(err.code(), code, "{file}: {err}");
        assert!(!s.root().exists(), "{file}: the backup root was created");
    }
    let err = backup::backup(&s.source, &vectors().join("wrapping_public_pkcs1.pem"), &s.root(), &s.root(), "2026-11-25", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidTimestamp);
}

#[test]
fn wrapping_key_import_checks_size_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let vault = LocalVault::open(&dir.path().join("v"), true).unwrap();
    let (public, private) = (vectors().join("wrapping_public_pkcs1.pem"), vectors().join("wrapping_private_pkcs8.pem"));
    for (size, code) in [
        ("1024", ErrorCode::InvalidKeySize),
        ("abc", ErrorCode::InvalidKeySize),
        ("4096", ErrorCode::KeySizeMismatch),
        ("", ErrorCode::InvalidKeySize),
    ] {
        let err = wrapping_key::import_wrapping_key(&vault, "w", &public, &private, size, &mut NoEvents).unwrap_err();
        assert_eq!(err.code(), code, "{size:?}: {err}");
        assert_eq!(err.input(), Some("keySize"), "{size:?}: the error names the request field");
    }
    assert!(vault.list().unwrap().is_empty());
    let mut events = Recorder::default();
    wrapping_key::import_wrapping_key(&vault, "w", &public, &private, " 2048 ", &mut events).unwrap();
    let temp = events.messages[0].strip_prefix("Generating import JSON for key w at temporary location ").unwrap();
    let temp = temp.strip_suffix("...").unwrap();
    assert_eq!(events.messages[1], "Importing key w into the vault...");
    assert_eq!(events.messages[2], "Key w successfully imported into the vault.");
    assert_eq!(events.messages[3], format!("Temporary file {temp} has been cleaned up."));
    assert!(!Path::new(temp).exists());
    // A second import of the same pair is Exists: compared by public key, nothing written, no temporary file made.
    let before = std::fs::read(dir.path().join("v/keys/w.json")).unwrap();
    let mut events = Recorder::default();
    let again = wrapping_key::import_wrapping_key(&vault, "w", &public, &private, "2048", &mut events).unwrap();
    assert_eq!(again.outcome, wrapping_key::WrappingKeyOutcome::Exists);
    assert!(events.messages.is_empty(), "no import file was made: {:?}", events.messages);
    assert!(events.warnings[0].contains("already holds the wrapping key w with this public key"), "{:?}", events.warnings);
    // Another pair under the name is WrappingKeyConflict, naming both fingerprints, and the held key stays.
    let (other_public, other_private) = (vectors().join("other_public_pkcs1.pem"), vectors().join("other_private_pkcs8.pem"));
    let mut events = Recorder::default();
    let err = wrapping_key::import_wrapping_key(&vault, "w", &other_public, &other_private, "2048", &mut events).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::WrappingKeyConflict, Some("keyName")), "{err}");
    assert!(err.to_string().contains("Remove-TvmWrappingKey -KeyName w"), "{err}");
    assert!(events.messages.is_empty(), "no import file was made: {:?}", events.messages);
    // An AES key of the name is a conflict too.
    vault.create("aes", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
    let err = wrapping_key::import_wrapping_key(&vault, "aes", &public, &private, "2048", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrappingKeyConflict, "{err}");
    assert_eq!(std::fs::read(dir.path().join("v/keys/w.json")).unwrap(), before, "the held key is as it was");
}

#[test]
fn a_wrapping_key_made_in_a_vault_receives_a_backup_named_for_it() {
    // The flow before 2505: the key is made inside the receiving vault, the source exports to its public key
    // naming it, and the receiving vault imports with it; no private key file exists at any point.
    let s = Setup::new(&[("vm1", KeyType::Aes, 256), ("vm2", KeyType::Rsa, 2048)]);
    let public = s.dir.path().join("w.pub.pem");
    let mut events = Recorder::default();
    let made = wrapping_key::create_in_vault(&s.target, "w", &public, 2048, false, &mut events).unwrap();
    assert_eq!((made.key_name.as_deref(), made.private_key_path.as_deref()), (Some("w"), None));
    let text = std::fs::read_to_string(&public).unwrap();
    assert!(text.starts_with("-----BEGIN RSA PUBLIC KEY-----"), "{text}");
    let read = tvmkeys::pem::read_public_key(&public, "public key").unwrap();
    assert_eq!(tvmkeys::pem::fingerprint(&read.key), made.fingerprint);
    assert_eq!(s.target.public_key("w").unwrap(), read.pkcs1_der, "the file holds the vault key's public half");
    // Refused before the vault is written: the name again, the file again, the attestation root key's name.
    let err = wrapping_key::create_in_vault(&s.target, "w", &s.dir.path().join("x.pem"), 2048, false, &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyExists, "{err}");
    assert!(!s.dir.path().join("x.pem").exists());
    let err = wrapping_key::create_in_vault(&s.target, "w2", &public, 2048, false, &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrappingKeyFileExists, "{err}");
    let err = wrapping_key::create_in_vault(&s.target, "AzureStackTvmAKRootKey", &s.dir.path().join("y.pem"), 2048, false, &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidKeyName, "{err}");
    // A public key file that cannot be written takes the new key out of the vault again.
    let err = wrapping_key::create_in_vault(&s.target, "w3", &s.dir.path().join("missing/w3.pem"), 2048, false, &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FileWriteFailed, "{err}");
    assert!(!s.target.names().unwrap().contains(&"w3".to_string()), "the failed make left no key");

    let details = backup::Details { wrapping_key_name: Some("w"), ..Default::default() };
    let b = backup::backup_with(&s.source, &public, &s.root(), &s.root(), "20261202093000", details, &mut NoEvents).unwrap();
    for key in &b.keys {
        let file = tvmkeys::keyfile::KeyFile::parse(&std::fs::read(key.file.as_ref().unwrap()).unwrap(), "key file").unwrap();
        assert_eq!(file.wrapping_key_name, "w", "{}: the key file names the wrapping key", key.name);
    }
    let r = restore::restore(&s.target, Path::new(&b.path), Path::new(&b.path), "w", &mut NoEvents).unwrap();
    assert_eq!(counts(&r), (2, 0, 0, 0));
    assert_eq!(s.target.public_key("vm2").unwrap(), s.source.public_key("vm2").unwrap());
    // A wrapping key name that a key of the backup has is refused at backup time, and nothing is written.
    let details = backup::Details { wrapping_key_name: Some("VM1"), ..Default::default() };
    let err = backup::backup_with(&s.source, &public, &s.root(), &s.root(), "20261202093001", details, &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::KeyNamedLikeWrappingKey, Some("wrappingKeyName")), "{err}");
    assert!(!s.root().join("20261202093001").exists());
}

#[test]
fn local_vault_refuses_folders_that_are_not_vaults() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(LocalVault::open(&dir.path().join("absent"), false).err().unwrap().code(), ErrorCode::VaultMissing);
    std::fs::write(dir.path().join("file.txt"), "x").unwrap();
    assert_eq!(LocalVault::open(dir.path(), true).err().unwrap().code(), ErrorCode::NotALocalVault);
    let v = LocalVault::open(&dir.path().join("v"), true).unwrap();
    assert!(v.list().unwrap().is_empty());
    assert!(!dir.path().join("v").exists(), "a new vault is not written before its first key");
    assert_eq!(v.create("../x", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap_err().code(), ErrorCode::InvalidKeyName);
    // A dot-name would be written and then skipped by every listing (the vault's temporary files are dot-files).
    assert_eq!(v.create(".x", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap_err().code(), ErrorCode::InvalidKeyName);
    assert_eq!(KeySpec::parse("aes", 256).unwrap_err().code(), ErrorCode::InvalidKeyType);
    assert_eq!(KeySpec::parse("RSA", 1024).unwrap_err().code(), ErrorCode::InvalidKeySize);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        v.create("k", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
        let mode = std::fs::metadata(dir.path().join("v/keys/k.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key files are owner-only, got {mode:o}");
    }
}

#[test]
fn rsa_4096_root_key_round_trips() {
    let s = Setup::new(&[("AzureStackTvmAKRootKey", KeyType::Rsa, 4096)]);
    let done = s.backup(&mut NoEvents).unwrap();
    assert!(Path::new(&done.path).join("RSA/AzureStackTvmAKRootKey_4096.json").is_file());
    restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap();
    let key = s.target.list().unwrap().into_iter().find(|k| k.name == "AzureStackTvmAKRootKey").unwrap();
    assert_eq!(Some(key), s.source.list().unwrap().into_iter().next());
}

#[test]
fn restore_stops_before_any_write_when_the_wrapping_key_is_missing_or_wrong() {
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    let empty = LocalVault::open(&s.dir.path().join("c"), true).unwrap();
    let err = restore::restore(&empty, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrappingKeyMissing);
    assert!(err.to_string().contains("Import-TvmWrappingKeyFromPem"), "{err}");
    // The vault holds a wrapping key of that name, but not the one the backup was made with.
    wrapping_key::import_wrapping_key(
        &empty,
        "wrap",
        &vectors().join("other_public_pkcs1.pem"),
        &vectors().join("other_private_pkcs8.pem"),
        "2048",
        &mut NoEvents,
    )
    .unwrap();
    let err = restore::restore(&empty, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrappingKeyMismatch);
    assert!(err.to_string().contains("Backup-TVMKeys"), "{err}");
    assert_eq!(empty.list().unwrap().len(), 1, "nothing but the wrapping key is in the vault");
    // When every key is already there, the wrapping key is not needed: a re-run after it was removed
    // still reports each key as existing.
    restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap();
    s.target.delete("wrap").unwrap();
    let summary = restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap();
    assert_eq!(summary.exists, 4);
}

#[test]
fn messages_show_paths_as_typed_and_objects_carry_full_paths() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    let shown = Path::new("backups");
    let mut events = Recorder::default();
    let done = backup::backup(&s.source, &vectors().join("wrapping_public_pkcs1.pem"), &s.root(), shown, "20261125093000", &mut events).unwrap();
    assert_eq!(events.messages[0], format!("Backing up TVM Vault keys to {}", shown.join("20261125093000").display()));
    assert_eq!(Path::new(&done.path), s.root().join("20261125093000"));
    let mut events = Recorder::default();
    let typed = shown.join("20261125093000");
    restore::restore(&s.target, done.path.as_ref(), &typed, "wrap", &mut events).unwrap();
    assert_eq!(events.messages[0], format!("Importing TVM  keys from {}", typed.display()));
    assert_eq!(
        events.messages[1],
        format!("Importing key k1 with size 256 from AES folder path = {}", typed.join("AES").join("k1_256.json").display())
    );
}

/// A vault that lists one key it cannot describe properly, and one of a type TVM backups do not hold.
/// The local vault, with its listing changed by a function: keys it does not hold, or names it never had.
struct Relisted<'a>(&'a LocalVault, fn(Vec<Key>) -> Vec<Key>);

impl Vault for Relisted<'_> {
    fn list(&self) -> Result<Vec<Key>> {
        Ok((self.1)(self.0.list()?))
    }
    fn export(&self, name: &str, spec: KeySpec, w: &Path, wn: Option<&str>, out: &Path) -> Result<()> {
        self.0.export(name, spec, w, wn, out)
    }
    fn import(&self, name: &str, spec: KeySpec, file: &Path, w: Option<&str>) -> Result<()> {
        self.0.import(name, spec, file, w)
    }
    fn public_key(&self, name: &str) -> Result<Vec<u8>> {
        self.0.public_key(name)
    }
    fn delete(&self, name: &str) -> Result<()> {
        self.0.delete(name)
    }
    fn create(&self, name: &str, spec: KeySpec) -> Result<Option<String>> {
        self.0.create(name, spec)
    }
    fn source(&self) -> tvmkeys::manifest::Source {
        self.0.source()
    }
}

fn with_odd(mut keys: Vec<Key>, key_type: &str, size: u32) -> Vec<Key> {
    keys.push(Key { name: "odd".into(), key_type: key_type.into(), size, fingerprint: None, file: None });
    keys
}

#[test]
fn an_aes_or_rsa_key_with_an_unusable_size_fails_the_backup_but_other_types_are_skipped() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    let wrapping = vectors().join("wrapping_public_pkcs1.pem");
    let err = backup::backup(&Relisted(&s.source, |k| with_odd(k, "AES", 0)), &wrapping, &s.root(), &s.root(), "20261125093000", &mut NoEvents).unwrap_err();
    assert!(err.to_string().contains("odd"), "{err}");
    assert_eq!(std::fs::read_dir(s.root()).unwrap().count(), 0, "no backup is left");
    let mut events = Recorder::default();
    let done = backup::backup(&Relisted(&s.source, |k| with_odd(k, "EC", 256)), &wrapping, &s.root(), &s.root(), "20261125093000", &mut events).unwrap();
    assert_eq!(done.keys.len(), 1);
    assert!(events.warnings[0].contains("odd") && events.warnings[0].contains("EC"), "{:?}", events.warnings);
}

/// Every key listed twice: as it is, and with its name upper-cased.
fn with_case_twins(keys: Vec<Key>) -> Vec<Key> {
    let twins: Vec<Key> = keys.iter().map(|k| Key { name: k.name.to_uppercase(), ..k.clone() }).collect();
    keys.into_iter().chain(twins).collect()
}

#[test]
fn a_vault_whose_key_file_names_differ_only_in_case_is_refused_before_any_write() {
    let s = Setup::new(&[("vm1", KeyType::Aes, 256)]);
    let wrapping = vectors().join("wrapping_public_pkcs1.pem");
    let err = backup::backup(&Relisted(&s.source, with_case_twins), &wrapping, &s.root(), &s.root(), "20261125093000", &mut NoEvents).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyFileNamesCollide);
    let text = err.to_string();
    assert!(text.contains("'vm1'") && text.contains("'VM1'") && text.contains("No backup was written"), "{text}");
    assert!(!s.root().exists() || std::fs::read_dir(s.root()).unwrap().count() == 0, "nothing is written");
}

/// Only where the file system tells `VM1_256.json` from `vm1_256.json` can a backup folder hold both (a
/// backup copied from Linux, or a case-sensitive folder); on Windows the second copy would be the first.
#[cfg(not(windows))]
#[test]
fn key_files_whose_names_differ_only_in_case_are_neither_restored() {
    let s = Setup::new(&[("vm1", KeyType::Aes, 256), ("vm2", KeyType::Aes, 256)]);
    let done = s.backup(&mut NoEvents).unwrap();
    let aes = Path::new(&done.path).join("AES");
    std::fs::copy(aes.join("vm1_256.json"), aes.join("VM1_256.json")).unwrap();
    let mut events = Recorder::default();
    let summary = restore_intact(&s, &done.path, &mut events);
    assert_eq!(counts(&summary), (1, 0, 0, 2));
    let names: Vec<_> = s.target.list().unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["vm2", "wrap"]);
    let failed: Vec<_> = events.done.iter().filter(|d| d.1 == Outcome::Failed).collect();
    assert_eq!(failed.len(), 2);
    for f in failed {
        assert_eq!(f.2.as_deref(), Some("KeyFileNamesCollide"), "{}", f.3);
        assert!(f.3.contains("VM1_256.json") && f.3.contains("vm1_256.json"), "{}", f.3);
    }
}

#[test]
fn every_backup_lists_its_key_files_in_a_manifest_written_last() {
    let s = Setup::new(&KEYS);
    let wrapping = vectors().join("wrapping_public_pkcs1.pem");
    let details = backup::Details { label: Some("before patch Tuesday"), created_local: Some("2026-11-25T09:30:00.0000000+01:00"), ..Default::default() };
    let done = backup::backup_with(&s.source, &wrapping, &s.root(), &s.root(), "20261125093000", details, &mut NoEvents).unwrap();
    let folder = Path::new(&done.path);
    let text = std::fs::read_to_string(folder.join("manifest.json")).unwrap();
    let m: tvmkeys::manifest::Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!((m.format.as_str(), m.schema_version, m.tool_version.as_str()), ("tvmkeys-backup-manifest", 1, env!("CARGO_PKG_VERSION")));
    assert_eq!(m.timestamp, "20261125093000");
    assert_eq!(m.created_local.as_deref(), Some("2026-11-25T09:30:00.0000000+01:00"));
    assert!(m.created_utc.ends_with('Z') && m.created_utc.len() == 20, "{}", m.created_utc);
    assert_eq!(m.source, tvmkeys::manifest::Source::Local { path: s.dir.path().join("a").display().to_string() });
    assert_eq!(m.label.as_deref(), Some("before patch Tuesday"));
    let public = tvmkeys::pem::read_public_key(&wrapping, "wrapping key").unwrap();
    assert_eq!(m.wrapping_key_fingerprint, tvmkeys::pem::fingerprint(&public.key));
    assert_eq!(done.wrapping_key_fingerprint, m.wrapping_key_fingerprint);
    assert_eq!(done.label.as_deref(), Some("before patch Tuesday"));
    // Every key file, and nothing else, with its hash and length.
    assert_eq!(m.keys.len(), KEYS.len());
    for entry in &m.keys {
        let bytes = std::fs::read(folder.join(&entry.file)).unwrap();
        assert_eq!(entry.length, bytes.len() as u64, "{}", entry.file);
        assert_eq!(entry.sha256, tvmkeys::manifest::sha256_hex(&bytes), "{}", entry.file);
        assert_eq!(entry.file, format!("{}/{}_{}.json", entry.key_type, entry.name, entry.size));
    }
    let listed: usize = ["AES", "RSA"].iter().map(|f| std::fs::read_dir(folder.join(f)).unwrap().count()).sum();
    assert_eq!(listed, m.keys.len());
    // The restore reads the key files and leaves the manifest alone.
    let summary = restore::restore(&s.target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap();
    assert_eq!(counts(&summary), (4, 0, 0, 0));
}

#[test]
fn a_bad_label_is_refused_before_anything_is_written() {
    let s = Setup::new(&[("k1", KeyType::Aes, 256)]);
    let wrapping = vectors().join("wrapping_public_pkcs1.pem");
    let details = backup::Details { label: Some("two\nlines"), created_local: None, ..Default::default() };
    let err = backup::backup_with(&s.source, &wrapping, &s.root(), &s.root(), "20261125093000", details, &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::InvalidLabel, Some("label")));
    assert!(!s.root().exists());
}

#[test]
fn a_backup_without_keys_or_without_the_root_key_is_written_and_says_so() {
    let s = Setup::new(&[]);
    let mut events = Recorder::default();
    let done = s.backup(&mut events).unwrap();
    assert!(done.keys.is_empty());
    assert_eq!(events.warnings.len(), 1, "{:?}", events.warnings);
    assert!(events.warnings[0].starts_with("The backup holds no key: the local vault "), "{}", events.warnings[0]);
    assert!(Path::new(&done.path).join("manifest.json").is_file());

    let s = Setup::new(&[("vm1", KeyType::Aes, 256)]);
    let mut events = Recorder::default();
    s.backup(&mut events).unwrap();
    assert_eq!(events.warnings.len(), 1, "{:?}", events.warnings);
    assert!(events.warnings[0].contains("no AzureStackTvmAKRootKey"), "{}", events.warnings[0]);

    let s = Setup::new(&KEYS);
    let mut events = Recorder::default();
    s.backup(&mut events).unwrap();
    assert!(events.warnings.is_empty(), "{:?}", events.warnings);
}

#[test]
fn a_hidden_partial_folder_is_refused_as_an_unfinished_backup() {
    let s = Setup::new(&KEYS);
    let done = s.backup(&mut NoEvents).unwrap();
    // As a killed run leaves it: the backup's files in .<timestamp>.partial.
    let partial = s.root().join(".20261125093001.partial");
    std::fs::rename(&done.path, &partial).unwrap();
    let err = restore::restore(&s.target, &partial, &partial, "wrap", &mut NoEvents).unwrap_err();
    assert_eq!((err.code(), err.input()), (ErrorCode::BackupIncomplete, Some("backupPath")));
    assert!(err.to_string().contains("unfinished backup") && err.to_string().contains("20261125093001"), "{err}");
    assert_eq!(s.target.names().unwrap(), ["wrap"], "nothing was imported");
}

#[test]
fn a_restore_parses_the_bytes_its_check_read_so_each_key_file_is_read_once() {
    let setup = Setup::new(&[("vm1", KeyType::Aes, 256), ("vm2", KeyType::Aes, 256)]);
    let backup = setup.backup(&mut NoEvents).unwrap();
    let path = Path::new(&backup.path);
    let mut contents = tvmkeys::verify::Contents::default();
    let checked = tvmkeys::verify::check_keeping(path, tvmkeys::verify::Depth::Full, &Default::default(), &mut NoEvents, Some(&mut contents)).unwrap();
    assert_eq!(checked.status, tvmkeys::verify::Status::Valid);
    let file = path.join("AES").join("vm1_256.json");
    assert_eq!(contents.get(&file).unwrap(), std::fs::read(&file).unwrap().as_slice(), "the check kept the bytes it read");
    // The file changes on disk after the check: the reader parses what was checked, not what is there now.
    std::fs::write(&file, b"{ not a key file").unwrap();
    assert!(tvmkeys::reader::read(path).unwrap().iter().any(|e| e.content.is_err()), "read from disk, the file is damaged now");
    let entries = tvmkeys::reader::read_from(path, Some(&contents)).unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.content.is_ok()), "read from the check's bytes, both files are the ones checked");
}
