//! `POST /v1/events`, the recent-events tail and experiment results through the real router
//! (SQLite data directory, the real event log), with the demo project.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use burgee_server::api::app;
use burgee_server::config::ServerConfig;
use burgee_server::now_ms;
use burgee_server::service::{AppState, Credentials};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const DIGEST: &str = "sha256:611650f63a900797cec284b4584e7abe83fe93cb3dbe0fcf25cd4211f5b2a45b";

async fn fixture() -> (tempfile::TempDir, Router, Credentials) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        demo: true,
        ..ServerConfig::new(dir.path(), 3_600_000)
    };
    let (state, creds) = AppState::open(&config).await.unwrap();
    (dir, app(state), creds.unwrap())
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(body.map_or_else(Body::empty, Body::from)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry,
    )
}

fn exposure(unit: &str, variant: &str, t: u64) -> Value {
    json!({"kind": "exposure", "flag": "pricing-experiment", "variant": variant, "reason": "SPLIT",
           "rule_id": "eligible-markets", "targeting_key": unit, "snapshot_version": 1,
           "snapshot_digest": DIGEST, "time": t})
}

fn track(unit: &str, key: &str, value: Option<f64>, t: u64) -> Value {
    let mut e = json!({"kind": "track", "key": key, "targeting_key": unit, "time": t});
    if let Some(v) = value {
        e["value"] = json!(v);
    }
    e
}

fn batch(id: &str, events: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"batch_id": id, "sdk": {"name": "test-sdk", "version": "1.0.0"}, "events": events}),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_need_an_sdk_key_and_report_each_bad_event() {
    let (_dir, app, creds) = fixture().await;
    let prod = creds.sdk_key("production").unwrap().to_owned();
    let now = now_ms();
    let body = batch(
        "batch-0001",
        vec![
            exposure("u1", "control", now),
            json!({"kind": "track"}),
            track("u1", "purchase", None, now),
        ],
    );

    let (status, v, _) = call(&app, "POST", "/v1/events", None, Some(body.clone())).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/events",
        Some("bgs_unknown"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v, _) = call(
        &app,
        "POST",
        "/v1/events",
        Some(&creds.admin_token),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );

    let (status, v, _) = call(&app, "POST", "/v1/events", Some(&prod), Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicate"].as_bool()),
        (Some(2), Some(false))
    );
    assert_eq!(v["rejected"][0]["index"], 1);
    assert_eq!(v["rejected"][0]["code"], "INVALID_EVENT");
    assert!(
        v["rejected"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("events[1]"),
        "{v}"
    );

    // A retry of the same batch is answered but not stored again.
    let (status, v, _) = call(&app, "POST", "/v1/events", Some(&prod), Some(body)).await;
    assert_eq!(
        (status, v["accepted"].as_u64(), v["duplicate"].as_bool()),
        (StatusCode::ACCEPTED, Some(2), Some(true))
    );

    // The events landed in the SDK key's environment only.
    let recent = |env: &str| format!("/v1/projects/webshop/environments/{env}/events/recent");
    let (status, v, _) = call(
        &app,
        "GET",
        &recent("production"),
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[0]["kind"], "track");
    assert_eq!(v[0]["sdk"], "test-sdk");
    let (_, v, _) = call(
        &app,
        "GET",
        &recent("staging"),
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 0);

    // Batch-level errors.
    for (body, needle) in [
        (b"{".to_vec(), "batch is not valid"),
        (batch("short", vec![track("u", "k", None, now)]), "batch_id"),
        (batch("batch-0002", vec![]), "1-1000 events"),
    ] {
        let (status, v, _) = call(&app, "POST", "/v1/events", Some(&prod), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(v["message"].as_str().unwrap().contains(needle), "{v}");
    }
    let huge = vec![b' '; 5 << 20];
    let (status, v, _) = call(&app, "POST", "/v1/events", Some(&prod), Some(huge)).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("PAYLOAD_TOO_LARGE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_results_from_ingested_events() {
    let (_dir, app, creds) = fixture().await;
    let prod = creds.sdk_key("production").unwrap().to_owned();
    let t = now_ms() - 60_000;
    let variants = ["control", "discount-10", "free-shipping"];
    let mut events = Vec::new();
    for i in 0..300 {
        let unit = format!("user-{i}");
        let variant = variants[i % 3];
        events.push(exposure(&unit, variant, t));
        events.push(exposure(&unit, variant, t + 10)); // de-duplicated
        // control converts 20 %, discount-10 40 %, free-shipping 30 %
        let converts = match i % 3 {
            0 => i % 10 < 2,
            1 => i % 10 < 4,
            _ => i % 10 < 3,
        };
        if converts {
            events.push(track(&unit, "purchase", None, t + 1000));
            events.push(track(
                &unit,
                "revenue",
                Some(40.0 + (i % 7) as f64),
                t + 1000,
            ));
        }
    }
    for (n, chunk) in events.chunks(500).enumerate() {
        let (status, v, _) = call(
            &app,
            "POST",
            "/v1/events",
            Some(&prod),
            Some(batch(&format!("results-{n:04}"), chunk.to_vec())),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
        assert!(v["rejected"].as_array().unwrap().is_empty(), "{v}");
    }
    let uri = "/v1/projects/webshop/experiments/pricing-experiment/results?environment=production";
    let (status, _, _) = call(&app, "GET", uri, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&app, "GET", uri, Some(&prod), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, r, _) = call(&app, "GET", uri, Some(&creds.admin_token), None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let units: Vec<u64> = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["units"].as_u64().unwrap())
        .collect();
    assert_eq!(units, [100, 100, 100]);
    let exposures: Vec<u64> = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["exposures"].as_u64().unwrap())
        .collect();
    assert_eq!(exposures, [100, 100, 100]);
    assert_eq!(r["exposures_raw"], 600);
    assert_eq!(r["srm_alarm"], false);
    let primary = &r["metrics"][0];
    assert_eq!(
        (primary["key"].as_str(), primary["role"].as_str()),
        (Some("purchase"), Some("primary"))
    );
    let conversions: Vec<u64> = primary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["conversions"].as_u64().unwrap())
        .collect();
    assert_eq!(conversions, [20, 40, 30]);
    let discount = &primary["comparisons"][0];
    assert_eq!(discount["variant"], "discount-10");
    assert!((discount["difference"].as_f64().unwrap() - 0.2).abs() < 1e-12);
    assert!(discount["p_value"].as_f64().unwrap() < 0.01, "{discount}");
    assert!(
        discount["sequential_p_value"].as_f64().unwrap() >= discount["p_value"].as_f64().unwrap()
    );
    assert_eq!(r["metrics"][1]["key"], "revenue");
    assert_eq!(
        r["timeline"],
        serde_json::json!([]),
        "no timeline unless asked"
    );
    let (status, t, _) = call(
        &app,
        "GET",
        &format!("{uri}&timeline=3"),
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let last = t["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["units"], 300);
    assert_eq!(
        last["comparisons"][0]["sequential_p_value"],
        discount["sequential_p_value"]
    );
    let (status, _, _) = call(
        &app,
        "GET",
        &format!("{uri}&timeline=25"),
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A flag that is not an experiment, and an environment whose targeting has no rollout there.
    let (status, v, _) = call(
        &app,
        "GET",
        "/v1/projects/webshop/experiments/dark-mode/results?environment=production",
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    let (status, _, _) = call(
        &app,
        "GET",
        "/v1/projects/webshop/experiments/pricing-experiment/results",
        Some(&creds.admin_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
