//! Load driver for `scripts/load` (a benchmark, not a test): against a running `burgee serve`
//! on loopback it measures
//!
//! 1. `GET /v1/snapshots/{env}` answered `304` (keep-alive connections, `If-None-Match`),
//! 2. full `GET`s of a 1000-flag snapshot,
//! 3. propagation: N concurrent SSE clients on `/v1/stream/{env}`, one publish, the time until
//!    every client has read the new version (p50/p99/max),
//!
//! and prints one line per figure. Usage:
//! `load BASE_URL ADMIN_TOKEN [--seconds S] [--connections C] [--sse-clients N]`.
//! It creates project `loadtest` (one environment `bench`, 1000 flags with a rule and a
//! rollout each) and project `small` (one flag) first, and reads with SDK keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a benchmark driver: failing loudly is right

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

struct Args {
    base: String,
    addr: String,
    token: String,
    /// SDK key of loadtest/bench (created by setup), used for GETs and streams.
    sdk: String,
    seconds: u64,
    connections: usize,
    sse_clients: usize,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let base = it.next().expect("BASE_URL");
    let token = it.next().expect("ADMIN_TOKEN");
    let mut a = Args {
        addr: base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned(),
        base,
        token,
        sdk: String::new(),
        seconds: 10,
        connections: 32,
        sse_clients: 10_000,
    };
    while let Some(flag) = it.next() {
        let v = it.next().expect("a value");
        match flag.as_str() {
            "--seconds" => a.seconds = v.parse().unwrap(),
            "--connections" => a.connections = v.parse().unwrap(),
            "--sse-clients" => a.sse_clients = v.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// An SDK key for `project/env`.
fn sdk_key(a: &Args, project: &str, env: &str) -> String {
    let r = agent()
        .post(format!("{}/v1/tokens", a.base))
        .header("Authorization", &format!("Bearer {}", a.token))
        .header("Content-Type", "application/json")
        .send(format!(
            r#"{{"kind":"sdk","project":"{project}","environment":"{env}"}}"#
        ))
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

/// Project `small` (environment `bench`, one flag): propagation without the bandwidth.
fn setup_small(a: &Args) {
    let auth = format!("Bearer {}", a.token);
    let r = agent()
        .post(format!("{}/v1/projects", a.base))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(r#"{"key":"small","environments":[{"key":"bench"}]}"#)
        .unwrap();
    assert!(matches!(r.status().as_u16(), 201 | 409));
    let r = agent()
        .post(format!("{}/v1/projects/small/flags", a.base))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(r#"{"key":"flag-0000","type":"boolean","variants":{"on":true,"off":false}}"#)
        .unwrap();
    assert!(matches!(r.status().as_u16(), 201 | 409));
}

/// Project `loadtest` with environment `bench` and 1000 flags (idempotent).
fn setup(a: &Args) {
    let auth = format!("Bearer {}", a.token);
    let status = agent()
        .get(format!("{}/v1/projects/loadtest", a.base))
        .header("Authorization", &auth)
        .call()
        .unwrap()
        .status()
        .as_u16();
    if status == 200 {
        return;
    }
    let r = agent()
        .post(format!("{}/v1/projects", a.base))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(r#"{"key":"loadtest","environments":[{"key":"bench"}]}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let started = Instant::now();
    for i in 0..1000 {
        let body = format!(
            r#"{{"key":"flag-{i:04}","type":"boolean","variants":{{"on":true,"off":false}},"owner":"team-{}","tags":["load"],"environments":{{"bench":{{"enabled":true,"off_variant":"off","rules":[{{"id":"r1","when":{{"attribute":"country","op":"in","values":["DE","FR"]}},"serve":{{"variant":"on"}}}}],"default":{{"rollout":{{"weights":[{{"variant":"on","weight":5000}},{{"variant":"off","weight":5000}}]}}}}}}}}}}"#,
            i % 7
        );
        let r = agent()
            .post(format!("{}/v1/projects/loadtest/flags", a.base))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    println!(
        "setup: 1000 flags created (1000 publishes) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Reads one HTTP/1.1 response (headers + Content-Length body); returns (status, body len).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, usize) {
    let mut chunk = [0u8; 65536];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])
                .unwrap()
                .to_ascii_lowercase();
            let status: u16 = head[9..12].parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed");
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..end + 4 + len);
            return (status, len);
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Closed-loop GETs on `connections` keep-alive connections for `seconds`.
async fn get_phase(a: &Args, label: &str, if_none_match: Option<String>, expect: u16) {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let request = format!(
        "GET /v1/snapshots/bench HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{}\r\n",
        a.addr,
        a.sdk,
        if_none_match
            .map(|t| format!("If-None-Match: {t}\r\n"))
            .unwrap_or_default()
    );
    let request = Arc::new(request.into_bytes());
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..a.connections {
        let addr = a.addr.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            let mut lat = Vec::new();
            let mut bytes = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                s.write_all(&request).await.unwrap();
                let (status, len) = read_response(&mut s, &mut buf).await;
                assert_eq!(status, expect);
                lat.push(t.elapsed());
                bytes += len;
            }
            (lat, bytes)
        }));
    }
    let mut all = Vec::new();
    let mut bytes = 0;
    for t in tasks {
        let (lat, b) = t.await.unwrap();
        all.extend(lat);
        bytes += b;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{label}: {} requests in {secs:.1} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1} MB/s body ({} connections)",
        all.len(),
        all.len() as f64 / secs,
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap()),
        bytes as f64 / secs / 1e6,
        a.connections
    );
}

/// N SSE clients, one publish, time until each has the new version.
async fn propagation(a: &Args, project: &str) {
    let sdk = sdk_key(a, project, "bench");
    let current = {
        let r = agent()
            .get(format!(
                "{}/v1/projects/{project}/environments/bench",
                a.base
            ))
            .header("Authorization", &format!("Bearer {}", a.token))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        v["latest_version"].as_u64().unwrap()
    };
    let next = format!("id: {}\n", current + 1);
    let request = Arc::new(format!(
        "GET /v1/stream/bench HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {sdk}\r\nLast-Event-ID: {current}\r\n\r\n",
        a.addr
    ));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(a.sse_clients);
    let mut tasks = Vec::new();
    let connect_started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for _ in 0..a.sse_clients {
        let addr = a.addr.clone();
        let request = request.clone();
        let next = next.clone();
        let ready = ready_tx.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 16384];
            // Wait for the response head: the stream is registered.
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                buf.extend_from_slice(&chunk[..n]);
            }
            drop(permit);
            ready.send(()).await.unwrap();
            // The new event is complete when its id line and then a blank line have arrived.
            buf.clear();
            let mut seen_id = false;
            loop {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "stream closed");
                buf.extend_from_slice(&chunk[..n]);
                if !seen_id {
                    if let Some(at) = find(&buf, next.as_bytes()) {
                        seen_id = true;
                        buf.drain(..at + next.len());
                    } else {
                        let keep = buf.len().saturating_sub(next.len());
                        buf.drain(..keep);
                        continue;
                    }
                }
                if find(&buf, b"\n\n").is_some() {
                    return Instant::now();
                }
                let keep = buf.len().saturating_sub(1);
                buf.drain(..keep);
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..a.sse_clients {
        ready_rx.recv().await.unwrap();
    }
    println!(
        "sse: {} clients connected in {:.1} s",
        a.sse_clients,
        connect_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = a.base.clone();
    let token = a.token.clone();
    let project_owned = project.to_owned();
    let t0 = Instant::now();
    let put = tokio::task::spawn_blocking(move || {
        let r = agent()
            .put(format!(
                "{base}/v1/projects/{project_owned}/environments/bench/flags/flag-0000"
            ))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .header("If-Match", "*")
            .send(r#"{"enabled":true,"off_variant":"off","default":{"variant":"on"}}"#)
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        t0.elapsed()
    });
    let mut lat = Vec::new();
    for t in tasks {
        lat.push(t.await.unwrap().saturating_duration_since(t0));
    }
    lat.sort();
    let put = put.await.unwrap();
    let size = {
        let r = agent()
            .get(format!("{}/v1/snapshots/bench", a.base))
            .header("Authorization", &format!("Bearer {sdk}"))
            .call()
            .unwrap()
            .into_body()
            .read_to_vec()
            .unwrap();
        r.len()
    };
    println!(
        "propagation ({project}, {size}-byte envelope): {} SSE clients, one publish, from the PUT (which answered in {:.1} ms) until each client has the whole event: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        ms(put),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );
}

fn main() {
    let mut a = args();
    setup(&a);
    setup_small(&a);
    a.sdk = sdk_key(&a, "loadtest", "bench");
    let etag = agent()
        .get(format!("{}/v1/snapshots/bench", a.base))
        .header("Authorization", &format!("Bearer {}", a.sdk))
        .call()
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        get_phase(&a, "304", Some(etag), 304).await;
        get_phase(&a, "full 1000-flag GET", None, 200).await;
        propagation(&a, "small").await;
        propagation(&a, "loadtest").await;
    });
}
