//! The key vault as the engine sees it: the five operations the original script performs through the
//! Moc cmdlets. The engine never knows which vault it talks to; a vault reports failures as the engine's
//! typed errors (`KeyExists`, `KeyNotFound`, `Timeout`, ...), so recognising a vault's own messages
//! happens once, in that vault's adapter.
//!
//! Operations take file paths, not bytes, because that is MOC's interface: `Export-MocKey -outFile` and
//! `Import-MocKey -importKeyFile`. A file MOC exported is handed back to it unchanged on restore.
pub mod local;
pub mod moc;

use std::path::Path;

pub use crate::api::Key;
use crate::error::{Error, ErrorCode, Result};

pub use local::LocalVault;

/// The key types a TVM vault holds. MOC's type names are case-sensitive: `AES`, `RSA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Aes,
    Rsa,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Aes => "AES",
            KeyType::Rsa => "RSA",
        }
    }

    /// `AES` or `RSA`, exactly; MOC refuses other spellings.
    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "AES" => Some(KeyType::Aes),
            "RSA" => Some(KeyType::Rsa),
            _ => None,
        }
    }
}

/// A key type with a size the vault accepts: AES 256, RSA 2048, 3072 or 4096.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub key_type: KeyType,
    pub size: u32,
}

impl KeySpec {
    pub fn new(key_type: KeyType, size: u32) -> Result<KeySpec> {
        let ok = match key_type {
            KeyType::Aes => size == 256,
            KeyType::Rsa => matches!(size, 2048 | 3072 | 4096),
        };
        if ok {
            Ok(KeySpec { key_type, size })
        } else {
            Err(Error::new(ErrorCode::InvalidKeySize, format!(
                "{size} is not a size the vault accepts for an {} key: use {}.",
                key_type.as_str(),
                match key_type {
                    KeyType::Aes => "256",
                    KeyType::Rsa => "2048, 3072 or 4096",
                }
            )))
        }
    }

    /// Parses a type name and size as the user typed them (`New-TvmVaultKey -Type AES -Size 256`).
    pub fn parse(key_type: &str, size: u32) -> Result<KeySpec> {
        let t = KeyType::parse(key_type).ok_or_else(|| {
            Error::new(ErrorCode::InvalidKeyType, format!("'{key_type}' is not a key type the vault holds: use AES or RSA (upper case)."))
        })?;
        KeySpec::new(t, size)
    }
}

/// The fingerprint a vault lists for an AES key: a one-way digest of its material, domain-separated, first 16
/// bytes in hex; it tells two AES keys apart without revealing either.
pub fn aes_fingerprint(material: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(b"tvmkeys AES key fingerprint\0").chain_update(material).finalize();
    hex::encode(&digest[..16])
}

/// The most vault calls a command may run at a time (`-ThrottleLimit`).
pub const MAX_THROTTLE: u32 = 16;

/// Checks a `-ThrottleLimit` (request field `throttleLimit`): absent is 1, the original's one call at a time.
pub fn check_throttle(throttle: Option<i64>) -> Result<u32> {
    match throttle {
        None => Ok(1),
        Some(n) if (1..=i64::from(MAX_THROTTLE)).contains(&n) => Ok(n as u32),
        Some(n) => Err(Error::for_input(
            ErrorCode::ThrottleLimitInvalid,
            "throttleLimit",
            format!("-ThrottleLimit {n} is out of range: give 1 (one vault call at a time, the default) to {MAX_THROTTLE}."),
        )),
    }
}

/// How many vault calls go to the host together at `throttle`: one at a time for 1 (each call its own, as the
/// original made them); else sixteen rounds of the throttle. The calls of a batch overlap, but a batch waits for
/// its slowest call before the next starts: at eight rounds that wait cost 0.30x of the time at throttle 1
/// where 0.25x is the bound (100 keys, 4 at a time, 50 ms a call), and sixteen halve it, while progress and the
/// read-back of the files still come every second or so. Ctrl+C stops the calls of a batch at once, in the host.
pub fn batch_size(throttle: u32) -> usize {
    if throttle <= 1 {
        1
    } else {
        throttle as usize * 16
    }
}

/// One export of [`Vault::export_many`]: the arguments of [`Vault::export`].
#[derive(Debug, Clone, Copy)]
pub struct ExportJob<'a> {
    pub name: &'a str,
    pub spec: KeySpec,
    pub wrapping_key_path: &'a Path,
    pub wrapping_key_name: Option<&'a str>,
    pub out_file: &'a Path,
}

/// One import of [`Vault::import_many`]: the arguments of [`Vault::import`].
#[derive(Debug, Clone, Copy)]
pub struct ImportJob<'a> {
    pub name: &'a str,
    pub spec: KeySpec,
    pub file: &'a Path,
    pub wrapping_key_name: Option<&'a str>,
}

pub trait Vault {
    /// Every key, in the vault's order. A key's type stays a string because a vault may list types the
    /// backup does not handle; those are reported and skipped, as the original skipped them.
    fn list(&self) -> Result<Vec<Key>>;
    /// The names of every key: what a restore needs to tell which keys exist. A vault that can list names
    /// more cheaply than keys says so here.
    fn names(&self) -> Result<Vec<String>> {
        Ok(self.list()?.into_iter().map(|k| k.name).collect())
    }
    /// Writes `out_file` in the MOC export format (`docs/format.md` section 2), wrapped with the RSA public key PEM
    /// at `wrapping_key_path`. `wrapping_key_name` is the name that public key's private half has in the vault that
    /// will import the file (the vault-to-vault flow, `Export-MocKey -wrappingKeyName`): the file's `key-name`.
    fn export(&self, name: &str, spec: KeySpec, wrapping_key_path: &Path, wrapping_key_name: Option<&str>, out_file: &Path) -> Result<()>;
    /// Imports a key file. `wrapping_key_name` names a key of this vault that unwraps it; `None` for a
    /// `NO_KEY_WRAP` file. A name that exists fails with [`Error::KeyExists`].
    fn import(&self, name: &str, spec: KeySpec, file: &Path, wrapping_key_name: Option<&str>) -> Result<()>;
    /// The PKCS#1 DER of an RSA key's public half (MOC: `Get-MocKeyPublicKey`). A restore uses it to check,
    /// before its first write, that the vault's wrapping key is the one the backup was made for.
    fn public_key(&self, name: &str) -> Result<Vec<u8>>;
    fn delete(&self, name: &str) -> Result<()>;
    /// Creates a new random key; returns its fingerprint where the vault can compute one.
    fn create(&self, name: &str, spec: KeySpec) -> Result<Option<String>>;
    /// Which vault this is, as a backup's manifest and its first host line name it.
    fn source(&self) -> crate::manifest::Source;
    /// True for a local vault chosen by `$env:TVM_VAULT_PATH` instead of by the command's own parameters:
    /// a cluster backup that silently read a test vault must not pass unnoticed.
    fn from_environment(&self) -> bool {
        false
    }
    /// Removes what killed runs left in the vault's own storage, with a warning naming each
    /// ([`crate::sweep`]); a vault that keeps nothing of its callers' does nothing.
    fn sweep(&self, _events: &mut dyn crate::events::Events) {}
    /// Exports each job, up to `throttle` at a time where the vault can overlap its calls; the results are in
    /// the jobs' order. A vault that cannot overlap (the local vault, whose calls are a few milliseconds of
    /// this process's own work) runs them one after the other.
    fn export_many(&self, jobs: &[ExportJob<'_>], _throttle: u32) -> Vec<Result<()>> {
        jobs.iter().map(|j| self.export(j.name, j.spec, j.wrapping_key_path, j.wrapping_key_name, j.out_file)).collect()
    }
    /// Imports each job, as [`Vault::export_many`] exports.
    fn import_many(&self, jobs: &[ImportJob<'_>], _throttle: u32) -> Vec<Result<()>> {
        jobs.iter().map(|j| self.import(j.name, j.spec, j.file, j.wrapping_key_name)).collect()
    }
}
