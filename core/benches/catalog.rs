//! The cost of one `Balancer::choose` + `report` over a 20-instance service, per strategy
//! (issue goal: ≤ 200 ns per `choose()` in Rust), and of loading a 100-service catalog.
//!
//! Run: `cargo bench -p burgee-core --bench catalog`

// Bench code: a failed expectation should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use burgee_core::{Balancer, CatalogDocument, CatalogDocumentDef, Choice, Outcome, Strategy};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const NOW: u64 = 1_800_000_000_000;

/// `services` services of `instances` instances each, weights 50..=250.
fn catalog(services: usize, instances: usize) -> CatalogDocumentDef {
    let services: Vec<_> = (0..services)
        .map(|s| {
            let instances: Vec<_> = (0..instances)
                .map(|i| {
                    json!({"id": format!("i-{i:03}"), "scheme": "http",
                        "address": format!("10.0.{s}.{i}"), "port": 8080,
                        "weight": 50 + (i % 5) * 50, "health": "passing", "zone": "eu-1"})
                })
                .collect();
            json!({"name": format!("svc-{s:03}"), "instances": instances})
        })
        .collect();
    serde_json::from_value(
        json!({"format": 1, "project": "p", "environment": "production",
        "version": 1, "issued_at": 1, "expires_at": 2_000_000_000_000_u64,
        "services": services}),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let def = catalog(10, 20);
    let doc = CatalogDocument::compile(&def, None).unwrap();
    let mut g = c.benchmark_group("choose+report, 20 instances");
    for (name, strategy, key) in [
        ("round_robin", Strategy::RoundRobin, None),
        ("weighted_random", Strategy::WeightedRandom, None),
        ("least_request", Strategy::LeastRequest, None),
        ("consistent_hash", Strategy::ConsistentHash, Some("user-42")),
    ] {
        let mut b = Balancer::default();
        let mut random = 0u64;
        let choice = Choice {
            strategy,
            key,
            exclude: &[],
        };
        g.bench_function(name, |bench| {
            bench.iter(|| {
                random = random.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let i = b.choose(&doc, "svc-005", &choice, random, NOW).unwrap();
                let id = i.id.as_str();
                b.report("svc-005", black_box(id), Outcome::Success, NOW);
            });
        });
    }
    g.finish();
    let big = catalog(100, 20);
    c.bench_function("compile a 100-service, 2000-instance catalog", |bench| {
        bench.iter(|| CatalogDocument::compile(black_box(&big), None).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
