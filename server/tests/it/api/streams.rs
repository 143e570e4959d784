//! SSE streams, reopening the state, re-signing, client snapshots.

use super::*;

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
    // project.create, 3 × environment.create, the demo's segments, flags, services and
    // configuration entries (seeded through the API's service steps, so each is audited), the
    // first console user, bootstrap.
    let demo = Demo::load(Calendar::seeded_at(0)).unwrap();
    let configs: usize = demo
        .configs
        .values()
        .map(|s| 1 + s.entries.values().map(|e| e.len()).sum::<usize>())
        .sum();
    let seeded = demo.flags.len() + demo.segments.values().map(Vec::len).sum::<usize>() + configs;
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
