//! The engine's errors. Each one says what happened and to which input, in words an administrator can
//! act on, and carries a stable [`ErrorCode`]: the `errorId` a script sees (PowerShell's ErrorId) and,
//! through [`ErrorCode::category`], the PowerShell `ErrorCategory`, both from one table.
//!
//! Messages name the input that failed in the engine's words ("the wrapping key name"), never a
//! PowerShell parameter; [`Error::input`] tells the front end which request field it was, so the front
//! end can name its own parameter.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Defines [`ErrorCode`], its category table and [`ErrorCode::ALL`] from one list, so that a code cannot
/// be added without its category or be left out of the list.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $code:ident => $category:literal, )*) => {
        /// One code per problem. The string form is the contract (`errorId`); a code is never renamed or
        /// reused for another problem, and a retired one stays listed in `docs/abi.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $code, )*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code),*];

            /// The PowerShell `ErrorCategory` name for this code; the one table of categories.
            pub fn category(self) -> &'static str {
                match self {
                    $( ErrorCode::$code => $category, )*
                }
            }
        }
    };
}

error_codes! {
    // The request itself.
    /// A required pointer argument of a C ABI call was NULL.
    NullArgument => "InvalidArgument",
    /// The request JSON is malformed, has an unknown field, or lacks a required one.
    InvalidRequest => "InvalidArgument",
    /// A bug: the engine (or a callback) panicked.
    InternalError => "InvalidOperation",

    // Arguments, checked before anything is read or written.
    InvalidKeyName => "InvalidArgument",
    InvalidKeyType => "InvalidArgument",
    InvalidKeySize => "InvalidArgument",
    InvalidTimestamp => "InvalidArgument",
    InvalidPath => "InvalidArgument",
    /// A deep check without the wrapping private key (-PrivateKeyPath).
    PrivateKeyRequired => "InvalidArgument",
    /// A `-Label` that is too long or not one line.
    InvalidLabel => "InvalidArgument",
    /// The key size given is not the size of the key in the PEM file.
    KeySizeMismatch => "InvalidArgument",
    /// The backup root names a file, not a folder.
    BackupRootIsFile => "InvalidArgument",
    /// Remove-TvmWrappingKey was given a key that cannot be a wrapping key (not RSA, or the attestation root key).
    NotAWrappingKey => "InvalidArgument",
    /// A key of the backup has the name of the wrapping key (importing it can hang MOC).
    KeyNamedLikeWrappingKey => "InvalidArgument",

    // Things that are not there.
    /// A PEM file the caller named does not exist.
    FileMissing => "ObjectNotFound",
    BackupFolderMissing => "ObjectNotFound",
    /// The backup root given to list or prune backups does not exist.
    BackupRootMissing => "ObjectNotFound",
    /// Get-TVMKeyBackup -Latest: the backup root holds no Complete or Legacy backup.
    NoCompleteBackup => "ObjectNotFound",
    /// The local vault's folder is missing or empty and the command does not create one.
    VaultMissing => "ObjectNotFound",
    KeyNotFound => "ObjectNotFound",
    /// Import-TVMKeys -KeyName: a name (or pattern) that no key of the backup has.
    KeyNotInBackup => "ObjectNotFound",
    /// Backup-TVMKeys -KeyName: a name (or pattern) that no key of the vault has.
    KeyNotInVault => "ObjectNotFound",
    /// A restore needs the wrapping key, and the vault does not hold it.
    WrappingKeyMissing => "ObjectNotFound",

    // Things that are there already.
    KeyExists => "ResourceExists",
    BackupExists => "ResourceExists",
    /// Import-TVMKeys -IfExists Fail: keys of the restore are in the vault already.
    KeysExist => "ResourceExists",
    /// A key of the restore is in the vault with other material than the backup's (left as it is).
    KeyConflict => "ResourceExists",
    /// New-TvmWrappingKey: a PEM file to write exists and -Force was not given.
    WrappingKeyFileExists => "ResourceExists",
    /// Import-TvmWrappingKeyFromPem or New-TvmWrappingKey -InVault: the vault holds a key of that name that is
    /// not this wrapping key (another public key, or not an RSA key); it was left as it is.
    WrappingKeyConflict => "ResourceExists",

    // Files that are not what they must be.
    PemInvalid => "InvalidData",
    /// The private key PEM is encrypted with a password.
    PemEncrypted => "NotImplemented",
    /// An encrypted private key PEM could not be decrypted with the password given.
    PemPasswordWrong => "SecurityError",
    KeyFileInvalid => "InvalidData",
    KeyFileNameInvalid => "InvalidData",
    /// Two key file names that Windows does not tell apart (`VM1_256.json`, `vm1_256.json`).
    KeyFileNamesCollide => "InvalidData",
    /// The folder given as a backup has no AES or RSA folder.
    NotABackup => "InvalidData",
    /// The folder given as a backup is a hidden `.<timestamp>.partial` folder: a backup that never completed.
    BackupIncomplete => "InvalidData",
    NotALocalVault => "InvalidData",
    /// A key file inside the local vault is damaged.
    VaultKeyDamaged => "InvalidData",

    /// The backup of the target vault that a restore takes first could not be taken; nothing was imported.
    TargetBackupFailed => "InvalidOperation",
    /// Test-TVMKeyBackup found a backup damaged or incomplete (a non-terminating error per backup).
    BackupDamaged => "InvalidData",
    /// The backup lacks keys the vault holds, or holds keys the vault no longer has (Test-TVMKeyBackup -Vault).
    BackupNotCurrent => "InvalidResult",
    /// Remove-TVMKeyBackup was given a folder that is not a backup of the backup root.
    NotInBackupRoot => "InvalidArgument",
    /// Remove-TVMKeyBackup was told neither -KeepLast, -OlderThan nor backups.
    NothingSelected => "InvalidArgument",

    // Key material.
    /// The public key PEM does not belong to the private key PEM.
    KeyPairMismatch => "SecurityError",
    /// The backup was made for another wrapping key than the vault's.
    WrappingKeyMismatch => "SecurityError",
    /// One key file was wrapped for another public key than the vault's wrapping key.
    KeyFileWrappingKeyMismatch => "SecurityError",
    /// Unwrapped material is not the key its file names (size, type, public half).
    KeyMaterialInvalid => "SecurityError",
    UnwrapFailed => "SecurityError",
    CryptoFailed => "SecurityError",

    // The file system.
    FileReadFailed => "ReadError",
    FileWriteFailed => "WriteError",

    // The vault.
    /// `(Get-MocConfig)` did not give versions that can be read.
    MocVersionUnknown => "NotInstalled",
    MocModuleVersionTooOld => "NotInstalled",
    MocStackVersionTooOld => "NotInstalled",
    VaultTimeout => "OperationTimeout",
    /// The vault failed; the message is its own text, in full.
    VaultFailed => "InvalidOperation",
    /// The vault cannot do what was asked (e.g. tell a key's public half).
    VaultUnsupported => "NotImplemented",


    // Wrapping key shares (Split-, Join-, Test-TvmWrappingKeyShare, -SharePath).
    /// -Threshold or -Shares out of range (2 <= M <= N <= 16).
    ShareCountInvalid => "InvalidArgument",
    /// The custodian public keys or passwords do not fit the split (count, a repeated key, the wrapping key itself, none given).
    CustodiansInvalid => "InvalidArgument",
    /// Split-TvmWrappingKey: the folder holds share files of this key and -Force was not given.
    ShareFileExists => "ResourceExists",
    /// A share file is damaged, is not a share file, or is of another version.
    ShareInvalid => "InvalidData",
    /// Share files of different splits (another key, split id, threshold or count) were given together.
    ShareSplitMismatch => "InvalidData",
    /// Fewer distinct shares than the threshold were given.
    ShareTooFew => "InvalidArgument",
    /// A share is encrypted to a custodian, and no key or password was given for it.
    ShareLocked => "InvalidArgument",
    /// No password given opens a password-protected share.
    SharePasswordWrong => "SecurityError",
    /// Intact shares of one split rebuilt something other than the key they name.
    ShareRebuildFailed => "SecurityError",

    /// -ThrottleLimit out of range (1 to 16 vault calls at a time).
    ThrottleLimitInvalid => "InvalidArgument",

    /// The caller asked to stop.
    Cancelled => "OperationStopped",
}

impl ErrorCode {
    /// The `errorId` string (the variant's name).
    pub fn as_str(self) -> String {
        format!("{self:?}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem with a code and a complete message. `input` is the request field it concerns, if any.
    #[error("{message}")]
    Problem { code: ErrorCode, message: String, input: Option<&'static str> },

    /// A file or folder the caller named does not exist.
    #[error("{what} '{}' does not exist. {fix}", path.display())]
    Missing { code: ErrorCode, what: &'static str, path: PathBuf, fix: &'static str },

    /// Reading or writing a file failed for a reason the operating system gave.
    #[error("Could not {action} '{}': {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The vault already holds a key of that name (MOC: `InvalidVersion`).
    #[error("A key named '{name}' already exists in the vault.")]
    KeyExists { name: String },

    /// The vault holds no key of that name (MOC: `Not Found`).
    #[error("The vault has no key named '{name}'.")]
    KeyNotFound { name: String },

    /// The restore needs the wrapping key, and the vault does not hold it.
    #[error("The wrapping key '{name}' is not in the vault. Import it with Import-TvmWrappingKeyFromPem, then run Import-TVMKeys again.")]
    WrappingKeyMissing { name: String },

    /// One key could not be backed up, so the whole backup was abandoned. Keeps the cause's code, so a
    /// timeout still reads as a timeout.
    #[error("Key {name} could not be backed up, so no backup was written: {source}")]
    Backup {
        name: String,
        #[source]
        source: Box<Error>,
    },

    /// The caller asked to stop (Ctrl+C in PowerShell).
    #[error("The operation was cancelled. {0}")]
    Cancelled(String),
}

impl Error {
    /// A problem with its code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Problem { code, message: message.into(), input: None }
    }

    /// A problem with one request field: `input` is that field's name in the request (`keySize`).
    pub fn for_input(code: ErrorCode, input: &'static str, message: impl Into<String>) -> Error {
        Error::Problem { code, message: message.into(), input: Some(input) }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Problem { code, .. } | Error::Missing { code, .. } => *code,
            Error::Io { action, .. } => {
                if action.starts_with("read") || action.starts_with("list") {
                    ErrorCode::FileReadFailed
                } else {
                    ErrorCode::FileWriteFailed
                }
            }
            Error::KeyExists { .. } => ErrorCode::KeyExists,
            Error::KeyNotFound { .. } => ErrorCode::KeyNotFound,
            Error::WrappingKeyMissing { .. } => ErrorCode::WrappingKeyMissing,
            Error::Backup { source, .. } => source.code(),
            Error::Cancelled(_) => ErrorCode::Cancelled,
        }
    }

    /// The request field this error concerns, when it concerns one.
    pub fn input(&self) -> Option<&'static str> {
        match self {
            Error::Problem { input, .. } => *input,
            Error::Backup { source, .. } => source.input(),
            _ => None,
        }
    }

    /// The same error, now said to concern the request field `input`.
    pub fn at_input(self, input: &'static str) -> Error {
        match self {
            Error::Problem { code, message, .. } => Error::Problem { code, message, input: Some(input) },
            other => other,
        }
    }

    /// The same error (code and message), now said to concern the request field `input`, whatever its kind:
    /// a missing or unreadable file given by the caller is a problem with that input.
    pub fn concerning(self, input: &'static str) -> Error {
        match self {
            Error::Cancelled(_) => self,
            Error::Problem { code, message, .. } => Error::Problem { code, message, input: Some(input) },
            other => Error::Problem { code: other.code(), message: other.to_string(), input: Some(input) },
        }
    }

    /// What the error is about (a key name, a file), for the error record's target.
    pub fn target(&self) -> Option<String> {
        match self {
            Error::Missing { path, .. } | Error::Io { path, .. } => Some(path.display().to_string()),
            Error::KeyExists { name } | Error::KeyNotFound { name } | Error::WrappingKeyMissing { name } | Error::Backup { name, .. } => {
                Some(name.clone())
            }
            Error::Problem { .. } | Error::Cancelled(_) => None,
        }
    }

    /// The structured form that crosses the C ABI.
    pub fn info(&self) -> ErrorInfo {
        let code = self.code();
        ErrorInfo {
            error_id: code.as_str(),
            category: code.category().to_string(),
            message: self.to_string(),
            target: self.target(),
            input: self.input().map(str::to_string),
        }
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }
}

/// An error as it crosses the C ABI: `{"errorId","category","message","target","input"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorInfo {
    /// The stable code, e.g. `WrappingKeyMissing`: the ErrorId in PowerShell.
    pub error_id: String,
    /// The PowerShell `ErrorCategory` name, e.g. `ObjectNotFound`.
    pub category: String,
    /// The whole message, naming the input that failed.
    pub message: String,
    /// What the error is about: a key name or a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The request field that failed (`keySize`), so the front end can name its parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_category_powershell_knows() {
        // The names of System.Management.Automation.ErrorCategory used in the table.
        const KNOWN: [&str; 12] = [
            "InvalidResult",
            "InvalidArgument",
            "InvalidOperation",
            "ObjectNotFound",
            "ResourceExists",
            "InvalidData",
            "NotImplemented",
            "SecurityError",
            "ReadError",
            "WriteError",
            "NotInstalled",
            "OperationTimeout",
        ];
        for code in ErrorCode::ALL {
            let c = code.category();
            assert!(KNOWN.contains(&c) || c == "OperationStopped", "{code:?} -> {c}");
        }
    }

    #[test]
    fn io_errors_say_read_or_write() {
        let e = Error::io("read", Path::new("x"), std::io::Error::other("boom"));
        assert_eq!(e.code(), ErrorCode::FileReadFailed);
        let e = Error::io("write", Path::new("x"), std::io::Error::other("boom"));
        assert_eq!(e.code(), ErrorCode::FileWriteFailed);
    }
}
