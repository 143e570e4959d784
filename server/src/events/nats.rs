//! Forwards every stored batch to NATS JetStream (`spec/EVENTS.md` §4), so events flow to
//! whatever analytics stack a team runs.
//!
//! The local log stays the source of truth: the forwarder follows it from a persisted
//! position, publishes each batch to `<prefix>.<project>.<environment>` with the JetStream
//! message id `<project>:<environment>:<batch_id>`, waits for the stream's acknowledgement, then advances. After a
//! crash it resumes from the last saved position; batches published again are dropped by the
//! stream's duplicate window (the position is saved at least every second, far inside it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};

use super::log::{EventLog, LogError, Position};

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

/// Why forwarding stopped.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Connecting, creating the stream or publishing failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The position file could not be read or written.
    #[error("{path}: {message}")]
    Position {
        /// The position file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn nats_err(e: impl std::fmt::Display) -> NatsError {
    NatsError::Nats(e.to_string())
}

fn load_position(path: &Path) -> Result<Position, NatsError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| NatsError::Position {
            path: path.to_owned(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Position::default()),
        Err(e) => Err(NatsError::Position {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Writes the position atomically (temporary file, fsync, rename).
fn save_position(path: &Path, position: Position) -> Result<(), NatsError> {
    let err = |e: std::io::Error| NatsError::Position {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(&position).map_err(|e| NatsError::Position {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Connects and makes sure the stream exists (subjects `<prefix>.>`, a 2-hour duplicate
/// window).
///
/// # Errors
/// [`NatsError::Nats`] when the server cannot be reached or refuses the stream.
pub async fn connect(config: &NatsConfig) -> Result<jetstream::Context, NatsError> {
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
/// batches published.
///
/// # Errors
/// [`NatsError`] when NATS, the log or the position file fails; the caller logs it and
/// restarts the forwarder after a pause (nothing is lost: the position was not advanced).
pub async fn forward(
    log: EventLog,
    js: jetstream::Context,
    config: NatsConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<u64, NatsError> {
    tokio::pin!(shutdown);
    let mut position = load_position(&config.position_file)?;
    let mut published = 0u64;
    loop {
        let next = log.read_from(position, 256)?;
        if next.is_empty() {
            tokio::select! {
                () = &mut shutdown => return Ok(published),
                () = log.appended() => continue,
                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        for (after, batch) in next {
            let payload = serde_json::to_vec(&batch).map_err(nats_err)?;
            let publish = PublishMessage::build()
                .message_id(format!(
                    "{}:{}:{}",
                    batch.project, batch.environment, batch.batch_id
                ))
                .payload(payload.into());
            let ack = js
                .send_publish(
                    format!(
                        "{}.{}.{}",
                        config.subject_prefix, batch.project, batch.environment
                    ),
                    publish,
                )
                .await
                .map_err(nats_err)?;
            ack.await.map_err(nats_err)?;
            position = after;
            published += 1;
        }
        save_position(&config.position_file, position)?;
    }
}
