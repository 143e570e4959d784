//! # burgee-test-support
//!
//! The one harness of Burgee's Rust tests (a dev-dependency only):
//! - [`Serve`]: start `burgee serve` as a process and wait for its ready file
//!   (`--ready-file`, [`burgee_server::ready::ReadyFile`]) instead of parsing its output;
//!   the [`ServerProcess`] is killed when dropped.
//! - [`InProcess`]: the same server inside the test's runtime ([`burgee_server::serve::run`]).
//! - [`postgres_url`]: a fresh, empty PostgreSQL database.
//!
//! Tests in other languages read the same ready file (`bindings/*/test` helpers).
#![allow(clippy::panic, clippy::expect_used)] // a harness that cannot start fails the test

mod in_process;
mod postgres;
mod process;

pub use burgee_server::ready::ReadyFile;
pub use in_process::InProcess;
pub use postgres::postgres_url;
pub use process::{Serve, ServerProcess};
