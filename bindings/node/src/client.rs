//! `Client`: the native client (`burgee_client::Client`) for JavaScript: options, status and
//! events, the object getters (the other typed getters are the fast path of `fast`), `track`,
//! `flush` and `close` on the libuv thread pool.

use std::sync::Arc;
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client as NativeClient, ClientEvent, ClientOptions as NativeOptions, Resolution,
    SyncStatus, TrackEvent, now_ms,
};
use burgee_core::ValueKind;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::context::{Context, with_context};
use crate::snapshot::{SnapshotInfoJs, details_js, info_js};
use crate::{Code, coded, fast, general, js_to_ms, ms_to_js, napi_general};

/// Options of `new Client(...)`; times in ms. Absent numbers take `defaults()` (the one table
/// of every SDK, `burgee_client::DEFAULTS`).
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
    /// Poll period, ms.
    pub poll_interval_ms: Option<u32>,
    /// Request timeout, ms.
    pub request_timeout_ms: Option<u32>,
    /// Stream idle timeout, ms.
    pub stream_idle_timeout_ms: Option<u32>,
    /// Backoff base, ms.
    pub backoff_base_ms: Option<u32>,
    /// Backoff cap, ms.
    pub backoff_cap_ms: Option<u32>,
    /// Lowest acceptable version.
    pub min_version: Option<f64>,
    /// Record exposures (default true).
    pub send_exposures: Option<bool>,
    /// Event flush interval, ms.
    pub flush_interval_ms: Option<u32>,
    /// Events per batch.
    pub flush_size: Option<u32>,
    /// Events kept in memory.
    pub max_queued_events: Option<u32>,
    /// Exposure dedupe window, ms.
    pub dedupe_window_ms: Option<u32>,
    /// Time `close()` may spend delivering events, ms.
    pub close_timeout_ms: Option<u32>,
}

pub(crate) fn native_options(o: ClientOptionsJs) -> Result<NativeOptions, Code> {
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

#[napi]
impl Client {
    /// Starts the client (loads bootstrap and persisted files synchronously; the server is
    /// contacted in the background). Throws `BurgeeError` (`PARSE_ERROR` for a bad key,
    /// `GENERAL` for bad configuration).
    #[napi(constructor)]
    pub fn new(options: ClientOptionsJs) -> Result<Self, Code> {
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
    pub fn bind(&self, env: Env) -> Result<fast::Handle, Code> {
        fast::bind(&env, &self.inner).map_err(napi_general)
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
    pub fn on_event(&self, listener: Function<ClientEventJs, ()>) -> Result<(), Code> {
        let tsfn: ThreadsafeFunction<ClientEventJs, (), ClientEventJs, Status, false, true> =
            listener
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()
                .map_err(napi_general)?;
        let tsfn = Arc::new(tsfn);
        self.inner.subscribe(Arc::new(move |e: &ClientEvent| {
            let _ = tsfn.call(event_js(e), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// The value of an `object` flag (exposure recorded); `defaultValue`, the same object, on
    /// any error.
    #[napi(ts_return_type = "unknown")]
    pub fn get_object_value(
        &self,
        env: Env,
        flag_key: String,
        context: Either<&Context, Object>,
        default_value: Unknown,
    ) -> Result<fast::Handle, Code> {
        let r = self.object(&env, &flag_key, context, default_value)?;
        if r.error.is_some() {
            return Ok(fast::Handle(default_value.raw()));
        }
        Ok(fast::Handle(
            env.to_js_value(&r.value).map_err(napi_general)?.raw(),
        ))
    }

    /// Details of an `object` flag (exposure recorded); on error the value is `defaultValue`.
    #[napi(ts_return_type = "EvaluationDetails<unknown>")]
    pub fn get_object_details(
        &self,
        env: Env,
        flag_key: String,
        context: Either<&Context, Object>,
        default_value: Unknown,
    ) -> Result<fast::Handle, Code> {
        let r = self.object(&env, &flag_key, context, default_value)?;
        details_js(&env, &r, Some(default_value))
    }

    /// The client's typed getter of `object` flags with a JS default (not an object:
    /// `TYPE_MISMATCH`; a bad plain context: `INVALID_CONTEXT`).
    fn object(
        &self,
        env: &Env,
        flag_key: &str,
        context: Either<&Context, Object>,
        default_value: Unknown,
    ) -> Result<Resolution<Value>, Code> {
        let default: Value = env.from_js_value(default_value).unwrap_or(Value::Null);
        Ok(
            match with_context(env, context, |ctx| {
                self.inner
                    .get_json(ValueKind::Object, flag_key, ctx, &default)
            }) {
                Ok(r) => r,
                Err(e) => Resolution::error(flag_key, default, e),
            },
        )
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
    ) -> Result<(), Code> {
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
