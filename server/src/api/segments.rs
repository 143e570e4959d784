//! Segments of an environment.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use burgee_core::model::SegmentDef;

use crate::api::extract::{Caller, IfMatch, json, json_tagged, parse_body, write_role, written};
use crate::error::ApiError;
use crate::model::Role;
use crate::service::AppState;

// ---- segments ----

pub(crate) async fn list_segments(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.segments(&project, &env).await?)
}

pub(crate) async fn create_segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let def: SegmentDef = parse_body(&body, "segment")?;
    let w = state
        .put_segment(&actor, &project, &env, &def, true, None)
        .await?;
    let rev = w.item.as_ref().map(|s| s.revision);
    written(&w, rev, StatusCode::CREATED)
}

pub(crate) async fn get_segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let s = state.segment(&project, &env, &key).await?;
    json_tagged(&s, s.revision)
}

pub(crate) async fn update_segment(
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
    let def: SegmentDef = parse_body(&body, "segment")?;
    if def.key != key {
        return Err(ApiError::bad_field(
            "key",
            format!(
                "body key \"{}\" differs from the path key \"{key}\"",
                def.key
            ),
        ));
    }
    let w = state
        .put_segment(&actor, &project, &env, &def, false, expected)
        .await?;
    let rev = w.item.as_ref().map(|s| s.revision);
    written(&w, rev, StatusCode::OK)
}

pub(crate) async fn delete_segment(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let w = state
        .delete_segment(&actor, &project, &env, &key, expected)
        .await?;
    written(&w, None, StatusCode::OK)
}
