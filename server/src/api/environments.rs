//! `/v1/projects/{project}/environments`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{BodyName, Caller, IfMatch, JsonBody, json, json_tagged, written};
use crate::error::ApiError;
use crate::model::{Environment, EnvironmentInput, EnvironmentUpdate, Role, Written};
use crate::service::AppState;

impl BodyName for EnvironmentInput {
    const NAME: &'static str = "EnvironmentInput";
}

impl BodyName for EnvironmentUpdate {
    const NAME: &'static str = "EnvironmentUpdate";
}

/// A project's environments.
#[utoipa::path(get, path = "/v1/projects/{project}/environments", tag = "projects",
    responses((status = 200, description = "Environments, by key", body = Vec<Environment>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.environments(&project).await?)
}

/// Create an environment (publishes its first version).
#[utoipa::path(post, path = "/v1/projects/{project}/environments", tag = "projects",
    request_body = EnvironmentInput,
    responses((status = 201, description = "Created", body = Written<Environment>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    body: JsonBody<EnvironmentInput>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let input = body.parsed()?;
    let w = state.create_environment(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::CREATED)
}

/// One environment (ETag `"r<revision>"`).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}", tag = "projects",
    responses((status = 200, description = "The environment", body = Environment)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let e = state.environment(&project, &env).await?;
    json_tagged(&e, e.revision)
}

/// Update an environment's name and protection.
#[utoipa::path(put, path = "/v1/projects/{project}/environments/{env}", tag = "projects",
    params(IfMatch), request_body = EnvironmentUpdate,
    responses((status = 200, description = "Updated", body = Written<Environment>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn update_environment(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env)): Path<(String, String)>,
    body: JsonBody<EnvironmentUpdate>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let expected = if_match.revision()?;
    let input = body.parsed()?;
    let w = state
        .update_environment(&actor, &project, &env, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::OK)
}

/// Delete an environment (its SDK keys stop working).
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{env}", tag = "projects",
    params(IfMatch),
    responses((status = 200, description = "Deleted", body = Written<Environment>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn delete_environment(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let expected = if_match.revision()?;
    let w = state
        .delete_environment(&actor, &project, &env, expected)
        .await?;
    written(&w, None, StatusCode::OK)
}
