//! # burgee-python
//!
//! The native half of the pip package `burgee` (pyo3, abi3 for CPython ≥ 3.10). It converts
//! Python values to `burgee-core` / `burgee-client` types and back, and stable error codes to
//! exception classes. It must hold no evaluation, sync or event logic: evaluation with
//! exposures, the typed dispatch, the details shape, the OpenFeature mapping and the option
//! defaults live in `burgee-core` and `burgee-client`, once for every language.
//!
//! ```text
//!  Python ──► Client (client.rs)    ──► burgee_client::Client ──► background sync / events threads
//!         ──► Context (context.rs)  ──► burgee_core::Context (built once, reused)
//!         ──► get_*_value / get_*_details ──► burgee_client typed getters ──► details.rs / values.rs
//!         ──► Snapshot (snapshot.rs) ──► burgee_core::Snapshot with an explicit `now`
//! ```
//! Network waits (`wait_until_ready`, `flush`, `close`) release the GIL.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod config;
mod context;
mod details;
mod errors;
mod snapshot;
mod values;

use burgee_client::{DEFAULTS, now_ms};
use burgee_core::ErrorCode;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use client::Client;
use context::Context;
use details::EvaluationDetails_;
use errors::{coded, general};
use snapshot::Snapshot;

/// Every stable error code, in documentation order.
#[pyfunction]
fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// Raises the exception of `code` with `message` (for tests of the mapping).
#[pyfunction]
fn raise_for_code(code: &str, message: &str) -> PyResult<()> {
    match ErrorCode::parse(code) {
        Some(c) => Err(coded(c, message)),
        None => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "unknown code {code}"
        ))),
    }
}

/// The OpenFeature error code of a Burgee `code` (the core's one mapping: `GENERAL` for
/// snapshot codes, which never come from an evaluation); raises `GeneralError` for an unknown
/// code.
#[pyfunction]
fn openfeature_error_code(code: &str) -> PyResult<&'static str> {
    ErrorCode::parse(code)
        .map(burgee_client::openfeature_error_code)
        .ok_or_else(|| general(format!("unknown error code \"{code}\"")))
}

/// The default of every client option (`burgee_client::DEFAULTS`, the one table of every SDK)
/// as a dict with snake_case keys (`poll_interval_ms`, ...); times in ms.
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let v = DEFAULTS;
    d.set_item("poll_interval_ms", v.poll_interval_ms)?;
    d.set_item("request_timeout_ms", v.request_timeout_ms)?;
    d.set_item("stream_idle_timeout_ms", v.stream_idle_timeout_ms)?;
    d.set_item("backoff_base_ms", v.backoff_base_ms)?;
    d.set_item("backoff_cap_ms", v.backoff_cap_ms)?;
    d.set_item("max_envelope_bytes", v.max_envelope_bytes)?;
    d.set_item("flush_interval_ms", v.flush_interval_ms)?;
    d.set_item("flush_size", v.flush_size)?;
    d.set_item("max_queued_events", v.max_queued_events)?;
    d.set_item("dedupe_window_ms", v.dedupe_window_ms)?;
    d.set_item("close_timeout_ms", v.close_timeout_ms)?;
    d.set_item("ready_timeout_ms", v.ready_timeout_ms)?;
    Ok(d)
}

/// The bucket (0..=9999) of `value` for `salt` and `seed` (`spec/SNAPSHOT.md` §4).
#[pyfunction]
fn bucket(salt: &str, seed: &str, value: &str) -> u32 {
    burgee_core::bucket(salt, seed, value)
}

/// Milliseconds since the Unix epoch, from the clock the client uses.
#[pyfunction]
fn now() -> u64 {
    now_ms()
}

/// The native module `burgee._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Context>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Client>()?;
    m.add_class::<config::ConfigClient>()?;
    m.add("EvaluationDetails", py.get_type::<EvaluationDetails_>())?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(raise_for_code, m)?)?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(now, m)?)?;
    m.add_function(wrap_pyfunction!(openfeature_error_code, m)?)?;
    m.add("DEFAULTS", defaults(py)?)?;
    m.add("BurgeeError", py.get_type::<errors::BurgeeError>())?;
    m.add("ParseError", py.get_type::<errors::ParseError>())?;
    m.add(
        "SnapshotTooLarge",
        py.get_type::<errors::SnapshotTooLarge>(),
    )?;
    m.add(
        "SignatureInvalid",
        py.get_type::<errors::SignatureInvalid>(),
    )?;
    m.add("KeyUntrusted", py.get_type::<errors::KeyUntrusted>())?;
    m.add(
        "PayloadTypeMismatch",
        py.get_type::<errors::PayloadTypeMismatch>(),
    )?;
    m.add("ProjectMismatch", py.get_type::<errors::ProjectMismatch>())?;
    m.add(
        "EnvironmentMismatch",
        py.get_type::<errors::EnvironmentMismatch>(),
    )?;
    m.add(
        "AudienceMismatch",
        py.get_type::<errors::AudienceMismatch>(),
    )?;
    m.add("ServiceMismatch", py.get_type::<errors::ServiceMismatch>())?;
    m.add(
        "SnapshotRollback",
        py.get_type::<errors::SnapshotRollback>(),
    )?;
    m.add("SnapshotExpired", py.get_type::<errors::SnapshotExpired>())?;
    m.add("SnapshotInvalid", py.get_type::<errors::SnapshotInvalid>())?;
    m.add("FlagNotFound", py.get_type::<errors::FlagNotFound>())?;
    m.add("TypeMismatch", py.get_type::<errors::TypeMismatch>())?;
    m.add(
        "TargetingKeyMissing",
        py.get_type::<errors::TargetingKeyMissing>(),
    )?;
    m.add("InvalidContext", py.get_type::<errors::InvalidContext>())?;
    m.add("GeneralError", py.get_type::<errors::GeneralError>())?;
    Ok(())
}
