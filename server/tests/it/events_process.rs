//! Event ingestion and analysis with the real binary: crash safety (`kill -9` while SDK-shaped
//! batches are posted: every batch answered 202 is in the log exactly once, and retrying every
//! batch after the restart stores nothing twice), and `burgee experiment results`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burgee_server::events::log::{EventLog, LogConfig};
use burgee_server::now_ms;
use burgee_test_support::{Serve, ServerProcess};
use serde_json::json;

fn start(data_dir: &Path) -> (ServerProcess, String) {
    let server = Serve::new(env!("CARGO_BIN_EXE_burgee"), data_dir)
        .args(["--demo"])
        .start();
    let base = server.url().to_owned();
    (server, base)
}

fn sdk_key(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("credentials.env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("export BURGEE_SDK_KEY_PRODUCTION="))
        .unwrap()
        .to_owned()
}

fn body(id: &str, n: usize) -> Vec<u8> {
    let t = now_ms();
    let events: Vec<_> = (0..n)
        .map(|i| json!({"kind": "track", "key": "purchase", "value": i, "targeting_key": format!("u{i}"), "time": t}))
        .collect();
    serde_json::to_vec(
        &json!({"batch_id": id, "sdk": {"name": "crash-test", "version": "1"}, "events": events}),
    )
    .unwrap()
}

/// POSTs a batch; `Some((accepted, duplicate))` for a 202, `None` when the server did not answer.
fn post(agent: &ureq::Agent, base: &str, key: &str, id: &str) -> Option<(u64, bool)> {
    let mut resp = agent
        .post(&format!("{base}/v1/events"))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(&body(id, 200)[..])
        .ok()?;
    assert_eq!(resp.status(), 202, "{id}");
    let v: serde_json::Value = serde_json::from_slice(&resp.body_mut().read_to_vec().ok()?).ok()?;
    Some((
        v["accepted"].as_u64().unwrap(),
        v["duplicate"].as_bool().unwrap(),
    ))
}

/// batch id → number of times it is stored, with its event count.
fn stored(data_dir: &Path) -> HashMap<String, (usize, usize)> {
    let log = EventLog::open(LogConfig::new(data_dir.join("events"))).unwrap();
    let mut out: HashMap<String, (usize, usize)> = HashMap::new();
    log.scan("webshop", "production", |b| {
        let e = out.entry(b.batch_id.clone()).or_default();
        e.0 += 1;
        e.1 = b.events.len();
    })
    .unwrap();
    out
}

#[test]
fn every_acknowledged_batch_survives_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = start(dir.path());
    let key = sdk_key(dir.path());
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (base, key, acked, attempted) = (
                base.clone(),
                key.clone(),
                Arc::clone(&acked),
                Arc::clone(&attempted),
            );
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                for n in 0.. {
                    let id = format!("crash-{t}-{n:05}");
                    attempted.lock().unwrap().push(id.clone());
                    match post(&agent, &base, &key, &id) {
                        Some((200, false)) => acked.lock().unwrap().push(id),
                        Some(other) => panic!("{id}: unexpected answer {other:?}"),
                        None => return, // the server is gone
                    }
                    assert!(Instant::now() < deadline, "the server was never killed");
                }
            })
        })
        .collect();
    // Let enough batches be acknowledged, then kill -9 mid-stream.
    while acked.lock().unwrap().len() < 40 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill(); // SIGKILL
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let attempted = attempted.lock().unwrap().clone();

    let after_crash = stored(dir.path());
    for id in &acked {
        assert_eq!(
            after_crash.get(id),
            Some(&(1, 200)),
            "acknowledged batch {id} must be stored once"
        );
    }
    assert!(after_crash.values().all(|(times, _)| *times == 1));

    // Restart and retry every attempted batch: the acknowledged ones are duplicates.
    let (server, base) = start(dir.path());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    for id in &attempted {
        let (accepted, duplicate) = post(&agent, &base, &key, id).unwrap();
        assert_eq!(accepted, 200);
        if acked.contains(id) {
            assert!(duplicate, "{id} was acknowledged before the crash");
        }
    }
    drop(server);
    let after_retry = stored(dir.path());
    assert_eq!(after_retry.len(), attempted.len());
    assert!(after_retry.values().all(|v| *v == (1, 200)));
}

#[test]
fn experiment_results_cli_prints_the_table_and_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let key = sdk_key(dir.path());
    let admin = std::fs::read_to_string(dir.path().join("credentials.env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("export BURGEE_ADMIN_TOKEN="))
        .unwrap()
        .to_owned();
    let t = now_ms() - 1000;
    let digest = format!("sha256:{}", "0".repeat(64));
    let mut events = Vec::new();
    for i in 0..90 {
        let unit = format!("user-{i}");
        let variant = ["control", "discount-10", "free-shipping"][i % 3];
        events.push(json!({"kind": "exposure", "flag": "pricing-experiment", "variant": variant, "reason": "SPLIT",
            "rule_id": "eligible-markets", "targeting_key": unit, "snapshot_version": 1, "snapshot_digest": digest, "time": t}));
        if i % 2 == 0 {
            events.push(
                json!({"kind": "track", "key": "purchase", "targeting_key": unit, "time": t + 10}),
            );
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let batch = serde_json::to_vec(
        &json!({"batch_id": "cli-batch-1", "sdk": {"name": "t", "version": "1"}, "events": events}),
    )
    .unwrap();
    let resp = agent
        .post(&format!("{base}/v1/events"))
        .header("Authorization", &format!("Bearer {key}"))
        .send(&batch[..])
        .unwrap();
    assert_eq!(resp.status(), 202);

    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_burgee"))
            .args([
                "experiment",
                "results",
                "--server",
                &base,
                "--project",
                "webshop",
                "--flag",
                "pricing-experiment",
                "--environment",
                "production",
            ])
            .args(extra)
            .env("BURGEE_ADMIN_TOKEN", &admin)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, table, err) = run(&[]);
    assert_eq!(code, Some(0), "{err}");
    for needle in [
        "Experiment pricing-experiment in production",
        "sample ratio ok",
        "purchase (conversion, primary)",
        "revenue (sum, guardrail)",
        "discount-10",
        "free-shipping",
        "(control)",
    ] {
        assert!(table.contains(needle), "table lacks {needle:?}:\n{table}");
    }
    let (code, json_text, _) = run(&["--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(v["variants"][0]["units"], 30);
    // A wrong token is an error with the server's code, exit status 2.
    let (code, _, err) = run(&["--token", "bga_wrong"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("UNAUTHORIZED"), "{err}");
}
