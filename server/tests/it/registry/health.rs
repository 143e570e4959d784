//! Registry health: lease expiry and removal, the protection threshold, active HTTP checks
//! against a real HTTP server, blocking queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{
    ENV, health_server, ids, instance, registry_fixture, registry_fixture_ticking, sdk_key,
    wait_catalog,
};
use crate::fixture::{Db, call};

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
