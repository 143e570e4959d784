//! `/v1/projects`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{Caller, IfMatch, json, json_tagged, parse_body, written};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::{ProjectInput, ProjectUpdate, Role};
use crate::service::AppState;

// ---- projects ----

pub(crate) async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let scope = match caller.0 {
        Principal::Token { project, .. } => project,
        Principal::Sdk { .. } => {
            return Err(ApiError::forbidden(
                "SDK keys may only read their environment's snapshot and stream",
            ));
        }
    };
    let all = state.projects().await?;
    let visible: Vec<_> = all
        .into_iter()
        .filter(|p| scope.as_ref().is_none_or(|s| *s == p.key))
        .collect();
    json(&visible)
}

pub(crate) async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = caller.require(None, Role::Admin)?;
    let input: ProjectInput = parse_body(&body, "project")?;
    let w = state.create_project(&actor, &input).await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::CREATED)
}

pub(crate) async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let p = state.project(&project).await?;
    json_tagged(&p, p.revision)
}

pub(crate) async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let expected = if_match.revision()?;
    let input: ProjectUpdate = parse_body(&body, "project update")?;
    let w = state
        .update_project(&actor, &project, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::OK)
}

pub(crate) async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    let actor = caller.require(None, Role::Admin)?;
    let expected = if_match.revision()?;
    let w = state.delete_project(&actor, &project, expected).await?;
    written(&w, None, StatusCode::OK)
}
