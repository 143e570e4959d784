//! The [`ConfigClient`]: a service's configuration, kept current like a snapshot (SSE with
//! ETag polling as fallback, the last good document persisted and re-verified at start,
//! bootstrap for offline starts), resolved for this instance by the core
//! ([`burgee_core::ConfigDocument::get`]: overrides by condition and percentage), with change
//! listeners that receive the keys whose value changed, old and new (hot reload).
//!
//! ```text
//!  server ──SSE /v1/configs/{env}/{service}/stream (event: config)──► SyncState<ConfigDocument>
//!         ──GET /v1/configs/{env}/{service} (ETag/304)───────────────┘     │ (core: verify,
//!                                                                           ▼  anti-rollback)
//!  app ◄── get(key) / values()         listeners ◄── diff of the values resolved for this instance
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burgee_core::client::SyncStatus;
use burgee_core::config::changes;
use burgee_core::{ConfigChange, ConfigDocument, ConfigEntryValue, Context, ErrorCode};

use crate::client::{ClientEvent, Paths, Shared};
use crate::options::{ClientError, ClientOptions, general};
use crate::{lock, now_ms};

/// What configuration listeners hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEvent {
    /// A newer document is held; `changes` lists every key whose value for this instance
    /// differs (empty when only the version changed, e.g. a re-sign), sorted by key.
    Changed {
        /// Version held before (`None` for the first document).
        old_version: Option<u64>,
        /// Version held now.
        new_version: u64,
        /// The keys that changed.
        changes: Vec<ConfigChange>,
    },
    /// The sync status changed (as [`ClientEvent::Status`]).
    Status {
        /// The new status.
        status: SyncStatus,
        /// The last error's message, for `ERROR` and `STALE`.
        message: Option<String>,
    },
}

/// A configuration listener, called on the sync thread; must not block for long.
pub type ConfigListener = Arc<dyn Fn(&ConfigEvent) + Send + Sync>;

struct Watch {
    instance: Context,
    /// The values last announced to listeners, and their document's version.
    seen: Mutex<(Option<u64>, BTreeMap<String, ConfigEntryValue>)>,
    listeners: Mutex<Vec<(u64, ConfigListener)>>,
    next: AtomicU64,
}

/// A service's configuration, verified and kept current. Every method takes `&self`.
pub struct ConfigClient {
    shared: Arc<Shared<ConfigDocument>>,
    watch: Arc<Watch>,
    closed: AtomicBool,
}

impl std::fmt::Debug for ConfigClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigClient")
            .field("environment", &self.shared.opts.environment)
            .finish_non_exhaustive()
    }
}

impl ConfigClient {
    /// Starts a client of `service`'s configuration in `opts.environment` for the instance
    /// `instance` (targeting key: the instance id; attributes such as `host`, `zone`,
    /// `version`, `labels`, which override conditions read). `opts.persist_path` and
    /// `opts.bootstrap` refer to the config document (not a snapshot). Only a server-side SDK
    /// key scoped to the service receives secret entries.
    ///
    /// # Errors
    /// As [`crate::Client::new`]; `GENERAL` for an empty service name.
    pub fn new(
        opts: ClientOptions,
        service: &str,
        instance: Context,
    ) -> Result<ConfigClient, ClientError> {
        if service.is_empty() {
            return Err(general("a service name is required"));
        }
        let paths = Paths {
            document: format!("/v1/configs/{}/{service}", opts.environment),
            stream: format!("/v1/configs/{}/{service}/stream", opts.environment),
            event: "config",
        };
        let shared = Arc::new(Shared::<ConfigDocument>::for_document(
            opts,
            paths,
            Some(service),
        )?);
        let now = now_ms();
        let seen = match shared.document() {
            Some(doc) => (Some(doc.info().version), doc.values(&instance, now)),
            None => (None, BTreeMap::new()),
        };
        let watch = Arc::new(Watch {
            instance,
            seen: Mutex::new(seen),
            listeners: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
        });
        // The sync thread's events become configuration events: the diff of this instance's
        // values against those last announced.
        let (w, s) = (Arc::clone(&watch), Arc::downgrade(&shared));
        lock(&shared.listeners).push((
            0,
            Arc::new(move |e: &ClientEvent| {
                let event = match e {
                    ClientEvent::Status { status, message } => ConfigEvent::Status {
                        status: status.clone(),
                        message: message.clone(),
                    },
                    ClientEvent::Changed { new, .. } => {
                        let Some(doc) = s.upgrade().and_then(|s| s.document()) else {
                            return;
                        };
                        let values = doc.values(&w.instance, now_ms());
                        let mut seen = lock(&w.seen);
                        let changes = changes(&seen.1, &values);
                        let old_version = seen.0;
                        *seen = (Some(*new), values);
                        drop(seen);
                        ConfigEvent::Changed {
                            old_version,
                            new_version: *new,
                            changes,
                        }
                    }
                };
                let listeners: Vec<ConfigListener> = lock(&w.listeners)
                    .iter()
                    .map(|(_, l)| Arc::clone(l))
                    .collect();
                for l in listeners {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(&event)));
                }
            }),
        ));
        shared.start_sync("burgee-config-sync")?;
        Ok(ConfigClient {
            shared,
            watch,
            closed: AtomicBool::new(false),
        })
    }

    /// The verified document held, `None` before the first.
    pub fn document(&self) -> Option<Arc<ConfigDocument>> {
        self.shared.document()
    }

    /// The value of `key` for this instance now; `None` for an unknown key or without a
    /// document.
    pub fn get(&self, key: &str) -> Option<ConfigEntryValue> {
        let doc = self.document()?;
        doc.get(key, &self.watch.instance, now_ms())
            .map(ConfigEntryValue::from)
    }

    /// Every key's value for this instance, sorted by key (empty without a document).
    pub fn values(&self) -> BTreeMap<String, ConfigEntryValue> {
        self.document()
            .map(|d| d.values(&self.watch.instance, now_ms()))
            .unwrap_or_default()
    }

    /// The status and the last error (code and message) seen, if any.
    pub fn status(&self) -> (SyncStatus, Option<(ErrorCode, String)>) {
        self.shared.status()
    }

    /// Blocks until a document is held or the status is `ERROR`, at most `timeout`; returns
    /// the status then.
    pub fn wait_until_ready(&self, timeout: Duration) -> SyncStatus {
        self.shared.wait_until_ready(timeout)
    }

    /// Registers a listener; returns its id for [`ConfigClient::unsubscribe`].
    pub fn subscribe(&self, listener: ConfigListener) -> u64 {
        let id = self.watch.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.watch.listeners).push((id, listener));
        id
    }

    /// Removes a listener; unknown ids are ignored.
    pub fn unsubscribe(&self, id: u64) {
        lock(&self.watch.listeners).retain(|(i, _)| *i != id);
    }

    /// Stops synchronising (idempotent); the document held keeps serving.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shared.close();
    }
}

impl Drop for ConfigClient {
    fn drop(&mut self) {
        self.close();
    }
}
