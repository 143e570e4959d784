//! Evaluation details (OpenFeature's shape) for Python: the one conversion of the core's
//! [`Resolution`], and the conversion of a Python default for the core's typed getters.

use burgee_client::Resolution;
use burgee_core::{MetadataValue, ValueKind};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::errors::general;
use crate::values::{json_to_py, py_to_json};

/// What an evaluation served (OpenFeature evaluation details). `value` is the caller's
/// default when `reason` is `ERROR`.
#[pyclass(frozen, get_all, module = "burgee._native")]
pub(crate) struct EvaluationDetails_ {
    /// The flag evaluated.
    flag_key: String,
    /// Value served, or the default.
    value: Py<PyAny>,
    /// Variant served, or `None`.
    variant: Option<String>,
    /// `STATIC`, `DEFAULT`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`, `PREREQUISITE_FAILED`,
    /// `ERROR`.
    reason: &'static str,
    /// Rule that decided, if any.
    rule_id: Option<String>,
    /// Stable code when `reason` is `ERROR`.
    error_code: Option<&'static str>,
    /// Human-readable error.
    error_message: Option<String>,
    /// Flag metadata (str, float, bool values).
    flag_metadata: Py<PyDict>,
}

#[pymethods]
impl EvaluationDetails_ {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "EvaluationDetails(flag_key={:?}, value={}, variant={:?}, reason={:?}, rule_id={:?}, error_code={:?})",
            self.flag_key,
            self.value
                .bind(py)
                .repr()
                .map(|r| r.to_string())
                .unwrap_or_default(),
            self.variant,
            self.reason,
            self.rule_id,
            self.error_code
        )
    }
}

/// The details object of `r`, whose value is already a Python object.
pub(crate) fn details_py(py: Python<'_>, r: Resolution<Py<PyAny>>) -> PyResult<EvaluationDetails_> {
    let metadata = PyDict::new(py);
    for (k, v) in &r.metadata {
        match v {
            MetadataValue::String(s) => metadata.set_item(k, &**s)?,
            MetadataValue::Number(n) => metadata.set_item(k, *n)?,
            MetadataValue::Bool(b) => metadata.set_item(k, *b)?,
        }
    }
    Ok(EvaluationDetails_ {
        error_code: r.error_code().map(|c| c.as_str()),
        reason: r.reason.as_str(),
        flag_key: r.flag_key,
        value: r.value,
        variant: r.variant,
        rule_id: r.rule_id,
        error_message: r.error.map(|e| e.message),
        flag_metadata: metadata.unbind(),
    })
}

/// The details of a JSON resolution: the served value converted, or on error the caller's
/// own `default` object.
pub(crate) fn resolution_py(
    py: Python<'_>,
    r: Resolution<Value>,
    default: &Bound<'_, PyAny>,
) -> PyResult<EvaluationDetails_> {
    let value = match r.error {
        Some(_) => default.clone().unbind(),
        None => json_to_py(py, &r.value)?,
    };
    details_py(py, r.map(|_| value))
}

/// A `kind` argument: `boolean`, `string`, `float` (or `number`), `integer`, `object`.
pub(crate) fn parse_kind(kind: &str) -> PyResult<ValueKind> {
    ValueKind::parse(kind).ok_or_else(|| {
        general(format!(
            "unknown kind \"{kind}\" (boolean, string, float, integer, object)"
        ))
    })
}

/// A Python default as JSON for the core's typed getters (which answer `TYPE_MISMATCH` for a
/// default not of the kind asked for); a value that is no JSON at all stands as `null`.
pub(crate) fn default_json(default: &Bound<'_, PyAny>) -> Value {
    py_to_json(default).unwrap_or(Value::Null)
}
