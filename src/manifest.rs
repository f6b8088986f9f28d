//! `manifest.json`, the list a backup keeps of itself (`docs/format.md` section 8): what made it, when, from
//! which vault, for which wrapping key, and every key file with its SHA-256 and length. Written last inside
//! the hidden partial folder, after every key file is on disk, and flushed with the folder before the
//! rename that completes the backup; so a backup folder with a manifest is one whose writer finished.
//!
//! The original script reads only `AES\*.json` and `RSA\*.json`, so a backup with a manifest still restores
//! with it; a backup without one (written by the original) is a legacy backup.
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode, Result};

pub const FILE_NAME: &str = "manifest.json";
pub const FORMAT: &str = "tvmkeys-backup-manifest";
pub const SCHEMA_VERSION: u32 = 1;
/// [`Manifest::purpose`] of a pre-restore backup.
pub const PURPOSE_PRE_RESTORE: &str = "preRestore";
/// [`Manifest::purpose`] of a backup of chosen keys (`Backup-TVMKeys -KeyName`).
pub const PURPOSE_SELECTED_KEYS: &str = "selectedKeys";

/// The vault a backup was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Source {
    /// The cluster's MOC key vault, by its group and name (the original's `-group` and `-keyvaultName`).
    #[serde(rename_all = "camelCase")]
    Moc { group: String, vault_name: String },
    /// A local vault (a rehearsal or a test), by its folder.
    Local { path: String },
}

impl Source {
    /// How the host messages name it.
    pub fn describe(&self) -> String {
        match self {
            Source::Moc { group, vault_name } => format!("the MOC key vault {vault_name} (group {group})"),
            Source::Local { path } => format!("the local vault {path}"),
        }
    }
}

/// One key file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestKey {
    pub name: String,
    /// `AES` or `RSA`.
    #[serde(rename = "type")]
    pub key_type: String,
    pub size: u32,
    /// Relative to the backup folder, with `/`: `AES/<name>_<size>.json`.
    pub file: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's length in bytes.
    pub length: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`]: tells this file from any other `manifest.json`.
    pub format: String,
    pub schema_version: u32,
    /// The engine's version (Cargo.toml's, the module's).
    pub tool_version: String,
    /// The backup's folder name, `yyyyMMddHHmmss` local time.
    pub timestamp: String,
    /// When the backup was made, UTC, RFC 3339 (`2026-12-01T09:30:00Z`).
    pub created_utc: String,
    /// The same moment in the local time of the machine that made it, with its offset, as the caller gave
    /// it (`2026-12-01T10:30:00.0000000+01:00`); absent when the caller did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_local: Option<String>,
    pub source: Source,
    /// The module's fingerprint of the wrapping public key (SHA-256 of its PKCS#1 DER, first 16 bytes, hex).
    pub wrapping_key_fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Why the backup was made, when it is not a backup of the whole vault: `preRestore` for the backup of the target
    /// vault that Import-TVMKeys takes before it writes, `selectedKeys` for `Backup-TVMKeys -KeyName`.
    /// Get-TVMKeyBackup -Latest passes over both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub keys: Vec<ManifestKey>,
    /// Lower-case hex SHA-256 of the manifest's canonical form: this same object without `manifestSha256`,
    /// as compact JSON with the members in the order above. A changed value anywhere in the manifest shows
    /// as a mismatch; written by [`write`], checked by [`parse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
}

impl Manifest {
    /// The SHA-256 of the canonical form ([`Manifest::manifest_sha256`]).
    pub fn canonical_sha256(&self) -> String {
        let bare = Manifest { manifest_sha256: None, ..self.clone() };
        // Plain strings and numbers: serialising cannot fail.
        sha256_hex(&serde_json::to_vec(&bare).unwrap_or_default())
    }
}

/// Reads a manifest's bytes: JSON of this format and schema, with a checksum that matches its content.
/// The error says what is wrong in words for a finding.
pub fn parse(bytes: &[u8]) -> std::result::Result<Manifest, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("it is not complete JSON ({e})"))?;
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or_default();
    if format != FORMAT {
        return Err(format!("its format is '{format}', not '{FORMAT}'"));
    }
    match value.get("schemaVersion").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => return Err(format!("its schema version is {v}; this module reads version {SCHEMA_VERSION} (a newer module wrote it?)")),
        None => return Err("it has no schema version".into()),
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| format!("it does not have the members of a manifest ({e})"))?;
    match &manifest.manifest_sha256 {
        None => Err("it has no manifestSha256".into()),
        Some(recorded) if *recorded != manifest.canonical_sha256() => {
            Err("its content does not match its manifestSha256: a value in it was changed after it was written".into())
        }
        Some(_) => Ok(manifest),
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a `-Label` before anything is written: at most 256 characters, no control characters.
pub fn check_label(label: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::for_input(ErrorCode::InvalidLabel, "label", format!("The label '{label}' is not allowed: {why}.")));
    if label.chars().count() > 256 {
        return bad("it is longer than 256 characters");
    }
    if label.chars().any(char::is_control) {
        return bad("it contains a control character (a line break or a tab); give one line of text");
    }
    Ok(())
}

/// Writes the manifest into `folder` and flushes it to disk.
pub fn write(folder: &Path, manifest: &Manifest) -> Result<()> {
    let path = folder.join(FILE_NAME);
    let sealed = Manifest { manifest_sha256: Some(manifest.canonical_sha256()), ..manifest.clone() };
    let mut bytes = serde_json::to_vec_pretty(&sealed).map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))?;
    bytes.push(b'\n');
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| Error::io("write", &path, e))?;
    file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io("write", &path, e))
}

/// The current time, UTC, as RFC 3339 with seconds (`2026-12-01T09:30:00Z`), from the system clock.
pub fn utc_now() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    utc_from_unix(seconds)
}

/// Seconds since 1970 as RFC 3339 UTC (the civil-from-days algorithm of Howard Hinnant's date library).
pub(crate) fn utc_from_unix(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_are_rfc3339() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_796_117_400), "2026-12-01T09:30:00Z");
        assert_eq!(utc_from_unix(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(utc_now().len(), 20);
    }

    #[test]
    fn labels_are_one_line_of_text() {
        assert!(check_label("before patch Tuesday").is_ok());
        assert!(check_label(&"x".repeat(256)).is_ok());
        assert_eq!(check_label(&"x".repeat(257)).unwrap_err().code(), ErrorCode::InvalidLabel);
        assert_eq!(check_label("a\nb").unwrap_err().input(), Some("label"));
    }

    #[test]
    fn the_manifest_round_trips_and_refuses_unknown_fields() {
        let manifest = Manifest {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            tool_version: "0.1.0".into(),
            timestamp: "20261201093000".into(),
            created_utc: "2026-12-01T09:30:00Z".into(),
            created_local: None,
            source: Source::Moc { group: "AzureStackHostAttestation".into(), vault_name: "AzureStackTvmKeyVault".into() },
            wrapping_key_fingerprint: "00".repeat(16),
            label: Some("weekly".into()),
            purpose: None,
            keys: vec![],
            manifest_sha256: None,
        };
        let json = serde_json::to_value(&manifest).unwrap();
        assert_eq!(json["source"]["kind"], "moc");
        assert_eq!(json["source"]["vaultName"], "AzureStackTvmKeyVault");
        assert!(json.get("createdLocal").is_none());
        assert_eq!(serde_json::from_value::<Manifest>(json.clone()).unwrap(), manifest);
        let mut extra = json;
        extra["surprise"] = 1.into();
        assert!(serde_json::from_value::<Manifest>(extra).is_err());
    }

    #[test]
    fn the_checksum_covers_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            tool_version: "0.1.0".into(),
            timestamp: "20261201093000".into(),
            created_utc: "2026-12-01T09:30:00Z".into(),
            created_local: None,
            source: Source::Local { path: "/v".into() },
            wrapping_key_fingerprint: "ab".repeat(16),
            label: Some("weekly".into()),
            purpose: None,
            keys: vec![],
            manifest_sha256: None,
        };
        write(dir.path(), &manifest).unwrap();
        let bytes = fs::read(dir.path().join(FILE_NAME)).unwrap();
        let read = parse(&bytes).unwrap();
        assert_eq!(read.label.as_deref(), Some("weekly"));
        let text = String::from_utf8(bytes).unwrap();
        for (from, to) in [("weekly", "weekla"), ("0.1.0", "0.1.1"), ("/v", "/w"), ("\"schemaVersion\": 1", "\"schemaVersion\": 2")] {
            let changed = text.replacen(from, to, 1);
            assert_ne!(changed, text);
            assert!(parse(changed.as_bytes()).is_err(), "{from} -> {to} was accepted");
        }
    }
}
