//! The corruption sweep (issue 12, item 2): every file of a backup (each key file and the manifest) truncated
//! at several offsets, one byte changed in each field, deleted, duplicated, renamed, swapped with another of
//! the same type, plus an extra file. For each damage, on a fresh copy of one real backup (real RSA and AES,
//! local vaults):
//! - `Test-TVMKeyBackup` (the full check) finds the backup damaged and names the file;
//! - `Import-TVMKeys` refuses the whole backup (`BackupDamaged`) and writes nothing;
//! - with `-Force` (`restore_intact`) it writes nothing for the affected keys and every other key is restored
//!   with the source's material.
//!
//! Deleting the manifest is the one damage that cannot be seen: the backup is then the original script's kind
//! (Legacy), reported as such, and restores in full because its key files are intact.
use std::collections::BTreeSet;
mod common;
use common::copy_dir;
use std::path::{Path, PathBuf};

use tvmkeys::error::ErrorCode;
use tvmkeys::events::NoEvents;
use tvmkeys::verify::{self, Against, Depth, Status};
use tvmkeys::vault::{KeySpec, KeyType, LocalVault, Vault};
use tvmkeys::{backup, restore, wrapping_key};

const TIMESTAMP: &str = "20261202093000";
const KEYS: [(&str, KeyType, u32); 4] =
    [("vm-a", KeyType::Aes, 256), ("vm-b", KeyType::Aes, 256), ("AzureStackTvmAKRootKey", KeyType::Rsa, 2048), ("r2", KeyType::Rsa, 2048)];

use common::{vectors, Warnings};


/// The key names, and each key as the vault lists it (name, type, size, fingerprint of the material).
fn listing(vault: &dyn Vault) -> Vec<(String, String, u32, Option<String>)> {
    vault.list().unwrap().into_iter().map(|k| (k.name, k.key_type, k.size, k.fingerprint)).collect()
}

/// One damage: what it does to a copy of the backup, the file Test-TVMKeyBackup must name, and the keys the
/// intact restore must leave out.
struct Case {
    what: String,
    damage: Box<dyn Fn(&Path)>,
    named: String,
    affected: Vec<&'static str>,
}

/// Positions of every non-empty string and number value in a JSON text (byte offset of the value's middle
/// character), with the member name: the "fields" whose one byte the sweep changes.
fn fields(text: &str) -> Vec<(String, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut last_name = String::new();
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let value = &text[start..j];
            let mut k = j + 1;
            while bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            if bytes[k] == b':' {
                last_name = value.to_string();
            } else if !value.is_empty() {
                out.push((last_name.clone(), start + value.len() / 2));
            }
            i = j + 1;
        } else if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push((last_name.clone(), start + (i - start) / 2));
        } else {
            i += 1;
        }
    }
    out
}

/// One byte changed to another of the same kind, so that the text stays JSON and the value keeps its form.
fn changed(b: u8) -> u8 {
    match b {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b + 1,
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        b'-' => b'_',
        b'_' => b'-',
        _ => b'x',
    }
}

fn cases(backup: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let files = [
        ("AES/vm-a_256.json", "vm-a", "AES/vm-b_256.json", "vm-b"),
        ("AES/vm-b_256.json", "vm-b", "AES/vm-a_256.json", "vm-a"),
        ("RSA/AzureStackTvmAKRootKey_2048.json", "AzureStackTvmAKRootKey", "RSA/r2_2048.json", "r2"),
        ("RSA/r2_2048.json", "r2", "RSA/AzureStackTvmAKRootKey_2048.json", "AzureStackTvmAKRootKey"),
    ];
    for (file, key, other, other_key) in files {
        let len = std::fs::metadata(backup.join(file)).unwrap().len() as usize;
        for at in [0, 1, len / 2, len - 1] {
            cases.push(Case {
                what: format!("{file} truncated to {at} bytes"),
                damage: Box::new(move |b: &Path| {
                    let bytes = std::fs::read(b.join(file)).unwrap();
                    std::fs::write(b.join(file), &bytes[..at]).unwrap();
                }),
                named: file.into(),
                affected: vec![key],
            });
        }
        let text = std::fs::read_to_string(backup.join(file)).unwrap();
        for (field, at) in fields(&text) {
            cases.push(Case {
                what: format!("{file}: one byte of '{field}' changed"),
                damage: Box::new(move |b: &Path| {
                    let mut bytes = std::fs::read(b.join(file)).unwrap();
                    bytes[at] = changed(bytes[at]);
                    std::fs::write(b.join(file), bytes).unwrap();
                }),
                named: file.into(),
                affected: vec![key],
            });
        }
        cases.push(Case {
            what: format!("{file} deleted"),
            damage: Box::new(move |b: &Path| std::fs::remove_file(b.join(file)).unwrap()),
            named: file.into(),
            affected: vec![key],
        });
        let (folder, size) = if file.starts_with("AES") { ("AES", 256) } else { ("RSA", 2048) };
        let copy: &'static str = Box::leak(format!("{folder}/copy-of-{key}_{size}.json").into_boxed_str());
        cases.push(Case {
            what: format!("{file} duplicated as {copy}"),
            damage: Box::new(move |b: &Path| {
                std::fs::copy(b.join(file), b.join(copy)).unwrap();
            }),
            named: copy.into(),
            affected: vec![Box::leak(format!("copy-of-{key}").into_boxed_str())],
        });
        let renamed: &'static str = Box::leak(format!("{folder}/renamed-{key}_{size}.json").into_boxed_str());
        cases.push(Case {
            what: format!("{file} renamed to {renamed}"),
            damage: Box::new(move |b: &Path| std::fs::rename(b.join(file), b.join(renamed)).unwrap()),
            named: renamed.into(),
            affected: vec![key, Box::leak(format!("renamed-{key}").into_boxed_str())],
        });
        cases.push(Case {
            what: format!("{file} swapped with {other}"),
            damage: Box::new(move |b: &Path| {
                let (x, y) = (std::fs::read(b.join(file)).unwrap(), std::fs::read(b.join(other)).unwrap());
                std::fs::write(b.join(file), y).unwrap();
                std::fs::write(b.join(other), x).unwrap();
            }),
            named: file.into(),
            affected: vec![key, other_key],
        });
    }
    let manifest = "manifest.json";
    let len = std::fs::metadata(backup.join(manifest)).unwrap().len() as usize;
    for at in [0, 1, len / 2, len - 2] {
        cases.push(Case {
            what: format!("{manifest} truncated to {at} bytes"),
            damage: Box::new(move |b: &Path| {
                let bytes = std::fs::read(b.join(manifest)).unwrap();
                std::fs::write(b.join(manifest), &bytes[..at]).unwrap();
            }),
            named: manifest.into(),
            affected: vec![],
        });
    }
    let text = std::fs::read_to_string(backup.join(manifest)).unwrap();
    for (field, at) in fields(&text) {
        cases.push(Case {
            what: format!("{manifest}: one byte of '{field}' changed"),
            damage: Box::new(move |b: &Path| {
                let mut bytes = std::fs::read(b.join(manifest)).unwrap();
                bytes[at] = changed(bytes[at]);
                std::fs::write(b.join(manifest), bytes).unwrap();
            }),
            named: manifest.into(),
            affected: vec![],
        });
    }
    for (extra, named) in [("AES/extra_256.txt", "AES/extra_256.txt"), ("notes.txt", "notes.txt"), ("RSA/sub/x_2048.json", "RSA/sub")] {
        cases.push(Case {
            what: format!("an extra file {extra}"),
            damage: Box::new(move |b: &Path| {
                let path = b.join(extra);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, b"{}").unwrap();
            }),
            named: named.into(),
            affected: vec![],
        });
    }
    cases
}

#[test]
fn every_damage_of_every_file_is_named_refused_and_leaves_the_intact_keys_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let source = LocalVault::open(&dir.path().join("source"), true).unwrap();
    for (name, t, size) in KEYS {
        source.create(name, KeySpec::new(t, size).unwrap()).unwrap();
    }
    let template_target = dir.path().join("target");
    drop(common::vault_with_wrapping_key(&template_target));
    let root = dir.path().join("backups");
    let done = backup::backup(&source, &vectors().join("wrapping_public_pkcs1.pem"), &root, &root, TIMESTAMP, &mut NoEvents).unwrap();
    let template = PathBuf::from(&done.path);
    let want = listing(&source);

    let cases = cases(&template);
    assert!(cases.len() > 60, "the sweep covers every file and field ({} cases)", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let work = dir.path().join(format!("case{i}"));
        let backup = work.join("root").join(TIMESTAMP);
        copy_dir(&template, &backup);
        (case.damage)(&backup);

        // Test-TVMKeyBackup names the file.
        let checked = verify::check(&backup, Depth::Full, &Against::default(), &mut NoEvents).unwrap();
        if checked.status != Status::Damaged || !checked.findings.iter().any(|f| f.file == case.named) {
            failures.push(format!("{}: check says {:?} with {:?}", case.what, checked.status, checked.findings));
            continue;
        }

        // Import-TVMKeys refuses it and writes nothing.
        let vault_path = work.join("vault");
        copy_dir(&template_target, &vault_path);
        let vault = LocalVault::open(&vault_path, false).unwrap();
        let before = listing(&vault);
        match restore::restore(&vault, &backup, &backup, "wrap", &mut NoEvents) {
            Err(e) if e.code() == ErrorCode::BackupDamaged && e.to_string().contains(&case.named) => {}
            other => failures.push(format!("{}: the plain restore gave {:?}", case.what, other.map(|r| r.imported))),
        }
        if listing(&vault) != before {
            failures.push(format!("{}: the refused restore changed the vault", case.what));
        }

        // -Force: the affected keys are not written, every other key is, with the source's material.
        let options = restore::Options { restore_intact: true, ..Default::default() };
        if let Err(e) = restore::restore_with(&vault, &backup, &backup, "wrap", &options, &mut NoEvents) {
            failures.push(format!("{}: the intact restore failed: {e}", case.what));
            continue;
        }
        let got: BTreeSet<_> = listing(&vault).into_iter().filter(|k| k.0 != "wrap").collect();
        let expected: BTreeSet<_> = want.iter().filter(|k| !case.affected.contains(&k.0.as_str())).cloned().collect();
        if got != expected {
            failures.push(format!("{}: the intact restore left {:?}, expected {:?}", case.what, got, expected));
        }
        std::fs::remove_dir_all(&work).unwrap();
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn a_deleted_manifest_makes_a_legacy_backup_that_is_reported_so_and_restores_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let source = LocalVault::open(&dir.path().join("source"), true).unwrap();
    for (name, t, size) in &KEYS[..2] {
        source.create(name, KeySpec::new(*t, *size).unwrap()).unwrap();
    }
    let target = LocalVault::open(&dir.path().join("target"), true).unwrap();
    wrapping_key::import_wrapping_key(&target, "wrap", &vectors().join("wrapping_public_pkcs1.pem"), &vectors().join("wrapping_private_pkcs8.pem"), "2048", &mut NoEvents)
        .unwrap();
    let root = dir.path().join("backups");
    let done = backup::backup(&source, &vectors().join("wrapping_public_pkcs1.pem"), &root, &root, TIMESTAMP, &mut NoEvents).unwrap();
    std::fs::remove_file(Path::new(&done.path).join("manifest.json")).unwrap();
    let checked = verify::check(Path::new(&done.path), Depth::Full, &Against::default(), &mut NoEvents).unwrap();
    assert_eq!(checked.status, Status::Legacy);
    assert!(!checked.has_manifest);
    let result = restore::restore(&target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut NoEvents).unwrap();
    assert_eq!(result.imported, 2);
    let got: Vec<_> = listing(&target).into_iter().filter(|k| k.0 != "wrap").collect();
    assert_eq!(got, listing(&source));
}

#[test]
fn a_backup_without_manifest_missing_a_half_restores_the_other_half_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let source = LocalVault::open(&dir.path().join("source"), true).unwrap();
    source.create("vm-a", KeySpec::new(KeyType::Aes, 256).unwrap()).unwrap();
    source.create("r2", KeySpec::new(KeyType::Rsa, 2048).unwrap()).unwrap();
    let target = LocalVault::open(&dir.path().join("target"), true).unwrap();
    wrapping_key::import_wrapping_key(&target, "wrap", &vectors().join("wrapping_public_pkcs1.pem"), &vectors().join("wrapping_private_pkcs8.pem"), "2048", &mut NoEvents)
        .unwrap();
    let root = dir.path().join("backups");
    let done = backup::backup(&source, &vectors().join("wrapping_public_pkcs1.pem"), &root, &root, TIMESTAMP, &mut NoEvents).unwrap();
    std::fs::remove_file(Path::new(&done.path).join("manifest.json")).unwrap();
    std::fs::remove_dir_all(Path::new(&done.path).join("RSA")).unwrap();
    let mut warnings = Warnings::default();
    let result = restore::restore(&target, done.path.as_ref(), done.path.as_ref(), "wrap", &mut warnings).unwrap();
    assert_eq!(result.imported, 1);
    assert!(warnings.0.iter().any(|w| w.contains("has no RSA folder") && w.contains("only its AES keys")), "{:?}", warnings.0);
}
