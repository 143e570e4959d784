//! Change notifications reach every sink, through outages (issue "Configuration centre",
//! item 3): a real `nats-server -js`, a real Kafka-protocol broker on loopback (librdkafka's
//! mock cluster, through the `rdkafka` crate the server produces with) and a real HTTP
//! receiver. Each is taken away for a while (NATS killed and restarted on its port and store,
//! the Kafka broker set down, the webhook answering 503) while changes are published; once
//! back, every sink holds every event of the outbox, identified by its de-duplication id, and
//! the webhook bodies carry a valid HMAC-SHA256 signature.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use burgee_server::config::ServerConfig;
use burgee_server::configs::{ConfigInput, Format, ServiceInput, WriteMode};
use burgee_server::notify::KafkaOptions;
use burgee_server::notify::webhooks::{WebhookInput, signature};
use burgee_server::serve::{ChangeSinks, NatsOptions, ServeOptions};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::mocking::MockCluster;
use serde_json::Value;

use crate::common::nats::{Nats, free_port};

/// What the webhook receiver got: (event id, timestamp, signature, body) of each 2xx answer.
type Received = Arc<Mutex<Vec<(String, String, String, Bytes)>>>;

/// An HTTP receiver on loopback; `down` makes it answer 503.
async fn receiver(down: Arc<Mutex<bool>>) -> (String, Received) {
    let got: Received = Arc::default();
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (g, down) = (Arc::clone(&g), Arc::clone(&down));
            async move {
                if *down.lock().unwrap() {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let h = |n: &str| headers[n].to_str().unwrap().to_owned();
                g.lock().unwrap().push((
                    h("burgee-event-id"),
                    h("burgee-timestamp"),
                    h("burgee-signature"),
                    body,
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The event ids in the NATS change stream.
async fn nats_ids(url: &str) -> Vec<String> {
    let Ok(client) = async_nats::connect(url).await else {
        return Vec::new();
    };
    let js = async_nats::jetstream::new(client);
    let Ok(mut stream) = js.get_stream("BURGEE_CHANGES").await else {
        return Vec::new();
    };
    let n = stream.info().await.map(|i| i.state.messages).unwrap_or(0);
    let mut ids = Vec::new();
    for seq in 1..=n {
        let m = stream.get_raw_message(seq).await.unwrap();
        let e: Value = serde_json::from_slice(&m.payload).unwrap();
        ids.push(e["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Polls `consumer` for up to `wait`, adding each record's (topic, key, id header, body id).
fn kafka_poll(
    consumer: &BaseConsumer,
    seen: &mut Vec<(String, String, String, String)>,
    wait: Duration,
) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        // Poll errors (the broker still joining the group) are retried by the next poll.
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let header = m
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == "burgee-event-id"))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            seen.push((
                m.topic().to_owned(),
                String::from_utf8_lossy(m.key().unwrap()).into_owned(),
                header,
                body["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_reach_nats_kafka_and_webhooks_and_survive_their_outages() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Nats::start(&dir.path().join("nats"), free_port());
    let nats_url = format!("nats://127.0.0.1:{}", nats.port);
    let kafka = MockCluster::new(1).unwrap();
    for topic in ["config-updates", "feature-flag-events"] {
        kafka.create_topic(topic, 1, 1).unwrap();
    }
    let down = Arc::new(Mutex::new(false));
    let (hook_url, received) = receiver(Arc::clone(&down)).await;

    let mut opts = ServeOptions::new(
        ServerConfig::new(&dir.path().join("data"), 3_600_000),
        "127.0.0.1:0".parse().unwrap(),
    );
    opts.changes = ChangeSinks {
        nats: Some(NatsOptions {
            url: nats_url.clone(),
            stream: "BURGEE_CHANGES".into(),
            subject_prefix: "burgee.changes".into(),
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
        move |started| {
            let _ = tx.send(started.state.clone());
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let state = rx.await.unwrap();
    let before_hook: BTreeSet<String> = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_all(&state.store().pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let secret = state
        .create_webhook(
            "test",
            "default",
            &WebhookInput {
                url: hook_url,
                kinds: vec![],
            },
        )
        .await
        .unwrap()
        .secret;
    state
        .put_service(
            "test",
            "default",
            "checkout",
            &ServiceInput {
                description: String::new(),
            },
        )
        .await
        .unwrap();
    let change = |i: usize| {
        let state = state.clone();
        async move {
            let input = ConfigInput {
                format: Format::Json,
                value: i.to_string(),
                schema: None,
                description: String::new(),
                secret: false,
                overrides: Vec::new(),
            };
            state
                .put_configs(
                    "test",
                    ("default", "development", "checkout"),
                    &[("pool".into(), input)],
                    WriteMode::Upsert,
                    false,
                    None,
                )
                .await
                .unwrap();
        }
    };
    change(1).await;
    change(2).await;

    // Outage of every sink while two more changes are published.
    let (store, port) = nats.stop();
    kafka.broker_down(1).unwrap();
    *down.lock().unwrap() = true;
    change(3).await;
    change(4).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        state.metrics().notification_failures.get() > 0,
        "the outage was noticed"
    );
    let _nats = Nats::start(&store, port);
    kafka.broker_up(1).unwrap();
    *down.lock().unwrap() = false;

    let outbox: Vec<(String, String)> =
        sqlx::query_as("SELECT id, project FROM outbox ORDER BY seq")
            .fetch_all(&state.store().pool)
            .await
            .unwrap();
    let all: BTreeSet<String> = outbox.iter().map(|(id, _)| id.clone()).collect();
    // The webhook receives what was published after it was created.
    let hooked: BTreeSet<String> = all.difference(&before_hook).cloned().collect();
    assert!(
        all.iter()
            .any(|id| id.starts_with("config/default/development/checkout/"))
    );

    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("group.id", "test")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer
        .subscribe(&["config-updates", "feature-flag-events"])
        .unwrap();
    let mut kafka_seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        kafka_poll(&consumer, &mut kafka_seen, Duration::from_millis(500));
        let nats_seen = nats_ids(&nats_url).await;
        let hook_ids: BTreeSet<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.0.clone())
            .collect();
        let kafka_ids: BTreeSet<String> = kafka_seen.iter().map(|r| r.3.clone()).collect();
        let nats_set: BTreeSet<String> = nats_seen.iter().cloned().collect();
        if nats_set == all && kafka_ids == all && hook_ids == hooked {
            assert_eq!(
                nats_seen.len(),
                all.len(),
                "JetStream de-duplicates by message id"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered everywhere: nats {nats_set:?}, kafka {kafka_ids:?}, webhook {hook_ids:?}, want {all:?}"
        );
    }
    // Kafka: topic by kind, key by scope, the id header equals the body's id.
    for (topic, key, header, id) in &kafka_seen {
        assert_eq!(header, id);
        if let Some(rest) = id.strip_prefix("config/") {
            // config/<project>/<env>/<service>/<version> → key <project>/<env>/<service>
            let scope = rest.rsplit_once('/').unwrap().0;
            assert_eq!((topic.as_str(), key.as_str()), ("config-updates", scope));
        } else {
            assert_eq!(topic, "feature-flag-events");
            assert!(key.ends_with("/flags"), "{key}");
        }
    }
    // Webhook: signed bodies; the failed attempts are in the delivery log.
    for (_, timestamp, sig, body) in received.lock().unwrap().iter() {
        assert_eq!(*sig, signature(&secret, timestamp.parse().unwrap(), body));
    }
    let hooks = state.webhooks("default").await.unwrap();
    let log = state
        .webhook_deliveries("default", &hooks[0].id, 1000)
        .await
        .unwrap();
    assert!(log.iter().any(|d| d.status == Some(503) && !d.delivered));
    assert_eq!(log.iter().filter(|d| d.delivered).count(), hooked.len());

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
