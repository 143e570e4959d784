//! Compiling a [`SnapshotDef`] into the evaluation-ready [`Snapshot`]: names resolved to
//! indices, sets hashed, regexes and versions parsed, prerequisite cycles refused.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::cell::Cell;

use hashbrown::{HashMap, HashSet};
use regex_automata::meta::Regex;

mod condition;
mod graph;
mod path;

use condition::attr_ref;
pub(crate) use condition::number_key;

use path::{Path, invalid};

use crate::error::LoadError;
use crate::model::{
    Audience, FlagDef, SNAPSHOT_FORMAT, SegmentDef, ServeDef, SnapshotDef, ValueType,
};
use crate::privacy::{SensitiveHasher, is_digest};
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
    /// `in_segment` inside a segment rule, a prerequisite cycle, or a snapshot over one of the
    /// limits of [`crate::limits`] (`spec/SNAPSHOT.md` §10).
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
            regexes: Cell::new(0),
            regex_bytes: Cell::new(0),
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
        graph::check_prerequisites(&flags)?;

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
    /// `matches` clauses compiled so far.
    regexes: Cell<usize>,
    /// Their compiled size so far, bytes.
    regex_bytes: Cell<usize>,
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
            rules.push(self.cond(&r.when, &rpath.field("when"), false, 1)?);
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
        let mut required = HashSet::with_capacity(f.prerequisites.len());
        for (i, p) in f.prerequisites.iter().enumerate() {
            let at = path.index("prerequisites", i);
            let Some(&pf) = self.flag_index.get(p.flag.as_str()) else {
                return Err(invalid(&at, format!("unknown flag \"{}\"", p.flag)));
            };
            if !required.insert(pf) {
                return Err(invalid(
                    &at,
                    format!("flag \"{}\" is already a prerequisite", p.flag),
                ));
            }
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
                cond: self.cond(&r.when, &rpath.field("when"), true, 1)?,
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
}
