//! Replays the kept fuzz inputs of the core targets (`fuzz/regressions/{envelope,snapshot,
//! context}/`, see its README) on stable Rust, through the very harness functions the fuzz
//! targets run (`fuzz/src/core_targets.rs`): no input may panic, a `crash-*` or `*-refused`
//! input must be refused with an error, an `*-accepted` one accepted.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/core_targets.rs"]
mod harness;

#[path = "../../fuzz/src/replay.rs"]
mod replay;

/// Replays the kept inputs of `target` through `harness` (rules in `fuzz/src/replay.rs`).
fn replay(target: &str, harness: fn(&[u8]) -> Result<(), String>) {
    replay::replay(&regressions(), target, harness);
}

/// `fuzz/regressions/`.
fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

#[test]
fn kept_envelope_inputs() {
    replay("envelope", harness::envelope);
}

#[test]
fn kept_snapshot_inputs() {
    replay("snapshot", harness::snapshot);
}

#[test]
fn kept_context_inputs() {
    replay("context", harness::context);
}
