//! Core hot paths: load (verify + parse + compile), one evaluation, evaluate-all.
//!
//! Flag set (shared with other engines' benchmarks so figures compare): every flag has one
//! rule `environment in [production, staging]` ∧ `country in [5 values]` ∧ `age >= 18`
//! serving a 50/50 rollout by targeting key (even flags, boolean) or a 33/33/34 split over three
//! string variants (odd flags); 100 and 1000 flags; a pool of 1024 users.
//!
//! Run: `cargo bench -p burgee-core --bench evaluate`

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use burgee_core::{
    Context, LoadOptions, SNAPSHOT_PAYLOAD_TYPE, Snapshot, TrustedKey, sign_envelope,
};
use criterion::{BatchSize, Criterion, criterion_group};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000_000;

fn flag(i: usize) -> Value {
    let when = json!({"all": [
        {"attribute": "environment", "op": "in", "values": ["production", "staging"]},
        {"attribute": "country", "op": "in", "values": ["DE", "FR", "NL", "US", "GB"]},
        {"attribute": "age", "op": "gte", "value": 18}
    ]});
    if i.is_multiple_of(2) {
        json!({"key": format!("flag-{i}"), "type": "boolean", "variants": {"on": true, "off": false},
            "enabled": true, "off_variant": "off",
            "rules": [{"id": "r1", "when": when, "serve": {"rollout": {"weights": [
                {"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}],
            "default": {"variant": "off"}})
    } else {
        json!({"key": format!("flag-{i}"), "type": "string",
            "variants": {"control": "control", "a": "variant-a", "b": "variant-b"},
            "enabled": true, "off_variant": "control",
            "rules": [{"id": "r1", "when": when, "serve": {"rollout": {"weights": [
                {"variant": "control", "weight": 3300}, {"variant": "a", "weight": 3300},
                {"variant": "b", "weight": 3400}]}}}],
            "default": {"variant": "control"}})
    }
}

fn envelope(n: usize, key: &SigningKey) -> Vec<u8> {
    let doc = json!({"format": 1, "project": "bench", "environment": "production", "version": 1,
        "issued_at": NOW - 1000, "expires_at": NOW + 86_400_000, "salt": "0123456789abcdef",
        "flags": (0..n).map(flag).collect::<Vec<_>>()});
    let payload = serde_json::to_vec(&doc).unwrap();
    serde_json::to_vec(&sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, key)).unwrap()
}

fn users() -> Vec<Context> {
    let envs = ["production", "staging", "development"];
    let countries = ["DE", "FR", "NL", "US", "GB", "IT", "ES", "JP"];
    (0..1024u32)
        .map(|i| {
            // A fixed LCG keeps the pool identical across runs without a rand dependency.
            let r = i.wrapping_mul(2_654_435_761).rotate_left(7);
            Context::new(format!("user-{i}"))
                .with("environment", envs[(r % 3) as usize])
                .with("country", countries[((r >> 4) % 8) as usize])
                .with("age", f64::from(10 + (r >> 8) % 60))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let trusted = [TrustedKey::from_bytes(key.verifying_key().as_bytes()).unwrap()];
    let pool = users();

    c.bench_function("bucket (SHA-256)", |b| {
        b.iter(|| {
            burgee_core::bucket(
                black_box("0123456789abcdef"),
                black_box("flag-17"),
                black_box("user-1023"),
            )
        });
    });

    for n in [100usize, 1000] {
        let env = envelope(n, &key);
        let opts = LoadOptions::new(&trusted, "production", NOW);
        c.bench_function(&format!("load/{n}_flags ({} KiB)", env.len() / 1024), |b| {
            b.iter(|| Snapshot::load(black_box(&env), &opts).unwrap());
        });
        let snap = Snapshot::load(&env, &opts).unwrap();
        let keys: Vec<String> = (0..n).map(|i| format!("flag-{i}")).collect();
        // (flag, user) pairs precomputed so the measured loop does no division.
        let pairs: Vec<(&str, &Context)> = (0..4096usize)
            .map(|i| (keys[i % n].as_str(), &pool[(i * 7) % 1024]))
            .collect();

        c.bench_function(&format!("evaluate/one/{n}_flags"), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) & 4095;
                let (flag, ctx) = pairs[i];
                black_box(snap.evaluate(flag, ctx, NOW).variant);
            });
        });
        c.bench_function(&format!("evaluate/one_typed_bool/{n}_flags"), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 2) & 4095; // even flags are the boolean ones
                let (flag, ctx) = pairs[i];
                black_box(snap.get_bool(flag, ctx, NOW, false).value);
            });
        });
        c.bench_function(&format!("evaluate/fresh_context/{n}_flags"), |b| {
            let mut i = 0usize;
            b.iter_batched(
                || {
                    i = i.wrapping_add(1);
                    i
                },
                |i| {
                    let ctx = Context::new(format!("user-{}", i % 1024))
                        .with("environment", "production")
                        .with("country", "DE")
                        .with("age", 30.0);
                    black_box(snap.evaluate(&keys[i % n], &ctx, NOW).variant);
                },
                BatchSize::SmallInput,
            );
        });
        if n == 100 {
            c.bench_function("evaluate/all/100_flags", |b| {
                let mut i = 0usize;
                b.iter(|| {
                    i = i.wrapping_add(1);
                    black_box(snap.evaluate_all(&pool[i % 1024], NOW).len());
                });
            });
        }
    }
}

/// Per-call latency distribution of one evaluation (the goal is a median): each call is
/// timed on its own with `Instant`, and the cost of the timing itself (measured the same way
/// around an empty block) is reported next to it. Criterion's figures above are means over
/// batches, which mix the ~64 % of calls that stop at a condition with the ~36 % that hash.
fn latency_distribution() {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let trusted = [TrustedKey::from_bytes(key.verifying_key().as_bytes()).unwrap()];
    let snap = Snapshot::load(
        &envelope(100, &key),
        &LoadOptions::new(&trusted, "production", NOW),
    )
    .unwrap();
    let pool = users();
    let keys: Vec<String> = (0..100).map(|i| format!("flag-{i}")).collect();
    let samples = 400_000usize;
    let mut calls = Vec::with_capacity(samples);
    let mut empty = Vec::with_capacity(samples);
    for i in 0..samples {
        let (flag, ctx) = (keys[i % 100].as_str(), &pool[(i * 7) % 1024]);
        let t = std::time::Instant::now();
        black_box(snap.evaluate(black_box(flag), ctx, NOW).variant);
        calls.push(t.elapsed().as_nanos());
        let t = std::time::Instant::now();
        black_box(flag);
        empty.push(t.elapsed().as_nanos());
    }
    calls.sort_unstable();
    empty.sort_unstable();
    let pct = |v: &[u128], p: f64| v[((v.len() - 1) as f64 * p) as usize];
    println!(
        "evaluate/one/100_flags per-call latency incl. timer: p50 {} ns, p90 {} ns, p99 {} ns; timer alone: p50 {} ns",
        pct(&calls, 0.5),
        pct(&calls, 0.9),
        pct(&calls, 0.99),
        pct(&empty, 0.5)
    );
}

criterion_group!(benches, bench);

fn main() {
    latency_distribution();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
