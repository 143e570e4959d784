//! Checks real responses against the served OpenAPI document: every request the API tests
//! send goes through [`check`], which fails the test when the route, method, status, content
//! type or JSON body is not what `/openapi.json` documents.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde_json::{Value, json};

/// The document and the validators compiled so far, by `(method, template, status)`.
struct Checker {
    doc: Value,
    /// Path templates, most literal segments first, so `/v1/projects/{p}/flags` wins over a
    /// template with a parameter in that place.
    templates: Vec<String>,
    validators: Mutex<HashMap<(String, String, String), std::sync::Arc<jsonschema::Validator>>>,
}

static CHECKER: LazyLock<Checker> = LazyLock::new(|| {
    let doc = burgee_server::openapi::document();
    let mut templates: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    templates
        .sort_by_key(|t| std::cmp::Reverse(t.split('/').filter(|s| !s.starts_with('{')).count()));
    Checker {
        doc,
        templates,
        validators: Mutex::new(HashMap::new()),
    }
});

/// The document's template matching `path` (no query), if any.
pub fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    CHECKER
        .templates
        .iter()
        .find(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
        })
        .map(String::as_str)
}

/// Every `(method, template)` the document has, methods lowercase.
pub fn operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in CHECKER.doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.push((method.clone(), path.clone()));
        }
    }
    out
}

/// The operation object of `(method, template)`.
pub fn operation(method: &str, template: &str) -> Option<&'static Value> {
    CHECKER.doc["paths"]
        .get(template)?
        .get(method.to_lowercase())
}

/// Panics unless the response is documented: an unknown path is a 404 and a known path with
/// an undocumented method a 405; otherwise the status must be one of the operation's, and a
/// JSON body must validate against that response's schema.
pub fn check(method: &str, uri: &str, status: u16, headers: &HeaderMap, body: &[u8]) {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let path = uri.split('?').next().unwrap_or(uri);
    let what = format!("{method} {uri} → {status}");
    if path.starts_with("/swagger-ui") {
        return;
    }
    let Some(template) = template_of(path) else {
        assert_eq!(status, 404, "{what}: no documented route, so 404 expected");
        return;
    };
    let Some(op) = operation(method, template) else {
        assert!(
            status == 405 || (method == "OPTIONS" && status < 300),
            "{what}: method not documented for {template}, so 405 expected"
        );
        return;
    };
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{what}: status not documented for {method} {template}"));
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(
            body.is_empty() || status == 304,
            "{what}: documented without a body, got {} bytes",
            body.len()
        );
        return;
    };
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let Some(documented) = content.get(media) else {
        panic!(
            "{what}: content type {media:?} not documented (documented: {:?})",
            content.keys().collect::<Vec<_>>()
        );
    };
    if media != "application/json" || headers.contains_key(CONTENT_ENCODING) {
        return;
    }
    let instance: Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
    let key = (method.to_owned(), template.to_owned(), status.to_string());
    let validator = {
        let mut cache = CHECKER.validators.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                let schema = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": CHECKER.doc["components"],
                    "allOf": [documented["schema"]],
                });
                std::sync::Arc::new(
                    jsonschema::validator_for(&schema)
                        .unwrap_or_else(|e| panic!("{what}: schema does not compile: {e}")),
                )
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: body does not match the documented schema:\n{}\nbody: {}",
        errors.join("\n"),
        String::from_utf8_lossy(&body[..body.len().min(2000)])
    );
}
