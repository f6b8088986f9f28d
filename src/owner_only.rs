//! Files and folders that only their owner can open, for everything that holds a key in clear: the local
//! vault's key files, the `NO_KEY_WRAP` import file and the temporary import file of a wrapping key.
//!
//! - Unix: files are created `0600`, folders `0700`.
//! - Windows: a protected DACL with one ACE, full access for the process's user, given at creation
//!   (`src/ffi/win32.rs`), so nothing is inherited from the parent folder; a folder's ACE is inherited by
//!   what is created in it.
//!
//! Both are set when the file or folder is created, never afterwards: a key file is never readable by
//! others, not even while it is being written.
use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

/// A new, owner-only temporary file in `dir`, removed when dropped (tempfile's random name, `prefix`
/// and `suffix`).
pub fn temp_file_in(dir: &Path, prefix: &str, suffix: &str) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    #[cfg(windows)]
    {
        builder.make_in(dir, |path| crate::ffi::win32::create_new_file(path))
    }
    #[cfg(not(windows))]
    {
        // tempfile creates its files 0600 on Unix.
        builder.tempfile_in(dir)
    }
}

/// Creates one folder, owner-only; `AlreadyExists` if it exists (its protection is then left as it is).
pub fn create_dir(path: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        crate::ffi::win32::create_dir(path)
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        std::fs::create_dir(path)
    }
}

/// Opens a new file, owner-only, failing if it exists.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    #[cfg(windows)]
    {
        crate::ffi::win32::create_new_file(path)
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Whether `path` can be opened by its owner alone, as its permissions say; why not, when not.
    /// Unix: no group or other bit. Windows: owned by the current user, with a protected DACL whose only
    /// ACEs allow that user.
    /// Under Wine (`TVM_UNDER_WINE`, set by build/windows-toolchain.sh) the descriptor is not stored: Wine
    /// 8.0 derives it from the Unix mode, as the owner, SYSTEM (on every file) and Everyone for any group
    /// or other bit, never protected; there an owner-only file is one with no ACE but the owner's and SYSTEM's.
    fn check(path: &Path) -> Result<(), String> {
        #[cfg(windows)]
        {
            let access = crate::ffi::win32::access(path).map_err(|e| e.to_string())?;
            let wine = std::env::var_os("TVM_UNDER_WINE").is_some();
            if !access.protected && !wine {
                return Err(format!("its DACL is not protected (it inherits from its folder): {access:?}"));
            }
            if access.owner != access.user {
                return Err(format!("it is owned by {}, not by the user: {access:?}", access.owner));
            }
            if !access.aces.iter().any(|a| a.allow && a.sid == access.user) {
                return Err(format!("its DACL has no ACE for the user: {access:?}"));
            }
            let allowed = |a: &crate::ffi::win32::Ace| a.allow && (a.sid == access.user || (wine && a.sid == "S-1-5-18"));
            if let Some(other) = access.aces.iter().find(|a| !allowed(a)) {
                return Err(format!("its DACL has an ACE for {} (allow {}), not only for the user {}", other.sid, other.allow, access.user));
            }
            Ok(())
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode() & 0o777;
            if mode & 0o077 == 0 { Ok(()) } else { Err(format!("its mode is {mode:o}")) }
        }
    }

    #[test]
    fn files_and_folders_are_owner_only_from_creation() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("keys");
        create_dir(&folder).unwrap();
        assert_eq!(check(&folder), Ok(()));
        assert_eq!(create_dir(&folder).unwrap_err().kind(), io::ErrorKind::AlreadyExists);

        let file = folder.join("k.json");
        create_new_file(&file).unwrap().write_all(b"secret").unwrap();
        assert_eq!(check(&file), Ok(()));
        assert_eq!(create_new_file(&file).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&file).unwrap(), b"secret");

        let mut temp = temp_file_in(&folder, ".tmp", ".json").unwrap();
        temp.write_all(b"x").unwrap();
        assert_eq!(check(temp.path()), Ok(()));
        let temp_path = temp.path().to_path_buf();
        drop(temp);
        assert!(!temp_path.exists());
    }

    /// The check itself can fail: a file made the ordinary way, in an ordinary folder, is not owner-only
    /// (Unix: 0644; Windows: the DACL is inherited, not protected; Wine: Everyone may read it).
    #[test]
    fn an_ordinary_file_is_not_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain.txt");
        std::fs::write(&file, b"x").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert!(check(&file).is_err());
    }
}
