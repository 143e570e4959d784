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

pub mod sse;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burgee_core::client::{
    ApplyOutcome, Backoff, EventBuffer, EventBufferConfig, SyncConfig, SyncState,
};
pub use burgee_core::client::{EventStats, SyncStatus, TrackEvent, not_ready_error};
use burgee_core::{
    Audience, Context, DEFAULT_MAX_ENVELOPE_BYTES, ErrorCode, EvaluationDetails, Snapshot,
    TrustedKey,
};

/// Milliseconds since the Unix epoch, from the system clock (0 before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where an offline-start envelope comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// The envelope JSON itself (e.g. shipped with the app or fetched from a CDN by the host).
    Envelope(String),
    /// A file holding the envelope JSON (e.g. written by `burgee export`).
    File(PathBuf),
}

/// Configuration of a [`Client`]. [`ClientOptions::new`] sets the documented defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Environment key the snapshots must be for (checked against each snapshot).
    pub environment: String,
    /// Trusted Ed25519 public keys, standard base64 of 32 bytes (`*.pub` files); several
    /// during rotation.
    pub trusted_keys: Vec<String>,
    /// Base URL of the Burgee server, e.g. `http://127.0.0.1:8080`; `None` = offline (bootstrap
    /// and persisted file only; no events are sent).
    pub server_url: Option<String>,
    /// SDK key (`bgs_...`) of the environment, or its client-side key (`bgc_...`, for apps
    /// on users' devices: the client then reads the environment's client snapshot,
    /// `spec/SNAPSHOT.md` §9, and refuses server snapshots; see [`ClientOptions::audience`]);
    /// required with `server_url`.
    pub sdk_key: Option<String>,
    /// Project key the snapshots must be for (checked against each snapshot:
    /// `PROJECT_MISMATCH` for another project's), also sent as `?project=` (which admin tokens
    /// need to pick a project). `None` = not checked; set it whenever the project is known.
    pub project: Option<String>,
    /// Envelope to start from before (or without) the server.
    pub bootstrap: Option<Bootstrap>,
    /// File where the last verified envelope is kept (written atomically after each update and
    /// re-verified when read at start).
    pub persist_path: Option<PathBuf>,
    /// Use server-sent events (default true); without, or when the stream fails, poll with
    /// `If-None-Match`.
    pub streaming: bool,
    /// Polling period when not streaming, ms (default 30,000).
    pub poll_interval_ms: u64,
    /// Connect and response timeout of each request, ms (default 10,000).
    pub request_timeout_ms: u64,
    /// A stream with no bytes (events or keep-alive comments) for this long is reconnected,
    /// ms (default 60,000; the server sends keep-alives every 15 s by default).
    pub stream_idle_timeout_ms: u64,
    /// First retry delay ceiling, ms (default 500).
    pub backoff_base_ms: u64,
    /// Largest retry delay, ms (default 30,000).
    pub backoff_cap_ms: u64,
    /// Refuse snapshot versions below this one (0 = none).
    pub min_version: u64,
    /// Envelope size limit, bytes (default 8 MiB).
    pub max_envelope_bytes: usize,
    /// Record an exposure for every successful evaluation reported with
    /// [`Client::record_exposure`] (default true; needs `server_url`).
    pub send_exposures: bool,
    /// Flush events at least this often, ms (default 10,000).
    pub flush_interval_ms: u64,
    /// Flush when this many events are queued (default 500, at most 1000).
    pub flush_size: usize,
    /// Most events kept in memory; beyond, the oldest are dropped and counted (default 10,000).
    pub max_queued_events: usize,
    /// Exposure dedupe window, ms (default 3,600,000).
    pub dedupe_window_ms: u64,
    /// How long [`Client::close`] may spend delivering queued events, ms (default 5,000).
    pub close_timeout_ms: u64,
    /// `sdk.name` in event batches (default `burgee-client`).
    pub sdk_name: String,
    /// `sdk.version` in event batches (default this crate's version).
    pub sdk_version: String,
}

impl ClientOptions {
    /// The snapshots this client reads, from its key: [`Audience::Client`] for a client-side
    /// key (`bgc_...`), else [`Audience::Server`]. Snapshots for the other audience are
    /// refused with `AUDIENCE_MISMATCH`.
    pub fn audience(&self) -> Audience {
        if self
            .sdk_key
            .as_deref()
            .is_some_and(|k| k.starts_with("bgc_"))
        {
            Audience::Client
        } else {
            Audience::Server
        }
    }

    /// Options with every default and no server, bootstrap or persistence.
    pub fn new(environment: impl Into<String>, trusted_keys: Vec<String>) -> Self {
        ClientOptions {
            environment: environment.into(),
            trusted_keys,
            server_url: None,
            sdk_key: None,
            project: None,
            bootstrap: None,
            persist_path: None,
            streaming: true,
            poll_interval_ms: 30_000,
            request_timeout_ms: 10_000,
            stream_idle_timeout_ms: 60_000,
            backoff_base_ms: 500,
            backoff_cap_ms: 30_000,
            min_version: 0,
            max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
            send_exposures: true,
            flush_interval_ms: 10_000,
            flush_size: 500,
            max_queued_events: 10_000,
            dedupe_window_ms: 3_600_000,
            close_timeout_ms: 5_000,
            sdk_name: "burgee-client".into(),
            sdk_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// A configuration or input error: a stable code (`burgee_core::ErrorCode`) and a message.
///
/// Codes: `PARSE_ERROR` for a trusted key that is not base64 of a valid Ed25519 key;
/// `GENERAL` for other bad configuration (server URL without SDK key, unreadable bootstrap
/// file, invalid `track` event, a closed client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// Stable code.
    pub code: ErrorCode,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ClientError {}

fn general(message: impl Into<String>) -> ClientError {
    ClientError {
        code: ErrorCode::General,
        message: message.into(),
    }
}

/// What listeners hear about, on the sync thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The status changed. `message` explains `ERROR` and `STALE` (the last error).
    Status {
        /// The new status.
        status: SyncStatus,
        /// The last error's message, for `ERROR` and `STALE`.
        message: Option<String>,
    },
    /// A newer snapshot replaced the one held (`old` is `None` for the first).
    Changed {
        /// Version held before.
        old: Option<u64>,
        /// Version now held.
        new: u64,
    },
}

/// A listener: called on the sync thread; must not block for long.
pub type Listener = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// Listener handle for [`Client::unsubscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// The snapshot held and the envelope it came from.
struct Current {
    snapshot: Arc<Snapshot>,
    envelope: Arc<[u8]>,
}

struct Shared {
    /// Process-unique id, for the per-thread snapshot cache.
    id: u64,
    /// Bumped after every swap of `current`.
    generation: AtomicU64,
    opts: ClientOptions,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    sync: Mutex<SyncState>,
    status_cv: Condvar,
    current: RwLock<Option<Current>>,
    events: Option<Mutex<EventBuffer>>,
    events_cv: Condvar,
    stop: AtomicBool,
    sleep: (Mutex<()>, Condvar),
    listeners: Mutex<Vec<(u64, Listener)>>,
    next_listener: AtomicU64,
}

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// A cached snapshot: `(client id, generation, snapshot)`.
type CachedSnapshot = Option<(u64, u64, Arc<Snapshot>)>;

thread_local! {
    /// The last snapshot this thread evaluated with, so the hot path reads one atomic instead
    /// of taking the lock and touching the `Arc` count. Holds that snapshot alive until the
    /// thread evaluates with a newer one (or another client) or exits.
    static SNAPSHOT_CACHE: std::cell::RefCell<CachedSnapshot> = const { std::cell::RefCell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The native client. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Client {
    shared: Arc<Shared>,
    events_thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("environment", &self.shared.opts.environment)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client: verifies the trusted keys, loads the persisted file and the
    /// bootstrap envelope (whichever is newer wins; a refused one is recorded as the last
    /// error), then starts the background threads when `server_url` is set.
    ///
    /// # Errors
    /// [`ClientError`]: `PARSE_ERROR` for a bad trusted key; `GENERAL` for a server URL
    /// without SDK key, no trusted key, or an unreadable bootstrap file.
    pub fn new(opts: ClientOptions) -> Result<Client, ClientError> {
        Self::start(opts, None, Vec::new())
    }

    fn start(
        opts: ClientOptions,
        inherited: Option<Arc<[u8]>>,
        listeners: Vec<(u64, Listener)>,
    ) -> Result<Client, ClientError> {
        if opts.trusted_keys.is_empty() {
            return Err(general("at least one trusted key is required"));
        }
        let keys = opts
            .trusted_keys
            .iter()
            .map(|k| TrustedKey::from_base64(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError {
                code: e.code(),
                message: format!("trusted key: {e}"),
            })?;
        if opts.server_url.is_some() && opts.sdk_key.is_none() {
            return Err(general("an SDK key is required with a server URL"));
        }
        let bootstrap = match &opts.bootstrap {
            None => None,
            Some(Bootstrap::Envelope(s)) => Some(s.clone().into_bytes()),
            Some(Bootstrap::File(p)) => Some(
                std::fs::read(p)
                    .map_err(|e| general(format!("bootstrap file {}: {e}", p.display())))?,
            ),
        };
        let mut cfg = SyncConfig::new(keys, opts.environment.clone());
        cfg.project.clone_from(&opts.project);
        cfg.audience = opts.audience();
        cfg.min_version = opts.min_version;
        cfg.max_envelope_bytes = opts.max_envelope_bytes;
        let mut sync = SyncState::new(cfg);
        let now = now_ms();
        let mut current: Option<Current> = None;
        let persisted = opts
            .persist_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok());
        for envelope in [inherited.map(|e| e.to_vec()), persisted, bootstrap]
            .into_iter()
            .flatten()
        {
            if let ApplyOutcome::Updated { .. } = sync.apply_local(&envelope, now)
                && let Some(snapshot) = sync.snapshot()
            {
                current = Some(Current {
                    snapshot: Arc::clone(snapshot),
                    envelope: envelope.into(),
                });
            }
        }
        let timeout = Some(Duration::from_millis(opts.request_timeout_ms));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(timeout)
            .timeout_recv_response(timeout)
            .timeout_recv_body(timeout)
            .timeout_send_body(timeout)
            .user_agent(format!("{}/{}", opts.sdk_name, opts.sdk_version))
            .build()
            .new_agent();
        let stream_agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(timeout)
            .timeout_recv_response(timeout)
            .timeout_per_read(Some(Duration::from_millis(opts.stream_idle_timeout_ms)))
            .user_agent(format!("{}/{}", opts.sdk_name, opts.sdk_version))
            .build()
            .new_agent();
        let events = (opts.server_url.is_some()).then(|| {
            let mut c = EventBufferConfig::new(opts.sdk_name.clone(), opts.sdk_version.clone());
            c.flush_interval_ms = opts.flush_interval_ms;
            c.flush_size = opts.flush_size;
            c.max_events = opts.max_queued_events;
            c.dedupe_window_ms = opts.dedupe_window_ms;
            Mutex::new(EventBuffer::new(c))
        });
        let next_listener = listeners.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
        let shared = Arc::new(Shared {
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            opts,
            agent,
            stream_agent,
            sync: Mutex::new(sync),
            status_cv: Condvar::new(),
            current: RwLock::new(current),
            events,
            events_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            sleep: (Mutex::new(()), Condvar::new()),
            listeners: Mutex::new(listeners),
            next_listener: AtomicU64::new(next_listener),
        });
        let mut events_thread = None;
        if shared.opts.server_url.is_some() {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("burgee-sync".into())
                .spawn(move || sync_loop(&s))
                .map_err(|e| general(format!("cannot start the sync thread: {e}")))?;
            if shared.events.is_some() {
                let s = Arc::clone(&shared);
                events_thread = Some(
                    std::thread::Builder::new()
                        .name("burgee-events".into())
                        .spawn(move || events_loop(&s))
                        .map_err(|e| general(format!("cannot start the events thread: {e}")))?,
                );
            }
        }
        Ok(Client {
            shared,
            events_thread: Mutex::new(events_thread),
            closed: AtomicBool::new(false),
        })
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.shared.opts
    }

    /// The snapshot held (an `Arc` clone; evaluate with `burgee-core`), `None` before the
    /// first verified envelope.
    #[inline]
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.shared
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|c| Arc::clone(&c.snapshot))
    }

    /// Runs `f` with the snapshot held (`None` before the first verified envelope), without
    /// taking a lock or touching the `Arc` count when this thread already saw the current
    /// snapshot (a per-thread cache checked against a generation counter). The fastest way to
    /// evaluate; `f` must not block.
    #[inline]
    pub fn with_snapshot<R>(&self, f: impl FnOnce(&Arc<Snapshot>) -> R) -> Option<R> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        SNAPSHOT_CACHE.with(|c| {
            // Hit: `f` runs under a shared borrow (a reentrant call may read it too).
            if let Some((id, g, snap)) = &*c.borrow()
                && *id == self.shared.id
                && *g == generation
            {
                return Some(f(snap));
            }
            let snap = self.snapshot()?;
            // A reentrant miss (the cache is borrowed above us) just skips caching.
            if let Ok(mut slot) = c.try_borrow_mut() {
                *slot = Some((self.shared.id, generation, Arc::clone(&snap)));
            }
            Some(f(&snap))
        })
    }

    /// The status and the last error (code and message) seen, if any.
    pub fn status(&self) -> (SyncStatus, Option<(ErrorCode, String)>) {
        let s = lock(&self.shared.sync);
        (
            s.status().clone(),
            s.last_error().map(|(c, m)| (c, m.to_owned())),
        )
    }

    /// Blocks until a snapshot is held or the status is `ERROR` (an envelope was refused), at
    /// most `timeout`; returns the status then (`NOT_READY` on timeout).
    pub fn wait_until_ready(&self, timeout: Duration) -> SyncStatus {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.shared.sync);
        loop {
            if s.snapshot().is_some() || matches!(s.status(), SyncStatus::Error(_)) {
                return s.status().clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return s.status().clone();
            }
            s = self
                .shared
                .status_cv
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Registers a listener for [`ClientEvent`]s (called on the sync thread).
    pub fn subscribe(&self, listener: Listener) -> ListenerId {
        let id = self.shared.next_listener.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.listeners).push((id, listener));
        ListenerId(id)
    }

    /// Removes a listener; unknown ids are ignored.
    pub fn unsubscribe(&self, id: ListenerId) {
        lock(&self.shared.listeners).retain(|(i, _)| *i != id.0);
    }

    /// Records that `details` (from evaluating `flag` for `ctx` on `snapshot` at `now`) was
    /// served; deduped and batched by the core's `EventBuffer`. No-op without a server or
    /// with `send_exposures` off. Returns whether an exposure was queued.
    #[inline]
    pub fn record_exposure(
        &self,
        snapshot: &Snapshot,
        flag: &str,
        details: &EvaluationDetails<'_>,
        ctx: &Context,
        now: u64,
    ) -> bool {
        if !self.shared.opts.send_exposures || details.variant.is_none() {
            return false;
        }
        let Some(events) = &self.shared.events else {
            return false;
        };
        let mut buf = lock(events);
        let queued = buf.record_exposure(snapshot, flag, details, ctx, now);
        if queued && buf.stats().queued == buf.config().flush_size {
            self.shared.events_cv.notify_one();
        }
        queued
    }

    /// Queues a metric event (`spec/EVENTS.md` §2).
    ///
    /// # Errors
    /// `GENERAL` with the rule broken (empty key, non-finite value, too many attributes...),
    /// or when the client has no server.
    pub fn track(&self, event: TrackEvent) -> Result<(), ClientError> {
        let Some(events) = &self.shared.events else {
            return Err(general("track needs a server URL"));
        };
        let mut buf = lock(events);
        buf.track(event).map_err(general)?;
        if buf.stats().queued >= buf.config().flush_size {
            self.shared.events_cv.notify_one();
        }
        Ok(())
    }

    /// Event counters (queued, in a batch, deduplicated, dropped, delivered).
    pub fn event_stats(&self) -> EventStats {
        self.shared
            .events
            .as_ref()
            .map(|e| lock(e).stats())
            .unwrap_or_default()
    }

    /// Sends every queued event now, on the calling thread, for at most `timeout`; returns
    /// whether everything was delivered.
    pub fn flush(&self, timeout: Duration) -> bool {
        drain_events(&self.shared, Instant::now() + timeout)
    }

    /// Stops synchronising and delivers queued events (for at most `close_timeout_ms`).
    /// Idempotent. Evaluation keeps working on the last snapshot.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.events_cv.notify_all();
        self.shared.sleep.1.notify_all();
        if let Some(handle) = lock(&self.events_thread).take() {
            let _ = handle.join();
        }
    }

    /// For the child of a `fork()`: the background threads did not survive the fork, and any
    /// lock they held stays held. Starts a fresh client with the same options, the same
    /// listeners and the snapshot held (re-verified), each read only if its lock is free, and
    /// abandons this one: its [`Client::close`] and `Drop` become no-ops (they would join
    /// threads that exist only in the parent), and its memory is left as is. Events queued in
    /// the parent stay with the parent.
    ///
    /// # Errors
    /// As [`Client::new`] (the options were valid in the parent, so only thread creation can
    /// fail).
    pub fn restart_in_child(&self) -> Result<Client, ClientError> {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut handle) = self.events_thread.try_lock() {
            // The thread handle belongs to the parent's thread: never join it here.
            std::mem::forget(handle.take());
        }
        let envelope = self
            .shared
            .current
            .try_read()
            .ok()
            .and_then(|c| c.as_ref().map(|c| Arc::clone(&c.envelope)));
        let listeners = self
            .shared
            .listeners
            .try_lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        // The parent's `Shared` may be locked by threads that no longer exist: leak a reference
        // so it is never dropped (dropping could touch those locks).
        std::mem::forget(Arc::clone(&self.shared));
        Self::start(self.shared.opts.clone(), envelope, listeners)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

// ---- background work ----

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `ms`, waking early on close. Returns false when stopped.
    fn sleep(&self, ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        let mut g = lock(&self.sleep.0);
        while !self.stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            g = self
                .sleep
                .1
                .wait_timeout(g, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    fn url(&self, path: &str) -> String {
        let base = self
            .opts
            .server_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        match &self.opts.project {
            Some(p) => format!("{base}{path}?project={p}"),
            None => format!("{base}{path}"),
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.opts.sdk_key.as_deref().unwrap_or(""))
    }

    /// Runs `f` on the sync state, then publishes the outcome: the new snapshot, persistence,
    /// condvar wake-ups and listener calls (outside every lock).
    fn update(
        &self,
        envelope: Option<&[u8]>,
        f: impl FnOnce(&mut SyncState) -> Option<ApplyOutcome>,
    ) {
        let mut events = Vec::new();
        {
            let mut s = lock(&self.sync);
            let before = s.status().clone();
            let outcome = f(&mut s);
            if let (Some(ApplyOutcome::Updated { old, new }), Some(env), Some(snap)) =
                (&outcome, envelope, s.snapshot())
            {
                let env: Arc<[u8]> = env.into();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Current {
                    snapshot: Arc::clone(snap),
                    envelope: Arc::clone(&env),
                });
                self.generation.fetch_add(1, Ordering::Release);
                if let Some(path) = &self.opts.persist_path {
                    persist(path, &env);
                }
                events.push(ClientEvent::Changed {
                    old: *old,
                    new: *new,
                });
            }
            let after = s.status().clone();
            if after != before {
                let message = match after {
                    SyncStatus::Error(_) | SyncStatus::Stale => {
                        s.last_error().map(|(_, m)| m.to_owned())
                    }
                    _ => None,
                };
                events.insert(
                    0,
                    ClientEvent::Status {
                        status: after,
                        message,
                    },
                );
            }
            self.status_cv.notify_all();
        }
        if events.is_empty() {
            return;
        }
        let listeners: Vec<Listener> = lock(&self.listeners)
            .iter()
            .map(|(_, l)| Arc::clone(l))
            .collect();
        for e in &events {
            for l in &listeners {
                // A panicking listener must not kill the sync thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(e)));
            }
        }
    }

    fn apply(&self, envelope: &[u8], etag: Option<&str>) {
        self.update(Some(envelope), |s| Some(s.apply(envelope, etag, now_ms())));
    }

    fn failed(&self, message: &str) {
        self.update(None, |s| {
            s.fetch_failed(message);
            None
        });
    }

    /// `/v1/client` for a client-side key (`bgc_`: the client snapshot and its stream), else
    /// `/v1` (the server snapshot).
    fn routes(&self) -> &'static str {
        match self.opts.audience() {
            Audience::Client => "/v1/client",
            Audience::Server => "/v1",
        }
    }

    /// One conditional GET of the snapshot.
    fn poll(&self) -> Result<(), String> {
        let etag = lock(&self.sync).etag().map(str::to_owned);
        let mut req = self
            .agent
            .get(self.url(&format!(
                "{}/snapshots/{}",
                self.routes(),
                self.opts.environment
            )))
            .header("Authorization", &self.auth());
        if let Some(tag) = &etag {
            req = req.header("If-None-Match", tag);
        }
        let mut resp = req.call().map_err(|e| format!("GET snapshot: {e}"))?;
        match resp.status().as_u16() {
            200 => {
                let tag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let limit = u64::try_from(self.opts.max_envelope_bytes)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|e| format!("GET snapshot body: {e}"))?;
                self.apply(&body, tag.as_deref());
                Ok(())
            }
            304 => {
                self.update(None, |s| {
                    s.not_modified();
                    None
                });
                Ok(())
            }
            status => Err(http_error("GET snapshot", status, &mut resp)),
        }
    }

    /// One SSE connection, until it ends. `Ok(true)` if it delivered at least one event.
    fn stream(&self) -> Result<bool, StreamError> {
        let version = lock(&self.sync)
            .snapshot()
            .map(|s| s.info().version.to_string());
        let mut req = self
            .stream_agent
            .get(self.url(&format!(
                "{}/stream/{}",
                self.routes(),
                self.opts.environment
            )))
            .header("Authorization", &self.auth())
            .header("Accept", "text/event-stream");
        if let Some(v) = &version {
            req = req.header("Last-Event-ID", v);
        }
        let mut resp = req
            .call()
            .map_err(|e| StreamError::Failed(format!("stream: {e}")))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let message = http_error("stream", status, &mut resp);
            // 404/405/501: no streaming here (old server, proxy): poll instead.
            return Err(if matches!(status, 404 | 405 | 501) {
                StreamError::Unsupported(message)
            } else {
                StreamError::Failed(message)
            });
        }
        // Connected. The stream only sends versions above Last-Event-ID, so a server that went
        // back in time would stay silent: one conditional GET settles the status (304 = Ready,
        // an older envelope = refused, SNAPSHOT_ROLLBACK).
        if let Err(m) = self.poll() {
            self.failed(&m);
        }
        let mut reader = BufReader::new(resp.into_body().into_reader());
        let mut parser = sse::SseParser::new();
        let mut line = String::new();
        let mut delivered = false;
        loop {
            if self.stopped() {
                return Ok(delivered);
            }
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => return Ok(delivered),
                Ok(_) => {}
                Err(e) => {
                    return if delivered {
                        Ok(true)
                    } else {
                        Err(StreamError::Failed(format!("stream read: {e}")))
                    };
                }
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(ev) = parser.line(l)
                && ev.event == "snapshot"
            {
                self.apply(ev.data.as_bytes(), None);
                delivered = true;
            }
        }
    }

    fn random(&self) -> u32 {
        getrandom::u32().unwrap_or_else(|_| {
            // No OS randomness: the clock's low bits still spread clients apart.
            u32::try_from(now_ms() % u64::from(u32::MAX)).unwrap_or(0)
        })
    }
}

enum StreamError {
    Unsupported(String),
    Failed(String),
}

fn http_error(what: &str, status: u16, resp: &mut ureq::http::Response<ureq::Body>) -> String {
    let body = resp
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    format!("{what}: HTTP {status} {}", body.trim())
}

/// Writes `envelope` to `path` atomically (temporary file + rename); failures are ignored
/// (persistence is an optimisation, the server stays the source).
fn persist(path: &std::path::Path, envelope: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    if std::fs::write(&tmp, envelope).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn sync_loop(shared: &Shared) {
    let o = &shared.opts;
    let mut backoff = Backoff::new(o.backoff_base_ms, o.backoff_cap_ms);
    let mut stream_supported = o.streaming;
    let mut polls_since_stream_try = 0u32;
    while !shared.stopped() {
        if stream_supported {
            match shared.stream() {
                Ok(delivered) => {
                    if delivered {
                        backoff.reset();
                    }
                    if shared.stopped() {
                        return;
                    }
                    shared.failed("stream ended");
                }
                Err(StreamError::Unsupported(m)) => {
                    shared.failed(&m);
                    stream_supported = false;
                }
                Err(StreamError::Failed(m)) => shared.failed(&m),
            }
            // Catch up (and learn whether the server is there at all) with one poll.
            match shared.poll() {
                Ok(()) if !stream_supported => {}
                Ok(()) => {
                    if !shared.sleep(backoff.next_delay(shared.random())) {
                        return;
                    }
                }
                Err(m) => {
                    shared.failed(&m);
                    if !shared.sleep(backoff.next_delay(shared.random())) {
                        return;
                    }
                }
            }
            if stream_supported {
                continue;
            }
        }
        // Polling (configured, or the stream is not offered: retry it every 10 polls).
        match shared.poll() {
            Ok(()) => {
                backoff.reset();
                if !shared.sleep(o.poll_interval_ms) {
                    return;
                }
            }
            Err(m) => {
                shared.failed(&m);
                if !shared.sleep(backoff.next_delay(shared.random())) {
                    return;
                }
            }
        }
        if o.streaming {
            polls_since_stream_try += 1;
            if polls_since_stream_try >= 10 {
                polls_since_stream_try = 0;
                stream_supported = true;
            }
        }
    }
}

fn batch_id(shared: &Shared) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let t = now_ms().to_be_bytes();
        let r = shared.random().to_be_bytes();
        for (i, b) in t.iter().chain(r.iter()).enumerate() {
            if let Some(slot) = bytes.get_mut(i) {
                *slot = *b;
            }
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum Sent {
    Delivered,
    Retry(Option<u64>),
    Rejected,
}

fn send_batch(shared: &Shared, body: &[u8]) -> Sent {
    let resp = shared
        .agent
        .post(shared.url("/v1/events"))
        .header("Authorization", &shared.auth())
        .header("Content-Type", "application/json")
        .send(body);
    match resp {
        Err(_) => Sent::Retry(None),
        Ok(resp) => match resp.status().as_u16() {
            200..=299 => Sent::Delivered,
            429 | 503 => Sent::Retry(
                resp.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| s.saturating_mul(1000)),
            ),
            408 | 500..=599 => Sent::Retry(None),
            _ => Sent::Rejected,
        },
    }
}

/// Sends batches until the buffer is empty, a send fails, or `deadline`. True when empty.
fn drain_events(shared: &Shared, deadline: Instant) -> bool {
    let Some(events) = &shared.events else {
        return true;
    };
    loop {
        let id = batch_id(shared);
        let Some(batch) = lock(events).next_batch(&id, now_ms()) else {
            return lock(events).is_empty();
        };
        match send_batch(shared, &batch.body) {
            Sent::Delivered => lock(events).batch_delivered(&batch.id),
            Sent::Rejected => lock(events).batch_rejected(&batch.id),
            Sent::Retry(_) => {
                lock(events).batch_failed(&batch.id);
                return false;
            }
        }
        if Instant::now() >= deadline {
            return lock(events).is_empty();
        }
    }
}

fn events_loop(shared: &Shared) {
    let Some(events) = &shared.events else {
        return;
    };
    let o = &shared.opts;
    let mut backoff = Backoff::new(o.backoff_base_ms, o.backoff_cap_ms);
    let tick = Duration::from_millis(o.flush_interval_ms.clamp(10, 1000));
    loop {
        {
            let mut buf = lock(events);
            if !shared.stopped() && !buf.should_flush(now_ms()) {
                buf = shared
                    .events_cv
                    .wait_timeout(buf, tick)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if shared.stopped() {
                drop(buf);
                let deadline = Instant::now() + Duration::from_millis(o.close_timeout_ms);
                while !drain_events(shared, deadline) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            if !buf.should_flush(now_ms()) {
                continue;
            }
        }
        let id = batch_id(shared);
        let Some(batch) = lock(events).next_batch(&id, now_ms()) else {
            continue;
        };
        match send_batch(shared, &batch.body) {
            Sent::Delivered => {
                lock(events).batch_delivered(&batch.id);
                backoff.reset();
            }
            Sent::Rejected => lock(events).batch_rejected(&batch.id),
            Sent::Retry(after) => {
                lock(events).batch_failed(&batch.id);
                let delay = backoff.next_delay(shared.random()).max(after.unwrap_or(0));
                if !shared.sleep(delay) {
                    continue; // stopped: the next turn drains
                }
            }
        }
    }
}
