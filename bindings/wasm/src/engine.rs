//! `Engine`: the core's sans-IO client engine (`burgee_core::engine::Engine`) for the
//! package's JavaScript `Client` and `WorkerClient`, which feed it what they fetch and send
//! what it hands out. Conversion only: evaluation with exposures, anti-rollback, batching and
//! retry delays are the core's.

use std::sync::Arc;

use burgee_core::Audience;
use burgee_core::client::{ApplyOutcome, SyncConfig, TrackEvent};
use burgee_core::engine::{self, EngineConfig};
use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::conv::{
    default_json, from_js, general, kind, ms, num, parse_keys, resolution_js, set, status_js,
};
use crate::snapshot::{Context, Snapshot};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineOptions {
    #[serde(default)]
    project: Option<String>,
    environment: String,
    #[serde(default)]
    audience: Option<Audience>,
    trusted_keys: Vec<String>,
    #[serde(default)]
    min_version: Option<u64>,
    #[serde(default)]
    max_envelope_bytes: Option<usize>,
    #[serde(default)]
    sdk_name: Option<String>,
    #[serde(default)]
    sdk_version: Option<String>,
    #[serde(default)]
    send_exposures: Option<bool>,
    #[serde(default)]
    dedupe_window_ms: Option<u64>,
    #[serde(default)]
    flush_size: Option<usize>,
    #[serde(default)]
    flush_interval_ms: Option<u64>,
    #[serde(default)]
    max_events: Option<usize>,
    #[serde(default)]
    backoff_base_ms: Option<u64>,
    #[serde(default)]
    backoff_cap_ms: Option<u64>,
}

/// The sans-IO state of a client: the verified current snapshot with anti-rollback, the sync
/// status, typed evaluation recording exposures, event batches, and the retry delays of the
/// sync and of event delivery.
#[wasm_bindgen]
pub struct Engine {
    inner: engine::Engine,
}

#[wasm_bindgen]
impl Engine {
    /// `options`: `{project? (every snapshot must be this project's; absent: not checked),
    /// environment, audience? ("server", the default, or "client": the snapshots read),
    /// trustedKeys, minVersion?, maxEnvelopeBytes?, sdkName?, sdkVersion?, sendExposures?
    /// (default true), dedupeWindowMs?, flushSize?, flushIntervalMs?, maxEvents?,
    /// backoffBaseMs?, backoffCapMs?}`; absent numbers take `defaults()`.
    ///
    /// Throws `PARSE_ERROR` for a malformed option or public key, `GENERAL` without keys.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Engine, JsValue> {
        let o: EngineOptions = from_js("client options", options)?;
        let mut sync = SyncConfig::new(parse_keys(&o.trusted_keys)?, o.environment);
        sync.project = o.project;
        if let Some(audience) = o.audience {
            sync.audience = audience;
        }
        sync.min_version = o.min_version.unwrap_or(0);
        if let Some(max) = o.max_envelope_bytes {
            sync.max_envelope_bytes = max;
        }
        let mut c = EngineConfig::new(
            sync,
            o.sdk_name.unwrap_or_else(|| "burgee-wasm".into()),
            o.sdk_version
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
        );
        let ev = &mut c.events;
        ev.dedupe_window_ms = o.dedupe_window_ms.unwrap_or(ev.dedupe_window_ms);
        ev.flush_size = o.flush_size.unwrap_or(ev.flush_size);
        ev.flush_interval_ms = o.flush_interval_ms.unwrap_or(ev.flush_interval_ms);
        ev.max_events = o.max_events.unwrap_or(ev.max_events);
        c.send_exposures = o.send_exposures.unwrap_or(true);
        c.backoff_base_ms = o.backoff_base_ms.unwrap_or(c.backoff_base_ms);
        c.backoff_cap_ms = o.backoff_cap_ms.unwrap_or(c.backoff_cap_ms);
        Ok(Engine {
            inner: engine::Engine::new(c),
        })
    }

    /// Verifies an envelope from the server (HTTP body or SSE event; `etag`: the response's
    /// `ETag`, if any) and keeps it when newer. Returns `{outcome: "updated", oldVersion,
    /// newVersion}`, `{outcome: "unchanged"}` or `{outcome: "refused", errorCode, message}`
    /// (the snapshot held is kept).
    pub fn apply(
        &mut self,
        envelope: &str,
        etag: Option<String>,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let outcome = self
            .inner
            .apply(envelope.as_bytes(), etag.as_deref(), ms(now)?);
        Ok(outcome_js(&outcome))
    }

    /// As `apply`, for a local copy (bootstrap string, `localStorage`): a refusal is reported
    /// but does not change the status.
    #[wasm_bindgen(js_name = applyLocal)]
    pub fn apply_local(&mut self, envelope: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        Ok(outcome_js(
            &self.inner.apply_local(envelope.as_bytes(), ms(now)?),
        ))
    }

    /// The server answered 304 Not Modified.
    #[wasm_bindgen(js_name = notModified)]
    pub fn not_modified(&mut self) {
        self.inner.not_modified();
    }

    /// A fetch or the stream failed without an envelope (`message` kept as the last error).
    #[wasm_bindgen(js_name = fetchFailed)]
    pub fn fetch_failed(&mut self, message: &str) {
        self.inner.fetch_failed(message);
    }

    /// Milliseconds to wait before the next fetch or stream attempt (full-jitter exponential
    /// backoff), `random` a uniformly random `u32` from the host.
    #[wasm_bindgen(js_name = nextRetryDelay)]
    pub fn next_retry_delay(&mut self, random: u32) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let d = self.inner.next_retry_delay(random) as f64;
        d
    }

    /// `{status: "NOT_READY" | "READY" | "STALE" | "ERROR", errorCode, lastErrorCode,
    /// lastErrorMessage}`.
    pub fn status(&self) -> JsValue {
        let sync = self.inner.sync();
        status_js(sync.status(), sync.last_error())
    }

    /// The `If-None-Match` value for the next fetch, if a snapshot is held.
    pub fn etag(&self) -> Option<String> {
        self.inner.sync().etag().map(str::to_owned)
    }

    /// The snapshot held (shared, immutable), or `undefined`.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.inner.snapshot().map(|s| Snapshot {
            inner: Arc::clone(s),
        })
    }

    /// Typed evaluation against the snapshot held, recording the exposure (deduped) when
    /// exposures are on. Without a snapshot: the default with `errorCode: "GENERAL"` and the
    /// status in the message. `kind` and the result as `Snapshot.getDetails`.
    #[wasm_bindgen(js_name = getDetails)]
    pub fn get_details(
        &mut self,
        kind_name: &str,
        flag_key: &str,
        default_value: JsValue,
        context: &Context,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let kind = kind(kind_name)?;
        let default = default_json(kind, &default_value);
        let r = self
            .inner
            .get_json(kind, flag_key, &context.inner, ms(now)?, &default);
        Ok(resolution_js(&r, &default_value))
    }

    /// The value of a `boolean` flag (exposure recorded), `defaultValue` on any error.
    #[wasm_bindgen(js_name = getBooleanValue)]
    pub fn get_boolean_value(
        &mut self,
        flag_key: &str,
        default_value: bool,
        context: &Context,
        now: Option<f64>,
    ) -> Result<bool, JsValue> {
        Ok(self
            .inner
            .get_bool(flag_key, &context.inner, ms(now)?, default_value))
    }

    /// The value of a `string` flag (exposure recorded), `defaultValue` on any error.
    #[wasm_bindgen(js_name = getStringValue)]
    pub fn get_string_value(
        &mut self,
        flag_key: &str,
        default_value: &str,
        context: &Context,
        now: Option<f64>,
    ) -> Result<String, JsValue> {
        Ok(self
            .inner
            .get_string(flag_key, &context.inner, ms(now)?, default_value))
    }

    /// The value of a `float` flag (`integer` when `integer` is true) with exposure recorded,
    /// `defaultValue` on any error (`TYPE_MISMATCH` included).
    #[wasm_bindgen(js_name = getNumberValue)]
    pub fn get_number_value(
        &mut self,
        flag_key: &str,
        default_value: f64,
        integer: bool,
        context: &Context,
        now: Option<f64>,
    ) -> Result<f64, JsValue> {
        let now = ms(now)?;
        if !integer {
            return Ok(self
                .inner
                .get_float(flag_key, &context.inner, now, default_value));
        }
        if default_value.fract() != 0.0 || default_value.abs() >= 9.2e18 {
            return Ok(default_value);
        }
        #[allow(clippy::cast_possible_truncation)]
        let v = self
            .inner
            .get_integer(flag_key, &context.inner, now, default_value as i64);
        #[allow(clippy::cast_precision_loss)] // JS numbers, as JSON.parse gives them
        Ok(v as f64)
    }

    /// Every flag's details for one context (no exposures: nothing was used yet).
    #[wasm_bindgen(js_name = evaluateAll)]
    pub fn evaluate_all(&self, context: &Context, now: Option<f64>) -> Result<JsValue, JsValue> {
        match self.snapshot() {
            Some(s) => s.evaluate_all(context, now),
            None => Ok(Object::new().into()),
        }
    }

    /// Queues a metric event (`spec/EVENTS.md` §2): `key`, the unit's `targetingKey`, an
    /// optional finite `value`, optional `attributes` (≤ 32; strings, numbers, booleans).
    ///
    /// Throws `GENERAL` naming the member that breaks a rule.
    pub fn track(
        &mut self,
        key: String,
        targeting_key: String,
        value: Option<f64>,
        attributes: JsValue,
        now: Option<f64>,
    ) -> Result<(), JsValue> {
        let attributes = if attributes.is_undefined() || attributes.is_null() {
            serde_json::Map::new()
        } else {
            from_js("track attributes", attributes)?
        };
        let event = TrackEvent {
            key,
            value,
            targeting_key,
            time: ms(now)?,
            attributes,
        };
        self.inner.events_mut().track(event).map_err(general)
    }

    /// Whether a batch should be sent now (size or interval reached).
    #[wasm_bindgen(js_name = shouldFlush)]
    pub fn should_flush(&mut self, now: Option<f64>) -> Result<bool, JsValue> {
        Ok(self.inner.events_mut().should_flush(ms(now)?))
    }

    /// The batch to send, `{id, body, events}` (`body`: JSON text for `POST /v1/events`), or
    /// `undefined` when nothing is queued. A batch not yet reported delivered or failed is
    /// handed out again; `id` names a new batch (e.g. `crypto.randomUUID()`).
    #[wasm_bindgen(js_name = nextBatch)]
    pub fn next_batch(&mut self, id: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        let Some(b) = self.inner.events_mut().next_batch(id, ms(now)?) else {
            return Ok(JsValue::UNDEFINED);
        };
        let o = Object::new();
        set(&o, "id", &b.id.as_str().into());
        set(
            &o,
            "body",
            &String::from_utf8_lossy(&b.body).as_ref().into(),
        );
        set(&o, "events", &num(b.events as u64));
        Ok(o.into())
    }

    /// The server accepted batch `id` (HTTP 202): resets the delivery backoff.
    #[wasm_bindgen(js_name = batchDelivered)]
    pub fn batch_delivered(&mut self, id: &str) {
        self.inner.batch_delivered(id);
    }

    /// Sending batch `id` failed (network, 408, 429, 5xx): it is handed out again, unchanged.
    /// Returns the ms to wait before retrying: the delivery backoff's next delay (full jitter
    /// from `random`, a uniformly random `u32`), or `retryAfterMs` (the server's `Retry-After`)
    /// when longer.
    #[wasm_bindgen(js_name = batchFailed)]
    pub fn batch_failed(&mut self, id: &str, random: u32, retry_after_ms: Option<f64>) -> f64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let after = retry_after_ms
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v as u64);
        #[allow(clippy::cast_precision_loss)]
        let d = self.inner.batch_failed(id, random, after) as f64;
        d
    }

    /// The server refused batch `id` for good (HTTP 400): it is dropped and counted.
    #[wasm_bindgen(js_name = batchRejected)]
    pub fn batch_rejected(&mut self, id: &str) {
        self.inner.events_mut().batch_rejected(id);
    }

    /// `{queued, inBatch, deduplicated, unattributable, dropped, delivered}`.
    #[wasm_bindgen(js_name = eventStats)]
    pub fn event_stats(&self) -> JsValue {
        let s = self.inner.events().stats();
        let o = Object::new();
        set(&o, "queued", &num(s.queued as u64));
        set(&o, "inBatch", &num(s.in_batch as u64));
        set(&o, "deduplicated", &num(s.deduplicated));
        set(&o, "unattributable", &num(s.unattributable));
        set(&o, "dropped", &num(s.dropped));
        set(&o, "delivered", &num(s.delivered));
        o.into()
    }
}

fn outcome_js(outcome: &ApplyOutcome) -> JsValue {
    let o = Object::new();
    match outcome {
        ApplyOutcome::Updated { old, new } => {
            set(&o, "outcome", &"updated".into());
            set(&o, "oldVersion", &old.map_or(JsValue::NULL, num));
            set(&o, "newVersion", &num(*new));
        }
        ApplyOutcome::Unchanged => set(&o, "outcome", &"unchanged".into()),
        ApplyOutcome::Refused(e) => {
            set(&o, "outcome", &"refused".into());
            set(&o, "errorCode", &e.code().as_str().into());
            set(&o, "message", &e.to_string().into());
        }
    }
    o.into()
}
