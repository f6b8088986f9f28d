//! Every export of the C ABI, called as C would call it: NULL and bad arguments, a forced panic, the
//! frees, events, and a vault built from host callbacks.
use std::cell::RefCell;
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};

use tvmkeys::ffi::*;
use tvmkeys::vault::{KeySpec, LocalVault, Vault};
use widestring::{U16CStr, U16CString};

fn w(s: &str) -> U16CString {
    U16CString::from_str(s).unwrap()
}

fn wp(p: &Path) -> U16CString {
    w(&p.to_string_lossy())
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn last_error() -> Option<String> {
    let p = tvm_last_error();
    if p.is_null() {
        return None;
    }
    // SAFETY: a string handed out by the library, freed once below.
    let s = unsafe { U16CStr::from_ptr_str(p) }.to_string_lossy();
    unsafe { tvm_string_free(p) };
    Some(s)
}

#[derive(Default, Debug)]
struct Seen {
    kinds: Vec<TvmEventKind>,
    texts: Vec<String>,
    done: Vec<(String, TvmOutcome, TvmStatus)>,
    listed: Vec<(String, String, u32, String)>,
    panic_on: Option<TvmEventKind>,
    reply: u32,
}

unsafe extern "C-unwind" fn record(context: *mut c_void, event: *const TvmEvent) -> u32 {
    // SAFETY: the tests pass a `RefCell<Seen>` as context; the event is valid during the callback.
    let seen = unsafe { &*(context as *const RefCell<Seen>) };
    let e = unsafe { &*event };
    let s = |p: *const u16| unsafe { U16CStr::from_ptr_str(p) }.to_string_lossy();
    let mut seen = seen.borrow_mut();
    if seen.panic_on == Some(e.kind) {
        drop(seen);
        panic!("forced panic in a callback");
    }
    seen.kinds.push(e.kind);
    seen.texts.push(s(e.text));
    match e.kind {
        TvmEventKind::KeyDone => seen.done.push((s(e.key_name), e.outcome, e.status)),
        TvmEventKind::KeyListed => seen.listed.push((s(e.key_name), s(e.key_type), e.key_size, s(e.text))),
        TvmEventKind::KeyPending => return seen.reply,
        _ => {}
    }
    0
}

fn open(path: &Path, create: u32) -> (TvmStatus, *mut TvmVault) {
    let mut vault = null_mut();
    let status = unsafe { tvm_vault_open_local(wp(path).as_ptr(), create, &mut vault) };
    (status, vault)
}

#[test]
fn versions_are_reported() {
    assert_eq!(tvm_abi_version(), TVM_ABI_VERSION);
    let version = unsafe { CStr::from_ptr(tvm_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn null_arguments_are_refused_by_every_export() {
    let dir = tempfile::tempdir().unwrap();
    let (status, vault) = open(&dir.path().join("v"), 1);
    assert_eq!(status, TvmStatus::Ok);
    assert!(last_error().is_none(), "a successful call clears the last error");
    let p = w("x");
    let mut out = null_mut();
    unsafe {
        assert_eq!(tvm_vault_open_local(null(), 1, &mut out), TvmStatus::NullArgument);
        assert!(last_error().unwrap().contains("path"));
        assert_eq!(tvm_vault_open_local(p.as_ptr(), 1, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_vault_from_host(null(), &mut out), TvmStatus::NullArgument);
        assert_eq!(tvm_backup(null(), p.as_ptr(), p.as_ptr(), null(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_backup(vault, null(), p.as_ptr(), null(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_backup(vault, p.as_ptr(), null(), null(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_backup(vault, p.as_ptr(), p.as_ptr(), p.as_ptr(), null(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_restore(null(), p.as_ptr(), null(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_restore(vault, null(), null(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_restore(vault, p.as_ptr(), null(), null(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_import_wrapping_key(vault, null(), p.as_ptr(), p.as_ptr(), p.as_ptr(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_import_wrapping_key(vault, p.as_ptr(), p.as_ptr(), p.as_ptr(), null(), None, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_generate_import_json(null(), p.as_ptr(), p.as_ptr()), TvmStatus::NullArgument);
        assert_eq!(tvm_generate_import_json(p.as_ptr(), p.as_ptr(), null()), TvmStatus::NullArgument);
        assert_eq!(tvm_vault_create_key(null(), p.as_ptr(), p.as_ptr(), 256), TvmStatus::NullArgument);
        assert_eq!(tvm_vault_create_key(vault, p.as_ptr(), null(), 256), TvmStatus::NullArgument);
        assert_eq!(tvm_vault_list(null(), None, null_mut()), TvmStatus::NullArgument);
        // The frees and host-call helpers accept NULL.
        tvm_vault_free(null_mut());
        tvm_string_free(null_mut());
        tvm_host_call_set_error(null_mut(), p.as_ptr());
        tvm_host_call_add_key(null_mut(), p.as_ptr(), p.as_ptr(), 1);
        tvm_vault_free(vault);
    }
}

#[test]
fn bad_arguments_get_typed_statuses_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    // Unpaired surrogate: not valid UTF-16.
    let bad = [0xD800u16, 0x41, 0];
    let mut out = null_mut();
    assert_eq!(unsafe { tvm_vault_open_local(bad.as_ptr(), 1, &mut out) }, TvmStatus::InvalidArgument);
    assert!(last_error().unwrap().contains("UTF-16"));
    assert_eq!(open(&dir.path().join("absent"), 0).0, TvmStatus::NotFound);
    assert!(last_error().unwrap().contains("absent"));
    let (_, vault) = open(&dir.path().join("v"), 1);
    unsafe {
        assert_eq!(tvm_vault_create_key(vault, w("k").as_ptr(), w("aes").as_ptr(), 256), TvmStatus::InvalidArgument);
        assert_eq!(tvm_vault_create_key(vault, w("k").as_ptr(), w("AES").as_ptr(), 128), TvmStatus::InvalidArgument);
        assert_eq!(tvm_vault_create_key(vault, w("a/b").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::InvalidArgument);
        assert_eq!(tvm_vault_create_key(vault, w("k").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::Ok);
        assert_eq!(tvm_vault_create_key(vault, w("k").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::AlreadyExists);
        assert!(last_error().unwrap().contains("'k'"));
        let pubkey = wp(&vectors().join("wrapping_public_pkcs1.pem"));
        assert_eq!(tvm_backup(vault, pubkey.as_ptr(), wp(dir.path()).as_ptr(), null(), w("now").as_ptr(), None, null_mut()), TvmStatus::InvalidArgument);
        assert_eq!(tvm_backup(vault, w("").as_ptr(), wp(dir.path()).as_ptr(), null(), w("20260101000000").as_ptr(), None, null_mut()), TvmStatus::InvalidArgument);
        assert_eq!(tvm_restore(vault, wp(&dir.path().join("none")).as_ptr(), null(), w("w").as_ptr(), None, null_mut()), TvmStatus::NotFound);
        let private = wp(&vectors().join("encrypted_private_pkcs8.pem"));
        assert_eq!(tvm_generate_import_json(pubkey.as_ptr(), private.as_ptr(), wp(&dir.path().join("o.json")).as_ptr()), TvmStatus::Unsupported);
        assert!(!dir.path().join("o.json").exists());
        tvm_vault_free(vault);
    }
}

#[test]
fn a_panic_in_a_callback_becomes_a_status_and_leaves_no_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (_, vault) = open(&dir.path().join("v"), 1);
    unsafe { tvm_vault_create_key(vault, w("k").as_ptr(), w("AES").as_ptr(), 256) };
    let seen = RefCell::new(Seen { panic_on: Some(TvmEventKind::KeyDone), ..Default::default() });
    let root = dir.path().join("backups");
    let status = unsafe {
        tvm_backup(
            vault,
            wp(&vectors().join("wrapping_public_pkcs1.pem")).as_ptr(),
            wp(&root).as_ptr(),
            null(),
            w("20260101000000").as_ptr(),
            Some(record),
            &seen as *const _ as *mut c_void,
        )
    };
    assert_eq!(status, TvmStatus::Panic);
    assert!(last_error().unwrap().contains("forced panic"));
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "no backup, complete or partial, is left");
    // The library still works after a panic.
    assert_eq!(unsafe { tvm_vault_list(vault, None, null_mut()) }, TvmStatus::Ok);
    unsafe { tvm_vault_free(vault) };
}

#[test]
fn the_whole_flow_runs_through_the_abi_with_events() {
    let dir = tempfile::tempdir().unwrap();
    let (_, a) = open(&dir.path().join("a"), 1);
    let (_, b) = open(&dir.path().join("b"), 1);
    let seen = RefCell::new(Seen::default());
    let ctx = &seen as *const _ as *mut c_void;
    let (public, private) = (wp(&vectors().join("public_utf16le.pem")), wp(&vectors().join("private_utf16le.pem")));
    unsafe {
        for name in ["vm_1", "vm_2"] {
            assert_eq!(tvm_vault_create_key(a, w(name).as_ptr(), w("AES").as_ptr(), 256), TvmStatus::Ok);
        }
        let root = dir.path().join("backups");
        assert_eq!(tvm_backup(a, public.as_ptr(), wp(&root).as_ptr(), null(), w("20260101000000").as_ptr(), Some(record), ctx), TvmStatus::Ok);
        let backup = root.join("20260101000000");
        {
            let s = seen.borrow();
            assert_eq!(s.kinds.last(), Some(&TvmEventKind::Backup));
            assert_eq!(s.texts.last().unwrap(), &backup.to_string_lossy());
            assert_eq!(s.texts[0], format!("Backing up TVM Vault keys to {}", backup.display()));
            assert_eq!(s.done.iter().filter(|d| d.1 == TvmOutcome::Exported).count(), 2);
        }
        *seen.borrow_mut() = Seen::default();
        let size = w("2048");
        assert_eq!(tvm_import_wrapping_key(b, w("wrap").as_ptr(), public.as_ptr(), private.as_ptr(), size.as_ptr(), Some(record), ctx), TvmStatus::Ok);
        assert_eq!(seen.borrow().texts[2], "Key wrap successfully imported into the vault.");
        // -WhatIf: the callback answers Skip to every KeyPending.
        *seen.borrow_mut() = Seen { reply: TvmReply::Skip as u32, ..Default::default() };
        assert_eq!(tvm_restore(b, wp(&backup).as_ptr(), null(), w("wrap").as_ptr(), Some(record), ctx), TvmStatus::Ok);
        assert!(seen.borrow().done.iter().all(|d| d.1 == TvmOutcome::Skipped));
        *seen.borrow_mut() = Seen::default();
        assert_eq!(tvm_restore(b, wp(&backup).as_ptr(), null(), w("wrap").as_ptr(), Some(record), ctx), TvmStatus::Ok);
        assert_eq!(seen.borrow().done, vec![("vm_1".into(), TvmOutcome::Imported, TvmStatus::Ok), ("vm_2".into(), TvmOutcome::Imported, TvmStatus::Ok)]);
        // Cancel at the first KeyPending stops the restore with Cancelled.
        *seen.borrow_mut() = Seen { reply: TvmReply::Cancel as u32, ..Default::default() };
        let (_, c) = open(&dir.path().join("c"), 1);
        tvm_import_wrapping_key(c, w("wrap").as_ptr(), public.as_ptr(), private.as_ptr(), size.as_ptr(), None, null_mut());
        assert_eq!(tvm_restore(c, wp(&backup).as_ptr(), null(), w("wrap").as_ptr(), Some(record), ctx), TvmStatus::Cancelled);
        // Listing both vaults: same fingerprints for the restored keys.
        let list = |v| {
            let seen = RefCell::new(Seen::default());
            assert_eq!(tvm_vault_list(v, Some(record), &seen as *const _ as *mut c_void), TvmStatus::Ok);
            seen.into_inner().listed
        };
        let (la, lb) = (list(a), list(b));
        assert_eq!(la.len(), 2);
        assert!(la.iter().all(|k| lb.contains(k) && k.3.len() == 32));
        let out = dir.path().join("import.json");
        assert_eq!(tvm_generate_import_json(public.as_ptr(), private.as_ptr(), wp(&out).as_ptr()), TvmStatus::Ok);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(vectors().join("import_expected.json")).unwrap());
        for v in [a, b, c] {
            tvm_vault_free(v);
        }
    }
}

/// A host vault whose callbacks forward to a LocalVault, as the Moc adapter forwards to the Moc cmdlets.
struct Host {
    vault: LocalVault,
    released: std::cell::Cell<u32>,
    calls: RefCell<Vec<String>>,
}

fn s(p: *const u16) -> String {
    unsafe { U16CStr::from_ptr_str(p) }.to_string_lossy()
}

fn status_of(r: tvmkeys::Result<()>, call: *mut TvmHostCall) -> u32 {
    match r {
        Ok(()) => TvmStatus::Ok as u32,
        Err(e) => {
            unsafe { tvm_host_call_set_error(call, w(&format!("host says: {e}")).as_ptr()) };
            match e.kind() {
                tvmkeys::ErrorKind::AlreadyExists => TvmStatus::AlreadyExists as u32,
                tvmkeys::ErrorKind::NotFound => TvmStatus::NotFound as u32,
                _ => 4242, // an unknown status is read as a vault failure
            }
        }
    }
}

unsafe extern "C-unwind" fn h_list(ctx: *mut c_void, call: *mut TvmHostCall) -> u32 {
    let host = unsafe { &*(ctx as *const Host) };
    host.calls.borrow_mut().push("list".into());
    for k in host.vault.list().unwrap() {
        unsafe { tvm_host_call_add_key(call, w(&k.name).as_ptr(), w(&k.key_type).as_ptr(), k.size) };
    }
    0
}
unsafe extern "C-unwind" fn h_export(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16, t: *const u16, size: u32, wk: *const u16, out: *const u16) -> u32 {
    let host = unsafe { &*(ctx as *const Host) };
    host.calls.borrow_mut().push(format!("export {}", s(n)));
    let spec = KeySpec::parse(&s(t), size).unwrap();
    status_of(host.vault.export(&s(n), spec, Path::new(&s(wk)), Path::new(&s(out))), call)
}
unsafe extern "C-unwind" fn h_import(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16, t: *const u16, size: u32, f: *const u16, wk: *const u16) -> u32 {
    let host = unsafe { &*(ctx as *const Host) };
    host.calls.borrow_mut().push(format!("import {} wrapping={}", s(n), s(wk)));
    let spec = KeySpec::parse(&s(t), size).unwrap();
    let wk = s(wk);
    status_of(host.vault.import(&s(n), spec, Path::new(&s(f)), Some(wk.as_str()).filter(|x| !x.is_empty())), call)
}
unsafe extern "C-unwind" fn h_delete(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16) -> u32 {
    let host = unsafe { &*(ctx as *const Host) };
    status_of(host.vault.delete(&s(n)), call)
}
unsafe extern "C-unwind" fn h_create(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16, t: *const u16, size: u32) -> u32 {
    let host = unsafe { &*(ctx as *const Host) };
    status_of(KeySpec::parse(&s(t), size).and_then(|spec| host.vault.create(&s(n), spec)), call)
}
unsafe extern "C-unwind" fn h_public_key(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16, out: *const u16) -> u32 {
    use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
    let host = unsafe { &*(ctx as *const Host) };
    host.calls.borrow_mut().push(format!("public_key {}", s(n)));
    status_of(
        host.vault.public_key(&s(n)).map(|der| {
            let pem = rsa::RsaPublicKey::from_pkcs1_der(&der).unwrap().to_pkcs1_pem(rsa::pkcs8::LineEnding::CRLF).unwrap();
            std::fs::write(s(out), pem).unwrap();
        }),
        call,
    )
}
unsafe extern "C-unwind" fn h_release(ctx: *mut c_void) {
    let host = unsafe { &*(ctx as *const Host) };
    host.released.set(host.released.get() + 1);
}

fn host_vault(host: &Host) -> *mut TvmVault {
    let callbacks = TvmHostVault {
        context: host as *const Host as *mut c_void,
        list: Some(h_list),
        export_key: Some(h_export),
        import_key: Some(h_import),
        delete_key: Some(h_delete),
        create_key: Some(h_create),
        public_key: Some(h_public_key),
        release: Some(h_release),
    };
    let mut out = null_mut();
    assert_eq!(unsafe { tvm_vault_from_host(&callbacks, &mut out) }, TvmStatus::Ok);
    out
}

#[test]
fn a_host_vault_backs_up_and_restores_and_its_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let source = Host { vault: LocalVault::open(&dir.path().join("a"), true).unwrap(), released: Default::default(), calls: Default::default() };
    let target = Host { vault: LocalVault::open(&dir.path().join("b"), true).unwrap(), released: Default::default(), calls: Default::default() };
    let (hs, ht) = (host_vault(&source), host_vault(&target));
    let seen = RefCell::new(Seen::default());
    let ctx = &seen as *const _ as *mut c_void;
    let (public, private) = (wp(&vectors().join("wrapping_public_pkcs1.pem")), wp(&vectors().join("wrapping_private_pkcs8.pem")));
    unsafe {
        assert_eq!(tvm_vault_create_key(hs, w("vm_a").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::Ok);
        assert_eq!(tvm_vault_create_key(hs, w("vm_a").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::AlreadyExists);
        assert_eq!(tvm_vault_create_key(hs, w("vm_b").as_ptr(), w("AES").as_ptr(), 256), TvmStatus::Ok);
        let root = dir.path().join("backups");
        assert_eq!(tvm_backup(hs, public.as_ptr(), wp(&root).as_ptr(), null(), w("20260101000000").as_ptr(), None, null_mut()), TvmStatus::Ok);
        assert_eq!(*source.calls.borrow(), vec!["list", "export vm_a", "export vm_b"]);
        assert_eq!(tvm_import_wrapping_key(ht, w("wrap").as_ptr(), public.as_ptr(), private.as_ptr(), w("2048").as_ptr(), None, null_mut()), TvmStatus::Ok);
        target.vault.create("vm_b", KeySpec::parse("AES", 256).unwrap()).unwrap();
        let backup = root.join("20260101000000");
        // The engine sees vm_b in the listing and reports it as existing without calling import.
        assert_eq!(tvm_restore(ht, wp(&backup).as_ptr(), null(), w("wrap").as_ptr(), Some(record), ctx), TvmStatus::Ok);
        assert_eq!(seen.borrow().done, vec![("vm_a".into(), TvmOutcome::Imported, TvmStatus::Ok), ("vm_b".into(), TvmOutcome::Exists, TvmStatus::Ok)]);
        assert!(target.calls.borrow().contains(&"import vm_a wrapping=wrap".to_string()));
        assert!(target.calls.borrow().contains(&"public_key wrap".to_string()), "the restore checks the wrapping key first");
        assert!(target.calls.borrow().contains(&"import wrap wrapping=".to_string()), "a NO_KEY_WRAP import passes no wrapping key name");
        // A failure the host cannot classify keeps the host's text in full.
        target.vault.delete("vm_a").unwrap();
        let text = std::fs::read_to_string(backup.join("AES/vm_a_256.json")).unwrap();
        std::fs::write(backup.join("AES/vm_a_256.json"), text.replacen("\"private-key\":\"", "\"private-key\":\"AAAA", 1)).unwrap();
        *seen.borrow_mut() = Seen::default();
        assert_eq!(tvm_restore(ht, wp(&backup).as_ptr(), null(), w("wrap").as_ptr(), Some(record), ctx), TvmStatus::Ok);
        let failed = seen.borrow().done[0].clone();
        assert_eq!((failed.1, failed.2), (TvmOutcome::Failed, TvmStatus::Vault));
        assert!(seen.borrow().texts.iter().any(|t| t.starts_with("host says:")));
        tvm_vault_free(hs);
        tvm_vault_free(ht);
    }
    assert_eq!((source.released.get(), target.released.get()), (1, 1));
    let incomplete = TvmHostVault { context: null_mut(), list: Some(h_list), export_key: None, import_key: None, delete_key: None, create_key: None, public_key: None, release: None };
    let mut out = null_mut();
    assert_eq!(unsafe { tvm_vault_from_host(&incomplete, &mut out) }, TvmStatus::InvalidArgument);
    assert!(out.is_null());
}

#[test]
fn moc_version_gates_through_the_abi() {
    let check = |module: Option<&str>, stack: Option<&str>, check_stack: u32| {
        let (m, st) = (module.map(w), stack.map(w));
        let status = unsafe {
            tvm_moc_check_versions(m.as_ref().map_or(null(), |x| x.as_ptr()), st.as_ref().map_or(null(), |x| x.as_ptr()), check_stack)
        };
        (status, last_error())
    };
    assert_eq!(check(Some("1.2.27"), None, 0), (TvmStatus::Ok, None));
    assert_eq!(check(Some("1.2.27"), Some("1.14.1.10414"), 1), (TvmStatus::Ok, None));
    let (status, text) = check(Some("1.2.9"), None, 0);
    assert_eq!(status, TvmStatus::IncompatibleVersion);
    assert_eq!(text.unwrap(), "Incompatible moc powershell version: 1.2.9 found. Version 1.2.27 is needed. Please update your cluster.");
    assert_eq!(check(None, None, 0).1.unwrap(), "Unable to determine Moc installation versions.");
    assert_eq!(check(Some("1.2.27"), None, 1).1.unwrap(), "Unable to determine Moc installation versions.");
    assert_eq!(
        check(Some("1.2.27"), Some("1.14.0.0"), 1).1.unwrap(),
        "Incompatible moc stack version: 1.14.0.0 found. 1.14.1.10414 is needed. Please update your cluster."
    );
}

/// A host that answers MOC's way: status Vault and MOC's own text, which the engine must read.
unsafe extern "C-unwind" fn moc_text_import(ctx: *mut c_void, call: *mut TvmHostCall, n: *const u16, _: *const u16, _: u32, _: *const u16, _: *const u16) -> u32 {
    let _ = ctx;
    let name = s(n);
    let text = if name == "exists" {
        format!("C:\\Program Files\\AksHci\\mocctl.exe security keyvault key import --name \"{name}\" System.Collections.Hashtable.generic_non_zero 1 [Error: Keys Import failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[{name}]: InvalidVersion]")
    } else {
        "mocctl.exe ... System.Collections.Hashtable.generic_non_zero 1 [Error: Keys Get failed: Not Found]".to_string()
    };
    unsafe { tvm_host_call_set_error(call, w(&text).as_ptr()) };
    TvmStatus::Vault as u32
}

#[test]
fn moc_failure_texts_become_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host { vault: LocalVault::open(&dir.path().join("a"), true).unwrap(), released: Default::default(), calls: Default::default() };
    let callbacks = TvmHostVault {
        context: &host as *const Host as *mut c_void,
        list: Some(h_list),
        export_key: Some(h_export),
        import_key: Some(moc_text_import),
        delete_key: Some(h_delete),
        create_key: Some(h_create),
        public_key: None,
        release: None,
    };
    let mut vault = null_mut();
    assert_eq!(unsafe { tvm_vault_from_host(&callbacks, &mut vault) }, TvmStatus::Ok);
    let (public, private) = (wp(&vectors().join("wrapping_public_pkcs1.pem")), wp(&vectors().join("wrapping_private_pkcs8.pem")));
    unsafe {
        let import = |name: &str| tvm_import_wrapping_key(vault, w(name).as_ptr(), public.as_ptr(), private.as_ptr(), w("2048").as_ptr(), None, null_mut());
        assert_eq!(import("exists"), TvmStatus::AlreadyExists);
        assert_eq!(last_error().unwrap(), "A key named 'exists' already exists in the vault.");
        assert_eq!(import("other"), TvmStatus::Vault);
        let text = last_error().unwrap();
        assert!(text.contains("[Error: Keys Get failed: Not Found]") && text.contains("wrapping key"), "{text}");
        tvm_vault_free(vault);
    }
}
