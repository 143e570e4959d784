//! `ConfigClient`: a service's configuration (`burgee_client::ConfigClient`) for JavaScript —
//! values resolved for this instance, status, change events with the keys that changed.
//! Conversion only; the sync, verification and diff are `burgee-client`'s and `burgee-core`'s.

use std::sync::Arc;
use std::time::Duration;

use burgee_client::{ConfigClient as Native, ConfigEntryValue, ConfigEvent, SyncStatus};
use burgee_core::Context as CoreContext;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{Map, Value, json};

use crate::client::{ClientOptionsJs, StatusJs, native_options};
use crate::{Code, coded, ms_to_js, napi_general};

/// An entry's value as JSON: `{format, raw, value, revision, overrideId}`.
fn entry_json(v: &ConfigEntryValue) -> Value {
    json!({
        "format": v.format.as_str(),
        "raw": v.raw,
        "value": v.value,
        "revision": v.revision,
        "overrideId": v.override_id,
    })
}

/// A configuration event as JSON: `{kind: "changed", oldVersion, newVersion, changes: [{key,
/// old, new}]}` (old/new are entry values or `null`) or `{kind: "status", status, errorCode,
/// message}`.
fn event_json(e: &ConfigEvent) -> Value {
    match e {
        ConfigEvent::Changed {
            old_version,
            new_version,
            changes,
        } => json!({
            "kind": "changed",
            "oldVersion": old_version.map(ms_to_js),
            "newVersion": ms_to_js(*new_version),
            "changes": changes.iter().map(|c| json!({
                "key": c.key,
                "old": c.old.as_ref().map(entry_json),
                "new": c.new.as_ref().map(entry_json),
            })).collect::<Vec<_>>(),
        }),
        ConfigEvent::Status { status, message } => json!({
            "kind": "status",
            "status": status.as_str(),
            "errorCode": status.error_code().map(|c| c.as_str()),
            "message": message,
        }),
    }
}

/// `waitUntilReady` on the libuv thread pool.
pub struct ConfigWaitReady {
    client: Arc<Native>,
    timeout: Duration,
}

impl Task for ConfigWaitReady {
    type Output = SyncStatus;
    type JsValue = String;
    fn compute(&mut self) -> Result<SyncStatus> {
        Ok(self.client.wait_until_ready(self.timeout))
    }
    fn resolve(&mut self, _env: Env, output: SyncStatus) -> Result<String> {
        Ok(output.as_str().to_owned())
    }
}

/// A service's configuration, verified and kept current in the background.
#[napi]
pub struct ConfigClient {
    inner: Arc<Native>,
}

#[napi]
impl ConfigClient {
    /// `options` as `Client`'s (`persistPath` and `bootstrap` hold the config document);
    /// `service` the service name; `instance` this instance's attributes (`targetingKey` the
    /// instance id, `host`, `zone`, `version`, `labels`...). Throws `BurgeeError`.
    #[napi(constructor)]
    pub fn new(
        options: ClientOptionsJs,
        service: String,
        instance: Option<Value>,
    ) -> Result<Self, Code> {
        let mut opts = native_options(options)?;
        opts.sdk_name = "burgee-node-config".into();
        let instance = instance.unwrap_or_else(|| Value::Object(Map::new()));
        let ctx = CoreContext::from_json(&instance).map_err(|e| coded(e.code(), e))?;
        let inner = Native::new(opts, &service, ctx).map_err(|e| coded(e.code, e.message))?;
        Ok(ConfigClient {
            inner: Arc::new(inner),
        })
    }

    /// Resolves with the status once a document is held (`READY`/`STALE`) or one was refused
    /// (`ERROR`), or with `NOT_READY` after `timeoutMs`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_until_ready(&self, timeout_ms: u32) -> AsyncTask<ConfigWaitReady> {
        AsyncTask::new(ConfigWaitReady {
            client: Arc::clone(&self.inner),
            timeout: Duration::from_millis(u64::from(timeout_ms)),
        })
    }

    /// `{format, raw, value, revision, overrideId}` of `key` for this instance, or `null`.
    #[napi]
    pub fn get(&self, key: String) -> Option<Value> {
        self.inner.get(&key).as_ref().map(entry_json)
    }

    /// Every key's value for this instance: `{key: {format, raw, value, revision, overrideId}}`.
    #[napi]
    pub fn values(&self) -> Value {
        Value::Object(
            self.inner
                .values()
                .iter()
                .map(|(k, v)| (k.clone(), entry_json(v)))
                .collect(),
        )
    }

    /// The version of the document held, or `null`.
    #[napi]
    pub fn version(&self) -> Option<f64> {
        self.inner.document().map(|d| ms_to_js(d.info().version))
    }

    /// Status and last error.
    #[napi]
    pub fn status(&self) -> StatusJs {
        let (status, last) = self.inner.status();
        StatusJs {
            status: status.as_str().to_owned(),
            error_code: status.error_code().map(|c| c.as_str().to_owned()),
            last_error_code: last.as_ref().map(|(c, _)| c.as_str().to_owned()),
            last_error_message: last.map(|(_, m)| m),
        }
    }

    /// Calls `listener(event)` on the main thread for every new document (with the keys whose
    /// value changed for this instance) and status change.
    #[napi]
    pub fn on_event(&self, listener: Function<Value, ()>) -> Result<(), Code> {
        let tsfn: ThreadsafeFunction<Value, (), Value, Status, false, true> = listener
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(napi_general)?;
        let tsfn = Arc::new(tsfn);
        self.inner.subscribe(Arc::new(move |e: &ConfigEvent| {
            let _ = tsfn.call(event_json(e), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// Stops synchronising; the document held keeps serving.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
