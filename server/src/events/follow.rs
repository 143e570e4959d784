//! Following the event log from a saved position: the one loop behind every sink that copies
//! stored batches elsewhere (NATS JetStream, the PostgreSQL `events` table).
//!
//! The position (`{segment, offset}` JSON: segment number and byte offset, see
//! [`Position`]) is saved atomically after each delivered chunk, so a crash re-delivers at most
//! the last chunk; sinks make re-delivery harmless (JetStream message ids, `ON CONFLICT DO
//! NOTHING`). Damaged records of the log are skipped (the log counts them) and positions of the
//! records around them never change. A position file named `*.position` in the log directory
//! holds back the log's retention: no segment the follower has not passed is deleted. A
//! position file elsewhere does not, and a follower that falls behind retention resumes at the
//! oldest segment left.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::log::{EventLog, LogError, Position, StoredBatch};

/// Batches handed to a sink at once.
pub const CHUNK: usize = 256;

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The sink refused or failed (the position was not advanced).
    #[error("{0}")]
    Sink(String),
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

fn position_error(path: &Path, e: impl std::fmt::Display) -> FollowError {
    FollowError::Position {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn load_position(path: &Path) -> Result<Position, FollowError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| position_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Position::default()),
        Err(e) => Err(position_error(path, e)),
    }
}

/// Writes the position atomically (temporary file, fsync, rename).
fn save_position(path: &Path, position: Position) -> Result<(), FollowError> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(&position).map_err(|e| position_error(path, e))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| position_error(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| position_error(&tmp, e))?;
    f.sync_all().map_err(|e| position_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| position_error(path, e))
}

/// Delivers every durable batch after the position saved in `position_file` to `deliver`, in
/// chunks of up to [`CHUNK`], saving the position after each chunk, until `shutdown` resolves.
/// Returns the number of batches delivered.
///
/// # Errors
/// [`FollowError`] when the sink, the log or the position file fails; nothing after the last
/// saved position is lost, the caller just starts again.
pub async fn follow<F, Fut>(
    log: &EventLog,
    position_file: &Path,
    shutdown: impl Future<Output = ()>,
    mut deliver: F,
) -> Result<u64, FollowError>
where
    F: FnMut(Vec<StoredBatch>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    tokio::pin!(shutdown);
    let mut position = load_position(position_file)?;
    let mut delivered = 0u64;
    loop {
        let next = log.read_from(position, CHUNK)?;
        let Some(&(after, _)) = next.last() else {
            tokio::select! {
                () = &mut shutdown => return Ok(delivered),
                () = log.appended() => continue,
                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        };
        let n = next.len() as u64;
        deliver(next.into_iter().map(|(_, b)| b).collect())
            .await
            .map_err(FollowError::Sink)?;
        position = after;
        delivered += n;
        save_position(position_file, position)?;
    }
}
