//! The snapshot document as it travels on the wire (`spec/SNAPSHOT.md` §2).
//!
//! These types are plain serde data: the server builds them when it publishes, and
//! [`crate::Snapshot::compile`] turns them into the evaluation-ready form. Field names are
//! `snake_case` in JSON; unknown fields are rejected so that an SDK never silently ignores a rule
//! it does not understand (new semantics bump [`SNAPSHOT_FORMAT`]).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The snapshot format version this core reads and writes (`format` field). A snapshot with
/// another value is refused with `SNAPSHOT_INVALID`.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// A whole snapshot: everything an SDK needs to evaluate every flag of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotDef {
    /// Format version; must equal [`SNAPSHOT_FORMAT`].
    pub format: u32,
    /// Project key, e.g. `"webshop"`.
    pub project: String,
    /// Environment key, e.g. `"production"`. Checked against the SDK's configured environment.
    pub environment: String,
    /// Monotonically increasing publish counter for this environment (starts at 1).
    pub version: u64,
    /// Issue time, milliseconds since the Unix epoch (UTC).
    pub issued_at: u64,
    /// Expiry, milliseconds since the Unix epoch (UTC); SDKs refuse the snapshot at or after it.
    pub expires_at: u64,
    /// Per-environment bucketing salt (any string; the server uses 32 random hex digits). Also
    /// salts the digests of a `client` snapshot (`spec/SNAPSHOT.md` §9).
    pub salt: String,
    /// Who the snapshot is for: `server` (the default; raw targeting data) or `client` (only
    /// client-visible flags; targeting keys and sensitive clause values as digests).
    #[serde(default, skip_serializing_if = "Audience::is_server")]
    pub audience: Audience,
    /// Flags, each key unique.
    #[serde(default)]
    pub flags: Vec<FlagDef>,
    /// Segments, each key unique.
    #[serde(default)]
    pub segments: Vec<SegmentDef>,
}

/// Who a snapshot is published for (`spec/SNAPSHOT.md` §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Server-side SDKs and workers: every flag, raw targeting data.
    #[default]
    Server,
    /// Browsers and other untrusted devices: only flags marked `client_visible`, individual
    /// targeting keys, segment key lists and `sensitive` clause values replaced by salted
    /// SHA-256 digests ([`crate::sensitive_digest`]).
    Client,
}

impl Audience {
    /// `true` for [`Audience::Server`] (lets serde omit the default).
    pub fn is_server(&self) -> bool {
        *self == Audience::Server
    }

    /// Both audiences.
    pub const ALL: [Audience; 2] = [Audience::Server, Audience::Client];

    /// The lowercase name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Audience::Server => "server",
            Audience::Client => "client",
        }
    }

    /// The audience named `server` or `client` (as in JSON); `None` for another string.
    pub fn parse(name: &str) -> Option<Audience> {
        Audience::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// The type every variant value of a flag has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// JSON `true` / `false`.
    Boolean,
    /// JSON string.
    String,
    /// JSON number without fraction, in `i64` range.
    Integer,
    /// JSON number (`f64`).
    Float,
    /// JSON object (remote configuration).
    Object,
}

impl ValueType {
    /// The lowercase name used in JSON and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Integer => "integer",
            ValueType::Float => "float",
            ValueType::Object => "object",
        }
    }
}

/// One flag's definition in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagDef {
    /// Flag key, unique in the snapshot.
    pub key: String,
    /// Type of every variant value.
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// Named variants in document order: `{"on": true, "off": false}`. Duplicate names are an error.
    pub variants: OrderedMap<Value>,
    /// `false` serves `off_variant` with reason `DISABLED`.
    pub enabled: bool,
    /// Variant served when the flag is disabled or a prerequisite fails.
    pub off_variant: String,
    /// Individual targets, checked before rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetDef>,
    /// Flags that must evaluate to one of the given variants first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<PrerequisiteDef>,
    /// Rules, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleDef>,
    /// Fallthrough serve when no target or rule matched.
    pub default: ServeDef,
    /// Free-form flag metadata returned with every evaluation (OpenFeature flag metadata):
    /// values must be strings, numbers or booleans.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    /// Whether the flag goes into the environment's `client` snapshot (browsers, mobile).
    /// Default `false`: a flag is server-only until marked.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub client_visible: bool,
}

/// Serve `variant` to every listed targeting key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDef {
    /// Variant name.
    pub variant: String,
    /// Targeting keys; a key may appear in only one target of a flag.
    pub keys: Vec<String>,
}

/// Another flag that must evaluate to one of `variants` for this flag's targeting to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrerequisiteDef {
    /// Key of the prerequisite flag (must exist; cycles are refused).
    pub flag: String,
    /// Accepted variant names of the prerequisite flag (at least one).
    pub variants: Vec<String>,
}

/// A targeting rule: when `when` matches, serve `serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Rule id, unique within the flag; reported as the evaluation's `rule_id`.
    pub id: String,
    /// Condition tree.
    pub when: Condition,
    /// What to serve when the condition matches.
    pub serve: ServeDef,
}

/// What a rule or the default serves: one variant or a weighted rollout.
///
/// JSON: `{"variant": "on"}` or `{"rollout": {...}}` (exactly one key; anything else is a
/// parse error).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServeDef {
    /// Serve this variant.
    Variant(String),
    /// Split units between variants by their bucket.
    Rollout(RolloutDef),
}

impl<'de> Deserialize<'de> for ServeDef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServeDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SERVE_FORMS)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ServeDef, A::Error> {
                let mut forms = Vec::new();
                while let Some(key) = access.next_key::<String>()? {
                    forms.push(match key.as_str() {
                        "variant" => ServeDef::Variant(access.next_value()?),
                        "rollout" => ServeDef::Rollout(access.next_value()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["variant", "rollout"]));
                        }
                    });
                }
                match <[ServeDef; 1]>::try_from(forms) {
                    Ok([serve]) => Ok(serve),
                    Err(_) => Err(de::Error::custom(SERVE_FORMS)),
                }
            }
        }
        deserializer.deserialize_map(V)
    }
}

const SERVE_FORMS: &str =
    "a serve must be exactly one of {\"variant\": NAME} or {\"rollout\": {..}}";

/// A weighted split. Weights are basis points (0..=10000) and must sum to 10000.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutDef {
    /// Context attribute whose value is bucketed; `None` means the targeting key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    /// Bucketing seed; `None` means the flag key (so all rollouts of a flag agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Ordered variant weights; bucket ranges are assigned in this order.
    pub weights: Vec<WeightDef>,
}

/// One variant's share of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDef {
    /// Variant name.
    pub variant: String,
    /// Share in basis points, 0..=10000.
    pub weight: u32,
}

/// A segment: a reusable set of units (`spec/SNAPSHOT.md` §2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    /// Segment key, unique in the snapshot.
    pub key: String,
    /// Targeting keys always in the segment (unless excluded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<String>,
    /// Targeting keys never in the segment (wins over `included` and rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// A unit matching any rule is in the segment. Rules may not use `in_segment`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<SegmentRuleDef>,
}

/// A segment rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRuleDef {
    /// Rule id, unique within the segment.
    pub id: String,
    /// Condition tree.
    pub when: Condition,
}

/// A condition tree node.
///
/// JSON: `{"all": [..]}`, `{"any": [..]}`, `{"not": {..}}`, or a clause object with `op`.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every child matches (true when empty).
    All(Vec<Condition>),
    /// At least one child matches (false when empty).
    Any(Vec<Condition>),
    /// The child does not match.
    Not(Box<Condition>),
    /// A single test on one context attribute.
    Clause(Clause),
}

/// A single test on a context attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// Attribute name: `targetingKey`, `$now` (evaluation time in ms) or a context attribute.
    /// Absent only for `in_segment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The operator.
    pub op: Operator,
    /// Operand of single-valued operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Operands of set operators (`in`, `not_in`, `contains`, `starts_with`, `ends_with`,
    /// `in_segment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// Compare strings after Unicode lowercasing (string operators only).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub ignore_case: bool,
    /// The operands are sensitive (e.g. e-mail addresses): allowed on `equals`, `not_equals`,
    /// `in` and `not_in` with string operands. In a `server` snapshot the operands are plain; in
    /// a `client` snapshot each is the hex [`crate::sensitive_digest`] of the (case-folded)
    /// operand, and the context value is hashed the same way before comparing.
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub sensitive: bool,
}

/// Clause operators (`spec/SNAPSHOT.md` §3 gives each one's exact semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each variant is documented in spec/SNAPSHOT.md §3
pub enum Operator {
    Equals,
    NotEquals,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Lt,
    Lte,
    Gt,
    Gte,
    SemverEq,
    SemverLt,
    SemverLte,
    SemverGt,
    SemverGte,
    Before,
    After,
    Exists,
    InSegment,
}

impl Operator {
    /// The `snake_case` name used in JSON.
    pub fn as_str(self) -> &'static str {
        use Operator::*;
        match self {
            Equals => "equals",
            NotEquals => "not_equals",
            In => "in",
            NotIn => "not_in",
            Contains => "contains",
            StartsWith => "starts_with",
            EndsWith => "ends_with",
            Matches => "matches",
            Lt => "lt",
            Lte => "lte",
            Gt => "gt",
            Gte => "gte",
            SemverEq => "semver_eq",
            SemverLt => "semver_lt",
            SemverLte => "semver_lte",
            SemverGt => "semver_gt",
            SemverGte => "semver_gte",
            Before => "before",
            After => "after",
            Exists => "exists",
            InSegment => "in_segment",
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::All(children) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("all", children)?;
                map.end()
            }
            Condition::Any(children) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("any", children)?;
                map.end()
            }
            Condition::Not(child) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("not", child)?;
                map.end()
            }
            Condition::Clause(clause) => clause.serialize(serializer),
        }
    }
}

/// The union of every form a condition object can take, so one pass of the JSON decides which
/// form it is and reports a precise error when it is none or several.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionFields {
    all: Option<Vec<Condition>>,
    any: Option<Vec<Condition>>,
    not: Option<Box<Condition>>,
    attribute: Option<String>,
    op: Option<Operator>,
    value: Option<Value>,
    values: Option<Vec<Value>>,
    #[serde(default)]
    ignore_case: bool,
    #[serde(default)]
    sensitive: bool,
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = ConditionFields::deserialize(deserializer)?;
        let clause_fields = f.attribute.is_some()
            || f.op.is_some()
            || f.value.is_some()
            || f.values.is_some()
            || f.ignore_case
            || f.sensitive;
        let forms = usize::from(f.all.is_some())
            + usize::from(f.any.is_some())
            + usize::from(f.not.is_some())
            + usize::from(clause_fields);
        if forms != 1 {
            return Err(de::Error::custom(
                "a condition must be exactly one of {\"all\": [..]}, {\"any\": [..]}, {\"not\": {..}} or a clause with \"op\"",
            ));
        }
        if let Some(all) = f.all {
            return Ok(Condition::All(all));
        }
        if let Some(any) = f.any {
            return Ok(Condition::Any(any));
        }
        if let Some(not) = f.not {
            return Ok(Condition::Not(not));
        }
        let op =
            f.op.ok_or_else(|| de::Error::custom("a clause needs an \"op\""))?;
        Ok(Condition::Clause(Clause {
            attribute: f.attribute,
            op,
            value: f.value,
            values: f.values,
            ignore_case: f.ignore_case,
            sensitive: f.sensitive,
        }))
    }
}

/// A JSON object read in document order that refuses duplicate keys (serde_json's maps keep
/// the last duplicate silently, which would hide authoring mistakes in signed data).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderedMap<T>(pub Vec<(String, T)>);

impl<T> OrderedMap<T> {
    /// Looks a key up (linear; these maps are small and only read at compile time).
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<T: Serialize> Serialize for OrderedMap<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OrderedMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(core::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OrderedMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with unique keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, T)> = Vec::new();
                while let Some((k, v)) = access.next_entry::<String, T>()? {
                    if entries.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(alloc::format!("duplicate key \"{k}\"")));
                    }
                    entries.push((k, v));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(V(core::marker::PhantomData))
    }
}
