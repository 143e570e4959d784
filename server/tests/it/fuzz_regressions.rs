//! Replays the kept inputs of the server fuzz targets (`fuzz/regressions/{event_batch,
//! event_log,server_bodies}/`, see its README) on stable Rust, through the harness functions
//! the fuzz targets run (`fuzz/src/server_targets.rs`): no input may panic, a `crash-*`
//! or `*-refused` input must be refused with an error, an `*-accepted` one accepted.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/server_targets.rs"]
mod harness;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

/// Replays the kept inputs of `target` through `harness` (rules in `fuzz/src/replay.rs`).
fn replay(target: &str, harness: fn(&[u8]) -> Result<(), String>) {
    replay::replay(&regressions(), target, harness);
}

/// `fuzz/regressions/`.
fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

#[test]
fn kept_event_batch_inputs() {
    replay("event_batch", harness::event_batch);
}

#[test]
fn kept_event_log_inputs() {
    replay("event_log", harness::event_log);
}

#[test]
fn kept_server_body_inputs() {
    for (path, bytes) in replay::inputs(&regressions(), "server_bodies") {
        println!("{}: {}", path.display(), harness::body_type(&bytes));
    }
    replay("server_bodies", harness::server_bodies);
}

/// The harness frames records as the log does (its CRC-32 is the log's `crc32fast`), so a
/// log it writes is read back whole.
#[test]
fn harness_records_are_log_records() {
    for payload in [&b""[..], b"{}", b"123456789", &[0xff; 300]] {
        assert_eq!(harness::crc32(payload), crc32fast::hash(payload));
    }
    let batch = |id: &str| {
        format!(
            r#"{{"project":"p","environment":"e","batch_id":"{id}","sdk":{{"name":"n","version":"1"}},"received_at":1,"events":[],"rejected":0}}"#
        )
    };
    let mut input = vec![0u8];
    input.extend(harness::record(batch("a").as_bytes()));
    input.extend(b"damage");
    input.extend(harness::record(batch("b").as_bytes()));
    assert_eq!(harness::event_log(&input), Ok(()));
    let mut stale = harness::record(batch("c").as_bytes());
    stale[4] ^= 1;
    harness::fix_checksums(&mut stale);
    assert_eq!(stale, harness::record(batch("c").as_bytes()));
    stale[4] ^= 1; // a wrong checksum, fixed by the harness (flag bit 2)
    let mut framed = vec![4u8 | 2];
    framed.extend(harness::record(br#"{"not":"a batch"}"#));
    framed.extend(harness::SEGMENT_SEPARATOR);
    framed.extend(stale);
    assert_eq!(harness::event_log(&framed), Ok(()));
}
