//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! There is one route table: [`crate::api::routes`] registers every handler with
//! `utoipa_axum::routes!`, which gives the router its routes and this document its
//! operations from the same `#[utoipa::path]` attribute on each handler (method, path,
//! parameters, request body, success responses, the role in `x-burgee-role`, the operation
//! id = the handler's name). Schemas are derived from the Rust types with `utoipa::ToSchema`,
//! except the snapshot model and the event batch, which come from `spec/snapshot.schema.json`
//! and `spec/events.schema.json` ([`external`]).
//!
//! [`document`] then applies the API's conventions to every operation, so they are stated
//! once rather than on each handler:
//! - path parameters from the template (`{version}` an integer, other names keys);
//! - `x-burgee-role` other than `none`: bearer security, 401 and 403;
//! - a path parameter: 404; parameters or a body: 400; a JSON body: 413 and 422;
//! - an `If-Match` parameter: 412 and 428;
//! - every operation: 500 (`INTERNAL`), 405 on its path for other methods; every one but the
//!   probes (`/health`, `/live`, `/ready`, `/metrics`): 429 (rate limit, stream caps), 503
//!   (concurrency limit) and 408 (handler timeout), with `Retry-After` on 429 and 503.
//!
//! Every error response has the `Error` schema, whose `code` enum is [`ApiCode::ALL`].

pub mod external;

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::error::{ApiCode, ErrorBody};

/// The extension naming the least role an operation needs: `none` (no token), `sdk` (an SDK
/// or client-side key), or an admin role (`viewer`, `editor`, `publisher`, `admin`), possibly
/// with a condition in words.
pub const ROLE_EXTENSION: &str = "x-burgee-role";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Burgee",
        description = "Authoring, publishing and distribution of signed flag snapshots. SDKs \
                       verify the snapshots and evaluate flags locally; this API never \
                       evaluates for apps."
    ),
    // `ProjectChange` is the data of the change stream's events (an SSE body is not a JSON schema).
    components(schemas(ErrorBody, crate::api::ProjectChange)),
    tags(
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "distribution", description = "Signed snapshots for SDKs (ETag/304, SSE)"),
        (name = "projects", description = "Projects and their environments"),
        (name = "flags", description = "Flag definitions and per-environment targeting"),
        (name = "segments", description = "Segments of one environment"),
        (name = "versions", description = "Published versions, diffs, rollback"),
        (name = "access", description = "API tokens, SDK keys and the audit log"),
        (name = "events", description = "Exposure and track events, experiment results"),
    )
)]
struct ApiDoc;

/// The whole document as JSON: the route table's operations, the conventions above, and the
/// specification's schemas.
pub fn document() -> Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::api::routes().into_openapi());
    let mut value = serde_json::to_value(&doc).unwrap_or_default();
    if let Some(Value::Object(paths)) = value.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            if let Value::Object(ops) = item {
                for (method, op) in ops.iter_mut() {
                    if let Value::Object(op) = op {
                        apply_conventions(path, method, op);
                    }
                }
            }
        }
    }
    if let Some(Value::Object(components)) = value.get_mut("components") {
        components.insert(
            "securitySchemes".into(),
            json!({"bearer": {"type": "http", "scheme": "bearer",
                "description": "An admin API token (bga_...), an SDK key (bgs_...) or a client-side key (bgc_...)"}}),
        );
        if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
            schemas.extend(external::components());
            merge_flattened(schemas);
            // utoipa drops the `Option` around a generic parameter: `Written<T>.item` is
            // `null` after a delete.
            for (name, schema) in schemas.iter_mut() {
                if name.starts_with("Written_")
                    && let Some(item) = schema.pointer_mut("/properties/item")
                {
                    *item = json!({"oneOf": [{"type": "null"}, item.take()]});
                }
            }
            if let Some(code) = schemas
                .get_mut("ErrorBody")
                .and_then(|e| e.pointer_mut("/properties/code"))
            {
                code["enum"] = json!(ApiCode::ALL.map(ApiCode::as_str));
            }
        }
    }
    value
}

/// Rewrites each `allOf` that has a closed part (`additionalProperties: false`, from
/// `deny_unknown_fields` or the specification; the parts of a `#[serde(flatten)]`) into one
/// object with the properties and required names of all its parts, anywhere in the
/// components: as an `allOf`, the closed part would refuse the other parts' properties,
/// which the JSON on the wire has side by side.
fn merge_flattened(schemas: &mut Map<String, Value>) {
    let snapshot = schemas.clone();
    for schema in schemas.values_mut() {
        merge_in(schema, &snapshot);
    }
}

fn merge_in(value: &mut Value, schemas: &Map<String, Value>) {
    let resolve = |part: &Value| -> Value {
        part.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| schemas.get(name))
            .cloned()
            .unwrap_or_else(|| part.clone())
    };
    match value {
        Value::Object(map) => {
            let parts = map.get("allOf").and_then(Value::as_array).cloned();
            if let Some(parts) = parts {
                let resolved: Vec<Value> = parts.iter().map(resolve).collect();
                let closed = resolved
                    .iter()
                    .any(|p| p.get("additionalProperties") == Some(&Value::Bool(false)));
                if closed {
                    let mut properties = Map::new();
                    let mut required = Vec::new();
                    for part in &resolved {
                        if let Some(Value::Object(p)) = part.get("properties") {
                            properties.extend(p.clone());
                        }
                        if let Some(Value::Array(r)) = part.get("required") {
                            required.extend(r.iter().cloned());
                        }
                    }
                    map.remove("allOf");
                    map.insert("type".into(), json!("object"));
                    map.insert("properties".into(), Value::Object(properties));
                    map.insert("required".into(), Value::Array(required));
                }
            }
            map.values_mut().for_each(|v| merge_in(v, schemas));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| merge_in(v, schemas)),
        _ => {}
    }
}

/// The error responses and parameters every operation of its kind has (module docs).
fn apply_conventions(path: &str, method: &str, op: &mut Map<String, Value>) {
    let role = op
        .get("extensions")
        .and_then(|e| e.get(ROLE_EXTENSION))
        .or_else(|| op.get(ROLE_EXTENSION))
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_owned();
    let params = op
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    let mut has_path_param = false;
    let mut if_match = false;
    if let Value::Array(list) = params {
        let declared: Vec<String> = list
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        if_match = declared.iter().any(|n| n == "If-Match");
        let names = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
        for (i, name) in names.enumerate() {
            has_path_param = true;
            if declared.iter().any(|d| d == name) {
                continue;
            }
            let schema = if name == "version" {
                json!({"type": "integer", "format": "int64", "minimum": 0})
            } else {
                json!({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"})
            };
            list.insert(
                i,
                json!({"name": name, "in": "path", "required": true, "schema": schema}),
            );
        }
    }
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let has_body = op.contains_key("requestBody");
    let mut codes: Vec<ApiCode> = vec![ApiCode::Internal];
    if role != "none" {
        op.insert("security".into(), json!([{"bearer": []}]));
        codes.extend([ApiCode::Unauthorized, ApiCode::Forbidden]);
    }
    if has_path_param {
        codes.push(ApiCode::NotFound);
    }
    if has_params || has_body {
        codes.push(ApiCode::BadRequest);
    }
    if has_body {
        codes.extend([ApiCode::PayloadTooLarge, ApiCode::SnapshotInvalid]);
    }
    if if_match {
        codes.extend([ApiCode::PreconditionFailed, ApiCode::PreconditionRequired]);
    }
    if method == "post" && has_body {
        codes.push(ApiCode::Conflict);
    }
    if !crate::api::PROBE_PATHS.contains(&path) {
        // The limits of `api::limits`: rate, concurrency, handler timeout.
        codes.extend([
            ApiCode::Overloaded,
            ApiCode::Unavailable,
            ApiCode::RequestTimeout,
        ]);
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(responses) = responses {
        for code in codes {
            let status = code.status().as_u16().to_string();
            let entry = responses.entry(status).or_insert_with(|| {
                json!({"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
            });
            if let Some(Value::String(d)) = entry.get_mut("description") {
                if !d.is_empty() {
                    d.push_str("; ");
                }
                d.push_str(code.as_str());
            }
        }
    }
    let description = format!("Authorization: {role}.");
    match op.get_mut("description") {
        Some(Value::String(d)) if !d.is_empty() => {
            d.push_str("\n\n");
            d.push_str(&description);
        }
        _ => {
            op.insert("description".into(), Value::String(description));
        }
    }
}
