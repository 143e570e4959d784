//! The seed documents' registry API, `/api/v1/registry/...`, with their request and response
//! shapes, so services written against it work unchanged. Instances are addressed by
//! `service_name` and `instance_id` in the server's default project
//! ([`AppState::default_project`]) and environment (`production` when the project has it)
//! unless `project` / `environment` are given. A seed registration is a **persistent**
//! instance probed at its `health_check_url` with the seed's settings (every 30 s, 3 s
//! timeout, 3 retries from 1 s doubling up to 30 s); without one it is passing until
//! deregistered. Same roles as the `/v1/projects/...` routes.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{BodyName, Caller, JsonBody, json};
use crate::api::registry::{may_read, may_write, strategy};
use crate::error::{ApiError, StateError};
use crate::registry::{
    CheckSummary, HealthCheck, HealthStatus, Instance, InstanceInput, InstanceKind,
};
use crate::service::AppState;

/// `POST /api/v1/registry/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedRegisterInput {
    /// Service name.
    pub service_name: String,
    /// Where the instance serves, e.g. `http://10.0.0.5:8080`.
    pub service_url: String,
    /// Probed every 30 s when given, e.g. `http://10.0.0.5:8080/health`.
    #[serde(default)]
    pub health_check_url: Option<String>,
    /// `instance_id` (default: `<host>-<port>`), `version`, and any other string members
    /// (kept as metadata; other JSON values are kept as their JSON text).
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    /// Environment (default `production`).
    #[serde(default)]
    pub environment: Option<String>,
    /// Project (default: the server's default project).
    #[serde(default)]
    pub project: Option<String>,
}

impl BodyName for SeedRegisterInput {
    const NAME: &'static str = "SeedRegisterInput";
}

/// `POST /api/v1/registry/deregister`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedDeregisterInput {
    /// Service name.
    pub service_name: String,
    /// Instance id.
    pub instance_id: String,
    /// Environment (default `production`).
    #[serde(default)]
    pub environment: Option<String>,
    /// Project (default: the server's default project).
    #[serde(default)]
    pub project: Option<String>,
}

impl BodyName for SeedDeregisterInput {
    const NAME: &'static str = "SeedDeregisterInput";
}

/// An instance in the seed API's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedInstance {
    /// Service name.
    pub service_name: String,
    /// Instance id.
    pub instance_id: String,
    /// `scheme://address:port`.
    pub service_url: String,
    /// The probed URL, if any.
    pub health_check_url: Option<String>,
    /// `instance_id`, `version` and the other metadata.
    pub metadata: BTreeMap<String, String>,
    /// `passing`, `warning` or `critical`.
    pub status: HealthStatus,
    /// Whether it is served (passing or warning, not draining).
    pub healthy: bool,
    /// Last check, ms since epoch.
    pub last_check: Option<u64>,
    /// Registration, ms since epoch.
    pub registered_at: u64,
}

impl From<Instance> for SeedInstance {
    fn from(i: Instance) -> Self {
        let mut metadata = i.metadata;
        metadata.insert("instance_id".into(), i.id.clone());
        if let Some(v) = &i.version {
            metadata.insert("version".into(), v.clone());
        }
        SeedInstance {
            service_name: i.service,
            instance_id: i.id,
            service_url: i.url,
            health_check_url: i.check.and_then(|c| c.endpoints.into_iter().next()),
            metadata,
            status: i.status,
            healthy: i.in_catalog,
            last_check: i.checked_at,
            registered_at: i.registered_at,
        }
    }
}

/// A registration's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedRegistered {
    /// `registered` or `deregistered`.
    pub status: String,
    /// Service name.
    pub service_name: String,
    /// Instance id.
    pub instance_id: String,
    /// Environment.
    pub environment: String,
}

/// Instances of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedService {
    /// Service name.
    pub service_name: String,
    /// Its instances.
    pub instances: Vec<SeedInstance>,
    /// How many.
    pub total: usize,
}

/// `GET /api/v1/registry/services`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeedServices {
    /// Every service with registered instances.
    pub services: Vec<SeedService>,
    /// How many services.
    pub total: usize,
}

/// `GET …/url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeedUrl {
    /// Service name.
    pub service_name: String,
    /// The chosen instance's URL.
    pub url: String,
    /// The chosen instance.
    pub instance_id: String,
}

/// `?environment=&project=` (and `strategy`, `key` for the URL).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SeedQuery {
    /// Environment (default `production`).
    environment: Option<String>,
    /// Project (default: the server's default project).
    project: Option<String>,
    /// Balancing strategy of `/url` (default `weighted_random`).
    strategy: Option<String>,
    /// Consistent-hashing key of `/url`.
    key: Option<String>,
}

/// The (project, environment) of a seed request.
async fn scope(
    state: &AppState,
    project: Option<String>,
    env: Option<String>,
) -> Result<(String, String), ApiError> {
    let project = match project {
        Some(p) => p,
        None => state.default_project().await?,
    };
    let env = match env {
        Some(e) => e,
        None => state.default_environment(&project).await?,
    };
    Ok((project, env))
}

/// The registration of a seed body.
fn instance_input(body: &SeedRegisterInput) -> Result<(String, InstanceInput), StateError> {
    let bad = |m: String| crate::registry::bad_field("service_url", &m);
    let url = url::Url::parse(&body.service_url)
        .map_err(|e| bad(format!("{:?} is not a URL: {e}", body.service_url)))?;
    let host = url
        .host_str()
        .ok_or_else(|| bad("has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| bad("has no port and its scheme has no default".into()))?;
    let mut metadata: BTreeMap<String, String> = body
        .metadata
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), text)
        })
        .collect();
    let id = metadata
        .remove("instance_id")
        .unwrap_or_else(|| format!("{}-{port}", host.replace([':', '.'], "-")));
    let version = metadata.remove("version");
    Ok((
        id,
        InstanceInput {
            kind: InstanceKind::Persistent,
            scheme: url.scheme().to_owned(),
            address: host,
            port: port.into(),
            weight: 100,
            zone: metadata.remove("zone"),
            version,
            metadata,
            lease_ms: None,
            check: body.health_check_url.clone().map(HealthCheck::of_url),
        },
    ))
}

/// Registers an instance (idempotent by `metadata.instance_id`).
#[utoipa::path(post, path = "/api/v1/registry/register", tag = "seed-api",
    request_body = SeedRegisterInput,
    responses(
        (status = 201, description = "Registered", body = SeedRegistered),
        (status = 200, description = "Registered again", body = SeedRegistered),
        (status = 404, description = "Unknown project or environment", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_register(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<SeedRegisterInput>,
) -> Result<Response, ApiError> {
    let body = body.parsed()?;
    let (project, env) = scope(&state, body.project.clone(), body.environment.clone()).await?;
    let actor = may_write(&caller, &project, &env, &body.service_name)?;
    let (id, input) = instance_input(&body)?;
    let (_, created) = state
        .register((&project, &env, &body.service_name, &id), &input, &actor)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = SeedRegistered {
        status: "registered".into(),
        service_name: body.service_name,
        instance_id: id,
        environment: env,
    };
    Ok((status, json(&answer)?).into_response())
}

/// Deregisters an instance.
#[utoipa::path(post, path = "/api/v1/registry/deregister", tag = "seed-api",
    request_body = SeedDeregisterInput,
    responses(
        (status = 200, description = "Deregistered", body = SeedRegistered),
        (status = 404, description = "INSTANCE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_deregister(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<SeedDeregisterInput>,
) -> Result<Response, ApiError> {
    let body = body.parsed()?;
    let (project, env) = scope(&state, body.project.clone(), body.environment.clone()).await?;
    let actor = may_write(&caller, &project, &env, &body.service_name)?;
    state
        .deregister(
            (&project, &env, &body.service_name, &body.instance_id),
            &actor,
        )
        .await?;
    json(&SeedRegistered {
        status: "deregistered".into(),
        service_name: body.service_name,
        instance_id: body.instance_id,
        environment: env,
    })
}

/// Every service with its instances.
#[utoipa::path(get, path = "/api/v1/registry/services", tag = "seed-api",
    params(SeedQuery),
    responses(
        (status = 200, description = "Services", body = SeedServices),
        (status = 404, description = "Unknown project or environment", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_services(
    State(state): State<AppState>,
    Query(q): Query<SeedQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (project, env) = scope(&state, q.project, q.environment).await?;
    may_read(&caller, &project, &env)?;
    let mut by_service: BTreeMap<String, Vec<SeedInstance>> = BTreeMap::new();
    for i in state.instances(&project, &env, None).await? {
        by_service
            .entry(i.service.clone())
            .or_default()
            .push(i.into());
    }
    let services: Vec<SeedService> = by_service
        .into_iter()
        .map(|(service_name, instances)| SeedService {
            service_name,
            total: instances.len(),
            instances,
        })
        .collect();
    json(&SeedServices {
        total: services.len(),
        services,
    })
}

/// One service's instances (every status).
#[utoipa::path(get, path = "/api/v1/registry/services/{service_name}", tag = "seed-api",
    params(SeedQuery),
    responses(
        (status = 200, description = "The service", body = SeedService),
        (status = 404, description = "SERVICE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_service(
    State(state): State<AppState>,
    Path(service_name): Path<String>,
    Query(q): Query<SeedQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (project, env) = scope(&state, q.project, q.environment).await?;
    may_read(&caller, &project, &env)?;
    let instances: Vec<SeedInstance> = state
        .instances(&project, &env, Some(&service_name))
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    json(&SeedService {
        service_name,
        total: instances.len(),
        instances,
    })
}

/// The healthy instances of a service.
#[utoipa::path(get, path = "/api/v1/registry/discover/{service_name}", tag = "seed-api",
    params(SeedQuery),
    responses(
        (status = 200, description = "Healthy instances", body = SeedService),
        (status = 404, description = "SERVICE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_discover(
    State(state): State<AppState>,
    Path(service_name): Path<String>,
    Query(q): Query<SeedQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (project, env) = scope(&state, q.project, q.environment).await?;
    may_read(&caller, &project, &env)?;
    let instances: Vec<SeedInstance> = state
        .instances(&project, &env, Some(&service_name))
        .await?
        .into_iter()
        .filter(|i| i.in_catalog)
        .map(Into::into)
        .collect();
    json(&SeedService {
        service_name,
        total: instances.len(),
        instances,
    })
}

/// A balanced URL of a healthy instance (from the signed catalog, by the core's balancer).
#[utoipa::path(get, path = "/api/v1/registry/services/{service_name}/url", tag = "seed-api",
    params(SeedQuery),
    responses(
        (status = 200, description = "The chosen URL", body = SeedUrl),
        (status = 404, description = "SERVICE_NOT_FOUND, or INSTANCE_NOT_FOUND: no healthy instance", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("viewer, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_url(
    State(state): State<AppState>,
    Path(service_name): Path<String>,
    Query(q): Query<SeedQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (project, env) = scope(&state, q.project, q.environment).await?;
    may_read(&caller, &project, &env)?;
    state.instances(&project, &env, Some(&service_name)).await?;
    let strategy = strategy(q.strategy.as_deref())?;
    let chosen = state
        .balanced_instance(&project, &env, &service_name, strategy, q.key.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                crate::error::ApiCode::InstanceNotFound,
                format!("service \"{service_name}\" has no healthy instance"),
            )
        })?;
    json(&SeedUrl {
        service_name,
        url: chosen.url(),
        instance_id: chosen.id,
    })
}

/// Checks every instance of a service now.
#[utoipa::path(post, path = "/api/v1/registry/services/{service_name}/health", tag = "seed-api",
    params(SeedQuery),
    responses(
        (status = 200, description = "Counts after the checks", body = CheckSummary),
        (status = 404, description = "SERVICE_NOT_FOUND", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("editor, or a server-side SDK key of the environment"))),
)]
pub(crate) async fn seed_health(
    State(state): State<AppState>,
    Path(service_name): Path<String>,
    Query(q): Query<SeedQuery>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (project, env) = scope(&state, q.project, q.environment).await?;
    may_write(&caller, &project, &env, &service_name)?;
    json(&state.check_now(&project, &env, &service_name).await?)
}
