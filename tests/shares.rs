//! The wrapping key split among custodians, through the engine's API as the cmdlets call it: the secret list
//! beside the request, a password-protected private key PEM split to custodian passwords, and a backup checked
//! and restored with `sharePaths` in place of `privateKeyPath`, on real local vaults, real RSA and AES.
use std::path::Path;

use tvmkeys::api::shares::{self, JoinWrappingKeyRequest, Secrets, SplitWrappingKeyRequest, TestWrappingKeyShareRequest};
use tvmkeys::api::{backup, restore, verify, wrapping_key};
use tvmkeys::error::ErrorCode;
use tvmkeys::events::NoEvents;
use tvmkeys::shares::ShareStatus;
use tvmkeys::vault::{KeySpec, KeyType, LocalVault, Vault};

mod common;
use common::{vectors, Warnings};

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn split_request(out: &Path, private: &Path) -> SplitWrappingKeyRequest {
    SplitWrappingKeyRequest {
        private_key_path: s(private),
        threshold: 2,
        shares: 3,
        out_path: s(out),
        custodian_public_key_paths: vec![],
        no_encryption: false,
        force: false,
    }
}

#[test]
fn the_secret_list_reads_what_it_writes_and_refuses_what_is_not_one() {
    let list = Secrets::encode(Some(b"pem"), &[b"one", b"", b"three"]);
    let read = Secrets::parse(Some(&list)).unwrap();
    assert_eq!(read.key_password.as_deref().map(Vec::as_slice), Some(&b"pem"[..]));
    let custodians: Vec<&[u8]> = read.custodian_passwords.iter().map(|p| p.as_slice()).collect();
    assert_eq!(custodians, vec![&b"one"[..], b"", b"three"]);
    assert!(Secrets::parse(None).unwrap().custodian_passwords.is_empty());
    for bad in [&[2u8, 9, 0, 0, 0, b'a'][..], &[2, 1, 0], &[7, 0, 0, 0, 0], &[1, 0, 0, 0, 0, 1, 0, 0, 0, 0]] {
        let e = Secrets::parse(Some(bad)).err().unwrap();
        assert_eq!(e.code(), ErrorCode::InvalidRequest, "{bad:?}");
    }
}

#[test]
fn an_encrypted_pem_split_to_passwords_joins_to_an_encrypted_pem_of_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = vectors().join("encrypted_private_pkcs8.pem");
    let readme = std::fs::read_to_string(vectors().join("README.md")).unwrap();
    assert!(readme.contains("password `test`"), "the vector's password is documented");
    let pem_password = b"test";
    let out = dir.path().join("shares");
    let mut request = split_request(&out, &encrypted);
    // Without the PEM's password: refused, and nothing is written.
    let secrets = Secrets::encode(None, &[b"alice", b"bob", b"carol"]);
    let e = shares::split(&request, Some(&secrets), &mut NoEvents).err().unwrap();
    assert!(matches!(e.code(), ErrorCode::PemEncrypted | ErrorCode::PemPasswordWrong), "{e}");
    assert!(!out.exists());
    // Two passwords for three shares: refused before the key is read.
    let e = shares::split(&request, Some(&Secrets::encode(Some(pem_password), &[b"a", b"b"])), &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::CustodiansInvalid);
    // No custodian at all, and two kinds at once.
    let e = shares::split(&request, Some(&Secrets::encode(Some(pem_password), &[])), &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::CustodiansInvalid);
    request.no_encryption = true;
    let e = shares::split(&request, Some(&secrets), &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::CustodiansInvalid);
    request.no_encryption = false;
    assert!(!out.exists());

    let split = shares::split(&request, Some(&Secrets::encode(Some(pem_password), &[b"alice", b"bob", b"carol"])), &mut NoEvents).unwrap();
    assert_eq!((split.threshold, split.shares, split.files.len()), (2, 3, 3));
    let paths: Vec<String> = split.files.iter().map(|f| f.path.clone()).collect();
    // Each file opens with its own password only.
    let test = shares::test(
        &TestWrappingKeyShareRequest { share_paths: paths.clone(), custodian_private_key_paths: vec![] },
        Some(&Secrets::encode(None, &[b"bob"])),
        &mut NoEvents,
    )
    .unwrap();
    let status: Vec<ShareStatus> = test.shares.iter().map(|f| f.status.unwrap()).collect();
    assert_eq!(status, vec![ShareStatus::NotOpened, ShareStatus::Opened, ShareStatus::NotOpened]);
    assert_eq!(test.shares[0].error_id.as_deref(), Some("SharePasswordWrong"));

    let out_file = dir.path().join("rebuilt.pem");
    let join = JoinWrappingKeyRequest { share_paths: vec![paths[2].clone(), paths[0].clone()], custodian_private_key_paths: vec![], out_file: Some(s(&out_file)), force: false };
    let joined = shares::join(&join, Some(&Secrets::encode(Some(b"new password"), &[b"carol", b"alice"])), &mut NoEvents).unwrap();
    assert_eq!(joined.fingerprint, split.fingerprint);
    assert!(joined.encrypted);
    assert_eq!(joined.used, vec![1, 3]);
    let original = tvmkeys::pem::read_private_key_with(&encrypted, "k", Some(pem_password)).unwrap();
    let rebuilt = tvmkeys::pem::read_private_key_with(&out_file, "k", Some(b"new password")).unwrap();
    assert_eq!(original.key, rebuilt.key);
    assert!(std::fs::read_to_string(&out_file).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // The file is not replaced without force; -Password without -OutFile is refused.
    let e = shares::join(&join, Some(&Secrets::encode(None, &[b"carol", b"alice"])), &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::WrappingKeyFileExists);
    let prove = JoinWrappingKeyRequest { out_file: None, ..join };
    let e = shares::join(&prove, Some(&Secrets::encode(Some(b"x"), &[b"carol", b"alice"])), &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert!(shares::join(&prove, Some(&Secrets::encode(None, &[b"carol", b"alice"])), &mut NoEvents).unwrap().out_file.is_none());
}

/// A vault with keys, backed up to the vectors' wrapping public key; the private key then exists only as shares
/// to custodian keys, and the backup is checked deep and restored into a second vault with those shares.
#[test]
fn a_backup_is_checked_and_restored_with_shares_and_no_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = LocalVault::open(&dir.path().join("a"), true).unwrap();
    for (name, t, size) in [("vm1", KeyType::Aes, 256), ("vm2", KeyType::Aes, 256), ("AzureStackTvmAKRootKey", KeyType::Rsa, 2048)] {
        source.create(name, KeySpec::new(t, size).unwrap()).unwrap();
    }
    let backup = backup::run(
        &source,
        &backup::BackupRequest {
            wrapping_key_path: s(&vectors().join("wrapping_public_pkcs1.pem")),
            backup_root_path: s(&dir.path().join("backups")),
            shown_backup_root_path: None,
            timestamp: "20261202120000".into(),
            label: None,
            created_local: None,
            key_names: vec![],
            wrapping_key_name: None,
            throttle_limit: None,
        },
        &mut NoEvents,
    )
    .unwrap();
    // Custodian keys: the vectors' other key pair for custodian 1, and new pairs for 2 and 3.
    let mut custodian_public = vec![vectors().join("other_public_pkcs1.pem")];
    let mut custodian_private = vec![vectors().join("other_private_pkcs8.pem")];
    for i in 2..=3 {
        let (public, private) = (dir.path().join(format!("c{i}.pub.pem")), dir.path().join(format!("c{i}.pem")));
        tvmkeys::wrapping_key::generate(&public, &private, 2048, None, false, &mut NoEvents).unwrap();
        custodian_public.push(public);
        custodian_private.push(private);
    }
    let out = dir.path().join("shares");
    let mut request = split_request(&out, &vectors().join("wrapping_private_pkcs8.pem"));
    request.custodian_public_key_paths = custodian_public.iter().map(|p| s(p)).collect();
    let split = shares::split(&request, None, &mut NoEvents).unwrap();
    let share_paths: Vec<String> = split.files.iter().map(|f| f.path.clone()).collect();
    let keys: Vec<String> = custodian_private.iter().map(|p| s(p)).collect();

    let mut check = verify::VerifyRequest { backup_path: backup.path.clone(), deep: true, ..Default::default() };
    check.share_paths = share_paths[1..].to_vec();
    check.custodian_private_key_paths = keys[1..].to_vec();
    let checked = verify::run(None, &check, Some(&Secrets::encode(None, &[])), &mut NoEvents).unwrap();
    assert_eq!(checked.check.depth, "Deep");
    assert_eq!(checked.check.status, tvmkeys::verify::Status::Valid, "{:?}", checked.check.findings);
    // Shares without -Deep, shares and a private key file together, custodian keys without shares: refused.
    let e = verify::run(None, &verify::VerifyRequest { deep: false, ..check.clone() }, None, &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    let both = verify::VerifyRequest { private_key_path: Some(s(&vectors().join("wrapping_private_pkcs8.pem"))), ..check.clone() };
    assert_eq!(verify::run(None, &both, None, &mut NoEvents).err().unwrap().code(), ErrorCode::InvalidRequest);
    // One share short: the restore's pre-flight stops before the vault is touched.
    let target = LocalVault::open(&dir.path().join("b"), true).unwrap();
    let mut import = wrapping_key::ImportWrappingKeyRequest {
        key_name: "wrap".into(),
        public_key_path: None,
        private_key_path: None,
        key_size: "2048".into(),
        share_paths: share_paths[..1].to_vec(),
        custodian_private_key_paths: keys.clone(),
    };
    let e = wrapping_key::run(&target, &import, None, &mut NoEvents).err().unwrap();
    assert_eq!(e.code(), ErrorCode::ShareTooFew);
    assert!(target.list().unwrap().is_empty());
    // A public key given that is not the shares' key: refused.
    import.share_paths = vec![share_paths[0].clone(), share_paths[2].clone()];
    import.public_key_path = Some(s(&vectors().join("other_public_pkcs1.pem")));
    assert_eq!(wrapping_key::run(&target, &import, None, &mut NoEvents).err().unwrap().code(), ErrorCode::KeyPairMismatch);
    import.public_key_path = Some(s(&vectors().join("wrapping_public_pkcs1.pem")));
    let imported = wrapping_key::run(&target, &import, None, &mut NoEvents).unwrap();
    assert_eq!(imported.key.fingerprint.as_deref(), Some(split.fingerprint.as_str()));

    let restored = restore::run(
        &target,
        &restore::RestoreRequest {
            backup_path: backup.path.clone(),
            shown_backup_path: None,
            wrapping_key_name: "wrap".into(),
            if_exists: Default::default(),
            key_names: vec![],
            private_key_path: None,
            share_paths: vec![share_paths[2].clone(), share_paths[1].clone()],
            custodian_private_key_paths: keys[1..].to_vec(),
            replace_attestation_root_key: false,
            what_if: false,
            target_backup_root_path: None,
            skip_target_backup: true,
            timestamp: None,
            created_local: None,
            remove_wrapping_key: true,
            restore_intact: false,
            throttle_limit: None,
        },
        None,
        &mut NoEvents,
    )
    .unwrap();
    assert_eq!((restored.imported, restored.failed), (3, 0));
    for name in ["vm1", "vm2", "AzureStackTvmAKRootKey"] {
        let a = std::fs::read(dir.path().join("a/keys").join(format!("{name}.json"))).unwrap();
        let b = std::fs::read(dir.path().join("b/keys").join(format!("{name}.json"))).unwrap();
        let material = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).unwrap()["material"].clone();
        assert_eq!(material(&a), material(&b), "{name} has the same material in both vaults");
    }
    assert!(!target.list().unwrap().iter().any(|k| k.name == "wrap"), "the wrapping key is removed after the restore");
}

#[test]
fn the_temporary_share_files_of_a_stopped_split_are_swept_by_the_next_split_into_that_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shares");
    std::fs::create_dir_all(&out).unwrap();
    // A process that has ended: its temporary share file is a stopped split's.
    let mut child = std::process::Command::new(if cfg!(windows) { "cmd" } else { "true" })
        .args(if cfg!(windows) { &["/c", "exit"][..] } else { &[][..] })
        .spawn()
        .unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = out.join(format!(".tvmshare-{dead}-AbC123.tmp"));
    std::fs::write(&stale, b"a share of a split that was killed").unwrap();
    // This process's own (a split running now) and a file that is not a temporary share file: both kept.
    let running = out.join(format!(".tvmshare-{}-XyZ.tmp", std::process::id()));
    std::fs::write(&running, b"mine").unwrap();
    let other = out.join("notes.txt");
    std::fs::write(&other, b"kept").unwrap();

    let mut request = split_request(&out, &vectors().join("wrapping_private_pkcs8.pem"));
    request.no_encryption = true;
    let mut warnings = Warnings::default();
    let split = shares::split(&request, None, &mut warnings).unwrap();
    assert_eq!(split.files.len(), 3);
    assert!(!stale.exists(), "the stopped split's file is removed");
    assert!(running.exists() && other.exists());
    let swept: Vec<&String> = warnings.0.iter().filter(|w| w.starts_with("Removed ")).collect();
    assert_eq!(swept.len(), 1, "{:?}", warnings.0);
    assert!(swept[0].contains(&stale.display().to_string()) && swept[0].contains(&format!("(process {dead})")), "{}", swept[0]);
    // No temporary file of this split is left either.
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tvmshare-") && !n.contains("-XyZ"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
