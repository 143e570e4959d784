//! # burgee-conformance-runner
//!
//! Turns one file of `spec/vectors/` into what `burgee-core` *observes* for it — evaluation
//! details, load errors with code and message, bucket values, envelope verification outcomes —
//! as JSON bytes. The very same [`run`] is called natively by `burgee-conformance-host` and,
//! compiled to wasm32, inside `burgee-conformance-guest`, so the two builds of the core can be
//! compared byte for byte with no logic written twice.
//!
//! It must never judge results (the host compares them with the vectors' expectations), do
//! I/O, read a clock (each vector carries its `now`) or panic: a request it cannot read is
//! answered with a `request_error`.
//!
//! ```text
//!  vector file ─► request() ─┬─► run(), native ───────────────► response ─┐   same bytes?
//!    (host)                  └─► run(), wasm32 guest (wasmtime) ► response ─┴─► as expected?
//! ```
//!
//! **Request** (built by [`request`]): `{"suite": S, "document": D, "files": F}` where `S` is a
//! [`Suite`] name, `D` the vector file's JSON and `F` maps each file an envelope case names to
//! its exact bytes in standard base64 (empty for the other suites).
//!
//! **Response**: `{"observed": O}` or `{"request_error": "<where>: <what>"}`, where `O` is, per
//! suite (lists are in the order of the document's cases):
//! - `eval`: `{"cases": [{"details": {value, variant, reason, rule_id, error_code,
//!   error_message, metadata}} | {"context_error": E}]}`, `value` being the typed getter's value
//!   when the case names a `get`; or `{"load_error": E}` when the snapshot does not load.
//! - `invalid-snapshots`: `[{"load_error": E} | {"loaded": I}]`.
//! - `bucketing`: `[bucket, ...]`.
//! - `envelopes`: `[{"loaded": I} | {"load_error": E}]`, each case loaded with its
//!   `trusted_keys`, `environment`, `now` and, when present, `project`, `audience`,
//!   `held_version`/`held_digest` and `max_envelope_bytes`.
//! - `config`: as `envelopes` for config documents (`spec/CONFIG.md`, with the case's
//!   `service`): `[{"loaded": C, "instances": [{key: {raw, value, override}}]} |
//!   {"load_error": E}]`, each of the case's `instances` resolved at the case's `now`.
//! - `contexts`: `[{"context": X} | {"context_error": E}]`, `X` being the context as the core
//!   reads it back (its JSON form).
//! - `client-view`: `{"client": C, "refused": [V, ...]}` where `V` is `{"derived": <snapshot
//!   document>}` or `{"load_error": E}` for `client_view` of a server snapshot, and `C` is `V`
//!   for `document.server`, which when derived also has `"compiled": {"loaded": I} |
//!   {"load_error": E}` and `"derived_again": V` (`client_view` of the client snapshot).
//!
//! Here `E = {"code", "message"}` (the stable code and the core's message; `SNAPSHOT_INVALID`
//! adds the `path` it names) and `I` is the loaded snapshot's info (`project`, `environment`,
//! `version`, `issued_at`, `expires_at`, `digest`, `keyid`, `audience`).
//!
//! ```
//! use burgee_conformance_runner::{Suite, request, run};
//! let doc = serde_json::json!({"cases": [{"salt": "s", "seed": "flag", "value": "user-1"}]});
//! let response = run(&request(Suite::Bucketing, &doc, &Default::default()));
//! let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
//! assert_eq!(response["observed"][0], burgee_core::bucket("s", "flag", "user-1"));
//! ```
#![no_std]

extern crate alloc;

mod catalog;

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use burgee_core::model::SnapshotDef;
use burgee_core::{
    Audience, ConfigDocument, Context, EvaluationDetails, Held, LoadError, LoadOptions, Snapshot,
    SnapshotInfo, TrustedKey, bucket, client_view, parse_document,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Which kind of vector file a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `spec/vectors/eval/*.json`: a snapshot and evaluation cases.
    Eval,
    /// `spec/vectors/invalid-snapshots.json`: snapshots that must be refused at load.
    InvalidSnapshots,
    /// `spec/vectors/bucketing.json`: golden bucket values.
    Bucketing,
    /// `spec/vectors/envelopes/manifest.json`: signed-envelope cases, with the files they name.
    Envelopes,
    /// `spec/vectors/client-view.json`: a server snapshot, the client snapshot derived from it,
    /// and server snapshots whose derivation is refused.
    ClientView,
    /// `spec/vectors/contexts.json`: evaluation contexts in JSON, accepted or refused.
    Contexts,
    /// `spec/vectors/config/manifest.json`: signed config documents (`spec/CONFIG.md`), with
    /// the files they name and instances to resolve.
    Config,
    /// `catalog/manifest.json` (spec/CATALOG.md): signed catalog documents, with the files
    /// they name.
    Catalog,
    /// `catalog/balance.json`: balancing sequences on the core's `Balancer`.
    Balance,
}

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 9] = [
        Suite::Eval,
        Suite::InvalidSnapshots,
        Suite::Bucketing,
        Suite::Envelopes,
        Suite::ClientView,
        Suite::Contexts,
        Suite::Config,
        Suite::Catalog,
        Suite::Balance,
    ];

    /// The name used in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Eval => "eval",
            Suite::InvalidSnapshots => "invalid-snapshots",
            Suite::Bucketing => "bucketing",
            Suite::Envelopes => "envelopes",
            Suite::ClientView => "client-view",
            Suite::Contexts => "contexts",
            Suite::Config => "config",
            Suite::Catalog => "catalog",
            Suite::Balance => "balance",
        }
    }

    /// The suite of a request name, if there is one.
    pub fn parse(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Why a request could not be run: the request or the vector file in it is malformed. Never
/// a verdict on the core (those are observations).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The request bytes are not JSON.
    #[error("the request is not JSON: {0}")]
    Json(serde_json::Error),
    /// A member is missing or of the wrong JSON type.
    #[error("{at}: expected {expected}")]
    Shape {
        /// JSON path of the member, e.g. `document.cases[3].flag`.
        at: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `suite` names no [`Suite`].
    #[error("suite: unknown suite {0:?}")]
    UnknownSuite(String),
    /// An evaluation case asks for a typed getter the core does not have.
    #[error("{at}: unknown getter {getter:?} (boolean, string, integer, float or object)")]
    UnknownGetter {
        /// JSON path of the `get` member.
        at: String,
        /// The getter asked for.
        getter: String,
    },
    /// An envelope case names a file the request does not carry (or not as base64).
    #[error("{at}: file {file:?} is not in the request's files as base64")]
    MissingFile {
        /// JSON path of the `file` member.
        at: String,
        /// The file name.
        file: String,
    },
}

/// Builds the request [`run`] reads: the suite, the vector file's JSON and, for
/// [`Suite::Envelopes`], the bytes of every file the manifest names.
pub fn request(suite: Suite, document: &Value, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let files: Map<String, Value> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), Value::String(BASE64.encode(bytes))))
        .collect();
    json!({"suite": suite.as_str(), "document": document, "files": files})
        .to_string()
        .into_bytes()
}

/// Runs a request (see the crate docs for both shapes) and returns the response as JSON bytes.
/// The output depends only on the request bytes and the core's behaviour.
pub fn run(request: &[u8]) -> Vec<u8> {
    let response = match observe(request) {
        Ok(observed) => json!({ "observed": observed }),
        Err(e) => json!({ "request_error": e.to_string() }),
    };
    response.to_string().into_bytes()
}

fn observe(request: &[u8]) -> Result<Value, RequestError> {
    let request: Value = serde_json::from_slice(request).map_err(RequestError::Json)?;
    let name = str_at(member(&request, "suite", "")?, "suite")?;
    let suite = Suite::parse(name).ok_or_else(|| RequestError::UnknownSuite(name.to_owned()))?;
    let document = member(&request, "document", "")?;
    let cases = || array_at(member(document, "cases", "document")?, "document.cases");
    match suite {
        Suite::Eval => eval_file(document, cases()?),
        Suite::InvalidSnapshots => cases()?.iter().enumerate().map(invalid_snapshot).collect(),
        Suite::Bucketing => cases()?.iter().enumerate().map(bucketing).collect(),
        Suite::Envelopes => {
            let files = member(&request, "files", "")?;
            cases()?
                .iter()
                .enumerate()
                .map(|(i, case)| envelope(i, case, files))
                .collect()
        }
        Suite::Config => {
            let files = member(&request, "files", "")?;
            cases()?
                .iter()
                .enumerate()
                .map(|(i, case)| config_case(i, case, files))
                .collect()
        }
        Suite::Catalog => {
            let files = member(&request, "files", "")?;
            cases()?
                .iter()
                .enumerate()
                .map(|(i, case)| catalog::catalog_case(i, case, files))
                .collect()
        }
        Suite::Balance => catalog::balance_file(document),
        Suite::ClientView => client_view_file(document),
        Suite::Contexts => cases()?.iter().enumerate().map(context).collect(),
    }
}

fn eval_file(document: &Value, cases: &[Value]) -> Result<Value, RequestError> {
    let file_now = u64_at(member(document, "now", "document")?, "document.now")?;
    let payload = member(document, "snapshot", "document")?.to_string();
    let snapshot = match Snapshot::from_json(payload.as_bytes()) {
        Ok(s) => s,
        Err(e) => return Ok(json!({ "load_error": load_error(&e) })),
    };
    let cases = cases
        .iter()
        .enumerate()
        .map(|(i, case)| eval_case(&snapshot, &format!("document.cases[{i}]"), case, file_now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "cases": cases }))
}

/// One evaluation case, as `core/tests/vectors.rs` runs it natively: `evaluate`, or the typed
/// getter `get` with `default` (whose value then replaces the details' `value`).
fn eval_case(
    snap: &Snapshot,
    at: &str,
    case: &Value,
    file_now: u64,
) -> Result<Value, RequestError> {
    let flag = str_at(member(case, "flag", at)?, &format!("{at}.flag"))?;
    let now = match case.get("now") {
        Some(now) => u64_at(now, &format!("{at}.now"))?,
        None => file_now,
    };
    let ctx = match Context::from_json(member(case, "context", at)?) {
        Ok(ctx) => ctx,
        Err(e) => {
            return Ok(json!({
                "context_error": {"code": e.code().as_str(), "message": e.to_string()}
            }));
        }
    };
    let Some(get) = case.get("get") else {
        return Ok(details(&snap.evaluate(flag, &ctx, now), None));
    };
    let get_at = format!("{at}.get");
    let default = member(case, "default", at)?;
    let default_at = format!("{at}.default");
    let shape = |expected| RequestError::Shape {
        at: default_at.clone(),
        expected,
    };
    Ok(match str_at(get, &get_at)? {
        "boolean" => {
            let default = default.as_bool().ok_or_else(|| shape("a boolean"))?;
            let t = snap.get_bool(flag, &ctx, now, default);
            details(&t.details, Some(Value::Bool(t.value)))
        }
        "string" => {
            let default = default.as_str().ok_or_else(|| shape("a string"))?;
            let t = snap.get_string(flag, &ctx, now, default);
            details(&t.details, Some(Value::from(t.value)))
        }
        "integer" => {
            let default = default.as_i64().ok_or_else(|| shape("an i64 integer"))?;
            let t = snap.get_integer(flag, &ctx, now, default);
            details(&t.details, Some(Value::from(t.value)))
        }
        "float" => {
            let default = default.as_f64().ok_or_else(|| shape("a number"))?;
            let t = snap.get_float(flag, &ctx, now, default);
            details(&t.details, Some(Value::from(t.value)))
        }
        "object" => {
            let default = default.as_object().ok_or_else(|| shape("an object"))?;
            let t = snap.get_object(flag, &ctx, now, default);
            details(&t.details, Some(Value::Object(t.value.clone())))
        }
        other => {
            return Err(RequestError::UnknownGetter {
                at: get_at,
                getter: other.to_owned(),
            });
        }
    })
}

/// The details as the core serialises them, `value` replaced by a typed getter's value.
fn details(details: &EvaluationDetails<'_>, typed_value: Option<Value>) -> Value {
    let mut observed = to_json(details);
    if let (Some(value), Value::Object(map)) = (typed_value, &mut observed) {
        map.insert("value".to_owned(), value);
    }
    json!({ "details": observed })
}

fn invalid_snapshot((i, case): (usize, &Value)) -> Result<Value, RequestError> {
    let at = format!("document.cases[{i}]");
    let payload = match case.get("snapshot_text") {
        Some(text) => str_at(text, &format!("{at}.snapshot_text"))?.to_owned(),
        None => member(case, "snapshot", &at)?.to_string(),
    };
    Ok(loaded(Snapshot::from_json(payload.as_bytes())))
}

fn context((i, case): (usize, &Value)) -> Result<Value, RequestError> {
    let at = format!("document.cases[{i}]");
    Ok(match Context::from_json(member(case, "context", &at)?) {
        Ok(ctx) => json!({ "context": to_json(&ctx) }),
        Err(e) => json!({
            "context_error": {"code": e.code().as_str(), "message": e.to_string()}
        }),
    })
}

fn bucketing((i, case): (usize, &Value)) -> Result<Value, RequestError> {
    let at = format!("document.cases[{i}]");
    let text = |key| str_at(member(case, key, &at)?, &format!("{at}.{key}"));
    Ok(Value::from(bucket(
        text("salt")?,
        text("seed")?,
        text("value")?,
    )))
}

fn envelope(i: usize, case: &Value, files: &Value) -> Result<Value, RequestError> {
    with_options(i, case, files, |bytes, opts| {
        Ok(loaded(Snapshot::load(bytes, opts)))
    })
}

/// A config document case: `{"loaded": {project, environment, service, version, digest,
/// secrets}, "instances": [{key: {raw, value, override}}]}` (each of the case's `instances`
/// resolved) or `{"load_error": E}`.
fn config_case(i: usize, case: &Value, files: &Value) -> Result<Value, RequestError> {
    let at = format!("document.cases[{i}]");
    let service = str_at(member(case, "service", &at)?, &format!("{at}.service"))?;
    with_options(i, case, files, |bytes, opts| {
        let doc = match ConfigDocument::load(bytes, opts, service) {
            Ok(doc) => doc,
            Err(e) => return Ok(json!({ "load_error": load_error(&e) })),
        };
        let info = doc.info();
        let mut instances = Vec::new();
        let list = case.get("instances").and_then(Value::as_array);
        for (j, instance) in list.into_iter().flatten().enumerate() {
            let ctx_at = format!("{at}.instances[{j}].instance");
            let ctx = match Context::from_json(member(instance, "instance", &ctx_at)?) {
                Ok(ctx) => ctx,
                Err(e) => {
                    instances.push(json!({"context_error": e.to_string()}));
                    continue;
                }
            };
            let values: Map<String, Value> = doc
                .resolve_all(&ctx, opts.now)
                .into_iter()
                .map(|v| {
                    let value = json!({"raw": v.raw, "value": v.value, "override": v.override_id});
                    (v.key.to_owned(), value)
                })
                .collect();
            instances.push(Value::Object(values));
        }
        Ok(json!({
            "loaded": {
                "project": info.project, "environment": info.environment,
                "service": info.service, "version": info.version, "digest": info.digest,
                "secrets": info.secrets,
            },
            "instances": instances,
        }))
    })
}

/// Runs `f` with a case's envelope bytes and load options (trusted keys, environment, now,
/// project, audience, held version and digest, size limit); a trusted key that does not parse
/// is the case's `load_error`.
pub(crate) fn with_options(
    i: usize,
    case: &Value,
    files: &Value,
    f: impl FnOnce(&[u8], &LoadOptions<'_>) -> Result<Value, RequestError>,
) -> Result<Value, RequestError> {
    let at = format!("document.cases[{i}]");
    let file = str_at(member(case, "file", &at)?, &format!("{at}.file"))?;
    let bytes = files
        .get(file)
        .and_then(Value::as_str)
        .and_then(|b64| BASE64.decode(b64).ok())
        .ok_or_else(|| RequestError::MissingFile {
            at: format!("{at}.file"),
            file: file.to_owned(),
        })?;
    let keys_at = format!("{at}.trusted_keys");
    let mut keys = Vec::new();
    for (k, key) in array_at(member(case, "trusted_keys", &at)?, &keys_at)?
        .iter()
        .enumerate()
    {
        match TrustedKey::from_base64(str_at(key, &format!("{keys_at}[{k}]"))?) {
            Ok(key) => keys.push(key),
            Err(e) => return Ok(json!({ "load_error": load_error(&e) })),
        }
    }
    let environment = str_at(
        member(case, "environment", &at)?,
        &format!("{at}.environment"),
    )?;
    let now = u64_at(member(case, "now", &at)?, &format!("{at}.now"))?;
    let mut opts = LoadOptions::new(&keys, environment, now);
    if let Some(project) = case.get("project") {
        opts.project = Some(str_at(project, &format!("{at}.project"))?);
    }
    if let Some(audience) = case.get("audience") {
        let audience_at = format!("{at}.audience");
        opts.audience =
            Audience::parse(str_at(audience, &audience_at)?).ok_or(RequestError::Shape {
                at: audience_at,
                expected: "\"server\" or \"client\"",
            })?;
    }
    let held_digest = match case.get("held_digest") {
        Some(d) => str_at(d, &format!("{at}.held_digest"))?,
        None => "",
    };
    if let Some(version) = case.get("held_version") {
        opts.held = Some(Held {
            version: u64_at(version, &format!("{at}.held_version"))?,
            digest: held_digest,
        });
    }
    if let Some(max) = case.get("max_envelope_bytes") {
        let max_at = format!("{at}.max_envelope_bytes");
        opts.max_envelope_bytes =
            usize::try_from(u64_at(max, &max_at)?).map_err(|_| RequestError::Shape {
                at: max_at,
                expected: "a size that fits this target's usize",
            })?;
    }
    f(&bytes, &opts)
}

/// The client snapshot `client_view` derives from `document.server` (as JSON, and the info of
/// it compiled), what deriving again from that client snapshot answers, and the answer for each
/// server snapshot of `document.refused`.
fn client_view_file(document: &Value) -> Result<Value, RequestError> {
    let derive = |server: &Value| {
        parse_document(server.to_string().as_bytes()).and_then(|def| client_view(&def))
    };
    let client = match derive(member(document, "server", "document")?) {
        Ok(client) => {
            json!({
                "derived": to_json(&client),
                "compiled": loaded(Snapshot::compile(&client, None)),
                "derived_again": derived(client_view(&client)),
            })
        }
        Err(e) => json!({ "load_error": load_error(&e) }),
    };
    let refused_at = "document.refused";
    let refused = array_at(member(document, "refused", "document")?, refused_at)?;
    let refused = refused
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let at = format!("{refused_at}[{i}]");
            Ok(derived(derive(member(case, "server", &at)?)))
        })
        .collect::<Result<Vec<_>, RequestError>>()?;
    Ok(json!({"client": client, "refused": refused}))
}

/// `{"loaded": info}` or `{"load_error": E}`.
fn loaded(result: Result<Snapshot, LoadError>) -> Value {
    match result {
        Ok(snap) => json!({ "loaded": info(snap.info()) }),
        Err(e) => json!({ "load_error": load_error(&e) }),
    }
}

/// `{"derived": <snapshot document>}` or `{"load_error": E}`.
fn derived(result: Result<SnapshotDef, LoadError>) -> Value {
    match result {
        Ok(def) => json!({ "derived": to_json(&def) }),
        Err(e) => json!({ "load_error": load_error(&e) }),
    }
}

/// A value as the core serialises it; a serialisation failure is an observation too.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| json!({ "serialize_error": e.to_string() }))
}

/// The stable code and the message; for `SNAPSHOT_INVALID` also the path it names.
pub(crate) fn load_error(e: &LoadError) -> Value {
    let mut error = json!({"code": e.code().as_str(), "message": e.to_string()});
    if let (LoadError::Invalid { path, .. }, Value::Object(map)) = (e, &mut error) {
        map.insert("path".to_owned(), Value::from(path.as_str()));
    }
    error
}

fn info(info: &SnapshotInfo) -> Value {
    json!({
        "project": info.project,
        "environment": info.environment,
        "version": info.version,
        "issued_at": info.issued_at,
        "expires_at": info.expires_at,
        "digest": info.digest,
        "keyid": info.keyid,
        "audience": info.audience.as_str(),
    })
}

/// `parent.key`, or a [`RequestError::Shape`] naming `at.key`.
pub(crate) fn member<'v>(
    parent: &'v Value,
    key: &str,
    at: &str,
) -> Result<&'v Value, RequestError> {
    parent.get(key).ok_or_else(|| RequestError::Shape {
        at: if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        },
        expected: "a member",
    })
}

pub(crate) fn str_at<'v>(v: &'v Value, at: &str) -> Result<&'v str, RequestError> {
    v.as_str().ok_or_else(|| RequestError::Shape {
        at: at.to_owned(),
        expected: "a string",
    })
}

pub(crate) fn u64_at(v: &Value, at: &str) -> Result<u64, RequestError> {
    v.as_u64().ok_or_else(|| RequestError::Shape {
        at: at.to_owned(),
        expected: "a non-negative integer",
    })
}

pub(crate) fn array_at<'v>(v: &'v Value, at: &str) -> Result<&'v [Value], RequestError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| RequestError::Shape {
            at: at.to_owned(),
            expected: "an array",
        })
}
