//! The seed documents' `/api/v1/registry` API against the registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::{health_server, ids, registry_fixture, wait_catalog};
use crate::fixture::{Db, call};

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
