//! Console sign-in (issue "Admin console", item 2): local users with argon2id passwords,
//! session cookies (HttpOnly, SameSite=Strict), CSRF on every state-changing request, API
//! tokens exchanged for sessions, expiry, sign-out and sign-out everywhere, disabled users, and
//! the audit log naming the user. On SQLite and PostgreSQL.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use burgee_server::api::app;
use burgee_server::clock::ManualClock;
use burgee_server::config::ServerConfig;
use burgee_server::model::{Role, UserInput};
use burgee_server::service::{AppState, Credentials, SESSION_TTL_MS};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::fixture::{Db, HOUR_MS};

struct Console {
    _dir: tempfile::TempDir,
    state: AppState,
    app: axum::Router,
    creds: Credentials,
    clock: Arc<ManualClock>,
}

async fn console(db: Db) -> Option<Console> {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(crate::common::postgres_url().await?),
    };
    let config = ServerConfig {
        database_url,
        ..ServerConfig::new(dir.path(), HOUR_MS)
    };
    let clock = ManualClock::at(burgee_server::now_ms());
    let (state, creds) = AppState::open_with_clock(&config, clock.clone())
        .await
        .unwrap();
    Some(Console {
        _dir: dir,
        app: app(state.clone()),
        state,
        creds: creds.unwrap(),
        clock,
    })
}

struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    body: Value,
}

/// A request with optional cookie, CSRF token and bearer token.
async fn send(
    c: &Console,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, format!("burgee_session={cookie}"));
    }
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    if matches!(method, "PUT" | "DELETE") {
        req = req.header(header::IF_MATCH, "*");
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let resp = c.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    crate::common::openapi::check(method, uri, status.as_u16(), &headers, &bytes);
    Answer {
        status,
        set_cookie: headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Signs in; the cookie value and the CSRF token.
async fn sign_in(c: &Console, body: Value) -> (String, String) {
    let a = send(c, "POST", "/v1/session", None, None, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let cookie = a.set_cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let value = cookie
        .strip_prefix("burgee_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (value, a.body["csrf_token"].as_str().unwrap().to_owned())
}

const TARGETING: &str = "/v1/projects/default/environments/development/flags/f";

async fn with_flag(c: &Console) {
    let admin = &c.creds.admin_token;
    let req = Request::builder()
        .method("POST")
        .uri("/v1/projects/default/flags")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"key": "f", "type": "boolean", "variants": {"on": true, "off": false}})
                .to_string(),
        ))
        .unwrap();
    let resp = c.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

fn enable() -> Value {
    json!({"enabled": true, "off_variant": "off", "default": {"variant": "on"}})
}

async fn first_user_signs_in_and_writes_with_csrf(db: Db) {
    let Some(c) = console(db).await else { return };
    with_flag(&c).await;
    assert_eq!(c.creds.admin_email, "admin@localhost");
    let wrong = send(
        &c,
        "POST",
        "/v1/session",
        None,
        None,
        Some(json!({"email": "admin@localhost", "password": "not the password"})),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.set_cookie.is_none());
    let (cookie, csrf) = sign_in(
        &c,
        json!({"email": "Admin@Localhost", "password": c.creds.admin_password}),
    )
    .await;
    let me = send(&c, "GET", "/v1/session", Some(&cookie), None, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "admin@localhost");
    assert_eq!(me.body["role"], "admin");
    let user_id = me.body["id"].as_str().unwrap().to_owned();
    assert!(user_id.starts_with("usr_"));
    // Reads need no CSRF token; writes do.
    let flags = send(
        &c,
        "GET",
        "/v1/projects/default/flags",
        Some(&cookie),
        None,
        None,
    )
    .await;
    assert_eq!(flags.status, StatusCode::OK);
    let no_csrf = send(&c, "PUT", TARGETING, Some(&cookie), None, Some(enable())).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(
        no_csrf.body["message"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    let bad_csrf = send(
        &c,
        "PUT",
        TARGETING,
        Some(&cookie),
        Some("nope"),
        Some(enable()),
    )
    .await;
    assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
    let ok = send(
        &c,
        "PUT",
        TARGETING,
        Some(&cookie),
        Some(&csrf),
        Some(enable()),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The audit log names the user.
    let entries = c
        .state
        .audit_entries(&burgee_server::service::AuditFilter {
            action: Some("targeting.update".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.last().unwrap().actor, user_id);
    // Sign out: the cookie is cleared and the session no longer works.
    let out = send(
        &c,
        "DELETE",
        "/v1/session",
        Some(&cookie),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    let after = send(&c, "GET", "/v1/projects", Some(&cookie), None, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

async fn roles_expiry_disabling_and_sign_out_everywhere(db: Db) {
    let Some(c) = console(db).await else { return };
    with_flag(&c).await;
    let created = c
        .state
        .create_user(
            "test",
            &UserInput {
                email: "viewer@example.com".into(),
                name: None,
                role: Role::Viewer,
                project: Some("default".into()),
                password: None,
            },
        )
        .await
        .unwrap();
    let password = created.password.clone().unwrap();
    let login = json!({"email": "viewer@example.com", "password": password});
    let (first, csrf) = sign_in(&c, login.clone()).await;
    let (second, _) = sign_in(&c, login.clone()).await;
    // A viewer reads but cannot write, CSRF token or not.
    let denied = send(
        &c,
        "PUT",
        TARGETING,
        Some(&first),
        Some(&csrf),
        Some(enable()),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.body["message"].as_str().unwrap().contains("role"));
    // Sign out everywhere ends both sessions.
    let out = send(
        &c,
        "DELETE",
        "/v1/sessions",
        Some(&first),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for cookie in [&first, &second] {
        let r = send(&c, "GET", "/v1/session", Some(cookie), None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Sessions expire.
    let (third, _) = sign_in(&c, login.clone()).await;
    c.clock.advance(SESSION_TTL_MS + 1);
    let r = send(&c, "GET", "/v1/session", Some(&third), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A disabled user cannot sign in, and its live sessions end.
    let (fourth, _) = sign_in(&c, login.clone()).await;
    c.state
        .disable_user("test", "viewer@example.com")
        .await
        .unwrap();
    let r = send(&c, "GET", "/v1/session", Some(&fourth), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&c, "POST", "/v1/session", None, None, Some(login)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn tokens_exchange_for_sessions_that_end_with_the_token(db: Db) {
    let Some(c) = console(db).await else { return };
    let created = c
        .state
        .create_token(
            "test",
            &burgee_server::model::TokenInput {
                kind: "admin".into(),
                name: "console".into(),
                role: Some(Role::Editor),
                project: Some("default".into()),
                environment: None,
                service: None,
            },
        )
        .await
        .unwrap();
    let (cookie, _) = sign_in(&c, json!({"token": created.token})).await;
    let me = send(&c, "GET", "/v1/session", Some(&cookie), None, None).await;
    assert_eq!(me.body["id"], created.info.id);
    assert_eq!(me.body["role"], "editor");
    assert_eq!(me.body["email"], Value::Null);
    // SDK keys and unknown tokens are not exchanged.
    let sdk = c.creds.sdk_key("development").unwrap().to_owned();
    for token in [sdk.as_str(), "bga_unknown"] {
        let r = send(
            &c,
            "POST",
            "/v1/session",
            None,
            None,
            Some(json!({"token": token})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
    }
    let mixed = json!({"token": created.token, "email": "a@b.c"});
    let r = send(&c, "POST", "/v1/session", None, None, Some(mixed)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    c.state
        .revoke_token("test", &created.info.id)
        .await
        .unwrap();
    tokio::time::sleep(burgee_server::auth::TOKEN_CACHE_TTL).await;
    let r = send(&c, "GET", "/v1/session", Some(&cookie), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn users_api_creates_lists_and_disables(db: Db) {
    let Some(c) = console(db).await else { return };
    let (cookie, csrf) = sign_in(
        &c,
        json!({"email": "admin@localhost", "password": c.creds.admin_password}),
    )
    .await;
    let short = json!({"email": "pm@example.com", "role": "editor", "password": "short"});
    let r = send(
        &c,
        "POST",
        "/v1/users",
        Some(&cookie),
        Some(&csrf),
        Some(short),
    )
    .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let bad = json!({"email": "not-an-address", "role": "editor"});
    let r = send(
        &c,
        "POST",
        "/v1/users",
        Some(&cookie),
        Some(&csrf),
        Some(bad),
    )
    .await;
    assert_eq!(r.body["field"], "email");
    let ok = json!({"email": "pm@example.com", "role": "editor", "project": "default"});
    let r = send(
        &c,
        "POST",
        "/v1/users",
        Some(&cookie),
        Some(&csrf),
        Some(ok.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["password"].as_str().unwrap().len(), 24);
    let id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let again = send(
        &c,
        "POST",
        "/v1/users",
        Some(&cookie),
        Some(&csrf),
        Some(ok),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let list = send(&c, "GET", "/v1/users", Some(&cookie), None, None).await;
    let emails: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@localhost", "pm@example.com"]);
    assert!(
        !list.body.to_string().contains("argon2"),
        "no hashes in listings"
    );
    let r = send(
        &c,
        "DELETE",
        &format!("/v1/users/{id}"),
        Some(&cookie),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["disabled_at"].is_u64());
}

macro_rules! on_both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::fixture::Db::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::fixture::Db::Postgres).await;
            }
        }
    )*};
}

on_both!(
    first_user_signs_in_and_writes_with_csrf,
    roles_expiry_disabling_and_sign_out_everywhere,
    tokens_exchange_for_sessions_that_end_with_the_token,
    users_api_creates_lists_and_disables
);
