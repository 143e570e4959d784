//! Compiling a [`SnapshotDef`] into the evaluation-ready [`Snapshot`]: names resolved to
//! indices, sets hashed, regexes and versions parsed, prerequisite cycles refused.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hashbrown::{HashMap, HashSet};
use regex_automata::meta::Regex;
use serde_json::Value;

use crate::context::TARGETING_KEY;
use crate::error::LoadError;
use crate::model::{
    Audience, Clause as ClauseDef, Condition, FlagDef, Operator, SNAPSHOT_FORMAT, SegmentDef,
    ServeDef, SnapshotDef, ValueType,
};
use crate::privacy::{SensitiveHasher, check_sensitive, is_digest};
use crate::value::{FlagValue, MetadataValue};

/// Attribute a clause or rollout reads.
#[derive(Debug, Clone)]
pub(crate) enum AttrRef {
    TargetingKey,
    /// `$now`: the evaluation time in ms since epoch.
    Now,
    Named {
        name: Box<str>,
        /// `context::str_hash(name)`, computed once here.
        hash: u64,
    },
}

/// A hash set of strings keyed by `context::str_hash`, so a context's precomputed value hash
/// makes a lookup one probe and one comparison.
#[derive(Clone, Default)]
pub(crate) struct StringSet(hashbrown::HashTable<Box<str>>);

impl StringSet {
    fn insert(&mut self, s: Box<str>) {
        let h = crate::context::str_hash(&s);
        if self.0.find(h, |e| *e == s).is_none() {
            self.0.insert_unique(h, s, |e| crate::context::str_hash(e));
        }
    }

    /// `hash` must be `context::str_hash(s)`.
    #[inline]
    pub(crate) fn contains(&self, s: &str, hash: u64) -> bool {
        self.0
            .find(hash, |e| crate::context::short_eq(e, s))
            .is_some()
    }
}

impl core::fmt::Debug for StringSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

/// A set of scalar operands for `in` / `not_in`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScalarSet {
    pub strings: StringSet,
    /// `f64::to_bits` of each number (with `-0.0` normalised to `0.0`).
    pub numbers: HashSet<u64>,
    pub bools: [bool; 2],
}

/// A scalar operand for `equals` / `not_equals`.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    String(Box<str>),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Equals(Scalar),
    In(ScalarSet),
    Str(StrOp, Box<[Box<str>]>),
    Matches(Box<Regex>),
    Number(Cmp, f64),
    Semver(Cmp, semver::Version),
    /// `before` (true) / `after` (false) the instant in ms since epoch.
    Date {
        before: bool,
        at_ms: i64,
    },
    Exists,
    InSegment(Box<[u32]>),
    /// A `sensitive` `equals` / `in` of a client snapshot: digests of the operands.
    Digest(StringSet),
}

#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub attr: AttrRef,
    pub test: Test,
    /// The operator is the negation of `test` (`not_equals`, `not_in`).
    pub negate: bool,
    pub ignore_case: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All(Box<[Cond]>),
    Any(Box<[Cond]>),
    Not(Box<Cond>),
    Clause(Clause),
}

#[derive(Debug, Clone)]
pub(crate) enum Serve {
    Variant(u32),
    Rollout {
        bucket_by: AttrRef,
        /// Salt and seed (default: the flag key) absorbed.
        bucketer: crate::bucket::Bucketer,
        /// `(exclusive upper bucket bound, variant index)`, ascending; the last bound is 10000.
        ranges: Box<[(u32, u32)]>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: Box<str>,
    pub cond: Cond,
    pub serve: Serve,
}

#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub key: Box<str>,
    pub value: FlagValue,
}

#[derive(Debug, Clone)]
pub(crate) struct Flag {
    pub key: Box<str>,
    pub value_type: ValueType,
    pub variants: Box<[Variant]>,
    pub enabled: bool,
    pub off_variant: u32,
    pub targets: HashMap<Box<str>, u32>,
    /// `(flag index, accepted variant indices of that flag)`.
    pub prerequisites: Box<[(u32, Box<[u32]>)]>,
    pub rules: Box<[Rule]>,
    pub default: Serve,
    /// No targets, prerequisites or rules: the default is served with reason `STATIC`.
    pub is_static: bool,
    pub metadata: Box<[(Box<str>, MetadataValue)]>,
}

#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub included: HashSet<Box<str>>,
    pub excluded: HashSet<Box<str>>,
    pub rules: Box<[Cond]>,
}

/// Who the snapshot is for and when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Publish version.
    pub version: u64,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// `sha256:<hex>` of the payload bytes it was loaded from; `None` when compiled from a
    /// document that was not signed (authoring-time validation).
    pub digest: Option<String>,
    /// Key id of the trusted key whose signature verified; `None` when not loaded from an
    /// envelope.
    pub keyid: Option<String>,
    /// Who the snapshot was published for (`server` or `client`, `spec/SNAPSHOT.md` §9).
    pub audience: Audience,
}

/// An evaluation-ready snapshot. Immutable; share it behind an `Arc` and swap on update.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) info: SnapshotInfo,
    pub(crate) flags: Box<[Flag]>,
    pub(crate) flag_index: HashMap<Box<str>, u32>,
    pub(crate) segments: Box<[Segment]>,
    /// Hashes targeting keys and sensitive context values in a `client` snapshot, whose
    /// targets, segment key lists and sensitive operands are digests; `None` for `server`.
    pub(crate) digests: Option<SensitiveHasher>,
}

fn invalid(path: &Path<'_>, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Where in the snapshot a compile error is, rendered only when an error is raised (building
/// path strings eagerly cost more than the rest of compiling): `flags[checkout].rules[r1].when`.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
    sub: Sub<'a>,
}

#[derive(Clone, Copy)]
enum Sub<'a> {
    None,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    fn root(name: &'a str) -> Self {
        Path {
            parent: None,
            name,
            sub: Sub::None,
        }
    }
    fn top(name: &'a str, key: &'a str) -> Self {
        Path {
            parent: None,
            name,
            sub: Sub::Key(key),
        }
    }
    fn field(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::None,
        }
    }
    fn key(&'a self, name: &'a str, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::Key(key),
        }
    }
    fn index(&'a self, name: &'a str, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::Index(i),
        }
    }
}

impl core::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)?;
        match self.sub {
            Sub::None => Ok(()),
            Sub::Key(k) => write!(f, "[{k}]"),
            Sub::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn index_u32(i: usize) -> u32 {
    // Snapshots are size-limited far below 2^32 elements.
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Snapshot {
    /// Compiles a parsed document. `digest` is recorded as the snapshot's identity.
    ///
    /// # Errors
    /// [`LoadError::Invalid`] (`SNAPSHOT_INVALID`) with the path of the first problem found:
    /// unsupported `format`, `expires_at` before `issued_at`, duplicate keys or ids, unknown
    /// variants, flags or segments, a variant value of the wrong type, weights not summing to
    /// 10000, a clause whose operands do not fit its operator, a bad regex / semver / date,
    /// `in_segment` inside a segment rule, or a prerequisite cycle.
    pub fn compile(def: &SnapshotDef, digest: Option<String>) -> Result<Snapshot, LoadError> {
        if def.format != SNAPSHOT_FORMAT {
            return Err(invalid(
                &Path::root("format"),
                format!(
                    "format {} is not supported (this core reads {SNAPSHOT_FORMAT})",
                    def.format
                ),
            ));
        }
        if def.expires_at <= def.issued_at {
            return Err(invalid(
                &Path::root("expires_at"),
                "must be after issued_at",
            ));
        }

        let mut segment_index: HashMap<&str, u32> = HashMap::new();
        for (i, s) in def.segments.iter().enumerate() {
            if segment_index.insert(s.key.as_str(), index_u32(i)).is_some() {
                return Err(invalid(
                    &Path::top("segments", &s.key),
                    "duplicate segment key",
                ));
            }
        }
        let mut flag_index: HashMap<Box<str>, u32> = HashMap::with_capacity(def.flags.len());
        for (i, f) in def.flags.iter().enumerate() {
            if flag_index
                .insert(f.key.as_str().into(), index_u32(i))
                .is_some()
            {
                return Err(invalid(&Path::top("flags", &f.key), "duplicate flag key"));
            }
        }

        let cx = Compiler {
            salt: &def.salt,
            audience: def.audience,
            segment_index: &segment_index,
            flag_index: &flag_index,
            flags: &def.flags,
        };
        let segments = def
            .segments
            .iter()
            .map(|s| cx.segment(s))
            .collect::<Result<Vec<_>, _>>()?;
        let flags = def
            .flags
            .iter()
            .map(|f| cx.flag(f))
            .collect::<Result<Vec<_>, _>>()?;
        check_prerequisite_cycles(&flags)?;

        Ok(Snapshot {
            info: SnapshotInfo {
                project: def.project.clone(),
                environment: def.environment.clone(),
                version: def.version,
                issued_at: def.issued_at,
                expires_at: def.expires_at,
                digest,
                keyid: None,
                audience: def.audience,
            },
            flags: flags.into_boxed_slice(),
            flag_index,
            segments: segments.into_boxed_slice(),
            digests: (def.audience == Audience::Client).then(|| SensitiveHasher::new(&def.salt)),
        })
    }

    /// Parses and compiles snapshot JSON without any signature check (for authoring-time
    /// validation and tests; SDKs use [`Snapshot::load`]).
    ///
    /// # Errors
    /// `PARSE_ERROR` for JSON that does not fit the schema, else as [`Snapshot::compile`].
    pub fn from_json(payload: &[u8]) -> Result<Snapshot, LoadError> {
        let def = parse_document(payload)?;
        Snapshot::compile(&def, None)
    }

    /// Who the snapshot is for and when it is valid.
    pub fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    /// The value type of a flag, `None` if the flag is not in the snapshot.
    pub fn flag_type(&self, flag_key: &str) -> Option<ValueType> {
        let i = *self.flag_index.get(flag_key)?;
        self.flags.get(i as usize).map(|f| f.value_type)
    }

    /// Flag keys in snapshot order.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| &*f.key)
    }
}

/// Parses snapshot JSON into the document model.
///
/// # Errors
/// [`LoadError::Parse`] with serde_json's line/column message.
pub fn parse_document(payload: &[u8]) -> Result<SnapshotDef, LoadError> {
    serde_json::from_slice(payload)
        .map_err(|e| LoadError::Parse(format!("snapshot does not match the format: {e}")))
}

struct Compiler<'a> {
    salt: &'a str,
    audience: Audience,
    segment_index: &'a HashMap<&'a str, u32>,
    flag_index: &'a HashMap<Box<str>, u32>,
    flags: &'a [FlagDef],
}

impl Compiler<'_> {
    /// In a `client` snapshot every listed targeting key must be a digest.
    fn check_keys(&self, keys: &[String], parent: &Path<'_>, name: &str) -> Result<(), LoadError> {
        if self.audience != Audience::Client {
            return Ok(());
        }
        match keys.iter().position(|k| !is_digest(k)) {
            Some(i) => Err(invalid(
                &parent.index(name, i),
                "a client snapshot lists targeting keys as digests (64 lowercase hex digits)",
            )),
            None => Ok(()),
        }
    }

    fn segment(&self, s: &SegmentDef) -> Result<Segment, LoadError> {
        let path = Path::top("segments", &s.key);
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(s.rules.len());
        for r in &s.rules {
            let rpath = path.key("rules", &r.id);
            if !ids.insert(r.id.as_str()) {
                return Err(invalid(&rpath, "duplicate rule id"));
            }
            rules.push(self.cond(&r.when, &rpath.field("when"), false)?);
        }
        for (name, keys) in [("included", &s.included), ("excluded", &s.excluded)] {
            self.check_keys(keys, &path, name)?;
        }
        Ok(Segment {
            included: s.included.iter().map(|k| k.as_str().into()).collect(),
            excluded: s.excluded.iter().map(|k| k.as_str().into()).collect(),
            rules: rules.into_boxed_slice(),
        })
    }

    fn flag(&self, f: &FlagDef) -> Result<Flag, LoadError> {
        let path = Path::top("flags", &f.key);
        if f.variants.0.is_empty() {
            return Err(invalid(
                &path.field("variants"),
                "at least one variant is required",
            ));
        }
        let mut variants = Vec::with_capacity(f.variants.0.len());
        for (name, value) in &f.variants.0 {
            let value = FlagValue::from_json(f.value_type, value).ok_or_else(|| {
                invalid(
                    &path.field("variants").field(name),
                    format!("value {value} is not of type {}", f.value_type.as_str()),
                )
            })?;
            variants.push(Variant {
                key: name.as_str().into(),
                value,
            });
        }
        let variant_of = |name: &str, at: &Path<'_>| -> Result<u32, LoadError> {
            f.variants
                .0
                .iter()
                .position(|(k, _)| k == name)
                .map(index_u32)
                .ok_or_else(|| invalid(at, format!("unknown variant \"{name}\"")))
        };

        let off_variant = variant_of(&f.off_variant, &path.field("off_variant"))?;

        let mut targets = HashMap::new();
        for (i, t) in f.targets.iter().enumerate() {
            let at = path.index("targets", i);
            let v = variant_of(&t.variant, &at)?;
            self.check_keys(&t.keys, &at, "keys")?;
            for key in &t.keys {
                if targets.insert(key.as_str().into(), v).is_some() {
                    return Err(invalid(
                        &at,
                        format!("targeting key \"{key}\" is listed in more than one target"),
                    ));
                }
            }
        }

        let mut prerequisites = Vec::with_capacity(f.prerequisites.len());
        for (i, p) in f.prerequisites.iter().enumerate() {
            let at = path.index("prerequisites", i);
            let Some(&pf) = self.flag_index.get(p.flag.as_str()) else {
                return Err(invalid(&at, format!("unknown flag \"{}\"", p.flag)));
            };
            if p.variants.is_empty() {
                return Err(invalid(&at, "at least one accepted variant is required"));
            }
            let target = self
                .flags
                .get(pf as usize)
                .ok_or_else(|| invalid(&at, "flag index out of range"))?;
            let mut accepted = Vec::with_capacity(p.variants.len());
            for name in &p.variants {
                let idx = target
                    .variants
                    .0
                    .iter()
                    .position(|(k, _)| k == name)
                    .ok_or_else(|| {
                        invalid(
                            &at,
                            format!("flag \"{}\" has no variant \"{name}\"", p.flag),
                        )
                    })?;
                accepted.push(index_u32(idx));
            }
            prerequisites.push((pf, accepted.into_boxed_slice()));
        }

        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(f.rules.len());
        for r in &f.rules {
            let rpath = path.key("rules", &r.id);
            if r.id.is_empty() {
                return Err(invalid(&rpath, "rule id must not be empty"));
            }
            if !ids.insert(r.id.as_str()) {
                return Err(invalid(&rpath, "duplicate rule id"));
            }
            rules.push(Rule {
                id: r.id.as_str().into(),
                cond: self.cond(&r.when, &rpath.field("when"), true)?,
                serve: self.serve(&r.serve, &rpath.field("serve"), &f.key, &variant_of)?,
            });
        }
        let default = self.serve(&f.default, &path.field("default"), &f.key, &variant_of)?;

        let mut metadata = Vec::with_capacity(f.metadata.len());
        for (k, v) in &f.metadata {
            let m = MetadataValue::from_json(v).ok_or_else(|| {
                invalid(
                    &path.field("metadata").field(k),
                    "metadata values must be strings, numbers or booleans",
                )
            })?;
            metadata.push((k.as_str().into(), m));
        }

        Ok(Flag {
            key: f.key.as_str().into(),
            value_type: f.value_type,
            variants: variants.into_boxed_slice(),
            enabled: f.enabled,
            off_variant,
            is_static: targets.is_empty() && prerequisites.is_empty() && rules.is_empty(),
            targets,
            prerequisites: prerequisites.into_boxed_slice(),
            rules: rules.into_boxed_slice(),
            default,
            metadata: metadata.into_boxed_slice(),
        })
    }

    fn serve(
        &self,
        s: &ServeDef,
        path: &Path<'_>,
        flag_key: &str,
        variant_of: &dyn Fn(&str, &Path<'_>) -> Result<u32, LoadError>,
    ) -> Result<Serve, LoadError> {
        match s {
            ServeDef::Variant(name) => Ok(Serve::Variant(variant_of(name, path)?)),
            ServeDef::Rollout(r) => {
                let rpath = path.field("rollout");
                if r.weights.is_empty() {
                    return Err(invalid(&rpath, "a rollout needs at least one weight"));
                }
                let mut upper = 0u32;
                let mut ranges = Vec::with_capacity(r.weights.len());
                for (i, w) in r.weights.iter().enumerate() {
                    let at = rpath.index("weights", i);
                    if w.weight > crate::bucket::BUCKETS {
                        return Err(invalid(&at, "weight is over 10000 basis points"));
                    }
                    upper = upper.saturating_add(w.weight);
                    ranges.push((upper, variant_of(&w.variant, &at)?));
                }
                if upper != crate::bucket::BUCKETS {
                    return Err(invalid(
                        &rpath,
                        format!("weights sum to {upper} basis points, must be 10000"),
                    ));
                }
                let bucket_by = match r.bucket_by.as_deref() {
                    None => AttrRef::TargetingKey,
                    Some(name) => attr_ref(name, &rpath.field("bucket_by"))?,
                };
                if matches!(bucket_by, AttrRef::Now) {
                    return Err(invalid(&rpath.field("bucket_by"), "cannot bucket by $now"));
                }
                Ok(Serve::Rollout {
                    bucket_by,
                    bucketer: crate::bucket::Bucketer::new(
                        self.salt,
                        r.seed.as_deref().unwrap_or(flag_key),
                    ),
                    ranges: ranges.into_boxed_slice(),
                })
            }
        }
    }

    fn cond(
        &self,
        c: &Condition,
        path: &Path<'_>,
        segments_allowed: bool,
    ) -> Result<Cond, LoadError> {
        Ok(match c {
            Condition::All(children) => {
                Cond::All(self.conds(children, path, "all", segments_allowed)?)
            }
            Condition::Any(children) => {
                Cond::Any(self.conds(children, path, "any", segments_allowed)?)
            }
            Condition::Not(child) => Cond::Not(Box::new(self.cond(
                child,
                &path.field("not"),
                segments_allowed,
            )?)),
            Condition::Clause(cl) => Cond::Clause(self.clause(cl, path, segments_allowed)?),
        })
    }

    fn conds(
        &self,
        children: &[Condition],
        path: &Path<'_>,
        name: &'static str,
        segments_allowed: bool,
    ) -> Result<Box<[Cond]>, LoadError> {
        children
            .iter()
            .enumerate()
            .map(|(i, c)| self.cond(c, &path.index(name, i), segments_allowed))
            .collect()
    }

    fn clause(
        &self,
        c: &ClauseDef,
        path: &Path<'_>,
        segments_allowed: bool,
    ) -> Result<Clause, LoadError> {
        use Operator as O;
        let op = c.op;
        let single = || -> Result<&Value, LoadError> {
            if c.values.is_some() {
                return Err(invalid(
                    path,
                    format!("\"{}\" takes \"value\", not \"values\"", op.as_str()),
                ));
            }
            c.value
                .as_ref()
                .ok_or_else(|| invalid(path, format!("\"{}\" needs a \"value\"", op.as_str())))
        };
        let many = || -> Result<&[Value], LoadError> {
            if c.value.is_some() {
                return Err(invalid(
                    path,
                    format!("\"{}\" takes \"values\", not \"value\"", op.as_str()),
                ));
            }
            c.values
                .as_deref()
                .ok_or_else(|| invalid(path, format!("\"{}\" needs \"values\"", op.as_str())))
        };
        let string_op = matches!(
            op,
            O::Equals | O::NotEquals | O::In | O::NotIn | O::Contains | O::StartsWith | O::EndsWith
        );
        if c.ignore_case && !string_op {
            return Err(invalid(
                path,
                format!("\"ignore_case\" does not apply to \"{}\"", op.as_str()),
            ));
        }
        let fold = |s: &str| -> Box<str> {
            if c.ignore_case {
                s.to_lowercase().into_boxed_str()
            } else {
                s.into()
            }
        };

        if c.sensitive {
            check_sensitive(op).map_err(|m| invalid(path, m))?;
            let operands = c.value.iter().chain(c.values.iter().flatten());
            for v in operands {
                let ok = match v {
                    Value::String(s) => self.audience == Audience::Server || is_digest(s),
                    _ => false,
                };
                if !ok {
                    return Err(invalid(
                        path,
                        match self.audience {
                            Audience::Server => "a sensitive clause's operands must be strings",
                            Audience::Client => {
                                "a sensitive clause of a client snapshot has digests as operands \
                                 (64 lowercase hex digits)"
                            }
                        },
                    ));
                }
            }
        }

        let attr = match (op, c.attribute.as_deref()) {
            (O::InSegment, None) => AttrRef::TargetingKey,
            (O::InSegment, Some(_)) => {
                return Err(invalid(path, "\"in_segment\" takes no \"attribute\""));
            }
            (_, None) => return Err(invalid(path, "a clause needs an \"attribute\"")),
            (_, Some(name)) => attr_ref(name, &path.field("attribute"))?,
        };

        let (test, negate) = match op {
            O::Equals | O::NotEquals | O::In | O::NotIn
                if c.sensitive && self.audience == Audience::Client =>
            {
                let mut set = StringSet::default();
                if matches!(op, O::Equals | O::NotEquals) {
                    if let Value::String(s) = single()? {
                        set.insert(s.as_str().into());
                    }
                } else {
                    for v in many()? {
                        if let Value::String(s) = v {
                            set.insert(s.as_str().into());
                        }
                    }
                }
                (Test::Digest(set), matches!(op, O::NotEquals | O::NotIn))
            }
            O::Equals | O::NotEquals => {
                let v = single()?;
                let scalar = match v {
                    Value::String(s) => Scalar::String(fold(s)),
                    Value::Bool(b) => Scalar::Bool(*b),
                    Value::Number(n) => Scalar::Number(
                        n.as_f64()
                            .ok_or_else(|| invalid(path, "number out of range"))?,
                    ),
                    _ => {
                        return Err(invalid(
                            path,
                            "\"value\" must be a string, number or boolean",
                        ));
                    }
                };
                (Test::Equals(scalar), op == O::NotEquals)
            }
            O::In | O::NotIn => {
                let mut set = ScalarSet::default();
                for (i, v) in many()?.iter().enumerate() {
                    match v {
                        Value::String(s) => {
                            set.strings.insert(fold(s));
                        }
                        Value::Bool(b) => {
                            if let Some(slot) = set.bools.get_mut(usize::from(*b)) {
                                *slot = true;
                            }
                        }
                        Value::Number(n) => {
                            let f = n
                                .as_f64()
                                .ok_or_else(|| invalid(path, "number out of range"))?;
                            set.numbers.insert(number_key(f));
                        }
                        _ => {
                            return Err(invalid(
                                &path.index("values", i),
                                "must be a string, number or boolean",
                            ));
                        }
                    }
                }
                (Test::In(set), op == O::NotIn)
            }
            O::Contains | O::StartsWith | O::EndsWith => {
                let mut needles = Vec::new();
                for (i, v) in many()?.iter().enumerate() {
                    let Value::String(s) = v else {
                        return Err(invalid(&path.index("values", i), "must be a string"));
                    };
                    needles.push(fold(s));
                }
                let kind = match op {
                    O::Contains => StrOp::Contains,
                    O::StartsWith => StrOp::StartsWith,
                    _ => StrOp::EndsWith,
                };
                (Test::Str(kind, needles.into_boxed_slice()), false)
            }
            O::Matches => {
                let Value::String(pattern) = single()? else {
                    return Err(invalid(path, "\"value\" must be a regex string"));
                };
                let re = Regex::new(pattern)
                    .map_err(|e| invalid(path, format!("invalid regex \"{pattern}\": {e}")))?;
                (Test::Matches(Box::new(re)), false)
            }
            O::Lt | O::Lte | O::Gt | O::Gte => {
                let n = single()?
                    .as_f64()
                    .ok_or_else(|| invalid(path, "\"value\" must be a number"))?;
                (Test::Number(cmp_of(op), n), false)
            }
            O::SemverEq | O::SemverLt | O::SemverLte | O::SemverGt | O::SemverGte => {
                let Value::String(s) = single()? else {
                    return Err(invalid(path, "\"value\" must be a semantic version string"));
                };
                let v = semver::Version::parse(s)
                    .map_err(|e| invalid(path, format!("invalid semantic version \"{s}\": {e}")))?;
                (Test::Semver(cmp_of(op), v), false)
            }
            O::Before | O::After => {
                let at_ms = crate::value::date_ms(single()?).ok_or_else(|| {
                    invalid(
                        path,
                        "\"value\" must be milliseconds since epoch or an RFC 3339 timestamp",
                    )
                })?;
                (
                    Test::Date {
                        before: op == O::Before,
                        at_ms,
                    },
                    false,
                )
            }
            O::Exists => {
                if c.value.is_some() || c.values.is_some() {
                    return Err(invalid(path, "\"exists\" takes no operands"));
                }
                (Test::Exists, false)
            }
            O::InSegment => {
                if !segments_allowed {
                    return Err(invalid(path, "segment rules may not use \"in_segment\""));
                }
                let mut ids = Vec::new();
                for (i, v) in many()?.iter().enumerate() {
                    let at = path.index("values", i);
                    let Value::String(s) = v else {
                        return Err(invalid(&at, "must be a segment key"));
                    };
                    let idx = self
                        .segment_index
                        .get(s.as_str())
                        .ok_or_else(|| invalid(&at, format!("unknown segment \"{s}\"")))?;
                    ids.push(*idx);
                }
                (Test::InSegment(ids.into_boxed_slice()), false)
            }
        };
        Ok(Clause {
            attr,
            test,
            negate,
            ignore_case: c.ignore_case,
        })
    }
}

fn attr_ref(name: &str, path: &Path<'_>) -> Result<AttrRef, LoadError> {
    match name {
        TARGETING_KEY => Ok(AttrRef::TargetingKey),
        "$now" => Ok(AttrRef::Now),
        "" => Err(invalid(path, "attribute name must not be empty")),
        n if n.starts_with('$') => Err(invalid(
            path,
            format!("\"{n}\": names starting with $ are reserved (only $now exists)"),
        )),
        n => Ok(AttrRef::Named {
            name: n.into(),
            hash: crate::context::str_hash(n),
        }),
    }
}

fn cmp_of(op: Operator) -> Cmp {
    use Operator as O;
    match op {
        O::Lt | O::SemverLt => Cmp::Lt,
        O::Lte | O::SemverLte => Cmp::Lte,
        O::Gt | O::SemverGt => Cmp::Gt,
        O::Gte | O::SemverGte => Cmp::Gte,
        _ => Cmp::Eq,
    }
}

/// Set key of a number: its bit pattern, with `-0.0` folded into `0.0`.
pub(crate) fn number_key(f: f64) -> u64 {
    if f == 0.0 { 0 } else { f.to_bits() }
}

/// Refuses prerequisite cycles (including a flag that requires itself) with the cycle's path.
fn check_prerequisite_cycles(flags: &[Flag]) -> Result<(), LoadError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = alloc::vec![Mark::New; flags.len()];
    // Iterative DFS: (flag, next prerequisite position); `stack` is the current path.
    for start in 0..flags.len() {
        if marks.get(start) != Some(&Mark::New) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = alloc::vec![(start, 0)];
        if let Some(m) = marks.get_mut(start) {
            *m = Mark::Active;
        }
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let prereqs = flags.get(node).map(|f| &f.prerequisites[..]).unwrap_or(&[]);
            if let Some((child, _)) = prereqs.get(*next) {
                *next += 1;
                let child = *child as usize;
                match marks.get(child) {
                    Some(Mark::New) => {
                        if let Some(m) = marks.get_mut(child) {
                            *m = Mark::Active;
                        }
                        stack.push((child, 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut names: Vec<&str> = stack
                            .get(from..)
                            .unwrap_or(&[])
                            .iter()
                            .filter_map(|(n, _)| flags.get(*n).map(|f| &*f.key))
                            .collect();
                        if let Some(f) = flags.get(child) {
                            names.push(&f.key);
                        }
                        let head = names.first().copied().unwrap_or("");
                        return Err(invalid(
                            &Path::top("flags", head).field("prerequisites"),
                            format!("prerequisite cycle: {}", names.join(" -> ")),
                        ));
                    }
                    _ => {}
                }
            } else {
                if let Some(m) = marks.get_mut(node) {
                    *m = Mark::Done;
                }
                stack.pop();
            }
        }
    }
    Ok(())
}
