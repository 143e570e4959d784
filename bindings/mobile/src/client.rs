//! The mobile client: offline-first configuration, start/stop of background sync, typed
//! evaluation with exposures, status and change callbacks.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use burgee_client::{Client as NativeClient, ClientEvent, SyncStatus as NativeStatus, TrackEvent};
use burgee_core::ErrorCode;
use serde_json::{Map, Value};

use crate::BurgeeError;
use crate::config::{ClientConfig, native_options};
use crate::context::EvaluationContext;
use crate::details::{
    self, BooleanDetails, DoubleDetails, IntegerDetails, ObjectDetails, ScalarValue, StringDetails,
};
use crate::snapshot::{Snapshot, ctx, trusted_keys};

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
        self.native()
            .get_bool(&flag_key, ctx(context.as_ref()), default_value)
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
        self.native()
            .get_bool_details(&flag_key, ctx(context.as_ref()), default_value)
            .into()
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
        self.native()
            .get_string(&flag_key, ctx(context.as_ref()), &default_value)
    }

    /// [`BurgeeClient::get_string_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_string_details(
        &self,
        flag_key: String,
        default_value: String,
        context: Option<Arc<EvaluationContext>>,
    ) -> StringDetails {
        self.native()
            .get_string_details(&flag_key, ctx(context.as_ref()), &default_value)
            .into()
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
        self.native()
            .get_integer(&flag_key, ctx(context.as_ref()), default_value)
    }

    /// [`BurgeeClient::get_integer_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_integer_details(
        &self,
        flag_key: String,
        default_value: i64,
        context: Option<Arc<EvaluationContext>>,
    ) -> IntegerDetails {
        self.native()
            .get_integer_details(&flag_key, ctx(context.as_ref()), default_value)
            .into()
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
        self.native()
            .get_float(&flag_key, ctx(context.as_ref()), default_value)
    }

    /// [`BurgeeClient::get_double_value`] with details.
    #[uniffi::method(default(context = None))]
    pub fn get_double_details(
        &self,
        flag_key: String,
        default_value: f64,
        context: Option<Arc<EvaluationContext>>,
    ) -> DoubleDetails {
        self.native()
            .get_float_details(&flag_key, ctx(context.as_ref()), default_value)
            .into()
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
        let map = match details::object_default(&default_json) {
            Ok(m) => m,
            Err(e) => return details::object_error(&flag_key, &default_json, e),
        };
        let r = self
            .native()
            .get_object_details(&flag_key, ctx(context.as_ref()), &map);
        details::object_details(r, &default_json)
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
