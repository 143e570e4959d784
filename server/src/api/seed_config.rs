//! The seed documents' configuration API, `/api/v1/config...`, with their request and response
//! shapes, so services written against it work unchanged. Entries are addressed by `key`,
//! `environment` and `service_name` in the server's default project
//! ([`AppState::default_project`]) unless `project` is given. Same roles and validation as
//! the `/v1/projects/...` routes (which the console and CLI use); unknown services are created
//! on first write, as the seed API expects.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::extract::{BodyName, Caller, JsonBody, json, write_role};
use crate::configs::{ConfigEntry, ConfigFilter, ConfigInput, Format, WriteMode};
use crate::error::ApiError;
use crate::model::Role;
use crate::service::AppState;

/// A configuration as the seed API reads and writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedConfigInput {
    /// Entry key (`POST` and bulk items; `PUT` takes it from the path).
    #[serde(default)]
    pub key: Option<String>,
    /// The value: any JSON for format `json` (the default, or `text` for a JSON string); the
    /// text itself for `yaml`, `toml`, `properties` and `text`.
    pub value: Value,
    /// Environment key (bulk items take the request's).
    #[serde(default)]
    pub environment: Option<String>,
    /// Service name (bulk items take the request's).
    #[serde(default)]
    pub service_name: Option<String>,
    /// Project (default: the server's default project).
    #[serde(default)]
    pub project: Option<String>,
    /// Format of the value.
    #[serde(default)]
    pub format: Option<Format>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// A JSON Schema the value must satisfy.
    #[serde(default)]
    pub schema: Option<Value>,
    /// A secret (encrypted at rest, `value` `null` in every answer).
    #[serde(default)]
    pub secret: bool,
}

impl BodyName for SeedConfigInput {
    const NAME: &'static str = "SeedConfigInput";
}

/// `POST /api/v1/config/bulk`: several configurations of one service, written at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedBulkInput {
    /// Environment of every item.
    pub environment: String,
    /// Service of every item.
    pub service_name: String,
    /// Project (default: the server's default project).
    #[serde(default)]
    pub project: Option<String>,
    /// The configurations.
    pub configs: Vec<SeedConfigInput>,
}

impl BodyName for SeedBulkInput {
    const NAME: &'static str = "SeedBulkInput";
}

/// A configuration in the seed API's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedConfig {
    /// Entry key.
    pub key: String,
    /// The value: parsed JSON for `json`, the text otherwise, `null` for a secret.
    pub value: Value,
    /// Environment key.
    pub environment: String,
    /// Service name.
    pub service_name: String,
    /// Project key.
    pub project: String,
    /// Format.
    pub format: Format,
    /// Description.
    pub description: String,
    /// Whether it is a secret.
    pub secret: bool,
    /// The entry's version (its revision: 1 at creation, +1 per write).
    pub version: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last change, ms since epoch.
    pub updated_at: u64,
    /// Who changed it last.
    pub updated_by: String,
}

/// `GET /api/v1/config`: `{configs, total}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedConfigList {
    /// The configurations.
    pub configs: Vec<SeedConfig>,
    /// How many.
    pub total: usize,
}

/// One entry of `GET /api/v1/config/{key}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedHistoryEntry {
    /// The version after the change.
    pub version: u64,
    /// The value after it (`null` after a deletion, or for a secret).
    pub value: Value,
    /// `create`, `update`, `delete` or `rollback`.
    pub action: String,
    /// When, ms since epoch.
    pub changed_at: u64,
    /// Who.
    pub changed_by: String,
}

/// `GET /api/v1/config/{key}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedHistory {
    /// Entry key.
    pub key: String,
    /// Environment key.
    pub environment: String,
    /// Service name.
    pub service_name: String,
    /// Newest first.
    pub history: Vec<SeedHistoryEntry>,
}

fn seed_value(e: &ConfigEntry) -> Value {
    match (e.format, &e.parsed, &e.value) {
        (_, _, None) => Value::Null,
        (Format::Json, Some(parsed), _) => parsed.clone(),
        (_, _, Some(raw)) => Value::String(raw.clone()),
    }
}

fn seed_config(e: ConfigEntry) -> SeedConfig {
    SeedConfig {
        value: seed_value(&e),
        key: e.key,
        environment: e.environment,
        service_name: e.service,
        project: e.project,
        format: e.format,
        description: e.description,
        secret: e.secret,
        version: e.revision,
        created_at: e.created_at,
        updated_at: e.updated_at,
        updated_by: e.updated_by,
    }
}

/// The input of the `/v1` routes for a seed body.
fn config_input(body: &SeedConfigInput) -> Result<ConfigInput, ApiError> {
    let format = Format::of_seed_value(body.format, &body.value);
    let value = match (format, &body.value) {
        (Format::Json, v) => v.to_string(),
        (_, Value::String(s)) => s.clone(),
        (f, _) => {
            return Err(ApiError::bad_field(
                "value",
                format!("a {f:?} value is given as its text, a JSON string").to_lowercase(),
            ));
        }
    };
    Ok(ConfigInput {
        format,
        value,
        schema: body.schema.clone(),
        description: body.description.clone(),
        secret: body.secret,
        overrides: Vec::new(),
    })
}

/// `environment`, `service_name`, `project` and `keys[]`/`keys` of a query string.
#[derive(Debug, Default)]
struct SeedQuery {
    environment: Option<String>,
    service_name: Option<String>,
    project: Option<String>,
    keys: Vec<String>,
}

impl SeedQuery {
    fn parse(raw: Option<&str>) -> SeedQuery {
        let mut q = SeedQuery::default();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*k {
                "environment" => q.environment = Some(v.into_owned()),
                "service_name" => q.service_name = Some(v.into_owned()),
                "project" => q.project = Some(v.into_owned()),
                "keys[]" | "keys" => q
                    .keys
                    .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
                _ => {}
            }
        }
        q
    }

    fn required(value: Option<&String>, name: &str) -> Result<String, ApiError> {
        value
            .cloned()
            .ok_or_else(|| ApiError::bad_field(name, format!("?{name}= is required")))
    }
}

async fn project_of(state: &AppState, given: Option<&String>) -> Result<String, ApiError> {
    match given {
        Some(p) => Ok(p.clone()),
        None => Ok(state.default_project().await?),
    }
}

/// Create a configuration (`{key, value, environment, service_name, ...}`); 409 if it exists.
#[utoipa::path(post, path = "/api/v1/config", tag = "seed-config", request_body = SeedConfigInput,
    responses(
        (status = 201, description = "Created", body = SeedConfig),
        (status = 404, description = "NOT_FOUND / SERVICE_NOT_FOUND / CONFIG_NOT_FOUND: an unknown project, environment, service or configuration", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<SeedConfigInput>,
) -> Result<Response, ApiError> {
    let body = body.parsed()?;
    let project = project_of(&state, body.project.as_ref()).await?;
    let key = SeedQuery::required(body.key.as_ref(), "key")?;
    write(&state, &caller, &project, &body, key, WriteMode::Create).await
}

/// Replace a configuration; 404 `CONFIG_NOT_FOUND` if it does not exist.
#[utoipa::path(put, path = "/api/v1/config/{key}", tag = "seed-config", request_body = SeedConfigInput,
    responses((status = 200, description = "Updated", body = SeedConfig)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    body: JsonBody<SeedConfigInput>,
) -> Result<Response, ApiError> {
    let body = body.parsed()?;
    let project = project_of(&state, body.project.as_ref()).await?;
    write(&state, &caller, &project, &body, key, WriteMode::Replace).await
}

async fn write(
    state: &AppState,
    caller: &Caller,
    project: &str,
    body: &SeedConfigInput,
    key: String,
    mode: WriteMode,
) -> Result<Response, ApiError> {
    caller.require(Some(project), Role::Editor)?;
    let env = SeedQuery::required(body.environment.as_ref(), "environment")?;
    let service = SeedQuery::required(body.service_name.as_ref(), "service_name")?;
    let actor = caller.require(Some(project), write_role(state, project, &env).await?)?;
    let input = config_input(body)?;
    let w = state
        .put_configs(
            &actor,
            (project, &env, &service),
            &[(key, input)],
            mode,
            true,
            None,
        )
        .await?;
    let item = w
        .item
        .and_then(|items| items.into_iter().next())
        .ok_or_else(|| ApiError::internal("the write returned no entry"))?;
    let status = if mode == WriteMode::Create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = json(&seed_config(item))?;
    *r.status_mut() = status;
    Ok(r)
}

/// One configuration (`?environment=&service_name=`).
#[utoipa::path(get, path = "/api/v1/config/{key}", tag = "seed-config",
    params(
        ("environment" = String, Query, description = "Environment key"),
        ("service_name" = String, Query, description = "Service name"),
        ("project" = Option<String>, Query, description = "Project (default: the server's default project)"),
    ),
    responses((status = 200, description = "The configuration", body = SeedConfig)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = SeedQuery::parse(raw.as_deref());
    let project = project_of(&state, q.project.as_ref()).await?;
    caller.require(Some(&project), Role::Viewer)?;
    let env = SeedQuery::required(q.environment.as_ref(), "environment")?;
    let service = SeedQuery::required(q.service_name.as_ref(), "service_name")?;
    let e = state.config_entry((&project, &env, &service), &key).await?;
    json(&seed_config(e))
}

/// Configurations, filtered by `environment`, `service_name` and `keys[]` (each optional).
#[utoipa::path(get, path = "/api/v1/config", tag = "seed-config",
    params(
        ("environment" = Option<String>, Query, description = "Only this environment"),
        ("service_name" = Option<String>, Query, description = "Only this service"),
        ("keys[]" = Option<Vec<String>>, Query, description = "Only these keys (repeat, or comma-separated)"),
        ("project" = Option<String>, Query, description = "Project (default: the server's default project)"),
    ),
    responses(
        (status = 200, description = "The configurations", body = SeedConfigList),
        (status = 404, description = "NOT_FOUND / SERVICE_NOT_FOUND / CONFIG_NOT_FOUND: an unknown project, environment, service or configuration", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = SeedQuery::parse(raw.as_deref());
    let project = project_of(&state, q.project.as_ref()).await?;
    caller.require(Some(&project), Role::Viewer)?;
    let envs = match &q.environment {
        Some(e) => vec![e.clone()],
        None => state
            .environments(&project)
            .await?
            .into_iter()
            .map(|e| e.key)
            .collect(),
    };
    let services = match &q.service_name {
        Some(s) => vec![s.clone()],
        None => state
            .services(&project)
            .await?
            .into_iter()
            .map(|s| s.key)
            .collect(),
    };
    let filter = ConfigFilter {
        keys: (!q.keys.is_empty()).then(|| q.keys.clone()),
        prefix: None,
    };
    let mut configs = Vec::new();
    for env in &envs {
        for service in &services {
            let entries = state
                .config_entries((&project, env, service), &filter)
                .await?;
            configs.extend(entries.into_iter().map(seed_config));
        }
    }
    json(&SeedConfigList {
        total: configs.len(),
        configs,
    })
}

/// Delete a configuration (`?environment=&service_name=`); 204.
#[utoipa::path(delete, path = "/api/v1/config/{key}", tag = "seed-config",
    params(
        ("environment" = String, Query, description = "Environment key"),
        ("service_name" = String, Query, description = "Service name"),
        ("project" = Option<String>, Query, description = "Project (default: the server's default project)"),
    ),
    responses((status = 204, description = "Deleted")),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = SeedQuery::parse(raw.as_deref());
    let project = project_of(&state, q.project.as_ref()).await?;
    caller.require(Some(&project), Role::Editor)?;
    let env = SeedQuery::required(q.environment.as_ref(), "environment")?;
    let service = SeedQuery::required(q.service_name.as_ref(), "service_name")?;
    let actor = caller.require(Some(&project), write_role(&state, &project, &env).await?)?;
    state
        .delete_config(&actor, (&project, &env, &service), &key, None)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The versions of a configuration, newest first (`?environment=&service_name=`).
#[utoipa::path(get, path = "/api/v1/config/{key}/history", tag = "seed-config",
    params(
        ("environment" = String, Query, description = "Environment key"),
        ("service_name" = String, Query, description = "Service name"),
        ("project" = Option<String>, Query, description = "Project (default: the server's default project)"),
    ),
    responses((status = 200, description = "The history", body = SeedHistory)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = SeedQuery::parse(raw.as_deref());
    let project = project_of(&state, q.project.as_ref()).await?;
    caller.require(Some(&project), Role::Viewer)?;
    let env = SeedQuery::required(q.environment.as_ref(), "environment")?;
    let service = SeedQuery::required(q.service_name.as_ref(), "service_name")?;
    let revisions = state
        .config_history((&project, &env, &service), &key)
        .await?;
    json(&SeedHistory {
        key,
        environment: env,
        service_name: service,
        history: revisions
            .into_iter()
            .map(|r| SeedHistoryEntry {
                version: r.revision,
                value: r.entry.as_ref().map_or(Value::Null, seed_value),
                action: r.action,
                changed_at: r.at,
                changed_by: r.actor,
            })
            .collect(),
    })
}

/// Create or replace several configurations of one service at once (all or nothing).
#[utoipa::path(post, path = "/api/v1/config/bulk", tag = "seed-config", request_body = SeedBulkInput,
    responses(
        (status = 200, description = "The configurations written", body = SeedConfigList),
        (status = 404, description = "NOT_FOUND / SERVICE_NOT_FOUND / CONFIG_NOT_FOUND: an unknown project, environment, service or configuration", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<SeedBulkInput>,
) -> Result<Response, ApiError> {
    let body = body.parsed()?;
    let project = project_of(&state, body.project.as_ref()).await?;
    caller.require(Some(&project), Role::Editor)?;
    let (env, service) = (&body.environment, &body.service_name);
    let actor = caller.require(Some(&project), write_role(&state, &project, env).await?)?;
    let mut inputs = Vec::with_capacity(body.configs.len());
    for (i, item) in body.configs.iter().enumerate() {
        let key = item
            .key
            .clone()
            .ok_or_else(|| ApiError::bad_field(format!("configs[{i}].key"), "key is required"))?;
        inputs.push((key, config_input(item)?));
    }
    let w = state
        .put_configs(
            &actor,
            (&project, env, service),
            &inputs,
            WriteMode::Upsert,
            true,
            None,
        )
        .await?;
    let configs: Vec<SeedConfig> = w
        .item
        .unwrap_or_default()
        .into_iter()
        .map(seed_config)
        .collect();
    json(&SeedConfigList {
        total: configs.len(),
        configs,
    })
}
