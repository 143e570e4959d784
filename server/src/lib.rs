//! # burgee-server
//!
//! Burgee's server and the `burgee` command-line tool. It **authors, validates, signs and
//! distributes** flag snapshots:
//!
//! ```text
//!  PUT /v1/projects/{p}/environments/{env}/flags/{key}   (role token, If-Match)
//!        │
//!        ▼
//!  one SQL transaction (writer lock on chain_head): apply change ─► audit entry (hash chain)
//!        ─► per affected environment: read flags + targeting + segments ─► version = max + 1
//!        ─► SnapshotDef ─► burgee_core::Snapshot::compile (refuse → rollback, 422 + field)
//!        ─► sign (Ed25519, DSSE, environment key + co-signing previous keys) ─► store
//!        ─► commit (+ PostgreSQL NOTIFY for other replicas)
//!        │
//!        ▼
//!  GET /v1/snapshots/{env} (ETag/304, gzip/br)   GET /v1/stream/{env} (SSE)   burgee export
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
//! - [`api`]: the axum [`api::app`] router and its handlers; [`error`]: every error code.
//! - [`model`]: the authoring model (projects, environments, flags, targeting, segments).
//! - [`config`]: [`config::ServerConfig`] and its defaults; [`auth`]: token kinds and the
//!   [`auth::Principal`] a bearer token resolves to; [`validate`]: input checks.
//! - [`service`]: [`service::AppState`] and every operation on the authoring state, one module
//!   per resource; [`publish`]: build, compile, sign and store a snapshot;
//!   [`distribution`]: the latest-snapshot cache and the SSE hub.
//! - [`store`]: SQLite / PostgreSQL through `sqlx::Any`, the writer lock; [`store::rows`]: the
//!   SQL of the authoring tables.
//! - [`audit`]: the hash chain; [`metrics`]: Prometheus; [`openapi`]: `/openapi.json`.
//! - [`replicas`]: PostgreSQL LISTEN/NOTIFY between `burgee serve` processes; [`ready`]: the
//!   JSON file of `burgee serve --ready-file`.
//! - [`keys`]: Ed25519 key files, rotation; [`backup`]: `burgee backup` / `burgee restore`.
//! - [`demo`]: the seeded web-shop project of `burgee serve --demo`.
//! - [`cli`]: the `burgee` subcommands; [`ui`]: the embedded admin console at `/ui/`.
//!
//! Unix only (key and credential files are created with mode 0600).

pub mod analysis;
pub mod api;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod configs;
pub mod demo;
pub mod distribution;
pub mod error;
pub mod events;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod oidc;
pub mod openapi;
pub mod publish;
pub mod ready;
pub mod registry;
pub mod replicas;
pub mod serve;
pub mod service;
pub mod store;
pub mod ui;
pub mod validate;

/// The current time in milliseconds since the Unix epoch (UTC), from the system clock.
/// A clock before 1970 reads as 0.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
