//! `@burgee/wasm`: the Burgee core compiled to WebAssembly with wasm-bindgen, for browsers,
//! CDN workers (Cloudflare workerd) and Node.
//!
//! This crate only converts types and errors; verification, evaluation, anti-rollback,
//! exposure dedupe and batching live in `burgee-core` (its sans-IO `client` module). The
//! package's JavaScript (`bindings/wasm/js/`) does the I/O: `fetch` with ETags, the server-sent
//! event stream, `localStorage`, `navigator.sendBeacon`, timers.
//!
//! Conventions at the boundary: times are JavaScript numbers of milliseconds since the Unix
//! epoch (non-negative integers); a thrown error is a JavaScript `Error` named `BurgeeError`
//! with a `code` property holding a stable code of `spec/SNAPSHOT.md` §6 (message
//! `"<CODE>: <text>"`); evaluation never throws for flag-level problems but returns details
//! with `reason: "ERROR"` and an `errorCode`, as OpenFeature specifies.

use std::fmt::Display;
use std::sync::Arc;

use burgee_core::client::{
    ApplyOutcome, Backoff, EventBuffer, EventBufferConfig, SyncConfig, SyncState, TrackEvent,
    not_ready_error,
};
use burgee_core::{
    Audience, Context as CoreContext, ErrorCode, EvalError, EvaluationDetails, Held, LoadOptions,
    Snapshot as CoreSnapshot, TrustedKey, ValueKind,
};
use js_sys::{Object, Reflect};
use serde_json::Value;
use wasm_bindgen::intern;
use wasm_bindgen::prelude::*;

// ---- conversions ----------------------------------------------------------------------------

/// A `BurgeeError`: a JS `Error` with `name = "BurgeeError"` and `code` = the stable code.
fn coded(code: ErrorCode, message: impl Display) -> JsValue {
    let e = js_sys::Error::new(&format!("{}: {message}", code.as_str()));
    e.set_name("BurgeeError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &code.as_str().into());
    e.into()
}

fn general(message: impl Display) -> JsValue {
    coded(ErrorCode::General, message)
}

/// A time argument: a non-negative integer number of ms, or the current time when absent.
fn ms(now: Option<f64>) -> Result<u64, JsValue> {
    let now = now.unwrap_or_else(js_sys::Date::now);
    if (0.0..=9_007_199_254_740_991.0).contains(&now) && now.fract() == 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(now as u64)
    } else {
        Err(general(format!(
            "{now} is not a time in ms since epoch (a non-negative integer)"
        )))
    }
}

#[allow(clippy::cast_precision_loss)] // versions and ms since epoch stay below 2^53
fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn from_js<T: serde::de::DeserializeOwned>(what: &str, v: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v)
        .map_err(|e| coded(ErrorCode::ParseError, format!("{what}: {e}")))
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Defining a property on a plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(intern(key)), value);
}

/// A JS string of a value from a small set (variant and rule names, reasons, codes, flag keys,
/// metadata): interned, so repeated evaluations skip UTF-8 decoding on the JS side.
fn js_str(s: &str) -> JsValue {
    JsValue::from_str(intern(s))
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, js_str)
}

/// OpenFeature resolution details as one JSON document.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailsJson<'a, V: serde::Serialize> {
    flag_key: &'a str,
    value: V,
    variant: Option<&'a str>,
    reason: &'a str,
    rule_id: Option<&'a str>,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    flag_metadata: &'a burgee_core::FlagMetadata<'a>,
}

/// OpenFeature resolution details: `{flagKey, value, variant, reason, ruleId, errorCode,
/// errorMessage, flagMetadata}` (absent members `null`; metadata an object). Built as JSON
/// text and parsed by `JSON.parse`: one string crossing instead of a property set per member.
fn details_js<V: serde::Serialize>(flag_key: &str, value: V, d: &EvaluationDetails<'_>) -> JsValue {
    let doc = DetailsJson {
        flag_key,
        value,
        variant: d.variant,
        reason: d.reason.as_str(),
        rule_id: d.rule_id,
        error_code: d.error.as_ref().map(|e| e.code.as_str()),
        error_message: d.error.as_ref().map(|e| e.message.as_str()),
        flag_metadata: &d.metadata,
    };
    // Serialising plain data and parsing its JSON cannot fail.
    serde_json::to_string(&doc)
        .ok()
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .unwrap_or(JsValue::NULL)
}

/// [`details_js`] with the caller's default (a JS value) as the value.
fn details_with_default(flag_key: &str, default: &JsValue, d: &EvaluationDetails<'_>) -> JsValue {
    let o = details_js(flag_key, (), d);
    if let Some(obj) = o.dyn_ref::<Object>() {
        set(obj, "value", default);
    }
    o
}

/// A JS default as the JSON the core's typed getter of `kind` expects (`null` when it is not
/// of that kind: the getter reports `TYPE_MISMATCH`).
fn default_json(kind: ValueKind, v: &JsValue) -> Value {
    let json = match kind {
        ValueKind::Boolean => v.as_bool().map(Value::Bool),
        ValueKind::String => v.as_string().map(Value::String),
        ValueKind::Number | ValueKind::Integer => v
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ValueKind::Object => js_sys::JSON::stringify(v)
            .ok()
            .and_then(|t| t.as_string())
            .and_then(|t| serde_json::from_str(&t).ok()),
    };
    json.unwrap_or(Value::Null)
}

/// Details of an error raised before evaluation (bad default, no snapshot): the default served.
fn error_details_js(flag_key: &str, default: &JsValue, e: &EvalError) -> JsValue {
    let o = Object::new();
    set(&o, "flagKey", &flag_key.into());
    set(&o, "value", default);
    set(&o, "variant", &JsValue::NULL);
    set(&o, "reason", &"ERROR".into());
    set(&o, "ruleId", &JsValue::NULL);
    set(&o, "errorCode", &e.code.as_str().into());
    set(&o, "errorMessage", &e.message.as_str().into());
    set(&o, "flagMetadata", &Object::new());
    o.into()
}

fn info_js(s: &CoreSnapshot) -> JsValue {
    let i = s.info();
    let o = Object::new();
    set(&o, "project", &i.project.as_str().into());
    set(&o, "environment", &i.environment.as_str().into());
    set(&o, "version", &num(i.version));
    set(&o, "issuedAt", &num(i.issued_at));
    set(&o, "expiresAt", &num(i.expires_at));
    set(&o, "digest", &opt_str(i.digest.as_deref()));
    set(&o, "keyid", &opt_str(i.keyid.as_deref()));
    set(&o, "audience", &i.audience.as_str().into());
    o.into()
}

fn parse_keys(keys: &[String]) -> Result<Vec<TrustedKey>, JsValue> {
    if keys.is_empty() {
        return Err(general("trustedKeys: at least one public key is needed"));
    }
    keys.iter()
        .map(|k| TrustedKey::from_base64(k).map_err(|e| coded(e.code(), e)))
        .collect()
}

/// The typed getter named by `kind` with a JS default; the details as a JS object.
/// `used` sees the core's details of a successful evaluation (for exposures).
fn typed(
    snap: &CoreSnapshot,
    kind: &str,
    flag_key: &str,
    default: JsValue,
    ctx: &CoreContext,
    now: u64,
    used: impl FnOnce(&EvaluationDetails<'_>),
) -> Result<JsValue, JsValue> {
    let kind = ValueKind::parse(kind).ok_or_else(|| {
        general(format!(
            "unknown kind \"{kind}\" (boolean, string, number, integer, object)"
        ))
    })?;
    let default_json = default_json(kind, &default);
    match snap.get_json(kind, flag_key, ctx, now, &default_json) {
        Ok((v, d)) => {
            if d.error.is_some() {
                return Ok(details_with_default(flag_key, &default, &d));
            }
            used(&d);
            Ok(details_js(flag_key, &v, &d))
        }
        Err(e) => Ok(error_details_js(flag_key, &default, &e)),
    }
}

// ---- Context --------------------------------------------------------------------------------

/// An evaluation context (OpenFeature): `new Context({targetingKey: "user-1", country: "DE",
/// groups: ["beta"]})`. Attribute values are strings, finite numbers, booleans or arrays of
/// strings; `targetingKey` is the unit for individual targets and rollouts. Build it once per
/// user and reuse it: attribute names and values are hashed when it is built.
#[wasm_bindgen]
pub struct Context {
    inner: CoreContext,
}

#[wasm_bindgen]
impl Context {
    /// Builds a context from a plain object (`undefined` or `null`: empty).
    ///
    /// Throws `INVALID_CONTEXT` for an attribute value of another type, an empty name, or more
    /// than the core's limits allow.
    #[wasm_bindgen(constructor)]
    pub fn new(attributes: JsValue) -> Result<Context, JsValue> {
        if attributes.is_undefined() || attributes.is_null() {
            let inner = CoreContext::from_json(&Value::Object(serde_json::Map::new()))
                .map_err(|e| coded(e.code(), e))?;
            return Ok(Context { inner });
        }
        // One JSON.stringify and one string crossing beat walking the object property by
        // property from WebAssembly.
        let text = js_sys::JSON::stringify(&attributes)
            .ok()
            .and_then(|t| t.as_string())
            .ok_or_else(|| {
                coded(
                    ErrorCode::InvalidContext,
                    "the context must be a JSON-serialisable object",
                )
            })?;
        let inner = CoreContext::from_json_str(&text).map_err(|e| coded(e.code(), e))?;
        Ok(Context { inner })
    }

    /// The targeting key, or `null`.
    #[wasm_bindgen(getter, js_name = targetingKey)]
    pub fn targeting_key(&self) -> Option<String> {
        self.inner.targeting_key().map(str::to_owned)
    }
}

// ---- Snapshot -------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoadOptionsJs {
    trusted_keys: Vec<String>,
    #[serde(default)]
    project: Option<String>,
    environment: String,
    #[serde(default)]
    audience: Option<Audience>,
    #[serde(default)]
    now: Option<f64>,
    #[serde(default)]
    held_version: Option<u64>,
    #[serde(default)]
    held_digest: Option<String>,
    #[serde(default)]
    min_version: Option<u64>,
    #[serde(default)]
    max_envelope_bytes: Option<usize>,
}

/// A verified, evaluation-ready snapshot (immutable). Most apps use the `Client` of the
/// package instead; workers and tests use this directly.
#[wasm_bindgen]
pub struct Snapshot {
    inner: Arc<CoreSnapshot>,
}

#[wasm_bindgen]
impl Snapshot {
    /// Verifies a DSSE envelope (JSON text) and compiles its snapshot
    /// (`spec/SNAPSHOT.md` §5.3 order). `options`: `{trustedKeys: [base64 Ed25519 public
    /// key], project? (absent: not checked), environment, audience? ("server", the default,
    /// or "client"), now?, heldVersion?, heldDigest?, minVersion?, maxEnvelopeBytes?}`.
    ///
    /// Throws a `BurgeeError` with the load error's code: `PARSE_ERROR`,
    /// `SNAPSHOT_TOO_LARGE`, `SIGNATURE_INVALID`, `KEY_UNTRUSTED`, `PAYLOAD_TYPE_MISMATCH`,
    /// `PROJECT_MISMATCH`, `ENVIRONMENT_MISMATCH`, `AUDIENCE_MISMATCH`, `SNAPSHOT_ROLLBACK`,
    /// `SNAPSHOT_EXPIRED`, `SNAPSHOT_INVALID`.
    pub fn load(envelope: &str, options: JsValue) -> Result<Snapshot, JsValue> {
        let o: LoadOptionsJs = from_js("load options", options)?;
        let keys = parse_keys(&o.trusted_keys)?;
        let held = match (o.held_version, o.held_digest.as_deref()) {
            (Some(version), Some(digest)) => Some(Held { version, digest }),
            (None, None) => None,
            _ => return Err(general("heldVersion and heldDigest go together")),
        };
        let mut opts = LoadOptions::new(&keys, &o.environment, ms(o.now)?);
        opts.project = o.project.as_deref();
        if let Some(audience) = o.audience {
            opts.audience = audience;
        }
        opts.held = held;
        opts.min_version = o.min_version.unwrap_or(0);
        if let Some(max) = o.max_envelope_bytes {
            opts.max_envelope_bytes = max;
        }
        let snap =
            CoreSnapshot::load(envelope.as_bytes(), &opts).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// Compiles an unsigned snapshot document (JSON text) without any signature check: for
    /// tests and authoring tools, never for data from a network.
    ///
    /// Throws `PARSE_ERROR` or `SNAPSHOT_INVALID` (with the field path).
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(document: &str) -> Result<Snapshot, JsValue> {
        let snap = CoreSnapshot::from_json(document.as_bytes()).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// `{project, environment, version, issuedAt, expiresAt, digest, keyid, audience}`.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> JsValue {
        info_js(&self.inner)
    }

    /// Flag keys in snapshot order.
    #[wasm_bindgen(js_name = flagKeys)]
    pub fn flag_keys(&self) -> Vec<String> {
        self.inner.flag_keys().map(str::to_owned).collect()
    }

    /// `boolean`, `string`, `integer`, `float` or `object`; `null` for an unknown flag.
    #[wasm_bindgen(js_name = flagType)]
    pub fn flag_type(&self, flag_key: &str) -> Option<String> {
        self.inner
            .flag_type(flag_key)
            .map(|t| t.as_str().to_owned())
    }

    /// Untyped evaluation: details with the variant's value as JSON. `now`: ms since epoch
    /// (default: now).
    pub fn evaluate(
        &self,
        flag_key: &str,
        context: &Context,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let d = self.inner.evaluate(flag_key, &context.inner, ms(now)?);
        Ok(details_js(flag_key, d.value, &d))
    }

    /// Typed evaluation (`kind`: `boolean`, `string`, `number`, `integer`, `object`) with the
    /// caller's default, served on any error (`TYPE_MISMATCH` when the flag has another type
    /// or the default is not of `kind`).
    #[wasm_bindgen(js_name = getDetails)]
    pub fn get_details(
        &self,
        kind: &str,
        flag_key: &str,
        default_value: JsValue,
        context: &Context,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        typed(
            &self.inner,
            kind,
            flag_key,
            default_value,
            &context.inner,
            ms(now)?,
            |_| {},
        )
    }

    /// The value of a `boolean` flag, `defaultValue` on any error.
    #[wasm_bindgen(js_name = getBooleanValue)]
    pub fn get_boolean_value(
        &self,
        flag_key: &str,
        default_value: bool,
        context: &Context,
        now: Option<f64>,
    ) -> Result<bool, JsValue> {
        Ok(self
            .inner
            .get_bool(flag_key, &context.inner, ms(now)?, default_value)
            .value)
    }

    /// Every flag's details for one context: `{flagKey: details}` in snapshot order.
    #[wasm_bindgen(js_name = evaluateAll)]
    pub fn evaluate_all(&self, context: &Context, now: Option<f64>) -> Result<JsValue, JsValue> {
        let out = Object::new();
        for (key, d) in self.inner.evaluate_all(&context.inner, ms(now)?) {
            set(&out, key, &details_js(key, d.value, &d));
        }
        Ok(out.into())
    }
}

/// The bucket (0..=9999, basis points) of `value` in a rollout seeded `seed` under `salt`
/// (`spec/SNAPSHOT.md` §4).
#[wasm_bindgen]
pub fn bucket(salt: &str, seed: &str, value: &str) -> u32 {
    burgee_core::bucket(salt, seed, value)
}

/// The digest a client snapshot holds for a sensitive `value` under `salt` (64 hex digits,
/// `spec/SNAPSHOT.md` §9).
#[wasm_bindgen(js_name = sensitiveDigest)]
pub fn sensitive_digest(salt: &str, value: &str) -> String {
    burgee_core::sensitive_digest(salt, value)
}

/// Every stable error code, in `spec/SNAPSHOT.md` §6 order.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

// ---- Engine ---------------------------------------------------------------------------------

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

/// The sans-IO state of a client (`burgee_core::client`): the verified current snapshot with
/// anti-rollback, the sync status, exposure dedupe and event batches, retry backoff. The
/// package's `Client` (JavaScript) feeds it what it fetches and sends what it hands out.
#[wasm_bindgen]
pub struct Engine {
    sync: SyncState,
    events: EventBuffer,
    backoff: Backoff,
    send_exposures: bool,
}

#[wasm_bindgen]
impl Engine {
    /// `options`: `{project? (every snapshot must be this project's; absent: not checked),
    /// environment, audience? ("server", the default, or "client": the snapshots read),
    /// trustedKeys, minVersion?, maxEnvelopeBytes?, sdkName?,
    /// sdkVersion?, sendExposures? (default true), dedupeWindowMs? (3,600,000), flushSize?
    /// (500), flushIntervalMs? (10,000), maxEvents? (10,000), backoffBaseMs? (1,000),
    /// backoffCapMs? (60,000)}`.
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
        let mut ev = EventBufferConfig::new(
            o.sdk_name.unwrap_or_else(|| "burgee-wasm".into()),
            o.sdk_version
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
        );
        if let Some(v) = o.dedupe_window_ms {
            ev.dedupe_window_ms = v;
        }
        if let Some(v) = o.flush_size {
            ev.flush_size = v;
        }
        if let Some(v) = o.flush_interval_ms {
            ev.flush_interval_ms = v;
        }
        if let Some(v) = o.max_events {
            ev.max_events = v;
        }
        Ok(Engine {
            sync: SyncState::new(sync),
            events: EventBuffer::new(ev),
            backoff: Backoff::new(
                o.backoff_base_ms.unwrap_or(1_000),
                o.backoff_cap_ms.unwrap_or(60_000),
            ),
            send_exposures: o.send_exposures.unwrap_or(true),
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
            .sync
            .apply(envelope.as_bytes(), etag.as_deref(), ms(now)?);
        if !matches!(outcome, ApplyOutcome::Refused(_)) {
            self.backoff.reset();
        }
        Ok(outcome_js(&outcome))
    }

    /// As `apply`, for a local copy (bootstrap string, `localStorage`): a refusal is reported
    /// but does not change the status.
    #[wasm_bindgen(js_name = applyLocal)]
    pub fn apply_local(&mut self, envelope: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        Ok(outcome_js(
            &self.sync.apply_local(envelope.as_bytes(), ms(now)?),
        ))
    }

    /// The server answered 304 Not Modified.
    #[wasm_bindgen(js_name = notModified)]
    pub fn not_modified(&mut self) {
        self.backoff.reset();
        self.sync.not_modified();
    }

    /// A fetch or the stream failed without an envelope (`message` kept as the last error).
    #[wasm_bindgen(js_name = fetchFailed)]
    pub fn fetch_failed(&mut self, message: &str) {
        self.sync.fetch_failed(message);
    }

    /// Milliseconds to wait before the next retry: full-jitter exponential backoff, `random`
    /// a uniformly random `u32` from the host.
    #[wasm_bindgen(js_name = nextRetryDelay)]
    pub fn next_retry_delay(&mut self, random: u32) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let d = self.backoff.next_delay(random) as f64;
        d
    }

    /// `{status: "NOT_READY" | "READY" | "STALE" | "ERROR", errorCode, lastErrorCode,
    /// lastErrorMessage}`.
    pub fn status(&self) -> JsValue {
        let o = Object::new();
        let status = self.sync.status();
        set(&o, "status", &status.as_str().into());
        set(
            &o,
            "errorCode",
            &opt_str(status.error_code().map(ErrorCode::as_str)),
        );
        let last = self.sync.last_error();
        set(&o, "lastErrorCode", &opt_str(last.map(|(c, _)| c.as_str())));
        set(&o, "lastErrorMessage", &opt_str(last.map(|(_, m)| m)));
        o.into()
    }

    /// The `If-None-Match` value for the next fetch, if a snapshot is held.
    pub fn etag(&self) -> Option<String> {
        self.sync.etag().map(str::to_owned)
    }

    /// The snapshot held (shared, immutable), or `undefined`.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.sync.snapshot().map(|s| Snapshot {
            inner: Arc::clone(s),
        })
    }

    /// Typed evaluation against the snapshot held, recording the exposure (deduped) when
    /// exposures are on. Without a snapshot: the default with `errorCode: "GENERAL"` and the
    /// status in the message. `kind` and the result as `Snapshot.getDetails`.
    #[wasm_bindgen(js_name = getDetails)]
    pub fn get_details(
        &mut self,
        kind: &str,
        flag_key: &str,
        default_value: JsValue,
        context: &Context,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = ms(now)?;
        let Some(snap) = self.sync.snapshot().cloned() else {
            let e = not_ready_error(self.sync.status(), self.sync.last_error().map(|(_, m)| m));
            return Ok(error_details_js(flag_key, &default_value, &e));
        };
        let (events, expose) = (&mut self.events, self.send_exposures);
        typed(
            &snap,
            kind,
            flag_key,
            default_value,
            &context.inner,
            now,
            |d| {
                if expose {
                    events.record_exposure(&snap, flag_key, d, &context.inner, now);
                }
            },
        )
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
        let now = ms(now)?;
        let Some(snap) = self.sync.snapshot().cloned() else {
            return Ok(default_value);
        };
        let t = snap.get_bool(flag_key, &context.inner, now, default_value);
        if self.send_exposures {
            self.events
                .record_exposure(&snap, flag_key, &t.details, &context.inner, now);
        }
        Ok(t.value)
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
        let now = ms(now)?;
        let Some(snap) = self.sync.snapshot().cloned() else {
            return Ok(default_value.to_owned());
        };
        let t = snap.get_string(flag_key, &context.inner, now, default_value);
        if self.send_exposures {
            self.events
                .record_exposure(&snap, flag_key, &t.details, &context.inner, now);
        }
        Ok(t.value.to_owned())
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
        let Some(snap) = self.sync.snapshot().cloned() else {
            return Ok(default_value);
        };
        let (value, details) = if integer {
            if default_value.fract() != 0.0 || default_value.abs() >= 9.2e18 {
                return Ok(default_value);
            }
            #[allow(clippy::cast_possible_truncation)]
            let t = snap.get_integer(flag_key, &context.inner, now, default_value as i64);
            #[allow(clippy::cast_precision_loss)] // JS numbers, as JSON.parse gives them
            let v = t.value as f64;
            (v, t.details)
        } else {
            let t = snap.get_float(flag_key, &context.inner, now, default_value);
            (t.value, t.details)
        };
        if self.send_exposures {
            self.events
                .record_exposure(&snap, flag_key, &details, &context.inner, now);
        }
        Ok(value)
    }

    /// Every flag's details for one context (no exposures: nothing was used yet).
    #[wasm_bindgen(js_name = evaluateAll)]
    pub fn evaluate_all(&self, context: &Context, now: Option<f64>) -> Result<JsValue, JsValue> {
        match self.sync.snapshot() {
            Some(s) => Snapshot {
                inner: Arc::clone(s),
            }
            .evaluate_all(context, now),
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
        self.events.track(event).map_err(general)
    }

    /// Whether a batch should be sent now (size or interval reached).
    #[wasm_bindgen(js_name = shouldFlush)]
    pub fn should_flush(&mut self, now: Option<f64>) -> Result<bool, JsValue> {
        Ok(self.events.should_flush(ms(now)?))
    }

    /// The batch to send, `{id, body, events}` (`body`: JSON text for `POST /v1/events`), or
    /// `undefined` when nothing is queued. A batch not yet reported delivered or failed is
    /// handed out again; `id` names a new batch (e.g. `crypto.randomUUID()`).
    #[wasm_bindgen(js_name = nextBatch)]
    pub fn next_batch(&mut self, id: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        let Some(b) = self.events.next_batch(id, ms(now)?) else {
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

    /// The server accepted batch `id` (HTTP 202).
    #[wasm_bindgen(js_name = batchDelivered)]
    pub fn batch_delivered(&mut self, id: &str) {
        self.events.batch_delivered(id);
    }

    /// Sending batch `id` failed (network, 429, 5xx): it is handed out again, unchanged.
    #[wasm_bindgen(js_name = batchFailed)]
    pub fn batch_failed(&mut self, id: &str) {
        self.events.batch_failed(id);
    }

    /// The server refused batch `id` for good (HTTP 400): it is dropped and counted.
    #[wasm_bindgen(js_name = batchRejected)]
    pub fn batch_rejected(&mut self, id: &str) {
        self.events.batch_rejected(id);
    }

    /// `{queued, inBatch, deduplicated, unattributable, dropped, delivered}`.
    #[wasm_bindgen(js_name = eventStats)]
    pub fn event_stats(&self) -> JsValue {
        let s = self.events.stats();
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
