//! The C ABI that the PowerShell cmdlets call. The only module with `unsafe` code.
//!
//! Contract (see also `include/tvmkeys.h`, generated from this module):
//! - Every export returns a [`TvmStatus`] (or a plain value that cannot fail) and runs inside one panic
//!   boundary, [`boundary`]: a panic becomes `TVM_STATUS_PANIC`, never an abort of the PowerShell process.
//! - Strings are NUL-terminated UTF-16, borrowed for the duration of the call only.
//! - Anything handed out is freed by its one free function: a [`TvmVault`] by [`tvm_vault_free`], a string
//!   by [`tvm_string_free`].
//! - On failure, [`tvm_last_error`] returns this thread's message for the last failing call.
//! - Events (host messages, progress, per-key results, questions) go to the caller's callback on the
//!   calling thread, during the call.
mod host;

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use widestring::{U16CStr, U16CString};

use crate::error::{Error, ErrorKind};
use crate::events::{Events, KeyEvent, Outcome, Reply};
use crate::vault::{KeySpec, LocalVault, Vault};
pub use host::{tvm_host_call_add_key, tvm_host_call_set_error, TvmHostCall, TvmHostVault};

/// The ABI version; bumped whenever a signature or a struct layout changes. The C# shim refuses to run
/// against a library whose version differs from the one it was built for.
pub const TVM_ABI_VERSION: u32 = 2;

/// The result of every call. Numbers are never reused: a retired code stays reserved.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvmStatus {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is wrong: bad UTF-16, bad name, size or timestamp.
    InvalidArgument = 2,
    /// A file could not be read or written.
    Io = 3,
    /// A file exists but is not what it must be (PEM, key file, backup layout).
    Format = 4,
    /// Inconsistent key material, or a cryptographic operation failed.
    Crypto = 5,
    /// The vault failed for another reason.
    Vault = 6,
    /// A key or backup of that name exists already.
    AlreadyExists = 7,
    /// A file, folder or key does not exist.
    NotFound = 8,
    /// The caller asked to stop.
    Cancelled = 9,
    /// A vault call did not return in time.
    Timeout = 10,
    /// Not supported here (encrypted private keys, an unavailable vault).
    Unsupported = 11,
    /// The cluster's MOC is missing or older than the command needs (the original's version gates).
    IncompatibleVersion = 12,
    /// A bug: the engine panicked. The message says where.
    Panic = 99,
}

impl TvmStatus {
    fn from_kind(kind: ErrorKind) -> TvmStatus {
        match kind {
            ErrorKind::InvalidArgument => TvmStatus::InvalidArgument,
            ErrorKind::Io => TvmStatus::Io,
            ErrorKind::Format => TvmStatus::Format,
            ErrorKind::Crypto => TvmStatus::Crypto,
            ErrorKind::Vault => TvmStatus::Vault,
            ErrorKind::AlreadyExists => TvmStatus::AlreadyExists,
            ErrorKind::NotFound => TvmStatus::NotFound,
            ErrorKind::Cancelled => TvmStatus::Cancelled,
            ErrorKind::Timeout => TvmStatus::Timeout,
            ErrorKind::Unsupported => TvmStatus::Unsupported,
            ErrorKind::IncompatibleVersion => TvmStatus::IncompatibleVersion,
        }
    }

    /// The status a host callback returned, read defensively: an unknown number is a vault failure.
    fn from_u32(value: u32) -> TvmStatus {
        [
            TvmStatus::Ok,
            TvmStatus::NullArgument,
            TvmStatus::InvalidArgument,
            TvmStatus::Io,
            TvmStatus::Format,
            TvmStatus::Crypto,
            TvmStatus::Vault,
            TvmStatus::AlreadyExists,
            TvmStatus::NotFound,
            TvmStatus::Cancelled,
            TvmStatus::Timeout,
            TvmStatus::Unsupported,
            TvmStatus::IncompatibleVersion,
            TvmStatus::Panic,
        ]
        .into_iter()
        .find(|s| *s as u32 == value)
        .unwrap_or(TvmStatus::Vault)
    }
}

/// What an event is about.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvmEventKind {
    /// `text` is a line the original script wrote with `Write-Host`.
    Message = 1,
    /// `text` is a warning.
    Warning = 2,
    /// `current` of `total` is about to be handled; `text` is the activity. Reply Cancel to stop.
    Progress = 3,
    /// A key is about to be written to a vault; `text` is the action. Reply Proceed, Skip or Cancel.
    KeyPending = 4,
    /// A key was handled: `outcome`, and for `Failed` a `status` and the message in `text`.
    KeyDone = 5,
    /// A backup is complete; `text` is its folder.
    Backup = 6,
    /// A key listed by `tvm_vault_list`; `text` is its fingerprint, empty when the vault has none.
    KeyListed = 7,
}

/// What happened to one key.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvmOutcome {
    None = 0,
    Exported = 1,
    Imported = 2,
    Exists = 3,
    Skipped = 4,
    Failed = 5,
}

/// The callback's answer (returned as a `uint32_t`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvmReply {
    Proceed = 0,
    /// Leave this key alone; only meaningful for `KeyPending`.
    Skip = 1,
    /// Stop between keys.
    Cancel = 2,
}

/// One event. Borrowed: valid only while the callback runs. String pointers are never NULL.
#[repr(C)]
pub struct TvmEvent {
    pub kind: TvmEventKind,
    pub outcome: TvmOutcome,
    pub status: TvmStatus,
    pub key_size: u32,
    /// 1-based position for `Progress`.
    pub current: u32,
    pub total: u32,
    pub text: *const u16,
    pub key_name: *const u16,
    pub key_type: *const u16,
    pub file: *const u16,
}

/// Receives events on the calling thread. Returns a [`TvmReply`] as a `uint32_t`. It must not unwind
/// (a C# exception must be caught inside it).
pub type TvmEventCallback = Option<unsafe extern "C-unwind" fn(context: *mut c_void, event: *const TvmEvent) -> u32>;

/// A vault handle. Opaque; free with [`tvm_vault_free`].
pub struct TvmVault {
    inner: Box<dyn Vault>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(message));
}

/// The one panic boundary: runs `f`, records a failure's text for [`tvm_last_error`], and turns a panic
/// into [`TvmStatus::Panic`].
fn boundary(f: impl FnOnce() -> std::result::Result<(), Failure>) -> TvmStatus {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => TvmStatus::Ok,
        Ok(Err(Failure::Null(what))) => {
            set_last_error(format!("The argument '{what}' was NULL."));
            TvmStatus::NullArgument
        }
        Ok(Err(Failure::Engine(e))) => {
            set_last_error(e.to_string());
            TvmStatus::from_kind(e.kind())
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            set_last_error(format!("Internal error in tvmkeys (a bug; please report it): {what}"));
            TvmStatus::Panic
        }
    }
}

enum Failure {
    Null(&'static str),
    Engine(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

/// Reads a borrowed UTF-16 argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated UTF-16 string valid for the call.
unsafe fn arg(ptr: *const u16, what: &'static str) -> std::result::Result<String, Failure> {
    if ptr.is_null() {
        return Err(Failure::Null(what));
    }
    // SAFETY: the caller guarantees a NUL-terminated string that outlives this call.
    let s = unsafe { U16CStr::from_ptr_str(ptr) };
    s.to_string()
        .map_err(|_| Failure::Engine(Error::InvalidArgument(format!("The argument '{what}' is not valid UTF-16."))))
}

/// # Safety
/// As [`arg`].
unsafe fn path_arg(ptr: *const u16, what: &'static str) -> std::result::Result<PathBuf, Failure> {
    // SAFETY: forwarded from the caller's guarantee.
    let s = unsafe { arg(ptr, what)? };
    if s.is_empty() {
        return Err(Failure::Engine(Error::InvalidArgument(format!("The path '{what}' is empty."))));
    }
    Ok(PathBuf::from(s))
}

/// A path as the user typed it, for messages only; NULL or empty means "as resolved".
///
/// # Safety
/// As [`arg`].
unsafe fn shown_arg(ptr: *const u16) -> std::result::Result<Option<PathBuf>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller's guarantee.
    let s = unsafe { arg(ptr, "shown path")? };
    Ok((!s.is_empty()).then(|| PathBuf::from(s)))
}

/// # Safety
/// `vault` is NULL or a pointer returned by a `tvm_vault_*` constructor and not yet freed.
unsafe fn vault_arg<'a>(vault: *const TvmVault) -> std::result::Result<&'a dyn Vault, Failure> {
    if vault.is_null() {
        return Err(Failure::Null("vault"));
    }
    // SAFETY: the caller guarantees a live handle from `tvm_vault_open_local` / `tvm_vault_from_host`.
    Ok(unsafe { &*vault }.inner.as_ref())
}

fn wide(s: &str) -> U16CString {
    U16CString::from_str_truncate(s)
}

/// Forwards engine events to the caller's callback.
struct CallbackEvents {
    callback: TvmEventCallback,
    context: *mut c_void,
}

impl CallbackEvents {
    // One argument per field of `TvmEvent`, which is what this fills in.
    #[allow(clippy::too_many_arguments)]
    fn send(&mut self, kind: TvmEventKind, text: &str, key: Option<&KeyEvent<'_>>, outcome: TvmOutcome, status: TvmStatus, current: u32, total: u32) -> Reply {
        let Some(callback) = self.callback else { return Reply::Proceed };
        let text = wide(text);
        let (name, key_type, file) = match key {
            Some(k) => (wide(k.name), wide(k.key_type), wide(k.file)),
            None => (wide(""), wide(""), wide("")),
        };
        let event = TvmEvent {
            kind,
            outcome,
            status,
            key_size: key.map(|k| k.size).unwrap_or(0),
            current,
            total,
            text: text.as_ptr(),
            key_name: name.as_ptr(),
            key_type: key_type.as_ptr(),
            file: file.as_ptr(),
        };
        // SAFETY: the callback and context come from the caller, who guarantees they are valid for the
        // call; `event` and its strings live until the callback returns.
        match unsafe { callback(self.context, &event) } {
            0 => Reply::Proceed,
            1 => Reply::Skip,
            _ => Reply::Cancel,
        }
    }
}

impl Events for CallbackEvents {
    fn message(&mut self, text: &str) {
        self.send(TvmEventKind::Message, text, None, TvmOutcome::None, TvmStatus::Ok, 0, 0);
    }
    fn warning(&mut self, text: &str) {
        self.send(TvmEventKind::Warning, text, None, TvmOutcome::None, TvmStatus::Ok, 0, 0);
    }
    fn progress(&mut self, activity: &str, current: u32, total: u32) -> Reply {
        self.send(TvmEventKind::Progress, activity, None, TvmOutcome::None, TvmStatus::Ok, current, total)
    }
    fn key_pending(&mut self, key: &KeyEvent<'_>, action: &str) -> Reply {
        self.send(TvmEventKind::KeyPending, action, Some(key), TvmOutcome::None, TvmStatus::Ok, 0, 0)
    }
    fn key_done(&mut self, key: &KeyEvent<'_>, outcome: Outcome, error: Option<&Error>, message: &str) {
        let outcome = match outcome {
            Outcome::Exported => TvmOutcome::Exported,
            Outcome::Imported => TvmOutcome::Imported,
            Outcome::Exists => TvmOutcome::Exists,
            Outcome::Skipped => TvmOutcome::Skipped,
            Outcome::Failed => TvmOutcome::Failed,
        };
        let status = error.map(|e| TvmStatus::from_kind(e.kind())).unwrap_or(TvmStatus::Ok);
        self.send(TvmEventKind::KeyDone, message, Some(key), outcome, status, 0, 0);
    }
}

/// The ABI version this library implements ([`TVM_ABI_VERSION`]).
#[no_mangle]
pub extern "C" fn tvm_abi_version() -> u32 {
    TVM_ABI_VERSION
}

/// The library's version, a static NUL-terminated UTF-8 string. Never freed.
#[no_mangle]
pub extern "C" fn tvm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// This thread's message for the last failing call, or NULL if the last call succeeded.
/// The caller owns the string and frees it with [`tvm_string_free`].
#[no_mangle]
pub extern "C" fn tvm_last_error() -> *mut u16 {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_deref().map(|m| wide(m).into_raw()).unwrap_or(std::ptr::null_mut())))
        .unwrap_or(std::ptr::null_mut())
}

/// Frees a string returned by this library. NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string returned by [`tvm_last_error`], not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tvm_string_free(s: *mut u16) {
    if !s.is_null() {
        // SAFETY: `s` came from `U16CString::into_raw` in this library and is freed once.
        drop(unsafe { U16CString::from_raw(s) });
    }
}

/// Opens the local vault in the folder `path`. With `create` non-zero, a missing or empty folder becomes
/// a new vault. On success `*out` owns a handle to free with [`tvm_vault_free`].
///
/// # Safety
/// `path` is a NUL-terminated UTF-16 string; `out` points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_open_local(path: *const u16, create: u32, out: *mut *mut TvmVault) -> TvmStatus {
    boundary(|| {
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        // SAFETY: caller's guarantee on `path`.
        let path = unsafe { path_arg(path, "path")? };
        let vault = LocalVault::open(&path, create != 0)?;
        let handle = Box::into_raw(Box::new(TvmVault { inner: Box::new(vault) }));
        // SAFETY: `out` is non-NULL and writable per the caller's guarantee.
        unsafe { *out = handle };
        Ok(())
    })
}

/// Builds a vault whose operations are the caller's callbacks (the Moc adapter of the C# shim).
/// `host` is copied; its `context` must stay valid until [`tvm_vault_free`], which calls `release`.
///
/// # Safety
/// `host` points to a valid [`TvmHostVault`]; `out` points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_from_host(host: *const TvmHostVault, out: *mut *mut TvmVault) -> TvmStatus {
    boundary(|| {
        if host.is_null() {
            return Err(Failure::Null("host"));
        }
        if out.is_null() {
            return Err(Failure::Null("out"));
        }
        // SAFETY: `host` is non-NULL and valid per the caller's guarantee; the struct is plain data.
        let vault = host::HostVault::new(unsafe { std::ptr::read(host) })?;
        let handle = Box::into_raw(Box::new(TvmVault { inner: Box::new(vault) }));
        // SAFETY: `out` is non-NULL and writable.
        unsafe { *out = handle };
        Ok(())
    })
}

/// Frees a vault handle. NULL is ignored.
///
/// # Safety
/// `vault` is NULL or a handle from a `tvm_vault_*` constructor, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_free(vault: *mut TvmVault) {
    if !vault.is_null() {
        // SAFETY: the handle came from `Box::into_raw` in this module and is freed once. A panic in a
        // vault's drop is caught so it cannot cross the ABI.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(vault) })));
    }
}

/// Backs up every AES and RSA key of `vault` into `<backup_root>/<timestamp>/` (Backup-TVMKeys).
/// Emits Message, Progress, KeyDone and, at the end, one Backup event. `backup_root` is the resolved
/// folder; `shown_backup_root` (may be NULL: the same) is that folder as the user typed it, which the
/// host messages show.
///
/// # Safety
/// Strings are NUL-terminated UTF-16; `vault` is a live handle; `callback` (may be NULL) and `context`
/// are valid for the call.
#[no_mangle]
pub unsafe extern "C" fn tvm_backup(
    vault: *const TvmVault,
    wrapping_key_path: *const u16,
    backup_root: *const u16,
    shown_backup_root: *const u16,
    timestamp: *const u16,
    callback: TvmEventCallback,
    context: *mut c_void,
) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let (vault, wrapping, root, shown, timestamp) = unsafe {
            (
                vault_arg(vault)?,
                path_arg(wrapping_key_path, "wrapping_key_path")?,
                path_arg(backup_root, "backup_root")?,
                shown_arg(shown_backup_root)?,
                arg(timestamp, "timestamp")?,
            )
        };
        let mut events = CallbackEvents { callback, context };
        let shown = shown.unwrap_or_else(|| root.clone());
        let done = crate::backup::backup(vault, &wrapping, &root, &shown, &timestamp, &mut events)?;
        events.send(TvmEventKind::Backup, &done.path.to_string_lossy(), None, TvmOutcome::None, TvmStatus::Ok, 0, done.keys.len() as u32);
        Ok(())
    })
}

/// Imports every key file of the backup folder `backup_path` into `vault`, unwrapped with the vault's
/// key `wrapping_key_name` (Import-TVMKeys). A failing key is reported by a KeyDone event and the
/// others go on; the call itself fails only when the backup cannot be read at all, when the wrapping
/// key is missing or is not the backup's, or on Cancel. `shown_backup_path` (may be NULL) is the folder
/// as the user typed it, for the host messages.
///
/// # Safety
/// As [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_restore(
    vault: *const TvmVault,
    backup_path: *const u16,
    shown_backup_path: *const u16,
    wrapping_key_name: *const u16,
    callback: TvmEventCallback,
    context: *mut c_void,
) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let (vault, path, shown, wrapping) = unsafe {
            (
                vault_arg(vault)?,
                path_arg(backup_path, "backup_path")?,
                shown_arg(shown_backup_path)?,
                arg(wrapping_key_name, "wrapping_key_name")?,
            )
        };
        let mut events = CallbackEvents { callback, context };
        let shown = shown.unwrap_or_else(|| path.clone());
        crate::restore::restore(vault, &path, &shown, &wrapping, &mut events)?;
        Ok(())
    })
}

/// Imports an RSA key pair from PEM files into `vault` as the wrapping key `key_name`
/// (Import-TvmWrappingKeyFromPem). `key_size` is the size as the user typed it, e.g. "2048".
///
/// # Safety
/// As [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_import_wrapping_key(
    vault: *const TvmVault,
    key_name: *const u16,
    public_key_path: *const u16,
    private_key_path: *const u16,
    key_size: *const u16,
    callback: TvmEventCallback,
    context: *mut c_void,
) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let (vault, name, public, private, size) = unsafe {
            (
                vault_arg(vault)?,
                arg(key_name, "key_name")?,
                path_arg(public_key_path, "public_key_path")?,
                path_arg(private_key_path, "private_key_path")?,
                arg(key_size, "key_size")?,
            )
        };
        let mut events = CallbackEvents { callback, context };
        crate::wrapping_key::import_wrapping_key(vault, &name, &public, &private, &size, &mut events)?;
        Ok(())
    })
}

/// Writes the NO_KEY_WRAP import file for a PEM key pair to `out_file_path` (Generate-ImportJsonFromPEM).
///
/// # Safety
/// Strings are NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn tvm_generate_import_json(
    public_key_path: *const u16,
    private_key_path: *const u16,
    out_file_path: *const u16,
) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let (public, private, out) = unsafe {
            (
                path_arg(public_key_path, "public_key_path")?,
                path_arg(private_key_path, "private_key_path")?,
                path_arg(out_file_path, "out_file_path")?,
            )
        };
        crate::wrapping_key::generate_import_json(&public, &private, &out)?;
        Ok(())
    })
}

/// Creates a new random key in `vault`: `key_type` "AES" (size 256) or "RSA" (2048, 3072, 4096).
///
/// # Safety
/// As [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_create_key(vault: *const TvmVault, name: *const u16, key_type: *const u16, size: u32) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let (vault, name, key_type) = unsafe { (vault_arg(vault)?, arg(name, "name")?, arg(key_type, "key_type")?) };
        crate::layout::check_key_name(&name)?;
        vault.create(&name, KeySpec::parse(&key_type, size)?)?;
        Ok(())
    })
}

/// Lists the keys of `vault`: one KeyListed event per key.
///
/// # Safety
/// As [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_list(vault: *const TvmVault, callback: TvmEventCallback, context: *mut c_void) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees, forwarded.
        let vault = unsafe { vault_arg(vault)? };
        let mut events = CallbackEvents { callback, context };
        for key in vault.list()? {
            let event = KeyEvent { name: &key.name, key_type: &key.key_type, size: key.size, file: "" };
            let fingerprint = key.fingerprint.as_deref().unwrap_or("");
            if events.send(TvmEventKind::KeyListed, fingerprint, Some(&event), TvmOutcome::None, TvmStatus::Ok, 0, 0) == Reply::Cancel {
                return Err(Error::Cancelled(String::new()).into());
            }
        }
        Ok(())
    })
}

/// The original script's MOC version gates, in its words: `module_version` is `(Get-MocConfig).moduleVersion`
/// (needed by every command that uses the MOC vault); with `check_stack` non-zero, `stack_version` is
/// `(Get-MocConfig).version` (needed to import a wrapping key). NULL means Get-MocConfig did not return
/// the value, which fails as "Unable to determine Moc installation versions." (not as a NULL argument).
/// Fails with `TVM_STATUS_INCOMPATIBLE_VERSION`. Not applied to a local vault.
///
/// # Safety
/// Each string is NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn tvm_moc_check_versions(module_version: *const u16, stack_version: *const u16, check_stack: u32) -> TvmStatus {
    boundary(|| {
        // SAFETY: caller's guarantees; NULL is read as "not returned".
        let read = |p: *const u16| if p.is_null() { Ok(None) } else { unsafe { arg(p, "version") }.map(Some) };
        let module = read(module_version)?;
        let stack = read(stack_version)?;
        let stack = (check_stack != 0).then_some(stack.as_deref());
        crate::vault::moc::check_versions(module.as_deref(), stack)?;
        Ok(())
    })
}
