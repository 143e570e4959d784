//! Environments and their protection.

use crate::error::StateError;
use crate::keys::{self};
use crate::model::{Environment, EnvironmentInput, EnvironmentUpdate, Targeting, Written};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{
    ENV_COLUMNS, EnvRow, load_env, load_flag_rows, require_env, require_project, to_json,
    upsert_targeting,
};
use crate::store::to_i64;
use crate::validate::{check_key, check_revision};

impl AppState {
    pub(crate) async fn environment_of(&self, row: EnvRow) -> Result<Environment, StateError> {
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

    /// The public key SDKs trust for `project/env`: standard base64 of the 32 raw Ed25519
    /// bytes of its active signing key (`KEYS_DIR/<key name>.pub`).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`], [`StateError::Key`] when the file is
    /// unreadable.
    pub async fn public_key(&self, project: &str, env: &str) -> Result<String, StateError> {
        let row = {
            let mut conn = self.inner.store.pool.acquire().await?;
            require_env(&mut conn, project, env).await?
        };
        let path = self.inner.keys_dir.join(format!("{}.pub", row.key_name));
        keys::read_trusted_key(&path)?;
        let text = std::fs::read_to_string(&path).map_err(|source| StateError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(text.trim().to_owned())
    }

    /// Brings `keys/<name>.pub` in line with every active key that comes from an environment
    /// variable ([`keys::key_env_var`]), at start-up: the public key SDKs must trust changes
    /// when an operator sets a new key in the variable.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Key`].
    pub(crate) async fn sync_public_keys(&self) -> Result<(), StateError> {
        let envs: Vec<(String, String, String)> =
            sqlx::query_as("SELECT project, key, key_name FROM environments")
                .fetch_all(&self.inner.store.pool)
                .await?;
        for (project, env, key_name) in envs {
            let var = keys::key_env_var(&project, &env);
            if std::env::var(&var).is_ok() {
                keys::load_or_create(&self.inner.keys_dir, &key_name, &var)?;
            }
        }
        Ok(())
    }

    /// The environments of a project, sorted by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn environments(&self, project: &str) -> Result<Vec<Environment>, StateError> {
        let rows: Vec<EnvRow> = {
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
            out.push(self.environment_of(t).await?);
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
        let published = self
            .write(actor, async |tx| {
                require_project(tx.conn(), project).await?;
                if load_env(tx.conn(), project, &input.key).await?.is_some() {
                    return Err(StateError::Conflict(format!(
                        "project \"{project}\" has an environment \"{}\"",
                        input.key
                    )));
                }
                // The first project's keys live at the top of keys/ (see the service docs).
                let first: Option<String> = sqlx::query_scalar(
                    "SELECT key_name FROM environments WHERE project = $1 LIMIT 1",
                )
                .bind(project)
                .fetch_optional(tx.conn())
                .await?;
                let key_name = match first {
                    Some(name) if !name.contains('/') => input.key.clone(),
                    _ => format!("{project}/{}", input.key),
                };
                self.insert_env(tx, project, input, &key_name).await?;
                tx.publish(project, &input.key, "environment.create").await
            })
            .await?;
        Ok(Written {
            item: Some(self.environment(project, &input.key).await?),
            published: vec![published],
        })
    }

    pub(crate) async fn insert_env(
        &self,
        tx: &mut Tx<'_>,
        project: &str,
        e: &EnvironmentInput,
        key_name: &str,
    ) -> Result<Environment, StateError> {
        let now = tx.now;
        let env_var = keys::key_env_var(project, &e.key);
        let taken: Vec<(String, String)> = sqlx::query_as("SELECT project, key FROM environments")
            .fetch_all(tx.conn())
            .await?;
        if let Some((p, k)) = taken
            .iter()
            .find(|(p, k)| keys::key_env_var(p, k) == env_var)
        {
            return Err(StateError::Field {
                field: "key".into(),
                message: format!(
                    "environment {p}/{k} already has the signing-key variable {env_var}; keys \
                     that differ only in case, in '-' against '_', or contain \"__\" cannot be \
                     told apart there"
                ),
            });
        }
        let key_id = keys::load_or_create(&self.inner.keys_dir, key_name, &env_var)?;
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
        .execute(tx.conn())
        .await?;
        // Every existing flag starts disabled in the new environment.
        let now_db = to_i64(now)?;
        for flag in load_flag_rows(tx.conn(), project, None).await? {
            upsert_targeting(
                tx.conn(),
                project,
                &env.key,
                &flag.key,
                &Targeting::initial(&flag.spec),
                now_db,
            )
            .await?;
        }
        tx.audit(
            "environment.create",
            (Some(project), Some(&env.key)),
            &format!("environment:{}", env.key),
            None,
            Some(to_json(&env)?),
        )
        .await?;
        Ok(env)
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
        self.write(actor, async |tx| {
            let row = require_env(tx.conn(), project, env).await?;
            check_revision("environment", row.revision, expected)?;
            let before = self.environment_of(row).await?;
            let now = tx.now;
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
            .execute(tx.conn())
            .await?;
            tx.audit(
                "environment.update",
                (Some(project), Some(env)),
                &format!("environment:{env}"),
                Some(to_json(&before)?),
                Some(to_json(&after)?),
            )
            .await?;
            Ok(Written {
                item: Some(after),
                published: Vec::new(),
            })
        })
        .await
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
        self.write(actor, async |tx| {
            let row = require_env(tx.conn(), project, env).await?;
            check_revision("environment", row.revision, expected)?;
            let before = self.environment_of(row).await?;
            let now = tx.now;
            for sql in [
                "DELETE FROM flag_targeting WHERE project = $1 AND environment = $2",
                "DELETE FROM segments WHERE project = $1 AND environment = $2",
                "DELETE FROM environments WHERE project = $1 AND key = $2",
            ] {
                sqlx::query(sql)
                    .bind(project)
                    .bind(env)
                    .execute(tx.conn())
                    .await?;
            }
            sqlx::query(
                "UPDATE tokens SET revoked_at = $1 WHERE project = $2 AND environment = $3 \
                 AND revoked_at IS NULL",
            )
            .bind(to_i64(now)?)
            .bind(project)
            .bind(env)
            .execute(tx.conn())
            .await?;
            tx.audit(
                "environment.delete",
                (Some(project), Some(env)),
                &format!("environment:{env}"),
                Some(to_json(&before)?),
                None,
            )
            .await?;
            Ok(())
        })
        .await?;
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
}
