//! The engine's errors. Each variant says what happened and to which input, in words an administrator can
//! act on; the C ABI turns a variant into a numbered status with [`Error::kind`].
use std::path::{Path, PathBuf};


/// Broad classes of failure. The C ABI numbers them; PowerShell maps them onto `ErrorCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    Io,
    Format,
    Crypto,
    Vault,
    AlreadyExists,
    NotFound,
    Cancelled,
    Timeout,
    Unsupported,
    IncompatibleVersion,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller's argument is wrong before anything is read: an empty name, a bad size, a bad timestamp.
    #[error("{0}")]
    InvalidArgument(String),

    /// A file or folder the caller named does not exist.
    #[error("{what} '{}' does not exist. {fix}", path.display())]
    Missing { what: &'static str, path: PathBuf, fix: &'static str },

    /// Reading or writing a file failed for a reason the operating system gave.
    #[error("Could not {action} '{}': {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file exists but its content is not what it must be (PEM, key file, backup layout).
    #[error("{0}")]
    Format(String),

    /// Key material is inconsistent or a cryptographic operation failed.
    #[error("{0}")]
    Crypto(String),

    /// Something asked for exists already (a backup folder, a key of that name).
    #[error("{0}")]
    AlreadyExists(String),

    /// A supported-but-not-here case: encrypted private keys, a vault that is not available.
    #[error("{0}")]
    Unsupported(String),

    /// The vault already holds a key of that name (MOC: `InvalidVersion`).
    #[error("A key named '{name}' already exists in the vault.")]
    KeyExists { name: String },

    /// The vault holds no key of that name (MOC: `Not Found`).
    #[error("The vault has no key named '{name}'.")]
    KeyNotFound { name: String },

    /// The restore needs the wrapping key, and the vault does not hold it.
    #[error("The wrapping key '{name}' is not in the vault. Import it with Import-TvmWrappingKeyFromPem, then run Import-TVMKeys again.")]
    WrappingKeyMissing { name: String },

    /// The cluster's MOC is missing or too old for the command (the original's version gates).
    #[error("{0}")]
    IncompatibleVersion(String),

    /// A vault call did not return in time; it names the key.
    #[error("{0}")]
    Timeout(String),

    /// The vault failed for another reason; the text is the vault's own, in full.
    #[error("{0}")]
    Vault(String),

    /// One key could not be backed up, so the whole backup was abandoned. Keeps the cause's kind, so a
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
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Missing { .. } => ErrorKind::NotFound,
            Error::Io { .. } => ErrorKind::Io,
            Error::Format(_) => ErrorKind::Format,
            Error::Crypto(_) => ErrorKind::Crypto,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Cancelled(_) => ErrorKind::Cancelled,
            Error::Backup { source, .. } => source.kind(),
            Error::KeyExists { .. } => ErrorKind::AlreadyExists,
            Error::KeyNotFound { .. } | Error::WrappingKeyMissing { .. } => ErrorKind::NotFound,
            Error::IncompatibleVersion(_) => ErrorKind::IncompatibleVersion,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Vault(_) => ErrorKind::Vault,
        }
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
