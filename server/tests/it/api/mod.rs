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

/// The snapshot document inside an envelope, as text.
fn decode(envelope: &str) -> String {
    use base64::Engine as _;
    let v: Value = serde_json::from_str(envelope).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap())
        .unwrap();
    String::from_utf8(payload).unwrap()
}

mod access;
mod authoring;
mod roles;
mod roles_registry;
mod streams;
