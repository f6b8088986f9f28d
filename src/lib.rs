//! tvmkeys: the engine of TvmBackupUtils, a drop-in replacement for Microsoft's `TvmBackupUtils.psm1`
//! that backs up and restores the keys Trusted launch VMs on Azure Local need to boot.
//!
//! Where things live:
//! - [`api`]: the contract of the C ABI, one file per command: its request and result (serde) and `run()`.
//! - [`backup`], [`restore`], [`wrapping_key`]: the four commands of the original script.
//! - [`reader`]: reads one backup's key files once; [`layout`]: backup folders and key file names;
//!   [`keyfile`]: the MOC key file formats; [`pem`]: reading PEM key files; [`keywrap`]: the
//!   `CKM_RSA_AES_KEY_WRAP` mechanism (all described in `docs/format.md`).
//! - [`manifest`]: `manifest.json`, the list a backup keeps of itself; [`verify`]: whether a backup is what
//!   was written (quick, full, deep); [`coverage`]: whether it still covers the vault; [`inventory`]: the
//!   backups of a backup root, and retention.
//! - [`shares`]: the wrapping private key split M of N among custodians, and rebuilt from their shares.
//! - [`events`]: the named records a command sends its caller while it works.
//! - [`error`]: errors with a stable code per problem.
//! - [`vault`]: the vault trait, [`vault::LocalVault`] (a vault in a folder for rehearsals and tests) and
//!   [`vault::moc::MocVault`] (the cluster's vault, through the host's Moc cmdlets).
//! - [`owner_only`]: files and folders only their owner can open (0600/0700; a protected DACL on Windows).
//! - [`win_path`]: Windows' rules for paths (device names, relative forms) and for comparing file names.
//! - [`ffi`]: the C ABI the PowerShell cmdlets call (the only place with `unsafe`), `docs/abi.md`.
pub mod api;
pub mod backup;
pub mod coverage;
pub mod crash_point;
pub mod error;
pub mod events;
pub mod ffi;
pub mod inventory;
pub mod keyfile;
pub mod keywrap;
pub mod layout;
pub mod manifest;
pub mod oaep;
pub mod owner_only;
pub mod pem;
pub mod reader;
pub mod restore;
pub mod shares;
pub mod sweep;
pub mod vault;
pub mod verify;
pub mod win_path;
pub mod wrapping_key;

pub use error::{Error, ErrorCode, Result};
