//! Two real `burgee serve` processes on one PostgreSQL database: a change made through one
//! reaches an SSE client connected to the other (LISTEN/NOTIFY), and both serve the same
//! latest snapshot. Needs `BURGEE_TEST_DATABASE_URL` (fails without it when `CI=true`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use burgee_test_support::{Serve, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn start(data_dir: &Path, db: &str) -> (ServerProcess, String) {
    let server = Serve::new(BIN, data_dir)
        .args(["--sse-keep-alive-ms", "200", "--database-url", db])
        .start();
    let base = server.url().to_owned();
    (server, base)
}

fn admin_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("credentials.env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("export BURGEE_ADMIN_TOKEN="))
        .unwrap()
        .to_owned()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Reads from an SSE socket until `needle` shows up (or the deadline passes).
fn read_until(stream: &mut TcpStream, buf: &mut String, needle: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 65536];
    while !buf.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_replica_reaches_streams_on_the_other() {
    let Some(db) = burgee_test_support::postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_a, base_a) = start(dir.path(), &db);
    // The second replica shares the database and the signing keys, and has a data directory of
    // its own: the event log there is locked by one process.
    let dir_b = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir_b.path().join("keys")).unwrap();
    for key in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        let key = key.unwrap().path();
        std::fs::copy(
            &key,
            dir_b.path().join("keys").join(key.file_name().unwrap()),
        )
        .unwrap();
    }
    let (_b, base_b) = start(dir_b.path(), &db);
    let admin = admin_token(dir.path());

    let addr_b = base_b.strip_prefix("http://").unwrap();
    let mut sse = TcpStream::connect(addr_b).unwrap();
    write!(
        sse,
        "GET /v1/stream/production HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {admin}\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    assert!(
        read_until(&mut sse, &mut buf, "id: 1", Duration::from_secs(10)),
        "{buf}"
    );

    // Create a flag through replica A: every environment publishes version 2.
    let started = Instant::now();
    let resp = agent()
        .post(format!("{base_a}/v1/projects/default/flags"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(r#"{"key":"replicated","type":"boolean","variants":{"on":true,"off":false}}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert!(
        read_until(&mut sse, &mut buf, "id: 2", Duration::from_secs(10)),
        "replica B's stream did not get version 2: {buf}"
    );
    eprintln!("propagated across replicas in {:?}", started.elapsed());
    assert!(buf.contains("event: snapshot"));

    // Both replicas serve the same latest snapshot.
    let etag = |base: &str| {
        let resp = agent()
            .get(format!("{base}/v1/snapshots/production"))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.headers()["etag"].to_str().unwrap().to_owned()
    };
    assert_eq!(etag(&base_a), etag(&base_b));

    // And a write through B conflicts correctly with A's state (shared revisions).
    let resp = agent()
        .put(format!(
            "{base_b}/v1/projects/default/environments/development/flags/replicated"
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .header("If-Match", "\"r1\"")
        .send(r#"{"enabled":true,"off_variant":"off","default":{"variant":"on"}}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = agent()
        .put(format!(
            "{base_a}/v1/projects/default/environments/development/flags/replicated"
        ))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .header("If-Match", "\"r1\"")
        .send(r#"{"enabled":false,"off_variant":"off","default":{"variant":"off"}}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 412);
}
