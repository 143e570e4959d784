//! Distribution: the latest-snapshot cache and the hub every SSE stream listens to.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::error::StateError;
use crate::service::AppState;

/// A stored, signed snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Which document this is.
    pub kind: DocumentKind,
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// The service of a config document; `None` for a flag snapshot.
    pub service: Option<String>,
    /// Snapshot version.
    pub version: u64,
    /// `sha256:<hex>` of the payload.
    pub digest: String,
    /// The DSSE envelope JSON text, exactly as served.
    pub envelope: Arc<str>,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// The SSE event of this snapshot, rendered once and shared by every stream.
    pub(crate) sse_event: std::sync::OnceLock<axum::body::Bytes>,
    /// The client snapshot signed with this one (same version and times); `None` for versions
    /// published before client snapshots existed. Always `None` inside a client snapshot.
    pub client: Option<Arc<StoredSnapshot>>,
}

/// The kinds of signed document the server distributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A flag snapshot (`spec/SNAPSHOT.md`).
    Snapshot,
    /// A service's config document (`spec/CONFIG.md`).
    Config,
    /// An environment's catalog (`spec/CATALOG.md`).
    Catalog,
}

impl DocumentKind {
    /// The SSE event name of the kind: `snapshot`, `config` or `catalog`.
    pub fn event(self) -> &'static str {
        match self {
            DocumentKind::Snapshot => "snapshot",
            DocumentKind::Config => "config",
            DocumentKind::Catalog => "catalog",
        }
    }
}

impl StoredSnapshot {
    /// This document as one server-sent event: `id: <version>\nevent: <kind>\ndata:
    /// <envelope>\n\n` ([`DocumentKind::event`]; the envelope is one line of compact JSON). Rendered on first use; clones share the bytes.
    pub fn sse_event(&self) -> axum::body::Bytes {
        self.sse_event
            .get_or_init(|| {
                axum::body::Bytes::from(format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    self.version,
                    self.kind.event(),
                    self.envelope
                ))
            })
            .clone()
    }
}

/// A new snapshot, as broadcast to SSE streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEvent {
    /// The snapshot.
    pub snapshot: Arc<StoredSnapshot>,
}

impl AppState {
    /// Reloads the latest snapshot of `project/env` from the database and, if it is newer
    /// than the cached one, caches it and sends it to the SSE streams. Called after local
    /// publishes and for PostgreSQL notifications from other replicas.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn refresh_latest(&self, project: &str, env: &str) -> Result<(), StateError> {
        let Some(snapshot) = self.load_latest(project, env).await? else {
            return Ok(());
        };
        let snapshot = Arc::new(snapshot);
        let newer = {
            let mut cache = self
                .inner
                .latest
                .write()
                .map_err(|_| StateError::Corrupt("snapshot cache lock poisoned".into()))?;
            let key = (project.to_owned(), env.to_owned());
            let newer = cache
                .get(&key)
                .is_none_or(|held| held.version < snapshot.version);
            if newer {
                cache.insert(key, snapshot.clone());
            }
            newer
        };
        if newer {
            // No receivers is fine: nobody is streaming.
            let _ = self.inner.hub.send(SnapshotEvent { snapshot });
        }
        Ok(())
    }

    pub(crate) async fn load_latest(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<StoredSnapshot>, StateError> {
        Ok(sqlx::query_as(
            "SELECT project, environment, version, digest, envelope, issued_at, expires_at, \
             client_digest, client_envelope FROM snapshots \
             WHERE project = $1 AND environment = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(project)
        .bind(env)
        .fetch_optional(&self.inner.store.pool)
        .await?)
    }

    /// A receiver of every new snapshot published from now on (this process's publishes and,
    /// with PostgreSQL, other replicas').
    pub fn subscribe(&self) -> broadcast::Receiver<SnapshotEvent> {
        self.inner.hub.subscribe()
    }

    /// A receiver that turns `true` when the server shuts down (SSE streams end then).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Tells every SSE stream to end (graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// The latest snapshot of `project/env` (from memory after the first read); `None` if
    /// nothing was published.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn latest_snapshot(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<Arc<StoredSnapshot>>, StateError> {
        let key = (project.to_owned(), env.to_owned());
        if let Ok(cache) = self.inner.latest.read()
            && let Some(s) = cache.get(&key)
        {
            return Ok(Some(s.clone()));
        }
        let Some(s) = self.load_latest(project, env).await? else {
            return Ok(None);
        };
        let s = Arc::new(s);
        if let Ok(mut cache) = self.inner.latest.write() {
            let entry = cache.entry(key).or_insert_with(|| s.clone());
            if entry.version < s.version {
                *entry = s.clone();
            }
            return Ok(Some(entry.clone()));
        }
        Ok(Some(s))
    }

    /// The latest snapshot of every environment, sorted by project and environment.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn all_latest(&self) -> Result<Vec<Arc<StoredSnapshot>>, StateError> {
        let mut envs: Vec<(String, String)> =
            sqlx::query_as("SELECT project, key FROM environments")
                .fetch_all(&self.inner.store.pool)
                .await?;
        envs.sort();
        let mut out = Vec::new();
        for (project, env) in envs {
            if let Some(s) = self.latest_snapshot(&project, &env).await? {
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// The SSE stream caps ([`crate::config::HttpLimits::max_streams`] and
/// [`crate::config::HttpLimits::max_streams_per_key`]): counts of open streams, in total and per
/// key (the hash of the credential that opened them).
#[derive(Debug, Default)]
pub struct StreamCaps {
    open: std::sync::Mutex<(usize, HashMap<String, usize>)>,
    max_total: usize,
    max_per_key: usize,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    /// The key has [`StreamCaps`]' per-key number of streams open.
    PerKey,
    /// The server has its total number of streams open.
    Total,
}

/// An open stream's place under the caps; dropping it frees the place.
#[derive(Debug)]
pub struct StreamSlot {
    caps: Arc<StreamCaps>,
    key: String,
}

impl StreamCaps {
    /// Caps of `max_total` streams, `max_per_key` per key.
    pub fn new(max_total: usize, max_per_key: usize) -> Arc<StreamCaps> {
        Arc::new(StreamCaps {
            open: std::sync::Mutex::new((0, HashMap::new())),
            max_total,
            max_per_key,
        })
    }

    /// A place for one more stream of `key`.
    ///
    /// # Errors
    /// [`StreamRefusal`] naming the cap that is full.
    pub fn open(self: &Arc<Self>, key: &str) -> Result<StreamSlot, StreamRefusal> {
        let mut guard = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (total, per_key) = &mut *guard;
        if *total >= self.max_total {
            return Err(StreamRefusal::Total);
        }
        let count = per_key.entry(key.to_owned()).or_default();
        if *count >= self.max_per_key {
            return Err(StreamRefusal::PerKey);
        }
        *count += 1;
        *total += 1;
        Ok(StreamSlot {
            caps: Arc::clone(self),
            key: key.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut guard = self
            .caps
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (total, per_key) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(n) = per_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}
