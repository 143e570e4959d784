//! Projects.

use crate::config::ENVIRONMENTS;
use crate::error::StateError;
use crate::model::{EnvironmentInput, Project, ProjectInput, ProjectUpdate, Published, Written};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{load_project, require_project, to_json};
use crate::store::to_i64;
use crate::validate::{check_key, check_revision};

/// What a project creation made (for the bootstrap's credentials).
pub(crate) struct CreatedProject {
    pub(crate) project: Project,
    pub(crate) published: Vec<Published>,
}

impl AppState {
    /// Every project, sorted by key.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn projects(&self) -> Result<Vec<Project>, StateError> {
        let mut out: Vec<Project> = sqlx::query_as(
            "SELECT key, name, description, revision, created_at, updated_at FROM projects",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
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
        self.write(actor, async |tx| {
            let created = self.create_project_in(tx, input, false, true).await?;
            Ok(Written {
                item: Some(created.project),
                published: created.published,
            })
        })
        .await
    }

    pub(crate) async fn create_project_in(
        &self,
        tx: &mut Tx<'_>,
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
        if load_project(tx.conn(), &input.key).await?.is_some() {
            return Err(StateError::Conflict(format!(
                "project \"{}\" exists",
                input.key
            )));
        }
        let now = tx.now;
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
        .execute(tx.conn())
        .await?;
        tx.audit(
            "project.create",
            (Some(&project.key), None),
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
            let env = self.insert_env(tx, &project.key, e, &key_name).await?;
            if publish {
                published.push(
                    tx.publish(&project.key, &env.key, "environment.create")
                        .await?,
                );
            }
        }
        Ok(CreatedProject { project, published })
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
        self.write(actor, async |tx| {
            let before = require_project(tx.conn(), key).await?;
            check_revision("project", before.revision, expected)?;
            let now = tx.now;
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
            .execute(tx.conn())
            .await?;
            tx.audit(
                "project.update",
                (Some(key), None),
                &format!("project:{key}"),
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

    /// Deletes a project: its environments, flags, targeting, segments, services with their
    /// configuration entries and registered instances, and webhooks, and revokes its tokens.
    /// Published snapshots, config and catalog documents, histories and the audit log are
    /// kept.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`].
    pub async fn delete_project(
        &self,
        actor: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<Project>, StateError> {
        self.write(actor, async |tx| {
            let before = require_project(tx.conn(), key).await?;
            check_revision("project", before.revision, expected)?;
            let now = tx.now;
            for sql in [
                "DELETE FROM flag_targeting WHERE project = $1",
                "DELETE FROM segments WHERE project = $1",
                "DELETE FROM flags WHERE project = $1",
                "DELETE FROM config_entries WHERE project = $1",
                "DELETE FROM webhooks WHERE project = $1",
                "DELETE FROM services WHERE project = $1",
                "DELETE FROM registry_health_history WHERE project = $1",
                "DELETE FROM registry_instances WHERE project = $1",
                "DELETE FROM environments WHERE project = $1",
                "DELETE FROM projects WHERE key = $1",
            ] {
                sqlx::query(sql).bind(key).execute(tx.conn()).await?;
            }
            sqlx::query(
                "UPDATE tokens SET revoked_at = $1 WHERE project = $2 AND revoked_at IS NULL",
            )
            .bind(to_i64(now)?)
            .bind(key)
            .execute(tx.conn())
            .await?;
            tx.audit(
                "project.delete",
                (Some(key), None),
                &format!("project:{key}"),
                Some(to_json(&before)?),
                None,
            )
            .await?;
            Ok(())
        })
        .await?;
        self.forget_tokens();
        Ok(Written {
            item: None,
            published: Vec::new(),
        })
    }
}
