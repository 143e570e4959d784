//! `Context` and `Snapshot`: a context built once and reused, and a verified snapshot evaluated
//! with an explicit `now` (workers, tests; most apps use the package's `Client`).

use std::sync::Arc;

use burgee_core::engine::resolve_json;
use burgee_core::{
    Audience, Context as CoreContext, ErrorCode, Held, LoadOptions, Snapshot as CoreSnapshot,
};
use js_sys::Object;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::conv::{
    self, coded, default_json, details_js, from_js, general, info_js, ms, parse_keys,
    resolution_js, set,
};

/// An evaluation context (OpenFeature): `new Context({targetingKey: "user-1", country: "DE",
/// groups: ["beta"]})`. Attribute values are strings, finite numbers, booleans or arrays of
/// strings; `targetingKey` is the unit for individual targets and rollouts. Build it once per
/// user and reuse it: attribute names and values are hashed when it is built.
#[wasm_bindgen]
pub struct Context {
    pub(crate) inner: CoreContext,
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
    pub(crate) inner: Arc<CoreSnapshot>,
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
        Ok(details_js(flag_key, &d))
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
        let kind = conv::kind(kind)?;
        let default = default_json(kind, &default_value);
        let r = resolve_json(
            &self.inner,
            kind,
            flag_key,
            &context.inner,
            ms(now)?,
            &default,
            |_| {},
        );
        Ok(resolution_js(&r, &default_value))
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
            set(&out, key, &details_js(key, &d));
        }
        Ok(out.into())
    }
}
