//! `Snapshot`: a verified (or unsigned) snapshot evaluated with an explicit `now`, for tests,
//! tools and offline evaluation (applications use `Client`).

use std::sync::Arc;

use burgee_client::{Resolution, now_ms};
use burgee_core::engine::resolve_json;
use burgee_core::{Audience, FlagValue, Held, LoadOptions, Snapshot as CoreSnapshot, TrustedKey};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use serde_json::Value;

use crate::context::with_context;
use crate::details::{EvaluationDetails_, default_json, details_py, parse_kind, resolution_py};
use crate::errors::{coded, general};
use crate::values::{json_to_py, py_to_json};

/// Snapshot identity: `{project, environment, version, issued_at, expires_at, digest}` (ms).
pub(crate) fn info_dict<'py>(py: Python<'py>, s: &CoreSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let i = s.info();
    let d = PyDict::new(py);
    d.set_item("project", &i.project)?;
    d.set_item("environment", &i.environment)?;
    d.set_item("version", i.version)?;
    d.set_item("issued_at", i.issued_at)?;
    d.set_item("expires_at", i.expires_at)?;
    d.set_item("digest", i.digest.as_deref())?;
    Ok(d)
}

/// A verified (or, with `from_json`, unsigned) snapshot evaluated with an explicit `now`
/// (ms). Most applications use `Client`; this is for tests, tools and offline evaluation.
#[pyclass(frozen, module = "burgee._native")]
pub(crate) struct Snapshot {
    inner: Arc<CoreSnapshot>,
}

#[pymethods]
impl Snapshot {
    /// Verifies an envelope (`spec/SNAPSHOT.md` §5.3); raises the exception of the first
    /// failing check (`SignatureInvalid`, `ProjectMismatch`, `SnapshotExpired`, ...).
    /// `project`: the project the snapshot must be for (`None`: not checked); `audience`:
    /// `"server"` (default) or `"client"`.
    #[staticmethod]
    #[pyo3(signature = (envelope, *, trusted_keys, environment, project=None, audience=None, now=None, held_version=None, held_digest=None, min_version=0, max_envelope_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn load(
        envelope: &Bound<'_, PyAny>,
        trusted_keys: Vec<String>,
        environment: &str,
        project: Option<&str>,
        audience: Option<&str>,
        now: Option<u64>,
        held_version: Option<u64>,
        held_digest: Option<&str>,
        min_version: u64,
        max_envelope_bytes: Option<usize>,
    ) -> PyResult<Snapshot> {
        let bytes: Vec<u8> = if let Ok(b) = envelope.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            envelope.extract::<String>()?.into_bytes()
        };
        let keys = trusted_keys
            .iter()
            .map(|k| TrustedKey::from_base64(k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| coded(e.code(), e))?;
        let mut opts = LoadOptions::new(&keys, environment, now.unwrap_or_else(now_ms));
        opts.project = project;
        if let Some(a) = audience {
            opts.audience = Audience::parse(a)
                .ok_or_else(|| general(format!("audience \"{a}\" is not server or client")))?;
        }
        if let Some(v) = held_version {
            opts.held = Some(Held {
                version: v,
                digest: held_digest.unwrap_or(""),
            });
        }
        opts.min_version = min_version;
        if let Some(m) = max_envelope_bytes {
            opts.max_envelope_bytes = m;
        }
        let snap = CoreSnapshot::load(&bytes, &opts).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// Compiles an unsigned snapshot document (str or dict; no signature checks); raises
    /// `ParseError` / `SnapshotInvalid`.
    #[staticmethod]
    fn from_json(document: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        let text = match document.cast::<PyString>() {
            Ok(s) => s.to_cow()?.into_owned(),
            Err(_) => serde_json::to_string(&py_to_json(document)?).map_err(general)?,
        };
        let snap = CoreSnapshot::from_json(text.as_bytes()).map_err(|e| coded(e.code(), e))?;
        Ok(Snapshot {
            inner: Arc::new(snap),
        })
    }

    /// `{project, environment, version, issued_at, expires_at, digest}`.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        info_dict(py, &self.inner)
    }

    /// Every flag key, in snapshot order.
    fn flag_keys(&self) -> Vec<String> {
        self.inner.flag_keys().map(str::to_owned).collect()
    }

    /// Untyped evaluation at `now` (ms; default the clock): `value` is `None` on error.
    #[pyo3(signature = (flag_key, context=None, now=None))]
    fn evaluate(
        &self,
        py: Python<'_>,
        flag_key: &str,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<u64>,
    ) -> PyResult<EvaluationDetails_> {
        let now = now.unwrap_or_else(now_ms);
        let r = match with_context(context, |ctx| {
            let d = self.inner.evaluate(flag_key, ctx, now);
            Resolution::new(
                flag_key,
                d.value.map_or(Value::Null, FlagValue::to_json),
                &d,
            )
        }) {
            Ok(r) => r,
            Err(e) => Resolution::error(flag_key, Value::Null, e),
        };
        let value = json_to_py(py, &r.value)?;
        details_py(py, r.map(|_| value))
    }

    /// Typed evaluation (`kind`: `boolean`, `string`, `float`, `integer`, `object`) at `now`
    /// (ms; default the clock) with the caller's default (served, the same object, on any
    /// error; `TYPE_MISMATCH` for a default of another kind).
    #[pyo3(signature = (kind, flag_key, default_value, context=None, now=None))]
    fn get_details(
        &self,
        py: Python<'_>,
        kind: &str,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<u64>,
    ) -> PyResult<EvaluationDetails_> {
        let kind = parse_kind(kind)?;
        let now = now.unwrap_or_else(now_ms);
        let default = default_json(default_value);
        let r = match with_context(context, |ctx| {
            resolve_json(&self.inner, kind, flag_key, ctx, now, &default, |_| {})
        }) {
            Ok(r) => r,
            Err(e) => Resolution::error(flag_key, Value::Null, e),
        };
        resolution_py(py, r, default_value)
    }
}
