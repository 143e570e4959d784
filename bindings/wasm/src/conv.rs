//! Conversions at the JavaScript boundary: errors (`BurgeeError` with a `code` property),
//! times, option objects, details ([`Resolution`] → one `JSON.parse`d object), snapshot info.

use std::fmt::Display;

use burgee_core::client::SyncStatus;
use burgee_core::engine::Resolution;
use burgee_core::{ErrorCode, EvaluationDetails, Snapshot as CoreSnapshot, TrustedKey, ValueKind};
use js_sys::{Object, Reflect};
use serde_json::Value;
use wasm_bindgen::intern;
use wasm_bindgen::prelude::*;

/// A `BurgeeError`: a JS `Error` with `name = "BurgeeError"` and `code` = the stable code.
pub(crate) fn coded(code: ErrorCode, message: impl Display) -> JsValue {
    let e = js_sys::Error::new(&format!("{}: {message}", code.as_str()));
    e.set_name("BurgeeError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&e, &JsValue::from_str("code"), &code.as_str().into());
    e.into()
}

pub(crate) fn general(message: impl Display) -> JsValue {
    coded(ErrorCode::General, message)
}

/// A time argument: a non-negative integer number of ms, or the current time when absent.
pub(crate) fn ms(now: Option<f64>) -> Result<u64, JsValue> {
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
pub(crate) fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    what: &str,
    v: JsValue,
) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v)
        .map_err(|e| coded(ErrorCode::ParseError, format!("{what}: {e}")))
}

pub(crate) fn set(obj: &Object, key: &str, value: &JsValue) {
    // Defining a property on a plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(intern(key)), value);
}

/// A JS string of a value from a small set (codes, statuses): interned, so repeated calls
/// skip UTF-8 decoding on the JS side.
pub(crate) fn js_str(s: &str) -> JsValue {
    JsValue::from_str(intern(s))
}

pub(crate) fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, js_str)
}

/// A value serialised to JSON text and parsed by `JSON.parse`: one string crossing instead of
/// a property set per member. Serialising plain data cannot fail.
pub(crate) fn json_js<T: serde::Serialize>(v: &T) -> JsValue {
    serde_json::to_string(v)
        .ok()
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .unwrap_or(JsValue::NULL)
}

/// OpenFeature resolution details as a JS object (the core's [`Resolution`] shape:
/// `{flagKey, value, variant, reason, ruleId, errorCode, errorMessage, flagMetadata}`); on
/// error the value is the caller's own `default` object.
pub(crate) fn resolution_js(r: &Resolution<Value>, default: &JsValue) -> JsValue {
    if r.error.is_none() {
        return json_js(r);
    }
    let o = json_js(&Resolution {
        flag_key: r.flag_key.clone(),
        value: (),
        variant: None,
        reason: r.reason,
        rule_id: None,
        error: r.error.clone(),
        metadata: r.metadata.clone(),
    });
    if let Some(obj) = o.dyn_ref::<Object>() {
        set(obj, "value", default);
    }
    o
}

/// Details of an untyped evaluation: the variant's value as JSON, `null` on error.
pub(crate) fn details_js(flag_key: &str, d: &EvaluationDetails<'_>) -> JsValue {
    json_js(&Resolution::new(flag_key, d.value, d))
}

/// A JS default as the JSON the core's typed getter of `kind` expects (`null` when it is not
/// of that kind: the getter reports `TYPE_MISMATCH`).
pub(crate) fn default_json(kind: ValueKind, v: &JsValue) -> Value {
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

/// A `kind` argument (`boolean`, `string`, `number`, `integer`, `object`).
pub(crate) fn kind(kind: &str) -> Result<ValueKind, JsValue> {
    ValueKind::parse(kind).ok_or_else(|| {
        general(format!(
            "unknown kind \"{kind}\" (boolean, string, number, integer, object)"
        ))
    })
}

pub(crate) fn info_js(s: &CoreSnapshot) -> JsValue {
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

pub(crate) fn parse_keys(keys: &[String]) -> Result<Vec<TrustedKey>, JsValue> {
    if keys.is_empty() {
        return Err(general("trustedKeys: at least one public key is needed"));
    }
    keys.iter()
        .map(|k| TrustedKey::from_base64(k).map_err(|e| coded(e.code(), e)))
        .collect()
}

/// `{status: "NOT_READY" | "READY" | "STALE" | "ERROR", errorCode, lastErrorCode,
/// lastErrorMessage}` of a sync state.
pub(crate) fn status_js(status: &SyncStatus, last: Option<(ErrorCode, &str)>) -> JsValue {
    let o = Object::new();
    set(&o, "status", &status.as_str().into());
    set(
        &o,
        "errorCode",
        &opt_str(status.error_code().map(ErrorCode::as_str)),
    );
    set(&o, "lastErrorCode", &opt_str(last.map(|(c, _)| c.as_str())));
    set(&o, "lastErrorMessage", &opt_str(last.map(|(_, m)| m)));
    o.into()
}
