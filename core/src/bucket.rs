//! Deterministic bucketing (`spec/SNAPSHOT.md` §4).
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
pub fn bucket(salt: &str, seed: &str, value: &str) -> u32 {
    Bucketer::new(salt, seed).bucket(value)
}

/// A bucketing hash with the salt and seed already absorbed, built once per rollout at compile
/// time so an evaluation hashes only the unit's value.
#[derive(Clone)]
pub(crate) struct Bucketer(Sha256);

impl Bucketer {
    pub(crate) fn new(salt: &str, seed: &str) -> Self {
        let mut h = Sha256::new();
        absorb(&mut h, salt);
        absorb(&mut h, seed);
        Bucketer(h)
    }

    #[inline]
    pub(crate) fn bucket(&self, value: &str) -> u32 {
        let mut h = self.0.clone();
        absorb(&mut h, value);
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(digest.get(..8).unwrap_or(&[0u8; 8]));
        let n = u64::from_be_bytes(first) % u64::from(BUCKETS);
        // n < 10000, always fits.
        u32::try_from(n).unwrap_or(0)
    }
}

impl core::fmt::Debug for Bucketer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Bucketer")
    }
}

/// `u32be(len(part)) ‖ part`. A part longer than 4 GiB cannot occur (snapshots and contexts
/// are size-limited); saturating keeps the function total.
#[inline]
pub(crate) fn absorb(h: &mut Sha256, part: &str) {
    h.update(u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(part.as_bytes());
}
