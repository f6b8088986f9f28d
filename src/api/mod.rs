//! The contract of the C ABI: for each command, its request and result as serde types, and `run()`.
//! One file per command. A new option is a new field here, not a new export; `docs/abi.md` describes
//! every type, and `tests/abi.rs` round-trips a JSON sample of each (the same samples the C# tests read).
//!
//! Requests are strict (an unknown field is refused, so a typo in a front end fails loudly instead of
//! being ignored); results and events may grow fields, which readers ignore.
pub mod backup;
pub mod import_json;
pub mod inventory;
pub mod keys;
pub mod open;
pub mod restore;
pub mod shares;
pub mod verify;
pub mod wrapping_key;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::vault::{KeySpec, KeyType};

/// The schema version of every request and result. A request may name it (`"schemaVersion":1`); one
/// that names another is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// A key in a vault or in a backup: the `TvmKey` object of the cmdlets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    pub name: String,
    /// `AES` or `RSA` (a vault may list other types; those are reported and not backed up).
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u32,
    /// A digest that tells whether two vaults hold the same key, where the vault can compute one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The key file, full path, where there is one (a backup's key file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Key {
    pub fn new(name: &str, spec: KeySpec) -> Key {
        Key { name: name.into(), key_type: spec.key_type.as_str().into(), size: spec.size, fingerprint: None, file: None }
    }

    /// The type and size, when they are ones the vault accepts.
    pub fn spec(&self) -> Result<KeySpec> {
        KeySpec::parse(&self.key_type, self.size)
    }

    pub fn key_type(&self) -> Option<KeyType> {
        KeyType::parse(&self.key_type)
    }
}

/// Reads a request: UTF-8 JSON, an optional `schemaVersion` that must be [`SCHEMA_VERSION`], then the
/// command's own fields, strictly.
pub fn parse_request<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let bad = |why: String| Error::new(ErrorCode::InvalidRequest, format!("The request is not valid: {why}."));
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("it is not JSON ({e})")))?;
    let object = value.as_object_mut().ok_or_else(|| bad("it is not a JSON object".into()))?;
    if let Some(version) = object.remove("schemaVersion") {
        if version.as_u64() != Some(SCHEMA_VERSION as u64) {
            return Err(bad(format!("schemaVersion is {version}; this engine reads version {SCHEMA_VERSION}")));
        }
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// A result as it crosses the ABI: the command's fields and `schemaVersion`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versioned<'a, T: Serialize> {
    pub schema_version: u32,
    #[serde(flatten)]
    pub result: &'a T,
}

pub fn to_result_json<T: Serialize>(result: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(&Versioned { schema_version: SCHEMA_VERSION, result })
        .map_err(|e| Error::new(ErrorCode::InternalError, format!("The result could not be written as JSON: {e}")))
}

/// A path of a request, checked before anything is read or written: an empty string is as good as a
/// missing path, and on Windows a path that Windows would turn into a device or read relative to a
/// current folder is refused ([`crate::win_path`]); both with the field's name.
pub(crate) fn checked_path<'a>(value: &'a str, input: &'static str, what: &str) -> Result<&'a str> {
    if value.is_empty() {
        return Err(Error::for_input(ErrorCode::InvalidPath, input, format!("The {what} is empty.")));
    }
    crate::win_path::check_for_platform(value)
        .map_err(|why| Error::for_input(ErrorCode::InvalidPath, input, format!("The {what} '{value}' cannot be used: {why}.")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_strict_and_versioned() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct R {
            #[allow(dead_code)]
            a: u32,
        }
        assert!(parse_request::<R>(br#"{"a":1}"#).is_ok());
        assert!(parse_request::<R>(br#"{"schemaVersion":1,"a":1}"#).is_ok());
        for bad in [&br#"{"schemaVersion":2,"a":1}"#[..], br#"{"a":1,"b":2}"#, br#"{}"#, b"[1]", b"{", b"\xff"] {
            let e = parse_request::<R>(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{}", String::from_utf8_lossy(bad));
        }
    }
}
