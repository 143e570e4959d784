//! The services: [`AppState`] and every operation on the authoring state, one module per
//! resource (projects, environments, flags and targeting, segments, versions, tokens, audit),
//! plus first start and re-signing.
//!
//! Every write is one [`Writer`] transaction: it applies the change, records an audit entry
//! (who, when, what, before/after), and publishes a new signed snapshot of every affected
//! environment (`publish_env`: build the [`SnapshotDef`], compile it with
//! [`Snapshot::compile`] — a refusal rolls the whole write back —, sign, refuse a server or
//! client envelope over [`DEFAULT_MAX_ENVELOPE_BYTES`] — also a rollback —, store). After the
//! commit, the new envelopes are broadcast to this process's SSE streams, and (PostgreSQL)
//! `NOTIFY` tells the other replicas.
//!
//! [`SnapshotDef`]: burgee_core::model::SnapshotDef
//! [`Snapshot::compile`]: burgee_core::Snapshot::compile
//! [`DEFAULT_MAX_ENVELOPE_BYTES`]: burgee_core::DEFAULT_MAX_ENVELOPE_BYTES
//!
//! Data directory layout:
//! - `burgee.db`: the SQLite database (unless `--database-url` names PostgreSQL).
//! - `keys/<key_name>.key|.pub`: each environment's Ed25519 key pair ([`crate::keys`]);
//!   `key_name` is the environment key for the first project and `<project>/<env>` for
//!   later ones.
//! - `credentials.env`: the plaintext bootstrap admin token and SDK keys, written once
//!   (mode 0600) at first start; the database keeps only SHA-256 hashes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use crate::auth::Principal;
use crate::clock::{Clock, SystemClock};
use crate::config::ServerConfig;
use crate::distribution::{SnapshotEvent, StoredSnapshot};
use crate::error::StateError;
use crate::events::log::LogConfig;
use crate::events::service::EventService;
use crate::metrics::Metrics;
use crate::store::{Store, Writer};

mod audit;
mod bootstrap;
mod console;
mod environments;
mod flags;
mod projects;
mod resign;
mod segments;
mod sso;
mod tokens;
mod users;
mod versions;
pub(crate) mod write;

pub use audit::AuditFilter;
pub use bootstrap::{Credentials, FIRST_USER_EMAIL};
pub use console::{EnvironmentKeys, Explanation, PublicKey, StaleFlag, StaleReason};
pub use flags::FlagFilter;
pub use sso::{PendingFlow, SsoRefusal};
pub use users::{ActiveSession, MIN_PASSWORD_CHARS, NewSession, SESSION_PREFIX, SESSION_TTL_MS};

/// Shared server state; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys_dir: PathBuf,
    pub(crate) snapshot_ttl_ms: u64,
    pub(crate) sse_keep_alive: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) limits: crate::config::HttpLimits,
    pub(crate) hub: broadcast::Sender<SnapshotEvent>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) latest: RwLock<HashMap<(String, String), Arc<StoredSnapshot>>>,
    /// The newest version of each environment whose load failed (to log that once).
    pub(crate) refresh_failed: RwLock<HashMap<(String, String), u64>>,
    pub(crate) tokens: RwLock<HashMap<String, (Option<Principal>, Instant)>>,
    pub(crate) metrics: Metrics,
    pub(crate) events: Arc<EventService>,
    pub(crate) rate: Option<Arc<crate::api::CallerRateLimiter>>,
    pub(crate) streams: Arc<crate::distribution::StreamCaps>,
    pub(crate) oidc: Option<crate::oidc::Oidc>,
    /// Seals and opens secret configuration values ([`crate::configs::secrets`]).
    pub(crate) secrets: crate::configs::secrets::SecretBox,
    /// Bumped after every commit that published something: wakes the outbox sinks.
    pub(crate) outbox_wake: watch::Sender<u64>,
    /// The service registry's in-process state.
    pub(crate) registry: crate::registry::Registry,
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl AppState {
    /// The event service (`POST /v1/events`, experiment results). Its log lives in
    /// `DATA_DIR/events/`, one per server process (replicas forward to NATS JetStream for a
    /// shared stream).
    pub fn events(&self) -> &Arc<EventService> {
        &self.inner.events
    }

    /// Opens (creating if needed) the data directory and the database, applies migrations.
    ///
    /// On first start (no projects) it bootstraps: project `webshop` (with `demo`, seeded
    /// with [`demo`](crate::demo)'s flags and segments) or `default`, the
    /// [`ENVIRONMENTS`](crate::config::ENVIRONMENTS) each with a random salt and a key pair
    /// in `DATA_DIR/keys/<env>.key|.pub`, one admin token (role admin, every project) and
    /// one SDK key per environment (hashes in the DB, plaintexts
    /// in `credentials.env`, mode 0600), and publishes version 1 of every environment. Only
    /// then is `Some(credentials)` returned.
    ///
    /// # Errors
    /// [`StateError::Io`] / [`StateError::Key`] for the data directory and key files,
    /// [`StateError::Db`] / [`StateError::Migrate`] / [`StateError::Config`] for the
    /// database, [`StateError::Invalid`] if the seed data does not compile.
    pub async fn open(
        config: &ServerConfig,
    ) -> Result<(AppState, Option<Credentials>), StateError> {
        AppState::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`AppState::open`] with the clock every write, publish and re-sign reads (tests pass a
    /// [`crate::clock::ManualClock`]).
    ///
    /// # Errors
    /// As [`AppState::open`].
    pub async fn open_with_clock(
        config: &ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(AppState, Option<Credentials>), StateError> {
        std::fs::create_dir_all(&config.data_dir).map_err(io_error(&config.data_dir))?;
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&config.data_dir));
        let store = Store::open(&url, 8).await?;
        let (hub, _) = broadcast::channel(256);
        let (shutdown, _) = watch::channel(false);
        let (outbox_wake, _) = watch::channel(0);
        let secrets = crate::configs::secrets::SecretBox::open(&config.data_dir.join("keys"))?;
        let state = AppState {
            inner: Arc::new(Inner {
                store,
                clock,
                keys_dir: config.data_dir.join("keys"),
                snapshot_ttl_ms: config.snapshot_ttl_ms,
                sse_keep_alive: config.sse_keep_alive,
                max_body_bytes: config.max_body_bytes,
                limits: config.limits,
                hub,
                shutdown,
                latest: RwLock::new(HashMap::new()),
                refresh_failed: RwLock::new(HashMap::new()),
                tokens: RwLock::new(HashMap::new()),
                metrics: Metrics::default(),
                events: Arc::new(EventService::open(LogConfig::new(
                    config.data_dir.join("events"),
                ))?),
                rate: crate::api::CallerRateLimiter::new(&config.limits),
                streams: crate::distribution::StreamCaps::new(
                    config.limits.max_streams,
                    config.limits.max_streams_per_key,
                ),
                oidc: config
                    .oidc
                    .clone()
                    .map(crate::oidc::Oidc::new)
                    .transpose()?,
                secrets,
                outbox_wake,
                registry: crate::registry::Registry::new(config.registry),
            }),
        };
        let projects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
            .fetch_one(&state.inner.store.pool)
            .await?;
        let credentials = if projects == 0 {
            Some(state.bootstrap(config).await?)
        } else {
            state.sync_public_keys().await?;
            None
        };
        Ok((state, credentials))
    }

    /// Commits a write and broadcasts its new snapshots to this process's streams.
    pub(crate) async fn commit(&self, w: Writer) -> Result<(), StateError> {
        let committed = w.commit().await?;
        let published = committed.snapshots.len() + committed.configs.len();
        for (project, env) in committed.catalogs {
            self.broadcast_catalog(&project, &env).await?;
        }
        for (project, env) in committed.snapshots {
            self.inner.metrics.publishes.inc();
            self.refresh_latest(&project, &env).await?;
        }
        for (project, env, service) in committed.configs {
            self.inner.metrics.publishes.inc();
            self.broadcast_config(&project, &env, &service).await?;
        }
        if published > 0 {
            self.inner
                .outbox_wake
                .send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    /// The current time of the server's clock, ms since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The store (pool and backend).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Interval of SSE keep-alive comments.
    pub fn sse_keep_alive(&self) -> Duration {
        self.inner.sse_keep_alive
    }

    /// The HTTP limits it was opened with.
    pub fn limits(&self) -> crate::config::HttpLimits {
        self.inner.limits
    }

    /// The per-caller rate limiter (`None`: no rate limit).
    pub fn rate_limiter(&self) -> Option<&crate::api::CallerRateLimiter> {
        self.inner.rate.as_deref()
    }

    /// The SSE stream caps.
    pub fn stream_caps(&self) -> &Arc<crate::distribution::StreamCaps> {
        &self.inner.streams
    }

    /// Largest accepted request body, bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Single sign-on with an OpenID provider, when configured (`--oidc-issuer`).
    pub fn oidc(&self) -> Option<&crate::oidc::Oidc> {
        self.inner.oidc.as_ref()
    }

    /// The keys directory (`DATA_DIR/keys`).
    pub fn keys_dir(&self) -> &Path {
        &self.inner.keys_dir
    }

    pub(crate) fn forget_tokens(&self) {
        if let Ok(mut cache) = self.inner.tokens.write() {
            cache.clear();
        }
    }

    /// Closes the database pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.inner.store.pool.close().await;
    }
}
