//! The OpenAPI 3.1 document served at `/openapi.json`, built from [`ROUTES`] — the same
//! table the README's API section follows — so every route [`crate::api::app`] serves is
//! described with its parameters, body, role and error responses.
//!
//! (utoipa's derive macros were not used: they cannot describe the `burgee-core` model types,
//! which live in a `no_std` crate without them, so schemas of bodies are given as JSON objects
//! pointing to `spec/SNAPSHOT.md`. The Swagger UI at `/swagger-ui/` is `utoipa-swagger-ui`
//! with its vendored assets, serving this document.)

use crate::error::ApiCode;
use serde_json::{Map, Value, json};

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// HTTP method, lowercase.
    pub method: &'static str,
    /// Path template with `{param}`s.
    pub path: &'static str,
    /// Who may call it.
    pub auth: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Name of the JSON body, if any.
    pub body: Option<&'static str>,
    /// Query parameters (all optional unless listed in `required_query`).
    pub query: &'static [&'static str],
    /// Required query parameters.
    pub required_query: &'static [&'static str],
    /// Needs `If-Match`.
    pub if_match: bool,
}

const fn r(
    method: &'static str,
    path: &'static str,
    auth: &'static str,
    summary: &'static str,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        auth,
        summary,
        body: None,
        query: &[],
        required_query: &[],
        if_match: false,
    }
}

const fn with_body(mut d: RouteDoc, body: &'static str) -> RouteDoc {
    d.body = Some(body);
    d
}

const fn matched(mut d: RouteDoc) -> RouteDoc {
    d.if_match = true;
    d
}

const fn query(mut d: RouteDoc, q: &'static [&'static str]) -> RouteDoc {
    d.query = q;
    d
}

const P: &str = "/v1/projects/{project}";
const E: &str = "/v1/projects/{project}/environments/{env}";

/// Every route of the API.
pub const ROUTES: &[RouteDoc] = &[
    r("get", "/health", "none", "The process answers"),
    r("get", "/live", "none", "Liveness (same as /health)"),
    r(
        "get",
        "/ready",
        "none",
        "Readiness: the database answers (503 otherwise)",
    ),
    r("get", "/metrics", "none", "Prometheus metrics"),
    r("get", "/openapi.json", "none", "This document"),
    query(
        r(
            "get",
            "/v1/snapshots/{env}",
            "SDK key of env, or viewer",
            "Latest signed envelope (ETag = digest, 304 on If-None-Match)",
        ),
        &["project"],
    ),
    query(
        r(
            "get",
            "/v1/stream/{env}",
            "SDK key of env, or viewer",
            "Server-sent events: one `snapshot` event per new version (Last-Event-ID resume)",
        ),
        &["project"],
    ),
    query(
        r(
            "get",
            "/v1/client/snapshots/{env}",
            "sdk",
            "Latest client snapshot (spec/SNAPSHOT.md §9): client-visible flags only, targeting data digested; CORS for any origin; client-side key in Authorization or ?key=",
        ),
        &["project", "key"],
    ),
    query(
        r(
            "get",
            "/v1/client/stream/{env}",
            "sdk",
            "Server-sent events of client snapshots (as /v1/stream/{env}); CORS; client-side key in Authorization or ?key=",
        ),
        &["project", "key"],
    ),
    r(
        "get",
        "/v1/projects",
        "any admin token",
        "Projects the token can see",
    ),
    with_body(
        r(
            "post",
            "/v1/projects",
            "admin (all projects)",
            "Create a project with its environments",
        ),
        "ProjectInput",
    ),
    r("get", P, "viewer", "One project"),
    matched(with_body(
        r("put", P, "admin", "Update name and description"),
        "ProjectUpdate",
    )),
    matched(r(
        "delete",
        P,
        "admin (all projects)",
        "Delete a project (snapshots and audit stay)",
    )),
    r(
        "get",
        "/v1/projects/{project}/environments",
        "viewer",
        "Environments",
    ),
    with_body(
        r(
            "post",
            "/v1/projects/{project}/environments",
            "admin",
            "Create an environment (publishes its first version)",
        ),
        "EnvironmentInput",
    ),
    r("get", E, "viewer", "One environment"),
    matched(with_body(
        r("put", E, "admin", "Update name and protection"),
        "EnvironmentUpdate",
    )),
    matched(r("delete", E, "admin", "Delete an environment")),
    query(
        r(
            "get",
            "/v1/projects/{project}/flags",
            "viewer",
            "Flags, filtered by tag, owner, type, q",
        ),
        &["tag", "owner", "type", "q"],
    ),
    with_body(
        r(
            "post",
            "/v1/projects/{project}/flags",
            "publisher (editor if no environment is protected)",
            "Create a flag; publishes every environment (off where no targeting is given)",
        ),
        "FlagInput",
    ),
    r(
        "get",
        "/v1/projects/{project}/flags/{key}",
        "viewer",
        "One flag with its targeting per environment",
    ),
    matched(with_body(
        r(
            "put",
            "/v1/projects/{project}/flags/{key}",
            "publisher (editor if no environment is protected)",
            "Replace the project-wide definition; publishes every environment",
        ),
        "FlagSpec",
    )),
    matched(r(
        "delete",
        "/v1/projects/{project}/flags/{key}",
        "publisher (editor if no environment is protected)",
        "Delete a flag; publishes every environment",
    )),
    r(
        "get",
        "/v1/projects/{project}/environments/{env}/flags/{key}",
        "viewer",
        "A flag's targeting in one environment",
    ),
    matched(with_body(
        r(
            "put",
            "/v1/projects/{project}/environments/{env}/flags/{key}",
            "editor (publisher if protected)",
            "Replace the targeting; publishes the environment",
        ),
        "Targeting",
    )),
    r(
        "get",
        "/v1/projects/{project}/environments/{env}/segments",
        "viewer",
        "Segments",
    ),
    with_body(
        r(
            "post",
            "/v1/projects/{project}/environments/{env}/segments",
            "editor (publisher if protected)",
            "Create a segment; publishes the environment",
        ),
        "SegmentDef",
    ),
    r(
        "get",
        "/v1/projects/{project}/environments/{env}/segments/{key}",
        "viewer",
        "One segment",
    ),
    matched(with_body(
        r(
            "put",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            "editor (publisher if protected)",
            "Replace a segment; publishes the environment",
        ),
        "SegmentDef",
    )),
    matched(r(
        "delete",
        "/v1/projects/{project}/environments/{env}/segments/{key}",
        "editor (publisher if protected)",
        "Delete a segment; publishes the environment",
    )),
    query(
        r(
            "get",
            "/v1/projects/{project}/environments/{env}/versions",
            "viewer",
            "Published versions, newest first",
        ),
        &["before", "limit"],
    ),
    r(
        "get",
        "/v1/projects/{project}/environments/{env}/versions/{version}",
        "viewer",
        "The envelope of one version, as served then",
    ),
    RouteDoc {
        required_query: &["from", "to"],
        ..r(
            "get",
            "/v1/projects/{project}/environments/{env}/diff",
            "viewer",
            "Flags and segments that differ between two versions, with the changed fields",
        )
    },
    with_body(
        r(
            "post",
            "/v1/projects/{project}/environments/{env}/rollback",
            "publisher",
            "Republish an old version's targeting and segments as a new version",
        ),
        "RollbackInput",
    ),
    query(
        r("get", "/v1/tokens", "admin", "Tokens (never the secrets)"),
        &["project"],
    ),
    with_body(
        r(
            "post",
            "/v1/tokens",
            "admin",
            "Create an admin token or SDK key; the secret is returned once",
        ),
        "TokenInput",
    ),
    r("delete", "/v1/tokens/{id}", "admin", "Revoke a token"),
    with_body(
        r(
            "post",
            "/v1/events",
            "sdk",
            "Send a batch of exposure and track events (spec/EVENTS.md); 202 once durable, 429 when behind",
        ),
        "EventBatch",
    ),
    query(
        r(
            "get",
            "/v1/projects/{project}/environments/{env}/events/recent",
            "viewer",
            "The newest stored events of the environment, newest first",
        ),
        &["limit"],
    ),
    RouteDoc {
        required_query: &["environment"],
        ..r(
            "get",
            "/v1/projects/{project}/experiments/{flag}/results",
            "viewer",
            "Experiment results: units, SRM, per-metric tests, CUPED, always-valid p-values",
        )
    },
    query(
        r(
            "get",
            "/v1/audit",
            "admin",
            "Audit log entries, oldest first",
        ),
        &[
            "project",
            "environment",
            "actor",
            "action",
            "resource",
            "since",
            "until",
            "after_seq",
            "limit",
        ],
    ),
];

fn params(d: &RouteDoc) -> Vec<Value> {
    let mut out = Vec::new();
    let names = d
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
    for name in names {
        let schema = if name == "version" {
            json!({"type": "integer", "minimum": 0})
        } else {
            json!({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"})
        };
        out.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
    }
    let numeric = [
        "before",
        "limit",
        "since",
        "until",
        "after_seq",
        "from",
        "to",
    ];
    for q in d.query.iter().chain(d.required_query) {
        let schema = if numeric.contains(q) {
            json!({"type": "integer", "minimum": 0})
        } else {
            json!({"type": "string"})
        };
        out.push(json!({"name": q, "in": "query", "required": d.required_query.contains(q), "schema": schema}));
    }
    if d.if_match {
        out.push(json!({"name": "If-Match", "in": "header", "required": true,
            "schema": {"type": "string"}, "description": "ETag of the resource as read, e.g. \"r3\""}));
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for d in ROUTES {
        let error = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let invalid = json!({"description": "SNAPSHOT_INVALID: a resulting snapshot is refused by the core, or its server or client envelope would exceed the SDKs' default limit (8 MiB, burgee_core::DEFAULT_MAX_ENVELOPE_BYTES); nothing was stored",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "success"}));
        if d.auth != "none" {
            for code in ["400", "401", "403", "404"] {
                responses.insert(code.into(), error.clone());
            }
        }
        if d.method == "post" {
            responses.insert("201".into(), json!({"description": "created"}));
            for code in ["409", "413"] {
                responses.insert(code.into(), error.clone());
            }
            responses.insert("422".into(), invalid.clone());
        }
        if d.if_match {
            for code in ["412", "428"] {
                responses.insert(code.into(), error.clone());
            }
            responses.insert("422".into(), invalid.clone());
        }
        if d.path.contains("snapshots") || d.path.ends_with("{version}") {
            responses.insert("304".into(), json!({"description": "not modified"}));
        }
        if d.path == "/ready" {
            responses.insert("503".into(), error.clone());
        }
        let mut op = Map::new();
        op.insert("summary".into(), json!(d.summary));
        op.insert(
            "description".into(),
            json!(format!("Authorization: {}", d.auth)),
        );
        op.insert("parameters".into(), Value::Array(params(d)));
        op.insert("responses".into(), Value::Object(responses));
        if d.auth != "none" {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        if let Some(body) = d.body {
            op.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}}));
        }
        if let Value::Object(entry) = paths
            .entry(d.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            entry.insert(d.method.to_owned(), Value::Object(op));
        }
    }
    let object = |description: &str, required: &[&str]| json!({"type": "object", "description": description, "required": required});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Burgee", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Authoring, publishing and distribution of signed flag snapshots."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "enum": ApiCode::ALL.map(ApiCode::as_str)},
                    "message": {"type": "string"}, "field": {"type": "string"}}},
                "ProjectInput": object("{key, name?, description?, environments?: [EnvironmentInput]}", &["key"]),
                "ProjectUpdate": object("{name, description?}", &["name"]),
                "EnvironmentInput": object("{key, name?, protected?}", &["key"]),
                "EnvironmentUpdate": object("{name, protected}", &["name", "protected"]),
                "FlagInput": object("{key, type, variants, description?, tags?, owner?, schema?, experiment?, environments?: {env: Targeting}}", &["key", "type", "variants"]),
                "FlagSpec": object("{type, variants, description?, tags?, owner?, schema?, experiment?}", &["type", "variants"]),
                "EventBatch": object("{batch_id, sdk: {name, version}, events: [exposure | track]} (spec/EVENTS.md, spec/events.schema.json)", &["batch_id", "sdk", "events"]),
                "Targeting": object("{enabled, off_variant, targets?, prerequisites?, rules?, default} (spec/SNAPSHOT.md §2)", &["enabled", "off_variant", "default"]),
                "SegmentDef": object("{key, included?, excluded?, rules?} (spec/SNAPSHOT.md §2.4)", &["key"]),
                "RollbackInput": {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer", "minimum": 0}}},
                "TokenInput": object("{kind: admin|sdk, name?, role?, project?, environment?}", &["kind"]),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_path_parameters() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(
            paths
                .values()
                .map(|p| p.as_object().unwrap().len())
                .sum::<usize>(),
            ROUTES.len()
        );
        let op =
            &doc["paths"]["/v1/projects/{project}/environments/{env}/versions/{version}"]["get"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["project", "env", "version"]);
    }
}
