//! Replaying kept fuzz inputs on stable Rust: [`inputs`] reads `fuzz/regressions/<target>/`,
//! [`replay`] runs each file through a harness and names every failure. Compiled into the
//! regression tests of the core, the client and the server (`#[path]` modules), so the rules
//! below hold alike for all of them:
//! - no input may panic;
//! - a `crash-*` or `*-refused` input must be refused (`Err`);
//! - an `*-accepted` input must be accepted (`Ok`);
//! - other names may go either way (the outcome is printed).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The kept inputs of `target` under `regressions` (the `fuzz/regressions` directory), by file
/// name; dot files and Markdown are skipped.
///
/// # Panics
/// When the directory cannot be read (it must exist; it may be empty) or a file cannot.
#[must_use]
pub fn inputs(regressions: &Path, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = regressions.join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && !name.starts_with('.') && !name.ends_with(".md")
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Runs every kept input of `target` through `harness` (module docs for the rules).
///
/// # Panics
/// Naming every input that broke a rule.
pub fn replay(regressions: &Path, target: &str, harness: fn(&[u8]) -> Result<(), String>) {
    let mut failures = Vec::new();
    for (path, bytes) in inputs(regressions, target) {
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
