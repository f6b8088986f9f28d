//! Known-answer tests against an independent implementation: the fixtures in tests/vectors were made
//! by Python's `cryptography` (tests/vectors/make_vectors.py). Nothing here is hard-coded: every expected
//! value is read from the fixtures.
use std::path::{Path, PathBuf};

use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use serde_json::Value;
use tvmkeys::events::NoEvents;
use tvmkeys::keyfile::{Enc, KeyFile};
use tvmkeys::keywrap::{self, KeyWrap};
use tvmkeys::vault::{LocalVault, Vault};
use tvmkeys::{pem, wrapping_key, ErrorCode};

fn vectors() -> PathBuf {
    // A full path on every platform: on Windows (under Wine) the Linux build path /work/... is root-relative,
    // which the engine refuses; absolute() makes it Z:\work\...
    std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")).unwrap()
}

fn wrapping_private() -> RsaPrivateKey {
    pem::read_private_key(&vectors().join("wrapping_private_pkcs8.pem"), "private key").unwrap().key
}

fn cases() -> Vec<Value> {
    serde_json::from_slice::<Value>(&std::fs::read(vectors().join("keywrap_vectors.json")).unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn unwraps_every_python_blob_to_its_target() {
    let key = wrapping_private();
    let mut ok = 0;
    for case in cases().iter().filter(|c| c["expect"] == "ok") {
        let blob = tvmkeys::keyfile::b64url_decode(case["blob_b64url"].as_str().unwrap()).unwrap();
        let enc = Enc::parse(case["enc"].as_str().unwrap()).unwrap();
        let (target, matched) = keywrap::unwrap(&key, &blob, enc).unwrap();
        assert_eq!(hex::encode(&*target), case["target_hex"].as_str().unwrap(), "{}", case["name"]);
        let kw = if case["kw"] == "rfc3394" { KeyWrap::Rfc3394 } else { KeyWrap::Rfc5649 };
        assert_eq!(matched.key_wrap, kw, "{}", case["name"]);
        // A reader that does not know the hash finds the same mechanism by trying them in order.
        let (again, found) = keywrap::unwrap_any(&key, &blob).unwrap();
        assert_eq!(&*again, &*target);
        assert_eq!(found.enc, enc, "{}", case["name"]);
        ok += 1;
    }
    assert!(ok >= 5, "expected at least five positive vectors, found {ok}");
}

#[test]
fn refuses_damaged_python_blobs() {
    let key = wrapping_private();
    let bad: Vec<_> = cases().into_iter().filter(|c| c["expect"] == "error").collect();
    assert!(bad.len() >= 2);
    for case in bad {
        let blob = tvmkeys::keyfile::b64url_decode(case["blob_b64url"].as_str().unwrap()).unwrap();
        let err = keywrap::unwrap_any(&key, &blob).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnwrapFailed, "{}", case["name"]);
    }
}

#[test]
fn our_wrap_unwraps_with_the_python_key_and_has_the_documented_size() {
    let private = wrapping_private();
    let public = pem::read_public_key(&vectors().join("wrapping_public_pkcs1.pem"), "public key").unwrap();
    let target = [7u8; 32];
    let blob = keywrap::wrap(&public.key, &target, Enc::RsaAesKeyWrap, &mut rand::rngs::OsRng).unwrap();
    // docs/format.md section 4: an AES-256 key wrapped with a 2048-bit key is 296 bytes.
    assert_eq!(blob.len(), 296);
    assert_eq!(&*keywrap::unwrap(&private, &blob, Enc::RsaAesKeyWrap).unwrap().0, &target);
    // The OAEP hash matters: the same blob read as SHA-256 fails.
    assert!(keywrap::unwrap(&private, &blob, Enc::RsaAesKeyWrap256).is_err());
}

#[test]
fn import_json_matches_the_fixture_for_every_pem_encoding() {
    let expected = std::fs::read(vectors().join("import_expected.json")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let pairs = [
        ("wrapping_public_pkcs1.pem", "wrapping_private_pkcs8.pem"),
        ("public_utf8bom.pem", "private_utf8bom.pem"),
        ("public_utf16le.pem", "private_utf16le.pem"),
        ("public_crlf.pem", "private_crlf.pem"),
        ("public_trailing_crlf.pem", "private_trailing_crlf.pem"),
        ("public_trailing_lf.pem", "private_trailing_lf.pem"),
        // Other PEM forms of the same key are normalised to what MOC expects (PKCS#1 public, PKCS#8 private).
        ("wrapping_public_spki.pem", "wrapping_private_pkcs1.pem"),
    ];
    for (public, private) in pairs {
        let file = out.path().join(format!("{public}.json"));
        wrapping_key::generate_import_json(&vectors().join(public), &vectors().join(private), &file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), expected, "{public} + {private}");
    }
}

#[test]
fn bad_pem_inputs_are_refused_and_nothing_is_written() {
    let v = vectors();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out.json");
    let cases: [(&str, &str, ErrorCode); 7] = [
        ("missing.pem", "wrapping_private_pkcs8.pem", ErrorCode::FileMissing),
        ("wrapping_public_pkcs1.pem", "missing.pem", ErrorCode::FileMissing),
        ("wrapping_private_pkcs8.pem", "wrapping_private_pkcs8.pem", ErrorCode::PemInvalid),
        ("wrapping_public_pkcs1.pem", "wrapping_public_pkcs1.pem", ErrorCode::PemInvalid),
        ("wrapping_public_pkcs1.pem", "ec_private_pkcs8.pem", ErrorCode::PemInvalid),
        ("wrapping_public_pkcs1.pem", "encrypted_private_pkcs8.pem", ErrorCode::PemEncrypted),
        ("other_public_pkcs1.pem", "wrapping_private_pkcs8.pem", ErrorCode::KeyPairMismatch),
    ];
    for (public, private, kind) in cases {
        let err = wrapping_key::generate_import_json(&v.join(public), &v.join(private), &file).unwrap_err();
        assert_eq!(err.code(), kind, "{public} + {private}: {err}");
        let text = err.to_string();
        assert!(text.contains(".pem"), "the message names the file: {text}");
        assert!(!file.exists(), "{public} + {private} wrote a file");
    }
    let err = wrapping_key::generate_import_json(&v.join("wrapping_public_pkcs1.pem"), &v.join("ec_private_sec1.pem"), &file).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PemInvalid);
}

#[test]
fn local_vault_imports_python_export_files() {
    let dir = tempfile::tempdir().unwrap();
    let vault = LocalVault::open(&dir.path().join("vault"), true).unwrap();
    let v = vectors();
    wrapping_key::import_wrapping_key(&vault, "wrap", &v.join("public_utf16le.pem"), &v.join("private_utf16le.pem"), "2048", &mut NoEvents).unwrap();
    let by_name = |name: &str| cases().into_iter().find(|c| c["name"] == name).unwrap();
    for (file, key, key_type, size, case) in [
        ("export_aes_example.json", "vm1", tvmkeys::vault::KeyType::Aes, 256, "aes256_ckm_rsa_aes_key_wrap"),
        ("export_rsa_example.json", "root", tvmkeys::vault::KeyType::Rsa, 2048, "rsa2048_ckm_rsa_aes_key_wrap"),
    ] {
        let spec = tvmkeys::vault::KeySpec::new(key_type, size).unwrap();
        vault.import(key, spec, &v.join(file), Some("wrap")).unwrap();
        // The stored material is the Python case's plaintext.
        let stored: Value = serde_json::from_slice(&std::fs::read(dir.path().join(format!("vault/keys/{key}.json"))).unwrap()).unwrap();
        let material = tvmkeys::keyfile::b64url_decode(stored["material"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(material), by_name(case)["target_hex"].as_str().unwrap());
        // A second import of the same name is refused as existing, not as a failure.
        let again = vault.import(key, spec, &v.join(file), Some("wrap")).unwrap_err();
        assert_eq!(again.code(), ErrorCode::KeyExists);
    }
    // The RSA target really is the PKCS#8 key Python made.
    let rsa_case = by_name("rsa2048_ckm_rsa_aes_key_wrap");
    assert!(RsaPrivateKey::from_pkcs8_der(&hex::decode(rsa_case["target_hex"].as_str().unwrap()).unwrap()).is_ok());
}

#[test]
fn export_file_example_parses_and_writes_back_byte_for_byte() {
    for name in ["export_aes_example.json", "export_rsa_example.json"] {
        let bytes = std::fs::read(vectors().join(name)).unwrap();
        let file = KeyFile::parse(&bytes, name).unwrap();
        assert_eq!(&*file.to_export_bytes(), &bytes[..], "{name}");
    }
}
