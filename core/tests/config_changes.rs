//! What change listeners receive: `ConfigDocument::values` for one instance and
//! `config::changes` between two documents (added, removed and changed keys, sorted; a
//! revision-only re-save and an override the instance does not match are not changes).

// Test code: a failed expectation should abort loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use burgee_core::config::changes;
use burgee_core::{ConfigDocument, Context};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000_000;

fn doc(entries: Value) -> ConfigDocument {
    let def = serde_json::from_value(json!({
        "format": 1, "project": "p", "environment": "production", "service": "svc",
        "version": 3, "issued_at": 1000, "expires_at": 2_000_000_000_000_u64, "salt": "s",
        "entries": entries,
    }))
    .unwrap();
    ConfigDocument::compile(&def, None).unwrap()
}

fn text(key: &str, raw: &str, revision: u64) -> Value {
    json!({"key": key, "format": "text", "raw": raw, "value": raw, "revision": revision})
}

fn instance(zone: &str) -> Context {
    Context::from_json(&json!({"targetingKey": "i-1", "zone": zone})).unwrap()
}

#[test]
fn added_removed_and_changed_keys_sorted() {
    let old = doc(json!([
        text("a", "1", 1),
        text("b", "2", 1),
        text("c", "3", 1)
    ]));
    let new = doc(json!([
        text("a", "1", 2),
        text("c", "4", 2),
        text("d", "5", 1)
    ]));
    let i = instance("eu");
    let list = changes(&old.values(&i, NOW), &new.values(&i, NOW));
    let got: Vec<(&str, Option<&str>, Option<&str>)> = list
        .iter()
        .map(|c| {
            (
                c.key.as_str(),
                c.old.as_ref().map(|v| v.raw.as_str()),
                c.new.as_ref().map(|v| v.raw.as_str()),
            )
        })
        .collect();
    // `a` was re-saved with the same text (revision 2): not a change.
    assert_eq!(
        got,
        [
            ("b", Some("2"), None),
            ("c", Some("3"), Some("4")),
            ("d", None, Some("5"))
        ]
    );
    assert_eq!(list[1].new.as_ref().unwrap().revision, 2);
    assert!(changes(&new.values(&i, NOW), &new.values(&i, NOW)).is_empty());
}

#[test]
fn an_override_changes_only_the_instances_it_matches() {
    let base = doc(json!([text("timeout", "250", 1)]));
    let over = doc(json!([{
        "key": "timeout", "format": "text", "raw": "250", "value": "250", "revision": 2,
        "overrides": [{"id": "eu", "when": {"attribute": "zone", "op": "equals", "value": "eu"},
                       "raw": "400", "value": "400"}],
    }]));
    let (eu, us) = (instance("eu"), instance("us"));
    let eu_changes = changes(&base.values(&eu, NOW), &over.values(&eu, NOW));
    assert_eq!(eu_changes.len(), 1);
    let new = eu_changes[0].new.as_ref().unwrap();
    assert_eq!(
        (new.raw.as_str(), new.override_id.as_deref()),
        ("400", Some("eu"))
    );
    assert!(changes(&base.values(&us, NOW), &over.values(&us, NOW)).is_empty());
}
