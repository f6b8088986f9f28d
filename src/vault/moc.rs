//! What the engine knows about MOC, the cluster's key vault, that is not a file format: the version
//! gates of the original script (REFERENCE.md section 2) and the wording of MOC's failures. The C# shim
//! calls the Moc cmdlets and hands their text here, so MOC's words are recognised in one place.
use std::cmp::Ordering;

use crate::error::{Error, Result};

/// `(Get-MocConfig).moduleVersion` needed by every command that uses the vault.
pub const MIN_MODULE_VERSION: &str = "1.2.27";
/// `(Get-MocConfig).version` needed to import a plaintext (NO_KEY_WRAP) wrapping key.
pub const MIN_STACK_VERSION: &str = "1.14.1.10414";

/// A version as `[System.Version]::Parse` reads it: two to four non-negative numbers; a missing build
/// or revision is undefined (-1) and compares lower than 0, as in .NET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version([i64; 4]);

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return None;
        }
        let mut v = [-1i64; 4];
        for (slot, part) in v.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = part.parse::<i32>().ok()? as i64;
        }
        Some(Version(v))
    }

    fn cmp(&self, other: &Version) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl std::fmt::Display for Version {
    /// As `[System.Version]::ToString()`: the defined parts, normalised (`01.2` prints `1.2`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().take_while(|p| **p >= 0).map(|p| p.to_string()).collect();
        f.write_str(&parts.join("."))
    }
}

fn unknown() -> Error {
    Error::IncompatibleVersion("Unable to determine Moc installation versions.".into())
}

/// The original's gates, in its order and words. `stack_version` is checked only when given (the
/// wrapping key import); `None` for a value means Get-MocConfig did not return it.
pub fn check_versions(module_version: Option<&str>, stack_version: Option<Option<&str>>) -> Result<()> {
    let module = module_version.and_then(Version::parse).ok_or_else(unknown)?;
    let min_module = Version::parse(MIN_MODULE_VERSION).ok_or_else(unknown)?;
    if let Some(stack) = stack_version {
        let stack = stack.and_then(Version::parse).ok_or_else(unknown)?;
        let min_stack = Version::parse(MIN_STACK_VERSION).ok_or_else(unknown)?;
        if stack.cmp(&min_stack) == Ordering::Less {
            return Err(Error::IncompatibleVersion(format!(
                "Incompatible moc stack version: {stack} found. {MIN_STACK_VERSION} is needed. Please update your cluster."
            )));
        }
    }
    if module.cmp(&min_module) == Ordering::Less {
        return Err(Error::IncompatibleVersion(format!(
            "Incompatible moc powershell version: {module} found. Version {MIN_MODULE_VERSION} is needed. Please update your cluster."
        )));
    }
    Ok(())
}

/// What a MOC failure text means. MOC has no error codes at the PowerShell surface, only text:
/// `... [Error: Keys Import failed:  Type[Key] Vault[v] Name[n]: InvalidVersion]` for a name that exists,
/// `Not Found` for a missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Exists,
    NotFound,
    Other,
}

pub fn classify(message: &str) -> Meaning {
    if message.contains("InvalidVersion") {
        Meaning::Exists
    } else if message.contains("Not Found") || message.contains("NotFound") {
        Meaning::NotFound
    } else {
        Meaning::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_in_the_original_order_and_words() {
        assert!(check_versions(Some("1.2.27"), None).is_ok());
        assert!(check_versions(Some("1.10.0"), Some(Some("1.14.1.10414"))).is_ok());
        assert_eq!(
            check_versions(Some("1.2.26"), None).unwrap_err().to_string(),
            "Incompatible moc powershell version: 1.2.26 found. Version 1.2.27 is needed. Please update your cluster."
        );
        // [System.Version]: 1.2 has no build, which is less than 1.2.27; 01.02.030 prints normalised.
        assert!(check_versions(Some("1.2"), None).is_err());
        assert!(check_versions(Some("01.02.030"), None).is_ok());
        assert_eq!(
            check_versions(Some("1.2.27"), Some(Some("1.14.1"))).unwrap_err().to_string(),
            "Incompatible moc stack version: 1.14.1 found. 1.14.1.10414 is needed. Please update your cluster."
        );
        // The stack gate comes first, as in the original.
        assert!(check_versions(Some("1.0.0"), Some(Some("1.0.0"))).unwrap_err().to_string().contains("stack"));
        for bad in [None, Some("unknown"), Some(""), Some("1"), Some("1.2.3.4.5"), Some("1.-2.3"), Some("1..2")] {
            assert_eq!(check_versions(bad, None).unwrap_err().to_string(), "Unable to determine Moc installation versions.", "{bad:?}");
        }
        assert!(check_versions(Some("1.2.27"), Some(None)).is_err());
    }

    #[test]
    fn moc_failure_texts_are_classified() {
        let exists = r#"C:\Program Files\AksHci\mocctl.exe --cloudFqdn x security keyvault key import --name "vm1" System.Collections.Hashtable.generic_non_zero 1 [Error: Keys Import failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[vm1]: InvalidVersion]"#;
        assert_eq!(classify(exists), Meaning::Exists);
        assert_eq!(classify("... [Error: Keys Get failed: Not Found]"), Meaning::NotFound);
        assert_eq!(classify("... [Error: rpc error: code = Unavailable]"), Meaning::Other);
    }
}
