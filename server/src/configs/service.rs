//! Configuration operations on [`AppState`]: services, entries (validated, sealed, versioned,
//! audited, published), history, diff, rollback, bulk writes, and the latest documents.

use std::sync::Arc;

use burgee_core::model::Condition;
use serde_json::Value;

use crate::configs::format::{ValueError, check_schema, parse};
use crate::configs::store::{self, EntryMeta, open, seal};
use crate::configs::{
    ConfigDiff, ConfigEntry, ConfigInput, ConfigRevision, Format, MASK, OverrideView, Service,
    ServiceInput, StoredEntry, StoredOverride,
};
use crate::distribution::{SnapshotEvent, StoredSnapshot};
use crate::error::{ApiCode, StateError};
use crate::model::{Published, Written};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{env_keys, require_env, to_json};
use crate::validate::{check_key, check_name, check_revision};

/// Which entries a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFilter {
    /// Only these keys (bulk get); `None`: all.
    pub keys: Option<Vec<String>>,
    /// Only keys starting with this.
    pub prefix: Option<String>,
}

/// How a write treats an existing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Refuse (409) if the entry exists.
    Create,
    /// Refuse (404 `CONFIG_NOT_FOUND`) if it does not.
    Replace,
    /// Either.
    Upsert,
}

fn refused(code: ApiCode, field: &str, message: String) -> StateError {
    StateError::Refused {
        code,
        field: Some(field.to_owned()),
        message,
    }
}

/// A [`ValueError`] of the value at `field` as the API's refusal.
fn value_error(field: &str, e: ValueError) -> StateError {
    match e {
        ValueError::TooLarge(n) => refused(
            ApiCode::PayloadTooLarge,
            field,
            format!(
                "{field} is {n} bytes, over the limit of {} bytes",
                crate::configs::format::MAX_VALUE_BYTES
            ),
        ),
        ValueError::Parse(m) => refused(ApiCode::ConfigInvalid, field, format!("{field}: {m}")),
        ValueError::Schema(pointer, m) => refused(
            ApiCode::ConfigInvalid,
            &pointer,
            format!("{field} breaks the schema at {pointer}: {m}"),
        ),
        ValueError::BadSchema(m) => refused(
            ApiCode::ConfigInvalid,
            "schema",
            format!("schema is not a valid JSON Schema: {m}"),
        ),
    }
}

/// Parses and checks an input: the value in its format, the schema, every override.
fn validate(input: &ConfigInput) -> Result<StoredEntry, StateError> {
    let value = parse(input.format, &input.value).map_err(|e| value_error("value", e))?;
    if let Some(schema) = &input.schema {
        check_schema(schema, &value).map_err(|e| value_error("value", e))?;
    }
    let mut overrides = Vec::with_capacity(input.overrides.len());
    for (i, o) in input.overrides.iter().enumerate() {
        let field = format!("overrides[{i}]");
        check_name(&format!("{field}.id"), &o.id, 64, false)?;
        if o.id == "base" || input.overrides.iter().take(i).any(|p| p.id == o.id) {
            return Err(refused(
                ApiCode::ConfigInvalid,
                &format!("{field}.id"),
                format!("override id \"{}\" is reserved or used twice", o.id),
            ));
        }
        if let Some(p) = o.percentage
            && p > 10_000
        {
            return Err(refused(
                ApiCode::ConfigInvalid,
                &format!("{field}.percentage"),
                format!("percentage {p} is over 10000 basis points"),
            ));
        }
        if let Some(when) = &o.when {
            serde_json::from_value::<Condition>(when.clone()).map_err(|e| {
                refused(
                    ApiCode::ConfigInvalid,
                    &format!("{field}.when"),
                    format!("{field}.when is not a condition: {e}"),
                )
            })?;
        }
        let vfield = format!("{field}.value");
        let ovalue = parse(input.format, &o.value).map_err(|e| value_error(&vfield, e))?;
        if let Some(schema) = &input.schema {
            check_schema(schema, &ovalue).map_err(|e| value_error(&vfield, e))?;
        }
        overrides.push(StoredOverride {
            id: o.id.clone(),
            when: o.when.clone(),
            percentage: o.percentage,
            raw: o.value.clone(),
            value: ovalue,
        });
    }
    Ok(StoredEntry {
        format: input.format,
        raw: input.value.clone(),
        value,
        schema: input.schema.clone(),
        description: input.description.clone(),
        secret: input.secret,
        overrides,
    })
}

/// The API view of an opened entry (secret values masked to `null`).
fn view(scope: (&str, &str, &str), key: &str, e: StoredEntry, meta: &EntryMeta) -> ConfigEntry {
    let (project, environment, service) = scope;
    let shown = |raw: String, value: Value| {
        if e.secret {
            (None, None)
        } else {
            (Some(raw), Some(value))
        }
    };
    let (value, parsed) = shown(e.raw.clone(), e.value.clone());
    ConfigEntry {
        project: project.to_owned(),
        environment: environment.to_owned(),
        service: service.to_owned(),
        key: key.to_owned(),
        format: e.format,
        value,
        parsed,
        schema: e.schema.clone(),
        description: e.description.clone(),
        secret: e.secret,
        overrides: e
            .overrides
            .iter()
            .map(|o| {
                let (value, parsed) = shown(o.raw.clone(), o.value.clone());
                OverrideView {
                    id: o.id.clone(),
                    when: o.when.clone(),
                    percentage: o.percentage,
                    value,
                    parsed,
                }
            })
            .collect(),
        revision: meta.revision,
        created_at: meta.created_at,
        updated_at: meta.updated_at,
        updated_by: meta.updated_by.clone(),
    }
}

/// The audit form of an entry: its API view as JSON (secrets already masked).
fn audit_form(entry: &ConfigEntry) -> Result<String, StateError> {
    to_json(entry)
}

async fn require_service(tx: &mut Tx<'_>, project: &str, service: &str) -> Result<(), StateError> {
    if store::service_exists(tx.conn(), project, service).await? {
        Ok(())
    } else {
        Err(StateError::Refused {
            code: ApiCode::ServiceNotFound,
            field: None,
            message: format!("project \"{project}\" has no service \"{service}\""),
        })
    }
}

fn config_not_found(service: &str, env: &str, key: &str) -> StateError {
    StateError::Refused {
        code: ApiCode::ConfigNotFound,
        field: None,
        message: format!("service \"{service}\" has no configuration \"{key}\" in \"{env}\""),
    }
}

impl AppState {
    /// The services of a project, sorted.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn services(&self, project: &str) -> Result<Vec<Service>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        store::services(&mut conn, project).await
    }

    /// Creates (publishing an empty config document in every environment) or re-describes a
    /// service.
    ///
    /// # Errors
    /// 400 for a bad name, [`StateError::NotFound`] for an unknown project.
    pub async fn put_service(
        &self,
        actor: &str,
        project: &str,
        service: &str,
        input: &ServiceInput,
    ) -> Result<Written<Service>, StateError> {
        check_key("service", service)?;
        self.write(actor, async |tx| {
            self.put_service_in(tx, project, service, &input.description)
                .await
        })
        .await
    }

    async fn put_service_in(
        &self,
        tx: &mut Tx<'_>,
        project: &str,
        service: &str,
        description: &str,
    ) -> Result<Written<Service>, StateError> {
        let envs = env_keys(tx.conn(), project).await?;
        if envs.is_empty() {
            crate::store::rows::require_project(tx.conn(), project).await?;
        }
        let existed = store::service_exists(tx.conn(), project, service).await?;
        let now = tx.now;
        store::put_service(tx.conn(), project, service, description, now).await?;
        let item = store::services(tx.conn(), project)
            .await?
            .into_iter()
            .find(|s| s.key == service);
        tx.audit(
            if existed {
                "service.update"
            } else {
                "service.create"
            },
            (Some(project), None),
            &format!("service:{service}"),
            None,
            item.as_ref().map(to_json).transpose()?,
        )
        .await?;
        let mut published = Vec::new();
        if !existed {
            for env in envs {
                published.push(
                    tx.publish_config((project, &env, service), "service.create")
                        .await?,
                );
            }
        }
        Ok(Written { item, published })
    }

    /// Creates `service` with `entries` (by environment, then key) in `tx` (the demo seed):
    /// validated, sealed, audited and published like API writes.
    ///
    /// # Errors
    /// As [`AppState::put_configs`].
    pub(crate) async fn seed_service_in(
        &self,
        tx: &mut Tx<'_>,
        project: &str,
        service: &str,
        description: &str,
        entries: &std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, ConfigInput>,
        >,
    ) -> Result<(), StateError> {
        self.put_service_in(tx, project, service, description)
            .await?;
        for (env, inputs) in entries {
            let scope = (project, env.as_str(), service);
            for (key, input) in inputs {
                let entry = validate(input)?;
                self.save_in(tx, scope, key, entry, WriteMode::Create, None)
                    .await?;
            }
            tx.publish_config(scope, "demo seed").await?;
        }
        Ok(())
    }

    /// The entries of a service in an environment (secrets masked).
    ///
    /// # Errors
    /// 404 `SERVICE_NOT_FOUND`, [`StateError::NotFound`] for an unknown environment.
    pub async fn config_entries(
        &self,
        scope: (&str, &str, &str),
        filter: &ConfigFilter,
    ) -> Result<Vec<ConfigEntry>, StateError> {
        let (project, env, service) = scope;
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        if !store::service_exists(&mut conn, project, service).await? {
            return Err(StateError::Refused {
                code: ApiCode::ServiceNotFound,
                field: None,
                message: format!("project \"{project}\" has no service \"{service}\""),
            });
        }
        let rows = store::entries(&mut conn, scope, filter.keys.as_deref()).await?;
        rows.into_iter()
            .filter(|(k, _, _)| filter.prefix.as_ref().is_none_or(|p| k.starts_with(p)))
            .map(|(k, e, m)| Ok(view(scope, &k, open(&self.inner.secrets, e)?, &m)))
            .collect()
    }

    /// One entry (secrets masked).
    ///
    /// # Errors
    /// 404 `SERVICE_NOT_FOUND` / `CONFIG_NOT_FOUND`.
    pub async fn config_entry(
        &self,
        scope: (&str, &str, &str),
        key: &str,
    ) -> Result<ConfigEntry, StateError> {
        let filter = ConfigFilter {
            keys: Some(vec![key.to_owned()]),
            prefix: None,
        };
        self.config_entries(scope, &filter)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| config_not_found(scope.2, scope.1, key))
    }

    /// Creates or replaces entries in one transaction and publishes the service's document
    /// once. `create_service`: an unknown service is created (the seed API's behaviour)
    /// instead of refused. `expected`: the If-Match revision of a single entry.
    ///
    /// # Errors
    /// 422 `CONFIG_INVALID` (line and column, JSON pointer, field), 413 over 1 MiB, 404
    /// `SERVICE_NOT_FOUND` / `CONFIG_NOT_FOUND`, 409 for [`WriteMode::Create`] of an existing
    /// key, 412 for a stale `expected`.
    pub async fn put_configs(
        &self,
        actor: &str,
        scope: (&str, &str, &str),
        inputs: &[(String, ConfigInput)],
        mode: WriteMode,
        create_service: bool,
        expected: Option<u64>,
    ) -> Result<Written<Vec<ConfigEntry>>, StateError> {
        let (project, env, service) = scope;
        check_key("service", service)?;
        let mut valid = Vec::with_capacity(inputs.len());
        for (key, input) in inputs {
            check_name("key", key, 128, true)?;
            valid.push((key.clone(), validate(input)?));
        }
        self.write(actor, async |tx| {
            require_env(tx.conn(), project, env).await?;
            let mut published = Vec::new();
            if create_service && !store::service_exists(tx.conn(), project, service).await? {
                published.extend(
                    self.put_service_in(tx, project, service, "")
                        .await?
                        .published,
                );
            }
            require_service(tx, project, service).await?;
            let mut items = Vec::new();
            for (key, entry) in &valid {
                items.push(
                    self.save_in(tx, scope, key, entry.clone(), mode, expected)
                        .await?,
                );
            }
            published.retain(|p: &Published| p.environment != env);
            published.push(tx.publish_config(scope, "config.put").await?);
            Ok(Written {
                item: Some(items),
                published,
            })
        })
        .await
    }

    /// Writes one validated entry in `tx` (history, audit); returns its view.
    async fn save_in(
        &self,
        tx: &mut Tx<'_>,
        scope: (&str, &str, &str),
        key: &str,
        entry: StoredEntry,
        mode: WriteMode,
        expected: Option<u64>,
    ) -> Result<ConfigEntry, StateError> {
        let (project, env, service) = scope;
        let current = store::entry(tx.conn(), scope, key).await?;
        match (&current, mode) {
            (Some(_), WriteMode::Create) => {
                return Err(StateError::Conflict(format!(
                    "service \"{service}\" already has configuration \"{key}\" in \"{env}\""
                )));
            }
            (None, WriteMode::Replace) => return Err(config_not_found(service, env, key)),
            _ => {}
        }
        if let Some((_, meta)) = &current {
            check_revision(&format!("configuration \"{key}\""), meta.revision, expected)?;
        }
        let before = match current.clone() {
            Some((e, m)) => Some(audit_form(&view(scope, key, open(tx.secrets(), e)?, &m))?),
            None => None,
        };
        let revision = store::last_revision(tx.conn(), scope, key).await? + 1;
        let now = tx.now;
        let created_at = current.as_ref().map_or(now, |(_, m)| m.created_at);
        let action = if current.is_some() {
            "update"
        } else {
            "create"
        };
        let sealed = seal(tx.secrets(), entry.clone())?;
        let actor = tx.actor().to_owned();
        store::save_entry(
            tx.conn(),
            scope,
            key,
            Some(&sealed),
            revision,
            created_at,
            action,
            now,
            &actor,
        )
        .await?;
        let meta = EntryMeta {
            revision,
            created_at,
            updated_at: now,
            updated_by: actor,
        };
        let item = view(scope, key, entry, &meta);
        tx.audit(
            &format!("config.{action}"),
            (Some(project), Some(env)),
            &format!("config:{service}/{key}"),
            before,
            Some(audit_form(&item)?),
        )
        .await?;
        Ok(item)
    }

    /// Deletes an entry and publishes the service's document.
    ///
    /// # Errors
    /// 404 `SERVICE_NOT_FOUND` / `CONFIG_NOT_FOUND`, 412 for a stale `expected`.
    pub async fn delete_config(
        &self,
        actor: &str,
        scope: (&str, &str, &str),
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<ConfigEntry>, StateError> {
        let (project, env, service) = scope;
        self.write(actor, async |tx| {
            require_service(tx, project, service).await?;
            let (e, meta) = store::entry(tx.conn(), scope, key)
                .await?
                .ok_or_else(|| config_not_found(service, env, key))?;
            check_revision(&format!("configuration \"{key}\""), meta.revision, expected)?;
            let before = audit_form(&view(scope, key, open(tx.secrets(), e)?, &meta))?;
            let revision = store::last_revision(tx.conn(), scope, key).await? + 1;
            let (now, actor) = (tx.now, tx.actor().to_owned());
            store::save_entry(
                tx.conn(),
                scope,
                key,
                None,
                revision,
                meta.created_at,
                "delete",
                now,
                &actor,
            )
            .await?;
            tx.audit(
                "config.delete",
                (Some(project), Some(env)),
                &format!("config:{service}/{key}"),
                Some(before),
                None,
            )
            .await?;
            let published = vec![tx.publish_config(scope, "config.delete").await?];
            Ok(Written {
                item: None,
                published,
            })
        })
        .await
    }

    /// Every revision of an entry, newest first (secrets masked).
    ///
    /// # Errors
    /// 404 `SERVICE_NOT_FOUND`, or `CONFIG_NOT_FOUND` if the key was never written.
    pub async fn config_history(
        &self,
        scope: (&str, &str, &str),
        key: &str,
    ) -> Result<Vec<ConfigRevision>, StateError> {
        let (project, env, service) = scope;
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        if !store::service_exists(&mut conn, project, service).await? {
            return Err(StateError::Refused {
                code: ApiCode::ServiceNotFound,
                field: None,
                message: format!("project \"{project}\" has no service \"{service}\""),
            });
        }
        let rows = store::history(&mut conn, scope, key).await?;
        if rows.is_empty() {
            return Err(config_not_found(service, env, key));
        }
        rows.into_iter()
            .map(|(revision, action, entry, at, actor)| {
                let entry = entry
                    .map(|e| {
                        let meta = EntryMeta {
                            revision,
                            created_at: at,
                            updated_at: at,
                            updated_by: actor.clone(),
                        };
                        Ok::<_, StateError>(view(scope, key, open(&self.inner.secrets, e)?, &meta))
                    })
                    .transpose()?;
                Ok(ConfigRevision {
                    revision,
                    action,
                    at,
                    actor,
                    entry,
                })
            })
            .collect()
    }

    /// A unified diff of two revisions' raw text.
    ///
    /// # Errors
    /// As [`AppState::config_history`]; 404 `CONFIG_NOT_FOUND` for a revision that does not
    /// exist.
    pub async fn config_diff(
        &self,
        scope: (&str, &str, &str),
        key: &str,
        from: u64,
        to: u64,
    ) -> Result<ConfigDiff, StateError> {
        let history = self.config_history(scope, key).await?;
        let text =
            |rev: u64| -> Result<(String, Option<Value>), StateError> {
                let r = history.iter().find(|r| r.revision == rev).ok_or_else(|| {
                    StateError::Refused {
                        code: ApiCode::ConfigNotFound,
                        field: None,
                        message: format!("configuration \"{key}\" has no revision {rev}"),
                    }
                })?;
                Ok(match &r.entry {
                    None => (String::new(), None),
                    Some(e) if e.secret => (format!("{MASK}\n"), Some(Value::from(e.revision))),
                    Some(e) => (e.value.clone().unwrap_or_default(), e.parsed.clone()),
                })
            };
        let (old, old_value) = text(from)?;
        let (new, new_value) = text(to)?;
        let diff = similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .header(&format!("r{from}"), &format!("r{to}"))
            .to_string();
        Ok(ConfigDiff {
            key: key.to_owned(),
            from,
            to,
            changed: old_value != new_value,
            diff: if old == new { String::new() } else { diff },
        })
    }

    /// Restores revision `revision` of an entry as a new revision (re-creating a deleted
    /// entry), and publishes.
    ///
    /// # Errors
    /// As [`AppState::config_history`]; 409 when that revision is a deletion.
    pub async fn rollback_config(
        &self,
        actor: &str,
        scope: (&str, &str, &str),
        key: &str,
        revision: u64,
    ) -> Result<Written<ConfigEntry>, StateError> {
        let (project, env, service) = scope;
        self.write(actor, async |tx| {
            require_service(tx, project, service).await?;
            let rows = store::history(tx.conn(), scope, key).await?;
            let (_, _, sealed, _, _) =
                rows.into_iter()
                    .find(|r| r.0 == revision)
                    .ok_or_else(|| StateError::Refused {
                        code: ApiCode::ConfigNotFound,
                        field: None,
                        message: format!("configuration \"{key}\" has no revision {revision}"),
                    })?;
            let sealed = sealed.ok_or_else(|| {
                StateError::Conflict(format!(
                    "revision {revision} of \"{key}\" is a deletion; roll back to a revision \
                     with a value"
                ))
            })?;
            let entry = open(tx.secrets(), sealed)?;
            let mut item = self
                .save_in(tx, scope, key, entry, WriteMode::Upsert, None)
                .await?;
            let (now, actor) = (tx.now, tx.actor().to_owned());
            sqlx::query(
                "UPDATE config_history SET action = 'rollback' WHERE project = $1 \
                 AND environment = $2 AND service = $3 AND key = $4 AND revision = $5",
            )
            .bind(project)
            .bind(env)
            .bind(service)
            .bind(key)
            .bind(crate::store::to_i64(item.revision)?)
            .execute(&mut *tx.conn())
            .await?;
            item.updated_at = now;
            item.updated_by = actor;
            let published = vec![tx.publish_config(scope, "config.rollback").await?];
            Ok(Written {
                item: Some(item),
                published,
            })
        })
        .await
    }

    /// Re-signs (same entries, new version) the config document of every (environment,
    /// service) whose latest document has less than half its lifetime left at `now`, or none
    /// at all (a service created before its environment); appends what was published to
    /// `done`. One that fails is logged and counted (`burgee_resign_failures_total`); the
    /// others go on.
    ///
    /// # Errors
    /// [`StateError::Db`] when the list of services cannot be read.
    pub(crate) async fn republish_configs_due(
        &self,
        now: u64,
        done: &mut Vec<Published>,
    ) -> Result<(), StateError> {
        for (project, env, service) in self.config_scopes().await? {
            let scope = (project.as_str(), env.as_str(), service.as_str());
            let due = match self.latest_config(scope).await {
                Ok(Some(d)) => {
                    let lifetime = d.expires_at.saturating_sub(d.issued_at);
                    d.expires_at.saturating_sub(now) < lifetime / 2
                }
                Ok(None) | Err(_) => true,
            };
            if !due {
                continue;
            }
            match self
                .write("system", async |tx| {
                    tx.publish_config(scope, "re-sign").await
                })
                .await
            {
                Ok(p) => done.push(p),
                Err(e) => {
                    self.inner.metrics.resign_failures.inc();
                    tracing::error!(project = %project, environment = %env, service = %service,
                        error = %e, "re-signing a config document failed; the others go on");
                }
            }
        }
        Ok(())
    }

    /// Every (project, environment, service) that has (or should have) a config document,
    /// sorted.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn config_scopes(&self) -> Result<Vec<(String, String, String)>, StateError> {
        Ok(sqlx::query_as(
            "SELECT e.project, e.key, s.key FROM environments e JOIN services s \
             ON s.project = e.project ORDER BY e.project, e.key, s.key",
        )
        .fetch_all(&self.inner.store.pool)
        .await?)
    }

    /// The latest config document of a scope (with and, as its `client`, without secrets).
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn latest_config(
        &self,
        scope: (&str, &str, &str),
    ) -> Result<Option<Arc<StoredSnapshot>>, StateError> {
        crate::configs::latest_document(&self.inner.store.pool, &self.inner.secrets, scope).await
    }

    /// Sends the latest config document of a scope to this process's streams.
    ///
    /// # Errors
    /// As [`AppState::latest_config`].
    pub async fn broadcast_config(
        &self,
        project: &str,
        env: &str,
        service: &str,
    ) -> Result<(), StateError> {
        if let Some(snapshot) = self.latest_config((project, env, service)).await? {
            // No receivers is fine: nobody is streaming.
            let _ = self.inner.hub.send(SnapshotEvent { snapshot });
        }
        Ok(())
    }

    /// The default project of the seed API (`/api/v1/...` without `project`): `default` if it
    /// exists, else the oldest project.
    ///
    /// # Errors
    /// [`StateError::NotFound`] when there is no project.
    pub async fn default_project(&self) -> Result<String, StateError> {
        let keys: Vec<(String,)> =
            sqlx::query_as("SELECT key FROM projects ORDER BY created_at, key")
                .fetch_all(&self.inner.store.pool)
                .await?;
        if keys.iter().any(|(k,)| k == "default") {
            return Ok("default".into());
        }
        keys.into_iter()
            .next()
            .map(|(k,)| k)
            .ok_or_else(|| StateError::NotFound("the server has no project".into()))
    }
}

impl Format {
    /// The format of a seed-API value: `json` unless given otherwise (a JSON string value
    /// with no format is `text`).
    pub(crate) fn of_seed_value(format: Option<Format>, value: &Value) -> Format {
        format.unwrap_or(if value.is_string() {
            Format::Text
        } else {
            Format::Json
        })
    }
}
