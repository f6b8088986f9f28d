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
    /// The public key, PKCS#1 DER.
    public_der: Vec<u8>,
}

/// Reads and checks the pair; an encrypted private key PEM is read with `password`.
fn import_json_from_pems(public_key_path: &Path, private_key_path: &Path, password: Option<&[u8]>, asks_password: bool) -> Result<Pair> {
    let public = pem::read_public_key(public_key_path, "public key").map_err(|e| e.at_input("publicKeyPath"))?;
    let private = pem::read_private_key_with(private_key_path, "private key", password).map_err(|e| match e.code() {
        ErrorCode::PemPasswordWrong => e,
        // Import-TvmWrappingKeyFromPem takes a password; New-TvmImportJson (the original's command) does not.
        ErrorCode::PemEncrypted if asks_password => Error::for_input(
            ErrorCode::PemEncrypted,
            "password",
            format!(
                "The private key file '{}' is encrypted with a password. Give the password with -Password (Read-Host -AsSecureString).",
                private_key_path.display()
            ),
        ),
        _ => e.at_input("privateKeyPath"),
    })?;
    pair_of(Some((public, public_key_path)), private, &format!("'{}'", private_key_path.display()))
}

/// The pair of `private` and, when given, the public key file read for it (which must be its public half);
/// `source` names the private key in messages (a file, or the shares it was rebuilt from).
fn pair_of(public: Option<(pem::PublicKey, &Path)>, private: pem::PrivateKey, source: &str) -> Result<Pair> {
    let public = match public {
        Some((public, public_key_path)) => {
            if !private.matches(&public) {
                return Err(Error::new(
                    ErrorCode::KeyPairMismatch,
                    format!(
                        "The public key '{}' does not belong to the private key {source}. Give the two files of one key pair.",
                        public_key_path.display(),
                    ),
                ));
            }
            public
        }
        None => {
            use rsa::pkcs1::EncodeRsaPublicKey;
            let key = rsa::RsaPublicKey::from(&private.key);
            let pkcs1_der = key.to_pkcs1_der().map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("The public key could not be encoded: {e}.")))?.into_vec();
            pem::PublicKey { key, pkcs1_der }
        }
    };
    Ok(Pair {
        json: keyfile::import_json(&public.pkcs1_der, &private.pkcs8_der),
        bits: private.bits() as u32,
        fingerprint: pem::fingerprint(&public.key),
        public_der: public.pkcs1_der.clone(),
    })
}

/// Writes the `NO_KEY_WRAP` import file (`Generate-ImportJsonFromPEM`). It holds the private key in clear,
/// because that is what it is for; it is written owner-only.
/// Returns the key size in bits.
pub fn generate_import_json(public_key_path: &Path, private_key_path: &Path, out_file: &Path) -> Result<u32> {
    for (key, what) in [(private_key_path, "private key"), (public_key_path, "public key")] {
        if same_file(out_file, key) {
            return Err(Error::for_input(
                ErrorCode::InvalidPath,
                "outFilePath",
                format!("The output file '{}' is the {what} file: writing it would destroy the key. Give another output path.", out_file.display()),
            ));
        }
    }
    let pair = import_json_from_pems(public_key_path, private_key_path, None, false)?;
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
) -> Result<WrappingKeyResult> {
    import_wrapping_key_with(vault, key_name, public_key_path, private_key_path, key_size, None, events)
}

/// [`import_wrapping_key`] of a pair whose private key PEM may be encrypted (`ENCRYPTED PRIVATE KEY`, read
/// with `password`).
pub fn import_wrapping_key_with(
    vault: &dyn Vault,
    key_name: &str,
    public_key_path: &Path,
    private_key_path: &Path,
    key_size: &str,
    password: Option<&[u8]>,
    events: &mut dyn Events,
) -> Result<WrappingKeyResult> {
    layout::check_key_name(key_name).map_err(|e| e.at_input("keyName"))?;
    parse_key_size(key_size)?;
    let pair = import_json_from_pems(public_key_path, private_key_path, password, true)?;
    import_pair(vault, key_name, key_size, pair, &format!("in '{}'", private_key_path.display()), events)
}

/// Import-TvmWrappingKeyFromPem -SharePath: the private key rebuilt from shares (`source` names them), with the
/// public key file given for it, if any.
pub fn import_wrapping_key_from(
    vault: &dyn Vault,
    key_name: &str,
    public_key_path: Option<&Path>,
    private: pem::PrivateKey,
    source: &str,
    key_size: &str,
    events: &mut dyn Events,
) -> Result<WrappingKeyResult> {
    layout::check_key_name(key_name).map_err(|e| e.at_input("keyName"))?;
    parse_key_size(key_size)?;
    let public = match public_key_path {
        Some(p) => Some((pem::read_public_key(p, "public key").map_err(|e| e.at_input("publicKeyPath"))?, p)),
        None => None,
    };
    let pair = pair_of(public, private, source)?;
    import_pair(vault, key_name, key_size, pair, source, events)
}

fn import_pair(vault: &dyn Vault, key_name: &str, key_size: &str, pair: Pair, source: &str, events: &mut dyn Events) -> Result<WrappingKeyResult> {
    let size = parse_key_size(key_size)?;
    let Pair { json, bits, fingerprint, public_der } = pair;
    if bits != size {
        return Err(Error::for_input(
            ErrorCode::KeySizeMismatch,
            "keySize",
            format!("The key size is {size}, but the key {source} is {bits} bits. Give {bits} as the key size."),
        ));
    }
    let spec = KeySpec::new(KeyType::Rsa, size)?;
    // A name the vault holds: the same public key is this wrapping key, imported before (nothing to do, and no
    // plaintext file written); anything else is another key, never replaced here.
    if let Some(existing) = held_key(vault, key_name)? {
        check_same_wrapping_key(vault, &existing, &public_der, &fingerprint, "import it")?;
        events.warning(&format!(
            "The vault already holds the wrapping key {key_name} with this public key (fingerprint {fingerprint}); nothing was imported."
        ));
        return Ok(WrappingKeyResult { key: Key { fingerprint: Some(fingerprint), ..Key::new(key_name, spec) }, outcome: WrappingKeyOutcome::Exists });
    }
    // Owner-only (0600 on Unix, a protected DACL on Windows: crate::owner_only) and deleted when dropped,
    // so the plaintext file is gone on every path out of this function, a panic included.
    // In the module's owner-only folder, named for this process, so that a killed run's file is swept later
    // (crate::sweep).
    let dir = crate::sweep::import_dir().map_err(|e| Error::io("create a temporary file in", &std::env::temp_dir(), e))?;
    let mut temp = crate::owner_only::temp_file_in(&dir, &crate::sweep::import_file_prefix(), ".json")
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    let temp_path = temp.path().to_path_buf();
    events.message(&format!("Generating import JSON for key {key_name} at temporary location {}...", temp_path.display()));
    let written = temp.write_all(&json).and_then(|()| temp.as_file().sync_all()).map_err(|e| Error::io("write", &temp_path, e));
    // Closed before the vault reads it (the name stays, and is removed when dropped): on Windows a handle
    // open for writing makes a reader that shares only reading (.NET's File.ReadAllBytes) fail with a
    // sharing violation.
    let temp = temp.into_temp_path();
    crate::crash_point::reached("import");
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
    result.map(|()| WrappingKeyResult { key: Key { fingerprint: Some(fingerprint), ..Key::new(key_name, spec) }, outcome: WrappingKeyOutcome::Imported })
}

/// What Import-TvmWrappingKeyFromPem and Remove-TvmWrappingKey did with the wrapping key: the `TvmWrappingKey`
/// object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappingKeyResult {
    #[serde(flatten)]
    pub key: Key,
    pub outcome: WrappingKeyOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WrappingKeyOutcome {
    /// Imported into the vault.
    Imported,
    /// The vault held this wrapping key already (the same public key); nothing was written.
    Exists,
    /// Removed from the vault.
    Removed,
    /// Not removed: `-WhatIf`, or declined at the prompt.
    Kept,
}

/// The key of that name the vault holds, if any (the vault's own listing, so a name is compared as the vault
/// compares it).
fn held_key(vault: &dyn Vault, key_name: &str) -> Result<Option<Key>> {
    Ok(vault.list()?.into_iter().find(|k| k.name == key_name))
}

/// Refuses a held key that is not the wrapping key with public key `public_der`: not RSA, or another public key.
fn check_same_wrapping_key(vault: &dyn Vault, existing: &Key, public_der: &[u8], fingerprint: &str, doing: &str) -> Result<()> {
    let name = &existing.name;
    let conflict = |what: String| {
        Error::for_input(
            ErrorCode::WrappingKeyConflict,
            "keyName",
            format!(
                "The vault already holds a key named {name}, and {what}: it was left as it is, and this command did not {doing}. \
                 Give another key name; or, if {name} is a wrapping key left by an earlier restore, remove it first with Remove-TvmWrappingKey -KeyName {name}."
            ),
        )
    };
    if existing.key_type() != Some(KeyType::Rsa) {
        return Err(conflict(format!("it is an {} key, not this wrapping key", existing.key_type)));
    }
    if name == crate::restore::ROOT_KEY {
        return Err(conflict("it is the attestation root key the cluster's Trusted launch VMs need".into()));
    }
    let held = vault.public_key(name)?;
    if held != public_der {
        let theirs = rsa::pkcs1::DecodeRsaPublicKey::from_pkcs1_der(&held[..])
            .map(|k: rsa::RsaPublicKey| pem::fingerprint(&k))
            .unwrap_or_else(|_| "unreadable".into());
        return Err(conflict(format!("its public key (fingerprint {theirs}) is not this one (fingerprint {fingerprint})")));
    }
    Ok(())
}

/// The PBKDF2-HMAC-SHA256 iteration count of an encrypted private key PEM (OWASP's 2023 figure for
/// PBKDF2-SHA256); the salt is 16 random bytes, the IV 16.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// A wrapping key pair written by [`generate`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedPair {
    pub public_key_path: String,
    /// The private key PEM; absent for a key made inside a vault (`-InVault`), whose private key never leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_path: Option<String>,
    pub key_size: u32,
    /// The module's fingerprint of the public key (as the manifest and every listing show it).
    pub fingerprint: String,
    /// True when the private key PEM is encrypted with the password given.
    pub encrypted: bool,
    /// `-InVault`: the key's name in the vault (the `-WrappingKeyName` of Backup-TVMKeys and Import-TVMKeys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// `-InVault`: the vault that holds the private key, as a backup's manifest names a vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
}

/// A private key as the bytes of its PEM file: PKCS#8 `PRIVATE KEY`, or under `password` `ENCRYPTED PRIVATE KEY`
/// (PKCS#8 PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC); lines of 64 characters ending in `\n`, as .NET's
/// Export...Pem gives them (no line end after the END line), then the platform's line end, as `Out-File` writes.
pub(crate) fn private_key_pem(key: &rsa::RsaPrivateKey, password: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>> {
    use rand::RngCore;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let crypto = |e: &dyn std::fmt::Display| Error::new(ErrorCode::CryptoFailed, format!("The private key could not be written as PEM: {e}."));
    let private_pem: Zeroizing<String> = match password {
        None => key.to_pkcs8_pem(LineEnding::LF).map_err(|e| crypto(&e))?,
        Some(password) => {
            let der = key.to_pkcs8_der().map_err(|e| crypto(&e))?;
            let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| crypto(&e))?;
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            rand::rngs::OsRng.fill_bytes(&mut iv);
            let params = rsa::pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv).map_err(|e| crypto(&e))?;
            let encrypted = info.encrypt_with_params(params, password).map_err(|e| crypto(&e))?;
            encrypted.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).map_err(|e| crypto(&e))?
        }
    };
    let newline = if cfg!(windows) { "\r\n" } else { "\n" };
    let mut bytes = Zeroizing::new(private_pem.trim_end_matches('\n').as_bytes().to_vec());
    bytes.extend_from_slice(newline.as_bytes());
    Ok(bytes)
}

/// `New-TvmWrappingKey`: a new RSA key pair in the PEM shapes the documented PowerShell 7 steps write
/// (`ExportRSAPublicKeyPem`: PKCS#1 `RSA PUBLIC KEY`; `ExportPkcs8PrivateKeyPem`: PKCS#8 `PRIVATE KEY`; lines
/// of 64 characters ending in `\n`, and the line end of the platform after the last, as `Out-File` writes
/// them), or the private key as `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC) under
/// `password`. Both files are owner-only; existing files are refused unless `force`. The engine does the
/// cryptography, so this works in Windows PowerShell 5.1, whose .NET cannot export PEM.
pub fn generate(public_path: &Path, private_path: &Path, bits: u32, password: Option<&[u8]>, force: bool, events: &mut dyn Events) -> Result<GeneratedPair> {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::LineEnding;

    KeySpec::new(KeyType::Rsa, bits).map_err(|e| e.at_input("keySize"))?;
    if password.is_some_and(<[u8]>::is_empty) {
        return Err(Error::for_input(ErrorCode::InvalidRequest, "password", "The password is empty. Give a password, or none to write the private key unencrypted."));
    }
    if same_file(public_path, private_path) {
        return Err(Error::for_input(
            ErrorCode::InvalidPath,
            "privateKeyPath",
            format!("The public and the private key paths are the same file '{}'. Give two files.", private_path.display()),
        ));
    }
    for (path, input) in [(private_path, "privateKeyPath"), (public_path, "publicKeyPath")] {
        check_file_to_write(path, input, force, " (the key it holds is lost)")?;
    }
    events.verbose(&format!("Generating an RSA-{bits} key pair."));
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits as usize)
        .map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("The RSA key pair could not be generated: {e}.")))?;
    let public = rsa::RsaPublicKey::from(&key);
    let crypto = |e: &dyn std::fmt::Display| Error::new(ErrorCode::CryptoFailed, format!("The key pair could not be written as PEM: {e}."));
    let private_bytes = private_key_pem(&key, password)?;
    let public_pem = public.to_pkcs1_pem(LineEnding::LF).map_err(|e| crypto(&e))?;
    let newline = if cfg!(windows) { "\r\n" } else { "\n" };
    let public_bytes = format!("{}{newline}", public_pem.trim_end_matches('\n')).into_bytes();
    write_key_file(private_path, &private_bytes, force)?;
    if let Err(e) = write_key_file(public_path, &public_bytes, force) {
        // Half a pair is no pair: the private key alone is not left behind.
        let _ = std::fs::remove_file(private_path);
        return Err(e);
    }
    let fingerprint = pem::fingerprint(&public);
    events.message(&format!(
        "Wrapping key pair written: public key {}, private key {}{} (RSA {bits}, fingerprint {fingerprint}). Keep the private key offline; \
         it is the only way to restore a backup made with this public key.",
        public_path.display(),
        private_path.display(),
        if password.is_some() { ", encrypted with the password" } else { "" }
    ));
    Ok(GeneratedPair {
        public_key_path: public_path.display().to_string(),
        private_key_path: Some(private_path.display().to_string()),
        key_size: bits,
        fingerprint,
        encrypted: password.is_some(),
        key_name: None,
        vault: None,
    })
}

/// `New-TvmWrappingKey -InVault` (the flow of the releases before 2505, `docs/format.md`): an RSA key made
/// inside the vault that will receive the keys (`New-MocKey`), and its public half written as a PKCS#1 PEM
/// (read with `Get-MocKeyPublicKey`), for the source cluster's `Backup-TVMKeys -WrappingKeyPath -WrappingKeyName`.
/// The private key never leaves the vault. Everything that can be refused is refused before the vault is
/// written; a public key file that then cannot be written takes the new key out of the vault again, so a
/// failure leaves the vault as it was.
pub fn create_in_vault(vault: &dyn Vault, key_name: &str, public_path: &Path, bits: u32, force: bool, events: &mut dyn Events) -> Result<GeneratedPair> {
    use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
    use rsa::pkcs8::LineEnding;

    layout::check_key_name(key_name).map_err(|e| e.at_input("keyName"))?;
    let spec = KeySpec::new(KeyType::Rsa, bits).map_err(|e| e.at_input("keySize"))?;
    if key_name == crate::restore::ROOT_KEY {
        return Err(Error::for_input(
            ErrorCode::InvalidKeyName,
            "keyName",
            format!("{key_name} is the name of the attestation root key the cluster's Trusted launch VMs need. Give the wrapping key another name."),
        ));
    }
    check_file_to_write(public_path, "publicKeyPath", force, "")?;
    if held_key(vault, key_name)?.is_some() {
        return Err(Error::for_input(
            ErrorCode::KeyExists,
            "keyName",
            format!(
                "The vault already holds a key named {key_name}; it was left as it is and no wrapping key was made. Give another name \
                 (a wrapping key left by an earlier restore is removed with Remove-TvmWrappingKey -KeyName {key_name})."
            ),
        ));
    }
    events.verbose(&format!("Creating the RSA-{bits} wrapping key {key_name} in the vault."));
    vault.create(key_name, spec)?;
    let written = (|| {
        let der = vault.public_key(key_name)?;
        let public = rsa::RsaPublicKey::from_pkcs1_der(&der)
            .map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("The vault gave a public key for {key_name} that cannot be read: {e}.")))?;
        let pem = public
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("The public key could not be written as PEM: {e}.")))?;
        let newline = if cfg!(windows) { "\r\n" } else { "\n" };
        write_key_file(public_path, format!("{}{newline}", pem.trim_end_matches('\n')).as_bytes(), force)?;
        Ok(pem::fingerprint(&public))
    })();
    let fingerprint = match written {
        Ok(f) => f,
        Err(e) => {
            // No one has the public key yet, so no backup can be wrapped to it: taking the key out is safe.
            if let Err(undo) = vault.delete(key_name) {
                events.warning(&format!("The wrapping key {key_name} was made in the vault but could not be removed again ({undo}). Remove it with Remove-TvmWrappingKey -KeyName {key_name}."));
            }
            return Err(e);
        }
    };
    let source = vault.source().describe();
    events.message(&format!(
        "Wrapping key {key_name} made in {source} (RSA {bits}, fingerprint {fingerprint}); its public key is in {}. \
         Back up the source vault with Backup-TVMKeys -WrappingKeyPath {} -WrappingKeyName {key_name}, then import the backup here with Import-TVMKeys -WrappingKeyName {key_name}.",
        public_path.display(),
        public_path.display(),
    ));
    Ok(GeneratedPair {
        public_key_path: public_path.display().to_string(),
        private_key_path: None,
        key_size: bits,
        fingerprint,
        encrypted: false,
        key_name: Some(key_name.to_string()),
        vault: Some(source),
    })
}

/// Refuses, before anything is written, a key file path that is a folder, or a file that exists without `force`
/// (`lost` says what replacing it would lose).
pub(crate) fn check_file_to_write(path: &Path, input: &'static str, force: bool, lost: &str) -> Result<()> {
    if path.is_dir() {
        return Err(Error::for_input(ErrorCode::InvalidPath, input, format!("'{}' is a folder. Give the path of a file to write.", path.display())));
    }
    if path.exists() && !force {
        return Err(Error::for_input(
            ErrorCode::WrappingKeyFileExists,
            input,
            format!("'{}' exists already. Give another path, or add -Force to replace it{lost}.", path.display()),
        ));
    }
    Ok(())
}

/// Writes a key file owner-only: a new file, or with `force` a replacement (written beside it, then renamed).
pub(crate) fn write_key_file(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if force && path.exists() {
        return crate::vault::local::write_replace(path, bytes).map_err(|e| Error::io("write", path, e));
    }
    let mut file = crate::owner_only::create_new_file(path).map_err(|e| Error::io("write", path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| {
        let _ = std::fs::remove_file(path);
        Error::io("write", path, e)
    })
}

/// True when both paths name one file (the same text, or one existing file by two names).
fn same_file(a: &Path, b: &Path) -> bool {
    if crate::win_path::file_name_key(&a.display().to_string()) == crate::win_path::file_name_key(&b.display().to_string()) {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `Remove-TvmWrappingKey`: removes a wrapping key from the vault once a restore is done, as the documented
/// steps require. Only an RSA key can be a wrapping key, and the attestation root key never is one: both are
/// refused before anything is removed, as is a name the vault does not hold.
pub fn remove(vault: &dyn Vault, key_name: &str, events: &mut dyn Events) -> Result<WrappingKeyResult> {
    layout::check_key_name(key_name).map_err(|e| e.at_input("keyName"))?;
    if key_name == crate::restore::ROOT_KEY {
        return Err(Error::for_input(
            ErrorCode::NotAWrappingKey,
            "keyName",
            format!("{key_name} is the attestation root key the cluster's Trusted launch VMs need, not a wrapping key; it is never removed by this command."),
        ));
    }
    let key = vault
        .list()?
        .into_iter()
        .find(|k| k.name == key_name)
        .ok_or_else(|| Error::KeyNotFound { name: key_name.into() })?;
    if KeyType::parse(&key.key_type) != Some(KeyType::Rsa) {
        return Err(Error::for_input(
            ErrorCode::NotAWrappingKey,
            "keyName",
            format!("The key {key_name} is an {} key, and a wrapping key is an RSA key: it was not removed. Check the name.", key.key_type),
        ));
    }
    match events.key_pending(&key, "Remove the wrapping key from the vault") {
        crate::events::Reply::Proceed => {}
        crate::events::Reply::Skip => return Ok(WrappingKeyResult { key, outcome: WrappingKeyOutcome::Kept }),
        crate::events::Reply::Cancel => return Err(Error::Cancelled("The wrapping key was not removed.".into())),
    }
    vault.delete(key_name)?;
    events.message(&format!("The wrapping key {key_name} was removed from the vault."));
    Ok(WrappingKeyResult { key, outcome: WrappingKeyOutcome::Removed })
}
