//! Published versions, diff and rollback.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::api::distribution::envelope_response;
use crate::api::extract::{BodyName, Caller, JsonBody, json, written};
use crate::error::ApiError;
use crate::model::{Diff, Role, VersionInfo, Written};
use crate::openapi::external::Envelope;
use crate::service::AppState;

/// Paging of [`list_versions`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VersionsQuery {
    /// Only versions below this one (paging).
    before: Option<u64>,
    /// At most this many (default 50, at most 1000).
    limit: Option<u64>,
}

/// Published versions of an environment, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/versions", tag = "versions",
    params(VersionsQuery),
    responses((status = 200, description = "Versions, newest first", body = Vec<VersionInfo>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    Query(q): Query<VersionsQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    json(&state.versions(&project, &env, q.before, limit).await?)
}

/// The signed envelope of one version, exactly as served then (ETag = payload digest, 304 on
/// `If-None-Match`).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/versions/{version}",
    tag = "versions",
    responses(
        (status = 200, description = "The DSSE envelope", body = Envelope),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    ),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, version)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let s = state.version(&project, &env, version).await?;
    envelope_response(&s, &headers)
}

/// The two versions of [`diff`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// Older version.
    from: u64,
    /// Newer version.
    to: u64,
}

/// Flags and segments that differ between two versions, with the changed fields.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/diff", tag = "versions",
    params(DiffQuery),
    responses((status = 200, description = "The changes", body = Diff)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.diff(&project, &env, q.from, q.to).await?)
}

/// Body of `POST .../rollback`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackInput {
    /// The version whose targeting and segments to republish.
    version: u64,
}

impl BodyName for RollbackInput {
    const NAME: &'static str = "RollbackInput";
}

/// Republish an old version's targeting and segments as a new version.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/rollback",
    tag = "versions", request_body = RollbackInput,
    responses((status = 200, description = "Rolled back", body = Written<VersionInfo>)),
    extensions(("x-burgee-role" = json!("publisher"))),
)]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    body: JsonBody<RollbackInput>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Publisher)?;
    let input = body.parsed()?;
    let w = state
        .rollback(&actor, &project, &env, input.version)
        .await?;
    written(&w, None, StatusCode::OK)
}
