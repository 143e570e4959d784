//! # burgee-node
//!
//! The native half of the npm package `@burgee/node` (napi-rs). It converts JavaScript values
//! to `burgee-core` / `burgee-client` types and back, and errors to `BurgeeError`-ready
//! messages (`"<CODE>: <message>"`, turned into `BurgeeError {code, message}` by `index.js`).
//! It must hold no evaluation, sync or event logic: that lives in `burgee-core` and
//! `burgee-client`, once for every language.
//!
//! ```text
//!  JS  ──► Client (this crate) ──► burgee_client::Client ──► background sync / events threads
//!       ──► Context handle      ──► burgee_core::Context (built once, reused)
//!       ──► get*Value / get*Details ──► burgee_core::Snapshot typed getters ──► JS values
//! ```
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fast;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client as NativeClient, ClientEvent, ClientOptions as NativeOptions, SyncStatus,
    TrackEvent, now_ms,
};
use burgee_core::{
    AttributeValue, Audience, Context as CoreContext, ErrorCode, EvalError, EvaluationDetails,
    FlagValue, Held, LoadOptions, MetadataValue, Snapshot as CoreSnapshot, TrustedKey,
    TypedDetails, ValueKind as Kind,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Map, Value};

/// A JS error whose message starts with the stable code: `"SNAPSHOT_EXPIRED: ..."`.
fn coded(code: ErrorCode, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("{}: {message}", code.as_str()),
    )
}

fn general(message: impl std::fmt::Display) -> napi::Error {
    coded(ErrorCode::General, message)
}

/// Every stable error code, in documentation order (`ErrorCode::ALL`).
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

/// The bucket (0..=9999) of `value` for `salt` and `seed` (`spec/SNAPSHOT.md` §4).
#[napi]
pub fn bucket(salt: String, seed: String, value: String) -> u32 {
    burgee_core::bucket(&salt, &seed, &value)
}

/// Milliseconds since the Unix epoch, from the clock the client uses.
#[napi]
pub fn now() -> f64 {
    ms_to_js(now_ms())
}

#[allow(clippy::cast_precision_loss)] // ms since epoch stay far below 2^53
fn ms_to_js(ms: u64) -> f64 {
    ms as f64
}

fn js_to_ms(ms: f64) -> Result<u64> {
    if (0.0..=9_007_199_254_740_991.0).contains(&ms) && ms.fract() == 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(ms as u64)
    } else {
        Err(general(format!(
            "{ms} is not a time in ms (a non-negative integer)"
        )))
    }
}

// ---- contexts ----

/// An evaluation context handle: build it once, reuse it for many evaluations.
///
/// `new Context({targetingKey: "user-42", country: "DE", age: 31, beta: true,
/// groups: ["staff"]})`. Values are strings, numbers, booleans or lists of strings.
#[napi]
pub struct Context {
    inner: Arc<CoreContext>,
}

#[napi]
impl Context {
    /// Builds a context from a plain object; throws `BurgeeError` `INVALID_CONTEXT` for nulls,
    /// nested objects, non-string list items or a non-string `targetingKey`.
    #[napi(constructor)]
    pub fn new(attributes: Option<Value>) -> Result<Self> {
        let value = attributes.unwrap_or_else(|| Value::Object(Map::new()));
        let inner = CoreContext::from_json(&value).map_err(|e| coded(e.code(), e))?;
        Ok(Context {
            inner: Arc::new(inner),
        })
    }

    /// The handle the fast evaluation functions take (`index.js` passes it).
    #[napi]
    pub fn handle(&self, env: Env) -> Result<fast::Handle> {
        fast::Handle::context(&env, Arc::clone(&self.inner))
    }

    /// The targeting key, or `null`.
    #[napi(getter)]
    pub fn targeting_key(&self) -> Option<String> {
        self.inner.targeting_key().map(str::to_owned)
    }

    /// The context as a plain object.
    #[napi]
    pub fn to_json(&self) -> Result<Value> {
        serde_json::to_value(&*self.inner).map_err(general)
    }
}

/// A context argument: a reused [`Context`] handle or a plain object (converted per call).
fn with_context<R>(
    env: &Env,
    ctx: Either<&Context, Object>,
    f: impl FnOnce(&CoreContext) -> R,
) -> std::result::Result<R, EvalError> {
    match ctx {
        Either::A(c) => Ok(f(&c.inner)),
        Either::B(obj) => {
            let ctx = object_context(env, &obj)?;
            Ok(f(&ctx))
        }
    }
}

fn invalid_context(message: String) -> EvalError {
    EvalError {
        code: ErrorCode::InvalidContext,
        message,
    }
}

/// Reads a plain JS object into a core context (the rules of `Context::from_json`).
fn object_context(env: &Env, obj: &Object) -> std::result::Result<CoreContext, EvalError> {
    let names = obj
        .get_property_names()
        .map_err(|e| invalid_context(e.to_string()))?;
    let len = names
        .get_array_length()
        .map_err(|e| invalid_context(e.to_string()))?;
    let mut ctx = CoreContext::anonymous();
    for i in 0..len {
        let name: String = names
            .get_element(i)
            .map_err(|e| invalid_context(e.to_string()))?;
        let value: Unknown = obj
            .get_named_property(&name)
            .map_err(|e| invalid_context(e.to_string()))?;
        let attr = match value
            .get_type()
            .map_err(|e| invalid_context(e.to_string()))?
        {
            ValueType::String => {
                let s: String = value
                    .coerce_to_string()
                    .and_then(|s| s.into_utf8())
                    .and_then(|s| s.into_owned())
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::String(s.into_boxed_str())
            }
            ValueType::Number => {
                let n = value
                    .coerce_to_number()
                    .and_then(|n| n.get_double())
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::Number(n)
            }
            ValueType::Boolean => {
                let b = value
                    .coerce_to_bool()
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::Bool(b)
            }
            ValueType::Undefined => continue,
            _ => {
                // Lists and everything else go through the JSON rules (and their messages).
                let v: Value = value_json(env, value)?;
                let mut one = Map::new();
                one.insert(name.clone(), v);
                let parsed = CoreContext::from_json(&Value::Object(one))
                    .map_err(|e| invalid_context(e.to_string()))?;
                match parsed.get(&name) {
                    Some(v) => v.clone(),
                    None => continue,
                }
            }
        };
        ctx.set(&name, attr);
    }
    if ctx.get(burgee_core::TARGETING_KEY).is_some() {
        return Err(invalid_context(format!(
            "\"{}\" must be a string",
            burgee_core::TARGETING_KEY
        )));
    }
    Ok(ctx)
}

fn value_json(env: &Env, value: Unknown) -> std::result::Result<Value, EvalError> {
    env.from_js_value::<Value, _>(value)
        .map_err(|e| invalid_context(format!("context attribute: {e}")))
}

// ---- evaluation results ----

/// Evaluation details (OpenFeature shape): `value` is the served value, or the caller's
/// default when `reason` is `ERROR`.
#[napi(object)]
pub struct EvaluationDetailsJs {
    /// The flag evaluated.
    pub flag_key: String,
    /// Served value (or the default on error).
    pub value: Value,
    /// Served variant, or `null` on error.
    pub variant: Option<String>,
    /// `STATIC`, `DEFAULT`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`, `PREREQUISITE_FAILED`
    /// or `ERROR`.
    pub reason: String,
    /// Id of the rule that decided, if any.
    pub rule_id: Option<String>,
    /// Stable error code when `reason` is `ERROR`.
    pub error_code: Option<String>,
    /// Human-readable error.
    pub error_message: Option<String>,
    /// The flag's metadata (strings, numbers, booleans).
    pub flag_metadata: HashMap<String, Value>,
}

fn metadata_json(v: &MetadataValue) -> Value {
    match v {
        MetadataValue::String(s) => Value::String(s.to_string()),
        MetadataValue::Number(n) => {
            serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        MetadataValue::Bool(b) => Value::Bool(*b),
    }
}

fn details_js(flag: &str, value: Value, d: &EvaluationDetails<'_>) -> EvaluationDetailsJs {
    EvaluationDetailsJs {
        flag_key: flag.to_owned(),
        value,
        variant: d.variant.map(str::to_owned),
        reason: d.reason.as_str().to_owned(),
        rule_id: d.rule_id.map(str::to_owned),
        error_code: d.error.as_ref().map(|e| e.code.as_str().to_owned()),
        error_message: d.error.as_ref().map(|e| e.message.clone()),
        flag_metadata: d
            .metadata
            .iter()
            .map(|(k, v)| (k.to_owned(), metadata_json(v)))
            .collect(),
    }
}

fn error_details(flag: &str, default: Value, e: &EvalError) -> EvaluationDetailsJs {
    EvaluationDetailsJs {
        flag_key: flag.to_owned(),
        value: default,
        variant: None,
        reason: "ERROR".into(),
        rule_id: None,
        error_code: Some(e.code.as_str().to_owned()),
        error_message: Some(e.message.clone()),
        flag_metadata: HashMap::new(),
    }
}

fn flag_value_json(v: &FlagValue) -> Value {
    v.to_json()
}

// ---- snapshots (low level: verify and evaluate with an explicit `now`) ----

/// Options of `Snapshot.load` (times in ms since epoch).
#[napi(object)]
pub struct LoadOptionsJs {
    /// Trusted public keys, base64 of 32 bytes.
    pub trusted_keys: Vec<String>,
    /// Expected project (`PROJECT_MISMATCH` for another); absent = not checked.
    pub project: Option<String>,
    /// Expected environment.
    pub environment: String,
    /// The audience read: `server` (default) or `client` (`AUDIENCE_MISMATCH` for the other).
    pub audience: Option<String>,
    /// Current time, ms since epoch (default: the system clock).
    pub now: Option<f64>,
    /// Version held (anti-rollback).
    pub held_version: Option<f64>,
    /// Digest held (`sha256:<hex>`), with `heldVersion`.
    pub held_digest: Option<String>,
    /// Lowest acceptable version.
    pub min_version: Option<f64>,
    /// Size limit in bytes (default 8 MiB).
    pub max_envelope_bytes: Option<u32>,
}

/// Snapshot identity and validity.
#[napi(object)]
pub struct SnapshotInfoJs {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Version.
    pub version: f64,
    /// Issue time, ms since epoch.
    pub issued_at: f64,
    /// Expiry, ms since epoch.
    pub expires_at: f64,
    /// `sha256:<hex>` of the payload, when loaded from an envelope.
    pub digest: Option<String>,
}

fn info_js(s: &CoreSnapshot) -> SnapshotInfoJs {
    let i = s.info();
    SnapshotInfoJs {
        project: i.project.clone(),
        environment: i.environment.clone(),
        version: ms_to_js(i.version),
        issued_at: ms_to_js(i.issued_at),
        expires_at: ms_to_js(i.expires_at),
        digest: i.digest.clone(),
    }
}

/// A verified (or, with `fromJson`, unsigned) snapshot evaluated with an explicit `now`.
/// Most applications use `Client`; this is for tests, tools and offline evaluation.
#[napi]
pub struct Snapshot {
    inner: Arc<CoreSnapshot>,
}

#[napi]
impl Snapshot {
    /// Verifies an envelope (`spec/SNAPSHOT.md` §5.3); throws `BurgeeError` with the code of
    /// the first failing check.
    #[napi(factory)]
    pub fn load(envelope: Either<String, Buffer>, options: LoadOptionsJs) -> Result<Snapshot> {
        let keys = options
            .trusted_keys
            .iter()
            .map(|k| TrustedKey::from_base64(k))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| coded(e.code(), e))?;
        let now = match options.now {
            Some(n) => js_to_ms(n)?,
            None => now_ms(),
        };
        let mut opts = LoadOptions::new(&keys, &options.environment, now);
        opts.project = options.project.as_deref();
        if let Some(a) = &options.audience {
            opts.audience = Audience::parse(a)
                .ok_or_else(|| general(format!("audience \"{a}\" is not server or client")))?;
        }
        let digest = options.held_digest.unwrap_or_default();
        if let Some(v) = options.held_version {
            opts.held = Some(Held {
                version: js_to_ms(v)?,
                digest: &digest,
            });
        }
        if let Some(v) = options.min_version {
            opts.min_version = js_to_ms(v)?;
        }
        if let Some(m) = options.max_envelope_bytes {
            opts.max_envelope_bytes = m as usize;
        }
        let bytes: &[u8] = match &envelope {
            Either::A(s) => s.as_bytes(),
            Either::B(b) => b.as_ref(),
        };
        let snap = CoreSnapshot::load(bytes, &opts).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// Compiles an unsigned snapshot document (no signature, environment or expiry checks);
    /// throws `PARSE_ERROR` / `SNAPSHOT_INVALID`.
    #[napi(factory)]
    pub fn from_json(document: String) -> Result<Snapshot> {
        let snap = CoreSnapshot::from_json(document.as_bytes()).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// Identity and validity.
    #[napi(getter)]
    pub fn info(&self) -> SnapshotInfoJs {
        info_js(&self.inner)
    }

    /// Every flag key, in snapshot order.
    #[napi]
    pub fn flag_keys(&self) -> Vec<String> {
        self.inner.flag_keys().map(str::to_owned).collect()
    }

    /// Untyped evaluation at `now` (ms; default the clock): `value` is `null` on error.
    #[napi]
    pub fn evaluate(
        &self,
        env: Env,
        flag_key: String,
        context: Either<&Context, Object>,
        now: Option<f64>,
    ) -> Result<EvaluationDetailsJs> {
        let now = match now {
            Some(n) => js_to_ms(n)?,
            None => now_ms(),
        };
        Ok(
            match with_context(&env, context, |ctx| {
                let d = self.inner.evaluate(&flag_key, ctx, now);
                let v = d.value.map_or(Value::Null, flag_value_json);
                details_js(&flag_key, v, &d)
            }) {
                Ok(d) => d,
                Err(e) => error_details(&flag_key, Value::Null, &e),
            },
        )
    }

    /// Typed evaluation (`kind`: `boolean`, `string`, `number` (float), `integer`, `object`)
    /// at `now` (ms; default the clock), with the caller's `defaultValue`.
    #[napi]
    pub fn get_details(
        &self,
        env: Env,
        kind: String,
        flag_key: String,
        context: Either<&Context, Object>,
        default_value: Value,
        now: Option<f64>,
    ) -> Result<EvaluationDetailsJs> {
        let kind = parse_kind(&kind)?;
        let now = match now {
            Some(n) => js_to_ms(n)?,
            None => now_ms(),
        };
        let snap = &self.inner;
        let r = with_context(&env, context, |ctx| {
            snap.get_json(kind, &flag_key, ctx, now, &default_value)
                .map(|(v, d)| details_js(&flag_key, v, &d))
        });
        Ok(match r.and_then(|x| x) {
            Ok(d) => d,
            Err(e) => error_details(&flag_key, default_value.clone(), &e),
        })
    }
}

/// `get_object` with a JSON default: a non-object default is a `TYPE_MISMATCH`.
fn object_typed<'s>(
    snap: &'s CoreSnapshot,
    flag: &str,
    ctx: &CoreContext,
    now: u64,
    default: &'s Value,
) -> TypedDetails<'s, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let map = default
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
    let t = snap.get_object(flag, ctx, now, map);
    let value = if t.details.error.is_some() {
        default.clone()
    } else {
        Value::Object(t.value.clone())
    };
    TypedDetails {
        value,
        details: t.details,
    }
}

fn parse_kind(kind: &str) -> Result<Kind> {
    Kind::parse(kind).ok_or_else(|| {
        general(format!(
            "unknown kind \"{kind}\" (boolean, string, number, integer, object)"
        ))
    })
}

// ---- the client ----

/// Options of `new Client(...)`; times in ms. See `burgee_client::ClientOptions` for the
/// defaults.
#[napi(object)]
pub struct ClientOptionsJs {
    /// Environment key.
    pub environment: String,
    /// Trusted public keys (base64 of 32 bytes).
    pub trusted_keys: Vec<String>,
    /// Server base URL; absent = offline.
    pub server_url: Option<String>,
    /// SDK key (`bgs_...`; a client-side key `bgc_...` reads client snapshots).
    pub sdk_key: Option<String>,
    /// Project key: every snapshot must be for it (`PROJECT_MISMATCH`); also sent as
    /// `?project=`. Absent = not checked.
    pub project: Option<String>,
    /// Envelope JSON to start from.
    pub bootstrap: Option<String>,
    /// File holding an envelope to start from.
    pub bootstrap_file: Option<String>,
    /// Last-known-good file.
    pub persist_path: Option<String>,
    /// Server-sent events (default true).
    pub streaming: Option<bool>,
    /// Poll period, ms (default 30000).
    pub poll_interval_ms: Option<u32>,
    /// Request timeout, ms (default 10000).
    pub request_timeout_ms: Option<u32>,
    /// Stream idle timeout, ms (default 60000).
    pub stream_idle_timeout_ms: Option<u32>,
    /// Backoff base, ms (default 500).
    pub backoff_base_ms: Option<u32>,
    /// Backoff cap, ms (default 30000).
    pub backoff_cap_ms: Option<u32>,
    /// Lowest acceptable version.
    pub min_version: Option<f64>,
    /// Record exposures (default true).
    pub send_exposures: Option<bool>,
    /// Event flush interval, ms (default 10000).
    pub flush_interval_ms: Option<u32>,
    /// Events per batch (default 500).
    pub flush_size: Option<u32>,
    /// Events kept in memory (default 10000).
    pub max_queued_events: Option<u32>,
    /// Exposure dedupe window, ms (default 3600000).
    pub dedupe_window_ms: Option<u32>,
    /// Time `close()` may spend delivering events, ms (default 5000).
    pub close_timeout_ms: Option<u32>,
}

fn native_options(o: ClientOptionsJs) -> Result<NativeOptions> {
    let mut n = NativeOptions::new(o.environment, o.trusted_keys);
    n.server_url = o.server_url;
    n.sdk_key = o.sdk_key;
    n.project = o.project;
    n.bootstrap = match (o.bootstrap, o.bootstrap_file) {
        (Some(_), Some(_)) => {
            return Err(general("give bootstrap or bootstrapFile, not both"));
        }
        (Some(s), None) => Some(Bootstrap::Envelope(s)),
        (None, Some(f)) => Some(Bootstrap::File(f.into())),
        (None, None) => None,
    };
    n.persist_path = o.persist_path.map(Into::into);
    let set = |slot: &mut u64, v: Option<u32>| {
        if let Some(v) = v {
            *slot = u64::from(v);
        }
    };
    if let Some(s) = o.streaming {
        n.streaming = s;
    }
    set(&mut n.poll_interval_ms, o.poll_interval_ms);
    set(&mut n.request_timeout_ms, o.request_timeout_ms);
    set(&mut n.stream_idle_timeout_ms, o.stream_idle_timeout_ms);
    set(&mut n.backoff_base_ms, o.backoff_base_ms);
    set(&mut n.backoff_cap_ms, o.backoff_cap_ms);
    set(&mut n.flush_interval_ms, o.flush_interval_ms);
    set(&mut n.dedupe_window_ms, o.dedupe_window_ms);
    set(&mut n.close_timeout_ms, o.close_timeout_ms);
    if let Some(v) = o.min_version {
        n.min_version = js_to_ms(v)?;
    }
    if let Some(v) = o.send_exposures {
        n.send_exposures = v;
    }
    if let Some(v) = o.flush_size {
        n.flush_size = v as usize;
    }
    if let Some(v) = o.max_queued_events {
        n.max_queued_events = v as usize;
    }
    n.sdk_name = "burgee-node".into();
    n.sdk_version = env!("CARGO_PKG_VERSION").into();
    Ok(n)
}

/// Client status: `NOT_READY`, `READY`, `STALE` or `ERROR`, with the last error seen.
#[napi(object)]
pub struct StatusJs {
    /// The status.
    pub status: String,
    /// With `ERROR`: the code of the refused envelope.
    pub error_code: Option<String>,
    /// The last error's code (kept after recovery), if any.
    pub last_error_code: Option<String>,
    /// The last error's message, if any.
    pub last_error_message: Option<String>,
}

fn status_js(c: &NativeClient) -> StatusJs {
    let (status, last) = c.status();
    StatusJs {
        status: status.as_str().to_owned(),
        error_code: status.error_code().map(|c| c.as_str().to_owned()),
        last_error_code: last.as_ref().map(|(c, _)| c.as_str().to_owned()),
        last_error_message: last.map(|(_, m)| m),
    }
}

/// A client event: `{kind: "status", status, errorCode?, message?}` or
/// `{kind: "changed", oldVersion?, newVersion}`.
#[napi(object)]
pub struct ClientEventJs {
    /// `status` or `changed`.
    pub kind: String,
    /// New status (`status` events).
    pub status: Option<String>,
    /// Error code of an `ERROR` status.
    pub error_code: Option<String>,
    /// Last error message for `ERROR` / `STALE`.
    pub message: Option<String>,
    /// Version held before (`changed`; absent for the first snapshot).
    pub old_version: Option<f64>,
    /// Version now held (`changed`).
    pub new_version: Option<f64>,
}

fn event_js(e: &ClientEvent) -> ClientEventJs {
    match e {
        ClientEvent::Status { status, message } => ClientEventJs {
            kind: "status".into(),
            status: Some(status.as_str().to_owned()),
            error_code: status.error_code().map(|c| c.as_str().to_owned()),
            message: message.clone(),
            old_version: None,
            new_version: None,
        },
        ClientEvent::Changed { old, new } => ClientEventJs {
            kind: "changed".into(),
            status: None,
            error_code: None,
            message: None,
            old_version: old.map(ms_to_js),
            new_version: Some(ms_to_js(*new)),
        },
    }
}

/// Event counters.
#[napi(object)]
pub struct EventStatsJs {
    /// Queued now.
    pub queued: u32,
    /// In the batch being sent or awaiting retry.
    pub in_batch: u32,
    /// Exposures skipped as duplicates.
    pub deduplicated: f64,
    /// Exposures without targeting key or digest.
    pub unattributable: f64,
    /// Dropped (buffer full or batch refused).
    pub dropped: f64,
    /// Accepted by the server.
    pub delivered: f64,
}

/// The Burgee client: syncs the environment's snapshot in the background (SSE, polling
/// fallback, last-known-good file), evaluates synchronously, and sends exposures.
#[napi]
pub struct Client {
    inner: Arc<NativeClient>,
}

/// `waitUntilReady` on the libuv thread pool.
pub struct WaitReady {
    client: Arc<NativeClient>,
    timeout: Duration,
}

impl Task for WaitReady {
    type Output = SyncStatus;
    type JsValue = String;
    fn compute(&mut self) -> Result<SyncStatus> {
        Ok(self.client.wait_until_ready(self.timeout))
    }
    fn resolve(&mut self, _env: Env, output: SyncStatus) -> Result<String> {
        Ok(output.as_str().to_owned())
    }
}

/// `flush` / `close` on the libuv thread pool.
pub struct Deliver {
    client: Arc<NativeClient>,
    timeout: Option<Duration>,
}

impl Task for Deliver {
    type Output = bool;
    type JsValue = bool;
    fn compute(&mut self) -> Result<bool> {
        Ok(match self.timeout {
            Some(t) => self.client.flush(t),
            None => {
                self.client.close();
                self.client.event_stats().queued == 0
            }
        })
    }
    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}

macro_rules! typed_methods {
    ($value:ident, $details:ident, $kind:expr, $ty:ty, $to_json:expr,
     |$snap:ident, $ctx:ident, $now:ident, $flag:ident, $default:ident| $fast:expr) => {
        #[napi]
        impl Client {
            /// Typed evaluation: the value served, or `defaultValue` on any error. Records an
            /// exposure.
            #[napi]
            pub fn $value(
                &self,
                env: Env,
                flag_key: String,
                context: Either<&Context, Object>,
                default_value: $ty,
            ) -> $ty {
                let Some($snap) = self.inner.snapshot() else {
                    return default_value;
                };
                let $now = now_ms();
                let client = &self.inner;
                let $flag = flag_key.as_str();
                let $default = default_value.clone();
                with_context(&env, context, |$ctx| {
                    let t = $fast;
                    client.record_exposure(&$snap, $flag, &t.details, $ctx, $now);
                    t.value.into()
                })
                .unwrap_or(default_value)
            }

            /// Typed evaluation with details (value, variant, reason, rule id, error code and
            /// message, flag metadata). Records an exposure.
            #[napi]
            pub fn $details(
                &self,
                env: Env,
                flag_key: String,
                context: Either<&Context, Object>,
                default_value: $ty,
            ) -> EvaluationDetailsJs {
                let default_json: Value = ($to_json)(&default_value);
                match self.eval(&env, $kind, &flag_key, context, &default_json) {
                    Ok(d) => d,
                    Err(e) => error_details(&flag_key, default_json, &e),
                }
            }
        }
    };
}

#[napi]
impl Client {
    /// Starts the client (loads bootstrap and persisted files synchronously; the server is
    /// contacted in the background). Throws `BurgeeError` (`PARSE_ERROR` for a bad key,
    /// `GENERAL` for bad configuration).
    #[napi(constructor)]
    pub fn new(options: ClientOptionsJs) -> Result<Self> {
        let opts = native_options(options)?;
        let inner = NativeClient::new(opts).map_err(|e| coded(e.code, e.message))?;
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// Resolves with the status once a snapshot is held (`READY`/`STALE`) or an envelope was
    /// refused (`ERROR`), or with `NOT_READY` after `timeoutMs`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_until_ready(&self, timeout_ms: u32) -> AsyncTask<WaitReady> {
        AsyncTask::new(WaitReady {
            client: Arc::clone(&self.inner),
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        })
    }

    /// The fast value getters bound to this client (`index.js` calls them).
    #[napi(ts_return_type = "Record<string, Function>")]
    pub fn bind(&self, env: Env) -> Result<fast::Handle> {
        fast::bind(&env, &self.inner)
    }

    /// Status and last error.
    #[napi]
    pub fn status(&self) -> StatusJs {
        status_js(&self.inner)
    }

    /// The snapshot held, or `null`.
    #[napi]
    pub fn snapshot_info(&self) -> Option<SnapshotInfoJs> {
        self.inner.snapshot().map(|s| info_js(&s))
    }

    /// The type of `flagKey` in the snapshot held (`boolean`, `string`, `integer`, `float`,
    /// `object`), or `null` when unknown.
    #[napi]
    pub fn flag_type(&self, flag_key: String) -> Option<String> {
        self.inner
            .snapshot()
            .and_then(|s| s.flag_type(&flag_key))
            .map(|t| t.as_str().to_owned())
    }

    /// Calls `listener(event)` on the main thread for every status change and new snapshot.
    #[napi]
    pub fn on_event(&self, listener: Function<ClientEventJs, ()>) -> Result<()> {
        let tsfn: ThreadsafeFunction<ClientEventJs, (), ClientEventJs, Status, false, true> =
            listener
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
        let tsfn = Arc::new(tsfn);
        self.inner.subscribe(Arc::new(move |e: &ClientEvent| {
            let _ = tsfn.call(event_js(e), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    fn eval(
        &self,
        env: &Env,
        kind: Kind,
        flag: &str,
        context: Either<&Context, Object>,
        default: &Value,
    ) -> std::result::Result<EvaluationDetailsJs, EvalError> {
        let Some(snap) = self.inner.snapshot() else {
            let (status, last) = self.inner.status();
            return Err(burgee_client::not_ready_error(
                &status,
                last.as_ref().map(|(_, m)| m.as_str()),
            ));
        };
        let now = now_ms();
        let client = &self.inner;
        with_context(env, context, |ctx| {
            let (v, d) = snap.get_json(kind, flag, ctx, now, default)?;
            client.record_exposure(&snap, flag, &d, ctx, now);
            Ok(details_js(flag, v, &d))
        })?
    }

    /// Queues a metric event for `targetingKey` (`value` finite or absent; attributes:
    /// strings, numbers, booleans). Throws `BurgeeError` `GENERAL` when it breaks a rule.
    #[napi]
    pub fn track(
        &self,
        key: String,
        targeting_key: String,
        value: Option<f64>,
        attributes: Option<Map<String, Value>>,
    ) -> Result<()> {
        self.inner
            .track(TrackEvent {
                key,
                value,
                targeting_key,
                time: now_ms(),
                attributes: attributes.unwrap_or_default(),
            })
            .map_err(|e| coded(e.code, e.message))
    }

    /// Event counters.
    #[napi]
    pub fn event_stats(&self) -> EventStatsJs {
        let s = self.inner.event_stats();
        #[allow(clippy::cast_precision_loss)]
        EventStatsJs {
            queued: u32::try_from(s.queued).unwrap_or(u32::MAX),
            in_batch: u32::try_from(s.in_batch).unwrap_or(u32::MAX),
            deduplicated: s.deduplicated as f64,
            unattributable: s.unattributable as f64,
            dropped: s.dropped as f64,
            delivered: s.delivered as f64,
        }
    }

    /// Sends queued events now; resolves `true` when all were delivered within `timeoutMs`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn flush(&self, timeout_ms: u32) -> AsyncTask<Deliver> {
        AsyncTask::new(Deliver {
            client: Arc::clone(&self.inner),
            timeout: Some(Duration::from_millis(u64::from(timeout_ms))),
        })
    }

    /// Stops syncing and delivers queued events; evaluation keeps working on the last
    /// snapshot. Resolves `true` when nothing was left undelivered.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self) -> AsyncTask<Deliver> {
        AsyncTask::new(Deliver {
            client: Arc::clone(&self.inner),
            timeout: None,
        })
    }
}

typed_methods!(
    get_boolean_value,
    get_boolean_details,
    Kind::Boolean,
    bool,
    |v: &bool| Value::Bool(*v),
    |snap, ctx, now, flag, default| snap.get_bool(flag, ctx, now, default)
);
typed_methods!(
    get_string_value,
    get_string_details,
    Kind::String,
    String,
    |v: &String| Value::String(v.clone()),
    |snap, ctx, now, flag, default| snap.get_string(flag, ctx, now, &default)
);
typed_methods!(
    get_number_value,
    get_number_details,
    Kind::Number,
    f64,
    |v: &f64| serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
    |snap, ctx, now, flag, default| snap.get_float(flag, ctx, now, default)
);
typed_methods!(
    get_integer_value,
    get_integer_details,
    Kind::Integer,
    i64,
    |v: &i64| Value::from(*v),
    |snap, ctx, now, flag, default| snap.get_integer(flag, ctx, now, default)
);
typed_methods!(
    get_object_value,
    get_object_details,
    Kind::Object,
    Value,
    |v: &Value| v.clone(),
    |snap, ctx, now, flag, default| object_typed(&snap, flag, ctx, now, &default)
);
