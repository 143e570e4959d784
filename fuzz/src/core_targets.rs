//! Fuzz harnesses for burgee-core: envelope verification, snapshot parse + compile + evaluate,
//! and evaluation contexts from JSON.
//!
//! Each harness takes arbitrary bytes, returns `Ok` when the input was accepted and `Err` with
//! the stable code and message when it was refused, and panics only when a property that must
//! hold for every input is broken. The same file is compiled into the fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and into `core/tests/fuzz_regressions.rs`, which replays the
//! kept inputs of `fuzz/regressions/<target>/` on stable Rust.

use std::path::Path;
use std::sync::OnceLock;

use burgee_core::{
    AttributeValue, Context, DEFAULT_MAX_ENVELOPE_BYTES, ErrorCode, Held, LoadError, LoadOptions,
    SNAPSHOT_PAYLOAD_TYPE, Snapshot, TrustedKey, ValueKind, client_view, parse_document,
    sign_envelope, verify_envelope,
};
use ed25519_dalek::SigningKey;
use serde_json::Value;

/// The fixed "now" of every harness, ms since epoch (inside the validity of the spec vectors).
pub const NOW: u64 = 1_800_000_000_000;

/// Public keys of the envelope fixtures in `spec/vectors/envelopes/` (their seeds are in
/// `make_fixtures.py`), so the fixtures used as seeds verify.
pub const FIXTURE_KEYS: [&str; 2] = [
    "QMvzGog3kziTcvMKHeMu2vb6s6p4InMxi76iHQbMKew=",
    "iSe3NUnR3N32eU8sE5caSYgqVjFRAiSxNyOp+Dl4Dh4=",
];

/// Seed of the key the `envelope` harness signs with in signing mode (fuzzing only).
const FUZZ_SEED: [u8; 32] = [0x5a; 32];

fn fixture_keys() -> &'static [TrustedKey] {
    static KEYS: OnceLock<Vec<TrustedKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        FIXTURE_KEYS
            .iter()
            .filter_map(|k| TrustedKey::from_base64(k).ok())
            .collect()
    })
}

fn fuzz_key() -> &'static (SigningKey, Vec<TrustedKey>) {
    static KEY: OnceLock<(SigningKey, Vec<TrustedKey>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = SigningKey::from_bytes(&FUZZ_SEED);
        let trusted = TrustedKey::from_bytes(key.verifying_key().as_bytes())
            .map(|k| vec![k])
            .unwrap_or_default();
        (key, trusted)
    })
}

fn refused(e: &LoadError) -> String {
    format!("{}: {e}", e.code())
}

/// **envelope**: the first byte picks the mode, the rest is the input.
///
/// - even: the rest is an envelope, verified against the fixture keys
///   ([`verify_envelope`], then [`Snapshot::load`] for `production`, as server and client
///   audience, and again holding the snapshot it loaded);
/// - odd: the rest is a snapshot payload, signed here with a fuzzing key and loaded with the
///   environment and audience it names, so the fuzzer reaches everything after the signature
///   check.
///
/// Properties: a loaded envelope verifies; a payload that loads also compiles without the
/// envelope ([`Snapshot::from_json`]) to the same version; reloading the same envelope while
/// holding it is accepted, and refused as `SNAPSHOT_ROLLBACK` with a higher minimum version.
pub fn envelope(data: &[u8]) -> Result<(), String> {
    let Some((&mode, rest)) = data.split_first() else {
        return Err("empty input".into());
    };
    if mode % 2 == 0 {
        let keys = fixture_keys();
        let verified = verify_envelope(
            rest,
            keys,
            DEFAULT_MAX_ENVELOPE_BYTES,
            SNAPSHOT_PAYLOAD_TYPE,
        );
        let mut outcome = Ok(());
        let server = LoadOptions::new(keys, "production", NOW);
        for (i, opts) in [server, server.for_audience(burgee_core::Audience::Client)]
            .iter()
            .enumerate()
        {
            let loaded = Snapshot::load(rest, opts);
            if let Ok(snap) = &loaded {
                let v = verified.as_ref().map_err(refused);
                assert!(v.is_ok(), "loaded but does not verify: {v:?}");
                check_loaded(rest, opts, snap);
            }
            if i == 0 {
                outcome = loaded.map(|_| ()).map_err(|e| refused(&e));
            }
        }
        outcome
    } else {
        let (key, trusted) = fuzz_key();
        let envelope = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, rest, key);
        let bytes = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
        let doc: Option<Value> = serde_json::from_slice(rest).ok();
        let field = |name: &str| {
            doc.as_ref()
                .and_then(|d| d.get(name))
                .and_then(Value::as_str)
                .map(ToOwned::to_owned)
        };
        let environment = field("environment").unwrap_or_else(|| "production".into());
        let audience = field("audience")
            .and_then(|a| burgee_core::Audience::parse(&a))
            .unwrap_or_default();
        let opts = LoadOptions::new(trusted, &environment, NOW).for_audience(audience);
        let verified = verify_envelope(&bytes, trusted, usize::MAX, SNAPSHOT_PAYLOAD_TYPE)
            .map_err(|e| refused(&e));
        assert!(
            verified.is_ok(),
            "a freshly signed envelope does not verify: {verified:?}"
        );
        match Snapshot::load(&bytes, &opts) {
            Ok(snap) => {
                let plain = Snapshot::from_json(rest).map_err(|e| refused(&e));
                let plain = match plain {
                    Ok(p) => p,
                    Err(e) => panic!("loads signed but not from JSON: {e}"),
                };
                assert_eq!(plain.info().version, snap.info().version);
                assert_eq!(plain.info().expires_at, snap.info().expires_at);
                check_loaded(&bytes, &opts, &snap);
                Ok(())
            }
            Err(e) => {
                if matches!(e.code(), ErrorCode::SnapshotInvalid | ErrorCode::ParseError) {
                    let plain = Snapshot::from_json(rest);
                    assert!(
                        plain.is_err(),
                        "refused signed ({}) but compiles from JSON",
                        refused(&e)
                    );
                }
                Err(refused(&e))
            }
        }
    }
}

/// Reloading what loaded while holding it works; a minimum above its version is a rollback.
fn check_loaded(bytes: &[u8], opts: &LoadOptions<'_>, snap: &Snapshot) {
    let Some(held) = snap.held() else {
        panic!("a loaded snapshot has no held marker");
    };
    let mut again = *opts;
    again.held = Some(Held {
        version: held.version,
        digest: held.digest,
    });
    let reloaded = Snapshot::load(bytes, &again).map_err(|e| refused(&e));
    assert!(
        reloaded.is_ok(),
        "reloading the held snapshot: {reloaded:?}"
    );
    if let Some(min) = held.version.checked_add(1) {
        let mut newer = *opts;
        newer.min_version = min;
        match Snapshot::load(bytes, &newer) {
            Err(e) => assert_eq!(e.code(), ErrorCode::SnapshotRollback, "{e}"),
            Ok(_) => panic!("loaded below min_version"),
        }
    }
}

/// **snapshot**: the input is snapshot JSON. It is compiled ([`Snapshot::from_json`]); when it
/// compiles, every flag is evaluated (every typed getter too) with contexts made from the
/// attributes, values and keys the snapshot itself mentions, at several times, and
/// `evaluate_all`.
///
/// Properties: `evaluate` and `evaluate_all` agree; a result without error has a variant; an
/// error has no value; the document re-serialized (as the server signs it) compiles again and
/// evaluates the same; its client view, when [`client_view`] makes one, compiles.
pub fn snapshot(data: &[u8]) -> Result<(), String> {
    let snap = Snapshot::from_json(data).map_err(|e| refused(&e))?;
    let def = match parse_document(data) {
        Ok(def) => def,
        Err(e) => panic!("compiles but does not parse: {e}"),
    };
    let doc: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    let contexts = contexts_for(&doc);
    let info = snap.info();
    let nows = [
        0,
        NOW,
        info.issued_at,
        info.expires_at.saturating_sub(1),
        u64::MAX,
    ];
    let _ = exercise(&snap, &contexts, &nows, true);
    let some_nows = [NOW, u64::MAX];
    let results = exercise(&snap, &contexts, &some_nows, false);

    let text = match serde_json::to_vec(&def) {
        Ok(t) => t,
        Err(e) => panic!("a parsed snapshot does not serialize: {e}"),
    };
    match Snapshot::from_json(&text) {
        Ok(again) => {
            let again_results = exercise(&again, &contexts, &some_nows, false);
            assert_eq!(
                results,
                again_results,
                "re-serialized snapshot evaluates differently: {}",
                String::from_utf8_lossy(&text)
            );
        }
        Err(e) => panic!(
            "re-serialized snapshot is refused ({}): {}",
            refused(&e),
            String::from_utf8_lossy(&text)
        ),
    }
    // A refusal of client_view is documented (already a client snapshot, a server-only
    // prerequisite, a sensitive clause with another operator): the server refuses the publish.
    if let Ok(view) = client_view(&def) {
        let compiled = Snapshot::compile(&view, None).map_err(|e| refused(&e));
        assert!(
            compiled.is_ok(),
            "client view of a valid snapshot does not compile: {compiled:?}"
        );
        let text = match serde_json::to_vec(&view) {
            Ok(t) => t,
            Err(e) => panic!("a client view does not serialize: {e}"),
        };
        let loaded = Snapshot::from_json(&text).map_err(|e| refused(&e));
        assert!(
            loaded.is_ok(),
            "re-serialized client view is refused: {loaded:?}"
        );
    }
    Ok(())
}

/// Evaluates every flag of `snap` for each context and time (and, with `typed`, every typed
/// getter at [`NOW`]); returns the JSON of every result.
pub fn exercise(snap: &Snapshot, contexts: &[Context], nows: &[u64], typed: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let keys: Vec<&str> = snap.flag_keys().collect();
    for ctx in contexts {
        for &now in nows {
            let all = snap.evaluate_all(ctx, now);
            assert_eq!(all.len(), keys.len(), "evaluate_all skips flags");
            for (i, (key, details)) in all.iter().enumerate() {
                assert_eq!(
                    keys.get(i),
                    Some(key),
                    "evaluate_all is not in snapshot order"
                );
                let json = serde_json::to_value(details).unwrap_or(Value::Null);
                let single =
                    serde_json::to_value(snap.evaluate(key, ctx, now)).unwrap_or(Value::Null);
                assert_eq!(json, single, "evaluate and evaluate_all differ for {key}");
                match &details.error {
                    None => assert!(
                        details.variant.is_some() && details.value.is_some(),
                        "{key}: no error and no variant: {json}"
                    ),
                    Some(_) => assert!(
                        details.value.is_none() && details.variant.is_none(),
                        "{key}: an error with a value: {json}"
                    ),
                }
                let exposure = snap.exposure(key, details, ctx, now);
                assert_eq!(exposure.is_some(), details.variant.is_some());
                if typed && now == NOW {
                    typed_getters(snap, key, ctx, now);
                }
                out.push(json);
            }
            let absent = "\u{0}no such flag";
            if !keys.contains(&absent) {
                let missing = snap.evaluate(absent, ctx, now);
                assert_eq!(missing.error_code(), Some(ErrorCode::FlagNotFound));
            }
        }
    }
    out
}

fn typed_getters(snap: &Snapshot, key: &str, ctx: &Context, now: u64) {
    let _ = snap.get_bool(key, ctx, now, false);
    let _ = snap.get_string(key, ctx, now, "default");
    let _ = snap.get_integer(key, ctx, now, -1);
    let _ = snap.get_float(key, ctx, now, 0.5);
    let empty = serde_json::Map::new();
    let _ = snap.get_object(key, ctx, now, &empty);
    let defaults = [
        (ValueKind::Boolean, Value::Bool(true)),
        (ValueKind::String, Value::from("d")),
        (ValueKind::Number, Value::from(1.5)),
        (ValueKind::Integer, Value::from(7)),
        (ValueKind::Integer, Value::from(7.5)),
        (ValueKind::Object, Value::Object(serde_json::Map::new())),
        (ValueKind::Boolean, Value::Null),
    ];
    for (kind, default) in &defaults {
        let _ = snap.get_json(*kind, key, ctx, now, default);
    }
}

/// An attribute value from a clause value, if it can be one.
fn attribute(v: &Value) -> Option<AttributeValue> {
    Some(match v {
        Value::String(s) => AttributeValue::String(s.as_str().into()),
        Value::Number(n) => AttributeValue::Number(n.as_f64()?),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Array(items) => AttributeValue::List(
            items
                .iter()
                .filter_map(|i| i.as_str().map(Into::into))
                .collect(),
        ),
        _ => return None,
    })
}

/// Contexts for a snapshot document: anonymous, a generic one, and two built from the
/// attributes, clause values, target keys and segment members the document mentions (first
/// and last of each list), so rules and targets actually match.
pub fn contexts_for(doc: &Value) -> Vec<Context> {
    let mut first = Context::anonymous();
    let mut last = Context::anonymous();
    let mut budget = 256usize;
    walk(doc, &mut first, &mut last, &mut budget);
    vec![
        Context::anonymous(),
        Context::new("user-42")
            .with("country", "DE")
            .with("age", 31.0)
            .with("beta", true)
            .with("email", "someone@example.com")
            .with("version", "1.2.3")
            .with("created", "2026-01-01T00:00:00Z")
            .with(
                "groups",
                AttributeValue::List(vec!["a".into(), "b".into()].into_boxed_slice()),
            ),
        first,
        last,
    ]
}

fn walk(v: &Value, first: &mut Context, last: &mut Context, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match v {
        Value::Object(map) => {
            if let Some(name) = map.get("attribute").and_then(Value::as_str) {
                let values = map.get("values").and_then(Value::as_array);
                let one = map.get("value");
                let a = values.and_then(|vs| vs.first()).or(one).and_then(attribute);
                let b = values.and_then(|vs| vs.last()).or(one).and_then(attribute);
                if let Some(a) = a {
                    first.set(name, a);
                }
                if let Some(b) = b {
                    last.set(name, b);
                }
            }
            for list in ["keys", "included"] {
                if let Some(keys) = map.get(list).and_then(Value::as_array) {
                    if let Some(k) = keys.first().and_then(Value::as_str) {
                        first.set(burgee_core::TARGETING_KEY, k.into());
                    }
                    if let Some(k) = keys.last().and_then(Value::as_str) {
                        last.set(burgee_core::TARGETING_KEY, k.into());
                    }
                }
            }
            for child in map.values() {
                walk(child, first, last, budget);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk(child, first, last, budget);
            }
        }
        _ => {}
    }
}

/// The snapshots of `spec/vectors/eval/*.json`, compiled (read once; empty if missing).
pub fn vector_snapshots() -> &'static [Snapshot] {
    static SNAPSHOTS: OnceLock<Vec<Snapshot>> = OnceLock::new();
    SNAPSHOTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/eval");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter_map(|doc| serde_json::to_vec(doc.get("snapshot")?).ok())
            .filter_map(|s| Snapshot::from_json(&s).ok())
            .collect()
    })
}

/// **context**: the input is an evaluation context as JSON, parsed the ways the bindings do
/// ([`Context::from_json_str`] for text, as the WebAssembly and mobile SDKs;
/// [`Context::from_json`] on a parsed value, as the Node SDK). When it parses, every flag of
/// every `spec/vectors/eval` snapshot is evaluated with it.
///
/// Properties: both ways agree; a parsed context serializes to JSON that parses back to the
/// same context.
pub fn context(data: &[u8]) -> Result<(), String> {
    let from_value = serde_json::from_slice::<Value>(data)
        .ok()
        .map(|v| Context::from_json(&v));
    let from_text = std::str::from_utf8(data).ok().map(Context::from_json_str);
    let ctx = match (from_text, from_value) {
        (Some(text), Some(value)) => {
            match (&text, &value) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "from_json_str and from_json differ"),
                (Err(_), Err(_)) => {}
                _ => panic!("from_json_str {text:?} but from_json {value:?}"),
            }
            text
        }
        (Some(text), None) => {
            assert!(text.is_err(), "parsed as text but not as a JSON value");
            text
        }
        (None, Some(value)) => value,
        (None, None) => return Err("neither UTF-8 nor JSON".into()),
    }
    .map_err(|e| format!("{}: {e}", e.code()))?;

    let json = match serde_json::to_string(&ctx) {
        Ok(j) => j,
        Err(e) => panic!("a context does not serialize: {e}"),
    };
    match Context::from_json_str(&json) {
        Ok(back) => assert_eq!(back, ctx, "context JSON round trip differs: {json}"),
        Err(e) => panic!("a serialized context does not parse ({e}): {json}"),
    }
    for snap in vector_snapshots() {
        let _ = exercise(snap, std::slice::from_ref(&ctx), &[NOW], false);
    }
    Ok(())
}
