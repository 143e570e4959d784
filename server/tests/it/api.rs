//! The HTTP API through `tower::ServiceExt::oneshot` (and real sockets for SSE), against a
//! real SQLite file and — every test again — a real PostgreSQL database (a fresh database
//! per test on the server named by `BURGEE_TEST_DATABASE_URL`; `scripts/postgres` starts
//! one). Without that variable the PostgreSQL half fails when `CI=true` and is skipped with
//! a notice otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use burgee_core::{Context, ErrorCode, LoadOptions, Snapshot, TrustedKey};
use burgee_server::api::app;
use burgee_server::config::ServerConfig;
use burgee_server::demo::{Calendar, Demo};
use burgee_server::error::StateError;
use burgee_server::keys::read_trusted_key;
use burgee_server::model::{Role, TokenInput};
use burgee_server::now_ms;
use burgee_server::service::{AppState, Credentials};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

use crate::common::postgres_url;

const HOUR_MS: u64 = 3_600_000;

#[derive(Debug, Clone, Copy)]
enum Db {
    Sqlite,
    Postgres,
}

struct Fixture {
    dir: TempDir,
    state: AppState,
    app: Router,
    creds: Credentials,
}

impl Fixture {
    fn admin(&self) -> &str {
        &self.creds.admin_token
    }
    fn public_key(&self, env: &str) -> TrustedKey {
        read_trusted_key(&self.dir.path().join(format!("keys/{env}.pub"))).unwrap()
    }
}

/// A fresh PostgreSQL database URL, or `None` (after a notice) when none is configured.
async fn fixture_with(db: Db, demo: bool, keep_alive: Duration) -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(postgres_url().await?),
    };
    let config = ServerConfig {
        database_url,
        demo,
        sse_keep_alive: keep_alive,
        max_body_bytes: 64 * 1024,
        ..ServerConfig::new(dir.path(), HOUR_MS)
    };
    let (state, creds) = AppState::open(&config).await.unwrap();
    Some(Fixture {
        dir,
        app: app(state.clone()),
        state,
        creds: creds.expect("first start returns credentials"),
    })
}

async fn fixture(db: Db, demo: bool) -> Option<Fixture> {
    fixture_with(db, demo, Duration::from_secs(15)).await
}

/// One test body, run on SQLite and on PostgreSQL.
macro_rules! both {
    ($name:ident, $demo:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let f = super::fixture(super::Db::Sqlite, $demo).await.unwrap();
                super::$name(&f).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(f) = super::fixture(super::Db::Postgres, $demo).await {
                    super::$name(&f).await;
                }
            }
        }
    };
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
    fn etag(&self) -> String {
        self.headers[header::ETAG].to_str().unwrap().to_owned()
    }
    fn expect(self, status: StatusCode) -> Reply {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }
}

async fn call(
    f: &Fixture,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let is_stream = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let body = if is_stream {
        Vec::new()
    } else {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    };
    crate::common::openapi::check(method, uri, status.as_u16(), &headers, &body);
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(f: &Fixture, uri: &str) -> Reply {
    call(f, "GET", uri, Some(f.admin()), None, &[]).await
}

async fn send(f: &Fixture, method: &str, uri: &str, body: &Value, if_match: Option<&str>) -> Reply {
    let extra: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
    call(f, method, uri, Some(f.admin()), Some(body), &extra).await
}

async fn latest_version(f: &Fixture, project: &str, env: &str) -> u64 {
    f.state
        .latest_snapshot(project, env)
        .await
        .unwrap()
        .unwrap()
        .version
}

fn boolean_flag(key: &str) -> Value {
    json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false}})
}

/// A boolean flag run as an experiment on a 50/50 default rollout in development.
fn experiment_flag(key: &str) -> Value {
    json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false},
        "experiment": {"primary_metric": {"key": "purchase", "kind": "conversion"}},
        "environments": {"development": {"enabled": true, "off_variant": "off",
            "default": {"rollout": {"weights": [{"variant": "on", "weight": 5000},
                                                {"variant": "off", "weight": 5000}]}}}}})
}

fn targeting_on() -> Value {
    json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})
}

const P: &str = "/v1/projects/default";
const DEV: &str = "/v1/projects/default/environments/development";
const PROD: &str = "/v1/projects/default/environments/production";

// ---------------------------------------------------------------------------------------

async fn authoring_flow_with_if_match(f: &Fixture) {
    let created = send(
        f,
        "POST",
        &format!("{P}/flags"),
        &boolean_flag("new-checkout"),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    assert_eq!(created.etag(), "\"r1\"");
    let body = created.json();
    assert_eq!(body["item"]["environments"]["production"]["enabled"], false);
    let published: Vec<u64> = body["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["version"].as_u64().unwrap())
        .collect();
    assert_eq!(published, [2, 2, 2], "every environment publishes once");
    let again = send(
        f,
        "POST",
        &format!("{P}/flags"),
        &boolean_flag("new-checkout"),
        None,
    )
    .await;
    assert_eq!(
        (again.status, again.code().as_str()),
        (StatusCode::CONFLICT, "CONFLICT")
    );

    let mut other = json!({"key": "banner-text", "type": "string",
        "variants": {"a": "Hello", "b": "Hi"}, "tags": ["ui"], "owner": "team-a",
        "description": "Home page banner"});
    other["environments"] = json!({"development": {"enabled": true, "off_variant": "a",
        "default": {"variant": "b"}}});
    send(f, "POST", &format!("{P}/flags"), &other, None)
        .await
        .expect(StatusCode::CREATED);
    let keys = |r: Reply| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        keys(get(f, &format!("{P}/flags")).await),
        ["banner-text", "new-checkout"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?tag=ui")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?owner=team-a")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?type=boolean")).await),
        ["new-checkout"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?q=BANNER")).await),
        ["banner-text"]
    );
    assert_eq!(
        keys(get(f, &format!("{P}/flags?q=home%20page")).await),
        ["banner-text"]
    );

    // Targeting in development: If-Match required, stale refused, then applied.
    let url = format!("{DEV}/flags/new-checkout");
    let read = get(f, &url).await.expect(StatusCode::OK);
    let tag = read.etag();
    let missing = send(f, "PUT", &url, &targeting_on(), None).await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::PRECONDITION_REQUIRED, "PRECONDITION_REQUIRED")
    );
    let prod_before = latest_version(f, "default", "production").await;
    let dev_before = latest_version(f, "default", "development").await;
    let ok = send(f, "PUT", &url, &targeting_on(), Some(&tag))
        .await
        .expect(StatusCode::OK);
    assert_eq!(ok.etag(), "\"r2\"");
    assert_eq!(ok.json()["published"][0]["version"], dev_before + 1);
    assert_eq!(
        latest_version(f, "default", "production").await,
        prod_before
    );
    // A second editor still holding r1 is refused instead of overwriting silently.
    let stale = send(
        f,
        "PUT",
        &url,
        &json!({"enabled": false, "off_variant": "off",
        "default": {"variant": "off"}}),
        Some(&tag),
    )
    .await;
    assert_eq!(
        (stale.status, stale.code().as_str()),
        (StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED")
    );

    // The new development snapshot serves the change.
    let env = call(
        f,
        "GET",
        "/v1/snapshots/development",
        Some(f.creds.sdk_key("development").unwrap()),
        None,
        &[],
    )
    .await
    .expect(StatusCode::OK);
    let keys = [f.public_key("development")];
    let snap =
        Snapshot::load(&env.body, &LoadOptions::new(&keys, "development", now_ms())).unwrap();
    assert_eq!(snap.info().version, dev_before + 1);
    let d = snap.evaluate("new-checkout", &Context::new("u1"), now_ms());
    assert_eq!(d.variant, Some("on"));
    let d = snap.evaluate("banner-text", &Context::new("u1"), now_ms());
    assert_eq!(d.variant, Some("b"));
    assert_eq!(
        serde_json::to_value(&d).unwrap()["metadata"]["owner"],
        "team-a"
    );

    // Project-wide definition: stale 412, current 200 (revision 2), publishes everywhere.
    let flag_url = format!("{P}/flags/banner-text");
    let spec = json!({"type": "string", "variants": {"a": "Hello", "b": "Hi", "c": "Hey"},
        "tags": ["ui", "home"], "owner": "team-b"});
    let stale = send(f, "PUT", &flag_url, &spec, Some("\"r7\"")).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let updated = send(f, "PUT", &flag_url, &spec, Some("\"r1\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(updated.etag(), "\"r2\"");
    assert_eq!(updated.json()["published"].as_array().unwrap().len(), 3);
    assert_eq!(get(f, &flag_url).await.json()["owner"], "team-b");

    // Delete: If-Match, then gone from the flag list and the next snapshot.
    send(f, "DELETE", &flag_url, &json!(null), Some("\"r2\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get(f, &flag_url).await.status, StatusCode::NOT_FOUND);
    let s = f
        .state
        .latest_snapshot("default", "development")
        .await
        .unwrap()
        .unwrap();
    assert!(!decode(&s.envelope).contains("banner-text"));
}
both!(authoring_flow_with_if_match, false);

/// The snapshot document inside an envelope, as text.
fn decode(envelope: &str) -> String {
    use base64::Engine as _;
    let v: Value = serde_json::from_str(envelope).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    String::from_utf8(payload).unwrap()
}

async fn invalid_writes_are_refused_with_field_paths(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("a"), None)
        .await
        .expect(StatusCode::CREATED);
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("b"), None)
        .await
        .expect(StatusCode::CREATED);
    let before = latest_version(f, "default", "development").await;
    let audit_before = f
        .state
        .audit_entries(&Default::default())
        .await
        .unwrap()
        .len();

    let refused = |r: Reply, field_prefix: &str| {
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let body = r.json();
        assert_eq!(body["code"], "SNAPSHOT_INVALID");
        let field = body["field"].as_str().unwrap_or_default().to_owned();
        assert!(
            field.starts_with(field_prefix),
            "field {field:?}, wanted {field_prefix}..."
        );
    };
    let url = format!("{DEV}/flags/a");
    let bad_regex = json!({"enabled": true, "off_variant": "off", "default": {"variant": "off"},
        "rules": [{"id": "r1", "when": {"attribute": "email", "op": "matches", "value": "("},
                   "serve": {"variant": "on"}}]});
    refused(
        send(f, "PUT", &url, &bad_regex, Some("*")).await,
        "flags[a].rules[r1]",
    );
    let unknown_segment = json!({"enabled": true, "off_variant": "off", "default": {"variant": "off"},
        "rules": [{"id": "r1", "when": {"op": "in_segment", "values": ["nope"]},
                   "serve": {"variant": "on"}}]});
    refused(
        send(f, "PUT", &url, &unknown_segment, Some("*")).await,
        "flags[a].rules[r1]",
    );
    let unknown_variant =
        json!({"enabled": true, "off_variant": "off", "default": {"variant": "maybe"}});
    refused(
        send(f, "PUT", &url, &unknown_variant, Some("*")).await,
        "flags[a]",
    );
    // a requires b (fine), then b requires a: a cycle.
    let requires = |other: &str| {
        json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"},
        "prerequisites": [{"flag": other, "variants": ["on"]}]})
    };
    send(f, "PUT", &url, &requires("b"), Some("*"))
        .await
        .expect(StatusCode::OK);
    let cycle = send(
        f,
        "PUT",
        &format!("{DEV}/flags/b"),
        &requires("a"),
        Some("*"),
    )
    .await;
    refused(cycle, "flags[");
    let after_valid = latest_version(f, "default", "development").await;
    assert_eq!(after_valid, before + 1, "only the valid write published");

    // JSON Schema of remote configuration.
    let schema = json!({"type": "object", "required": ["limit"],
        "properties": {"limit": {"type": "integer", "minimum": 1}}});
    let config = json!({"key": "limits", "type": "object", "schema": schema,
        "variants": {"normal": {"limit": 10}, "broken": {"limit": 0}}});
    refused(
        send(f, "POST", &format!("{P}/flags"), &config, None).await,
        "variants.broken/limit",
    );
    let bad_schema = json!({"key": "limits", "type": "object", "schema": {"type": 5},
        "variants": {"normal": {"limit": 10}}});
    refused(
        send(f, "POST", &format!("{P}/flags"), &bad_schema, None).await,
        "schema",
    );
    let good = json!({"key": "limits", "type": "object", "schema": schema,
        "variants": {"normal": {"limit": 10}, "strict": {"limit": 1}}});
    send(f, "POST", &format!("{P}/flags"), &good, None)
        .await
        .expect(StatusCode::CREATED);
    let breaking =
        json!({"type": "object", "schema": schema, "variants": {"normal": {"limit": "ten"}}});
    refused(
        send(
            f,
            "PUT",
            &format!("{P}/flags/limits"),
            &breaking,
            Some("\"r1\""),
        )
        .await,
        "variants.normal/limit",
    );
    refused(
        send(f, "POST", &format!("{P}/flags"), &boolean_flag("a b"), None).await,
        "key",
    );

    // Malformed or unknown input is 400 with the stable error shape.
    for (body, what) in [
        ("{", "truncated"),
        ("{\"key\": 5}", "wrong type"),
        (
            "{\"key\":\"x\",\"type\":\"boolean\",\"variants\":{},\"colour\":1}",
            "unknown field",
        ),
    ] {
        let req = Request::post(format!("{P}/flags"))
            .header(header::AUTHORIZATION, format!("Bearer {}", f.admin()))
            .body(Body::from(body))
            .unwrap();
        let resp = f.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{what}");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["code"], "BAD_REQUEST", "{what}");
    }
    // Body over the limit (64 KiB in these tests): 413 in the same shape.
    let huge = json!({"key": "x".repeat(100_000)});
    let r = send(f, "POST", &format!("{P}/flags"), &huge, None).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
    // Path parameters of the wrong type, unknown routes and methods: JSON errors too.
    let r = get(f, &format!("{DEV}/versions/notanumber")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );
    // Numbers beyond BIGINT in queries and paths: answers, never a 5xx.
    let huge = u64::MAX;
    let r = get(f, &format!("{DEV}/versions/{huge}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(f, &format!("{DEV}/versions?before={huge}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(f, &format!("{DEV}/diff?from={huge}&to=1")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        f,
        "POST",
        &format!("{DEV}/rollback"),
        &json!({"version": huge}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(
        f,
        &format!("/v1/audit?since={huge}&after_seq={huge}&until={huge}"),
    )
    .await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    let r = get(f, "/v1/nothing").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let r = call(
        f,
        "PATCH",
        &format!("{P}/flags"),
        Some(f.admin()),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );

    let audit_after = f
        .state
        .audit_entries(&Default::default())
        .await
        .unwrap()
        .len();
    assert_eq!(
        audit_after,
        audit_before + 2,
        "refused writes leave no audit entries"
    );
}
both!(invalid_writes_are_refused_with_field_paths, false);

async fn versions_diff_and_rollback(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("f"), None)
        .await
        .expect(StatusCode::CREATED);
    send(
        f,
        "PUT",
        &format!("{PROD}/flags/f"),
        &targeting_on(),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    let seg = json!({"key": "staff", "included": ["u1"]});
    send(f, "POST", &format!("{PROD}/segments"), &seg, None)
        .await
        .expect(StatusCode::CREATED);

    let versions = get(f, &format!("{PROD}/versions"))
        .await
        .expect(StatusCode::OK)
        .json();
    let listed: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [4, 3, 2, 1]);
    assert_eq!(versions[0]["reason"], "segment.create staff");
    assert_eq!(versions[1]["reason"], "targeting.update f");
    let paged = get(f, &format!("{PROD}/versions?before=3&limit=1"))
        .await
        .json();
    assert_eq!(paged[0]["version"], 2);

    // Any old envelope, exactly as served then, still verifies.
    let old = get(f, &format!("{PROD}/versions/2"))
        .await
        .expect(StatusCode::OK);
    let keys = [f.public_key("production")];
    let snap = Snapshot::load(&old.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(snap.info().version, 2);
    assert_eq!(
        old.etag(),
        format!("\"{}\"", snap.info().digest.as_deref().unwrap())
    );
    assert_eq!(
        get(f, &format!("{PROD}/versions/99")).await.status,
        StatusCode::NOT_FOUND
    );

    let diff = get(f, &format!("{PROD}/diff?from=2&to=4"))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        diff["changes"],
        json!([
            {"kind": "flag", "key": "f", "change": "changed", "fields": ["default", "enabled"]},
            {"kind": "segment", "key": "staff", "change": "added", "fields": []},
        ])
    );
    let diff = get(f, &format!("{PROD}/diff?from=1&to=2")).await.json();
    assert_eq!(diff["changes"][0]["change"], "added");
    assert_eq!(
        get(f, &format!("{PROD}/diff?from=1")).await.status,
        StatusCode::BAD_REQUEST
    );

    // Roll back to 2: a new version 5 with version 2's content.
    let r = send(
        f,
        "POST",
        &format!("{PROD}/rollback"),
        &json!({"version": 2}),
        None,
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(r["published"][0]["version"], 5);
    assert_eq!(r["item"]["reason"], "rollback to 2");
    assert_eq!(latest_version(f, "default", "production").await, 5);
    let diff = get(f, &format!("{PROD}/diff?from=2&to=5")).await.json();
    assert_eq!(diff["changes"], json!([]));
    assert_eq!(
        get(f, &format!("{PROD}/flags/f")).await.json()["enabled"],
        false
    );
    assert_eq!(get(f, &format!("{PROD}/segments")).await.json(), json!([]));
    let r = send(
        f,
        "POST",
        &format!("{PROD}/rollback"),
        &json!({"version": 77}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Versions stay immutable: version 4 is unchanged and still listed.
    let v4 = get(f, &format!("{PROD}/versions/4")).await;
    assert!(decode(&String::from_utf8(v4.body).unwrap()).contains("staff"));
}
both!(versions_diff_and_rollback, false);

async fn projects_and_environments(f: &Fixture) {
    let created = send(
        f,
        "POST",
        "/v1/projects",
        &json!({"key": "shop2", "name": "Shop two"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert_eq!(created["published"].as_array().unwrap().len(), 3);
    assert!(f.dir.path().join("keys/shop2/production.pub").exists());
    let envs = get(f, "/v1/projects/shop2/environments").await.json();
    let keys: Vec<&str> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["development", "production", "staging"]);
    assert_eq!(envs[1]["protected"], true);
    assert_eq!(envs[0]["protected"], false);
    let dup = send(f, "POST", "/v1/projects", &json!({"key": "shop2"}), None).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    // Two projects now have "production": the admin token must say which.
    let r = get(f, "/v1/snapshots/production").await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("project"))
    );
    let r = get(f, "/v1/snapshots/production?project=shop2")
        .await
        .expect(StatusCode::OK);
    let keys = [read_trusted_key(&f.dir.path().join("keys/shop2/production.pub")).unwrap()];
    Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();

    let qa = "/v1/projects/shop2/environments/qa";
    send(
        f,
        "POST",
        "/v1/projects/shop2/environments",
        &json!({"key": "qa"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    let upd = send(
        f,
        "PUT",
        qa,
        &json!({"name": "QA", "protected": true}),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(upd.json()["item"]["protected"], true);
    let r = send(
        f,
        "PUT",
        qa,
        &json!({"name": "QA", "protected": true}),
        Some("\"r1\""),
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    send(
        f,
        "PUT",
        "/v1/projects/shop2",
        &json!({"name": "Shop 2"}),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(get(f, "/v1/projects/shop2").await.etag(), "\"r2\"");

    // Deleting and recreating an environment never reuses a version number.
    send(f, "DELETE", qa, &json!(null), Some("\"r2\""))
        .await
        .expect(StatusCode::OK);
    assert_eq!(get(f, qa).await.status, StatusCode::NOT_FOUND);
    let again = send(
        f,
        "POST",
        "/v1/projects/shop2/environments",
        &json!({"key": "qa"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert_eq!(again["published"][0]["version"], 2);

    send(f, "DELETE", "/v1/projects/shop2", &json!(null), Some("*"))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        get(f, "/v1/projects/shop2").await.status,
        StatusCode::NOT_FOUND
    );
    let projects = get(f, "/v1/projects").await.json();
    assert_eq!(projects.as_array().unwrap().len(), 1);
}
both!(projects_and_environments, false);

// ---------------------------------------------------------------------------------------

struct Tokens {
    viewer: String,
    editor: String,
    publisher: String,
    admin: String,
    other_admin: String,
    sdk_dev: String,
}

async fn token(
    f: &Fixture,
    kind: &str,
    role: Option<Role>,
    project: Option<&str>,
    env: Option<&str>,
) -> String {
    f.state
        .create_token(
            "test",
            &TokenInput {
                kind: kind.into(),
                name: String::new(),
                role,
                project: project.map(str::to_owned),
                environment: env.map(str::to_owned),
            },
        )
        .await
        .unwrap()
        .token
}

/// Every authenticated operation of the OpenAPI document with the least role that may call it; for each:
/// no token → 401, an SDK key → 403, every lesser role → 403, a token of another project →
/// 403, and the least role gets through.
async fn every_route_enforces_roles(f: &Fixture) {
    send(f, "POST", "/v1/projects", &json!({"key": "other"}), None)
        .await
        .expect(StatusCode::CREATED);
    let t = Tokens {
        viewer: token(f, "admin", Some(Role::Viewer), Some("default"), None).await,
        editor: token(f, "admin", Some(Role::Editor), Some("default"), None).await,
        publisher: token(f, "admin", Some(Role::Publisher), Some("default"), None).await,
        admin: token(f, "admin", Some(Role::Admin), Some("default"), None).await,
        other_admin: token(f, "admin", Some(Role::Admin), Some("other"), None).await,
        sdk_dev: token(f, "sdk", None, Some("default"), Some("development")).await,
    };
    for key in ["f1", "f-del"] {
        send(f, "POST", &format!("{P}/flags"), &boolean_flag(key), None)
            .await
            .expect(StatusCode::CREATED);
    }
    send(
        f,
        "POST",
        &format!("{P}/flags"),
        &experiment_flag("exp"),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    for key in ["s1", "s-del"] {
        send(
            f,
            "POST",
            &format!("{DEV}/segments"),
            &json!({"key": key}),
            None,
        )
        .await
        .expect(StatusCode::CREATED);
    }
    send(
        f,
        "POST",
        &format!("{P}/environments"),
        &json!({"key": "tmp"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED);
    send(f, "POST", "/v1/projects", &json!({"key": "doomed"}), None)
        .await
        .expect(StatusCode::CREATED);
    let user_victim = f
        .state
        .create_user(
            "test",
            &burgee_server::model::UserInput {
                email: "victim@example.com".into(),
                name: None,
                role: Role::Viewer,
                project: Some("default".into()),
                password: None,
            },
        )
        .await
        .unwrap()
        .user
        .id;
    let victim = f
        .state
        .create_token(
            "test",
            &TokenInput {
                kind: "admin".into(),
                name: String::new(),
                role: Some(Role::Viewer),
                project: Some("default".into()),
                environment: None,
            },
        )
        .await
        .unwrap()
        .info
        .id;

    // (method, template, concrete uri, body, least role; None = global admin only)
    let viewer = Some(Role::Viewer);
    let editor = Some(Role::Editor);
    let publisher = Some(Role::Publisher);
    let admin = Some(Role::Admin);
    type Case = (
        &'static str,
        &'static str,
        String,
        Option<Value>,
        Option<Role>,
    );
    let cases: Vec<Case> = vec![
        (
            "get",
            "/v1/snapshots/{env}",
            "/v1/snapshots/development?project=default".into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/stream/{env}",
            "/v1/stream/development?project=default".into(),
            None,
            viewer,
        ),
        ("get", "/v1/projects/{project}", P.into(), None, viewer),
        (
            "get",
            "/v1/projects/{project}/environments",
            format!("{P}/environments"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}",
            DEV.into(),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/flags",
            format!("{P}/flags"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/flags/{key}",
            format!("{DEV}/flags/f1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/segments",
            format!("{DEV}/segments"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/versions",
            format!("{DEV}/versions"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/versions/{version}",
            format!("{DEV}/versions/1"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/diff",
            format!("{DEV}/diff?from=1&to=2"),
            None,
            viewer,
        ),
        (
            // A new flag is published to the protected production too (tests/publish_limits.rs).
            "post",
            "/v1/projects/{project}/flags",
            format!("{P}/flags"),
            Some(boolean_flag("f2")),
            publisher,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/flags/{key}",
            format!("{DEV}/flags/f1"),
            Some(targeting_on()),
            editor,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/segments",
            format!("{DEV}/segments"),
            Some(json!({"key": "s2"})),
            editor,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s1"),
            Some(json!({"key": "s1", "included": ["u"]})),
            editor,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}/segments/{key}",
            format!("{DEV}/segments/s-del"),
            None,
            editor,
        ),
        (
            "put",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f1"),
            Some(json!({"type": "boolean", "variants": {"on": true, "off": false}, "owner": "x"})),
            publisher,
        ),
        (
            "delete",
            "/v1/projects/{project}/flags/{key}",
            format!("{P}/flags/f-del"),
            None,
            publisher,
        ),
        (
            "post",
            "/v1/projects/{project}/environments/{env}/rollback",
            format!("{DEV}/rollback"),
            Some(json!({"version": 1})),
            publisher,
        ),
        (
            "put",
            "/v1/projects/{project}",
            P.into(),
            Some(json!({"name": "Default"})),
            admin,
        ),
        (
            "post",
            "/v1/projects/{project}/environments",
            format!("{P}/environments"),
            Some(json!({"key": "qa"})),
            admin,
        ),
        (
            "put",
            "/v1/projects/{project}/environments/{env}",
            DEV.into(),
            Some(json!({"name": "Dev", "protected": false})),
            admin,
        ),
        (
            "delete",
            "/v1/projects/{project}/environments/{env}",
            format!("{P}/environments/tmp"),
            None,
            admin,
        ),
        (
            "get",
            "/v1/tokens",
            "/v1/tokens?project=default".into(),
            None,
            admin,
        ),
        (
            "post",
            "/v1/tokens",
            "/v1/tokens".into(),
            Some(json!({"kind": "sdk", "project": "default", "environment": "staging"})),
            admin,
        ),
        (
            "delete",
            "/v1/tokens/{id}",
            format!("/v1/tokens/{victim}"),
            None,
            admin,
        ),
        (
            "get",
            "/v1/audit",
            "/v1/audit?project=default".into(),
            None,
            admin,
        ),
        (
            "get",
            "/v1/users",
            "/v1/users?project=default".into(),
            None,
            admin,
        ),
        (
            "post",
            "/v1/users",
            "/v1/users".into(),
            Some(json!({"email": "new@example.com", "role": "viewer", "project": "default"})),
            admin,
        ),
        (
            "delete",
            "/v1/users/{id}",
            format!("/v1/users/{user_victim}"),
            None,
            admin,
        ),
        ("get", "/v1/projects", "/v1/projects".into(), None, viewer),
        (
            "get",
            "/v1/projects/{project}/environments/{env}/events/recent",
            format!("{DEV}/events/recent"),
            None,
            viewer,
        ),
        (
            "get",
            "/v1/projects/{project}/experiments/{flag}/results",
            format!("{P}/experiments/exp/results?environment=development"),
            None,
            viewer,
        ),
        (
            "post",
            "/v1/projects",
            "/v1/projects".into(),
            Some(json!({"key": "p3"})),
            None,
        ),
        (
            "delete",
            "/v1/projects/{project}",
            "/v1/projects/doomed".into(),
            None,
            None,
        ),
    ];
    // The table covers every authenticated route of the API (`POST /v1/events` takes SDK keys
    // only; tests/events_api.rs covers it).
    let covered: BTreeSet<(String, String)> = cases
        .iter()
        .map(|c| (c.0.to_owned(), c.1.to_owned()))
        .collect();
    let all: BTreeSet<(String, String)> = crate::common::openapi::operations()
        .into_iter()
        .filter(|(m, t)| {
            let role = crate::common::openapi::operation(m, t).unwrap()["x-burgee-role"]
                .as_str()
                .unwrap();
            // Client-side keys are tested in the client snapshot tests, session-cookie
            // routes in tests/it/session.rs.
            role != "none" && !role.contains("client-side key") && role != "session cookie"
        })
        .collect();
    assert_eq!(covered, all);

    let ranked = [
        (Role::Viewer, &t.viewer),
        (Role::Editor, &t.editor),
        (Role::Publisher, &t.publisher),
        (Role::Admin, &t.admin),
    ];
    for (method, template, uri, body, least) in &cases {
        let m = method.to_uppercase();
        let extra: &[(&str, &str)] = if matches!(*method, "put" | "delete") {
            &[("if-match", "*")]
        } else {
            &[]
        };
        let what = format!("{m} {uri}");
        let r = call(f, &m, uri, None, body.as_ref(), extra).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED".into()),
            "{what} without a token"
        );
        let r = call(f, &m, uri, Some("bga_not-a-token"), body.as_ref(), extra).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{what} with an unknown token"
        );
        let sdk_allowed =
            template.starts_with("/v1/snapshots") || template.starts_with("/v1/stream");
        if !sdk_allowed {
            let r = call(f, &m, uri, Some(&t.sdk_dev), body.as_ref(), extra).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "FORBIDDEN".into()),
                "{what} with an SDK key"
            );
        }
        if template.contains("{project}") || uri.contains("project=") {
            let r = call(f, &m, uri, Some(&t.other_admin), body.as_ref(), extra).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{what} with another project's admin"
            );
        }
        let allowed: &str = match least {
            Some(least) => {
                for (role, tok) in ranked.iter().filter(|(r, _)| r < least) {
                    let r = call(f, &m, uri, Some(tok), body.as_ref(), extra).await;
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what} as {role:?}");
                }
                ranked.iter().find(|(r, _)| r == least).unwrap().1
            }
            None => {
                let r = call(f, &m, uri, Some(&t.admin), body.as_ref(), extra).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{what} needs an all-projects admin"
                );
                f.admin()
            }
        };
        let r = call(f, &m, uri, Some(allowed), body.as_ref(), extra).await;
        assert!(
            r.status.is_success(),
            "{what} as {least:?}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }

    // SDK keys: their own environment's snapshot and stream only.
    let r = call(
        f,
        "GET",
        "/v1/snapshots/development",
        Some(&t.sdk_dev),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        f,
        "GET",
        "/v1/stream/development",
        Some(&t.sdk_dev),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    for uri in [
        "/v1/snapshots/production",
        "/v1/stream/staging",
        "/v1/snapshots/development?project=other",
    ] {
        let r = call(f, "GET", uri, Some(&t.sdk_dev), None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    // Protected environments need publisher even for targeting.
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        Some(&t.editor),
        Some(&targeting_on()),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        f,
        "PUT",
        &format!("{PROD}/flags/f1"),
        Some(&t.publisher),
        Some(&targeting_on()),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The revoked token is refused from now on.
    let r = call(f, "GET", P, Some(&t.viewer), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let viewer_id = f
        .state
        .tokens(Some("default"))
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.role == Some(Role::Viewer) && x.revoked_at.is_none() && x.id != victim)
        .unwrap()
        .id;
    f.state.revoke_token("test", &viewer_id).await.unwrap();
    let r = call(f, "GET", P, Some(&t.viewer), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Operations endpoints need no token.
    let ui = call(f, "GET", "/swagger-ui/", None, None, &[]).await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&ui.body).contains("swagger"));
    let doc = call(f, "GET", "/openapi.json", None, None, &[])
        .await
        .json();
    assert_eq!(doc["openapi"], "3.1.0");
    for uri in ["/health", "/live", "/ready", "/metrics", "/openapi.json"] {
        assert_eq!(
            call(f, "GET", uri, None, None, &[]).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
}
both!(every_route_enforces_roles, false);

async fn tokens_are_hashed_and_shown_once(f: &Fixture) {
    let r = send(
        f,
        "POST",
        "/v1/tokens",
        &json!({"kind": "admin", "role": "editor", "project": "default", "name": "ci"}),
        None,
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    let secret = r["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("bga_") && secret.len() == 68);
    let listed = get(f, "/v1/tokens").await.json().to_string();
    assert!(!listed.contains(&secret) && listed.contains("\"ci\""));
    let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM tokens")
        .fetch_all(&f.state.store().pool)
        .await
        .unwrap();
    assert!(stored.contains(&burgee_server::auth::token_hash(&secret)));
    assert!(!stored.iter().any(|h| h.contains("bga_")));
    let bad = send(
        f,
        "POST",
        "/v1/tokens",
        &json!({"kind": "sdk", "project": "default"}),
        None,
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("environment"))
    );
    let bad = send(f, "POST", "/v1/tokens", &json!({"kind": "root"}), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
both!(tokens_are_hashed_and_shown_once, false);

async fn audit_log_records_and_chain_detects_tampering(f: &Fixture) {
    send(f, "POST", &format!("{P}/flags"), &boolean_flag("f"), None)
        .await
        .expect(StatusCode::CREATED);
    send(
        f,
        "PUT",
        &format!("{DEV}/flags/f"),
        &targeting_on(),
        Some("\"r1\""),
    )
    .await
    .expect(StatusCode::OK);
    let entries = get(f, "/v1/audit?project=default&action=targeting.update")
        .await
        .expect(StatusCode::OK)
        .json();
    let e = &entries[0];
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(e["environment"], "development");
    assert_eq!(e["resource"], "flag:f");
    assert!(e["actor"].as_str().unwrap().starts_with("tok_"));
    assert!(e["at"].as_u64().unwrap() > 1_700_000_000_000);
    let before: Value = serde_json::from_str(e["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(e["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (before["enabled"].clone(), after["enabled"].clone()),
        (json!(false), json!(true))
    );
    let created = get(f, "/v1/audit?resource=flag:f&action=flag.create")
        .await
        .json();
    assert!(created[0]["before"].is_null());
    let all = get(f, "/v1/audit?limit=1000").await.json();
    let n = all.as_array().unwrap().len() as u64;
    let page = get(f, "/v1/audit?after_seq=2&limit=2").await.json();
    assert_eq!(page[0]["seq"], 3);
    assert_eq!(page.as_array().unwrap().len(), 2);

    assert_eq!(f.state.verify_audit().await.unwrap(), n);
    // Edit one row's content: detected at that row.
    let pool = &f.state.store().pool;
    sqlx::query("UPDATE audit_log SET after = '{\"enabled\":false}' WHERE seq = $1")
        .bind(i64::try_from(e["seq"].as_u64().unwrap()).unwrap())
        .execute(pool)
        .await
        .unwrap();
    match f.state.verify_audit().await {
        Err(StateError::AuditBroken(b)) => assert_eq!(b.seq, e["seq"].as_u64().unwrap()),
        other => panic!("tampering not detected: {other:?}"),
    }
    // Restore it, then delete the last row: the chain head notices.
    sqlx::query("UPDATE audit_log SET after = $1 WHERE seq = $2")
        .bind(e["after"].as_str().unwrap())
        .bind(i64::try_from(e["seq"].as_u64().unwrap()).unwrap())
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(f.state.verify_audit().await.unwrap(), n);
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(i64::try_from(n).unwrap())
        .execute(pool)
        .await
        .unwrap();
    assert!(matches!(
        f.state.verify_audit().await,
        Err(StateError::AuditBroken(_))
    ));
}
both!(audit_log_records_and_chain_detects_tampering, false);

async fn snapshots_honour_etags_and_compress(f: &Fixture) {
    let sdk = f.creds.sdk_key("production").unwrap().to_owned();
    let r = call(f, "GET", "/v1/snapshots/production", Some(&sdk), None, &[])
        .await
        .expect(StatusCode::OK);
    let etag = r.etag();
    let keys = [f.public_key("production")];
    let snap = Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(
        etag,
        format!("\"{}\"", snap.info().digest.as_deref().unwrap())
    );
    assert!(snap.flag_keys().count() >= 25, "the demo's flags");
    let r = call(
        f,
        "GET",
        "/v1/snapshots/production",
        Some(&sdk),
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    for enc in ["gzip", "br"] {
        let r = call(
            f,
            "GET",
            "/v1/snapshots/production",
            Some(&sdk),
            None,
            &[("accept-encoding", enc)],
        )
        .await;
        assert_eq!(r.headers[header::CONTENT_ENCODING], enc);
        assert!(r.body.len() * 3 < snap_len(f).await, "{enc} compresses");
    }
    // Republishing (same content) gives a new version and ETag; the old one gets the body.
    f.state
        .republish("webshop", "production", "test", "re-sign")
        .await
        .unwrap();
    let r = call(
        f,
        "GET",
        "/v1/snapshots/production",
        Some(&sdk),
        None,
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.etag(), etag);
}
both!(snapshots_honour_etags_and_compress, true);

async fn snap_len(f: &Fixture) -> usize {
    f.state
        .latest_snapshot("webshop", "production")
        .await
        .unwrap()
        .unwrap()
        .envelope
        .len()
}

async fn key_rotation_keeps_old_key_trusted_until_retired(f: &Fixture) {
    let fetch = || async {
        call(
            f,
            "GET",
            "/v1/snapshots/production",
            Some(f.admin()),
            None,
            &[],
        )
        .await
        .body
    };
    let old_key = f.public_key("production");
    let name = f.state.key_name("default", "production").await.unwrap();
    let env_var = burgee_server::keys::key_env_var("default", "production");
    let files = burgee_server::keys::rotate(f.state.keys_dir(), &name, &env_var).unwrap();
    let new_key = read_trusted_key(&files.public_key).unwrap();
    assert_ne!(new_key.keyid(), old_key.keyid());
    f.state
        .republish("default", "production", "test", "key rotation")
        .await
        .unwrap();
    let body = fetch().await;
    for key in [&old_key, &new_key] {
        let trusted = [key.clone()];
        let s = Snapshot::load(&body, &LoadOptions::new(&trusted, "production", now_ms())).unwrap();
        assert_eq!(s.info().keyid.as_deref(), Some(key.keyid()));
    }
    assert_eq!(
        burgee_server::keys::retire(f.state.keys_dir(), &name).unwrap(),
        1
    );
    f.state
        .republish("default", "production", "test", "key retirement")
        .await
        .unwrap();
    let body = fetch().await;
    let only_old = [old_key];
    let err =
        Snapshot::load(&body, &LoadOptions::new(&only_old, "production", now_ms())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyUntrusted);
    let only_new = [new_key];
    Snapshot::load(&body, &LoadOptions::new(&only_new, "production", now_ms())).unwrap();
}
both!(key_rotation_keeps_old_key_trusted_until_retired, false);

// ---------------------------------------------------------------------------------------

/// A minimal SSE client over a raw socket: collects `id:` lines and comments.
struct SseClient {
    stream: tokio::net::TcpStream,
    buf: String,
}

impl SseClient {
    async fn connect(
        addr: std::net::SocketAddr,
        path: &str,
        token: &str,
        last_id: Option<u64>,
    ) -> SseClient {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let last = last_id
            .map(|i| format!("Last-Event-ID: {i}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{last}\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        SseClient {
            stream,
            buf: String::new(),
        }
    }

    /// Reads until `pred` holds on the text so far, or the connection closes / times out.
    async fn read_until(&mut self, pred: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut chunk = [0u8; 65536];
        while !pred(&self.buf) {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return false,
                Ok(Ok(n)) => self.buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
            }
        }
        true
    }

    fn ids(&self) -> Vec<u64> {
        self.buf
            .lines()
            .filter_map(|l| l.strip_prefix("id: "))
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    }
}

async fn sse_pushes_every_version_resumes_and_ends_at_shutdown(db: Db) {
    let Some(f) = fixture_with(db, false, Duration::from_millis(100)).await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = {
        let router = app(f.state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await })
    };
    let sdk = f.creds.sdk_key("development").unwrap().to_owned();

    let mut c = SseClient::connect(addr, "/v1/stream/development", &sdk, None).await;
    assert!(
        c.read_until(|b| b.contains("id: 1"), Duration::from_secs(5))
            .await,
        "{}",
        c.buf
    );
    assert!(c.buf.contains("text/event-stream"));
    assert!(c.buf.contains("event: snapshot"));
    send(&f, "POST", &format!("{P}/flags"), &boolean_flag("f"), None)
        .await
        .expect(StatusCode::CREATED);
    assert!(
        c.read_until(|b| b.contains("id: 2"), Duration::from_secs(5))
            .await
    );
    send(
        &f,
        "PUT",
        &format!("{DEV}/flags/f"),
        &targeting_on(),
        Some("*"),
    )
    .await
    .expect(StatusCode::OK);
    assert!(
        c.read_until(|b| b.contains("id: 3"), Duration::from_secs(5))
            .await
    );
    assert_eq!(c.ids(), [1, 2, 3]);
    // The data line is the envelope, verifiable as it is.
    let data = c
        .buf
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .next_back()
        .unwrap()
        .to_owned();
    let keys = [f.public_key("development")];
    let s = Snapshot::load(
        data.as_bytes(),
        &LoadOptions::new(&keys, "development", now_ms()),
    )
    .unwrap();
    assert_eq!(s.info().version, 3);
    // Production changes do not reach a development stream.
    send(
        &f,
        "PUT",
        &format!("{PROD}/flags/f"),
        &targeting_on(),
        Some("*"),
    )
    .await
    .expect(StatusCode::OK);

    // Resume: Last-Event-ID 3 gets nothing old, only keep-alive comments, then version 4.
    let mut resumed = SseClient::connect(addr, "/v1/stream/development", &sdk, Some(3)).await;
    assert!(
        resumed
            .read_until(
                |b| b.contains(":keep-alive") || b.contains(": keep-alive"),
                Duration::from_secs(5)
            )
            .await,
        "{}",
        resumed.buf
    );
    assert!(resumed.ids().is_empty());
    // Behind by one: gets the latest at once.
    let mut behind = SseClient::connect(addr, "/v1/stream/development", &sdk, Some(2)).await;
    assert!(
        behind
            .read_until(|b| b.contains("id: 3"), Duration::from_secs(5))
            .await
    );
    send(
        &f,
        "PUT",
        &format!("{DEV}/flags/f"),
        &json!({"enabled": false, "off_variant": "off", "default": {"variant": "on"}}),
        Some("*"),
    )
    .await
    .expect(StatusCode::OK);
    assert!(
        resumed
            .read_until(|b| b.contains("id: 4"), Duration::from_secs(5))
            .await
    );
    assert_eq!(resumed.ids(), [4]);
    assert!(
        c.read_until(|b| b.contains("id: 4"), Duration::from_secs(5))
            .await
    );
    assert_eq!(f.state.metrics().sse_clients.get(), 3);

    // Shutdown ends every stream (the connection closes after the final chunk).
    f.state.begin_shutdown();
    for client in [&mut c, &mut resumed, &mut behind] {
        assert!(
            client
                .read_until(|b| b.ends_with("0\r\n\r\n"), Duration::from_secs(5))
                .await,
            "stream not closed: {:?}",
            &client.buf[client.buf.len().saturating_sub(80)..]
        );
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sqlite() {
    sse_pushes_every_version_resumes_and_ends_at_shutdown(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_postgres() {
    sse_pushes_every_version_resumes_and_ends_at_shutdown(Db::Postgres).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_returns_no_credentials() {
    let f = fixture(Db::Sqlite, true).await.unwrap();
    let version = latest_version(&f, "webshop", "production").await;
    let config = ServerConfig::new(f.dir.path(), HOUR_MS);
    f.state.close().await;
    let (state, creds) = AppState::open(&config).await.unwrap();
    assert!(creds.is_none());
    assert_eq!(
        state
            .latest_snapshot("webshop", "production")
            .await
            .unwrap()
            .unwrap()
            .version,
        version
    );
    assert!(
        state
            .principal(&f.creds.admin_token)
            .await
            .unwrap()
            .is_some()
    );
    // project.create, 3 × environment.create, the demo's segments and flags (seeded through
    // the API's service steps, so each is audited), the first console user, bootstrap.
    let demo = Demo::load(Calendar::seeded_at(0)).unwrap();
    let seeded = demo.flags.len() + demo.segments.values().map(Vec::len).sum::<usize>();
    assert_eq!(state.verify_audit().await.unwrap(), 6 + seeded as u64);
}

#[tokio::test]
async fn republish_due_resigns_only_ageing_snapshots() {
    let f = fixture(Db::Sqlite, false).await.unwrap();
    assert!(f.state.republish_due(now_ms()).await.unwrap().is_empty());
    let later = now_ms() + HOUR_MS / 2 + 1000;
    let done = f.state.republish_due(later).await.unwrap();
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|p| p.version == 2));
    let d = f.state.diff("default", "production", 1, 2).await.unwrap();
    assert!(d.changes.is_empty());
}

/// The client snapshot (spec/SNAPSHOT.md §9): signed next to each server snapshot with the same
/// version, only client-visible flags, no raw targeting data, the same answers; client-side
/// keys read only it (also as `?key=`), with CORS for browsers, and may send events.
async fn client_snapshots_hide_server_only_flags_and_raw_values(f: &Fixture) {
    let client_key = f
        .creds
        .client_keys
        .iter()
        .find(|(e, _)| e == "production")
        .unwrap()
        .1
        .clone();
    assert!(client_key.starts_with("bgc_"));
    let sdk = f.creds.sdk_key("production").unwrap().to_owned();
    let uri = format!("/v1/client/snapshots/production?key={client_key}");
    let r = call(
        f,
        "GET",
        &uri,
        None,
        None,
        &[("origin", "https://shop.example")],
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert!(
        r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("etag")
    );
    let keys = [f.public_key("production")];
    let now = now_ms();
    let opts = LoadOptions::new(&keys, "production", now)
        .for_audience(burgee_core::model::Audience::Client);
    let client = Snapshot::load(&r.body, &opts).unwrap();
    assert_eq!(client.info().audience, burgee_core::model::Audience::Client);
    let visible: BTreeSet<&str> = client.flag_keys().collect();
    let demo = Demo::load(Calendar::seeded_at(now)).unwrap();
    let expected: BTreeSet<&str> = demo
        .flags
        .iter()
        .filter(|f| f.client_visible)
        .map(|f| f.key.as_str())
        .collect();
    assert!(expected.len() >= 5 && expected.len() < demo.flags.len());
    assert_eq!(visible, expected);
    let payload = decode(std::str::from_utf8(&r.body).unwrap());
    for raw in [
        "payments-kill-switch",
        "enterprise-support-chat",
        "editor@techpress.example",
        "user-1001",
        "user-3150",
        "qa-bot-1",
        "high-value-customers",
    ] {
        assert!(!payload.contains(raw), "client snapshot leaks {raw:?}");
    }

    // Same version as the server snapshot, and the same answers for every visible flag.
    let server_env = call(f, "GET", "/v1/snapshots/production", Some(&sdk), None, &[])
        .await
        .expect(StatusCode::OK);
    let server = Snapshot::load(
        &server_env.body,
        &LoadOptions::new(&keys, "production", now),
    )
    .unwrap();
    assert_eq!(server.info().version, client.info().version);
    assert_ne!(server.info().digest, client.info().digest);
    let contexts = [
        Context::new("user-1001"),
        Context::new("user-3150").with("email", "x@y.z"),
        Context::new("u-9").with("email", "Editor@TechPress.example"),
        Context::new("u-10")
            .with("email", "ana@burgee.dev")
            .with("country", "DE"),
        Context::new("qa-bot-1"),
        Context::new("user-6666").with("email", "x@burgee.dev"),
    ];
    for flag in &visible {
        for ctx in &contexts {
            let a = server.evaluate(flag, ctx, now);
            let b = client.evaluate(flag, ctx, now);
            assert_eq!(
                serde_json::to_value(&a).unwrap(),
                serde_json::to_value(&b).unwrap(),
                "{flag}"
            );
        }
    }
    let press = client.evaluate("reviews-v2", &contexts[2], now);
    assert_eq!(press.rule_id, Some("press-reviewers"));

    // ETag / 304 as on the server route; CORS preflight answered.
    let etag = r.etag();
    let r = call(f, "GET", &uri, None, None, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let pre = call(
        f,
        "OPTIONS",
        "/v1/client/snapshots/production",
        None,
        None,
        &[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "GET"),
            (
                "access-control-request-headers",
                "authorization,if-none-match",
            ),
        ],
    )
    .await;
    assert!(pre.status.is_success(), "{}", pre.status);
    let allowed = pre.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("if-none-match"));

    // Client-side keys read nothing else; other tokens never go in a URL.
    let r = call(
        f,
        "GET",
        "/v1/snapshots/production",
        Some(&client_key),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(f, "GET", "/v1/projects", Some(&client_key), None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        f,
        "GET",
        &format!("/v1/client/snapshots/production?key={sdk}"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        f,
        "GET",
        "/v1/client/snapshots/staging",
        Some(&client_key),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The server SDK key may read the client snapshot (server-side rendering bootstraps).
    call(
        f,
        "GET",
        "/v1/client/snapshots/production",
        Some(&sdk),
        None,
        &[],
    )
    .await
    .expect(StatusCode::OK);

    // Events from a page: ?key= and a text/plain body (navigator.sendBeacon).
    let batch = json!({"batch_id": "browser-batch-0001", "sdk": {"name": "test", "version": "1"},
        "events": [{"kind": "track", "key": "purchase", "targeting_key": "u-9", "time": now}]});
    let req = Request::builder()
        .method("POST")
        .uri(format!("/v1/events?key={client_key}"))
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .header("origin", "https://shop.example")
        .body(Body::from(batch.to_string()))
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");

    // A client-visible flag may not depend on a server-only one: the publish is refused and
    // nothing changes.
    let before = latest_version(f, "webshop", "production").await;
    let mut flag = boolean_flag("needs-kill-switch");
    flag["client_visible"] = json!(true);
    flag["environments"] = json!({"production": {"enabled": true, "off_variant": "off",
        "prerequisites": [{"flag": "payments-kill-switch", "variants": ["off"]}],
        "default": {"variant": "on"}}});
    let r = send(f, "POST", "/v1/projects/webshop/flags", &flag, None).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("server-only"),
        "{}",
        r.json()
    );
    assert_eq!(latest_version(f, "webshop", "production").await, before);
}
both!(client_snapshots_hide_server_only_flags_and_raw_values, true);
