//! The evaluation context (OpenFeature): a targeting key plus typed attributes.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::error::ContextError;

/// Name of the targeting key in JSON contexts and in clause `attribute`s (OpenFeature spelling).
pub const TARGETING_KEY: &str = "targetingKey";

/// One attribute value. Contexts hold no nested objects and no nulls.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// UTF-8 string.
    String(Box<str>),
    /// Any JSON number, as `f64`.
    Number(f64),
    /// Boolean.
    Bool(bool),
    /// List of strings (e.g. groups or roles); string operators match if any element matches.
    List(Box<[Box<str>]>),
}

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::String(s.into())
    }
}
impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::String(s.into_boxed_str())
    }
}
impl From<f64> for AttributeValue {
    fn from(n: f64) -> Self {
        AttributeValue::Number(n)
    }
}
impl From<i64> for AttributeValue {
    fn from(n: i64) -> Self {
        // Precision loss above 2^53 is the documented JSON-number behaviour.
        #[allow(clippy::cast_precision_loss)]
        AttributeValue::Number(n as f64)
    }
}
impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}
impl From<Vec<String>> for AttributeValue {
    fn from(v: Vec<String>) -> Self {
        AttributeValue::List(v.into_iter().map(String::into_boxed_str).collect())
    }
}

/// An evaluation context: who is being evaluated.
///
/// Build it once and reuse it across evaluations; a lookup is a binary search over precomputed
/// name hashes (the snapshot hashes its attribute names once, at compile time), with no
/// allocation and one string comparison.
///
/// ```
/// use burgee_core::Context;
/// let ctx = Context::new("user-42").with("country", "DE").with("age", 31.0);
/// assert_eq!(ctx.targeting_key(), Some("user-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    targeting_key: Option<Box<str>>,
    /// `str_hash` of the targeting key (0 without one).
    targeting_key_hash: u64,
    /// Sorted by `(str_hash(name), name)`, names unique.
    attributes: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    hash: u64,
    name: Box<str>,
    value: AttributeValue,
    /// `str_hash` of a `String` value (0 for other types), so set lookups hash nothing.
    value_hash: u64,
}

/// String equality for the short strings of targeting (attribute names, set members, keys):
/// compares 8 bytes at a time inline instead of calling `memcmp`, which dominated evaluation
/// profiles.
#[inline(always)]
pub(crate) fn short_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (mut wx, mut wy) = ([0u8; 8], [0u8; 8]);
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        if u64::from_ne_bytes(wx) != u64::from_ne_bytes(wy) {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

fn value_hash(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::String(s) => str_hash(s),
        _ => 0,
    }
}

/// Hash of an attribute name or string value, fixed across processes so snapshots can
/// precompute it for names and sets (foldhash with a constant seed; a lookup aid, not a
/// security boundary: snapshot sets are authored, not attacker-chosen).
#[inline]
pub(crate) fn str_hash(name: &str) -> u64 {
    use core::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0x6275_7267_6565_0001).hash_one(name)
}

impl Context {
    /// A context with a targeting key and no attributes.
    pub fn new(targeting_key: impl Into<String>) -> Self {
        let mut ctx = Context::default();
        ctx.set_targeting_key(targeting_key.into().into_boxed_str());
        ctx
    }

    /// A context without a targeting key (anonymous); rollouts by targeting key then fail with
    /// `TARGETING_KEY_MISSING`.
    pub fn anonymous() -> Self {
        Context::default()
    }

    /// Sets an attribute (replacing one of the same name) and returns the context.
    /// Setting `targetingKey` sets the targeting key if the value is a string.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<AttributeValue>) -> Self {
        self.set(name, value.into());
        self
    }

    /// Sets an attribute, replacing one of the same name.
    pub fn set(&mut self, name: &str, value: AttributeValue) {
        if name == TARGETING_KEY
            && let AttributeValue::String(s) = value
        {
            self.set_targeting_key(s);
            return;
        }
        let hash = str_hash(name);
        let vh = value_hash(&value);
        match self.position(hash, name) {
            Ok(i) => {
                if let Some(slot) = self.attributes.get_mut(i) {
                    slot.value = value;
                    slot.value_hash = vh;
                }
            }
            Err(i) => self.attributes.insert(
                i,
                Entry {
                    hash,
                    name: name.into(),
                    value,
                    value_hash: vh,
                },
            ),
        }
    }

    fn set_targeting_key(&mut self, key: Box<str>) {
        self.targeting_key_hash = str_hash(&key);
        self.targeting_key = Some(key);
    }

    /// The targeting key with its `str_hash`.
    #[inline]
    pub(crate) fn targeting_key_hashed(&self) -> Option<(&str, u64)> {
        self.targeting_key
            .as_deref()
            .map(|k| (k, self.targeting_key_hash))
    }

    #[inline]
    fn position(&self, hash: u64, name: &str) -> Result<usize, usize> {
        self.attributes.binary_search_by(|e| {
            e.hash.cmp(&hash).then_with(|| {
                if short_eq(&e.name, name) {
                    core::cmp::Ordering::Equal
                } else {
                    (*e.name).cmp(name)
                }
            })
        })
    }

    /// The targeting key, if any.
    pub fn targeting_key(&self) -> Option<&str> {
        self.targeting_key.as_deref()
    }

    /// Looks up an attribute by name (`targetingKey` is not an attribute; see
    /// [`Context::targeting_key`]).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.get_hashed(str_hash(name), name).map(|(v, _)| v)
    }

    /// [`Context::get`] with the name's [`str_hash`] already computed; also returns the
    /// value's `str_hash` (0 unless it is a string).
    #[inline]
    pub(crate) fn get_hashed(&self, hash: u64, name: &str) -> Option<(&AttributeValue, u64)> {
        self.position(hash, name)
            .ok()
            .and_then(|i| self.attributes.get(i))
            .map(|e| (&e.value, e.value_hash))
    }

    /// Builds a context from a JSON object: `{"targetingKey": "u1", "country": "DE", "age": 31,
    /// "beta": true, "groups": ["a", "b"]}`.
    ///
    /// # Errors
    /// [`ContextError`] (code `INVALID_CONTEXT`) naming the attribute when the value is not an
    /// object, `targetingKey` is not a string, or an attribute is null, an object, or a list
    /// with a non-string element.
    pub fn from_json(value: &Value) -> Result<Self, ContextError> {
        let Value::Object(map) = value else {
            return Err(ContextError("the context must be a JSON object".to_owned()));
        };
        let mut ctx = Context::default();
        for (name, v) in map {
            if name == TARGETING_KEY {
                match v {
                    Value::String(s) => ctx.set_targeting_key(s.as_str().into()),
                    _ => {
                        return Err(ContextError(format!(
                            "\"{TARGETING_KEY}\" must be a string"
                        )));
                    }
                }
                continue;
            }
            let attr = match v {
                Value::String(s) => AttributeValue::String(s.as_str().into()),
                Value::Bool(b) => AttributeValue::Bool(*b),
                Value::Number(n) => match n.as_f64() {
                    Some(f) => AttributeValue::Number(f),
                    None => {
                        return Err(ContextError(format!(
                            "attribute \"{name}\": number out of range"
                        )));
                    }
                },
                Value::Array(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => list.push(Box::<str>::from(s.as_str())),
                            _ => {
                                return Err(ContextError(format!(
                                    "attribute \"{name}\": lists may only hold strings"
                                )));
                            }
                        }
                    }
                    AttributeValue::List(list.into_boxed_slice())
                }
                Value::Null => {
                    return Err(ContextError(format!(
                        "attribute \"{name}\": null is not a value; leave the attribute out"
                    )));
                }
                Value::Object(_) => {
                    return Err(ContextError(format!(
                        "attribute \"{name}\": nested objects are not supported"
                    )));
                }
            };
            ctx.set(name, attr);
        }
        Ok(ctx)
    }

    /// Parses [`Context::from_json`] input from JSON text.
    ///
    /// # Errors
    /// [`ContextError`] for malformed JSON or any reason [`Context::from_json`] gives.
    pub fn from_json_str(text: &str) -> Result<Self, ContextError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ContextError(format!("context is not valid JSON: {e}")))?;
        Context::from_json(&value)
    }
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AttributeValue::String(s) => serializer.serialize_str(s),
            AttributeValue::Number(n) => serializer.serialize_f64(*n),
            AttributeValue::Bool(b) => serializer.serialize_bool(*b),
            AttributeValue::List(items) => serializer.collect_seq(items.iter()),
        }
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(k) = &self.targeting_key {
            map.serialize_entry(TARGETING_KEY, k)?;
        }
        for e in &self.attributes {
            map.serialize_entry(&*e.name, &e.value)?;
        }
        map.end()
    }
}
