//! # burgee-client
//!
//! The one native SDK client that the Node (`@burgee/node`), Python (`burgee`) and mobile SDKs
//! wrap. It keeps a verified snapshot current on a background thread and delivers exposures
//! and metric events; evaluation itself is `burgee-core`'s, called on the snapshot this crate
//! holds. It must never evaluate flags itself, and never trust an envelope the core refused.
//!
//! ```text
//!            bootstrap (string/file) ─┐  persisted last-known-good file ─┐
//!                                     ▼                                  ▼
//!  server ──SSE /v1/stream/{env}──► SyncState::apply (core: verify, anti-rollback) ──► Arc<Snapshot>
//!         ──GET /v1/snapshots/{env} (ETag/304; fallback and catch-up)──┘    │  ▲ app evaluates
//!                      backoff with full jitter between failed attempts     │  │ with burgee-core
//!  server ◄──POST /v1/events── EventBuffer (core: dedupe, batches, same-id retry) ◄─ exposures, track
//! ```
//!
//! Threads: a sync thread (SSE with fallback to ETag polling) and an events thread (flush by
//! size, by interval and on [`Client::close`]). Listeners ([`Client::subscribe`]) are called
//! on the sync thread with [`ClientEvent`]s. Times are ms since the Unix epoch.
//!
//! ```no_run
//! use burgee_client::{Client, ClientOptions};
//! use burgee_core::Context;
//! let mut opts = ClientOptions::new("production", vec!["<base64 public key>".into()]);
//! opts.server_url = Some("http://127.0.0.1:8080".into());
//! opts.sdk_key = Some("bgs_...".into());
//! let client = Client::new(opts)?;
//! client.wait_until_ready(std::time::Duration::from_secs(5));
//! let ctx = Context::new("user-42").with("country", "DE");
//! if let Some(snap) = client.snapshot() {
//!     let now = burgee_client::now_ms();
//!     let d = snap.get_bool("checkout-redesign", &ctx, now, false);
//!     client.record_exposure(&snap, "checkout-redesign", &d.details, &ctx, now);
//! }
//! client.close();
//! # Ok::<(), burgee_client::ClientError>(())
//! ```

mod client;
mod config;
mod discovery;
mod evaluate;
mod events;
mod options;
pub mod sse;
mod sync;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use burgee_core::client::{EventStats, SyncStatus, TrackEvent, not_ready_error};
pub use burgee_core::engine::{DEFAULTS, Defaults, Resolution, openfeature_error_code};
pub use burgee_core::{CatalogDocument, CatalogInstanceDef, Outcome, Strategy};
pub use burgee_core::{ConfigChange, ConfigEntryValue};
pub use client::{Client, ClientEvent, Listener, ListenerId};
pub use config::{ConfigClient, ConfigEvent, ConfigListener};
pub use discovery::{DiscoveryClient, Registration};
pub use options::{Bootstrap, ClientError, ClientOptions};

/// Milliseconds since the Unix epoch, from the system clock (0 before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
