//! `/v1/projects`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{BodyName, Caller, IfMatch, JsonBody, json, json_tagged, written};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::{Project, ProjectInput, ProjectUpdate, Role, Written};
use crate::service::AppState;

impl BodyName for ProjectInput {
    const NAME: &'static str = "ProjectInput";
}

impl BodyName for ProjectUpdate {
    const NAME: &'static str = "ProjectUpdate";
}

/// Projects the token can see.
#[utoipa::path(get, path = "/v1/projects", tag = "projects",
    responses((status = 200, description = "Projects, by key", body = Vec<Project>)),
    extensions(("x-burgee-role" = json!("any admin token"))),
)]
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

/// Create a project with its environments (each publishes its first version).
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = ProjectInput,
    responses((status = 201, description = "Created", body = Written<Project>)),
    extensions(("x-burgee-role" = json!("admin (all projects)"))),
)]
pub(crate) async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<ProjectInput>,
) -> Result<Response, ApiError> {
    let actor = caller.require(None, Role::Admin)?;
    let input = body.parsed()?;
    let w = state.create_project(&actor, &input).await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::CREATED)
}

/// One project (ETag `"r<revision>"`).
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "projects",
    responses((status = 200, description = "The project", body = Project)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let p = state.project(&project).await?;
    json_tagged(&p, p.revision)
}

/// Update a project's name and description.
#[utoipa::path(put, path = "/v1/projects/{project}", tag = "projects", params(IfMatch),
    request_body = ProjectUpdate,
    responses((status = 200, description = "Updated", body = Written<Project>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path(project): Path<String>,
    body: JsonBody<ProjectUpdate>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let expected = if_match.revision()?;
    let input = body.parsed()?;
    let w = state
        .update_project(&actor, &project, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::OK)
}

/// Delete a project (its published snapshots and the audit log stay).
#[utoipa::path(delete, path = "/v1/projects/{project}", tag = "projects", params(IfMatch),
    responses((status = 200, description = "Deleted", body = Written<Project>)),
    extensions(("x-burgee-role" = json!("admin (all projects)"))),
)]
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
