//! The Kafka sink of change notifications, through librdkafka (the `rdkafka` crate, with
//! librdkafka built from source): an idempotent producer (`enable.idempotence=true`,
//! `acks=all`), one record per event — topic `config-updates` for config documents,
//! `feature-flag-events` for flag snapshots (both configurable); key
//! `<project>/<environment>/<service>` (`flags` in place of the service for snapshots), so
//! each scope's events stay in one partition, in order; header `burgee-event-id` with the
//! de-duplication id; value the [`ChangeEvent`] as JSON.
//!
//! A record not acknowledged within `message.timeout.ms` (30 s) fails the delivery; the sink
//! keeps its cursor and sends again after a backoff (1 s doubling to 60 s), so a broker that
//! is down for a while loses nothing (consumers may see an event twice: de-duplicate by id).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::KafkaOptions;
use super::outbox::ChangeEvent;
use super::sinks::Broker;

/// The Kafka sink.
pub struct KafkaSink {
    producer: FutureProducer,
    options: KafkaOptions,
}

impl KafkaSink {
    /// A producer for `options` (connections are made lazily by librdkafka).
    ///
    /// # Errors
    /// librdkafka's message for an invalid configuration.
    pub fn new(options: &KafkaOptions) -> Result<KafkaSink, String> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &options.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(|e| format!("Kafka producer: {e}"))?;
        Ok(KafkaSink {
            producer,
            options: options.clone(),
        })
    }
}

impl Broker for KafkaSink {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn send(&mut self, events: &[ChangeEvent]) -> Result<(), String> {
        for e in events {
            let payload = serde_json::to_vec(e).map_err(|e| e.to_string())?;
            let (topic, scope) = match e.service.as_deref() {
                Some(service) => (&self.options.config_topic, service),
                None => (&self.options.flags_topic, "flags"),
            };
            let key = format!("{}/{}/{scope}", e.project, e.environment);
            let record = FutureRecord::to(topic).key(&key).payload(&payload).headers(
                OwnedHeaders::new().insert(Header {
                    key: "burgee-event-id",
                    value: Some(e.id.as_bytes()),
                }),
            );
            self.producer
                .send(record, Duration::from_secs(0))
                .await
                .map_err(|(err, _)| format!("Kafka {topic}: {err}"))?;
        }
        Ok(())
    }
}
