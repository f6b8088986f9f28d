//! The contract of the C ABI as data: every request, result, event, host operation and host reply type
//! reads its sample in `tests/abi/samples.json` and writes it back unchanged. The C# tests read the same
//! samples with the module's own types (BindingTests), so the two sides cannot drift apart unnoticed.
use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tvmkeys::api::{backup, import_json, inventory, keys, open, restore, shares, verify, wrapping_key, Key};
use tvmkeys::error::ErrorInfo;
use tvmkeys::events::Event;
use tvmkeys::vault::moc::{HostOp, HostReply};

fn samples() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/abi/samples.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["samples"].as_array().unwrap().clone()
}

/// Reads `json` as `T` and writes it back: the result must be the sample, field for field.
fn round_trip<T: Serialize + DeserializeOwned>(name: &str, json: &Value) -> T {
    let typed: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, json, "{name} did not round-trip");
    typed
}

#[test]
fn every_contract_type_round_trips_its_sample() {
    let mut seen = BTreeSet::new();
    let mut events = BTreeSet::new();
    let mut ops = BTreeSet::new();
    let mut outcomes = BTreeSet::new();
    for sample in samples() {
        let name = sample["name"].as_str().unwrap().to_string();
        let json = &sample["json"];
        match name.as_str() {
            "OpenLocalRequest" => drop(round_trip::<open::OpenLocalRequest>(&name, json)),
            "OpenMocRequest" => drop(round_trip::<open::OpenMocRequest>(&name, json)),
            "OpenResult" => drop(round_trip::<open::OpenResult>(&name, json)),
            "BackupRequest" => drop(round_trip::<backup::BackupRequest>(&name, json)),
            "BackupResult" => drop(round_trip::<backup::BackupResult>(&name, json)),
            "RestoreRequest" => drop(round_trip::<restore::RestoreRequest>(&name, json)),
            "RestoreResult" => drop(round_trip::<restore::RestoreResult>(&name, json)),
            "KeyRestore" => drop(round_trip::<restore::KeyRestore>(&name, json)),
            "ImportWrappingKeyRequest" => drop(round_trip::<wrapping_key::ImportWrappingKeyRequest>(&name, json)),
            "GenerateWrappingKeyRequest" => drop(round_trip::<wrapping_key::GenerateWrappingKeyRequest>(&name, json)),
            "RemoveWrappingKeyRequest" => drop(round_trip::<wrapping_key::RemoveWrappingKeyRequest>(&name, json)),
            "CreateWrappingKeyRequest" => drop(round_trip::<wrapping_key::CreateWrappingKeyRequest>(&name, json)),
            "WrappingKeyResult" => drop(round_trip::<tvmkeys::wrapping_key::WrappingKeyResult>(&name, json)),
            "GeneratedPair" => drop(round_trip::<tvmkeys::wrapping_key::GeneratedPair>(&name, json)),
            "SplitWrappingKeyRequest" => drop(round_trip::<shares::SplitWrappingKeyRequest>(&name, json)),
            "SplitWrappingKeyResult" => drop(round_trip::<shares::SplitWrappingKeyResult>(&name, json)),
            "JoinWrappingKeyRequest" => drop(round_trip::<shares::JoinWrappingKeyRequest>(&name, json)),
            "JoinWrappingKeyResult" => drop(round_trip::<shares::JoinWrappingKeyResult>(&name, json)),
            "TestWrappingKeyShareRequest" => drop(round_trip::<shares::TestWrappingKeyShareRequest>(&name, json)),
            "TestWrappingKeyShareResult" => drop(round_trip::<shares::TestWrappingKeyShareResult>(&name, json)),
            "Key" => drop(round_trip::<Key>(&name, json)),
            "ImportJsonRequest" => drop(round_trip::<import_json::ImportJsonRequest>(&name, json)),
            "ImportJsonResult" => drop(round_trip::<import_json::ImportJsonResult>(&name, json)),
            "ListKeysRequest" => drop(round_trip::<keys::ListKeysRequest>(&name, json)),
            "ListKeysResult" => drop(round_trip::<keys::ListKeysResult>(&name, json)),
            "CreateKeyRequest" => drop(round_trip::<keys::CreateKeyRequest>(&name, json)),
            "VerifyRequest" => drop(round_trip::<verify::VerifyRequest>(&name, json)),
            "VerifyResult" => drop(round_trip::<verify::VerifyResult>(&name, json)),
            "ListBackupsRequest" => drop(round_trip::<inventory::ListBackupsRequest>(&name, json)),
            "ListBackupsResult" => drop(round_trip::<inventory::ListBackupsResult>(&name, json)),
            "RemoveBackupsRequest" => drop(round_trip::<inventory::RemoveBackupsRequest>(&name, json)),
            "Removal" => drop(round_trip::<tvmkeys::inventory::Removal>(&name, json)),
            "ErrorInfo" => drop(round_trip::<ErrorInfo>(&name, json)),
            "Event" => {
                round_trip::<Event>(&name, json);
                events.insert(json["event"].as_str().unwrap().to_string());
            }
            "HostOp" => {
                round_trip::<HostOp>(&name, json);
                ops.insert(json["op"].as_str().unwrap().to_string());
            }
            "HostReply" => {
                round_trip::<HostReply>(&name, json);
                outcomes.insert(json["outcome"].as_str().unwrap().to_string());
            }
            other => panic!("a sample of an unknown type {other}"),
        }
        seen.insert(name);
    }
    let types = [
        "OpenLocalRequest", "OpenMocRequest", "OpenResult", "BackupRequest", "BackupResult", "RestoreRequest", "RestoreResult",
        "KeyRestore", "ImportWrappingKeyRequest", "Key", "ImportJsonRequest", "ImportJsonResult", "ListKeysRequest",
        "ListKeysResult", "CreateKeyRequest", "VerifyRequest", "VerifyResult", "ListBackupsRequest", "ListBackupsResult",
        "RemoveBackupsRequest", "Removal", "ErrorInfo", "Event", "HostOp", "HostReply", "GenerateWrappingKeyRequest", "GeneratedPair", "RemoveWrappingKeyRequest",
        "CreateWrappingKeyRequest", "WrappingKeyResult", "SplitWrappingKeyRequest", "SplitWrappingKeyResult", "JoinWrappingKeyRequest",
        "JoinWrappingKeyResult", "TestWrappingKeyShareRequest", "TestWrappingKeyShareResult",
    ];
    assert_eq!(seen, types.iter().map(|s| s.to_string()).collect(), "every contract type has a sample");
    let want = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(events, want(&["message", "warning", "verbose", "progress", "keyPending", "keyRestored", "backupPending"]), "every event has a sample");
    assert_eq!(ops, want(&["getConfig", "list", "export", "import", "publicKey", "delete", "create", "batch"]), "every host operation has a sample");
    assert_eq!(outcomes, want(&["ok", "failed", "timeout", "cancelled"]), "every host outcome has a sample");
}

#[test]
fn requests_refuse_unknown_fields_so_a_front_end_typo_fails_loudly() {
    for sample in samples() {
        let name = sample["name"].as_str().unwrap();
        if !name.ends_with("Request") {
            continue;
        }
        let mut json = sample["json"].clone();
        json.as_object_mut().unwrap().insert("unexpected".into(), Value::Bool(true));
        let bytes = json.to_string();
        let refused = match name {
            "OpenLocalRequest" => tvmkeys::api::parse_request::<open::OpenLocalRequest>(bytes.as_bytes()).is_err(),
            "OpenMocRequest" => tvmkeys::api::parse_request::<open::OpenMocRequest>(bytes.as_bytes()).is_err(),
            "BackupRequest" => tvmkeys::api::parse_request::<backup::BackupRequest>(bytes.as_bytes()).is_err(),
            "RestoreRequest" => tvmkeys::api::parse_request::<restore::RestoreRequest>(bytes.as_bytes()).is_err(),
            "ImportWrappingKeyRequest" => tvmkeys::api::parse_request::<wrapping_key::ImportWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "GenerateWrappingKeyRequest" => tvmkeys::api::parse_request::<wrapping_key::GenerateWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "RemoveWrappingKeyRequest" => tvmkeys::api::parse_request::<wrapping_key::RemoveWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "CreateWrappingKeyRequest" => tvmkeys::api::parse_request::<wrapping_key::CreateWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "ImportJsonRequest" => tvmkeys::api::parse_request::<import_json::ImportJsonRequest>(bytes.as_bytes()).is_err(),
            "SplitWrappingKeyRequest" => tvmkeys::api::parse_request::<shares::SplitWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "JoinWrappingKeyRequest" => tvmkeys::api::parse_request::<shares::JoinWrappingKeyRequest>(bytes.as_bytes()).is_err(),
            "TestWrappingKeyShareRequest" => tvmkeys::api::parse_request::<shares::TestWrappingKeyShareRequest>(bytes.as_bytes()).is_err(),
            "ListKeysRequest" => tvmkeys::api::parse_request::<keys::ListKeysRequest>(bytes.as_bytes()).is_err(),
            "CreateKeyRequest" => tvmkeys::api::parse_request::<keys::CreateKeyRequest>(bytes.as_bytes()).is_err(),
            "VerifyRequest" => tvmkeys::api::parse_request::<verify::VerifyRequest>(bytes.as_bytes()).is_err(),
            "ListBackupsRequest" => tvmkeys::api::parse_request::<inventory::ListBackupsRequest>(bytes.as_bytes()).is_err(),
            "RemoveBackupsRequest" => tvmkeys::api::parse_request::<inventory::RemoveBackupsRequest>(bytes.as_bytes()).is_err(),
            other => panic!("request {other} is not checked"),
        };
        assert!(refused, "{name} accepted an unknown field");
    }
}

#[test]
fn requests_take_the_nulls_the_csharp_writer_writes_for_absent_numbers() {
    // RemoveBackupsRequest.KeepLast and OlderThanSeconds are written even when null (a KeepLast of 0 must
    // cross), as `"keepLast":null`: that is no rule, as an absent member is.
    let request: inventory::RemoveBackupsRequest = tvmkeys::api::parse_request(
        br#"{"backupRootPath":"D:\\TvmBackups","keepLast":null,"olderThanSeconds":null,"paths":["D:\\TvmBackups\\20261201093000"],"now":"20261201093000"}"#,
    )
    .unwrap();
    assert_eq!((request.keep_last, request.older_than_seconds, request.force), (None, None, false));
    assert_eq!(request.paths, ["D:\\TvmBackups\\20261201093000"]);
    let request: inventory::RemoveBackupsRequest =
        tvmkeys::api::parse_request(br#"{"backupRootPath":"/b","keepLast":0,"olderThanSeconds":null,"now":"20261201093000"}"#).unwrap();
    assert_eq!(request.keep_last, Some(0));
    // And the members the C# writer leaves out when false or absent.
    let request: verify::VerifyRequest = tvmkeys::api::parse_request(br#"{"backupPath":"/b/20261201093000"}"#).unwrap();
    assert_eq!(request, verify::VerifyRequest { backup_path: "/b/20261201093000".into(), ..Default::default() });
}

#[test]
fn results_and_events_tolerate_fields_a_later_engine_adds() {
    // The readers are the C# types (DataContractJsonSerializer ignores unknown members); here the Rust
    // types that the host writes back (host replies) must take extra fields too.
    let reply: HostReply = serde_json::from_str(r#"{"outcome":"ok","keys":[],"later":1}"#).unwrap();
    assert!(reply.keys.unwrap().is_empty());
}

#[test]
fn docs_abi_md_lists_every_error_code_with_its_category() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/abi.md")).unwrap();
    for code in tvmkeys::ErrorCode::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.category());
        assert!(doc.contains(&row), "docs/abi.md has no row {row}");
    }
    // And no row for a code the engine does not have.
    let table = doc.split("| Code | Category | Problem |").nth(1).expect("docs/abi.md has the table of codes");
    let listed = table.lines().skip(2).take_while(|l| l.starts_with("| `")).count();
    assert_eq!(listed, tvmkeys::ErrorCode::ALL.len(), "docs/abi.md lists codes the engine does not have");
}
