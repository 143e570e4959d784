//! Segments of an environment.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use burgee_core::model::SegmentDef;

use crate::api::extract::{
    BodyName, Caller, IfMatch, JsonBody, json, json_tagged, write_role, written,
};
use crate::error::ApiError;
use crate::model::{Role, Segment, Written};
use crate::service::AppState;

impl BodyName for SegmentDef {
    const NAME: &'static str = "SnapshotSegment";
}

/// The segments of an environment.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/segments", tag = "segments",
    responses((status = 200, description = "Segments, by key", body = Vec<Segment>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_segments(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.segments(&project, &env).await?)
}

/// Create a segment; publishes the environment.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/segments", tag = "segments",
    request_body = ref("#/components/schemas/SnapshotSegment"),
    responses((status = 201, description = "Created", body = Written<Segment>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn create_segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    body: JsonBody<SegmentDef>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let def = body.parsed()?;
    let w = state
        .put_segment(&actor, &project, &env, &def, true, None)
        .await?;
    let rev = w.item.as_ref().map(|s| s.revision);
    written(&w, rev, StatusCode::CREATED)
}

/// One segment (ETag `"r<revision>"`).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/segments/{key}", tag = "segments",
    responses((status = 200, description = "The segment", body = Segment)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let s = state.segment(&project, &env, &key).await?;
    json_tagged(&s, s.revision)
}

/// Replace a segment; publishes the environment.
#[utoipa::path(put, path = "/v1/projects/{project}/environments/{env}/segments/{key}", tag = "segments", params(IfMatch),
    request_body = ref("#/components/schemas/SnapshotSegment"),
    responses((status = 200, description = "Updated", body = Written<Segment>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn update_segment(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, key)): Path<(String, String, String)>,
    body: JsonBody<SegmentDef>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let def = body.parsed()?;
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

/// Delete a segment; publishes the environment.
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{env}/segments/{key}", tag = "segments", params(IfMatch),
    responses((status = 200, description = "Deleted", body = Written<Segment>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
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
