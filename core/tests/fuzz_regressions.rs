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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/core_targets.rs"]
mod harness;

/// The kept inputs of `target`, by file name (the directory must exist; it may be empty).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && !name.starts_with('.') && !name.ends_with(".md")
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

fn replay(target: &str, harness: fn(&[u8]) -> Result<(), String>) {
    let mut failures = Vec::new();
    for (path, bytes) in inputs(target) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match catch_unwind(AssertUnwindSafe(|| harness(&bytes))) {
            Err(_) => failures.push(format!("{}: panicked", path.display())),
            Ok(Ok(())) if name.starts_with("crash-") || name.ends_with("-refused") => {
                failures.push(format!("{}: accepted, must be refused", path.display()));
            }
            Ok(Err(e)) if name.ends_with("-accepted") => {
                failures.push(format!(
                    "{}: refused, must be accepted: {e}",
                    path.display()
                ));
            }
            Ok(outcome) => println!("{name}: {outcome:?}"),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
