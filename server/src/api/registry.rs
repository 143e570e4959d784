//! The service registry's routes under `/v1/projects/{project}/environments/{env}/`: register,
//! heartbeat, deregister, list, instance with health history, drain and weight changes,
//! check-now, a balanced URL for clients without an SDK, and the catalog as JSON with a
//! blocking query (`?index=&wait=`, as Consul's).
//!
//! Who may do what: a server-side SDK key of the environment registers, heartbeats and
//! deregisters instances (a key scoped to a service: that service only) and reads; an admin
//! token or session needs editor to write and viewer to read. Client-side keys are refused:
//! instance addresses are internal.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use burgee_core::Strategy;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{BodyName, Caller, JsonBody, OptionalJsonBody, json};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::model::Role;
use crate::registry::{
    CatalogInstance, CatalogService, CheckSummary, HealthEvent, HealthStatus, Instance,
    InstanceInput, InstancePatch, ServiceSummary,
};
use crate::service::AppState;

impl BodyName for InstanceInput {
    const NAME: &'static str = "InstanceInput";
}

impl BodyName for InstancePatch {
    const NAME: &'static str = "InstancePatch";
}

impl BodyName for HeartbeatInput {
    const NAME: &'static str = "HeartbeatInput";
}

/// Body of a heartbeat (optional): the instance reports its own status (a TTL check).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatInput {
    /// `passing`, `warning` or `critical`; absent: only renew the lease.
    #[serde(default)]
    pub status: Option<HealthStatus>,
    /// Why (shown as the instance's reason); at most 512 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatAnswer {
    /// When the lease lapses unless renewed, ms since epoch.
    pub lease_expires_at: u64,
}

/// An instance with its newest status changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceDetail {
    /// The instance.
    pub instance: Instance,
    /// Status changes, newest first (at most 50).
    pub history: Vec<HealthEvent>,
}

/// A balanced choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BalancedUrl {
    /// `scheme://address:port` of the chosen instance.
    pub url: String,
    /// The chosen instance.
    pub instance: CatalogInstance,
}

/// The catalog as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogView {
    /// The catalog version (0 before the first publish); pass it as `index` to wait for the
    /// next one.
    pub index: u64,
    /// Services with their healthy instances.
    pub services: Vec<CatalogService>,
}

/// `?strategy=&key=` of a balanced URL.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BalanceQuery {
    /// `round_robin`, `weighted_random` (default), `least_request` or `consistent_hash`.
    strategy: Option<String>,
    /// The key for `consistent_hash` (user id, session…).
    key: Option<String>,
}

/// `?index=&wait=` of a blocking query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BlockingQuery {
    /// Answer once the catalog version is above this (default 0: at once).
    index: Option<u64>,
    /// Longest wait, ms (default 30,000, at most 300,000).
    wait: Option<u64>,
}

/// Parses a strategy name.
pub(crate) fn strategy(name: Option<&str>) -> Result<Strategy, ApiError> {
    match name.unwrap_or("weighted_random") {
        "round_robin" => Ok(Strategy::RoundRobin),
        "weighted_random" => Ok(Strategy::WeightedRandom),
        "least_request" => Ok(Strategy::LeastRequest),
        "consistent_hash" => Ok(Strategy::ConsistentHash),
        other => Err(ApiError::from(crate::registry::bad_field(
            "strategy",
            &format!(
                "{other:?} is not round_robin, weighted_random, least_request or consistent_hash"
            ),
        ))),
    }
}

/// The caller may write instances of `service` in (project, env): returns the audit actor.
pub(crate) fn may_write(
    caller: &Caller,
    project: &str,
    env: &str,
    service: &str,
) -> Result<String, ApiError> {
    match &caller.0 {
        Principal::Sdk {
            id,
            project: p,
            environment: e,
            client: false,
            service: scope,
        } if p == project && e == env => match scope {
            Some(s) if s != service => Err(ApiError::forbidden(format!(
                "this SDK key is scoped to service \"{s}\""
            ))),
            _ => Ok(format!("sdk:{id}")),
        },
        Principal::Sdk { client: true, .. } => Err(ApiError::forbidden(
            "client-side keys cannot use the service registry",
        )),
        Principal::Sdk { .. } => Err(ApiError::forbidden(
            "this SDK key is for another project or environment",
        )),
        Principal::Token { .. } => caller.require(Some(project), Role::Editor),
    }
}

/// The caller may read the registry of (project, env).
pub(crate) fn may_read(caller: &Caller, project: &str, env: &str) -> Result<(), ApiError> {
    match &caller.0 {
        Principal::Sdk {
            project: p,
            environment: e,
            client: false,
            ..
        } if p == project && e == env => Ok(()),
        Principal::Sdk { .. } => Err(ApiError::forbidden(
            "only a server-side SDK key of this environment reads its registry",
        )),
        Principal::Token { .. } => caller.require(Some(project), Role::Viewer).map(|_| ()),
    }
}

/// The services with registered instances in an environment, with counts.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services", tag = "registry",
    responses((status = 200, description = "Services, by name", body = Vec<ServiceSummary>)),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn list_registered_services(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_read(&caller, &project, &env)?;
    state.instances(&project, &env, None).await?;
    let rows = state.stored_instances(&project, &env).await?;
    json(&crate::registry::summaries(&rows))
}

/// The instances of a service (every status).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances", tag = "registry",
    responses(
        (status = 200, description = "Instances, by id", body = Vec<Instance>),
        (status = 404, description = "SERVICE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn list_instances(
    State(state): State<AppState>,
    Path((project, env, service)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_read(&caller, &project, &env)?;
    json(&state.instances(&project, &env, Some(&service)).await?)
}

/// One instance with its health history.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}", tag = "registry",
    responses(
        (status = 200, description = "The instance", body = InstanceDetail),
        (status = 404, description = "INSTANCE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn get_instance(
    State(state): State<AppState>,
    Path((project, env, service, id)): Path<(String, String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_read(&caller, &project, &env)?;
    let (instance, history) = state.instance((&project, &env, &service, &id)).await?;
    json(&InstanceDetail { instance, history })
}

/// Registers an instance (idempotent: registering again replaces it, keeping its health).
#[utoipa::path(put, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}", tag = "registry",
    request_body = InstanceInput,
    responses(
        (status = 200, description = "Registered again", body = Instance),
        (status = 201, description = "Registered", body = Instance),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment (scoped keys: their service)"))),
)]
pub(crate) async fn register_instance(
    State(state): State<AppState>,
    Path((project, env, service, id)): Path<(String, String, String, String)>,
    caller: Caller,
    body: JsonBody<InstanceInput>,
) -> Result<Response, ApiError> {
    let actor = may_write(&caller, &project, &env, &service)?;
    let input = body.parsed()?;
    let (instance, created) = state
        .register((&project, &env, &service, &id), &input, &actor)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, json(&instance)?).into_response())
}

/// Deregisters an instance.
#[utoipa::path(delete, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}", tag = "registry",
    responses(
        (status = 204, description = "Deregistered"),
        (status = 404, description = "INSTANCE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment (scoped keys: their service)"))),
)]
pub(crate) async fn deregister_instance(
    State(state): State<AppState>,
    Path((project, env, service, id)): Path<(String, String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let actor = may_write(&caller, &project, &env, &service)?;
    state
        .deregister((&project, &env, &service, &id), &actor)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Changes an instance's weight, or drains it (out of the catalog, registration kept).
#[utoipa::path(patch, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}", tag = "registry",
    request_body = InstancePatch,
    responses(
        (status = 200, description = "The instance", body = Instance),
        (status = 404, description = "INSTANCE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment (scoped keys: their service)"))),
)]
pub(crate) async fn patch_instance(
    State(state): State<AppState>,
    Path((project, env, service, id)): Path<(String, String, String, String)>,
    caller: Caller,
    body: JsonBody<InstancePatch>,
) -> Result<Response, ApiError> {
    let actor = may_write(&caller, &project, &env, &service)?;
    let patch = body.parsed()?;
    json(
        &state
            .patch_instance((&project, &env, &service, &id), &patch, &actor)
            .await?,
    )
}

/// Renews an instance's lease (and optionally reports its status). 404 `INSTANCE_NOT_FOUND`
/// tells the SDK to register again.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/services/{service}/instances/{id}/heartbeat", tag = "registry",
    request_body(content = HeartbeatInput, description = "Optional"),
    responses(
        (status = 200, description = "Renewed", body = HeartbeatAnswer),
        (status = 404, description = "INSTANCE_NOT_FOUND: register again", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment (scoped keys: their service)"))),
)]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    Path((project, env, service, id)): Path<(String, String, String, String)>,
    caller: Caller,
    body: OptionalJsonBody<HeartbeatInput>,
) -> Result<Response, ApiError> {
    may_write(&caller, &project, &env, &service)?;
    let input = body.parsed()?.unwrap_or_default();
    let note = input.note.unwrap_or_default();
    if note.len() > 512 {
        return Err(crate::registry::bad_field("note", "at most 512 characters").into());
    }
    let report = input.status.map(|s| {
        (
            s,
            if note.is_empty() {
                "reported by heartbeat"
            } else {
                note.as_str()
            },
        )
    });
    let lease_expires_at = state
        .heartbeat((&project, &env, &service, &id), report)
        .await?;
    json(&HeartbeatAnswer { lease_expires_at })
}

/// Runs the active checks of a service's instances now.
#[utoipa::path(post, path = "/v1/projects/{project}/environments/{env}/services/{service}/check", tag = "registry",
    responses(
        (status = 200, description = "Counts after the checks", body = CheckSummary),
        (status = 404, description = "SERVICE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn check_service(
    State(state): State<AppState>,
    Path((project, env, service)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_write(&caller, &project, &env, &service)?;
    json(&state.check_now(&project, &env, &service).await?)
}

/// One healthy instance chosen by the core's balancer, for clients without an SDK; 404
/// `INSTANCE_NOT_FOUND` when the service has no healthy instance.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/services/{service}/url", tag = "registry",
    params(BalanceQuery),
    responses(
        (status = 200, description = "The chosen instance", body = BalancedUrl),
        (status = 404, description = "SERVICE_NOT_FOUND, or INSTANCE_NOT_FOUND: no healthy instance", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn balanced_url(
    State(state): State<AppState>,
    Path((project, env, service)): Path<(String, String, String)>,
    Query(q): Query<BalanceQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_read(&caller, &project, &env)?;
    state.instances(&project, &env, Some(&service)).await?;
    let strategy = strategy(q.strategy.as_deref())?;
    let chosen = state
        .balanced_instance(&project, &env, &service, strategy, q.key.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                crate::error::ApiCode::InstanceNotFound,
                format!("service \"{service}\" has no healthy instance"),
            )
        })?;
    json(&BalancedUrl {
        url: chosen.url(),
        instance: (&chosen).into(),
    })
}

/// The catalog as JSON; with `index`, answers once the version is above it or `wait` ms have
/// passed (a blocking query). `X-Burgee-Index` carries the version.
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/catalog", tag = "registry",
    params(BlockingQuery),
    responses((status = 200, description = "The catalog", body = CatalogView)),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn catalog_view(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    Query(q): Query<BlockingQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    may_read(&caller, &project, &env)?;
    state.instances(&project, &env, None).await?;
    let wait = Duration::from_millis(q.wait.unwrap_or(30_000).min(300_000));
    let index = q.index.unwrap_or(0);
    let wait = if index == 0 { Duration::ZERO } else { wait };
    let (index, services) = state.catalog_view(&project, &env, index, wait).await?;
    let mut response = json(&CatalogView { index, services })?;
    response
        .headers_mut()
        .insert("x-burgee-index", HeaderValue::from(index));
    Ok(response)
}
