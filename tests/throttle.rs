//! `-ThrottleLimit` in the engine: a backup and a restore of the MOC vault send their exports and imports to the
//! host in `batch` operations (docs/abi.md), whose replies come back in the calls' order, and the backup or
//! restore is the same as at throttle 1. The host here is a test host that answers each Moc operation from a
//! real LocalVault (real files, real RSA and AES) and records what it was sent; the C# host's overlapping of the
//! calls on a runspace pool is tested in tests/pester/Throttle.Tests.ps1, in real pwsh, against the stand-in Moc.
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use tvmkeys::api::restore::{KeyRestore, Outcome};
use tvmkeys::error::ErrorCode;
use tvmkeys::events::{Event, Events, NoEvents, Reply};
use tvmkeys::vault::moc::{Host, HostOp, HostOutcome, HostReply, MocVault};
use tvmkeys::vault::{KeySpec, KeyType, LocalVault, Vault};

mod common;
use common::vectors;

/// What the test host saw, shared with the test.
#[derive(Default)]
struct Seen {
    /// Each batch: (number of calls, throttle).
    batches: Vec<(usize, u32)>,
    /// Exports and imports sent one by one.
    single: usize,
}

/// A Moc host over a LocalVault.
struct TestHost {
    vault: LocalVault,
    seen: Rc<RefCell<Seen>>,
    /// A key whose export or import the host fails, as MOC would with its own text.
    fail: Option<String>,
    /// Gives a batch one reply too few: a host that mixes two builds.
    short_batch: bool,
}

fn ok() -> HostReply {
    HostReply { outcome: HostOutcome::Ok, message: None, keys: None, module_version: None, version: None, replies: None }
}

fn failed(text: String) -> HostReply {
    HostReply { outcome: HostOutcome::Failed, message: Some(text), ..ok() }
}

fn reply(done: tvmkeys::Result<()>) -> HostReply {
    match done {
        Ok(()) => ok(),
        Err(tvmkeys::Error::KeyExists { name }) => failed(format!("Keys Import failed: Name[{name}]: InvalidVersion")),
        Err(e) => failed(e.to_string()),
    }
}

impl TestHost {
    fn run(&self, op: &HostOp) -> HostReply {
        match op {
            HostOp::GetConfig => HostReply { module_version: Some("1.2.27".into()), version: Some("1.14.1.10414".into()), ..ok() },
            HostOp::List => HostReply { keys: Some(self.vault.list().unwrap()), ..ok() },
            HostOp::Export { name, key_type, size, wrapping_key_path, wrapping_key_name, out_file } => {
                if self.fail.as_deref() == Some(name.as_str()) {
                    return failed(format!("Export-MocKey: the cloud agent did not answer for '{name}'"));
                }
                let spec = KeySpec::parse(key_type, *size).unwrap();
                reply(self.vault.export(name, spec, Path::new(wrapping_key_path), wrapping_key_name.as_deref(), Path::new(out_file)))
            }
            HostOp::Import { name, key_type, size, file, wrapping_key_name } => {
                if self.fail.as_deref() == Some(name.as_str()) {
                    return failed(format!("Import-MocKey: the cloud agent did not answer for '{name}'"));
                }
                let spec = KeySpec::parse(key_type, *size).unwrap();
                reply(self.vault.import(name, spec, Path::new(file), wrapping_key_name.as_deref()))
            }
            HostOp::PublicKey { name, out_file } => {
                let der = self.vault.public_key(name).unwrap();
                let pem = rsa::RsaPublicKey::from_pkcs1_der(&der).unwrap().to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
                std::fs::write(out_file, pem).unwrap();
                ok()
            }
            HostOp::Delete { name } => reply(self.vault.delete(name)),
            HostOp::Create { name, key_type, size } => reply(self.vault.create(name, KeySpec::parse(key_type, *size).unwrap()).map(drop)),
            HostOp::Batch { .. } => failed("a batch inside a batch".into()),
        }
    }
}

impl Host for TestHost {
    fn dispatch(&self, op: &HostOp) -> tvmkeys::Result<HostReply> {
        if let HostOp::Batch { calls, throttle } = op {
            self.seen.borrow_mut().batches.push((calls.len(), *throttle));
            let mut replies: Vec<HostReply> = calls.iter().map(|c| self.run(c)).collect();
            if self.short_batch {
                replies.pop();
            }
            return Ok(HostReply { replies: Some(replies), ..ok() });
        }
        if matches!(op, HostOp::Export { .. } | HostOp::Import { .. }) {
            self.seen.borrow_mut().single += 1;
        }
        Ok(self.run(op))
    }
}

fn moc_over(vault: LocalVault, fail: Option<&str>, short_batch: bool) -> (MocVault, Rc<RefCell<Seen>>) {
    let seen = Rc::new(RefCell::new(Seen::default()));
    let host = TestHost { vault, seen: seen.clone(), fail: fail.map(str::to_string), short_batch };
    (MocVault::open(Box::new(host), false, &mut NoEvents).unwrap(), seen)
}

/// A source vault of 37 AES keys and 3 RSA keys.
fn source(dir: &Path) -> LocalVault {
    let vault = LocalVault::open(&dir.join("source"), true).unwrap();
    for i in 0..37 {
        vault.create(&format!("vm{i:02}"), KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
    }
    for i in 0..3 {
        vault.create(&format!("rsa{i}"), KeySpec::new(KeyType::Rsa, 2048).unwrap()).unwrap();
    }
    vault
}

fn backup_request(root: &Path, timestamp: &str, throttle: Option<i64>) -> tvmkeys::api::backup::BackupRequest {
    let mut request = serde_json::json!({
        "wrappingKeyPath": vectors().join("wrapping_public_pkcs1.pem"),
        "backupRootPath": root,
        "timestamp": timestamp,
    });
    if let Some(t) = throttle {
        request["throttleLimit"] = t.into();
    }
    serde_json::from_value(request).unwrap()
}

#[derive(Default)]
struct Restored(Vec<KeyRestore>);

impl Events for Restored {
    fn send(&mut self, event: Event) -> Reply {
        if let Event::KeyRestored { restore } = event {
            self.0.push(restore);
        }
        Reply::Proceed
    }
}

fn restore_request(backup: &str, throttle: Option<i64>) -> tvmkeys::api::restore::RestoreRequest {
    let mut request = serde_json::json!({ "backupPath": backup, "wrappingKeyName": "wrap", "skipTargetBackup": true });
    if let Some(t) = throttle {
        request["throttleLimit"] = t.into();
    }
    serde_json::from_value(request).unwrap()
}

fn target(dir: &Path, name: &str) -> LocalVault {
    common::vault_with_wrapping_key(&dir.join(name))
}

#[test]
fn a_backup_and_a_restore_above_throttle_1_go_in_batches_and_equal_those_at_throttle_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backups");

    // Throttle 1 (the default): every export its own call, as the original made them.
    let (one, seen_one) = moc_over(source(dir.path()), None, false);
    let at_one = tvmkeys::api::backup::run(&one, &backup_request(&root, "20261203100000", None), &mut NoEvents).unwrap();
    assert_eq!(seen_one.borrow().batches, vec![]);
    assert_eq!(seen_one.borrow().single, 40);

    // Throttle 2: batches of 16 rounds of 2 calls, the last one shorter.
    let (four, seen_four) = moc_over(LocalVault::open(&dir.path().join("source"), false).unwrap(), None, false);
    let at_four = tvmkeys::api::backup::run(&four, &backup_request(&root, "20261203100001", Some(2)), &mut NoEvents).unwrap();
    assert_eq!(seen_four.borrow().batches, vec![(32, 2), (8, 2)]);
    assert_eq!(seen_four.borrow().single, 0);

    let names = |b: &tvmkeys::api::backup::BackupResult| b.keys.iter().map(|k| (k.name.clone(), k.key_type.clone(), k.size)).collect::<Vec<_>>();
    assert_eq!(names(&at_one), names(&at_four), "the same keys, in the same order");
    for backup in [&at_one, &at_four] {
        let check = tvmkeys::verify::check(Path::new(&backup.path), tvmkeys::verify::Depth::Full, &Default::default(), &mut NoEvents).unwrap();
        assert_eq!(check.status, tvmkeys::verify::Status::Valid, "{:?}", check.findings);
    }

    // Restores of the throttle-4 backup, at 1 and at 4, into two new vaults.
    let mut results = Vec::new();
    for (name, throttle) in [("target1", None), ("target4", Some(4))] {
        let (vault, seen) = moc_over(target(dir.path(), name), None, false);
        let mut restored = Restored::default();
        let result = tvmkeys::api::restore::run(&vault, &restore_request(&at_four.path, throttle), None, &mut restored).unwrap();
        assert_eq!((result.imported, result.failed), (40, 0), "{name}");
        let batches = seen.borrow().batches.clone();
        // At 4, all 40 in one batch (16 rounds of 4 is 64).
        assert_eq!(batches, if throttle.is_some() { vec![(40, 4)] } else { vec![] }, "{name}");
        results.push(restored.0.iter().map(|r| (r.name.clone(), r.outcome)).collect::<Vec<_>>());
    }
    assert_eq!(results[0], results[1], "the keys are reported in the same order at either throttle");
    assert!(results[1].iter().all(|(_, o)| *o == Outcome::Imported));
    // Every key came back with its material.
    let source = LocalVault::open(&dir.path().join("source"), false).unwrap();
    let restored = LocalVault::open(&dir.path().join("target4"), false).unwrap();
    let listed = |v: &LocalVault| {
        let mut keys: Vec<_> = v.list().unwrap().into_iter().filter(|k| k.name != "wrap").map(|k| (k.name, k.fingerprint)).collect();
        keys.sort();
        keys
    };
    assert_eq!(listed(&source), listed(&restored));
}

#[test]
fn one_failed_call_in_a_batch_fails_that_key_alone_and_a_short_batch_reply_fails_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backups");
    let (vault, _) = moc_over(source(dir.path()), Some("vm07"), false);
    let e = tvmkeys::api::backup::run(&vault, &backup_request(&root, "20261203110000", Some(4)), &mut NoEvents).unwrap_err();
    assert!(e.to_string().contains("vm07") && e.to_string().contains("did not answer"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&root).unwrap().map(|d| d.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a failed backup leaves nothing in the root: {left:?}");

    // A good backup, then a restore whose host fails one import: that key Failed, every other Imported.
    let (vault, _) = moc_over(LocalVault::open(&dir.path().join("source"), false).unwrap(), None, false);
    let backup = tvmkeys::api::backup::run(&vault, &backup_request(&root, "20261203110001", Some(4)), &mut NoEvents).unwrap();
    let (into, _) = moc_over(target(dir.path(), "target"), Some("vm33"), false);
    let mut restored = Restored::default();
    let result = tvmkeys::api::restore::run(&into, &restore_request(&backup.path, Some(3)), None, &mut restored).unwrap();
    assert_eq!((result.imported, result.failed), (39, 1));
    let failed: Vec<_> = restored.0.iter().filter(|r| r.outcome == Outcome::Failed).map(|r| r.name.as_str()).collect();
    assert_eq!(failed, vec!["vm33"]);

    // A host that answers a batch with one reply too few: nothing is taken for done.
    let (short, _) = moc_over(LocalVault::open(&dir.path().join("source"), false).unwrap(), None, true);
    let e = tvmkeys::api::backup::run(&short, &backup_request(&root, "20261203110002", Some(2)), &mut NoEvents).unwrap_err();
    assert!(e.to_string().contains("replies to a batch of 32 calls"), "{e}");
    assert!(!root.join("20261203110002").exists());
}

#[test]
fn a_throttle_out_of_range_is_refused_naming_it_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backups");
    let (vault, seen) = moc_over(source(dir.path()), None, false);
    for bad in [0i64, -5, 17, 1000] {
        let e = tvmkeys::api::backup::run(&vault, &backup_request(&root, "20261203120000", Some(bad)), &mut NoEvents).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ThrottleLimitInvalid, "{bad}");
        assert_eq!(e.input(), Some("throttleLimit"));
        assert!(e.to_string().contains(&format!("-ThrottleLimit {bad} is out of range")), "{e}");
        let e = tvmkeys::api::restore::run(&vault, &restore_request(&root.join("x").display().to_string(), Some(bad)), None, &mut NoEvents).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ThrottleLimitInvalid, "{bad}");
    }
    assert!(!root.exists(), "nothing was written");
    assert_eq!(seen.borrow().single, 0);
}
