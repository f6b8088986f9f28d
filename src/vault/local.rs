//! LocalVault: a key vault kept in a folder, with real keys and real cryptography. It is the embedded
//! default for rehearsals, demos and tests, and it behaves as MOC is documented to behave (sizes, type
//! names, `AlreadyExists` on an existing name, the export file format). It is a rehearsal vault, not a
//! production store: its keys are protected only by the file system's owner-only permissions.
//!
//! Layout: `<root>/tvmvault.json` marks the folder as a vault; `<root>/keys/<name>.json` holds one key
//! as `{"name","type","size","material"}`, material being the raw AES key or the RSA PKCS#8 DER,
//! base64url with padding.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::rngs::OsRng;
use rand::RngCore;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Key, KeySpec, KeyType, Vault};
use crate::error::{Error, ErrorCode, Result};
use crate::keyfile::{b64url_decode, b64url_encode, Enc, KeyFile};
use crate::{keywrap, layout, owner_only, pem};

const MARKER: &str = "tvmvault.json";
const MARKER_FORMAT: &str = "tvmkeys-local-vault";
const KEYS: &str = "keys";

pub struct LocalVault {
    root: PathBuf,
    /// The last wrapping key a restore unwrapped with, parsed, with the stored material it came from: a
    /// restore imports many keys with one wrapping key, and parsing an RSA private key (with its checks)
    /// costs more than the unwrap itself. Reused only while the stored material is byte-identical.
    unwrapper: Mutex<Option<Unwrapper>>,
    /// The last wrapping public key a backup exported with, parsed, with the PEM file's bytes: a backup
    /// wraps every key with one public key. Reused only while the file's bytes are the same.
    wrapper: Mutex<Option<(Vec<u8>, pem::PublicKey)>>,
    /// Chosen by `$env:TVM_VAULT_PATH` rather than named by the command: a backup says so, loudly.
    from_environment: bool,
}

struct Unwrapper {
    material: Zeroizing<Vec<u8>>,
    key: RsaPrivateKey,
}

#[derive(Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
}

#[derive(Serialize)]
struct StoredOut<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    key_type: &'a str,
    size: u32,
    material: &'a str,
}

#[derive(Deserialize)]
struct StoredIn {
    name: String,
    #[serde(rename = "type")]
    key_type: String,
    size: u32,
    material: String,
}

impl Drop for StoredIn {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.material);
    }
}

/// A key as held: its spec and its secret material.
struct Stored {
    spec: KeySpec,
    material: Zeroizing<Vec<u8>>,
}

impl LocalVault {
    /// Opens the vault in `root`. With `create`, a missing or empty folder is accepted as a new, empty
    /// vault, which comes into existence on its first write: a command refused for a bad argument, or run
    /// with `-WhatIf`, leaves nothing behind. Without it, a folder that is not a vault is refused (a
    /// mistyped path must not back up an empty vault).
    pub fn open(root: &Path, create: bool) -> Result<LocalVault> {
        let vault = LocalVault { root: root.to_path_buf(), unwrapper: Mutex::new(None), wrapper: Mutex::new(None), from_environment: false };
        let marker = root.join(MARKER);
        match fs::read(&marker) {
            Ok(bytes) => {
                let m: Marker = serde_json::from_slice(&bytes).map_err(|_| vault.not_a_vault())?;
                if m.format != MARKER_FORMAT || m.version != 1 {
                    return Err(vault.not_a_vault());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !vault.is_new()? {
                    return Err(vault.not_a_vault());
                }
                if !create {
                    return Err(Error::Missing {
                        code: ErrorCode::VaultMissing,
                        what: "The local vault",
                        path: root.to_path_buf(),
                        fix: "Its folder is missing or empty. Check the vault path; a new vault is created by New-TvmVaultKey or an import.",
                    });
                }
            }
            Err(e) => return Err(Error::io("read", &marker, e)),
        }
        Ok(vault)
    }

    /// Marks the vault as chosen by the environment variable `TVM_VAULT_PATH` ([`Vault::from_environment`]).
    pub fn chosen_by_environment(mut self, yes: bool) -> LocalVault {
        self.from_environment = yes;
        self
    }

    /// True when the folder is missing or empty: a vault not written yet. A folder that holds only what a first
    /// write killed before its marker leaves (an empty `keys` folder, temporary files) is one too, and is adopted
    /// by the next write: a kill never leaves a folder that every later command refuses.
    fn is_new(&self) -> Result<bool> {
        let temporary = |name: &str| name.starts_with(".tmp");
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(Error::io("read the folder", &self.root, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read the folder", &self.root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let half_made = if name == KEYS && is_dir {
                fs::read_dir(entry.path()).map_err(|e| Error::io("read the folder", &entry.path(), e))?.flatten().all(|k| temporary(&k.file_name().to_string_lossy()))
            } else {
                temporary(&name) && !is_dir
            };
            if !half_made {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Makes a new vault's folder and marker, before its first key is written.
    fn ensure_created(&self) -> Result<()> {
        let marker = self.root.join(MARKER);
        if marker.exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.root).map_err(|e| Error::io("create the vault folder", &self.root, e))?;
        // The folder of the key files is owner-only, and so is everything created in it.
        let keys = self.root.join(KEYS);
        match owner_only::create_dir(&keys) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create the vault folder", &keys, e)),
        }
        crate::crash_point::reached("vault-create");
        let bytes = serde_json::to_vec(&Marker { format: MARKER_FORMAT.into(), version: 1 }).unwrap_or_default();
        match write_new(&marker, &bytes) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(Error::io("create", &marker, e)),
        }
    }

    /// The RSA public key in the PEM file at `path` and its PKCS#1 DER, parsed only when the file's bytes are
    /// not those parsed last.
    fn wrapping_public_key(&self, path: &Path) -> Result<(RsaPublicKey, Vec<u8>)> {
        let bytes = pem::read_file(path, "wrapping key")?;
        let mut cached = self.wrapper.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, key)) = cached.as_ref() {
            if seen.as_slice() == bytes.as_slice() {
                return Ok((key.key.clone(), key.pkcs1_der.clone()));
            }
        }
        let key = pem::public_key_from_file_bytes(&bytes, path, "wrapping key")?;
        let found = (key.key.clone(), key.pkcs1_der.clone());
        *cached = Some((bytes.to_vec(), key));
        Ok(found)
    }

    /// Unwraps `blob` with the RSA private key whose PKCS#8 DER is `material`, parsing it only when it is
    /// not the one parsed last.
    fn unwrap_with(&self, material: &[u8], blob: &[u8], enc: Enc) -> Result<Zeroizing<Vec<u8>>> {
        // A panic while the lock was held left nothing half-written in it that matters: it is a cache.
        let mut cached = self.unwrapper.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let reuse = cached.as_ref().is_some_and(|u| u.material.as_slice() == material);
        if !reuse {
            let key = RsaPrivateKey::from_pkcs8_der(material).map_err(crypto)?;
            *cached = Some(Unwrapper { material: Zeroizing::new(material.to_vec()), key });
        }
        let unwrapper = cached.as_ref().ok_or_else(|| Error::new(ErrorCode::InternalError, "the unwrapping key cache is empty"))?;
        Ok(keywrap::unwrap(&unwrapper.key, blob, enc)?.0)
    }

    fn not_a_vault(&self) -> Error {
        Error::new(ErrorCode::NotALocalVault, format!(
            "'{}' is not a local vault: it has no valid {MARKER}. Give an empty or new folder, or an existing vault.",
            self.root.display()
        ))
    }

    fn key_path(&self, name: &str) -> Result<PathBuf> {
        layout::check_key_name(name)?;
        // The vault's own temporary files in keys/ are dot-files, which listing skips: a key named so would be
        // written and then be in no listing and no backup.
        if name.starts_with('.') {
            return Err(Error::new(
                ErrorCode::InvalidKeyName,
                format!("The key name '{name}' is not allowed in a local vault: it starts with a dot. Give a name that starts with a letter or digit."),
            ));
        }
        Ok(self.root.join(KEYS).join(format!("{name}.json")))
    }

    fn read(&self, name: &str) -> Result<Stored> {
        let path = self.key_path(name)?;
        let bytes = match fs::read(&path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::KeyNotFound { name: name.into() }),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let bad = || Error::new(ErrorCode::VaultKeyDamaged, format!("The vault's key file '{}' is damaged.", path.display()));
        let stored: StoredIn = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if stored.name != name {
            return Err(bad());
        }
        let spec = KeySpec::parse(&stored.key_type, stored.size).map_err(|_| bad())?;
        let material = Zeroizing::new(b64url_decode(&stored.material).map_err(|_| bad())?);
        Ok(Stored { spec, material })
    }

    /// Stores a new key; fails with `KeyExists` if the name is taken, and never replaces a key.
    fn store(&self, name: &str, spec: KeySpec, material: &[u8]) -> Result<()> {
        let path = self.key_path(name)?;
        self.ensure_created()?;
        let encoded = Zeroizing::new(b64url_encode(material));
        let mut bytes = Zeroizing::new(Vec::with_capacity(encoded.len() + 128));
        let out = StoredOut { name, key_type: spec.key_type.as_str(), size: spec.size, material: &encoded };
        serde_json::to_writer(&mut *bytes, &out).map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))?;
        match write_new(&path, &bytes) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::KeyExists { name: name.into() }),
            Err(e) => Err(Error::io("write", &path, e)),
        }
    }

    fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.key_path(name)?.exists())
    }

    fn fingerprint(stored: &Stored) -> Option<String> {
        match stored.spec.key_type {
            // An RSA key is identified by its public half, as MOC shows it.
            KeyType::Rsa => {
                let key = RsaPrivateKey::from_pkcs8_der(&stored.material).ok()?;
                Some(pem::fingerprint(&RsaPublicKey::from(&key)))
            }
            KeyType::Aes => Some(super::aes_fingerprint(&stored.material)),
        }
    }
}

/// The bytes in an owner-only temporary file beside `path` ([`owner_only`]), synced, so that the final
/// name is only ever given to a complete file.
fn staged(path: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    staged_with(path, bytes, true)
}

/// As [`staged`]; `durable` false leaves the flush to the caller (a backup flushes its files in one pass).
fn staged_with(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = owner_only::temp_file_in(dir, &crate::sweep::vault_temp_prefix(), "")?;
    tmp.write_all(bytes)?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    crate::crash_point::reached("vault-write");
    Ok(tmp)
}

/// Writes a file that must not exist yet, all at once, through a hard link: an existing file is never
/// replaced. The temporary file is removed when dropped.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::hard_link(staged(path, bytes)?.path(), path)
}

/// Writes a file, replacing any file of that name, owner-only and all at once.
pub(crate) fn write_replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    staged(path, bytes)?.persist(path).map(|_| ()).map_err(|e| e.error)
}

impl Vault for LocalVault {
    fn sweep(&self, events: &mut dyn crate::events::Events) {
        crate::sweep::sweep_vault_temp_files(&self.root, events);
        crate::sweep::sweep_vault_temp_files(&self.root.join(KEYS), events);
    }

    fn list(&self) -> Result<Vec<Key>> {
        self.names()?
            .into_iter()
            .map(|name| {
                let stored = self.read(&name)?;
                Ok(Key { fingerprint: Self::fingerprint(&stored), ..Key::new(&name, stored.spec) })
            })
            .collect()
    }

    fn export(&self, name: &str, spec: KeySpec, wrapping_key_path: &Path, wrapping_key_name: Option<&str>, out_file: &Path) -> Result<()> {
        let stored = self.read(name)?;
        if stored.spec != spec {
            return Err(Error::new(ErrorCode::VaultFailed, format!(
                "Key '{name}' is {} {}, not {} {}.",
                stored.spec.key_type.as_str(),
                stored.spec.size,
                spec.key_type.as_str(),
                spec.size
            )));
        }
        let (wrapping, wrapping_der) = self.wrapping_public_key(wrapping_key_path)?;
        let public_key = match spec.key_type {
            KeyType::Aes => Vec::new(),
            KeyType::Rsa => {
                let key = RsaPrivateKey::from_pkcs8_der(&stored.material).map_err(crypto)?;
                RsaPublicKey::from(&key).to_pkcs1_der().map_err(crypto)?.into_vec()
            }
        };
        let blob = keywrap::wrap(&wrapping, &stored.material, Enc::RsaAesKeyWrap, &mut OsRng)?;
        let file = KeyFile {
            public_key,
            private_key: Zeroizing::new(blob),
            wrapping_key_name: wrapping_key_name.unwrap_or_default().to_string(),
            wrapping_public_key: wrapping_der,
            enc: Enc::RsaAesKeyWrap,
        };
        // An export file is the caller's, not the vault's: it is written whole (a temporary name, then a rename) and
        // flushed by the caller, as MOC leaves it (a backup flushes all its files in one pass before it completes).
        staged_with(out_file, &file.to_export_bytes(), false)
            .and_then(|tmp| tmp.persist(out_file).map(|_| ()).map_err(|e| e.error))
            .map_err(|e| Error::io("write", out_file, e))
    }

    fn import(&self, name: &str, spec: KeySpec, file: &Path, wrapping_key_name: Option<&str>) -> Result<()> {
        if self.exists(name)? {
            return Err(Error::KeyExists { name: name.into() });
        }
        let bytes = Zeroizing::new(fs::read(file).map_err(|e| Error::io("read", file, e))?);
        let key_file = KeyFile::parse(&bytes, &format!("'{}'", file.display()))?;
        let material = match key_file.enc {
            Enc::NoKeyWrap => Zeroizing::new(key_file.private_key.to_vec()),
            enc => {
                // As with mocctl, the name given with the call wins over the one in the file.
                let wrapping_name = wrapping_key_name
                    .filter(|n| !n.is_empty())
                    .or(Some(key_file.wrapping_key_name.as_str()).filter(|n| !n.is_empty()))
                    .ok_or_else(|| Error::new(ErrorCode::VaultFailed, format!("'{}' is wrapped, and no wrapping key name was given.", file.display())))?;
                let wrapping = match self.read(wrapping_name) {
                    Err(Error::KeyNotFound { .. }) => {
                        return Err(Error::KeyNotFound { name: wrapping_name.into() });
                    }
                    other => other?,
                };
                if wrapping.spec.key_type != KeyType::Rsa {
                    return Err(Error::new(ErrorCode::VaultFailed, format!("The wrapping key '{wrapping_name}' is not an RSA key.")));
                }
                self.unwrap_with(&wrapping.material, &key_file.private_key, enc)?
            }
        };
        check_material(name, spec, &material, &key_file.public_key)?;
        self.store(name, spec, &material)
    }

    fn public_key(&self, name: &str) -> Result<Vec<u8>> {
        let stored = self.read(name)?;
        if stored.spec.key_type != KeyType::Rsa {
            return Err(Error::new(ErrorCode::VaultFailed, format!("Key '{name}' is an AES key; it has no public key.")));
        }
        let key = RsaPrivateKey::from_pkcs8_der(&stored.material).map_err(crypto)?;
        Ok(RsaPublicKey::from(&key).to_pkcs1_der().map_err(crypto)?.into_vec())
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.key_path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::KeyNotFound { name: name.into() }),
            Err(e) => Err(Error::io("delete", &path, e)),
        }
    }

    fn names(&self) -> Result<Vec<String>> {
        let dir = self.root.join(KEYS);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.root.join(MARKER).exists() => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn source(&self) -> crate::manifest::Source {
        crate::manifest::Source::Local { path: self.root.display().to_string() }
    }

    fn from_environment(&self) -> bool {
        self.from_environment
    }

    fn create(&self, name: &str, spec: KeySpec) -> Result<Option<String>> {
        if self.exists(name)? {
            return Err(Error::KeyExists { name: name.into() });
        }
        // A second key whose name differs only in case could not be backed up (its key file and the first's are one
        // file on Windows): refused while there is still a choice of name.
        if let Some(other) = self.names()?.into_iter().find(|n| n.eq_ignore_ascii_case(name)) {
            return Err(Error::new(
                ErrorCode::KeyExists,
                format!(
                    "The vault holds the key '{other}', whose name differs from '{name}' only in case: Windows takes their key files for \
                     one, so a backup could not hold both. Give the new key another name."
                ),
            ));
        }
        let material = match spec.key_type {
            KeyType::Aes => {
                let mut key = Zeroizing::new(vec![0u8; 32]);
                OsRng.fill_bytes(&mut key);
                key
            }
            KeyType::Rsa => {
                let key = RsaPrivateKey::new(&mut OsRng, spec.size as usize).map_err(crypto)?;
                Zeroizing::new(key.to_pkcs8_der().map_err(crypto)?.as_bytes().to_vec())
            }
        };
        self.store(name, spec, &material)?;
        Ok(Self::fingerprint(&Stored { spec, material }))
    }
}

/// Checks that unwrapped material is the key the file name and type promise, before it is stored.
fn check_material(name: &str, spec: KeySpec, material: &[u8], public_key: &[u8]) -> Result<()> {
    let bad = |why: String| Err(Error::new(ErrorCode::KeyMaterialInvalid, format!("The key file for '{name}' does not hold the key it names: {why}.")));
    match spec.key_type {
        KeyType::Aes if material.len() * 8 != spec.size as usize => bad(format!("it holds {} bits, not {}", material.len() * 8, spec.size)),
        KeyType::Aes => Ok(()),
        KeyType::Rsa => {
            let Ok(key) = RsaPrivateKey::from_pkcs8_der(material) else {
                return bad("it is not an RSA private key (PKCS#8)".into());
            };
            if key.n().bits() != spec.size as usize {
                return bad(format!("it is a {}-bit key, not {}", key.n().bits(), spec.size));
            }
            let pkcs1 = RsaPublicKey::from(&key).to_pkcs1_der().map_err(crypto)?;
            if !public_key.is_empty() && public_key != pkcs1.as_bytes() {
                return bad("its public key does not match its private key".into());
            }
            Ok(())
        }
    }
}

/// A failure of the RSA library on material the vault holds or made.
fn crypto(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::CryptoFailed, e.to_string())
}
