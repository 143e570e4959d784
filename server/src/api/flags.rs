//! Flags (project-wide definitions) and their per-environment targeting.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::extract::{
    BodyName, Caller, IfMatch, JsonBody, definition_role, json, json_tagged, write_role, written,
};
use crate::error::ApiError;
use crate::model::{EnvironmentTargeting, Flag, FlagInput, FlagSpec, Role, Targeting, Written};
use crate::service::{AppState, FlagFilter};

impl BodyName for FlagInput {
    const NAME: &'static str = "FlagInput";
}

impl BodyName for FlagSpec {
    const NAME: &'static str = "FlagSpec";
}

impl BodyName for Targeting {
    const NAME: &'static str = "Targeting";
}

/// A project's flags with their targeting per environment, filtered by tag, owner, type, text,
/// on/off state and staleness in an environment; sorted; paged with `offset`/`limit` (`X-Total-Count`
/// gives the number of matching flags).
#[utoipa::path(get, path = "/v1/projects/{project}/flags", tag = "flags", params(FlagFilter),
    responses((status = 200, description = "Flags, in the requested order", body = Vec<Flag>,
        headers(("X-Total-Count" = u64, description = "Flags matching the filters, before paging")))),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(filter): Query<FlagFilter>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    if (filter.state.is_some() || filter.stale_days.is_some()) && filter.environment.is_none() {
        return Err(ApiError::bad_field(
            "environment",
            "the state and stale filters need an environment",
        ));
    }
    if filter.stale_days.is_some_and(|d| !(1..=365).contains(&d)) {
        return Err(ApiError::bad_field("stale_days", "must be 1..=365"));
    }
    if filter.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        return Err(ApiError::bad_field("limit", "must be 1..=1000"));
    }
    let page = state.list_flags(&project, &filter).await?;
    let mut response = json(&page.flags)?;
    response.headers_mut().insert(
        "x-total-count",
        axum::http::HeaderValue::from(page.total as u64),
    );
    Ok(response)
}

/// Create a flag; publishes every environment (off where no targeting is given).
#[utoipa::path(post, path = "/v1/projects/{project}/flags", tag = "flags", request_body = FlagInput,
    responses((status = 201, description = "Created", body = Written<Flag>)),
    extensions(("x-burgee-role" = json!("publisher (editor if no environment of the project is protected)"))),
)]
pub(crate) async fn create_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    body: JsonBody<FlagInput>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    // A new flag is published to every environment of the project (OFF where no targeting is
    // given: it still serves its off variant, whose value the creator chose), so it needs the
    // role of every one of them: publisher when any is protected. A failed lookup is an error
    // (500), never a grant.
    let role = definition_role(&state, &project).await?;
    let actor = caller.require(Some(&project), role)?;
    let input = body.parsed()?;
    let w = state.create_flag(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::CREATED)
}

/// One flag with its targeting per environment (ETag `"r<revision>"` of the definition).
#[utoipa::path(get, path = "/v1/projects/{project}/flags/{key}", tag = "flags",
    responses((status = 200, description = "The flag", body = Flag)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let f = state.flag(&project, &key).await?;
    json_tagged(&f, f.revision)
}

/// Replace a flag's project-wide definition; publishes every environment.
#[utoipa::path(put, path = "/v1/projects/{project}/flags/{key}", tag = "flags", params(IfMatch),
    request_body = FlagSpec,
    responses((status = 200, description = "Updated", body = Written<Flag>)),
    extensions(("x-burgee-role" = json!("publisher (editor if no environment of the project is protected)"))),
)]
pub(crate) async fn update_flag(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, key)): Path<(String, String)>,
    body: JsonBody<FlagSpec>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = definition_role(&state, &project).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let spec = body.parsed()?;
    let w = state
        .update_flag(&actor, &project, &key, expected, &spec)
        .await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::OK)
}

/// Delete a flag; publishes every environment.
#[utoipa::path(delete, path = "/v1/projects/{project}/flags/{key}", tag = "flags", params(IfMatch),
    responses((status = 200, description = "Deleted", body = Written<Flag>)),
    extensions(("x-burgee-role" = json!("publisher (editor if no environment of the project is protected)"))),
)]
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

/// A flag's targeting in one environment (ETag `"r<revision>"` of the targeting).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/flags/{key}", tag = "flags",
    responses((status = 200, description = "The targeting", body = EnvironmentTargeting)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn get_targeting(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, key)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let t = state.targeting(&project, &env, &key).await?;
    json_tagged(&t, t.revision)
}

/// Replace a flag's targeting in one environment; publishes the environment.
#[utoipa::path(put, path = "/v1/projects/{project}/environments/{env}/flags/{key}", tag = "flags", params(IfMatch),
    request_body = Targeting,
    responses((status = 200, description = "Updated", body = Written<EnvironmentTargeting>)),
    extensions(("x-burgee-role" = json!("editor (publisher if the environment is protected)"))),
)]
pub(crate) async fn put_targeting(
    State(state): State<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Path((project, env, key)): Path<(String, String, String)>,
    body: JsonBody<Targeting>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Editor)?;
    let role = write_role(&state, &project, &env).await?;
    let actor = caller.require(Some(&project), role)?;
    let expected = if_match.revision()?;
    let targeting = body.parsed()?;
    let w = state
        .put_targeting(&actor, &project, &env, &key, expected, &targeting)
        .await?;
    let rev = w.item.as_ref().map(|t| t.revision);
    written(&w, rev, StatusCode::OK)
}
