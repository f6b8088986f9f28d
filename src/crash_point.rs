//! Test-only crash points: the crash tests (`tests/pester/Crash.Tests.ps1`) kill a real process of the module at
//! a known point and check what is left. Inert unless both `TVM_TEST_CRASH_POINT` and `TVM_TEST_CRASH_READY`
//! are set in the process's environment (never, outside those tests); then the process waits at most 60 s to
//! be killed and goes on.

/// Called at a point where a kill must leave nothing unsafe. When `TVM_TEST_CRASH_POINT` names this point
/// (`key<N>`: a backup after its N-th key file is on disk; `manifest`: after the manifest, before the rename;
/// `import`: a wrapping key import with its plaintext file written, before the vault reads it; `restore<N>`: a
/// restore after its N-th key is done; `vault-create`: a new local vault with its keys folder and no marker yet;
/// `vault-write`: a local vault's file written to its temporary name, before the link that gives it its own) and
/// `TVM_TEST_CRASH_READY` names a file, the process writes that file and waits there for the kill. Both variables unset (always, outside those tests): nothing happens.
pub fn reached(point: &str) {
    let Some(wanted) = std::env::var_os("TVM_TEST_CRASH_POINT") else { return };
    let Some(ready) = std::env::var_os("TVM_TEST_CRASH_READY") else { return };
    if wanted != point {
        return;
    }
    if std::fs::write(&ready, point).is_ok() {
        // Waits to be killed; bounded, so a test that forgets to kill does not hang a machine forever.
        for _ in 0..600 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
