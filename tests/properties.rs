//! Property tests of every parser and of the wrap/unwrap round trips (proptest).
//!
//! The parsers here read files a user, an older tool or a damaged disk hands the engine: none of them may
//! panic on any input, and each writer's output must read back as what was written. RSA is slow in a debug
//! build, so the RSA keys are read once from `tests/vectors/` and the RSA round trips run few cases.
//!
//! Sections: 1 PEM, 2 key file JSON, 3 manifest, 4 key file names, 5 backup folder names, 6 key wrap.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;

use tvmkeys::keyfile::{self, Enc, KeyFile};
use tvmkeys::keywrap::{self, KeyWrap, Matched};
use tvmkeys::manifest::{self, Manifest, ManifestKey, Source};
use tvmkeys::pem::{self, PrivateKey, PublicKey};
use tvmkeys::{layout, ErrorCode};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(name)
}

fn vector_bytes(name: &str) -> Vec<u8> {
    std::fs::read(vector(name)).unwrap()
}

/// The wrapping key pair of the vectors (RSA-2048), read once.
fn wrapping_public() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| pem::read_public_key(&vector("wrapping_public_pkcs1.pem"), "public key").unwrap())
}

fn wrapping_private() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| pem::read_private_key(&vector("wrapping_private_pkcs8.pem"), "private key").unwrap())
}

/// A second, unrelated RSA-2048 private key: an RSA target to wrap, and a key that must not unwrap.
fn other_private() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| pem::read_private_key(&vector("other_private_pkcs8.pem"), "private key").unwrap())
}

/// Reads `bytes` as a private key PEM file (the private key reader takes a path only).
fn private_from_bytes(bytes: &[u8]) -> tvmkeys::Result<PrivateKey> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    pem::read_private_key(file.path(), "private key")
}

fn public_from_bytes(bytes: &[u8]) -> tvmkeys::Result<PublicKey> {
    pem::public_key_from_file_bytes(bytes, Path::new("prop.pem"), "public key")
}

// ---------------------------------------------------------------------------------------------------------
// 1. PEM files.
// ---------------------------------------------------------------------------------------------------------

/// The label and DER of a well-formed single-block PEM (the vectors), decoded independently of `src/pem.rs`.
fn pem_parts(text: &[u8]) -> (String, Vec<u8>) {
    use base64::Engine;
    let text = std::str::from_utf8(text).unwrap();
    let mut lines = text.lines();
    let begin = lines.next().unwrap();
    let label = begin.strip_prefix("-----BEGIN ").unwrap().strip_suffix("-----").unwrap().to_string();
    let body: String = lines.take_while(|l| !l.starts_with("-----END ")).collect();
    (label, base64::engine::general_purpose::STANDARD.decode(body).unwrap())
}

/// How a PEM file is laid out on disk: everything a PowerShell, .NET or OpenSSL writer may vary.
#[derive(Debug, Clone)]
struct Layout {
    /// Characters of base64 per body line (any width; the body is joined before decoding).
    width: usize,
    /// Per line: CRLF instead of LF (cycled).
    crlf: Vec<bool>,
    /// Per line: white space added at its end (cycled).
    trailing: Vec<&'static str>,
    /// 0 plain UTF-8, 1 UTF-8 with BOM, 2 UTF-16LE with BOM, 3 UTF-16LE without BOM.
    encoding: u8,
    /// OpenSSL's "Bag Attributes" text before the BEGIN line (RFC 7468 section 2).
    leading_text: bool,
    /// Blank lines after the END line.
    trailing_blank: usize,
    /// A line ending after the END line.
    final_newline: bool,
}

fn layout_strategy() -> impl Strategy<Value = Layout> {
    (
        1usize..=100,
        prop::collection::vec(any::<bool>(), 1..8),
        prop::collection::vec(prop::sample::select(vec!["", " ", "\t", "  \t ", "\u{feff}"]), 1..8),
        0u8..4,
        any::<bool>(),
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(width, crlf, trailing, encoding, leading_text, trailing_blank, final_newline)| Layout {
            width,
            crlf,
            trailing,
            encoding,
            leading_text,
            trailing_blank,
            final_newline,
        })
}

/// Writes `der` as a PEM block with `label`, laid out as `layout` says.
fn render_pem(label: &str, der: &[u8], layout: &Layout) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut lines: Vec<String> = Vec::new();
    if layout.leading_text {
        lines.push("Bag Attributes".into());
        lines.push("    localKeyID: 01 00 00 00".into());
        lines.push("subject=/CN=prop".into());
    }
    lines.push(format!("-----BEGIN {label}-----"));
    let chars: Vec<char> = body.chars().collect();
    for chunk in chars.chunks(layout.width) {
        lines.push(chunk.iter().collect());
    }
    lines.push(format!("-----END {label}-----"));
    for _ in 0..layout.trailing_blank {
        lines.push(String::new());
    }
    let mut text = String::new();
    let count = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        text.push_str(&line);
        text.push_str(layout.trailing[i % layout.trailing.len()]);
        if i + 1 < count || layout.final_newline {
            text.push_str(if layout.crlf[i % layout.crlf.len()] { "\r\n" } else { "\n" });
        }
    }
    match layout.encoding {
        0 => text.into_bytes(),
        1 => [0xEF, 0xBB, 0xBF].into_iter().chain(text.bytes()).collect(),
        2 => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        _ => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
    }
}

/// The range of the base64 body in a PEM file laid out as the vectors are (BEGIN line, body, END line).
fn body_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let end = bytes.windows(9).position(|w| w == b"-----END ").unwrap();
    start..end
}

const LABELS: [&str; 6] = ["RSA PUBLIC KEY", "PUBLIC KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"];

proptest! {
    #![proptest_config(config(256))]

    /// A PEM file can be anything a user points the module at (a certificate, a binary, a truncated copy): both
    /// readers must answer every byte string with a key or an `Error`, never a panic.
    #[test]
    fn pem_readers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = public_from_bytes(&bytes);
        let _ = private_from_bytes(&bytes);
    }

    /// Arbitrary DER inside a well-formed block of every label reaches the DER parsers of `rsa`/`pkcs8`: still
    /// a key or an `Error` (and for these random bodies, always an error with a PEM code).
    #[test]
    fn pem_readers_never_panic_on_arbitrary_der(
        label in prop::sample::select(LABELS.to_vec()),
        der in prop::collection::vec(any::<u8>(), 1..400),
        layout in layout_strategy(),
    ) {
        let bytes = render_pem(label, &der, &layout);
        if let Err(e) = public_from_bytes(&bytes) {
            prop_assert!(matches!(e.code(), ErrorCode::PemInvalid | ErrorCode::InvalidKeySize), "{:?}", e.code());
        }
        if let Err(e) = private_from_bytes(&bytes) {
            prop_assert!(matches!(e.code(), ErrorCode::PemInvalid | ErrorCode::PemEncrypted), "{:?}", e.code());
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The same key reaches the engine as UTF-8 or UTF-16, with or without a BOM, LF or CRLF, any line width,
    /// trailing white space, OpenSSL's leading text and blank lines after the END line (docs/format.md section 5):
    /// every such file must give exactly the key of the plain file.
    #[test]
    fn a_valid_pem_relaid_out_reads_as_the_same_key(layout in layout_strategy()) {
        let (label, der) = pem_parts(&vector_bytes("wrapping_public_pkcs1.pem"));
        let public = public_from_bytes(&render_pem(&label, &der, &layout)).unwrap();
        prop_assert_eq!(&public.pkcs1_der, &wrapping_public().pkcs1_der);

        let (label, der) = pem_parts(&vector_bytes("wrapping_private_pkcs8.pem"));
        let private = private_from_bytes(&render_pem(&label, &der, &layout)).unwrap();
        prop_assert_eq!(&*private.pkcs8_der, &*wrapping_private().pkcs8_der);

        let (label, der) = pem_parts(&vector_bytes("wrapping_public_spki.pem"));
        let spki = public_from_bytes(&render_pem(&label, &der, &layout)).unwrap();
        prop_assert_eq!(&spki.pkcs1_der, &wrapping_public().pkcs1_der);
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// A damaged public key file must never panic, and never read as the key it was: one changed byte of the
    /// body is a base64 error, a DER error, or (a changed modulus or exponent byte) a different key.
    #[test]
    fn one_changed_byte_in_a_public_pem_body_is_refused_or_another_key(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let mut bytes = vector_bytes("wrapping_public_pkcs1.pem");
        let range = body_range(&bytes);
        let i = range.start + at.index(range.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        match public_from_bytes(&bytes) {
            Err(e) => prop_assert!(matches!(e.code(), ErrorCode::PemInvalid | ErrorCode::InvalidKeySize), "{:?}", e.code()),
            Ok(key) => prop_assert_ne!(&key.pkcs1_der, &wrapping_public().pkcs1_der, "byte {} -> {:#04x} read as the same key", i, to),
        }
    }

    /// The same for the private key file. One case is legitimately accepted as the *same* key: the `rsa` crate
    /// reads only n, e, d and the primes of a PKCS#8/PKCS#1 key and recomputes exponent1, exponent2 and the
    /// coefficient (then validates the key), so a changed byte in those three values gives the original key
    /// back. What must hold: no panic, and any key read is a valid RSA key whose re-encoding is either the
    /// original's PKCS#8 exactly (recomputed values) or another key.
    #[test]
    fn one_changed_byte_in_a_private_pem_body_is_refused_or_a_valid_key(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let mut bytes = vector_bytes("wrapping_private_pkcs8.pem");
        let range = body_range(&bytes);
        let i = range.start + at.index(range.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        match private_from_bytes(&bytes) {
            Err(e) => prop_assert_eq!(e.code(), ErrorCode::PemInvalid),
            Ok(key) => {
                let again = rsa::RsaPrivateKey::from_pkcs8_der(&key.pkcs8_der);
                prop_assert!(again.is_ok(), "byte {} -> {:#04x}: the key read does not re-parse", i, to);
                let original = wrapping_private();
                let same_key = key.key == original.key;
                prop_assert_eq!(same_key, *key.pkcs8_der == *original.pkcs8_der);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 2. Key file JSON.
// ---------------------------------------------------------------------------------------------------------

const MEMBER_NAMES: [&str; 8] =
    ["public-key", "private-key", "private-key-wrapping-info", "enc", "key-name", "Private-Key", "ENC", "PRIVATE-KEY-WRAPPING-INFO"];
const ENC_NAMES: [&str; 5] = ["CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384", "NO_KEY_WRAP", "no_key_wrap"];

fn any_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect())
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(MEMBER_NAMES.to_vec()).prop_map(String::from), any_string(12)]
}

/// Strings a key file's values are: base64url (valid or not), mechanism names, anything.
fn member_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| keyfile::b64url_encode(&b)),
        prop::sample::select(ENC_NAMES.to_vec()).prop_map(String::from),
        "[A-Za-z0-9_=+/\r\n-]{0,40}",
        any_string(16),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        member_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(member_name(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(member_name(), json_value(), 0..8).prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn any_enc() -> impl Strategy<Value = Enc> {
    prop::sample::select(vec![Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384, Enc::NoKeyWrap])
}

/// A key file as a writer other than ours may lay it out: member names in any case, unknown members, line
/// breaks inside base64 values, `enc` in any case with white space around it.
#[derive(Debug, Clone)]
struct LooseKeyFile {
    public_key: Vec<u8>,
    private_key: Vec<u8>,
    key_name: String,
    wrapping_public_key: Vec<u8>,
    enc: Enc,
    case_mask: Vec<bool>,
    breaks: Vec<(prop::sample::Index, bool)>,
    enc_padding: (&'static str, &'static str),
    extra: BTreeMap<String, Value>,
}

fn loose_key_file() -> impl Strategy<Value = LooseKeyFile> {
    (
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 1..600),
        any_string(24),
        prop::collection::vec(any::<u8>(), 0..300),
        any_enc(),
        prop::collection::vec(any::<bool>(), 1..16),
        prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..4),
        (prop::sample::select(vec!["", " ", "\t", "\n "]), prop::sample::select(vec!["", " ", "\r\n"])),
        prop::collection::btree_map("x-[a-z]{1,8}", json_value(), 0..3),
    )
        .prop_map(|(public_key, private_key, key_name, wrapping_public_key, enc, case_mask, breaks, enc_padding, extra)| LooseKeyFile {
            public_key,
            private_key,
            key_name,
            wrapping_public_key,
            enc,
            case_mask,
            breaks,
            enc_padding,
            extra,
        })
}

impl LooseKeyFile {
    fn recase(&self, name: &str, salt: usize) -> String {
        name.chars()
            .enumerate()
            .map(|(i, c)| if self.case_mask[(i + salt) % self.case_mask.len()] { c.to_ascii_uppercase() } else { c })
            .collect()
    }

    fn broken_b64(&self, bytes: &[u8]) -> String {
        let mut text = keyfile::b64url_encode(bytes);
        for (at, crlf) in &self.breaks {
            let i = at.index(text.len() + 1);
            text.insert_str(i, if *crlf { "\r\n" } else { "\n" });
        }
        text
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut info = serde_json::Map::new();
        info.insert(self.recase("key-name", 1), Value::String(self.key_name.clone()));
        info.insert(self.recase("public-key", 2), Value::String(self.broken_b64(&self.wrapping_public_key)));
        info.insert(
            self.recase("enc", 3),
            Value::String(format!("{}{}{}", self.enc_padding.0, self.recase(self.enc.as_str(), 4).to_ascii_lowercase(), self.enc_padding.1)),
        );
        let mut top: serde_json::Map<String, Value> = self.extra.clone().into_iter().collect();
        top.insert(self.recase("public-key", 5), Value::String(self.broken_b64(&self.public_key)));
        top.insert(self.recase("private-key", 6), Value::String(self.broken_b64(&self.private_key)));
        top.insert(self.recase("private-key-wrapping-info", 7), Value::Object(info));
        serde_json::to_vec(&Value::Object(top)).unwrap()
    }
}

fn same_key_file(a: &KeyFile, b: &KeyFile) -> bool {
    a.public_key == b.public_key
        && *a.private_key == *b.private_key
        && a.wrapping_key_name == b.wrapping_key_name
        && a.wrapping_public_key == b.wrapping_public_key
        && a.enc == b.enc
}

proptest! {
    #![proptest_config(config(256))]

    /// A key file on the restore path is whatever is on the disk: any bytes get a `KeyFile` or a
    /// `KeyFileInvalid` error, never a panic.
    #[test]
    fn key_file_parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Err(e) = KeyFile::parse(&bytes, "prop") {
            prop_assert_eq!(e.code(), ErrorCode::KeyFileInvalid);
        }
    }

    /// Arbitrary JSON objects (with the real member names mixed in, in any case and at any depth) reach every
    /// branch of the member lookup: still a `KeyFile` or `KeyFileInvalid`; a file read is re-written the same.
    #[test]
    fn key_file_parse_never_panics_on_arbitrary_json(value in json_object()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        match KeyFile::parse(&bytes, "prop") {
            Err(e) => prop_assert_eq!(e.code(), ErrorCode::KeyFileInvalid),
            Ok(file) => {
                let back = KeyFile::parse(&file.to_export_bytes(), "prop").unwrap();
                prop_assert!(same_key_file(&file, &back));
            }
        }
    }

    /// A key file MOC or another writer laid out loosely reads as its values, and a file read is written back
    /// byte-exact by `to_export_bytes` into a file that reads back equal; writing that again gives the same
    /// bytes (the export form is a fixed point).
    #[test]
    fn key_file_round_trips_through_export_bytes(loose in loose_key_file()) {
        let file = KeyFile::parse(&loose.to_bytes(), "prop").unwrap();
        prop_assert_eq!(&file.public_key, &loose.public_key);
        prop_assert_eq!(&*file.private_key, &loose.private_key);
        prop_assert_eq!(&file.wrapping_key_name, &loose.key_name);
        prop_assert_eq!(&file.wrapping_public_key, &loose.wrapping_public_key);
        prop_assert_eq!(file.enc, loose.enc);

        let exported = file.to_export_bytes();
        let back = KeyFile::parse(&exported, "prop").unwrap();
        prop_assert!(same_key_file(&file, &back));
        prop_assert_eq!(&*back.to_export_bytes(), &*exported);
        prop_assert!(!exported.ends_with(b"\n") && !exported.starts_with(&[0xEF]));
    }

    /// base64url with padding is how every value of a key file is written: decode(encode(x)) == x for any bytes.
    #[test]
    fn b64url_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = keyfile::b64url_encode(&bytes);
        prop_assert!(text.len() % 4 == 0 && !text.contains(['+', '/']));
        prop_assert_eq!(keyfile::b64url_decode(&text).unwrap(), bytes);
    }

    /// Decoding any string never panics, and whatever decodes is canonical: encoding it again gives the input
    /// without its `\r`/`\n` (which the decoder ignores), so two different values never read as the same bytes.
    #[test]
    fn b64url_decode_never_panics_and_accepts_only_canonical_text(
        text in prop_oneof!["[A-Za-z0-9_=+/\r\n-]{0,40}", any_string(40)],
    ) {
        if let Ok(bytes) = keyfile::b64url_decode(&text) {
            let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            prop_assert_eq!(keyfile::b64url_encode(&bytes), cleaned);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 3. manifest.json.
// ---------------------------------------------------------------------------------------------------------

fn manifest_key() -> impl Strategy<Value = ManifestKey> {
    (any_string(24), prop::sample::select(vec!["AES", "RSA"]), any::<u32>(), any_string(40), any::<[u8; 32]>(), any::<u64>())
        .prop_map(|(name, key_type, size, file, digest, length)| ManifestKey {
            name,
            key_type: key_type.into(),
            size,
            file,
            sha256: hex::encode(digest),
            length,
        })
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        (any_string(20), any_string(20)).prop_map(|(group, vault_name)| Source::Moc { group, vault_name }),
        any_string(40).prop_map(|path| Source::Local { path }),
    ]
}

/// A manifest as `backup.rs` builds it, with any strings and numbers in it (control characters, quotes,
/// backslashes and non-ASCII included: the canonical form must escape them all stably).
fn any_manifest() -> impl Strategy<Value = Manifest> {
    (
        any_string(12),
        "[0-9]{14}",
        any_string(24),
        prop::option::of(any_string(36)),
        source(),
        any::<[u8; 16]>(),
        prop::option::of(any_string(40)),
        prop::option::of(prop_oneof![Just(manifest::PURPOSE_PRE_RESTORE.to_string()), Just(manifest::PURPOSE_SELECTED_KEYS.to_string()), any_string(12)]),
        prop::collection::vec(manifest_key(), 0..5),
    )
        .prop_map(|(tool_version, timestamp, created_utc, created_local, source, fingerprint, label, purpose, keys)| Manifest {
            format: manifest::FORMAT.into(),
            schema_version: manifest::SCHEMA_VERSION,
            tool_version,
            timestamp,
            created_utc,
            created_local,
            source,
            wrapping_key_fingerprint: hex::encode(fingerprint),
            label,
            purpose,
            keys,
            manifest_sha256: None,
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// `manifest.json` is read from every backup in a backup root, whatever left it there: any bytes give a
    /// manifest or a reason, never a panic.
    #[test]
    fn manifest_parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = manifest::parse(&bytes);
    }

    /// JSON that gets past the format and schema checks (the right `format` and `schemaVersion`, anything else)
    /// reaches serde's `Manifest` and the checksum: still no panic.
    #[test]
    fn manifest_parse_never_panics_on_arbitrary_json(mut value in json_object(), sha in prop::option::of("[0-9a-f]{64}")) {
        let object = value.as_object_mut().unwrap();
        object.insert("format".into(), manifest::FORMAT.into());
        object.insert("schemaVersion".into(), manifest::SCHEMA_VERSION.into());
        if let Some(sha) = sha {
            object.insert("manifestSha256".into(), sha.into());
        }
        let _ = manifest::parse(&serde_json::to_vec(&value).unwrap());
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A manifest written by `manifest::write` (pretty, sealed with its checksum) reads back equal, and so does the
    /// same manifest compact (the checksum is over the canonical form, not the bytes). `canonical_sha256` is
    /// stable: the same before and after the round trip, and independent of the `manifestSha256` it holds.
    /// A changed value is refused.
    #[test]
    fn manifest_round_trips_and_its_checksum_is_stable(m in any_manifest(), other_sha in "[0-9a-f]{64}") {
        let dir = tempfile::tempdir().unwrap();
        manifest::write(dir.path(), &m).unwrap();
        let written = std::fs::read(dir.path().join(manifest::FILE_NAME)).unwrap();
        let sealed = Manifest { manifest_sha256: Some(m.canonical_sha256()), ..m.clone() };
        prop_assert_eq!(manifest::parse(&written), Ok(sealed.clone()));
        prop_assert_eq!(manifest::parse(&serde_json::to_vec(&sealed).unwrap()), Ok(sealed.clone()));

        let read = manifest::parse(&written).unwrap();
        prop_assert_eq!(read.canonical_sha256(), m.canonical_sha256());
        prop_assert_eq!(sealed.canonical_sha256(), m.canonical_sha256());
        let other = Manifest { manifest_sha256: Some(other_sha), ..m.clone() };
        prop_assert_eq!(other.canonical_sha256(), m.canonical_sha256());
        prop_assert_eq!(m.canonical_sha256(), manifest::sha256_hex(&serde_json::to_vec(&m).unwrap()));

        // A value changed after sealing no longer matches.
        let mut changed = sealed.clone();
        changed.timestamp.push('0');
        prop_assert!(manifest::parse(&serde_json::to_vec(&changed).unwrap()).is_err());
        if !sealed.keys.is_empty() {
            let mut changed = sealed.clone();
            changed.keys[0].length ^= 1;
            prop_assert!(manifest::parse(&serde_json::to_vec(&changed).unwrap()).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 4. Key file names.
// ---------------------------------------------------------------------------------------------------------

/// Candidate key names: the characters vault names use, `_` and `.` often, and any printable character.
fn candidate_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_. -]{1,40}",
        "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(_[0-9]{1,4})?",
        "\\PC{1,30}",
        "[._]{1,4}[A-Za-z]{0,3}[._]{0,4}",
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// Key names become file names on backup and come back from file names on restore; the split is at the last
    /// `_` so that names containing `_` survive (docs/format.md section 1): for every name check_key_name
    /// accepts and every size, parse_key_file_name(key_file_name(name, size)) == (name, size), with the
    /// extension in any case.
    #[test]
    fn key_file_names_round_trip(name in candidate_name(), size in any::<u32>(), upper in any::<bool>()) {
        prop_assume!(layout::check_key_name(&name).is_ok());
        let mut file = layout::key_file_name(&name, size).unwrap();
        if upper {
            file = file.replace(".json", ".JSON");
            prop_assume!(file.ends_with(".JSON"));
        }
        prop_assert_eq!(layout::parse_key_file_name(&file).unwrap(), (name, size));
    }

    /// Names and file names come from vault listings and directory listings: any string gets an answer, never
    /// a panic, and what parse_key_file_name accepts is a name check_key_name accepts and that writes back as
    /// the same file name (up to the case of `.json` and the size's leading zeros or `+`).
    #[test]
    fn key_names_never_panic_on_arbitrary_strings(s in prop_oneof![any_string(40), "\\PC{0,20}_[+0-9]{0,12}\\.[jJ][sS][oO][nN]"]) {
        let _ = layout::check_key_name(&s);
        let _ = layout::key_file_name(&s, 256);
        if let Ok((name, size)) = layout::parse_key_file_name(&s) {
            prop_assert!(layout::check_key_name(&name).is_ok());
            let again = layout::key_file_name(&name, size).unwrap();
            prop_assert_eq!(layout::parse_key_file_name(&again).unwrap(), (name, size));
        }
    }

    /// A name must never leave its folder: any name holding `/`, `\` or NUL (or any control character) is
    /// refused, as are `.` and `..` themselves. A leading `.` and an inner `..` are *accepted* by
    /// check_key_name by design (docs/format.md section 1 lists what is refused; the local vault refuses a leading
    /// dot on its own, src/vault/local.rs): with no separator in the name, `..x`, `.x` or `a..b` is one file
    /// name inside its folder, never a path out of it. So for those the property is that the key file name is
    /// a single normal path component.
    #[test]
    fn names_that_could_escape_are_refused(
        before in "\\PC{0,10}",
        bad in prop::sample::select(vec!["/", "\\", "\0", "\u{1}", "\n", "../", "..\\", "/.."]),
        after in "\\PC{0,10}",
        dots in prop::sample::select(vec![".", ".."]),
        tail in "[A-Za-z0-9_]{0,8}",
    ) {
        let name = format!("{before}{bad}{after}");
        prop_assert!(layout::check_key_name(&name).is_err(), "{:?} was accepted", name);
        prop_assert!(layout::key_file_name(&name, 256).is_err());
        let file = format!("{name}_256.json");
        prop_assert!(layout::parse_key_file_name(&file).is_err());
        prop_assert!(layout::check_key_name(dots).is_err());

        let dotted = format!("{dots}{tail}");
        if let Ok(file) = layout::key_file_name(&dotted, 256) {
            let components: Vec<_> = Path::new(&file).components().collect();
            prop_assert_eq!(components.len(), 1, "{:?}", file);
            prop_assert!(matches!(components[0], std::path::Component::Normal(_)), "{:?}", file);
            prop_assert!(Path::new("backup/AES").join(&file).starts_with("backup/AES"));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 5. Backup folder names.
// ---------------------------------------------------------------------------------------------------------

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A valid date-time as `Get-Date -Format yyyyMMddHHmmss` writes it.
fn valid_timestamp() -> impl Strategy<Value = String> {
    (1000u32..=9999, 1u32..=12, any::<prop::sample::Index>(), 0u32..24, 0u32..60, 0u32..60).prop_map(|(y, mo, d, h, mi, s)| {
        let day = d.index(days_in_month(y, mo) as usize) as u32 + 1;
        format!("{y:04}{mo:02}{day:02}{h:02}{mi:02}{s:02}")
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Backup folders are named by the cmdlet's clock: every valid date-time is a timestamp, and its partial
    /// folder's name gives it back (a leftover partial folder is told from a complete backup by its name).
    #[test]
    fn valid_timestamps_are_accepted_and_partial_folders_give_them_back(ts in valid_timestamp()) {
        prop_assert!(layout::check_timestamp(&ts).is_ok());
        let partial = layout::partial_folder(Path::new("root"), &ts);
        prop_assert_eq!(partial.parent(), Some(Path::new("root")));
        let name = partial.file_name().unwrap().to_str().unwrap();
        prop_assert_eq!(layout::partial_timestamp(name), Some(ts.as_str()));
        prop_assert_eq!(layout::partial_timestamp(&ts), None);
    }

    /// Folder names of a backup root are anything: no panic; check_timestamp accepts exactly 14 ASCII digits
    /// (docs/format.md section 1: the digits need not be a real date), and partial_timestamp gives `Some(t)`
    /// only for the name `.<t>.partial` with such a `t`.
    #[test]
    fn folder_names_never_panic_and_are_read_exactly(
        s in prop_oneof![any_string(24), "[0-9]{12,16}", "[.]?[0-9\u{0660}-\u{0669}x]{13,15}([.]partial)?", "[.][0-9]{14}[.]partial[a-z]{0,2}"],
    ) {
        let digits = s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit());
        prop_assert_eq!(layout::check_timestamp(&s).is_ok(), digits);
        match layout::partial_timestamp(&s) {
            Some(t) => {
                prop_assert_eq!(format!(".{t}.partial"), s.clone());
                prop_assert!(layout::check_timestamp(t).is_ok());
            }
            None => {
                let inner = s.strip_prefix('.').and_then(|r| r.strip_suffix(".partial"));
                prop_assert!(inner.map_or(true, |t| layout::check_timestamp(t).is_err()), "{:?}", s);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// 6. Key wrap (CKM_RSA_AES_KEY_WRAP and its SHA-2 variants).
// ---------------------------------------------------------------------------------------------------------

fn wrap_enc() -> impl Strategy<Value = Enc> {
    prop::sample::select(vec![Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384])
}

/// AES keys of every size AES has, and other lengths: `wrap` takes any non-empty target (RFC 5649 pads it).
fn aes_target() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 16),
        prop::collection::vec(any::<u8>(), 24),
        prop::collection::vec(any::<u8>(), 32),
        prop::collection::vec(any::<u8>(), 1..=600),
    ]
}

const MODULUS_LEN: usize = 256;

fn wrap_with_seed(target: &[u8], enc: Enc, seed: u64) -> Vec<u8> {
    keywrap::wrap(&wrapping_public().key, target, enc, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// What every round trip must show: the blob has the documented size, unwraps with its own `enc` and with
/// `unwrap_any` to the target via RFC 5649, and with no other hash and no other key.
fn check_round_trip(target: &[u8], enc: Enc, seed: u64) -> Result<(), TestCaseError> {
    let blob = wrap_with_seed(target, enc, seed);
    prop_assert_eq!(blob.len(), MODULUS_LEN + target.len().div_ceil(8) * 8 + 8);
    let expected = Matched { enc, key_wrap: KeyWrap::Rfc5649 };

    let (plain, matched) = keywrap::unwrap(&wrapping_private().key, &blob, enc).unwrap();
    prop_assert_eq!(&*plain, target);
    prop_assert_eq!(matched, expected);
    let (plain, matched) = keywrap::unwrap_any(&wrapping_private().key, &blob).unwrap();
    prop_assert_eq!(&*plain, target);
    prop_assert_eq!(matched, expected);

    for other in [Enc::RsaAesKeyWrap, Enc::RsaAesKeyWrap256, Enc::RsaAesKeyWrap384, Enc::NoKeyWrap] {
        if other != enc {
            prop_assert!(keywrap::unwrap(&wrapping_private().key, &blob, other).is_err(), "{:?} opened a {:?} blob", other, enc);
        }
    }
    prop_assert!(keywrap::unwrap_any(&other_private().key, &blob).is_err());

    // A fresh K per blob: the same target wraps differently with another rng.
    prop_assert_ne!(wrap_with_seed(target, enc, seed.wrapping_add(1)), blob);
    Ok(())
}

proptest! {
    #![proptest_config(config(16))]

    /// The backup writes what the restore reads: unwrap(wrap(x)) == x for AES targets of any length and each
    /// mechanism, and a blob opens only with its own hash and its own wrapping key.
    #[test]
    fn wrap_then_unwrap_gives_the_aes_target_back(target in aes_target(), enc in wrap_enc(), seed in any::<u64>()) {
        check_round_trip(&target, enc, seed)?;
    }

    /// The same for an RSA key, wrapped as its PKCS#8 DER (docs/format.md section 4): what comes back is the key.
    #[test]
    fn wrap_then_unwrap_gives_the_rsa_pkcs8_target_back(enc in wrap_enc(), seed in any::<u64>()) {
        let target = &other_private().pkcs8_der;
        check_round_trip(target, enc, seed)?;
        let blob = wrap_with_seed(target, enc, seed);
        let (plain, _) = keywrap::unwrap(&wrapping_private().key, &blob, enc).unwrap();
        prop_assert!(rsa::RsaPrivateKey::from_pkcs8_der(&plain).unwrap() == other_private().key);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// A damaged key file must never restore as a key: every single flipped bit of a blob is an `UnwrapFailed`
    /// error, never a panic and never Ok. In the OAEP part a flip breaks OAEP's padding check (or makes the
    /// value exceed the modulus); in the AES part it breaks RFC 5649's integrity check, and the RFC 3394
    /// fallback's as well (each passes a random flip with probability about 2^-64, so no flip is accepted).
    #[test]
    fn a_flipped_bit_in_a_blob_is_refused(target in aes_target(), enc in wrap_enc(), seed in any::<u64>(), bit in any::<prop::sample::Index>()) {
        let mut blob = wrap_with_seed(&target, enc, seed);
        let bit = bit.index(blob.len() * 8);
        blob[bit / 8] ^= 1 << (bit % 8);
        let e = keywrap::unwrap(&wrapping_private().key, &blob, enc).err();
        prop_assert_eq!(e.map(|e| e.code()), Some(ErrorCode::UnwrapFailed), "bit {} accepted", bit);
        let e = keywrap::unwrap_any(&wrapping_private().key, &blob).err();
        prop_assert_eq!(e.map(|e| e.code()), Some(ErrorCode::UnwrapFailed), "bit {} accepted by unwrap_any", bit);
    }

    /// A truncated or extended blob is refused, never a panic. (A cut to modulus + 8 bytes reaches the bug below
    /// only when those 8 bytes start with RFC 5649's A6 59 59 A6, a chance of 2^-32 for a real blob.)
    #[test]
    fn a_truncated_or_extended_blob_is_refused(
        target in aes_target(), enc in wrap_enc(), seed in any::<u64>(), cut in any::<prop::sample::Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..24),
    ) {
        let blob = wrap_with_seed(&target, enc, seed);
        let len = cut.index(blob.len());
        prop_assert!(keywrap::unwrap(&wrapping_private().key, &blob[..len], enc).is_err(), "cut at {}", len);
        let mut longer = blob.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(keywrap::unwrap(&wrapping_private().key, &longer, enc).is_err(), "{} bytes appended", extra.len());
    }

    /// `NO_KEY_WRAP` is no mechanism: wrap and unwrap refuse it with an error, never a panic.
    #[test]
    fn no_key_wrap_is_refused(target in aes_target(), seed in any::<u64>()) {
        let e = keywrap::wrap(&wrapping_public().key, &target, Enc::NoKeyWrap, &mut StdRng::seed_from_u64(seed)).err();
        prop_assert_eq!(e.map(|e| e.code()), Some(ErrorCode::CryptoFailed));
        let blob = wrap_with_seed(&target, Enc::RsaAesKeyWrap, seed);
        prop_assert!(keywrap::unwrap(&wrapping_private().key, &blob, Enc::NoKeyWrap).is_err());
    }
}

proptest! {
    #![proptest_config(config(8))]

    /// Finds a bug: a blob of a valid OAEP part (anyone with the wrapping *public* key makes one) followed by
    /// an AES part of exactly 8 bytes that start with RFC 5649's AIV prefix A6 59 59 A6 panics in
    /// `keywrap::unwrap` in a debug build, instead of failing: `aes-kw` 0.2.1's `unwrap_with_padding` takes
    /// n = 8/8 - 1 = 0 semiblocks, decrypts nothing, finds the prefix, then computes `SEMIBLOCK_SIZE * (n - 1)`
    /// ("attempt to subtract with overflow", vendor/aes-kw/src/lib.rs:392). Release builds (no overflow
    /// checks) wrap around and return an error. The last 4 bytes and K do not matter.
    #[test]
    fn a_crafted_one_semiblock_blob_is_refused_without_panic(enc in wrap_enc(), seed in any::<u64>(), rest in any::<[u8; 4]>()) {
        let mut blob = wrap_with_seed(&[0x42; 32], enc, seed);
        blob.truncate(MODULUS_LEN);
        blob.extend_from_slice(&[0xA6, 0x59, 0x59, 0xA6]);
        blob.extend_from_slice(&rest);
        let outcome = std::panic::catch_unwind(|| keywrap::unwrap(&wrapping_private().key, &blob, enc).map(|_| ()));
        prop_assert!(outcome.is_ok(), "keywrap::unwrap panicked on a {}-byte blob", blob.len());
        prop_assert!(outcome.unwrap().is_err());
    }

    /// Finds the same bug from the writing side: `wrap` accepts an empty target (RFC 5649 requires at least one
    /// octet) and returns OAEP || the 8-byte AIV in clear; unwrapping that blob panics in a debug build.
    #[test]
    fn an_empty_target_is_refused_or_round_trips(enc in wrap_enc(), seed in any::<u64>()) {
        let Ok(blob) = keywrap::wrap(&wrapping_public().key, &[], enc, &mut StdRng::seed_from_u64(seed)) else { return Ok(()) };
        let outcome = std::panic::catch_unwind(|| keywrap::unwrap(&wrapping_private().key, &blob, enc).map(|(t, _)| t.to_vec()));
        prop_assert!(outcome.is_ok(), "keywrap::unwrap panicked on the wrap of an empty target ({} bytes)", blob.len());
        prop_assert_eq!(outcome.unwrap().unwrap(), Vec::<u8>::new());
    }
}
