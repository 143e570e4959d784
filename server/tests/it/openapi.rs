//! The OpenAPI document against the router and the README (issue "Server restructure", item
//! 3): every documented operation is served, every other method on a documented path is 405,
//! unknown paths are 404, every reference resolves, and the README's route table is the
//! document's. (Every response the API tests receive is validated against the document by
//! `crate::common::openapi::check`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::fixture::{Db, Fixture};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// A concrete URI for a template (`{version}` → 1, other parameters → `x`).
fn concrete(template: &str) -> String {
    template
        .replace("{version}", "1")
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `method uri` without a token; the status and the JSON error body.
async fn probe(f: &Fixture, method: &str, uri: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let is_json = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        if is_json {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::Null
        },
    )
}

#[tokio::test]
async fn every_documented_operation_is_served_and_no_other_method() {
    let f = crate::fixture::fixture(Db::Sqlite, 1 << 20).await.unwrap();
    let documented: BTreeSet<(String, String)> =
        crate::common::openapi::operations().into_iter().collect();
    let templates: BTreeSet<&String> = documented.iter().map(|(_, t)| t).collect();
    assert!(
        documented.len() >= 40,
        "only {} operations",
        documented.len()
    );
    for template in templates {
        let uri = concrete(template);
        for method in METHODS {
            let (status, body) = probe(&f, method, &uri).await;
            let what = format!("{method} {uri} ({template})");
            if documented.contains(&(method.to_lowercase(), template.clone())) {
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{what}: documented, not served"
                );
                let no_route =
                    status == StatusCode::NOT_FOUND && body["message"] == "no such route";
                assert!(!no_route, "{what}: documented, not served");
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{what}: served, not documented"
                );
                assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
            }
        }
    }
    let (status, body) = probe(&f, "GET", "/v1/nothing-here").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[test]
fn every_operation_has_an_id_a_summary_a_role_and_resolvable_references() {
    let doc = burgee_server::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut ids = BTreeSet::new();
    for (method, template) in crate::common::openapi::operations() {
        let op = crate::common::openapi::operation(&method, &template).unwrap();
        let what = format!("{method} {template}");
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "{what}: duplicate operationId"
        );
        assert!(
            !op["summary"].as_str().unwrap_or("").is_empty(),
            "{what}: no summary"
        );
        assert!(op["x-burgee-role"].is_string(), "{what}: no x-burgee-role");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            // 2xx, or a redirect for the browser's sign-in routes
            responses
                .keys()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{what}: no success response"
        );
        assert!(responses.contains_key("500"), "{what}: no 500");
        // Writes to revisioned resources take If-Match; the seed API's shapes (/api/v1/...) are
        // fixed by the seed documents; a service's PUT only describes it and webhooks are
        // created and removed, never edited (neither has a revision); registered instances
        // are registered again idempotently by the instances themselves (no revision either).
        let revisioned = template.starts_with("/v1/")
            && template != "/v1/projects/{project}/services/{service}"
            && !template.starts_with("/v1/projects/{project}/webhooks")
            && !template.contains("/instances/{id}");
        if revisioned
            && (method == "put" || (method == "delete" && template.starts_with("/v1/projects")))
        {
            assert!(
                responses.contains_key("412") && responses.contains_key("428"),
                "{what}: If-Match responses"
            );
        }
        if op["x-burgee-role"] != "none" {
            assert!(
                responses.contains_key("401") && responses.contains_key("403"),
                "{what}: auth responses"
            );
        }
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50);
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved reference {r}");
    }
    // The error codes the document lists are exactly ApiCode::ALL (the README's list is
    // checked against the same enum by `error::tests`).
    let listed: Vec<&str> = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let all: Vec<&str> = burgee_server::error::ApiCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert_eq!(listed, all);
    // The model's request bodies are derived, not untyped objects.
    let flag_input = &doc["components"]["schemas"]["FlagInput"];
    assert_eq!(
        flag_input["properties"]["environments"]["additionalProperties"]["$ref"],
        "#/components/schemas/Targeting"
    );
    assert_eq!(
        doc["components"]["schemas"]["Targeting"]["properties"]["rules"]["items"]["$ref"],
        "#/components/schemas/SnapshotRule"
    );
    assert!(doc["components"]["schemas"]["FlagSpec"]["properties"]["client_visible"].is_object());
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// `docs/API.md`'s route table (between the `api-routes` markers) is the document's operations,
/// with their roles and summaries.
#[test]
fn readme_lists_exactly_the_documented_operations() {
    let mut expected = String::from("| method and path | least role | |\n|---|---|---|\n");
    let mut ops = crate::common::openapi::operations();
    ops.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    for (method, template) in ops {
        let op = crate::common::openapi::operation(&method, &template).unwrap();
        let summary = op["summary"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let role = op["x-burgee-role"].as_str().unwrap();
        expected.push_str(&format!(
            "| `{} {template}` | {role} | {summary} |\n",
            method.to_uppercase()
        ));
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md")).unwrap();
    let start = readme
        .find("<!-- api-routes -->\n")
        .expect("docs/API.md has <!-- api-routes -->")
        + "<!-- api-routes -->\n".len();
    let end = readme
        .find("<!-- /api-routes -->")
        .expect("docs/API.md has <!-- /api-routes -->");
    assert!(
        readme[start..end] == expected,
        "docs/API.md's route table differs from the document; it should read:\n{expected}"
    );
}
