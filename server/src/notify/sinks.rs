//! The broker sinks: NATS JetStream and Kafka. Each follows the outbox from its own cursor
//! (`outbox_cursors`), sends events in order, and advances only after the broker
//! acknowledged them; a failure keeps the cursor and retries with backoff
//! (1 s doubling to 60 s), so a broker that is down for a while loses nothing.
//!
//! - NATS: stream `BURGEE_CHANGES` (created if missing, subjects `<prefix>.>`, a 2-hour
//!   duplicate window), subject `<prefix>.<project>.<environment>`, JetStream message id = the
//!   event id (`Nats-Msg-Id`), so a re-sent event is dropped by the stream.
//! - Kafka: topic `config-updates` for config documents and `feature-flag-events` for flag
//!   snapshots, record key `<project>/<environment>/<service or flags>` (one partition per
//!   scope keeps its order), header `burgee-event-id`; an idempotent producer (`acks=all`).

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};

use super::outbox::{self, ChangeEvent};
use super::{BATCH, SinkContext, retry_delay, wait};

/// A broker that takes change events.
pub(crate) trait Broker: Send {
    /// The sink's name (its cursor's key, and in logs).
    fn name(&self) -> &'static str;
    /// Sends `events` in order; `Ok` only once the broker acknowledged every one.
    fn send(
        &mut self,
        events: &[ChangeEvent],
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// Delivers the outbox to `broker` until the server stops.
pub(crate) async fn run(cx: SinkContext, mut broker: impl Broker) {
    let (mut wake, mut stop) = (cx.wake(), cx.stop.clone());
    let pool = cx.state.store().pool.clone();
    let name = broker.name();
    let mut failures = 0u32;
    loop {
        let step = async {
            let cursor = outbox::cursor(&pool, name)
                .await
                .map_err(|e| e.to_string())?;
            let batch = outbox::after(&pool, cursor, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = batch.last().map(|(seq, _)| *seq) else {
                return Ok(false);
            };
            let events: Vec<ChangeEvent> = batch.into_iter().map(|(_, e)| e).collect();
            broker.send(&events).await?;
            outbox::advance(&pool, name, last)
                .await
                .map_err(|e| e.to_string())?;
            cx.state.metrics().notifications_delivered.add(events.len());
            Ok::<bool, String>(true)
        };
        match step.await {
            Ok(true) => failures = 0,
            Ok(false) => {
                failures = 0;
                if wait(&mut wake, &mut stop, Duration::from_secs(5)).await {
                    return;
                }
            }
            Err(e) => {
                cx.state.metrics().notification_failures.inc();
                let delay = retry_delay(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(sink = name, error = %e, retry_in_ms = delay.as_millis() as u64,
                    "delivering change notifications failed; retrying (nothing is lost)");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The NATS JetStream change sink.
#[derive(Debug, Clone)]
pub struct NatsSink {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Stream (created if missing), default `BURGEE_CHANGES`.
    pub stream: String,
    /// Subject prefix, default `burgee.changes`.
    pub subject_prefix: String,
    /// The JetStream context once connected.
    js: Option<jetstream::Context>,
}

impl NatsSink {
    /// A sink for `url`, connected on first use.
    pub fn new(url: String, stream: String, subject_prefix: String) -> NatsSink {
        NatsSink {
            url,
            stream,
            subject_prefix,
            js: None,
        }
    }

    async fn connect(&mut self) -> Result<jetstream::Context, String> {
        if let Some(js) = &self.js {
            return Ok(js.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(&self.url)
            .await
            .map_err(|e| format!("NATS: {e}"))?;
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: self.stream.clone(),
            subjects: vec![format!("{}.>", self.subject_prefix)],
            duplicate_window: Duration::from_secs(2 * 3600),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("NATS stream {}: {e}", self.stream))?;
        self.js = Some(js.clone());
        Ok(js)
    }
}

impl Broker for NatsSink {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn send(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        let js = self.connect().await?;
        for e in events {
            let payload = serde_json::to_vec(e).map_err(|e| e.to_string())?;
            let msg = PublishMessage::build()
                .message_id(e.id.clone())
                .payload(payload.into());
            let subject = format!("{}.{}.{}", self.subject_prefix, e.project, e.environment);
            let ack = js
                .send_publish(subject, msg)
                .await
                .map_err(|e| format!("NATS publish: {e}"))?;
            tokio::time::timeout(Duration::from_secs(10), ack)
                .await
                .map_err(|_| "NATS: no acknowledgement within 10 s".to_owned())?
                .map_err(|e| format!("NATS acknowledgement: {e}"))?;
        }
        Ok(())
    }
}
