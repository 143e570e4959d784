//! Chaos (issue "Hardening", item 13), on loopback and bounded in time: the server is killed
//! with SIGKILL while 1,000 SSE streams and five real SDK clients (`burgee-client`) are
//! connected. Every stream ends (none hangs), the SDKs keep serving their last verified
//! snapshot while the server is gone, and after a restart at the same address they resync
//! and serve a change published then.

use std::time::{Duration, Instant};

use burgee_client::{Client, ClientOptions};
use burgee_core::Context;
use burgee_test_support::Serve;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BIN: &str = env!("CARGO_BIN_EXE_burgee");
const STREAMS: usize = 1_000;
const CLIENTS: usize = 5;

fn send(base: &str, token: &str, method: &str, path: &str, body: serde_json::Value) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = match method {
        "POST" => agent.post(format!("{base}{path}")),
        _ => agent.put(format!("{base}{path}")).header("If-Match", "*"),
    };
    request
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap()
        .status()
        .as_u16()
}

fn targeting(on: bool) -> serde_json::Value {
    json!({"enabled": true, "off_variant": "off", "default": {"variant": if on { "on" } else { "off" }}})
}

/// Opens an SSE stream and reads it until the server ends it; returns whether it ended.
async fn stream_until_end(
    addr: String,
    key: String,
    opened: tokio::sync::mpsc::Sender<()>,
) -> bool {
    let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await else {
        return false;
    };
    let request = format!(
        "GET /v1/stream/production HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
    );
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut announced = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), tcp.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true, // closed or reset by the dying server
            Ok(Ok(n)) => {
                if !announced && buf[..n].windows(6).any(|w| w == b"event:") {
                    announced = true;
                    let _ = opened.send(()).await;
                }
            }
            Err(_) => return false, // hung
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_ride_out_a_kill_9_with_a_thousand_streams_open() {
    let dir = tempfile::tempdir().unwrap();
    // One address plays a whole fleet here: no rate limit.
    let server = Serve::new(BIN, dir.path())
        .args(["--rate-per-second", "0", "--sse-keep-alive-ms", "1000"])
        .start();
    let base = server.url().to_owned();
    let addr = server.addr().to_owned();
    let admin = server.admin_token().to_owned();
    let sdk = server.sdk_key("production").to_owned();
    let public = server.ready().public_keys["production"].clone();
    let flag = json!({"key": "chaos", "type": "boolean", "variants": {"on": true, "off": false},
        "environments": {"production": targeting(true)}});
    assert_eq!(
        send(&base, &admin, "POST", "/v1/projects/default/flags", flag),
        201
    );

    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::channel(STREAMS);
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            tokio::spawn(stream_until_end(
                addr.clone(),
                sdk.clone(),
                opened_tx.clone(),
            ))
        })
        .collect();
    for _ in 0..STREAMS {
        tokio::time::timeout(Duration::from_secs(60), opened_rx.recv())
            .await
            .expect("every stream receives the snapshot")
            .unwrap();
    }

    let ctx = Context::from_json_str(r#"{"targetingKey": "user-1"}"#).unwrap();
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let mut options = ClientOptions::new("production", vec![public.clone()]);
            options.server_url = Some(base.clone());
            options.sdk_key = Some(sdk.clone());
            options.project = Some("default".into());
            options.send_exposures = false;
            let client = Client::new(options).unwrap();
            client.wait_until_ready(Duration::from_secs(30));
            client
        })
        .collect();
    for c in &clients {
        assert!(c.get_bool("chaos", &ctx, false), "served before the crash");
    }

    server.kill();
    let started = Instant::now();
    let mut ended = 0;
    for s in streams {
        if s.await.unwrap() {
            ended += 1;
        }
    }
    assert_eq!(ended, STREAMS, "streams left hanging after the server died");
    assert!(started.elapsed() < Duration::from_secs(60));
    // The server is gone: SDKs keep serving their last verified snapshot.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for c in &clients {
        assert!(
            c.get_bool("chaos", &ctx, false),
            "the held snapshot keeps serving"
        );
    }

    // Restart where the clients expect it, publish a change: every SDK resyncs.
    let server = Serve::new(BIN, dir.path()).listen(addr.clone()).start();
    assert_eq!(
        send(
            server.url(),
            &admin,
            "PUT",
            "/v1/projects/default/environments/production/flags/chaos",
            targeting(false),
        ),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    for c in &clients {
        while c.get_bool("chaos", &ctx, true) {
            assert!(
                Instant::now() < deadline,
                "an SDK did not resync after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for c in clients {
        c.close();
    }
}

/// A PostgreSQL cluster of this test's own (`scripts/postgres` with `BURGEE_PG_DIR`), so
/// restarting it disturbs no other test.
struct OwnPostgres {
    dir: std::path::PathBuf,
    url: String,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir =
            std::path::PathBuf::from(format!("/var/tmp/burgee-pg-chaos-{}", std::process::id()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres");
        let out = std::process::Command::new("bash")
            .arg(script)
            .env("BURGEE_PG_DIR", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        let url = line
            .trim()
            .strip_prefix("export BURGEE_TEST_DATABASE_URL=")
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned();
        OwnPostgres { dir, url }
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/pg_ctl"))
            .max()
            .unwrap();
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            std::process::Command::new(&bin)
        };
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Stops the cluster at once (no checkpoint: like a crash).
    fn crash(&self) {
        let out = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again on its port.
    fn restart(&self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres");
        let out = std::process::Command::new("bash")
            .arg(script)
            .env("BURGEE_PG_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn status(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .new_agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let result = match (method, body) {
        ("POST", Some(b)) => {
            let mut r = agent
                .post(format!("{base}{path}"))
                .header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.send(b.to_string())
        }
        _ => {
            let mut r = agent.get(format!("{base}{path}"));
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
    };
    result.map_or(0, |r| r.status().as_u16())
}

/// PostgreSQL crashes and comes back during writes and reads: `/ready` reports the outage,
/// writes during it fail with an error (never a false success), the server recovers without a
/// restart, and every write answered 201 is there afterwards, with the audit chain intact.
#[test]
fn the_server_rides_out_a_postgresql_crash() {
    if !crate::common::postgres_available() {
        return; // no PostgreSQL here (CI=true makes that a failure)
    }
    let pg = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::new(BIN, dir.path())
        .args(["--database-url", &pg.url, "--rate-per-second", "0"])
        .start();
    let base = server.url().to_owned();
    let admin = server.admin_token().to_owned();
    let flag =
        |key: &str| json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false}});
    let mut answered = Vec::new();
    let write = |i: usize, answered: &mut Vec<String>| {
        let key = format!("f-{i}");
        let s = status(
            &base,
            Some(&admin),
            "POST",
            "/v1/projects/default/flags",
            Some(flag(&key)),
        );
        if s == 201 {
            answered.push(key);
        }
        s
    };
    for i in 0..5 {
        assert_eq!(write(i, &mut answered), 201);
    }
    assert_eq!(status(&base, None, "GET", "/ready", None), 200);

    pg.crash();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&base, None, "GET", "/ready", None) != 503 {
        assert!(
            Instant::now() < deadline,
            "/ready never reported the outage"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for i in 5..8 {
        let s = write(i, &mut answered);
        assert!(s >= 500 || s == 0, "a write during the outage answered {s}");
    }
    // Reads that need the database fail with an error, never a wrong answer.
    let sdk = server.sdk_key("production").to_owned();
    let s = status(&base, Some(&sdk), "GET", "/v1/snapshots/production", None);
    assert!(
        s == 200 || s >= 500,
        "a snapshot read during the outage answered {s}"
    );

    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    while status(&base, None, "GET", "/ready", None) != 200 {
        assert!(Instant::now() < deadline, "/ready never recovered");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 8;
    while write(i, &mut answered) != 201 {
        assert!(Instant::now() < deadline, "writes never recovered");
        i += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let agent = ureq::Agent::config_builder().build().new_agent();
    let text = agent
        .get(format!("{base}/v1/projects/default/flags"))
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for key in &answered {
        assert!(
            text.contains(&format!("\"key\":\"{key}\"")),
            "answered write {key} lost"
        );
    }
    drop(server);
    let out = std::process::Command::new(BIN)
        .args(["audit", "verify", "--database-url", &pg.url, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
