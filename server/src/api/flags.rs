//! Flags (project-wide definitions) and their per-environment targeting.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{
    Caller, IfMatch, definition_role, json, json_tagged, parse_body, write_role, written,
};
use crate::error::ApiError;
use crate::model::{FlagInput, FlagSpec, Role, Targeting};
use crate::service::{AppState, FlagFilter};

// ---- flags ----

pub(crate) async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(filter): Query<FlagFilter>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.list_flags(&project, &filter).await?)
}

pub(crate) async fn create_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    // A new flag is published to every environment of the project (OFF where no targeting is
    // given: it still serves its off variant, whose value the creator chose), so it needs the
    // role of every one of them: publisher when any is protected. A failed lookup is an error
    // (500), never a grant.
    let role = definition_role(&state, &project).await?;
    let actor = caller.require(Some(&project), role)?;
    let input: FlagInput = parse_body(&body, "flag")?;
    let w = state.create_flag(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::CREATED)
}

pub(crate) async fn get_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let f = state.flag(&project, &key).await?;
    json_tagged(&f, f.revision)
}

pub(crate) async fn update_flag(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = definition_role(&state, &project).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let spec: FlagSpec = parse_body(&body, "flag definition")?;
    let w = state
        .update_flag(&actor, &project, &key, expected, &spec)
        .await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::OK)
}

pub(crate) async fn delete_flag(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = definition_role(&state, &project).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let w = state.delete_flag(&actor, &project, &key, expected).await?;
    written(&w, None, StatusCode::OK)
}

pub(crate) async fn get_targeting(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let t = state.targeting(&project, &env, &key).await?;
    json_tagged(&t, t.revision)
}

pub(crate) async fn put_targeting(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, key)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let targeting: Targeting = parse_body(&body, "targeting")?;
    let w = state
        .put_targeting(&actor, &project, &env, &key, expected, &targeting)
        .await?;
    let rev = w.item.as_ref().map(|t| t.revision);
    written(&w, rev, StatusCode::OK)
}
