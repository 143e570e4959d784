//! Deterministic bucketing (`spec/SNAPSHOT.md` §4, DESIGN.md §4).
//!
//! ```text
//! digest = SHA-256( u32be(len(salt)) ‖ salt ‖ u32be(len(seed)) ‖ seed ‖ u32be(len(value)) ‖ value )
//! bucket = u64be(digest[0..8]) mod 10000
//! ```
//! Lengths are byte lengths of the UTF-8 strings, so no two different inputs share bytes.
//! `spec/vectors/bucketing.json` holds golden values, re-computed by `spec/vectors/bucketing.py`
//! with Python's `hashlib` as an independent implementation.

use sha2::{Digest, Sha256};

/// Number of buckets: buckets are basis points, `0..BUCKETS`.
pub const BUCKETS: u32 = 10_000;

/// The bucket (0..=9999, basis points) of `value` for a rollout seeded with `seed` in an
/// environment salted with `salt`.
///
/// ```
/// let b = burgee_core::bucket("salt", "checkout-redesign", "user-42");
/// assert!(b < 10_000);
/// ```
#[inline]
pub fn bucket(salt: &str, seed: &str, value: &str) -> u32 {
    let parts = [salt.as_bytes(), seed.as_bytes(), value.as_bytes()];
    let total: usize = parts.iter().map(|p| p.len() + 4).sum();
    // Typical inputs fit one stack buffer and hash in a single call; longer ones stream.
    let mut buf = [0u8; 128];
    let digest = if let Some(out) = buf.get_mut(..total) {
        let mut at = 0;
        for part in parts {
            for chunk in [&len_prefix(part)[..], part] {
                if let Some(dst) = out.get_mut(at..at + chunk.len()) {
                    dst.copy_from_slice(chunk);
                }
                at += chunk.len();
            }
        }
        Sha256::digest(out)
    } else {
        let mut h = Sha256::new();
        for part in parts {
            h.update(len_prefix(part));
            h.update(part);
        }
        h.finalize()
    };
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0u8; 8]));
    let n = u64::from_be_bytes(first) % u64::from(BUCKETS);
    // n < 10000, always fits.
    u32::try_from(n).unwrap_or(0)
}

/// `u32be(len(part))`. A part longer than 4 GiB cannot occur (snapshots and contexts are
/// size-limited); saturating keeps the function total.
#[inline]
fn len_prefix(part: &[u8]) -> [u8; 4] {
    u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes()
}
