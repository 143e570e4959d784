//! Bounded load generator for `POST /v1/events` on loopback (a benchmark, not a test).
//!
//! Each connection thread posts SDK-shaped batches (exposures and `track` events, unique
//! batch ids) for `--seconds`, honouring `429 Retry-After`, then prints the sustained rate of
//! accepted (durable) events and the latency percentiles of 202 answers.
//!
//! ```sh
//! cargo run --release -p burgee-server --example events_load -- \
//!   --url http://127.0.0.1:8080 --sdk-key "$BURGEE_SDK_KEY" --seconds 20 --connections 8 --batch 500
//! ```
//! Only loopback and the project's own test hosts may be targeted; the run stops by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::json;

/// Options.
#[derive(Parser, Debug)]
struct Args {
    /// Server base URL (loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// SDK key of the environment to load.
    #[arg(long, env = "BURGEE_SDK_KEY", hide_env_values = true)]
    sdk_key: String,
    /// Duration of the run, seconds (at most 300).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=300))]
    seconds: u64,
    /// Concurrent connections (threads).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A batch body: half exposures, half purchases, for 100 users per batch.
fn body(run: u64, thread: usize, n: u64, size: usize) -> Vec<u8> {
    let t = now_ms();
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let events: Vec<_> = (0..size)
        .map(|i| {
            let user = format!("user-{}", (n as usize * 31 + i) % 100_000);
            if i % 2 == 0 {
                json!({"kind": "exposure", "flag": "checkout-redesign", "variant": if i % 4 == 0 { "on" } else { "off" },
                       "reason": "SPLIT", "rule_id": null, "targeting_key": user, "snapshot_version": 1,
                       "snapshot_digest": digest, "time": t})
            } else {
                json!({"kind": "track", "key": "purchase", "value": 20.0 + (i % 50) as f64, "targeting_key": user, "time": t})
            }
        })
        .collect();
    serde_json::to_vec(&json!({"batch_id": format!("load-{run}-{thread}-{n}"), "sdk": {"name": "events-load", "version": "1"}, "events": events}))
        .unwrap_or_default()
}

fn main() {
    let args = Args::parse();
    let run = now_ms();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let accepted = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let url = format!("{}/v1/events", args.url.trim_end_matches('/'));
    let started = Instant::now();
    let threads: Vec<_> = (0..args.connections)
        .map(|thread| {
            let (url, key) = (url.clone(), format!("Bearer {}", args.sdk_key));
            let (accepted, throttled, failed) = (
                Arc::clone(&accepted),
                Arc::clone(&throttled),
                Arc::clone(&failed),
            );
            let size = args.batch;
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let b = body(run, thread, n, size);
                    n += 1;
                    let sent = Instant::now();
                    match agent
                        .post(&url)
                        .header("Authorization", &key)
                        .header("Content-Type", "application/json")
                        .send(&b[..])
                    {
                        Ok(mut resp) if resp.status() == 202 => {
                            latencies.push(sent.elapsed());
                            let v: serde_json::Value = resp
                                .body_mut()
                                .read_to_vec()
                                .ok()
                                .and_then(|b| serde_json::from_slice(&b).ok())
                                .unwrap_or_default();
                            accepted.fetch_add(
                                v.get("accepted")
                                    .and_then(serde_json::Value::as_u64)
                                    .unwrap_or(0),
                                Ordering::Relaxed,
                            );
                        }
                        Ok(resp) if resp.status() == 429 => {
                            throttled.fetch_add(1, Ordering::Relaxed);
                            let wait = resp
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(1);
                            std::thread::sleep(Duration::from_millis(100 * wait));
                        }
                        Ok(resp) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("unexpected status {}", resp.status());
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("request failed: {e}");
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap_or_default())
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(i)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let total = accepted.load(Ordering::Relaxed);
    println!(
        "{} batches of {} in {elapsed:.1} s over {} connections: {:.0} accepted events/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} answered 429, {} failed",
        latencies.len(),
        args.batch,
        args.connections,
        total as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        throttled.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
}
