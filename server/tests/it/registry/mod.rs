//! The service registry through the API, on SQLite and PostgreSQL, with the registry's loops
//! running at test speed: registration (idempotent, validated field by field), heartbeats and
//! `INSTANCE_NOT_FOUND`, lease expiry and removal, active HTTP checks against a real HTTP
//! server (thresholds, recovery), drain and weight, the protection threshold, the signed
//! catalog verified by the core (ETag/304), blocking queries, balanced URLs, access rules, and
//! the seed `/api/v1/registry` API (`health.rs`: leases, protection, checks, blocking queries;
//! `seed.rs`: the seed API).

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use burgee_core::{CatalogDocument, LoadOptions, TrustedKey};
use burgee_server::model::TokenInput;
use burgee_server::registry::RegistrySettings;
use serde_json::{Value, json};

use crate::fixture::{Db, Fixture, call, fixture_with};

mod health;
mod seed;

pub(super) const ENV: &str = "/v1/projects/default/environments/development";

/// A fixture whose registry runs fast: 1 s leases judged every 50 ms, no grace period,
/// removal 1 s after expiry, publishes at most every 20 ms.
pub(super) async fn registry_fixture(
    db: Db,
) -> Option<(Fixture, Vec<tokio::task::JoinHandle<()>>)> {
    registry_fixture_ticking(db, 50).await
}

/// [`registry_fixture`] judging leases every `tick_ms`.
pub(super) async fn registry_fixture_ticking(
    db: Db,
    tick_ms: u64,
) -> Option<(Fixture, Vec<tokio::task::JoinHandle<()>>)> {
    let f = fixture_with(db, |c| {
        c.registry = RegistrySettings {
            lease_ms: 1000,
            remove_after_ms: 1000,
            grace_ms: 0,
            protection_threshold_bp: 5000,
            publish_interval_ms: 20,
            tick_ms,
            max_concurrent_checks: 16,
        };
    })
    .await?;
    let tasks = burgee_server::registry::spawn(&f.state);
    Some((f, tasks))
}

pub(super) async fn sdk_key(f: &Fixture, service: Option<&str>, kind: &str) -> String {
    f.state
        .create_token(
            "test",
            &TokenInput {
                kind: kind.into(),
                name: String::new(),
                role: None,
                project: Some("default".into()),
                environment: Some("development".into()),
                service: service.map(str::to_owned),
            },
        )
        .await
        .unwrap()
        .token
}

pub(super) fn instance(port: u16) -> Value {
    json!({"address": "127.0.0.1", "port": port, "zone": "eu-1", "version": "1.0.0",
           "metadata": {"pool": "blue"}})
}

/// Polls the catalog JSON until `pred` holds (at most 10 s).
pub(super) async fn wait_catalog(f: &Fixture, key: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let c = call(f, "GET", &format!("{ENV}/catalog"), key, None)
            .await
            .expect(StatusCode::OK)
            .json();
        if pred(&c) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("catalog condition not reached");
}

pub(super) fn ids(catalog: &Value, service: &str) -> Vec<String> {
    catalog["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == service)
        .flat_map(|s| s["instances"].as_array().unwrap().iter())
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A real HTTP server answering `/health` with the status in `status`.
pub(super) async fn health_server(status: Arc<AtomicU16>) -> u16 {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let s = status.load(Ordering::Relaxed);
            async move { StatusCode::from_u16(s).unwrap() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

async fn lifecycle(db: Db) {
    let Some((f, _tasks)) = registry_fixture(db).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    let url = format!("{ENV}/services/checkout/instances/i-1");
    let r = call(&f, "PUT", &url, &key, Some(&instance(8080))).await;
    let created = r.expect(StatusCode::CREATED).json();
    assert_eq!(created["status"], "passing");
    assert_eq!(created["url"], "http://127.0.0.1:8080");
    assert_eq!(created["kind"], "ephemeral");
    // Idempotent: registering again answers 200 with the same instance.
    call(&f, "PUT", &url, &key, Some(&instance(8080)))
        .await
        .expect(StatusCode::OK);
    call(
        &f,
        "PUT",
        &format!("{ENV}/services/checkout/instances/i-2"),
        &key,
        Some(&instance(8081)),
    )
    .await
    .expect(StatusCode::CREATED);
    let c = wait_catalog(&f, &key, |c| ids(c, "checkout").len() == 2).await;
    assert_eq!(c["services"][0]["instances"][0]["zone"], "eu-1");

    // The signed catalog verifies with the environment's key; a second read is a 304.
    let public = std::fs::read_to_string(f.dir.path().join("keys/development.pub")).unwrap();
    let trusted = [TrustedKey::from_base64(&public).unwrap()];
    let r = call(&f, "GET", "/v1/catalog/development", &key, None).await;
    let envelope = r.expect(StatusCode::OK).body;
    let opts = LoadOptions::new(&trusted, "development", f.state.now()).for_project("default");
    let doc = CatalogDocument::load(&envelope, &opts).unwrap();
    let listed: Vec<&str> = doc
        .instances("checkout")
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(listed, ["i-1", "i-2"]);
    let etag = format!("\"{}\"", doc.info().digest.clone().unwrap());
    let req = axum::http::Request::builder()
        .uri("/v1/catalog/development")
        .header("authorization", format!("Bearer {key}"))
        .header("if-none-match", &etag)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(f.app.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Weight and drain change the catalog; the registration stays.
    let patch = json!({"weight": 300});
    let r = call(&f, "PATCH", &url, &key, Some(&patch)).await;
    assert_eq!(r.expect(StatusCode::OK).json()["weight"], 300);
    call(&f, "PATCH", &url, &key, Some(&json!({"draining": true})))
        .await
        .expect(StatusCode::OK);
    wait_catalog(&f, &key, |c| ids(c, "checkout") == ["i-2"]).await;
    call(&f, "PATCH", &url, &key, Some(&json!({"draining": false})))
        .await
        .expect(StatusCode::OK);
    let c = wait_catalog(&f, &key, |c| ids(c, "checkout").len() == 2).await;
    assert_eq!(c["services"][0]["instances"][0]["weight"], 300);

    // A balanced URL from the catalog, and a summary.
    let u = call(
        &f,
        "GET",
        &format!("{ENV}/services/checkout/url?strategy=consistent_hash&key=u-1"),
        &key,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    let again = call(
        &f,
        "GET",
        &format!("{ENV}/services/checkout/url?strategy=consistent_hash&key=u-1"),
        &key,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(u["url"], again["url"], "consistent hashing is stable");
    let summary = call(&f, "GET", &format!("{ENV}/services"), &key, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(summary[0]["name"], "checkout");
    assert_eq!(summary[0]["passing"], 2);

    // Deregister: gone from the catalog; its heartbeat is then INSTANCE_NOT_FOUND.
    call(&f, "DELETE", &url, &key, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    wait_catalog(&f, &key, |c| ids(c, "checkout") == ["i-2"]).await;
    let r = call(&f, "POST", &format!("{url}/heartbeat"), &key, None).await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "INSTANCE_NOT_FOUND");
    let r = call(&f, "GET", &url, &key, None).await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "INSTANCE_NOT_FOUND");
}

#[tokio::test]
async fn register_catalog_drain_deregister_sqlite() {
    lifecycle(Db::Sqlite).await;
}

#[tokio::test]
async fn register_catalog_drain_deregister_postgres() {
    lifecycle(Db::Postgres).await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_access_is_scoped() {
    let Some((f, _tasks)) = registry_fixture(Db::Sqlite).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    let url = format!("{ENV}/services/checkout/instances/i-1");
    for (body, field) in [
        (json!({"address": "127.0.0.1", "port": 0}), "port"),
        (json!({"address": "127.0.0.1", "port": 70000}), "port"),
        (json!({"address": "not a host", "port": 80}), "address"),
        (json!({"address": "h", "port": 80, "weight": 0}), "weight"),
        (
            json!({"address": "h", "port": 80, "scheme": "HTTP"}),
            "scheme",
        ),
        (
            json!({"address": "h", "port": 80, "lease_ms": 5}),
            "lease_ms",
        ),
        (
            json!({"address": "h", "port": 80, "metadata": {"": "x"}}),
            "metadata.",
        ),
        (
            json!({"address": "h", "port": 80, "check": {"endpoints": ["ftp://h/"]}}),
            "check.endpoints[0]",
        ),
    ] {
        let r = call(&f, "PUT", &url, &key, Some(&body)).await;
        let r = r.expect(StatusCode::BAD_REQUEST);
        assert!(
            r.json()["field"].as_str().unwrap().starts_with(field),
            "{body}: {}",
            r.message()
        );
    }
    let r = call(
        &f,
        "PUT",
        &format!("{ENV}/services/checkout/instances/bad%20id"),
        &key,
        Some(&instance(80)),
    )
    .await;
    assert_eq!(
        r.expect(StatusCode::BAD_REQUEST).json()["field"],
        "instance_id"
    );
    let r = call(&f, "PUT", &url, &key, Some(&json!({"address": "h"}))).await;
    r.expect(StatusCode::BAD_REQUEST);
    // Client-side keys never; a key scoped to another service not for this one.
    let client = sdk_key(&f, None, "client").await;
    call(&f, "PUT", &url, &client, Some(&instance(80)))
        .await
        .expect(StatusCode::FORBIDDEN);
    call(&f, "GET", "/v1/catalog/development", &client, None)
        .await
        .expect(StatusCode::FORBIDDEN);
    call(
        &f,
        "PUT",
        "/v1/projects/default/services/billing",
        &f.admin,
        Some(&json!({"description": ""})),
    )
    .await
    .expect(StatusCode::OK);
    let billing = sdk_key(&f, Some("billing"), "sdk").await;
    call(&f, "PUT", &url, &billing, Some(&instance(80)))
        .await
        .expect(StatusCode::FORBIDDEN);
    call(
        &f,
        "PUT",
        &format!("{ENV}/services/billing/instances/b-1"),
        &billing,
        Some(&instance(81)),
    )
    .await
    .expect(StatusCode::CREATED);
    // Unknown service: 404 SERVICE_NOT_FOUND.
    let r = call(
        &f,
        "GET",
        &format!("{ENV}/services/nope/instances"),
        &key,
        None,
    )
    .await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "SERVICE_NOT_FOUND");
}
