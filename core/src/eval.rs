//! Evaluation (`spec/SNAPSHOT.md` §3): flag → variant, with OpenFeature reasons.
//!
//! Order: flag lookup → `enabled` → prerequisites → individual targets → rules (first match)
//! → default. Flag-level problems never raise: they come back as reason `ERROR` with a code.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use hashbrown::HashMap;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::compile::{
    AttrRef, Clause, Cmp, Cond, Flag, Scalar, Serve, Snapshot, StrOp, Test, number_key,
};
use crate::context::{AttributeValue, Context, str_hash};
use crate::date::{rfc3339_ms, safe_integer};
use crate::error::ErrorCode;
use crate::model::ValueType;
use crate::value::{FlagValue, MetadataValue};

/// Why a value was served (OpenFeature resolution reasons, plus `PREREQUISITE_FAILED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The flag has no targeting at all; its default variant is served.
    Static,
    /// Targeting exists but nothing matched; the default serve was a single variant.
    Default,
    /// An individual target or a rule serving one variant matched.
    TargetingMatch,
    /// A rollout (in a rule or the default) picked the variant by bucket.
    Split,
    /// The flag is switched off; its off variant is served.
    Disabled,
    /// A prerequisite flag did not evaluate to an accepted variant; the off variant is served.
    PrerequisiteFailed,
    /// Evaluation failed; see the error code. The caller's default is served.
    Error,
}

impl Reason {
    /// The stable string (`"TARGETING_MATCH"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Static => "STATIC",
            Reason::Default => "DEFAULT",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Split => "SPLIT",
            Reason::Disabled => "DISABLED",
            Reason::PrerequisiteFailed => "PREREQUISITE_FAILED",
            Reason::Error => "ERROR",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An evaluation error: stable code plus a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// Stable code (`FLAG_NOT_FOUND`, `TYPE_MISMATCH`, `TARGETING_KEY_MISSING`, ...).
    pub code: ErrorCode,
    /// What went wrong, naming the flag and attribute.
    pub message: String,
}

/// Flag metadata (OpenFeature): name → string, number or boolean.
#[derive(Debug, Clone, Copy)]
pub struct FlagMetadata<'s>(&'s [(alloc::boxed::Box<str>, MetadataValue)]);

impl<'s> FlagMetadata<'s> {
    /// Looks an entry up.
    pub fn get(&self, name: &str) -> Option<&'s MetadataValue> {
        self.0.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }
    /// All entries, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'s str, &'s MetadataValue)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for FlagMetadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

/// The result of evaluating one flag; borrows from the [`Snapshot`].
///
/// On error `value` and `variant` are `None`, `reason` is [`Reason::Error`] and `error` is set.
#[derive(Debug, Clone)]
pub struct EvaluationDetails<'s> {
    /// The served value.
    pub value: Option<&'s FlagValue>,
    /// The served variant's name.
    pub variant: Option<&'s str>,
    /// Why it was served.
    pub reason: Reason,
    /// Set when `reason` is `ERROR`.
    pub error: Option<EvalError>,
    /// Id of the rule that matched, if a rule decided.
    pub rule_id: Option<&'s str>,
    /// The unit's bucket (0..=9999, basis points; `spec/SNAPSHOT.md` §4) when a rollout
    /// decided (`reason` is `SPLIT`), else `None`.
    pub bucket: Option<u32>,
    /// The flag's metadata (empty when the flag was not found).
    pub metadata: FlagMetadata<'s>,
}

impl EvaluationDetails<'_> {
    fn error(code: ErrorCode, message: String) -> Self {
        EvaluationDetails {
            value: None,
            variant: None,
            reason: Reason::Error,
            error: Some(EvalError { code, message }),
            rule_id: None,
            bucket: None,
            metadata: FlagMetadata(&[]),
        }
    }

    /// The error code, if any.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error.as_ref().map(|e| e.code)
    }
}

/// JSON shape (also `spec/vectors` `expected`): `{"value", "variant", "reason", "rule_id",
/// "error_code", "error_message", "metadata"}` with absent members as `null`.
impl Serialize for EvaluationDetails<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("value", &self.value)?;
        map.serialize_entry("variant", &self.variant)?;
        map.serialize_entry("reason", &self.reason)?;
        map.serialize_entry("rule_id", &self.rule_id)?;
        map.serialize_entry("error_code", &self.error.as_ref().map(|e| e.code))?;
        map.serialize_entry("error_message", &self.error.as_ref().map(|e| &e.message))?;
        map.serialize_entry("metadata", &self.metadata)?;
        map.end()
    }
}

/// A typed result: the value (the caller's default on any error) plus the details.
#[derive(Debug, Clone)]
pub struct TypedDetails<'s, T> {
    /// The served value, or the caller's default when `details.reason` is `ERROR`.
    pub value: T,
    /// Full details; on `TYPE_MISMATCH` they carry no value or variant.
    pub details: EvaluationDetails<'s>,
}

/// What SDKs report when a flag value is used (`spec/EVENTS.md` will carry it on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// Flag key.
    pub flag: String,
    /// Variant served.
    pub variant: String,
    /// Reason string (`SPLIT`, `TARGETING_MATCH`, ...).
    pub reason: &'static str,
    /// Rule that matched, if any.
    pub rule_id: Option<String>,
    /// The unit's targeting key, if the context had one.
    pub targeting_key: Option<String>,
    /// Snapshot version evaluated against.
    pub snapshot_version: u64,
    /// Snapshot digest (`sha256:<hex>`), if the snapshot was loaded from a signed envelope.
    pub snapshot_digest: Option<String>,
    /// When the value was served, ms since epoch.
    pub time: u64,
}

/// Internal outcome of resolving a flag to a variant.
#[derive(Clone, Copy)]
struct Resolved {
    variant: u32,
    reason: Reason,
    rule: Option<u32>,
    /// The unit's bucket when a rollout decided.
    bucket: Option<u32>,
}

impl Snapshot {
    /// Evaluates `flag_key` for `ctx` at `now` (ms since epoch; the value of `$now`).
    ///
    /// Never fails: a missing flag gives `FLAG_NOT_FOUND`, a rollout without its bucketing
    /// attribute gives `TARGETING_KEY_MISSING` / `INVALID_CONTEXT`, always with reason `ERROR`.
    /// Allocates only on error paths and for `ignore_case` / integer-bucketing operands.
    ///
    /// ```
    /// # use burgee_core::{Snapshot, Context, Reason};
    /// let snap = Snapshot::from_json(br#"{"format":1,"project":"p","environment":"dev",
    ///   "version":1,"issued_at":0,"expires_at":10,"salt":"s","flags":[{"key":"f",
    ///   "type":"boolean","variants":{"on":true,"off":false},"enabled":true,
    ///   "off_variant":"off","default":{"variant":"on"}}]}"#).unwrap();
    /// let d = snap.evaluate("f", &Context::new("u1"), 5);
    /// assert_eq!(d.variant, Some("on"));
    /// assert_eq!(d.reason, Reason::Static);
    /// ```
    pub fn evaluate<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
    ) -> EvaluationDetails<'s> {
        let Some(&fi) = self.flag_index.get(flag_key) else {
            return EvaluationDetails::error(
                ErrorCode::FlagNotFound,
                format!(
                    "flag \"{flag_key}\" is not in snapshot version {}",
                    self.info.version
                ),
            );
        };
        self.details_for(fi, ctx, now)
    }

    fn details_for(&self, fi: u32, ctx: &Context, now: u64) -> EvaluationDetails<'_> {
        let Some(flag) = self.flags.get(fi as usize) else {
            return EvaluationDetails::error(ErrorCode::General, "flag index out of range".into());
        };
        match self.resolve(flag, ctx, now, &mut None) {
            Ok(r) => {
                let variant = flag.variants.get(r.variant as usize);
                EvaluationDetails {
                    value: variant.map(|v| &v.value),
                    variant: variant.map(|v| &*v.key),
                    reason: r.reason,
                    error: None,
                    rule_id: r
                        .rule
                        .and_then(|i| flag.rules.get(i as usize))
                        .map(|rule| &*rule.id),
                    bucket: r.bucket,
                    metadata: FlagMetadata(&flag.metadata),
                }
            }
            Err(e) => {
                let mut d = EvaluationDetails::error(e.code, e.message);
                d.metadata = FlagMetadata(&flag.metadata);
                d
            }
        }
    }

    /// Evaluates every flag for one context, in snapshot order: `(flag key, details)`.
    pub fn evaluate_all<'s>(
        &'s self,
        ctx: &Context,
        now: u64,
    ) -> Vec<(&'s str, EvaluationDetails<'s>)> {
        self.flags
            .iter()
            .enumerate()
            .map(|(i, f)| (&*f.key, self.details_for(crate::compile_index(i), ctx, now)))
            .collect()
    }

    /// A typed getter: `FLAG_NOT_FOUND` first, then `TYPE_MISMATCH` (the flag's type is known
    /// before any evaluation, so a wrong-type call fails the same way for every context and
    /// every evaluation error — `TARGETING_KEY_MISSING`, `INVALID_CONTEXT` — comes after it).
    fn typed<'s, T>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        want: ValueType,
        default: T,
        pick: impl FnOnce(&'s FlagValue) -> Option<T>,
    ) -> TypedDetails<'s, T> {
        if let Some(flag) = self
            .flag_index
            .get(flag_key)
            .and_then(|&i| self.flags.get(i as usize))
            && flag.value_type != want
        {
            let mut err = EvaluationDetails::error(
                ErrorCode::TypeMismatch,
                format!(
                    "flag \"{flag_key}\" is of type {}, {} was requested",
                    flag.value_type.as_str(),
                    want.as_str()
                ),
            );
            err.metadata = FlagMetadata(&flag.metadata);
            return TypedDetails {
                value: default,
                details: err,
            };
        }
        let details = self.evaluate(flag_key, ctx, now);
        if details.error.is_some() {
            return TypedDetails {
                value: default,
                details,
            };
        }
        match details.value.and_then(pick) {
            Some(value) => TypedDetails { value, details },
            // Compile checked every variant against the flag's type.
            None => TypedDetails {
                value: default,
                details: EvaluationDetails::error(
                    ErrorCode::General,
                    format!("flag \"{flag_key}\" served a value not of its type"),
                ),
            },
        }
    }

    /// Typed evaluation of a `boolean` flag; `default` on any error (`TYPE_MISMATCH` for
    /// another type).
    pub fn get_bool<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: bool,
    ) -> TypedDetails<'s, bool> {
        self.typed(
            flag_key,
            ctx,
            now,
            ValueType::Boolean,
            default,
            |v| match v {
                FlagValue::Bool(b) => Some(*b),
                _ => None,
            },
        )
    }

    /// Typed evaluation of a `string` flag; `default` on any error.
    pub fn get_string<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: &'s str,
    ) -> TypedDetails<'s, &'s str> {
        self.typed(
            flag_key,
            ctx,
            now,
            ValueType::String,
            default,
            |v| match v {
                FlagValue::String(s) => Some(&**s),
                _ => None,
            },
        )
    }

    /// Typed evaluation of an `integer` flag; `default` on any error.
    pub fn get_integer<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: i64,
    ) -> TypedDetails<'s, i64> {
        self.typed(
            flag_key,
            ctx,
            now,
            ValueType::Integer,
            default,
            |v| match v {
                FlagValue::Integer(i) => Some(*i),
                _ => None,
            },
        )
    }

    /// Typed evaluation of a `float` flag; `default` on any error. An `integer` flag is a
    /// `TYPE_MISMATCH` (no silent widening).
    pub fn get_float<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: f64,
    ) -> TypedDetails<'s, f64> {
        self.typed(flag_key, ctx, now, ValueType::Float, default, |v| match v {
            FlagValue::Float(f) => Some(*f),
            _ => None,
        })
    }

    /// Typed evaluation of an `object` flag (remote configuration); `default` on any error.
    pub fn get_object<'s>(
        &'s self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: &'s Map<String, Value>,
    ) -> TypedDetails<'s, &'s Map<String, Value>> {
        self.typed(
            flag_key,
            ctx,
            now,
            ValueType::Object,
            default,
            |v| match v {
                FlagValue::Object(m) => Some(m),
                _ => None,
            },
        )
    }

    /// The exposure record for a served evaluation; `None` when it served no variant (error).
    pub fn exposure(
        &self,
        flag_key: &str,
        details: &EvaluationDetails<'_>,
        ctx: &Context,
        now: u64,
    ) -> Option<Exposure> {
        let variant = details.variant?;
        Some(Exposure {
            flag: flag_key.to_owned(),
            variant: variant.to_owned(),
            reason: details.reason.as_str(),
            rule_id: details.rule_id.map(ToOwned::to_owned),
            targeting_key: ctx.targeting_key().map(ToOwned::to_owned),
            snapshot_version: self.info.version,
            snapshot_digest: self.info.digest.clone(),
            time: now,
        })
    }

    /// Resolves `flag` to a variant. `memo` holds the prerequisites resolved so far in this
    /// evaluation (created at the first prerequisite), so each flag is resolved at most once
    /// and one evaluation is linear in the flags and prerequisites it reaches, however the
    /// prerequisite graph shares flags (`limits` bounds the recursion depth).
    fn resolve(
        &self,
        flag: &Flag,
        ctx: &Context,
        now: u64,
        memo: &mut Option<HashMap<u32, Resolved>>,
    ) -> Result<Resolved, EvalError> {
        if !flag.enabled {
            return Ok(Resolved {
                variant: flag.off_variant,
                reason: Reason::Disabled,
                rule: None,
                bucket: None,
            });
        }
        for (pi, accepted) in flag.prerequisites.iter() {
            let Some(pf) = self.flags.get(*pi as usize) else {
                return Err(EvalError {
                    code: ErrorCode::General,
                    message: "prerequisite index out of range".into(),
                });
            };
            let known = memo.as_ref().and_then(|m| m.get(pi)).copied();
            let r = match known {
                Some(r) => r,
                None => {
                    let r = self.resolve(pf, ctx, now, memo)?;
                    memo.get_or_insert_with(HashMap::new).insert(*pi, r);
                    r
                }
            };
            if !accepted.contains(&r.variant) {
                return Ok(Resolved {
                    variant: flag.off_variant,
                    reason: Reason::PrerequisiteFailed,
                    rule: None,
                    bucket: None,
                });
            }
        }
        if !flag.targets.is_empty()
            && let Some(v) = ctx.targeting_key().and_then(|k| match &self.digests {
                None => flag.targets.get(k),
                Some(h) => flag.targets.get(h.hex(k).as_str()),
            })
        {
            return Ok(Resolved {
                variant: *v,
                reason: Reason::TargetingMatch,
                rule: None,
                bucket: None,
            });
        }
        for (ri, rule) in flag.rules.iter().enumerate() {
            if self.cond_matches(&rule.cond, ctx, now) {
                let (variant, bucket) = self.serve(&rule.serve, flag, ctx)?;
                return Ok(Resolved {
                    variant,
                    reason: if bucket.is_some() {
                        Reason::Split
                    } else {
                        Reason::TargetingMatch
                    },
                    rule: Some(crate::compile_index(ri)),
                    bucket,
                });
            }
        }
        let (variant, bucket) = self.serve(&flag.default, flag, ctx)?;
        let reason = if bucket.is_some() {
            Reason::Split
        } else if flag.is_static {
            Reason::Static
        } else {
            Reason::Default
        };
        Ok(Resolved {
            variant,
            reason,
            rule: None,
            bucket,
        })
    }

    /// `(variant, the unit's bucket if a rollout decided)`.
    fn serve(
        &self,
        serve: &Serve,
        flag: &Flag,
        ctx: &Context,
    ) -> Result<(u32, Option<u32>), EvalError> {
        match serve {
            Serve::Variant(v) => Ok((*v, None)),
            Serve::Rollout {
                bucket_by,
                bucketer,
                ranges,
            } => {
                let mut buf = String::new();
                let value: &str = match bucket_by {
                    AttrRef::TargetingKey => ctx.targeting_key().ok_or_else(|| EvalError {
                        code: ErrorCode::TargetingKeyMissing,
                        message: format!(
                            "flag \"{}\" rolls out by targeting key and the context has none",
                            flag.key
                        ),
                    })?,
                    AttrRef::Named { name, hash } => {
                        match ctx.get_hashed(*hash, name).map(|(v, _)| v) {
                            Some(AttributeValue::String(s)) => s,
                            Some(AttributeValue::Number(n)) if safe_integer(*n).is_some() => {
                                // Integers bucket by their decimal form, e.g. 42 → "42".
                                let _ = write!(buf, "{}", safe_integer(*n).unwrap_or_default());
                                &buf
                            }
                            Some(_) => {
                                return Err(EvalError {
                                    code: ErrorCode::InvalidContext,
                                    message: format!(
                                        "flag \"{}\" rolls out by \"{name}\", which must be a string or an integer",
                                        flag.key
                                    ),
                                });
                            }
                            None => {
                                return Err(EvalError {
                                    code: ErrorCode::InvalidContext,
                                    message: format!(
                                        "flag \"{}\" rolls out by \"{name}\" and the context has no such attribute",
                                        flag.key
                                    ),
                                });
                            }
                        }
                    }
                    AttrRef::Now => {
                        return Err(EvalError {
                            code: ErrorCode::General,
                            message: "cannot bucket by $now".into(),
                        });
                    }
                };
                let b = bucketer.bucket(value);
                let variant = ranges
                    .iter()
                    .find(|(upper, _)| b < *upper)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| EvalError {
                        code: ErrorCode::General,
                        message: "rollout ranges do not cover the bucket".into(),
                    })?;
                Ok((variant, Some(b)))
            }
        }
    }

    fn cond_matches(&self, cond: &Cond, ctx: &Context, now: u64) -> bool {
        match cond {
            Cond::All(children) => children.iter().all(|c| self.cond_matches(c, ctx, now)),
            Cond::Any(children) => children.iter().any(|c| self.cond_matches(c, ctx, now)),
            Cond::Not(child) => !self.cond_matches(child, ctx, now),
            Cond::Clause(clause) => self.clause_matches(clause, ctx, now),
        }
    }

    fn in_segment(&self, si: u32, ctx: &Context, now: u64) -> bool {
        let Some(seg) = self.segments.get(si as usize) else {
            return false;
        };
        if let Some(key) = ctx.targeting_key()
            && !(seg.excluded.is_empty() && seg.included.is_empty())
        {
            let digest = self.digests.as_ref().map(|h| h.hex(key));
            let key = digest.as_ref().map_or(key, |d| d.as_str());
            if seg.excluded.contains(key) {
                return false;
            }
            if seg.included.contains(key) {
                return true;
            }
        }
        seg.rules.iter().any(|r| self.cond_matches(r, ctx, now))
    }

    fn clause_matches(&self, c: &Clause, ctx: &Context, now: u64) -> bool {
        if let Test::InSegment(ids) = &c.test {
            return ids.iter().any(|s| self.in_segment(*s, ctx, now));
        }
        #[allow(clippy::cast_precision_loss)] // ms since epoch stays far below 2^53
        let now_value = AttributeValue::Number(now as f64);
        let attr = match &c.attr {
            AttrRef::TargetingKey => ctx.targeting_key_hashed().map(|(k, h)| Attr::Str(k, h)),
            AttrRef::Now => Some(Attr::Value(&now_value, 0)),
            AttrRef::Named { name, hash } => {
                ctx.get_hashed(*hash, name).map(|(v, h)| Attr::Value(v, h))
            }
        };
        // A missing attribute never matches, whatever the operator (negated ones included).
        let Some(attr) = attr else { return false };
        let positive = match &c.test {
            Test::Exists => true,
            Test::Equals(s) => attr.any_scalar(|a| scalar_eq(s, a, c.ignore_case)),
            Test::In(set) => attr.any_scalar(|a| match a {
                ScalarRef::Str(s, hash) => {
                    if c.ignore_case {
                        let lower = s.to_lowercase();
                        set.strings.contains(&lower, str_hash(&lower))
                    } else {
                        set.strings.contains(s, hash.unwrap_or_else(|| str_hash(s)))
                    }
                }
                ScalarRef::Num(n) => set.numbers.contains(&number_key(n)),
                ScalarRef::Bool(b) => set.bools.get(usize::from(b)).copied().unwrap_or(false),
            }),
            Test::Str(op, needles) => attr.any_str(|s| {
                fold(s, c.ignore_case, |s| {
                    needles.iter().any(|n| match op {
                        StrOp::Contains => s.contains(&**n),
                        StrOp::StartsWith => s.starts_with(&**n),
                        StrOp::EndsWith => s.ends_with(&**n),
                    })
                })
            }),
            Test::Matches(re) => attr.any_str(|s| re.is_match(s)),
            Test::Number(cmp, v) => match attr.number() {
                Some(n) => compare(cmp, n.partial_cmp(v)),
                None => false,
            },
            Test::Semver(cmp, v) => attr.any_str(|s| {
                semver::Version::parse(s).is_ok_and(|a| compare(cmp, Some(a.cmp_precedence(v))))
            }),
            Test::Date { before, at_ms } => {
                let holds = |t: i64| if *before { t < *at_ms } else { t > *at_ms };
                // Numbers: integral ms within ±(2^53−1); strings (and each string of a list):
                // RFC 3339 date-times.
                match attr.number() {
                    Some(n) => safe_integer(n).is_some_and(holds),
                    None => attr.any_str(|s| rfc3339_ms(s).is_some_and(holds)),
                }
            }
            Test::InSegment(_) => false,
            Test::Digest(set) => match &self.digests {
                Some(h) => attr.any_str(|s| {
                    fold(s, c.ignore_case, |s| {
                        let d = h.hex(s);
                        set.contains(d.as_str(), str_hash(d.as_str()))
                    })
                }),
                None => false,
            },
        };
        positive != c.negate
    }
}

fn compare(cmp: &Cmp, ord: Option<core::cmp::Ordering>) -> bool {
    use core::cmp::Ordering::*;
    match (cmp, ord) {
        (_, None) => false,
        (Cmp::Eq, Some(o)) => o == Equal,
        (Cmp::Lt, Some(o)) => o == Less,
        (Cmp::Lte, Some(o)) => o != Greater,
        (Cmp::Gt, Some(o)) => o == Greater,
        (Cmp::Gte, Some(o)) => o != Less,
    }
}

/// Applies `f` to `s`, lowercased first when `ignore_case`.
fn fold(s: &str, ignore_case: bool, f: impl FnOnce(&str) -> bool) -> bool {
    if ignore_case {
        f(&s.to_lowercase())
    } else {
        f(s)
    }
}

fn scalar_eq(s: &Scalar, a: ScalarRef<'_>, ignore_case: bool) -> bool {
    match (s, a) {
        (Scalar::String(want), ScalarRef::Str(got, _)) => fold(got, ignore_case, |g| g == &**want),
        (Scalar::Number(want), ScalarRef::Num(got)) => *want == got,
        (Scalar::Bool(want), ScalarRef::Bool(got)) => *want == got,
        _ => false,
    }
}

#[derive(Clone, Copy)]
enum ScalarRef<'a> {
    /// A string and its `str_hash` when already known.
    Str(&'a str, Option<u64>),
    Num(f64),
    Bool(bool),
}

/// A looked-up attribute.
/// Each carries the `str_hash` of a string value (0 for other types).
enum Attr<'a> {
    Str(&'a str, u64),
    Value(&'a AttributeValue, u64),
}

impl Attr<'_> {
    /// True if `f` holds for the scalar, or for any element of a list.
    fn any_scalar(&self, mut f: impl FnMut(ScalarRef<'_>) -> bool) -> bool {
        match self {
            Attr::Str(s, h) => f(ScalarRef::Str(s, Some(*h))),
            Attr::Value(AttributeValue::String(s), h) => f(ScalarRef::Str(s, Some(*h))),
            Attr::Value(AttributeValue::Number(n), _) => f(ScalarRef::Num(*n)),
            Attr::Value(AttributeValue::Bool(b), _) => f(ScalarRef::Bool(*b)),
            Attr::Value(AttributeValue::List(items), _) => {
                items.iter().any(|s| f(ScalarRef::Str(s, None)))
            }
        }
    }

    /// True if `f` holds for the string, or for any string of a list; false for other types.
    fn any_str(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        match self {
            Attr::Str(s, _) => f(s),
            Attr::Value(AttributeValue::String(s), _) => f(s),
            Attr::Value(AttributeValue::List(items), _) => items.iter().any(|s| f(s)),
            Attr::Value(..) => false,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Attr::Value(AttributeValue::Number(n), _) => Some(*n),
            _ => None,
        }
    }
}

/// A typed getter named at run time, for bindings to languages with one number type or
/// dynamic typing (JavaScript, Kotlin/Swift via uniffi): `number` is the `float` getter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// [`Snapshot::get_bool`].
    Boolean,
    /// [`Snapshot::get_string`].
    String,
    /// [`Snapshot::get_float`] (`number` or `float`).
    Number,
    /// [`Snapshot::get_integer`].
    Integer,
    /// [`Snapshot::get_object`].
    Object,
}

impl ValueKind {
    /// Parses `boolean`, `string`, `number` (or `float`), `integer`, `object`.
    pub fn parse(name: &str) -> Option<ValueKind> {
        Some(match name {
            "boolean" => ValueKind::Boolean,
            "string" => ValueKind::String,
            "number" | "float" => ValueKind::Number,
            "integer" => ValueKind::Integer,
            "object" => ValueKind::Object,
            _ => return None,
        })
    }
}

impl Snapshot {
    /// Calls the typed getter of `kind` with a JSON `default`, returning the served value as
    /// JSON (the default on any evaluation error) and the details.
    ///
    /// # Errors
    /// `TYPE_MISMATCH` when `default` is not of `kind` (an integer may be given as a float
    /// without fraction).
    pub fn get_json<'s>(
        &'s self,
        kind: ValueKind,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: &'s Value,
    ) -> Result<(Value, EvaluationDetails<'s>), EvalError> {
        let bad_default = |what: &str| EvalError {
            code: ErrorCode::TypeMismatch,
            message: format!("the default value must be {what}"),
        };
        Ok(match kind {
            ValueKind::Boolean => {
                let d = default.as_bool().ok_or_else(|| bad_default("a boolean"))?;
                let t = self.get_bool(flag_key, ctx, now, d);
                (Value::Bool(t.value), t.details)
            }
            ValueKind::String => {
                let d = default.as_str().ok_or_else(|| bad_default("a string"))?;
                let t = self.get_string(flag_key, ctx, now, d);
                (Value::String(t.value.to_owned()), t.details)
            }
            ValueKind::Number => {
                let d = default.as_f64().ok_or_else(|| bad_default("a number"))?;
                let t = self.get_float(flag_key, ctx, now, d);
                (
                    serde_json::Number::from_f64(t.value).map_or(Value::Null, Value::Number),
                    t.details,
                )
            }
            ValueKind::Integer => {
                let d = default
                    .as_i64()
                    .or_else(|| default.as_f64().and_then(safe_integer))
                    .ok_or_else(|| bad_default("an integer"))?;
                let t = self.get_integer(flag_key, ctx, now, d);
                (Value::from(t.value), t.details)
            }
            ValueKind::Object => {
                let d = default
                    .as_object()
                    .ok_or_else(|| bad_default("an object"))?;
                let t = self.get_object(flag_key, ctx, now, d);
                (Value::Object(t.value.clone()), t.details)
            }
        })
    }
}
