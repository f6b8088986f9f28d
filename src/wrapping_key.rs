//! The wrapping key pair: `Import-TvmWrappingKeyFromPem` and `Generate-ImportJsonFromPEM`.
//!
//! Both read the PEM pair, check it (RSA, the public half matches the private one, the size the caller
//! claims is the size it is) and build the `NO_KEY_WRAP` file of `docs/format.md` section 3. The import writes that
//! file only because MOC's import reads a file: it goes to an owner-only temporary file that is removed
//! on every path, success, failure or panic, and its bytes are wiped from memory.
use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::api::Key;
use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::keyfile;
use crate::layout;
use crate::pem;
use crate::vault::{KeySpec, KeyType, Vault};

/// The pair as read and checked: the import file bytes, the key size in bits, the public key's fingerprint.
struct Pair {
    json: Zeroizing<Vec<u8>>,
    bits: u32,
    fingerprint: String,
}

/// Reads and checks the pair.
fn import_json_from_pems(public_key_path: &Path, private_key_path: &Path) -> Result<Pair> {
    let public = pem::read_public_key(public_key_path, "public key").map_err(|e| e.at_input("publicKeyPath"))?;
    let private = pem::read_private_key(private_key_path, "private key").map_err(|e| e.at_input("privateKeyPath"))?;
    if !private.matches(&public) {
        return Err(Error::new(
            ErrorCode::KeyPairMismatch,
            format!(
                "The public key '{}' does not belong to the private key '{}'. Give the two files of one key pair.",
                public_key_path.display(),
                private_key_path.display()
            ),
        ));
    }
    Ok(Pair {
        json: keyfile::import_json(&public.pkcs1_der, &private.pkcs8_der),
        bits: private.bits() as u32,
        fingerprint: pem::fingerprint(&public.key),
    })
}

/// Writes the `NO_KEY_WRAP` import file (`Generate-ImportJsonFromPEM`). It holds the private key in clear,
/// because that is what it is for; it is written owner-only.
/// Returns the key size in bits.
pub fn generate_import_json(public_key_path: &Path, private_key_path: &Path, out_file: &Path) -> Result<u32> {
    let pair = import_json_from_pems(public_key_path, private_key_path)?;
    crate::vault::local::write_replace(out_file, &pair.json).map_err(|e| Error::io("write", out_file, e))?;
    Ok(pair.bits)
}

/// `KeySize` as the original took it: a string such as `2048`.
fn parse_key_size(key_size: &str) -> Result<u32> {
    let size: u32 = key_size.trim().parse().map_err(|_| {
        Error::for_input(
            ErrorCode::InvalidKeySize,
            "keySize",
            format!("The key size '{key_size}' is not a number. Give the wrapping key's size in bits: 2048, 3072 or 4096."),
        )
    })?;
    KeySpec::new(KeyType::Rsa, size).map_err(|e| e.at_input("keySize"))?;
    Ok(size)
}

pub fn import_wrapping_key(
    vault: &dyn Vault,
    key_name: &str,
    public_key_path: &Path,
    private_key_path: &Path,
    key_size: &str,
    events: &mut dyn Events,
) -> Result<Key> {
    layout::check_key_name(key_name).map_err(|e| e.at_input("keyName"))?;
    let size = parse_key_size(key_size)?;
    let Pair { json, bits, fingerprint } = import_json_from_pems(public_key_path, private_key_path)?;
    if bits != size {
        return Err(Error::for_input(
            ErrorCode::KeySizeMismatch,
            "keySize",
            format!("The key size is {size}, but the key in '{}' is {bits} bits. Give {bits} as the key size.", private_key_path.display()),
        ));
    }
    let spec = KeySpec::new(KeyType::Rsa, size)?;
    // Owner-only (0600 on Unix, a protected DACL on Windows: crate::owner_only) and deleted when dropped,
    // so the plaintext file is gone on every path out of this function, a panic included.
    let mut temp = crate::owner_only::temp_file_in(&std::env::temp_dir(), "tvm", ".tmp")
        .map_err(|e| Error::io("create a temporary file in", &std::env::temp_dir(), e))?;
    let temp_path = temp.path().to_path_buf();
    events.message(&format!("Generating import JSON for key {key_name} at temporary location {}...", temp_path.display()));
    let written = temp.write_all(&json).and_then(|()| temp.as_file().sync_all()).map_err(|e| Error::io("write", &temp_path, e));
    // Closed before the vault reads it (the name stays, and is removed when dropped): on Windows a handle
    // open for writing makes a reader that shares only reading (.NET's File.ReadAllBytes) fail with a
    // sharing violation.
    let temp = temp.into_temp_path();
    let result = written.and_then(|()| {
        events.message(&format!("Importing key {key_name} into the vault..."));
        vault.import(key_name, spec, &temp_path, None)
    });
    drop(json);
    let removed = temp.close();
    if result.is_ok() {
        events.message(&format!("Key {key_name} successfully imported into the vault."));
    }
    match removed {
        Ok(()) => events.message(&format!("Temporary file {} has been cleaned up.", temp_path.display())),
        Err(e) => events.warning(&format!(
            "The temporary file {} holds the private key and could not be removed ({e}). Delete it now.",
            temp_path.display()
        )),
    }
    result.map(|()| Key { fingerprint: Some(fingerprint), ..Key::new(key_name, spec) })
}
