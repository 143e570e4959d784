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
pub fn bucket(salt: &str, seed: &str, value: &str) -> u32 {
    Bucketer::new(salt, seed).bucket(value)
}

/// A bucketing hash with the salt and seed already absorbed, built once per rollout at compile
/// time so an evaluation hashes only the unit's value.
///
/// When the whole message fits one SHA-256 block (≤ 55 bytes, the usual case: short salt, flag
/// key and targeting key), the block is padded here (FIPS 180-4 §5.1.1) and compressed with
/// `sha2`'s raw compression function from the initial hash value (§5.3.3), skipping the
/// streaming hasher's bookkeeping; longer messages stream. Both give the SHA-256 digest, which
/// the golden vectors (short and long inputs) check.
#[derive(Clone)]
pub(crate) struct Bucketer {
    /// `u32be(len(salt)) ‖ salt ‖ u32be(len(seed)) ‖ seed`.
    prefix: alloc::vec::Vec<u8>,
    /// The streaming state after `prefix`, for long messages.
    streaming: Sha256,
}

/// SHA-256 initial hash value H(0), FIPS 180-4 §5.3.3.
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

impl Bucketer {
    pub(crate) fn new(salt: &str, seed: &str) -> Self {
        let mut prefix = alloc::vec::Vec::with_capacity(8 + salt.len() + seed.len());
        for part in [salt, seed] {
            prefix.extend_from_slice(&len_prefix(part));
            prefix.extend_from_slice(part.as_bytes());
        }
        let mut streaming = Sha256::new();
        streaming.update(&prefix);
        Bucketer { prefix, streaming }
    }

    #[inline]
    pub(crate) fn bucket(&self, value: &str) -> u32 {
        let total = self.prefix.len() + 4 + value.len();
        let first = if total <= 55 {
            let mut block = [0u8; 64];
            let (head, rest) = block.split_at_mut(self.prefix.len());
            head.copy_from_slice(&self.prefix);
            let (len, rest) = rest.split_at_mut(4);
            len.copy_from_slice(&len_prefix(value));
            let (body, rest) = rest.split_at_mut(value.len());
            body.copy_from_slice(value.as_bytes());
            if let Some(b) = rest.first_mut() {
                *b = 0x80;
            }
            // total ≤ 55, so the bit length fits and the last 8 bytes are free.
            let bits = (total as u64) * 8;
            if let Some(tail) = block.get_mut(56..) {
                tail.copy_from_slice(&bits.to_be_bytes());
            }
            let mut state = H0;
            sha2::block_api::compress256(&mut state, &[block]);
            (u64::from(state[0]) << 32) | u64::from(state[1])
        } else {
            let mut h = self.streaming.clone();
            absorb(&mut h, value);
            let digest = h.finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(digest.get(..8).unwrap_or(&[0u8; 8]));
            u64::from_be_bytes(first)
        };
        // < 10000, always fits.
        u32::try_from(first % u64::from(BUCKETS)).unwrap_or(0)
    }
}

impl core::fmt::Debug for Bucketer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Bucketer")
    }
}

/// `u32be(len(part))`. A part longer than 4 GiB cannot occur (snapshots and contexts are
/// size-limited); saturating keeps the function total.
#[inline]
fn len_prefix(part: &str) -> [u8; 4] {
    u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes()
}

/// `u32be(len(part)) ‖ part` into a streaming hash.
#[inline]
fn absorb(h: &mut Sha256, part: &str) {
    h.update(len_prefix(part));
    h.update(part.as_bytes());
}
