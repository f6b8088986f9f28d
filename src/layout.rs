//! The backup layout of `docs/format.md` section 1, shared with the original script:
//! `<backup root>/<yyyyMMddHHmmss>/{AES,RSA}/<key name>_<size>.json`.
//!
//! Key names come from vault listings and from file names, and both end up in paths, so every name is
//! checked here before it touches the file system: a name must never escape its folder.
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};
use crate::vault::KeyType;

pub const AES_FOLDER: &str = "AES";
pub const RSA_FOLDER: &str = "RSA";
const KEY_FILE_EXTENSION: &str = ".json";

/// The subfolder of a backup that holds keys of `key_type`.
pub fn folder_for(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Aes => AES_FOLDER,
        KeyType::Rsa => RSA_FOLDER,
    }
}

/// `<name>_<size>.json`, the key file name the original script writes and reads.
pub fn key_file_name(name: &str, size: u32) -> Result<String> {
    check_key_name(name)?;
    Ok(format!("{name}_{size}{KEY_FILE_EXTENSION}"))
}

/// Splits a key file name on its **last** `_`: the original split on the first, which restored
/// `vm_key_1_256.json` as a key named `vm`.
pub fn parse_key_file_name(file_name: &str) -> Result<(String, u32)> {
    let stem = strip_suffix_ignore_case(file_name, KEY_FILE_EXTENSION).ok_or_else(|| {
        Error::new(ErrorCode::KeyFileNameInvalid, format!("'{file_name}' is not a key file: its name must end in {KEY_FILE_EXTENSION}."))
    })?;
    let (name, size) = stem.rsplit_once('_').ok_or_else(|| {
        Error::new(ErrorCode::KeyFileNameInvalid, format!(
            "'{file_name}' is not a key file name: it must be <key name>_<size>.json, as Backup-TVMKeys writes it. \
             Restore the file's original name."
        ))
    })?;
    let size: u32 = size.parse().map_err(|_| {
        Error::new(ErrorCode::KeyFileNameInvalid, format!(
            "'{file_name}' is not a key file name: '{size}' after the last '_' is not a key size. \
             Restore the file's original name."
        ))
    })?;
    check_key_name(name).map_err(|e| Error::new(ErrorCode::KeyFileNameInvalid, format!("'{file_name}': {e}")))?;
    Ok((name.to_string(), size))
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    if s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(suffix) {
        Some(&s[..cut])
    } else {
        None
    }
}

/// Refuses names that are empty, would leave their folder, or that Windows cannot store as a file name.
pub fn check_key_name(name: &str) -> Result<()> {
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
        "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    let bad = |why: &str| Err(Error::new(ErrorCode::InvalidKeyName, format!("The key name '{name}' is not allowed: {why}.")));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 200 {
        return bad("it is longer than 200 characters");
    }
    if name == "." || name == ".." {
        return bad("it names a folder");
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || "<>:\"/\\|?*".contains(*c)) {
        return bad(&format!("it contains the character {c:?}, which cannot be part of a file name"));
    }
    if name.ends_with('.') || name.ends_with(' ') || name.starts_with(' ') {
        return bad("it starts with a space or ends with a dot or a space, which Windows drops from file names");
    }
    let base = name.split('.').next().unwrap_or(name);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base)) {
        return bad("it is a device name reserved by Windows");
    }
    Ok(())
}

/// A backup timestamp as `Get-Date -Format yyyyMMddHHmmss` writes it.
pub fn check_timestamp(timestamp: &str) -> Result<()> {
    if timestamp.len() == 14 && timestamp.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::InvalidTimestamp, format!(
            "The backup timestamp '{timestamp}' is not in the form yyyyMMddHHmmss (14 digits)."
        )))
    }
}

/// Where a backup is written while it is incomplete: hidden, beside its final name, so that a crash or
/// a failed export never leaves a folder that looks like a complete backup.
pub fn partial_folder(backup_root: &Path, timestamp: &str) -> PathBuf {
    backup_root.join(format!(".{timestamp}.partial"))
}

/// The timestamp of a partial folder's name (`.<yyyyMMddHHmmss>.partial`), or `None` for any other name.
pub fn partial_timestamp(folder_name: &str) -> Option<&str> {
    let timestamp = folder_name.strip_prefix('.')?.strip_suffix(".partial")?;
    check_timestamp(timestamp).ok().map(|()| timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_last_underscore() {
        assert_eq!(parse_key_file_name("vm_key_1_256.json").unwrap(), ("vm_key_1".to_string(), 256));
        assert_eq!(parse_key_file_name("AzureStackTvmAKRootKey_4096.JSON").unwrap().1, 4096);
    }

    #[test]
    fn refuses_names_that_escape_or_cannot_be_files() {
        for name in ["", "..", "a/b", "a\\b", "c:x", "x?", "NUL", "com1.txt", "a.", " a", "a\u{1}"] {
            assert!(check_key_name(name).is_err(), "{name:?} was accepted");
        }
        assert!(parse_key_file_name(".._256.json").is_err());
        assert!(parse_key_file_name("nounderscore.json").is_err());
        assert!(parse_key_file_name("name_big.json").is_err());
        assert!(parse_key_file_name("name_256.txt").is_err());
    }

    #[test]
    fn key_file_name_round_trips() {
        let file = key_file_name("a_b", 2048).unwrap();
        assert_eq!(file, "a_b_2048.json");
        assert_eq!(parse_key_file_name(&file).unwrap(), ("a_b".to_string(), 2048));
    }

    #[test]
    fn partial_folders_are_told_by_name() {
        let root = Path::new("backups");
        let partial = partial_folder(root, "20261125093000");
        let name = partial.file_name().unwrap().to_str().unwrap();
        assert_eq!(partial_timestamp(name), Some("20261125093000"));
        for other in ["20261125093000", ".20261125093000", "20261125093000.partial", ".2026112509300.partial", ".x.partial"] {
            assert_eq!(partial_timestamp(other), None, "{other}");
        }
    }

    #[test]
    fn timestamps_are_fourteen_digits() {
        assert!(check_timestamp("20261125093000").is_ok());
        assert!(check_timestamp("2026112509300").is_err());
        assert!(check_timestamp("2026112509300x").is_err());
    }
}
