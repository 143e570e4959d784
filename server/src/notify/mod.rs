//! Change notifications: every publish of a flag snapshot or a config document becomes a
//! [`outbox::ChangeEvent`] in the outbox (same transaction), delivered at least once, in order,
//! with its de-duplication id, to each configured sink: NATS JetStream, Kafka and the
//! project's HTTP webhooks.
//!
//! ```text
//!  publish tx ─► outbox row ─► commit ─► wake ─► sink loop: read after cursor ─► send ─► advance
//!                                                (failure: retry with backoff, cursor kept)
//! ```

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod outbox;
pub mod sinks;
pub mod webhooks;

use std::time::Duration;

use crate::service::AppState;

/// Where change notifications go in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOptions {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Topic of config document changes (default `config-updates`).
    pub config_topic: String,
    /// Topic of flag snapshot changes (default `feature-flag-events`).
    pub flags_topic: String,
}

/// How many outbox events one delivery carries at most.
pub(crate) const BATCH: u32 = 100;

/// Retry delays of a failing sink: 1 s doubling to at most 60 s.
pub(crate) fn retry_delay(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// Waits until something is published (`wake`), `poll` passes (publishes by other replicas),
/// or `stop` turns true; returns whether to stop.
pub(crate) async fn wait(
    wake: &mut tokio::sync::watch::Receiver<u64>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    poll: Duration,
) -> bool {
    tokio::select! {
        _ = wake.changed() => false,
        () = tokio::time::sleep(poll) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

/// What the sink tasks share.
#[derive(Clone)]
pub(crate) struct SinkContext {
    pub(crate) state: AppState,
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
}

impl SinkContext {
    /// A receiver woken after every commit that published.
    pub(crate) fn wake(&self) -> tokio::sync::watch::Receiver<u64> {
        self.state.inner.outbox_wake.subscribe()
    }
}
