//! `Context`: an evaluation context built once and reused, and the conversion of a dict
//! (per call).

use burgee_core::{AttributeValue, Context as CoreContext, ErrorCode, EvalError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{coded, general};
use crate::values::json_to_py;

fn invalid_context(message: impl Into<String>) -> EvalError {
    EvalError {
        code: ErrorCode::InvalidContext,
        message: message.into(),
    }
}

/// A Python attribute value as a core attribute (str, bool, int, float, list/tuple of str).
/// `None` is refused like JSON's null (`spec/SNAPSHOT.md` §2.3): leave the attribute out.
fn attribute(name: &str, v: &Bound<'_, PyAny>) -> Result<AttributeValue, EvalError> {
    if v.is_none() {
        return Err(invalid_context(format!(
            "attribute \"{name}\": None is not a value; leave the attribute out"
        )));
    }
    if let Ok(s) = v.cast::<PyString>() {
        let s = s.to_cow().map_err(|e| invalid_context(e.to_string()))?;
        return Ok(AttributeValue::String((&*s).into()));
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(AttributeValue::Bool(b.is_true()));
    }
    if v.cast::<PyInt>().is_ok() || v.cast::<PyFloat>().is_ok() {
        let f: f64 = v
            .extract()
            .map_err(|_| invalid_context(format!("attribute \"{name}\": number out of range")))?;
        return Ok(AttributeValue::Number(f));
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
        return Ok(AttributeValue::List(items.into_boxed_slice()));
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

pub(crate) fn dict_context(d: &Bound<'_, PyDict>) -> Result<CoreContext, EvalError> {
    let mut ctx = CoreContext::anonymous();
    for (k, v) in d.iter() {
        let name = k
            .cast::<PyString>()
            .map_err(|_| invalid_context("context keys must be strings"))?;
        let name = name.to_cow().map_err(|e| invalid_context(e.to_string()))?;
        let name: &str = &name;
        if name == burgee_core::TARGETING_KEY || name == "targeting_key" {
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
        ctx.set(name, attribute(name, &v)?);
    }
    Ok(ctx)
}

/// An evaluation context handle: build it once, reuse it for many evaluations.
///
/// `Context("user-42", country="DE", age=31, beta=True, groups=["staff"])`, or
/// `Context.from_dict({"targetingKey": "user-42", "country": "DE"})`. Values are str, int,
/// float, bool or lists of str; `None` is refused (leave the attribute out).
#[pyclass(frozen, module = "burgee._native")]
pub(crate) struct Context {
    pub(crate) inner: CoreContext,
}

#[pymethods]
impl Context {
    /// Raises `InvalidContext` for `None`, nested dicts, non-str list items and other types
    /// (`targeting_key=None` is an anonymous context).
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
pub(crate) fn with_context<R>(
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
