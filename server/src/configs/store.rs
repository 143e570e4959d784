//! The configuration centre's SQL (tables of migration `0006_configs.sql`) and the sealing of
//! secret values on their way in and out.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::configs::secrets::SecretBox;
use crate::configs::{Service, StoredEntry, StoredOverride};
use crate::error::StateError;
use crate::store::rows::{from_json, to_json};
use crate::store::{to_i64, to_u64};

/// An entry's bookkeeping next to its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryMeta {
    pub(crate) revision: u64,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) updated_by: String,
}

type EntryRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    String,
);

/// The columns an [`EntryRow`] reads, in its order.
macro_rules! entry_columns {
    () => {
        "key, format, raw, value, schema, description, secret, overrides, revision, created_at, \
         updated_at, updated_by"
    };
}

fn entry_of(row: EntryRow) -> Result<(String, StoredEntry, EntryMeta), StateError> {
    let (
        key,
        format,
        raw,
        value,
        schema,
        description,
        secret,
        overrides,
        rev,
        created,
        updated,
        by,
    ) = row;
    let entry = StoredEntry {
        format: from_json(&format!("\"{format}\""))?,
        raw,
        value: from_json(&value)?,
        schema: schema.as_deref().map(from_json).transpose()?,
        description,
        secret: secret != 0,
        overrides: from_json(&overrides)?,
    };
    let meta = EntryMeta {
        revision: to_u64(rev)?,
        created_at: to_u64(created)?,
        updated_at: to_u64(updated)?,
        updated_by: by,
    };
    Ok((key, entry, meta))
}

/// The services of `project`, sorted.
pub(crate) async fn services(
    conn: &mut AnyConnection,
    project: &str,
) -> Result<Vec<Service>, StateError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT project, key, description, created_at FROM services WHERE project = $1 \
         ORDER BY key",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(project, key, description, created_at)| {
            Ok(Service {
                project,
                key,
                description,
                created_at: to_u64(created_at)?,
            })
        })
        .collect()
}

/// Whether `project` has service `service`.
pub(crate) async fn service_exists(
    conn: &mut AnyConnection,
    project: &str,
    service: &str,
) -> Result<bool, StateError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE project = $1 AND key = $2")
            .bind(project)
            .bind(service)
            .fetch_one(&mut *conn)
            .await?;
    Ok(n > 0)
}

/// Creates or describes a service.
pub(crate) async fn put_service(
    conn: &mut AnyConnection,
    project: &str,
    service: &str,
    description: &str,
    now: u64,
) -> Result<(), StateError> {
    if service_exists(conn, project, service).await? {
        sqlx::query("UPDATE services SET description = $3 WHERE project = $1 AND key = $2")
            .bind(project)
            .bind(service)
            .bind(description)
            .execute(&mut *conn)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO services (project, key, description, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(project)
        .bind(service)
        .bind(description)
        .bind(to_i64(now)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The entries of (project, env, service) whose key is in `keys` (all when `None`), sorted by
/// key, as stored (secrets sealed).
pub(crate) async fn entries(
    conn: &mut AnyConnection,
    scope: (&str, &str, &str),
    keys: Option<&[String]>,
) -> Result<Vec<(String, StoredEntry, EntryMeta)>, StateError> {
    let (project, env, service) = scope;
    let rows: Vec<EntryRow> = sqlx::query_as(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM config_entries WHERE project = $1 AND environment = $2 AND service = $3 \
         ORDER BY key"
    ))
    .bind(project)
    .bind(env)
    .bind(service)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .filter(|r| keys.is_none_or(|ks| ks.contains(&r.0)))
        .map(entry_of)
        .collect()
}

/// One entry as stored, if it exists.
pub(crate) async fn entry(
    conn: &mut AnyConnection,
    scope: (&str, &str, &str),
    key: &str,
) -> Result<Option<(StoredEntry, EntryMeta)>, StateError> {
    let (project, env, service) = scope;
    let row: Option<EntryRow> = sqlx::query_as(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM config_entries WHERE project = $1 AND environment = $2 AND service = $3 \
         AND key = $4"
    ))
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| entry_of(r).map(|(_, e, m)| (e, m))).transpose()
}

/// Writes an entry (sealed) and its history row.
#[allow(clippy::too_many_arguments)] // scope, key, content, revision, action, time, actor
pub(crate) async fn save_entry(
    conn: &mut AnyConnection,
    scope: (&str, &str, &str),
    key: &str,
    entry: Option<&StoredEntry>,
    revision: u64,
    created_at: u64,
    action: &str,
    now: u64,
    actor: &str,
) -> Result<(), StateError> {
    let (project, env, service) = scope;
    sqlx::query(
        "DELETE FROM config_entries WHERE project = $1 AND environment = $2 AND service = $3 \
         AND key = $4",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    if let Some(e) = entry {
        let format = to_json(&e.format)?;
        sqlx::query(concat!(
            "INSERT INTO config_entries (project, environment, service, ",
            entry_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(project)
        .bind(env)
        .bind(service)
        .bind(key)
        .bind(format.trim_matches('"').to_owned())
        .bind(&e.raw)
        .bind(to_json(&e.value)?)
        .bind(e.schema.as_ref().map(to_json).transpose()?)
        .bind(&e.description)
        .bind(i64::from(e.secret))
        .bind(to_json(&e.overrides)?)
        .bind(to_i64(revision)?)
        .bind(to_i64(created_at)?)
        .bind(to_i64(now)?)
        .bind(actor)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO config_history (project, environment, service, key, revision, action, \
         entry, at, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(key)
    .bind(to_i64(revision)?)
    .bind(action)
    .bind(entry.map(to_json).transpose()?)
    .bind(to_i64(now)?)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The highest revision an entry ever had (0: never written), so a re-created entry goes on
/// counting.
pub(crate) async fn last_revision(
    conn: &mut AnyConnection,
    scope: (&str, &str, &str),
    key: &str,
) -> Result<u64, StateError> {
    let (project, env, service) = scope;
    let max: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(revision) FROM config_history WHERE project = $1 AND environment = $2 \
         AND service = $3 AND key = $4",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    to_u64(max.unwrap_or(0))
}

/// One history row: revision, action, entry (sealed; `None` for a deletion), time, actor.
pub(crate) type HistoryRow = (u64, String, Option<StoredEntry>, u64, String);

/// The history of an entry, newest first.
pub(crate) async fn history(
    conn: &mut AnyConnection,
    scope: (&str, &str, &str),
    key: &str,
) -> Result<Vec<HistoryRow>, StateError> {
    let (project, env, service) = scope;
    let rows: Vec<(i64, String, Option<String>, i64, String)> = sqlx::query_as(
        "SELECT revision, action, entry, at, actor FROM config_history WHERE project = $1 \
         AND environment = $2 AND service = $3 AND key = $4 ORDER BY revision DESC",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(rev, action, entry, at, actor)| {
            Ok((
                to_u64(rev)?,
                action,
                entry.as_deref().map(from_json).transpose()?,
                to_u64(at)?,
                actor,
            ))
        })
        .collect()
}

/// `entry` with its secret values sealed (unchanged if it is not a secret).
pub(crate) fn seal(sb: &SecretBox, mut entry: StoredEntry) -> Result<StoredEntry, StateError> {
    if !entry.secret {
        return Ok(entry);
    }
    let seal_value =
        |v: &Value| -> Result<Value, StateError> { Ok(Value::String(sb.seal(&to_json(v)?)?)) };
    entry.value = seal_value(&entry.value)?;
    entry.raw = sb.seal(&entry.raw)?;
    for o in &mut entry.overrides {
        o.value = seal_value(&o.value)?;
        o.raw = sb.seal(&o.raw)?;
    }
    Ok(entry)
}

/// `entry` with its secret values opened.
pub(crate) fn open(sb: &SecretBox, mut entry: StoredEntry) -> Result<StoredEntry, StateError> {
    if !entry.secret {
        return Ok(entry);
    }
    let open_value = |v: &Value| -> Result<Value, StateError> {
        let sealed = v
            .as_str()
            .ok_or_else(|| StateError::Corrupt("a stored secret value is not sealed".into()))?;
        from_json(&sb.open_sealed(sealed)?)
    };
    entry.value = open_value(&entry.value)?;
    entry.raw = sb.open_sealed(&entry.raw)?;
    let overrides: Result<Vec<StoredOverride>, StateError> = entry
        .overrides
        .into_iter()
        .map(|o| {
            Ok(StoredOverride {
                value: open_value(&o.value)?,
                raw: sb.open_sealed(&o.raw)?,
                ..o
            })
        })
        .collect();
    entry.overrides = overrides?;
    Ok(entry)
}
