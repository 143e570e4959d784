//! Forwards every stored batch to NATS JetStream (`spec/EVENTS.md` §4), so events flow to
//! whatever analytics stack a team runs.
//!
//! The local log stays the source of truth: the forwarder follows it from a persisted
//! position, publishes each batch to `<prefix>.<project>.<environment>` with the JetStream
//! message id `<project>:<environment>:<batch_id>`, waits for the stream's acknowledgement, then advances. After a
//! crash it resumes from the last saved position; batches published again are dropped by the
//! stream's duplicate window (the position is saved at least every second, far inside it).

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};

use super::follow::{FollowError, follow};
use super::log::EventLog;

/// Where and how to forward.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Stream name (created if missing), default `BURGEE_EVENTS`.
    pub stream: String,
    /// Subject prefix, default `burgee.events`; the subject is
    /// `<prefix>.<project>.<environment>`.
    pub subject_prefix: String,
    /// File holding the forwarding position (JSON), e.g. `DATA_DIR/events/nats.position`.
    pub position_file: PathBuf,
}

fn nats_err(e: impl std::fmt::Display) -> FollowError {
    FollowError::Sink(format!("NATS: {e}"))
}

/// Connects and makes sure the stream exists (subjects `<prefix>.>`, a 2-hour duplicate
/// window).
///
/// # Errors
/// [`FollowError::Sink`] when the server cannot be reached or refuses the stream.
pub async fn connect(config: &NatsConfig) -> Result<jetstream::Context, FollowError> {
    let client = async_nats::connect(&config.url).await.map_err(nats_err)?;
    let js = jetstream::new(client);
    js.get_or_create_stream(stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        duplicate_window: Duration::from_secs(2 * 3600),
        ..Default::default()
    })
    .await
    .map_err(nats_err)?;
    Ok(js)
}

/// Follows the log and forwards batches until `shutdown` resolves; returns the number of
/// batches published. Each batch is acknowledged by the stream before the position advances.
///
/// # Errors
/// [`FollowError`] when NATS, the log or the position file fails; the caller logs it and
/// restarts the forwarder after a pause (nothing is lost: the position was not advanced).
pub async fn forward(
    log: EventLog,
    js: jetstream::Context,
    config: NatsConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u64, FollowError> {
    follow(&log, &config.position_file, shutdown, |batches| {
        let (js, prefix) = (js.clone(), config.subject_prefix.clone());
        async move {
            for batch in batches {
                let payload = serde_json::to_vec(&batch).map_err(|e| e.to_string())?;
                let publish = PublishMessage::build()
                    .message_id(format!(
                        "{}:{}:{}",
                        batch.project, batch.environment, batch.batch_id
                    ))
                    .payload(payload.into());
                let subject = format!("{prefix}.{}.{}", batch.project, batch.environment);
                let ack = js
                    .send_publish(subject, publish)
                    .await
                    .map_err(|e| format!("NATS: {e}"))?;
                ack.await.map_err(|e| format!("NATS: {e}"))?;
            }
            Ok(())
        }
    })
    .await
}
