//! Property tests over hostile input: arbitrary and mutated envelopes,
//! snapshots and contexts never panic, a mutated signed envelope never loads as anything but
//! the original, and evaluation is deterministic. (cargo-fuzz needs a nightly toolchain, which
//! this project's machines do not have; proptest runs the same idea on stable, in CI.)

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use burgee_core::{
    Context, LoadOptions, SNAPSHOT_PAYLOAD_TYPE, Snapshot, TrustedKey, parse_document,
    sign_envelope,
};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::Value;

const NOW: u64 = 1_800_000_000_000;

/// Every snapshot document of the evaluation vectors, as compact JSON bytes (read once).
fn vector_snapshots() -> &'static [Vec<u8>] {
    static CACHE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(read_vector_snapshots)
}

fn read_vector_snapshots() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/eval");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        out.push(serde_json::to_vec(&doc["snapshot"]).unwrap());
    }
    out.sort();
    out
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[3u8; 32])
}

/// A vector snapshot re-labelled for the `test` environment, signed.
fn signed(payload: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&sign_envelope(
        SNAPSHOT_PAYLOAD_TYPE,
        payload,
        &signing_key(),
    ))
    .unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(bytes: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in muts {
        if b.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip(i, x) => {
                let i = i % b.len();
                b[i] ^= x;
            }
            Mutation::Truncate(i) => b.truncate(i % b.len()),
            Mutation::Insert(i, x) => {
                let i = i % (b.len() + 1);
                b.insert(i, x);
            }
            Mutation::Delete(i) => {
                let i = i % b.len();
                b.remove(i);
            }
        }
    }
    b
}

fn attribute_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,12}".prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        proptest::collection::vec(".{0,6}", 0..4).prop_map(Value::from),
        // Values the vectors' clauses test for, so rules actually match sometimes.
        prop::sample::select(vec![
            "DE",
            "FR",
            "US",
            "2.1.0",
            "1.0.0-rc.1",
            "2026-01-01T00:00:00Z",
            "abc-123",
            "x@burgee.dev",
            "u-in"
        ])
        .prop_map(Value::from),
    ]
}

fn context() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "targetingKey",
        "country",
        "age",
        "email",
        "plan",
        "groups",
        "app_version",
        "signup",
        "company",
        "sku",
        "beta",
        "x",
    ]);
    proptest::collection::btree_map(names, attribute_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let keys = [TrustedKey::from_bytes(signing_key().verifying_key().as_bytes()).unwrap()];
        let _ = Snapshot::load(&bytes, &LoadOptions::new(&keys, "test", NOW));
        let _ = Snapshot::from_json(&bytes);
    }

    #[test]
    fn a_mutated_envelope_loads_only_as_the_original(
        which in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 1..4),
    ) {
        let snapshots = vector_snapshots();
        let payload = which.get::<Vec<u8>>(snapshots);
        let envelope = signed(payload);
        let keys = [TrustedKey::from_bytes(signing_key().verifying_key().as_bytes()).unwrap()];
        // The vectors hold client snapshots too: read each as its own audience.
        let audience = parse_document(payload).unwrap().audience;
        let opts = LoadOptions::new(&keys, "test", NOW).for_audience(audience);
        let original = Snapshot::load(&envelope, &opts).unwrap();
        let mutated = apply(&envelope, &muts);
        if let Ok(s) = Snapshot::load(&mutated, &opts) {
            prop_assert_eq!(&s.info().digest, &original.info().digest);
        }
    }

    #[test]
    fn mutated_snapshots_never_panic_and_evaluate(
        which in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 1..3),
        ctx in context(),
    ) {
        let snapshots = vector_snapshots();
        let mutated = apply(which.get::<Vec<u8>>(snapshots), &muts);
        if let Ok(snap) = Snapshot::from_json(&mutated)
            && let Ok(ctx) = Context::from_json(&ctx)
        {
            for (_, d) in snap.evaluate_all(&ctx, NOW) {
                prop_assert_eq!(d.error.is_some(), d.variant.is_none());
            }
        }
    }

    #[test]
    fn evaluation_is_total_and_deterministic(which in any::<prop::sample::Index>(), ctx in context(), now in any::<u64>()) {
        let snapshots = vector_snapshots();
        let snap = Snapshot::from_json(which.get::<Vec<u8>>(snapshots)).unwrap();
        let Ok(ctx) = Context::from_json(&ctx) else { return Ok(()) };
        let first: Vec<String> = snap.evaluate_all(&ctx, now).iter().map(|(k, d)| format!("{k}={}", serde_json::to_string(d).unwrap())).collect();
        let second: Vec<String> = snap.evaluate_all(&ctx, now).iter().map(|(k, d)| format!("{k}={}", serde_json::to_string(d).unwrap())).collect();
        prop_assert_eq!(first, second);
    }
}
