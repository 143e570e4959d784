//! Flags: project-wide definitions and per-environment targeting.

use sqlx::AnyConnection;

use crate::error::StateError;
use crate::model::{EnvironmentTargeting, Flag, FlagInput, FlagSpec, Targeting, Written};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{
    assemble_flag, env_keys, load_flag_rows, load_targeting, require_env, require_project, to_json,
    upsert_targeting,
};
use crate::store::to_i64;
use crate::validate::{check_name, check_revision, check_schema};

/// Filters of [`AppState::list_flags`] (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// With `state` or `stale_days`: the environment they apply to.
    pub environment: Option<String>,
    /// Only flags stale in `environment` over this many days (1..=365; see
    /// [`AppState::stale_flags`]; reads the event log).
    pub stale_days: Option<u64>,
    /// Only flags `on` (enabled) or `off` in `environment`.
    #[param(inline)]
    pub state: Option<FlagState>,
    /// Order: `key` (default), `-key`, `updated` (least recently changed first) or
    /// `-updated` (most recently changed first; a flag changes with its definition or any
    /// environment's targeting).
    #[param(inline)]
    pub sort: Option<FlagSort>,
    /// Skip this many flags of the filtered, sorted list (paging; default 0).
    pub offset: Option<usize>,
    /// At most this many flags (paging; 1..=1000, default all). The answer's `X-Total-Count`
    /// header gives the number before paging.
    pub limit: Option<usize>,
}

/// A flag's on/off state in an environment (filter of [`FlagFilter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlagState {
    /// Enabled: targeting runs.
    On,
    /// Disabled: the off variant is served.
    Off,
}

/// Orders of [`FlagFilter::sort`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum FlagSort {
    /// By key, ascending.
    #[serde(rename = "key")]
    Key,
    /// By key, descending.
    #[serde(rename = "-key")]
    KeyDesc,
    /// Least recently changed first.
    #[serde(rename = "updated")]
    Updated,
    /// Most recently changed first.
    #[serde(rename = "-updated")]
    UpdatedDesc,
}

/// A page of [`AppState::list_flags`]: the flags and the number before paging.
#[derive(Debug, Clone)]
pub struct FlagPage {
    /// The flags of the page.
    pub flags: Vec<Flag>,
    /// How many flags matched the filters.
    pub total: usize,
}

/// When a flag last changed: its definition or any environment's targeting (ms since epoch).
fn changed_at(f: &Flag) -> u64 {
    f.environments
        .values()
        .map(|t| t.updated_at)
        .fold(f.updated_at, u64::max)
}

impl AppState {
    /// The flags of a project matching `filter`, sorted and paged as it says.
    ///
    /// # Errors
    /// [`StateError::NotFound`] (also for an unknown `environment`), [`StateError::Db`].
    pub async fn list_flags(
        &self,
        project: &str,
        filter: &FlagFilter,
    ) -> Result<FlagPage, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_project(&mut conn, project).await?;
        let rows = load_flag_rows(&mut conn, project, None).await?;
        let targeting = load_targeting(&mut conn, project).await?;
        if let Some(env) = &filter.environment {
            require_env(&mut conn, project, env).await?;
        }
        let stale: Option<std::collections::BTreeSet<String>> =
            match (&filter.environment, filter.stale_days) {
                (Some(env), Some(days)) => Some(
                    Box::pin(self.stale_flags(project, days))
                        .await?
                        .into_iter()
                        .filter(|s| s.environment == *env)
                        .map(|s| s.flag)
                        .collect(),
                ),
                _ => None,
            };
        let q = filter.q.as_ref().map(|q| q.to_lowercase());
        let mut flags: Vec<Flag> = rows
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
            .filter(|f| match (&filter.environment, filter.state) {
                (Some(env), Some(state)) => f
                    .environments
                    .get(env)
                    .is_some_and(|t| t.targeting.enabled == (state == FlagState::On)),
                _ => true,
            })
            .filter(|f| stale.as_ref().is_none_or(|keys| keys.contains(&f.key)))
            .collect();
        match filter.sort.unwrap_or(FlagSort::Key) {
            FlagSort::Key => {}
            FlagSort::KeyDesc => flags.reverse(),
            FlagSort::Updated => flags.sort_by_key(|f| (changed_at(f), f.key.clone())),
            FlagSort::UpdatedDesc => {
                flags.sort_by_key(|f| (std::cmp::Reverse(changed_at(f)), f.key.clone()));
            }
        }
        let total = flags.len();
        let offset = filter.offset.unwrap_or(0).min(total);
        let limit = filter.limit.unwrap_or(total);
        Ok(FlagPage {
            flags: flags.into_iter().skip(offset).take(limit).collect(),
            total,
        })
    }

    /// One flag with its targeting in every environment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn flag(&self, project: &str, key: &str) -> Result<Flag, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        self.flag_in(&mut conn, project, key).await
    }

    pub(crate) async fn flag_in(
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
        self.write(actor, async |tx| {
            let after = self.create_flag_in(tx, project, input).await?;
            let reason = format!("flag.create {}", input.key);
            let published = tx.publish_all(project, &reason).await?;
            Ok(Written {
                item: Some(after),
                published,
            })
        })
        .await
    }

    /// [`AppState::create_flag`] inside a write, without publishing (the caller publishes):
    /// validates, inserts the flag and its targeting in every environment, audits.
    ///
    /// # Errors
    /// As [`AppState::create_flag`].
    pub(crate) async fn create_flag_in(
        &self,
        tx: &mut Tx<'_>,
        project: &str,
        input: &FlagInput,
    ) -> Result<Flag, StateError> {
        check_name("key", &input.key, 128, true)?;
        let spec = input.spec();
        check_schema(&spec)?;
        require_project(tx.conn(), project).await?;
        let envs = env_keys(tx.conn(), project).await?;
        if let Some(unknown) = input.environments.keys().find(|e| !envs.contains(e)) {
            return Err(StateError::Field {
                field: format!("environments.{unknown}"),
                message: format!("project \"{project}\" has no environment \"{unknown}\""),
            });
        }
        if !load_flag_rows(tx.conn(), project, Some(&input.key))
            .await?
            .is_empty()
        {
            return Err(StateError::Conflict(format!(
                "project \"{project}\" has a flag \"{}\"",
                input.key
            )));
        }
        let now_db = to_i64(tx.now)?;
        sqlx::query(
            "INSERT INTO flags (project, key, definition, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(project)
        .bind(&input.key)
        .bind(to_json(&spec)?)
        .bind(now_db)
        .execute(tx.conn())
        .await?;
        for env in &envs {
            let t = input
                .environments
                .get(env)
                .cloned()
                .unwrap_or_else(|| Targeting::initial(&spec));
            upsert_targeting(tx.conn(), project, env, &input.key, &t, now_db).await?;
        }
        let after = self.flag_in(tx.conn(), project, &input.key).await?;
        tx.audit(
            "flag.create",
            (Some(project), None),
            &format!("flag:{}", input.key),
            None,
            Some(to_json(&after)?),
        )
        .await?;
        Ok(after)
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
        self.write(actor, async |tx| {
            let before = self.flag_in(tx.conn(), project, key).await?;
            check_revision("flag", before.revision, expected)?;
            let now = tx.now;
            sqlx::query(
                "UPDATE flags SET definition = $1, revision = revision + 1, updated_at = $2 \
                 WHERE project = $3 AND key = $4",
            )
            .bind(to_json(spec)?)
            .bind(to_i64(now)?)
            .bind(project)
            .bind(key)
            .execute(tx.conn())
            .await?;
            let after = self.flag_in(tx.conn(), project, key).await?;
            tx.audit(
                "flag.update",
                (Some(project), None),
                &format!("flag:{key}"),
                Some(to_json(&before)?),
                Some(to_json(&after)?),
            )
            .await?;
            let published = tx
                .publish_all(project, &format!("flag.update {key}"))
                .await?;
            Ok(Written {
                item: Some(after),
                published,
            })
        })
        .await
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
        self.write(actor, async |tx| {
            let before = self.flag_in(tx.conn(), project, key).await?;
            check_revision("flag", before.revision, expected)?;
            sqlx::query("DELETE FROM flag_targeting WHERE project = $1 AND flag = $2")
                .bind(project)
                .bind(key)
                .execute(tx.conn())
                .await?;
            sqlx::query("DELETE FROM flags WHERE project = $1 AND key = $2")
                .bind(project)
                .bind(key)
                .execute(tx.conn())
                .await?;
            tx.audit(
                "flag.delete",
                (Some(project), None),
                &format!("flag:{key}"),
                Some(to_json(&before)?),
                None,
            )
            .await?;
            let published = tx
                .publish_all(project, &format!("flag.delete {key}"))
                .await?;
            Ok(Written {
                item: None,
                published,
            })
        })
        .await
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
        self.write(actor, async |tx| {
            require_env(tx.conn(), project, env).await?;
            let flag = self.flag_in(tx.conn(), project, key).await?;
            let before = flag.environments.get(env).cloned();
            check_revision(
                "targeting",
                before.as_ref().map_or(0, |b| b.revision),
                expected,
            )?;
            let now = tx.now;
            upsert_targeting(tx.conn(), project, env, key, targeting, to_i64(now)?).await?;
            let after = self
                .flag_in(tx.conn(), project, key)
                .await?
                .environments
                .get(env)
                .cloned();
            tx.audit(
                "targeting.update",
                (Some(project), Some(env)),
                &format!("flag:{key}"),
                before.as_ref().map(to_json).transpose()?,
                after.as_ref().map(to_json).transpose()?,
            )
            .await?;
            let published = tx
                .publish(project, env, &format!("targeting.update {key}"))
                .await?;
            Ok(Written {
                item: after,
                published: vec![published],
            })
        })
        .await
    }
}
