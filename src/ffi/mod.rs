//! The C ABI that the PowerShell cmdlets call: commands as data. With its submodule [`win32`] (the
//! Windows calls behind owner-only files), the only place with `unsafe` code.
//!
//! Contract (`docs/abi.md` in full; `include/tvmkeys.h` is generated from this module):
//! - A command export takes a vault handle, its request as borrowed UTF-8 JSON bytes `(ptr, len)`, an
//!   event sink with its context, and `out`, where it stores an owned [`TvmBuffer`]. It returns a
//!   transport [`TvmStatus`]. On `Ok` the buffer holds the command's result (JSON, the types of
//!   `src/api/`); on any other status it holds a structured error `{"errorId","category","message",...}`.
//!   Every buffer is freed by [`tvm_buffer_free`], once.
//! - Events are JSON records (`{"event":"progress",...}`) sent to the sink on the calling thread, during
//!   the call; the sink answers with a [`TvmReply`].
//! - The MOC vault is one host dispatcher: an operation as JSON in, a reply as JSON out.
//! - Every export runs inside one panic boundary, [`boundary`]: a panic becomes `TVM_STATUS_PANIC` with a
//!   structured error, never an abort of the PowerShell process.
#[cfg(windows)]
pub mod win32;

use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{self, parse_request, to_result_json};
use crate::error::{Error, ErrorCode, ErrorInfo};
use crate::events::{Event, Events, Reply};
use crate::vault::moc::{Host, HostOp, HostReply, MocVault};
use crate::vault::Vault;

/// The ABI version; bumped whenever a signature or a struct layout changes. The C# shim refuses to run
/// against a library whose version differs from the one it was built for. (Requests and results are
/// versioned by their `schemaVersion`, not by this.)
pub const TVM_ABI_VERSION: u32 = 6;

/// The transport status of every export. Numbers are never reused: a retired code stays reserved.
/// What went wrong in a command is told by the `errorId` of the error buffer, not by this status.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvmStatus {
    /// The buffer holds the command's result.
    Ok = 0,
    /// A required pointer argument was NULL; the buffer (if `out` was not NULL) says which.
    NullArgument = 1,
    // 2 to 8 and 10 to 12 are reserved: the error kinds of ABI 2 (invalid argument, I/O, format, crypto,
    // vault, already exists, not found, timeout, unsupported, incompatible version), now `errorId`s.
    /// The command stopped because the caller asked it to (a `cancel` reply, or Ctrl+C in the host).
    Cancelled = 9,
    /// The request is not valid JSON for this command (malformed, an unknown or a missing field).
    InvalidRequest = 13,
    /// The command failed; the buffer holds the structured error.
    Failed = 14,
    /// A bug: the engine or a callback panicked. The buffer holds an `InternalError`.
    Panic = 99,
}

/// Bytes the library hands out (a result or an error, UTF-8 JSON). Owned by the caller once returned;
/// freed with [`tvm_buffer_free`]. `data` is NULL only for an empty buffer.
#[repr(C)]
#[derive(Debug)]
pub struct TvmBuffer {
    pub data: *mut u8,
    pub len: usize,
}

/// A sink's answer to an event (one of the `TVM_REPLY_*` values). Read defensively: any other value is
/// taken as `TVM_REPLY_CANCEL`.
pub type TvmReply = u32;
/// Go on.
pub const TVM_REPLY_PROCEED: TvmReply = 0;
/// Leave this key alone; meaningful only for `keyPending`.
pub const TVM_REPLY_SKIP: TvmReply = 1;
/// Stop between keys.
pub const TVM_REPLY_CANCEL: TvmReply = 2;

/// Receives one event, `event_len` bytes of UTF-8 JSON borrowed for the duration of the call, on the
/// calling thread. It must not unwind across the ABI (a C# exception must be caught inside it).
pub type TvmEventSink = Option<unsafe extern "C-unwind" fn(context: *mut c_void, event: *const u8, event_len: usize) -> TvmReply>;

/// A host's reply to one operation: UTF-8 JSON owned by the host, valid until the host's next dispatch or
/// its release. `data` NULL means the host could not reply at all.
#[repr(C)]
#[derive(Debug)]
pub struct TvmHostReply {
    pub data: *const u8,
    pub len: usize,
}

/// Runs one operation (`op`, UTF-8 JSON borrowed for the call) and stores the reply in `*reply`.
pub type TvmHostDispatch =
    Option<unsafe extern "C-unwind" fn(context: *mut c_void, op: *const u8, op_len: usize, reply: *mut TvmHostReply)>;
/// Called exactly once, when the library no longer needs the host.
pub type TvmHostRelease = Option<unsafe extern "C-unwind" fn(context: *mut c_void)>;

/// The host side of the MOC vault (the C# shim running the Moc cmdlets).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TvmHostVault {
    pub context: *mut c_void,
    pub dispatch: TvmHostDispatch,
    pub release: TvmHostRelease,
}

/// A vault handle. Opaque; free with [`tvm_vault_free`].
pub struct TvmVault {
    inner: Box<dyn Vault>,
}

/// How an export failed, before it is written as a status and an error buffer.
enum Failure {
    Null(&'static str),
    Request(Error),
    Engine(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

/// Moves bytes into a buffer the caller owns.
fn into_buffer(bytes: Vec<u8>) -> TvmBuffer {
    let mut bytes = bytes.into_boxed_slice();
    let len = bytes.len();
    let data = if len == 0 { std::ptr::null_mut() } else { bytes.as_mut_ptr() };
    std::mem::forget(bytes);
    TvmBuffer { data, len }
}

fn error_json(info: &ErrorInfo) -> Vec<u8> {
    // An ErrorInfo is plain strings; serialising it cannot fail, and an empty buffer still reads as an error.
    serde_json::to_vec(info).unwrap_or_default()
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into())
}

/// The one panic boundary: runs `f`, writes its result or its structured error to `*out`, and turns a
/// panic into [`TvmStatus::Panic`].
fn boundary(out: *mut TvmBuffer, f: impl FnOnce() -> Result<Vec<u8>, Failure>) -> TvmStatus {
    if out.is_null() {
        // Nowhere to put a result or an error: the call is refused before anything runs.
        return TvmStatus::NullArgument;
    }
    // SAFETY: `out` is non-NULL and, per every export's contract, points to writable storage for one
    // TvmBuffer. It is set to empty first, so the caller never frees garbage.
    unsafe { out.write(TvmBuffer { data: std::ptr::null_mut(), len: 0 }) };
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(result)) => (TvmStatus::Ok, result),
        Ok(Err(Failure::Null(what))) => {
            let e = Error::new(ErrorCode::NullArgument, format!("The argument '{what}' was NULL."));
            (TvmStatus::NullArgument, error_json(&e.info()))
        }
        Ok(Err(Failure::Request(e))) => (TvmStatus::InvalidRequest, error_json(&e.info())),
        Ok(Err(Failure::Engine(e))) => {
            let status = if e.code() == ErrorCode::Cancelled { TvmStatus::Cancelled } else { TvmStatus::Failed };
            (status, error_json(&e.info()))
        }
        Err(panic) => {
            let e = Error::new(ErrorCode::InternalError, format!("Internal error in tvmkeys (a bug; please report it): {}", panic_text(&*panic)));
            (TvmStatus::Panic, error_json(&e.info()))
        }
    };
    // SAFETY: as above; the buffer now owns `bytes`.
    unsafe { out.write(into_buffer(bytes)) };
    status
}

/// Reads and parses a borrowed request.
///
/// # Safety
/// `request` is NULL or points to `len` readable bytes valid for the call.
unsafe fn request<T: DeserializeOwned>(request: *const u8, len: usize) -> Result<T, Failure> {
    if request.is_null() {
        return Err(Failure::Null("request"));
    }
    // SAFETY: non-NULL, and `len` bytes are readable per the caller's guarantee.
    let bytes = unsafe { std::slice::from_raw_parts(request, len) };
    parse_request(bytes).map_err(Failure::Request)
}

/// # Safety
/// `vault` is NULL or a pointer returned by a `tvm_vault_open_*` export and not yet freed.
unsafe fn vault_arg<'a>(vault: *const TvmVault) -> Result<&'a dyn Vault, Failure> {
    if vault.is_null() {
        return Err(Failure::Null("vault"));
    }
    // SAFETY: the caller guarantees a live handle from a `tvm_vault_open_*` export.
    Ok(unsafe { &*vault }.inner.as_ref())
}

fn result<T: Serialize>(value: &T) -> Result<Vec<u8>, Failure> {
    Ok(to_result_json(value)?)
}

/// Forwards engine events to the caller's sink as JSON.
struct SinkEvents {
    sink: TvmEventSink,
    context: *mut c_void,
}

impl Events for SinkEvents {
    fn send(&mut self, event: Event) -> Reply {
        let Some(sink) = self.sink else { return Reply::Proceed };
        let Ok(json) = serde_json::to_vec(&event) else { return Reply::Proceed };
        // SAFETY: the sink and context come from the caller, who guarantees they are valid for the call;
        // `json` lives until the sink returns.
        match unsafe { sink(self.context, json.as_ptr(), json.len()) } {
            TVM_REPLY_PROCEED => Reply::Proceed,
            TVM_REPLY_SKIP => Reply::Skip,
            _ => Reply::Cancel,
        }
    }
}

/// The host of a MOC vault, called through its dispatcher; released when dropped.
struct HostDispatcher {
    host: TvmHostVault,
}

impl Host for HostDispatcher {
    fn dispatch(&self, op: &HostOp) -> crate::Result<HostReply> {
        let no_reply = |why: String| Error::new(ErrorCode::VaultFailed, format!("The Moc vault adapter {why}."));
        let Some(dispatch) = self.host.dispatch else { return Err(no_reply("has no dispatcher".into())) };
        let json = serde_json::to_vec(op).map_err(|e| no_reply(format!("could not be sent the operation ({e})")))?;
        let mut reply = TvmHostReply { data: std::ptr::null(), len: 0 };
        // SAFETY: the host promised that `dispatch` and `context` stay valid until release; `json` and
        // `reply` outlive the call.
        unsafe { dispatch(self.host.context, json.as_ptr(), json.len(), &mut reply) };
        if reply.data.is_null() {
            return Err(no_reply(format!("gave no reply to the operation '{}'", op_name(op))));
        }
        // SAFETY: a non-NULL reply points to `len` bytes the host keeps valid until its next dispatch.
        let bytes = unsafe { std::slice::from_raw_parts(reply.data, reply.len) };
        serde_json::from_slice(bytes).map_err(|e| no_reply(format!("gave a reply that is not valid ({e})")))
    }
}

fn op_name(op: &HostOp) -> String {
    serde_json::to_value(op).ok().and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string)).unwrap_or_default()
}

impl Drop for HostDispatcher {
    fn drop(&mut self) {
        if let Some(release) = self.host.release {
            // SAFETY: the host promised `context` stays valid until release, which is called once, here.
            unsafe { release(self.host.context) };
        }
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

/// Frees a buffer this library handed out. An empty buffer (`data` NULL) is ignored.
///
/// # Safety
/// `buffer` is one that an export stored in its `out`, unchanged, and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tvm_buffer_free(buffer: TvmBuffer) {
    if !buffer.data.is_null() {
        let _ = catch_unwind(|| {
            // SAFETY: `data` and `len` are a boxed slice leaked by `into_buffer`, freed once here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buffer.data, buffer.len)) });
        });
    }
}

/// Opens a local vault. Request: `{"vaultPath","create"}`; result `{"vault":"local","path"}`. On `Ok`,
/// `*vault` owns a handle to free with [`tvm_vault_free`].
///
/// # Safety
/// `request` points to `request_len` readable bytes; `vault` and `out` point to writable storage.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_open_local(request: *const u8, request_len: usize, vault: *mut *mut TvmVault, out: *mut TvmBuffer) -> TvmStatus {
    boundary(out, || {
        if vault.is_null() {
            return Err(Failure::Null("vault"));
        }
        // SAFETY: caller's guarantee on `request`.
        let req: api::open::OpenLocalRequest = unsafe { self::request(request, request_len)? };
        let (local, opened) = api::open::open_local(&req)?;
        let json = result(&opened)?;
        // SAFETY: `vault` is non-NULL and writable per the caller's guarantee.
        unsafe { vault.write(Box::into_raw(Box::new(TvmVault { inner: Box::new(local) }))) };
        Ok(json)
    })
}

/// Opens the cluster's MOC vault over `host`: reads `Get-MocConfig` through it and applies the original's
/// version gates. Request: `{"checkStackVersion"}`; result `{"vault":"moc"}`. `host` is copied, and its
/// `release` is called exactly once: by [`tvm_vault_free`], or before this returns if it fails.
///
/// # Safety
/// `host` is NULL or points to a valid [`TvmHostVault`]; the rest as for [`tvm_backup`], and `vault`
/// points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_open_moc(
    host: *const TvmHostVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    vault: *mut *mut TvmVault,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // The host is taken over first, so that it is released on every path, a NULL argument included.
    let dispatcher = if host.is_null() {
        None
    } else {
        // SAFETY: `host` is non-NULL and valid per the caller's guarantee; the struct is plain data.
        Some(HostDispatcher { host: unsafe { host.read() } })
    };
    boundary(out, move || {
        let dispatcher = dispatcher.ok_or(Failure::Null("host"))?;
        if vault.is_null() {
            return Err(Failure::Null("vault"));
        }
        // SAFETY: caller's guarantee on `request`.
        let req: api::open::OpenMocRequest = unsafe { self::request(request, request_len)? };
        let mut events = SinkEvents { sink, context };
        let names = (req.group.as_deref(), req.vault_name.as_deref());
        let moc = MocVault::open_named(Box::new(dispatcher), req.check_stack_version, names, &mut events)?;
        let json = result(&api::open::OpenResult { vault: "moc".into(), path: None })?;
        // SAFETY: `vault` is non-NULL and writable per the caller's guarantee.
        unsafe { vault.write(Box::into_raw(Box::new(TvmVault { inner: Box::new(moc) }))) };
        Ok(json)
    })
}

/// Frees a vault handle (a MOC vault releases its host). NULL is ignored.
///
/// # Safety
/// `vault` is NULL or a handle from a `tvm_vault_open_*` export, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_free(vault: *mut TvmVault) {
    if !vault.is_null() {
        // SAFETY: the handle came from `Box::into_raw` in this module and is freed once. A panic in a
        // vault's drop (a host's release) is caught so it cannot cross the ABI.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(vault) })));
    }
}

/// Runs one command on a vault: the body shared by every command export.
///
/// # Safety
/// As for [`tvm_backup`].
unsafe fn command<Req: DeserializeOwned, Res: Serialize>(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
    run: impl FnOnce(&dyn Vault, &Req, &mut dyn Events) -> crate::Result<Res>,
) -> TvmStatus {
    boundary(out, || {
        // SAFETY: caller's guarantees, forwarded.
        let (vault, req) = unsafe { (vault_arg(vault)?, self::request::<Req>(request, request_len)?) };
        let mut events = SinkEvents { sink, context };
        crate::sweep::sweep(&mut events);
        vault.sweep(&mut events);
        result(&run(vault, &req, &mut events)?)
    })
}

/// Runs one command that needs no vault: the body shared by the vault-less exports with events.
///
/// # Safety
/// As for [`tvm_backup`], without the vault.
unsafe fn vaultless<Req: DeserializeOwned, Res: Serialize>(
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
    run: impl FnOnce(&Req, &mut dyn Events) -> crate::Result<Res>,
) -> TvmStatus {
    boundary(out, || {
        // SAFETY: caller's guarantee on `request`.
        let req = unsafe { self::request::<Req>(request, request_len)? };
        let mut events = SinkEvents { sink, context };
        result(&run(&req, &mut events)?)
    })
}

/// Backs up every AES and RSA key of `vault` into a new timestamped backup (Backup-TVMKeys).
/// Request `api::backup::BackupRequest`; result `api::backup::BackupResult`. Events: message, warning,
/// progress.
///
/// # Safety
/// `vault` is a live handle; `request` points to `request_len` readable bytes; `sink` (may be NULL) and
/// `context` are valid for the call; `out` points to writable storage for one [`TvmBuffer`].
#[no_mangle]
pub unsafe extern "C" fn tvm_backup(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { command(vault, request, request_len, sink, context, out, api::backup::run) }
}

/// Imports the key files of one backup into `vault` (Import-TVMKeys). Request
/// `api::restore::RestoreRequest`; result `api::restore::RestoreResult`. `secret` (NULL: none) is the
/// password of an encrypted `privateKeyPath`, as for [`tvm_verify`] (ABI 4). Events: message, warning,
/// verbose, progress, backupPending (the target backup; reply skip for `-WhatIf`), keyPending (reply skip for
/// `-WhatIf`), keyRestored (one per key file).
///
/// # Safety
/// As for [`tvm_import_wrapping_key`].
#[no_mangle]
pub unsafe extern "C" fn tvm_restore(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded. -WhatIf writes nothing anywhere, not even the removal of a leftover.
    unsafe {
        secret_command(vault, VaultUse::Required, request, request_len, secret, secret_len, sink, context, out, |r: &api::restore::RestoreRequest| !r.what_if, |v, r, p, e| {
            api::restore::run(required(v)?, r, p, e)
        })
    }
}

/// Imports an RSA key pair from PEM files into `vault` as a wrapping key (Import-TvmWrappingKeyFromPem).
/// Request `api::wrapping_key::ImportWrappingKeyRequest`; result the imported key. `secret` (NULL: none) is
/// the password of an encrypted private key PEM, as for [`tvm_verify`] (ABI 4). Events: message, warning.
///
/// # Safety
/// As for [`tvm_verify`], except that `vault` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn tvm_import_wrapping_key(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe {
        secret_command(vault, VaultUse::Required, request, request_len, secret, secret_len, sink, context, out, |_| true, |v, r, p, e| {
            api::wrapping_key::run(required(v)?, r, p, e)
        })
    }
}

/// Writes the NO_KEY_WRAP import file of a PEM key pair (Generate-ImportJsonFromPEM). Request
/// `api::import_json::ImportJsonRequest`; result `api::import_json::ImportJsonResult`. Needs no vault:
/// `vault` is ignored and may be NULL. Sends no events.
///
/// # Safety
/// As for [`tvm_backup`], except that `vault` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn tvm_generate_import_json(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    _sink: TvmEventSink,
    _context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    boundary(out, || {
        // SAFETY: caller's guarantee on `request`.
        let req = unsafe { self::request(request, request_len)? };
        result(&api::import_json::run(&req)?)
    })
}

/// Lists the keys of `vault` (Get-TvmVaultKey). Request `{}`; result `{"keys":[...]}`.
///
/// # Safety
/// As for [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_list(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { command(vault, request, request_len, sink, context, out, |v, r, _| api::keys::list(v, r)) }
}

/// Creates a new random key in `vault` (New-TvmVaultKey). Request `{"name","type","size"}`; result the key.
///
/// # Safety
/// As for [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_vault_create_key(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { command(vault, request, request_len, sink, context, out, |v, r, _| api::keys::create(v, r)) }
}

/// Checks one backup (Test-TVMKeyBackup). Request `api::verify::VerifyRequest`; result
/// `api::verify::VerifyResult`. `vault` may be NULL unless the request asks for coverage. `secret` is the
/// password of an encrypted wrapping private key, `secret_len` bytes of UTF-8 borrowed for the call (NULL:
/// none); it is kept out of the request so that it is never in a JSON text, and the engine's copy is wiped.
/// Events: message, warning, progress.
///
/// # Safety
/// As for [`tvm_backup`], except that `vault` may be NULL; `secret` is NULL or points to `secret_len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tvm_verify(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { secret_command(vault, VaultUse::Optional, request, request_len, secret, secret_len, sink, context, out, |_| true, api::verify::run) }
}

/// Lists the backups of a backup root, newest first (Get-TVMKeyBackup). Request
/// `api::inventory::ListBackupsRequest`; result `api::inventory::ListBackupsResult`. Needs no vault (`vault`
/// is ignored and may be NULL). Events: verbose, progress.
///
/// # Safety
/// As for [`tvm_backup`], except that `vault` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn tvm_backup_list(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { vaultless(request, request_len, sink, context, out, api::inventory::list) }
}

/// Removes backups of a backup root (Remove-TVMKeyBackup). Request `api::inventory::RemoveBackupsRequest`;
/// result `inventory::Removal`. Needs no vault (`vault` is ignored and may be NULL). Events: warning,
/// verbose, progress, backupPending (reply skip for `-WhatIf`).
///
/// # Safety
/// As for [`tvm_backup`], except that `vault` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn tvm_backup_remove(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { vaultless(request, request_len, sink, context, out, api::inventory::remove) }
}

/// Writes a new wrapping key pair as PEM files (New-TvmWrappingKey). Request
/// `api::wrapping_key::GenerateWrappingKeyRequest`; result `wrapping_key::GeneratedPair`. Needs no vault
/// (`vault` is ignored and may be NULL). `secret` (NULL: none) is the password that encrypts the private key,
/// `secret_len` bytes of UTF-8 borrowed for the call, as for [`tvm_verify`]. Events: message, verbose.
///
/// # Safety
/// As for [`tvm_verify`].
#[no_mangle]
pub unsafe extern "C" fn tvm_generate_wrapping_key(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe {
        secret_command(_vault, VaultUse::Ignored, request, request_len, secret, secret_len, sink, context, out, |_| false, |_, r, p, e| {
            api::wrapping_key::generate(r, p, e)
        })
    }
}

/// Splits a wrapping private key into custodian shares (Split-TvmWrappingKey). Request
/// `api::shares::SplitWrappingKeyRequest`; result `shares::Split`. Needs no vault (`vault` is ignored and may be
/// NULL). `secret` (NULL: none) is a secret list (`api::shares::Secrets`): the private key file's password (tag 1)
/// and the custodians' passwords (tag 2). Events: message, warning (ABI 6).
///
/// # Safety
/// As for [`tvm_verify`].
#[no_mangle]
pub unsafe extern "C" fn tvm_split_wrapping_key(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe {
        secret_command(_vault, VaultUse::Ignored, request, request_len, secret, secret_len, sink, context, out, |_| false, |_, r, p, e| {
            api::shares::split(r, p, e)
        })
    }
}

/// Rebuilds a wrapping private key from custodian shares in memory, checks it, and writes it only to
/// `outFile` when asked (Join-TvmWrappingKey). Request `api::shares::JoinWrappingKeyRequest`; result
/// `api::shares::JoinWrappingKeyResult`. Needs no vault. `secret` is a secret list: the custodians' passwords
/// (tag 2) and the password of the PEM to write (tag 1). Events: message, warning, verbose (ABI 6).
///
/// # Safety
/// As for [`tvm_verify`].
#[no_mangle]
pub unsafe extern "C" fn tvm_join_wrapping_key(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe {
        secret_command(_vault, VaultUse::Ignored, request, request_len, secret, secret_len, sink, context, out, |_| false, |_, r, p, e| {
            api::shares::join(r, p, e)
        })
    }
}

/// Checks share files one by one without rebuilding the key (Test-TvmWrappingKeyShare). Request
/// `api::shares::TestWrappingKeyShareRequest`; result `api::shares::TestWrappingKeyShareResult`. Needs no vault.
/// `secret` is a secret list of custodian passwords (tag 2). Events: verbose, progress (ABI 6).
///
/// # Safety
/// As for [`tvm_verify`].
#[no_mangle]
pub unsafe extern "C" fn tvm_test_wrapping_key_share(
    _vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe {
        secret_command(_vault, VaultUse::Ignored, request, request_len, secret, secret_len, sink, context, out, |_| false, |_, r, p, e| {
            api::shares::test(r, p, e)
        })
    }
}

/// How an export with a secret takes its vault handle.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VaultUse {
    /// A live handle; NULL is refused (checked before the request, as by [`command`]).
    Required,
    /// NULL or a live handle.
    Optional,
    /// Not read; may be anything.
    Ignored,
}

/// The vault of a [`VaultUse::Required`] export, which [`secret_command`] has checked is there.
fn required(vault: Option<&dyn Vault>) -> crate::Result<&dyn Vault> {
    vault.ok_or_else(|| Error::new(ErrorCode::InternalError, "A command that needs a vault was run without one."))
}

/// Runs one command that takes a secret beside its request (a password, borrowed for the call and copied
/// into memory that is wiped): the body shared by the secret-taking exports. `sweeps` says whether the
/// command first removes what a killed run left (crate::sweep).
///
/// # Safety
/// As for [`tvm_verify`]; with [`VaultUse::Required`] `vault` is a live handle, with `Optional` NULL or one.
#[allow(clippy::too_many_arguments)]
unsafe fn secret_command<Req: DeserializeOwned, Res: Serialize>(
    vault: *const TvmVault,
    uses: VaultUse,
    request: *const u8,
    request_len: usize,
    secret: *const u8,
    secret_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
    sweeps: impl FnOnce(&Req) -> bool,
    run: impl FnOnce(Option<&dyn Vault>, &Req, Option<&[u8]>, &mut dyn Events) -> crate::Result<Res>,
) -> TvmStatus {
    boundary(out, || {
        // SAFETY: caller's guarantees, forwarded (a required vault is checked first, as by `command`).
        let required_vault = if uses == VaultUse::Required { Some(unsafe { vault_arg(vault)? }) } else { None };
        // SAFETY: caller's guarantee on `request`.
        let req = unsafe { self::request::<Req>(request, request_len)? };
        let vault = match uses {
            VaultUse::Required => required_vault,
            // SAFETY: a non-NULL optional vault is a live handle per the caller's guarantee.
            VaultUse::Optional if !vault.is_null() => Some(unsafe { vault_arg(vault)? }),
            VaultUse::Optional | VaultUse::Ignored => None,
        };
        // SAFETY: caller's guarantee on `secret`.
        let password = unsafe { secret_arg(secret, secret_len) };
        let mut events = SinkEvents { sink, context };
        if sweeps(&req) {
            crate::sweep::sweep(&mut events);
            if let Some(vault) = vault {
                vault.sweep(&mut events);
            }
        }
        result(&run(vault, &req, password.as_ref().map(|p| p.as_slice()), &mut events)?)
    })
}

/// Copies a borrowed secret into memory that is wiped when dropped; NULL is none.
///
/// # Safety
/// `secret` is NULL or points to `len` readable bytes valid for the call.
unsafe fn secret_arg(secret: *const u8, len: usize) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    if secret.is_null() {
        return None;
    }
    // SAFETY: non-NULL, and `len` bytes are readable per the caller's guarantee.
    Some(zeroize::Zeroizing::new(unsafe { std::slice::from_raw_parts(secret, len) }.to_vec()))
}

/// Removes a wrapping key from `vault` (Remove-TvmWrappingKey). Request
/// `api::wrapping_key::RemoveWrappingKeyRequest`; result the key. Events: keyPending (reply skip for
/// `-WhatIf`), message.
///
/// # Safety
/// As for [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_remove_wrapping_key(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { command(vault, request, request_len, sink, context, out, api::wrapping_key::remove) }
}

/// Makes a wrapping key inside `vault` and writes its public key PEM (New-TvmWrappingKey -InVault). Request
/// `api::wrapping_key::CreateWrappingKeyRequest`; result `GeneratedPair` (with `keyName` and `vault`, no
/// `privateKeyPath`). Events: message, verbose, warning.
///
/// # Safety
/// As for [`tvm_backup`].
#[no_mangle]
pub unsafe extern "C" fn tvm_create_wrapping_key(
    vault: *const TvmVault,
    request: *const u8,
    request_len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    // SAFETY: forwarded.
    unsafe { command(vault, request, request_len, sink, context, out, api::wrapping_key::create) }
}
