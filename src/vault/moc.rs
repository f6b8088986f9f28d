//! The cluster's MOC key vault. MOC is reached only through the Moc PowerShell cmdlets, which run in the
//! caller's PowerShell session, so this vault sends each operation as a [`HostOp`] to a [`Host`] (the C#
//! side, through one dispatcher callback of the C ABI) and reads its [`HostReply`]. What MOC's replies
//! mean is decided here, once: the version gates of the original script (`docs/format.md` section 9) and the wording of MOC's failures (`InvalidVersion`: the key exists; `Not Found`:
//! it is missing).
use std::cmp::Ordering;

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ExportJob, ImportJob, Key, KeySpec, Vault};
use crate::error::{Error, ErrorCode, Result};
use crate::events::Events;
use crate::pem;

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
    Error::new(ErrorCode::MocVersionUnknown, "Unable to determine Moc installation versions.")
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
            return Err(Error::new(ErrorCode::MocStackVersionTooOld, format!(
                "Incompatible moc stack version: {stack} found. {MIN_STACK_VERSION} is needed. Please update your cluster."
            )));
        }
    }
    if module.cmp(&min_module) == Ordering::Less {
        return Err(Error::new(ErrorCode::MocModuleVersionTooOld, format!(
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

/// One operation for the host: one Moc cmdlet, with the original's parameters (`docs/abi.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum HostOp {
    /// `Get-MocConfig`: reply `moduleVersion` and `version`.
    GetConfig,
    /// `Get-MocKey -group -keyvaultName`: reply `keys`.
    List,
    /// `Export-MocKey -name [-wrappingKeyName] -wrappingPubKeyFile -outFile -group -keyvaultName -size`.
    Export {
        name: String,
        #[serde(rename = "type")]
        key_type: String,
        size: u32,
        wrapping_key_path: String,
        /// The vault-to-vault flow: the wrapping key's name in the vault that will import the file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrapping_key_name: Option<String>,
        out_file: String,
    },
    /// `Import-MocKey -name [-wrappingKeyName] -importKeyFile -group -keyvaultName -size -type`.
    /// No `wrappingKeyName` for the NO_KEY_WRAP wrapping key pair.
    Import {
        name: String,
        #[serde(rename = "type")]
        key_type: String,
        size: u32,
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wrapping_key_name: Option<String>,
    },
    /// `Get-MocKeyPublicKey -name -group -keyvaultName -outputFile`.
    PublicKey { name: String, out_file: String },
    /// `Remove-MocKey -name -group -keyvaultName`.
    Delete { name: String },
    /// `New-MocKey -name -group -keyvaultName -type -size`.
    Create {
        name: String,
        #[serde(rename = "type")]
        key_type: String,
        size: u32,
    },
    /// Several exports or imports at once (`-ThrottleLimit`): up to `throttle` of `calls` run at a time, each
    /// in a runspace of its own that imports the Moc module; reply `replies`, one per call, in the calls' order.
    Batch { calls: Vec<HostOp>, throttle: u32 },
}

impl HostOp {
    fn verb(&self) -> &'static str {
        match self {
            HostOp::GetConfig => "read the configuration of",
            HostOp::List => "list the keys of",
            HostOp::Export { .. } => "export",
            HostOp::Import { .. } => "import",
            HostOp::PublicKey { .. } => "read the public key of",
            HostOp::Delete { .. } => "delete",
            HostOp::Create { .. } => "create",
            HostOp::Batch { .. } => "run a batch of calls for",
        }
    }

    /// The key the operation is about ("" for none).
    fn key_name(&self) -> &str {
        match self {
            HostOp::GetConfig | HostOp::List | HostOp::Batch { .. } => "",
            HostOp::Export { name, .. }
            | HostOp::Import { name, .. }
            | HostOp::PublicKey { name, .. }
            | HostOp::Delete { name }
            | HostOp::Create { name, .. } => name,
        }
    }
}

/// How a host operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HostOutcome {
    Ok,
    /// The cmdlet failed; `message` is its whole text (`"$_"`), read here with MOC's wording.
    Failed,
    /// The call did not return within the command's timeout and was stopped.
    Timeout,
    /// The command is stopping (Ctrl+C).
    Cancelled,
}

/// The host's reply to one operation. Fields that do not apply are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReply {
    pub outcome: HostOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `list`: the keys, as `Get-MocKey` gave them (`name`, `properties.kty`, `properties.key_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<Key>>,
    /// `getConfig`: `(Get-MocConfig).moduleVersion`, absent when it gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_version: Option<String>,
    /// `getConfig`: `(Get-MocConfig).version`, absent when it gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `batch`: one reply per call, in the calls' order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<HostReply>>,
}

/// The side that runs the Moc cmdlets. An `Err` is a transport failure: the host gave no reply it could
/// be read from.
pub trait Host {
    fn dispatch(&self, op: &HostOp) -> Result<HostReply>;
}

/// The original's defaults: `-group AzureStackHostAttestation -keyvaultName AzureStackTvmKeyVault`.
pub const DEFAULT_GROUP: &str = "AzureStackHostAttestation";
pub const DEFAULT_VAULT_NAME: &str = "AzureStackTvmKeyVault";

/// The MOC vault: every operation one host call.
pub struct MocVault {
    host: Box<dyn Host>,
    /// The `-Group` and `-KeyVaultName` the host's cmdlets use, as the host said when the vault was opened
    /// (the host, not the engine, passes them to the Moc cmdlets): recorded in a backup's manifest.
    group: String,
    vault_name: String,
}

impl MocVault {
    /// Reads `Get-MocConfig` and applies the original's version gates (the stack gate only with
    /// `check_stack_version`, as the original checks it only to import the wrapping key).
    pub fn open(host: Box<dyn Host>, check_stack_version: bool, events: &mut dyn Events) -> Result<MocVault> {
        Self::open_named(host, check_stack_version, (None, None), events)
    }

    /// [`MocVault::open`] for the vault of `(group, vault name)`, the names the host's cmdlets are given;
    /// a missing or empty name is the original's default.
    pub fn open_named(host: Box<dyn Host>, check_stack_version: bool, names: (Option<&str>, Option<&str>), events: &mut dyn Events) -> Result<MocVault> {
        let name = |given: Option<&str>, default: &str| given.filter(|n| !n.is_empty()).unwrap_or(default).to_string();
        let vault = MocVault { host, group: name(names.0, DEFAULT_GROUP), vault_name: name(names.1, DEFAULT_VAULT_NAME) };
        let reply = vault.host.dispatch(&HostOp::GetConfig)?;
        let (module, stack) = match reply.outcome {
            HostOutcome::Ok => (reply.module_version, reply.version),
            HostOutcome::Cancelled => return Err(Error::Cancelled(reply.message.unwrap_or_default())),
            HostOutcome::Failed | HostOutcome::Timeout => {
                // The original could not tell the versions either; its message stays the error, and MOC's own
                // text goes to the verbose stream.
                events.verbose(&format!("Get-MocConfig: {}", reply.message.unwrap_or_default()));
                (None, None)
            }
        };
        check_versions(module.as_deref(), check_stack_version.then_some(stack.as_deref()))?;
        Ok(vault)
    }

    /// Runs one operation and turns a failed reply into the engine's typed error.
    fn call(&self, op: HostOp) -> Result<HostReply> {
        let reply = self.host.dispatch(&op)?;
        interpret(&op, reply)
    }

    /// Runs `ops`, up to `throttle` at a time, as one `batch` operation; the results are in the order of `ops`.
    /// With a throttle of 1, or one operation, each is its own call, as the original made them.
    fn call_many(&self, ops: Vec<HostOp>, throttle: u32) -> Vec<Result<HostReply>> {
        if throttle <= 1 || ops.len() <= 1 {
            return ops.into_iter().map(|op| self.call(op)).collect();
        }
        let count = ops.len();
        let reply = match self.host.dispatch(&HostOp::Batch { calls: ops.clone(), throttle }) {
            Ok(reply) => reply,
            Err(e) => return ops.iter().map(|_| Err(Error::new(e.code(), e.to_string()))).collect(),
        };
        if reply.outcome != HostOutcome::Ok {
            // The batch as a whole failed or was stopped: each call gets that answer.
            return ops.iter().map(|op| interpret(op, reply.clone())).collect();
        }
        let replies = reply.replies.unwrap_or_default();
        if replies.len() != count {
            let text = format!("The Moc vault adapter gave {} replies to a batch of {count} calls: the module folder mixes two builds.", replies.len());
            return ops.iter().map(|_| Err(Error::new(ErrorCode::VaultFailed, text.clone()))).collect();
        }
        ops.iter().zip(replies).map(|(op, reply)| interpret(op, reply)).collect()
    }
}

/// A host reply to `op` as the engine's result: a failure becomes its typed error, read with MOC's wording.
fn interpret(op: &HostOp, reply: HostReply) -> Result<HostReply> {
    let name = op.key_name();
    let text = || reply.message.clone().unwrap_or_else(|| format!("The vault failed to {} key '{name}'.", op.verb()));
    let meaning = match reply.outcome {
        HostOutcome::Ok => return Ok(reply),
        HostOutcome::Timeout => return Err(Error::new(ErrorCode::VaultTimeout, text())),
        HostOutcome::Cancelled => return Err(Error::Cancelled(text())),
        HostOutcome::Failed => classify(&text()),
    };
    Err(match (meaning, op) {
        (Meaning::Exists, _) => Error::KeyExists { name: name.into() },
        // An import names two keys; MOC's `Not Found` there is the wrapping key.
        (Meaning::NotFound, HostOp::Import { .. }) => {
            Error::new(ErrorCode::VaultFailed, format!("{} (The wrapping key named for the import is not in the vault.)", text()))
        }
        (Meaning::NotFound, _) => Error::KeyNotFound { name: name.into() },
        (Meaning::Other, _) => Error::new(ErrorCode::VaultFailed, text()),
    })
}

fn export_op(name: &str, spec: KeySpec, wrapping_key_path: &Path, wrapping_key_name: Option<&str>, out_file: &Path) -> HostOp {
    HostOp::Export {
        name: name.into(),
        key_type: spec.key_type.as_str().into(),
        size: spec.size,
        wrapping_key_path: path_text(wrapping_key_path),
        wrapping_key_name: wrapping_key_name.filter(|w| !w.is_empty()).map(str::to_string),
        out_file: path_text(out_file),
    }
}

fn import_op(name: &str, spec: KeySpec, file: &Path, wrapping_key_name: Option<&str>) -> HostOp {
    HostOp::Import {
        name: name.into(),
        key_type: spec.key_type.as_str().into(),
        size: spec.size,
        file: path_text(file),
        wrapping_key_name: wrapping_key_name.filter(|w| !w.is_empty()).map(str::to_string),
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Vault for MocVault {
    fn list(&self) -> Result<Vec<Key>> {
        Ok(self.call(HostOp::List)?.keys.unwrap_or_default())
    }

    fn export(&self, name: &str, spec: KeySpec, wrapping_key_path: &Path, wrapping_key_name: Option<&str>, out_file: &Path) -> Result<()> {
        self.call(export_op(name, spec, wrapping_key_path, wrapping_key_name, out_file)).map(drop)
    }

    fn import(&self, name: &str, spec: KeySpec, file: &Path, wrapping_key_name: Option<&str>) -> Result<()> {
        self.call(import_op(name, spec, file, wrapping_key_name)).map(drop)
    }

    fn export_many(&self, jobs: &[ExportJob<'_>], throttle: u32) -> Vec<Result<()>> {
        let ops = jobs.iter().map(|j| export_op(j.name, j.spec, j.wrapping_key_path, j.wrapping_key_name, j.out_file)).collect();
        self.call_many(ops, throttle).into_iter().map(|r| r.map(drop)).collect()
    }

    fn import_many(&self, jobs: &[ImportJob<'_>], throttle: u32) -> Vec<Result<()>> {
        let ops = jobs.iter().map(|j| import_op(j.name, j.spec, j.file, j.wrapping_key_name)).collect();
        self.call_many(ops, throttle).into_iter().map(|r| r.map(drop)).collect()
    }

    fn public_key(&self, name: &str) -> Result<Vec<u8>> {
        // Get-MocKeyPublicKey writes a PEM file; it goes to a private temporary folder removed on return.
        let dir = tempfile::tempdir().map_err(|e| Error::io("create a temporary folder in", &std::env::temp_dir(), e))?;
        let file = dir.path().join("public.pem");
        self.call(HostOp::PublicKey { name: name.into(), out_file: path_text(&file) })?;
        Ok(pem::read_public_key(&file, "wrapping key")?.pkcs1_der)
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.call(HostOp::Delete { name: name.into() }).map(drop)
    }

    fn source(&self) -> crate::manifest::Source {
        crate::manifest::Source::Moc { group: self.group.clone(), vault_name: self.vault_name.clone() }
    }

    fn create(&self, name: &str, spec: KeySpec) -> Result<Option<String>> {
        self.call(HostOp::Create { name: name.into(), key_type: spec.key_type.as_str().into(), size: spec.size })?;
        Ok(None)
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
