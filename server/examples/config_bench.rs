//! Configuration centre benchmark (a benchmark, not a test), in one process on loopback:
//!
//! 1. **Propagation**: an in-process `burgee serve` (SQLite in a temporary directory), `--sdks`
//!    `burgee_client::ConfigClient`s connected by SSE, `--changes` writes of one entry through
//!    the API; for each change, the time from the write's answer to each client's change
//!    listener seeing the new value. Prints p50/p99/max over every (change, client).
//! 2. **Load**: verifying and compiling a signed 1,000-entry config document with
//!    `ConfigDocument::load` (median of 200).
//! 3. **Notification delivery**: with a Kafka-protocol broker (librdkafka's mock cluster), a
//!    webhook receiver and, when `NATS_URL` is set, NATS JetStream as sinks, the rate at which
//!    each sink's delivered count caught up with the outbox after the changes.
//!
//! ```sh
//! cargo run --release -p burgee-server --example config_bench -- --sdks 100 --changes 1000
//! NATS_URL=nats://127.0.0.1:4222 cargo run --release -p burgee-server --example config_bench
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // a benchmark driver: failing loudly is right; figures are printed as floats

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burgee_client::{ClientOptions, ConfigClient, ConfigEvent};
use burgee_core::{ConfigDocument, Context, LoadOptions, TrustedKey};
use burgee_server::config::ServerConfig;
use burgee_server::configs::{ConfigInput, Format, ServiceInput, WriteMode};
use burgee_server::notify::KafkaOptions;
use burgee_server::notify::webhooks::WebhookInput;
use burgee_server::serve::{ChangeSinks, NatsOptions, ServeOptions};
use clap::Parser;

/// Options.
#[derive(Parser, Debug)]
struct Args {
    /// Config clients connected.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    sdks: u64,
    /// Changes made.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10000))]
    changes: u64,
}

fn input(value: String) -> ConfigInput {
    ConfigInput {
        format: Format::Json,
        value,
        schema: None,
        description: String::new(),
        secret: false,
        overrides: Vec::new(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temporary directory");
    let kafka = rdkafka::mocking::MockCluster::new(1).expect("mock Kafka cluster");
    for topic in ["config-updates", "feature-flag-events"] {
        kafka.create_topic(topic, 1, 1).expect("topic");
    }
    let hooks = Arc::new(AtomicU64::new(0));
    let h = Arc::clone(&hooks);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            h.fetch_add(1, Ordering::Relaxed);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let mut opts = ServeOptions::new(
        ServerConfig::new(dir.path(), 24 * 3_600_000),
        "127.0.0.1:0".parse().expect("address"),
    );
    opts.server.limits.rate_per_second = 0;
    let nats = std::env::var("NATS_URL").ok();
    opts.changes = ChangeSinks {
        nats: nats.clone().map(|url| NatsOptions {
            url,
            stream: "BURGEE_CHANGES_BENCH".into(),
            subject_prefix: "burgee.bench".into(),
        }),
        kafka: Some(KafkaOptions {
            brokers: kafka.bootstrap_servers(),
            config_topic: "config-updates".into(),
            flags_topic: "feature-flag-events".into(),
        }),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(burgee_server::serve::run(
        opts,
        move |s| {
            let _ = tx.send((s.state.clone(), s.addr, s.credentials.cloned()));
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let (state, addr, creds) = rx.await.expect("server started");
    let creds = creds.expect("first start");
    let scope = ("default", "production", "checkout");
    state
        .put_service(
            "bench",
            "default",
            "checkout",
            &ServiceInput {
                description: String::new(),
            },
        )
        .await
        .expect("service");
    state
        .put_configs(
            "bench",
            scope,
            &[("pool".into(), input("0".into()))],
            WriteMode::Upsert,
            false,
            None,
        )
        .await
        .expect("first value");
    state
        .create_webhook(
            "bench",
            "default",
            &WebhookInput {
                url: hook_url,
                kinds: vec![],
            },
        )
        .await
        .expect("webhook");
    let public = std::fs::read_to_string(dir.path().join("keys/production.pub")).expect("key");
    let sdk_key = creds
        .sdk_keys
        .iter()
        .find(|(env, _)| env == "production")
        .map(|(_, k)| k.clone())
        .expect("SDK key");

    // 1. Propagation.
    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let mut clients = Vec::new();
    for i in 0..args.sdks {
        let mut o = ClientOptions::new("production", vec![public.trim().to_owned()]);
        o.server_url = Some(format!("http://{addr}"));
        o.sdk_key = Some(sdk_key.clone());
        o.project = Some("default".into());
        let c = ConfigClient::new(o, "checkout", Context::new(format!("i-{i}"))).expect("client");
        let s = Arc::clone(&seen);
        c.subscribe(Arc::new(move |e: &ConfigEvent| {
            if let ConfigEvent::Changed { changes, .. } = e
                && let Some(v) = changes.first().and_then(|c| c.new.as_ref())
                && let Some(n) = v.value.as_u64()
            {
                s.lock().expect("lock").push((n, Instant::now()));
            }
        }));
        clients.push(c);
    }
    for c in &clients {
        c.wait_until_ready(Duration::from_secs(30));
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // streams connected
    seen.lock().expect("lock").clear();
    let outbox_before = state.metrics().notifications_delivered.get();
    let mut answered = Vec::new();
    let started = Instant::now();
    for n in 1..=args.changes {
        state
            .put_configs(
                "bench",
                scope,
                &[("pool".into(), input(n.to_string()))],
                WriteMode::Upsert,
                false,
                None,
            )
            .await
            .expect("change");
        answered.push(Instant::now());
        // Let the change reach every client before the next (a change every few ms).
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|(v, _)| *v == n)
            .count()
            < args.sdks as usize
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let elapsed = started.elapsed();
    let mut lat: Vec<f64> = seen
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(n, at)| {
            let i = usize::try_from(*n).ok()?.checked_sub(1)?;
            Some(
                at.saturating_duration_since(*answered.get(i)?)
                    .as_secs_f64()
                    * 1000.0,
            )
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let expected = args.sdks * args.changes;
    println!(
        "propagation: {} changes x {} SDKs ({} of {expected} seen) in {:.1} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.changes,
        args.sdks,
        lat.len(),
        elapsed.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    for c in &clients {
        c.close();
    }

    // 3. Notification delivery: the sinks' delivered count catching up with the outbox.
    let events = args.changes;
    let sinks = 2 + u64::from(nats.is_some());
    let deadline = Instant::now() + Duration::from_secs(120);
    while state.metrics().notifications_delivered.get() - outbox_before < events * sinks
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "notifications: {} events to {sinks} sinks (Kafka mock, webhook{}) delivered {} in {:.1} s from the first change: {:.0} events/s per sink (bounded by the change rate, {:.0} changes/s); webhook received {}",
        events,
        if nats.is_some() { ", NATS" } else { "" },
        state.metrics().notifications_delivered.get() - outbox_before,
        total,
        events as f64 / total,
        events as f64 / elapsed.as_secs_f64(),
        hooks.load(Ordering::Relaxed)
    );

    // 2. Load of a signed 1,000-entry document.
    let bulk: Vec<(String, ConfigInput)> = (0..1000)
        .map(|i| {
            (
                format!("key.{i:04}"),
                input(format!("{{\"n\": {i}, \"name\": \"entry {i}\"}}")),
            )
        })
        .collect();
    state
        .put_configs(
            "bench",
            ("default", "production", "big"),
            &bulk,
            WriteMode::Upsert,
            true,
            None,
        )
        .await
        .expect("1,000 entries");
    let doc = state
        .latest_config(("default", "production", "big"))
        .await
        .expect("read")
        .expect("document");
    let trusted = [TrustedKey::from_base64(&public).expect("key")];
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let now = burgee_server::now_ms();
        let loaded = ConfigDocument::load(
            doc.envelope.as_bytes(),
            &LoadOptions::new(&trusted, "production", now).for_project("default"),
            "big",
        )
        .expect("verifies");
        std::hint::black_box(loaded);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "load: 1,000-entry config document ({} bytes): median {:.2} ms, p99 {:.2} ms",
        doc.envelope.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
    let _ = stop.send(());
    let _ = server.await;
}
