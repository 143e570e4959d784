//! Client snapshots: what a browser or mobile app may see (`spec/SNAPSHOT.md` §9).
//!
//! A `client` snapshot holds only the flags marked `client_visible` (and the segments they
//! use). Raw targeting data is replaced by digests:
//!
//! ```text
//! digest = hex( SHA-256( u32be(19) ‖ "burgee/sensitive/v1" ‖ u32be(len(salt)) ‖ salt
//!                        ‖ u32be(len(value)) ‖ value ) )
//! ```
//!
//! with the length-prefixed framing of bucketing (`spec/SNAPSHOT.md` §4) and the snapshot's
//! `salt`. Digested are: individual targeting keys of flags, segments' `included` / `excluded`
//! keys, and the operands of clauses marked `sensitive` (after lowercasing when the clause has
//! `ignore_case`). The evaluator hashes the context's value the same way and compares digests,
//! so a client snapshot evaluates exactly like the server snapshot it was derived from.
//!
//! The salt stops precomputed tables, not guessing: anyone holding the client snapshot can
//! test candidate values one by one. `spec/SNAPSHOT.md` §9 discusses the trade-off.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::LoadError;
use crate::model::{Audience, Clause, Condition, FlagDef, Operator, SegmentDef, SnapshotDef};

/// Domain-separation tag hashed first into every digest.
pub const SENSITIVE_DOMAIN: &str = "burgee/sensitive/v1";

/// The hex SHA-256 digest (64 lowercase hex digits) that stands for `value` in a `client`
/// snapshot salted with `salt` (module docs give the exact bytes). `spec/vectors/privacy.py`
/// re-computes it with Python's `hashlib`.
///
/// ```
/// let d = burgee_core::sensitive_digest("salt", "alice@example.com");
/// assert_eq!(d.len(), 64);
/// ```
pub fn sensitive_digest(salt: &str, value: &str) -> String {
    let h = SensitiveHasher::new(salt);
    String::from(h.hex(value).as_str())
}

/// A digest hasher with the domain tag and salt absorbed; cloned per value.
#[derive(Clone)]
pub(crate) struct SensitiveHasher(Sha256);

/// A digest's 64 hex digits on the stack (evaluation hashes context values without allocating).
pub(crate) struct HexDigest([u8; 64]);

impl HexDigest {
    pub(crate) fn as_str(&self) -> &str {
        // `hex::encode_to_slice` writes only ASCII hex digits.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl SensitiveHasher {
    pub(crate) fn new(salt: &str) -> Self {
        let mut h = Sha256::new();
        crate::bucket::absorb(&mut h, SENSITIVE_DOMAIN);
        crate::bucket::absorb(&mut h, salt);
        SensitiveHasher(h)
    }

    #[inline]
    pub(crate) fn hex(&self, value: &str) -> HexDigest {
        let mut h = self.0.clone();
        crate::bucket::absorb(&mut h, value);
        let mut out = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(h.finalize(), &mut out);
        HexDigest(out)
    }
}

impl core::fmt::Debug for SensitiveHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SensitiveHasher")
    }
}

/// `true` when `s` has the form of a digest: 64 lowercase hex digits.
pub(crate) fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Derives the `client` snapshot of a `server` snapshot document: same project, environment,
/// version, times and salt; only flags with `client_visible: true`; only the segments those
/// flags reference with `in_segment`; targeting keys, segment key lists and `sensitive` clause
/// operands replaced by [`sensitive_digest`]s (module docs). The result is not signed; the
/// server signs it next to the server snapshot.
///
/// # Errors
/// [`LoadError::Invalid`] (`SNAPSHOT_INVALID`) with the path of the problem: the document is
/// already a `client` snapshot; a client-visible flag has a prerequisite that is not
/// client-visible (the client could not evaluate it without seeing the server-only flag); a
/// `sensitive` clause has an operator other than `equals`, `not_equals`, `in`, `not_in` or a
/// non-string operand.
pub fn client_view(def: &SnapshotDef) -> Result<SnapshotDef, LoadError> {
    if def.audience == Audience::Client {
        return Err(invalid("audience", "already a client snapshot"));
    }
    let visible: BTreeSet<&str> = def
        .flags
        .iter()
        .filter(|f| f.client_visible)
        .map(|f| f.key.as_str())
        .collect();
    let h = SensitiveHasher::new(&def.salt);
    let mut used_segments: BTreeSet<&str> = BTreeSet::new();
    let mut flags = Vec::with_capacity(visible.len());
    for f in def.flags.iter().filter(|f| f.client_visible) {
        if let Some(p) = f
            .prerequisites
            .iter()
            .find(|p| !visible.contains(p.flag.as_str()))
        {
            return Err(invalid(
                &format!("flags[{}].prerequisites", f.key),
                format!(
                    "client-visible flag \"{}\" requires \"{}\", which is server-only; mark it \
                     client-visible too or remove the prerequisite",
                    f.key, p.flag
                ),
            ));
        }
        let mut out: FlagDef = f.clone();
        for t in &mut out.targets {
            for k in &mut t.keys {
                *k = String::from(h.hex(k).as_str());
            }
        }
        for (r, src) in out.rules.iter_mut().zip(&f.rules) {
            let at = format!("flags[{}].rules[{}].when", f.key, src.id);
            collect_segments(&src.when, &mut used_segments);
            r.when = hash_condition(&src.when, &h, &at)?;
        }
        flags.push(out);
    }
    let mut segments: Vec<SegmentDef> = Vec::new();
    for s in def
        .segments
        .iter()
        .filter(|s| used_segments.contains(s.key.as_str()))
    {
        let mut out = s.clone();
        for k in out.included.iter_mut().chain(out.excluded.iter_mut()) {
            *k = String::from(h.hex(k).as_str());
        }
        for (r, src) in out.rules.iter_mut().zip(&s.rules) {
            let at = format!("segments[{}].rules[{}].when", s.key, src.id);
            r.when = hash_condition(&src.when, &h, &at)?;
        }
        segments.push(out);
    }
    Ok(SnapshotDef {
        audience: Audience::Client,
        flags,
        segments,
        ..def.clone()
    })
}

fn invalid(path: &str, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

fn collect_segments<'a>(c: &'a Condition, out: &mut BTreeSet<&'a str>) {
    match c {
        Condition::All(children) | Condition::Any(children) => {
            children.iter().for_each(|c| collect_segments(c, out));
        }
        Condition::Not(child) => collect_segments(child, out),
        Condition::Clause(cl) if cl.op == Operator::InSegment => {
            for v in cl.values.iter().flatten() {
                if let Value::String(s) = v {
                    out.insert(s);
                }
            }
        }
        Condition::Clause(_) => {}
    }
}

fn hash_condition(c: &Condition, h: &SensitiveHasher, at: &str) -> Result<Condition, LoadError> {
    Ok(match c {
        Condition::All(children) => Condition::All(hash_all(children, h, at)?),
        Condition::Any(children) => Condition::Any(hash_all(children, h, at)?),
        Condition::Not(child) => {
            Condition::Not(alloc::boxed::Box::new(hash_condition(child, h, at)?))
        }
        Condition::Clause(cl) if cl.sensitive => Condition::Clause(hash_clause(cl, h, at)?),
        Condition::Clause(cl) => Condition::Clause(cl.clone()),
    })
}

fn hash_all(
    children: &[Condition],
    h: &SensitiveHasher,
    at: &str,
) -> Result<Vec<Condition>, LoadError> {
    children.iter().map(|c| hash_condition(c, h, at)).collect()
}

/// Checks that a `sensitive` clause can be digested: an equality operator with string operands.
pub(crate) fn check_sensitive(op: Operator) -> Result<(), String> {
    if matches!(
        op,
        Operator::Equals | Operator::NotEquals | Operator::In | Operator::NotIn
    ) {
        Ok(())
    } else {
        Err(format!(
            "\"sensitive\" applies to equals, not_equals, in and not_in only, not \"{}\"",
            op.as_str()
        ))
    }
}

fn hash_clause(cl: &Clause, h: &SensitiveHasher, at: &str) -> Result<Clause, LoadError> {
    check_sensitive(cl.op).map_err(|m| invalid(at, m))?;
    let digest = |v: &Value| -> Result<Value, LoadError> {
        let Value::String(s) = v else {
            return Err(invalid(at, "a sensitive clause's operands must be strings"));
        };
        let folded = if cl.ignore_case {
            s.to_lowercase()
        } else {
            s.clone()
        };
        Ok(Value::String(String::from(h.hex(&folded).as_str())))
    };
    let mut out = cl.clone();
    out.value = cl.value.as_ref().map(digest).transpose()?;
    out.values = cl
        .values
        .as_ref()
        .map(|vs| vs.iter().map(digest).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    Ok(out)
}
