//! The embedded event log against the real file system: durability across reopen, duplicate
//! batches, torn tails, damage, rotation and back-pressure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use std::fs::{self, OpenOptions};
use std::io::Write as _;

use burgee_server::events::log::{AppendError, EventLog, LogConfig, StoredBatch};
use burgee_server::events::model::{Event, SdkInfo, TrackEvent};

fn batch(env: &str, id: &str, events: usize) -> StoredBatch {
    StoredBatch {
        project: "webshop".into(),
        environment: env.into(),
        batch_id: id.into(),
        sdk: SdkInfo {
            name: "test".into(),
            version: "1".into(),
        },
        received_at: 1,
        events: (0..events)
            .map(|i| {
                Event::Track(TrackEvent {
                    key: "purchase".into(),
                    value: Some(i as f64),
                    targeting_key: format!("u{i}"),
                    time: 1_800_000_000_000,
                    attributes: serde_json::Map::new(),
                })
            })
            .collect(),
        rejected: 0,
    }
}

fn ids(log: &EventLog, env: &str) -> Vec<String> {
    let mut out = Vec::new();
    log.scan("webshop", env, |b| out.push(b.batch_id.clone()))
        .unwrap();
    out
}

#[tokio::test]
async fn appended_batches_survive_reopen_and_duplicates_are_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
        let r = log.append(batch("prod", "batch-0001", 3)).await.unwrap();
        assert_eq!((r.accepted, r.duplicate), (3, false));
        log.append(batch("dev", "batch-0001", 1)).await.unwrap(); // same id, other environment
        let again = log.append(batch("prod", "batch-0001", 3)).await.unwrap();
        assert_eq!((again.accepted, again.duplicate), (3, true));
        assert_eq!(ids(&log, "prod"), ["batch-0001"]);
    }
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    assert_eq!(ids(&log, "prod"), ["batch-0001"]);
    assert_eq!(ids(&log, "dev"), ["batch-0001"]);
    let after_restart = log.append(batch("prod", "batch-0001", 3)).await.unwrap();
    assert!(after_restart.duplicate);
    let mut events = 0;
    log.scan("webshop", "prod", |b| events += b.events.len())
        .unwrap();
    assert_eq!(events, 3);
}

#[tokio::test]
async fn concurrent_appends_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(
                async move { log.append(batch("prod", &format!("batch-{i:04}"), 5)).await },
            )
        })
        .collect();
    for t in tasks {
        assert!(!t.await.unwrap().unwrap().duplicate);
    }
    drop(log);
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    let mut got = ids(&log, "prod");
    got.sort();
    assert_eq!(got.len(), 200);
    got.dedup();
    assert_eq!(got.len(), 200);
}

#[tokio::test]
async fn a_torn_tail_is_truncated_and_damage_elsewhere_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
        log.append(batch("prod", "batch-good", 2)).await.unwrap();
    }
    let segment = dir.path().join("events-00000001.log");
    let good_len = fs::metadata(&segment).unwrap().len();
    // A crash mid-write: a header promising more bytes than follow.
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{'])
        .unwrap();
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    assert_eq!(fs::metadata(&segment).unwrap().len(), good_len);
    assert_eq!(ids(&log, "prod"), ["batch-good"]);
    log.append(batch("prod", "batch-next", 1)).await.unwrap();
    drop(log);

    // Flip one payload byte of the first record and add a later segment: not a torn tail, so
    // the record is skipped and counted, and the one after it is kept
    // (`tests/events_log_hardening.rs` has the rest).
    let mut bytes = fs::read(&segment).unwrap();
    bytes[20] ^= 0x20;
    fs::write(&segment, &bytes).unwrap();
    fs::write(dir.path().join("events-00000002.log"), b"").unwrap();
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    assert_eq!(log.damaged_records(), 1);
    assert_eq!(ids(&log, "prod"), ["batch-next"]);
    assert_eq!(fs::metadata(&segment).unwrap().len(), bytes.len() as u64);
}

#[tokio::test]
async fn segments_rotate_and_scan_reads_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().into());
    config.segment_bytes = 2048;
    let log = EventLog::open(config.clone()).unwrap();
    for i in 0..20 {
        log.append(batch("prod", &format!("batch-{i:04}"), 4))
            .await
            .unwrap();
    }
    let segments = fs::read_dir(dir.path()).unwrap().count();
    assert!(segments > 2, "{segments} segments");
    drop(log);
    let log = EventLog::open(config).unwrap();
    assert_eq!(ids(&log, "prod").len(), 20);
}

#[tokio::test]
async fn a_full_queue_refuses_instead_of_growing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().into());
    config.queue_bytes = 100;
    let log = EventLog::open(config).unwrap();
    assert!(matches!(
        log.append(batch("prod", "batch-huge", 50)).await,
        Err(AppendError::Overloaded)
    ));
    assert!(ids(&log, "prod").is_empty());
}
