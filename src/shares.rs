//! Wrapping key shares: the wrapping private key split M of N among custodians (Shamir's secret sharing over
//! GF(256), the `blahaj` crate), so that no single file or person holds it (`docs/format.md` section 10).
//!
//! - [`split`] (Split-TvmWrappingKey) writes N share files; any M of them rebuild the key, M-1 reveal nothing.
//!   Each share is encrypted to one custodian by default: to an RSA public key (RSA-OAEP-SHA256 of a fresh
//!   AES-256 key, then AES key wrap with padding of the share) or under a password (PBES2: PBKDF2-HMAC-SHA256
//!   and AES-256-CBC, the scheme of an encrypted PKCS#8 file).
//! - [`join`] (Join-TvmWrappingKey, and `-SharePath` of the commands that need the private key) rebuilds the
//!   key in memory only and checks that its public half is the key the shares name.
//! - [`test`] (Test-TvmWrappingKeyShare) checks share files without rebuilding anything, so that a custodian
//!   can check a share alone.
//!
//! A share file is self-describing JSON with a checksum over every field, so one changed byte anywhere is
//! named as damage before any key is tried. Every share in clear and the key rebuilt from them live in
//! `Zeroizing` buffers.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::pem::{self, PrivateKey, PublicKey};

/// The `format` of every share file.
pub const FORMAT: &str = "TvmWrappingKeyShare";
/// The share file version this engine writes and reads.
pub const VERSION: u32 = 1;
/// The most shares of one split (and so custodians).
pub const MAX_SHARES: u8 = 16;
/// PBKDF2 iterations of a password envelope, as for an encrypted private key PEM.
pub const PBKDF2_ITERATIONS: u32 = crate::wrapping_key::PBKDF2_ITERATIONS;
/// Fewer iterations than this in a file read are refused as a weakened envelope; more than the maximum, as a
/// file made to hang the reader.
const MIN_ITERATIONS: u32 = 100_000;
const MAX_ITERATIONS: u32 = 10_000_000;
/// A share file is 2 to 3 KB for an RSA-2048 key and about 4 KB for RSA-4096; anything far larger is not one (and is
/// not read whole).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// The algorithm names of the two envelopes.
pub const CUSTODIAN_KEY_ALGORITHM: &str = "RSA-OAEP-SHA256+AES-256-KWP";
pub const PASSWORD_ALGORITHM: &str = "PBES2-PBKDF2-HMAC-SHA256+AES-256-CBC";

/// How a share is kept in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protection {
    /// In clear (`-NoEncryption`): whoever holds the file holds the share.
    None,
    /// Encrypted to a custodian's RSA public key.
    CustodianKey,
    /// Encrypted under a custodian's password.
    Password,
}

/// How a share is encrypted to its custodian (absent for [`Protection::None`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// [`CUSTODIAN_KEY_ALGORITHM`] or [`PASSWORD_ALGORITHM`].
    pub algorithm: String,
    /// CustodianKey: the custodian public key's fingerprint (the module's fingerprint, as for a wrapping key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian_fingerprint: Option<String>,
    /// CustodianKey: the AES-256 key, RSA-OAEP-SHA256 encrypted to the custodian key, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// Password: PBKDF2 iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Password: the PBKDF2 salt (16 bytes), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Password: the AES-256-CBC initialisation vector (16 bytes), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// One share file (`docs/format.md` section 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareFile {
    pub format: String,
    pub version: u32,
    /// 32 hex digits, random per split: shares of two splits of one key never mix.
    pub split_id: String,
    /// 1 to `shares`; the share's x coordinate.
    pub index: u8,
    /// M: how many shares rebuild the key.
    pub threshold: u8,
    /// N: how many shares the split made.
    pub shares: u8,
    /// The wrapping public key's fingerprint (the manifest's `wrappingKeyFingerprint` form).
    pub fingerprint: String,
    /// The wrapping key's size in bits.
    pub key_size: u32,
    /// When the split was made, UTC, RFC 3339.
    pub created: String,
    pub protection: Protection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian: Option<Envelope>,
    /// Base64: the share (index byte, then one byte per byte of the key) in clear, or its envelope's ciphertext.
    pub share: String,
    /// Hex SHA-256 of the share in clear: checks a share once opened (a wrong password, a damaged ciphertext).
    pub share_sha256: String,
    /// Hex SHA-256 of the file's other fields ([`binding`]): one changed byte anywhere is damage.
    pub checksum: String,
}

/// A share in clear (`-NoEncryption`) is in the `share` field: wiped with the struct.
impl Drop for ShareFile {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.share.zeroize();
    }
}

/// A share file as read and checked, with the path it was read from.
struct ReadShare {
    path: PathBuf,
    file: ShareFile,
    /// The `share` field decoded.
    payload: Zeroizing<Vec<u8>>,
}

impl ReadShare {
    fn name(&self) -> String {
        format!("share {} '{}'", self.file.index, self.path.display())
    }
}

/// The text the checksum is taken over: every field but `checksum`, fields of `custodian` as
/// `custodian.<name>`, sorted by name (bytewise), each as `name=value` and a line feed; numbers in decimal.
pub fn binding(file: &ShareFile) -> String {
    let mut fields = BTreeMap::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(file) {
        for (name, value) in map {
            match value {
                serde_json::Value::Object(inner) => {
                    for (n, v) in inner {
                        fields.insert(format!("{name}.{n}"), text_of(&v));
                    }
                }
                v if name != "checksum" => {
                    fields.insert(name, text_of(&v));
                }
                _ => {}
            }
        }
    }
    fields.iter().map(|(n, v)| format!("{n}={v}\n")).collect()
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The file name of share `index` of `shares` for the key `fingerprint`.
pub fn file_name(fingerprint: &str, index: u8, shares: u8) -> String {
    format!("wrapping-key-{}-share-{index}-of-{shares}.json", &fingerprint[..fingerprint.len().min(8)])
}

/// How Split-TvmWrappingKey protects the shares.
pub enum Custodians {
    /// `-NoEncryption`.
    None,
    /// One RSA public key per share, in share order, with the path each was read from.
    Keys(Vec<(PathBuf, PublicKey)>),
    /// One password for every share, or one per share in share order.
    Passwords(Vec<Zeroizing<Vec<u8>>>),
}

/// One share file written or checked: the `TvmWrappingKeyShare` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareInfo {
    pub path: String,
    pub index: u8,
    pub threshold: u8,
    pub shares: u8,
    pub split_id: String,
    pub fingerprint: String,
    pub key_size: u32,
    pub protection: Protection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian_fingerprint: Option<String>,
    /// Test-TvmWrappingKeyShare: `Valid` (sound, not opened), `Opened` (sound and opened with a key or
    /// password given), `Damaged`, `NotOpened` (sound, but none of the keys or passwords given opens it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ShareStatus>,
    /// What was found, for a share that is not `Valid` or `Opened`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// The PowerShell category of `errorId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShareStatus {
    Valid,
    Opened,
    Damaged,
    NotOpened,
}

impl ShareInfo {
    fn of(path: &Path, file: &ShareFile) -> ShareInfo {
        ShareInfo {
            path: path.display().to_string(),
            index: file.index,
            threshold: file.threshold,
            shares: file.shares,
            split_id: file.split_id.clone(),
            fingerprint: file.fingerprint.clone(),
            key_size: file.key_size,
            protection: file.protection,
            custodian_fingerprint: file.custodian.as_ref().and_then(|c| c.custodian_fingerprint.clone()),
            status: None,
            message: None,
            error_id: None,
            category: None,
        }
    }
}

/// The result of a split: the share files written, in share order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Split {
    pub fingerprint: String,
    pub key_size: u32,
    pub split_id: String,
    pub threshold: u8,
    pub shares: u8,
    pub files: Vec<ShareInfo>,
}

/// Checks M and N: 2 ≤ M ≤ N ≤ 16.
pub fn check_threshold(threshold: u32, shares: u32) -> Result<(u8, u8)> {
    if !(2..=MAX_SHARES as u32).contains(&shares) {
        return Err(Error::for_input(
            ErrorCode::ShareCountInvalid,
            "shares",
            format!("-Shares is {shares}; a split makes 2 to {MAX_SHARES} shares. Give a number of custodians from 2 to {MAX_SHARES}."),
        ));
    }
    if threshold < 2 || threshold > shares {
        return Err(Error::for_input(
            ErrorCode::ShareCountInvalid,
            "threshold",
            format!(
                "-Threshold is {threshold} with -Shares {shares}; it must be at least 2 (one share alone must never rebuild the key) \
                 and at most {shares}. Give how many custodians must come together, from 2 to {shares}."
            ),
        ));
    }
    Ok((threshold as u8, shares as u8))
}

/// Split-TvmWrappingKey: `private` split `threshold` of `shares` into share files in `out_dir` (created
/// owner-only if missing). Nothing is written unless everything can be: the custodians, the folder and the
/// file names are checked first, the shares are checked to rebuild the key in memory, and the files are
/// written to temporary names and renamed only when all are written.
pub fn split(
    private: &PrivateKey,
    threshold: u32,
    shares: u32,
    custodians: &Custodians,
    out_dir: &Path,
    force: bool,
    events: &mut dyn Events,
) -> Result<Split> {
    let (m, n) = check_threshold(threshold, shares)?;
    let public = RsaPublicKey::from(&private.key);
    let fingerprint = pem::fingerprint(&public);
    match custodians {
        Custodians::None => {}
        Custodians::Keys(keys) => {
            if keys.len() != n as usize {
                return Err(Error::for_input(
                    ErrorCode::CustodiansInvalid,
                    "custodianPublicKeyPath",
                    format!("{} custodian public keys were given for {n} shares. Give one public key per share, {n} in all.", keys.len()),
                ));
            }
            for (i, (path, key)) in keys.iter().enumerate() {
                if key.key == public {
                    return Err(Error::for_input(
                        ErrorCode::CustodiansInvalid,
                        "custodianPublicKeyPath",
                        format!(
                            "The custodian public key '{}' is the wrapping key itself: its share would open only with the key it protects. \
                             Give each custodian's own public key.",
                            path.display()
                        ),
                    ));
                }
                if let Some((other, _)) = keys[..i].iter().find(|(_, k)| k.key == key.key) {
                    return Err(Error::for_input(
                        ErrorCode::CustodiansInvalid,
                        "custodianPublicKeyPath",
                        format!(
                            "The custodian public keys '{}' and '{}' are the same key: one custodian would hold two shares. Give a \
                             different custodian's key for each share.",
                            other.display(),
                            path.display()
                        ),
                    ));
                }
            }
        }
        Custodians::Passwords(passwords) => {
            if passwords.len() != 1 && passwords.len() != n as usize {
                return Err(Error::for_input(
                    ErrorCode::CustodiansInvalid,
                    "custodianPassword",
                    format!("{} custodian passwords were given for {n} shares. Give one password per share ({n}), or one for all.", passwords.len()),
                ));
            }
            if passwords.iter().any(|p| p.is_empty()) {
                return Err(Error::for_input(ErrorCode::CustodiansInvalid, "custodianPassword", "A custodian password is empty. Give a password for each custodian."));
            }
            if passwords.len() == 1 {
                events.warning(&format!(
                    "Every share is encrypted under the same password: whoever knows it and holds {m} share files can rebuild the key. \
                     Give one password per custodian ({n}) to keep them apart."
                ));
            }
        }
    }
    check_out_dir(out_dir, &fingerprint, n, force)?;

    let secret = &private.pkcs8_der;
    let dealt: Vec<blahaj::Share> = blahaj::Sharks(m).dealer(secret).take(n as usize).collect();
    // The shares must rebuild the key before any of them is handed out: the first M, and the last M.
    for chosen in [&dealt[..m as usize], &dealt[(n - m) as usize..]] {
        let rebuilt = Zeroizing::new(blahaj::Sharks(m).recover(chosen).map_err(|e| crypto(&format!("the shares do not rebuild the key ({e})")))?);
        if rebuilt.as_slice() != secret.as_slice() {
            return Err(crypto("the shares do not rebuild the key"));
        }
    }
    let split_id = {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        hex::encode(id)
    };
    let created = crate::manifest::utc_now();
    let key_size = private.bits() as u32;
    let mut files = Vec::with_capacity(n as usize);
    for (i, share) in dealt.iter().enumerate() {
        let bytes = Zeroizing::new(Vec::<u8>::from(share));
        let index = bytes[0];
        let (protection, custodian, payload) = match custodians {
            Custodians::None => (Protection::None, None, Zeroizing::new(bytes.to_vec())),
            Custodians::Keys(keys) => {
                let (envelope, payload) = seal_to_key(&keys[i].1.key, &bytes)?;
                (Protection::CustodianKey, Some(envelope), Zeroizing::new(payload))
            }
            Custodians::Passwords(passwords) => {
                let password = if passwords.len() == 1 { &passwords[0] } else { &passwords[i] };
                let (envelope, payload) = seal_to_password(password, &bytes)?;
                (Protection::Password, Some(envelope), Zeroizing::new(payload))
            }
        };
        let mut file = ShareFile {
            format: FORMAT.into(),
            version: VERSION,
            split_id: split_id.clone(),
            index,
            threshold: m,
            shares: n,
            fingerprint: fingerprint.clone(),
            key_size,
            created: created.clone(),
            protection,
            custodian,
            share: STANDARD.encode(payload.as_slice()),
            share_sha256: sha256_hex(&bytes),
            checksum: String::new(),
        };
        file.checksum = sha256_hex(binding(&file).as_bytes());
        files.push(file);
    }
    crate::sweep::sweep_share_temp_files(out_dir, events);
    let written = write_all(out_dir, &files, force)?;
    let infos: Vec<ShareInfo> = files.iter().zip(&written).map(|(f, p)| ShareInfo::of(p, f)).collect();
    events.message(&format!(
        "The wrapping key {fingerprint} (RSA {key_size}) is split into {n} shares in {}; any {m} of them rebuild it. Hand each share to \
         its custodian, check them with Test-TvmWrappingKeyShare and Join-TvmWrappingKey, then destroy the private key file.",
        out_dir.display()
    ));
    Ok(Split { fingerprint, key_size, split_id, threshold: m, shares: n, files: infos })
}

fn crypto(why: &str) -> Error {
    Error::new(ErrorCode::CryptoFailed, format!("The split failed: {why}. Nothing was written."))
}

/// The output folder: a folder (made owner-only when missing), without this key's share files unless `force`.
fn check_out_dir(out_dir: &Path, fingerprint: &str, n: u8, force: bool) -> Result<()> {
    if out_dir.is_file() {
        return Err(Error::for_input(ErrorCode::InvalidPath, "outPath", format!("'{}' is a file. Give a folder for the share files.", out_dir.display())));
    }
    if !out_dir.exists() {
        return Ok(());
    }
    if force {
        return Ok(());
    }
    let existing: Vec<String> = (1..=n).map(|i| file_name(fingerprint, i, n)).filter(|name| out_dir.join(name).exists()).collect();
    if !existing.is_empty() {
        return Err(Error::for_input(
            ErrorCode::ShareFileExists,
            "outPath",
            format!(
                "The folder '{}' holds share files of this key already ({}). Give another folder, or add -Force to replace them (the \
                 shares they hold are then lost).",
                out_dir.display(),
                existing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Writes every share file to a temporary name, then renames them all; on any failure nothing is left.
fn write_all(out_dir: &Path, files: &[ShareFile], force: bool) -> Result<Vec<PathBuf>> {
    use std::io::Write;
    if !out_dir.exists() {
        crate::owner_only::create_dir(out_dir).map_err(|e| Error::io("create", out_dir, e))?;
    }
    let mut temps = Vec::with_capacity(files.len());
    for file in files {
        let json = Zeroizing::new(serde_json::to_vec_pretty(file).map_err(|e| crypto(&e.to_string()))?);
        let mut temp = crate::owner_only::temp_file_in(out_dir, &crate::sweep::share_temp_prefix(), ".tmp").map_err(|e| Error::io("create a file in", out_dir, e))?;
        temp.write_all(&json).and_then(|()| temp.as_file().sync_all()).map_err(|e| Error::io("write", temp.path(), e))?;
        temps.push(temp);
    }
    let mut written: Vec<PathBuf> = Vec::with_capacity(files.len());
    for (temp, file) in temps.into_iter().zip(files) {
        let path = out_dir.join(file_name(&file.fingerprint, file.index, file.shares));
        let persisted = if force { temp.persist(&path).map(|_| ()) } else { temp.persist_noclobber(&path).map(|_| ()) };
        if let Err(e) = persisted {
            for done in &written {
                let _ = std::fs::remove_file(done);
            }
            return Err(Error::io("write", &path, e.error));
        }
        written.push(path);
    }
    Ok(written)
}

fn seal_to_key(custodian: &RsaPublicKey, share: &[u8]) -> Result<(Envelope, Vec<u8>)> {
    let mut kek = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(kek.as_mut());
    let encrypted_key = custodian
        .encrypt(&mut rand::rngs::OsRng, Oaep::new::<Sha256>(), kek.as_ref())
        .map_err(|e| crypto(&format!("RSA-OAEP encryption to a custodian key failed ({e})")))?;
    let payload = aes_kw::KekAes256::new(kek.as_ref().into())
        .wrap_with_padding_vec(share)
        .map_err(|e| crypto(&format!("AES key wrap failed ({e})")))?;
    let envelope = Envelope {
        algorithm: CUSTODIAN_KEY_ALGORITHM.into(),
        custodian_fingerprint: Some(pem::fingerprint(custodian)),
        encrypted_key: Some(STANDARD.encode(encrypted_key)),
        iterations: None,
        salt: None,
        iv: None,
    };
    Ok((envelope, payload))
}

fn seal_to_password(password: &[u8], share: &[u8]) -> Result<(Envelope, Vec<u8>)> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv).map_err(|e| crypto(&e.to_string()))?;
    let payload = params.encrypt(password, share).map_err(|e| crypto(&format!("PBES2 encryption failed ({e})")))?;
    let envelope = Envelope {
        algorithm: PASSWORD_ALGORITHM.into(),
        custodian_fingerprint: None,
        encrypted_key: None,
        iterations: Some(PBKDF2_ITERATIONS),
        salt: Some(STANDARD.encode(salt)),
        iv: Some(STANDARD.encode(iv)),
    };
    Ok((envelope, payload))
}

fn damaged(path: &Path, why: &str) -> Error {
    Error::for_input(
        ErrorCode::ShareInvalid,
        "sharePath",
        format!("The share file '{}' is damaged or is not a share file: {why}. Ask its custodian for an intact copy.", path.display()),
    )
}

/// Reads one share file and checks everything that needs no key: JSON, format, version, checksum, ranges.
fn read_share(path: &Path) -> Result<ReadShare> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::for_input(
            ErrorCode::FileMissing,
            "sharePath",
            format!("The share file '{}' does not exist. Check the path and try again.", path.display()),
        ),
        _ => Error::io("read", path, e),
    })?;
    if meta.is_dir() {
        return Err(Error::for_input(ErrorCode::InvalidPath, "sharePath", format!("'{}' is a folder. Give the path of a share file.", path.display())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(damaged(path, &format!("it is {} bytes, and a share file is a few kilobytes", meta.len())));
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io("read", path, e))?);
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| damaged(path, &format!("it is not valid JSON ({e})")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        _ => return Err(damaged(path, &format!("it has no \"format\": \"{FORMAT}\""))),
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => {
            return Err(Error::for_input(
                ErrorCode::ShareInvalid,
                "sharePath",
                format!(
                    "The share file '{}' is of version {v}; this module reads version {VERSION}. It is damaged, or was written by a newer \
                     TvmBackupUtils: use that version.",
                    path.display()
                ),
            ))
        }
        None => return Err(damaged(path, "it has no version")),
    }
    let file: ShareFile = serde_json::from_value(value).map_err(|e| damaged(path, &e.to_string()))?;
    if sha256_hex(binding(&file).as_bytes()) != file.checksum {
        return Err(damaged(path, "its checksum does not match its contents"));
    }
    let is_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !is_hex(&file.split_id, 32) || !is_hex(&file.fingerprint, 32) || !is_hex(&file.share_sha256, 64) {
        return Err(damaged(path, "its split id, fingerprint or share hash is not hex of the right length"));
    }
    if check_threshold(file.threshold as u32, file.shares as u32).is_err() || file.index == 0 || file.index > file.shares {
        return Err(damaged(path, &format!("share {} of a {}-of-{} split cannot be", file.index, file.threshold, file.shares)));
    }
    let payload = Zeroizing::new(STANDARD.decode(&file.share).map_err(|_| damaged(path, "its share is not base64"))?);
    let envelope_ok = match (file.protection, &file.custodian) {
        (Protection::None, None) => payload.first() == Some(&file.index) && payload.len() > 1,
        (Protection::CustodianKey, Some(c)) => {
            c.algorithm == CUSTODIAN_KEY_ALGORITHM
                && c.custodian_fingerprint.as_deref().is_some_and(|f| is_hex(f, 32))
                && c.encrypted_key.is_some()
                && c.iterations.is_none()
                && c.salt.is_none()
                && c.iv.is_none()
        }
        (Protection::Password, Some(c)) => {
            c.algorithm == PASSWORD_ALGORITHM
                && c.iterations.is_some_and(|i| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&i))
                && c.salt.is_some()
                && c.iv.is_some()
                && c.encrypted_key.is_none()
                && c.custodian_fingerprint.is_none()
        }
        _ => false,
    };
    if !envelope_ok {
        return Err(damaged(path, "its protection and its custodian envelope do not agree"));
    }
    Ok(ReadShare { path: path.to_path_buf(), file, payload })
}

/// Custodian keys and passwords to open shares with.
pub struct Openers<'a> {
    /// Custodian private keys, with the path each was read from.
    pub keys: &'a [(PathBuf, PrivateKey)],
    pub passwords: &'a [Zeroizing<Vec<u8>>],
}

/// The share in clear, or why it cannot be opened.
fn open(share: &ReadShare, openers: &Openers<'_>) -> Result<Zeroizing<Vec<u8>>> {
    let file = &share.file;
    let clear = match (file.protection, &file.custodian) {
        (Protection::None, _) => share.payload.clone(),
        (Protection::CustodianKey, Some(c)) => {
            let wanted = c.custodian_fingerprint.clone().unwrap_or_default();
            let Some((key_path, key)) = openers.keys.iter().find(|(_, k)| pem::fingerprint(&RsaPublicKey::from(&k.key)) == wanted) else {
                return Err(Error::for_input(
                    ErrorCode::ShareLocked,
                    "custodianPrivateKeyPath",
                    format!(
                        "The {} is encrypted to the custodian key {wanted}, and {}. Give that custodian's private key with \
                         -CustodianPrivateKeyPath.",
                        share.name(),
                        if openers.keys.is_empty() { "no custodian private key was given".to_string() } else { "none of the custodian private keys given is that key".to_string() }
                    ),
                ));
            };
            let encrypted_key = STANDARD.decode(c.encrypted_key.as_deref().unwrap_or_default()).map_err(|_| damaged(&share.path, "its encrypted key is not base64"))?;
            let kek = Zeroizing::new(key.key.decrypt(Oaep::new::<Sha256>(), &encrypted_key).map_err(|_| {
                damaged(&share.path, &format!("the custodian key '{}' is the key it names, and does not decrypt it", key_path.display()))
            })?);
            if kek.len() != 32 {
                return Err(damaged(&share.path, "its encrypted key is not an AES-256 key"));
            }
            Zeroizing::new(
                aes_kw::KekAes256::new(kek.as_slice().into())
                    .unwrap_with_padding_vec(&share.payload)
                    .map_err(|_| damaged(&share.path, "its encrypted share fails the AES key wrap integrity check"))?,
            )
        }
        (Protection::Password, Some(c)) => {
            if openers.passwords.is_empty() {
                return Err(Error::for_input(
                    ErrorCode::ShareLocked,
                    "custodianPassword",
                    format!("The {} is encrypted under its custodian's password. Give it with -CustodianPassword.", share.name()),
                ));
            }
            let salt = STANDARD.decode(c.salt.as_deref().unwrap_or_default()).map_err(|_| damaged(&share.path, "its salt is not base64"))?;
            let iv: [u8; 16] = STANDARD
                .decode(c.iv.as_deref().unwrap_or_default())
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| damaged(&share.path, "its iv is not 16 bytes of base64"))?;
            let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(c.iterations.unwrap_or(PBKDF2_ITERATIONS), &salt, &iv)
                .map_err(|_| damaged(&share.path, "its PBES2 parameters cannot be used"))?;
            let opened = openers.passwords.iter().find_map(|p| {
                let clear = Zeroizing::new(params.decrypt(p.as_slice(), &share.payload).ok()?);
                (sha256_hex(&clear) == file.share_sha256).then_some(clear)
            });
            opened.ok_or_else(|| {
                Error::for_input(
                    ErrorCode::SharePasswordWrong,
                    "custodianPassword",
                    format!(
                        "The {} could not be opened with {}: the password is wrong, or the file is damaged. Ask its custodian for the password.",
                        share.name(),
                        if openers.passwords.len() == 1 { "the password given".to_string() } else { format!("any of the {} passwords given", openers.passwords.len()) }
                    ),
                )
            })?
        }
        _ => return Err(damaged(&share.path, "its protection and its custodian envelope do not agree")),
    };
    if sha256_hex(&clear) != file.share_sha256 || clear.first() != Some(&file.index) {
        return Err(damaged(&share.path, "the share inside does not match its SHA-256"));
    }
    Ok(clear)
}

/// The key rebuilt by [`join`], with what it was rebuilt from.
pub struct Joined {
    pub key: PrivateKey,
    pub fingerprint: String,
    pub split_id: String,
    pub threshold: u8,
    pub shares: u8,
    /// The share indexes used, ascending.
    pub used: Vec<u8>,
}

/// Reads the share files and refuses a set that cannot rebuild one key: a file that is damaged, files of
/// different splits, two different files claiming one index, fewer distinct shares than the threshold.
/// Duplicates (one index, the same file contents) count once. Returns one share per index, in index order.
fn read_set(paths: &[PathBuf], events: &mut dyn Events) -> Result<Vec<ReadShare>> {
    if paths.is_empty() {
        return Err(Error::for_input(ErrorCode::ShareTooFew, "sharePath", "No share file was given. Give the share files of the custodians with -SharePath."));
    }
    let mut set: Vec<ReadShare> = Vec::new();
    for path in paths {
        let share = read_share(path)?;
        if let Some(first) = set.first() {
            let (a, b) = (&first.file, &share.file);
            if a.split_id != b.split_id || a.fingerprint != b.fingerprint || a.threshold != b.threshold || a.shares != b.shares {
                return Err(Error::for_input(
                    ErrorCode::ShareSplitMismatch,
                    "sharePath",
                    format!(
                        "The share files '{}' (split {}, {} of {}, wrapping key {}) and '{}' (split {}, {} of {}, wrapping key {}) are of different \
                         splits; shares of different splits never rebuild a key. Give shares of one split only.",
                        first.path.display(), a.split_id, a.threshold, a.shares, a.fingerprint,
                        share.path.display(), b.split_id, b.threshold, b.shares, b.fingerprint
                    ),
                ));
            }
        }
        if let Some(same) = set.iter().find(|s| s.file.index == share.file.index) {
            if same.file != share.file {
                return Err(Error::for_input(
                    ErrorCode::ShareInvalid,
                    "sharePath",
                    format!(
                        "The share files '{}' and '{}' both hold share {} of split {}, with different contents: one of them is not what its \
                         custodian was given. Ask the custodians for intact copies.",
                        same.path.display(),
                        share.path.display(),
                        share.file.index,
                        share.file.split_id
                    ),
                ));
            }
            events.verbose(&format!("The share file '{}' is share {} again ('{}'); it counts once.", share.path.display(), share.file.index, same.path.display()));
            continue;
        }
        set.push(share);
    }
    set.sort_by_key(|s| s.file.index);
    let first = &set[0].file;
    if set.len() < first.threshold as usize {
        let missing = first.threshold as usize - set.len();
        let have: Vec<String> = set.iter().map(|s| s.file.index.to_string()).collect();
        return Err(Error::for_input(
            ErrorCode::ShareTooFew,
            "sharePath",
            format!(
                "{} shares of the wrapping key {} rebuild it (a {}-of-{} split), and {} {} given (share{} {}). Give {missing} more share file{}; \
                 fewer than {} reveal nothing of the key.",
                first.threshold,
                first.fingerprint,
                first.threshold,
                first.shares,
                set.len(),
                if set.len() == 1 { "was" } else { "were" },
                if set.len() == 1 { "" } else { "s" },
                have.join(", "),
                if missing == 1 { "" } else { "s" },
                first.threshold
            ),
        ));
    }
    Ok(set)
}

/// Join-TvmWrappingKey: the wrapping private key rebuilt in memory from `paths`, each share opened with the
/// custodian keys or passwords of `openers`, and checked to be the key the shares name.
pub fn join(paths: &[PathBuf], openers: &Openers<'_>, events: &mut dyn Events) -> Result<Joined> {
    let set = read_set(paths, events)?;
    let first = &set[0].file;
    let mut opened: Vec<blahaj::Share> = Vec::with_capacity(set.len());
    for share in &set {
        let clear = open(share, openers)?;
        let parsed = blahaj::Share::try_from(clear.as_slice()).map_err(|_| damaged(&share.path, "the share inside cannot be read"))?;
        if opened.first().is_some_and(|o| o.y.len() != parsed.y.len()) {
            return Err(damaged(&share.path, "its share is not as long as the others"));
        }
        events.verbose(&format!("Opened {}.", share.name()));
        opened.push(parsed);
    }
    let rebuilt = Zeroizing::new(
        blahaj::Sharks(first.threshold)
            .recover(&opened)
            .map_err(|e| Error::for_input(ErrorCode::ShareTooFew, "sharePath", format!("The shares do not rebuild the key: {e}.")))?,
    );
    let not_the_key = |why: &str| {
        Error::for_input(
            ErrorCode::ShareRebuildFailed,
            "sharePath",
            format!(
                "The shares given ({}) are intact and of one split, yet they rebuild {why}, not the wrapping key {}: a share was made \
                 anew or altered along with its checksum. Ask the custodians for their original shares.",
                set.iter().map(|s| format!("'{}'", s.path.display())).collect::<Vec<_>>().join(", "),
                first.fingerprint
            ),
        )
    };
    let key = RsaPrivateKey::from_pkcs8_der(&rebuilt).map_err(|_| not_the_key("no RSA private key"))?;
    let fingerprint = pem::fingerprint(&RsaPublicKey::from(&key));
    if fingerprint != first.fingerprint {
        return Err(not_the_key(&format!("the key {fingerprint}")));
    }
    let pkcs8_der = Zeroizing::new(key.to_pkcs8_der().map_err(|e| crypto(&e.to_string()))?.as_bytes().to_vec());
    events.verbose(&format!(
        "The wrapping key {fingerprint} is rebuilt in memory from shares {} of the {}-of-{} split {}.",
        set.iter().map(|s| s.file.index.to_string()).collect::<Vec<_>>().join(", "),
        first.threshold,
        first.shares,
        first.split_id
    ));
    Ok(Joined {
        key: PrivateKey { key, pkcs8_der },
        fingerprint,
        split_id: first.split_id.clone(),
        threshold: first.threshold,
        shares: first.shares,
        used: set.iter().map(|s| s.file.index).collect(),
    })
}

/// Test-TvmWrappingKeyShare: each file checked alone (structure, checksum, ranges), and opened when a key or
/// password is given for it; nothing is rebuilt. One result per file, in the order given; a file that cannot
/// be read at all is reported `Damaged` with the error, not thrown.
/// Ctrl+C (a cancel reply to a progress event) stops between files.
pub fn test(paths: &[PathBuf], openers: &Openers<'_>, events: &mut dyn Events) -> Result<Vec<ShareInfo>> {
    let mut results = Vec::with_capacity(paths.len());
    let total = paths.len() as u32;
    for (i, path) in paths.iter().enumerate() {
        if events.progress("Checking wrapping key shares", i as u32 + 1, total) == crate::events::Reply::Cancel {
            return Err(Error::Cancelled("The check of the wrapping key shares was stopped.".into()));
        }
        let info = match read_share(path) {
            Err(e) => ShareInfo {
                path: path.display().to_string(),
                index: 0,
                threshold: 0,
                shares: 0,
                split_id: String::new(),
                fingerprint: String::new(),
                key_size: 0,
                protection: Protection::None,
                custodian_fingerprint: None,
                status: Some(ShareStatus::Damaged),
                message: Some(e.to_string()),
                error_id: Some(e.code().as_str()),
                category: Some(e.code().category().into()),
            },
            Ok(share) => {
                let mut info = ShareInfo::of(path, &share.file);
                let give_opener = match share.file.protection {
                    Protection::None => true,
                    Protection::CustodianKey => !openers.keys.is_empty(),
                    Protection::Password => !openers.passwords.is_empty(),
                };
                if !give_opener {
                    info.status = Some(ShareStatus::Valid);
                } else {
                    match open(&share, openers) {
                        Ok(_) => info.status = Some(if share.file.protection == Protection::None { ShareStatus::Valid } else { ShareStatus::Opened }),
                        Err(e) => {
                            info.status = Some(if e.code() == ErrorCode::ShareInvalid { ShareStatus::Damaged } else { ShareStatus::NotOpened });
                            info.message = Some(e.to_string());
                            info.error_id = Some(e.code().as_str());
                            info.category = Some(e.code().category().into());
                        }
                    }
                }
                info
            }
        };
        results.push(info);
    }
    // Which splits the files belong to, and whether each has enough intact shares.
    let mut splits: BTreeMap<(String, String), (u8, u8, Vec<u8>)> = BTreeMap::new();
    for r in results.iter().filter(|r| matches!(r.status, Some(ShareStatus::Valid | ShareStatus::Opened))) {
        let entry = splits.entry((r.split_id.clone(), r.fingerprint.clone())).or_insert((r.threshold, r.shares, Vec::new()));
        if !entry.2.contains(&r.index) {
            entry.2.push(r.index);
        }
    }
    for ((split_id, fingerprint), (m, n, mut have)) in splits {
        have.sort_unstable();
        let list = have.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
        events.verbose(&format!(
            "Split {split_id} of the wrapping key {fingerprint} ({m} of {n}): intact shares {list}; {}.",
            if have.len() >= m as usize { "enough to rebuild the key".to_string() } else { format!("{} more needed to rebuild the key", m as usize - have.len()) }
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::NoEvents;

    fn key() -> PrivateKey {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pkcs8_der = Zeroizing::new(key.to_pkcs8_der().unwrap().as_bytes().to_vec());
        PrivateKey { key, pkcs8_der }
    }

    fn paths(split: &Split) -> Vec<PathBuf> {
        split.files.iter().map(|f| PathBuf::from(&f.path)).collect()
    }

    const NO_OPENERS: Openers<'static> = Openers { keys: &[], passwords: &[] };

    #[test]
    fn every_three_of_five_rebuilds_and_every_two_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let s = split(&k, 3, 5, &Custodians::None, dir.path(), false, &mut NoEvents).unwrap();
        let all = paths(&s);
        for a in 0..5 {
            for b in a + 1..5 {
                let e = join(&[all[a].clone(), all[b].clone()], &NO_OPENERS, &mut NoEvents).err().unwrap();
                assert_eq!(e.code(), ErrorCode::ShareTooFew);
                assert!(e.to_string().contains("Give 1 more share file"), "{e}");
                for c in b + 1..5 {
                    let j = join(&[all[c].clone(), all[a].clone(), all[b].clone()], &NO_OPENERS, &mut NoEvents).unwrap();
                    assert_eq!(j.key.key, k.key);
                    assert_eq!(j.used, vec![a as u8 + 1, b as u8 + 1, c as u8 + 1]);
                }
            }
        }
        // Duplicates count once.
        let e = join(&[all[0].clone(), all[0].clone(), all[1].clone()], &NO_OPENERS, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::ShareTooFew);
    }

    #[test]
    fn mixed_splits_and_flipped_bytes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let one = split(&k, 2, 3, &Custodians::None, &dir.path().join("one"), false, &mut NoEvents).unwrap();
        let two = split(&k, 2, 3, &Custodians::None, &dir.path().join("two"), false, &mut NoEvents).unwrap();
        let e = join(&[paths(&one)[0].clone(), paths(&two)[1].clone()], &NO_OPENERS, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::ShareSplitMismatch);
        assert!(e.to_string().contains(&one.split_id) && e.to_string().contains(&two.split_id));
        // Every byte of a share file flipped in turn is damage, named.
        let target = paths(&one)[0].clone();
        let original = std::fs::read(&target).unwrap();
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            std::fs::write(&target, &bytes).unwrap();
            let e = join(&[target.clone(), paths(&one)[1].clone()], &NO_OPENERS, &mut NoEvents).err().unwrap_or_else(|| panic!("byte {i} flipped was accepted"));
            assert_eq!(e.code(), ErrorCode::ShareInvalid, "byte {i}: {e}");
            assert!(e.to_string().contains(&target.display().to_string()), "{e}");
        }
        std::fs::write(&target, &original).unwrap();
        assert!(join(&paths(&one)[..2], &NO_OPENERS, &mut NoEvents).is_ok());
    }

    #[test]
    fn custodian_keys_and_passwords_open_their_shares_only() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let custodians: Vec<PrivateKey> = (0..3).map(|_| key()).collect();
        let publics: Vec<(PathBuf, PublicKey)> = custodians
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let key = RsaPublicKey::from(&c.key);
                (PathBuf::from(format!("c{i}.pem")), PublicKey { pkcs1_der: rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&key).unwrap().into_vec(), key })
            })
            .collect();
        let s = split(&k, 2, 3, &Custodians::Keys(publics), &dir.path().join("k"), false, &mut NoEvents).unwrap();
        let held: Vec<(PathBuf, PrivateKey)> = custodians.into_iter().enumerate().map(|(i, c)| (PathBuf::from(format!("c{i}")), c)).collect();
        let e = join(&paths(&s)[..2], &NO_OPENERS, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::ShareLocked);
        let j = join(&paths(&s)[1..], &Openers { keys: &held[1..], passwords: &[] }, &mut NoEvents).unwrap();
        assert_eq!(j.key.key, k.key);
        let e = join(&paths(&s)[..2], &Openers { keys: &held[1..], passwords: &[] }, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::ShareLocked);

        let pw: Vec<Zeroizing<Vec<u8>>> = ["a", "b", "c"].iter().map(|p| Zeroizing::new(p.as_bytes().to_vec())).collect();
        let s = split(&k, 2, 3, &Custodians::Passwords(pw.clone()), &dir.path().join("p"), false, &mut NoEvents).unwrap();
        let j = join(&paths(&s)[..2], &Openers { keys: &[], passwords: &pw }, &mut NoEvents).unwrap();
        assert_eq!(j.key.key, k.key);
        let e = join(&paths(&s)[..2], &Openers { keys: &[], passwords: &pw[2..] }, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::SharePasswordWrong);
        let checks = test(&paths(&s), &Openers { keys: &[], passwords: &pw[..1] }, &mut NoEvents).unwrap();
        let status: Vec<_> = checks.iter().map(|c| c.status.unwrap()).collect();
        assert_eq!(status, vec![ShareStatus::Opened, ShareStatus::NotOpened, ShareStatus::NotOpened]);
        assert!(test(&paths(&s), &NO_OPENERS, &mut NoEvents).unwrap().iter().all(|c| c.status == Some(ShareStatus::Valid)));
    }

    #[test]
    fn thresholds_out_of_range_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        for (m, n) in [(1, 3), (4, 3), (2, 17), (0, 0), (2, 1)] {
            let out = dir.path().join(format!("{m}-{n}"));
            let e = split(&k, m, n, &Custodians::None, &out, false, &mut NoEvents).err().unwrap();
            assert_eq!(e.code(), ErrorCode::ShareCountInvalid);
            assert!(!out.exists());
        }
        let s = split(&k, 2, 2, &Custodians::None, dir.path(), false, &mut NoEvents).unwrap();
        let e = split(&k, 2, 2, &Custodians::None, dir.path(), false, &mut NoEvents).err().unwrap();
        assert_eq!(e.code(), ErrorCode::ShareFileExists);
        assert!(join(&paths(&s), &NO_OPENERS, &mut NoEvents).is_ok(), "the refused split left the first one intact");
    }
}
