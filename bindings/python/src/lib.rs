//! # burgee-python
//!
//! The native half of the pip package `burgee` (pyo3, abi3 for CPython ≥ 3.10). It converts
//! Python values to `burgee-core` / `burgee-client` types and back, and stable error codes to
//! exception classes. It must hold no evaluation, sync or event logic: that lives in
//! `burgee-core` and `burgee-client`, once for every language.
//!
//! ```text
//!  Python ──► Client (this module) ──► burgee_client::Client ──► background sync / events threads
//!         ──► Context handle        ──► burgee_core::Context (built once, reused)
//!         ──► get_*_value / get_*_details ──► burgee_core::Snapshot typed getters ──► Python values
//! ```
//! Network waits (`wait_until_ready`, `flush`, `close`) release the GIL.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client as NativeClient, ClientEvent, ClientOptions as NativeOptions, SyncStatus,
    TrackEvent, now_ms,
};
use burgee_core::{
    AttributeValue, Audience, Context as CoreContext, ErrorCode, EvalError, EvaluationDetails,
    Held, LoadOptions, MetadataValue, Snapshot as CoreSnapshot, TrustedKey,
};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

create_exception!(
    _native,
    BurgeeError,
    PyException,
    "Base class of every Burgee error; `code` is the stable code string."
);
create_exception!(_native, ParseError, BurgeeError, "PARSE_ERROR");
create_exception!(_native, SnapshotTooLarge, BurgeeError, "SNAPSHOT_TOO_LARGE");
create_exception!(_native, SignatureInvalid, BurgeeError, "SIGNATURE_INVALID");
create_exception!(_native, KeyUntrusted, BurgeeError, "KEY_UNTRUSTED");
create_exception!(
    _native,
    PayloadTypeMismatch,
    BurgeeError,
    "PAYLOAD_TYPE_MISMATCH"
);
create_exception!(_native, ProjectMismatch, BurgeeError, "PROJECT_MISMATCH");
create_exception!(
    _native,
    EnvironmentMismatch,
    BurgeeError,
    "ENVIRONMENT_MISMATCH"
);
create_exception!(_native, AudienceMismatch, BurgeeError, "AUDIENCE_MISMATCH");
create_exception!(_native, SnapshotRollback, BurgeeError, "SNAPSHOT_ROLLBACK");
create_exception!(_native, SnapshotExpired, BurgeeError, "SNAPSHOT_EXPIRED");
create_exception!(_native, SnapshotInvalid, BurgeeError, "SNAPSHOT_INVALID");
create_exception!(_native, FlagNotFound, BurgeeError, "FLAG_NOT_FOUND");
create_exception!(_native, TypeMismatch, BurgeeError, "TYPE_MISMATCH");
create_exception!(
    _native,
    TargetingKeyMissing,
    BurgeeError,
    "TARGETING_KEY_MISSING"
);
create_exception!(_native, InvalidContext, BurgeeError, "INVALID_CONTEXT");
create_exception!(_native, GeneralError, BurgeeError, "GENERAL");

/// The exception of `code` (exhaustive: a new code does not compile until it has a class),
/// with `code` set on the instance.
fn coded(code: ErrorCode, message: impl std::fmt::Display) -> PyErr {
    let message = message.to_string();
    let err = match code {
        ErrorCode::ParseError => ParseError::new_err(message),
        ErrorCode::SnapshotTooLarge => SnapshotTooLarge::new_err(message),
        ErrorCode::SignatureInvalid => SignatureInvalid::new_err(message),
        ErrorCode::KeyUntrusted => KeyUntrusted::new_err(message),
        ErrorCode::PayloadTypeMismatch => PayloadTypeMismatch::new_err(message),
        ErrorCode::ProjectMismatch => ProjectMismatch::new_err(message),
        ErrorCode::EnvironmentMismatch => EnvironmentMismatch::new_err(message),
        ErrorCode::AudienceMismatch => AudienceMismatch::new_err(message),
        ErrorCode::SnapshotRollback => SnapshotRollback::new_err(message),
        ErrorCode::SnapshotExpired => SnapshotExpired::new_err(message),
        ErrorCode::SnapshotInvalid => SnapshotInvalid::new_err(message),
        ErrorCode::FlagNotFound => FlagNotFound::new_err(message),
        ErrorCode::TypeMismatch => TypeMismatch::new_err(message),
        ErrorCode::TargetingKeyMissing => TargetingKeyMissing::new_err(message),
        ErrorCode::InvalidContext => InvalidContext::new_err(message),
        ErrorCode::General => GeneralError::new_err(message),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("code", code.as_str());
    });
    err
}

fn general(message: impl std::fmt::Display) -> PyErr {
    coded(ErrorCode::General, message)
}

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

// ---- values ----

fn json_to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any().unbind(),
            _ => n
                .as_f64()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        },
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}

fn py_to_json(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if v.cast::<PyInt>().is_ok() {
        let i: i64 = v.extract()?;
        return Ok(Value::from(i));
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(serde_json::Number::from_f64(f.value()).map_or(Value::Null, Value::Number));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, x) in d.iter() {
            let k: String = k
                .extract()
                .map_err(|_| general("object keys must be strings"))?;
            m.insert(k, py_to_json(&x)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = v.cast::<PyList>() {
        return l
            .iter()
            .map(|x| py_to_json(&x))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = v.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| py_to_json(&x))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    Err(general(format!(
        "{} is not a JSON value",
        v.get_type().name()?
    )))
}

// ---- contexts ----

fn invalid_context(message: impl Into<String>) -> EvalError {
    EvalError {
        code: ErrorCode::InvalidContext,
        message: message.into(),
    }
}

/// A Python attribute value as a core attribute (str, bool, int, float, list/tuple of str);
/// `None` for a `None` value (left out).
fn attribute(name: &str, v: &Bound<'_, PyAny>) -> Result<Option<AttributeValue>, EvalError> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow().map_err(|e| invalid_context(e.to_string()))?;
        return Ok(Some(AttributeValue::String((&*s).into())));
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Some(AttributeValue::Bool(b.is_true())));
    }
    if v.cast::<PyInt>().is_ok() || v.cast::<PyFloat>().is_ok() {
        let f: f64 = v
            .extract()
            .map_err(|_| invalid_context(format!("attribute \"{name}\": number out of range")))?;
        return Ok(Some(AttributeValue::Number(f)));
    }
    if v.cast::<PyList>().is_ok() || v.cast::<PyTuple>().is_ok() {
        let mut items = Vec::new();
        for x in v.try_iter().map_err(|e| invalid_context(e.to_string()))? {
            let x = x.map_err(|e| invalid_context(e.to_string()))?;
            let s = x.cast::<PyString>().map_err(|_| {
                invalid_context(format!("attribute \"{name}\": lists may only hold strings"))
            })?;
            items.push(Box::<str>::from(
                &*s.to_cow().map_err(|e| invalid_context(e.to_string()))?,
            ));
        }
        return Ok(Some(AttributeValue::List(items.into_boxed_slice())));
    }
    if v.cast::<PyDict>().is_ok() {
        return Err(invalid_context(format!(
            "attribute \"{name}\": nested objects are not supported"
        )));
    }
    Err(invalid_context(format!(
        "attribute \"{name}\": a {} is not a context value (str, int, float, bool, list of str)",
        v.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}

fn dict_context(d: &Bound<'_, PyDict>) -> Result<CoreContext, EvalError> {
    let mut ctx = CoreContext::anonymous();
    for (k, v) in d.iter() {
        let name = k
            .cast::<PyString>()
            .map_err(|_| invalid_context("context keys must be strings"))?;
        let name = name.to_cow().map_err(|e| invalid_context(e.to_string()))?;
        let name: &str = &name;
        if name == burgee_core::TARGETING_KEY || name == "targeting_key" {
            if v.is_none() {
                continue;
            }
            let key = v
                .cast::<PyString>()
                .map_err(|_| invalid_context("\"targetingKey\" must be a string"))?;
            let key = key.to_cow().map_err(|e| invalid_context(e.to_string()))?;
            ctx.set(
                burgee_core::TARGETING_KEY,
                AttributeValue::String((&*key).into()),
            );
            continue;
        }
        if let Some(a) = attribute(name, &v)? {
            ctx.set(name, a);
        }
    }
    Ok(ctx)
}

/// An evaluation context handle: build it once, reuse it for many evaluations.
///
/// `Context("user-42", country="DE", age=31, beta=True, groups=["staff"])`, or
/// `Context.from_dict({"targetingKey": "user-42", "country": "DE"})`. Values are str, int,
/// float, bool or lists of str; `None` values are left out.
#[pyclass(frozen, module = "burgee._native")]
struct Context {
    inner: CoreContext,
}

#[pymethods]
impl Context {
    /// Raises `InvalidContext` for nested dicts, non-str list items and other types.
    #[new]
    #[pyo3(signature = (targeting_key=None, **attributes))]
    fn new(targeting_key: Option<&str>, attributes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut inner = match attributes {
            Some(d) => dict_context(d).map_err(|e| coded(e.code, e.message))?,
            None => CoreContext::anonymous(),
        };
        if let Some(k) = targeting_key {
            inner.set(burgee_core::TARGETING_KEY, AttributeValue::String(k.into()));
        }
        Ok(Context { inner })
    }

    /// From a dict with an optional `targetingKey` (or `targeting_key`) entry.
    #[staticmethod]
    fn from_dict(attributes: &Bound<'_, PyDict>) -> PyResult<Self> {
        let inner = dict_context(attributes).map_err(|e| coded(e.code, e.message))?;
        Ok(Context { inner })
    }

    /// The targeting key, or `None`.
    #[getter]
    fn targeting_key(&self) -> Option<&str> {
        self.inner.targeting_key()
    }

    /// The context as a dict (`targetingKey` plus attributes).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = serde_json::to_value(&self.inner).map_err(general)?;
        json_to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!(
            "Context({})",
            serde_json::to_string(&self.inner).unwrap_or_default()
        )
    }
}

/// Runs `f` with the core context of `ctx`: a `Context` handle (no conversion), a dict
/// (converted per call), or `None` (empty).
fn with_context<R>(
    ctx: Option<&Bound<'_, PyAny>>,
    f: impl FnOnce(&CoreContext) -> R,
) -> Result<R, EvalError> {
    match ctx {
        None => Ok(f(&CoreContext::anonymous())),
        Some(c) => {
            if let Ok(handle) = c.cast::<Context>() {
                return Ok(f(&handle.get().inner));
            }
            if c.is_none() {
                return Ok(f(&CoreContext::anonymous()));
            }
            let d = c
                .cast::<PyDict>()
                .map_err(|_| invalid_context("the context must be a Context, a dict or None"))?;
            Ok(f(&dict_context(d)?))
        }
    }
}

// ---- details ----

/// What an evaluation served (OpenFeature evaluation details). `value` is the caller's
/// default when `reason` is `ERROR`.
#[pyclass(frozen, get_all, module = "burgee._native")]
struct EvaluationDetails_ {
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

fn metadata_dict<'py>(
    py: Python<'py>,
    d: Option<&EvaluationDetails<'_>>,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    if let Some(d) = d {
        for (k, v) in d.metadata.iter() {
            match v {
                MetadataValue::String(s) => out.set_item(k, &**s)?,
                MetadataValue::Number(n) => out.set_item(k, *n)?,
                MetadataValue::Bool(b) => out.set_item(k, *b)?,
            }
        }
    }
    Ok(out)
}

fn details_py(
    py: Python<'_>,
    flag: &str,
    value: Py<PyAny>,
    d: &EvaluationDetails<'_>,
) -> PyResult<EvaluationDetails_> {
    Ok(EvaluationDetails_ {
        flag_key: flag.to_owned(),
        value,
        variant: d.variant.map(str::to_owned),
        reason: d.reason.as_str(),
        rule_id: d.rule_id.map(str::to_owned),
        error_code: d.error.as_ref().map(|e| e.code.as_str()),
        error_message: d.error.as_ref().map(|e| e.message.clone()),
        flag_metadata: metadata_dict(py, Some(d))?.unbind(),
    })
}

fn error_details(
    py: Python<'_>,
    flag: &str,
    default: Py<PyAny>,
    e: &EvalError,
) -> PyResult<EvaluationDetails_> {
    Ok(EvaluationDetails_ {
        flag_key: flag.to_owned(),
        value: default,
        variant: None,
        reason: "ERROR",
        rule_id: None,
        error_code: Some(e.code.as_str()),
        error_message: Some(e.message.clone()),
        flag_metadata: metadata_dict(py, None)?.unbind(),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Boolean,
    String,
    Float,
    Integer,
    Object,
}

fn parse_kind(kind: &str) -> PyResult<Kind> {
    Ok(match kind {
        "boolean" => Kind::Boolean,
        "string" => Kind::String,
        "float" | "number" => Kind::Float,
        "integer" => Kind::Integer,
        "object" => Kind::Object,
        other => {
            return Err(general(format!(
                "unknown kind \"{other}\" (boolean, string, float, integer, object)"
            )));
        }
    })
}

fn type_mismatch(what: &str) -> EvalError {
    EvalError {
        code: ErrorCode::TypeMismatch,
        message: format!("the default value must be {what}"),
    }
}

/// The core's typed getter of `kind` with a Python default; `(value served, details)` or a
/// `TYPE_MISMATCH` for a default of the wrong type.
#[allow(clippy::too_many_arguments)] // the getter's inputs plus the converted object default
fn typed<'s>(
    py: Python<'_>,
    snap: &'s CoreSnapshot,
    kind: Kind,
    flag: &str,
    ctx: &CoreContext,
    now: u64,
    default: &Bound<'_, PyAny>,
    object_default: &'s Map<String, Value>,
) -> PyResult<Result<(Py<PyAny>, EvaluationDetails<'s>), EvalError>> {
    Ok(Ok(match kind {
        Kind::Boolean => {
            let Ok(d) = default.cast::<PyBool>() else {
                return Ok(Err(type_mismatch("a bool")));
            };
            let t = snap.get_bool(flag, ctx, now, d.is_true());
            (
                PyBool::new(py, t.value).to_owned().into_any().unbind(),
                t.details,
            )
        }
        Kind::String => {
            if default.cast::<PyString>().is_err() {
                return Ok(Err(type_mismatch("a str")));
            }
            // The core's default only stands in; on error the caller's object is returned.
            let t = snap.get_string(flag, ctx, now, "");
            let v = if t.details.error.is_some() {
                default.clone().unbind()
            } else {
                PyString::new(py, t.value).into_any().unbind()
            };
            (v, t.details)
        }
        Kind::Float => {
            if default.cast::<PyBool>().is_ok()
                || !(default.cast::<PyFloat>().is_ok() || default.cast::<PyInt>().is_ok())
            {
                return Ok(Err(type_mismatch("a float")));
            }
            let t = snap.get_float(flag, ctx, now, default.extract()?);
            (t.value.into_pyobject(py)?.into_any().unbind(), t.details)
        }
        Kind::Integer => {
            if default.cast::<PyBool>().is_ok() || default.cast::<PyInt>().is_err() {
                return Ok(Err(type_mismatch("an int")));
            }
            let t = snap.get_integer(flag, ctx, now, default.extract()?);
            (t.value.into_pyobject(py)?.into_any().unbind(), t.details)
        }
        Kind::Object => {
            if default.cast::<PyDict>().is_err() {
                return Ok(Err(type_mismatch("a dict")));
            }
            let t = snap.get_object(flag, ctx, now, object_default);
            let v = if t.details.error.is_some() {
                default.clone().unbind()
            } else {
                json_to_py(py, &Value::Object(t.value.clone()))?
            };
            (v, t.details)
        }
    }))
}

/// The JSON object of an `object` default (empty for other kinds).
fn object_default(kind: Kind, default: &Bound<'_, PyAny>) -> PyResult<Map<String, Value>> {
    if let (Kind::Object, Ok(_)) = (kind, default.cast::<PyDict>())
        && let Value::Object(m) = py_to_json(default)?
    {
        return Ok(m);
    }
    Ok(Map::new())
}

// ---- snapshots ----

/// Snapshot identity: `{project, environment, version, issued_at, expires_at, digest}` (ms).
fn info_dict<'py>(py: Python<'py>, s: &CoreSnapshot) -> PyResult<Bound<'py, PyDict>> {
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
struct Snapshot {
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
        match with_context(context, |ctx| {
            let d = self.inner.evaluate(flag_key, ctx, now);
            let v = match d.value {
                Some(v) => json_to_py(py, &v.to_json())?,
                None => py.None(),
            };
            details_py(py, flag_key, v, &d)
        }) {
            Ok(r) => r,
            Err(e) => error_details(py, flag_key, py.None(), &e),
        }
    }

    /// Typed evaluation (`kind`: `boolean`, `string`, `float`, `integer`, `object`) at `now`
    /// (ms; default the clock) with the caller's default.
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
        let obj = object_default(kind, default_value)?;
        let r = with_context(context, |ctx| {
            typed(
                py,
                &self.inner,
                kind,
                flag_key,
                ctx,
                now,
                default_value,
                &obj,
            )
        });
        match r {
            Ok(Ok(Ok((v, d)))) => details_py(py, flag_key, v, &d),
            Ok(Ok(Err(e))) | Err(e) => {
                error_details(py, flag_key, default_value.clone().unbind(), &e)
            }
            Ok(Err(py_err)) => Err(py_err),
        }
    }
}

// ---- the client ----

fn status_dict<'py>(py: Python<'py>, c: &NativeClient) -> PyResult<Bound<'py, PyDict>> {
    let (status, last) = c.status();
    let d = PyDict::new(py);
    d.set_item("status", status.as_str())?;
    d.set_item("error_code", status.error_code().map(|c| c.as_str()))?;
    d.set_item("last_error_code", last.as_ref().map(|(c, _)| c.as_str()))?;
    d.set_item("last_error_message", last.map(|(_, m)| m))?;
    Ok(d)
}

fn event_dict<'py>(py: Python<'py>, e: &ClientEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        ClientEvent::Status { status, message } => {
            d.set_item("kind", "status")?;
            d.set_item("status", status.as_str())?;
            d.set_item("error_code", status.error_code().map(|c| c.as_str()))?;
            d.set_item("message", message.as_deref())?;
        }
        ClientEvent::Changed { old, new } => {
            d.set_item("kind", "changed")?;
            d.set_item("old_version", *old)?;
            d.set_item("new_version", *new)?;
        }
    }
    Ok(d)
}

/// The Burgee client: syncs the environment's snapshot in the background (SSE, polling
/// fallback, last-known-good file), evaluates synchronously, and sends exposures. A context
/// manager (`with Client(...) as c:` closes on exit). After `os.fork()` the child must call
/// `_restart_in_child()` (the `burgee` package registers that for every client).
#[pyclass(frozen, subclass, weakref, module = "burgee._native")]
struct Client {
    /// Replaced only in the child after a fork. Held only briefly and never across a GIL
    /// release, so a fork cannot copy it locked.
    inner: RwLock<Arc<NativeClient>>,
}

/// A served value with its details.
type Served = (Py<PyAny>, Option<EvaluationDetails_>);

impl Client {
    /// The native client (a read guard: cheap, uncontended except during a fork restart).
    fn native(&self) -> std::sync::RwLockReadGuard<'_, Arc<NativeClient>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A clone of the native client, for work done with the GIL released.
    fn shared(&self) -> Arc<NativeClient> {
        Arc::clone(&self.native())
    }

    fn eval_typed(
        &self,
        py: Python<'_>,
        kind: Kind,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Result<Served, EvalError>> {
        let native = self.native();
        let Some(snap) = native.snapshot() else {
            let (status, last) = native.status();
            return Ok(Err(burgee_client::not_ready_error(
                &status,
                last.as_ref().map(|(_, m)| m.as_str()),
            )));
        };
        let now = now_ms();
        let obj = object_default(kind, default_value)?;
        let client = &*native;
        let r = with_context(context, |ctx| {
            match typed(py, &snap, kind, flag_key, ctx, now, default_value, &obj)? {
                Ok((v, d)) => {
                    client.record_exposure(&snap, flag_key, &d, ctx, now);
                    let details = details_py(py, flag_key, v.clone_ref(py), &d)?;
                    Ok(Ok((v, Some(details))))
                }
                Err(e) => Ok(Err(e)),
            }
        });
        match r {
            Ok(x) => x,
            Err(e) => Ok(Err(e)),
        }
    }

    fn value(
        &self,
        py: Python<'_>,
        kind: Kind,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let native = self.native();
        let client = &*native;
        let obj = match kind {
            Kind::Object => object_default(kind, default_value)?,
            _ => Map::new(),
        };
        let r = client.with_snapshot(|snap| {
            let now = now_ms();
            with_context(context, |ctx| {
                typed(py, snap, kind, flag_key, ctx, now, default_value, &obj).map(|r| {
                    r.map(|(v, d)| {
                        client.record_exposure(snap, flag_key, &d, ctx, now);
                        v
                    })
                })
            })
        });
        Ok(match r {
            Some(Ok(Ok(Ok(v)))) => v,
            Some(Ok(Err(e))) => return Err(e),
            _ => default_value.clone().unbind(),
        })
    }

    fn details(
        &self,
        py: Python<'_>,
        kind: Kind,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        match self.eval_typed(py, kind, flag_key, default_value, context)? {
            Ok((_, Some(d))) => Ok(d),
            Ok((v, None)) => error_details(
                py,
                flag_key,
                v,
                &EvalError {
                    code: ErrorCode::General,
                    message: "no details".into(),
                },
            ),
            Err(e) => error_details(py, flag_key, default_value.clone().unbind(), &e),
        }
    }
}

#[pymethods]
impl Client {
    /// Starts the client. Keyword arguments (times in ms): `environment`, `trusted_keys`
    /// (base64 public keys), `server_url`, `sdk_key` (`bgs_...`; a client-side key `bgc_...`
    /// reads client snapshots only), `project` (every snapshot must be this project's, else
    /// `ProjectMismatch`; also sent as `?project=`; `None`: not checked), `bootstrap` (envelope str),
    /// `bootstrap_file`, `persist_path`, `streaming` (True), `poll_interval_ms` (30000),
    /// `request_timeout_ms` (10000), `stream_idle_timeout_ms` (60000), `backoff_base_ms`
    /// (500), `backoff_cap_ms` (30000), `min_version` (0), `send_exposures` (True),
    /// `flush_interval_ms` (10000), `flush_size` (500), `max_queued_events` (10000),
    /// `dedupe_window_ms` (3600000), `close_timeout_ms` (5000). Raises `ParseError` for a bad
    /// key, `GeneralError` for bad configuration.
    #[new]
    #[pyo3(signature = (*, environment, trusted_keys, server_url=None, sdk_key=None, project=None, bootstrap=None, bootstrap_file=None, persist_path=None, streaming=true, poll_interval_ms=30_000, request_timeout_ms=10_000, stream_idle_timeout_ms=60_000, backoff_base_ms=500, backoff_cap_ms=30_000, min_version=0, send_exposures=true, flush_interval_ms=10_000, flush_size=500, max_queued_events=10_000, dedupe_window_ms=3_600_000, close_timeout_ms=5_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        environment: String,
        trusted_keys: Vec<String>,
        server_url: Option<String>,
        sdk_key: Option<String>,
        project: Option<String>,
        bootstrap: Option<String>,
        bootstrap_file: Option<String>,
        persist_path: Option<String>,
        streaming: bool,
        poll_interval_ms: u64,
        request_timeout_ms: u64,
        stream_idle_timeout_ms: u64,
        backoff_base_ms: u64,
        backoff_cap_ms: u64,
        min_version: u64,
        send_exposures: bool,
        flush_interval_ms: u64,
        flush_size: usize,
        max_queued_events: usize,
        dedupe_window_ms: u64,
        close_timeout_ms: u64,
    ) -> PyResult<Self> {
        let mut o = NativeOptions::new(environment, trusted_keys);
        o.server_url = server_url;
        o.sdk_key = sdk_key;
        o.project = project;
        o.bootstrap = match (bootstrap, bootstrap_file) {
            (Some(_), Some(_)) => {
                return Err(general("give bootstrap or bootstrap_file, not both"));
            }
            (Some(s), None) => Some(Bootstrap::Envelope(s)),
            (None, Some(f)) => Some(Bootstrap::File(f.into())),
            (None, None) => None,
        };
        o.persist_path = persist_path.map(Into::into);
        o.streaming = streaming;
        o.poll_interval_ms = poll_interval_ms;
        o.request_timeout_ms = request_timeout_ms;
        o.stream_idle_timeout_ms = stream_idle_timeout_ms;
        o.backoff_base_ms = backoff_base_ms;
        o.backoff_cap_ms = backoff_cap_ms;
        o.min_version = min_version;
        o.send_exposures = send_exposures;
        o.flush_interval_ms = flush_interval_ms;
        o.flush_size = flush_size;
        o.max_queued_events = max_queued_events;
        o.dedupe_window_ms = dedupe_window_ms;
        o.close_timeout_ms = close_timeout_ms;
        o.sdk_name = "burgee-python".into();
        o.sdk_version = env!("CARGO_PKG_VERSION").into();
        let client = py
            .detach(|| NativeClient::new(o))
            .map_err(|e| coded(e.code, e.message))?;
        Ok(Client {
            inner: RwLock::new(Arc::new(client)),
        })
    }

    /// Blocks (GIL released) until a snapshot is held (`READY`/`STALE`), an envelope was
    /// refused (`ERROR`), or `timeout_ms` passed (`NOT_READY`); returns the status string.
    #[pyo3(signature = (timeout_ms=10_000))]
    fn wait_until_ready(&self, py: Python<'_>, timeout_ms: u64) -> &'static str {
        let c = self.shared();
        let s: SyncStatus =
            py.detach(move || c.wait_until_ready(Duration::from_millis(timeout_ms)));
        s.as_str()
    }

    /// `{status, error_code, last_error_code, last_error_message}`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        status_dict(py, &self.native())
    }

    /// The snapshot held as `{project, environment, version, issued_at, expires_at, digest}`,
    /// or `None`.
    fn snapshot_info<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.native()
            .snapshot()
            .map(|s| info_dict(py, &s))
            .transpose()
    }

    /// The flag's type in the snapshot held, or `None`.
    fn flag_type(&self, flag_key: &str) -> Option<&'static str> {
        self.native()
            .snapshot()
            .and_then(|s| s.flag_type(flag_key))
            .map(|t| t.as_str())
    }

    /// Calls `listener(event: dict)` on the sync thread for every status change
    /// (`{kind: "status", status, error_code, message}`) and new snapshot
    /// (`{kind: "changed", old_version, new_version}`). Exceptions are printed and ignored.
    fn on_event(&self, listener: Py<PyAny>) {
        let listener = Arc::new(listener);
        self.native().subscribe(Arc::new(move |e: &ClientEvent| {
            Python::attach(|py| {
                let r = event_dict(py, e).and_then(|d| listener.call1(py, (d,)));
                if let Err(err) = r {
                    err.print(py);
                }
            });
        }));
    }

    /// Typed evaluation; the default on any error. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_boolean_value(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.value(py, Kind::Boolean, flag_key, default_value, context)
    }

    /// Typed evaluation; the default on any error. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_string_value(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.value(py, Kind::String, flag_key, default_value, context)
    }

    /// Typed evaluation of a `float` flag; the default on any error.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_float_value(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.value(py, Kind::Float, flag_key, default_value, context)
    }

    /// Typed evaluation of an `integer` flag; the default on any error.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_integer_value(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.value(py, Kind::Integer, flag_key, default_value, context)
    }

    /// Typed evaluation of an `object` flag; the default on any error.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_object_value(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.value(py, Kind::Object, flag_key, default_value, context)
    }

    /// Typed evaluation with details. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_boolean_details(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        self.details(py, Kind::Boolean, flag_key, default_value, context)
    }

    /// Typed evaluation with details. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_string_details(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        self.details(py, Kind::String, flag_key, default_value, context)
    }

    /// Typed evaluation with details. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_float_details(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        self.details(py, Kind::Float, flag_key, default_value, context)
    }

    /// Typed evaluation with details. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_integer_details(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        self.details(py, Kind::Integer, flag_key, default_value, context)
    }

    /// Typed evaluation with details. Records an exposure.
    #[pyo3(signature = (flag_key, default_value, context=None))]
    fn get_object_details(
        &self,
        py: Python<'_>,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        self.details(py, Kind::Object, flag_key, default_value, context)
    }

    /// Queues a metric event (`value` finite or `None`; attributes str/int/float/bool).
    /// Raises `GeneralError` when it breaks `spec/EVENTS.md` §2.
    #[pyo3(signature = (key, targeting_key, value=None, attributes=None))]
    fn track(
        &self,
        key: String,
        targeting_key: String,
        value: Option<f64>,
        attributes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let attributes = match attributes {
            Some(a) => match py_to_json(a.as_any())? {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        self.native()
            .track(TrackEvent {
                key,
                value,
                targeting_key,
                time: now_ms(),
                attributes,
            })
            .map_err(|e| coded(e.code, e.message))
    }

    /// `{queued, in_batch, deduplicated, unattributable, dropped, delivered}`.
    fn event_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.native().event_stats();
        let d = PyDict::new(py);
        d.set_item("queued", s.queued)?;
        d.set_item("in_batch", s.in_batch)?;
        d.set_item("deduplicated", s.deduplicated)?;
        d.set_item("unattributable", s.unattributable)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("delivered", s.delivered)?;
        Ok(d)
    }

    /// Sends queued events now (GIL released); True when all were delivered in time.
    #[pyo3(signature = (timeout_ms=5_000))]
    fn flush(&self, py: Python<'_>, timeout_ms: u64) -> bool {
        let c = self.shared();
        py.detach(move || c.flush(Duration::from_millis(timeout_ms)))
    }

    /// Stops syncing and delivers queued events (GIL released); evaluation keeps the last
    /// snapshot. Idempotent.
    fn close(&self, py: Python<'_>) {
        let c = self.shared();
        py.detach(move || c.close());
    }

    /// In the child of `os.fork()`: starts this client's own background sync, from the
    /// snapshot the parent held (re-verified). Registered by the `burgee` package.
    fn _restart_in_child(&self) -> PyResult<()> {
        let mut slot = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let fresh = slot
            .restart_in_child()
            .map_err(|e| coded(e.code, e.message))?;
        // The abandoned client is never dropped for real (see `restart_in_child`).
        *slot = Arc::new(fresh);
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }
}

/// The native module `burgee._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Context>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<Client>()?;
    m.add("EvaluationDetails", py.get_type::<EvaluationDetails_>())?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(raise_for_code, m)?)?;
    m.add_function(wrap_pyfunction!(bucket, m)?)?;
    m.add_function(wrap_pyfunction!(now, m)?)?;
    m.add("BurgeeError", py.get_type::<BurgeeError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("SnapshotTooLarge", py.get_type::<SnapshotTooLarge>())?;
    m.add("SignatureInvalid", py.get_type::<SignatureInvalid>())?;
    m.add("KeyUntrusted", py.get_type::<KeyUntrusted>())?;
    m.add("PayloadTypeMismatch", py.get_type::<PayloadTypeMismatch>())?;
    m.add("ProjectMismatch", py.get_type::<ProjectMismatch>())?;
    m.add("EnvironmentMismatch", py.get_type::<EnvironmentMismatch>())?;
    m.add("AudienceMismatch", py.get_type::<AudienceMismatch>())?;
    m.add("SnapshotRollback", py.get_type::<SnapshotRollback>())?;
    m.add("SnapshotExpired", py.get_type::<SnapshotExpired>())?;
    m.add("SnapshotInvalid", py.get_type::<SnapshotInvalid>())?;
    m.add("FlagNotFound", py.get_type::<FlagNotFound>())?;
    m.add("TypeMismatch", py.get_type::<TypeMismatch>())?;
    m.add("TargetingKeyMissing", py.get_type::<TargetingKeyMissing>())?;
    m.add("InvalidContext", py.get_type::<InvalidContext>())?;
    m.add("GeneralError", py.get_type::<GeneralError>())?;
    Ok(())
}
