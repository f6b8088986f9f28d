//! Reads one backup: lists its key files (`AES/` then `RSA/`, ordinal name order, as the original
//! enumerated them) and reads and parses each file once; a restore hands it the bytes its check read, so each
//! key file is read once there (layout: `docs/format.md`).
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};
use crate::keyfile::KeyFile;
use crate::layout;
use crate::vault::KeyType;

/// One key file of a backup, as found.
pub struct Entry {
    /// The folder it is in.
    pub key_type: KeyType,
    pub file_name: String,
    pub path: PathBuf,
    /// The key name and size from the file name, or why they cannot be read from it.
    pub name: Result<(String, u32)>,
    /// The parsed file, or why it cannot be read. Read only when the name could be.
    pub content: Result<KeyFile>,
}

impl Entry {
    /// The key name, when the file name gives one.
    pub fn key_name(&self) -> Option<&str> {
        self.name.as_ref().ok().map(|(n, _)| n.as_str())
    }
}

/// The key files of the backup folder `backup_path`.
pub fn read(backup_path: &Path) -> Result<Vec<Entry>> {
    read_from(backup_path, None)
}

/// [`read`], parsing the bytes a check already read ([`crate::verify::Contents`]) instead of reading those files
/// again; a file the check did not read is read here.
pub fn read_from(backup_path: &Path, contents: Option<&crate::verify::Contents>) -> Result<Vec<Entry>> {
    if !backup_path.is_dir() {
        return Err(Error::Missing {
            code: ErrorCode::BackupFolderMissing,
            what: "The backup folder",
            path: backup_path.to_path_buf(),
            fix: "Give the timestamped folder that Backup-TVMKeys created (<backup root>\\<yyyyMMddHHmmss>).",
        });
    }
    let mut found_folder = false;
    let mut entries = Vec::new();
    for key_type in [KeyType::Aes, KeyType::Rsa] {
        let dir = backup_path.join(layout::folder_for(key_type));
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        found_folder = true;
        let mut names = Vec::new();
        for item in listing {
            let item = item.map_err(|e| Error::io("list", &dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.to_ascii_lowercase().ends_with(".json") && item.file_type().map(|t| t.is_file()).unwrap_or(false) {
                names.push(name);
            }
        }
        names.sort();
        for file_name in names {
            let path = dir.join(&file_name);
            let name = layout::parse_key_file_name(&file_name);
            let content = match &name {
                Ok(_) => match contents.and_then(|c| c.get(&path)) {
                    Some(bytes) => KeyFile::parse(bytes, &format!("'{}'", path.display())),
                    None => read_key_file(&path),
                },
                Err(_) => Err(Error::new(ErrorCode::KeyFileNameInvalid, "not read: its name is not a key file name")),
            };
            entries.push(Entry { key_type, file_name, path, name, content });
        }
    }
    if !found_folder {
        return Err(not_a_backup(backup_path));
    }
    refuse_colliding_names(&mut entries);
    Ok(entries)
}

/// Key files of one folder whose names differ only in case (`VM1_256.json`, `vm1_256.json`) are one file
/// on Windows and one key in a vault that compares names so: which of the two is the key cannot be told,
/// so neither is restored, each failing with the other's name.
fn refuse_colliding_names(entries: &mut [Entry]) {
    let mut groups: std::collections::HashMap<(KeyType, String), Vec<usize>> = std::collections::HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        groups.entry((entry.key_type, crate::win_path::file_name_key(&entry.file_name))).or_default().push(i);
    }
    for group in groups.into_values().filter(|g| g.len() > 1) {
        let names: Vec<String> = group.iter().map(|&i| entries[i].file_name.clone()).collect();
        for &i in &group {
            let entry = &mut entries[i];
            let others: Vec<&str> = names.iter().map(String::as_str).filter(|n| *n != entry.file_name).collect();
            entry.content = Err(Error::new(
                ErrorCode::KeyFileNamesCollide,
                format!(
                    "'{}' and '{}' in the {} folder differ only in case: Windows takes them for one file, so which one is the key \
                     cannot be told and neither is restored. Keep the right one, remove the other, and run Import-TVMKeys again.",
                    entry.file_name,
                    others.join("', '"),
                    layout::folder_for(entry.key_type)
                ),
            ));
        }
    }
}

fn read_key_file(path: &Path) -> Result<KeyFile> {
    let bytes = zeroize::Zeroizing::new(fs::read(path).map_err(|e| Error::io("read", path, e))?);
    KeyFile::parse(&bytes, &format!("'{}'", path.display()))
}

fn not_a_backup(backup_path: &Path) -> Error {
    let holds_backups = fs::read_dir(backup_path)
        .map(|mut d| d.any(|e| e.map(|e| layout::check_timestamp(&e.file_name().to_string_lossy()).is_ok()).unwrap_or(false)))
        .unwrap_or(false);
    let hint = if holds_backups {
        " It holds timestamped folders: it looks like the backup root; give one of its timestamped folders."
    } else {
        ""
    };
    Error::new(ErrorCode::NotABackup, format!("'{}' is not a backup: it has no AES or RSA folder.{hint}", backup_path.display()))
}
