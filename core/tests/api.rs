//! Behaviour of the public API beyond the shared vectors: signing round trips with fresh keys,
//! rotation, the error-code list, contexts, exposures.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use burgee_core::{
    Audience, Context, ErrorCode, Held, LoadOptions, Reason, SNAPSHOT_PAYLOAD_TYPE, Snapshot,
    TrustedKey, key_id, payload_digest, sign_envelope,
};
use ed25519_dalek::SigningKey;
use serde_json::json;

const NOW: u64 = 1_800_000_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn trusted(k: &SigningKey) -> TrustedKey {
    TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap()
}

fn payload(version: u64, enabled: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": 1, "project": "p", "environment": "production", "version": version,
        "issued_at": NOW - 10, "expires_at": NOW + 60_000, "salt": "s",
        "flags": [
            {"key": "checkout", "type": "boolean", "variants": {"on": true, "off": false},
             "enabled": enabled, "off_variant": "off",
             "rules": [{"id": "beta", "when": {"attribute": "plan", "op": "equals", "value": "beta"},
                        "serve": {"variant": "on"}}],
             "default": {"rollout": {"weights": [{"variant": "on", "weight": 5000},
                                                 {"variant": "off", "weight": 5000}]}},
             "metadata": {"owner": "team-checkout"}},
            {"key": "banner", "type": "string", "variants": {"a": "Hello"}, "enabled": true,
             "off_variant": "a", "default": {"variant": "a"}}
        ]
    }))
    .unwrap()
}

fn envelope(version: u64, enabled: bool, k: &SigningKey) -> Vec<u8> {
    serde_json::to_vec(&sign_envelope(
        SNAPSHOT_PAYLOAD_TYPE,
        &payload(version, enabled),
        k,
    ))
    .unwrap()
}

#[test]
fn sign_then_load_round_trip() {
    let k = key(1);
    let keys = [trusted(&k)];
    let snap = Snapshot::load(
        &envelope(3, true, &k),
        &LoadOptions::new(&keys, "production", NOW),
    )
    .unwrap();
    assert_eq!(snap.info().version, 3);
    assert_eq!(
        snap.info().keyid.as_deref(),
        Some(key_id(k.verifying_key().as_bytes()).as_str())
    );
    assert_eq!(
        snap.info().digest.as_deref(),
        Some(payload_digest(&payload(3, true)).as_str())
    );
    let d = snap.evaluate("checkout", &Context::new("u1").with("plan", "beta"), NOW);
    assert_eq!(
        (d.variant, d.reason, d.rule_id),
        (Some("on"), Reason::TargetingMatch, Some("beta"))
    );
}

#[test]
fn rotation_accepts_old_and_new_key_while_both_are_trusted() {
    let (old, new) = (key(1), key(2));
    let both = [trusted(&old), trusted(&new)];
    let only_new = [trusted(&new)];
    let opts = LoadOptions::new(&both, "production", NOW);
    assert!(Snapshot::load(&envelope(1, true, &old), &opts).is_ok());
    assert!(Snapshot::load(&envelope(2, true, &new), &opts).is_ok());
    let err = Snapshot::load(
        &envelope(1, true, &old),
        &LoadOptions::new(&only_new, "production", NOW),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyUntrusted);
    assert!(
        err.to_string()
            .contains(&key_id(old.verifying_key().as_bytes())),
        "{err}"
    );
}

#[test]
fn held_snapshot_guards_against_rollback_and_equivocation() {
    let k = key(1);
    let keys = [trusted(&k)];
    let first = Snapshot::load(
        &envelope(5, true, &k),
        &LoadOptions::new(&keys, "production", NOW),
    )
    .unwrap();
    let mut opts = LoadOptions::new(&keys, "production", NOW);
    opts.held = first.held();
    assert_eq!(
        Snapshot::load(&envelope(4, true, &k), &opts)
            .unwrap_err()
            .code(),
        ErrorCode::SnapshotRollback
    );
    // Same version, other content: refused.
    assert_eq!(
        Snapshot::load(&envelope(5, false, &k), &opts)
            .unwrap_err()
            .code(),
        ErrorCode::SnapshotRollback
    );
    // Same version and content (a refetch) and a newer version: accepted.
    assert!(Snapshot::load(&envelope(5, true, &k), &opts).is_ok());
    assert!(Snapshot::load(&envelope(6, false, &k), &opts).is_ok());
    // A minimum version refuses older snapshots even with nothing held.
    let mut fresh = LoadOptions::new(&keys, "production", NOW);
    fresh.min_version = 6;
    assert_eq!(
        Snapshot::load(&envelope(5, true, &k), &fresh)
            .unwrap_err()
            .code(),
        ErrorCode::SnapshotRollback
    );
    assert!(Snapshot::load(&envelope(6, true, &k), &fresh).is_ok());
    let digest = String::from("sha256:x");
    opts.held = Some(Held {
        version: 1,
        digest: &digest,
    });
    assert!(Snapshot::load(&envelope(2, true, &k), &opts).is_ok());
}

#[test]
fn expiry_is_checked_against_the_callers_clock() {
    let k = key(1);
    let keys = [trusted(&k)];
    let env = envelope(1, true, &k);
    assert!(Snapshot::load(&env, &LoadOptions::new(&keys, "production", NOW + 59_999)).is_ok());
    let err =
        Snapshot::load(&env, &LoadOptions::new(&keys, "production", NOW + 60_000)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SnapshotExpired);
}

/// A signed snapshot of `project` / `environment` / `audience` (a client snapshot holds only
/// client-visible flags, as `client_view` derives it).
fn identity_envelope(project: &str, environment: &str, audience: &str, k: &SigningKey) -> Vec<u8> {
    let mut doc = json!({
        "format": 1, "project": project, "environment": environment, "version": 3,
        "issued_at": NOW - 10, "expires_at": NOW + 60_000, "salt": "s",
        "flags": [{"key": "banner", "type": "string", "variants": {"a": "Hello"}, "enabled": true,
                   "off_variant": "a", "default": {"variant": "a"}, "client_visible": true}]
    });
    if audience != "server" {
        doc["audience"] = json!(audience);
    }
    let payload = serde_json::to_vec(&doc).unwrap();
    serde_json::to_vec(&sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, k)).unwrap()
}

#[test]
fn project_is_checked_when_configured() {
    let k = key(1);
    let keys = [trusted(&k)];
    let env = identity_envelope("webshop", "production", "server", &k);
    // Not configured (a tool inspecting any snapshot): any project loads.
    assert!(Snapshot::load(&env, &LoadOptions::new(&keys, "production", NOW)).is_ok());
    let opts = LoadOptions::new(&keys, "production", NOW).for_project("webshop");
    assert_eq!(
        Snapshot::load(&env, &opts).unwrap().info().project,
        "webshop"
    );
    let other = LoadOptions::new(&keys, "production", NOW).for_project("blog");
    let err = Snapshot::load(&env, &other).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ProjectMismatch);
    assert_eq!(
        err.to_string(),
        "snapshot is for project \"webshop\", expected \"blog\""
    );
}

#[test]
fn audience_is_checked_server_by_default() {
    let k = key(1);
    let keys = [trusted(&k)];
    let server = identity_envelope("p", "production", "server", &k);
    let client = identity_envelope("p", "production", "client", &k);
    let server_sdk = LoadOptions::new(&keys, "production", NOW);
    let client_sdk = server_sdk.for_audience(Audience::Client);
    assert_eq!(
        server_sdk.audience,
        Audience::Server,
        "the default audience"
    );
    assert!(Snapshot::load(&server, &server_sdk).is_ok());
    let s = Snapshot::load(&client, &client_sdk).unwrap();
    assert_eq!(s.info().audience, Audience::Client);
    // A client snapshot fed to a server SDK, and a server snapshot to a client SDK.
    let err = Snapshot::load(&client, &server_sdk).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AudienceMismatch);
    assert_eq!(
        err.to_string(),
        "snapshot is for audience \"client\", expected \"server\""
    );
    let err = Snapshot::load(&server, &client_sdk).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AudienceMismatch);
    assert_eq!(Audience::parse("client"), Some(Audience::Client));
    assert_eq!(Audience::parse("Client"), None);
}

/// spec/SNAPSHOT.md §5.3: project, then environment, then audience, then anti-rollback and
/// expiry, all after the signature, payload type and parse.
#[test]
fn identity_checks_run_in_the_specified_order() {
    let k = key(1);
    let keys = [trusted(&k)];
    let code = |env: &[u8], opts: &LoadOptions<'_>| Snapshot::load(env, opts).unwrap_err().code();
    // Everything wrong at once: a client snapshot of another project and environment, older
    // than held and expired.
    let env = identity_envelope("blog", "staging", "client", &k);
    let digest = String::from("sha256:0");
    let mut opts = LoadOptions::new(&keys, "production", NOW + 60_000).for_project("webshop");
    opts.held = Some(Held {
        version: 9,
        digest: &digest,
    });
    assert_eq!(code(&env, &opts), ErrorCode::ProjectMismatch);
    opts.project = Some("blog");
    assert_eq!(code(&env, &opts), ErrorCode::EnvironmentMismatch);
    opts.environment = "staging";
    assert_eq!(code(&env, &opts), ErrorCode::AudienceMismatch);
    opts.audience = Audience::Client;
    assert_eq!(code(&env, &opts), ErrorCode::SnapshotRollback);
    opts.held = None;
    assert_eq!(code(&env, &opts), ErrorCode::SnapshotExpired);
    opts.now = NOW;
    assert!(Snapshot::load(&env, &opts).is_ok());
    // An untrusted signer is refused before the project is looked at.
    let stranger = identity_envelope("blog", "staging", "client", &key(9));
    assert_eq!(code(&stranger, &opts), ErrorCode::KeyUntrusted);
}

#[test]
fn error_codes_are_unique_and_parse_back() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        assert!(seen.insert(code.as_str()), "duplicate {code}");
        assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        assert!(
            code.as_str()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
        );
    }
    assert_eq!(ErrorCode::parse("NOT_A_CODE"), None);
}

#[test]
fn spec_lists_every_error_code_and_reason() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/SNAPSHOT.md"))
        .unwrap();
    for code in ErrorCode::ALL {
        assert!(
            spec.contains(&format!("`{}`", code.as_str())),
            "SNAPSHOT.md lacks {code}"
        );
    }
    for r in [
        Reason::Static,
        Reason::Default,
        Reason::TargetingMatch,
        Reason::Split,
        Reason::Disabled,
        Reason::PrerequisiteFailed,
        Reason::Error,
    ] {
        assert!(
            spec.contains(&format!("`{}`", r.as_str())),
            "SNAPSHOT.md lacks {}",
            r.as_str()
        );
    }
}

#[test]
fn context_from_json_names_the_bad_attribute() {
    for (input, needle) in [
        (json!([1]), "JSON object"),
        (json!({"targetingKey": 7}), "targetingKey"),
        (json!({"plan": null}), "\"plan\""),
        (json!({"address": {"city": "Berlin"}}), "\"address\""),
        (json!({"groups": ["a", 1]}), "\"groups\""),
    ] {
        let err = Context::from_json(&input).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidContext);
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    }
    assert!(Context::from_json_str("{not json").is_err());
    let ctx = Context::from_json(&json!({"targetingKey": "u", "age": 3, "beta": true, "g": ["x"]}))
        .unwrap();
    assert_eq!(ctx.targeting_key(), Some("u"));
    assert_eq!(ctx.get("age"), Some(&3.0.into()));
    assert_eq!(ctx.get("targetingKey"), None);
    assert_eq!(serde_json::to_value(&ctx).unwrap()["beta"], json!(true));
}

#[test]
fn context_set_replaces_and_keeps_lookups_working() {
    let mut ctx = Context::anonymous();
    for i in 0..50 {
        ctx.set(&format!("a{i}"), (i as f64).into());
    }
    ctx.set("a7", "seven".into());
    assert_eq!(ctx.get("a7"), Some(&"seven".into()));
    for i in (0..50).filter(|i| *i != 7) {
        assert_eq!(ctx.get(&format!("a{i}")), Some(&(i as f64).into()));
    }
    assert_eq!(ctx.get("a50"), None);
}

#[test]
fn exposure_records_what_was_served() {
    let k = key(1);
    let keys = [trusted(&k)];
    let snap = Snapshot::load(
        &envelope(9, true, &k),
        &LoadOptions::new(&keys, "production", NOW),
    )
    .unwrap();
    let ctx = Context::new("user-1");
    let d = snap.evaluate("checkout", &ctx, NOW);
    let e = snap.exposure("checkout", &d, &ctx, NOW + 5).unwrap();
    assert_eq!(e.flag, "checkout");
    assert_eq!(Some(e.variant.as_str()), d.variant);
    assert_eq!(e.reason, "SPLIT");
    assert_eq!(e.targeting_key.as_deref(), Some("user-1"));
    assert_eq!(e.snapshot_version, 9);
    assert_eq!(e.snapshot_digest, snap.info().digest);
    assert_eq!(e.time, NOW + 5);
    let missing = snap.evaluate("nope", &ctx, NOW);
    assert!(snap.exposure("nope", &missing, &ctx, NOW).is_none());
}

#[test]
fn evaluate_all_covers_every_flag_in_order() {
    let snap = Snapshot::from_json(&payload(1, true)).unwrap();
    let all = snap.evaluate_all(&Context::new("u"), NOW);
    let keys: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["checkout", "banner"]);
    assert_eq!(all[1].1.reason, Reason::Static);
    assert_eq!(
        all[0].1.metadata.get("owner"),
        Some(&burgee_core::MetadataValue::String("team-checkout".into()))
    );
}

#[test]
fn long_prerequisite_chains_are_refused_without_recursing() {
    let n = 2000;
    let flags: Vec<_> = (0..n)
        .map(|i| {
            let mut f = json!({"key": format!("f{i}"), "type": "boolean", "variants": {"on": true, "off": false},
                "enabled": true, "off_variant": "off", "default": {"variant": "on"}});
            if i > 0 {
                f["prerequisites"] = json!([{"flag": format!("f{}", i - 1), "variants": ["on"]}]);
            }
            f
        })
        .collect();
    let doc = json!({"format": 1, "project": "p", "environment": "e", "version": 1, "issued_at": 0,
        "expires_at": 1, "salt": "s", "flags": flags});
    // The check is iterative: a 2000-flag chain is refused (spec §10), not a stack overflow.
    let e = Snapshot::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SnapshotInvalid);
    assert!(
        e.to_string().contains("prerequisite chain is 17 deep"),
        "{e}"
    );
}

#[test]
fn a_split_reports_the_units_bucket_and_other_reasons_none() {
    let snap = Snapshot::from_json(&payload(1, true)).unwrap();
    for unit in ["u1", "u2", "u3", "u4"] {
        let d = snap.evaluate("checkout", &Context::new(unit), NOW);
        assert_eq!(d.reason, Reason::Split);
        // The rollout's seed is the flag key; the salt is the snapshot's.
        let b = burgee_core::bucket("s", "checkout", unit);
        assert_eq!(d.bucket, Some(b), "{unit}");
        assert_eq!(d.variant, Some(if b < 5000 { "on" } else { "off" }));
    }
    let d = snap.evaluate("checkout", &Context::new("u1").with("plan", "beta"), NOW);
    assert_eq!((d.reason, d.bucket), (Reason::TargetingMatch, None));
}
