//! The hash-chained audit log.
//!
//! Entry `n` stores `prev_hash` (entry `n-1`'s `hash`, 64 zeros for entry 1) and
//! `hash = hex(SHA-256(prev_hash || "\n" || J))`, where `J` is the compact JSON array
//! `[seq, at, actor, action, project, environment, resource, before, after]` of the stored
//! column values (strings, numbers, `null`). The `chain_head` row holds the last `seq` and
//! `hash`, so editing, inserting or deleting any row — including the last one — breaks
//! [`verify`].

use sha2::{Digest as _, Sha256};

use crate::model::AuditEntry;

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry from its fields (its own `hash` field is ignored).
pub fn entry_hash(e: &AuditEntry) -> String {
    let fields = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.project,
        e.environment,
        e.resource,
        e.before,
        e.after
    ]);
    let mut h = Sha256::new();
    h.update(e.prev_hash.as_bytes());
    h.update(b"\n");
    h.update(fields.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The first break found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {problem}")]
pub struct ChainBroken {
    /// The entry (or expected entry) where the chain breaks.
    pub seq: u64,
    /// What is wrong.
    pub problem: String,
}

/// Checks entries (ordered by `seq`) against each other and against the head
/// `(seq, hash)`. Returns the number of entries verified.
///
/// # Errors
/// [`ChainBroken`] at the first gap, wrong `prev_hash`, wrong `hash`, or head mismatch.
pub fn verify(entries: &[AuditEntry], head: (u64, &str)) -> Result<u64, ChainBroken> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1u64;
    for e in entries {
        if e.seq != expected_seq {
            return Err(ChainBroken {
                seq: expected_seq,
                problem: format!("entry missing (next stored entry is {})", e.seq),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBroken {
                seq: e.seq,
                problem: "prev_hash does not match the previous entry's hash".into(),
            });
        }
        let computed = entry_hash(e);
        if computed != e.hash {
            return Err(ChainBroken {
                seq: e.seq,
                problem: "contents do not match the stored hash (row edited)".into(),
            });
        }
        prev = computed;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    if head.0 != count || head.1 != prev {
        return Err(ChainBroken {
            seq: count + 1,
            problem: format!(
                "chain head says {} entries ending in {}, found {count} ending in {prev} (entries deleted)",
                head.0, head.1
            ),
        });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, prev: &str) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at: 1000 + seq,
            actor: "tok_1".into(),
            action: "flag.create".into(),
            project: Some("p".into()),
            environment: None,
            resource: format!("flag:f{seq}"),
            before: None,
            after: Some("{\"a\":1}".into()),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        e.hash = entry_hash(&e);
        e
    }

    #[test]
    fn chain_verifies_and_detects_each_kind_of_tampering() {
        let a = entry(1, GENESIS_HASH);
        let b = entry(2, &a.hash);
        let c = entry(3, &b.hash);
        let all = vec![a.clone(), b.clone(), c.clone()];
        assert_eq!(verify(&all, (3, &c.hash)), Ok(3));
        let mut edited = all.clone();
        edited[1].after = Some("{\"a\":2}".into());
        assert_eq!(verify(&edited, (3, &c.hash)).unwrap_err().seq, 2);
        let gap = vec![a.clone(), c.clone()];
        assert_eq!(verify(&gap, (3, &c.hash)).unwrap_err().seq, 2);
        let truncated = vec![a, b];
        assert_eq!(verify(&truncated, (3, &c.hash)).unwrap_err().seq, 3);
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }
}
