//! Unit tests of the sans-IO client parts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::*;
use crate::{SNAPSHOT_PAYLOAD_TYPE, sign_envelope};

const NOW: u64 = 1_800_000_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn config() -> SyncConfig {
    let k = key(1);
    SyncConfig::new(
        vec![TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap()],
        "production",
    )
}

fn envelope_with(version: u64, default_on: bool, signer: &SigningKey) -> Vec<u8> {
    let doc = json!({"format": 1, "project": "p", "environment": "production",
        "version": version, "issued_at": NOW - 10, "expires_at": NOW + 60_000, "salt": "s",
        "flags": [{"key": "f", "type": "boolean", "variants": {"on": true, "off": false},
            "enabled": true, "off_variant": "off",
            "default": {"variant": if default_on { "on" } else { "off" }}}]});
    let payload = serde_json::to_vec(&doc).unwrap();
    serde_json::to_vec(&sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, signer)).unwrap()
}

fn envelope(version: u64) -> Vec<u8> {
    envelope_with(version, true, &key(1))
}

#[test]
fn sync_applies_newer_and_reports_unchanged() {
    let mut s = SyncState::<crate::Snapshot>::new(config());
    assert_eq!(s.status(), &SyncStatus::NotReady);
    assert!(s.snapshot().is_none() && s.etag().is_none());
    assert_eq!(
        s.apply(&envelope(1), Some("\"etag-1\""), NOW),
        ApplyOutcome::Updated { old: None, new: 1 }
    );
    assert_eq!(s.status(), &SyncStatus::Ready);
    assert_eq!(s.etag(), Some("\"etag-1\""));
    let first = Arc::clone(s.snapshot().unwrap());
    assert_eq!(s.apply(&envelope(1), None, NOW), ApplyOutcome::Unchanged);
    // Unchanged keeps the very same Arc (no swap, no notification).
    assert!(Arc::ptr_eq(&first, s.snapshot().unwrap()));
    let digest = first.info().digest.clone().unwrap();
    assert_eq!(s.etag(), Some(format!("\"{digest}\"").as_str()));
    assert_eq!(
        s.apply(&envelope(3), None, NOW),
        ApplyOutcome::Updated {
            old: Some(1),
            new: 3
        }
    );
    assert_eq!(s.snapshot().unwrap().info().version, 3);
}

#[test]
fn sync_refuses_rollback_tampering_and_equivocation_and_keeps_the_good_snapshot() {
    let mut s = SyncState::<crate::Snapshot>::new(config());
    s.apply(&envelope(2), None, NOW);
    let etag = s.etag().unwrap().to_string();
    let held = Arc::clone(s.snapshot().unwrap());

    // Rollback.
    let ApplyOutcome::Refused(e) = s.apply(&envelope(1), None, NOW) else {
        panic!("rollback accepted")
    };
    assert_eq!(e.code(), ErrorCode::SnapshotRollback);
    assert_eq!(s.status(), &SyncStatus::Error(ErrorCode::SnapshotRollback));
    assert_eq!(s.status().as_str(), "ERROR");
    assert!(Arc::ptr_eq(&held, s.snapshot().unwrap()));
    assert_eq!(s.etag(), Some(etag.as_str()));
    assert_eq!(s.last_error().unwrap().0, ErrorCode::SnapshotRollback);

    // Equivocation: same version, other content, validly signed.
    let ApplyOutcome::Refused(e) = s.apply(&envelope_with(2, false, &key(1)), None, NOW) else {
        panic!("equivocation accepted")
    };
    assert_eq!(e.code(), ErrorCode::SnapshotRollback);

    // Untrusted signer and a tampered payload.
    let ApplyOutcome::Refused(e) = s.apply(&envelope_with(5, true, &key(9)), None, NOW) else {
        panic!("untrusted accepted")
    };
    assert_eq!(e.code(), ErrorCode::KeyUntrusted);
    let mut env: Value = serde_json::from_slice(&envelope(6)).unwrap();
    let other: Value = serde_json::from_slice(&envelope_with(6, false, &key(1))).unwrap();
    env["payload"] = other["payload"].clone();
    env["signatures"][0]["sig"] =
        serde_json::from_slice::<Value>(&envelope(7)).unwrap()["signatures"][0]["sig"].clone();
    let ApplyOutcome::Refused(e) = s.apply(&serde_json::to_vec(&env).unwrap(), None, NOW) else {
        panic!("tampered accepted")
    };
    assert_eq!(e.code(), ErrorCode::SignatureInvalid);
    assert_eq!(s.status(), &SyncStatus::Error(ErrorCode::SignatureInvalid));

    // Expired and garbage.
    let ApplyOutcome::Refused(e) = s.apply(&envelope(8), None, NOW + 60_000) else {
        panic!("expired accepted")
    };
    assert_eq!(e.code(), ErrorCode::SnapshotExpired);
    let ApplyOutcome::Refused(e) = s.apply(b"{not json", None, NOW) else {
        panic!("garbage accepted")
    };
    assert_eq!(e.code(), ErrorCode::ParseError);

    // Still serving version 2; a good refetch clears the error.
    assert!(Arc::ptr_eq(&held, s.snapshot().unwrap()));
    assert_eq!(s.apply(&envelope(2), None, NOW), ApplyOutcome::Unchanged);
    assert_eq!(s.status(), &SyncStatus::Ready);
}

#[test]
fn sync_statuses_for_failures_and_not_modified() {
    let mut s = SyncState::<crate::Snapshot>::new(config());
    s.fetch_failed("connection refused");
    assert_eq!(s.status(), &SyncStatus::NotReady);
    assert_eq!(
        s.last_error(),
        Some((ErrorCode::General, "connection refused"))
    );
    s.not_modified();
    assert_eq!(s.status(), &SyncStatus::NotReady);

    s.apply(&envelope(1), None, NOW);
    s.fetch_failed("timeout");
    assert_eq!(s.status(), &SyncStatus::Stale);
    s.not_modified();
    assert_eq!(s.status(), &SyncStatus::Ready);

    // A refusal is not hidden by a later network error.
    s.apply(&envelope(0), None, NOW);
    s.fetch_failed("timeout");
    assert_eq!(s.status(), &SyncStatus::Error(ErrorCode::SnapshotRollback));
    assert_eq!(s.status().error_code(), Some(ErrorCode::SnapshotRollback));
}

#[test]
fn sync_min_version_applies_before_any_snapshot() {
    let mut cfg = config();
    cfg.min_version = 5;
    let mut s = SyncState::<crate::Snapshot>::new(cfg);
    let ApplyOutcome::Refused(e) = s.apply(&envelope(4), None, NOW) else {
        panic!("below minimum accepted")
    };
    assert_eq!(e.code(), ErrorCode::SnapshotRollback);
    assert_eq!(s.status(), &SyncStatus::Error(ErrorCode::SnapshotRollback));
    assert!(s.snapshot().is_none());
    assert!(matches!(
        s.apply(&envelope(5), None, NOW),
        ApplyOutcome::Updated { old: None, new: 5 }
    ));
}

#[test]
fn backoff_is_exponential_capped_and_fully_jittered() {
    let mut b = Backoff::new(100, 1_000);
    let ceilings: Vec<u64> = (0..6)
        .map(|_| {
            let c = b.ceiling_ms();
            // The largest random value reaches the ceiling exactly.
            let copy = &mut b.clone();
            assert_eq!(copy.next_delay(u32::MAX), c);
            assert_eq!(b.next_delay(0), 0);
            c
        })
        .collect();
    assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
    assert_eq!(b.attempt(), 6);
    b.reset();
    assert_eq!(b.ceiling_ms(), 100);
    // Half the random range gives half the ceiling.
    assert_eq!(b.next_delay(u32::MAX / 2), 50);
    // Uniform over the range: the mean of an even spread is ceiling / 2.
    let mut sum = 0u64;
    for i in 0..1000u32 {
        let mut fresh = Backoff::new(1_000, 60_000);
        sum += fresh.next_delay(i.wrapping_mul(4_294_967));
    }
    let mean = sum / 1000;
    assert!((450..=550).contains(&mean), "mean {mean}");
    // Huge attempts saturate instead of overflowing.
    let mut b = Backoff::new(u64::MAX / 2, u64::MAX);
    for _ in 0..100 {
        b.next_delay(u32::MAX);
    }
    assert_eq!(b.ceiling_ms(), u64::MAX);
}

fn loaded(version: u64) -> Snapshot {
    let k = key(1);
    let trusted = [TrustedKey::from_bytes(k.verifying_key().as_bytes()).unwrap()];
    Snapshot::load(
        &envelope(version),
        &LoadOptions::new(&trusted, "production", NOW),
    )
    .unwrap()
}

fn buffer(flush_size: usize, max_events: usize) -> EventBuffer {
    let mut c = EventBufferConfig::new("burgee-test", "0.1.0");
    c.flush_size = flush_size;
    c.max_events = max_events;
    c.dedupe_window_ms = 1_000;
    c.flush_interval_ms = 5_000;
    EventBuffer::new(c)
}

fn expose(b: &mut EventBuffer, snap: &Snapshot, user: &str, now: u64) -> bool {
    let ctx = Context::new(user);
    let d = snap.evaluate("f", &ctx, now);
    b.record_exposure(snap, "f", &d, &ctx, now)
}

#[test]
fn exposures_dedupe_within_the_window() {
    let snap = loaded(1);
    let mut b = buffer(100, 1000);
    assert!(expose(&mut b, &snap, "u1", NOW));
    assert!(!expose(&mut b, &snap, "u1", NOW + 999));
    assert!(expose(&mut b, &snap, "u2", NOW + 10));
    // Another snapshot digest is another exposure.
    let snap2 = loaded(2);
    assert!(expose(&mut b, &snap2, "u1", NOW + 20));
    // After the window, counted again.
    assert!(expose(&mut b, &snap, "u1", NOW + 1_000));
    // Errors and anonymous contexts are not exposures.
    let anon = Context::anonymous();
    let d = snap.evaluate("f", &anon, NOW);
    assert!(!b.record_exposure(&snap, "f", &d, &anon, NOW));
    let ctx = Context::new("u9");
    let missing = snap.evaluate("nope", &ctx, NOW);
    assert!(!b.record_exposure(&snap, "nope", &missing, &ctx, NOW));
    // A snapshot compiled without an envelope has no digest.
    let unsigned = Snapshot::from_json(
        br#"{"format":1,"project":"p","environment":"production","version":1,"issued_at":0,
        "expires_at":10,"salt":"s","flags":[{"key":"f","type":"boolean",
        "variants":{"on":true},"enabled":true,"off_variant":"on","default":{"variant":"on"}}]}"#,
    )
    .unwrap();
    let d = unsigned.evaluate("f", &ctx, 5);
    assert!(!b.record_exposure(&unsigned, "f", &d, &ctx, 5));
    let st = b.stats();
    assert_eq!(st.queued, 4);
    assert_eq!(st.deduplicated, 1);
    assert_eq!(st.unattributable, 2);
}

#[test]
fn dedupe_memory_is_bounded() {
    let snap = loaded(1);
    let mut c = EventBufferConfig::new("burgee-test", "0.1.0");
    c.dedupe_capacity = 10;
    c.max_events = 100_000;
    let mut b = EventBuffer::new(c);
    for i in 0..1000 {
        assert!(expose(&mut b, &snap, &format!("u{i}"), NOW));
    }
    assert!(b.dedupe.len() <= 10);
}

#[test]
fn batches_follow_the_events_spec_and_retry_with_the_same_id() {
    let snap = loaded(4);
    let mut b = buffer(2, 1000);
    assert!(!b.should_flush(NOW));
    assert!(b.next_batch("batch-0001", NOW).is_none());
    expose(&mut b, &snap, "user-42", NOW);
    assert!(!b.should_flush(NOW + 1));
    let mut attrs = Map::new();
    attrs.insert("currency".into(), json!("EUR"));
    b.track(TrackEvent {
        key: "purchase".into(),
        value: Some(59.9),
        targeting_key: "user-42".into(),
        time: NOW + 4,
        attributes: attrs,
    })
    .unwrap();
    b.track(TrackEvent {
        key: "signup".into(),
        value: None,
        targeting_key: "user-7".into(),
        time: NOW + 5,
        attributes: Map::new(),
    })
    .unwrap();
    // Two events reach flush_size.
    assert!(b.should_flush(NOW + 2));
    let batch = b.next_batch("batch-0001", NOW + 2).unwrap();
    assert_eq!(batch.id, "batch-0001");
    assert_eq!(batch.events, 2);
    let body: Value = serde_json::from_slice(&batch.body).unwrap();
    let digest = snap.info().digest.clone().unwrap();
    assert_eq!(
        body,
        json!({"batch_id": "batch-0001", "sdk": {"name": "burgee-test", "version": "0.1.0"},
        "events": [
            {"kind": "exposure", "flag": "f", "variant": "on", "reason": "STATIC", "rule_id": null,
             "targeting_key": "user-42", "snapshot_version": 4, "snapshot_digest": digest,
             "time": NOW},
            {"kind": "track", "key": "purchase", "value": 59.9, "targeting_key": "user-42",
             "time": NOW + 4, "attributes": {"currency": "EUR"}}]})
    );
    // In flight: nothing else goes out.
    assert!(!b.should_flush(NOW + 3));
    assert!(b.next_batch("batch-0002", NOW + 3).is_none());
    // Failure: the same bytes and id come back, whatever id is offered.
    b.batch_failed("batch-0001");
    assert!(b.should_flush(NOW + 4));
    let retry = b.next_batch("batch-0003", NOW + 4).unwrap();
    assert_eq!(retry, batch);
    b.batch_delivered("batch-0001");
    assert_eq!(b.stats().delivered, 2);
    // The third event goes out after the interval with a fresh id.
    assert!(!b.should_flush(NOW + 5));
    assert!(b.should_flush(NOW + 4 + 5_000));
    let next = b.next_batch("batch-0004", NOW + 5_004).unwrap();
    assert_eq!(next.id, "batch-0004");
    let body: Value = serde_json::from_slice(&next.body).unwrap();
    assert_eq!(
        body["events"],
        json!([{"kind": "track", "key": "signup", "targeting_key": "user-7", "time": NOW + 5}])
    );
    b.batch_rejected("batch-0004");
    assert!(b.is_empty());
    assert_eq!(b.stats().dropped, 1);
}

#[test]
fn the_buffer_drops_the_oldest_beyond_its_bound() {
    let mut b = buffer(3, 5);
    let ev = |i: u64| TrackEvent {
        key: format!("m{i}"),
        value: None,
        targeting_key: "u".into(),
        time: NOW + i,
        attributes: Map::new(),
    };
    for i in 0..3 {
        b.track(ev(i)).unwrap();
    }
    let batch = b.next_batch("batch-0001", NOW).unwrap();
    b.batch_failed(&batch.id);
    for i in 3..8 {
        b.track(ev(i)).unwrap();
    }
    // 3 in the failed batch + at most 2 queued.
    let st = b.stats();
    assert_eq!((st.in_batch, st.queued, st.dropped), (3, 2, 3));
    assert_eq!(b.next_batch("x", NOW), Some(batch));
    b.batch_delivered("batch-0001");
    let rest = b.next_batch("batch-0002", NOW).unwrap();
    let body: Value = serde_json::from_slice(&rest.body).unwrap();
    let keys: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["m6", "m7"]);
}

#[test]
fn track_events_are_validated() {
    let mut b = buffer(10, 100);
    let ok = TrackEvent {
        key: "k".into(),
        value: Some(1.0),
        targeting_key: "u".into(),
        time: NOW,
        attributes: Map::new(),
    };
    assert!(b.track(ok.clone()).is_ok());
    let bad = [
        TrackEvent {
            key: String::new(),
            ..ok.clone()
        },
        TrackEvent {
            targeting_key: "x".repeat(257),
            ..ok.clone()
        },
        TrackEvent {
            value: Some(f64::NAN),
            ..ok.clone()
        },
        TrackEvent {
            attributes: [("nested".to_string(), json!({"a": 1}))]
                .into_iter()
                .collect(),
            ..ok.clone()
        },
        TrackEvent {
            attributes: (0..33).map(|i| (format!("a{i}"), json!(1))).collect(),
            ..ok.clone()
        },
    ];
    for ev in bad {
        let err = b.track(ev.clone()).unwrap_err();
        assert!(!err.is_empty(), "{ev:?}");
    }
    assert_eq!(b.stats().queued, 1);
}

#[test]
fn local_refusals_leave_the_status_alone() {
    let mut s = SyncState::<crate::Snapshot>::new(config());
    assert!(matches!(
        s.apply_local(&envelope(3), NOW + 60_000),
        ApplyOutcome::Refused(_)
    ));
    assert_eq!(s.status(), &SyncStatus::NotReady);
    assert_eq!(s.last_error().unwrap().0, ErrorCode::SnapshotExpired);
    assert!(matches!(
        s.apply_local(&envelope(3), NOW),
        ApplyOutcome::Updated { old: None, new: 3 }
    ));
    assert!(matches!(
        s.apply_local(&envelope(2), NOW),
        ApplyOutcome::Refused(_)
    ));
    assert_eq!(s.status(), &SyncStatus::Ready);
    assert_eq!(s.snapshot().unwrap().info().version, 3);
}

#[test]
fn sync_checks_the_configured_project_and_audience() {
    // envelope() is a server snapshot of project "p".
    let mut cfg = config();
    cfg.project = Some("other".into());
    let mut s = SyncState::<crate::Snapshot>::new(cfg);
    let ApplyOutcome::Refused(e) = s.apply(&envelope(3), None, NOW) else {
        panic!("another project's snapshot was accepted");
    };
    assert_eq!(e.code(), ErrorCode::ProjectMismatch);
    assert_eq!(s.status(), &SyncStatus::Error(ErrorCode::ProjectMismatch));
    assert!(s.snapshot().is_none());

    let mut cfg = config();
    cfg.project = Some("p".into());
    cfg.audience = crate::model::Audience::Client;
    let mut s = SyncState::<crate::Snapshot>::new(cfg);
    let ApplyOutcome::Refused(e) = s.apply(&envelope(3), None, NOW) else {
        panic!("a server snapshot was accepted by a client-audience state");
    };
    assert_eq!(e.code(), ErrorCode::AudienceMismatch);

    let mut cfg = config();
    cfg.project = Some("p".into());
    let mut s = SyncState::<crate::Snapshot>::new(cfg);
    assert!(matches!(
        s.apply(&envelope(3), None, NOW),
        ApplyOutcome::Updated { old: None, new: 3 }
    ));
}
