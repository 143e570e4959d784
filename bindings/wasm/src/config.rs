//! `ConfigEngine`: the sans-IO state of a service's configuration (the core's
//! `SyncState<ConfigDocument>`) for the package's `WorkerConfigClient`, which feeds it what it
//! fetches. Conversion only: verification, anti-rollback, override resolution for the instance
//! and the list of changed keys are the core's (`burgee_core::config`).

use std::collections::BTreeMap;

use burgee_core::client::{ApplyOutcome, SyncConfig, SyncState};
use burgee_core::config::changes;
use burgee_core::{ConfigChange, ConfigDocument, ConfigEntryValue, Context as CoreContext};
use js_sys::{Array, Object};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::conv::{coded, from_js, json_js, ms, num, opt_str, parse_keys, set, status_js};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigEngineOptions {
    #[serde(default)]
    project: Option<String>,
    environment: String,
    service: String,
    trusted_keys: Vec<String>,
    #[serde(default)]
    instance: Option<Value>,
    #[serde(default)]
    min_version: Option<u64>,
    #[serde(default)]
    max_envelope_bytes: Option<usize>,
}

/// A service's configuration: the verified config document held (`spec/CONFIG.md`) with
/// anti-rollback, the sync status, and the values resolved for this instance.
#[wasm_bindgen]
pub struct ConfigEngine {
    sync: SyncState<ConfigDocument>,
    instance: CoreContext,
    /// The values last reported by `apply`, to list what a newer document changed.
    seen: BTreeMap<String, ConfigEntryValue>,
}

#[wasm_bindgen]
impl ConfigEngine {
    /// `options`: `{project? (absent: not checked), environment, service, trustedKeys,
    /// instance? (the instance's attributes: targetingKey = instance id, host, zone, version,
    /// labels…), minVersion?, maxEnvelopeBytes?}`.
    ///
    /// Throws `PARSE_ERROR` for a malformed option or public key, `INVALID_CONTEXT` for bad
    /// instance attributes, `GENERAL` without keys.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<ConfigEngine, JsValue> {
        let o: ConfigEngineOptions = from_js("config client options", options)?;
        let mut sync = SyncConfig::new(parse_keys(&o.trusted_keys)?, o.environment);
        sync.project = o.project;
        sync.service = Some(o.service);
        sync.min_version = o.min_version.unwrap_or(0);
        if let Some(max) = o.max_envelope_bytes {
            sync.max_envelope_bytes = max;
        }
        let attributes = o
            .instance
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        let instance = CoreContext::from_json(&attributes).map_err(|e| coded(e.code(), e))?;
        Ok(ConfigEngine {
            sync: SyncState::new(sync),
            instance,
            seen: BTreeMap::new(),
        })
    }

    /// Verifies a config document envelope from the server (`etag`: the response's `ETag`)
    /// and keeps it when newer. Returns `{outcome: "updated", oldVersion, newVersion, changes:
    /// [{key, old, new}]}` (the keys whose value for this instance changed, sorted; `old` or
    /// `new` null for an added or removed key), `{outcome: "unchanged"}` or `{outcome:
    /// "refused", errorCode, message}` (the document held is kept). `now`: ms since epoch.
    pub fn apply(
        &mut self,
        envelope: &str,
        etag: Option<String>,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = ms(now)?;
        let outcome = self.sync.apply(envelope.as_bytes(), etag.as_deref(), now);
        Ok(self.outcome_js(&outcome, now))
    }

    /// As `apply`, for a local copy (bootstrap string, a stored last good document): a refusal
    /// is reported but does not change the status.
    #[wasm_bindgen(js_name = applyLocal)]
    pub fn apply_local(&mut self, envelope: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        let now = ms(now)?;
        let outcome = self.sync.apply_local(envelope.as_bytes(), now);
        Ok(self.outcome_js(&outcome, now))
    }

    /// The server answered 304: the document held is current.
    #[wasm_bindgen(js_name = notModified)]
    pub fn not_modified(&mut self) {
        self.sync.not_modified();
    }

    /// A fetch failed without a document (network, HTTP status); `message` is kept.
    #[wasm_bindgen(js_name = fetchFailed)]
    pub fn fetch_failed(&mut self, message: &str) {
        self.sync.fetch_failed(message);
    }

    /// `{status: "NOT_READY" | "READY" | "STALE" | "ERROR", errorCode, lastErrorCode,
    /// lastErrorMessage}`.
    pub fn status(&self) -> JsValue {
        status_js(self.sync.status(), self.sync.last_error())
    }

    /// The `If-None-Match` value for the next fetch, if a document is held.
    pub fn etag(&self) -> Option<String> {
        self.sync.etag().map(str::to_owned)
    }

    /// `{project, environment, service, version, issuedAt, expiresAt, secrets, digest, keyid}`
    /// of the document held, or `null`.
    pub fn info(&self) -> JsValue {
        let Some(doc) = self.sync.snapshot() else {
            return JsValue::NULL;
        };
        let i = doc.info();
        let o = Object::new();
        set(&o, "project", &i.project.as_str().into());
        set(&o, "environment", &i.environment.as_str().into());
        set(&o, "service", &i.service.as_str().into());
        set(&o, "version", &num(i.version));
        set(&o, "issuedAt", &num(i.issued_at));
        set(&o, "expiresAt", &num(i.expires_at));
        set(&o, "secrets", &i.secrets.into());
        set(&o, "digest", &opt_str(i.digest.as_deref()));
        set(&o, "keyid", &opt_str(i.keyid.as_deref()));
        o.into()
    }

    /// `{format, raw, value, revision, overrideId}` of entry `key` for this instance at `now`,
    /// or `null` (unknown key, or no document held).
    pub fn get(&self, key: &str, now: Option<f64>) -> Result<JsValue, JsValue> {
        let now = ms(now)?;
        Ok(self
            .sync
            .snapshot()
            .and_then(|d| d.get(key, &self.instance, now))
            .map_or(JsValue::NULL, |v| entry_js(&ConfigEntryValue::from(v))))
    }

    /// Every entry's `{format, raw, value, revision, overrideId}` for this instance, as
    /// `{key: entry}` sorted by key (empty without a document).
    pub fn values(&self, now: Option<f64>) -> Result<JsValue, JsValue> {
        let now = ms(now)?;
        let out = Object::new();
        if let Some(doc) = self.sync.snapshot() {
            for (key, v) in doc.values(&self.instance, now) {
                set(&out, &key, &entry_js(&v));
            }
        }
        Ok(out.into())
    }
}

impl ConfigEngine {
    fn outcome_js(&mut self, outcome: &ApplyOutcome, now: u64) -> JsValue {
        let o = Object::new();
        match outcome {
            ApplyOutcome::Updated { old, new } => {
                let values = self
                    .sync
                    .snapshot()
                    .map(|d| d.values(&self.instance, now))
                    .unwrap_or_default();
                let list = Array::new();
                for c in changes(&self.seen, &values) {
                    list.push(&change_js(&c));
                }
                self.seen = values;
                set(&o, "outcome", &"updated".into());
                set(&o, "oldVersion", &old.map_or(JsValue::NULL, num));
                set(&o, "newVersion", &num(*new));
                set(&o, "changes", &list);
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
}

/// `{format, raw, value, revision, overrideId}`.
fn entry_js(v: &ConfigEntryValue) -> JsValue {
    let o = Object::new();
    set(&o, "format", &v.format.as_str().into());
    set(&o, "raw", &v.raw.as_str().into());
    set(&o, "value", &json_js(&v.value));
    set(&o, "revision", &num(v.revision));
    set(&o, "overrideId", &opt_str(v.override_id.as_deref()));
    o.into()
}

/// `{key, old, new}` (entries or `null`).
fn change_js(c: &ConfigChange) -> JsValue {
    let o = Object::new();
    set(&o, "key", &c.key.as_str().into());
    set(&o, "old", &c.old.as_ref().map_or(JsValue::NULL, entry_js));
    set(&o, "new", &c.new.as_ref().map_or(JsValue::NULL, entry_js));
    o.into()
}
