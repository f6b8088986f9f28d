//! What a killed run leaves, and how the next command removes it: the plaintext import file of a wrapping key,
//! the partial folder of a backup, and the temporary files of a local vault. A process that is killed cannot
//! clean up after itself; so each of these carries the id of the process (and for a backup, the machine) that
//! made it, and the next command that finds it removes it once that process no longer runs, with a warning
//! naming it. What cannot be told apart from a running command's (another machine's backup on a shared root, a
//! mark that cannot be read) is left alone, or removed only when it is older than a day.
//!
//! The import file:
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

/// The file in a backup's partial folder that names the run writing it: `<process id> <machine>`. Removed just
/// before the rename that completes the backup.
pub const WRITER_FILE: &str = ".writer";

/// This machine's name, as a mark left on a shared backup root tells machines apart.
fn this_machine() -> String {
    #[cfg(windows)]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    #[cfg(not(windows))]
    let name = fs::read_to_string("/proc/sys/kernel/hostname").or_else(|_| std::env::var("HOSTNAME")).unwrap_or_default();
    name.trim().chars().filter(|c| !c.is_whitespace()).take(255).collect()
}

/// Marks `partial` as being written by this process.
pub fn mark_writer(partial: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = crate::owner_only::create_new_file(&partial.join(WRITER_FILE))?;
    file.write_all(format!("{} {}", std::process::id(), this_machine()).as_bytes())
}

/// Removes the mark, before the rename that completes the backup.
pub fn unmark_writer(partial: &Path) -> std::io::Result<()> {
    fs::remove_file(partial.join(WRITER_FILE))
}

/// The writer named in a partial folder's mark: `(process id, machine)`.
fn read_writer(partial: &Path) -> Option<(u32, String)> {
    let text = fs::read_to_string(partial.join(WRITER_FILE)).ok()?;
    let mut parts = text.trim().splitn(2, ' ');
    let pid = parts.next()?.parse().ok()?;
    Some((pid, parts.next().unwrap_or_default().to_string()))
}

/// The writer of a partial folder as a message shows it (`4242 on NODE1`).
pub fn writer_of(partial: &Path) -> Option<String> {
    read_writer(partial).map(|(pid, machine)| if machine.is_empty() { pid.to_string() } else { format!("{pid} on {machine}") })
}

/// A partial folder without a readable mark is taken for a killed run's only when it is this old: the mark is
/// written right after the folder is made, so a younger one may be a run that has not written it yet.
const UNMARKED_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes the partial folders in `root` whose writer no longer runs (on this machine), with a warning naming
/// each. Never fails: a folder that cannot be removed is named in a warning and left.
pub fn sweep_partial_folders(root: &Path, events: &mut dyn Events) {
    let Ok(listing) = fs::read_dir(root) else { return };
    let machine = this_machine();
    for item in listing.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if crate::layout::partial_timestamp(&name).is_none() || !item.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = item.path();
        let why = match read_writer(&path) {
            Some((pid, on)) if on == machine && pid != std::process::id() && !process_running(pid) => {
                format!("its run (process {pid}) was stopped before it completed")
            }
            Some(_) => continue,
            None => {
                let age = item.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
                match age {
                    Some(age) if age > UNMARKED_AGE => "its run stopped before it completed, more than a day ago".to_string(),
                    _ => continue,
                }
            }
        };
        match fs::remove_dir_all(&path) {
            Ok(()) => events.warning(&format!(
                "Removed {}: an unfinished backup ({why}). It was never a backup: a backup is complete only once renamed to its timestamp.",
                path.display()
            )),
            Err(e) => events.warning(&format!("{} is an unfinished backup ({why}) and could not be removed ({e}). Delete it.", path.display())),
        }
    }
}

/// The prefix of a local vault's temporary files: `.tmp-<process id>-`, so that a killed run's can be told from
/// a running one's.
pub fn vault_temp_prefix() -> String {
    format!(".tmp-{}-", std::process::id())
}

/// Removes the temporary files in `dir` (a local vault's folder) that a process no longer running left, with a
/// warning naming each (they may hold a key, owner-only, as written before the rename that would have made it
/// the vault's). Never fails.
pub fn sweep_vault_temp_files(dir: &Path, events: &mut dyn Events) {
    sweep_stopped_files(dir, ".tmp-", "a temporary file of the local vault left by a stopped run", "the vault's keys are unchanged", events);
}

/// The prefix of the temporary files of `Split-TvmWrappingKey`: `.tvmshare-<process id>-`.
pub fn share_temp_prefix() -> String {
    format!(".tvmshare-{}-", std::process::id())
}

/// Removes, in a split's output folder, the temporary share files a stopped `Split-TvmWrappingKey` left (each
/// holds a share, owner-only, written before the renames that finish a split), with a warning naming each.
pub fn sweep_share_temp_files(dir: &Path, events: &mut dyn Events) {
    sweep_stopped_files(
        dir,
        ".tvmshare-",
        "a share file of a split that was stopped before it finished",
        "that split wrote no share files; the split now running writes its own",
        events,
    );
}

/// Removes the regular files of `dir` named `<stem><process id>-...` whose process no longer runs.
fn sweep_stopped_files(dir: &Path, stem: &str, what: &str, after: &str, events: &mut dyn Events) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    for item in listing.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(stem).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || process_running(pid) || !item.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = item.path();
        match fs::remove_file(&path) {
            Ok(()) => events.warning(&format!("Removed {}: {what} (process {pid}); {after}.", path.display())),
            Err(e) => events.warning(&format!("{} was left by a stopped run (process {pid}) and could not be removed ({e}). Delete it.", path.display())),
        }
    }
}
