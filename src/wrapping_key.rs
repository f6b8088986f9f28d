//! The wrapping key pair: `Import-TvmWrappingKeyFromPem` and `Generate-ImportJsonFromPEM`.
//!
//! Both read the PEM pair, check it (RSA, the public half matches the private one, the size the caller
//! claims is the size it is) and build the `NO_KEY_WRAP` file of REFERENCE.md 3.2. The import writes that
//! file only because MOC's import reads a file: it goes to an owner-only temporary file that is removed
//! on every path, success, failure or panic, and its bytes are wiped from memory.
use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::events::Events;
use crate::keyfile;
use crate::layout;
use crate::pem;
use crate::vault::{KeySpec, KeyType, Vault};

/// Reads and checks the pair; returns the import file bytes and the key size in bits.
fn import_json_from_pems(public_key_path: &Path, private_key_path: &Path) -> Result<(Zeroizing<Vec<u8>>, u32)> {
    let public = pem::read_public_key(public_key_path, "public key")?;
    let private = pem::read_private_key(private_key_path, "private key")?;
    if !private.matches(&public) {
        return Err(Error::Crypto(format!(
            "The public key '{}' does not belong to the private key '{}'. Give the two files of one key pair.",
            public_key_path.display(),
            private_key_path.display()
        )));
    }
    Ok((keyfile::import_json(&public.pkcs1_der, &private.pkcs8_der), private.bits() as u32))
}

/// Writes the `NO_KEY_WRAP` import file (`Generate-ImportJsonFromPEM`). It holds the private key in clear,
/// because that is what it is for; it is written owner-only.
pub fn generate_import_json(public_key_path: &Path, private_key_path: &Path, out_file: &Path) -> Result<()> {
    let (json, _) = import_json_from_pems(public_key_path, private_key_path)?;
    crate::vault::local::write_replace(out_file, &json).map_err(|e| Error::io("write", out_file, e))
}

/// `KeySize` as the original took it: a string such as `2048`.
fn parse_key_size(key_size: &str) -> Result<u32> {
    let size: u32 = key_size.trim().parse().map_err(|_| {
        Error::InvalidArgument(format!("-KeySize '{key_size}' is not a number. Give the wrapping key's size in bits: 2048, 3072 or 4096."))
    })?;
    KeySpec::new(KeyType::Rsa, size).map_err(|e| Error::InvalidArgument(format!("-KeySize: {e}")))?;
    Ok(size)
}

pub fn import_wrapping_key(
    vault: &dyn Vault,
    key_name: &str,
    public_key_path: &Path,
    private_key_path: &Path,
    key_size: &str,
    events: &mut dyn Events,
) -> Result<KeySpec> {
    layout::check_key_name(key_name).map_err(|e| Error::InvalidArgument(format!("-KeyName: {e}")))?;
    let size = parse_key_size(key_size)?;
    let (json, bits) = import_json_from_pems(public_key_path, private_key_path)?;
    if bits != size {
        return Err(Error::InvalidArgument(format!(
            "-KeySize is {size}, but the key in '{}' is {bits} bits. Give -KeySize {bits}.",
            private_key_path.display()
        )));
    }
    let spec = KeySpec::new(KeyType::Rsa, size)?;
    // Owner-only (0600 on Unix; the user's own temp folder on Windows) and deleted when dropped, so the
    // plaintext file is gone on every path out of this function, a panic included.
    let mut temp = tempfile::Builder::new()
        .prefix("tvm")
        .suffix(".tmp")
        .tempfile()
        .map_err(|e| Error::io("create a temporary file in", &std::env::temp_dir(), e))?;
    let temp_path = temp.path().to_path_buf();
    events.message(&format!("Generating import JSON for key {key_name} at temporary location {}...", temp_path.display()));
    let result = temp
        .write_all(&json)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| Error::io("write", &temp_path, e))
        .and_then(|()| {
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
    result.map(|()| spec)
}
