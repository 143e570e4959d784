//! What every SDK shares above the sync and event state machines: the one table of option
//! defaults ([`DEFAULTS`]), the OpenFeature error-code mapping ([`openfeature_error_code`]),
//! owned OpenFeature resolution details ([`Resolution`]) and, for single-threaded hosts that do
//! their own I/O (the WebAssembly package), the sans-IO [`Engine`]: "evaluate on the held
//! snapshot, record the exposure, or answer not-ready" written once.
//!
//! ```text
//!  host I/O ──bytes──► Engine::apply / apply_local / not_modified / fetch_failed (SyncState)
//!  retry timer ◄───── Engine::next_retry_delay (Backoff, full jitter, DEFAULTS)
//!  app ──get_*──────► Engine (held snapshot → typed getter → EventBuffer::record_exposure)
//!  host timer ──────► Engine::events_mut().next_batch ──POST──► batch_delivered | next_event_retry_delay
//! ```
//!
//! The native client (`burgee-client`, behind Node, Python and mobile) composes the same parts
//! behind locks for its threads; both use [`DEFAULTS`], [`Resolution`] and
//! [`openfeature_error_code`], so no binding holds a copy of them.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::Snapshot;
use crate::client::{
    ApplyOutcome, Backoff, EventBuffer, EventBufferConfig, SyncConfig, SyncState, not_ready_error,
};
use crate::context::Context;
use crate::envelope::DEFAULT_MAX_ENVELOPE_BYTES;
use crate::error::ErrorCode;
use crate::eval::{EvalError, EvaluationDetails, Reason, ValueKind};
use crate::value::MetadataValue;

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/// The default of every client option, for every SDK (the native client and its Node, Python
/// and mobile wrappers, and the WebAssembly package's JavaScript). Times are in ms, sizes in
/// bytes or events. Read it as [`DEFAULTS`]; bindings export the same numbers (`defaults()`).
///
/// Retry policy (snapshot fetches, the stream and event delivery alike): exponential backoff
/// with full jitter, the `n`-th retry after a failure waiting a uniformly random time in
/// `0..=min(backoff_cap_ms, backoff_base_ms · 2^n)` ([`Backoff`]), reset by a success; an
/// event delivery answered `429`/`503` with `Retry-After` waits at least that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Defaults {
    /// Polling period without streaming (or while the stream is unavailable): 30,000 ms.
    pub poll_interval_ms: u64,
    /// Connect and response timeout of each request: 10,000 ms.
    pub request_timeout_ms: u64,
    /// A stream silent (no event, no keep-alive comment) this long is reconnected: 60,000 ms
    /// (the server sends keep-alives every 15 s).
    pub stream_idle_timeout_ms: u64,
    /// Ceiling of the first retry delay: 500 ms.
    pub backoff_base_ms: u64,
    /// Largest retry delay: 30,000 ms.
    pub backoff_cap_ms: u64,
    /// Largest envelope accepted: [`DEFAULT_MAX_ENVELOPE_BYTES`] (8 MiB).
    pub max_envelope_bytes: usize,
    /// Flush queued events at least this often: 10,000 ms.
    pub flush_interval_ms: u64,
    /// Flush when this many events are queued: 500 (a batch holds at most 1,000).
    pub flush_size: usize,
    /// Most events held in memory; beyond, the oldest are dropped and counted: 10,000.
    pub max_queued_events: usize,
    /// Exposures of the same (flag, variant, unit, snapshot) within this window are sent once:
    /// 3,600,000 ms (1 hour).
    pub dedupe_window_ms: u64,
    /// How long closing a client may spend delivering queued events: 5,000 ms.
    pub close_timeout_ms: u64,
    /// How long waiting for the first snapshot (`waitUntilReady`, OpenFeature `initialize`)
    /// lasts by default: 10,000 ms.
    pub ready_timeout_ms: u64,
}

/// Bytes a server-sent event may carry beyond its envelope (the `event:`/`id:` lines and the
/// `data:` prefix): 64 KiB.
pub const STREAM_HEADROOM_BYTES: usize = 64 * 1024;

/// The longest line, and the largest event (its data), a stream reader accepts for envelopes
/// of at most `max_envelope_bytes`: that plus [`STREAM_HEADROOM_BYTES`]. Longer input is an
/// error; the client reconnects and keeps serving the snapshot it holds.
pub const fn stream_limit(max_envelope_bytes: usize) -> usize {
    max_envelope_bytes.saturating_add(STREAM_HEADROOM_BYTES)
}

/// The defaults (see [`Defaults`] for each value and its unit).
pub const DEFAULTS: Defaults = Defaults {
    poll_interval_ms: 30_000,
    request_timeout_ms: 10_000,
    stream_idle_timeout_ms: 60_000,
    backoff_base_ms: 500,
    backoff_cap_ms: 30_000,
    max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
    flush_interval_ms: 10_000,
    flush_size: 500,
    max_queued_events: 10_000,
    dedupe_window_ms: 3_600_000,
    close_timeout_ms: 5_000,
    ready_timeout_ms: 10_000,
};

// ---------------------------------------------------------------------------------------------
// OpenFeature
// ---------------------------------------------------------------------------------------------

/// The OpenFeature `ErrorCode` for a Burgee code. Evaluation codes are OpenFeature's own;
/// snapshot codes never come from an evaluation (they say why no snapshot is held) and map to
/// `GENERAL`. Exhaustive: a new code does not compile until it is mapped here.
pub const fn openfeature_error_code(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ParseError => "PARSE_ERROR",
        ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
        ErrorCode::TypeMismatch => "TYPE_MISMATCH",
        ErrorCode::TargetingKeyMissing => "TARGETING_KEY_MISSING",
        ErrorCode::InvalidContext => "INVALID_CONTEXT",
        ErrorCode::SnapshotTooLarge
        | ErrorCode::SignatureInvalid
        | ErrorCode::KeyUntrusted
        | ErrorCode::PayloadTypeMismatch
        | ErrorCode::ProjectMismatch
        | ErrorCode::EnvironmentMismatch
        | ErrorCode::AudienceMismatch
        | ErrorCode::ServiceMismatch
        | ErrorCode::SnapshotRollback
        | ErrorCode::SnapshotExpired
        | ErrorCode::SnapshotInvalid
        | ErrorCode::General => "GENERAL",
    }
}

// ---------------------------------------------------------------------------------------------
// Resolution details
// ---------------------------------------------------------------------------------------------

/// OpenFeature resolution details, owned: what every binding turns into its host's object.
///
/// `value` is the served value, or the caller's default when `reason` is [`Reason::Error`]
/// (then `error` is set and `variant` is `None`). Serialised (JSON, e.g. for JavaScript) as
/// `{flagKey, value, variant, reason, ruleId, errorCode, errorMessage, flagMetadata}` with
/// absent members `null` and the metadata an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution<V> {
    /// The flag evaluated.
    pub flag_key: String,
    /// Value served, or the caller's default on error.
    pub value: V,
    /// Variant served; `None` on error.
    pub variant: Option<String>,
    /// Why the value was served.
    pub reason: Reason,
    /// Id of the rule that decided, if any.
    pub rule_id: Option<String>,
    /// Code and message when `reason` is `ERROR`.
    pub error: Option<EvalError>,
    /// The flag's metadata (empty for an unknown flag or without a snapshot).
    pub metadata: Vec<(String, MetadataValue)>,
}

impl<V> Resolution<V> {
    /// The details of an evaluation of `flag_key` that served `value` (the caller's default if
    /// `details` carries an error).
    pub fn new(flag_key: &str, value: V, details: &EvaluationDetails<'_>) -> Self {
        Resolution {
            flag_key: flag_key.to_owned(),
            value,
            variant: details.variant.map(ToOwned::to_owned),
            reason: details.reason,
            rule_id: details.rule_id.map(ToOwned::to_owned),
            error: details.error.clone(),
            metadata: details
                .metadata
                .iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
        }
    }

    /// Details of an error raised before any evaluation (no snapshot held, a default of the
    /// wrong type, a bad context): `default` served with reason `ERROR`.
    pub fn error(flag_key: &str, default: V, error: EvalError) -> Self {
        Resolution {
            flag_key: flag_key.to_owned(),
            value: default,
            variant: None,
            reason: Reason::Error,
            rule_id: None,
            error: Some(error),
            metadata: Vec::new(),
        }
    }

    /// The error code, when `reason` is `ERROR`.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error.as_ref().map(|e| e.code)
    }

    /// The error message, when `reason` is `ERROR`.
    pub fn error_message(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }

    /// The OpenFeature error code ([`openfeature_error_code`]), when `reason` is `ERROR`.
    pub fn openfeature_error_code(&self) -> Option<&'static str> {
        self.error_code().map(openfeature_error_code)
    }

    /// The same details with the value converted (e.g. into a host object).
    pub fn map<W>(self, f: impl FnOnce(V) -> W) -> Resolution<W> {
        Resolution {
            flag_key: self.flag_key,
            value: f(self.value),
            variant: self.variant,
            reason: self.reason,
            rule_id: self.rule_id,
            error: self.error,
            metadata: self.metadata,
        }
    }
}

impl<V: Serialize> Serialize for Resolution<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Metadata<'a>(&'a [(String, MetadataValue)]);
        impl Serialize for Metadata<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("flagKey", &self.flag_key)?;
        map.serialize_entry("value", &self.value)?;
        map.serialize_entry("variant", &self.variant)?;
        map.serialize_entry("reason", &self.reason)?;
        map.serialize_entry("ruleId", &self.rule_id)?;
        map.serialize_entry("errorCode", &self.error_code())?;
        map.serialize_entry("errorMessage", &self.error_message())?;
        map.serialize_entry("flagMetadata", &Metadata(&self.metadata))?;
        map.end()
    }
}

/// The typed getter of `kind` on `snapshot` with a JSON `default`, as a [`Resolution`]: the
/// served value as JSON, or `default` on any error (`TYPE_MISMATCH` also when `default` is not
/// of `kind`, see [`Snapshot::get_json`]). `served` is called with the core's details when
/// the evaluation served a value (no error), to record the exposure. The dynamic dispatch
/// every binding to a dynamically typed language uses.
pub fn resolve_json(
    snapshot: &Snapshot,
    kind: ValueKind,
    flag_key: &str,
    ctx: &Context,
    now: u64,
    default: &Value,
    served: impl FnOnce(&EvaluationDetails<'_>),
) -> Resolution<Value> {
    match snapshot.get_json(kind, flag_key, ctx, now, default) {
        Ok((value, details)) => {
            if details.error.is_none() {
                served(&details);
            }
            Resolution::new(flag_key, value, &details)
        }
        Err(e) => Resolution::error(flag_key, default.clone(), e),
    }
}

// ---------------------------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------------------------

/// Configuration of an [`Engine`]; [`EngineConfig::new`] applies [`DEFAULTS`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// What envelopes must be (keys, project, environment, audience, limits).
    pub sync: SyncConfig,
    /// Exposure dedupe and batching.
    pub events: EventBufferConfig,
    /// Record an exposure for each served evaluation (default true).
    pub send_exposures: bool,
    /// Ceiling of the first retry delay, ms (default [`Defaults::backoff_base_ms`]).
    pub backoff_base_ms: u64,
    /// Largest retry delay, ms (default [`Defaults::backoff_cap_ms`]).
    pub backoff_cap_ms: u64,
}

impl EngineConfig {
    /// Every default, for `sync` and an SDK called `sdk_name` at `sdk_version`.
    pub fn new(
        sync: SyncConfig,
        sdk_name: impl Into<String>,
        sdk_version: impl Into<String>,
    ) -> Self {
        EngineConfig {
            sync,
            events: EventBufferConfig::new(sdk_name, sdk_version),
            send_exposures: true,
            backoff_base_ms: DEFAULTS.backoff_base_ms,
            backoff_cap_ms: DEFAULTS.backoff_cap_ms,
        }
    }
}

/// The sans-IO client of a single-threaded host (the WebAssembly package's JavaScript does
/// the fetching, streaming, storage and timers): the verified snapshot with anti-rollback
/// ([`SyncState`]), typed evaluation that records exposures ([`EventBuffer`]) or answers
/// "not ready", and the retry delays of the sync and of event delivery ([`Backoff`]).
#[derive(Debug)]
pub struct Engine {
    sync: SyncState,
    events: EventBuffer,
    sync_backoff: Backoff,
    events_backoff: Backoff,
    send_exposures: bool,
}

impl Engine {
    /// An engine holding no snapshot (status `NOT_READY`).
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            sync: SyncState::new(config.sync),
            events: EventBuffer::new(config.events),
            sync_backoff: Backoff::new(config.backoff_base_ms, config.backoff_cap_ms),
            events_backoff: Backoff::new(config.backoff_base_ms, config.backoff_cap_ms),
            send_exposures: config.send_exposures,
        }
    }

    /// The sync state (status, last error, ETag, snapshot held).
    pub fn sync(&self) -> &SyncState {
        &self.sync
    }

    /// The snapshot held, if any.
    pub fn snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.sync.snapshot()
    }

    /// [`SyncState::apply`] for an envelope from the server (HTTP body or stream event); a
    /// verified one (newer or the same) resets the retry backoff.
    pub fn apply(&mut self, envelope: &[u8], etag: Option<&str>, now: u64) -> ApplyOutcome {
        let outcome = self.sync.apply(envelope, etag, now);
        if !matches!(outcome, ApplyOutcome::Refused(_)) {
            self.sync_backoff.reset();
        }
        outcome
    }

    /// [`SyncState::apply_local`] for a local copy (bootstrap, storage).
    pub fn apply_local(&mut self, envelope: &[u8], now: u64) -> ApplyOutcome {
        self.sync.apply_local(envelope, now)
    }

    /// The server answered `304 Not Modified`; resets the retry backoff.
    pub fn not_modified(&mut self) {
        self.sync_backoff.reset();
        self.sync.not_modified();
    }

    /// A fetch or the stream failed without an envelope ([`SyncState::fetch_failed`]).
    pub fn fetch_failed(&mut self, message: &str) {
        self.sync.fetch_failed(message);
    }

    /// Ms to wait before the next fetch or stream attempt, from a uniformly random `u32`.
    pub fn next_retry_delay(&mut self, random: u32) -> u64 {
        self.sync_backoff.next_delay(random)
    }

    /// The event buffer (statistics, [`EventBuffer::should_flush`]).
    pub fn events(&self) -> &EventBuffer {
        &self.events
    }

    /// The event buffer, to queue `track` events and take batches
    /// ([`EventBuffer::next_batch`], `batch_delivered` / `batch_failed` / `batch_rejected`).
    pub fn events_mut(&mut self) -> &mut EventBuffer {
        &mut self.events
    }

    /// Batch `id` was accepted: resets the delivery backoff.
    pub fn batch_delivered(&mut self, id: &str) {
        self.events_backoff.reset();
        self.events.batch_delivered(id);
    }

    /// Sending batch `id` failed (network, `408`, `429`, `5xx`): it is kept for the retry,
    /// which should wait the returned ms: the delivery backoff's next delay from `random`, or
    /// `retry_after_ms` (the server's `Retry-After`) when that is longer.
    pub fn batch_failed(&mut self, id: &str, random: u32, retry_after_ms: Option<u64>) -> u64 {
        self.events.batch_failed(id);
        self.events_backoff
            .next_delay(random)
            .max(retry_after_ms.unwrap_or(0))
    }

    /// The error served while no snapshot is held (`GENERAL`, naming the status).
    pub fn not_ready(&self) -> EvalError {
        not_ready_error(self.sync.status(), self.sync.last_error().map(|(_, m)| m))
    }

    /// Runs `eval` on the snapshot held and records the exposure of the details it returns
    /// (when exposures are on and a variant was served); `None` without a snapshot.
    fn served<R>(
        &mut self,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        eval: impl FnOnce(&Snapshot) -> (R, Option<EvaluationDetails<'_>>),
    ) -> Option<R> {
        let snap = Arc::clone(self.sync.snapshot()?);
        let (out, details) = eval(&snap);
        if self.send_exposures
            && let Some(d) = details
        {
            self.events.record_exposure(&snap, flag_key, &d, ctx, now);
        }
        Some(out)
    }

    /// Typed evaluation named at run time with a JSON default, exposure recorded: the
    /// [`resolve_json`] details, or `default` with the [`Engine::not_ready`] error without a
    /// snapshot.
    pub fn get_json(
        &mut self,
        kind: ValueKind,
        flag_key: &str,
        ctx: &Context,
        now: u64,
        default: &Value,
    ) -> Resolution<Value> {
        let Some(snap) = self.sync.snapshot().map(Arc::clone) else {
            return Resolution::error(flag_key, default.clone(), self.not_ready());
        };
        let (events, expose) = (&mut self.events, self.send_exposures);
        resolve_json(&snap, kind, flag_key, ctx, now, default, |d| {
            if expose {
                events.record_exposure(&snap, flag_key, d, ctx, now);
            }
        })
    }

    /// The value of a `boolean` flag (exposure recorded); `default` on any error or without
    /// a snapshot.
    pub fn get_bool(&mut self, flag_key: &str, ctx: &Context, now: u64, default: bool) -> bool {
        self.served(flag_key, ctx, now, |s| {
            let t = s.get_bool(flag_key, ctx, now, default);
            (t.value, Some(t.details))
        })
        .unwrap_or(default)
    }

    /// The value of a `string` flag (exposure recorded); `default` on any error.
    pub fn get_string(&mut self, flag_key: &str, ctx: &Context, now: u64, default: &str) -> String {
        // The core's default only stands in (it would tie the details to `default`'s lifetime).
        self.served(flag_key, ctx, now, |s| {
            let t = s.get_string(flag_key, ctx, now, "");
            let value = match t.details.error {
                None => t.value.to_owned(),
                Some(_) => default.to_owned(),
            };
            (value, Some(t.details))
        })
        .unwrap_or_else(|| default.to_owned())
    }

    /// The value of an `integer` flag (exposure recorded); `default` on any error.
    pub fn get_integer(&mut self, flag_key: &str, ctx: &Context, now: u64, default: i64) -> i64 {
        self.served(flag_key, ctx, now, |s| {
            let t = s.get_integer(flag_key, ctx, now, default);
            (t.value, Some(t.details))
        })
        .unwrap_or(default)
    }

    /// The value of a `float` flag (exposure recorded); `default` on any error.
    pub fn get_float(&mut self, flag_key: &str, ctx: &Context, now: u64, default: f64) -> f64 {
        self.served(flag_key, ctx, now, |s| {
            let t = s.get_float(flag_key, ctx, now, default);
            (t.value, Some(t.details))
        })
        .unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_code_has_an_openfeature_code() {
        const OPENFEATURE: [&str; 6] = [
            "PARSE_ERROR",
            "FLAG_NOT_FOUND",
            "TYPE_MISMATCH",
            "TARGETING_KEY_MISSING",
            "INVALID_CONTEXT",
            "GENERAL",
        ];
        for code in ErrorCode::ALL {
            let of = openfeature_error_code(code);
            assert!(OPENFEATURE.contains(&of), "{code} → {of}");
            if OPENFEATURE.contains(&code.as_str()) {
                assert_eq!(
                    of,
                    code.as_str(),
                    "OpenFeature's own codes map to themselves"
                );
            }
        }
    }

    #[test]
    fn stream_limit_is_the_envelope_limit_plus_headroom() {
        assert_eq!(
            stream_limit(DEFAULTS.max_envelope_bytes),
            8 * 1024 * 1024 + 64 * 1024
        );
        assert_eq!(stream_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn resolution_serialises_in_the_openfeature_shape() {
        let r = Resolution::error(
            "f",
            Value::Bool(true),
            EvalError {
                code: ErrorCode::FlagNotFound,
                message: "no".into(),
            },
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"flagKey": "f", "value": true, "variant": null, "reason": "ERROR",
                "ruleId": null, "errorCode": "FLAG_NOT_FOUND", "errorMessage": "no",
                "flagMetadata": {}})
        );
        assert_eq!(r.openfeature_error_code(), Some("FLAG_NOT_FOUND"));
    }

    #[test]
    fn without_a_snapshot_the_engine_serves_the_default_as_not_ready() {
        let mut e = Engine::new(EngineConfig::new(
            SyncConfig::new(Vec::new(), "production"),
            "t",
            "1",
        ));
        let ctx = Context::new("u");
        assert!(e.get_bool("f", &ctx, 1, true));
        assert_eq!(e.get_string("f", &ctx, 1, "d"), "d");
        let r = e.get_json(ValueKind::Integer, "f", &ctx, 1, &Value::from(3));
        assert_eq!(r.value, Value::from(3));
        assert_eq!(r.error_code(), Some(ErrorCode::General));
        assert!(r.error_message().unwrap().contains("NOT_READY"));
        assert_eq!(e.events().stats().queued, 0);
    }

    #[test]
    fn failed_deliveries_back_off_and_honour_retry_after() {
        let mut e = Engine::new(EngineConfig::new(
            SyncConfig::new(Vec::new(), "production"),
            "t",
            "1",
        ));
        // Full jitter from the largest random number: the ceiling, doubling to the cap.
        let delays: Vec<u64> = (0..8)
            .map(|_| e.batch_failed("b", u32::MAX, None))
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(e.batch_failed("b", 0, Some(120_000)), 120_000);
        e.batch_delivered("b");
        assert_eq!(e.batch_failed("b", u32::MAX, None), 500);
    }
}
