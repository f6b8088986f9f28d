//! Every export of the C ABI, called as C would call it: NULL and malformed arguments, malformed JSON,
//! unknown request fields, a forced panic, a panicking host dispatcher, the frees, events, and the MOC
//! vault over a host dispatcher. Each failure must come back as its status and a structured error.
//! (Rewritten for ABI 3, where requests, results and events are JSON; the behaviours the ABI 2 tests
//! checked are all still checked here.)
use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};

use serde_json::{json, Value};
use tvmkeys::ffi::*;
use tvmkeys::vault::{KeySpec, LocalVault, Vault};

fn vectors() -> PathBuf {
    // A full path on every platform: on Windows (under Wine) the Linux build path /work/... is root-relative,
    // which the engine refuses; absolute() makes it Z:\work\...
    std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")).unwrap()
}

fn v(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Takes an export's buffer: parses and frees it.
fn take(buffer: TvmBuffer) -> Value {
    let value = if buffer.data.is_null() {
        Value::Null
    } else {
        // SAFETY: a buffer the library handed out, read before it is freed below.
        let bytes = unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) };
        serde_json::from_slice(bytes).expect("every buffer is JSON")
    };
    unsafe { tvm_buffer_free(buffer) };
    value
}

type CommandFn = unsafe extern "C" fn(*const TvmVault, *const u8, usize, TvmEventSink, *mut c_void, *mut TvmBuffer) -> TvmStatus;

/// `tvm_restore` with no secret, in the shape of the other commands.
unsafe extern "C" fn restore_no_secret(
    vault: *const TvmVault,
    request: *const u8,
    len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    unsafe { tvm_restore(vault, request, len, std::ptr::null(), 0, sink, context, out) }
}

/// `tvm_import_wrapping_key` with no secret, in the shape of the other commands.
unsafe extern "C" fn import_wrapping_key_no_secret(
    vault: *const TvmVault,
    request: *const u8,
    len: usize,
    sink: TvmEventSink,
    context: *mut c_void,
    out: *mut TvmBuffer,
) -> TvmStatus {
    unsafe { tvm_import_wrapping_key(vault, request, len, std::ptr::null(), 0, sink, context, out) }
}

const COMMANDS: [(&str, CommandFn); 6] = [
    ("tvm_backup", tvm_backup),
    ("tvm_restore", restore_no_secret),
    ("tvm_import_wrapping_key", import_wrapping_key_no_secret),
    ("tvm_generate_import_json", tvm_generate_import_json),
    ("tvm_vault_list", tvm_vault_list),
    ("tvm_vault_create_key", tvm_vault_create_key),
];

/// Runs a command with raw request bytes.
fn raw(f: CommandFn, vault: *const TvmVault, request: &[u8], seen: Option<&RefCell<Seen>>) -> (TvmStatus, Value) {
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    let (sink, ctx): (TvmEventSink, *mut c_void) = match seen {
        Some(s) => (Some(record), s as *const _ as *mut c_void),
        None => (None, null_mut()),
    };
    let status = unsafe { f(vault, request.as_ptr(), request.len(), sink, ctx, &mut out) };
    (status, take(out))
}

fn run(f: CommandFn, vault: *const TvmVault, request: Value, seen: Option<&RefCell<Seen>>) -> (TvmStatus, Value) {
    raw(f, vault, request.to_string().as_bytes(), seen)
}

fn error_id(v: &Value) -> &str {
    v["errorId"].as_str().unwrap_or_else(|| panic!("not a structured error: {v}"))
}

fn open_local(path: &Path, create: bool) -> (TvmStatus, *mut TvmVault, Value) {
    let request = json!({ "vaultPath": v(path), "create": create }).to_string();
    let mut vault = null_mut();
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    let status = unsafe { tvm_vault_open_local(request.as_ptr(), request.len(), &mut vault, &mut out) };
    (status, vault, take(out))
}

fn local(path: &Path) -> *mut TvmVault {
    let (status, vault, result) = open_local(path, true);
    assert_eq!(status, TvmStatus::Ok, "{result}");
    assert_eq!(result["vault"], "local");
    vault
}

/// What a sink saw, and how it answers.
#[derive(Default)]
struct Seen {
    events: Vec<Value>,
    pending_reply: TvmReply,
    panic_on: Option<&'static str>,
}

impl Seen {
    fn named(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }
}

unsafe extern "C-unwind" fn record(context: *mut c_void, event: *const u8, len: usize) -> TvmReply {
    // SAFETY: the tests pass a `RefCell<Seen>` as context; the event bytes are valid during the call.
    let seen = unsafe { &*(context as *const RefCell<Seen>) };
    let event: Value = serde_json::from_slice(unsafe { std::slice::from_raw_parts(event, len) }).expect("events are JSON");
    let mut seen = seen.borrow_mut();
    if seen.panic_on.is_some_and(|p| event["event"] == p) {
        drop(seen);
        panic!("forced panic in a sink");
    }
    let reply = if event["event"] == "keyPending" { seen.pending_reply } else { TVM_REPLY_PROCEED };
    seen.events.push(event);
    reply
}

fn create_key(vault: *const TvmVault, name: &str, key_type: &str, size: u32) -> (TvmStatus, Value) {
    run(tvm_vault_create_key, vault, json!({ "name": name, "type": key_type, "size": size }), None)
}

fn wrapping_pair() -> (String, String) {
    (v(&vectors().join("wrapping_public_pkcs1.pem")), v(&vectors().join("wrapping_private_pkcs8.pem")))
}

fn import_wrapping(vault: *const TvmVault, name: &str) -> (TvmStatus, Value) {
    let (public, private) = wrapping_pair();
    let request = json!({ "keyName": name, "publicKeyPath": public, "privateKeyPath": private, "keySize": "2048" });
    run(import_wrapping_key_no_secret, vault, request, None)
}

fn backup_request(root: &Path, timestamp: &str) -> Value {
    json!({ "wrappingKeyPath": wrapping_pair().0, "backupRootPath": v(root), "timestamp": timestamp })
}

fn restore_request(backup: &Path) -> Value {
    json!({ "backupPath": v(backup), "wrappingKeyName": "wrap", "skipTargetBackup": true })
}

#[test]
fn versions_are_reported() {
    assert_eq!(tvm_abi_version(), TVM_ABI_VERSION);
    let version = unsafe { CStr::from_ptr(tvm_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn null_arguments_are_refused_by_every_export_with_a_structured_error() {
    let dir = tempfile::tempdir().unwrap();
    let vault = local(&dir.path().join("v"));
    let request = b"{}";
    for (name, f) in COMMANDS {
        // No request.
        let mut out = TvmBuffer { data: null_mut(), len: 0 };
        let status = unsafe { f(vault, null(), 0, None, null_mut(), &mut out) };
        assert_eq!(status, TvmStatus::NullArgument, "{name}");
        let e = take(out);
        assert_eq!(error_id(&e), "NullArgument", "{name}");
        assert!(e["message"].as_str().unwrap().contains("'request'"), "{name}: {e}");
        assert_eq!(e["category"], "InvalidArgument");
        // No out: nowhere to put anything; refused before anything runs.
        let status = unsafe { f(vault, request.as_ptr(), request.len(), None, null_mut(), null_mut()) };
        assert_eq!(status, TvmStatus::NullArgument, "{name}");
        // No vault (the import file needs none).
        let (status, e) = raw(f, null(), request, None);
        if name == "tvm_generate_import_json" {
            assert_eq!(status, TvmStatus::InvalidRequest, "{name}: {e}");
        } else {
            assert_eq!((status, error_id(&e)), (TvmStatus::NullArgument, "NullArgument"), "{name}");
            assert!(e["message"].as_str().unwrap().contains("'vault'"), "{name}: {e}");
        }
    }
    let mut handle = null_mut();
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    unsafe {
        assert_eq!(tvm_vault_open_local(null(), 0, &mut handle, &mut out), TvmStatus::NullArgument);
        assert_eq!(error_id(&take(std::mem::replace(&mut out, TvmBuffer { data: null_mut(), len: 0 }))), "NullArgument");
        let r = json!({ "vaultPath": "x" }).to_string();
        assert_eq!(tvm_vault_open_local(r.as_ptr(), r.len(), null_mut(), &mut out), TvmStatus::NullArgument);
        assert!(take(std::mem::replace(&mut out, TvmBuffer { data: null_mut(), len: 0 }))["message"].as_str().unwrap().contains("'vault'"));
        assert_eq!(tvm_vault_open_local(r.as_ptr(), r.len(), &mut handle, null_mut()), TvmStatus::NullArgument);
        assert_eq!(tvm_vault_open_moc(null(), r.as_ptr(), r.len(), None, null_mut(), &mut handle, &mut out), TvmStatus::NullArgument);
        assert!(take(out)["message"].as_str().unwrap().contains("'host'"));
        // The frees accept NULL and empty buffers.
        tvm_vault_free(null_mut());
        tvm_buffer_free(TvmBuffer { data: null_mut(), len: 0 });
        tvm_vault_free(vault);
    }
}

#[test]
fn malformed_json_unknown_fields_and_other_schema_versions_are_invalid_requests() {
    let dir = tempfile::tempdir().unwrap();
    let vault = local(&dir.path().join("v"));
    let cases: [(&[u8], &str); 6] = [
        (b"{", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not a JSON object"),
        (br#"{"schemaVersion":2}"#, "schemaVersion"),
        (br#"{"surprise":true}"#, "surprise"),
    ];
    for (name, f) in COMMANDS {
        for (request, says) in cases {
            let (status, e) = raw(f, vault, request, None);
            assert_eq!(status, TvmStatus::InvalidRequest, "{name} {request:?}");
            assert_eq!(error_id(&e), "InvalidRequest");
            assert!(e["message"].as_str().unwrap().contains(says), "{name} {request:?}: {e}");
        }
    }
    // A missing field is named; an unknown one next to valid ones is refused, never ignored.
    let (status, e) = run(tvm_vault_create_key, vault, json!({ "name": "k", "type": "AES" }), None);
    assert_eq!(status, TvmStatus::InvalidRequest);
    assert!(e["message"].as_str().unwrap().contains("size"), "{e}");
    let (status, e) = run(tvm_vault_create_key, vault, json!({ "name": "k", "type": "AES", "size": 256, "sise": 1 }), None);
    assert_eq!(status, TvmStatus::InvalidRequest);
    assert!(e["message"].as_str().unwrap().contains("sise"), "{e}");
    assert!(run(tvm_vault_list, vault, json!({}), None).1["keys"].as_array().unwrap().is_empty(), "nothing was created");
    // The version a request may name is this one.
    let (status, key) = run(tvm_vault_create_key, vault, json!({ "schemaVersion": 1, "name": "k", "type": "AES", "size": 256 }), None);
    assert_eq!(status, TvmStatus::Ok, "{key}");
    assert_eq!(key["schemaVersion"], 1);
    let request = b"{\"vaultPath\": 5}";
    let mut handle = null_mut();
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    assert_eq!(unsafe { tvm_vault_open_local(request.as_ptr(), request.len(), &mut handle, &mut out) }, TvmStatus::InvalidRequest);
    assert_eq!(error_id(&take(out)), "InvalidRequest");
    assert!(handle.is_null());
    unsafe { tvm_vault_free(vault) };
}

#[test]
fn failures_carry_a_stable_code_a_category_the_target_and_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, e) = open_local(&dir.path().join("absent"), false);
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "VaultMissing"));
    assert_eq!(e["category"], "ObjectNotFound");
    assert!(e["target"].as_str().unwrap().ends_with("absent"), "{e}");
    let vault = local(&dir.path().join("v"));
    for (name, t, size, id, input) in [
        ("k", "aes", 256, "InvalidKeyType", "type"),
        ("k", "AES", 128, "InvalidKeySize", "size"),
        ("a/b", "AES", 256, "InvalidKeyName", "name"),
    ] {
        let (status, e) = create_key(vault, name, t, size);
        assert_eq!((status, error_id(&e)), (TvmStatus::Failed, id), "{e}");
        assert_eq!(e["input"], input, "{e}");
    }
    let (status, key) = create_key(vault, "k", "AES", 256);
    assert_eq!(status, TvmStatus::Ok);
    assert_eq!((key["name"].as_str(), key["type"].as_str(), key["size"].as_u64()), (Some("k"), Some("AES"), Some(256)));
    assert_eq!(key["fingerprint"].as_str().unwrap().len(), 32, "the local vault fingerprints what it creates");
    let (status, e) = create_key(vault, "k", "AES", 256);
    assert_eq!((status, error_id(&e), e["category"].as_str()), (TvmStatus::Failed, "KeyExists", Some("ResourceExists")));
    assert_eq!(e["target"], "k");
    let root = dir.path().join("backups");
    let (status, e) = run(tvm_backup, vault, backup_request(&root, "now"), None);
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "InvalidTimestamp"));
    let (status, e) = run(tvm_backup, vault, json!({ "wrappingKeyPath": "", "backupRootPath": v(&root), "timestamp": "20260101000000" }), None);
    assert_eq!((status, error_id(&e), e["input"].as_str()), (TvmStatus::Failed, "InvalidPath", Some("wrappingKeyPath")));
    let (status, e) = run(restore_no_secret, vault, restore_request(&dir.path().join("none")), None);
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "BackupFolderMissing"));
    let (status, e) = run(tvm_backup, vault, backup_request(&root, "20260101000000"), None);
    assert_eq!(status, TvmStatus::Ok, "{e}");
    let (status, e) = run(tvm_backup, vault, backup_request(&root, "20260101000000"), None);
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "BackupExists"));
    // Restored into the vault it came from, every key exists: no wrapping key is needed, nothing fails.
    let (status, result) = run(restore_no_secret, vault, restore_request(&root.join("20260101000000")), None);
    assert_eq!((status, result["exists"].as_u64(), result.get("errorId")), (TvmStatus::Ok, Some(1), None), "{result}");
    let empty = local(&dir.path().join("empty"));
    let (status, e) = run(restore_no_secret, empty, restore_request(&root.join("20260101000000")), None);
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "WrappingKeyMissing"));
    assert!(e["message"].as_str().unwrap().contains("Import-TvmWrappingKeyFromPem"), "{e}");
    let (public, _) = wrapping_pair();
    for (private, id) in [("encrypted_private_pkcs8.pem", "PemEncrypted"), ("other_private_pkcs8.pem", "KeyPairMismatch")] {
        let out = dir.path().join("o.json");
        let request = json!({ "publicKeyPath": public, "privateKeyPath": v(&vectors().join(private)), "outFilePath": v(&out) });
        let (status, e) = run(tvm_generate_import_json, null(), request, None);
        assert_eq!((status, error_id(&e)), (TvmStatus::Failed, id), "{e}");
        assert!(!out.exists());
    }
    let (public, private) = wrapping_pair();
    let request = json!({ "keyName": "w", "publicKeyPath": public, "privateKeyPath": private, "keySize": "4096" });
    let (status, e) = run(import_wrapping_key_no_secret, vault, request, None);
    assert_eq!((status, error_id(&e), e["input"].as_str()), (TvmStatus::Failed, "KeySizeMismatch", Some("keySize")));
    unsafe {
        tvm_vault_free(vault);
        tvm_vault_free(empty);
    }
}

#[test]
fn a_panic_in_a_sink_becomes_a_status_and_leaves_no_backup() {
    let dir = tempfile::tempdir().unwrap();
    let vault = local(&dir.path().join("v"));
    create_key(vault, "k", "AES", 256);
    let seen = RefCell::new(Seen { panic_on: Some("progress"), ..Default::default() });
    let root = dir.path().join("backups");
    let (status, e) = run(tvm_backup, vault, backup_request(&root, "20260101000000"), Some(&seen));
    assert_eq!(status, TvmStatus::Panic);
    assert_eq!(error_id(&e), "InternalError");
    assert!(e["message"].as_str().unwrap().contains("forced panic"), "{e}");
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "no backup, complete or partial, is left");
    // The library still works after a panic.
    assert_eq!(run(tvm_vault_list, vault, json!({}), None).0, TvmStatus::Ok);
    unsafe { tvm_vault_free(vault) };
}

#[test]
fn the_whole_flow_runs_through_the_abi_with_named_events_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (local(&dir.path().join("a")), local(&dir.path().join("b")), local(&dir.path().join("c")));
    for name in ["vm_1", "vm_2"] {
        assert_eq!(create_key(a, name, "AES", 256).0, TvmStatus::Ok);
    }
    let root = dir.path().join("backups");
    let seen = RefCell::new(Seen::default());
    let (status, backup) = run(tvm_backup, a, backup_request(&root, "20260101000000"), Some(&seen));
    assert_eq!(status, TvmStatus::Ok, "{backup}");
    let folder = root.join("20260101000000");
    assert_eq!(backup["path"], v(&folder));
    assert_eq!(backup["timestamp"], "20260101000000");
    assert_eq!(backup["keys"][1]["file"], v(&folder.join("AES").join("vm_2_256.json")));
    {
        let s = seen.borrow();
        assert_eq!(s.events[0], json!({ "event": "message", "text": format!("Backing up TVM Vault keys to {}", folder.display()) }));
        // The second line names the vault read, so a backup of the wrong vault shows at once.
        let source = s.events[1]["text"].as_str().unwrap_or_default().to_string();
        assert!(source.starts_with("Source vault: the local vault "), "{source}");
        assert_eq!(s.named("progress")[1], &json!({ "event": "progress", "activity": "Backing up TVM keys", "current": 2, "total": 2 }));
        // Per key, a backup sends a progress event and a host message: two crossings, plus the vault's own work;
        // and at the end a warning: vault a holds no AzureStackTvmAKRootKey.
        assert_eq!(s.events.len(), 2 + 2 * 2 + 1);
        let warning = s.events.last().unwrap();
        assert_eq!(warning["event"], "warning");
        assert!(warning["text"].as_str().unwrap().starts_with("The backup holds no AzureStackTvmAKRootKey: the local vault "), "{warning}");
    }
    let (status, key) = import_wrapping(b, "wrap");
    assert_eq!(status, TvmStatus::Ok);
    assert_eq!((key["name"].as_str(), key["type"].as_str(), key["size"].as_u64()), (Some("wrap"), Some("RSA"), Some(2048)));
    // -WhatIf: the sink answers skip to every keyPending.
    let seen = RefCell::new(Seen { pending_reply: TVM_REPLY_SKIP, ..Default::default() });
    let (status, result) = run(restore_no_secret, b, restore_request(&folder), Some(&seen));
    assert_eq!((status, result["skipped"].as_u64()), (TvmStatus::Ok, Some(2)));
    assert!(seen.borrow().named("keyRestored").iter().all(|e| e["restore"]["outcome"] == "Skipped"));
    let pending = seen.borrow().named("keyPending")[0].clone();
    assert_eq!(pending["key"]["name"], "vm_1");
    assert_eq!(pending["action"], "Import key into the vault");
    let seen = RefCell::new(Seen::default());
    let (status, result) = run(restore_no_secret, b, restore_request(&folder), Some(&seen));
    assert_eq!(status, TvmStatus::Ok);
    assert_eq!(
        (result["imported"].as_u64(), result["exists"].as_u64(), result["failed"].as_u64(), result["backupPath"].as_str()),
        (Some(2), Some(0), Some(0), Some(v(&folder).as_str()))
    );
    // Per key, a restore sends progress, a host message, keyPending and keyRestored: four crossings; then its
    // summary line.
    assert_eq!(seen.borrow().events.len(), 1 + 4 * 2 + 1);
    let summary = seen.borrow().events.last().cloned().unwrap_or_default();
    assert_eq!(summary["text"], format!("Restore of {}: 2 imported, 0 replaced, 0 already there, 0 in conflict, 0 skipped, 0 failed.", folder.display()));
    let restored = seen.borrow().named("keyRestored").iter().map(|e| e["restore"].clone()).collect::<Vec<_>>();
    assert_eq!(restored[0], json!({ "name": "vm_1", "type": "AES", "size": 256, "outcome": "Imported", "file": v(&folder.join("AES").join("vm_1_256.json")) }));
    // A cancel at the first keyPending stops the restore with Cancelled, and a structured error.
    import_wrapping(c, "wrap");
    let seen = RefCell::new(Seen { pending_reply: TVM_REPLY_CANCEL, ..Default::default() });
    let (status, e) = run(restore_no_secret, c, restore_request(&folder), Some(&seen));
    assert_eq!((status, error_id(&e), e["category"].as_str()), (TvmStatus::Cancelled, "Cancelled", Some("OperationStopped")));
    // An unknown reply is read as cancel.
    let seen = RefCell::new(Seen { pending_reply: 77, ..Default::default() });
    assert_eq!(run(restore_no_secret, c, restore_request(&folder), Some(&seen)).0, TvmStatus::Cancelled);
    // Listing both vaults: the same fingerprints for the restored keys.
    let list = |vault| run(tvm_vault_list, vault, json!({}), None).1["keys"].as_array().unwrap().clone();
    let (la, lb) = (list(a), list(b));
    assert_eq!(la.len(), 2);
    assert!(la.iter().all(|k| lb.contains(k) && k["fingerprint"].as_str().unwrap().len() == 32));
    let out = dir.path().join("import.json");
    let (public, private) = (v(&vectors().join("public_utf16le.pem")), v(&vectors().join("private_utf16le.pem")));
    let (status, result) = run(tvm_generate_import_json, null(), json!({ "publicKeyPath": public, "privateKeyPath": private, "outFilePath": v(&out) }), None);
    assert_eq!((status, result["path"].as_str(), result["keySize"].as_u64()), (TvmStatus::Ok, Some(v(&out).as_str()), Some(2048)));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(vectors().join("import_expected.json")).unwrap());
    unsafe {
        for vault in [a, b, c] {
            tvm_vault_free(vault);
        }
    }
}

/// How a test host answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Forward to its LocalVault, as the C# adapter forwards to the Moc cmdlets.
    Forward,
    /// Import fails with MOC's own texts.
    MocTexts,
    /// Every call after getConfig times out.
    TimeOut,
    /// Every call after getConfig is cancelled.
    Cancel,
    /// Panics in its dispatcher after getConfig.
    Panic,
    /// Gives no reply after getConfig.
    NoReply,
    /// Replies with text that is not JSON after getConfig.
    Garbage,
}

/// A host vault backed by a LocalVault, recording every operation it is sent.
struct Host {
    vault: LocalVault,
    mode: Mode,
    config: Value,
    ops: RefCell<Vec<Value>>,
    reply: RefCell<Vec<u8>>,
    released: Cell<u32>,
}

impl Host {
    fn new(dir: &Path, mode: Mode) -> Host {
        Host {
            vault: LocalVault::open(dir, true).unwrap(),
            mode,
            config: json!({ "outcome": "ok", "moduleVersion": "1.2.27", "version": "1.14.1.10414" }),
            ops: RefCell::default(),
            reply: RefCell::default(),
            released: Cell::new(0),
        }
    }

    fn answer(&self, op: &Value) -> Value {
        let ok = |extra: Value| {
            let mut reply = json!({ "outcome": "ok" });
            reply.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            reply
        };
        // Failures read as MOC writes them: an existing name ends in InvalidVersion, a missing key says Not Found.
        let failed = |e: tvmkeys::Error| {
            let text = match e.code() {
                tvmkeys::ErrorCode::KeyExists => format!("host says: Keys Import failed:  Type[Key] Vault[v] Name[x]: InvalidVersion ({e})"),
                tvmkeys::ErrorCode::KeyNotFound => format!("host says: Keys Get failed: Not Found ({e})"),
                _ => format!("host says: {e}"),
            };
            json!({ "outcome": "failed", "message": text })
        };
        let s = |k: &str| op[k].as_str().unwrap_or_default().to_string();
        let spec = || KeySpec::parse(&s("type"), op["size"].as_u64().unwrap_or(0) as u32).unwrap();
        let done = |r: tvmkeys::Result<()>| r.map(|()| ok(json!({}))).unwrap_or_else(failed);
        match op["op"].as_str().unwrap() {
            "getConfig" => self.config.clone(),
            _ if self.mode == Mode::TimeOut => json!({ "outcome": "timeout", "message": "Get-MocKey did not return within 2 seconds; it was stopped." }),
            _ if self.mode == Mode::Cancel => json!({ "outcome": "cancelled", "message": "Get-MocKey was stopped." }),
            _ if self.mode == Mode::Panic => panic!("forced panic in a host dispatcher"),
            "import" if self.mode == Mode::MocTexts => {
                let name = s("name");
                let text = if name == "exists" {
                    format!("C:\\Program Files\\AksHci\\mocctl.exe security keyvault key import --name \"{name}\" System.Collections.Hashtable.generic_non_zero 1 [Error: Keys Import failed:  Type[Key] Vault[AzureStackTvmKeyVault] Name[{name}]: InvalidVersion]")
                } else {
                    "mocctl.exe ... System.Collections.Hashtable.generic_non_zero 1 [Error: Keys Get failed: Not Found]".to_string()
                };
                json!({ "outcome": "failed", "message": text })
            }
            "list" => ok(json!({ "keys": self.vault.list().unwrap().iter().map(|k| json!({ "name": k.name, "type": k.key_type, "size": k.size })).collect::<Vec<_>>() })),
            "export" => done(self.vault.export(&s("name"), spec(), Path::new(&s("wrappingKeyPath")), op.get("wrappingKeyName").and_then(Value::as_str), Path::new(&s("outFile")))),
            "import" => {
                let wrapping = op.get("wrappingKeyName").and_then(Value::as_str);
                done(self.vault.import(&s("name"), spec(), Path::new(&s("file")), wrapping))
            }
            "publicKey" => {
                use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
                done(self.vault.public_key(&s("name")).map(|der| {
                    let pem = rsa::RsaPublicKey::from_pkcs1_der(&der).unwrap().to_pkcs1_pem(rsa::pkcs8::LineEnding::CRLF).unwrap();
                    std::fs::write(s("outFile"), pem).unwrap();
                }))
            }
            "delete" => done(self.vault.delete(&s("name"))),
            "create" => done(self.vault.create(&s("name"), spec()).map(drop)),
            other => panic!("unknown op {other}"),
        }
    }
}

unsafe extern "C-unwind" fn dispatch(context: *mut c_void, op: *const u8, len: usize, reply: *mut TvmHostReply) {
    // SAFETY: the tests pass a `Host` as context; `op` is valid during the call; `reply` is writable.
    let host = unsafe { &*(context as *const Host) };
    let op: Value = serde_json::from_slice(unsafe { std::slice::from_raw_parts(op, len) }).expect("ops are JSON");
    host.ops.borrow_mut().push(op.clone());
    let is_config = op["op"] == "getConfig";
    if !is_config && host.mode == Mode::NoReply {
        return;
    }
    let bytes = if !is_config && host.mode == Mode::Garbage { b"<not json>".to_vec() } else { host.answer(&op).to_string().into_bytes() };
    *host.reply.borrow_mut() = bytes;
    let kept = host.reply.borrow();
    unsafe { reply.write(TvmHostReply { data: kept.as_ptr(), len: kept.len() }) };
}

unsafe extern "C-unwind" fn release(context: *mut c_void) {
    let host = unsafe { &*(context as *const Host) };
    host.released.set(host.released.get() + 1);
}

fn open_moc(host: &Host, check_stack: bool, seen: Option<&RefCell<Seen>>) -> (TvmStatus, *mut TvmVault, Value) {
    let callbacks = TvmHostVault { context: host as *const Host as *mut c_void, dispatch: Some(dispatch), release: Some(release) };
    let request = json!({ "checkStackVersion": check_stack }).to_string();
    let (sink, ctx): (TvmEventSink, *mut c_void) = match seen {
        Some(s) => (Some(record), s as *const _ as *mut c_void),
        None => (None, null_mut()),
    };
    let mut vault = null_mut();
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    let status = unsafe { tvm_vault_open_moc(&callbacks, request.as_ptr(), request.len(), sink, ctx, &mut vault, &mut out) };
    (status, vault, take(out))
}

fn moc(host: &Host) -> *mut TvmVault {
    let (status, vault, result) = open_moc(host, false, None);
    assert_eq!(status, TvmStatus::Ok, "{result}");
    assert_eq!(result["vault"], "moc");
    vault
}

fn ops(host: &Host) -> Vec<String> {
    host.ops.borrow().iter().map(|o| o["op"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_moc_vault_backs_up_and_restores_through_one_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let source = Host::new(&dir.path().join("a"), Mode::Forward);
    let target = Host::new(&dir.path().join("b"), Mode::Forward);
    let (hs, ht) = (moc(&source), moc(&target));
    assert_eq!(create_key(hs, "vm_a", "AES", 256).0, TvmStatus::Ok);
    assert_eq!(error_id(&create_key(hs, "vm_a", "AES", 256).1), "KeyExists", "an existing name is typed");
    assert_eq!(create_key(hs, "vm_b", "AES", 256).0, TvmStatus::Ok);
    source.ops.borrow_mut().clear();
    let root = dir.path().join("backups");
    let (status, backup) = run(tvm_backup, hs, backup_request(&root, "20260101000000"), None);
    assert_eq!(status, TvmStatus::Ok, "{backup}");
    // One list, then one export per key: a backup crosses to the host once per key.
    assert_eq!(ops(&source), ["list", "export", "export"]);
    let export = source.ops.borrow()[1].clone();
    assert_eq!(export["name"], "vm_a");
    assert_eq!(export["size"], 256);
    assert_eq!(export["wrappingKeyPath"], wrapping_pair().0);
    assert_eq!(import_wrapping(ht, "wrap").0, TvmStatus::Ok);
    let nokeywrap = target.ops.borrow().last().unwrap().clone();
    assert!(nokeywrap.get("wrappingKeyName").is_none(), "a NO_KEY_WRAP import names no wrapping key: {nokeywrap}");
    target.vault.create("vm_b", KeySpec::parse("AES", 256).unwrap()).unwrap();
    target.ops.borrow_mut().clear();
    let folder = root.join("20260101000000");
    let seen = RefCell::new(Seen::default());
    let (status, result) = run(restore_no_secret, ht, restore_request(&folder), Some(&seen));
    assert_eq!((status, result["imported"].as_u64(), result["exists"].as_u64()), (TvmStatus::Ok, Some(1), Some(1)), "{result}");
    // The engine sees vm_b in the listing and reports it as existing without importing it; it checks the
    // wrapping key's public half before the first write.
    assert_eq!(ops(&target), ["list", "publicKey", "import"]);
    assert_eq!(target.ops.borrow()[2]["wrappingKeyName"], "wrap");
    // A failure the engine cannot classify keeps the host's text in full.
    target.vault.delete("vm_a").unwrap();
    let file = folder.join("AES/vm_a_256.json");
    let text = std::fs::read_to_string(&file).unwrap();
    // Four characters of the wrapped key changed, its length kept: well formed, so only the vault can tell.
    let at = text.find("\"private-key\":\"").unwrap() + "\"private-key\":\"".len();
    let changed = format!("{}{}{}", &text[..at], if &text[at..at + 4] == "AAAA" { "BBBB" } else { "AAAA" }, &text[at + 4..]);
    std::fs::write(&file, changed).unwrap();
    let seen = RefCell::new(Seen::default());
    // The changed file is a damaged backup: refused as a whole, unless the intact keys are asked for (-Force).
    let (status, _) = run(restore_no_secret, ht, restore_request(&folder), None);
    assert_ne!(status, TvmStatus::Ok);
    // Without its manifest the backup is the original's kind, whose file reaches the vault and fails there.
    std::fs::remove_file(folder.join("manifest.json")).unwrap();
    let (status, result) = run(restore_no_secret, ht, restore_request(&folder), Some(&seen));
    assert_eq!((status, result["failed"].as_u64()), (TvmStatus::Ok, Some(1)));
    let failed = seen.borrow().named("keyRestored")[0]["restore"].clone();
    assert_eq!((failed["outcome"].as_str(), failed["error"]["errorId"].as_str()), (Some("Failed"), Some("VaultFailed")));
    assert!(failed["message"].as_str().unwrap().starts_with("host says:"), "{failed}");
    unsafe {
        tvm_vault_free(hs);
        tvm_vault_free(ht);
    }
    assert_eq!((source.released.get(), target.released.get()), (1, 1), "each host is released once");
}

#[test]
fn the_moc_version_gates_run_when_the_vault_opens_and_release_the_host_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (json!({ "outcome": "ok", "moduleVersion": "1.2.27" }), false, None),
        (json!({ "outcome": "ok", "moduleVersion": "1.2.27", "version": "1.14.1.10414" }), true, None),
        (
            json!({ "outcome": "ok", "moduleVersion": "1.2.9" }),
            false,
            Some(("MocModuleVersionTooOld", "Incompatible moc powershell version: 1.2.9 found. Version 1.2.27 is needed. Please update your cluster.")),
        ),
        (json!({ "outcome": "ok" }), false, Some(("MocVersionUnknown", "Unable to determine Moc installation versions."))),
        (json!({ "outcome": "ok", "moduleVersion": "1.2.27" }), true, Some(("MocVersionUnknown", "Unable to determine Moc installation versions."))),
        (
            json!({ "outcome": "ok", "moduleVersion": "1.2.27", "version": "1.14.0.0" }),
            true,
            Some(("MocStackVersionTooOld", "Incompatible moc stack version: 1.14.0.0 found. 1.14.1.10414 is needed. Please update your cluster.")),
        ),
        (
            json!({ "outcome": "failed", "message": "The term 'Get-MocConfig' is not recognized" }),
            false,
            Some(("MocVersionUnknown", "Unable to determine Moc installation versions.")),
        ),
    ];
    for (config, check_stack, expected) in cases {
        let mut host = Host::new(&dir.path().join("v"), Mode::Forward);
        host.config = config.clone();
        let seen = RefCell::new(Seen::default());
        let (status, vault, out) = open_moc(&host, check_stack, Some(&seen));
        match expected {
            None => {
                assert_eq!(status, TvmStatus::Ok, "{config}: {out}");
                unsafe { tvm_vault_free(vault) };
            }
            Some((id, message)) => {
                assert_eq!((status, error_id(&out), out["message"].as_str()), (TvmStatus::Failed, id, Some(message)), "{config}");
                assert_eq!(out["category"], "NotInstalled");
                assert!(vault.is_null());
            }
        }
        assert_eq!(host.released.get(), 1, "{config}: released exactly once");
        if config["outcome"] == "failed" {
            let verbose = seen.borrow().named("verbose")[0]["text"].clone();
            assert_eq!(verbose, "Get-MocConfig: The term 'Get-MocConfig' is not recognized");
        }
    }
}

#[test]
fn opening_a_moc_vault_with_a_malformed_request_is_refused_and_releases_the_host() {
    let dir = tempfile::tempdir().unwrap();
    for request in [&b"{"[..], br#"{"checkStackVersion":"yes"}"#, br#"{"checkStackVersion":true,"keyvaultName":"g"}"#] {
        let host = Host::new(&dir.path().join("v"), Mode::Forward);
        let callbacks = TvmHostVault { context: &host as *const Host as *mut c_void, dispatch: Some(dispatch), release: Some(release) };
        let mut vault = null_mut();
        let mut out = TvmBuffer { data: null_mut(), len: 0 };
        let status = unsafe { tvm_vault_open_moc(&callbacks, request.as_ptr(), request.len(), None, null_mut(), &mut vault, &mut out) };
        let e = take(out);
        assert_eq!((status, error_id(&e)), (TvmStatus::InvalidRequest, "InvalidRequest"), "{e}");
        assert!(vault.is_null());
        assert!(host.ops.borrow().is_empty(), "nothing was sent to the host");
        assert_eq!(host.released.get(), 1, "the host is released on a refused request too");
    }
    // A NULL vault out-pointer: refused, and the host still released.
    let host = Host::new(&dir.path().join("v"), Mode::Forward);
    let callbacks = TvmHostVault { context: &host as *const Host as *mut c_void, dispatch: Some(dispatch), release: Some(release) };
    let request = b"{}";
    let mut out = TvmBuffer { data: null_mut(), len: 0 };
    let status = unsafe { tvm_vault_open_moc(&callbacks, request.as_ptr(), request.len(), None, null_mut(), null_mut(), &mut out) };
    assert_eq!((status, error_id(&take(out))), (TvmStatus::NullArgument, "NullArgument"));
    assert_eq!(host.released.get(), 1);
}

#[test]
fn moc_replies_become_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(&dir.path().join("a"), Mode::MocTexts);
    let vault = moc(&host);
    let (status, e) = import_wrapping(vault, "exists");
    assert_eq!((status, error_id(&e), e["message"].as_str()), (TvmStatus::Failed, "KeyExists", Some("A key named 'exists' already exists in the vault.")));
    let (status, e) = import_wrapping(vault, "other");
    assert_eq!((status, error_id(&e)), (TvmStatus::Failed, "VaultFailed"));
    let text = e["message"].as_str().unwrap();
    assert!(text.contains("[Error: Keys Get failed: Not Found]") && text.contains("wrapping key"), "{text}");
    unsafe { tvm_vault_free(vault) };
    for (mode, status, id) in [
        (Mode::TimeOut, TvmStatus::Failed, "VaultTimeout"),
        (Mode::Cancel, TvmStatus::Cancelled, "Cancelled"),
        (Mode::NoReply, TvmStatus::Failed, "VaultFailed"),
        (Mode::Garbage, TvmStatus::Failed, "VaultFailed"),
        (Mode::Panic, TvmStatus::Panic, "InternalError"),
    ] {
        let host = Host::new(&dir.path().join("b"), mode);
        let vault = moc(&host);
        let (got, e) = run(tvm_vault_list, vault, json!({}), None);
        assert_eq!((got, error_id(&e)), (status, id), "{e}");
        if mode == Mode::Panic {
            assert!(e["message"].as_str().unwrap().contains("forced panic in a host dispatcher"), "{e}");
        }
        if mode == Mode::NoReply {
            assert!(e["message"].as_str().unwrap().contains("'list'"), "the operation is named: {e}");
        }
        unsafe { tvm_vault_free(vault) };
        assert_eq!(host.released.get(), 1);
    }
}
