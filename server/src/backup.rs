//! `burgee backup` / `burgee restore`: every table (projects, environments, flags,
//! targeting, segments, every snapshot version, tokens' hashes, the audit log and its chain
//! head, users, the configuration centre's services, entries, history and every config
//! document, and webhooks) plus the public halves of the signing keys, as one JSON document.
//! Not in a backup: sessions, sign-ins in progress, the change-notification outbox and its
//! delivery state (a restored server starts with an empty outbox).
//!
//! Format (`"format": "burgee-backup/1"`): `{"format", "created_at" (ms since epoch),
//! "tables": {"<table>": {"columns": [...], "rows": [[value, ...], ...]}},
//! "public_keys": {"<key_name>": "<base64>"}}`. Values are JSON numbers, strings or null.
//! Private keys are never in a backup: copy `DATA_DIR/keys/` (or set the
//! `BURGEE_SIGNING_KEY_*` variables) next to a restored database yourself — including
//! `keys/secrets.key` (or `BURGEE_SECRETS_KEY`), without which the secret configuration
//! values and webhook secrets in the backup (sealed, `enc:v1:`) cannot be opened.
//!
//! Restore goes into an empty database only (no projects, no audit entries), in one
//! transaction, and may cross backends (SQLite → PostgreSQL and back).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;

use crate::error::StateError;
use crate::store::Store;

/// The `format` value this version writes and reads.
pub const BACKUP_FORMAT: &str = "burgee-backup/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

use Kind::{Int, Text};

/// Every table with its columns, in an order that satisfies the foreign keys.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "projects",
        &[
            ("key", Text),
            ("name", Text),
            ("description", Text),
            ("revision", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "environments",
        &[
            ("project", Text),
            ("key", Text),
            ("name", Text),
            ("salt", Text),
            ("key_name", Text),
            ("protected", Int),
            ("revision", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "flags",
        &[
            ("project", Text),
            ("key", Text),
            ("definition", Text),
            ("revision", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "flag_targeting",
        &[
            ("project", Text),
            ("environment", Text),
            ("flag", Text),
            ("targeting", Text),
            ("revision", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "segments",
        &[
            ("project", Text),
            ("environment", Text),
            ("key", Text),
            ("definition", Text),
            ("revision", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "snapshots",
        &[
            ("project", Text),
            ("environment", Text),
            ("version", Int),
            ("digest", Text),
            ("envelope", Text),
            ("issued_at", Int),
            ("expires_at", Int),
            ("published_by", Text),
            ("reason", Text),
            ("client_digest", Text),
            ("client_envelope", Text),
        ],
    ),
    (
        "tokens",
        &[
            ("hash", Text),
            ("id", Text),
            ("kind", Text),
            ("name", Text),
            ("role", Text),
            ("project", Text),
            ("environment", Text),
            ("created_at", Int),
            ("created_by", Text),
            ("revoked_at", Int),
            ("service", Text),
        ],
    ),
    (
        "audit_log",
        &[
            ("seq", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("project", Text),
            ("environment", Text),
            ("resource", Text),
            ("before", Text),
            ("after", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
    ),
    ("chain_head", &[("id", Int), ("seq", Int), ("hash", Text)]),
    (
        "users",
        &[
            ("id", Text),
            ("email", Text),
            ("name", Text),
            ("password_hash", Text),
            ("role", Text),
            ("project", Text),
            ("created_at", Int),
            ("created_by", Text),
            ("disabled_at", Int),
        ],
    ),
    (
        "services",
        &[
            ("project", Text),
            ("key", Text),
            ("description", Text),
            ("created_at", Int),
        ],
    ),
    (
        "config_entries",
        &[
            ("project", Text),
            ("environment", Text),
            ("service", Text),
            ("key", Text),
            ("format", Text),
            ("raw", Text),
            ("value", Text),
            ("schema", Text),
            ("description", Text),
            ("secret", Int),
            ("overrides", Text),
            ("revision", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("updated_by", Text),
        ],
    ),
    (
        "config_history",
        &[
            ("project", Text),
            ("environment", Text),
            ("service", Text),
            ("key", Text),
            ("revision", Int),
            ("action", Text),
            ("entry", Text),
            ("at", Int),
            ("actor", Text),
        ],
    ),
    (
        "config_documents",
        &[
            ("project", Text),
            ("environment", Text),
            ("service", Text),
            ("version", Int),
            ("digest", Text),
            ("envelope", Text),
            ("client_digest", Text),
            ("client_envelope", Text),
            ("issued_at", Int),
            ("expires_at", Int),
            ("published_by", Text),
            ("reason", Text),
        ],
    ),
    (
        "webhooks",
        &[
            ("id", Text),
            ("project", Text),
            ("url", Text),
            ("secret", Text),
            ("kinds", Text),
            ("enabled", Int),
            ("created_at", Int),
            ("created_by", Text),
        ],
    ),
];

/// Tables a backup made before they existed may lack (restored empty).
const ADDED_LATER: &[&str] = &[
    "users",
    "services",
    "config_entries",
    "config_history",
    "config_documents",
    "webhooks",
];

/// Trailing columns a backup made before they existed may lack (restored NULL).
const COLUMNS_ADDED_LATER: &[(&str, &str)] = &[("tokens", "service")];

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDump {
    /// Column names, in row order.
    pub columns: Vec<String>,
    /// Rows of values.
    pub rows: Vec<Vec<Value>>,
}

/// A whole backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// [`BACKUP_FORMAT`].
    pub format: String,
    /// When it was taken, ms since epoch.
    pub created_at: u64,
    /// Every table by name.
    pub tables: BTreeMap<String, TableDump>,
    /// Public keys (base64) by key name, from `DATA_DIR/keys/<name>.pub`.
    pub public_keys: BTreeMap<String, String>,
}

/// Reads every table and the public keys of every environment.
///
/// # Errors
/// [`StateError::Db`]; [`StateError::Io`] for an unreadable public key file.
pub async fn dump(store: &Store, keys_dir: &std::path::Path) -> Result<Backup, StateError> {
    let mut tables = BTreeMap::new();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        let sql = format!(
            "SELECT {} FROM {table} ORDER BY {}",
            names.join(", "),
            names.join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&store.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, (_, kind)) in columns.iter().enumerate() {
                values.push(match kind {
                    Int => row
                        .try_get::<Option<i64>, _>(i)?
                        .map_or(Value::Null, Value::from),
                    Text => row
                        .try_get::<Option<String>, _>(i)?
                        .map_or(Value::Null, Value::from),
                });
            }
            out.push(values);
        }
        tables.insert(
            (*table).to_owned(),
            TableDump {
                columns: names.iter().map(|n| (*n).to_owned()).collect(),
                rows: out,
            },
        );
    }
    let mut public_keys = BTreeMap::new();
    if let Some(envs) = tables.get("environments") {
        for row in &envs.rows {
            if let Some(Value::String(name)) = row.get(4) {
                let path = keys_dir.join(format!("{name}.pub"));
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| StateError::Io { path, source })?;
                public_keys.insert(name.clone(), text.trim().to_owned());
            }
        }
    }
    Ok(Backup {
        format: BACKUP_FORMAT.to_owned(),
        created_at: crate::now_ms(),
        tables,
        public_keys,
    })
}

/// Whether `name` is a signing-key name the server makes: `<env>` or `<project>/<env>`, each
/// a valid key (so it names a file inside the keys directory, never outside).
fn is_key_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |p: Option<&str>| p.is_some_and(|p| crate::validate::check_key("key", p).is_ok());
    match (parts.next(), parts.next(), parts.next()) {
        (first, None, None) => ok(first),
        (first, second @ Some(_), None) => ok(first) && ok(second),
        _ => false,
    }
}

/// Checks a row as the API would have: keys are keys, key names stay inside the keys
/// directory, and JSON columns hold what they must (flag definitions, targeting, segments,
/// roles).
fn check_row(table: &str, names: &[&str], row: &[Value]) -> Result<(), String> {
    let text = |column: &str| -> Option<&str> {
        names
            .iter()
            .position(|n| *n == column)
            .and_then(|i| row.get(i))
            .and_then(Value::as_str)
    };
    let key = |column: &str| -> Result<(), String> {
        match text(column) {
            Some(k) => crate::validate::check_key(column, k).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    };
    let json =
        |column: &str, parse: &dyn Fn(&str) -> Result<(), serde_json::Error>| match text(column) {
            Some(t) => parse(t).map_err(|e| format!("{column}: {e}")),
            None => Ok(()),
        };
    match table {
        "projects" => key("key"),
        "environments" => {
            key("project")?;
            key("key")?;
            match text("key_name") {
                Some(n) if is_key_name(n) => Ok(()),
                other => Err(format!(
                    "key_name {other:?} is not <env> or <project>/<env>"
                )),
            }
        }
        "flags" => {
            key("project")?;
            json("definition", &|t| {
                serde_json::from_str::<crate::model::FlagSpec>(t).map(drop)
            })
        }
        "flag_targeting" => {
            key("project")?;
            key("environment")?;
            json("targeting", &|t| {
                serde_json::from_str::<crate::model::Targeting>(t).map(drop)
            })
        }
        "segments" => {
            key("project")?;
            key("environment")?;
            json("definition", &|t| {
                serde_json::from_str::<burgee_core::model::SegmentDef>(t).map(drop)
            })
        }
        "tokens" | "users" => match text("role") {
            Some(r) if crate::model::Role::parse(r).is_none() => Err(format!("unknown role {r:?}")),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Writes a backup into an empty database (one transaction) and the public keys that are
/// missing from `keys_dir`. Returns the number of rows restored.
///
/// # Errors
/// [`StateError::Conflict`] if the database is not empty; [`StateError::Config`] for another
/// format or a table/column mismatch; [`StateError::Db`]; [`StateError::Io`].
pub async fn restore(
    store: &Store,
    keys_dir: &std::path::Path,
    backup: &Backup,
) -> Result<u64, StateError> {
    if backup.format != BACKUP_FORMAT {
        return Err(StateError::Config(format!(
            "backup format is {:?}, this burgee reads {BACKUP_FORMAT:?}",
            backup.format
        )));
    }
    let mut tx = store.pool.begin().await?;
    let (projects, entries): (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM audit_log)")
            .fetch_one(&mut *tx)
            .await?;
    if projects > 0 || entries > 0 {
        return Err(StateError::Conflict(
            "restore needs an empty database (no projects, no audit entries)".into(),
        ));
    }
    sqlx::query("DELETE FROM chain_head")
        .execute(&mut *tx)
        .await?;
    let mut count = 0u64;
    for (table, columns) in TABLES {
        let Some(dump) = backup.tables.get(*table) else {
            if ADDED_LATER.contains(table) {
                continue;
            }
            return Err(StateError::Config(format!("backup has no table {table}")));
        };
        let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
        // An older backup may lack columns added later (at the end): they are restored NULL.
        let missing = names.get(dump.columns.len()..).unwrap_or_default();
        let older = dump.columns.len() < names.len()
            && dump.columns.iter().zip(&names).all(|(a, b)| a == b)
            && missing
                .iter()
                .all(|c| COLUMNS_ADDED_LATER.contains(&(*table, *c)));
        if dump.columns != names && !older {
            return Err(StateError::Config(format!(
                "backup columns of {table} are {:?}, expected {names:?}",
                dump.columns
            )));
        }
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        for (i, row) in dump.rows.iter().enumerate() {
            let mut row = row.clone();
            row.resize(names.len(), Value::Null);
            let row = &row;
            check_row(table, &names, row)
                .map_err(|e| StateError::Config(format!("backup {table}[{i}]: {e}")))?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for ((name, kind), value) in columns.iter().zip(row) {
                q = match (kind, value) {
                    (Int, Value::Null) => q.bind(None::<i64>),
                    (Text, Value::Null) => q.bind(None::<String>),
                    (Int, Value::Number(n)) if n.is_i64() => q.bind(n.as_i64()),
                    (Text, Value::String(s)) => q.bind(s.clone()),
                    _ => {
                        return Err(StateError::Config(format!(
                            "backup value of {table}.{name} has the wrong type: {value}"
                        )));
                    }
                };
            }
            q.execute(&mut *tx).await?;
            count += 1;
        }
    }
    for (name, key) in &backup.public_keys {
        if !is_key_name(name) {
            return Err(StateError::Config(format!(
                "backup public key name {name:?} is not a key name (<env> or <project>/<env>)"
            )));
        }
        burgee_core::TrustedKey::from_base64(key)
            .map_err(|e| StateError::Config(format!("backup public key {name:?}: {e}")))?;
        let path = keys_dir.join(format!("{name}.pub"));
        if !path.exists() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| StateError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, format!("{key}\n"))
                .map_err(|source| StateError::Io { path, source })?;
        }
    }
    tx.commit().await?;
    Ok(count)
}
