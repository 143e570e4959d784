//! Row types and the SQL that loads and writes them (every query of the authoring tables).

use std::collections::BTreeMap;
use std::sync::Arc;

use burgee_core::model::SegmentDef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row as _};

use crate::distribution::{DocumentKind, StoredSnapshot};
use crate::error::StateError;
use crate::model::{
    AuditEntry, EnvironmentTargeting, Flag, FlagSpec, Project, Role, Segment, Targeting, TokenInfo,
    VersionInfo,
};

/// A client-supplied number as a BIGINT: values above `i64::MAX` become `i64::MAX` (no
/// stored value is that large, so lookups simply find nothing).
pub(crate) fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError::Corrupt(format!("serializing: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt(format!("stored JSON: {e}")))
}

pub(crate) struct EnvRow {
    pub(crate) project: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) salt: String,
    pub(crate) key_name: String,
    pub(crate) protected: bool,
    pub(crate) revision: u64,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

impl FromRow<'_, AnyRow> for EnvRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(EnvRow {
            project: row.try_get("project")?,
            key: row.try_get("key")?,
            name: row.try_get("name")?,
            salt: row.try_get("salt")?,
            key_name: row.try_get("key_name")?,
            // Anything but 0 counts as protected: a damaged flag fails closed.
            protected: row.try_get::<i64, _>("protected")? != 0,
            revision: u64_column(row, "revision")?,
            created_at: u64_column(row, "created_at")?,
            updated_at: u64_column(row, "updated_at")?,
        })
    }
}

/// A `BIGINT` column that holds a count or a time (never negative).
fn u64_column(row: &AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored number {value} is negative").into(),
    })
}

/// A nullable `BIGINT` column that holds a time.
fn opt_u64_column(row: &AnyRow, column: &str) -> Result<Option<u64>, sqlx::Error> {
    let value: Option<i64> = row.try_get(column)?;
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
                index: column.to_owned(),
                source: format!("stored number {v} is negative").into(),
            })
        })
        .transpose()
}

pub(crate) const ENV_COLUMNS: &str =
    "project, key, name, salt, key_name, protected, revision, created_at, updated_at";

pub(crate) async fn load_env(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
) -> Result<Option<EnvRow>, StateError> {
    Ok(sqlx::query_as(
        "SELECT project, key, name, salt, key_name, protected, revision, created_at, updated_at \
         FROM environments WHERE project = $1 AND key = $2",
    )
    .bind(project)
    .bind(env)
    .fetch_optional(&mut *conn)
    .await?)
}

pub(crate) async fn require_env(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
) -> Result<EnvRow, StateError> {
    load_env(conn, project, env).await?.ok_or_else(|| {
        StateError::NotFound(format!(
            "project \"{project}\" has no environment \"{env}\""
        ))
    })
}

pub(crate) async fn env_keys(
    conn: &mut AnyConnection,
    project: &str,
) -> Result<Vec<String>, StateError> {
    let mut keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM environments WHERE project = $1")
            .bind(project)
            .fetch_all(&mut *conn)
            .await?;
    keys.sort();
    Ok(keys)
}

pub(crate) async fn load_project(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<Project>, StateError> {
    Ok(sqlx::query_as(
        "SELECT key, name, description, revision, created_at, updated_at FROM projects \
         WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?)
}

impl FromRow<'_, AnyRow> for Project {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Project {
            key: row.try_get("key")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            revision: u64_column(row, "revision")?,
            created_at: u64_column(row, "created_at")?,
            updated_at: u64_column(row, "updated_at")?,
        })
    }
}

pub(crate) async fn require_project(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Project, StateError> {
    load_project(conn, key)
        .await?
        .ok_or_else(|| StateError::NotFound(format!("no project \"{key}\"")))
}

pub(crate) struct FlagRow {
    pub(crate) key: String,
    pub(crate) spec: FlagSpec,
    pub(crate) revision: u64,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

impl FromRow<'_, AnyRow> for FlagRow {
    /// Columns `key, definition` (JSON of [`FlagSpec`]), `revision, created_at, updated_at`.
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(FlagRow {
            key: row.try_get("key")?,
            spec: json_column(row, "definition")?,
            revision: u64_column(row, "revision")?,
            created_at: u64_column(row, "created_at")?,
            updated_at: u64_column(row, "updated_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Segment {
    /// Columns `definition` (JSON of `SegmentDef`), `revision, created_at, updated_at`.
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Segment {
            definition: json_column(row, "definition")?,
            revision: u64_column(row, "revision")?,
            created_at: u64_column(row, "created_at")?,
            updated_at: u64_column(row, "updated_at")?,
        })
    }
}

/// One row of `flag_targeting`.
struct TargetingRow {
    environment: String,
    flag: String,
    targeting: EnvironmentTargeting,
}

impl FromRow<'_, AnyRow> for TargetingRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(TargetingRow {
            environment: row.try_get("environment")?,
            flag: row.try_get("flag")?,
            targeting: EnvironmentTargeting {
                targeting: json_column(row, "targeting")?,
                revision: u64_column(row, "revision")?,
                updated_at: u64_column(row, "updated_at")?,
            },
        })
    }
}

impl FromRow<'_, AnyRow> for VersionInfo {
    /// Columns `version, digest, issued_at, expires_at, published_by, reason`.
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(VersionInfo {
            version: u64_column(row, "version")?,
            digest: row.try_get("digest")?,
            issued_at: u64_column(row, "issued_at")?,
            expires_at: u64_column(row, "expires_at")?,
            published_by: row.try_get("published_by")?,
            reason: row.try_get("reason")?,
        })
    }
}

/// A `TEXT` column holding JSON of `T`.
fn json_column<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored JSON: {e}").into(),
    })
}

pub(crate) async fn load_flag_rows(
    conn: &mut AnyConnection,
    project: &str,
    key: Option<&str>,
) -> Result<Vec<FlagRow>, StateError> {
    let mut out: Vec<FlagRow> = match key {
        Some(key) => {
            sqlx::query_as(
                "SELECT key, definition, revision, created_at, updated_at FROM flags \
                 WHERE project = $1 AND key = $2",
            )
            .bind(project)
            .bind(key)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT key, definition, revision, created_at, updated_at FROM flags \
                 WHERE project = $1",
            )
            .bind(project)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// `(environment, flag)` → targeting of a project (optionally one flag / one environment).
pub(crate) async fn load_targeting(
    conn: &mut AnyConnection,
    project: &str,
) -> Result<BTreeMap<(String, String), EnvironmentTargeting>, StateError> {
    let rows: Vec<TargetingRow> = sqlx::query_as(
        "SELECT environment, flag, targeting, revision, updated_at FROM flag_targeting \
         WHERE project = $1",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.environment, r.flag), r.targeting))
        .collect())
}

pub(crate) async fn load_segments(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
) -> Result<Vec<Segment>, StateError> {
    let mut out: Vec<Segment> = sqlx::query_as(
        "SELECT definition, revision, created_at, updated_at FROM segments \
         WHERE project = $1 AND environment = $2",
    )
    .bind(project)
    .bind(env)
    .fetch_all(&mut *conn)
    .await?;
    out.sort_by(|a, b| a.definition.key.cmp(&b.definition.key));
    Ok(out)
}

pub(crate) fn assemble_flag(
    row: FlagRow,
    targeting: &BTreeMap<(String, String), EnvironmentTargeting>,
) -> Flag {
    let environments = targeting
        .iter()
        .filter(|((_, flag), _)| *flag == row.key)
        .map(|((env, _), t)| (env.clone(), t.clone()))
        .collect();
    Flag {
        key: row.key,
        spec: row.spec,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
        environments,
    }
}

pub(crate) async fn upsert_targeting(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
    flag: &str,
    targeting: &Targeting,
    now: i64,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO flag_targeting (project, environment, flag, targeting, revision, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (project, environment, flag) DO UPDATE \
         SET targeting = excluded.targeting, revision = flag_targeting.revision + 1, \
         updated_at = excluded.updated_at",
    )
    .bind(project)
    .bind(env)
    .bind(flag)
    .bind(to_json(targeting)?)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn upsert_segment(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
    def: &SegmentDef,
    now: i64,
) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO segments (project, environment, key, definition, revision, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) ON CONFLICT (project, environment, key) \
         DO UPDATE SET definition = excluded.definition, revision = segments.revision + 1, \
         updated_at = excluded.updated_at",
    )
    .bind(project)
    .bind(env)
    .bind(&def.key)
    .bind(to_json(def)?)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl FromRow<'_, AnyRow> for StoredSnapshot {
    /// Columns `project, environment, version, digest, envelope, issued_at, expires_at,
    /// client_digest, client_envelope` (the client snapshot is signed with the same version).
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let project: String = row.try_get("project")?;
        let environment: String = row.try_get("environment")?;
        let version = u64_column(row, "version")?;
        let issued_at = u64_column(row, "issued_at")?;
        let expires_at = u64_column(row, "expires_at")?;
        let client_digest: Option<String> = row.try_get("client_digest")?;
        let client_envelope: Option<String> = row.try_get("client_envelope")?;
        let client = match (client_digest, client_envelope) {
            (Some(digest), Some(envelope)) => Some(Arc::new(StoredSnapshot {
                kind: DocumentKind::Snapshot,
                project: project.clone(),
                environment: environment.clone(),
                service: None,
                version,
                digest,
                envelope: Arc::from(envelope),
                issued_at,
                expires_at,
                sse_event: std::sync::OnceLock::new(),
                client: None,
            })),
            _ => None,
        };
        Ok(StoredSnapshot {
            kind: DocumentKind::Snapshot,
            project,
            environment,
            service: None,
            version,
            digest: row.try_get("digest")?,
            envelope: Arc::from(row.try_get::<String, _>("envelope")?),
            issued_at,
            expires_at,
            sse_event: std::sync::OnceLock::new(),
            client,
        })
    }
}

impl FromRow<'_, AnyRow> for TokenInfo {
    /// Columns `id, kind, name, role, project, environment, created_at, created_by,
    /// revoked_at`; an unknown role reads as none (the token then passes no role check).
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(TokenInfo {
            service: row.try_get("service")?,
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            name: row.try_get("name")?,
            role: row
                .try_get::<Option<String>, _>("role")?
                .as_deref()
                .and_then(Role::parse),
            project: row.try_get("project")?,
            environment: row.try_get("environment")?,
            created_at: u64_column(row, "created_at")?,
            created_by: row.try_get("created_by")?,
            revoked_at: opt_u64_column(row, "revoked_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for AuditEntry {
    /// Columns `seq, at, actor, action, project, environment, resource, before, after,
    /// prev_hash, hash`.
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(AuditEntry {
            seq: u64_column(row, "seq")?,
            at: u64_column(row, "at")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            project: row.try_get("project")?,
            environment: row.try_get("environment")?,
            resource: row.try_get("resource")?,
            before: row.try_get("before")?,
            after: row.try_get("after")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }
}
