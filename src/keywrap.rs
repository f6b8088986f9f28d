//! `CKM_RSA_AES_KEY_WRAP` and its SHA-2 variants (`docs/format.md` section 4), the mechanism MOC took from Azure Key
//! Vault BYOK: `RSAES-OAEP(wrapping public key, K) || AES-KWP(K, target)` with `K` a fresh AES-256 key.
//!
//! `K` and every unwrapped target live in `Zeroizing` buffers, so they are wiped when dropped.
use aes_kw::KekAes256;
use rand::{CryptoRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorCode, Result};
use crate::keyfile::Enc;

/// The AES key wrap that follows the OAEP part: RFC 5649 (with padding) is what BYOK specifies; RFC 3394
/// is accepted on read because some producers use it for targets whose length is a multiple of 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWrap {
    Rfc5649,
    Rfc3394,
}

/// What [`unwrap_any`] found to work, so a restore can say how a file was protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub enc: Enc,
    pub key_wrap: KeyWrap,
}

fn oaep(enc: Enc) -> Result<Oaep> {
    match enc {
        Enc::RsaAesKeyWrap => Ok(Oaep::new::<sha1::Sha1>()),
        Enc::RsaAesKeyWrap256 => Ok(Oaep::new::<sha2::Sha256>()),
        Enc::RsaAesKeyWrap384 => Ok(Oaep::new::<sha2::Sha384>()),
        Enc::NoKeyWrap => Err(Error::new(ErrorCode::CryptoFailed, "NO_KEY_WRAP is not a key wrap mechanism.")),
    }
}

/// Wraps `target` (32 raw bytes of an AES key, or PKCS#8 DER of an RSA key) for `wrapping_key`.
pub fn wrap(wrapping_key: &RsaPublicKey, target: &[u8], enc: Enc, rng: &mut (impl CryptoRng + RngCore)) -> Result<Vec<u8>> {
    if target.is_empty() {
        return Err(Error::new(ErrorCode::CryptoFailed, "There is no key material to wrap (0 bytes)."));
    }
    let mut kek = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(kek.as_mut());
    let head = match enc {
        Enc::RsaAesKeyWrap => crate::oaep::encrypt::<sha1::Sha1>(wrapping_key, kek.as_ref(), rng)?,
        Enc::RsaAesKeyWrap256 => crate::oaep::encrypt::<sha2::Sha256>(wrapping_key, kek.as_ref(), rng)?,
        Enc::RsaAesKeyWrap384 => crate::oaep::encrypt::<sha2::Sha384>(wrapping_key, kek.as_ref(), rng)?,
        Enc::NoKeyWrap => return Err(Error::new(ErrorCode::CryptoFailed, "NO_KEY_WRAP is not a key wrap mechanism.")),
    };
    let tail = KekAes256::new(kek.as_ref().into())
        .wrap_with_padding_vec(target)
        .map_err(|e| Error::new(ErrorCode::CryptoFailed, format!("AES key wrap failed: {e}.")))?;
    let mut blob = head;
    blob.extend_from_slice(&tail);
    Ok(blob)
}

/// Unwraps a blob made with `enc`, trying RFC 5649 before RFC 3394.
pub fn unwrap(wrapping_key: &RsaPrivateKey, blob: &[u8], enc: Enc) -> Result<(Zeroizing<Vec<u8>>, Matched)> {
    let modulus_len = wrapping_key.size();
    if blob.len() <= modulus_len {
        return Err(Error::new(ErrorCode::UnwrapFailed, format!(
            "The wrapped key is {} bytes, too short for a {}-bit wrapping key: the key file is truncated or was \
             wrapped for another key.",
            blob.len(),
            modulus_len * 8
        )));
    }
    let (head, tail) = blob.split_at(modulus_len);
    // The AES key wrap of any key is at least two 8-byte blocks; a shorter tail is no wrap (and aes-kw 0.2 would
    // underflow on one block).
    if tail.len() < 16 || tail.len() % 8 != 0 {
        return Err(Error::new(ErrorCode::UnwrapFailed, format!(
            "The wrapped key's AES part is {} bytes, which no AES key wrap gives: the key file is damaged.",
            tail.len()
        )));
    }
    let kek = Zeroizing::new(wrapping_key.decrypt(oaep(enc)?, head).map_err(|_| {
        Error::new(ErrorCode::UnwrapFailed, format!(
            "The wrapped key could not be decrypted with the wrapping key ({}): the backup was taken with another \
             wrapping key, or the file is damaged.",
            enc.as_str()
        ))
    })?);
    if kek.len() != 32 {
        return Err(Error::new(ErrorCode::UnwrapFailed, format!("The wrapped AES key is {} bytes, not 32.", kek.len())));
    }
    let aes = KekAes256::new(kek.as_slice().into());
    if let Ok(target) = aes.unwrap_with_padding_vec(tail) {
        return Ok((Zeroizing::new(target), Matched { enc, key_wrap: KeyWrap::Rfc5649 }));
    }
    if let Ok(target) = aes.unwrap_vec(tail) {
        return Ok((Zeroizing::new(target), Matched { enc, key_wrap: KeyWrap::Rfc3394 }));
    }
    Err(Error::new(ErrorCode::UnwrapFailed, "The wrapped key failed its integrity check (AES key wrap): the key file is damaged."))
}

/// Unwraps a blob whose OAEP hash is not known: SHA-1, then SHA-256, then SHA-384.
pub fn unwrap_any(wrapping_key: &RsaPrivateKey, blob: &[u8]) -> Result<(Zeroizing<Vec<u8>>, Matched)> {
    let mut last = None;
    for enc in [Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384] {
        match unwrap(wrapping_key, blob, enc) {
            Ok(found) => return Ok(found),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::new(ErrorCode::UnwrapFailed, "The wrapped key could not be unwrapped.")))
}
