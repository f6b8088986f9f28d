//! Owner-only files and folders on Windows, through a protected DACL: the calls into the Windows API that
//! [`crate::owner_only`] makes, kept here because they are `unsafe` (the crate's only `unsafe` lives in
//! `src/ffi/`). Each object gets a descriptor whose owner is the user of the process token (not the
//! Administrators group an elevated token would otherwise make the owner), with one access-allowed ACE, full
//! access for that user, and `SE_DACL_PROTECTED`, so that nothing is inherited from the parent folder: no
//! Administrators, no SYSTEM, no Users. A folder's ACE is inherited by what is created in it.
//!
//! The descriptor is given at creation (`CreateFileW`, `CreateDirectoryW`), never applied afterwards: a file
//! is never readable by others, not even while it is empty.
#![cfg(windows)]

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::FromRawHandle;
use std::path::Path;
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::Authorization::{ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    AddAccessAllowedAceEx, GetAce, GetLengthSid, GetSecurityDescriptorControl, GetTokenInformation, InitializeAcl,
    InitializeSecurityDescriptor, SetSecurityDescriptorControl, SetSecurityDescriptorDacl, SetSecurityDescriptorOwner,
    TokenUser, ACE_HEADER, ACL,
    ACL_REVISION, CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION, OBJECT_INHERIT_ACE, OWNER_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, SE_DACL_PROTECTED, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateDirectoryW, CreateFileW, CREATE_NEW, FILE_ALL_ACCESS, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// winnt.h's `SECURITY_DESCRIPTOR_REVISION` and `ACCESS_ALLOWED_ACE_TYPE` (windows-sys has them under
/// another feature; these two values are fixed by the Windows ABI).
const SECURITY_DESCRIPTOR_REVISION: u32 = 1;
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

/// A `NUL`-terminated UTF-16 copy of `path`.
fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(std::iter::once(0)).collect()
}

/// A SID in a buffer of u64 words, so that it has the alignment the Windows calls that take a SID expect.
struct Sid {
    words: Vec<u64>,
    len: usize,
}

impl Sid {
    fn ptr(&mut self) -> PSID {
        self.words.as_mut_ptr().cast()
    }
}

/// The SID of the user the process runs as (its token's user).
fn current_user_sid() -> io::Result<Sid> {
    let mut token: HANDLE = null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` is a valid out-pointer for the new handle.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let result = token_user_sid(token);
    // SAFETY: `token` is the handle OpenProcessToken opened above, closed once here.
    unsafe { CloseHandle(token) };
    result
}

fn token_user_sid(token: HANDLE) -> io::Result<Sid> {
    let mut needed = 0u32;
    // SAFETY: a size query: no buffer (NULL, 0), `needed` receives the size. It fails by design.
    unsafe { GetTokenInformation(token, TokenUser, null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(io::Error::last_os_error());
    }
    // u64 words keep the TOKEN_USER at its alignment.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: `buffer` is writable for `needed` bytes (rounded up) and aligned for TOKEN_USER.
    if unsafe { GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), needed, &mut needed) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points into the same buffer.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    // SAFETY: `sid` is a valid SID inside `buffer`, which is alive; GetLengthSid reads only its header.
    let len = unsafe { GetLengthSid(sid) } as usize;
    let mut words = vec![0u64; len.div_ceil(8)];
    // SAFETY: the SID occupies `len` bytes from `sid`, inside `buffer`; `words` has room for `len` bytes and
    // does not overlap `buffer`.
    unsafe { std::ptr::copy_nonoverlapping(sid.cast::<u8>(), words.as_mut_ptr().cast::<u8>(), len) };
    Ok(Sid { words, len })
}

/// An absolute security descriptor owned by the current user, with a protected DACL of one ACE: full
/// access for that user; with `inherit`, the ACE is inherited by files and folders created inside. The
/// descriptor points into `_sid` and `_acl`, so they live as long as this value, which outlives every use
/// of `attributes()`.
struct OwnerOnly {
    _sid: Sid,
    _acl: Vec<u64>,
    descriptor: Vec<u64>,
}

impl OwnerOnly {
    fn new(inherit: bool) -> io::Result<OwnerOnly> {
        let mut sid = current_user_sid()?;
        // ACL header (8) + ACCESS_ALLOWED_ACE without its SidStart (8) + the SID, rounded up to words.
        let acl_len = (8 + 8 + sid.len + 7) & !7;
        let mut acl = vec![0u64; acl_len / 8];
        let mut descriptor = vec![0u64; 8]; // SECURITY_DESCRIPTOR is 40 bytes on x64
        let flags = if inherit { OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE } else { 0 };
        let acl_ptr: *mut ACL = acl.as_mut_ptr().cast();
        let sd: PSECURITY_DESCRIPTOR = descriptor.as_mut_ptr().cast();
        // SAFETY: `acl` is writable for `acl_len` bytes and word-aligned; `sid` is a valid, aligned SID
        // copied from the token, kept alive in the result; `descriptor` is 64 writable, aligned bytes, more than SECURITY_DESCRIPTOR.
        let ok = unsafe {
            InitializeAcl(acl_ptr, acl_len as u32, ACL_REVISION) != 0
                && AddAccessAllowedAceEx(acl_ptr, ACL_REVISION, flags, FILE_ALL_ACCESS, sid.ptr()) != 0
                && InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) != 0
                && SetSecurityDescriptorOwner(sd, sid.ptr(), 0) != 0
                && SetSecurityDescriptorDacl(sd, 1, acl_ptr, 0) != 0
                && SetSecurityDescriptorControl(sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnerOnly { _sid: sid, _acl: acl, descriptor })
    }

    fn attributes(&mut self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.descriptor.as_mut_ptr().cast::<c_void>(),
            bInheritHandle: 0,
        }
    }
}

/// Creates a new file (never opens an existing one) that only the current user can open, for reading
/// and writing. The share mode is tempfile's, so the file can be renamed and linked while open.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let mut owner_only = OwnerOnly::new(false)?;
    let attributes = owner_only.attributes();
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated UTF-16; `attributes` points at a descriptor that `owner_only` keeps
    // alive for the whole call.
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` is a file handle CreateFileW just opened and nobody else owns; File closes it.
    Ok(unsafe { File::from_raw_handle(handle) })
}

/// Creates a folder that only the current user can open, whose ACE what is created inside inherits.
/// Fails with `AlreadyExists` if it exists.
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut owner_only = OwnerOnly::new(true)?;
    let attributes = owner_only.attributes();
    let name = wide(path);
    // SAFETY: as in create_new_file.
    if unsafe { CreateDirectoryW(name.as_ptr(), &attributes) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One ACE of a DACL, as the tests check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// The trustee as a string SID (`S-1-5-21-...`).
    pub sid: String,
    /// `true` for an access-allowed ACE.
    pub allow: bool,
    pub mask: u32,
    pub flags: u8,
}

/// What a file's security descriptor says: its owner, whether its DACL is protected from inheritance,
/// and its ACEs; with the current user's SID to compare.
#[derive(Debug, Clone)]
pub struct Access {
    pub owner: String,
    pub user: String,
    pub protected: bool,
    pub aces: Vec<Ace>,
}

/// Reads the owner and the DACL of `path` (for tests and diagnostics).
pub fn access(path: &Path) -> io::Result<Access> {
    let name = wide(path);
    let mut owner: PSID = null_mut();
    let mut dacl: *mut ACL = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: `name` is NUL-terminated; the out-pointers are valid; the descriptor is freed below.
    let status = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            null_mut(),
            &mut dacl,
            null_mut(),
            &mut descriptor,
        )
    };
    if status != 0 {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    let result = describe(descriptor, owner, dacl);
    // SAFETY: `descriptor` was allocated by GetNamedSecurityInfoW with LocalAlloc; owner and dacl point into it.
    unsafe { LocalFree(descriptor) };
    result
}

fn describe(descriptor: PSECURITY_DESCRIPTOR, owner: PSID, dacl: *mut ACL) -> io::Result<Access> {
    let mut control = 0u16;
    let mut revision = 0u32;
    // SAFETY: `descriptor` is the valid descriptor GetNamedSecurityInfoW returned.
    if unsafe { GetSecurityDescriptorControl(descriptor, &mut control, &mut revision) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut aces = Vec::new();
    if !dacl.is_null() {
        // SAFETY: `dacl` points at the ACL inside the live descriptor.
        let count = unsafe { (*dacl).AceCount };
        for index in 0..count as u32 {
            let mut ace: *mut c_void = null_mut();
            // SAFETY: index < AceCount of this ACL; `ace` receives a pointer into the ACL.
            if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: every ACE starts with an ACE_HEADER (ACEs are DWORD-aligned in their ACL).
            let header = unsafe { *ace.cast::<ACE_HEADER>() };
            // Allowed (0) and denied (1) ACEs have the layout of ACCESS_ALLOWED_ACE: a 4-byte mask, then the SID.
            let (mask, sid) = if header.AceType <= 1 {
                // SAFETY: for these two types the mask is at offset 4 and the SID at offset 8 of the ACE.
                let (mask, sid) = unsafe { (*ace.cast::<u8>().add(4).cast::<u32>(), ace.cast::<u8>().add(8) as PSID) };
                (mask, sid_string(sid)?)
            } else {
                (0, String::new())
            };
            aces.push(Ace {
                sid,
                allow: header.AceType == ACCESS_ALLOWED_ACE_TYPE,
                mask,
                flags: header.AceFlags,
            });
        }
    }
    let mut user = current_user_sid()?;
    Ok(Access {
        owner: if owner.is_null() { String::new() } else { sid_string(owner)? },
        user: sid_string(user.ptr())?,
        protected: control & SE_DACL_PROTECTED != 0,
        aces,
    })
}

fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text: *mut u16 = null_mut();
    // SAFETY: `sid` is a valid SID; `text` receives a LocalAlloc'd NUL-terminated string freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated; reading up to the NUL stays inside it.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` UTF-16 units from `text` are the string; it is freed once, after the copy.
    let value = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc.
    unsafe { LocalFree(text.cast()) };
    Ok(value)
}

/// Whether a process of that id is running (a process that exists but may not be opened counts as running).
/// Used to tell a plaintext import file of a killed run from one of a run that is still going.
pub fn process_running(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{GetLastError, ERROR_ACCESS_DENIED};
    use windows_sys::Win32::System::Threading::{GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION};
    /// winnt.h's `STILL_ACTIVE`, the exit code of a process that has not exited.
    const STILL_ACTIVE: u32 = 259;
    // SAFETY: OpenProcess takes plain values and returns a handle or NULL.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        // SAFETY: reads the calling thread's last error, set by the failed call above.
        return unsafe { GetLastError() } == ERROR_ACCESS_DENIED;
    }
    let mut code = 0u32;
    // SAFETY: `handle` is a process handle opened above with query access; `code` is writable.
    let ok = unsafe { GetExitCodeProcess(handle, &mut code) } != 0;
    // SAFETY: `handle` was opened above and is closed once.
    unsafe { CloseHandle(handle) };
    !ok || code == STILL_ACTIVE
}
