//! Runs every conformance vector in `spec/vectors/` against the native core.
//! Other bindings run the same files; none keeps a copy.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use burgee_core::{
    Audience, Context, ErrorCode, EvaluationDetails, Held, LoadOptions, Snapshot, TrustedKey,
    bucket,
};
use serde_json::{Value, json};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The details as the vectors spell them, with `value` replaced by a typed getter's value.
fn observed(details: &EvaluationDetails<'_>, typed_value: Option<Value>) -> Value {
    let mut v = serde_json::to_value(details).unwrap();
    if let Some(tv) = typed_value {
        v["value"] = tv;
    }
    v
}

fn run_case(snap: &Snapshot, case: &Value, now: u64) -> Value {
    let flag = case["flag"].as_str().unwrap();
    let ctx = Context::from_json(&case["context"]).unwrap();
    let Some(get) = case.get("get").and_then(Value::as_str) else {
        return observed(&snap.evaluate(flag, &ctx, now), None);
    };
    let default = &case["default"];
    match get {
        "boolean" => {
            let t = snap.get_bool(flag, &ctx, now, default.as_bool().unwrap());
            observed(&t.details, Some(json!(t.value)))
        }
        "string" => {
            let t = snap.get_string(flag, &ctx, now, default.as_str().unwrap());
            observed(&t.details, Some(json!(t.value)))
        }
        "integer" => {
            let t = snap.get_integer(flag, &ctx, now, default.as_i64().unwrap());
            observed(&t.details, Some(json!(t.value)))
        }
        "float" => {
            let t = snap.get_float(flag, &ctx, now, default.as_f64().unwrap());
            observed(&t.details, Some(json!(t.value)))
        }
        "object" => {
            let t = snap.get_object(flag, &ctx, now, default.as_object().unwrap());
            observed(&t.details, Some(Value::Object(t.value.clone())))
        }
        other => panic!("unknown getter {other}"),
    }
}

#[test]
fn evaluation_vectors() {
    let mut files: Vec<_> = fs::read_dir(vectors_dir().join("eval"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "vector files missing: {files:?}");
    let (mut passed, mut failures) = (0usize, Vec::new());
    for path in &files {
        let doc = read_json(path);
        let payload = serde_json::to_vec(&doc["snapshot"]).unwrap();
        let snap = Snapshot::from_json(&payload)
            .unwrap_or_else(|e| panic!("{}: snapshot does not load: {e}", path.display()));
        let file_now = doc["now"].as_u64().unwrap();
        for case in doc["cases"].as_array().unwrap() {
            let now = case.get("now").and_then(Value::as_u64).unwrap_or(file_now);
            let got = run_case(&snap, case, now);
            let want = &case["expected"];
            let mut ok = true;
            for field in ["value", "variant", "reason", "rule_id", "error_code"] {
                ok &= json_eq(&got[field], &want[field]);
            }
            if let Some(meta) = want.get("metadata") {
                ok &= json_eq(&got["metadata"], meta);
            }
            // An error always explains itself; a success never carries a message.
            ok &= got["error_code"].is_null() == got["error_message"].is_null();
            if ok {
                passed += 1;
            } else {
                failures.push(format!(
                    "{} / {}: expected {want}, got {got}",
                    path.file_name().unwrap().to_string_lossy(),
                    case["name"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(passed >= 150, "only {passed} evaluation cases");
}

#[test]
fn invalid_snapshot_vectors() {
    let doc = read_json(&vectors_dir().join("invalid-snapshots.json"));
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let payload = match case.get("snapshot_text") {
            Some(t) => t.as_str().unwrap().as_bytes().to_vec(),
            None => serde_json::to_vec(&case["snapshot"]).unwrap(),
        };
        let err = Snapshot::from_json(&payload)
            .err()
            .unwrap_or_else(|| panic!("{}: loaded but must fail", case["name"]));
        assert_eq!(
            err.code().as_str(),
            case["error_code"],
            "{}: {err}",
            case["name"]
        );
        let needle = case["message_contains"].as_str().unwrap();
        assert!(
            err.to_string().contains(needle),
            "{}: message {err:?} lacks {needle:?}",
            case["name"]
        );
    }
}

#[test]
fn bucketing_vectors() {
    let doc = read_json(&vectors_dir().join("bucketing.json"));
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for c in cases {
        let got = bucket(
            c["salt"].as_str().unwrap(),
            c["seed"].as_str().unwrap(),
            c["value"].as_str().unwrap(),
        );
        assert_eq!(u64::from(got), c["bucket"].as_u64().unwrap(), "{c}");
    }
}

#[test]
fn envelope_vectors() {
    let dir = vectors_dir().join("envelopes");
    let manifest = read_json(&dir.join("manifest.json"));
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut seen_codes = std::collections::BTreeSet::new();
    for c in cases {
        let name = c["file"].as_str().unwrap();
        let bytes = fs::read(dir.join(name)).unwrap();
        let keys: Vec<TrustedKey> = c["trusted_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| TrustedKey::from_base64(k.as_str().unwrap()).unwrap())
            .collect();
        let mut opts = LoadOptions::new(
            &keys,
            c["environment"].as_str().unwrap(),
            c["now"].as_u64().unwrap(),
        );
        opts.project = c.get("project").map(|p| p.as_str().unwrap());
        if let Some(a) = c.get("audience") {
            opts.audience = Audience::parse(a.as_str().unwrap()).unwrap();
        }
        let held_digest = c.get("held_digest").and_then(Value::as_str).unwrap_or("");
        if let Some(v) = c.get("held_version").and_then(Value::as_u64) {
            opts.held = Some(Held {
                version: v,
                digest: held_digest,
            });
        }
        if let Some(max) = c.get("max_envelope_bytes").and_then(Value::as_u64) {
            opts.max_envelope_bytes = usize::try_from(max).unwrap();
        }
        let expected = c["expected"].as_str().unwrap();
        match Snapshot::load(&bytes, &opts) {
            Ok(snap) => {
                assert_eq!(expected, "OK", "{name}: loaded, expected {expected}");
                assert_eq!(
                    snap.info().version,
                    c["version"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    snap.info().digest.as_deref(),
                    c["digest"].as_str(),
                    "{name}"
                );
            }
            Err(e) => {
                assert_eq!(e.code().as_str(), expected, "{name}: {e}");
                assert!(ErrorCode::parse(expected).is_some());
            }
        }
        seen_codes.insert(expected.to_owned());
    }
    for code in [
        "OK",
        "SIGNATURE_INVALID",
        "KEY_UNTRUSTED",
        "SNAPSHOT_ROLLBACK",
        "SNAPSHOT_EXPIRED",
        "PROJECT_MISMATCH",
        "ENVIRONMENT_MISMATCH",
        "AUDIENCE_MISMATCH",
        "SNAPSHOT_TOO_LARGE",
        "PARSE_ERROR",
        "PAYLOAD_TYPE_MISMATCH",
    ] {
        assert!(seen_codes.contains(code), "no fixture expects {code}");
    }
}

/// `client_view` derives exactly the client snapshot the independent Python implementation
/// (`spec/vectors/privacy.py`) wrote, refuses what it refuses, and the client snapshot answers
/// every case of `eval/08-client-snapshot.json` like the server snapshot it came from.
#[test]
fn client_view_vectors() {
    let doc = read_json(&vectors_dir().join("client-view.json"));
    let server: burgee_core::model::SnapshotDef =
        serde_json::from_value(doc["server"].clone()).unwrap();
    let client = burgee_core::client_view(&server).unwrap();
    assert_eq!(serde_json::to_value(&client).unwrap(), doc["client"]);
    let text = serde_json::to_string(&client).unwrap();
    for raw in [
        "Alice@Example.com",
        "alice@example.com",
        "user-ceo",
        "user-7",
        "Partner GmbH",
        "+4915112345678",
        "internal-kill-switch",
        "ops-team",
    ] {
        assert!(!text.contains(raw), "client snapshot leaks {raw:?}");
    }

    let server_snap = Snapshot::compile(&server, None).unwrap();
    let client_snap = Snapshot::compile(&client, None).unwrap();
    assert_eq!(
        client_snap.info().audience,
        burgee_core::model::Audience::Client
    );
    let cases = read_json(&vectors_dir().join("eval/08-client-snapshot.json"));
    let now = cases["now"].as_u64().unwrap();
    let mut compared = 0;
    for case in cases["cases"].as_array().unwrap() {
        if case["expected"]["error_code"] == "FLAG_NOT_FOUND" {
            // The server-only flag exists only in the server snapshot.
            assert!(
                server_snap
                    .flag_type(case["flag"].as_str().unwrap())
                    .is_some()
            );
            continue;
        }
        let on_server = run_case(&server_snap, case, now);
        let on_client = run_case(&client_snap, case, now);
        assert_eq!(on_server, on_client, "{}", case["name"]);
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} cases compared");

    for refused in doc["refused"].as_array().unwrap() {
        let def: burgee_core::model::SnapshotDef =
            serde_json::from_value(refused["server"].clone()).unwrap();
        match burgee_core::client_view(&def) {
            Err(burgee_core::LoadError::Invalid { path, message }) => {
                assert_eq!(
                    path,
                    refused["path"].as_str().unwrap(),
                    "{}",
                    refused["name"]
                );
                let want = refused["message_contains"].as_str().unwrap();
                assert!(message.contains(want), "{}: {message}", refused["name"]);
            }
            other => panic!("{}: expected Invalid, got {other:?}", refused["name"]),
        }
    }
    // A client snapshot is not derived again.
    assert!(burgee_core::client_view(&client).is_err());
}

/// `contexts.json`: each JSON context is read back as `expected` or refused with
/// `INVALID_CONTEXT` and the message it names.
#[test]
fn context_vectors() {
    let doc = read_json(&vectors_dir().join("contexts.json"));
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = &case["name"];
        match (Context::from_json(&case["context"]), case.get("expected")) {
            (Ok(ctx), Some(want)) => {
                let got = serde_json::to_value(&ctx).unwrap();
                assert!(
                    json_eq(&got, want),
                    "{name}: read as {got}, expected {want}"
                );
            }
            (Err(e), None) => {
                assert_eq!(e.code().as_str(), case["error_code"], "{name}");
                let needle = case["message_contains"].as_str().unwrap();
                assert!(
                    e.to_string().contains(needle),
                    "{name}: {e} lacks {needle:?}"
                );
            }
            (got, _) => panic!("{name}: {got:?}, expected {}", case),
        }
    }
}
