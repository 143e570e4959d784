//! HTTP limits (issue "Hardening", item 8) against real `burgee serve` processes and the
//! in-process router: header-read timeout, connection limit, rate limit per token and per
//! address (429 with Retry-After; probes exempt), concurrency limit (503 with Retry-After),
//! body timeout, SSE stream caps per key and in total, streams closed when their token is
//! revoked or their environment deleted, and bounded metric labels.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use burgee_server::api::app;
use burgee_server::config::{HttpLimits, ServerConfig};
use burgee_server::service::AppState;
use burgee_test_support::{Serve, ServerProcess};
use tower::ServiceExt as _;

use crate::fixture::HOUR_MS;

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn serve(dir: &std::path::Path, args: &[&str]) -> ServerProcess {
    Serve::new(BIN, dir).args(args).start()
}

fn addr(server: &ServerProcess) -> String {
    server.url().strip_prefix("http://").unwrap().to_owned()
}

/// Sends raw request bytes; the whole answer until the server closes or `within` passes.
fn raw(server: &ServerProcess, request: &str, within: Duration) -> String {
    let mut tcp = TcpStream::connect(addr(server)).unwrap();
    tcp.set_read_timeout(Some(within)).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && !request.contains("/stream/") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn get(server: &ServerProcess, path: &str, token: Option<&str>) -> String {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    raw(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        Duration::from_secs(10),
    )
}

/// Whether the server closes a connection within `within` (EOF or reset while reading).
fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    tcp.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => {
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut
        }
    }
}

#[test]
fn a_slow_request_head_is_cut_off_and_connections_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &["--header-read-timeout-secs", "1", "--max-connections", "2"],
    );
    let mut slow = TcpStream::connect(addr(&server)).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "slow head not cut off"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    drop(slow);
    // Two connections are held open; the third is closed at once.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(addr(&server)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(addr(&server)).unwrap();
    assert!(
        closed_within(&mut third, Duration::from_secs(2)),
        "third connection served"
    );
    held.clear();
    std::thread::sleep(Duration::from_millis(300));
    assert!(get(&server, "/health", None).starts_with("HTTP/1.1 200"));
}

#[test]
fn an_oversized_declared_body_is_refused_before_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--max-body-bytes", "1000"]);
    // No credential at all, yet the answer is 413, not 401: nothing was looked up.
    let answer = raw(
        &server,
        "POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 5000\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("PAYLOAD_TOO_LARGE"));
    // The events route has its own, larger limit.
    let answer = raw(
        &server,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 5000\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[test]
fn callers_are_rate_limited_per_token_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--rate-per-second", "1", "--rate-burst", "3"]);
    let admin = server.admin_token().to_owned();
    let statuses: Vec<String> = (0..4)
        .map(|_| get(&server, "/v1/projects", Some(&admin)))
        .collect();
    for answer in &statuses[..3] {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let limited = &statuses[3];
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(
        limited.to_ascii_lowercase().contains("retry-after: 1"),
        "{limited}"
    );
    assert!(limited.contains("OVERLOADED"));
    // Another caller has its own budget; probes are never limited.
    let sdk = server.sdk_key("production").to_owned();
    assert!(get(&server, "/v1/snapshots/production", Some(&sdk)).starts_with("HTTP/1.1 200"));
    for _ in 0..10 {
        assert!(get(&server, "/health", None).starts_with("HTTP/1.1 200"));
    }
    // Unauthenticated requests count against the address.
    let anonymous: Vec<bool> = (0..5)
        .map(|_| get(&server, "/v1/projects", None).starts_with("HTTP/1.1 429"))
        .collect();
    assert!(
        anonymous.contains(&true),
        "no anonymous request was limited"
    );
    let metrics = get(&server, "/metrics", None);
    assert!(
        !metrics.contains("burgee_rate_limited_total 0\n"),
        "{metrics}"
    );
    // Unknown methods are one bounded label.
    let odd = raw(
        &server,
        "FROBNICATE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(odd.starts_with("HTTP/1.1 405"), "{odd}");
    let metrics = get(&server, "/metrics", None);
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
    assert!(!metrics.contains("FROBNICATE"));
}

fn sse_request(token: &str) -> String {
    format!(
        "GET /v1/stream/production HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
}

/// Opens an SSE stream; the socket after the response head, or the refusal's text.
fn open_stream(server: &ServerProcess, token: &str) -> Result<TcpStream, String> {
    let mut tcp = TcpStream::connect(addr(server)).unwrap();
    tcp.write_all(sse_request(token).as_bytes()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 2048];
    let n = tcp.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    if head.starts_with("HTTP/1.1 200") {
        Ok(tcp)
    } else {
        Err(head)
    }
}

/// Reads until EOF (the server ended the stream) or `within` passes; true on EOF.
fn stream_ends_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        tcp.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        match tcp.read(&mut buf) {
            Ok(0) => return true,
            // The last chunk of a chunked body: the stream ended.
            Ok(n) if buf[..n].windows(5).any(|w| w == b"0\r\n\r\n") => return true,
            Ok(_) | Err(_) => {}
        }
    }
    false
}

#[test]
fn streams_are_capped_and_closed_when_their_key_or_environment_goes() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        dir.path(),
        &[
            "--max-streams-per-key",
            "2",
            "--max-streams",
            "3",
            "--rate-per-second",
            "0",
        ],
    );
    let admin = server.admin_token().to_owned();
    let sdk = server.sdk_key("production").to_owned();
    let _a = open_stream(&server, &sdk).unwrap();
    let _b = open_stream(&server, &sdk).unwrap();
    let refused = open_stream(&server, &sdk).unwrap_err();
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 5"),
        "{refused}"
    );
    let mut admin_stream = open_stream(&server, &admin).unwrap();
    let full = open_stream(&server, &admin).unwrap_err();
    assert!(full.starts_with("HTTP/1.1 503"), "{full}");
    drop((_a, _b));

    // Revoking the admin token ends its stream within seconds.
    let list = std::process::Command::new(BIN)
        .args(["token", "list", "--data-dir"])
        .arg(dir.path())
        .env_remove("BURGEE_DATABASE_URL")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    let id = listing
        .lines()
        .find(|l| l.contains("\"bootstrap admin\""))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no bootstrap admin in {listing}"))
        .to_owned();
    let out = std::process::Command::new(BIN)
        .args(["token", "revoke", &id, "--data-dir"])
        .arg(dir.path())
        .env_remove("BURGEE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stream_ends_within(&mut admin_stream, Duration::from_secs(10)),
        "the revoked token's stream is still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_environment_ends_its_streams() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--rate-per-second", "0"]);
    let admin = server.admin_token().to_owned();
    let sdk = server.sdk_key("staging").to_owned();
    let mut tcp = TcpStream::connect(addr(&server)).unwrap();
    tcp.write_all(
        format!(
            "GET /v1/stream/staging HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sdk}\r\n\
             Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = raw(
        &server,
        &format!(
            "DELETE /v1/projects/default/environments/staging HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {admin}\r\nIf-Match: *\r\nConnection: close\r\n\r\n"
        ),
        Duration::from_secs(10),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        stream_ends_within(&mut tcp, Duration::from_secs(10)),
        "stream of a deleted environment still open"
    );
}

fn limited_app(limits: HttpLimits) -> (tempfile::TempDir, axum::Router, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        limits,
        ..ServerConfig::new(dir.path(), HOUR_MS)
    };
    let (state, creds) = futures_executor(AppState::open(&config)).unwrap();
    let token = creds.unwrap().admin_token;
    (dir, app(state), token)
}

fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// A request whose body sends its first bytes and then stalls.
type Chunk = Result<axum::body::Bytes, std::io::Error>;

fn stalled_post(token: &str) -> (Request<Body>, tokio::sync::mpsc::Sender<Chunk>) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let body = Body::from_stream(tokio_stream_from(rx));
    let req = Request::builder()
        .method("POST")
        .uri("/v1/projects")
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body)
        .unwrap();
    (req, tx)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Chunk>,
) -> impl futures_util::Stream<Item = Chunk> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_limited_and_slow_bodies_time_out() {
    let limits = HttpLimits {
        max_concurrent_requests: 1,
        body_timeout: Duration::from_millis(300),
        rate_per_second: 0,
        ..HttpLimits::DEFAULT
    };
    let (_dir, app, token) = limited_app(limits);
    let (slow, tx) = stalled_post(&token);
    tx.send(Ok(axum::body::Bytes::from_static(b"{\"key\":")))
        .await
        .unwrap();
    let holder = tokio::spawn(app.clone().oneshot(slow));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The one permit is held by the stalled request: the next one is shed.
    let shed = app
        .clone()
        .oneshot(
            Request::get("/v1/projects")
                .header("Authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "1");
    // The probes are never shed: an orchestrator must not restart a server for being busy.
    for probe in ["/health", "/live", "/ready", "/metrics"] {
        let answer = app
            .clone()
            .oneshot(Request::get(probe).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{probe}");
    }
    // The stalled body times out (400 naming the timeout), which frees the permit.
    let timed_out = holder.await.unwrap().unwrap();
    assert_eq!(timed_out.status(), StatusCode::BAD_REQUEST);
    let body = axum::body::to_bytes(timed_out.into_body(), 1 << 16)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("BAD_REQUEST"),
        "{body:?}"
    );
    drop(tx);
    let ok = app
        .oneshot(
            Request::get("/v1/projects")
                .header("Authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}
