//! Replays the kept inputs of the `sse` fuzz target (`fuzz/regressions/sse/`, see its README)
//! on stable Rust, through the harness the fuzz target runs (`fuzz/src/client_targets.rs`):
//! no input may panic, a `crash-*` or `*-refused` input must be refused with an error, an
//! `*-accepted` one accepted.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/client_targets.rs"]
mod harness;

#[path = "../../../fuzz/src/replay.rs"]
mod replay;

/// Replays the kept inputs of `target` through `harness` (rules in `fuzz/src/replay.rs`).
fn replay(target: &str, harness: fn(&[u8]) -> Result<(), String>) {
    replay::replay(&regressions(), target, harness);
}

/// `fuzz/regressions/`.
fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions")
}

#[test]
fn kept_sse_inputs() {
    replay("sse", harness::sse);
}
