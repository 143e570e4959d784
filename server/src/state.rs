//! The server's state and every operation on the store: projects, environments, flags,
//! targeting, segments, publishing, versions, diff, rollback, tokens and the audit log.
//!
//! Every write is one [`Writer`] transaction: it applies the change, records an audit entry
//! (who, when, what, before/after), and publishes a new signed snapshot of every affected
//! environment (`publish_env`: build the [`SnapshotDef`], compile it with
//! [`Snapshot::compile`] — a refusal rolls the whole write back —, sign, refuse a server or
//! client envelope over [`DEFAULT_MAX_ENVELOPE_BYTES`] — also a rollback —, store). After the
//! commit, the new envelopes are broadcast to this process's SSE streams, and (PostgreSQL)
//! `NOTIFY` tells the other replicas.
//!
//! Data directory layout:
//! - `burgee.db`: the SQLite database (unless `--database-url` names PostgreSQL).
//! - `keys/<key_name>.key|.pub`: each environment's Ed25519 key pair ([`crate::keys`]);
//!   `key_name` is the environment key for the first project and `<project>/<env>` for
//!   later ones.
//! - `credentials.env`: the plaintext bootstrap admin token and SDK keys, written once
//!   (mode 0600) at first start; the database keeps only SHA-256 hashes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::model::Audience;
use burgee_core::model::{FlagDef, SNAPSHOT_FORMAT, SegmentDef, SnapshotDef};
use burgee_core::{
    DEFAULT_MAX_ENVELOPE_BYTES, Envelope, SNAPSHOT_PAYLOAD_TYPE, Snapshot, client_view,
    payload_digest, sign_envelope,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;
use tokio::sync::{broadcast, watch};

use crate::error::StateError;
use crate::events::log::LogConfig;
use crate::events::service::EventService;
use crate::keys::{self, KeyError};
use crate::metrics::Metrics;
use crate::model::{
    AuditEntry, Change, CreatedToken, Diff, Environment, EnvironmentInput, EnvironmentTargeting,
    EnvironmentUpdate, Flag, FlagInput, FlagSpec, Project, ProjectInput, ProjectUpdate, Published,
    Role, Segment, Targeting, TokenInfo, TokenInput, VersionInfo, Written, flag_def,
};
use crate::store::{Store, Writer, to_i64, to_u64};
use crate::{audit, demo, now_ms};

/// The environments every new project gets, in creation order (`production` protected).
pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

/// Prefix of admin API tokens (`bga_` + 64 lowercase hex digits = 32 random bytes).
pub const ADMIN_TOKEN_PREFIX: &str = "bga_";

/// Prefix of SDK keys (`bgs_` + 64 lowercase hex digits = 32 random bytes).
pub const SDK_KEY_PREFIX: &str = "bgs_";

/// Prefix of client-side keys (`bgc_` + 64 lowercase hex digits). Client keys ship inside web
/// pages and apps, so they are public by design: they read only the client snapshot
/// (`spec/SNAPSHOT.md` §9) and send events.
pub const CLIENT_KEY_PREFIX: &str = "bgc_";

/// How long a resolved token is cached in memory, so a revoked token may work this long.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// How to open the server state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The data directory (created if missing): keys, credentials, SQLite file.
    pub data_dir: PathBuf,
    /// `None`: SQLite in `DATA_DIR/burgee.db`; else a `postgres://` or `sqlite:` URL.
    pub database_url: Option<String>,
    /// On first start, name the project `webshop` and seed [`crate::demo`]'s flags and
    /// segments; otherwise the project is `default` and starts empty.
    pub demo: bool,
    /// Lifetime of every published snapshot, ms (`expires_at = issued_at + ttl`).
    pub snapshot_ttl_ms: u64,
    /// Interval of SSE keep-alive comments (`: keep-alive`).
    pub sse_keep_alive: Duration,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
}

/// Default of [`ServerConfig::sse_keep_alive`]: 15 s.
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Default of [`ServerConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

impl ServerConfig {
    /// SQLite in `data_dir`, no demo, the given TTL, default keep-alive and body limit.
    pub fn new(data_dir: &Path, snapshot_ttl_ms: u64) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            demo: false,
            snapshot_ttl_ms,
            sse_keep_alive: DEFAULT_SSE_KEEP_ALIVE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The plaintext credentials created at first start (shown once; only hashes are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The bootstrap admin token (`bga_...`, role admin, every project).
    pub admin_token: String,
    /// `(environment, SDK key)` of the first project, in [`ENVIRONMENTS`] order (`bgs_...`).
    pub sdk_keys: Vec<(String, String)>,
    /// `(environment, client-side key)` of the first project, in [`ENVIRONMENTS`] order
    /// (`bgc_...`; public, for browsers and apps).
    pub client_keys: Vec<(String, String)>,
    /// Where they were written: `DATA_DIR/credentials.env`.
    pub file: PathBuf,
}

impl Credentials {
    /// The SDK key of `environment`, if there is one.
    pub fn sdk_key(&self, environment: &str) -> Option<&str> {
        self.sdk_keys
            .iter()
            .find(|(env, _)| env == environment)
            .map(|(_, key)| key.as_str())
    }

    /// Shell lines: `export BURGEE_ADMIN_TOKEN=...`, `export BURGEE_SDK_KEY=<production>`,
    /// `export BURGEE_SDK_KEY_<ENV>=...` for each environment, and the same for client-side
    /// keys (`BURGEE_CLIENT_KEY`, `BURGEE_CLIENT_KEY_<ENV>`).
    pub fn env_file_text(&self) -> String {
        let mut out =
            String::from("# Burgee credentials, created at first start. Keep this file secret.\n");
        out.push_str(&format!("export BURGEE_ADMIN_TOKEN={}\n", self.admin_token));
        if let Some(key) = self.sdk_key("production") {
            out.push_str(&format!("export BURGEE_SDK_KEY={key}\n"));
        }
        for (env, key) in &self.sdk_keys {
            out.push_str(&format!(
                "export BURGEE_SDK_KEY_{}={key}\n",
                env.to_ascii_uppercase()
            ));
        }
        if let Some((_, key)) = self.client_keys.iter().find(|(e, _)| e == "production") {
            out.push_str(&format!("export BURGEE_CLIENT_KEY={key}\n"));
        }
        for (env, key) in &self.client_keys {
            out.push_str(&format!(
                "export BURGEE_CLIENT_KEY_{}={key}\n",
                env.to_ascii_uppercase()
            ));
        }
        out
    }
}

/// A stored, signed snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Snapshot version.
    pub version: u64,
    /// `sha256:<hex>` of the payload.
    pub digest: String,
    /// The DSSE envelope JSON text, exactly as served.
    pub envelope: Arc<str>,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// The SSE event of this snapshot, rendered once and shared by every stream.
    sse_event: std::sync::OnceLock<axum::body::Bytes>,
    /// The client snapshot signed with this one (same version and times); `None` for versions
    /// published before client snapshots existed. Always `None` inside a client snapshot.
    pub client: Option<Arc<StoredSnapshot>>,
}

impl StoredSnapshot {
    /// This snapshot as one server-sent event:
    /// `id: <version>\nevent: snapshot\ndata: <envelope>\n\n` (the envelope is one line of
    /// compact JSON). Rendered on first use; clones share the bytes.
    pub fn sse_event(&self) -> axum::body::Bytes {
        self.sse_event
            .get_or_init(|| {
                axum::body::Bytes::from(format!(
                    "id: {}\nevent: snapshot\ndata: {}\n\n",
                    self.version, self.envelope
                ))
            })
            .clone()
    }
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An admin API token.
    Token {
        /// Public token id (the audit actor).
        id: String,
        /// Its role.
        role: Role,
        /// Project scope; `None` = every project.
        project: Option<String>,
    },
    /// An SDK key: reads its environment's snapshot (GET and stream) and sends its events.
    Sdk {
        /// Public token id.
        id: String,
        /// Project of the environment.
        project: String,
        /// The environment the key was issued for.
        environment: String,
        /// A client-side key (`bgc_`, kind `client`): reads only the client snapshot.
        client: bool,
    },
}

impl Principal {
    /// The public token id.
    pub fn id(&self) -> &str {
        match self {
            Principal::Token { id, .. } | Principal::Sdk { id, .. } => id,
        }
    }
}

/// Filters of [`AppState::list_flags`] (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct FlagFilter {
    /// Only flags carrying this tag.
    pub tag: Option<String>,
    /// Only flags with this owner.
    pub owner: Option<String>,
    /// Only flags of this type (`boolean`, `string`, `integer`, `float`, `object`).
    #[serde(rename = "type")]
    pub value_type: Option<String>,
    /// Only flags whose key or description contains this text (case-insensitive).
    pub q: Option<String>,
}

/// Filters of [`AppState::audit_entries`] (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
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

/// A new snapshot, as broadcast to SSE streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEvent {
    /// The snapshot.
    pub snapshot: Arc<StoredSnapshot>,
}

/// Shared server state; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    keys_dir: PathBuf,
    snapshot_ttl_ms: u64,
    sse_keep_alive: Duration,
    max_body_bytes: usize,
    hub: broadcast::Sender<SnapshotEvent>,
    shutdown: watch::Sender<bool>,
    latest: RwLock<HashMap<(String, String), Arc<StoredSnapshot>>>,
    /// The newest version of each environment whose load failed (to log that once).
    refresh_failed: RwLock<HashMap<(String, String), u64>>,
    tokens: RwLock<HashMap<String, (Option<Principal>, Instant)>>,
    metrics: Metrics,
    events: Arc<EventService>,
}

/// Lowercase hex SHA-256 of a token's text: the only form tokens are stored in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_secret(prefix: &str) -> Result<String, KeyError> {
    Ok(format!(
        "{prefix}{}",
        hex::encode(keys::random_bytes::<32>()?)
    ))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A client-supplied number as a BIGINT: values above `i64::MAX` become `i64::MAX` (no
/// stored value is that large, so lookups simply find nothing).
fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|e| StateError::Corrupt(format!("serializing: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt(format!("stored JSON: {e}")))
}

/// Checks a project, environment or token key: 1–64 of `A-Z a-z 0-9 _ -`.
///
/// # Errors
/// [`StateError::Field`] naming `field`.
pub fn check_key(field: &str, key: &str) -> Result<(), StateError> {
    check_name(field, key, 64, false)
}

fn check_name(field: &str, key: &str, max: usize, dots: bool) -> Result<(), StateError> {
    let ok = !key.is_empty()
        && key.len() <= max
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots && c == '.'));
    if ok {
        Ok(())
    } else {
        let extra = if dots { " . " } else { " " };
        Err(StateError::Field {
            field: field.to_owned(),
            message: format!("must be 1-{max} characters of A-Z a-z 0-9 _ -{extra}(got {key:?})"),
        })
    }
}

/// Checks the JSON Schema of a flag spec and every variant value against it.
fn check_schema(spec: &FlagSpec) -> Result<(), StateError> {
    let Some(schema) = &spec.schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| StateError::Field {
        field: "schema".into(),
        message: format!("not a valid JSON Schema: {e}"),
    })?;
    for (name, value) in &spec.variants.0 {
        if let Some(error) = validator.iter_errors(value).next() {
            return Err(StateError::Field {
                field: format!("variants.{name}{}", error.instance_path()),
                message: format!("does not satisfy the flag's schema: {error}"),
            });
        }
    }
    Ok(())
}

fn check_revision(what: &str, current: u64, expected: Option<u64>) -> Result<(), StateError> {
    match expected {
        Some(rev) if rev != current => Err(StateError::Stale(format!(
            "{what} is at revision {current} (ETag \"r{current}\"), If-Match named r{rev}"
        ))),
        _ => Ok(()),
    }
}

// ---- row loading ----

struct EnvRow {
    project: String,
    key: String,
    name: String,
    salt: String,
    key_name: String,
    protected: bool,
    revision: u64,
    created_at: u64,
    updated_at: u64,
}

type EnvTuple = (String, String, String, String, String, i64, i64, i64, i64);

fn env_row(t: EnvTuple) -> Result<EnvRow, StateError> {
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

const ENV_COLUMNS: &str =
    "project, key, name, salt, key_name, protected, revision, created_at, updated_at";

async fn load_env(
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

async fn require_env(
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

async fn env_keys(conn: &mut AnyConnection, project: &str) -> Result<Vec<String>, StateError> {
    let mut keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM environments WHERE project = $1")
            .bind(project)
            .fetch_all(&mut *conn)
            .await?;
    keys.sort();
    Ok(keys)
}

async fn load_project(conn: &mut AnyConnection, key: &str) -> Result<Option<Project>, StateError> {
    let row: Option<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT key, name, description, revision, created_at, updated_at FROM projects \
         WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(project_row).transpose()
}

fn project_row(t: (String, String, String, i64, i64, i64)) -> Result<Project, StateError> {
    Ok(Project {
        key: t.0,
        name: t.1,
        description: t.2,
        revision: to_u64(t.3)?,
        created_at: to_u64(t.4)?,
        updated_at: to_u64(t.5)?,
    })
}

async fn require_project(conn: &mut AnyConnection, key: &str) -> Result<Project, StateError> {
    load_project(conn, key)
        .await?
        .ok_or_else(|| StateError::NotFound(format!("no project \"{key}\"")))
}

struct FlagRow {
    key: String,
    spec: FlagSpec,
    revision: u64,
    created_at: u64,
    updated_at: u64,
}

async fn load_flag_rows(
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
async fn load_targeting(
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

async fn load_segments(
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

fn assemble_flag(
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

async fn upsert_targeting(
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

async fn upsert_segment(
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

/// The signed envelope of `payload` by every key `key_name` signs with (active first).
fn sign_all(keys_dir: &Path, key_name: &str, payload: &[u8]) -> Result<Envelope, StateError> {
    let keys = keys::signing_keys(keys_dir, key_name)?;
    let mut envelope = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, payload, &keys.active);
    for key in &keys.previous {
        envelope
            .signatures
            .extend(sign_envelope(SNAPSHOT_PAYLOAD_TYPE, payload, key).signatures);
    }
    Ok(envelope)
}

/// Refuses an envelope (its JSON text, exactly as stored and served) that SDKs would refuse
/// with their default options: larger than [`DEFAULT_MAX_ENVELOPE_BYTES`] (8 MiB).
/// `audience` names the envelope in the error: `server` or `client`.
///
/// # Errors
/// [`StateError::EnvelopeTooLarge`] with the size and the limit, in bytes.
fn check_envelope_size(
    project: &str,
    env: &str,
    audience: &'static str,
    envelope: &str,
) -> Result<(), StateError> {
    if envelope.len() > DEFAULT_MAX_ENVELOPE_BYTES {
        return Err(StateError::EnvelopeTooLarge {
            project: project.to_owned(),
            environment: env.to_owned(),
            audience,
            size: envelope.len(),
            limit: DEFAULT_MAX_ENVELOPE_BYTES,
        });
    }
    Ok(())
}

/// Builds, validates, signs and stores a new snapshot of `project/env` from the current
/// authoring state, inside `w`, with the client snapshot signed next to it.
///
/// # Errors
/// [`StateError::Invalid`] when the core refuses the snapshot, and
/// [`StateError::EnvelopeTooLarge`] when the server or the client envelope would exceed
/// [`DEFAULT_MAX_ENVELOPE_BYTES`] (in both cases nothing is stored: the caller drops the
/// transaction), [`StateError::NotFound`], [`StateError::Key`], [`StateError::Db`].
async fn publish_env(
    w: &mut Writer,
    keys_dir: &Path,
    ttl_ms: u64,
    project: &str,
    env: &str,
    actor: &str,
    reason: &str,
) -> Result<Published, StateError> {
    let conn = w.conn();
    let row = require_env(conn, project, env).await?;
    let flags = load_flag_rows(conn, project, None).await?;
    let targeting = load_targeting(conn, project).await?;
    let segments = load_segments(conn, project, env).await?;
    let flag_defs: Vec<FlagDef> = flags
        .iter()
        .map(|f| {
            let t = targeting
                .get(&(env.to_owned(), f.key.clone()))
                .map_or_else(|| Targeting::initial(&f.spec), |t| t.targeting.clone());
            flag_def(&f.key, &f.spec, &t)
        })
        .collect();
    let max: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM snapshots WHERE project = $1 AND environment = $2",
    )
    .bind(project)
    .bind(env)
    .fetch_one(&mut *conn)
    .await?;
    let version = to_u64(max.unwrap_or(0))? + 1;
    let now = now_ms();
    let expires_at = now
        .checked_add(ttl_ms)
        .ok_or_else(|| StateError::Corrupt("snapshot expiry overflows".into()))?;
    let def = SnapshotDef {
        format: SNAPSHOT_FORMAT,
        project: project.to_owned(),
        environment: env.to_owned(),
        version,
        issued_at: now,
        expires_at,
        salt: row.salt.clone(),
        audience: Audience::Server,
        flags: flag_defs,
        segments: segments.into_iter().map(|s| s.definition).collect(),
    };
    Snapshot::compile(&def, None).map_err(StateError::Invalid)?;
    let client_def = client_view(&def).map_err(StateError::Invalid)?;
    Snapshot::compile(&client_def, None).map_err(StateError::Invalid)?;
    let sign = |def: &SnapshotDef| -> Result<(String, String), StateError> {
        let payload = serde_json::to_vec(def)
            .map_err(|e| StateError::Corrupt(format!("serializing snapshot: {e}")))?;
        let envelope = to_json(&sign_all(keys_dir, &row.key_name, &payload)?)?;
        Ok((payload_digest(&payload), envelope))
    };
    let (digest, envelope) = sign(&def)?;
    check_envelope_size(project, env, "server", &envelope)?;
    let (client_digest, client_envelope) = sign(&client_def)?;
    check_envelope_size(project, env, "client", &client_envelope)?;
    sqlx::query(
        "INSERT INTO snapshots (project, environment, version, digest, envelope, issued_at, \
         expires_at, published_by, reason, client_digest, client_envelope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(project)
    .bind(env)
    .bind(to_i64(version)?)
    .bind(&digest)
    .bind(envelope)
    .bind(to_i64(now)?)
    .bind(to_i64(expires_at)?)
    .bind(actor)
    .bind(reason)
    .bind(client_digest)
    .bind(client_envelope)
    .execute(&mut *conn)
    .await?;
    w.notify.push((project.to_owned(), env.to_owned()));
    Ok(Published {
        project: project.to_owned(),
        environment: env.to_owned(),
        version,
        digest,
    })
}

/// Decodes the snapshot document inside a stored envelope.
fn envelope_document(envelope: &str) -> Result<SnapshotDef, StateError> {
    let env: Envelope = from_json(envelope)?;
    let payload = STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| StateError::Corrupt(format!("stored envelope payload: {e}")))?;
    serde_json::from_slice(&payload)
        .map_err(|e| StateError::Corrupt(format!("stored snapshot document: {e}")))
}

/// Top-level JSON fields in which two serialisable values differ.
fn changed_fields<T: Serialize>(a: &T, b: &T) -> Result<Vec<String>, StateError> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
        serde_json::to_value(a).map_err(|e| StateError::Corrupt(e.to_string()))?,
        serde_json::to_value(b).map_err(|e| StateError::Corrupt(e.to_string()))?,
    ) else {
        return Ok(Vec::new());
    };
    let mut fields: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    fields.sort();
    fields.dedup();
    Ok(fields)
}

fn diff_items<T: Serialize>(
    kind: &str,
    old: &[(String, T)],
    new: &[(String, T)],
    out: &mut Vec<Change>,
) -> Result<(), StateError> {
    let old_map: BTreeMap<&str, &T> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new_map: BTreeMap<&str, &T> = new.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (key, a) in &old_map {
        match new_map.get(key) {
            None => out.push(Change {
                kind: kind.into(),
                key: (*key).to_owned(),
                change: "removed".into(),
                fields: Vec::new(),
            }),
            Some(b) => {
                let fields = changed_fields(a, b)?;
                if !fields.is_empty() {
                    out.push(Change {
                        kind: kind.into(),
                        key: (*key).to_owned(),
                        change: "changed".into(),
                        fields,
                    });
                }
            }
        }
    }
    for key in new_map.keys().filter(|k| !old_map.contains_key(*k)) {
        out.push(Change {
            kind: kind.into(),
            key: (*key).to_owned(),
            change: "added".into(),
            fields: Vec::new(),
        });
    }
    Ok(())
}

type SnapshotTuple = (
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

fn snapshot_row(t: SnapshotTuple) -> Result<StoredSnapshot, StateError> {
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

type TokenTuple = (
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

fn token_row(t: TokenTuple) -> Result<TokenInfo, StateError> {
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

type AuditTuple = (
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

fn audit_row(t: AuditTuple) -> Result<AuditEntry, StateError> {
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

/// Inserts a token row; returns the listing and the plaintext.
async fn insert_token(
    conn: &mut AnyConnection,
    input: &TokenInput,
    actor: &str,
    now: u64,
) -> Result<CreatedToken, StateError> {
    let prefix = match input.kind.as_str() {
        "sdk" => SDK_KEY_PREFIX,
        "client" => CLIENT_KEY_PREFIX,
        _ => ADMIN_TOKEN_PREFIX,
    };
    let token = new_secret(prefix)?;
    let id = format!("tok_{}", hex::encode(keys::random_bytes::<8>()?));
    let info = TokenInfo {
        id: id.clone(),
        kind: input.kind.clone(),
        name: input.name.clone(),
        role: input.role,
        project: input.project.clone(),
        environment: input.environment.clone(),
        created_at: now,
        created_by: actor.to_owned(),
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO tokens (hash, id, kind, name, role, project, environment, created_at, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(token_hash(&token))
    .bind(&id)
    .bind(&info.kind)
    .bind(&info.name)
    .bind(info.role.map(|r| r.as_str().to_owned()))
    .bind(&info.project)
    .bind(&info.environment)
    .bind(to_i64(now)?)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    Ok(CreatedToken { token, info })
}

/// What a project creation made (for the bootstrap's credentials).
struct CreatedProject {
    project: Project,
    published: Vec<Published>,
}

impl AppState {
    /// The event service (`POST /v1/events`, experiment results). Its log lives in
    /// `DATA_DIR/events/`, one per server process (replicas forward to NATS JetStream for a
    /// shared stream).
    pub fn events(&self) -> &Arc<EventService> {
        &self.inner.events
    }

    /// Opens (creating if needed) the data directory and the database, applies migrations.
    ///
    /// On first start (no projects) it bootstraps: project `webshop` (with `demo`, seeded
    /// with [`demo`]'s flags and segments) or `default`, the [`ENVIRONMENTS`] each with a
    /// random salt and a key pair in `DATA_DIR/keys/<env>.key|.pub`, one admin token (role
    /// admin, every project) and one SDK key per environment (hashes in the DB, plaintexts
    /// in `credentials.env`, mode 0600), and publishes version 1 of every environment. Only
    /// then is `Some(credentials)` returned.
    ///
    /// # Errors
    /// [`StateError::Io`] / [`StateError::Key`] for the data directory and key files,
    /// [`StateError::Db`] / [`StateError::Migrate`] / [`StateError::Config`] for the
    /// database, [`StateError::Invalid`] if the seed data does not compile.
    pub async fn open(
        config: &ServerConfig,
    ) -> Result<(AppState, Option<Credentials>), StateError> {
        std::fs::create_dir_all(&config.data_dir).map_err(io_error(&config.data_dir))?;
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&config.data_dir));
        let store = Store::open(&url, 8).await?;
        let (hub, _) = broadcast::channel(256);
        let (shutdown, _) = watch::channel(false);
        let state = AppState {
            inner: Arc::new(Inner {
                store,
                keys_dir: config.data_dir.join("keys"),
                snapshot_ttl_ms: config.snapshot_ttl_ms,
                sse_keep_alive: config.sse_keep_alive,
                max_body_bytes: config.max_body_bytes,
                hub,
                shutdown,
                latest: RwLock::new(HashMap::new()),
                refresh_failed: RwLock::new(HashMap::new()),
                tokens: RwLock::new(HashMap::new()),
                metrics: Metrics::default(),
                events: Arc::new(EventService::open(LogConfig::new(
                    config.data_dir.join("events"),
                ))?),
            }),
        };
        let projects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
            .fetch_one(&state.inner.store.pool)
            .await?;
        let credentials = if projects == 0 {
            Some(state.bootstrap(config).await?)
        } else {
            None
        };
        Ok((state, credentials))
    }

    async fn bootstrap(&self, config: &ServerConfig) -> Result<Credentials, StateError> {
        let project = if config.demo { "webshop" } else { "default" };
        let actor = "system";
        let now = now_ms();
        let mut w = Writer::begin(&self.inner.store).await?;
        let created = self
            .create_project_in(
                &mut w,
                actor,
                &ProjectInput {
                    key: project.into(),
                    name: Some(if config.demo { "Web shop" } else { "Default" }.into()),
                    description: None,
                    environments: None,
                },
                true,
                !config.demo,
            )
            .await?;
        if config.demo {
            self.seed_demo(&mut w, project, now).await?;
            for env in ENVIRONMENTS {
                publish_env(
                    &mut w,
                    &self.inner.keys_dir,
                    self.inner.snapshot_ttl_ms,
                    project,
                    env,
                    actor,
                    "demo seed",
                )
                .await?;
            }
        }
        let admin = insert_token(
            w.conn(),
            &TokenInput {
                kind: "admin".into(),
                name: "bootstrap admin".into(),
                role: Some(Role::Admin),
                project: None,
                environment: None,
            },
            actor,
            now,
        )
        .await?;
        let (mut sdk_keys, mut client_keys) = (Vec::new(), Vec::new());
        for env in ENVIRONMENTS {
            for (kind, name, keys) in [
                ("sdk", "SDK key", &mut sdk_keys),
                ("client", "client-side key", &mut client_keys),
            ] {
                let created = insert_token(
                    w.conn(),
                    &TokenInput {
                        kind: kind.into(),
                        name: format!("{env} {name}"),
                        role: None,
                        project: Some(project.into()),
                        environment: Some(env.into()),
                    },
                    actor,
                    now,
                )
                .await?;
                keys.push((env.to_owned(), created.token));
            }
        }
        w.audit(
            now,
            actor,
            "bootstrap",
            Some(project),
            None,
            &format!("project:{}", created.project.key),
            None,
            Some(format!(
                "{{\"admin_token\":\"{}\",\"demo\":{}}}",
                admin.info.id, config.demo
            )),
        )
        .await?;
        let credentials = Credentials {
            admin_token: admin.token,
            sdk_keys,
            client_keys,
            file: config.data_dir.join("credentials.env"),
        };
        keys::write_new_file(
            &credentials.file,
            credentials.env_file_text().as_bytes(),
            0o600,
        )?;
        self.commit(w).await?;
        Ok(credentials)
    }

    /// Inserts the demo flags (spec from production, targeting per environment) and segments.
    async fn seed_demo(&self, w: &mut Writer, project: &str, now: u64) -> Result<(), StateError> {
        let now_db = to_i64(now)?;
        let calendar = demo::Calendar::seeded_at(now);
        let production = demo::flags("production", calendar);
        for def in &production {
            let text = |key: &str| {
                def.metadata
                    .get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let spec = FlagSpec {
                value_type: def.value_type,
                variants: def.variants.clone(),
                description: text("description"),
                tags: Vec::new(),
                owner: text("owner"),
                schema: None,
                experiment: demo::experiment(&def.key),
                client_visible: def.client_visible,
            };
            sqlx::query(
                "INSERT INTO flags (project, key, definition, revision, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, $4, $4)",
            )
            .bind(project)
            .bind(&def.key)
            .bind(to_json(&spec)?)
            .bind(now_db)
            .execute(w.conn())
            .await?;
        }
        for env in ENVIRONMENTS {
            for def in demo::flags(env, calendar) {
                upsert_targeting(
                    w.conn(),
                    project,
                    env,
                    &def.key,
                    &Targeting::from_def(&def),
                    now_db,
                )
                .await?;
            }
            for seg in demo::segments(env) {
                upsert_segment(w.conn(), project, env, &seg, now_db).await?;
            }
        }
        Ok(())
    }

    /// Commits a write and broadcasts its new snapshots to this process's streams.
    async fn commit(&self, w: Writer) -> Result<(), StateError> {
        let notified = w.commit().await?;
        for (project, env) in notified {
            self.inner.metrics.publishes.inc();
            self.refresh_latest(&project, &env).await?;
        }
        Ok(())
    }

    /// Reloads the latest snapshot of `project/env` from the database and, if it is newer
    /// than the cached one, caches it and sends it to the SSE streams. Called after local
    /// publishes and for PostgreSQL notifications from other replicas.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn refresh_latest(&self, project: &str, env: &str) -> Result<(), StateError> {
        let Some(snapshot) = self.load_latest(project, env).await? else {
            return Ok(());
        };
        let snapshot = Arc::new(snapshot);
        let newer = {
            let mut cache = self
                .inner
                .latest
                .write()
                .map_err(|_| StateError::Corrupt("snapshot cache lock poisoned".into()))?;
            let key = (project.to_owned(), env.to_owned());
            let newer = cache
                .get(&key)
                .is_none_or(|held| held.version < snapshot.version);
            if newer {
                cache.insert(key, snapshot.clone());
            }
            newer
        };
        if newer {
            // No receivers is fine: nobody is streaming.
            let _ = self.inner.hub.send(SnapshotEvent { snapshot });
        }
        Ok(())
    }

    async fn load_latest(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<StoredSnapshot>, StateError> {
        let row: Option<SnapshotTuple> = sqlx::query_as(
            "SELECT project, environment, version, digest, envelope, issued_at, expires_at, \
             client_digest, client_envelope FROM snapshots \
             WHERE project = $1 AND environment = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(project)
        .bind(env)
        .fetch_optional(&self.inner.store.pool)
        .await?;
        row.map(snapshot_row).transpose()
    }

    /// The store (pool and backend).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Interval of SSE keep-alive comments.
    pub fn sse_keep_alive(&self) -> Duration {
        self.inner.sse_keep_alive
    }

    /// Largest accepted request body, bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// The keys directory (`DATA_DIR/keys`).
    pub fn keys_dir(&self) -> &Path {
        &self.inner.keys_dir
    }

    /// A receiver of every new snapshot published from now on (this process's publishes and,
    /// with PostgreSQL, other replicas').
    pub fn subscribe(&self) -> broadcast::Receiver<SnapshotEvent> {
        self.inner.hub.subscribe()
    }

    /// A receiver that turns `true` when the server shuts down (SSE streams end then).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Tells every SSE stream to end (graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// The latest snapshot of `project/env` (from memory after the first read); `None` if
    /// nothing was published.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn latest_snapshot(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<Arc<StoredSnapshot>>, StateError> {
        let key = (project.to_owned(), env.to_owned());
        if let Ok(cache) = self.inner.latest.read()
            && let Some(s) = cache.get(&key)
        {
            return Ok(Some(s.clone()));
        }
        let Some(s) = self.load_latest(project, env).await? else {
            return Ok(None);
        };
        let s = Arc::new(s);
        if let Ok(mut cache) = self.inner.latest.write() {
            let entry = cache.entry(key).or_insert_with(|| s.clone());
            if entry.version < s.version {
                *entry = s.clone();
            }
            return Ok(Some(entry.clone()));
        }
        Ok(Some(s))
    }

    /// Who `token` (the bearer text) belongs to; `None` for an unknown or revoked token.
    /// Results are cached for [`TOKEN_CACHE_TTL`].
    ///
    /// # Errors
    /// [`StateError::Db`]; [`StateError::Corrupt`] for an inconsistent row.
    pub async fn principal(&self, token: &str) -> Result<Option<Principal>, StateError> {
        let hash = token_hash(token);
        if let Ok(cache) = self.inner.tokens.read()
            && let Some((p, at)) = cache.get(&hash)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(p.clone());
        }
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, kind, role, project, environment FROM tokens \
                 WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.inner.store.pool)
        .await?;
        let principal = match row {
            None => None,
            Some((id, kind, role, project, _)) if kind == "admin" => {
                let role = role
                    .as_deref()
                    .and_then(Role::parse)
                    .ok_or_else(|| StateError::Corrupt(format!("token {id} has no valid role")))?;
                Some(Principal::Token { id, role, project })
            }
            Some((id, kind, _, Some(project), Some(environment)))
                if kind == "sdk" || kind == "client" =>
            {
                Some(Principal::Sdk {
                    id,
                    project,
                    environment,
                    client: kind == "client",
                })
            }
            Some((id, kind, ..)) => {
                return Err(StateError::Corrupt(format!(
                    "token {id} of kind \"{kind}\" is inconsistent"
                )));
            }
        };
        if let Ok(mut cache) = self.inner.tokens.write() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }

    // ---- projects ----

    /// Every project, sorted by key.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn projects(&self) -> Result<Vec<Project>, StateError> {
        let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT key, name, description, revision, created_at, updated_at FROM projects",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        let mut out = rows
            .into_iter()
            .map(project_row)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// One project.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn project(&self, key: &str) -> Result<Project, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_project(&mut conn, key).await
    }

    /// Creates a project with its environments (default [`ENVIRONMENTS`]), a key pair per
    /// environment (`keys/<project>/<env>`), and publishes version 1 of each.
    ///
    /// # Errors
    /// [`StateError::Field`] for bad keys, [`StateError::Conflict`] if it exists.
    pub async fn create_project(
        &self,
        actor: &str,
        input: &ProjectInput,
    ) -> Result<Written<Project>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let created = self
            .create_project_in(&mut w, actor, input, false, true)
            .await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(created.project),
            published: created.published,
        })
    }

    async fn create_project_in(
        &self,
        w: &mut Writer,
        actor: &str,
        input: &ProjectInput,
        top_level_keys: bool,
        publish: bool,
    ) -> Result<CreatedProject, StateError> {
        check_key("key", &input.key)?;
        let envs: Vec<EnvironmentInput> = input.environments.clone().unwrap_or_else(|| {
            ENVIRONMENTS
                .iter()
                .map(|e| EnvironmentInput {
                    key: (*e).to_owned(),
                    name: None,
                    protected: None,
                })
                .collect()
        });
        for (i, e) in envs.iter().enumerate() {
            check_key(&format!("environments[{i}].key"), &e.key)?;
            if envs.iter().filter(|o| o.key == e.key).count() > 1 {
                return Err(StateError::Field {
                    field: format!("environments[{i}].key"),
                    message: format!("environment \"{}\" is listed twice", e.key),
                });
            }
        }
        if load_project(w.conn(), &input.key).await?.is_some() {
            return Err(StateError::Conflict(format!(
                "project \"{}\" exists",
                input.key
            )));
        }
        let now = now_ms();
        let project = Project {
            key: input.key.clone(),
            name: input.name.clone().unwrap_or_else(|| input.key.clone()),
            description: input.description.clone().unwrap_or_default(),
            revision: 1,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO projects (key, name, description, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(&project.key)
        .bind(&project.name)
        .bind(&project.description)
        .bind(to_i64(now)?)
        .execute(w.conn())
        .await?;
        w.audit(
            now,
            actor,
            "project.create",
            Some(&project.key),
            None,
            &format!("project:{}", project.key),
            None,
            Some(to_json(&project)?),
        )
        .await?;
        let mut published = Vec::new();
        for e in &envs {
            let key_name = if top_level_keys {
                e.key.clone()
            } else {
                format!("{}/{}", project.key, e.key)
            };
            let env = self
                .insert_env(w, actor, &project.key, e, &key_name)
                .await?;
            if publish {
                published.push(
                    publish_env(
                        w,
                        &self.inner.keys_dir,
                        self.inner.snapshot_ttl_ms,
                        &project.key,
                        &env.key,
                        actor,
                        "environment.create",
                    )
                    .await?,
                );
            }
        }
        Ok(CreatedProject { project, published })
    }

    async fn insert_env(
        &self,
        w: &mut Writer,
        actor: &str,
        project: &str,
        e: &EnvironmentInput,
        key_name: &str,
    ) -> Result<Environment, StateError> {
        let now = now_ms();
        let key_id = keys::load_or_create(&self.inner.keys_dir, key_name)?;
        tracing::info!(project, environment = %e.key, %key_id, "environment signing key ready");
        let salt = hex::encode(keys::random_bytes::<16>()?);
        let protected = e.protected.unwrap_or(e.key == "production");
        let env = Environment {
            project: project.to_owned(),
            key: e.key.clone(),
            name: e.name.clone().unwrap_or_else(|| e.key.clone()),
            protected,
            salt,
            revision: 1,
            created_at: now,
            updated_at: now,
            latest_version: 0,
        };
        sqlx::query(
            "INSERT INTO environments (project, key, name, salt, key_name, protected, revision, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(project)
        .bind(&env.key)
        .bind(&env.name)
        .bind(&env.salt)
        .bind(key_name)
        .bind(i64::from(protected))
        .bind(to_i64(now)?)
        .execute(w.conn())
        .await?;
        // Every existing flag starts disabled in the new environment.
        let now_db = to_i64(now)?;
        for flag in load_flag_rows(w.conn(), project, None).await? {
            upsert_targeting(
                w.conn(),
                project,
                &env.key,
                &flag.key,
                &Targeting::initial(&flag.spec),
                now_db,
            )
            .await?;
        }
        w.audit(
            now,
            actor,
            "environment.create",
            Some(project),
            Some(&env.key),
            &format!("environment:{}", env.key),
            None,
            Some(to_json(&env)?),
        )
        .await?;
        Ok(env)
    }

    /// Updates a project's name and description.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`].
    pub async fn update_project(
        &self,
        actor: &str,
        key: &str,
        expected: Option<u64>,
        input: &ProjectUpdate,
    ) -> Result<Written<Project>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let before = require_project(w.conn(), key).await?;
        check_revision("project", before.revision, expected)?;
        let now = now_ms();
        let after = Project {
            name: input.name.clone(),
            description: input.description.clone(),
            revision: before.revision + 1,
            updated_at: now,
            ..before.clone()
        };
        sqlx::query(
            "UPDATE projects SET name = $1, description = $2, revision = $3, updated_at = $4 \
             WHERE key = $5",
        )
        .bind(&after.name)
        .bind(&after.description)
        .bind(to_i64(after.revision)?)
        .bind(to_i64(now)?)
        .bind(key)
        .execute(w.conn())
        .await?;
        w.audit(
            now,
            actor,
            "project.update",
            Some(key),
            None,
            &format!("project:{key}"),
            Some(to_json(&before)?),
            Some(to_json(&after)?),
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(after),
            published: Vec::new(),
        })
    }

    /// Deletes a project: its environments, flags, targeting and segments, and revokes its
    /// tokens. Published snapshots and the audit log are kept.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`].
    pub async fn delete_project(
        &self,
        actor: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<Project>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let before = require_project(w.conn(), key).await?;
        check_revision("project", before.revision, expected)?;
        let now = now_ms();
        for sql in [
            "DELETE FROM flag_targeting WHERE project = $1",
            "DELETE FROM segments WHERE project = $1",
            "DELETE FROM flags WHERE project = $1",
            "DELETE FROM environments WHERE project = $1",
            "DELETE FROM projects WHERE key = $1",
        ] {
            sqlx::query(sql).bind(key).execute(w.conn()).await?;
        }
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE project = $2 AND revoked_at IS NULL")
            .bind(to_i64(now)?)
            .bind(key)
            .execute(w.conn())
            .await?;
        w.audit(
            now,
            actor,
            "project.delete",
            Some(key),
            None,
            &format!("project:{key}"),
            Some(to_json(&before)?),
            None,
        )
        .await?;
        self.commit(w).await?;
        self.forget_tokens();
        Ok(Written {
            item: None,
            published: Vec::new(),
        })
    }

    fn forget_tokens(&self) {
        if let Ok(mut cache) = self.inner.tokens.write() {
            cache.clear();
        }
    }

    // ---- environments ----

    async fn environment_of(&self, row: EnvRow) -> Result<Environment, StateError> {
        let latest = self.latest_snapshot(&row.project, &row.key).await?;
        Ok(Environment {
            project: row.project,
            key: row.key,
            name: row.name,
            protected: row.protected,
            salt: row.salt,
            revision: row.revision,
            created_at: row.created_at,
            updated_at: row.updated_at,
            latest_version: latest.map_or(0, |s| s.version),
        })
    }

    /// The environments of a project, sorted by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn environments(&self, project: &str) -> Result<Vec<Environment>, StateError> {
        let rows: Vec<EnvTuple> = {
            let mut conn = self.inner.store.pool.acquire().await?;
            require_project(&mut conn, project).await?;
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ENV_COLUMNS} FROM environments WHERE project = $1"
            )))
            .bind(project)
            .fetch_all(&mut *conn)
            .await?
        };
        let mut out = Vec::new();
        for t in rows {
            out.push(self.environment_of(env_row(t)?).await?);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// One environment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn environment(&self, project: &str, env: &str) -> Result<Environment, StateError> {
        let row = {
            let mut conn = self.inner.store.pool.acquire().await?;
            require_env(&mut conn, project, env).await?
        };
        self.environment_of(row).await
    }

    /// Creates an environment (key pair `keys/<project>/<env>`, every flag disabled) and
    /// publishes its first version (continuing the numbering if the environment existed
    /// before and was deleted).
    ///
    /// # Errors
    /// [`StateError::Field`], [`StateError::Conflict`], [`StateError::NotFound`].
    pub async fn create_environment(
        &self,
        actor: &str,
        project: &str,
        input: &EnvironmentInput,
    ) -> Result<Written<Environment>, StateError> {
        check_key("key", &input.key)?;
        let mut w = Writer::begin(&self.inner.store).await?;
        require_project(w.conn(), project).await?;
        if load_env(w.conn(), project, &input.key).await?.is_some() {
            return Err(StateError::Conflict(format!(
                "project \"{project}\" has an environment \"{}\"",
                input.key
            )));
        }
        // The first project's keys live at the top of keys/ (see the module docs).
        let first: Option<String> =
            sqlx::query_scalar("SELECT key_name FROM environments WHERE project = $1 LIMIT 1")
                .bind(project)
                .fetch_optional(w.conn())
                .await?;
        let key_name = match first {
            Some(name) if !name.contains('/') => input.key.clone(),
            _ => format!("{project}/{}", input.key),
        };
        self.insert_env(&mut w, actor, project, input, &key_name)
            .await?;
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            &input.key,
            actor,
            "environment.create",
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(self.environment(project, &input.key).await?),
            published: vec![published],
        })
    }

    /// Updates an environment's name and protection.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`].
    pub async fn update_environment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        expected: Option<u64>,
        input: &EnvironmentUpdate,
    ) -> Result<Written<Environment>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let row = require_env(w.conn(), project, env).await?;
        check_revision("environment", row.revision, expected)?;
        let before = self.environment_of(row).await?;
        let now = now_ms();
        let after = Environment {
            name: input.name.clone(),
            protected: input.protected,
            revision: before.revision + 1,
            updated_at: now,
            ..before.clone()
        };
        sqlx::query(
            "UPDATE environments SET name = $1, protected = $2, revision = $3, updated_at = $4 \
             WHERE project = $5 AND key = $6",
        )
        .bind(&after.name)
        .bind(i64::from(after.protected))
        .bind(to_i64(after.revision)?)
        .bind(to_i64(now)?)
        .bind(project)
        .bind(env)
        .execute(w.conn())
        .await?;
        w.audit(
            now,
            actor,
            "environment.update",
            Some(project),
            Some(env),
            &format!("environment:{env}"),
            Some(to_json(&before)?),
            Some(to_json(&after)?),
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(after),
            published: Vec::new(),
        })
    }

    /// Deletes an environment with its targeting and segments; revokes its SDK keys. Its
    /// snapshots stay (versions are never reused) and its key files stay on disk.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`].
    pub async fn delete_environment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        expected: Option<u64>,
    ) -> Result<Written<Environment>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let row = require_env(w.conn(), project, env).await?;
        check_revision("environment", row.revision, expected)?;
        let before = self.environment_of(row).await?;
        let now = now_ms();
        for sql in [
            "DELETE FROM flag_targeting WHERE project = $1 AND environment = $2",
            "DELETE FROM segments WHERE project = $1 AND environment = $2",
            "DELETE FROM environments WHERE project = $1 AND key = $2",
        ] {
            sqlx::query(sql)
                .bind(project)
                .bind(env)
                .execute(w.conn())
                .await?;
        }
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE project = $2 AND environment = $3 \
             AND revoked_at IS NULL",
        )
        .bind(to_i64(now)?)
        .bind(project)
        .bind(env)
        .execute(w.conn())
        .await?;
        w.audit(
            now,
            actor,
            "environment.delete",
            Some(project),
            Some(env),
            &format!("environment:{env}"),
            Some(to_json(&before)?),
            None,
        )
        .await?;
        self.commit(w).await?;
        self.forget_tokens();
        if let Ok(mut cache) = self.inner.latest.write() {
            cache.remove(&(project.to_owned(), env.to_owned()));
        }
        Ok(Written {
            item: None,
            published: Vec::new(),
        })
    }

    /// The signing key's file name of an environment (see [`crate::keys`]).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn key_name(&self, project: &str, env: &str) -> Result<String, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        Ok(require_env(&mut conn, project, env).await?.key_name)
    }

    /// Whether the environment is protected (writes need `publisher`): its `protected`
    /// column is not 0.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`], [`StateError::Corrupt`]. Callers deciding
    /// a permission must treat every error as a denial, never as "not protected".
    pub async fn is_protected(&self, project: &str, env: &str) -> Result<bool, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        Ok(require_env(&mut conn, project, env).await?.protected)
    }

    /// Whether any environment of the project is protected (`protected` not 0: the same
    /// reading as [`AppState::is_protected`], so a value other than 0 and 1 restored from a
    /// backup still counts as protected).
    ///
    /// # Errors
    /// [`StateError::NotFound`] for an unknown project, [`StateError::Db`]. Callers deciding
    /// a permission must treat every error as a denial.
    pub async fn has_protected(&self, project: &str) -> Result<bool, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_project(&mut conn, project).await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM environments WHERE project = $1 AND protected <> 0",
        )
        .bind(project)
        .fetch_one(&mut *conn)
        .await?;
        Ok(n > 0)
    }

    /// Every `(project, environment)` whose key is `env`, sorted.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn projects_with_environment(&self, env: &str) -> Result<Vec<String>, StateError> {
        let mut rows: Vec<String> =
            sqlx::query_scalar("SELECT project FROM environments WHERE key = $1")
                .bind(env)
                .fetch_all(&self.inner.store.pool)
                .await?;
        rows.sort();
        Ok(rows)
    }

    // ---- flags ----

    /// The flags of a project matching `filter`, sorted by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn list_flags(
        &self,
        project: &str,
        filter: &FlagFilter,
    ) -> Result<Vec<Flag>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_project(&mut conn, project).await?;
        let rows = load_flag_rows(&mut conn, project, None).await?;
        let targeting = load_targeting(&mut conn, project).await?;
        let q = filter.q.as_ref().map(|q| q.to_lowercase());
        Ok(rows
            .into_iter()
            .filter(|f| filter.tag.as_ref().is_none_or(|t| f.spec.tags.contains(t)))
            .filter(|f| filter.owner.as_ref().is_none_or(|o| f.spec.owner == *o))
            .filter(|f| {
                filter
                    .value_type
                    .as_ref()
                    .is_none_or(|t| f.spec.value_type.as_str() == t)
            })
            .filter(|f| {
                q.as_ref().is_none_or(|q| {
                    f.key.to_lowercase().contains(q)
                        || f.spec.description.to_lowercase().contains(q)
                })
            })
            .map(|f| assemble_flag(f, &targeting))
            .collect())
    }

    /// One flag with its targeting in every environment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn flag(&self, project: &str, key: &str) -> Result<Flag, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        self.flag_in(&mut conn, project, key).await
    }

    async fn flag_in(
        &self,
        conn: &mut AnyConnection,
        project: &str,
        key: &str,
    ) -> Result<Flag, StateError> {
        require_project(conn, project).await?;
        let row = load_flag_rows(conn, project, Some(key))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StateError::NotFound(format!("project \"{project}\" has no flag \"{key}\""))
            })?;
        let targeting = load_targeting(conn, project).await?;
        Ok(assemble_flag(row, &targeting))
    }

    async fn publish_all(
        &self,
        w: &mut Writer,
        project: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<Published>, StateError> {
        let mut out = Vec::new();
        for env in env_keys(w.conn(), project).await? {
            out.push(
                publish_env(
                    w,
                    &self.inner.keys_dir,
                    self.inner.snapshot_ttl_ms,
                    project,
                    &env,
                    actor,
                    reason,
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// Creates a flag (targeting from `input.environments`, [`Targeting::initial`] — OFF,
    /// serving the off variant — elsewhere) and publishes every environment of the project.
    /// The caller must hold the role of every environment of the project (the API asks for
    /// `publisher` when any is protected), since every one of them gets a new version.
    ///
    /// # Errors
    /// [`StateError::Field`] (key, schema, unknown environment), [`StateError::Conflict`],
    /// [`StateError::Invalid`] (the core refuses a resulting snapshot), [`StateError::NotFound`].
    pub async fn create_flag(
        &self,
        actor: &str,
        project: &str,
        input: &FlagInput,
    ) -> Result<Written<Flag>, StateError> {
        check_name("key", &input.key, 128, true)?;
        let spec = input.spec();
        check_schema(&spec)?;
        let mut w = Writer::begin(&self.inner.store).await?;
        require_project(w.conn(), project).await?;
        let envs = env_keys(w.conn(), project).await?;
        if let Some(unknown) = input.environments.keys().find(|e| !envs.contains(e)) {
            return Err(StateError::Field {
                field: format!("environments.{unknown}"),
                message: format!("project \"{project}\" has no environment \"{unknown}\""),
            });
        }
        if !load_flag_rows(w.conn(), project, Some(&input.key))
            .await?
            .is_empty()
        {
            return Err(StateError::Conflict(format!(
                "project \"{project}\" has a flag \"{}\"",
                input.key
            )));
        }
        let now = now_ms();
        let now_db = to_i64(now)?;
        sqlx::query(
            "INSERT INTO flags (project, key, definition, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(project)
        .bind(&input.key)
        .bind(to_json(&spec)?)
        .bind(now_db)
        .execute(w.conn())
        .await?;
        for env in &envs {
            let t = input
                .environments
                .get(env)
                .cloned()
                .unwrap_or_else(|| Targeting::initial(&spec));
            upsert_targeting(w.conn(), project, env, &input.key, &t, now_db).await?;
        }
        let after = self.flag_in(w.conn(), project, &input.key).await?;
        w.audit(
            now,
            actor,
            "flag.create",
            Some(project),
            None,
            &format!("flag:{}", input.key),
            None,
            Some(to_json(&after)?),
        )
        .await?;
        let reason = format!("flag.create {}", input.key);
        let published = self.publish_all(&mut w, project, actor, &reason).await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(after),
            published,
        })
    }

    /// Replaces a flag's project-wide definition and publishes every environment.
    ///
    /// # Errors
    /// As [`AppState::create_flag`], plus [`StateError::Stale`].
    pub async fn update_flag(
        &self,
        actor: &str,
        project: &str,
        key: &str,
        expected: Option<u64>,
        spec: &FlagSpec,
    ) -> Result<Written<Flag>, StateError> {
        check_schema(spec)?;
        let mut w = Writer::begin(&self.inner.store).await?;
        let before = self.flag_in(w.conn(), project, key).await?;
        check_revision("flag", before.revision, expected)?;
        let now = now_ms();
        sqlx::query(
            "UPDATE flags SET definition = $1, revision = revision + 1, updated_at = $2 \
             WHERE project = $3 AND key = $4",
        )
        .bind(to_json(spec)?)
        .bind(to_i64(now)?)
        .bind(project)
        .bind(key)
        .execute(w.conn())
        .await?;
        let after = self.flag_in(w.conn(), project, key).await?;
        w.audit(
            now,
            actor,
            "flag.update",
            Some(project),
            None,
            &format!("flag:{key}"),
            Some(to_json(&before)?),
            Some(to_json(&after)?),
        )
        .await?;
        let published = self
            .publish_all(&mut w, project, actor, &format!("flag.update {key}"))
            .await?;
        self.commit(w).await?;
        Ok(Written {
            item: Some(after),
            published,
        })
    }

    /// Deletes a flag everywhere and publishes every environment (422 if another flag still
    /// names it as a prerequisite).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn delete_flag(
        &self,
        actor: &str,
        project: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<Flag>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let before = self.flag_in(w.conn(), project, key).await?;
        check_revision("flag", before.revision, expected)?;
        let now = now_ms();
        sqlx::query("DELETE FROM flag_targeting WHERE project = $1 AND flag = $2")
            .bind(project)
            .bind(key)
            .execute(w.conn())
            .await?;
        sqlx::query("DELETE FROM flags WHERE project = $1 AND key = $2")
            .bind(project)
            .bind(key)
            .execute(w.conn())
            .await?;
        w.audit(
            now,
            actor,
            "flag.delete",
            Some(project),
            None,
            &format!("flag:{key}"),
            Some(to_json(&before)?),
            None,
        )
        .await?;
        let published = self
            .publish_all(&mut w, project, actor, &format!("flag.delete {key}"))
            .await?;
        self.commit(w).await?;
        Ok(Written {
            item: None,
            published,
        })
    }

    /// The analysis configuration of `flag` as an experiment in `env`: its
    /// [`crate::analysis::experiment::ExperimentSpec`] and the variant weights of the rollout it
    /// names in that environment's targeting.
    ///
    /// # Errors
    /// [`StateError::NotFound`] for an unknown project, environment or flag, or a flag that is
    /// not an experiment; [`StateError::Conflict`] when the named rule (or the default) does not
    /// serve a rollout in `env`; [`StateError::Db`].
    pub async fn experiment_config(
        &self,
        project: &str,
        env: &str,
        flag: &str,
    ) -> Result<crate::analysis::experiment::ExperimentConfig, StateError> {
        let f = self.flag(project, flag).await?;
        let spec = f.spec.experiment.as_ref().ok_or_else(|| {
            StateError::NotFound(format!("flag \"{flag}\" is not marked as an experiment"))
        })?;
        let t = f.environments.get(env).ok_or_else(|| {
            StateError::NotFound(format!(
                "project \"{project}\" has no environment \"{env}\""
            ))
        })?;
        let serve = match &spec.rule_id {
            None => Some(&t.targeting.default),
            Some(id) => t
                .targeting
                .rules
                .iter()
                .find(|r| &r.id == id)
                .map(|r| &r.serve),
        };
        match serve {
            Some(burgee_core::model::ServeDef::Rollout(r)) => Ok(spec.config(flag, &r.weights)),
            _ => Err(StateError::Conflict(format!(
                "in \"{env}\", {} of flag \"{flag}\" does not serve a rollout",
                spec.rule_id
                    .as_deref()
                    .map_or_else(|| "the default".to_owned(), |id| format!("rule \"{id}\""))
            ))),
        }
    }

    /// One flag's targeting in one environment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn targeting(
        &self,
        project: &str,
        env: &str,
        key: &str,
    ) -> Result<EnvironmentTargeting, StateError> {
        let flag = self.flag(project, key).await?;
        flag.environments.get(env).cloned().ok_or_else(|| {
            StateError::NotFound(format!(
                "project \"{project}\" has no environment \"{env}\""
            ))
        })
    }

    /// Replaces a flag's targeting in one environment and publishes that environment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn put_targeting(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        key: &str,
        expected: Option<u64>,
        targeting: &Targeting,
    ) -> Result<Written<EnvironmentTargeting>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        require_env(w.conn(), project, env).await?;
        let flag = self.flag_in(w.conn(), project, key).await?;
        let before = flag.environments.get(env).cloned();
        check_revision(
            "targeting",
            before.as_ref().map_or(0, |b| b.revision),
            expected,
        )?;
        let now = now_ms();
        upsert_targeting(w.conn(), project, env, key, targeting, to_i64(now)?).await?;
        let after = self
            .flag_in(w.conn(), project, key)
            .await?
            .environments
            .get(env)
            .cloned();
        w.audit(
            now,
            actor,
            "targeting.update",
            Some(project),
            Some(env),
            &format!("flag:{key}"),
            before.as_ref().map(to_json).transpose()?,
            after.as_ref().map(to_json).transpose()?,
        )
        .await?;
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            env,
            actor,
            &format!("targeting.update {key}"),
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: after,
            published: vec![published],
        })
    }

    // ---- segments ----

    /// The segments of one environment, sorted by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn segments(&self, project: &str, env: &str) -> Result<Vec<Segment>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        load_segments(&mut conn, project, env).await
    }

    /// One segment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn segment(
        &self,
        project: &str,
        env: &str,
        key: &str,
    ) -> Result<Segment, StateError> {
        self.segments(project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == key)
            .ok_or_else(|| {
                StateError::NotFound(format!(
                    "environment \"{project}/{env}\" has no segment \"{key}\""
                ))
            })
    }

    /// Creates (`create` = true: refuses an existing key) or replaces a segment and
    /// publishes the environment.
    ///
    /// # Errors
    /// [`StateError::Field`], [`StateError::Conflict`], [`StateError::NotFound`],
    /// [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn put_segment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        def: &SegmentDef,
        create: bool,
        expected: Option<u64>,
    ) -> Result<Written<Segment>, StateError> {
        check_name("key", &def.key, 128, true)?;
        let mut w = Writer::begin(&self.inner.store).await?;
        require_env(w.conn(), project, env).await?;
        let before = load_segments(w.conn(), project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == def.key);
        match (&before, create) {
            (Some(_), true) => {
                return Err(StateError::Conflict(format!(
                    "environment \"{project}/{env}\" has a segment \"{}\"",
                    def.key
                )));
            }
            (None, false) => {
                return Err(StateError::NotFound(format!(
                    "environment \"{project}/{env}\" has no segment \"{}\"",
                    def.key
                )));
            }
            (Some(b), false) => check_revision("segment", b.revision, expected)?,
            (None, true) => {}
        }
        let now = now_ms();
        upsert_segment(w.conn(), project, env, def, to_i64(now)?).await?;
        let after = load_segments(w.conn(), project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == def.key);
        let action = if create {
            "segment.create"
        } else {
            "segment.update"
        };
        w.audit(
            now,
            actor,
            action,
            Some(project),
            Some(env),
            &format!("segment:{}", def.key),
            before.as_ref().map(to_json).transpose()?,
            after.as_ref().map(to_json).transpose()?,
        )
        .await?;
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            env,
            actor,
            &format!("{action} {}", def.key),
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: after,
            published: vec![published],
        })
    }

    /// Deletes a segment and publishes the environment (422 if a rule still uses it).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn delete_segment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<Segment>, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        require_env(w.conn(), project, env).await?;
        let before = load_segments(w.conn(), project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == key)
            .ok_or_else(|| {
                StateError::NotFound(format!(
                    "environment \"{project}/{env}\" has no segment \"{key}\""
                ))
            })?;
        check_revision("segment", before.revision, expected)?;
        let now = now_ms();
        sqlx::query("DELETE FROM segments WHERE project = $1 AND environment = $2 AND key = $3")
            .bind(project)
            .bind(env)
            .bind(key)
            .execute(w.conn())
            .await?;
        w.audit(
            now,
            actor,
            "segment.delete",
            Some(project),
            Some(env),
            &format!("segment:{key}"),
            Some(to_json(&before)?),
            None,
        )
        .await?;
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            env,
            actor,
            &format!("segment.delete {key}"),
        )
        .await?;
        self.commit(w).await?;
        Ok(Written {
            item: None,
            published: vec![published],
        })
    }

    // ---- versions ----

    /// Published versions of an environment, newest first: at most `limit`, below `before`
    /// when given.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn versions(
        &self,
        project: &str,
        env: &str,
        before: Option<u64>,
        limit: u64,
    ) -> Result<Vec<VersionInfo>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        let rows: Vec<(i64, String, i64, i64, String, String)> = sqlx::query_as(
            "SELECT version, digest, issued_at, expires_at, published_by, reason FROM snapshots \
             WHERE project = $1 AND environment = $2 AND version < $3 \
             ORDER BY version DESC LIMIT $4",
        )
        .bind(project)
        .bind(env)
        .bind(clamp_i64(before.unwrap_or(u64::MAX)))
        .bind(to_i64(limit)?)
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|(v, digest, issued, expires, by, reason)| {
                Ok(VersionInfo {
                    version: to_u64(v)?,
                    digest,
                    issued_at: to_u64(issued)?,
                    expires_at: to_u64(expires)?,
                    published_by: by,
                    reason,
                })
            })
            .collect()
    }

    /// One stored version (its envelope exactly as it was served).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn version(
        &self,
        project: &str,
        env: &str,
        version: u64,
    ) -> Result<StoredSnapshot, StateError> {
        let row: Option<SnapshotTuple> = sqlx::query_as(
            "SELECT project, environment, version, digest, envelope, issued_at, expires_at, \
             client_digest, client_envelope FROM snapshots \
             WHERE project = $1 AND environment = $2 AND version = $3",
        )
        .bind(project)
        .bind(env)
        .bind(clamp_i64(version))
        .fetch_optional(&self.inner.store.pool)
        .await?;
        row.map(snapshot_row).transpose()?.ok_or_else(|| {
            StateError::NotFound(format!(
                "environment \"{project}/{env}\" has no version {version}"
            ))
        })
    }

    /// Which flags and segments differ between two versions, and in which fields.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Corrupt`].
    pub async fn diff(
        &self,
        project: &str,
        env: &str,
        from: u64,
        to: u64,
    ) -> Result<Diff, StateError> {
        let a = envelope_document(&self.version(project, env, from).await?.envelope)?;
        let b = envelope_document(&self.version(project, env, to).await?.envelope)?;
        let mut changes = Vec::new();
        let flags = |d: &SnapshotDef| -> Vec<(String, FlagDef)> {
            d.flags.iter().map(|f| (f.key.clone(), f.clone())).collect()
        };
        let segments = |d: &SnapshotDef| -> Vec<(String, SegmentDef)> {
            d.segments
                .iter()
                .map(|s| (s.key.clone(), s.clone()))
                .collect()
        };
        diff_items("flag", &flags(&a), &flags(&b), &mut changes)?;
        diff_items("segment", &segments(&a), &segments(&b), &mut changes)?;
        Ok(Diff { from, to, changes })
    }

    /// Rolls an environment back to version `to`: its targeting and segments are restored
    /// from that version and published as a new version. Flags created since then are
    /// switched off in this environment; project-wide definitions (variants, metadata) stay
    /// current.
    ///
    /// # Errors
    /// [`StateError::NotFound`]; [`StateError::Conflict`] if a flag of that version no longer
    /// exists or has another type or other variants now; [`StateError::Invalid`].
    pub async fn rollback(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        to: u64,
    ) -> Result<Written<VersionInfo>, StateError> {
        let old = envelope_document(&self.version(project, env, to).await?.envelope)?;
        let mut w = Writer::begin(&self.inner.store).await?;
        require_env(w.conn(), project, env).await?;
        let current = load_flag_rows(w.conn(), project, None).await?;
        let now = now_ms();
        let now_db = to_i64(now)?;
        for def in &old.flags {
            let Some(row) = current.iter().find(|f| f.key == def.key) else {
                return Err(StateError::Conflict(format!(
                    "flag \"{}\" of version {to} no longer exists; recreate it first",
                    def.key
                )));
            };
            if row.spec.value_type != def.value_type || row.spec.variants != def.variants {
                return Err(StateError::Conflict(format!(
                    "flag \"{}\" has another type or other variants than in version {to}",
                    def.key
                )));
            }
            upsert_targeting(
                w.conn(),
                project,
                env,
                &def.key,
                &Targeting::from_def(def),
                now_db,
            )
            .await?;
        }
        let targeting = load_targeting(w.conn(), project).await?;
        for row in current
            .iter()
            .filter(|f| !old.flags.iter().any(|d| d.key == f.key))
        {
            let mut t = targeting
                .get(&(env.to_owned(), row.key.clone()))
                .map_or_else(|| Targeting::initial(&row.spec), |t| t.targeting.clone());
            t.enabled = false;
            upsert_targeting(w.conn(), project, env, &row.key, &t, now_db).await?;
        }
        sqlx::query("DELETE FROM segments WHERE project = $1 AND environment = $2")
            .bind(project)
            .bind(env)
            .execute(w.conn())
            .await?;
        for seg in &old.segments {
            upsert_segment(w.conn(), project, env, seg, now_db).await?;
        }
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            env,
            actor,
            &format!("rollback to {to}"),
        )
        .await?;
        w.audit(
            now,
            actor,
            "rollback",
            Some(project),
            Some(env),
            &format!("environment:{env}"),
            None,
            Some(format!(
                "{{\"to\":{to},\"published\":{}}}",
                published.version
            )),
        )
        .await?;
        self.commit(w).await?;
        let info = self
            .versions(project, env, Some(published.version + 1), 1)
            .await?
            .into_iter()
            .next();
        Ok(Written {
            item: info,
            published: vec![published],
        })
    }

    /// Re-publishes (same content, new version) every environment whose latest snapshot has
    /// less than half of its lifetime left at `now` (ms since epoch), so a live server never
    /// serves an expired snapshot. Returns what was published, sorted by project and
    /// environment.
    ///
    /// Environments are handled one at a time, each in its own transaction: one that cannot
    /// be re-signed (its signing key unreadable or corrupt, a snapshot the core or the size
    /// limit refuses, ...) is logged (`error`, with project and environment), counted in
    /// `burgee_resign_failures_total` and skipped; the others are re-signed regardless. An
    /// environment whose latest stored snapshot cannot be decoded is counted and logged too,
    /// and re-signed (the new version replaces the unreadable one).
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of environments cannot be read.
    pub async fn republish_due(&self, now: u64) -> Result<Vec<Published>, StateError> {
        let mut envs: Vec<(String, String)> =
            sqlx::query_as("SELECT project, key FROM environments")
                .fetch_all(&self.inner.store.pool)
                .await?;
        envs.sort();
        let mut done = Vec::new();
        for (project, env) in envs {
            let latest = self.load_latest(&project, &env).await;
            let due = match &latest {
                Ok(Some(s)) => {
                    let lifetime = s.expires_at.saturating_sub(s.issued_at);
                    s.expires_at.saturating_sub(now) < lifetime / 2
                }
                // Nothing published yet, or unreadable: a new version is what is needed.
                Ok(None) | Err(_) => true,
            };
            if !due {
                continue;
            }
            let published = self.republish(&project, &env, "system", "re-sign").await;
            match (latest, published) {
                (Ok(_), Ok(p)) => done.push(p),
                (Err(read), Ok(p)) => {
                    self.inner.metrics.resign_failures.inc();
                    tracing::warn!(
                        project = %project,
                        environment = %env,
                        error = %read,
                        version = p.version,
                        "the latest stored snapshot is unreadable; re-signed the current content \
                         as a new version"
                    );
                    done.push(p);
                }
                (_, Err(e)) => {
                    self.inner.metrics.resign_failures.inc();
                    tracing::error!(
                        project = %project,
                        environment = %env,
                        error = %e,
                        "re-signing failed; this environment keeps its current snapshot, the \
                         others are re-signed"
                    );
                }
            }
        }
        Ok(done)
    }

    /// Publishes the current content of one environment under a new version (e.g. after a
    /// key rotation).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Key`], [`StateError::Db`].
    pub async fn republish(
        &self,
        project: &str,
        env: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Published, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let published = publish_env(
            &mut w,
            &self.inner.keys_dir,
            self.inner.snapshot_ttl_ms,
            project,
            env,
            actor,
            reason,
        )
        .await?;
        self.commit(w).await?;
        Ok(published)
    }

    /// Refreshes every environment whose newest stored version is above the cached one (a
    /// publish by another process: a CLI command next to a SQLite server, or a replica whose
    /// notification was missed). Returns how many were refreshed.
    ///
    /// Environments are handled one at a time: one whose newest snapshot cannot be loaded is
    /// logged (`warn`, with project and environment; once per version), counted in
    /// `burgee_refresh_failures_total` and keeps its cached snapshot; the others are
    /// refreshed regardless.
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of stored versions cannot be read.
    pub async fn refresh_changed(&self) -> Result<usize, StateError> {
        self.refresh_where(|cached, _newest| cached.is_some()).await
    }

    /// Reloads the newest stored snapshot of every environment into the latest cache and
    /// sends those newer than the cached ones to the SSE streams (after a replica's
    /// notification connection was lost, or whenever everything must be current). Returns
    /// how many were reloaded. One environment failing is handled as in
    /// [`AppState::refresh_changed`].
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of stored versions cannot be read.
    pub async fn refresh_all(&self) -> Result<usize, StateError> {
        self.refresh_where(|_cached, _newest| true).await
    }

    /// Calls [`AppState::refresh_latest`] for every environment with stored snapshots whose
    /// newest version is above the cached one (or not cached) and for which
    /// `wanted(cached version, newest version)` holds, one environment at a time.
    async fn refresh_where(
        &self,
        wanted: impl Fn(Option<u64>, u64) -> bool,
    ) -> Result<usize, StateError> {
        let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT project, environment, MAX(version) FROM snapshots \
             GROUP BY project, environment",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        rows.sort();
        let mut refreshed = 0;
        for (project, env, max) in rows {
            let key = (project, env);
            let cached = self
                .inner
                .latest
                .read()
                .ok()
                .and_then(|c| c.get(&key).map(|s| s.version));
            let newest = u64::try_from(max).unwrap_or(0);
            // Only environments someone has read or streamed are cached by refresh_changed;
            // others load on demand.
            if cached.is_some_and(|v| v >= newest) || !wanted(cached, newest) {
                continue;
            }
            let (project, env) = &key;
            match self.refresh_latest(project, env).await {
                Ok(()) => {
                    refreshed += 1;
                    if let Ok(mut failed) = self.inner.refresh_failed.write() {
                        failed.remove(&key);
                    }
                }
                Err(e) => {
                    self.inner.metrics.refresh_failures.inc();
                    let first = match self.inner.refresh_failed.write() {
                        Ok(mut failed) => failed.insert(key.clone(), newest) != Some(newest),
                        Err(_) => true,
                    };
                    if first {
                        tracing::warn!(
                            project = %project,
                            environment = %env,
                            version = newest,
                            error = %e,
                            "loading the newest snapshot failed; this environment keeps serving \
                             its cached one"
                        );
                    }
                }
            }
        }
        Ok(refreshed)
    }

    /// The latest snapshot of every environment, sorted by project and environment.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn all_latest(&self) -> Result<Vec<Arc<StoredSnapshot>>, StateError> {
        let mut envs: Vec<(String, String)> =
            sqlx::query_as("SELECT project, key FROM environments")
                .fetch_all(&self.inner.store.pool)
                .await?;
        envs.sort();
        let mut out = Vec::new();
        for (project, env) in envs {
            if let Some(s) = self.latest_snapshot(&project, &env).await? {
                out.push(s);
            }
        }
        Ok(out)
    }

    // ---- tokens ----

    /// Creates an admin token (with a role, optionally scoped to a project) or an SDK key
    /// (for one environment). The plaintext is in the result only.
    ///
    /// # Errors
    /// [`StateError::Field`] for an inconsistent input, [`StateError::NotFound`].
    pub async fn create_token(
        &self,
        actor: &str,
        input: &TokenInput,
    ) -> Result<CreatedToken, StateError> {
        let field = |field: &str, message: &str| StateError::Field {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        let mut w = Writer::begin(&self.inner.store).await?;
        match input.kind.as_str() {
            "admin" => {
                if input.role.is_none() {
                    return Err(field("role", "admin tokens need a role"));
                }
                if input.environment.is_some() {
                    return Err(field("environment", "admin tokens are not per environment"));
                }
                if let Some(p) = &input.project {
                    require_project(w.conn(), p).await?;
                }
            }
            "sdk" | "client" => {
                if input.role.is_some() {
                    return Err(field("role", "SDK keys have no role"));
                }
                let (Some(p), Some(e)) = (&input.project, &input.environment) else {
                    return Err(field(
                        "environment",
                        "SDK keys need a project and an environment",
                    ));
                };
                require_env(w.conn(), p, e).await?;
            }
            other => {
                return Err(field(
                    "kind",
                    &format!("must be \"admin\", \"sdk\" or \"client\" (got {other:?})"),
                ));
            }
        }
        let now = now_ms();
        let created = insert_token(w.conn(), input, actor, now).await?;
        w.audit(
            now,
            actor,
            "token.create",
            input.project.as_deref(),
            input.environment.as_deref(),
            &format!("token:{}", created.info.id),
            None,
            Some(to_json(&created.info)?),
        )
        .await?;
        self.commit(w).await?;
        Ok(created)
    }

    /// Every token (never the secrets), newest first; only those of `project` when given.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn tokens(&self, project: Option<&str>) -> Result<Vec<TokenInfo>, StateError> {
        let rows: Vec<TokenTuple> = sqlx::query_as(
            "SELECT id, kind, name, role, project, environment, created_at, created_by, \
             revoked_at FROM tokens ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        let all = rows
            .into_iter()
            .map(token_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(all
            .into_iter()
            .filter(|t| project.is_none() || t.project.as_deref() == project)
            .collect())
    }

    /// Revokes a token by id (effective within [`TOKEN_CACHE_TTL`] on other replicas,
    /// at once on this one).
    ///
    /// # Errors
    /// [`StateError::NotFound`].
    pub async fn revoke_token(&self, actor: &str, id: &str) -> Result<TokenInfo, StateError> {
        let mut w = Writer::begin(&self.inner.store).await?;
        let row: Option<TokenTuple> = sqlx::query_as(
            "SELECT id, kind, name, role, project, environment, created_at, created_by, \
             revoked_at FROM tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(w.conn())
        .await?;
        let before = row
            .map(token_row)
            .transpose()?
            .ok_or_else(|| StateError::NotFound(format!("no token \"{id}\"")))?;
        let now = now_ms();
        let after = TokenInfo {
            revoked_at: Some(before.revoked_at.unwrap_or(now)),
            ..before.clone()
        };
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
            .bind(after.revoked_at.map(to_i64).transpose()?)
            .bind(id)
            .execute(w.conn())
            .await?;
        w.audit(
            now,
            actor,
            "token.revoke",
            before.project.as_deref(),
            before.environment.as_deref(),
            &format!("token:{id}"),
            Some(to_json(&before)?),
            Some(to_json(&after)?),
        )
        .await?;
        self.commit(w).await?;
        self.forget_tokens();
        Ok(after)
    }

    // ---- audit ----

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
        let mut query = sqlx::query_as::<_, AuditTuple>(sqlx::AssertSqlSafe(sql))
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
        rows.into_iter().map(audit_row).collect()
    }

    /// Verifies the whole audit chain; returns the number of entries.
    ///
    /// # Errors
    /// [`StateError::AuditBroken`] at the first break; [`StateError::Db`].
    pub async fn verify_audit(&self) -> Result<u64, StateError> {
        let rows: Vec<AuditTuple> = sqlx::query_as(
            "SELECT seq, at, actor, action, project, environment, resource, before, after, \
             prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        let entries = rows
            .into_iter()
            .map(audit_row)
            .collect::<Result<Vec<_>, _>>()?;
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&self.inner.store.pool)
                .await?;
        audit::verify(&entries, (to_u64(seq)?, &hash)).map_err(StateError::AuditBroken)
    }

    /// Closes the database pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.inner.store.pool.close().await;
    }
}
