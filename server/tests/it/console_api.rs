//! The routes the console needs beyond plain resources, on SQLite and PostgreSQL: an
//! environment's public keys, "Try it" (evaluation by the core, published or pending
//! targeting), flag list paging, sorting and on/off filters, stale flags from stored
//! exposures, and the admin change stream.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use burgee_server::model::Role;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::fixture::{Fixture, P, PROD, call, sql, stored_versions, token};

const DAY_MS: u64 = 86_400_000;

fn boolean_flag(key: &str, enabled_in_production: bool) -> Value {
    json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false},
        "environments": {"production": {"enabled": enabled_in_production, "off_variant": "off",
            "default": {"variant": "on"}}}})
}

async fn create(f: &Fixture, body: &Value) {
    call(f, "POST", &format!("{P}/flags"), &f.admin, Some(body))
        .await
        .expect(StatusCode::CREATED);
}

async fn public_keys(f: &Fixture) {
    let viewer = token(f, Role::Viewer, "default").await;
    let r = call(f, "GET", &format!("{PROD}/keys"), &viewer, None)
        .await
        .expect(StatusCode::OK)
        .json();
    let on_disk = std::fs::read_to_string(f.dir.path().join("keys/production.pub")).unwrap();
    assert_eq!(r["keys"][0]["public_key"], on_disk.trim());
    assert_eq!(r["keys"][0]["status"], "active");
    assert_eq!(r["keys"].as_array().unwrap().len(), 1);
    assert_eq!(r["source"], "file");
    assert_eq!(r["variable"], "BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION");
    // The key id is the one the envelopes carry.
    let envelope = call(f, "GET", "/v1/snapshots/production", &f.admin, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(r["keys"][0]["keyid"], envelope["signatures"][0]["keyid"]);
    call(
        f,
        "GET",
        &format!("{P}/environments/nope/keys"),
        &viewer,
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    call(
        f,
        "POST",
        "/v1/projects",
        &f.admin,
        Some(&json!({"key": "other"})),
    )
    .await
    .expect(StatusCode::CREATED);
    let other = token(f, Role::Viewer, "other").await;
    call(f, "GET", &format!("{PROD}/keys"), &other, None)
        .await
        .expect(StatusCode::FORBIDDEN);
}
both!(public_keys, 1 << 20);

async fn try_it(f: &Fixture) {
    create(f, &boolean_flag("try-me", false)).await;
    let versions = stored_versions(f, "default").await;
    let url = format!("{PROD}/flags/try-me/evaluate");
    let viewer = token(f, Role::Viewer, "default").await;

    // Published: off in production.
    let r = call(
        f,
        "POST",
        &url,
        &viewer,
        Some(&json!({"context": {"targetingKey": "u1"}})),
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(
        (
            &r["value"],
            &r["variant"],
            &r["reason"],
            r["pending"].as_bool()
        ),
        (
            &json!(false),
            &json!("off"),
            &json!("DISABLED"),
            Some(false)
        )
    );

    // Pending: a 30/70 rollout. The bucket is the spec's, the variant follows it.
    let salt = call(f, "GET", PROD, &f.admin, None).await.json()["salt"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = json!({"enabled": true, "off_variant": "off",
        "rules": [{"id": "beta", "when": {"attribute": "plan", "op": "equals", "value": "beta"},
                   "serve": {"variant": "off"}}],
        "default": {"rollout": {"weights": [{"variant": "on", "weight": 3000},
                                            {"variant": "off", "weight": 7000}]}}});
    for unit in ["u1", "u2", "u3", "u4", "u5"] {
        let r = call(
            f,
            "POST",
            &url,
            &viewer,
            Some(&json!({"context": {"targetingKey": unit}, "targeting": pending})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
        let bucket = burgee_core::bucket(&salt, "try-me", unit);
        assert_eq!(r["reason"], "SPLIT");
        assert_eq!(r["bucket"], json!(bucket));
        assert_eq!(r["variant"], if bucket < 3000 { "on" } else { "off" });
        assert_eq!(r["pending"], true);
    }
    let r = call(
        f,
        "POST",
        &url,
        &viewer,
        Some(&json!({"context": {"targetingKey": "u1", "plan": "beta"}, "targeting": pending})),
    )
    .await
    .json();
    assert_eq!(
        (&r["reason"], &r["rule_id"], &r["bucket"]),
        (&json!("TARGETING_MATCH"), &json!("beta"), &Value::Null)
    );
    // An evaluation error is an answer, not a failure.
    let r = call(
        f,
        "POST",
        &url,
        &viewer,
        Some(&json!({"context": {}, "targeting": pending})),
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(
        (&r["reason"], &r["error_code"]),
        (&json!("ERROR"), &json!("TARGETING_KEY_MISSING"))
    );

    // A pending targeting the core refuses: 422 naming the path.
    let mut bad = pending.clone();
    bad["default"]["rollout"]["weights"][1]["weight"] = json!(6000);
    let r = call(
        f,
        "POST",
        &url,
        &viewer,
        Some(&json!({"context": {"targetingKey": "u1"}, "targeting": bad})),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "SNAPSHOT_INVALID");
    assert!(r.message().contains("try-me"), "{}", r.message());
    // A malformed context: 400 naming it.
    let r = call(
        f,
        "POST",
        &url,
        &viewer,
        Some(&json!({"context": {"targetingKey": 7}})),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "context");
    call(
        f,
        "POST",
        &format!("{PROD}/flags/absent/evaluate"),
        &viewer,
        Some(&json!({"context": {}})),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    // Nothing was published.
    assert_eq!(stored_versions(f, "default").await, versions);
}
both!(try_it, 1 << 20);

async fn flag_list_paging(f: &Fixture) {
    for (i, key) in ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"].iter().enumerate() {
        create(f, &boolean_flag(key, i % 2 == 0)).await;
    }
    let get = |query: &str| {
        let uri = format!("{P}/flags?q=pg-&{query}");
        async move {
            let req = Request::get(&uri)
                .header(header::AUTHORIZATION, format!("Bearer {}", f.admin))
                .body(Body::empty())
                .unwrap();
            let resp = f.app.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let total = resp
                .headers()
                .get("x-total-count")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            (status, total, v)
        }
    };
    let keys = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, total, v) = get("limit=2&offset=1").await;
    assert_eq!((status, total.as_deref()), (StatusCode::OK, Some("5")));
    assert_eq!(keys(&v), ["pg-b", "pg-c"]);
    let (_, _, v) = get("sort=-key&limit=2").await;
    assert_eq!(keys(&v), ["pg-e", "pg-d"]);
    let (_, total, v) = get("environment=production&state=on").await;
    assert_eq!(
        (keys(&v), total.as_deref()),
        (
            vec!["pg-a".to_owned(), "pg-c".into(), "pg-e".into()],
            Some("3")
        )
    );
    let (_, _, v) = get("environment=production&state=off").await;
    assert_eq!(keys(&v), ["pg-b", "pg-d"]);
    // The most recently changed first: touch pg-b.
    call(
        f,
        "PUT",
        &format!("{PROD}/flags/pg-b"),
        &f.admin,
        Some(&json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})),
    )
    .await
    .expect(StatusCode::OK);
    let (_, _, v) = get("sort=-updated&limit=1").await;
    assert_eq!(keys(&v), ["pg-b"]);
    let (_, _, v) = get("offset=99").await;
    assert_eq!(keys(&v), Vec::<String>::new());
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("state=on", "environment"),
    ] {
        let r = call(f, "GET", &format!("{P}/flags?{query}"), &f.admin, None)
            .await
            .expect(StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["field"], field, "{query}");
    }
    call(
        f,
        "GET",
        &format!("{P}/flags?environment=nope&state=on"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    call(f, "GET", &format!("{P}/flags?sort=color"), &f.admin, None)
        .await
        .expect(StatusCode::BAD_REQUEST);
}
both!(flag_list_paging, 1 << 20);

fn exposure(flag: &str, variant: &str, unit: &str, time: u64) -> Value {
    json!({"kind": "exposure", "flag": flag, "variant": variant, "reason": "STATIC",
           "targeting_key": unit, "snapshot_version": 1,
           "snapshot_digest": format!("sha256:{}", "0".repeat(64)), "time": time})
}

async fn stale_flags(f: &Fixture) {
    for key in ["fresh", "silent", "constant", "young"] {
        create(f, &boolean_flag(key, true)).await;
    }
    // Every flag but `young` was created 20 days ago.
    let old = burgee_server::now_ms() - 20 * DAY_MS;
    sql(
        f,
        &format!("UPDATE flags SET created_at = {old} WHERE key <> 'young'"),
    )
    .await;
    let now = burgee_server::now_ms();
    let events = vec![
        // `fresh`: both variants within the last 7 days.
        exposure("fresh", "on", "u1", now - DAY_MS),
        exposure("fresh", "off", "u2", now - 2 * DAY_MS),
        // `silent`: exposed 10 days ago only.
        exposure("silent", "on", "u1", now - 10 * DAY_MS),
        // `constant`: only `on`, since 9 days ago.
        exposure("constant", "on", "u1", now - 9 * DAY_MS),
        exposure("constant", "on", "u2", now - DAY_MS),
        exposure("constant", "on", "u3", now - 3_600_000),
    ];
    let batch = json!({"batch_id": "stale-batch-1", "sdk": {"name": "t", "version": "1"},
                       "events": events});
    let stored = f
        .state
        .events()
        .ingest("default", "production", batch.to_string().as_bytes(), now)
        .await
        .unwrap();
    assert_eq!(stored.accepted, 6, "{stored:?}");
    let r = call(f, "GET", &format!("{P}/stale-flags?days=7"), &f.admin, None)
        .await
        .expect(StatusCode::OK)
        .json();
    let found: Vec<(String, String, String)> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["flag"].as_str().unwrap().to_owned(),
                s["environment"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want =
        |flag: &str, env: &str, reason: &str| (flag.to_owned(), env.to_owned(), reason.to_owned());
    assert_eq!(
        found,
        vec![
            want("constant", "development", "no_exposures"),
            want("constant", "production", "single_variant"),
            want("constant", "staging", "no_exposures"),
            want("fresh", "development", "no_exposures"),
            want("fresh", "staging", "no_exposures"),
            want("silent", "development", "no_exposures"),
            want("silent", "production", "no_exposures"),
            want("silent", "staging", "no_exposures"),
        ]
    );
    // The same as a filter of the flag list, per environment.
    let listed = call(
        f,
        "GET",
        &format!("{P}/flags?environment=production&stale_days=7"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    let keys: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["constant", "silent"]);
    call(f, "GET", &format!("{P}/flags?stale_days=7"), &f.admin, None)
        .await
        .expect(StatusCode::BAD_REQUEST);
    let constant = &r[1];
    assert_eq!(
        (&constant["variant"], &constant["exposures"]),
        (&json!("on"), &json!(2))
    );
    assert_eq!(r[6]["last_exposure_at"], json!(now - 10 * DAY_MS));
    call(f, "GET", &format!("{P}/stale-flags?days=0"), &f.admin, None)
        .await
        .expect(StatusCode::BAD_REQUEST);
}
both!(stale_flags, 1 << 20);

async fn change_stream(f: &Fixture) {
    create(f, &boolean_flag("watched", false)).await;
    let viewer = token(f, Role::Viewer, "default").await;
    let req = Request::get(format!("{P}/changes"))
        .header(header::AUTHORIZATION, format!("Bearer {viewer}"))
        .body(Body::empty())
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    // Earlier changes are not replayed; the next one arrives.
    call(
        f,
        "PUT",
        &format!("{PROD}/flags/watched"),
        &f.admin,
        Some(&json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})),
    )
    .await
    .expect(StatusCode::OK);
    let mut text = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !text.contains("\n\n") || !text.contains("event: change") {
            let chunk = body.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "no change event: {text:?}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let change: Value = serde_json::from_str(data).unwrap();
    assert_eq!(change["action"], "targeting.update");
    assert_eq!(change["resource"], "flag:watched");
    assert_eq!(change["environment"], "production");
    assert!(!change["actor"].as_str().unwrap().is_empty());
    // The fixture's admin token is named; the stream says so.
    assert!(
        change["actor_name"].as_str().unwrap().ends_with("(token)"),
        "{change}"
    );
    assert!(change.get("before").is_none(), "no documents in the stream");
    // Last-Event-ID replays what came after it.
    let seq = change["seq"].as_u64().unwrap();
    let req = Request::get(format!("{P}/changes"))
        .header(header::AUTHORIZATION, format!("Bearer {viewer}"))
        .header("last-event-id", (seq - 1).to_string())
        .body(Body::empty())
        .unwrap();
    let mut replay = f
        .app
        .clone()
        .oneshot(req)
        .await
        .unwrap()
        .into_body()
        .into_data_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), replay.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with(&format!("id: {seq}\n")));
    // Another project's viewer cannot watch.
    call(
        f,
        "POST",
        "/v1/projects",
        &f.admin,
        Some(&json!({"key": "other"})),
    )
    .await
    .expect(StatusCode::CREATED);
    let other = token(f, Role::Viewer, "other").await;
    call(f, "GET", &format!("{P}/changes"), &other, None)
        .await
        .expect(StatusCode::FORBIDDEN);
}
both!(change_stream, 1 << 20);
