//! The configuration centre through the API, on SQLite and PostgreSQL: entries in every format
//! validated (line and column, JSON pointer, size), versioned (history, diff, rollback),
//! audited with secrets masked, sealed at rest, published as signed config documents that the
//! core verifies (with secrets only for a server-side key scoped to the service), the seed
//! `/api/v1/config` API, and one outbox event per publish.

use axum::http::StatusCode;
use burgee_core::{ConfigDocument, Context, LoadOptions, TrustedKey};
use burgee_server::model::TokenInput;
use serde_json::{Value, json};

use crate::fixture::{DEV, Fixture, P, call, sql};

const SVC: &str = "/v1/projects/default/environments/development/services/checkout";

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

/// The config document a key reads, verified by the core.
async fn document(f: &Fixture, key: &str) -> ConfigDocument {
    let r = call(f, "GET", "/v1/configs/development/checkout", key, None)
        .await
        .expect(StatusCode::OK);
    let public = std::fs::read_to_string(f.dir.path().join("keys/development.pub")).unwrap();
    let trusted = [TrustedKey::from_base64(&public).unwrap()];
    let now = burgee_server::now_ms();
    ConfigDocument::load(
        &r.body,
        &LoadOptions::new(&trusted, "development", now).for_project("default"),
        "checkout",
    )
    .unwrap()
}

async fn put(f: &Fixture, key: &str, body: &Value) -> crate::fixture::Reply {
    call(
        f,
        "PUT",
        &format!("{SVC}/configs/{key}"),
        &f.admin,
        Some(body),
    )
    .await
}

async fn entries_and_validation(f: &Fixture) {
    // An unknown service is a 404 with its own code; creating it publishes empty documents.
    let r = put(f, "pool", &json!({"value": "5"}))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "SERVICE_NOT_FOUND");
    let r = call(
        f,
        "PUT",
        &format!("{P}/services/checkout"),
        &f.admin,
        Some(&json!({"description": "Checkout"})),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        r.json()["published"].as_array().unwrap().len(),
        3,
        "one document per environment"
    );
    let services = call(f, "GET", &format!("{P}/services"), &f.admin, None)
        .await
        .json();
    assert_eq!(services[0]["key"], "checkout");

    // Every format parses to JSON.
    let yaml = "pool:\n  size: 5\n  hosts: [a, b]\n";
    let cases = [
        (
            "db",
            json!({"format": "yaml", "value": yaml}),
            json!({"pool": {"size": 5, "hosts": ["a", "b"]}}),
        ),
        (
            "limits",
            json!({"format": "toml", "value": "max = 3\n[burst]\nrate = 1.5\n"}),
            json!({"max": 3, "burst": {"rate": 1.5}}),
        ),
        (
            "legacy",
            json!({"format": "properties", "value": "a=1\nb = two\n"}),
            json!({"a": "1", "b": "two"}),
        ),
        (
            "banner",
            json!({"format": "text", "value": "Hello"}),
            json!("Hello"),
        ),
        (
            "flags",
            json!({"value": "{\"x\": [1, 2]}"}),
            json!({"x": [1, 2]}),
        ),
    ];
    for (key, body, parsed) in &cases {
        let r = put(f, key, body).await.expect(StatusCode::CREATED);
        assert_eq!(&r.json()["item"]["parsed"], parsed, "{key}");
        assert_eq!(r.json()["item"]["revision"], 1);
    }

    // Refusals name where: line and column, the JSON pointer, the size.
    let r = put(f, "bad", &json!({"value": "{\n  \"a\": ,\n}"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "CONFIG_INVALID");
    assert!(r.message().contains("line 2, column 8"), "{}", r.message());
    let r = put(f, "bad", &json!({"format": "yaml", "value": "a: [1,\n"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.message().contains("line "), "{}", r.message());
    let r = put(
        f,
        "bad",
        &json!({"format": "toml", "value": "a = 1\nb = = 2\n"}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.message().contains("line 2"), "{}", r.message());
    let schema =
        json!({"type": "object", "properties": {"pool": {"type": "integer", "maximum": 50}}});
    let r = put(
        f,
        "sized",
        &json!({"value": "{\"pool\": 99}", "schema": schema}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "/pool");
    let big = "x".repeat(1024 * 1024 + 1);
    let r = put(f, "big", &json!({"format": "text", "value": big})).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.message());
    let r = put(
        f,
        "o",
        &json!({"value": "1", "overrides": [{"id": "base", "value": "2"}]}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "overrides[0].id");
    let r = put(
        f,
        "o",
        &json!({"value": "1", "overrides": [{"id": "c", "when": {"op": "nope"}, "value": "2"}]}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "overrides[0].when");
    let r = call(f, "GET", &format!("{SVC}/configs/missing"), &f.admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "CONFIG_NOT_FOUND");
    // Nothing refused was stored.
    let list = call(f, "GET", &format!("{SVC}/configs"), &f.admin, None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), cases.len());
    let bulk_get = call(
        f,
        "GET",
        &format!("{SVC}/configs?keys=db,banner"),
        &f.admin,
        None,
    )
    .await
    .json();
    let keys: Vec<&str> = bulk_get
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["banner", "db"]);

    // Create refuses an existing key; replace needs the current revision.
    let url = format!("{SVC}/configs/banner");
    let req = |if_match: Option<&str>| {
        let mut r = axum::http::Request::builder()
            .method("PUT")
            .uri(&url)
            .header("Authorization", format!("Bearer {}", f.admin))
            .header("Content-Type", "application/json");
        if let Some(m) = if_match {
            r = r.header("If-Match", m);
        }
        r.body(axum::body::Body::from(
            json!({"format": "text", "value": "Hi"}).to_string(),
        ))
        .unwrap()
    };
    use tower::ServiceExt as _;
    assert_eq!(
        f.app.clone().oneshot(req(None)).await.unwrap().status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        f.app
            .clone()
            .oneshot(req(Some("\"r7\"")))
            .await
            .unwrap()
            .status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        f.app
            .clone()
            .oneshot(req(Some("\"r1\"")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // History, diff, rollback.
    let history = call(f, "GET", &format!("{url}/history"), &f.admin, None)
        .await
        .json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["entry"]["value"], "Hi");
    let diff = call(f, "GET", &format!("{url}/diff?from=1&to=2"), &f.admin, None)
        .await
        .json();
    assert_eq!(diff["changed"], true);
    assert!(
        diff["diff"].as_str().unwrap().contains("-Hello")
            && diff["diff"].as_str().unwrap().contains("+Hi")
    );
    let r = call(
        f,
        "POST",
        &format!("{url}/rollback"),
        &f.admin,
        Some(&json!({"revision": 1})),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(r.json()["item"]["value"], "Hello");
    assert_eq!(r.json()["item"]["revision"], 3);
    let history = call(f, "GET", &format!("{url}/history"), &f.admin, None)
        .await
        .json();
    assert_eq!(history[0]["action"], "rollback");
    call(f, "DELETE", &url, &f.admin, None)
        .await
        .expect(StatusCode::OK);
    call(f, "GET", &url, &f.admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    let r = call(
        f,
        "POST",
        &format!("{url}/rollback"),
        &f.admin,
        Some(&json!({"revision": 4})),
    )
    .await
    .expect(StatusCode::CONFLICT);
    assert!(r.message().contains("deletion"));
    call(
        f,
        "POST",
        &format!("{url}/rollback"),
        &f.admin,
        Some(&json!({"revision": 2})),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        call(f, "GET", &url, &f.admin, None).await.json()["revision"],
        5
    );

    // A viewer reads but cannot write.
    let viewer = crate::fixture::token(f, burgee_server::model::Role::Viewer, "default").await;
    call(f, "GET", &format!("{SVC}/configs"), &viewer, None)
        .await
        .expect(StatusCode::OK);
    call(f, "PUT", &url, &viewer, Some(&json!({"value": "1"})))
        .await
        .expect(StatusCode::FORBIDDEN);
}
both!(entries_and_validation, 4 * 1024 * 1024);

async fn documents_and_secrets(f: &Fixture) {
    call(
        f,
        "PUT",
        &format!("{P}/services/checkout"),
        &f.admin,
        Some(&json!({})),
    )
    .await
    .expect(StatusCode::OK);
    call(
        f,
        "PUT",
        &format!("{P}/services/billing"),
        &f.admin,
        Some(&json!({})),
    )
    .await
    .expect(StatusCode::OK);
    put(f, "timeout_ms", &json!({"value": "250", "overrides": [
        {"id": "eu", "when": {"attribute": "zone", "op": "equals", "value": "eu-1"}, "value": "400"}
    ]})).await.expect(StatusCode::CREATED);
    put(
        f,
        "db_password",
        &json!({"format": "text", "value": "hunter2-secret", "secret": true}),
    )
    .await
    .expect(StatusCode::CREATED);

    // The API never shows a secret; the audit log and the tables never hold it in plaintext.
    let e = call(
        f,
        "GET",
        &format!("{SVC}/configs/db_password"),
        &f.admin,
        None,
    )
    .await
    .json();
    assert_eq!(e["value"], Value::Null);
    assert_eq!(e["secret"], true);
    for (table, column) in [
        ("config_entries", "raw"),
        ("config_history", "entry"),
        ("audit_log", "after"),
        ("config_documents", "envelope"),
    ] {
        let texts: Vec<Option<String>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM {table}")))
                .fetch_all(&f.state.store().pool)
                .await
                .unwrap();
        assert!(
            texts.iter().flatten().all(|t| !t.contains("hunter2")),
            "{table}.{column} holds the secret"
        );
    }
    let raw: String =
        sqlx::query_scalar("SELECT raw FROM config_entries WHERE key = 'db_password'")
            .fetch_one(&f.state.store().pool)
            .await
            .unwrap();
    assert!(raw.starts_with("enc:v1:"));

    // Only a server-side key scoped to the service reads the secret.
    let scoped = sdk_key(f, Some("checkout"), "sdk").await;
    let doc = document(f, &scoped).await;
    let instance = Context::new("i-1").with("zone", "eu-1");
    let now = burgee_server::now_ms();
    assert_eq!(
        doc.get("db_password", &instance, now).unwrap().raw,
        "hunter2-secret"
    );
    assert_eq!(doc.get("timeout_ms", &instance, now).unwrap().raw, "400");
    assert_eq!(
        doc.get("timeout_ms", &Context::new("i-2"), now)
            .unwrap()
            .raw,
        "250"
    );
    for key in [
        sdk_key(f, None, "sdk").await,
        sdk_key(f, Some("checkout"), "client").await,
        f.admin.clone(),
    ] {
        let doc = document(f, &key).await;
        assert!(doc.get("db_password", &instance, now).is_none());
        assert!(doc.get("timeout_ms", &instance, now).is_some());
    }
    let other = sdk_key(f, Some("billing"), "sdk").await;
    call(f, "GET", "/v1/configs/development/checkout", &other, None)
        .await
        .expect(StatusCode::FORBIDDEN);
    let r = call(f, "GET", "/v1/configs/development/nope", &f.admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "SERVICE_NOT_FOUND");

    // ETag and 304.
    let req = |etag: &str| {
        axum::http::Request::builder()
            .uri("/v1/configs/development/checkout")
            .header("Authorization", format!("Bearer {scoped}"))
            .header("If-None-Match", etag)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    use tower::ServiceExt as _;
    let first = f.app.clone().oneshot(req("\"x\"")).await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        f.app.clone().oneshot(req(&etag)).await.unwrap().status(),
        StatusCode::NOT_MODIFIED
    );

    // One outbox event per publish, with the changed keys and never a value.
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM outbox WHERE kind = 'config' ORDER BY seq")
            .fetch_all(&f.state.store().pool)
            .await
            .unwrap();
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["changed_keys"], json!(["db_password"]));
    assert_eq!(last["service"], "checkout");
    assert_eq!(
        last["id"],
        format!(
            "config/default/development/checkout/{}",
            last["new_version"]
        )
    );
    assert!(events.iter().all(|e| !e.contains("hunter2")));
    // Flag publishes are in the outbox too.
    call(
        f,
        "POST",
        &format!("{P}/flags"),
        &f.admin,
        Some(&json!({"key": "f1", "type": "boolean", "variants": {"on": true, "off": false}})),
    )
    .await
    .expect(StatusCode::CREATED);
    let flags: Vec<String> =
        sqlx::query_scalar("SELECT event FROM outbox WHERE kind = 'flags' ORDER BY seq DESC")
            .fetch_all(&f.state.store().pool)
            .await
            .unwrap();
    let last: Value = serde_json::from_str(&flags[0]).unwrap();
    assert_eq!(last["changed_keys"], json!(["f1"]));

    // A tampered stored secret is an error, not a wrong value.
    sql(
        f,
        "UPDATE config_entries SET raw = 'enc:v1:AAAA' WHERE key = 'db_password'",
    )
    .await;
    call(
        f,
        "GET",
        &format!("{SVC}/configs/db_password"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::INTERNAL_SERVER_ERROR);
    let _ = DEV;
}
both!(documents_and_secrets, 1024 * 1024);

async fn seed_api(f: &Fixture) {
    let body = json!({"key": "database.pool_size", "value": {"min": 2, "max": 10},
        "environment": "development", "service_name": "orders", "description": "DB pool"});
    let r = call(f, "POST", "/api/v1/config", &f.admin, Some(&body))
        .await
        .expect(StatusCode::CREATED);
    let created = r.json();
    assert_eq!(created["value"], json!({"min": 2, "max": 10}));
    assert_eq!(created["service_name"], "orders");
    assert_eq!(created["version"], 1);
    call(f, "POST", "/api/v1/config", &f.admin, Some(&body))
        .await
        .expect(StatusCode::CONFLICT);
    let q = "environment=development&service_name=orders";
    let one = call(
        f,
        "GET",
        &format!("/api/v1/config/database.pool_size?{q}"),
        &f.admin,
        None,
    )
    .await
    .json();
    assert_eq!(one["value"]["max"], 10);
    let upd = json!({"value": {"min": 2, "max": 20}, "environment": "development", "service_name": "orders"});
    let r = call(
        f,
        "PUT",
        "/api/v1/config/database.pool_size",
        &f.admin,
        Some(&upd),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(r.json()["version"], 2);
    let r = call(f, "PUT", "/api/v1/config/nope", &f.admin, Some(&upd))
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "CONFIG_NOT_FOUND");
    let bulk = json!({"environment": "development", "service_name": "orders", "configs": [
        {"key": "feature.banner", "value": "Welcome"},
        {"key": "retry.yaml", "value": "attempts: 3\n", "format": "yaml"}]});
    let r = call(f, "POST", "/api/v1/config/bulk", &f.admin, Some(&bulk))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json()["total"], 2);
    let list = call(
        f,
        "GET",
        &format!("/api/v1/config?{q}&keys[]=feature.banner&keys[]=retry.yaml"),
        &f.admin,
        None,
    )
    .await
    .json();
    assert_eq!(list["total"], 2);
    assert_eq!(list["configs"][0]["value"], "Welcome");
    assert_eq!(list["configs"][1]["value"], "attempts: 3\n");
    let all = call(f, "GET", "/api/v1/config", &f.admin, None)
        .await
        .json();
    assert_eq!(all["total"], 3);
    let history = call(
        f,
        "GET",
        &format!("/api/v1/config/database.pool_size/history?{q}"),
        &f.admin,
        None,
    )
    .await
    .json();
    assert_eq!(history["history"][0]["version"], 2);
    assert_eq!(history["history"][1]["value"]["max"], 10);
    call(
        f,
        "DELETE",
        &format!("/api/v1/config/feature.banner?{q}"),
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let r = call(
        f,
        "GET",
        "/api/v1/config/database.pool_size",
        &f.admin,
        None,
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["field"], "environment");
    let bad = json!({"key": "x", "value": "a: [", "format": "yaml", "environment": "development", "service_name": "orders"});
    let r = call(f, "POST", "/api/v1/config", &f.admin, Some(&bad))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.message().contains("line "), "{}", r.message());
    // The seed API's writes are the same entries as the project API's.
    let e = call(
        f,
        "GET",
        "/v1/projects/default/environments/development/services/orders/configs/database.pool_size",
        &f.admin,
        None,
    )
    .await
    .json();
    assert_eq!(e["revision"], 2);
}
both!(seed_api, 1024 * 1024);

async fn documents_are_re_signed_before_expiry(f: &Fixture) {
    call(
        f,
        "PUT",
        &format!("{P}/services/checkout"),
        &f.admin,
        Some(&json!({})),
    )
    .await
    .expect(StatusCode::OK);
    put(f, "pool", &json!({"value": "5"}))
        .await
        .expect(StatusCode::CREATED);
    let latest = |env: &'static str| async move {
        f.state
            .latest_config(("default", env, "checkout"))
            .await
            .unwrap()
            .unwrap()
    };
    let before = latest("development").await;
    // Not due yet: nothing re-signed.
    let done = f.state.republish_due(before.issued_at).await.unwrap();
    assert!(done.iter().all(|p| p.service.is_none()), "{done:?}");
    // Past half the lifetime: every environment's document gets a new version, same entries.
    let at = before.issued_at + (before.expires_at - before.issued_at) / 2 + 1;
    let done = f.state.republish_due(at).await.unwrap();
    let configs: Vec<&str> = done
        .iter()
        .filter(|p| p.service.is_some())
        .map(|p| p.environment.as_str())
        .collect();
    assert_eq!(configs, ["development", "production", "staging"]);
    let after = latest("development").await;
    assert_eq!(after.version, before.version + 1);
    let event: String =
        sqlx::query_scalar("SELECT event FROM outbox WHERE kind = 'config' ORDER BY seq DESC")
            .fetch_one(&f.state.store().pool)
            .await
            .unwrap();
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event["reason"], "re-sign");
    assert_eq!(event["changed_keys"], json!([]));
}
both!(documents_are_re_signed_before_expiry, 1024 * 1024);

/// Backup and restore carry services, entries (secrets still sealed), history and documents;
/// with the keys copied (signing keys and `secrets.key`), the restored server serves the same.
#[tokio::test]
async fn backup_and_restore_keep_the_configuration() {
    let f = crate::fixture::fixture(crate::fixture::Db::Sqlite, 1 << 20)
        .await
        .unwrap();
    call(
        &f,
        "PUT",
        &format!("{P}/services/checkout"),
        &f.admin,
        Some(&json!({})),
    )
    .await
    .expect(StatusCode::OK);
    put(&f, "pool", &json!({"value": "5"}))
        .await
        .expect(StatusCode::CREATED);
    put(
        &f,
        "db_password",
        &json!({"format": "text", "value": "hunter2", "secret": true}),
    )
    .await
    .expect(StatusCode::CREATED);
    let backup = burgee_server::backup::dump(f.state.store(), f.state.keys_dir())
        .await
        .unwrap();
    let text = serde_json::to_string(&backup).unwrap();
    assert!(!text.contains("hunter2"), "secrets stay sealed in a backup");

    let dir = tempfile::tempdir().unwrap();
    let store =
        burgee_server::store::Store::open(&burgee_server::store::Store::sqlite_url(dir.path()), 2)
            .await
            .unwrap();
    burgee_server::backup::restore(&store, &dir.path().join("keys"), &backup)
        .await
        .unwrap();
    store.pool.close().await;
    for entry in std::fs::read_dir(f.dir.path().join("keys")).unwrap() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|x| x == "key") {
            std::fs::copy(
                entry.path(),
                dir.path().join("keys").join(entry.file_name()),
            )
            .unwrap();
        }
    }
    let (state, creds) = burgee_server::service::AppState::open(
        &burgee_server::config::ServerConfig::new(dir.path(), 3_600_000),
    )
    .await
    .unwrap();
    assert!(creds.is_none());
    let scope = ("default", "development", "checkout");
    assert_eq!(
        state.config_entry(scope, "pool").await.unwrap(),
        f.state.config_entry(scope, "pool").await.unwrap()
    );
    assert_eq!(
        state
            .config_history(scope, "db_password")
            .await
            .unwrap()
            .len(),
        1
    );
    let (a, b) = (
        state.latest_config(scope).await.unwrap().unwrap(),
        f.state.latest_config(scope).await.unwrap().unwrap(),
    );
    assert_eq!((a.version, &a.envelope), (b.version, &b.envelope));
    assert!(
        a.envelope.contains("payload"),
        "the document with secrets opens with the copied secrets key"
    );
}
