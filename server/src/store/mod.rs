//! The database: SQLite (default, one file in the data directory) or PostgreSQL
//! (`--database-url postgres://...`), with the same migrations (`server/migrations/`).
//!
//! **Why `sqlx::Any` rather than a storage trait with two implementations:** every query
//! Burgee runs is plain portable SQL over `TEXT`/`BIGINT` columns (JSON is stored as text,
//! booleans as 0/1, times as ms), with `$1`-style parameters that both SQLite and PostgreSQL
//! accept. One code path means one set of queries, one set of tests run against both
//! databases, and no chance of the two implementations drifting apart. The few real
//! differences are handled by [`Backend`]: SQLite's connection pragmas (WAL, busy timeout,
//! foreign keys) and PostgreSQL's `pg_notify` for replicas.
//!
//! Durability: an answered write survives a crash or power loss. SQLite runs in WAL mode with
//! `synchronous = FULL`, so every commit fsyncs the write-ahead log before it returns
//! (<https://www.sqlite.org/pragma.html#pragma_synchronous>; with `NORMAL`, the default for
//! WAL, the last commits may roll back after a power loss). PostgreSQL commits are durable
//! with its default `synchronous_commit = on`. Versions come from `MAX(version) + 1` inside
//! the committing transaction, so a version is never reused even after a crash.
//!
//! Concurrency: every write runs in one transaction that starts by updating the single
//! `chain_head` row ([`Writer::begin`]). That row lock (PostgreSQL) or write lock (SQLite)
//! serialises writers across all processes sharing the database, so version numbers and the
//! audit chain never race.

pub mod rows;

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Connection as _, Executor as _, Transaction};

use crate::audit::entry_hash;
use crate::error::StateError;
use crate::model::AuditEntry;

/// Channel of PostgreSQL notifications about new snapshots (payload `project/environment`).
pub const NOTIFY_CHANNEL: &str = "burgee_snapshots";

/// The prefix of a catalog publish's notification payload (`catalog:<project>/<env>`; a
/// snapshot's is `<project>/<env>`, a config document's `<project>/<env>/<service>`).
pub const CATALOG_NOTIFY_PREFIX: &str = "catalog:";

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (WAL mode).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The connection pool and its backend.
#[derive(Debug, Clone)]
pub struct Store {
    /// The pool (sqlx `Any` driver).
    pub pool: AnyPool,
    /// Which database it is.
    pub backend: Backend,
    /// The URL it was opened with.
    pub url: String,
}

/// The backend a URL names: `postgres://`/`postgresql://` or `sqlite:`.
///
/// # Errors
/// [`StateError::Config`] for any other scheme.
pub fn backend_of(url: &str) -> Result<Backend, StateError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(StateError::Config(format!(
            "database URL must start with postgres://, postgresql:// or sqlite: (got {url:?})"
        )))
    }
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies the migrations.
    ///
    /// # Errors
    /// [`StateError::Config`], [`StateError::Db`], [`StateError::Migrate`].
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StateError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store {
            pool,
            backend,
            url: url.to_owned(),
        })
    }

    /// The SQLite URL of `DATA_DIR/burgee.db` (created if missing).
    pub fn sqlite_url(data_dir: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("burgee.db").display())
    }

    /// Whether a trivial query succeeds (`/ready`).
    pub async fn ping(&self) -> bool {
        match self.pool.acquire().await {
            Ok(mut conn) => conn.ping().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// What a committed write published: the (project, environment) of each snapshot and the
/// (project, environment, service) of each config document.
#[derive(Debug, Default)]
pub struct Committed {
    /// Flag snapshots.
    pub snapshots: Vec<(String, String)>,
    /// Config documents.
    pub configs: Vec<(String, String, String)>,
    /// Catalog documents (project, environment).
    pub catalogs: Vec<(String, String)>,
}

/// An open write transaction that holds the writer lock; audit entries are appended to the
/// chain as they are recorded. Dropping it without [`Writer::commit`] rolls everything back.
pub struct Writer {
    tx: Transaction<'static, Any>,
    backend: Backend,
    seq: u64,
    hash: String,
    /// `(project, environment)` pairs published in this transaction, for notifications.
    pub notify: Vec<(String, String)>,
    /// The (project, environment, service) of every config document published in the
    /// transaction.
    pub notify_configs: Vec<(String, String, String)>,
    /// The (project, environment) of every catalog document published in the transaction.
    pub notify_catalogs: Vec<(String, String)>,
}

pub(crate) fn to_i64(v: u64) -> Result<i64, StateError> {
    i64::try_from(v).map_err(|_| StateError::Corrupt(format!("{v} does not fit BIGINT")))
}

pub(crate) fn to_u64(v: i64) -> Result<u64, StateError> {
    u64::try_from(v).map_err(|_| StateError::Corrupt(format!("stored number {v} is negative")))
}

impl Writer {
    /// Begins a transaction and takes the writer lock (see the module docs).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn begin(store: &Store) -> Result<Writer, StateError> {
        let mut tx = store.pool.begin().await?;
        sqlx::query("UPDATE chain_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        Ok(Writer {
            tx,
            backend: store.backend,
            seq: to_u64(seq)?,
            hash,
            notify: Vec::new(),
            notify_configs: Vec::new(),
            notify_catalogs: Vec::new(),
        })
    }

    /// The connection of the transaction.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Appends one audit entry (at `at` ms) to the chain.
    ///
    /// # Errors
    /// [`StateError::Db`].
    #[allow(clippy::too_many_arguments)] // one argument per audit column
    pub async fn audit(
        &mut self,
        at: u64,
        actor: &str,
        action: &str,
        project: Option<&str>,
        environment: Option<&str>,
        resource: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> Result<(), StateError> {
        let mut entry = AuditEntry {
            seq: self.seq + 1,
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            project: project.map(str::to_owned),
            environment: environment.map(str::to_owned),
            resource: resource.to_owned(),
            before,
            after,
            prev_hash: self.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, project, environment, resource, \
             before, after, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(to_i64(entry.seq)?)
        .bind(to_i64(entry.at)?)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.project)
        .bind(&entry.environment)
        .bind(&entry.resource)
        .bind(&entry.before)
        .bind(&entry.after)
        .bind(&entry.prev_hash)
        .bind(&entry.hash)
        .execute(&mut *self.tx)
        .await?;
        self.seq = entry.seq;
        self.hash = entry.hash;
        Ok(())
    }

    /// Updates the chain head, sends PostgreSQL notifications for every publish (delivered at
    /// commit), and commits.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn commit(mut self) -> Result<Committed, StateError> {
        sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(to_i64(self.seq)?)
            .bind(&self.hash)
            .execute(&mut *self.tx)
            .await?;
        if self.backend == Backend::Postgres {
            // pg_notify takes its channel and payload as parameters: no SQL built from data.
            for (project, env) in &self.notify {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(NOTIFY_CHANNEL)
                    .bind(format!("{project}/{env}"))
                    .execute(&mut *self.tx)
                    .await?;
            }
            for (project, env, service) in &self.notify_configs {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(NOTIFY_CHANNEL)
                    .bind(format!("{project}/{env}/{service}"))
                    .execute(&mut *self.tx)
                    .await?;
            }
            for (project, env) in &self.notify_catalogs {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(NOTIFY_CHANNEL)
                    .bind(format!("{CATALOG_NOTIFY_PREFIX}{project}/{env}"))
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        Ok(Committed {
            snapshots: self.notify,
            configs: self.notify_configs,
            catalogs: self.notify_catalogs,
        })
    }
}
