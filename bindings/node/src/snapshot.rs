//! `Snapshot`: a verified (or unsigned) snapshot evaluated with an explicit `now`, for tests,
//! tools and offline evaluation (applications use `Client`).
#![allow(unsafe_code)] // building the details object with the raw helpers of `fast`

use std::sync::Arc;

use burgee_client::Resolution;
use burgee_core::engine::resolve_json;
use burgee_core::{
    Audience, FlagValue, Held, LoadOptions, Snapshot as CoreSnapshot, TrustedKey, ValueKind,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use crate::context::{Context, with_context};
use crate::{Code, coded, fast, general, js_to_ms, ms_to_js, napi_general, now_or};

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

pub(crate) fn info_js(s: &CoreSnapshot) -> SnapshotInfoJs {
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
    pub(crate) inner: Arc<CoreSnapshot>,
}

#[napi]
impl Snapshot {
    /// Verifies an envelope (`spec/SNAPSHOT.md` §5.3); throws `BurgeeError` with the code of
    /// the first failing check.
    #[napi(factory)]
    pub fn load(
        envelope: Either<String, Buffer>,
        options: LoadOptionsJs,
    ) -> Result<Snapshot, Code> {
        let keys = options
            .trusted_keys
            .iter()
            .map(|k| TrustedKey::from_base64(k))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| coded(e.code(), e))?;
        let now = now_or(options.now)?;
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
    pub fn from_json(document: String) -> Result<Snapshot, Code> {
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
    #[napi(ts_return_type = "EvaluationDetails<unknown>")]
    pub fn evaluate(
        &self,
        env: Env,
        flag_key: String,
        context: Either<&Context, Object>,
        now: Option<f64>,
    ) -> Result<fast::Handle, Code> {
        let now = now_or(now)?;
        let r = match with_context(&env, context, |ctx| {
            let d = self.inner.evaluate(&flag_key, ctx, now);
            Resolution::new(
                &flag_key,
                d.value.map_or(Value::Null, FlagValue::to_json),
                &d,
            )
        }) {
            Ok(r) => r,
            Err(e) => Resolution::error(&flag_key, Value::Null, e),
        };
        details_js(&env, &r, None)
    }

    /// Typed evaluation (`kind`: `boolean`, `string`, `number` (float), `integer`, `object`)
    /// at `now` (ms; default the clock), with the caller's `defaultValue` (served, as the same
    /// object, on any error).
    #[napi(ts_return_type = "EvaluationDetails<unknown>")]
    pub fn get_details(
        &self,
        env: Env,
        kind: String,
        flag_key: String,
        context: Either<&Context, Object>,
        default_value: Unknown,
        now: Option<f64>,
    ) -> Result<fast::Handle, Code> {
        let kind = parse_kind(&kind)?;
        let now = now_or(now)?;
        let default: Value = env.from_js_value(default_value).unwrap_or(Value::Null);
        let r = match with_context(&env, context, |ctx| {
            resolve_json(&self.inner, kind, &flag_key, ctx, now, &default, |_| {})
        }) {
            Ok(r) => r,
            Err(e) => Resolution::error(&flag_key, default.clone(), e),
        };
        details_js(&env, &r, Some(default_value))
    }
}

/// The details object of `r` (`fast::details_object`, the one conversion of this package):
/// the value as JS, or on error the caller's own `default` object when given.
pub(crate) fn details_js(
    env: &Env,
    r: &Resolution<Value>,
    default: Option<Unknown>,
) -> Result<fast::Handle, Code> {
    let value = match (default, &r.error) {
        (Some(d), Some(_)) => d.raw(),
        _ => env.to_js_value(&r.value).map_err(napi_general)?.raw(),
    };
    // SAFETY: a live env of the running `#[napi]` call.
    unsafe { fast::details_object(env.raw(), r, value) }
        .map(fast::Handle)
        .ok_or_else(|| general("building the details object failed"))
}

/// A `kind` argument.
pub(crate) fn parse_kind(kind: &str) -> Result<ValueKind, Code> {
    ValueKind::parse(kind).ok_or_else(|| {
        general(format!(
            "unknown kind \"{kind}\" (boolean, string, number, integer, object)"
        ))
    })
}
