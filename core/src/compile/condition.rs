//! Compiling conditions and clauses: operands checked against their operator, sets hashed,
//! regexes (within the limits of `crate::limits`), versions and dates parsed.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use regex_automata::meta::Regex;
use serde_json::Value;

use super::path::{Path, invalid};
use super::{AttrRef, Clause, Cmp, Compiler, Cond, Scalar, ScalarSet, StrOp, StringSet, Test};
use crate::context::TARGETING_KEY;
use crate::error::LoadError;
use crate::limits::{MAX_CONDITION_DEPTH, MAX_REGEX_BYTES, MAX_REGEXES, MAX_TOTAL_REGEX_BYTES};
use crate::model::{Audience, Clause as ClauseDef, Condition, Operator};
use crate::privacy::{check_sensitive, is_digest};

impl Compiler<'_> {
    /// `depth` is the nesting depth of `c` (1 for a top-level condition).
    pub(super) fn cond(
        &self,
        c: &Condition,
        path: &Path<'_>,
        segments_allowed: bool,
        depth: usize,
    ) -> Result<Cond, LoadError> {
        if depth > MAX_CONDITION_DEPTH {
            return Err(invalid(
                path,
                format!("conditions nest deeper than {MAX_CONDITION_DEPTH}"),
            ));
        }
        Ok(match c {
            Condition::All(children) => {
                Cond::All(self.conds(children, path, "all", segments_allowed, depth)?)
            }
            Condition::Any(children) => {
                Cond::Any(self.conds(children, path, "any", segments_allowed, depth)?)
            }
            Condition::Not(child) => Cond::Not(Box::new(self.cond(
                child,
                &path.field("not"),
                segments_allowed,
                depth + 1,
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
        depth: usize,
    ) -> Result<Box<[Cond]>, LoadError> {
        children
            .iter()
            .enumerate()
            .map(|(i, c)| self.cond(c, &path.index(name, i), segments_allowed, depth + 1))
            .collect()
    }

    /// Compiles a `matches` pattern within the per-regex and per-snapshot budgets
    /// ([`MAX_REGEXES`], [`MAX_REGEX_BYTES`], [`MAX_TOTAL_REGEX_BYTES`]).
    fn regex(&self, pattern: &str, path: &Path<'_>) -> Result<Regex, LoadError> {
        let count = self.regexes.get() + 1;
        self.regexes.set(count);
        if count > MAX_REGEXES {
            return Err(invalid(
                path,
                format!("more than {MAX_REGEXES} regexes in one snapshot"),
            ));
        }
        let re = Regex::builder()
            .configure(Regex::config().nfa_size_limit(Some(MAX_REGEX_BYTES)))
            .build(pattern)
            .map_err(|e| invalid(path, format!("invalid regex \"{pattern}\": {e}")))?;
        let total = self.regex_bytes.get().saturating_add(re.memory_usage());
        self.regex_bytes.set(total);
        if total > MAX_TOTAL_REGEX_BYTES {
            return Err(invalid(
                path,
                format!(
                    "the snapshot's regexes need more than {MAX_TOTAL_REGEX_BYTES} bytes compiled"
                ),
            ));
        }
        Ok(re)
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
                (Test::Matches(Box::new(self.regex(pattern, path)?)), false)
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
                let at_ms = crate::date::date_ms(single()?).ok_or_else(|| {
                    invalid(
                        path,
                        "\"value\" must be integer milliseconds since the epoch within ±(2^53−1) or an RFC 3339 date-time",
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

pub(super) fn attr_ref(name: &str, path: &Path<'_>) -> Result<AttrRef, LoadError> {
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
