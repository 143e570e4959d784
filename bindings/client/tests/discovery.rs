//! Service discovery against a real `burgee serve --demo` with a fast registry: instances
//! register themselves with [`Registration`] and heartbeat, a [`DiscoveryClient`] sees them
//! over the signed catalog's stream and chooses among them with the core's balancer, failures
//! reported open an instance's circuit, an instance whose process stops heartbeating leaves
//! every client within its lease, and a closed registration leaves at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use burgee_client::{ClientOptions, DiscoveryClient, Outcome, Registration, Strategy};
use burgee_test_support::Serve;
use common::{burgee_bin, wait_for};
use serde_json::json;

struct Fast {
    process: burgee_test_support::ServerProcess,
}

/// `burgee serve --demo` judging 1 s leases every 100 ms, no grace period, removal 500 ms
/// after a lapse, catalog publishes at most every 20 ms.
fn start(dir: &std::path::Path) -> Fast {
    let process = Serve::new(burgee_bin(), dir)
        .args([
            "--demo",
            "--registry-grace-ms",
            "0",
            "--registry-tick-ms",
            "100",
            "--registry-remove-after-ms",
            "500",
            "--registry-publish-interval-ms",
            "20",
        ])
        .start();
    Fast { process }
}

fn options(f: &Fast) -> ClientOptions {
    let ready = f.process.ready();
    let mut o = ClientOptions::new("production", vec![ready.public_keys["production"].clone()]);
    o.server_url = Some(f.process.url().to_owned());
    o.sdk_key = Some(ready.sdk_keys["production"].clone());
    o.project = Some("webshop".into());
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 400;
    o.request_timeout_ms = 2_000;
    o
}

fn ids(c: &DiscoveryClient, service: &str) -> Vec<String> {
    c.discover(service).into_iter().map(|i| i.id).collect()
}

#[test]
fn register_discover_choose_and_leave() {
    let dir = tempfile::tempdir().unwrap();
    let f = start(dir.path());
    let opts = options(&f);
    let client = DiscoveryClient::new(opts.clone()).unwrap();
    let mut regs: Vec<Registration> = (1..=2)
        .map(|i| {
            let body = json!({"address": "127.0.0.1", "port": 9000 + i, "lease_ms": 1000,
                              "weight": 100 * i});
            Registration::start(&opts, "api", &format!("api-{i}"), &body).unwrap()
        })
        .collect();
    // api-3 registers and then its process dies: no heartbeat ever comes.
    let url = format!(
        "{}/v1/projects/webshop/environments/production/services/api/instances/api-3",
        f.process.url()
    );
    let r = common::agent()
        .put(&url)
        .header(
            "Authorization",
            &format!("Bearer {}", opts.sdk_key.clone().unwrap()),
        )
        .header("Content-Type", "application/json")
        .send(
            json!({"address": "127.0.0.1", "port": 9003, "lease_ms": 2000, "weight": 300})
                .to_string(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert!(
        wait_for(Duration::from_secs(5), || ids(&client, "api").len() == 3).is_some(),
        "discovered {:?}",
        ids(&client, "api")
    );
    let registered = std::time::Instant::now();
    assert_eq!(client.discover("api")[2].weight, 300);
    assert!(client.discover("nope").is_empty());
    assert!(
        client
            .choose("nope", Strategy::default(), None, &[])
            .is_none()
    );

    // Every strategy chooses among the three; consistent hashing is stable for a key.
    for strategy in [Strategy::RoundRobin, Strategy::WeightedRandom] {
        let mut seen = BTreeSet::new();
        for _ in 0..60 {
            let i = client.choose("api", strategy, None, &[]).unwrap();
            client.report("api", &i.id, Outcome::Success);
            seen.insert(i.id);
        }
        assert_eq!(seen.len(), 3, "{strategy:?} chose {seen:?}");
    }
    // Least request spreads requests in flight by weight (100 : 200 : 300).
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..60 {
        let i = client
            .choose("api", Strategy::LeastRequest, None, &[])
            .unwrap();
        *counts.entry(i.id).or_default() += 1;
    }
    for (id, n) in &counts {
        for _ in 0..*n {
            client.report("api", id, Outcome::Success);
        }
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts["api-3"] > counts["api-1"], "{counts:?}");
    let a = client
        .choose("api", Strategy::ConsistentHash, Some("user-7"), &[])
        .unwrap();
    client.report("api", &a.id, Outcome::Success);
    let b = client
        .choose("api", Strategy::ConsistentHash, Some("user-7"), &[])
        .unwrap();
    client.report("api", &b.id, Outcome::Success);
    assert_eq!(a.id, b.id);
    // A retry on another instance.
    let other = client
        .choose("api", Strategy::RoundRobin, None, &[a.id.as_str()])
        .unwrap();
    assert_ne!(other.id, a.id);
    client.report("api", &other.id, Outcome::Cancelled);

    // Five failures open api-1's circuit: it is not chosen while the others are.
    for _ in 0..5 {
        client.choose("api", Strategy::RoundRobin, None, &["api-2", "api-3"]);
        client.report("api", "api-1", Outcome::Failure);
    }
    for _ in 0..30 {
        let i = client
            .choose("api", Strategy::RoundRobin, None, &[])
            .unwrap();
        assert_ne!(i.id, "api-1", "an open circuit is skipped");
        client.report("api", &i.id, Outcome::Success);
    }

    // api-3 leaves every client within its lease (2 s from registration) plus a tick and a
    // publish.
    let left = wait_for(Duration::from_secs(6), || {
        !ids(&client, "api").contains(&"api-3".to_owned())
    });
    assert!(left.is_some(), "api-3 never left");
    let after = registered.elapsed();
    assert!(
        after < Duration::from_millis(3500),
        "left {after:?} after registering"
    );
    // A closed registration deregisters at once.
    regs.pop().unwrap().close().unwrap();
    assert_eq!(regs.len(), 1);
    assert!(
        wait_for(Duration::from_secs(3), || ids(&client, "api") == ["api-1"]).is_some(),
        "{:?}",
        ids(&client, "api")
    );
    client.close();
}

#[test]
fn a_registration_the_server_refuses_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = start(dir.path());
    let opts = options(&f);
    let err = Registration::start(
        &opts,
        "api",
        "api-1",
        &json!({"address": "127.0.0.1", "port": 0}),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("400") && err.to_string().contains("port"),
        "{err}"
    );
}
