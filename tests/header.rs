//! The committed `include/tvmkeys.h` must be what cbindgen generates from `src/ffi` now; a stale header
//! would let the C# shim bind to an ABI that no longer exists.
#[test]
fn committed_header_is_current() {
    let generated = std::fs::read_to_string(env!("TVM_GENERATED_HEADER")).expect("build.rs writes the header to OUT_DIR");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/tvmkeys.h"))
        .expect("include/tvmkeys.h is committed");
    assert!(
        generated == committed,
        "include/tvmkeys.h is stale: run `TVM_WRITE_HEADER=1 cargo build` and commit the result"
    );
}
