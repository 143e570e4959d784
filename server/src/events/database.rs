//! Copies stored event batches into the `events` table of the server's database
//! (`server/migrations/0002_events.sql`), one row per event, so a team that runs Burgee on
//! PostgreSQL can query exposures and metric events with SQL. Follows the log like the NATS
//! forwarder ([`super::follow`]); each chunk is one transaction with `ON CONFLICT DO NOTHING`,
//! so re-delivery after a crash inserts nothing twice.

use std::future::Future;
use std::path::Path;

use sqlx::AnyPool;

use super::follow::{FollowError, follow};
use super::log::{EventLog, StoredBatch};
use super::model::Event;

fn db_err(e: impl std::fmt::Display) -> String {
    format!("database: {e}")
}

/// Inserts the events of `batches` in one transaction.
async fn insert(pool: &AnyPool, batches: Vec<StoredBatch>) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    for b in &batches {
        for (seq, event) in b.events.iter().enumerate() {
            let (kind, flag, variant, metric, value) = match event {
                Event::Exposure(e) => (
                    "exposure",
                    Some(e.flag.as_str()),
                    Some(e.variant.as_str()),
                    None,
                    None,
                ),
                Event::Track(t) => ("track", None, None, Some(t.key.as_str()), t.value),
            };
            let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
            sqlx::query(
                "INSERT INTO events (project, environment, batch_id, seq, kind, targeting_key, time, \
                 flag, variant, metric, value, received_at, sdk, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CAST($11 AS DOUBLE PRECISION), $12, $13, $14) \
                 ON CONFLICT (project, environment, batch_id, seq) DO NOTHING",
            )
            .bind(&b.project)
            .bind(&b.environment)
            .bind(&b.batch_id)
            .bind(i64::try_from(seq).map_err(|e| e.to_string())?)
            .bind(kind)
            .bind(event.targeting_key())
            .bind(i64::try_from(event.time()).map_err(|e| e.to_string())?)
            .bind(flag)
            .bind(variant)
            .bind(metric)
            // As text (Rust's shortest round-trip form), cast by the database: the `Any`
            // driver cannot bind a NULL double to PostgreSQL.
            .bind(value.map(|v| v.to_string()))
            .bind(i64::try_from(b.received_at).map_err(|e| e.to_string())?)
            .bind(&b.sdk.name)
            .bind(body)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
    }
    tx.commit().await.map_err(db_err)
}

/// Follows the log and copies every batch into the `events` table until `shutdown` resolves;
/// returns the number of batches copied. The position is kept in `position_file`.
///
/// # Errors
/// [`FollowError`] when the database, the log or the position file fails; the caller retries.
pub async fn copy_to_database(
    log: EventLog,
    pool: AnyPool,
    position_file: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, FollowError> {
    follow(&log, position_file, shutdown, |batches| {
        let pool = pool.clone();
        async move { insert(&pool, batches).await }
    })
    .await
}
