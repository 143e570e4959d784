//! The [`Client`]: construction, the held snapshot, status, listeners, exposures and
//! `track` events, flushing and closing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burgee_core::client::{
    ApplyOutcome, Document, EventBuffer, EventBufferConfig, EventStats, SyncConfig, SyncState,
    SyncStatus, TrackEvent,
};
use burgee_core::{Context, ErrorCode, EvaluationDetails, Snapshot, TrustedKey};

use crate::events::{drain_events, events_loop};
use crate::options::{Bootstrap, ClientError, ClientOptions, general};
use crate::sync::sync_loop;
use crate::{lock, now_ms};

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

/// The document held (the snapshot, for a snapshot client) and the envelope it came from.
pub(crate) struct Current<D = Snapshot> {
    pub(crate) snapshot: Arc<D>,
    pub(crate) envelope: Arc<[u8]>,
}

/// Where a client's document lives on the server.
pub(crate) struct Paths {
    /// The latest envelope (conditional GET), e.g. `/v1/snapshots/production`.
    pub(crate) document: String,
    /// Its SSE stream, e.g. `/v1/stream/production`.
    pub(crate) stream: String,
    /// The SSE event name carrying envelopes: `snapshot` or `config`.
    pub(crate) event: &'static str,
}

/// What the sync thread of one document works on (a snapshot client's, or a config client's
/// with no event buffer).
pub(crate) struct Shared<D = Snapshot> {
    /// Process-unique id, for the per-thread snapshot cache.
    pub(crate) id: u64,
    /// Bumped after every swap of `current`.
    pub(crate) generation: AtomicU64,
    pub(crate) opts: ClientOptions,
    pub(crate) agent: ureq::Agent,
    pub(crate) stream_agent: ureq::Agent,
    pub(crate) paths: Paths,
    pub(crate) sync: Mutex<SyncState<D>>,
    pub(crate) status_cv: Condvar,
    pub(crate) current: RwLock<Option<Current<D>>>,
    pub(crate) events: Option<Mutex<EventBuffer>>,
    pub(crate) events_cv: Condvar,
    pub(crate) stop: AtomicBool,
    pub(crate) sleep: (Mutex<()>, Condvar),
    pub(crate) listeners: Mutex<Vec<(u64, Listener)>>,
    pub(crate) next_listener: AtomicU64,
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

impl<D: Document> Shared<D> {
    /// The state of a client of a non-snapshot document (config document, catalog): no event
    /// buffer, no listeners yet.
    ///
    /// # Errors
    /// As [`local_state`].
    pub(crate) fn for_document(
        opts: ClientOptions,
        paths: Paths,
        service: Option<&str>,
    ) -> Result<Shared<D>, ClientError> {
        let state = local_state::<D>(&opts, service, None)?;
        Ok(Shared::assemble(0, opts, paths, state, None, Vec::new()))
    }

    /// A client state from its parts (`id`: process-unique for snapshot clients, 0 otherwise).
    pub(crate) fn assemble(
        id: u64,
        opts: ClientOptions,
        paths: Paths,
        (sync, current): (SyncState<D>, Option<Current<D>>),
        events: Option<Mutex<EventBuffer>>,
        listeners: Vec<(u64, Listener)>,
    ) -> Shared<D> {
        let (agent, stream_agent) = agents(&opts);
        let next_listener = listeners.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
        Shared {
            id,
            generation: AtomicU64::new(0),
            opts,
            agent,
            stream_agent,
            paths,
            sync: Mutex::new(sync),
            status_cv: Condvar::new(),
            current: RwLock::new(current),
            events,
            events_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            sleep: (Mutex::new(()), Condvar::new()),
            listeners: Mutex::new(listeners),
            next_listener: AtomicU64::new(next_listener),
        }
    }

    /// Starts the sync thread (named `name`) when a server is configured.
    ///
    /// # Errors
    /// `GENERAL` when the thread cannot start.
    pub(crate) fn start_sync(self: &Arc<Self>, name: &str) -> Result<(), ClientError>
    where
        D: Send + Sync + 'static,
    {
        if self.opts.server_url.is_some() {
            let s = Arc::clone(self);
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || sync_loop(&s))
                .map_err(|e| general(format!("cannot start the sync thread: {e}")))?;
        }
        Ok(())
    }

    /// The document held, `None` before the first.
    pub(crate) fn document(&self) -> Option<Arc<D>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|c| Arc::clone(&c.snapshot))
    }

    /// Stops the sync thread (idempotent); the document held keeps serving.
    pub(crate) fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.sleep.1.notify_all();
    }
}

/// The sync state of a new client of `D`, with the newest of `inherited` (a fork's copy), the
/// persisted file and the bootstrap envelope applied (a refused one is recorded as the last
/// error).
///
/// # Errors
/// `PARSE_ERROR` for a bad trusted key; `GENERAL` for a server URL without SDK key, no trusted
/// key, or an unreadable bootstrap file.
pub(crate) fn local_state<D: Document>(
    opts: &ClientOptions,
    service: Option<&str>,
    inherited: Option<Arc<[u8]>>,
) -> Result<(SyncState<D>, Option<Current<D>>), ClientError> {
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
    cfg.service = service.map(str::to_owned);
    cfg.min_version = opts.min_version;
    cfg.max_envelope_bytes = opts.max_envelope_bytes;
    let mut sync = SyncState::new(cfg);
    let now = now_ms();
    let mut current = None;
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
    Ok((sync, current))
}

/// The HTTP agents of a client: one for requests (every timeout), one for streams (a read
/// timeout of `stream_idle_timeout_ms` instead of a body timeout).
pub(crate) fn agents(opts: &ClientOptions) -> (ureq::Agent, ureq::Agent) {
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
    (agent, stream_agent)
}

/// The native client. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Client {
    pub(crate) shared: Arc<Shared>,
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
        let state = local_state(&opts, None, inherited)?;
        let routes = match opts.audience() {
            burgee_core::Audience::Client => "/v1/client",
            burgee_core::Audience::Server => "/v1",
        };
        let paths = Paths {
            document: format!("{routes}/snapshots/{}", opts.environment),
            stream: format!("{routes}/stream/{}", opts.environment),
            event: "snapshot",
        };
        let events = (opts.server_url.is_some()).then(|| {
            let mut c = EventBufferConfig::new(opts.sdk_name.clone(), opts.sdk_version.clone());
            c.flush_interval_ms = opts.flush_interval_ms;
            c.flush_size = opts.flush_size;
            c.max_events = opts.max_queued_events;
            c.dedupe_window_ms = opts.dedupe_window_ms;
            Mutex::new(EventBuffer::new(c))
        });
        let shared = Arc::new(Shared::assemble(
            NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            opts,
            paths,
            state,
            events,
            listeners,
        ));
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
        self.shared.status()
    }

    /// Blocks until a snapshot is held or the status is `ERROR` (an envelope was refused), at
    /// most `timeout`; returns the status then (`NOT_READY` on timeout).
    pub fn wait_until_ready(&self, timeout: Duration) -> SyncStatus {
        self.shared.wait_until_ready(timeout)
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
