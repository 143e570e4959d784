//! Published versions, diff and rollback.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::api::distribution::envelope_response;
use crate::api::extract::{Caller, json, parse_body, written};
use crate::error::ApiError;
use crate::model::Role;
use crate::service::AppState;

// ---- versions ----

#[derive(Debug, Deserialize)]
pub(crate) struct VersionsQuery {
    /// Only versions below this one (paging).
    before: Option<u64>,
    /// At most this many (default 50, at most 1000).
    limit: Option<u64>,
}

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

#[derive(Debug, Deserialize)]
pub(crate) struct DiffQuery {
    from: u64,
    to: u64,
}

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RollbackInput {
    version: u64,
}

pub(crate) async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Publisher)?;
    let input: RollbackInput = parse_body(&body, "rollback request")?;
    let w = state
        .rollback(&actor, &project, &env, input.version)
        .await?;
    written(&w, None, StatusCode::OK)
}
