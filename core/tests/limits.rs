//! The limits of `burgee_core::limits` (`spec/SNAPSHOT.md` §10): snapshots that would make an
//! evaluation exponential, recurse too deep or compile too much are refused at compile with
//! `SNAPSHOT_INVALID` and a path; the largest snapshots the limits allow evaluate at once.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use burgee_core::limits::{
    MAX_CONDITION_DEPTH, MAX_PREREQUISITE_DEPTH, MAX_REGEXES, MAX_SIGNATURES,
};
use burgee_core::{
    Context, ErrorCode, LoadError, Reason, SNAPSHOT_PAYLOAD_TYPE, Snapshot, TrustedKey,
    sign_envelope, verify_envelope,
};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000_000;

fn boolean(key: &str, prerequisites: &[&str]) -> Value {
    json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false},
           "enabled": true, "off_variant": "off", "default": {"variant": "on"},
           "prerequisites": prerequisites.iter()
               .map(|p| json!({"flag": p, "variants": ["on"]})).collect::<Vec<_>>()})
}

fn doc(flags: Vec<Value>, segments: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": 1, "project": "p", "environment": "production", "version": 1,
        "issued_at": NOW - 10, "expires_at": NOW + 60_000, "salt": "s",
        "flags": flags, "segments": segments}))
    .unwrap()
}

/// The refusal's (path, message) of an invalid snapshot.
fn refused(payload: &[u8]) -> (String, String) {
    match Snapshot::from_json(payload) {
        Err(e @ LoadError::Invalid { .. }) => {
            assert_eq!(e.code(), ErrorCode::SnapshotInvalid);
            let LoadError::Invalid { path, message } = e else {
                unreachable!()
            };
            (path, message)
        }
        Err(e) => panic!("refused with another error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

/// A chain `f0 <- f1 <- ... <- f{n}`: flag i requires flag i-1.
fn chain(n: usize) -> Vec<Value> {
    (0..=n)
        .map(|i| {
            let prev = [format!("f{}", i.wrapping_sub(1))];
            let prev: Vec<&str> = prev.iter().map(String::as_str).take(i.min(1)).collect();
            boolean(&format!("f{i}"), &prev)
        })
        .collect()
}

#[test]
fn a_duplicate_prerequisite_is_refused_with_its_path() {
    // The reported 9 KB snapshot: flag i lists flag i-1 twice (exponential before the limit).
    let flags = (0..28)
        .map(|i| {
            let prev = format!("f{}", i.max(1) - 1);
            if i == 0 {
                boolean("f0", &[])
            } else {
                boolean(&format!("f{i}"), &[&prev, &prev])
            }
        })
        .collect();
    let (path, message) = refused(&doc(flags, vec![]));
    assert_eq!(path, "flags[f1].prerequisites[1]");
    assert!(
        message.contains("\"f0\" is already a prerequisite"),
        "{message}"
    );
}

#[test]
fn prerequisite_chains_up_to_the_limit_are_accepted_deeper_ones_refused() {
    let snap = Snapshot::from_json(&doc(chain(MAX_PREREQUISITE_DEPTH), vec![])).unwrap();
    let top = format!("f{MAX_PREREQUISITE_DEPTH}");
    let d = snap.evaluate(&top, &Context::new("u"), NOW);
    assert_eq!((d.variant, d.reason), (Some("on"), Reason::Default));

    let (path, message) = refused(&doc(chain(MAX_PREREQUISITE_DEPTH + 1), vec![]));
    let deep = MAX_PREREQUISITE_DEPTH + 1;
    assert_eq!(path, format!("flags[f{deep}].prerequisites"));
    assert!(
        message.contains(&format!("is {deep} deep, at most {MAX_PREREQUISITE_DEPTH}")),
        "{message}"
    );
    assert!(message.contains(&format!("f{deep} -> f{MAX_PREREQUISITE_DEPTH} -> ")));
    assert!(message.ends_with("f1 -> f0"), "{message}");
}

/// `layers` of `width` flags, each requiring every flag of the layer below: without
/// memoisation one evaluation of the top resolves `width^layers` flags.
fn dense_layers(layers: usize, width: usize) -> Vec<Value> {
    let mut flags = Vec::new();
    for l in 0..layers {
        for w in 0..width {
            let below: Vec<String> = if l == 0 {
                vec![]
            } else {
                (0..width).map(|b| format!("l{}-{b}", l - 1)).collect()
            };
            let below: Vec<&str> = below.iter().map(String::as_str).collect();
            flags.push(boolean(&format!("l{l}-{w}"), &below));
        }
    }
    flags
}

#[test]
fn shared_prerequisites_are_resolved_once_per_evaluation() {
    // 17 layers (depth 16) of 8: 8^16 resolutions without memoisation, 136 with.
    let layers = MAX_PREREQUISITE_DEPTH + 1;
    let snap = Snapshot::from_json(&doc(dense_layers(layers, 8), vec![])).unwrap();
    let top = format!("l{}-0", layers - 1);
    let d = snap.evaluate(&top, &Context::new("u"), NOW);
    assert_eq!((d.variant, d.reason), (Some("on"), Reason::Default));
    // A flag at the bottom switched off fails every flag above it.
    let mut flags = dense_layers(layers, 8);
    flags[3]["enabled"] = json!(false);
    let snap = Snapshot::from_json(&doc(flags, vec![])).unwrap();
    let d = snap.evaluate(&top, &Context::new("u"), NOW);
    assert_eq!(
        (d.variant, d.reason),
        (Some("off"), Reason::PrerequisiteFailed)
    );
}

/// A clause nested in `depth - 1` alternating `all` / `not` wrappers (depth `depth`).
fn nested(depth: usize) -> Value {
    let mut c = json!({"attribute": "country", "op": "equals", "value": "DE"});
    for i in 1..depth {
        c = if i % 2 == 0 {
            json!({"all": [c]})
        } else {
            json!({"not": c})
        };
    }
    c
}

fn with_rule(when: Value) -> Value {
    let mut f = boolean("f", &[]);
    f["rules"] = json!([{"id": "r", "when": when, "serve": {"variant": "off"}}]);
    f
}

#[test]
fn conditions_nest_up_to_the_limit() {
    let snap =
        Snapshot::from_json(&doc(vec![with_rule(nested(MAX_CONDITION_DEPTH))], vec![])).unwrap();
    // 15 wrappers: 8 `not`s (cancelling out) and 7 `all`s, so DE matches the rule.
    let de = Context::new("u").with("country", "DE");
    assert_eq!(snap.evaluate("f", &de, NOW).variant, Some("off"));
    assert_eq!(
        snap.evaluate("f", &Context::new("u"), NOW).variant,
        Some("on")
    );

    let (path, message) = refused(&doc(
        vec![with_rule(nested(MAX_CONDITION_DEPTH + 1))],
        vec![],
    ));
    assert!(
        path.starts_with("flags[f].rules[r].when.all[0].not.all[0]"),
        "{path}"
    );
    assert_eq!(
        path.matches(".not").count() + path.matches(".all").count(),
        16,
        "{path}"
    );
    assert!(message.contains("nest deeper than 16"), "{message}");
    // The same limit holds in segment rules.
    let seg =
        json!({"key": "s", "rules": [{"id": "deep", "when": nested(MAX_CONDITION_DEPTH + 1)}]});
    let (path, _) = refused(&doc(vec![boolean("f", &[])], vec![seg]));
    assert!(path.starts_with("segments[s].rules[deep].when"), "{path}");
}

fn regex_rules(patterns: &[String]) -> Value {
    let mut f = boolean("f", &[]);
    f["rules"] = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"id": format!("r{i}"), "when": {"attribute": "email", "op": "matches", "value": p},
                   "serve": {"variant": "off"}})
        })
        .collect();
    f
}

#[test]
fn regexes_are_limited_in_number_and_size() {
    let at_limit: Vec<String> = (0..MAX_REGEXES).map(|i| format!("^u{i}@")).collect();
    let snap = Snapshot::from_json(&doc(vec![regex_rules(&at_limit)], vec![])).unwrap();
    let ctx = Context::new("u").with("email", "u7@x.dev");
    assert_eq!(snap.evaluate("f", &ctx, NOW).rule_id, Some("r7"));

    let over: Vec<String> = (0..=MAX_REGEXES).map(|i| format!("^u{i}@")).collect();
    let (path, message) = refused(&doc(vec![regex_rules(&over)], vec![]));
    assert_eq!(path, format!("flags[f].rules[r{MAX_REGEXES}].when"));
    assert!(message.contains("more than 512 regexes"), "{message}");

    // One pattern whose automaton is too large on its own.
    let (path, message) = refused(&doc(vec![regex_rules(&[r"\w{1000}".into()])], vec![]));
    assert_eq!(path, "flags[f].rules[r0].when");
    assert!(message.contains("invalid regex"), "{message}");

    // Patterns each within the per-regex limit whose sum is over the snapshot's budget.
    // (`\w{10}` with Unicode classes compiles to about 560 KB.)
    let big: Vec<String> = (0..40).map(|i| format!(r"^\w{{10}}{i}$")).collect();
    let (_, message) = refused(&doc(vec![regex_rules(&big)], vec![]));
    assert!(message.contains("regexes need more than"), "{message}");
}

#[test]
fn envelopes_with_too_many_signatures_are_refused_before_any_check() {
    let k = SigningKey::from_bytes(&[7; 32]);
    let trusted = [TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap()];
    let payload = doc(vec![boolean("f", &[])], vec![]);
    let env = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, &k);
    let mut many = env.clone();
    many.signatures = vec![env.signatures[0].clone(); MAX_SIGNATURES];
    let bytes = serde_json::to_vec(&many).unwrap();
    assert!(verify_envelope(&bytes, &trusted, usize::MAX, SNAPSHOT_PAYLOAD_TYPE).is_ok());
    many.signatures.push(env.signatures[0].clone());
    let bytes = serde_json::to_vec(&many).unwrap();
    let e = verify_envelope(&bytes, &trusted, usize::MAX, SNAPSHOT_PAYLOAD_TYPE).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParseError);
    assert!(e.to_string().contains("9 signatures, at most 8"), "{e}");
}

#[test]
fn the_first_signature_by_a_trusted_key_decides() {
    let k = SigningKey::from_bytes(&[7; 32]);
    let trusted = [TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap()];
    let payload = doc(vec![boolean("f", &[])], vec![]);
    let good = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, &k);
    let mut bad = good.signatures[0].clone();
    bad.sig = good.signatures[0]
        .sig
        .replace(&good.signatures[0].sig[..4], "AAAA");
    let mut env = good.clone();
    env.signatures = vec![bad, good.signatures[0].clone()];
    let bytes = serde_json::to_vec(&env).unwrap();
    let e = verify_envelope(&bytes, &trusted, usize::MAX, SNAPSHOT_PAYLOAD_TYPE).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SignatureInvalid);
}
