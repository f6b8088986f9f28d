//! Writes `include/tvmkeys.h` from the `ffi` module with cbindgen.
//!
//! The header is committed so that C# and C consumers can read the ABI without building Rust; the test
//! `tests/header.rs` fails when the committed copy is stale.
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    // cbindgen reads the whole crate (a `pub const` anywhere lands in the header unless cbindgen.toml
    // excludes it), so any change under src/ regenerates it, and a stale committed copy fails locally too.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=TVM_WRITE_HEADER");
    let config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => panic!("cbindgen.toml: {e}"),
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| "target".into())).join("tvmkeys.h");
    match cbindgen::Builder::new().with_crate(&root).with_config(config).generate() {
        Ok(bindings) => {
            // Always written to OUT_DIR (the test compares against it); the checked-in copy is refreshed
            // only when TVM_WRITE_HEADER=1, so a normal build never dirties the work tree.
            bindings.write_to_file(&out);
            if std::env::var("TVM_WRITE_HEADER").as_deref() == Ok("1") {
                bindings.write_to_file(root.join("include/tvmkeys.h"));
            }
        }
        Err(e) => panic!("cbindgen could not generate include/tvmkeys.h: {e}"),
    }
    println!("cargo:rustc-env=TVM_GENERATED_HEADER={}", out.display());
}
