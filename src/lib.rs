//! tvmkeys: the engine of TvmBackupUtils, a drop-in replacement for Microsoft's `TvmBackupUtils.psm1`
//! that backs up and restores the keys Trusted launch VMs on Azure Local need to boot.
//!
//! Where things live:
//! - [`backup`], [`restore`], [`wrapping_key`]: the four commands of the original script.
//! - [`layout`]: backup folders and key file names; [`keyfile`]: the MOC key file formats;
//!   [`pem`]: reading PEM key files; [`keywrap`]: the `CKM_RSA_AES_KEY_WRAP` mechanism.
//! - [`vault`]: the vault trait and [`vault::LocalVault`], a vault in a folder for rehearsals and tests.
//! - [`ffi`]: the C ABI the PowerShell cmdlets call (the only place with `unsafe`).
pub mod backup;
pub mod error;
pub mod events;
pub mod ffi;
pub mod keyfile;
pub mod keywrap;
pub mod layout;
pub mod pem;
pub mod restore;
pub mod vault;
pub mod wrapping_key;

pub use error::{Error, ErrorKind, Result};
