//! Chaos on the event path (issue "Hardening", item 13), on loopback and bounded in time, with
//! the real `burgee` binary:
//! - the event log's disk fills up (a small tmpfs mounted on `DATA_DIR/events`): batches are
//!   answered 503 `STORAGE_FULL` with `Retry-After`, the server keeps serving everything else,
//!   writes resume without a restart once space returns, and the log holds exactly the
//!   acknowledged batches, each once;
//! - NATS is stopped during ingestion (a minute by default, `BURGEE_CHAOS_NATS_OUTAGE_SECS`):
//!   ingestion never notices, and once NATS is back the forwarder catches up so the JetStream
//!   stream holds every acknowledged batch exactly once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burgee_server::events::log::{EventLog, LogConfig};

use crate::common::nats::Nats;
use burgee_test_support::Serve;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A batch of `n` track events of about 200 bytes each.
fn batch(id: &str, n: usize) -> String {
    let t = now_ms();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"kind": "track", "key": "purchase", "targeting_key": format!("user-{id}-{i}"),
                   "time": t, "value": 19.99, "attributes": {"note": "x".repeat(120)}})
        })
        .collect();
    json!({"batch_id": id, "sdk": {"name": "chaos", "version": "1"}, "events": events}).to_string()
}

/// POSTs a batch; returns the status, the error code (if any) and `Retry-After`.
fn post(base: &str, key: &str, body: &str) -> (u16, Option<String>, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent();
    let mut r = agent
        .post(format!("{base}/v1/events"))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = r.status().as_u16();
    let code = r
        .body_mut()
        .read_to_string()
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    (status, code, retry)
}

fn get_status(url: &str, key: &str) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .get(url)
        .header("Authorization", &format!("Bearer {key}"))
        .call()
        .map_or(0, |r| r.status().as_u16())
}

/// The batch ids stored in a (closed) server's event log, in log order.
fn stored_batch_ids(events_dir: &Path) -> Vec<String> {
    let log = EventLog::open(LogConfig::new(events_dir.to_path_buf())).unwrap();
    let mut ids = Vec::new();
    log.scan("default", "production", |b| ids.push(b.batch_id.clone()))
        .unwrap();
    assert_eq!(log.damaged_records(), 0);
    ids
}

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd).args(args).output().unwrap()
}

/// A tmpfs mounted for the test's lifetime (lazily unmounted on drop).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `512k`) at `at`; `None` when this machine does not allow
    /// it (not root), which fails the test under CI.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let at_str = at.to_str().unwrap();
        let out = sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                at_str,
            ],
        );
        if out.status.success() {
            return Some(Tmpfs(at.to_path_buf()));
        }
        let why = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            std::env::var_os("CI").is_none(),
            "mounting a tmpfs failed (CI runs as root): {why}"
        );
        eprintln!("skipped: cannot mount a tmpfs here ({why})");
        None
    }

    fn resize(&self, size: &str) {
        let out = sh(
            "mount",
            &[
                "-o",
                &format!("remount,size={size}"),
                self.0.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = sh("umount", &["-l", self.0.to_str().unwrap()]);
    }
}

#[test]
fn a_full_event_disk_refuses_batches_with_storage_full_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events_dir = data.join("events");
    let Some(disk) = Tmpfs::mount(&events_dir, "256k") else {
        return;
    };
    let server = Serve::new(BIN, &data)
        .args(["--rate-per-second", "0"])
        .start();
    let (base, key) = (
        server.url().to_owned(),
        server.sdk_key("production").to_owned(),
    );

    // Fill the disk: every batch is answered 202 until one is refused for lack of space.
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let id = format!("fill-{i:04}");
        match post(&base, &key, &batch(&id, 20)) {
            (202, _, _) => acknowledged.push(id),
            (503, Some(code), retry) => {
                assert_eq!(code, "STORAGE_FULL");
                assert_eq!(retry.as_deref(), Some("5"));
                refused = Some(id);
                break;
            }
            other => panic!("batch {id}: unexpected answer {other:?}"),
        }
    }
    let refused = refused.expect("a 256 KiB disk never filled up");
    assert!(acknowledged.len() > 5, "{acknowledged:?}");

    // Still full: refused again (the same answer, not a 500), while the rest of the server
    // works: snapshots, readiness, and the failure is counted.
    for _ in 0..3 {
        let (status, code, _) = post(&base, &key, &batch(&refused, 20));
        assert_eq!((status, code.as_deref()), (503, Some("STORAGE_FULL")));
    }
    assert_eq!(
        get_status(&format!("{base}/v1/snapshots/production"), &key),
        200
    );
    assert_eq!(get_status(&format!("{base}/ready"), &key), 200);
    let metrics = ureq::get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("burgee_event_log_write_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures >= 4, "{failures}");

    // Space returns: the SDK's retry of the refused batch (same id) is stored, as new ones are,
    // without a restart.
    disk.resize("4m");
    assert_eq!(post(&base, &key, &batch(&refused, 20)).0, 202);
    acknowledged.push(refused.clone());
    for i in 0..5 {
        let id = format!("after-{i:04}");
        assert_eq!(post(&base, &key, &batch(&id, 20)).0, 202);
        acknowledged.push(id);
    }
    // A duplicate of an acknowledged batch is recognised, not stored twice.
    assert_eq!(post(&base, &key, &batch(&acknowledged[0], 20)).0, 202);
    server.stop();

    // The log holds exactly the acknowledged batches, each once, and nothing damaged.
    let stored = stored_batch_ids(&events_dir);
    assert_eq!(stored, acknowledged);
    drop(disk);
}

/// The JetStream message ids in the stream once it holds `want` messages (or after `wait`).
async fn stream_ids(url: &str, want: usize, wait: Duration) -> Vec<String> {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
    let mut stream = js.get_stream("BURGEE_EVENTS").await.unwrap();
    let deadline = Instant::now() + wait;
    loop {
        let n = stream.info().await.unwrap().state.messages;
        if n >= want as u64 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let n = stream.info().await.unwrap().state.messages;
    let mut ids = Vec::new();
    for seq in 1..=n {
        let m = stream.get_raw_message(seq).await.unwrap();
        let b: Value = serde_json::from_slice(&m.payload).unwrap();
        ids.push(b["batch_id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_rides_out_a_nats_outage_and_forwarding_catches_up() {
    let outage = Duration::from_secs(
        std::env::var("BURGEE_CHAOS_NATS_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nats_url = format!("nats://127.0.0.1:{port}");
    let nats = Nats::start(&dir.path().join("nats"), port);
    let server = Serve::new(BIN, &dir.path().join("data"))
        .args(["--rate-per-second", "0", "--nats-url", &nats_url])
        .start();
    let (base, key) = (
        server.url().to_owned(),
        server.sdk_key("production").to_owned(),
    );

    // Ingest a batch every 100 ms throughout: before, during and after the outage.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let ingest = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut i = 0;
        while stop_rx.try_recv().is_err() {
            let id = format!("batch-{i:05}");
            let (status, code, _) = post(&base, &key, &batch(&id, 5));
            assert_eq!(status, 202, "batch {id}: {code:?}");
            acknowledged.push(id);
            i += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        acknowledged
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (store, port) = nats.stop();
    tokio::time::sleep(outage).await;
    let nats = Nats::start(&store, port);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_tx.send(()).unwrap();
    let acknowledged = tokio::task::spawn_blocking(move || ingest.join().unwrap())
        .await
        .unwrap();
    assert!(
        acknowledged.len() as f64 >= outage.as_secs_f64() * 5.0,
        "ingestion slowed down during the outage: {} batches",
        acknowledged.len()
    );

    // The forwarder retries every 5 s; it catches up well within 30 s.
    let ids = stream_ids(&nats_url, acknowledged.len(), Duration::from_secs(30)).await;
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "a batch was forwarded twice");
    let want: BTreeSet<&String> = acknowledged.iter().collect();
    assert_eq!(
        unique, want,
        "forwarded batches differ from the acknowledged ones"
    );
    server.stop();
    drop(nats);
}
