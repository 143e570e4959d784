//! What changed for one instance between two config documents: the owned value of every entry
//! for an instance ([`ConfigDocument::values`]) and the keys whose value differs
//! ([`changes`]). Every SDK's change listeners (hot reload) receive exactly this list.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use super::{ConfigDocument, ConfigFormat, ConfigValue};
use crate::context::Context;

/// One entry's value for one instance, owned (a [`ConfigValue`] that outlives its document).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntryValue {
    /// Format of `raw`.
    pub format: ConfigFormat,
    /// The text served.
    pub raw: String,
    /// The text parsed, as JSON.
    pub value: Value,
    /// The entry's revision.
    pub revision: u64,
    /// The override that served it (`None`: the base value).
    pub override_id: Option<String>,
}

impl From<ConfigValue<'_>> for ConfigEntryValue {
    fn from(v: ConfigValue<'_>) -> Self {
        ConfigEntryValue {
            format: v.format,
            raw: v.raw.to_owned(),
            value: v.value.clone(),
            revision: v.revision,
            override_id: v.override_id.map(str::to_owned),
        }
    }
}

/// How one key changed between two documents, for one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    /// Entry key.
    pub key: String,
    /// The value before (`None`: the key is new).
    pub old: Option<ConfigEntryValue>,
    /// The value now (`None`: the key was removed).
    pub new: Option<ConfigEntryValue>,
}

impl ConfigDocument {
    /// Every entry's value for `instance` at `now` (ms since epoch), owned, by key.
    pub fn values(&self, instance: &Context, now: u64) -> BTreeMap<String, ConfigEntryValue> {
        self.resolve_all(instance, now)
            .into_iter()
            .map(|v| (v.key.to_owned(), ConfigEntryValue::from(v)))
            .collect()
    }
}

/// The keys whose value (raw text or parsed value) differs between two resolutions of
/// [`ConfigDocument::values`], sorted by key; a revision-only change (the same text re-saved)
/// is not a change.
pub fn changes(
    old: &BTreeMap<String, ConfigEntryValue>,
    new: &BTreeMap<String, ConfigEntryValue>,
) -> Vec<ConfigChange> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (o, n) = (old.get(k), new.get(k));
            let same = match (o, n) {
                (Some(a), Some(b)) => a.raw == b.raw && a.value == b.value,
                (None, None) => true,
                _ => false,
            };
            (!same).then(|| ConfigChange {
                key: k.clone(),
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}
