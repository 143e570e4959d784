//! The service registry through the API, on SQLite and PostgreSQL, with the registry's loops
//! running at test speed: registration (idempotent, validated field by field), heartbeats and
//! `INSTANCE_NOT_FOUND`, lease expiry and removal, active HTTP checks against a real HTTP
//! server (thresholds, recovery), drain and weight, the protection threshold, the signed
//! catalog verified by the core (ETag/304), blocking queries, balanced URLs, access rules, and
//! the seed `/api/v1/registry` API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use burgee_core::{CatalogDocument, LoadOptions, TrustedKey};
use burgee_server::model::TokenInput;
use burgee_server::registry::RegistrySettings;
use serde_json::{Value, json};

use crate::fixture::{Db, Fixture, call, fixture_with};

const ENV: &str = "/v1/projects/default/environments/development";

/// A fixture whose registry runs fast: 1 s leases judged every 50 ms, no grace period,
/// removal 1 s after expiry, publishes at most every 20 ms.
async fn registry_fixture(db: Db) -> Option<(Fixture, Vec<tokio::task::JoinHandle<()>>)> {
    registry_fixture_ticking(db, 50).await
}

/// [`registry_fixture`] judging leases every `tick_ms`.
async fn registry_fixture_ticking(
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

async fn sdk_key(f: &Fixture, service: Option<&str>, kind: &str) -> String {
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

fn instance(port: u16) -> Value {
    json!({"address": "127.0.0.1", "port": port, "zone": "eu-1", "version": "1.0.0",
           "metadata": {"pool": "blue"}})
}

/// Polls the catalog JSON until `pred` holds (at most 10 s).
async fn wait_catalog(f: &Fixture, key: &str, pred: impl Fn(&Value) -> bool) -> Value {
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

fn ids(catalog: &Value, service: &str) -> Vec<String> {
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
async fn health_server(status: Arc<AtomicU16>) -> u16 {
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

#[tokio::test]
async fn leases_expire_and_instances_are_removed_unless_renewed() {
    let Some((f, _tasks)) = registry_fixture(Db::Sqlite).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    for i in 1..=4 {
        let url = format!("{ENV}/services/api/instances/i-{i}");
        call(&f, "PUT", &url, &key, Some(&instance(9000 + i)))
            .await
            .expect(StatusCode::CREATED);
    }
    wait_catalog(&f, &key, |c| ids(c, "api").len() == 4).await;
    // i-1..i-3 keep heartbeating; i-4 stops (one of four: under the protection threshold).
    let hb = |i: u16| format!("{ENV}/services/api/instances/i-{i}/heartbeat");
    let started = std::time::Instant::now();
    let mut critical_seen = None;
    while started.elapsed() < Duration::from_secs(6) {
        for i in 1..=3 {
            let r = call(&f, "POST", &hb(i), &key, None)
                .await
                .expect(StatusCode::OK);
            assert!(r.json()["lease_expires_at"].as_u64().unwrap() > f.state.now());
        }
        let inst = call(
            &f,
            "GET",
            &format!("{ENV}/services/api/instances"),
            &key,
            None,
        )
        .await
        .expect(StatusCode::OK)
        .json();
        let four = inst
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "i-4")
            .cloned();
        match four {
            Some(i) if i["status"] == "critical" => {
                assert_eq!(i["reason"], "lease expired");
                critical_seen.get_or_insert(started.elapsed());
            }
            None => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(critical_seen.is_some(), "i-4 never turned critical");
    let c = wait_catalog(&f, &key, |c| ids(c, "api").len() == 3).await;
    assert_eq!(ids(&c, "api"), ["i-1", "i-2", "i-3"]);
    let detail = call(
        &f,
        "GET",
        &format!("{ENV}/services/api/instances/i-1"),
        &key,
        None,
    )
    .await;
    assert_eq!(
        detail.expect(StatusCode::OK).json()["instance"]["status"],
        "passing"
    );
    // i-4 is removed after the lease plus remove_after; its heartbeat then asks to register.
    let mut removed = false;
    for _ in 0..60 {
        let r = call(
            &f,
            "GET",
            &format!("{ENV}/services/api/instances/i-4"),
            &key,
            None,
        )
        .await;
        if r.status == StatusCode::NOT_FOUND {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(removed, "i-4 was not removed");
    let r = call(&f, "POST", &hb(4), &key, None).await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "INSTANCE_NOT_FOUND");
}

#[tokio::test]
async fn protection_threshold_keeps_the_catalog_when_most_leases_lapse() {
    // Leases judged every 500 ms: the four registrations lapse within one pass.
    let Some((f, _tasks)) = registry_fixture_ticking(Db::Sqlite, 500).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    for i in 1..=4 {
        let url = format!("{ENV}/services/api/instances/i-{i}");
        call(&f, "PUT", &url, &key, Some(&instance(9000 + i)))
            .await
            .expect(StatusCode::CREATED);
    }
    wait_catalog(&f, &key, |c| ids(c, "api").len() == 4).await;
    // Nobody heartbeats: every lease lapses at once. All four turn critical, but the
    // catalog keeps them, and they are not removed while it does.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let inst = call(
        &f,
        "GET",
        &format!("{ENV}/services/api/instances"),
        &key,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    let statuses: Vec<&str> = inst
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["critical"; 4]);
    let c = wait_catalog(&f, &key, |_| true).await;
    assert_eq!(
        ids(&c, "api").len(),
        4,
        "the protection threshold keeps the last catalog"
    );
    let metrics = f.state.metrics().render();
    assert!(
        metrics.contains("burgee_registry_protected_services 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn active_checks_mark_failing_instances_critical_and_recover() {
    let Some((f, _tasks)) = registry_fixture(Db::Sqlite).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    let mut statuses = Vec::new();
    for i in 1..=2u16 {
        let status = Arc::new(AtomicU16::new(200));
        let port = health_server(Arc::clone(&status)).await;
        let body = json!({"kind": "persistent", "address": "127.0.0.1", "port": port,
            "check": {"endpoints": [format!("http://127.0.0.1:{port}/health")],
                      "interval_ms": 1000, "timeout_ms": 500, "retries": 1,
                      "retry_initial_ms": 50, "success_threshold": 2, "failure_threshold": 2}});
        let url = format!("{ENV}/services/web/instances/w-{i}");
        let r = call(&f, "PUT", &url, &key, Some(&body))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(r.json()["status"], "critical", "not checked yet");
        statuses.push(status);
    }
    wait_catalog(&f, &key, |c| ids(c, "web").len() == 2).await;
    statuses[1].store(500, Ordering::Relaxed);
    let c = wait_catalog(&f, &key, |c| ids(c, "web") == ["w-1"]).await;
    assert_eq!(ids(&c, "web"), ["w-1"]);
    let d = call(
        &f,
        "GET",
        &format!("{ENV}/services/web/instances/w-2"),
        &key,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(d["instance"]["status"], "critical");
    assert!(
        d["instance"]["reason"]
            .as_str()
            .unwrap()
            .contains("answered 500"),
        "{d}"
    );
    let history: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history[..3],
        ["critical", "warning", "passing"],
        "newest first, through warning"
    );
    // Check now: the counts the seed API names.
    let now = call(&f, "POST", &format!("{ENV}/services/web/check"), &key, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (
            now["instances_checked"].as_u64(),
            now["healthy_instances"].as_u64(),
            now["unhealthy_instances"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    statuses[1].store(200, Ordering::Relaxed);
    wait_catalog(&f, &key, |c| ids(c, "web").len() == 2).await;
}

#[tokio::test]
async fn blocking_query_answers_when_the_catalog_changes() {
    let Some((f, _tasks)) = registry_fixture(Db::Sqlite).await else {
        return;
    };
    let key = sdk_key(&f, None, "sdk").await;
    call(
        &f,
        "PUT",
        &format!("{ENV}/services/api/instances/a"),
        &key,
        Some(&instance(1)),
    )
    .await
    .expect(StatusCode::CREATED);
    let c = wait_catalog(&f, &key, |c| ids(c, "api").len() == 1).await;
    let index = c["index"].as_u64().unwrap();
    let (f2, key2) = (f.app.clone(), key.clone());
    let waiting = tokio::spawn(async move {
        let req = axum::http::Request::builder()
            .uri(format!("{ENV}/catalog?index={index}&wait=10000"))
            .header("authorization", format!("Bearer {key2}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let started = std::time::Instant::now();
        let resp = tower::ServiceExt::oneshot(f2, req).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            started.elapsed(),
            serde_json::from_slice::<Value>(&body).unwrap(),
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    call(
        &f,
        "PUT",
        &format!("{ENV}/services/api/instances/b"),
        &key,
        Some(&instance(2)),
    )
    .await
    .expect(StatusCode::CREATED);
    let (took, body) = waiting.await.unwrap();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(body["index"].as_u64().unwrap() > index);
    assert_eq!(ids(&body, "api"), ["a", "b"]);
}

#[tokio::test]
async fn seed_registry_api() {
    let Some((f, _tasks)) = registry_fixture(Db::Sqlite).await else {
        return;
    };
    let status = Arc::new(AtomicU16::new(200));
    let port = health_server(Arc::clone(&status)).await;
    let body = json!({"service_name": "orders", "service_url": format!("http://127.0.0.1:{port}"),
        "health_check_url": format!("http://127.0.0.1:{port}/health"),
        "metadata": {"instance_id": "orders-1", "version": "1.2.0", "team": "core"},
        "environment": "development"});
    let r = call(
        &f,
        "POST",
        "/api/v1/registry/register",
        &f.admin,
        Some(&body),
    )
    .await;
    let reg = r.expect(StatusCode::CREATED).json();
    assert_eq!(reg["instance_id"], "orders-1");
    let q = "?environment=development";
    let health = call(
        &f,
        "POST",
        &format!("/api/v1/registry/services/orders/health{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(
        health,
        json!({"service_name": "orders", "instances_checked": 1, "healthy_instances": 1, "unhealthy_instances": 0})
    );
    let svc = call(
        &f,
        "GET",
        &format!("/api/v1/registry/services/orders{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    let inst = &svc["instances"][0];
    assert_eq!(inst["service_url"], format!("http://127.0.0.1:{port}"));
    assert_eq!(inst["metadata"]["version"], "1.2.0");
    assert_eq!(inst["metadata"]["team"], "core");
    assert_eq!(inst["healthy"], true);
    let all = call(
        &f,
        "GET",
        &format!("/api/v1/registry/services{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(all["total"], 1);
    let found = call(
        &f,
        "GET",
        &format!("/api/v1/registry/discover/orders{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(found["total"], 1);
    let mut url = None;
    for _ in 0..100 {
        let r = call(
            &f,
            "GET",
            &format!("/api/v1/registry/services/orders/url{q}"),
            &f.admin,
            None,
        )
        .await;
        if r.status == StatusCode::OK {
            url = Some(r.json());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(url.unwrap()["url"], format!("http://127.0.0.1:{port}"));
    // Failing health: unhealthy, no longer discovered, no URL.
    status.store(503, Ordering::Relaxed);
    let health = call(
        &f,
        "POST",
        &format!("/api/v1/registry/services/orders/health{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(health["unhealthy_instances"], 1);
    let found = call(
        &f,
        "GET",
        &format!("/api/v1/registry/discover/orders{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(found["total"], 0);
    // Its only instance: the protection threshold keeps serving it (as warning) rather than
    // emptying the service.
    let c = wait_catalog(&f, &f.admin, |c| {
        c["services"][0]["instances"][0]["health"] == "warning"
    })
    .await;
    assert_eq!(ids(&c, "orders"), ["orders-1"]);
    let r = call(&f, "GET", "/api/v1/registry/services/nope", &f.admin, None).await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "SERVICE_NOT_FOUND");
    let body =
        json!({"service_name": "orders", "instance_id": "orders-1", "environment": "development"});
    call(
        &f,
        "POST",
        "/api/v1/registry/deregister",
        &f.admin,
        Some(&body),
    )
    .await
    .expect(StatusCode::OK);
    let r = call(
        &f,
        "POST",
        "/api/v1/registry/deregister",
        &f.admin,
        Some(&body),
    )
    .await;
    assert_eq!(r.expect(StatusCode::NOT_FOUND).code(), "INSTANCE_NOT_FOUND");
    // Deregistered: no URL any more.
    let mut gone = false;
    for _ in 0..100 {
        let url = format!("/api/v1/registry/services/orders/url{q}");
        let r = call(&f, "GET", &url, &f.admin, None).await;
        if r.status == StatusCode::NOT_FOUND {
            assert_eq!(r.code(), "INSTANCE_NOT_FOUND");
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "a URL is still given for a service without instances");
    let r = call(
        &f,
        "POST",
        "/api/v1/registry/register",
        &f.admin,
        Some(&json!({"service_name": "x", "service_url": "nope"})),
    )
    .await;
    assert_eq!(
        r.expect(StatusCode::BAD_REQUEST).json()["field"],
        "service_url"
    );
}
