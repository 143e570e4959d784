//! The mobile client: offline-first configuration, start/stop of background sync, typed
//! evaluation with exposures, status and change callbacks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client as NativeClient, ClientEvent, ClientOptions as NativeOptions,
    SyncStatus as NativeStatus, TrackEvent,
};
use burgee_core::{ErrorCode, EvaluationDetails as CoreDetails};
use serde_json::{Map, Value};

use crate::BurgeeError;
use crate::context::EvaluationContext;
use crate::details::{
    self, BooleanDetails, Common, DoubleDetails, IntegerDetails, ObjectDetails, ScalarValue,
    StringDetails,
};
use crate::snapshot::{Snapshot, ctx, trusted_keys};

/// Configuration of a [`BurgeeClient`]. Only `environment`, `trustedKeys` and `storageDir`
/// are required; times are ms.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// Environment key the snapshots must be for (checked against each snapshot).
    pub environment: String,
    /// Project key the snapshots must be for (checked against each snapshot:
    /// `PROJECT_MISMATCH` for another project's; also sent to the server as `?project=`);
    /// `null`/`nil` = not checked. Set it: an app knows its project.
    #[uniffi(default = None)]
    pub project: Option<String>,
    /// Trusted Ed25519 public keys: standard base64 of 32 bytes (the `*.pub` files); several
    /// during a key rotation.
    pub trusted_keys: Vec<String>,
    /// A directory the app owns (Android `Context.filesDir`, iOS Application Support), created
    /// if missing. The last verified envelope is kept there as
    /// `burgee-<environment>.envelope.json` (see [`persisted_snapshot_path`]) and re-verified
    /// on the next launch. One client per environment and directory.
    pub storage_dir: String,
    /// Base URL of the Burgee server or CDN, e.g. `https://flags.example.com`; `null`/`nil` =
    /// offline only (bundled and persisted snapshots; [`BurgeeClient::start`] then fails).
    #[uniffi(default = None)]
    pub server_url: Option<String>,
    /// The environment's client-side key (`bgc_...`: the client snapshot, without server-only
    /// flags; what an app on users' devices ships) or SDK key (`bgs_...`); required with
    /// `serverUrl`. It also decides which snapshots are accepted, online and offline (the
    /// bundled and persisted ones too): with a `bgc_` key client snapshots only, otherwise
    /// server snapshots only (`AUDIENCE_MISMATCH`).
    #[uniffi(default = None)]
    pub sdk_key: Option<String>,
    /// An envelope (JSON text) shipped with the app, for the first launch without network;
    /// used when newer than the persisted one. Verified like any other.
    #[uniffi(default = None)]
    pub bootstrap_envelope: Option<String>,
    /// Server-sent events for instant updates (default true); without, or when the stream is
    /// not offered, poll with `If-None-Match`.
    #[uniffi(default = true)]
    pub streaming: bool,
    /// Polling period when not streaming, ms (default 30,000).
    #[uniffi(default = 30000)]
    pub poll_interval_ms: u64,
    /// Connect and response timeout of each request, ms (default 10,000).
    #[uniffi(default = 10000)]
    pub request_timeout_ms: u64,
    /// A stream silent (no events, no keep-alives) for this long is reconnected, ms (default
    /// 60,000).
    #[uniffi(default = 60000)]
    pub stream_idle_timeout_ms: u64,
    /// First retry delay ceiling after a failure, ms (default 500; exponential with full
    /// jitter).
    #[uniffi(default = 500)]
    pub backoff_base_ms: u64,
    /// Largest retry delay, ms (default 30,000).
    #[uniffi(default = 30000)]
    pub backoff_cap_ms: u64,
    /// Refuse snapshot versions below this one, e.g. the bundled snapshot's (0 = none).
    #[uniffi(default = 0)]
    pub min_version: u64,
    /// Record an exposure for each evaluation that served a variant (default true). Exposures
    /// are recorded and sent only while started: evaluations before `start()` or after
    /// `stop()` record none.
    #[uniffi(default = true)]
    pub send_exposures: bool,
    /// Send queued events at least this often, ms (default 10,000).
    #[uniffi(default = 10000)]
    pub flush_interval_ms: u64,
    /// Send when this many events are queued (default 500, at most 1000).
    #[uniffi(default = 500)]
    pub flush_size: u32,
    /// Most events kept in memory; beyond, the oldest are dropped and counted (default
    /// 10,000).
    #[uniffi(default = 10000)]
    pub max_queued_events: u32,
    /// Exposure dedupe window per (flag, variant, unit, snapshot), ms (default 3,600,000).
    #[uniffi(default = 3600000)]
    pub dedupe_window_ms: u64,
    /// How long [`BurgeeClient::stop`] may spend delivering queued events, ms (default 5,000).
    #[uniffi(default = 5000)]
    pub stop_timeout_ms: u64,
}

/// The file in `storageDir` holding the last verified envelope of `environment`: characters
/// other than ASCII letters, digits, `-` and `_` are written as `%XX`.
fn persist_file_name(environment: &str) -> String {
    let mut name = String::from("burgee-");
    for b in environment.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".envelope.json");
    name
}

/// Where a client configured with `storageDir` and `environment` persists its last verified
/// envelope (for apps that clear it, e.g. on sign-out, and for tests).
#[uniffi::export]
pub fn persisted_snapshot_path(storage_dir: String, environment: String) -> String {
    Path::new(&storage_dir)
        .join(persist_file_name(&environment))
        .to_string_lossy()
        .into_owned()
}

fn native_options(c: &ClientConfig, online: bool) -> Result<NativeOptions, BurgeeError> {
    if c.storage_dir.is_empty() {
        return Err(BurgeeError::general(
            "storageDir must name a directory the app owns",
        ));
    }
    let dir = PathBuf::from(&c.storage_dir);
    std::fs::create_dir_all(&dir).map_err(|e| {
        BurgeeError::general(format!(
            "storageDir {}: cannot create it: {e}",
            dir.display()
        ))
    })?;
    let mut n = NativeOptions::new(c.environment.clone(), c.trusted_keys.clone());
    n.project.clone_from(&c.project);
    // The key is set offline too: it decides the audience of the snapshots accepted.
    n.sdk_key.clone_from(&c.sdk_key);
    if online {
        n.server_url.clone_from(&c.server_url);
    }
    n.bootstrap = c.bootstrap_envelope.clone().map(Bootstrap::Envelope);
    n.persist_path = Some(dir.join(persist_file_name(&c.environment)));
    n.streaming = c.streaming;
    n.poll_interval_ms = c.poll_interval_ms;
    n.request_timeout_ms = c.request_timeout_ms;
    n.stream_idle_timeout_ms = c.stream_idle_timeout_ms;
    n.backoff_base_ms = c.backoff_base_ms;
    n.backoff_cap_ms = c.backoff_cap_ms;
    n.min_version = c.min_version;
    n.send_exposures = c.send_exposures;
    n.flush_interval_ms = c.flush_interval_ms;
    n.flush_size = c.flush_size as usize;
    n.max_queued_events = c.max_queued_events as usize;
    n.dedupe_window_ms = c.dedupe_window_ms;
    n.close_timeout_ms = c.stop_timeout_ms;
    n.sdk_name = "burgee-mobile".into();
    n.sdk_version = env!("CARGO_PKG_VERSION").into();
    Ok(n)
}

/// Synchronisation status (OpenFeature provider statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// No snapshot yet, and none was refused.
    NotReady,
    /// A verified snapshot is held and the last contact with the server succeeded (or, not
    /// started, it came from the bundled or persisted envelope).
    Ready,
    /// A snapshot is held but the last fetch failed (offline, server down); it keeps serving.
    Stale,
    /// The last envelope offered was refused (`ClientStatus.errorCode` says why); a snapshot
    /// held before keeps serving.
    Error,
}

fn sync_status(s: &NativeStatus) -> SyncStatus {
    match s {
        NativeStatus::NotReady => SyncStatus::NotReady,
        NativeStatus::Ready => SyncStatus::Ready,
        NativeStatus::Stale => SyncStatus::Stale,
        NativeStatus::Error(_) => SyncStatus::Error,
    }
}

/// The client's status and the last error seen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientStatus {
    /// The status.
    pub status: SyncStatus,
    /// With `ERROR`: why the last envelope was refused.
    pub error_code: Option<ErrorCode>,
    /// The last error's code (kept after recovery), if any.
    pub last_error_code: Option<ErrorCode>,
    /// The last error's message, if any.
    pub last_error_message: Option<String>,
    /// Whether background sync is running ([`BurgeeClient::start`] .. `stop`).
    pub started: bool,
}

/// Event counters.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EventStats {
    /// Events queued now.
    pub queued: u64,
    /// Events in the batch being sent or awaiting retry.
    pub in_batch: u64,
    /// Exposures skipped as duplicates within the dedupe window.
    pub deduplicated: u64,
    /// Exposures that could not be attributed (no targeting key).
    pub unattributable: u64,
    /// Events dropped (buffer full, or a batch the server refused).
    pub dropped: u64,
    /// Events the server accepted.
    pub delivered: u64,
}

/// Status and change callbacks, implemented by the app (Kotlin interface / Swift protocol).
/// Called on the SDK's background sync thread: hop to the main thread before touching UI,
/// and return quickly. An exception thrown here is caught and ignored.
#[uniffi::export(foreign)]
pub trait ClientListener: Send + Sync {
    /// The status changed; `errorCode` is set for `ERROR`, `message` explains `ERROR` and
    /// `STALE`.
    fn on_status(&self, status: SyncStatus, error_code: Option<ErrorCode>, message: Option<String>);
    /// A newer verified snapshot replaced the one held (`oldVersion` absent for the first):
    /// re-read the flags you show.
    fn on_change(&self, old_version: Option<u64>, new_version: u64);
}

type Listeners = Arc<Mutex<Vec<(u64, Arc<dyn ClientListener>)>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The Burgee client of a mobile app.
///
/// Built offline: it evaluates at once from the snapshot persisted in `storageDir` on an
/// earlier run or the bundled envelope (the newer; each re-verified), with no network.
/// [`BurgeeClient::start`] keeps the snapshot current in the background (SSE, polling
/// fallback, backoff) and sends exposures; [`BurgeeClient::stop`] stops that (e.g. when the app
/// goes to the background) and evaluation goes on from the last snapshot. Thread-safe;
/// evaluation is synchronous and never throws.
#[derive(uniffi::Object)]
pub struct BurgeeClient {
    config: ClientConfig,
    /// The native client: offline until started; replaced by a syncing one on `start`.
    native: RwLock<Arc<NativeClient>>,
    /// Whether `native` syncs (set by `start`, cleared by `stop`). Also serialises the two.
    started: Mutex<bool>,
    listeners: Listeners,
    next_listener: Mutex<u64>,
}

impl std::fmt::Debug for BurgeeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BurgeeClient")
            .field("environment", &self.config.environment)
            .finish_non_exhaustive()
    }
}

/// Builds a native client and routes its events to `listeners`.
fn native_client(
    config: &ClientConfig,
    online: bool,
    listeners: &Listeners,
) -> Result<Arc<NativeClient>, BurgeeError> {
    let opts = native_options(config, online)?;
    let native = NativeClient::new(opts).map_err(|e| BurgeeError::new(e.code, e.message))?;
    let listeners = Arc::clone(listeners);
    native.subscribe(Arc::new(move |e: &ClientEvent| {
        let current: Vec<Arc<dyn ClientListener>> = lock(&listeners)
            .iter()
            .map(|(_, l)| Arc::clone(l))
            .collect();
        for l in current {
            match e {
                ClientEvent::Status { status, message } => {
                    l.on_status(sync_status(status), status.error_code(), message.clone());
                }
                ClientEvent::Changed { old, new } => l.on_change(*old, *new),
            }
        }
    }));
    Ok(Arc::new(native))
}

/// Evaluates on the held snapshot with the clock and records the exposure; with no snapshot
/// yet, the caller's default with `GENERAL` (status and last error in the message).
macro_rules! client_eval {
    ($self:ident, $flag:ident, $default:expr, $context:ident, $eval:path, $err:expr) => {{
        let native = $self.native();
        let c = ctx($context.as_ref());
        let now = burgee_client::now_ms();
        let done = native.with_snapshot(|snap| {
            $eval(snap, &$flag, $default, c, now, |d: &CoreDetails<'_>| {
                native.record_exposure(snap, &$flag, d, c, now);
            })
        });
        match done {
            Some(d) => d,
            None => {
                let (status, last) = native.status();
                let e =
                    burgee_client::not_ready_error(&status, last.as_ref().map(|(_, m)| m.as_str()));
                ($err)(Common::error(e))
            }
        }
    }};
}

#[uniffi::export]
impl BurgeeClient {
    /// Builds the client offline: checks the configuration, creates `storageDir`, and loads
    /// the persisted and the bundled envelope (each verified: signature, environment,
    /// expiry; the newer wins; a refused one shows in [`BurgeeClient::status`]). No network
    /// until [`BurgeeClient::start`].
    ///
    /// # Errors
    /// `PARSE_ERROR` for a trusted key that is not base64 of an Ed25519 key; `GENERAL` for no
    /// trusted key, a server URL without SDK key, or a `storageDir` that is empty or cannot be
    /// created.
    #[uniffi::constructor]
    pub fn new(config: ClientConfig) -> Result<Arc<Self>, BurgeeError> {
        // Check what `start` will need now, not when the app first goes online.
        trusted_keys(&config.trusted_keys)?;
        if config.server_url.is_some() && config.sdk_key.is_none() {
            return Err(BurgeeError::general(
                "an sdkKey is required with a serverUrl",
            ));
        }
        let listeners: Listeners = Arc::new(Mutex::new(Vec::new()));
        let native = native_client(&config, false, &listeners)?;
        Ok(Arc::new(BurgeeClient {
            config,
            native: RwLock::new(native),
            started: Mutex::new(false),
            listeners,
            next_listener: Mutex::new(0),
        }))
    }

    /// Starts background sync with the server (SSE, polling fallback, backoff with jitter;
    /// each envelope verified, persisted to `storageDir` when accepted) and exposure
    /// delivery. Returns at once; idempotent. Evaluation keeps serving the snapshot held
    /// meanwhile.
    ///
    /// # Errors
    /// `GENERAL` when the configuration has no `serverUrl` or the sync thread cannot start.
    pub fn start(&self) -> Result<(), BurgeeError> {
        let mut started = lock(&self.started);
        if *started {
            return Ok(());
        }
        if self.config.server_url.is_none() {
            return Err(BurgeeError::general(
                "start needs a serverUrl in the configuration (this client is offline only)",
            ));
        }
        // The new client starts from the persisted file, which holds everything the current
        // one accepted, and the bundled envelope: the same snapshot (or newer).
        let online = native_client(&self.config, true, &self.listeners)?;
        let offline = std::mem::replace(
            &mut *self.native.write().unwrap_or_else(PoisonError::into_inner),
            online,
        );
        offline.close();
        *started = true;
        Ok(())
    }

    /// Stops background sync and delivers queued events (blocking for at most
    /// `stopTimeoutMs`: call it off the main thread). Idempotent. Evaluation keeps serving the
    /// last snapshot; [`BurgeeClient::start`] resumes.
    pub fn stop(&self) {
        let mut started = lock(&self.started);
        if *started {
            self.native().close();
            *started = false;
        }
    }

    /// Blocks until a snapshot is held or an envelope was refused, at most `timeoutMs`, and
    /// returns the status then (`NOT_READY` on timeout). Call it off the main thread; the
    /// listener's `onChange` is the non-blocking way.
    pub fn wait_until_ready(&self, timeout_ms: u64) -> SyncStatus {
        let native = self.native();
        sync_status(&native.wait_until_ready(Duration::from_millis(timeout_ms)))
    }

    /// The status, the last error and whether sync is started.
    pub fn status(&self) -> ClientStatus {
        let started = *lock(&self.started);
        let (status, last) = self.native().status();
        ClientStatus {
            status: sync_status(&status),
            error_code: status.error_code(),
            last_error_code: last.as_ref().map(|(c, _)| *c),
            last_error_message: last.map(|(_, m)| m),
            started,
        }
    }

    /// The snapshot held (for its `info()` or evaluation at a chosen time), or `null`/`nil`
    /// before the first verified envelope.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.native()
            .snapshot()
            .map(|inner| Arc::new(Snapshot { inner }))
    }

    /// Registers `listener` for status and snapshot changes; returns its id for
    /// [`BurgeeClient::remove_listener`].
    pub fn add_listener(&self, listener: Arc<dyn ClientListener>) -> u64 {
        let mut next = lock(&self.next_listener);
        let id = *next;
        *next += 1;
        lock(&self.listeners).push((id, listener));
        id
    }

    /// Removes the listener with `id`; unknown ids are ignored.
    pub fn remove_listener(&self, id: u64) {
        lock(&self.listeners).retain(|(i, _)| *i != id);
    }

    /// The value of `boolean` flag `flagKey` for `context` (absent = anonymous), or
    /// `defaultValue` on any error. Records an exposure.
    #[uniffi::method(default(context = None))]
    pub fn get_boolean_value(
        &self,
        flag_key: String,
        default_value: bool,
        context: Option<Arc<EvaluationContext>>,
    ) -> bool {
        self.get_boolean_details(flag_key, default_value, context)
            .value
    }

    /// [`BurgeeClient::get_boolean_value`] with details (variant, reason, rule, error code and
    /// message, metadata).
    #[uniffi::method(default(context = None))]
    pub fn get_boolean_details(
        &self,
        flag_key: String,
        default_value: bool,
        context: Option<Arc<EvaluationContext>>,
    ) -> BooleanDetails {
        client_eval!(
            self,
            flag_key,
            default_value,
            context,
            details::eval_bool,
            |c| { BooleanDetails::from_parts(&flag_key, default_value, c) }
        )
    }

    /// The value of `string` flag `flagKey`, or `defaultValue` on any error. Records an
    /// exposure.
    #[uniffi::method(default(context = None))]
    pub fn get_string_value(
        &self,
        flag_key: String,
        default_value: String,
        context: Option<Arc<EvaluationContext>>,
    ) -> String {
        self.get_string_details(flag_key, default_value, context)
            .value
    }

    /// [`BurgeeClient::get_string_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_string_details(
        &self,
        flag_key: String,
        default_value: String,
        context: Option<Arc<EvaluationContext>>,
    ) -> StringDetails {
        client_eval!(
            self,
            flag_key,
            &default_value,
            context,
            details::eval_string,
            |c| { StringDetails::from_parts(&flag_key, default_value.clone(), c) }
        )
    }

    /// The value of `integer` flag `flagKey`, or `defaultValue` on any error. Records an
    /// exposure.
    #[uniffi::method(default(context = None))]
    pub fn get_integer_value(
        &self,
        flag_key: String,
        default_value: i64,
        context: Option<Arc<EvaluationContext>>,
    ) -> i64 {
        self.get_integer_details(flag_key, default_value, context)
            .value
    }

    /// [`BurgeeClient::get_integer_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_integer_details(
        &self,
        flag_key: String,
        default_value: i64,
        context: Option<Arc<EvaluationContext>>,
    ) -> IntegerDetails {
        client_eval!(
            self,
            flag_key,
            default_value,
            context,
            details::eval_integer,
            |c| { IntegerDetails::from_parts(&flag_key, default_value, c) }
        )
    }

    /// The value of `float` flag `flagKey`, or `defaultValue` on any error (an `integer` flag
    /// is a `TYPE_MISMATCH`). Records an exposure.
    #[uniffi::method(default(context = None))]
    pub fn get_double_value(
        &self,
        flag_key: String,
        default_value: f64,
        context: Option<Arc<EvaluationContext>>,
    ) -> f64 {
        self.get_double_details(flag_key, default_value, context)
            .value
    }

    /// [`BurgeeClient::get_double_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_double_details(
        &self,
        flag_key: String,
        default_value: f64,
        context: Option<Arc<EvaluationContext>>,
    ) -> DoubleDetails {
        client_eval!(
            self,
            flag_key,
            default_value,
            context,
            details::eval_double,
            |c| { DoubleDetails::from_parts(&flag_key, default_value, c) }
        )
    }

    /// The value of `object` flag `flagKey` as JSON object text, or `defaultJson` on any error
    /// (`TYPE_MISMATCH` when `defaultJson` is not a JSON object). Records an exposure.
    #[uniffi::method(default(context = None))]
    pub fn get_object_value(
        &self,
        flag_key: String,
        default_json: String,
        context: Option<Arc<EvaluationContext>>,
    ) -> String {
        self.get_object_details(flag_key, default_json, context)
            .value
    }

    /// [`BurgeeClient::get_object_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_object_details(
        &self,
        flag_key: String,
        default_json: String,
        context: Option<Arc<EvaluationContext>>,
    ) -> ObjectDetails {
        client_eval!(
            self,
            flag_key,
            &default_json,
            context,
            details::eval_object,
            |c| { ObjectDetails::from_parts(&flag_key, default_json.clone(), c) }
        )
    }

    /// Queues a metric event (`spec/EVENTS.md` §2) for unit `targetingKey`: `value` finite or
    /// absent (a conversion), up to 32 attributes. Only while started: events are queued and
    /// sent by the background sync (like exposures, which are recorded only while started).
    ///
    /// # Errors
    /// `GENERAL` naming the rule broken (empty or long key, non-finite value, too many
    /// attributes, ...), when the configuration has no `serverUrl`, or when not started.
    #[uniffi::method(default(value = None, attributes))]
    pub fn track(
        &self,
        key: String,
        targeting_key: String,
        value: Option<f64>,
        attributes: std::collections::HashMap<String, ScalarValue>,
    ) -> Result<(), BurgeeError> {
        if self.config.server_url.is_none() {
            return Err(BurgeeError::general("track needs a serverUrl"));
        }
        if !*lock(&self.started) {
            return Err(BurgeeError::general(
                "track needs a started client (events are queued and sent while started)",
            ));
        }
        let attributes: Map<String, Value> = attributes
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    ScalarValue::String { value } => Value::String(value),
                    ScalarValue::Number { value } => serde_json::Number::from_f64(value)
                        .map(Value::Number)
                        .ok_or_else(|| {
                            BurgeeError::general(format!(
                                "attribute \"{k}\": {value} is not a finite number"
                            ))
                        })?,
                    ScalarValue::Boolean { value } => Value::Bool(value),
                };
                Ok((k, v))
            })
            .collect::<Result<_, BurgeeError>>()?;
        self.native()
            .track(TrackEvent {
                key,
                value,
                targeting_key,
                time: burgee_client::now_ms(),
                attributes,
            })
            .map_err(|e| BurgeeError::new(e.code, e.message))
    }

    /// Event counters.
    pub fn event_stats(&self) -> EventStats {
        let s = self.native().event_stats();
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        EventStats {
            queued: n(s.queued),
            in_batch: n(s.in_batch),
            deduplicated: s.deduplicated,
            unattributable: s.unattributable,
            dropped: s.dropped,
            delivered: s.delivered,
        }
    }

    /// Sends queued events now on the calling thread (call it off the main thread), for at
    /// most `timeoutMs`; returns whether everything was delivered.
    pub fn flush(&self, timeout_ms: u64) -> bool {
        self.native().flush(Duration::from_millis(timeout_ms))
    }
}

impl BurgeeClient {
    fn native(&self) -> Arc<NativeClient> {
        Arc::clone(&self.native.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for BurgeeClient {
    fn drop(&mut self) {
        self.stop();
    }
}
