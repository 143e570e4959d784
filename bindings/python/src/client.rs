//! `Client`: the native client (`burgee_client::Client`) for Python: options (defaults from
//! `DEFAULTS`), status and events, the typed getters (the client's, exposures recorded),
//! `track`, `flush` and `close` with the GIL released, and the restart after `os.fork()`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client as NativeClient, ClientEvent, ClientOptions as NativeOptions, DEFAULTS,
    Resolution, SyncStatus, TrackEvent, now_ms,
};
use burgee_core::ValueKind;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple};
use serde_json::{Map, Value};

use crate::context::with_context;
use crate::details::{EvaluationDetails_, default_json, resolution_py};
use crate::errors::{coded, general};
use crate::snapshot::info_dict;
use crate::values::{json_to_py, py_to_json};

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
pub(crate) struct Client {
    /// Replaced only in the child after a fork. Held only briefly and never across a GIL
    /// release, so a fork cannot copy it locked.
    inner: RwLock<Arc<NativeClient>>,
}

impl Client {
    /// The native client (a read guard: cheap, uncontended except during a fork restart).
    fn native(&self) -> std::sync::RwLockReadGuard<'_, Arc<NativeClient>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A clone of the native client, for work done with the GIL released.
    fn shared(&self) -> Arc<NativeClient> {
        Arc::clone(&self.native())
    }

    /// The client's typed getter of `kind` (exposure recorded); the caller's own default
    /// object on any error, a default of another type, or a bad context.
    fn value(
        &self,
        py: Python<'_>,
        kind: ValueKind,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let native = self.native();
        let c = &*native;
        let default = || default_value.clone().unbind();
        let is_bool = default_value.cast::<PyBool>().is_ok();
        let served = with_context(context, |ctx| -> PyResult<Py<PyAny>> {
            Ok(match kind {
                ValueKind::Boolean if is_bool => {
                    let d = default_value.extract::<bool>()?;
                    PyBool::new(py, c.get_bool(flag_key, ctx, d))
                        .to_owned()
                        .into_any()
                        .unbind()
                }
                ValueKind::String if default_value.cast::<PyString>().is_ok() => {
                    c.get_string_with(flag_key, ctx, |v| match v {
                        Some(s) => PyString::new(py, s).into_any().unbind(),
                        None => default(),
                    })
                }
                ValueKind::Number
                    if !is_bool
                        && (default_value.cast::<PyFloat>().is_ok()
                            || default_value.cast::<PyInt>().is_ok()) =>
                {
                    let d = default_value.extract::<f64>()?;
                    c.get_float(flag_key, ctx, d)
                        .into_pyobject(py)?
                        .into_any()
                        .unbind()
                }
                ValueKind::Integer if !is_bool && default_value.cast::<PyInt>().is_ok() => {
                    match default_value.extract::<i64>() {
                        Ok(d) => c
                            .get_integer(flag_key, ctx, d)
                            .into_pyobject(py)?
                            .into_any()
                            .unbind(),
                        Err(_) => default(),
                    }
                }
                ValueKind::Object if default_value.cast::<PyDict>().is_ok() => {
                    let r = c.get_json(kind, flag_key, ctx, &default_json(default_value));
                    match r.error {
                        Some(_) => default(),
                        None => json_to_py(py, &r.value)?,
                    }
                }
                _ => default(),
            })
        });
        match served {
            Ok(v) => v,
            Err(_) => Ok(default()),
        }
    }

    /// The client's typed getter of `kind` with details (exposure recorded).
    fn details(
        &self,
        py: Python<'_>,
        kind: ValueKind,
        flag_key: &str,
        default_value: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EvaluationDetails_> {
        let default = default_json(default_value);
        let native = self.native();
        let r = match with_context(context, |ctx| {
            native.get_json(kind, flag_key, ctx, &default)
        }) {
            Ok(r) => r,
            Err(e) => Resolution::error(flag_key, Value::Null, e),
        };
        resolution_py(py, r, default_value)
    }
}

#[pymethods]
impl Client {
    /// Starts the client. Keyword arguments (times in ms): `environment`, `trusted_keys`
    /// (base64 public keys), `server_url`, `sdk_key` (`bgs_...`; a client-side key `bgc_...`
    /// reads client snapshots only), `project` (every snapshot must be this project's, else
    /// `ProjectMismatch`; also sent as `?project=`; `None`: not checked), `bootstrap` (envelope str),
    /// `bootstrap_file`, `persist_path`, `streaming` (True), `poll_interval_ms`,
    /// `request_timeout_ms`, `stream_idle_timeout_ms`, `backoff_base_ms`, `backoff_cap_ms`,
    /// `min_version` (0), `send_exposures` (True), `flush_interval_ms`, `flush_size`,
    /// `max_queued_events`, `dedupe_window_ms`, `close_timeout_ms`; absent numbers take
    /// `DEFAULTS` (the one table of every Burgee SDK). Raises `ParseError` for a bad
    /// key, `GeneralError` for bad configuration.
    #[new]
    #[pyo3(signature = (*, environment, trusted_keys, server_url=None, sdk_key=None, project=None, bootstrap=None, bootstrap_file=None, persist_path=None, streaming=true, poll_interval_ms=None, request_timeout_ms=None, stream_idle_timeout_ms=None, backoff_base_ms=None, backoff_cap_ms=None, min_version=0, send_exposures=true, flush_interval_ms=None, flush_size=None, max_queued_events=None, dedupe_window_ms=None, close_timeout_ms=None))]
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
        poll_interval_ms: Option<u64>,
        request_timeout_ms: Option<u64>,
        stream_idle_timeout_ms: Option<u64>,
        backoff_base_ms: Option<u64>,
        backoff_cap_ms: Option<u64>,
        min_version: u64,
        send_exposures: bool,
        flush_interval_ms: Option<u64>,
        flush_size: Option<usize>,
        max_queued_events: Option<usize>,
        dedupe_window_ms: Option<u64>,
        close_timeout_ms: Option<u64>,
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
        o.min_version = min_version;
        o.send_exposures = send_exposures;
        o.flush_interval_ms = flush_interval_ms.unwrap_or(o.flush_interval_ms);
        o.flush_size = flush_size.unwrap_or(o.flush_size);
        o.max_queued_events = max_queued_events.unwrap_or(o.max_queued_events);
        o.dedupe_window_ms = dedupe_window_ms.unwrap_or(o.dedupe_window_ms);
        o.close_timeout_ms = close_timeout_ms.unwrap_or(o.close_timeout_ms);
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
    #[pyo3(signature = (timeout_ms=None))]
    fn wait_until_ready(&self, py: Python<'_>, timeout_ms: Option<u64>) -> &'static str {
        let timeout_ms = timeout_ms.unwrap_or(DEFAULTS.ready_timeout_ms);
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
        self.value(py, ValueKind::Boolean, flag_key, default_value, context)
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
        self.value(py, ValueKind::String, flag_key, default_value, context)
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
        self.value(py, ValueKind::Number, flag_key, default_value, context)
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
        self.value(py, ValueKind::Integer, flag_key, default_value, context)
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
        self.value(py, ValueKind::Object, flag_key, default_value, context)
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
        self.details(py, ValueKind::Boolean, flag_key, default_value, context)
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
        self.details(py, ValueKind::String, flag_key, default_value, context)
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
        self.details(py, ValueKind::Number, flag_key, default_value, context)
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
        self.details(py, ValueKind::Integer, flag_key, default_value, context)
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
        self.details(py, ValueKind::Object, flag_key, default_value, context)
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
    #[pyo3(signature = (timeout_ms=None))]
    fn flush(&self, py: Python<'_>, timeout_ms: Option<u64>) -> bool {
        let timeout_ms = timeout_ms.unwrap_or(DEFAULTS.close_timeout_ms);
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
