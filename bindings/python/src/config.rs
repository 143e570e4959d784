//! `ConfigClient`: a service's configuration (`burgee_client::ConfigClient`) for Python —
//! values resolved for this instance, status, change callbacks with the keys that changed.
//! Conversion only; the sync, verification and diff are `burgee-client`'s and `burgee-core`'s.

use std::sync::Arc;
use std::time::Duration;

use burgee_client::{
    Bootstrap, ClientOptions as NativeOptions, ConfigClient as Native, ConfigEntryValue,
    ConfigEvent, DEFAULTS, SyncStatus,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use crate::context::dict_context;
use crate::errors::{coded, general};
use crate::values::json_to_py;

fn entry_dict<'py>(py: Python<'py>, v: &ConfigEntryValue) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("format", v.format.as_str())?;
    d.set_item("raw", &v.raw)?;
    d.set_item("value", json_to_py(py, &v.value)?)?;
    d.set_item("revision", v.revision)?;
    d.set_item("override_id", v.override_id.as_deref())?;
    Ok(d)
}

fn event_dict<'py>(py: Python<'py>, e: &ConfigEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        ConfigEvent::Changed {
            old_version,
            new_version,
            changes,
        } => {
            d.set_item("kind", "changed")?;
            d.set_item("old_version", *old_version)?;
            d.set_item("new_version", *new_version)?;
            let list = PyList::empty(py);
            for c in changes {
                let item = PyDict::new(py);
                item.set_item("key", &c.key)?;
                item.set_item(
                    "old",
                    c.old.as_ref().map(|v| entry_dict(py, v)).transpose()?,
                )?;
                item.set_item(
                    "new",
                    c.new.as_ref().map(|v| entry_dict(py, v)).transpose()?,
                )?;
                list.append(item)?;
            }
            d.set_item("changes", list)?;
        }
        ConfigEvent::Status { status, message } => {
            d.set_item("kind", "status")?;
            d.set_item("status", status.as_str())?;
            d.set_item("error_code", status.error_code().map(|c| c.as_str()))?;
            d.set_item("message", message.as_deref())?;
        }
    }
    Ok(d)
}

/// A service's configuration (spec/CONFIG.md), verified like snapshots and kept current in the
/// background, resolved for this instance. A context manager (closes on exit).
#[pyclass(frozen, module = "burgee._native")]
pub(crate) struct ConfigClient {
    inner: Arc<Native>,
}

impl ConfigClient {
    fn value(&self, key: &str) -> Option<Value> {
        self.inner.get(key).map(|v| v.value)
    }
}

#[pymethods]
impl ConfigClient {
    /// Starts the client. Keyword arguments (times in ms): `environment`, `trusted_keys`,
    /// `service`, `instance` (dict: `targetingKey` the instance id, `host`, `zone`, `version`,
    /// `labels`...), `server_url`, `sdk_key` (a server-side key scoped to the service also
    /// reads secrets), `project`, `bootstrap` (config envelope str), `bootstrap_file`,
    /// `persist_path` (last good config document), `streaming` (True), `poll_interval_ms`,
    /// `request_timeout_ms`, `stream_idle_timeout_ms`, `backoff_base_ms`, `backoff_cap_ms`;
    /// absent numbers take `DEFAULTS`. Raises `ParseError` for a bad key, `InvalidContext`
    /// for a bad instance, `GeneralError` for bad configuration.
    #[new]
    #[pyo3(signature = (*, environment, trusted_keys, service, instance=None, server_url=None, sdk_key=None, project=None, bootstrap=None, bootstrap_file=None, persist_path=None, streaming=true, poll_interval_ms=None, request_timeout_ms=None, stream_idle_timeout_ms=None, backoff_base_ms=None, backoff_cap_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        environment: String,
        trusted_keys: Vec<String>,
        service: String,
        instance: Option<&Bound<'_, PyDict>>,
        server_url: Option<String>,
        sdk_key: Option<String>,
        project: Option<String>,
        bootstrap: Option<String>,
        bootstrap_file: Option<String>,
        persist_path: Option<String>,
        streaming: bool,
        poll_interval_ms: Option<u64>,
        request_timeout_ms: Option<u64>,
        stream_idle_timeout_ms: Option<u64>,
        backoff_base_ms: Option<u64>,
        backoff_cap_ms: Option<u64>,
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
        o.poll_interval_ms = poll_interval_ms.unwrap_or(o.poll_interval_ms);
        o.request_timeout_ms = request_timeout_ms.unwrap_or(o.request_timeout_ms);
        o.stream_idle_timeout_ms = stream_idle_timeout_ms.unwrap_or(o.stream_idle_timeout_ms);
        o.backoff_base_ms = backoff_base_ms.unwrap_or(o.backoff_base_ms);
        o.backoff_cap_ms = backoff_cap_ms.unwrap_or(o.backoff_cap_ms);
        o.sdk_name = "burgee-python-config".into();
        o.sdk_version = env!("CARGO_PKG_VERSION").into();
        let ctx = match instance {
            Some(d) => dict_context(d).map_err(|e| coded(e.code, e.message))?,
            None => burgee_core::Context::anonymous(),
        };
        let client = py
            .detach(|| Native::new(o, &service, ctx))
            .map_err(|e| coded(e.code, e.message))?;
        Ok(ConfigClient {
            inner: Arc::new(client),
        })
    }

    /// Blocks (GIL released) until a document is held (`READY`/`STALE`), one was refused
    /// (`ERROR`), or `timeout_ms` passed (`NOT_READY`); returns the status string.
    #[pyo3(signature = (timeout_ms=None))]
    fn wait_until_ready(&self, py: Python<'_>, timeout_ms: Option<u64>) -> &'static str {
        let timeout_ms = timeout_ms.unwrap_or(DEFAULTS.ready_timeout_ms);
        let c = Arc::clone(&self.inner);
        let s: SyncStatus =
            py.detach(move || c.wait_until_ready(Duration::from_millis(timeout_ms)));
        s.as_str()
    }

    /// The parsed value of `key` for this instance (dict, list, str, int, float, bool or
    /// None), or `default` when the key is unknown.
    #[pyo3(signature = (key, default=None))]
    fn get(&self, py: Python<'_>, key: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        match self.value(key) {
            Some(v) => json_to_py(py, &v),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    /// The raw text of `key` as authored, or `default`.
    #[pyo3(signature = (key, default=None))]
    fn get_raw(&self, key: &str, default: Option<String>) -> Option<String> {
        self.inner.get(key).map(|v| v.raw).or(default)
    }

    /// `{format, raw, value, revision, override_id}` of `key`, or None.
    fn get_entry<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.get(key).map(|v| entry_dict(py, &v)).transpose()
    }

    /// The value of `key` when it is a string, else `default`.
    fn get_str(&self, key: &str, default: String) -> String {
        match self.value(key) {
            Some(Value::String(s)) => s,
            _ => default,
        }
    }

    /// The value of `key` when it is an integer, else `default`.
    fn get_int(&self, key: &str, default: i64) -> i64 {
        self.value(key).and_then(|v| v.as_i64()).unwrap_or(default)
    }

    /// The value of `key` when it is a number, else `default`.
    fn get_float(&self, key: &str, default: f64) -> f64 {
        self.value(key).and_then(|v| v.as_f64()).unwrap_or(default)
    }

    /// The value of `key` when it is a boolean, else `default`.
    fn get_bool(&self, key: &str, default: bool) -> bool {
        self.value(key).and_then(|v| v.as_bool()).unwrap_or(default)
    }

    /// Every key's parsed value for this instance: `{key: value}`.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in self.inner.values() {
            d.set_item(k, json_to_py(py, &v.value)?)?;
        }
        Ok(d)
    }

    /// The version of the document held, or None.
    fn version(&self) -> Option<u64> {
        self.inner.document().map(|d| d.info().version)
    }

    /// `{status, error_code, last_error_code, last_error_message}`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (status, last) = self.inner.status();
        let d = PyDict::new(py);
        d.set_item("status", status.as_str())?;
        d.set_item("error_code", status.error_code().map(|c| c.as_str()))?;
        d.set_item("last_error_code", last.as_ref().map(|(c, _)| c.as_str()))?;
        d.set_item("last_error_message", last.map(|(_, m)| m))?;
        Ok(d)
    }

    /// Calls `listener(event: dict)` on the sync thread for every new document
    /// (`{kind: "changed", old_version, new_version, changes: [{key, old, new}]}`, old/new
    /// entry dicts or None) and status change. Exceptions are printed and ignored.
    fn on_change(&self, listener: Py<PyAny>) {
        let listener = Arc::new(listener);
        self.inner.subscribe(Arc::new(move |e: &ConfigEvent| {
            Python::attach(|py| {
                let r = event_dict(py, e).and_then(|d| listener.call1(py, (d,)));
                if let Err(err) = r {
                    err.print(py);
                }
            });
        }));
    }

    /// Stops synchronising; the document held keeps serving.
    fn close(&self) {
        self.inner.close();
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.inner.close();
    }
}
