//! The configuration centre's authoring routes: services of a project, and the entries of a
//! service in an environment (CRUD, bulk write, history, diff, rollback).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{
    BodyName, Caller, IfMatch, JsonBody, json, json_tagged, write_role, written,
};
use crate::configs::{
    ConfigDiff, ConfigEntry, ConfigFilter, ConfigInput, ConfigRevision, Service, ServiceInput,
    WriteMode,
};
use crate::error::ApiError;
use crate::model::{Role, Written};
use crate::service::AppState;

impl BodyName for ConfigInput {
    const NAME: &'static str = "ConfigInput";
}

impl BodyName for ServiceInput {
    const NAME: &'static str = "ServiceInput";
}

impl BodyName for BulkConfigInput {
    const NAME: &'static str = "BulkConfigInput";
}

impl BodyName for ConfigRollbackInput {
    const NAME: &'static str = "ConfigRollbackInput";
}

/// Body of `POST …/services/{service}/bulk`: entries to create or replace, by key, in one
/// transaction and one published document (all or nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkConfigInput {
    /// Entries by key.
    pub configs: BTreeMap<String, ConfigInput>,
}

/// Body of `POST …/configs/{key}/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigRollbackInput {
    /// The revision whose value becomes current again (as a new revision).
    pub revision: u64,
}

/// Filters of the entry list (bulk get).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConfigListQuery {
    /// Comma-separated keys: only these (bulk get).
    keys: Option<String>,
    /// Only keys starting with this.
    prefix: Option<String>,
}

/// `?from=&to=` of a diff.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// Older revision.
    from: u64,
    /// Newer revision.
    to: u64,
}

/// The services of a project.
#[utoipa::path(get, path = "/v1/projects/{project}/services", tag = "configs",
    responses((status = 200, description = "Services, by name", body = Vec<Service>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_services(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.services(&project).await?)
}

/// Create or describe a service; a new service gets an empty config document in every
/// environment.
#[utoipa::path(put, path = "/v1/projects/{project}/services/{service}", tag = "configs",
    request_body = ServiceInput,
    responses((status = 200, description = "The service", body = Written<Service>)),
    extensions(("x-burgee-role" = json!("editor"))),
)]
pub(crate) async fn put_service(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, service)): Path<(String, String)>,
    body: JsonBody<ServiceInput>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Editor)?;
    let input = body.parsed()?;
    let w = state
        .put_service(&actor, &project, &service, &input)
        .await?;
    written(&w, None, StatusCode::OK)
}

/// The entries of a service in an environment (secret values `null`); `?keys=a,b` reads
/// several at once.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs",
    tag = "configs", params(ConfigListQuery),
    responses((status = 200, description = "Entries, by key", body = Vec<ConfigEntry>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_configs(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service)): Path<(String, String, String)>,
    Query(q): Query<ConfigListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let filter = ConfigFilter {
        keys: q
            .keys
            .map(|k| k.split(',').map(|s| s.trim().to_owned()).collect()),
        prefix: q.prefix,
    };
    json(
        &state
            .config_entries((&project, &env, &service), &filter)
            .await?,
    )
}

/// One entry (ETag `"r<revision>"`).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
    tag = "configs",
    responses((status = 200, description = "The entry", body = ConfigEntry)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_config(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let e = state.config_entry((&project, &env, &service), &key).await?;
    json_tagged(&e, e.revision)
}

/// Create an entry (no `If-Match`), or replace it (`If-Match: "r<revision>"`, or `*`);
/// publishes the service's config document.
#[utoipa::path(put, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
    tag = "configs", request_body = ConfigInput,
    params(("If-Match" = Option<String>, Header,
        description = "Absent: create (409 if it exists); \"r<revision>\": replace that revision; *: create or replace")),
    responses(
        (status = 201, description = "Created", body = Written<ConfigEntry>),
        (status = 200, description = "Replaced", body = Written<ConfigEntry>),
    ),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn put_config(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
    body: JsonBody<ConfigInput>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let (mode, expected) = match if_match.revision() {
        Err(e) if e.code == crate::error::ApiCode::PreconditionRequired => {
            (WriteMode::Create, None)
        }
        Err(e) => return Err(e),
        Ok(None) => (WriteMode::Upsert, None),
        Ok(Some(rev)) => (WriteMode::Replace, Some(rev)),
    };
    let input = body.parsed()?;
    let w = state
        .put_configs(
            &actor,
            (&project, &env, &service),
            &[(key, input)],
            mode,
            false,
            expected,
        )
        .await?;
    let item = w.item.and_then(|items| items.into_iter().next());
    let rev = item.as_ref().map(|e| e.revision);
    let status = if item
        .as_ref()
        .is_some_and(|e| e.revision == 1 || mode == WriteMode::Create)
    {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    written(
        &Written {
            item,
            published: w.published,
        },
        rev,
        status,
    )
}

/// Create or replace several entries at once (all or nothing, one publish).
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/services/{service}/bulk",
    tag = "configs", request_body = BulkConfigInput,
    responses((status = 200, description = "The entries written", body = Written<Vec<ConfigEntry>>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn bulk_put_configs(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service)): Path<(String, String, String)>,
    body: JsonBody<BulkConfigInput>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let input = body.parsed()?;
    let inputs: Vec<(String, ConfigInput)> = input.configs.into_iter().collect();
    let w = state
        .put_configs(
            &actor,
            (&project, &env, &service),
            &inputs,
            WriteMode::Upsert,
            false,
            None,
        )
        .await?;
    written(&w, None, StatusCode::OK)
}

/// Delete an entry; publishes the service's config document.
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}",
    tag = "configs", params(IfMatch),
    responses((status = 200, description = "Deleted", body = Written<ConfigEntry>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn delete_config(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let w = state
        .delete_config(&actor, (&project, &env, &service), &key, expected)
        .await?;
    written(&w, None, StatusCode::OK)
}

/// Every revision of an entry, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/history",
    tag = "configs",
    responses((status = 200, description = "Revisions, newest first", body = Vec<ConfigRevision>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn config_history(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(
        &state
            .config_history((&project, &env, &service), &key)
            .await?,
    )
}

/// A unified diff of two revisions of an entry.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/diff",
    tag = "configs", params(DiffQuery),
    responses((status = 200, description = "The diff", body = ConfigDiff)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn config_diff(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(
        &state
            .config_diff((&project, &env, &service), &key, q.from, q.to)
            .await?,
    )
}

/// Make an earlier revision's value current again (a new revision); publishes.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/rollback",
    tag = "configs", request_body = ConfigRollbackInput,
    responses((status = 200, description = "The entry after the rollback", body = Written<ConfigEntry>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn rollback_config(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, service, key)): Path<(String, String, String, String)>,
    body: JsonBody<ConfigRollbackInput>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let input = body.parsed()?;
    let w = state
        .rollback_config(&actor, (&project, &env, &service), &key, input.revision)
        .await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::OK)
}
