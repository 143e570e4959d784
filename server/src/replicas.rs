//! Several `burgee serve` processes on one PostgreSQL database: every publish sends
//! `NOTIFY burgee_snapshots, '<project>/<env>'` inside its transaction (delivered at commit,
//! see [`crate::store::Writer::commit`]); [`listen`] runs in every process, and on each
//! notification reloads that environment's latest snapshot and pushes it to the process's
//! SSE clients ([`AppState::refresh_latest`]). Every process also polls the newest versions
//! every [`POLL_INTERVAL`] ([`poll`]): with SQLite that is how publishes made by CLI commands
//! next to a running server (e.g. `burgee keys rotate`) reach it; with PostgreSQL it is a
//! safety net for missed notifications.

use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::error::StateError;
use crate::service::AppState;
use crate::store::{Backend, CATALOG_NOTIFY_PREFIX, NOTIFY_CHANNEL};

/// How often [`poll`] checks for versions published by other processes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the task that calls [`AppState::refresh_changed`] every [`POLL_INTERVAL`].
pub fn poll(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match state.refresh_changed().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(environments = n, "picked up versions published elsewhere"),
                Err(e) => tracing::warn!(error = %e, "checking for new versions failed"),
            }
        }
    })
}

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
                    // `project/env` for a snapshot, `project/env/service` for a config
                    // document, `catalog:project/env` for a catalog.
                    let payload = n.payload();
                    let catalog = payload.strip_prefix(CATALOG_NOTIFY_PREFIX);
                    let parts: Vec<&str> = catalog.unwrap_or(payload).split('/').collect();
                    let refreshed = match parts.as_slice() {
                        [project, env] if catalog.is_some() => {
                            state.broadcast_catalog(project, env).await
                        }
                        [project, env] => state.refresh_latest(project, env).await,
                        [project, env, service] => {
                            state.broadcast_config(project, env, service).await
                        }
                        _ => Ok(()),
                    };
                    if let Err(e) = refreshed {
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

/// Reloads every environment's newest snapshot, one environment at a time
/// ([`AppState::refresh_all`]: one that fails is logged and counted, the others go on).
async fn refresh_all(state: &AppState) {
    if let Err(e) = state.refresh_all().await {
        tracing::warn!(error = %e, "listing the stored versions failed");
    }
}
