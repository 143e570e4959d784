//! # burgee-server
//!
//! Burgee's server and the `burgee` command-line tool. It **authors, validates, signs and
//! distributes** flag snapshots:
//!
//! ```text
//!  PUT /v1/environments/{env}/flags/{key}   (admin token)
//!        │
//!        ▼
//!  one SQL transaction: apply change ─► read all flags + segments ─► version = max + 1
//!        ─► SnapshotDef ─► burgee_core::Snapshot::compile (refuse → rollback, 422)
//!        ─► sign_envelope (Ed25519, DSSE, per-environment key) ─► store ─► commit
//!        │
//!        ▼
//!  GET /v1/snapshots/{env}   (SDK key or admin token; ETag = digest, 304 on If-None-Match)
//!        │
//!        ▼
//!  SDKs verify (trusted public key) and evaluate locally with burgee-core
//! ```
//!
//! It must **never evaluate flags on behalf of an app**: apps evaluate locally from a signed
//! snapshot, and the server only hands out signed snapshots. (The `burgee eval` command is
//! a client: it fetches and verifies a snapshot exactly like an SDK does, then evaluates it
//! in the CLI process.) It never stores token plaintexts (only SHA-256 hashes), never serves
//! a snapshot that `burgee-core` refuses to compile, and never reuses a version number.
//!
//! Layout:
//! - [`api`]: the axum [`api::app`] router and its handlers, with [`error::ApiError`] as the
//!   single error response (`{"code", "message"}`).
//! - [`state`]: [`state::AppState`] — opening/bootstrapping the data directory, the SQLite
//!   store, and [`state::AppState::publish`], the one place snapshots are made.
//! - [`keys`]: Ed25519 key files (PKCS#8 PEM private keys, base64 public keys).
//! - [`demo`]: the seeded web-shop project of `burgee serve --demo`.
//! - [`cli`]: the `burgee` subcommands (`keygen`, `serve`, `eval`, `verify`, `sign`).
//!
//! Unix only (key and credential files are created with mode 0600).

pub mod api;
pub mod cli;
pub mod demo;
pub mod error;
pub mod keys;
pub mod state;

/// The current time in milliseconds since the Unix epoch (UTC), from the system clock.
/// A clock before 1970 reads as 0.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
