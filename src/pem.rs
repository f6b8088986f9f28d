//! PEM files as administrators actually have them: written by PowerShell 7 (UTF-8, LF or CRLF), by
//! Windows PowerShell 5.1's `Out-File` (UTF-16LE with a BOM), or by OpenSSL. The text is decoded first,
//! then the one PEM block is read; the key is parsed so that a wrong file is refused up front with a
//! message that names it, instead of failing later inside the vault.
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
// from_pkcs8_encrypted_der comes from DecodePrivateKey with the `pkcs5` feature of `rsa`.
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};

/// An RSA public key with its PKCS#1 `RSAPublicKey` DER, the form MOC's files carry.
pub struct PublicKey {
    pub key: RsaPublicKey,
    pub pkcs1_der: Vec<u8>,
}

/// An RSA private key with its PKCS#8 DER, the form MOC imports. Both are wiped when dropped (the `rsa`
/// crate zeroizes its own key on drop).
pub struct PrivateKey {
    pub key: RsaPrivateKey,
    pub pkcs8_der: Zeroizing<Vec<u8>>,
}

impl PublicKey {
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }
}

impl PrivateKey {
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// True when `public` is this private key's public half.
    pub fn matches(&self, public: &PublicKey) -> bool {
        self.key.n() == public.key.n() && self.key.e() == public.key.e()
    }
}

/// Reads the public half of an RSA key: `RSA PUBLIC KEY` (PKCS#1, what the documented PowerShell
/// steps write) or `PUBLIC KEY` (SubjectPublicKeyInfo, what OpenSSL writes).
pub fn read_public_key(path: &Path, role: &'static str) -> Result<PublicKey> {
    public_key_from_file_bytes(&read_file(path, role)?, path, role)
}

/// As [`read_public_key`], from the bytes of the file at `path` (named in messages) already read.
pub fn public_key_from_file_bytes(bytes: &[u8], path: &Path, role: &'static str) -> Result<PublicKey> {
    let (label, der) = block_of(bytes, path, role)?;
    let key = match label.as_str() {
        "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).map_err(|e| too_large(&der, path, role).unwrap_or_else(|| bad_key(path, role, &e.to_string())))?,
        "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der).map_err(|_| {
            spki_rsa_key(&der)
                .and_then(|pkcs1| too_large(pkcs1, path, role))
                .unwrap_or_else(|| bad_key(path, role, "it is not an RSA public key (only RSA keys can wrap TVM keys)"))
        })?,
        l if l.contains("PRIVATE KEY") => {
            return Err(Error::new(
                ErrorCode::PemInvalid,
                format!("The {role} file '{}' holds a private key ({l}). Give the public key file (-----BEGIN RSA PUBLIC KEY-----).", path.display()),
            ))
        }
        l => return Err(wrong_label(path, role, l, "-----BEGIN RSA PUBLIC KEY-----")),
    };
    let pkcs1_der = key.to_pkcs1_der().map_err(|e| bad_key(path, role, &e.to_string()))?.into_vec();
    Ok(PublicKey { key, pkcs1_der })
}

/// Reads an RSA private key: `PRIVATE KEY` (PKCS#8, what the documented steps write) or
/// `RSA PRIVATE KEY` (PKCS#1), normalised to PKCS#8. Encrypted keys are refused with the fix.
pub fn read_private_key(path: &Path, role: &'static str) -> Result<PrivateKey> {
    read_private_key_with(path, role, None)
}

/// As [`read_private_key`]; an `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, as .NET's
/// `ExportEncryptedPkcs8PrivateKeyPem` and OpenSSL write it) is decrypted with `password` when one is given.
pub fn read_private_key_with(path: &Path, role: &'static str, password: Option<&[u8]>) -> Result<PrivateKey> {
    let (label, der) = read_block(path, role)?;
    let der = Zeroizing::new(der);
    let key = match label.as_str() {
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der)
            .map_err(|_| bad_key(path, role, "it is not an RSA private key (only RSA keys can wrap TVM keys)"))?,
        "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad_key(path, role, &e.to_string()))?,
        "ENCRYPTED PRIVATE KEY" if password.is_some() => {
            RsaPrivateKey::from_pkcs8_encrypted_der(&der, password.unwrap_or_default()).map_err(|_| {
                Error::for_input(ErrorCode::PemPasswordWrong, "password", format!(
                    "The {role} file '{}' could not be decrypted with the password given: the password is wrong, or the file \
                     is damaged. Give the password it was exported with.",
                    path.display()
                ))
            })?
        }
        "ENCRYPTED PRIVATE KEY" if role == "wrapping private key" => {
            return Err(Error::for_input(ErrorCode::PemEncrypted, "password", format!(
                "The {role} file '{}' is encrypted with a password. Give the password with -Password (Read-Host -AsSecureString).",
                path.display()
            )))
        }
        "ENCRYPTED PRIVATE KEY" => {
            return Err(Error::new(ErrorCode::PemEncrypted, format!(
                "The {role} file '{}' is encrypted with a password. Export it unencrypted as PKCS#8 \
                 ($rsa.ExportPkcs8PrivateKeyPem()) on the secure computer, and delete that copy after the import.",
                path.display()
            )))
        }
        l if l.contains("PUBLIC KEY") => {
            return Err(Error::new(
                ErrorCode::PemInvalid,
                format!("The {role} file '{}' holds a public key ({l}). Give the private key file (-----BEGIN PRIVATE KEY-----).", path.display()),
            ))
        }
        l => return Err(wrong_label(path, role, l, "-----BEGIN PRIVATE KEY-----")),
    };
    let pkcs8_der = Zeroizing::new(key.to_pkcs8_der().map_err(|e| bad_key(path, role, &e.to_string()))?.as_bytes().to_vec());
    Ok(PrivateKey { key, pkcs8_der })
}

/// Reads a DER public key as MOC files carry it: PKCS#1 `RSAPublicKey`, or SubjectPublicKeyInfo.
pub fn public_key_from_der(der: &[u8]) -> Option<RsaPublicKey> {
    RsaPublicKey::from_pkcs1_der(der).ok().or_else(|| RsaPublicKey::from_public_key_der(der).ok())
}

/// A short digest that names an RSA public key in messages and listings: SHA-256 of its PKCS#1 DER,
/// first 16 bytes in hex.
pub fn fingerprint(key: &RsaPublicKey) -> String {
    use sha2::{Digest, Sha256};
    let der = key.to_pkcs1_der().map(|d| d.into_vec()).unwrap_or_default();
    hex::encode(&Sha256::digest(der)[..16])
}

/// An RSA public key that is well formed but larger than the RSA code takes (4096 bits): named with its size,
/// since no MOC vault takes it either, rather than as a malformed file.
fn too_large(pkcs1_der: &[u8], path: &Path, role: &str) -> Option<Error> {
    use rsa::pkcs1::der::Decode;
    let key = rsa::pkcs1::RsaPublicKey::from_der(pkcs1_der).ok()?;
    let bits = key.modulus.as_bytes().len() * 8;
    (bits > 4096).then(|| {
        Error::new(
            ErrorCode::InvalidKeySize,
            format!(
                "The {role} file '{}' holds an RSA key of about {bits} bits: MOC takes RSA 2048, 3072 or 4096 only. Give a key of one of \
                 those sizes (New-TvmWrappingKey makes one).",
                path.display()
            ),
        )
    })
}

/// The PKCS#1 key inside an RSA SubjectPublicKeyInfo.
fn spki_rsa_key(der: &[u8]) -> Option<&[u8]> {
    let info = rsa::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der).ok()?;
    (info.algorithm.oid == rsa::pkcs1::ALGORITHM_OID).then(|| info.subject_public_key.raw_bytes())
}

fn bad_key(path: &Path, role: &str, why: &str) -> Error {
    Error::new(ErrorCode::PemInvalid, format!("The {role} file '{}' could not be read as a key: {why}.", path.display()))
}

fn wrong_label(path: &Path, role: &str, label: &str, want: &str) -> Error {
    Error::new(
        ErrorCode::PemInvalid,
        format!("The {role} file '{}' holds a '{label}' block, not an RSA key. Give the file that starts with {want}.", path.display()),
    )
}

/// Reads the file, decodes its text and returns the label and DER of its first PEM block.
fn read_block(path: &Path, role: &'static str) -> Result<(String, Vec<u8>)> {
    block_of(&read_file(path, role)?, path, role)
}

/// The bytes of a PEM file; a missing file is named with its role.
pub fn read_file(path: &Path, role: &'static str) -> Result<Zeroizing<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Zeroizing::new(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::Missing { code: ErrorCode::FileMissing, what: role_title(role), path: path.to_path_buf(), fix: "Check the path and try again." })
        }
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Decodes the text of a PEM file's bytes and returns the label and DER of its first block.
fn block_of(bytes: &[u8], path: &Path, role: &'static str) -> Result<(String, Vec<u8>)> {
    let text = decode_text(bytes).ok_or_else(|| {
        Error::new(ErrorCode::PemInvalid, format!("The {role} file '{}' is not text (UTF-8 or UTF-16).", path.display()))
    })?;
    parse_block(&text).map_err(|why| Error::new(ErrorCode::PemInvalid, format!("The {role} file '{}' is not a PEM key file: {why}.", path.display())))
}

fn role_title(role: &'static str) -> &'static str {
    match role {
        "public key" => "The public key file",
        "private key" => "The private key file",
        "wrapping key" => "The wrapping key file",
        "wrapping private key" => "The wrapping private key file",
        "custodian public key" => "The custodian public key file",
        "custodian private key" => "The custodian private key file",
        _ => "The key file",
    }
}

/// UTF-8 (with or without BOM) or UTF-16 with a BOM; UTF-16LE without a BOM is recognised by its zero
/// bytes, since PEM text is ASCII.
pub(crate) fn decode_text(bytes: &[u8]) -> Option<Zeroizing<String>> {
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) })
            .collect();
        String::from_utf16(&units).ok().map(Zeroizing::new)
    };
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest).ok().map(|s| Zeroizing::new(s.to_string()));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    if bytes.len() >= 2 && bytes[1] == 0 && bytes[0] != 0 {
        return utf16(bytes, true);
    }
    std::str::from_utf8(bytes).ok().map(|s| Zeroizing::new(s.to_string()))
}

/// The label and decoded body of the one `-----BEGIN x-----` / `-----END x-----` block of a key file.
fn parse_block(text: &str) -> std::result::Result<(String, Vec<u8>), String> {
    let mut lines = text.lines().map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'));
    let label = loop {
        match lines.next() {
            None => return Err("no -----BEGIN ...----- line".into()),
            Some(l) => {
                if let Some(label) = l.strip_prefix("-----BEGIN ").and_then(|r| r.strip_suffix("-----")) {
                    break label.to_string();
                }
            }
        }
    };
    let mut body = Zeroizing::new(String::new());
    for line in lines.by_ref() {
        if let Some(end) = line.strip_prefix("-----END ").and_then(|r| r.strip_suffix("-----")) {
            if let Some((first, _)) = end.split_once("-----BEGIN ").filter(|(first, _)| first.strip_suffix("-----") == Some(label.as_str())) {
                // Two files pasted together without a line break: END of one and BEGIN of the next on one line.
                return Err(format!(
                    "it holds more than one PEM block ('{}', then another on the same line as its END line), so which key is \
                     meant cannot be told; give a file that holds only the one key",
                    first.trim_end_matches('-')
                ));
            }
            if end != label {
                return Err(format!("the block starts as '{label}' but ends as '{end}'"));
            }
            let der = STANDARD.decode(body.as_bytes()).map_err(|e| format!("its base64 body is damaged ({e})"))?;
            if der.is_empty() {
                return Err("its body is empty".into());
            }
            refuse_trailing(lines, &label)?;
            return Ok((label, der));
        }
        if line.contains(':') {
            return Err("it has header lines (Proc-Type/DEK-Info), i.e. it is encrypted in the legacy OpenSSL form; \
                        export it unencrypted as PKCS#8"
                .into());
        }
        body.push_str(line);
    }
    Err(format!("no -----END {label}----- line"))
}

/// Text before the BEGIN line is allowed (OpenSSL writes "Bag Attributes" there, RFC 7468 section 2); after the
/// END line only blank lines are. A second block (two keys, or a certificate with its key) would leave which key
/// is meant to a guess, and trailing text is a file that was cut or pasted together: both are refused.
fn refuse_trailing<'a>(mut rest: impl Iterator<Item = &'a str>, label: &str) -> std::result::Result<(), String> {
    let Some(line) = rest.find(|l| !l.is_empty()) else { return Ok(()) };
    if let Some(second) = line.strip_prefix("-----BEGIN ").and_then(|r| r.strip_suffix("-----")) {
        return Err(format!(
            "it holds more than one PEM block ('{label}', then '{second}'), so which key is meant cannot be told; give a file \
             that holds only the one key"
        ));
    }
    Err(format!(
        "it has text after its -----END {label}----- line; a PEM key file ends with that line. Remove what follows it, or \
         export the key again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding_powershell_writes() {
        let text = "-----BEGIN X-----\r\nAAEC\r\n-----END X-----\r\n";
        let utf16le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        let utf8bom: Vec<u8> = [0xEF, 0xBB, 0xBF].into_iter().chain(text.bytes()).collect();
        for bytes in [text.as_bytes().to_vec(), utf16le, utf8bom] {
            let decoded = decode_text(&bytes).unwrap();
            assert_eq!(parse_block(&decoded).unwrap(), ("X".to_string(), vec![0, 1, 2]));
        }
    }

    #[test]
    fn refuses_mismatched_and_unterminated_blocks() {
        assert!(parse_block("-----BEGIN A-----\nAAEC\n-----END B-----\n").is_err());
        assert!(parse_block("-----BEGIN A-----\nAAEC\n").is_err());
        assert!(parse_block("nothing here").is_err());
        assert!(parse_block("-----BEGIN A-----\n!!!!\n-----END A-----\n").is_err());
    }

    #[test]
    fn refuses_a_second_block_and_trailing_text_but_keeps_leading_text_and_blank_lines() {
        let one = "-----BEGIN A-----\nAAEC\n-----END A-----\n";
        let two = format!("{one}-----BEGIN B-----\nAAEC\n-----END B-----\n");
        assert!(parse_block(&two).unwrap_err().contains("more than one PEM block ('A', then 'B')"));
        // Pasted together without a line break: the END and the next BEGIN on one line.
        let joined = "-----BEGIN A-----\nAAEC\n-----END A----------BEGIN A-----\nAAEC\n-----END A-----\n";
        let text = parse_block(joined).unwrap_err();
        assert!(text.contains("more than one PEM block ('A', then another on the same line"), "{text}");
        assert!(parse_block(&format!("{one}junk\n")).unwrap_err().contains("text after"));
        assert!(parse_block(&format!("{one}\r\n\n  \n")).is_ok());
        assert!(parse_block(&format!("Bag Attributes\n    localKeyID: 01\n{one}")).is_ok());
    }
}
