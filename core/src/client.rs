//! Sans-IO building blocks of an SDK client, shared by every host (the std client behind the
//! Node, Python and mobile SDKs, and anything else that embeds the core).
//!
//! Nothing here performs I/O, reads a clock or draws random numbers: the host passes fetched
//! bytes, `now` (ms since epoch) and random `u32`s in, and acts on what comes back.
//!
//! ```text
//!  host: fetch / SSE event ──bytes──► SyncState::apply ──► Updated | Unchanged | Refused
//!        fetch failed      ─────────► SyncState::fetch_failed ──► status STALE / NOT_READY
//!        retry timer       ◄── Backoff::next_delay(random u32) (full jitter)
//!  app:  evaluate ──► EventBuffer::record_exposure (dedupe) / track ──► queue
//!  host: timer / size ──► EventBuffer::next_batch(id) ──► POST body ──► batch_delivered | batch_failed
//! ```
//!
//! - [`SyncState`] holds the verified current [`Snapshot`] and applies fetched envelopes with
//!   anti-rollback: a refused envelope never replaces the snapshot held.
//! - [`Backoff`] is exponential backoff with full jitter ("Exponential Backoff And Jitter",
//!   AWS Architecture Blog, 2015): `delay = random_between(0, min(cap, base · 2^attempt))`.
//! - [`EventBuffer`] dedupes exposures, queues `track` events and produces `POST /v1/events`
//!   batch bodies (`spec/EVENTS.md`), keeping a failed batch, with its id, for the retry.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::{BuildHasher as _, Hash as _, Hasher as _};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::context::Context;
use crate::engine::DEFAULTS;
use crate::envelope::{DEFAULT_MAX_ENVELOPE_BYTES, TrustedKey};
use crate::error::{ErrorCode, LoadError};
use crate::eval::{EvalError, EvaluationDetails};
use crate::model::Audience;
use crate::{CatalogDocument, ConfigDocument, Held, LoadOptions, Snapshot};

// ---------------------------------------------------------------------------------------------
// Sync state
// ---------------------------------------------------------------------------------------------

/// The state of a client's snapshot synchronisation (OpenFeature provider statuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    /// No snapshot yet, and no envelope has been refused.
    NotReady,
    /// A verified snapshot is held and the last contact with the source succeeded.
    Ready,
    /// A snapshot is held, but the last fetch failed (network error, server error); the held
    /// snapshot keeps serving.
    Stale,
    /// The last envelope offered was refused (or, without a snapshot, the source failed with a
    /// code). A snapshot held before keeps serving.
    Error(ErrorCode),
}

impl SyncStatus {
    /// `NOT_READY`, `READY`, `STALE` or `ERROR`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            SyncStatus::NotReady => "NOT_READY",
            SyncStatus::Ready => "READY",
            SyncStatus::Stale => "STALE",
            SyncStatus::Error(_) => "ERROR",
        }
    }

    /// The error code of [`SyncStatus::Error`].
    pub const fn error_code(&self) -> Option<ErrorCode> {
        match self {
            SyncStatus::Error(c) => Some(*c),
            _ => None,
        }
    }
}

/// Configuration of a [`SyncState`].
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Keys whose signature is accepted (several during rotation).
    pub trusted_keys: Vec<TrustedKey>,
    /// The project the client is configured for (`PROJECT_MISMATCH` for another); `None`
    /// checks nothing (see [`LoadOptions::project`]).
    pub project: Option<String>,
    /// The environment the client is configured for.
    pub environment: String,
    /// The audience the client reads: [`Audience::Server`] (the default) or
    /// [`Audience::Client`] (browsers, apps, client-side keys); `AUDIENCE_MISMATCH` for the
    /// other.
    pub audience: Audience,
    /// The service of a config document client ([`ConfigDocument`]; `SERVICE_MISMATCH` for
    /// another); not used for snapshots.
    pub service: Option<String>,
    /// Refuse versions below this one even before a snapshot is held; 0 = none.
    pub min_version: u64,
    /// Envelope size limit in bytes (default [`DEFAULT_MAX_ENVELOPE_BYTES`]).
    pub max_envelope_bytes: usize,
}

impl SyncConfig {
    /// A configuration with no project check, the `server` audience, no minimum version and
    /// the default size limit.
    pub fn new(trusted_keys: Vec<TrustedKey>, environment: impl Into<String>) -> Self {
        SyncConfig {
            trusted_keys,
            project: None,
            environment: environment.into(),
            audience: Audience::default(),
            service: None,
            min_version: 0,
            max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
        }
    }
}

/// What [`SyncState::apply`] did with an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// A newer snapshot verified and replaced the one held (`old` is `None` for the first).
    Updated {
        /// Version held before, if any.
        old: Option<u64>,
        /// Version now held.
        new: u64,
    },
    /// The envelope verified and is the snapshot already held (same version and digest).
    Unchanged,
    /// The envelope was refused; the snapshot held (if any) is kept.
    Refused(LoadError),
}

/// A signed document kind a [`SyncState`] holds: a flag [`Snapshot`], a [`ConfigDocument`] or a
/// [`CatalogDocument`].
/// Both verify through the same core path; this only names which `load` to call.
pub trait Document: Sized {
    /// Verifies and compiles `envelope` for `config` (the kind's `load`).
    ///
    /// # Errors
    /// The kind's [`LoadError`].
    fn load_for(
        envelope: &[u8],
        opts: &LoadOptions<'_>,
        config: &SyncConfig,
    ) -> Result<Self, LoadError>;
    /// Version and digest, for anti-rollback (`None` if not loaded from an envelope).
    fn held_marker(&self) -> Option<Held<'_>>;
}

impl Document for Snapshot {
    fn load_for(
        envelope: &[u8],
        opts: &LoadOptions<'_>,
        _config: &SyncConfig,
    ) -> Result<Self, LoadError> {
        Snapshot::load(envelope, opts)
    }
    fn held_marker(&self) -> Option<Held<'_>> {
        self.held()
    }
}

impl Document for ConfigDocument {
    /// # Errors
    /// As [`ConfigDocument::load`]; `PARSE_ERROR` when the configuration names no service.
    fn load_for(
        envelope: &[u8],
        opts: &LoadOptions<'_>,
        config: &SyncConfig,
    ) -> Result<Self, LoadError> {
        let service = config
            .service
            .as_deref()
            .ok_or_else(|| LoadError::Parse("a config document client needs a service".into()))?;
        ConfigDocument::load(envelope, opts, service)
    }
    fn held_marker(&self) -> Option<Held<'_>> {
        self.held()
    }
}

impl Document for CatalogDocument {
    fn load_for(
        envelope: &[u8],
        opts: &LoadOptions<'_>,
        _config: &SyncConfig,
    ) -> Result<Self, LoadError> {
        CatalogDocument::load(envelope, opts)
    }
    fn held_marker(&self) -> Option<Held<'_>> {
        self.held()
    }
}

/// The verified current snapshot, its ETag and the sync status.
///
/// Feed it every envelope the host obtains (HTTP body, SSE event, persisted file, bootstrap
/// string) with [`SyncState::apply`]; tell it about 304s with [`SyncState::not_modified`] and
/// failed fetches with [`SyncState::fetch_failed`].
#[derive(Debug)]
pub struct SyncState<D = Snapshot> {
    config: SyncConfig,
    current: Option<Arc<D>>,
    etag: Option<String>,
    status: SyncStatus,
    last_error: Option<(ErrorCode, String)>,
}

impl<D: Document> SyncState<D> {
    /// An empty state: status [`SyncStatus::NotReady`].
    pub fn new(config: SyncConfig) -> Self {
        SyncState {
            config,
            current: None,
            etag: None,
            status: SyncStatus::NotReady,
            last_error: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The document held (the snapshot, for a snapshot client), shared (cheap to clone;
    /// swap-on-update).
    pub fn snapshot(&self) -> Option<&Arc<D>> {
        self.current.as_ref()
    }

    /// The ETag to send as `If-None-Match`: the server's `ETag` of the held snapshot, or
    /// `"<digest>"` when it came from elsewhere (file, bootstrap, SSE).
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// The current status.
    pub fn status(&self) -> &SyncStatus {
        &self.status
    }

    /// The last error seen (code and message), kept after recovery for diagnostics.
    pub fn last_error(&self) -> Option<(ErrorCode, &str)> {
        self.last_error.as_ref().map(|(c, m)| (*c, m.as_str()))
    }

    /// Verifies `envelope` against the configuration, the held snapshot (anti-rollback:
    /// `SNAPSHOT_ROLLBACK` for an older version or the same version with other content) and
    /// `now` (ms since epoch), and replaces the held snapshot when it is newer.
    ///
    /// `etag` is the HTTP `ETag` the envelope came with, if any. On `Refused` the held
    /// snapshot is kept and the status becomes `Error(code)`; on success it becomes `Ready`.
    pub fn apply(&mut self, envelope: &[u8], etag: Option<&str>, now: u64) -> ApplyOutcome {
        let opts = LoadOptions {
            trusted_keys: &self.config.trusted_keys,
            project: self.config.project.as_deref(),
            environment: &self.config.environment,
            audience: self.config.audience,
            held: self.current.as_ref().and_then(|s| s.held_marker()),
            min_version: self.config.min_version,
            now,
            max_envelope_bytes: self.config.max_envelope_bytes,
        };
        match D::load_for(envelope, &opts, &self.config) {
            Ok(snap) => {
                self.status = SyncStatus::Ready;
                let (new, digest) = snap
                    .held_marker()
                    .map_or((0, String::new()), |h| (h.version, h.digest.to_string()));
                let old = self
                    .current
                    .as_ref()
                    .and_then(|s| s.held_marker())
                    .map(|h| h.version);
                let etag = match etag {
                    Some(t) => t.to_string(),
                    None => format!("\"{digest}\""),
                };
                self.etag = Some(etag);
                if old == Some(new) {
                    // Same version and (checked by load) same digest: a refetch.
                    return ApplyOutcome::Unchanged;
                }
                self.current = Some(Arc::new(snap));
                ApplyOutcome::Updated { old, new }
            }
            Err(e) => {
                self.status = SyncStatus::Error(e.code());
                self.last_error = Some((e.code(), e.to_string()));
                ApplyOutcome::Refused(e)
            }
        }
    }

    /// [`SyncState::apply`] for an envelope from a local cache (a persisted last-known-good
    /// file, a bootstrap copy): a refusal (e.g. an older cache than the snapshot held, or an
    /// expired file) is reported and recorded as the last error, but leaves the status as it
    /// was, since no source misbehaved.
    pub fn apply_local(&mut self, envelope: &[u8], now: u64) -> ApplyOutcome {
        let before = self.status.clone();
        let outcome = self.apply(envelope, None, now);
        if matches!(outcome, ApplyOutcome::Refused(_)) {
            self.status = before;
        }
        outcome
    }

    /// The source answered `304 Not Modified`: the held snapshot is current. Status `Ready`
    /// when a snapshot is held.
    pub fn not_modified(&mut self) {
        if self.current.is_some() {
            self.status = SyncStatus::Ready;
        }
    }

    /// A fetch or stream failed without an envelope (connection refused, timeout, HTTP 5xx,
    /// 401...). With a snapshot held the status becomes `Stale` unless it is `Error` from a
    /// refused envelope (which stays until a good one arrives); without one it stays
    /// `NotReady`. `message` is kept as the last error with code `GENERAL`.
    pub fn fetch_failed(&mut self, message: &str) {
        self.last_error = Some((ErrorCode::General, message.to_string()));
        if self.current.is_some() && self.status == SyncStatus::Ready {
            self.status = SyncStatus::Stale;
        }
    }
}

/// The evaluation error bindings report while no snapshot is held: code `GENERAL`, with the
/// status and last error in the message.
pub fn not_ready_error(status: &SyncStatus, last_error: Option<&str>) -> EvalError {
    EvalError {
        code: ErrorCode::General,
        message: match last_error {
            Some(e) => format!(
                "no snapshot loaded (status {}; last error: {e})",
                status.as_str()
            ),
            None => format!("no snapshot loaded (status {})", status.as_str()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Backoff
// ---------------------------------------------------------------------------------------------

/// Exponential backoff with full jitter: the `n`-th retry (from 0) waits a uniformly random
/// time in `0..=min(cap_ms, base_ms · 2^n)` ms ("Exponential Backoff And Jitter", AWS
/// Architecture Blog, 2015). The caller supplies the randomness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
    attempt: u32,
}

impl Backoff {
    /// Backoff starting at `base_ms` and never above `cap_ms` (both in ms).
    pub fn new(base_ms: u64, cap_ms: u64) -> Self {
        Backoff {
            base_ms,
            cap_ms,
            attempt: 0,
        }
    }

    /// The ceiling of the next delay, ms: `min(cap, base · 2^attempt)`.
    pub fn ceiling_ms(&self) -> u64 {
        let factor = 1u64.checked_shl(self.attempt).unwrap_or(u64::MAX);
        self.base_ms.saturating_mul(factor).min(self.cap_ms)
    }

    /// The delay before the next retry, ms, in `0..=ceiling_ms()`, from `random` (uniform over
    /// `u32`); then doubles the ceiling (up to the cap).
    pub fn next_delay(&mut self, random: u32) -> u64 {
        let ceiling = u128::from(self.ceiling_ms());
        // (ceiling · (random + 1)) / 2^32 maps u32 uniformly onto 0..=ceiling.
        let delay = (ceiling * (u128::from(random) + 1)) >> 32;
        self.attempt = self.attempt.saturating_add(1).min(63);
        u64::try_from(delay).unwrap_or(u64::MAX)
    }

    /// Retries so far since the last [`Backoff::reset`].
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// Limits of `spec/EVENTS.md`.
mod limits {
    pub const KEY_CHARS: usize = 256;
    pub const ATTRIBUTES: usize = 32;
    pub const ATTRIBUTE_NAME_CHARS: usize = 64;
    pub const ATTRIBUTE_STRING_CHARS: usize = 256;
    pub const BATCH_EVENTS: usize = 1000;
}

/// A metric event (`kind: "track"`, `spec/EVENTS.md` §2).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEvent {
    /// Metric key, 1–256 characters.
    pub key: String,
    /// Finite value, or `None` for a pure conversion.
    pub value: Option<f64>,
    /// The unit, 1–256 characters.
    pub targeting_key: String,
    /// When it happened, ms since epoch.
    pub time: u64,
    /// Up to 32 attributes: names ≤ 64 characters, values strings (≤ 256), numbers or bools.
    pub attributes: Map<String, Value>,
}

impl TrackEvent {
    /// Checks the rules of `spec/EVENTS.md` §2 so the server will not reject the event.
    ///
    /// # Errors
    /// A message naming the offending member (`INVALID_CONTEXT`-free: the host maps it to its
    /// own argument error).
    pub fn validate(&self) -> Result<(), String> {
        let chars = |s: &str| s.chars().count();
        if self.key.is_empty() || chars(&self.key) > limits::KEY_CHARS {
            return Err("key: must be 1 to 256 characters".into());
        }
        if self.targeting_key.is_empty() || chars(&self.targeting_key) > limits::KEY_CHARS {
            return Err("targeting_key: must be 1 to 256 characters".into());
        }
        if self.value.is_some_and(|v| !v.is_finite()) {
            return Err("value: must be a finite number".into());
        }
        if self.attributes.len() > limits::ATTRIBUTES {
            return Err("attributes: at most 32 members".into());
        }
        for (name, v) in &self.attributes {
            if chars(name) > limits::ATTRIBUTE_NAME_CHARS {
                return Err(format!(
                    "attributes.{name}: names are at most 64 characters"
                ));
            }
            match v {
                Value::String(s) if chars(s) <= limits::ATTRIBUTE_STRING_CHARS => {}
                Value::Number(_) | Value::Bool(_) => {}
                Value::String(_) => {
                    return Err(format!(
                        "attributes.{name}: strings are at most 256 characters"
                    ));
                }
                _ => {
                    return Err(format!(
                        "attributes.{name}: must be a string, number or boolean"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A queued event.
#[derive(Debug, Clone, PartialEq)]
enum QueuedEvent {
    Exposure(ExposureRecord),
    Track(TrackEvent),
}

/// An exposure as it travels (`spec/EVENTS.md` §2): every member required there is present.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExposureRecord {
    flag: String,
    variant: String,
    reason: &'static str,
    rule_id: Option<String>,
    targeting_key: String,
    snapshot_version: u64,
    snapshot_digest: String,
    time: u64,
}

impl Serialize for QueuedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            QueuedEvent::Exposure(e) => {
                let mut m = s.serialize_map(Some(9))?;
                m.serialize_entry("kind", "exposure")?;
                m.serialize_entry("flag", &e.flag)?;
                m.serialize_entry("variant", &e.variant)?;
                m.serialize_entry("reason", e.reason)?;
                m.serialize_entry("rule_id", &e.rule_id)?;
                m.serialize_entry("targeting_key", &e.targeting_key)?;
                m.serialize_entry("snapshot_version", &e.snapshot_version)?;
                m.serialize_entry("snapshot_digest", &e.snapshot_digest)?;
                m.serialize_entry("time", &e.time)?;
                m.end()
            }
            QueuedEvent::Track(t) => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("kind", "track")?;
                m.serialize_entry("key", &t.key)?;
                if let Some(v) = t.value {
                    m.serialize_entry("value", &v)?;
                }
                m.serialize_entry("targeting_key", &t.targeting_key)?;
                m.serialize_entry("time", &t.time)?;
                if !t.attributes.is_empty() {
                    m.serialize_entry("attributes", &t.attributes)?;
                }
                m.end()
            }
        }
    }
}

/// Configuration of an [`EventBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBufferConfig {
    /// `sdk.name` of every batch, e.g. `burgee-node` (1–64 characters).
    pub sdk_name: String,
    /// `sdk.version` of every batch (1–64 characters).
    pub sdk_version: String,
    /// Exposures of the same `(flag, variant, targeting key, snapshot digest)` within this
    /// many ms are recorded once (default 1 hour, the server's analysis window).
    pub dedupe_window_ms: u64,
    /// Most dedupe keys remembered (default 50,000); when full, expired keys are dropped, then
    /// all (an exposure may then be sent twice, which analysis tolerates).
    pub dedupe_capacity: usize,
    /// Flush when this many events are queued (default 500; at most 1000 per batch).
    pub flush_size: usize,
    /// Flush queued events at least this often, ms (default 10,000).
    pub flush_interval_ms: u64,
    /// Most events held, queued plus a batch awaiting retry (default 10,000); beyond it the
    /// oldest queued events are dropped and counted.
    pub max_events: usize,
}

impl EventBufferConfig {
    /// Defaults for an SDK called `sdk_name` at `sdk_version`.
    pub fn new(sdk_name: impl Into<String>, sdk_version: impl Into<String>) -> Self {
        EventBufferConfig {
            sdk_name: sdk_name.into(),
            sdk_version: sdk_version.into(),
            dedupe_window_ms: DEFAULTS.dedupe_window_ms,
            dedupe_capacity: 50_000,
            flush_size: DEFAULTS.flush_size,
            flush_interval_ms: DEFAULTS.flush_interval_ms,
            max_events: DEFAULTS.max_queued_events,
        }
    }
}

/// A batch body ready for `POST /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The `batch_id` inside `body`; the same on every retry.
    pub id: String,
    /// JSON `{"batch_id", "sdk": {"name", "version"}, "events": [...]}` (`spec/EVENTS.md` §1).
    pub body: Vec<u8>,
    /// Number of events in the batch.
    pub events: usize,
}

/// Counters of an [`EventBuffer`], for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Events queued now (not counting a batch awaiting delivery or retry).
    pub queued: usize,
    /// Events in the batch awaiting delivery or retry.
    pub in_batch: usize,
    /// Exposures skipped as duplicates within the window.
    pub deduplicated: u64,
    /// Exposures that could not be sent: no targeting key, or a snapshot without a digest.
    pub unattributable: u64,
    /// Events dropped because the buffer was full (oldest first).
    pub dropped: u64,
    /// Events in batches the server accepted.
    pub delivered: u64,
}

#[derive(Debug)]
struct DedupeEntry {
    flag: String,
    variant: String,
    targeting_key: String,
    digest: String,
    seen_at: u64,
}

/// Exposure dedupe, `track` queue and batch assembly (`spec/EVENTS.md`).
///
/// One batch is outstanding at a time: [`EventBuffer::next_batch`] hands it out, and the host
/// reports [`EventBuffer::batch_delivered`] or [`EventBuffer::batch_failed`]; a failed batch is
/// handed out again, byte for byte with the same `batch_id`, so the server's dedupe makes the
/// retry safe.
#[derive(Debug)]
pub struct EventBuffer {
    config: EventBufferConfig,
    queue: VecDeque<QueuedEvent>,
    dedupe: hashbrown::HashTable<DedupeEntry>,
    batch: Option<(Batch, bool)>,
    last_flush: Option<u64>,
    stats: EventStats,
}

fn dedupe_hash(flag: &str, variant: &str, targeting_key: &str, digest: &str) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x6275_7267_6565_0002).build_hasher();
    flag.hash(&mut h);
    variant.hash(&mut h);
    targeting_key.hash(&mut h);
    digest.hash(&mut h);
    h.finish()
}

impl EventBuffer {
    /// An empty buffer. `flush_size` is clamped to 1..=1000.
    pub fn new(mut config: EventBufferConfig) -> Self {
        config.flush_size = config.flush_size.clamp(1, limits::BATCH_EVENTS);
        config.max_events = config.max_events.max(config.flush_size);
        EventBuffer {
            config,
            queue: VecDeque::new(),
            dedupe: hashbrown::HashTable::new(),
            batch: None,
            last_flush: None,
            stats: EventStats::default(),
        }
    }

    /// The configuration (after clamping).
    pub fn config(&self) -> &EventBufferConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> EventStats {
        EventStats {
            queued: self.queue.len(),
            in_batch: self.batch.as_ref().map_or(0, |(b, _)| b.events),
            ..self.stats
        }
    }

    /// Records that `details` (an evaluation of `flag` for `ctx` against `snapshot` at `now`,
    /// ms since epoch) was served. Returns whether it was queued: errors serve no variant and
    /// are not exposures; contexts without a targeting key and snapshots without a digest
    /// cannot be attributed; a repeat of the same `(flag, variant, targeting key, digest)`
    /// within the dedupe window is skipped. Allocates only when the exposure is new.
    pub fn record_exposure(
        &mut self,
        snapshot: &Snapshot,
        flag: &str,
        details: &EvaluationDetails<'_>,
        ctx: &Context,
        now: u64,
    ) -> bool {
        let Some(variant) = details.variant else {
            return false;
        };
        let (Some(tk), Some(digest)) = (ctx.targeting_key(), snapshot.info().digest.as_deref())
        else {
            self.stats.unattributable += 1;
            return false;
        };
        let hash = dedupe_hash(flag, variant, tk, digest);
        let window = self.config.dedupe_window_ms;
        let eq = |e: &DedupeEntry| {
            e.flag == flag && e.variant == variant && e.targeting_key == tk && e.digest == digest
        };
        if let Some(entry) = self.dedupe.find_mut(hash, eq) {
            if now.saturating_sub(entry.seen_at) < window {
                self.stats.deduplicated += 1;
                return false;
            }
            entry.seen_at = now;
        } else {
            if self.dedupe.len() >= self.config.dedupe_capacity {
                self.dedupe
                    .retain(|e| now.saturating_sub(e.seen_at) < window);
                if self.dedupe.len() >= self.config.dedupe_capacity {
                    self.dedupe.clear();
                }
            }
            self.dedupe.insert_unique(
                hash,
                DedupeEntry {
                    flag: flag.into(),
                    variant: variant.into(),
                    targeting_key: tk.into(),
                    digest: digest.into(),
                    seen_at: now,
                },
                |e| dedupe_hash(&e.flag, &e.variant, &e.targeting_key, &e.digest),
            );
        }
        self.push(QueuedEvent::Exposure(ExposureRecord {
            flag: flag.into(),
            variant: variant.into(),
            reason: details.reason.as_str(),
            rule_id: details.rule_id.map(Into::into),
            targeting_key: tk.into(),
            snapshot_version: snapshot.info().version,
            snapshot_digest: digest.into(),
            time: now,
        }));
        true
    }

    /// Queues a metric event after [`TrackEvent::validate`].
    ///
    /// # Errors
    /// The validation message; nothing is queued.
    pub fn track(&mut self, event: TrackEvent) -> Result<(), String> {
        event.validate()?;
        self.push(QueuedEvent::Track(event));
        Ok(())
    }

    fn push(&mut self, event: QueuedEvent) {
        let in_batch = self.batch.as_ref().map_or(0, |(b, _)| b.events);
        while !self.queue.is_empty() && self.queue.len() + in_batch >= self.config.max_events {
            self.queue.pop_front();
            self.stats.dropped += 1;
        }
        self.queue.push_back(event);
    }

    /// Whether the host should send a batch now (at `now`, ms since epoch): a failed batch
    /// awaits its retry, `flush_size` events are queued, or events are queued and
    /// `flush_interval_ms` has passed since the last flush (or since the first call).
    /// A batch handed out and not yet reported blocks further batches.
    pub fn should_flush(&mut self, now: u64) -> bool {
        let last = *self.last_flush.get_or_insert(now);
        match &self.batch {
            Some((_, in_flight)) => !*in_flight,
            None => {
                self.queue.len() >= self.config.flush_size
                    || (!self.queue.is_empty()
                        && now.saturating_sub(last) >= self.config.flush_interval_ms)
            }
        }
    }

    /// The next batch to send: the failed batch again (its original id; `batch_id` unused), or
    /// up to `flush_size` queued events under `batch_id` (8–128 characters of
    /// `[A-Za-z0-9._:-]`, e.g. a UUID; the caller's choice). `None` when nothing is queued or
    /// a batch is in flight. Marks the batch in flight and `now` as the last flush.
    pub fn next_batch(&mut self, batch_id: &str, now: u64) -> Option<Batch> {
        self.last_flush = Some(now);
        if let Some((batch, in_flight)) = &mut self.batch {
            if *in_flight {
                return None;
            }
            *in_flight = true;
            return Some(batch.clone());
        }
        if self.queue.is_empty() {
            return None;
        }
        let n = self.queue.len().min(self.config.flush_size);
        let events: Vec<QueuedEvent> = self.queue.drain(..n).collect();
        let body = BatchBody {
            batch_id,
            sdk_name: &self.config.sdk_name,
            sdk_version: &self.config.sdk_version,
            events: &events,
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let batch = Batch {
            id: batch_id.to_string(),
            body,
            events: n,
        };
        self.batch = Some((batch.clone(), true));
        Some(batch)
    }

    /// The server accepted the batch `id` (202, including `duplicate: true`); it is dropped.
    /// An id that is not the outstanding batch is ignored.
    pub fn batch_delivered(&mut self, id: &str) {
        if self.batch.as_ref().is_some_and(|(b, _)| b.id == id)
            && let Some((b, _)) = self.batch.take()
        {
            self.stats.delivered += b.events as u64;
        }
    }

    /// Sending batch `id` failed (network error, 429, 5xx): it is kept and handed out again by
    /// the next [`EventBuffer::next_batch`], with the same id.
    pub fn batch_failed(&mut self, id: &str) {
        if let Some((b, in_flight)) = &mut self.batch
            && b.id == id
        {
            *in_flight = false;
        }
    }

    /// The server refused batch `id` as a whole (400: malformed; it would be refused again):
    /// it is dropped and its events counted as dropped.
    pub fn batch_rejected(&mut self, id: &str) {
        if self.batch.as_ref().is_some_and(|(b, _)| b.id == id)
            && let Some((b, _)) = self.batch.take()
        {
            self.stats.dropped += b.events as u64;
        }
    }

    /// Whether nothing is queued and no batch is outstanding.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.batch.is_none()
    }
}

struct BatchBody<'a> {
    batch_id: &'a str,
    sdk_name: &'a str,
    sdk_version: &'a str,
    events: &'a [QueuedEvent],
}

impl Serialize for BatchBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Sdk<'a>(&'a str, &'a str);
        impl Serialize for Sdk<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("name", self.0)?;
                m.serialize_entry("version", self.1)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("batch_id", self.batch_id)?;
        m.serialize_entry("sdk", &Sdk(self.sdk_name, self.sdk_version))?;
        m.serialize_entry("events", self.events)?;
        m.end()
    }
}

#[cfg(test)]
mod tests;
