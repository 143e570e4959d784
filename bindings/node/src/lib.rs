//! # burgee-node
//!
//! The native half of the npm package `@burgee/node` (napi-rs). It converts JavaScript values
//! to `burgee-core` / `burgee-client` types and back, and errors to JavaScript `Error`s whose
//! `code` property is the stable code (`index.js` makes them `BurgeeError`s). It must hold no
//! evaluation, sync or event logic: evaluation with exposures, the not-ready answer, the
//! details shape, the OpenFeature mapping and the option defaults are `burgee-client`'s and
//! `burgee-core`'s, once for every language.
//!
//! ```text
//!  JS  ──► Client (client.rs)       ──► burgee_client::Client ──► background sync / events threads
//!       ──► Context handle (context.rs) ──► burgee_core::Context (built once, reused)
//!       ──► get*Value / get*Details (fast/) ──► burgee_client typed getters ──► JS values
//!       ──► Snapshot (snapshot.rs)   ──► burgee_core::Snapshot with an explicit `now`
//! ```
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod config;
mod context;
mod fast;
mod snapshot;

use burgee_client::{DEFAULTS, now_ms, openfeature_error_code};
use burgee_core::ErrorCode;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

pub use client::Client;
pub use config::ConfigClient;
pub use context::Context;
pub use snapshot::Snapshot;

/// The `code` of a thrown error: a stable code string (`ErrorCode::as_str`). A `#[napi]`
/// function returning `Result<T, Code>` throws a JS `Error` whose `code` property is that
/// string and whose `message` is the text (napi sets `code` from the error's status).
#[derive(Debug, Clone, Copy)]
pub struct Code(ErrorCode);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

/// An error with the stable `code` and `message`.
fn coded(code: ErrorCode, message: impl std::fmt::Display) -> napi::Error<Code> {
    napi::Error::new(Code(code), message.to_string())
}

fn general(message: impl std::fmt::Display) -> napi::Error<Code> {
    coded(ErrorCode::General, message)
}

/// A napi error (a failed conversion) as `GENERAL`.
fn napi_general(e: napi::Error) -> napi::Error<Code> {
    general(e.reason)
}

/// Every stable error code, in documentation order (`ErrorCode::ALL`).
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

/// Throws the error of `code` with `message` (for tests of the mapping); throws `GENERAL`
/// for an unknown code.
#[napi]
pub fn throw_for_code(code: String, message: String) -> Result<(), Code> {
    match ErrorCode::parse(&code) {
        Some(c) => Err(coded(c, message)),
        None => Err(general(format!("unknown error code \"{code}\""))),
    }
}

/// The OpenFeature error code of a Burgee `code` (the core's one mapping: `GENERAL` for the
/// snapshot codes, which never come from an evaluation); throws `GENERAL` for an unknown code.
#[napi(js_name = "openFeatureErrorCode")]
pub fn openfeature_code(code: String) -> Result<String, Code> {
    ErrorCode::parse(&code)
        .map(|c| openfeature_error_code(c).to_owned())
        .ok_or_else(|| general(format!("unknown error code \"{code}\"")))
}

/// The default of every client option (`burgee_client::DEFAULTS`, the one table every SDK
/// uses): `{pollIntervalMs, requestTimeoutMs, streamIdleTimeoutMs, backoffBaseMs,
/// backoffCapMs, maxEnvelopeBytes, flushIntervalMs, flushSize, maxQueuedEvents,
/// dedupeWindowMs, closeTimeoutMs, readyTimeoutMs}`; times in ms.
#[napi]
pub fn defaults() -> Result<Value, Code> {
    serde_json::to_value(DEFAULTS).map_err(general)
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

fn js_to_ms(ms: f64) -> Result<u64, Code> {
    if (0.0..=9_007_199_254_740_991.0).contains(&ms) && ms.fract() == 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(ms as u64)
    } else {
        Err(general(format!(
            "{ms} is not a time in ms (a non-negative integer)"
        )))
    }
}

/// A time argument, or the clock's when absent.
fn now_or(now: Option<f64>) -> Result<u64, Code> {
    now.map_or_else(|| Ok(now_ms()), js_to_ms)
}
