//! The transactional outbox: one [`ChangeEvent`] per publish, written in the publish's own
//! transaction, so an event exists exactly when its document does.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::error::StateError;
use crate::store::rows::{from_json, to_json};
use crate::store::{to_i64, to_u64};

/// A change notification: a flag snapshot or a config document was published. Never carries
/// values (so never a secret), only which keys changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    /// De-duplication id, the same on every sink and every delivery attempt:
    /// `flags/<project>/<environment>/<version>` or
    /// `config/<project>/<environment>/<service>/<version>`.
    pub id: String,
    /// `flags` (a flag snapshot) or `config` (a config document).
    pub kind: String,
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name (`config` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Keys whose definition changed: flag and segment keys (`segment:<key>`) for `flags`,
    /// entry keys for `config`. Empty for a re-sign.
    pub changed_keys: Vec<String>,
    /// The version published before (`null` for the first).
    pub old_version: Option<u64>,
    /// The version published.
    pub new_version: u64,
    /// Who published (token id, user or `system`).
    pub actor: String,
    /// Why (e.g. `flag.update`, `re-sign`).
    pub reason: String,
    /// When, ms since epoch.
    pub at: u64,
}

/// Appends `event` to the outbox in the caller's transaction.
///
/// # Errors
/// [`StateError::Db`].
pub(crate) async fn record(
    conn: &mut AnyConnection,
    event: &ChangeEvent,
) -> Result<(), StateError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM outbox")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO outbox (seq, id, project, environment, kind, event, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(max.unwrap_or(0) + 1)
    .bind(&event.id)
    .bind(&event.project)
    .bind(&event.environment)
    .bind(&event.kind)
    .bind(to_json(event)?)
    .bind(to_i64(event.at)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` events after `seq`, in order, with their sequence numbers.
///
/// # Errors
/// [`StateError::Db`], [`StateError::Corrupt`].
pub(crate) async fn after(
    pool: &sqlx::AnyPool,
    seq: u64,
    limit: u32,
) -> Result<Vec<(u64, ChangeEvent)>, StateError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, event FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(to_i64(seq)?)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(s, e)| Ok((to_u64(s)?, from_json(&e)?)))
        .collect()
}

/// How far `sink` has delivered (0: nothing yet).
///
/// # Errors
/// [`StateError::Db`].
pub(crate) async fn cursor(pool: &sqlx::AnyPool, sink: &str) -> Result<u64, StateError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM outbox_cursors WHERE sink = $1")
        .bind(sink)
        .fetch_optional(pool)
        .await?;
    to_u64(seq.unwrap_or(0))
}

/// Records that `sink` delivered everything up to `seq`.
///
/// # Errors
/// [`StateError::Db`].
pub(crate) async fn advance(pool: &sqlx::AnyPool, sink: &str, seq: u64) -> Result<(), StateError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM outbox_cursors WHERE sink = $1")
        .bind(sink)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO outbox_cursors (sink, seq) VALUES ($1, $2)")
        .bind(sink)
        .bind(to_i64(seq)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The newest sequence number in the outbox (0 if empty): where a sink added later starts.
///
/// # Errors
/// [`StateError::Db`].
pub(crate) async fn head(pool: &sqlx::AnyPool) -> Result<u64, StateError> {
    let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM outbox")
        .fetch_one(pool)
        .await?;
    to_u64(max.unwrap_or(0))
}
