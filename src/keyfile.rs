//! Key files: the MOC export file (`docs/format.md` section 2) and the plaintext `NO_KEY_WRAP`
//! import file (section 3).
//!
//! Writing is byte-exact: compact JSON, keys in MOC's order, base64url **with** padding, no BOM.
//! Reading is tolerant (unknown keys ignored, key names case-insensitive, line breaks inside values
//! ignored), because on the restore path a file written by MOC is only verified, then handed back to the
//! vault unchanged.
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};

/// base64url that writes `=` padding and requires it when reading, as MOC does.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(true).with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub fn b64url_encode(bytes: &[u8]) -> String {
    B64URL.encode(bytes)
}

/// Decodes a base64url value; `\r` and `\n` inside it are ignored, as MOC ignores them.
pub fn b64url_decode(value: &str) -> std::result::Result<Vec<u8>, String> {
    let cleaned: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    B64URL.decode(cleaned.as_bytes()).map_err(|e| match e {
        base64::DecodeError::InvalidPadding => "the value is not padded with '=' as MOC requires".to_string(),
        base64::DecodeError::InvalidByte(_, b) if b == b'+' || b == b'/' => {
            "the value uses the '+' '/' alphabet, not base64url ('-' '_')".to_string()
        }
        other => other.to_string(),
    })
}

/// How the `private-key` value of a key file is protected (`private-key-wrapping-info.enc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    /// Azure Key Vault BYOK's mechanism: OAEP SHA-1 then RFC 5649 (`docs/format.md` section 4; inferred).
    RsaAesKeyWrap,
    RsaAesKeyWrap256,
    RsaAesKeyWrap384,
    /// Plaintext PKCS#8, used only to import the wrapping key pair itself.
    NoKeyWrap,
}

impl Enc {
    pub fn as_str(self) -> &'static str {
        match self {
            Enc::RsaAesKeyWrap => "CKM_RSA_AES_KEY_WRAP",
            Enc::RsaAesKeyWrap256 => "RSA_AES_KEY_WRAP_256",
            Enc::RsaAesKeyWrap384 => "RSA_AES_KEY_WRAP_384",
            Enc::NoKeyWrap => "NO_KEY_WRAP",
        }
    }

    pub fn parse(s: &str) -> Option<Enc> {
        [Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384, Enc::NoKeyWrap]
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

#[derive(Serialize)]
struct WrappingInfoOut<'a> {
    #[serde(rename = "key-name")]
    key_name: &'a str,
    #[serde(rename = "public-key")]
    public_key: &'a str,
    enc: &'a str,
}

#[derive(Serialize)]
struct KeyFileOut<'a> {
    #[serde(rename = "public-key")]
    public_key: &'a str,
    #[serde(rename = "private-key")]
    private_key: &'a str,
    #[serde(rename = "private-key-wrapping-info")]
    wrapping_info: WrappingInfoOut<'a>,
}

/// The longest key file read: an RSA-4096 key wrapped for an RSA-4096 wrapping key, with its public half, is
/// under 8 KB; anything far larger is not a key file, and is not handed to a vault.
pub const MAX_LEN: usize = 64 * 1024;

/// A key file's content, decoded.
pub struct KeyFile {
    /// PKCS#1 public key DER for an RSA key; empty for an AES key.
    pub public_key: Vec<u8>,
    /// Wrapped key material, or plaintext PKCS#8 when `enc` is `NoKeyWrap`.
    pub private_key: Zeroizing<Vec<u8>>,
    /// The wrapping key's name given at export; empty in the TvmBackupUtils flow.
    pub wrapping_key_name: String,
    /// The wrapping public key DER (PKCS#1), empty when unwrapped.
    pub wrapping_public_key: Vec<u8>,
    pub enc: Enc,
}

impl KeyFile {
    /// The exact bytes MOC writes for an export (`docs/format.md` section 2): no trailing newline (inferred from MOC's Go SDK, which
    /// writes the JSON without one).
    pub fn to_export_bytes(&self) -> Zeroizing<Vec<u8>> {
        let public_key = b64url_encode(&self.public_key);
        let private_key = Zeroizing::new(b64url_encode(&self.private_key));
        let wrapping_public_key = b64url_encode(&self.wrapping_public_key);
        let out = KeyFileOut {
            public_key: &public_key,
            private_key: &private_key,
            wrapping_info: WrappingInfoOut {
                key_name: &self.wrapping_key_name,
                public_key: &wrapping_public_key,
                enc: self.enc.as_str(),
            },
        };
        // Serialising plain strings cannot fail; an empty result would be refused by every reader.
        Zeroizing::new(serde_json::to_vec(&out).unwrap_or_default())
    }

    /// Reads a key file written by MOC, by the original script or by us. `what` names the file in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<KeyFile> {
        let bad = |why: String| Error::new(ErrorCode::KeyFileInvalid, format!("{what} is not a valid key file: {why}."));
        if bytes.len() > MAX_LEN {
            return Err(bad(format!("it is {} bytes, and a key file is a few kilobytes (at most {MAX_LEN})", bytes.len())));
        }
        if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return Err(bad("it starts with a UTF-8 byte order mark, which MOC refuses".into()));
        }
        let value: Zeroizing<String> = Zeroizing::new(
            std::str::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?.to_string(),
        );
        let json: Value = serde_json::from_str(&value).map_err(|e| bad(format!("it is not complete JSON ({e})")))?;
        let top = json.as_object().ok_or_else(|| bad("it is not a JSON object".into()))?;
        let field = |obj: &serde_json::Map<String, Value>, name: &str| -> std::result::Result<String, String> {
            match obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v) {
                None => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Null) => Ok(String::new()),
                Some(_) => Err(format!("'{name}' is not a string")),
            }
        };
        let info = top
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("private-key-wrapping-info"))
            .and_then(|(_, v)| v.as_object())
            .ok_or_else(|| bad("it has no 'private-key-wrapping-info' object".into()))?;
        let enc_text = field(info, "enc").map_err(bad)?;
        let enc = Enc::parse(&enc_text).ok_or_else(|| bad(format!("'enc' is '{enc_text}', which is not a known key wrap")))?;
        let decode = |name: &str, text: &str| b64url_decode(text).map_err(|e| bad(format!("'{name}': {e}")));
        let private_text = Zeroizing::new(field(top, "private-key").map_err(bad)?);
        if private_text.is_empty() {
            return Err(bad("'private-key' is empty".into()));
        }
        Ok(KeyFile {
            public_key: decode("public-key", &field(top, "public-key").map_err(bad)?)?,
            private_key: Zeroizing::new(decode("private-key", &private_text)?),
            wrapping_key_name: field(info, "key-name").map_err(bad)?,
            wrapping_public_key: decode("private-key-wrapping-info.public-key", &field(info, "public-key").map_err(bad)?)?,
            enc,
        })
    }
}

/// The `NO_KEY_WRAP` import file of `docs/format.md` section 3, byte for byte what the original's
/// `Generate-ImportJsonFromPEM` writes for the documented PEMs: the PEM bodies are the base64 of these
/// DERs, so re-encoding them as padded base64url gives the same characters, followed by one `\n`.
pub fn import_json(public_pkcs1_der: &[u8], private_pkcs8_der: &[u8]) -> Zeroizing<Vec<u8>> {
    let public_key = b64url_encode(public_pkcs1_der);
    let private_key = Zeroizing::new(b64url_encode(private_pkcs8_der));
    let mut out = Zeroizing::new(Vec::with_capacity(public_key.len() + private_key.len() + 128));
    out.extend_from_slice(b"{\"public-key\":\"");
    out.extend_from_slice(public_key.as_bytes());
    out.extend_from_slice(b"\",\"private-key\":\"");
    out.extend_from_slice(private_key.as_bytes());
    out.extend_from_slice(b"\",\"private-key-wrapping-info\":{\"key-name\":\"\",\"public-key\":\"\",\"enc\":\"NO_KEY_WRAP\"}}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_bytes_have_moc_key_order_and_padding() {
        let file = KeyFile {
            public_key: vec![],
            private_key: Zeroizing::new(vec![0xfb, 0xff]),
            wrapping_key_name: String::new(),
            wrapping_public_key: vec![1],
            enc: Enc::RsaAesKeyWrap,
        };
        let bytes = file.to_export_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"public-key":"","private-key":"-_8=","private-key-wrapping-info":{"key-name":"","public-key":"AQ==","enc":"CKM_RSA_AES_KEY_WRAP"}}"#
        );
        let back = KeyFile::parse(&bytes, "x").unwrap();
        assert_eq!(&*back.private_key, &[0xfb, 0xff]);
        assert_eq!(back.enc, Enc::RsaAesKeyWrap);
    }

    #[test]
    fn parse_is_tolerant_of_case_unknown_keys_and_line_breaks() {
        let text = "{\"Private-Key\":\"-_\\r\\n8=\",\"extra\":1,\"PRIVATE-KEY-WRAPPING-INFO\":{\"Enc\":\"ckm_rsa_aes_key_wrap\"}}";
        let file = KeyFile::parse(text.as_bytes(), "x").unwrap();
        assert_eq!(&*file.private_key, &[0xfb, 0xff]);
    }

    #[test]
    fn parse_refuses_what_moc_refuses() {
        for text in [
            "\u{feff}{}",
            "{\"private-key\":\"-_8\",\"private-key-wrapping-info\":{\"enc\":\"NO_KEY_WRAP\"}}",
            "{\"private-key\":\"+/8=\",\"private-key-wrapping-info\":{\"enc\":\"NO_KEY_WRAP\"}}",
            "{\"private-key\":\"-_8=\",\"private-key-wrapping-info\":{\"enc\":\"ROT13\"}}",
            "{\"private-key\":\"\",\"private-key-wrapping-info\":{\"enc\":\"NO_KEY_WRAP\"}}",
            "{\"private-key\":\"-_8=\",\"private-key-wrap",
        ] {
            assert!(KeyFile::parse(text.as_bytes(), "x").is_err(), "{text:?} was accepted");
        }
    }
}
