//! Config documents (`spec/CONFIG.md`): the signed fixtures of `spec/vectors/config/` (made by an
//! independent Python implementation) replayed through `ConfigDocument::load`, and the compile
//! rules and gradual-release semantics of `ConfigDocument`.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use burgee_core::{
    CONFIG_PAYLOAD_TYPE, ConfigDocument, ConfigDocumentDef, ConfigFormat, Context, ErrorCode, Held,
    LoadError, LoadOptions, Snapshot, TrustedKey, bucket,
};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000_000;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/config")
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

fn trusted_keys(case: &Value) -> Vec<TrustedKey> {
    case["trusted_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| TrustedKey::from_base64(k.as_str().unwrap()).unwrap())
        .collect()
}

/// Loads the case's file with the options the case names.
fn load_case(case: &Value) -> Result<ConfigDocument, LoadError> {
    let bytes = fs::read(config_dir().join(case["file"].as_str().unwrap())).unwrap();
    let keys = trusted_keys(case);
    let mut opts = LoadOptions::new(
        &keys,
        case["environment"].as_str().unwrap(),
        case["now"].as_u64().unwrap(),
    );
    opts.project = case.get("project").map(|p| p.as_str().unwrap());
    let held_digest = case
        .get("held_digest")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(v) = case.get("held_version").and_then(Value::as_u64) {
        opts.held = Some(Held {
            version: v,
            digest: held_digest,
        });
    }
    if let Some(max) = case.get("max_envelope_bytes").and_then(Value::as_u64) {
        opts.max_envelope_bytes = usize::try_from(max).unwrap();
    }
    ConfigDocument::load(&bytes, &opts, case["service"].as_str().unwrap())
}

/// Checks every `instances` expectation of an OK case; returns how many values were compared.
fn check_instances(name: &str, doc: &ConfigDocument, case: &Value) -> usize {
    let mut compared = 0;
    for inst in case
        .get("instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ctx = Context::from_json(&inst["instance"]).unwrap();
        let expected = inst["expected"].as_object().unwrap();
        let keys: Vec<&str> = doc.keys().collect();
        let want_keys: Vec<&str> = expected.keys().map(String::as_str).collect();
        assert_eq!(keys, want_keys, "{name}: entry keys");
        for (key, want) in expected {
            let got = doc
                .get(key, &ctx, NOW)
                .unwrap_or_else(|| panic!("{name}: no entry {key}"));
            let at = format!("{name} / {key} / {}", inst["instance"]);
            assert_eq!(got.key, key, "{at}");
            assert_eq!(got.raw, want["raw"].as_str().unwrap(), "{at}: raw");
            assert!(
                json_eq(got.value, &want["value"]),
                "{at}: value {} expected {}",
                got.value,
                want["value"]
            );
            assert_eq!(got.override_id, want["override"].as_str(), "{at}: override");
            compared += 1;
        }
        // `resolve_all` answers exactly what `get` does, in key order.
        let all: Vec<(&str, Option<&str>)> = doc
            .resolve_all(&ctx, NOW)
            .iter()
            .map(|v| (v.key, v.override_id))
            .collect();
        let want: Vec<(&str, Option<&str>)> = expected
            .iter()
            .map(|(k, v)| (k.as_str(), v["override"].as_str()))
            .collect();
        assert_eq!(all, want, "{name}: resolve_all");
    }
    compared
}

#[test]
fn config_fixture_vectors() {
    let manifest = read_json(&config_dir().join("manifest.json"));
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "only {} cases", cases.len());
    let mut seen = BTreeSet::new();
    let mut compared = 0;
    let mut overrides_served = BTreeSet::new();
    for case in cases {
        let name = format!(
            "{} ({})",
            case["file"].as_str().unwrap(),
            case.get("note").and_then(Value::as_str).unwrap_or("")
        );
        let expected = case["expected"].as_str().unwrap();
        match load_case(case) {
            Ok(doc) => {
                assert_eq!(expected, "OK", "{name}: loaded, expected {expected}");
                assert_eq!(
                    doc.info().version,
                    case["version"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    doc.info().digest.as_deref(),
                    case["digest"].as_str(),
                    "{name}"
                );
                assert_eq!(
                    doc.info().service,
                    case["service"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(doc.info().environment, case["environment"], "{name}");
                assert!(doc.info().keyid.is_some(), "{name}: no keyid");
                let held = doc.held().unwrap();
                assert_eq!(
                    (held.version, Some(held.digest)),
                    (doc.info().version, case["digest"].as_str())
                );
                compared += check_instances(&name, &doc, case);
                for inst in case
                    .get("instances")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for (key, v) in inst["expected"].as_object().unwrap() {
                        if let Some(id) = v["override"].as_str() {
                            overrides_served.insert(format!("{key}/{id}"));
                        }
                    }
                }
            }
            Err(e) => {
                assert_eq!(e.code().as_str(), expected, "{name}: {e}");
                assert!(ErrorCode::parse(expected).is_some());
            }
        }
        seen.insert(expected.to_owned());
    }
    // Every code of the config load path has a fixture.
    for code in [
        "OK",
        "PARSE_ERROR",
        "SNAPSHOT_TOO_LARGE",
        "SIGNATURE_INVALID",
        "KEY_UNTRUSTED",
        "PAYLOAD_TYPE_MISMATCH",
        "PROJECT_MISMATCH",
        "ENVIRONMENT_MISMATCH",
        "SERVICE_MISMATCH",
        "SNAPSHOT_ROLLBACK",
        "SNAPSHOT_EXPIRED",
        "SNAPSHOT_INVALID",
    ] {
        assert!(seen.contains(code), "no fixture expects {code}");
    }
    assert!(compared >= 40, "only {compared} instance values compared");
    for served in [
        "db.primary/eu-replica",
        "features/pinned",
        "features/v2-rollout",
    ] {
        assert!(
            overrides_served.contains(served),
            "no instance is served {served}"
        );
    }
}

/// The valid fixture in detail: formats, secrets, and what the verifier recorded.
#[test]
fn valid_fixture_entries() {
    let manifest = read_json(&config_dir().join("manifest.json"));
    let case = &manifest["cases"][0];
    assert_eq!(case["file"], "valid.json");
    let doc = load_case(case).unwrap();
    assert!(doc.info().secrets);
    assert_eq!(doc.info().project, "fixtures");
    assert_eq!(doc.salt(), "fixture-salt");
    let anon = Context::anonymous();
    let formats: Vec<(&str, ConfigFormat, bool)> = doc
        .resolve_all(&anon, NOW)
        .iter()
        .map(|v| (v.key, v.format, v.secret))
        .collect();
    assert_eq!(
        formats,
        [
            ("banner", ConfigFormat::Text, false),
            ("db.primary", ConfigFormat::Yaml, false),
            ("features", ConfigFormat::Json, false),
            ("limits", ConfigFormat::Toml, false),
            ("logging", ConfigFormat::Properties, false),
            ("payment.api_key", ConfigFormat::Text, true),
        ]
    );
    let db = doc.get("db.primary", &anon, NOW).unwrap();
    assert_eq!(db.revision, 2);
    assert_eq!(db.value["pool"]["max"], 20);
    assert!(doc.get("no-such-entry", &anon, NOW).is_none());

    // The same version without secrets, as served to other readers.
    let public = manifest["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "valid-without-secrets.json")
        .unwrap();
    let doc = load_case(public).unwrap();
    assert!(!doc.info().secrets);
    assert!(doc.get("payment.api_key", &anon, NOW).is_none());
    assert_eq!(doc.keys().count(), 5);
}

/// A config envelope is not a flag snapshot, and the payload types differ.
#[test]
fn config_envelope_is_not_a_snapshot() {
    let manifest = read_json(&config_dir().join("manifest.json"));
    let case = &manifest["cases"][0];
    let keys = trusted_keys(case);
    let bytes = fs::read(config_dir().join("valid.json")).unwrap();
    let opts = LoadOptions::new(&keys, "production", NOW);
    let err = Snapshot::load(&bytes, &opts).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PayloadTypeMismatch);
    assert_eq!(
        CONFIG_PAYLOAD_TYPE,
        "application/vnd.burgee.config+json; version=1"
    );
    let env: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(env["payloadType"], CONFIG_PAYLOAD_TYPE);
}

// --- compile and evaluation, without envelopes ----------------------------------------------

fn doc_def(entries: Value) -> ConfigDocumentDef {
    serde_json::from_value(json!({
        "format": 1, "project": "p", "environment": "production", "service": "svc",
        "version": 3, "issued_at": 1000, "expires_at": 2_000_000_000_000_u64, "salt": "s",
        "entries": entries,
    }))
    .unwrap()
}

fn text(key: &str, raw: &str) -> Value {
    json!({"key": key, "format": "text", "raw": raw, "value": raw, "revision": 1})
}

fn with_overrides(key: &str, overrides: Value) -> Value {
    json!({"key": key, "format": "text", "raw": "base", "value": "base", "revision": 1,
           "overrides": overrides})
}

fn compile(def: &ConfigDocumentDef) -> Result<ConfigDocument, LoadError> {
    ConfigDocument::compile(def, None)
}

/// `(path, message)` of a refusal; panics if the document compiles or fails otherwise.
fn refusal(def: &ConfigDocumentDef) -> (String, String) {
    match compile(def) {
        Err(LoadError::Invalid { path, message }) => (path, message),
        Err(other) => panic!("expected SNAPSHOT_INVALID, got {other:?}"),
        Ok(_) => panic!("compiled, but must be refused"),
    }
}

#[test]
fn compile_refusals_name_the_path() {
    let ok = text("a", "x");
    let cases: Vec<(&str, ConfigDocumentDef, &str, &str)> = vec![
        (
            "empty key",
            doc_def(json!([ok, text("", "y")])),
            "entries[1]",
            "key is empty",
        ),
        (
            "duplicate key",
            doc_def(json!([ok, text("a", "y")])),
            "entries[1]",
            "duplicate key \"a\"",
        ),
        (
            "json value is not raw parsed",
            doc_def(
                json!([ok, {"key": "j", "format": "json", "raw": "{\"n\": 1}",
                                 "value": {"n": 2}, "revision": 1}]),
            ),
            "entries[1]",
            "json",
        ),
        (
            "json raw that does not parse",
            doc_def(json!([ok, {"key": "j", "format": "json", "raw": "{\"n\": ",
                                 "value": {"n": 1}, "revision": 1}])),
            "entries[1]",
            "json",
        ),
        (
            "json float raw, integer value",
            doc_def(json!([ok, {"key": "j", "format": "json", "raw": "1.0",
                                 "value": 1, "revision": 1}])),
            "entries[1]",
            "json",
        ),
        (
            "text value is not raw",
            doc_def(json!([ok, {"key": "t", "format": "text", "raw": "x",
                                 "value": "y", "revision": 1}])),
            "entries[1]",
            "text",
        ),
        (
            "reserved override id",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "base", "raw": "o", "value": "o"}])
                )
            ])),
            "entries[1].overrides[0]",
            "reserved",
        ),
        (
            "empty override id",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "", "raw": "o", "value": "o"}])
                )
            ])),
            "entries[1].overrides[0]",
            "empty",
        ),
        (
            "duplicate override id",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "o1", "raw": "o", "value": "o"},
                {"id": "o1", "raw": "p", "value": "p"}])
                )
            ])),
            "entries[1].overrides[1]",
            "duplicate id \"o1\"",
        ),
        (
            "override value is not raw",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "o1", "raw": "o", "value": "p"}])
                )
            ])),
            "entries[1].overrides[0]",
            "text",
        ),
        (
            "percentage over 10000",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "o1", "percentage": 10001, "raw": "o", "value": "o"}])
                )
            ])),
            "entries[1].overrides[0]",
            "10001",
        ),
        (
            "bad regex in the second override",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "o1", "when": {"attribute": "zone", "op": "equals", "value": "z"},
                 "raw": "o", "value": "o"},
                {"id": "o2", "when": {"all": [
                    {"attribute": "zone", "op": "equals", "value": "z"},
                    {"attribute": "host", "op": "matches", "value": "([a-z"}]},
                 "raw": "p", "value": "p"}])
                )
            ])),
            "entries[1].overrides[1].when.all[1]",
            "invalid regex",
        ),
        (
            "semver operand",
            doc_def(json!([
                ok,
                with_overrides(
                    "b",
                    json!([
                {"id": "o1", "when": {"attribute": "version", "op": "semver_gte", "value": "1.2"},
                 "raw": "o", "value": "o"}])
                )
            ])),
            "entries[1].overrides[0].when",
            "1.2",
        ),
    ];
    for (name, def, path, needle) in cases {
        let (got_path, message) = refusal(&def);
        assert_eq!(got_path, path, "{name}: {message}");
        assert!(
            message.contains(needle),
            "{name}: message {message:?} lacks {needle:?}"
        );
    }

    let mut def = doc_def(json!([ok]));
    def.format = 2;
    assert_eq!(refusal(&def).0, "format");
    // Expiry before issue is refused whether or not an entry has overrides.
    let mut def = doc_def(json!([text("a", "x")]));
    def.expires_at = def.issued_at;
    assert_eq!(refusal(&def).0, "expires_at");
    // The same shapes, without the faults, compile.
    assert!(compile(&doc_def(json!([text("a", "x"), text("b", "y")]))).is_ok());
    assert!(
        compile(&doc_def(
            json!([{"key": "j", "format": "json", "raw": "1.0",
                                 "value": 1.0, "revision": 1}])
        ))
        .is_ok()
    );
}

#[test]
fn in_segment_is_refused() {
    // Config documents carry no segments, so every `in_segment` names an unknown one.
    let def = doc_def(json!([with_overrides(
        "b",
        json!([
        {"id": "beta", "when": {"op": "in_segment", "values": ["beta-testers"]},
         "raw": "o", "value": "o"}])
    )]));
    let (path, message) = refusal(&def);
    assert!(
        path.starts_with("entries[0].overrides[0].when"),
        "{path}: {message}"
    );
    assert!(message.contains("beta-testers"), "{message}");
    // Loaded from a signed envelope, the same document is SNAPSHOT_INVALID.
    assert_eq!(
        compile(&def).unwrap_err().code(),
        ErrorCode::SnapshotInvalid
    );
}

#[test]
fn resolve_all_is_sorted_by_key_and_matches_get() {
    // Written out of order: the document is read sorted by key regardless.
    let def = doc_def(json!([
        text("zeta", "z"),
        with_overrides("beta", json!([
            {"id": "eu", "when": {"attribute": "zone", "op": "starts_with", "values": ["eu-"]},
             "raw": "b-eu", "value": "b-eu"}])),
        text("alpha", "a"),
        {"key": "gamma", "format": "json", "raw": "[1, 2]", "value": [1, 2], "revision": 7},
    ]));
    let doc = compile(&def).unwrap();
    assert_eq!(
        doc.keys().collect::<Vec<_>>(),
        ["alpha", "beta", "gamma", "zeta"]
    );
    let eu = Context::new("i-1").with("zone", "eu-west-1");
    let us = Context::new("i-1").with("zone", "us-east-1");
    let served = |ctx: &Context| -> Vec<(String, String, Option<String>)> {
        doc.resolve_all(ctx, NOW)
            .iter()
            .map(|v| {
                (
                    v.key.to_owned(),
                    v.raw.to_owned(),
                    v.override_id.map(str::to_owned),
                )
            })
            .collect()
    };
    let row =
        |k: &str, raw: &str, o: Option<&str>| (k.to_owned(), raw.to_owned(), o.map(str::to_owned));
    assert_eq!(
        served(&eu),
        [
            row("alpha", "a", None),
            row("beta", "b-eu", Some("eu")),
            row("gamma", "[1, 2]", None),
            row("zeta", "z", None),
        ]
    );
    assert_eq!(served(&us)[1], row("beta", "base", None));
    for v in doc.resolve_all(&eu, NOW) {
        assert_eq!(Some(v), doc.get(v.key, &eu, NOW));
    }
    assert_eq!(doc.get("gamma", &us, NOW).unwrap().revision, 7);
}

#[test]
fn first_matching_override_decides() {
    let def = doc_def(json!([with_overrides(
        "k",
        json!([
        {"id": "zone-a", "when": {"attribute": "zone", "op": "equals", "value": "a"},
         "percentage": 0, "raw": "A", "value": "A"},
        {"id": "everyone", "raw": "E", "value": "E"}])
    )]));
    let doc = compile(&def).unwrap();
    // In zone a: the first override matches and decides, though its 0 % serves the base value.
    let in_a = Context::new("i-1").with("zone", "a");
    assert_eq!(doc.get("k", &in_a, NOW).unwrap().raw, "base");
    let in_b = Context::new("i-1").with("zone", "b");
    let v = doc.get("k", &in_b, NOW).unwrap();
    assert_eq!((v.raw, v.override_id), ("E", Some("everyone")));
    assert_eq!(v.value, &json!("E"));
}

#[test]
fn percentage_edges_and_seed() {
    let def = doc_def(json!([
        with_overrides(
            "none",
            json!([{"id": "o", "percentage": 0, "raw": "o", "value": "o"}])
        ),
        with_overrides(
            "all",
            json!([{"id": "o", "percentage": 10000, "raw": "o", "value": "o"}])
        ),
        with_overrides(
            "half",
            json!([{"id": "h", "percentage": 5000, "raw": "h", "value": "h"}])
        ),
        with_overrides("unset", json!([{"id": "o", "raw": "o", "value": "o"}])),
    ]));
    let doc = compile(&def).unwrap();
    let (mut inside, mut outside) = (0, 0);
    for n in 0..500 {
        let id = format!("instance-{n}");
        let ctx = Context::new(id.as_str());
        assert_eq!(
            doc.get("none", &ctx, NOW).unwrap().override_id,
            None,
            "{id}"
        );
        assert_eq!(
            doc.get("all", &ctx, NOW).unwrap().override_id,
            Some("o"),
            "{id}"
        );
        // Bucketed exactly like a flag rollout, with seed config/<service>/<key>/<override id>.
        let b = bucket("s", "config/svc/half/h", &id);
        let got = doc.get("half", &ctx, NOW).unwrap();
        if b < 5000 {
            inside += 1;
            assert_eq!(
                (got.override_id, got.raw),
                (Some("h"), "h"),
                "{id}: bucket {b}"
            );
        } else {
            outside += 1;
            assert_eq!(
                (got.override_id, got.raw),
                (None, "base"),
                "{id}: bucket {b}"
            );
        }
    }
    assert!(inside > 200 && outside > 200, "{inside} in, {outside} out");

    // Without an instance id: a percentage serves the base value, except 10000 (every instance,
    // as if absent) and an override without a percentage.
    let anon = Context::anonymous().with("zone", "a");
    assert_eq!(doc.get("none", &anon, NOW).unwrap().override_id, None);
    assert_eq!(doc.get("half", &anon, NOW).unwrap().override_id, None);
    assert_eq!(doc.get("all", &anon, NOW).unwrap().override_id, Some("o"));
    assert_eq!(doc.get("unset", &anon, NOW).unwrap().override_id, Some("o"));
}

// --- the load path with envelopes signed here --------------------------------------------

fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

fn signed(payload: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&burgee_core::sign_envelope(
        CONFIG_PAYLOAD_TYPE,
        payload,
        &signing_key(),
    ))
    .unwrap()
}

fn load_signed(payload: &[u8], opts_min_version: u64) -> Result<ConfigDocument, LoadError> {
    let keys = [TrustedKey::from_bytes(signing_key().verifying_key().as_bytes()).unwrap()];
    let mut opts = LoadOptions::new(&keys, "production", NOW);
    opts.project = Some("p");
    opts.min_version = opts_min_version;
    ConfigDocument::load(&signed(payload), &opts, "svc")
}

#[test]
fn serialised_form_and_load_round_trip() {
    let def = doc_def(json!([
        text("a", "x"),
        with_overrides("b", json!([{"id": "o", "raw": "o", "value": "o"}])),
    ]));
    let payload = serde_json::to_vec(&def).unwrap();
    // Defaults are never written: no `secrets`, `secret`, `when` or `percentage`.
    let v: Value = serde_json::from_slice(&payload).unwrap();
    assert!(v.get("secrets").is_none());
    assert!(v["entries"][0].get("secret").is_none());
    assert!(v["entries"][0].get("overrides").is_none());
    assert_eq!(
        v["entries"][1]["overrides"][0],
        json!({"id": "o", "raw": "o", "value": "o"})
    );
    assert_eq!(v["entries"][0]["format"], "text");

    let doc = load_signed(&payload, 0).unwrap();
    assert_eq!(doc.info().version, 3);
    assert_eq!(
        doc.info().digest.as_deref(),
        Some(burgee_core::payload_digest(&payload).as_str())
    );
    assert_eq!(
        load_signed(&payload, 4).unwrap_err().code(),
        ErrorCode::SnapshotRollback
    );
    // An unknown member is a shape error.
    let mut extra = v.clone();
    extra["entries"][0]["schema"] = json!({});
    let err = load_signed(&serde_json::to_vec(&extra).unwrap(), 0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ParseError, "{err}");
    // An unknown format name too.
    let mut fmt = v;
    fmt["entries"][0]["format"] = json!("ini");
    let err = load_signed(&serde_json::to_vec(&fmt).unwrap(), 0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ParseError, "{err}");
}

#[test]
fn payload_nesting_limit_includes_entry_values() {
    // Levels: document 1, `entries` 2, the entry 3, then the value's arrays.
    let payload = |levels: usize| {
        let n = levels - 3;
        let value = format!("{}{}", "[".repeat(n), "]".repeat(n));
        format!(
            r#"{{"format":1,"project":"p","environment":"production","service":"svc","version":3,"issued_at":1000,"expires_at":2000000000000,"salt":"s","entries":[{{"key":"deep","format":"json","raw":"{value}","value":{value},"revision":1}}]}}"#
        )
    };
    let doc = load_signed(payload(127).as_bytes(), 0).unwrap();
    assert!(doc.get("deep", &Context::anonymous(), NOW).is_some());
    let err = load_signed(payload(128).as_bytes(), 0).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ParseError, "{err}");
}
