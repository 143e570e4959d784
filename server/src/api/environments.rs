//! `/v1/projects/{project}/environments`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{Caller, IfMatch, json, json_tagged, parse_body, written};
use crate::error::ApiError;
use crate::model::{EnvironmentInput, EnvironmentUpdate, Role};
use crate::service::AppState;

// ---- environments ----

pub(crate) async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.environments(&project).await?)
}

pub(crate) async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let input: EnvironmentInput = parse_body(&body, "environment")?;
    let w = state.create_environment(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::CREATED)
}

pub(crate) async fn get_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let e = state.environment(&project, &env).await?;
    json_tagged(&e, e.revision)
}

pub(crate) async fn update_environment(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let expected = if_match.revision()?;
    let input: EnvironmentUpdate = parse_body(&body, "environment update")?;
    let w = state
        .update_environment(&actor, &project, &env, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::OK)
}

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
