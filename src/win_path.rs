//! Windows' rules for the paths a command is given (a backup root, a vault, a PEM file), applied on
//! Windows before anything is read or written, so that a path Windows would quietly turn into something
//! else is refused with the reason instead:
//!
//! - a reserved device name as any component (`CON`, `NUL`, `COM1`, `LPT1`, also with an extension or
//!   trailing dots and spaces, `CONIN$`, `CONOUT$`, `COM¹`): Win32 opens the device, so a backup written
//!   to `C:\backups\NUL` would be thrown away and one read from `CON` would wait for the keyboard;
//! - the device namespace (`\\.\`, `\\?\GLOBALROOT`): a device, not a file;
//! - drive- or root-relative paths (`C:backups`, `\backups`): relative to a current folder the engine does
//!   not share with PowerShell;
//! - `:` after the drive (an alternate data stream) and the characters `<>"|?*`, which no file name holds.
//!
//! Drive paths (`C:\x`, `C:/x`), UNC paths (`\\server\share\x`) and their long forms (`\\?\C:\x`,
//! `\\?\UNC\server\share\x`) are accepted as Windows reads them. The rules are plain functions of the text,
//! so the unit tests run on every platform; the engine applies them only on Windows ([`check_for_platform`]).
use std::fmt;

/// Why a path is refused on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A component is a device name (the name as Windows sees it, upper-cased).
    Device(String),
    /// The device namespace `\\.\` or `\\?\GLOBALROOT`.
    DeviceNamespace,
    /// `C:x` or `\x`: relative to a current drive or folder.
    NotFull,
    /// A component holds a character no Windows file name holds.
    Character(char),
    /// A UNC path without a server or a share.
    BadUnc,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Device(name) => write!(f, "'{name}' is a device name on Windows, not a file or folder name; give another name"),
            Refusal::DeviceNamespace => write!(f, "it names a Windows device (\\\\.\\ or \\\\?\\GLOBALROOT), not a file or folder"),
            Refusal::NotFull => write!(f, "it is relative to the current drive or folder; give a full path such as C:\\TvmBackups"),
            Refusal::Character(c) => write!(f, "it contains {c:?}, which Windows file names cannot hold"),
            Refusal::BadUnc => write!(f, "it is a UNC path without a server and a share; give \\\\server\\share\\folder"),
        }
    }
}

/// The device names of Win32 (`RtlIsDosDeviceName_U`), with the superscript digits Windows also accepts.
fn is_device_name(component: &str) -> Option<String> {
    // Windows drops trailing dots and spaces, and the device is named by what comes before the first dot.
    let trimmed = component.trim_end_matches(['.', ' ']);
    let base = trimmed.split('.').next().unwrap_or(trimmed).trim_end_matches(' ');
    let upper = base.to_uppercase();
    let plain = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    let numbered = |prefix: &str| {
        upper.strip_prefix(prefix).is_some_and(|digit| {
            let mut chars = digit.chars();
            matches!((chars.next(), chars.next()), (Some('1'..='9' | '¹' | '²' | '³'), None))
        })
    };
    (plain.contains(&upper.as_str()) || numbered("COM") || numbered("LPT")).then_some(upper)
}

/// Checks `path` by Windows' rules.
pub fn check(path: &str) -> Result<(), Refusal> {
    let unified = path.replace('/', "\\");
    let rest = if let Some(long) = unified.strip_prefix("\\\\?\\") {
        if long.get(..10).is_some_and(|prefix| prefix.eq_ignore_ascii_case("GLOBALROOT")) {
            return Err(Refusal::DeviceNamespace);
        }
        match long.get(..4) {
            Some(unc) if unc.eq_ignore_ascii_case("UNC\\") => unc_rest(&long[4..])?,
            _ => drive_rest(long)?,
        }
    } else if unified.starts_with("\\\\.\\") || unified == "\\\\." {
        return Err(Refusal::DeviceNamespace);
    } else if let Some(unc) = unified.strip_prefix("\\\\") {
        unc_rest(unc)?
    } else {
        drive_rest(&unified)?
    };
    for component in rest.split('\\').filter(|c| !c.is_empty()) {
        if let Some(c) = component.chars().find(|c| c.is_control() || "<>\"|?*:".contains(*c)) {
            return Err(Refusal::Character(c));
        }
        if component != "." && component != ".." {
            if let Some(device) = is_device_name(component) {
                return Err(Refusal::Device(device));
            }
        }
    }
    Ok(())
}

/// After `\\` (or `\\?\UNC\`): the server and share, then the rest.
fn unc_rest(unc: &str) -> Result<&str, Refusal> {
    let mut parts = unc.splitn(3, '\\');
    let server = parts.next().unwrap_or("");
    let share = parts.next().unwrap_or("");
    if server.is_empty() || share.is_empty() {
        return Err(Refusal::BadUnc);
    }
    Ok(parts.next().unwrap_or(""))
}

/// `X:\rest`: the rest; `X:rest` and `\rest` are not full paths.
fn drive_rest(path: &str) -> Result<&str, Refusal> {
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return match bytes.get(2) {
            Some(b'\\') => Ok(&path[3..]),
            _ => Err(Refusal::NotFull),
        };
    }
    Err(Refusal::NotFull)
}

/// [`check`] on Windows; elsewhere every path passes (a Unix file system has no devices by name).
pub fn check_for_platform(path: &str) -> Result<(), Refusal> {
    if cfg!(windows) {
        check(path)
    } else {
        Ok(())
    }
}

/// The key by which Windows tells file names apart: Windows compares names without regard to case (NTFS
/// upper-cases both through its table; Unicode's upper-casing is the same for the names a key can have).
pub fn file_name_key(name: &str) -> String {
    name.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_drive_and_unc_paths_pass() {
        for ok in [
            r"C:\TvmBackups",
            r"c:\users\x\vault",
            "C:/TvmBackups/20261201000000",
            r"Z:\tmp\a b\c.d",
            r"\\server\share\backups",
            r"\\?\C:\TvmBackups",
            r"\\?\UNC\server\share\x",
            r"C:\",
            r"C:\x\..\y",
            r"C:\CONTOSO\console\nul-free\COM10\LPT0",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn device_names_are_refused_as_windows_reads_them() {
        for (path, device) in [
            (r"C:\backups\NUL", "NUL"),
            (r"C:\backups\nul.json", "NUL"),
            (r"C:\CON\x", "CON"),
            (r"C:\x\com1", "COM1"),
            (r"C:\x\LPT9.txt", "LPT9"),
            (r"C:\x\aux.", "AUX"),
            (r"C:\x\PRN  ", "PRN"),
            (r"C:\x\conin$", "CONIN$"),
            (r"C:\x\COM¹", "COM¹"),
            (r"\\server\share\NUL", "NUL"),
            (r"\\?\C:\x\CON", "CON"),
        ] {
            assert_eq!(check(path), Err(Refusal::Device(device.into())), "{path}");
        }
    }

    #[test]
    fn devices_relative_paths_and_streams_are_refused() {
        assert_eq!(check(r"\\.\PhysicalDrive0"), Err(Refusal::DeviceNamespace));
        assert_eq!(check(r"\\?\GLOBALROOT\Device\Null"), Err(Refusal::DeviceNamespace));
        // A multi-byte character where the GLOBALROOT prefix would end is not a slicing panic.
        assert_eq!(check(r"\\?\C:\éééé"), Ok(()));
        assert_eq!(check(r"C:backups"), Err(Refusal::NotFull));
        assert_eq!(check(r"\backups"), Err(Refusal::NotFull));
        assert_eq!(check("backups"), Err(Refusal::NotFull));
        assert_eq!(check(r"\\server"), Err(Refusal::BadUnc));
        assert_eq!(check(r"\\server\\x"), Err(Refusal::BadUnc));
        assert_eq!(check(r"C:\x\file.json:hidden"), Err(Refusal::Character(':')));
        assert_eq!(check(r"C:\x\a?b"), Err(Refusal::Character('?')));
        assert_eq!(check("C:\\x\\a\u{1}"), Err(Refusal::Character('\u{1}')));
        assert!(Refusal::Device("NUL".into()).to_string().contains("device name"));
    }

    #[test]
    fn file_names_compare_as_windows_compares_them() {
        assert_eq!(file_name_key("VM1_256.json"), file_name_key("vm1_256.JSON"));
        assert_eq!(file_name_key("Ärger_256.json"), file_name_key("ärger_256.json"));
        assert_ne!(file_name_key("vm1_256.json"), file_name_key("vm2_256.json"));
    }
}
