//! Several `burgee serve` processes on one PostgreSQL database: every publish sends
//! `NOTIFY burgee_snapshots, '<project>/<env>'` inside its transaction (delivered at commit,
//! see [`crate::store::Writer::commit`]); [`listen`] runs in every process, and on each
//! notification reloads that environment's latest snapshot and pushes it to the process's
//! SSE clients ([`AppState::refresh_latest`]). With SQLite there is one process and no
//! listener.

use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::error::StateError;
use crate::state::AppState;
use crate::store::{Backend, NOTIFY_CHANNEL};

/// Starts the listener task when the store is PostgreSQL (`None` for SQLite). The task
/// reconnects after errors (1 s pause) and, after each (re)connect, refreshes every
/// environment so nothing published while disconnected is missed.
///
/// # Errors
/// [`StateError::Db`] if the first connection fails.
pub async fn listen(state: &AppState) -> Result<Option<tokio::task::JoinHandle<()>>, StateError> {
    if state.store().backend != Backend::Postgres {
        return Ok(None);
    }
    let mut listener = PgListener::connect(&state.store().url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    let state = state.clone();
    Ok(Some(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some((project, env)) = n.payload().split_once('/')
                        && let Err(e) = state.refresh_latest(project, env).await
                    {
                        tracing::warn!(error = %e, "refreshing after a notification failed");
                    }
                }
                Ok(None) => {
                    // The connection was lost and is re-established by the next call.
                    tracing::warn!("replica notification connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    refresh_all(&state).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "replica notification listener failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })))
}

async fn refresh_all(state: &AppState) {
    match state.all_latest().await {
        Ok(all) => {
            for s in all {
                if let Err(e) = state.refresh_latest(&s.project, &s.environment).await {
                    tracing::warn!(error = %e, "refresh failed");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing environments failed"),
    }
}
