//! The audit log: listing and chain verification.

use crate::audit;
use crate::error::StateError;
use crate::model::AuditEntry;
use crate::service::AppState;
use crate::store::rows::clamp_i64;
use crate::store::{to_i64, to_u64};

/// Filters of [`AppState::audit_entries`] (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this project.
    pub project: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this actor (token id).
    pub actor: Option<String>,
    /// Only this action, e.g. `flag.update`.
    pub action: Option<String>,
    /// Only this resource, e.g. `flag:checkout`.
    pub resource: Option<String>,
    /// Only entries at or after this time, ms since epoch.
    pub since: Option<u64>,
    /// Only entries before this time, ms since epoch.
    pub until: Option<u64>,
    /// Only entries with a larger `seq` (paging).
    pub after_seq: Option<u64>,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u64>,
}

impl AppState {
    /// Audit entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StateError> {
        let mut sql = String::from(
            "SELECT seq, at, actor, action, project, environment, resource, before, after, \
             prev_hash, hash FROM audit_log WHERE seq > $1 AND at >= $2 AND at < $3",
        );
        let texts = [
            ("project", &filter.project),
            ("environment", &filter.environment),
            ("actor", &filter.actor),
            ("action", &filter.action),
            ("resource", &filter.resource),
        ];
        let mut n = 3;
        for (column, value) in &texts {
            if value.is_some() {
                n += 1;
                sql.push_str(&format!(" AND {column} = ${n}"));
            }
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", n + 1));
        let mut query = sqlx::query_as::<_, AuditEntry>(sqlx::AssertSqlSafe(sql))
            .bind(clamp_i64(filter.after_seq.unwrap_or(0)))
            .bind(clamp_i64(filter.since.unwrap_or(0)))
            .bind(clamp_i64(filter.until.unwrap_or(u64::MAX)));
        for (_, value) in texts {
            if let Some(v) = value {
                query = query.bind(v.clone());
            }
        }
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let rows = query
            .bind(to_i64(limit)?)
            .fetch_all(&self.inner.store.pool)
            .await?;
        Ok(rows)
    }

    /// The sequence number of the newest audit entry (0 when there is none).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn latest_audit_seq(&self) -> Result<u64, StateError> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
            .fetch_one(&self.inner.store.pool)
            .await?;
        to_u64(max.unwrap_or(0))
    }

    /// A readable name of an audit actor: a user's name (or e-mail), an API token's name, else
    /// the id itself (system actors such as the re-signer, or deleted tokens).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn actor_name(&self, actor: &str) -> Result<String, StateError> {
        let user: Option<(String, String)> =
            sqlx::query_as("SELECT name, email FROM users WHERE id = $1")
                .bind(actor)
                .fetch_optional(&self.inner.store.pool)
                .await?;
        if let Some((name, email)) = user {
            return Ok(if name.is_empty() { email } else { name });
        }
        let token: Option<String> = sqlx::query_scalar("SELECT name FROM tokens WHERE id = $1")
            .bind(actor)
            .fetch_optional(&self.inner.store.pool)
            .await?;
        Ok(match token {
            Some(name) if !name.is_empty() => format!("{name} (token)"),
            _ => actor.to_owned(),
        })
    }

    /// Verifies the whole audit chain; returns the number of entries.
    ///
    /// # Errors
    /// [`StateError::AuditBroken`] at the first break; [`StateError::Db`].
    pub async fn verify_audit(&self) -> Result<u64, StateError> {
        let entries: Vec<AuditEntry> = sqlx::query_as(
            "SELECT seq, at, actor, action, project, environment, resource, before, after, \
             prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&self.inner.store.pool)
                .await?;
        audit::verify(&entries, (to_u64(seq)?, &hash)).map_err(StateError::AuditBroken)
    }
}
