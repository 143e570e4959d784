//! The harnesses behind Burgee's cargo-fuzz targets (`fuzz_targets/*.rs`), one function per
//! target. Each takes arbitrary bytes, returns `Ok` when the input was accepted and `Err` when
//! it was refused, and panics only when a property that must hold for every input is broken.
//!
//! The same source files are compiled into the stable regression tests that replay
//! `fuzz/regressions/<target>/*` (`#[path]` modules in `core/tests/fuzz_regressions.rs`,
//! `bindings/client/tests/fuzz_regressions.rs` and `server/tests/it/fuzz_regressions.rs`), so a
//! kept input is replayed through exactly the code that found it.

pub mod client_targets;
pub mod core_targets;
pub mod replay;
#[cfg(feature = "server")]
pub mod server_targets;
