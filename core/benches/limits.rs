//! The worst snapshots the limits of `burgee_core::limits` allow (`spec/SNAPSHOT.md` §10):
//! prerequisite graphs as deep as allowed where every flag requires every flag of the layer
//! below (without per-evaluation memoisation one evaluation of the top flag would resolve
//! `width^16` flags), a maximal chain, and conditions nested to the limit. Prints the time of
//! one evaluation of the top flag.
//!
//! Run: `cargo bench -p burgee-core --bench limits`

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use burgee_core::limits::{MAX_CONDITION_DEPTH, MAX_PREREQUISITE_DEPTH};
use burgee_core::{Context, Snapshot};
use criterion::{Criterion, criterion_group};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000_000;

fn boolean(key: &str, prerequisites: &[String], when: Option<&Value>) -> Value {
    let mut f = json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false},
        "enabled": true, "off_variant": "off", "default": {"variant": "on"},
        "prerequisites": prerequisites.iter()
            .map(|p| json!({"flag": p, "variants": ["on"]})).collect::<Vec<_>>()});
    if let Some(when) = when {
        f["rules"] = json!([{"id": "r", "when": when, "serve": {"variant": "on"}}]);
    }
    f
}

/// `MAX_PREREQUISITE_DEPTH + 1` layers of `width` flags, each requiring all of the layer below;
/// every flag also has a rule whose condition is nested to the limit.
fn dense(width: usize) -> Snapshot {
    let mut when = json!({"attribute": "country", "op": "in", "values": ["DE", "FR", "NL"]});
    for i in 1..MAX_CONDITION_DEPTH {
        when = if i % 2 == 0 {
            json!({"all": [when, {"attribute": "age", "op": "gte", "value": 18}]})
        } else {
            json!({"any": [when, {"attribute": "plan", "op": "equals", "value": "pro"}]})
        };
    }
    let mut flags = Vec::new();
    for l in 0..=MAX_PREREQUISITE_DEPTH {
        let below: Vec<String> = if l == 0 {
            Vec::new()
        } else {
            (0..width).map(|b| format!("l{}-{b}", l - 1)).collect()
        };
        for w in 0..width {
            flags.push(boolean(&format!("l{l}-{w}"), &below, Some(&when)));
        }
    }
    let doc = json!({"format": 1, "project": "p", "environment": "production", "version": 1,
        "issued_at": NOW - 10, "expires_at": NOW + 60_000, "salt": "s", "flags": flags});
    Snapshot::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn bench(c: &mut Criterion) {
    let ctx = Context::new("user-42")
        .with("country", "FR")
        .with("age", 31.0)
        .with("plan", "free");
    for width in [1, 8, 32] {
        let snap = dense(width);
        let top = format!("l{MAX_PREREQUISITE_DEPTH}-0");
        assert_eq!(snap.evaluate(&top, &ctx, NOW).variant, Some("on"));
        let flags = (MAX_PREREQUISITE_DEPTH + 1) * width;
        let edges = MAX_PREREQUISITE_DEPTH * width * width;
        c.bench_function(
            &format!("limits/evaluate_top/{flags}_flags_{edges}_prerequisites"),
            |b| b.iter(|| black_box(snap.evaluate(black_box(&top), &ctx, NOW))),
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
