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
