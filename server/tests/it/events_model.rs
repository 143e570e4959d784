//! Batch parsing: the envelope is all-or-nothing, events are judged one by one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use burgee_server::events::model::{Event, parse_batch};
use serde_json::json;

const NOW: u64 = 1_800_000_000_000;
const DIGEST: &str = "sha256:611650f63a900797cec284b4584e7abe83fe93cb3dbe0fcf25cd4211f5b2a45b";

fn exposure() -> serde_json::Value {
    json!({"kind": "exposure", "flag": "pricing", "variant": "a", "reason": "SPLIT", "rule_id": "r1",
           "targeting_key": "u1", "snapshot_version": 3, "snapshot_digest": DIGEST, "time": NOW})
}

fn track() -> serde_json::Value {
    json!({"kind": "track", "key": "purchase", "value": 19.5, "targeting_key": "u1", "time": NOW,
           "attributes": {"currency": "EUR", "items": 2, "gift": false}})
}

fn body(events: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"batch_id": "batch-0001", "sdk": {"name": "burgee-node", "version": "0.1.0"}, "events": events})).unwrap()
}

#[test]
fn good_events_are_accepted_and_bad_ones_reported_by_index() {
    let mut bad_value = track();
    bad_value["attributes"] = json!({"nested": {"x": 1}});
    let mut bad_digest = exposure();
    bad_digest["snapshot_digest"] = json!("sha256:XYZ");
    let mut error_reason = exposure();
    error_reason["reason"] = json!("ERROR");
    let mut old = track();
    old["time"] = json!(NOW - 31 * 24 * 3600 * 1000);
    let mut future = exposure();
    future["time"] = json!(NOW + 2 * 3600 * 1000);
    let mut typo = track();
    typo["valeu"] = json!(1);
    let (id, sdk, accepted, rejected) = parse_batch(
        &body(vec![
            exposure(),
            bad_value,
            track(),
            bad_digest,
            error_reason,
            old,
            future,
            typo,
            json!({"kind": "click"}),
            json!(7),
        ]),
        NOW,
    )
    .unwrap();
    assert_eq!(
        (id.as_str(), sdk.name.as_str()),
        ("batch-0001", "burgee-node")
    );
    assert_eq!(accepted.len(), 2);
    assert!(matches!(accepted[0], Event::Exposure(_)));
    assert!(matches!(accepted[1], Event::Track(_)));
    let got: Vec<(usize, &str)> = rejected
        .iter()
        .map(|r| (r.index, r.message.as_str()))
        .collect();
    let expect = [
        (1, "events[1].attributes.nested"),
        (3, "events[3].snapshot_digest"),
        (4, "events[4].reason"),
        (5, "events[5].time: older than 30 days"),
        (6, "events[6].time: more than 1 hour in the future"),
        (7, "unknown field `valeu`"),
        (8, "unknown variant `click`"),
        (9, "events[9]: "),
    ];
    assert_eq!(got.len(), expect.len(), "{rejected:?}");
    for ((index, message), (want_index, needle)) in got.iter().zip(expect) {
        assert_eq!(*index, want_index);
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
    assert!(rejected.iter().all(|r| r.code == "INVALID_EVENT"));
}

#[test]
fn the_batch_envelope_is_checked_as_a_whole() {
    for (body, needle) in [
        (b"not json".to_vec(), "batch is not valid"),
        (serde_json::to_vec(&json!({"batch_id": "x", "sdk": {"name": "n", "version": "1"}, "events": [track()]})).unwrap(), "batch_id"),
        (serde_json::to_vec(&json!({"batch_id": "batch-0001", "sdk": {"name": "", "version": "1"}, "events": [track()]})).unwrap(), "sdk.name"),
        (serde_json::to_vec(&json!({"batch_id": "batch-0001", "sdk": {"name": "n", "version": "1"}, "events": []})).unwrap(), "1-1000 events"),
        (serde_json::to_vec(&json!({"batch_id": "batch-0001", "sdk": {"name": "n", "version": "1"}, "events": [track()], "env": "x"})).unwrap(), "unknown field `env`"),
    ] {
        let err = parse_batch(&body, NOW).unwrap_err();
        assert!(err.0.contains(needle), "{err} lacks {needle}");
    }
}
