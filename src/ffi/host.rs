//! A vault whose operations are callbacks supplied by the host. The C# shim builds its Moc adapter on it,
//! calling the Moc cmdlets in the caller's runspace exactly as the original script does. The host
//! returns a [`TvmStatus`] for each call and may attach its own message with
//! [`tvm_host_call_set_error`]; MOC's wording is classified on the host side, in its adapter, once.
use std::ffi::c_void;
use std::path::Path;

use widestring::U16CString;

use super::{arg, wide, TvmStatus};
use crate::error::{Error, Result};
use crate::pem;
use crate::vault::moc::{self, Meaning};
use crate::vault::{KeyInfo, KeySpec, Vault};

/// Host callbacks returning a `TvmStatus` as `uint32_t`.
pub type TvmHostListFn = Option<unsafe extern "C-unwind" fn(context: *mut c_void, call: *mut TvmHostCall) -> u32>;
pub type TvmHostExportFn = Option<
    unsafe extern "C-unwind" fn(
        context: *mut c_void,
        call: *mut TvmHostCall,
        name: *const u16,
        key_type: *const u16,
        size: u32,
        wrapping_key_path: *const u16,
        out_file: *const u16,
    ) -> u32,
>;
pub type TvmHostImportFn = Option<
    unsafe extern "C-unwind" fn(
        context: *mut c_void,
        call: *mut TvmHostCall,
        name: *const u16,
        key_type: *const u16,
        size: u32,
        file: *const u16,
        wrapping_key_name: *const u16,
    ) -> u32,
>;
pub type TvmHostNameFn = Option<unsafe extern "C-unwind" fn(context: *mut c_void, call: *mut TvmHostCall, name: *const u16) -> u32>;
pub type TvmHostCreateFn = Option<
    unsafe extern "C-unwind" fn(context: *mut c_void, call: *mut TvmHostCall, name: *const u16, key_type: *const u16, size: u32) -> u32,
>;
pub type TvmHostPublicKeyFn =
    Option<unsafe extern "C-unwind" fn(context: *mut c_void, call: *mut TvmHostCall, name: *const u16, out_file: *const u16) -> u32>;
pub type TvmHostReleaseFn = Option<unsafe extern "C-unwind" fn(context: *mut c_void)>;

/// The operations of a host vault. Every callback is required except `public_key` and `release`.
/// `wrapping_key_name` is "" when there is none (a NO_KEY_WRAP import). A callback that fails returns
/// a status: a typed one (`AlreadyExists`, `NotFound`, `Timeout`, `Cancelled`) where the host knows it,
/// else `Vault` with the vault's own text set by [`tvm_host_call_set_error`], which the engine reads
/// with MOC's wording (`InvalidVersion`: the key exists; `Not Found`: it is missing).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TvmHostVault {
    pub context: *mut c_void,
    pub list: TvmHostListFn,
    pub export_key: TvmHostExportFn,
    pub import_key: TvmHostImportFn,
    pub delete_key: TvmHostNameFn,
    pub create_key: TvmHostCreateFn,
    /// Writes the RSA public key PEM of key `name` to `out_file` (MOC: Get-MocKeyPublicKey). May be NULL:
    /// a restore then skips its check of the wrapping key.
    pub public_key: TvmHostPublicKeyFn,
    /// Called once by `tvm_vault_free`; may be NULL.
    pub release: TvmHostReleaseFn,
}

/// One call into the host: collects the keys a list callback reports and the message of a failure.
/// Owned by the library and valid only during the callback.
pub struct TvmHostCall {
    message: Option<String>,
    keys: Vec<KeyInfo>,
}

/// Attaches the host's failure text to the current call (kept in full in the error the user sees).
///
/// # Safety
/// `call` is the pointer passed to the running callback; `message` is NULL or NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn tvm_host_call_set_error(call: *mut TvmHostCall, message: *const u16) {
    // SAFETY: `call` is the live pointer the library passed to the callback; `message` per contract.
    if let (Some(call), Ok(message)) = (unsafe { call.as_mut() }, unsafe { arg(message, "message") }) {
        call.message = Some(message);
    }
}

/// Reports one key from inside a `list` callback.
///
/// # Safety
/// `call` is the pointer passed to the running `list` callback; strings are NUL-terminated UTF-16.
#[no_mangle]
pub unsafe extern "C" fn tvm_host_call_add_key(call: *mut TvmHostCall, name: *const u16, key_type: *const u16, size: u32) {
    // SAFETY: as above.
    if let (Some(call), Ok(name), Ok(key_type)) = (unsafe { call.as_mut() }, unsafe { arg(name, "name") }, unsafe { arg(key_type, "key_type") }) {
        call.keys.push(KeyInfo { name, key_type, size, fingerprint: None });
    }
}

pub(super) struct HostVault {
    host: TvmHostVault,
}

impl HostVault {
    pub(super) fn new(host: TvmHostVault) -> Result<HostVault> {
        if host.list.is_none() || host.export_key.is_none() || host.import_key.is_none() || host.delete_key.is_none() || host.create_key.is_none() {
            return Err(Error::InvalidArgument("A host vault needs every callback (list, export, import, delete, create).".into()));
        }
        Ok(HostVault { host })
    }

    /// Runs one callback and turns its status and message into the engine's typed error.
    fn call(&self, name: &str, operation: Operation, f: impl FnOnce(*mut TvmHostCall) -> u32) -> Result<Vec<KeyInfo>> {
        let mut call = TvmHostCall { message: None, keys: Vec::new() };
        let status = TvmStatus::from_u32(f(&mut call));
        let text = call.message.take().unwrap_or_else(|| format!("The vault failed to {} key '{name}' (status {status:?}).", operation.verb()));
        let meaning = match status {
            TvmStatus::Ok => return Ok(call.keys),
            TvmStatus::AlreadyExists => Meaning::Exists,
            TvmStatus::NotFound => Meaning::NotFound,
            TvmStatus::Timeout => return Err(Error::Timeout(text)),
            TvmStatus::Cancelled => return Err(Error::Cancelled(text)),
            _ => moc::classify(&text),
        };
        Err(match (meaning, operation) {
            (Meaning::Exists, _) => Error::KeyExists { name: name.into() },
            // An import names two keys; MOC's `Not Found` there is the wrapping key.
            (Meaning::NotFound, Operation::Import) => {
                Error::Vault(format!("{text} (The wrapping key named for the import is not in the vault.)"))
            }
            (Meaning::NotFound, _) => Error::KeyNotFound { name: name.into() },
            (Meaning::Other, _) => Error::Vault(text),
        })
    }
}

#[derive(Clone, Copy)]
enum Operation {
    List,
    Export,
    Import,
    PublicKey,
    Delete,
    Create,
}

impl Operation {
    fn verb(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Export => "export",
            Operation::Import => "import",
            Operation::PublicKey => "read the public key of",
            Operation::Delete => "delete",
            Operation::Create => "create",
        }
    }
}

impl Drop for HostVault {
    fn drop(&mut self) {
        if let Some(release) = self.host.release {
            // SAFETY: the host promised `context` stays valid until release, which is called once, here.
            unsafe { release(self.host.context) };
        }
    }
}

fn path(p: &Path) -> U16CString {
    wide(&p.to_string_lossy())
}

// The callbacks are checked non-NULL in `HostVault::new`; each `if let` below cannot fail.
impl Vault for HostVault {
    fn list(&self) -> Result<Vec<KeyInfo>> {
        let Some(list) = self.host.list else { return Err(Error::Vault("no list callback".into())) };
        // SAFETY: the host's callback and context are valid while the vault lives; `call` outlives the call.
        self.call("", Operation::List, |call| unsafe { list(self.host.context, call) })
    }

    fn export(&self, name: &str, spec: KeySpec, wrapping_key_path: &Path, out_file: &Path) -> Result<()> {
        let Some(export) = self.host.export_key else { return Err(Error::Vault("no export callback".into())) };
        let (n, t, w, o) = (wide(name), wide(spec.key_type.as_str()), path(wrapping_key_path), path(out_file));
        // SAFETY: as in `list`; the strings live until the callback returns.
        self.call(name, Operation::Export, |call| unsafe { export(self.host.context, call, n.as_ptr(), t.as_ptr(), spec.size, w.as_ptr(), o.as_ptr()) })
            .map(|_| ())
    }

    fn import(&self, name: &str, spec: KeySpec, file: &Path, wrapping_key_name: Option<&str>) -> Result<()> {
        let Some(import) = self.host.import_key else { return Err(Error::Vault("no import callback".into())) };
        let (n, t, f, w) = (wide(name), wide(spec.key_type.as_str()), path(file), wide(wrapping_key_name.unwrap_or("")));
        // SAFETY: as in `export`.
        self.call(name, Operation::Import, |call| unsafe { import(self.host.context, call, n.as_ptr(), t.as_ptr(), spec.size, f.as_ptr(), w.as_ptr()) })
            .map(|_| ())
    }

    fn public_key(&self, name: &str) -> Result<Vec<u8>> {
        let Some(public_key) = self.host.public_key else {
            return Err(Error::Unsupported("This vault cannot tell a key's public half.".into()));
        };
        let dir = tempfile::tempdir().map_err(|e| Error::io("create a temporary folder in", &std::env::temp_dir(), e))?;
        let file = dir.path().join("public.pem");
        let (n, f) = (wide(name), path(&file));
        // SAFETY: as in `export`.
        self.call(name, Operation::PublicKey, |call| unsafe { public_key(self.host.context, call, n.as_ptr(), f.as_ptr()) })?;
        Ok(pem::read_public_key(&file, "wrapping key")?.pkcs1_der)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let Some(delete) = self.host.delete_key else { return Err(Error::Vault("no delete callback".into())) };
        let n = wide(name);
        // SAFETY: as in `export`.
        self.call(name, Operation::Delete, |call| unsafe { delete(self.host.context, call, n.as_ptr()) }).map(|_| ())
    }

    fn create(&self, name: &str, spec: KeySpec) -> Result<()> {
        let Some(create) = self.host.create_key else { return Err(Error::Vault("no create callback".into())) };
        let (n, t) = (wide(name), wide(spec.key_type.as_str()));
        // SAFETY: as in `export`.
        self.call(name, Operation::Create, |call| unsafe { create(self.host.context, call, n.as_ptr(), t.as_ptr(), spec.size) }).map(|_| ())
    }
}
