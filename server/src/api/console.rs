//! Routes the console needs beyond plain resources: an environment's public keys, "Try it"
//! (one flag evaluated for one context by the core), and stale flags.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use crate::api::extract::{BodyName, Caller, JsonBody, json};
use crate::error::ApiError;
use crate::model::{Role, Targeting};
use crate::service::{AppState, EnvironmentKeys, Explanation, StaleFlag};

/// The body of [`evaluate_flag`].
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The evaluation context (`spec/SNAPSHOT.md` §2.3): `targetingKey` and attributes.
    pub context: Value,
    /// A pending (unsaved) targeting of the flag to evaluate instead of the published one.
    #[serde(default)]
    pub targeting: Option<Targeting>,
}

impl BodyName for EvaluateRequest {
    const NAME: &'static str = "EvaluateRequest";
}

/// An environment's public keys, to copy into SDK configuration: the active key and those of
/// a rotation in progress (still co-signing), with where the active key comes from.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/keys", tag = "environments",
    responses((status = 200, description = "The keys", body = EnvironmentKeys)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn environment_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    json(&state.environment_keys(&project, &env).await?)
}

/// Evaluate one flag for one evaluation context with the core the SDKs run ("Try it"), on the
/// latest published snapshot or with a pending targeting: value, variant, reason, rule and
/// bucket. Nothing is published or recorded.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/flags/{key}/evaluate",
    tag = "flags", request_body = EvaluateRequest,
    responses((status = 200, description = "The evaluation", body = Explanation)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn evaluate_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env, key)): Path<(String, String, String)>,
    body: JsonBody<EvaluateRequest>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let request = body.parsed()?;
    let ctx = burgee_core::Context::from_json(&request.context)
        .map_err(|e| ApiError::bad_field("context", e.to_string()))?;
    let explanation = state
        .explain(&project, &env, &key, &ctx, request.targeting.as_ref())
        .await?;
    json(&explanation)
}

/// The window of [`stale_flags`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StaleQuery {
    /// Days without exposures, or of one variant only, that make a flag stale (1..=365,
    /// default 30).
    days: Option<u64>,
}

/// Flags that look stale per environment, from the stored exposures: none for `days` days,
/// or one variant served to every exposure for `days` days.
#[utoipa::path(get, path = "/v1/projects/{project}/stale-flags", tag = "flags",
    params(StaleQuery),
    responses((status = 200, description = "Stale flags by flag and environment", body = Vec<StaleFlag>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn stale_flags(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(query): Query<StaleQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_field("days", "must be 1..=365"));
    }
    json(&state.stale_flags(&project, days).await?)
}
