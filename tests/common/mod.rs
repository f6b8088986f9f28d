//! Helpers shared by the integration tests (a module, not a test binary). Each test binary uses some of them.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

use tvmkeys::events::{Event, Events, NoEvents, Reply};
use tvmkeys::vault::LocalVault;

/// The fixtures folder, as a full path on every platform: on Windows (under Wine) the Linux build path /work/...
/// is root-relative, which the engine refuses; absolute() makes it Z:\work\...
pub fn vectors() -> PathBuf {
    std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")).unwrap()
}

/// Records the warnings of a command; every other event is answered Proceed.
#[derive(Default)]
pub struct Warnings(pub Vec<String>);

impl Events for Warnings {
    fn send(&mut self, event: Event) -> Reply {
        if let Event::Warning { text } = event {
            self.0.push(text);
        }
        Reply::Proceed
    }
}

/// A new local vault at `path` holding only the wrapping key `wrap` (the vectors' pair): a vault to restore into.
pub fn vault_with_wrapping_key(path: &Path) -> LocalVault {
    let vault = LocalVault::open(path, true).unwrap();
    tvmkeys::wrapping_key::import_wrapping_key(
        &vault,
        "wrap",
        &vectors().join("wrapping_public_pkcs1.pem"),
        &vectors().join("wrapping_private_pkcs8.pem"),
        "2048",
        &mut NoEvents,
    )
    .unwrap();
    vault
}

/// Copies a folder and everything under it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let dest = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &dest);
        } else {
            std::fs::copy(item.path(), dest).unwrap();
        }
    }
}
