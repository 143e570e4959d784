//! The HTTP API through `tower::ServiceExt::oneshot` against a real SQLite store in a tempdir.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::model::FlagDef;
use burgee_core::{Context, Envelope, LoadOptions, Snapshot};
use burgee_server::api::app;
use burgee_server::keys::read_trusted_key;
use burgee_server::now_ms;
use burgee_server::state::{AppState, Credentials, ServerConfig};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;

struct Fixture {
    dir: TempDir,
    state: AppState,
    creds: Credentials,
}

const HOUR_MS: u64 = 3_600_000;

async fn fixture(demo: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        demo,
        snapshot_ttl_ms: HOUR_MS,
    };
    let (state, creds) = AppState::open(&config).await.unwrap();
    Fixture {
        dir,
        state,
        creds: creds.expect("first start returns credentials"),
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap().to_owned()
    }
    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap().to_owned()
    }
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn latest_version(state: &AppState, env: &str) -> u64 {
    state.latest_snapshot(env).await.unwrap().unwrap().version
}

async fn get_flag(f: &Fixture, env: &str, key: &str) -> FlagDef {
    let uri = format!("/v1/environments/{env}/flags/{key}");
    let r = call(&f.state, "GET", &uri, Some(&f.creds.admin_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    serde_json::from_slice(&r.body).unwrap()
}

async fn put_flag(f: &Fixture, env: &str, flag: &FlagDef) -> Reply {
    let uri = format!("/v1/environments/{env}/flags/{}", flag.key);
    let body = serde_json::to_string(flag).unwrap();
    call(
        &f.state,
        "PUT",
        &uri,
        Some(&f.creds.admin_token),
        Some(body),
        &[],
    )
    .await
}

fn routes() -> Vec<(&'static str, &'static str, Option<String>)> {
    let flag = json!({"key": "f", "type": "boolean", "variants": {"on": true, "off": false},
        "enabled": true, "off_variant": "off", "default": {"variant": "on"}})
    .to_string();
    let segment = json!({"key": "s", "included": ["u1"]}).to_string();
    vec![
        ("GET", "/v1/snapshots/production", None),
        ("GET", "/v1/snapshots/no-such-env", None),
        ("GET", "/v1/environments/production/flags", None),
        ("GET", "/v1/environments/production/flags/dark-mode", None),
        ("PUT", "/v1/environments/production/flags/f", Some(flag)),
        ("GET", "/v1/environments/production/segments", None),
        (
            "GET",
            "/v1/environments/production/segments/beta-testers",
            None,
        ),
        (
            "PUT",
            "/v1/environments/production/segments/s",
            Some(segment),
        ),
    ]
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let f = fixture(false).await;
    let r = call(&f.state, "GET", "/healthz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn every_route_refuses_missing_and_unknown_tokens() {
    let f = fixture(true).await;
    let before = latest_version(&f.state, "production").await;
    for (method, uri, body) in routes() {
        let r = call(&f.state, method, uri, None, body.clone(), &[]).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} without token"
        );
        assert_eq!(r.code(), "UNAUTHORIZED");

        let wrong = format!("bga_{}", "0".repeat(64));
        let r = call(&f.state, method, uri, Some(&wrong), body.clone(), &[]).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} with a wrong token"
        );
        assert_eq!(r.message(), "unknown token");

        let basic = [("authorization", "Basic YWRtaW46YWRtaW4=")];
        let r = call(&f.state, method, uri, None, body, &basic).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} with Basic auth"
        );
    }
    assert_eq!(
        latest_version(&f.state, "production").await,
        before,
        "nothing published"
    );
}

#[tokio::test]
async fn sdk_keys_are_forbidden_on_admin_routes_and_other_environments() {
    let f = fixture(true).await;
    let sdk = f.creds.sdk_key("production").unwrap();
    for (method, uri, body) in routes() {
        if uri.starts_with("/v1/snapshots/") {
            continue;
        }
        let r = call(&f.state, method, uri, Some(sdk), body, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(r.code(), "FORBIDDEN");
    }
    for other in ["development", "staging", "no-such-env"] {
        let r = call(
            &f.state,
            "GET",
            &format!("/v1/snapshots/{other}"),
            Some(sdk),
            None,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{other}");
        assert!(r.message().contains("\"production\""), "{}", r.message());
    }
    let r = call(
        &f.state,
        "GET",
        "/v1/snapshots/production",
        Some(sdk),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The admin token may fetch any environment's snapshot.
    let admin = Some(f.creds.admin_token.as_str());
    let r = call(&f.state, "GET", "/v1/snapshots/staging", admin, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_environments_flags_and_routes_are_404() {
    let f = fixture(true).await;
    let admin = Some(f.creds.admin_token.as_str());
    for uri in [
        "/v1/snapshots/no-such-env",
        "/v1/environments/no-such-env/flags",
        "/v1/environments/production/flags/no-such-flag",
        "/v1/environments/production/segments/no-such-segment",
        "/v1/nothing-here",
    ] {
        let r = call(&f.state, "GET", uri, admin, None, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.code(), "NOT_FOUND");
    }
}

#[tokio::test]
async fn snapshot_is_signed_by_the_environment_key_and_honours_etags() {
    let f = fixture(true).await;
    let sdk = f.creds.sdk_key("production");
    let r = call(&f.state, "GET", "/v1/snapshots/production", sdk, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-cache");
    let etag = r.headers[header::ETAG].to_str().unwrap().to_owned();

    let key = read_trusted_key(&f.dir.path().join("keys/production.pub")).unwrap();
    let keys = [key];
    let snap = Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(
        etag,
        format!("\"{}\"", snap.info().digest.as_deref().unwrap())
    );
    assert_eq!(snap.info().project, "webshop");
    assert_eq!(snap.info().version, 1);
    let ttl = snap.info().expires_at - snap.info().issued_at;
    assert_eq!(ttl, HOUR_MS);
    // Another environment's key does not verify it.
    let staging = [read_trusted_key(&f.dir.path().join("keys/staging.pub")).unwrap()];
    let err =
        Snapshot::load(&r.body, &LoadOptions::new(&staging, "production", now_ms())).unwrap_err();
    assert_eq!(err.code().as_str(), "KEY_UNTRUSTED");

    for matching in [
        etag.clone(),
        format!("W/{etag}"),
        "*".into(),
        format!("\"nope\", {etag}"),
    ] {
        let r = call(
            &f.state,
            "GET",
            "/v1/snapshots/production",
            sdk,
            None,
            &[("if-none-match", &matching)],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{matching}");
        assert!(r.body.is_empty());
        assert_eq!(r.headers[header::ETAG], etag.as_str());
    }
    let r = call(
        &f.state,
        "GET",
        "/v1/snapshots/production",
        sdk,
        None,
        &[("if-none-match", "\"sha256:00\"")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn responses_are_compressed_when_accepted() {
    let f = fixture(true).await;
    let sdk = f.creds.sdk_key("production");
    for encoding in ["gzip", "br"] {
        let r = call(
            &f.state,
            "GET",
            "/v1/snapshots/production",
            sdk,
            None,
            &[("accept-encoding", encoding)],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[header::CONTENT_ENCODING], encoding);
    }
}

#[tokio::test]
async fn put_publishes_strictly_increasing_versions_that_change_evaluation() {
    let f = fixture(true).await;
    assert_eq!(latest_version(&f.state, "production").await, 1);
    let mut flag = get_flag(&f, "production", "payments-kill-switch").await;
    let mut versions = Vec::new();
    for variant in ["on", "off", "on"] {
        flag.default = burgee_core::model::ServeDef::Variant(variant.into());
        let r = put_flag(&f, "production", &flag).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let body = r.json();
        assert!(body["digest"].as_str().unwrap().starts_with("sha256:"));
        versions.push(body["version"].as_u64().unwrap());
    }
    assert_eq!(versions, [2, 3, 4]);
    assert_eq!(
        get_flag(&f, "production", "payments-kill-switch").await,
        flag
    );

    // The served snapshot is the latest one and carries the change.
    let sdk = f.creds.sdk_key("production");
    let r = call(&f.state, "GET", "/v1/snapshots/production", sdk, None, &[]).await;
    let keys = [read_trusted_key(&f.dir.path().join("keys/production.pub")).unwrap()];
    let snap = Snapshot::load(&r.body, &LoadOptions::new(&keys, "production", now_ms())).unwrap();
    assert_eq!(snap.info().version, 4);
    assert!(
        snap.get_bool("payments-kill-switch", &Context::new("u1"), now_ms(), false)
            .value
    );
    // Other environments are untouched.
    assert_eq!(latest_version(&f.state, "staging").await, 1);
}

#[tokio::test]
async fn put_creates_new_flags_and_segments() {
    let f = fixture(false).await;
    let admin = Some(f.creds.admin_token.as_str());
    let flag = json!({"key": "beta-banner", "type": "string",
        "variants": {"hidden": "", "shown": "Try our beta!"}, "enabled": true, "off_variant": "hidden",
        "rules": [{"id": "testers", "when": {"op": "in_segment", "values": ["testers"]},
                   "serve": {"variant": "shown"}}],
        "default": {"variant": "hidden"}});
    let uri = "/v1/environments/development/flags/beta-banner";
    // The segment does not exist yet: refused with the path of the clause.
    let r = call(&f.state, "PUT", uri, admin, Some(flag.to_string()), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.message().contains("unknown segment \"testers\""),
        "{}",
        r.message()
    );

    let segment = json!({"key": "testers", "included": ["user-9"]});
    let r = call(
        &f.state,
        "PUT",
        "/v1/environments/development/segments/testers",
        admin,
        Some(segment.to_string()),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["version"], 2);
    let r = call(&f.state, "PUT", uri, admin, Some(flag.to_string()), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["version"], 3);

    let r = call(
        &f.state,
        "GET",
        "/v1/environments/development/segments",
        admin,
        None,
        &[],
    )
    .await;
    assert_eq!(r.json(), json!([segment]));
    let r = call(
        &f.state,
        "GET",
        "/v1/environments/development/flags",
        admin,
        None,
        &[],
    )
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_store_nothing() {
    let f = fixture(true).await;
    let admin = Some(f.creds.admin_token.as_str());
    let uri = "/v1/environments/production/flags/dark-mode";
    let good = serde_json::to_value(get_flag(&f, "production", "dark-mode").await).unwrap();

    let mut unknown_field = good.clone();
    unknown_field["colour"] = json!("red");
    let mut wrong_key = good.clone();
    wrong_key["key"] = json!("light-mode");
    let cases = [
        ("{\"key\": \"dark-mode\",".to_owned(), "EOF"),
        ("\"dark-mode\"".to_owned(), "invalid type: string"),
        (unknown_field.to_string(), "unknown field `colour`"),
        (wrong_key.to_string(), "differs from the key in the path"),
        (String::new(), "EOF"),
    ];
    for (body, needle) in cases {
        let r = call(&f.state, "PUT", uri, admin, Some(body.clone()), &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.code(), "BAD_REQUEST");
        assert!(
            r.message().contains(needle),
            "{} lacks {needle}",
            r.message()
        );
    }
    assert_eq!(latest_version(&f.state, "production").await, 1);
    assert_eq!(
        serde_json::to_value(get_flag(&f, "production", "dark-mode").await).unwrap(),
        good
    );
}

#[tokio::test]
async fn invalid_snapshots_are_422_with_the_path_and_change_nothing() {
    let f = fixture(true).await;
    let before_version = latest_version(&f.state, "production").await;
    let before_digest = f
        .state
        .latest_snapshot("production")
        .await
        .unwrap()
        .unwrap()
        .digest;
    let dark = get_flag(&f, "production", "dark-mode").await;
    let search = get_flag(&f, "production", "search-v2-backend").await;

    let mut bad_regex = serde_json::to_value(&dark).unwrap();
    bad_regex["rules"][0]["when"] = json!({"attribute": "email", "op": "matches", "value": "(["});
    let mut unknown_segment = serde_json::to_value(&dark).unwrap();
    unknown_segment["rules"][0]["when"] = json!({"op": "in_segment", "values": ["gone"]});
    let mut cycle = serde_json::to_value(&search).unwrap();
    cycle["prerequisites"] = json!([{"flag": "search-autocomplete", "variants": ["on"]}]);
    let mut bad_weights = serde_json::to_value(&dark).unwrap();
    bad_weights["default"] = json!({"rollout": {"weights": [{"variant": "on", "weight": 10}]}});

    let cases = [
        (
            &bad_regex,
            "flags[dark-mode].rules[beta-testers].when",
            "invalid regex",
        ),
        (
            &unknown_segment,
            "flags[dark-mode].rules[beta-testers].when",
            "unknown segment \"gone\"",
        ),
        (&cycle, "prerequisites", "prerequisite cycle"),
        (
            &bad_weights,
            "flags[dark-mode].default.rollout",
            "must be 10000",
        ),
    ];
    for (body, path, needle) in cases {
        let key = body["key"].as_str().unwrap();
        let uri = format!("/v1/environments/production/flags/{key}");
        let admin = Some(f.creds.admin_token.as_str());
        let r = call(&f.state, "PUT", &uri, admin, Some(body.to_string()), &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{needle}");
        assert_eq!(r.code(), "SNAPSHOT_INVALID");
        let message = r.message();
        assert!(message.contains(path), "{message} lacks {path}");
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
    assert!(
        cycle_message_names_chain(&f).await,
        "the cycle message lists the flags in the loop"
    );
    assert_eq!(get_flag(&f, "production", "dark-mode").await, dark);
    assert_eq!(
        get_flag(&f, "production", "search-v2-backend").await,
        search
    );
    assert_eq!(latest_version(&f.state, "production").await, before_version);
    let after = f
        .state
        .latest_snapshot("production")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.digest, before_digest);
}

async fn cycle_message_names_chain(f: &Fixture) -> bool {
    let mut flag =
        serde_json::to_value(get_flag(f, "production", "search-v2-backend").await).unwrap();
    flag["prerequisites"] = json!([{"flag": "search-autocomplete", "variants": ["on"]}]);
    let uri = "/v1/environments/production/flags/search-v2-backend";
    let r = call(
        &f.state,
        "PUT",
        uri,
        Some(&f.creds.admin_token),
        Some(flag.to_string()),
        &[],
    )
    .await;
    let m = r.message();
    ["search-v2-backend", "new-search-ui", "search-autocomplete"]
        .iter()
        .all(|k| m.contains(k))
}

#[tokio::test]
async fn republish_due_resigns_only_ageing_snapshots_with_the_same_content() {
    let f = fixture(true).await;
    let now = now_ms();
    assert!(
        f.state.republish_due(now).await.unwrap().is_empty(),
        "fresh snapshots are kept"
    );

    let old = f
        .state
        .latest_snapshot("production")
        .await
        .unwrap()
        .unwrap();
    let done = f.state.republish_due(now + HOUR_MS * 3 / 4).await.unwrap();
    let envs: Vec<&str> = done.iter().map(|(env, _)| env.as_str()).collect();
    assert_eq!(envs, ["development", "production", "staging"]);
    assert!(done.iter().all(|(_, p)| p.version == 2));

    let new = f
        .state
        .latest_snapshot("production")
        .await
        .unwrap()
        .unwrap();
    assert!(new.expires_at > old.expires_at);
    let payload = |s: &str| -> Value {
        let env: Envelope = serde_json::from_str(s).unwrap();
        let mut v: Value = serde_json::from_slice(&STANDARD.decode(env.payload).unwrap()).unwrap();
        for volatile in ["version", "issued_at", "expires_at"] {
            v.as_object_mut().unwrap().remove(volatile);
        }
        v
    };
    assert_eq!(payload(&old.envelope), payload(&new.envelope));
}

#[tokio::test]
async fn reopening_keeps_data_and_returns_no_credentials() {
    let f = fixture(true).await;
    f.state.close().await;
    let config = ServerConfig {
        data_dir: f.dir.path().to_path_buf(),
        demo: true,
        snapshot_ttl_ms: HOUR_MS,
    };
    let (state, creds) = AppState::open(&config).await.unwrap();
    assert!(creds.is_none());
    assert_eq!(latest_version(&state, "production").await, 1);
    let r = call(
        &state,
        "GET",
        "/v1/snapshots/production",
        Some(&f.creds.admin_token),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    let env_file = std::fs::read_to_string(f.dir.path().join("credentials.env")).unwrap();
    assert!(env_file.contains(&format!(
        "export BURGEE_ADMIN_TOKEN={}\n",
        f.creds.admin_token
    )));
    let prod = f.creds.sdk_key("production").unwrap();
    assert!(env_file.contains(&format!("export BURGEE_SDK_KEY={prod}\n")));
    assert!(env_file.contains(&format!("export BURGEE_SDK_KEY_PRODUCTION={prod}\n")));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(f.dir.path().join("credentials.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Only hashes are in the database.
    let hash = burgee_server::state::token_hash(&f.creds.admin_token);
    let mut stored = Vec::new();
    for file in ["burgee.db", "burgee.db-wal"] {
        stored.extend(std::fs::read(f.dir.path().join(file)).unwrap_or_default());
    }
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(contains(hash.as_bytes()), "the hash is stored");
    assert!(
        !contains(f.creds.admin_token.as_bytes()),
        "the token is not"
    );
    assert!(!contains(prod.as_bytes()), "nor an SDK key");
}
