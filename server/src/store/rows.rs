//! Row types and the SQL that loads and writes them (every query of the authoring tables).

use std::collections::BTreeMap;
use std::sync::Arc;

use burgee_core::model::SegmentDef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use crate::distribution::StoredSnapshot;
use crate::error::StateError;
use crate::model::{
    AuditEntry, EnvironmentTargeting, Flag, FlagSpec, Project, Role, Segment, Targeting, TokenInfo,
};
use crate::store::to_u64;

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

pub(crate) type EnvTuple = (String, String, String, String, String, i64, i64, i64, i64);

pub(crate) fn env_row(t: EnvTuple) -> Result<EnvRow, StateError> {
    Ok(EnvRow {
        project: t.0,
        key: t.1,
        name: t.2,
        salt: t.3,
        key_name: t.4,
        protected: t.5 != 0,
        revision: to_u64(t.6)?,
        created_at: to_u64(t.7)?,
        updated_at: to_u64(t.8)?,
    })
}

pub(crate) const ENV_COLUMNS: &str =
    "project, key, name, salt, key_name, protected, revision, created_at, updated_at";

pub(crate) async fn load_env(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
) -> Result<Option<EnvRow>, StateError> {
    let row: Option<EnvTuple> = sqlx::query_as(
        "SELECT project, key, name, salt, key_name, protected, revision, created_at, updated_at \
         FROM environments WHERE project = $1 AND key = $2",
    )
    .bind(project)
    .bind(env)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(env_row).transpose()
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
    let row: Option<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT key, name, description, revision, created_at, updated_at FROM projects \
         WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(project_row).transpose()
}

pub(crate) fn project_row(
    t: (String, String, String, i64, i64, i64),
) -> Result<Project, StateError> {
    Ok(Project {
        key: t.0,
        name: t.1,
        description: t.2,
        revision: to_u64(t.3)?,
        created_at: to_u64(t.4)?,
        updated_at: to_u64(t.5)?,
    })
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

pub(crate) async fn load_flag_rows(
    conn: &mut AnyConnection,
    project: &str,
    key: Option<&str>,
) -> Result<Vec<FlagRow>, StateError> {
    let rows: Vec<(String, String, i64, i64, i64)> = match key {
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
    let mut out = rows
        .into_iter()
        .map(|(key, def, rev, created, updated)| {
            Ok(FlagRow {
                key,
                spec: from_json(&def)?,
                revision: to_u64(rev)?,
                created_at: to_u64(created)?,
                updated_at: to_u64(updated)?,
            })
        })
        .collect::<Result<Vec<_>, StateError>>()?;
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// `(environment, flag)` → targeting of a project (optionally one flag / one environment).
pub(crate) async fn load_targeting(
    conn: &mut AnyConnection,
    project: &str,
) -> Result<BTreeMap<(String, String), EnvironmentTargeting>, StateError> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT environment, flag, targeting, revision, updated_at FROM flag_targeting \
         WHERE project = $1",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(env, flag, text, rev, updated)| {
            Ok((
                (env, flag),
                EnvironmentTargeting {
                    targeting: from_json(&text)?,
                    revision: to_u64(rev)?,
                    updated_at: to_u64(updated)?,
                },
            ))
        })
        .collect()
}

pub(crate) async fn load_segments(
    conn: &mut AnyConnection,
    project: &str,
    env: &str,
) -> Result<Vec<Segment>, StateError> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT definition, revision, created_at, updated_at FROM segments \
         WHERE project = $1 AND environment = $2",
    )
    .bind(project)
    .bind(env)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = rows
        .into_iter()
        .map(|(def, rev, created, updated)| {
            Ok(Segment {
                definition: from_json(&def)?,
                revision: to_u64(rev)?,
                created_at: to_u64(created)?,
                updated_at: to_u64(updated)?,
            })
        })
        .collect::<Result<Vec<_>, StateError>>()?;
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

pub(crate) type SnapshotTuple = (
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

pub(crate) fn snapshot_row(t: SnapshotTuple) -> Result<StoredSnapshot, StateError> {
    let (version, issued_at, expires_at) = (to_u64(t.2)?, to_u64(t.5)?, to_u64(t.6)?);
    let client = match (t.7, t.8) {
        (Some(digest), Some(envelope)) => Some(Arc::new(StoredSnapshot {
            project: t.0.clone(),
            environment: t.1.clone(),
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
        project: t.0,
        environment: t.1,
        version,
        digest: t.3,
        envelope: Arc::from(t.4),
        issued_at,
        expires_at,
        sse_event: std::sync::OnceLock::new(),
        client,
    })
}

pub(crate) type TokenTuple = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    Option<i64>,
);

pub(crate) fn token_row(t: TokenTuple) -> Result<TokenInfo, StateError> {
    Ok(TokenInfo {
        id: t.0,
        kind: t.1,
        name: t.2,
        role: t.3.as_deref().and_then(Role::parse),
        project: t.4,
        environment: t.5,
        created_at: to_u64(t.6)?,
        created_by: t.7,
        revoked_at: t.8.map(to_u64).transpose()?,
    })
}

pub(crate) type AuditTuple = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

pub(crate) fn audit_row(t: AuditTuple) -> Result<AuditEntry, StateError> {
    Ok(AuditEntry {
        seq: to_u64(t.0)?,
        at: to_u64(t.1)?,
        actor: t.2,
        action: t.3,
        project: t.4,
        environment: t.5,
        resource: t.6,
        before: t.7,
        after: t.8,
        prev_hash: t.9,
        hash: t.10,
    })
}
