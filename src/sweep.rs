//! The plaintext import file of a wrapping key, and what a killed run leaves of it.
//!
//! `Import-TvmWrappingKeyFromPem` must hand MOC a file that holds the private key in clear (`NO_KEY_WRAP`,
//! `docs/format.md` section 3). It lives in one folder only the user can open (`<temp>/tvmkeys-import-<uid or
//! user name>`, owner-only), named `import-<process id>-<random>.json`, and is removed on every path out of the import. A
//! run that is killed cannot remove it; so every command of the module that opens a vault (and Test-TVMKeyBackup)
//! first sweeps that folder for files of processes that no longer run, removes them, and says so (not under
//! `-WhatIf`). On Windows the folder is in the user's own temp folder, made with a protected DACL; a process id
//! reused by a new process keeps a leftover until that process ends.
use std::fs;
use std::path::{Path, PathBuf};

use crate::events::Events;

const PREFIX: &str = "import-";

/// Where the import files of this user live: `<temp>/tvmkeys-import-<uid>` on Unix (the temp folder is
/// shared there), `<temp>\tvmkeys-import-<user name>` on Windows (the temp folder is the user's own).
fn import_dir_path() -> PathBuf {
    #[cfg(unix)]
    let user = {
        use std::os::unix::fs::MetadataExt;
        tempfile::tempfile().and_then(|f| f.metadata()).map(|m| m.uid().to_string()).unwrap_or_default()
    };
    #[cfg(not(unix))]
    let user: String = std::env::var("USERNAME")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    std::env::temp_dir().join(format!("tvmkeys-import-{user}"))
}

/// The folder of the import files, created owner-only on first use; an existing one is used only when it is a
/// folder of this user that no one else can open.
pub fn import_dir() -> std::io::Result<PathBuf> {
    let dir = import_dir_path();
    match crate::owner_only::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_private_folder(&dir) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("'{}' exists but is not a folder only this user can open; it is not used", dir.display()),
        )),
        Err(e) => Err(e),
    }
}

/// A folder of this user's that no one else can open.
fn is_private_folder(dir: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(dir) else { return false };
    if !meta.is_dir() || meta.file_type().is_symlink() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // Our uid, as the owner of a file just made.
        let Ok(probe) = tempfile::tempfile() else { return false };
        let Ok(mine) = probe.metadata() else { return false };
        meta.uid() == mine.uid() && meta.permissions().mode() & 0o077 == 0
    }
    #[cfg(not(unix))]
    {
        // On Windows the folder is in the user's own temp folder, and was created with a protected DACL.
        true
    }
}

/// A new import file name for this process.
pub fn import_file_prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

/// Removes the import files of processes that no longer run, with a warning naming each. Never fails: a
/// sweep that cannot run is not a reason to refuse the command the user asked for.
pub fn sweep(events: &mut dyn Events) {
    // Only a folder that exists and is private: the sweep creates nothing, and reads no one else's folder.
    let dir = import_dir_path();
    if !is_private_folder(&dir) {
        return;
    }
    let Ok(listing) = fs::read_dir(&dir) else { return };
    for item in listing.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || process_running(pid) {
            continue;
        }
        let path = item.path();
        match fs::remove_file(&path) {
            Ok(()) => events.warning(&format!(
                "Removed {}: the plaintext import file of a wrapping key left by a run of Import-TvmWrappingKeyFromPem that was stopped \
                 (process {pid}). It held the private key in clear; nothing else is needed.",
                path.display()
            )),
            Err(e) => events.warning(&format!(
                "{} holds the private key of a wrapping key in clear (left by a stopped run, process {pid}) and could not be removed ({e}). \
                 Delete it now.",
                path.display()
            )),
        }
    }
}

/// Whether a process of that id runs.
fn process_running(pid: u32) -> bool {
    #[cfg(windows)]
    {
        crate::ffi::win32::process_running(pid)
    }
    #[cfg(target_os = "linux")]
    {
        Path::new("/proc").join(pid.to_string()).exists()
    }
    #[cfg(not(any(windows, target_os = "linux")))]
    {
        // Cannot tell: keep the file.
        let _ = pid;
        true
    }
}
