//! `@burgee/wasm`: the Burgee core compiled to WebAssembly with wasm-bindgen, for browsers,
//! CDN workers (Cloudflare workerd) and Node.
//!
//! This crate only converts types and errors; verification, evaluation, anti-rollback,
//! exposure dedupe and batching live in `burgee-core` (its sans-IO `client` and `engine` modules; `Engine` here wraps
//! `burgee_core::engine::Engine`). The
//! package's JavaScript (`bindings/wasm/js/`) does the I/O: `fetch` with ETags, the server-sent
//! event stream, `localStorage`, `navigator.sendBeacon`, timers.
//!
//! Conventions at the boundary: times are JavaScript numbers of milliseconds since the Unix
//! epoch (non-negative integers); a thrown error is a JavaScript `Error` named `BurgeeError`
//! with a `code` property holding a stable code of `spec/SNAPSHOT.md` §6 (message
//! `"<CODE>: <text>"`); evaluation never throws for flag-level problems but returns details
//! with `reason: "ERROR"` and an `errorCode`, as OpenFeature specifies.

mod config;
mod conv;
mod engine;
mod snapshot;

use burgee_core::ErrorCode;
use burgee_core::engine::{DEFAULTS, openfeature_error_code, stream_limit};
use wasm_bindgen::prelude::*;

pub use config::ConfigEngine;
pub use engine::Engine;
pub use snapshot::{Context, Snapshot};

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

/// The OpenFeature error code of a Burgee `code` (`GENERAL` for snapshot codes, which never
/// come from an evaluation). Throws `GENERAL` for an unknown code.
#[wasm_bindgen(js_name = openFeatureErrorCode)]
pub fn openfeature_code(code: &str) -> Result<String, JsValue> {
    ErrorCode::parse(code)
        .map(|c| openfeature_error_code(c).to_owned())
        .ok_or_else(|| conv::general(format!("unknown error code \"{code}\"")))
}

/// The default of every client option (the core's one table, `burgee_core::engine::DEFAULTS`):
/// `{pollIntervalMs, requestTimeoutMs, streamIdleTimeoutMs, backoffBaseMs, backoffCapMs,
/// maxEnvelopeBytes, flushIntervalMs, flushSize, maxQueuedEvents, dedupeWindowMs,
/// closeTimeoutMs, readyTimeoutMs}`; times in ms, sizes in bytes or events.
#[wasm_bindgen]
pub fn defaults() -> JsValue {
    conv::json_js(&DEFAULTS)
}

/// The longest line and largest event (characters) a stream reader accepts for envelopes of
/// at most `max_envelope_bytes`: that plus 64 KiB of headroom.
#[wasm_bindgen(js_name = streamLimit)]
pub fn stream_limit_js(max_envelope_bytes: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let limit = stream_limit(max_envelope_bytes.max(0.0) as usize) as f64;
    limit
}
