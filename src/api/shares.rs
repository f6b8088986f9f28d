//! `tvm_split_wrapping_key` (Split-TvmWrappingKey), `tvm_join_wrapping_key` (Join-TvmWrappingKey),
//! `tvm_test_wrapping_key_share` (Test-TvmWrappingKeyShare), and the wrapping private key of the commands that
//! take `sharePaths` in place of `privateKeyPath` ([`wrapping_private_key`]).
//!
//! The passwords of these requests cross beside them as a secret list ([`Secrets`]): the private key file's
//! password and the custodians' passwords, never in a JSON text.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::checked_path;
use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::pem::{self, PrivateKey};
use crate::shares::{self, Custodians, Openers, ShareInfo, Split};

/// The passwords of one call, as the secret list gives them: records of a tag byte, a length (u32,
/// little-endian) and that many bytes of UTF-8. Tag 1: the password of the private key file the command
/// reads or writes (at most one); tag 2: a custodian's password (any number, in order).
#[derive(Default)]
pub struct Secrets {
    pub key_password: Option<Zeroizing<Vec<u8>>>,
    pub custodian_passwords: Vec<Zeroizing<Vec<u8>>>,
}

pub const SECRET_KEY_PASSWORD: u8 = 1;
pub const SECRET_CUSTODIAN_PASSWORD: u8 = 2;

impl Secrets {
    /// Reads a secret list; NULL (none) is an empty list.
    pub fn parse(bytes: Option<&[u8]>) -> Result<Secrets> {
        let bad = |why: &str| Error::new(ErrorCode::InvalidRequest, format!("The secret list is not valid: {why}."));
        let mut secrets = Secrets::default();
        let mut rest = bytes.unwrap_or_default();
        while !rest.is_empty() {
            if rest.len() < 5 {
                return Err(bad("a record is cut short"));
            }
            let tag = rest[0];
            let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let Some(value) = rest.get(5..5 + len) else { return Err(bad("a record is longer than the list")) };
            let value = Zeroizing::new(value.to_vec());
            match tag {
                SECRET_KEY_PASSWORD if secrets.key_password.is_none() => secrets.key_password = Some(value),
                SECRET_KEY_PASSWORD => return Err(bad("it holds two private key passwords")),
                SECRET_CUSTODIAN_PASSWORD => secrets.custodian_passwords.push(value),
                t => return Err(bad(&format!("a record has the unknown tag {t}"))),
            }
            rest = &rest[5 + len..];
        }
        Ok(secrets)
    }

    /// Writes a secret list (the C# shim does the same; the tests use this).
    pub fn encode(key_password: Option<&[u8]>, custodian_passwords: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        let records = key_password.map(|p| (SECRET_KEY_PASSWORD, p)).into_iter().chain(custodian_passwords.iter().map(|p| (SECRET_CUSTODIAN_PASSWORD, *p)));
        for (tag, value) in records {
            out.push(tag);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
        out
    }
}

fn paths(values: &[String], input: &'static str, what: &str) -> Result<Vec<PathBuf>> {
    values.iter().map(|v| checked_path(v, input, what).map(PathBuf::from)).collect()
}

/// The custodians' private keys, each read with no password or, when it is encrypted, with the first
/// custodian password that opens it.
fn custodian_keys(values: &[String], passwords: &[Zeroizing<Vec<u8>>]) -> Result<Vec<(PathBuf, PrivateKey)>> {
    let mut keys = Vec::with_capacity(values.len());
    for path in paths(values, "custodianPrivateKeyPath", "custodian private key path")? {
        let read = |pw: Option<&[u8]>| pem::read_private_key_with(&path, "custodian private key", pw);
        let key = match read(None) {
            Ok(k) => k,
            Err(e) if e.code() == ErrorCode::PemEncrypted => {
                let opened = passwords.iter().find_map(|p| read(Some(p.as_slice())).ok());
                opened.ok_or_else(|| {
                    Error::for_input(
                        if passwords.is_empty() { ErrorCode::PemEncrypted } else { ErrorCode::PemPasswordWrong },
                        "custodianPassword",
                        format!(
                            "The custodian private key file '{}' is encrypted, and {}. Give its password with -CustodianPassword.",
                            path.display(),
                            if passwords.is_empty() { "no password was given" } else { "no password given opens it" }
                        ),
                    )
                })?
            }
            Err(e) => return Err(e.concerning("custodianPrivateKeyPath")),
        };
        keys.push((path, key));
    }
    Ok(keys)
}

/// The wrapping private key of a command given `sharePaths` (Import-TvmWrappingKeyFromPem, Test-TVMKeyBackup
/// -Deep, Import-TVMKeys): rebuilt in memory from the shares, never written. `secret` is then a secret list of
/// custodian passwords. None when no share is given (the command reads its `privateKeyPath` as before).
pub(crate) fn wrapping_private_key(
    private_key_path: Option<&str>,
    share_paths: &[String],
    custodian_private_key_paths: &[String],
    secret: Option<&[u8]>,
    events: &mut dyn Events,
) -> Result<Option<PrivateKey>> {
    if share_paths.is_empty() {
        if !custodian_private_key_paths.is_empty() {
            return Err(Error::for_input(
                ErrorCode::InvalidRequest,
                "custodianPrivateKeyPath",
                "Custodian private keys open shares, and no share was given. Give the share files with -SharePath.",
            ));
        }
        return Ok(None);
    }
    if private_key_path.is_some() {
        return Err(Error::for_input(
            ErrorCode::InvalidRequest,
            "sharePath",
            "Both a private key file and shares were given. Give the wrapping private key one way: -PrivateKeyPath or -SharePath.",
        ));
    }
    let secrets = Secrets::parse(secret)?;
    let keys = custodian_keys(custodian_private_key_paths, &secrets.custodian_passwords)?;
    let joined = shares::join(&paths(share_paths, "sharePath", "share path")?, &Openers { keys: &keys, passwords: &secrets.custodian_passwords }, events)?;
    Ok(Some(joined.key))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SplitWrappingKeyRequest {
    /// The wrapping private key PEM (PKCS#8, plain or encrypted; PKCS#1); its password is tag 1 of the secret list.
    pub private_key_path: String,
    /// M: how many shares rebuild the key.
    pub threshold: u32,
    /// N: how many shares to make.
    pub shares: u32,
    /// The folder the share files go to (made owner-only when missing).
    pub out_path: String,
    /// One RSA public key PEM per share, in share order; or the custodian passwords of the secret list; or `noEncryption`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_public_key_paths: Vec<String>,
    /// Write the shares in clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_encryption: bool,
    /// Replace share files of this key in `outPath`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// The `TvmWrappingKeySplit` object.
pub type SplitWrappingKeyResult = Split;

pub fn split(request: &SplitWrappingKeyRequest, secret: Option<&[u8]>, events: &mut dyn Events) -> Result<SplitWrappingKeyResult> {
    // M and N are checked before any file is read; shares::split checks them again for its other callers.
    let (_, count) = shares::check_threshold(request.threshold, request.shares)?;
    let private_path = checked_path(&request.private_key_path, "privateKeyPath", "private key path")?;
    let out = checked_path(&request.out_path, "outPath", "output folder")?;
    let secrets = Secrets::parse(secret)?;
    let custodians = match (request.custodian_public_key_paths.is_empty(), secrets.custodian_passwords.is_empty(), request.no_encryption) {
        (true, true, true) => Custodians::None,
        (false, true, false) => {
            let mut keys = Vec::new();
            for path in paths(&request.custodian_public_key_paths, "custodianPublicKeyPath", "custodian public key path")? {
                let key = pem::read_public_key(&path, "custodian public key").map_err(|e| e.concerning("custodianPublicKeyPath"))?;
                if key.bits() < 2048 {
                    return Err(Error::for_input(
                        ErrorCode::CustodiansInvalid,
                        "custodianPublicKeyPath",
                        format!("The custodian public key '{}' is RSA {}; a share is encrypted only to RSA 2048 or larger. Give that custodian a larger key.", path.display(), key.bits()),
                    ));
                }
                keys.push((path, key));
            }
            Custodians::Keys(keys)
        }
        (true, false, false) => Custodians::Passwords(secrets.custodian_passwords),
        (true, true, false) => {
            return Err(Error::for_input(
                ErrorCode::CustodiansInvalid,
                "custodianPublicKeyPath",
                format!(
                    "No custodian was given. Give -CustodianPublicKeyPath (one RSA public key per share, {count} in all) or -CustodianPassword; \
                     or -NoEncryption to write the shares in clear."
                ),
            ))
        }
        _ => {
            return Err(Error::for_input(
                ErrorCode::CustodiansInvalid,
                "noEncryption",
                "The shares can be protected one way: -CustodianPublicKeyPath, -CustodianPassword or -NoEncryption. Give one of them.",
            ))
        }
    };
    let private = pem::read_private_key_with(Path::new(private_path), "wrapping private key", secrets.key_password.as_ref().map(|p| p.as_slice()))
        .map_err(|e| match e.input() {
            Some(_) => e,
            None => e.concerning("privateKeyPath"),
        })?;
    shares::split(&private, request.threshold, request.shares, &custodians, Path::new(out), request.force, events)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinWrappingKeyRequest {
    /// The share files, at least the threshold of them.
    pub share_paths: Vec<String>,
    /// The custodians' private key PEMs that open shares encrypted to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_private_key_paths: Vec<String>,
    /// Write the rebuilt key as a PEM here (PKCS#8; encrypted when tag 1 of the secret list is given). Absent: the
    /// key is rebuilt, checked and dropped; nothing is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_file: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// The `TvmWrappingKeyJoin` object: what the shares rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinWrappingKeyResult {
    pub fingerprint: String,
    pub key_size: u32,
    pub split_id: String,
    pub threshold: u8,
    pub shares: u8,
    /// The share indexes the key was rebuilt from.
    pub used: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_file: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

pub fn join(request: &JoinWrappingKeyRequest, secret: Option<&[u8]>, events: &mut dyn Events) -> Result<JoinWrappingKeyResult> {
    let out = match request.out_file.as_deref() {
        Some(o) => {
            let o = Path::new(checked_path(o, "outFile", "output file")?);
            crate::wrapping_key::check_file_to_write(o, "outFile", request.force, " (the key it holds is lost)")?;
            Some(o)
        }
        None => None,
    };
    let secrets = Secrets::parse(secret)?;
    if secrets.key_password.is_some() && out.is_none() {
        return Err(Error::for_input(ErrorCode::InvalidRequest, "password", "-Password encrypts the PEM that -OutFile writes, and no -OutFile was given. Give -OutFile, or leave out -Password."));
    }
    if secrets.key_password.as_ref().is_some_and(|p| p.is_empty()) {
        return Err(Error::for_input(ErrorCode::InvalidRequest, "password", "The password is empty. Give a password, or none to write the private key unencrypted."));
    }
    let keys = custodian_keys(&request.custodian_private_key_paths, &secrets.custodian_passwords)?;
    let joined = shares::join(&paths(&request.share_paths, "sharePath", "share path")?, &Openers { keys: &keys, passwords: &secrets.custodian_passwords }, events)?;
    if let Some(out) = out {
        let bytes = crate::wrapping_key::private_key_pem(&joined.key.key, secrets.key_password.as_ref().map(|p| p.as_slice()))?;
        crate::wrapping_key::write_key_file(out, &bytes, request.force)?;
        events.warning(&format!(
            "The wrapping private key {} is written to '{}'{}. Delete the file as soon as it is no longer needed: the shares are \
             meant to be the only copy.",
            joined.fingerprint,
            out.display(),
            if secrets.key_password.is_some() { ", encrypted with the password" } else { " in clear" }
        ));
    } else {
        events.message(&format!(
            "Shares {} rebuild the wrapping key {} ({} of {}); nothing was written.",
            joined.used.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
            joined.fingerprint,
            joined.threshold,
            joined.shares
        ));
    }
    Ok(JoinWrappingKeyResult {
        fingerprint: joined.fingerprint,
        key_size: joined.key.bits() as u32,
        split_id: joined.split_id,
        threshold: joined.threshold,
        shares: joined.shares,
        used: joined.used,
        out_file: out.map(|o| o.display().to_string()),
        encrypted: out.is_some() && secrets.key_password.is_some(),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestWrappingKeyShareRequest {
    pub share_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custodian_private_key_paths: Vec<String>,
}

/// One `TvmWrappingKeyShare` per file, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestWrappingKeyShareResult {
    pub shares: Vec<ShareInfo>,
}

pub fn test(request: &TestWrappingKeyShareRequest, secret: Option<&[u8]>, events: &mut dyn Events) -> Result<TestWrappingKeyShareResult> {
    if request.share_paths.is_empty() {
        return Err(Error::for_input(ErrorCode::InvalidRequest, "sharePath", "No share file was given. Give the share files with -SharePath."));
    }
    let secrets = Secrets::parse(secret)?;
    let keys = custodian_keys(&request.custodian_private_key_paths, &secrets.custodian_passwords)?;
    let paths = paths(&request.share_paths, "sharePath", "share path")?;
    Ok(TestWrappingKeyShareResult { shares: shares::test(&paths, &Openers { keys: &keys, passwords: &secrets.custodian_passwords }, events)? })
}
