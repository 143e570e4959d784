//! The server's state: the data directory, the SQLite store, the per-environment signing keys,
//! and [`AppState::publish`], the only code that makes snapshots.
//!
//! Data directory layout:
//! - `burgee.db`: SQLite in WAL mode, schema in `server/migrations/`.
//! - `keys/{env}.key`, `keys/{env}.pub`: one Ed25519 key pair per environment
//!   (formats in [`crate::keys`]), created with the environment, loaded at start.
//! - `credentials.env`: the plaintext admin token and SDK keys, written once (mode 0600) at
//!   first start; the database keeps only their SHA-256 hashes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use burgee_core::model::{FlagDef, SNAPSHOT_FORMAT, SegmentDef, SnapshotDef};
use burgee_core::{SNAPSHOT_PAYLOAD_TYPE, Snapshot, payload_digest, sign_envelope};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};
use sqlx::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StateError;
use crate::keys::{self, KeyError};
use crate::{demo, now_ms};

/// The environments every new project gets, in creation order.
pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

/// Prefix of admin tokens (`bga_` + 64 lowercase hex digits = 32 random bytes).
pub const ADMIN_TOKEN_PREFIX: &str = "bga_";

/// Prefix of SDK keys (`bgs_` + 64 lowercase hex digits = 32 random bytes).
pub const SDK_KEY_PREFIX: &str = "bgs_";

/// How to open a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The data directory (created if missing).
    pub data_dir: PathBuf,
    /// On first start, name the project `webshop` and seed [`crate::demo`]'s flags and
    /// segments; otherwise the project is `default` and starts empty.
    pub demo: bool,
    /// Lifetime of every published snapshot, ms (`expires_at = issued_at + ttl`).
    pub snapshot_ttl_ms: u64,
}

/// The plaintext credentials created at first start (shown once; only hashes are stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The admin token (`bga_...`).
    pub admin_token: String,
    /// `(environment, SDK key)` in [`ENVIRONMENTS`] order (`bgs_...`).
    pub sdk_keys: Vec<(String, String)>,
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

    /// Shell lines: `export BURGEE_ADMIN_TOKEN=...`, `export BURGEE_SDK_KEY=<production>`
    /// and `export BURGEE_SDK_KEY_<ENV>=...` for each environment.
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
        out
    }
}

/// One change applied inside [`AppState::publish`]'s transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Create or replace the flag with this key.
    PutFlag(FlagDef),
    /// Create or replace the segment with this key.
    PutSegment(SegmentDef),
}

/// The result of a publish: `{"version": N, "digest": "sha256:<hex>"}` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The new snapshot version (previous maximum + 1; the first is 1).
    pub version: u64,
    /// `sha256:<hex>` of the signed payload; also the snapshot's HTTP ETag.
    pub digest: String,
}

/// A stored, signed snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// Snapshot version.
    pub version: u64,
    /// `sha256:<hex>` of the payload.
    pub digest: String,
    /// The DSSE envelope JSON text, exactly as served.
    pub envelope: String,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin token: every endpoint, every environment.
    Admin,
    /// An SDK key: only `GET /v1/snapshots/{environment}` of its own environment.
    Sdk {
        /// The environment the key was issued for.
        environment: String,
    },
}

/// Shared server state; cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: SqlitePool,
    /// Signing key per environment key.
    keys: BTreeMap<String, SigningKey>,
    snapshot_ttl_ms: u64,
    /// Serialises publishes so two writers never race for the same version.
    publish_lock: tokio::sync::Mutex<()>,
}

/// A model type stored as JSON text in a `(environment, key, definition, updated_at)` table.
trait Definition: Serialize + DeserializeOwned {
    const LIST: &'static str;
    const GET: &'static str;
    const UPSERT: &'static str;
    fn key(&self) -> &str;
}

impl Definition for FlagDef {
    const LIST: &'static str = "SELECT definition FROM flags WHERE environment = ?";
    const GET: &'static str = "SELECT definition FROM flags WHERE environment = ? AND key = ?";
    const UPSERT: &'static str = "INSERT INTO flags (environment, key, definition, updated_at) \
        VALUES (?, ?, ?, ?) ON CONFLICT (environment, key) \
        DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at";
    fn key(&self) -> &str {
        &self.key
    }
}

impl Definition for SegmentDef {
    const LIST: &'static str = "SELECT definition FROM segments WHERE environment = ?";
    const GET: &'static str = "SELECT definition FROM segments WHERE environment = ? AND key = ?";
    const UPSERT: &'static str = "INSERT INTO segments (environment, key, definition, updated_at) \
        VALUES (?, ?, ?, ?) ON CONFLICT (environment, key) \
        DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at";
    fn key(&self) -> &str {
        &self.key
    }
}

fn parse_definition<D: Definition>(text: &str) -> Result<D, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt(format!("stored definition: {e}")))
}

/// Every definition of one environment, sorted by key (in Rust, so the order does not depend
/// on the database's collation).
async fn load_all<D: Definition>(
    conn: &mut SqliteConnection,
    env: &str,
) -> Result<Vec<D>, StateError> {
    let rows: Vec<String> = sqlx::query_scalar(D::LIST)
        .bind(env)
        .fetch_all(&mut *conn)
        .await?;
    let mut defs = rows
        .iter()
        .map(|text| parse_definition::<D>(text))
        .collect::<Result<Vec<D>, _>>()?;
    defs.sort_by(|a, b| a.key().cmp(b.key()));
    Ok(defs)
}

async fn load_one<D: Definition>(
    conn: &mut SqliteConnection,
    env: &str,
    key: &str,
) -> Result<Option<D>, StateError> {
    let row: Option<String> = sqlx::query_scalar(D::GET)
        .bind(env)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_deref().map(parse_definition::<D>).transpose()
}

async fn upsert<D: Definition>(
    conn: &mut SqliteConnection,
    env: &str,
    def: &D,
    now: i64,
) -> Result<(), StateError> {
    let text = serde_json::to_string(def)
        .map_err(|e| StateError::Corrupt(format!("serializing definition: {e}")))?;
    sqlx::query(D::UPSERT)
        .bind(env)
        .bind(def.key())
        .bind(text)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn to_i64(v: u64, what: &str) -> Result<i64, StateError> {
    i64::try_from(v).map_err(|_| StateError::Corrupt(format!("{what} {v} does not fit BIGINT")))
}

fn to_u64(v: i64, what: &str) -> Result<u64, StateError> {
    u64::try_from(v).map_err(|_| StateError::Corrupt(format!("stored {what} {v} is negative")))
}

/// Lowercase hex SHA-256 of a token's text: the only form tokens are stored in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token(prefix: &str) -> Result<String, KeyError> {
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

impl AppState {
    /// Opens (creating if needed) the data directory and its database, applies migrations,
    /// and loads every environment's signing key.
    ///
    /// On first start (no environments) it bootstraps: project `webshop` (with `demo`) or
    /// `default`, the [`ENVIRONMENTS`] each with a 32-hex-digit salt and a key pair, one
    /// admin token and one SDK key per environment (hashes in the DB, plaintexts in
    /// `credentials.env`, mode 0600), then publishes version 1 of every environment (with the
    /// [`demo`] flags and segments when `demo`). Only then is `Some(credentials)` returned.
    ///
    /// # Errors
    /// [`StateError::Io`] / [`StateError::Key`] for the data directory and key files
    /// (including existing key or credential files on first start), [`StateError::Db`] /
    /// [`StateError::Migrate`] for the database, [`StateError::Invalid`] if the seed data does
    /// not compile.
    pub async fn open(
        config: &ServerConfig,
    ) -> Result<(AppState, Option<Credentials>), StateError> {
        std::fs::create_dir_all(&config.data_dir).map_err(io_error(&config.data_dir))?;
        let options = SqliteConnectOptions::new()
            .filename(config.data_dir.join("burgee.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;

        let mut envs: Vec<String> = sqlx::query_scalar("SELECT key FROM environments")
            .fetch_all(&pool)
            .await?;
        let credentials = if envs.is_empty() {
            let creds = bootstrap(&pool, config).await?;
            envs = ENVIRONMENTS.iter().map(|e| (*e).to_owned()).collect();
            Some(creds)
        } else {
            None
        };

        let key_dir = config.data_dir.join("keys");
        let mut keys = BTreeMap::new();
        for env in envs {
            let key = keys::read_signing_key(&key_dir.join(format!("{env}.key")))?;
            keys.insert(env, key);
        }
        let state = AppState {
            inner: Arc::new(Inner {
                pool,
                keys,
                snapshot_ttl_ms: config.snapshot_ttl_ms,
                publish_lock: tokio::sync::Mutex::new(()),
            }),
        };
        if credentials.is_some() {
            for env in ENVIRONMENTS {
                let changes = if config.demo {
                    let segments = demo::segments(env).into_iter().map(Change::PutSegment);
                    segments
                        .chain(demo::flags(env).into_iter().map(Change::PutFlag))
                        .collect()
                } else {
                    Vec::new()
                };
                let published = state.publish(env, &changes).await?;
                tracing::info!(
                    environment = env,
                    version = published.version,
                    "published initial snapshot"
                );
            }
        }
        Ok((state, credentials))
    }

    /// Applies `changes` and publishes a new signed snapshot of `env`, all in ONE database
    /// transaction: apply, read every flag and segment, version = max(version) + 1, build the
    /// [`SnapshotDef`] (`issued_at` = now in ms, `expires_at` = now + TTL, flags and segments
    /// sorted by key), validate with [`Snapshot::compile`], sign with the environment's key
    /// ([`sign_envelope`], payload type [`SNAPSHOT_PAYLOAD_TYPE`]), store, commit. An empty
    /// `changes` re-signs the current content under a new version.
    ///
    /// # Errors
    /// [`StateError::UnknownEnvironment`]; [`StateError::Invalid`] with the core's message
    /// (field path first) if the snapshot does not compile — then nothing is stored;
    /// [`StateError::Db`] / [`StateError::Corrupt`] otherwise.
    pub async fn publish(&self, env: &str, changes: &[Change]) -> Result<Published, StateError> {
        let key = self
            .inner
            .keys
            .get(env)
            .ok_or_else(|| StateError::UnknownEnvironment(env.to_owned()))?;
        let _guard = self.inner.publish_lock.lock().await;
        let mut tx = self.inner.pool.begin().await?;
        let (project, salt): (String, String) =
            sqlx::query_as("SELECT project, salt FROM environments WHERE key = ?")
                .bind(env)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StateError::UnknownEnvironment(env.to_owned()))?;

        let now = now_ms();
        let now_db = to_i64(now, "time")?;
        for change in changes {
            match change {
                Change::PutFlag(flag) => upsert(&mut tx, env, flag, now_db).await?,
                Change::PutSegment(segment) => upsert(&mut tx, env, segment, now_db).await?,
            }
        }
        let flags: Vec<FlagDef> = load_all(&mut tx, env).await?;
        let segments: Vec<SegmentDef> = load_all(&mut tx, env).await?;
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM snapshots WHERE environment = ?")
                .bind(env)
                .fetch_one(&mut *tx)
                .await?;
        let version = to_u64(max.unwrap_or(0), "version")?
            .checked_add(1)
            .ok_or_else(|| StateError::Corrupt("version counter overflow".into()))?;
        let expires_at = now
            .checked_add(self.inner.snapshot_ttl_ms)
            .ok_or_else(|| StateError::Corrupt("expiry overflows u64".into()))?;
        let def = SnapshotDef {
            format: SNAPSHOT_FORMAT,
            project,
            environment: env.to_owned(),
            version,
            issued_at: now,
            expires_at,
            salt,
            flags,
            segments,
        };
        Snapshot::compile(&def, None).map_err(StateError::Invalid)?;
        let payload = serde_json::to_vec(&def)
            .map_err(|e| StateError::Corrupt(format!("serializing snapshot: {e}")))?;
        let envelope = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, &payload, key);
        let envelope_text = serde_json::to_string(&envelope)
            .map_err(|e| StateError::Corrupt(format!("serializing envelope: {e}")))?;
        let digest = payload_digest(&payload);
        sqlx::query(
            "INSERT INTO snapshots (environment, version, digest, envelope, issued_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(env)
        .bind(to_i64(version, "version")?)
        .bind(&digest)
        .bind(envelope_text)
        .bind(now_db)
        .bind(to_i64(expires_at, "expiry")?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Published { version, digest })
    }

    /// Re-publishes (same content, new version) every environment that has no snapshot yet
    /// or whose latest snapshot has less than half of its lifetime left at `now` (ms since
    /// epoch), so a live server never serves an expired snapshot. Returns what was published.
    ///
    /// # Errors
    /// The first [`AppState::publish`] or database error.
    pub async fn republish_due(&self, now: u64) -> Result<Vec<(String, Published)>, StateError> {
        let mut done = Vec::new();
        for env in self.inner.keys.keys() {
            let due = match self.latest_snapshot(env).await? {
                None => true,
                Some(s) => {
                    let lifetime = s.expires_at.saturating_sub(s.issued_at);
                    s.expires_at.saturating_sub(now) < lifetime / 2
                }
            };
            if due {
                let published = self.publish(env, &[]).await?;
                done.push((env.clone(), published));
            }
        }
        Ok(done)
    }

    /// Whether `env` exists.
    pub fn has_environment(&self, env: &str) -> bool {
        self.inner.keys.contains_key(env)
    }

    fn require_environment(&self, env: &str) -> Result<(), StateError> {
        if self.has_environment(env) {
            Ok(())
        } else {
            Err(StateError::UnknownEnvironment(env.to_owned()))
        }
    }

    /// Every flag of `env`, sorted by key.
    ///
    /// # Errors
    /// [`StateError::UnknownEnvironment`], [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn flags(&self, env: &str) -> Result<Vec<FlagDef>, StateError> {
        self.require_environment(env)?;
        let mut conn = self.inner.pool.acquire().await?;
        load_all(&mut conn, env).await
    }

    /// One flag of `env`; `None` if there is no flag `key`.
    ///
    /// # Errors
    /// As [`AppState::flags`].
    pub async fn flag(&self, env: &str, key: &str) -> Result<Option<FlagDef>, StateError> {
        self.require_environment(env)?;
        let mut conn = self.inner.pool.acquire().await?;
        load_one(&mut conn, env, key).await
    }

    /// Every segment of `env`, sorted by key.
    ///
    /// # Errors
    /// As [`AppState::flags`].
    pub async fn segments(&self, env: &str) -> Result<Vec<SegmentDef>, StateError> {
        self.require_environment(env)?;
        let mut conn = self.inner.pool.acquire().await?;
        load_all(&mut conn, env).await
    }

    /// One segment of `env`; `None` if there is no segment `key`.
    ///
    /// # Errors
    /// As [`AppState::flags`].
    pub async fn segment(&self, env: &str, key: &str) -> Result<Option<SegmentDef>, StateError> {
        self.require_environment(env)?;
        let mut conn = self.inner.pool.acquire().await?;
        load_one(&mut conn, env, key).await
    }

    /// The highest-version snapshot of `env`; `None` if nothing was published yet.
    ///
    /// # Errors
    /// [`StateError::UnknownEnvironment`], [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn latest_snapshot(&self, env: &str) -> Result<Option<StoredSnapshot>, StateError> {
        self.require_environment(env)?;
        let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT version, digest, envelope, issued_at, expires_at FROM snapshots \
             WHERE environment = ? ORDER BY version DESC LIMIT 1",
        )
        .bind(env)
        .fetch_optional(&self.inner.pool)
        .await?;
        row.map(|(version, digest, envelope, issued_at, expires_at)| {
            Ok(StoredSnapshot {
                version: to_u64(version, "version")?,
                digest,
                envelope,
                issued_at: to_u64(issued_at, "issued_at")?,
                expires_at: to_u64(expires_at, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Who `token` (the bearer text) belongs to; `None` for an unknown token.
    ///
    /// # Errors
    /// [`StateError::Db`]; [`StateError::Corrupt`] for an SDK key row without environment.
    pub async fn principal(&self, token: &str) -> Result<Option<Principal>, StateError> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT kind, environment FROM tokens WHERE hash = ?")
                .bind(token_hash(token))
                .fetch_optional(&self.inner.pool)
                .await?;
        match row {
            None => Ok(None),
            Some((kind, _)) if kind == "admin" => Ok(Some(Principal::Admin)),
            Some((kind, Some(environment))) if kind == "sdk" => {
                Ok(Some(Principal::Sdk { environment }))
            }
            Some((kind, _)) => Err(StateError::Corrupt(format!("token row of kind \"{kind}\""))),
        }
    }

    /// Closes the database pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }
}

/// First start: key pairs, environments, tokens, credentials file.
async fn bootstrap(pool: &SqlitePool, config: &ServerConfig) -> Result<Credentials, StateError> {
    let project = if config.demo { "webshop" } else { "default" };
    let key_dir = config.data_dir.join("keys");
    let now = to_i64(now_ms(), "time")?;
    let admin_token = new_token(ADMIN_TOKEN_PREFIX)?;
    let mut sdk_keys = Vec::new();

    let mut tx = pool.begin().await?;
    for env in ENVIRONMENTS {
        let key = keys::generate_signing_key()?;
        let files = keys::write_keypair(&key_dir, env, &key)?;
        tracing::info!(environment = env, key_id = %files.key_id, "created environment signing key");
        let salt = hex::encode(keys::random_bytes::<16>()?);
        sqlx::query(
            "INSERT INTO environments (key, project, salt, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(env)
        .bind(project)
        .bind(salt)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let sdk_key = new_token(SDK_KEY_PREFIX)?;
        sqlx::query(
            "INSERT INTO tokens (hash, kind, environment, created_at) VALUES (?, 'sdk', ?, ?)",
        )
        .bind(token_hash(&sdk_key))
        .bind(env)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sdk_keys.push((env.to_owned(), sdk_key));
    }
    sqlx::query(
        "INSERT INTO tokens (hash, kind, environment, created_at) VALUES (?, 'admin', NULL, ?)",
    )
    .bind(token_hash(&admin_token))
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let credentials = Credentials {
        admin_token,
        sdk_keys,
        file: config.data_dir.join("credentials.env"),
    };
    keys::write_new_file(
        &credentials.file,
        credentials.env_file_text().as_bytes(),
        0o600,
    )?;
    tx.commit().await?;
    Ok(credentials)
}
