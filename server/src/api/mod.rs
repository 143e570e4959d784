//! The HTTP API: [`app`] builds the axum router; handlers live in one module per resource,
//! sharing the extractors of `extract` (the caller and its role, `If-Match`). README's "HTTP API" section lists every
//! route with the role it needs; [`crate::error`] lists every error code.
//!
//! Authentication is `Authorization: Bearer <token>`: an admin API token (role viewer <
//! editor < publisher < admin, scoped to one project or to all), an SDK key (one
//! environment: `GET /v1/snapshots/{env}`, `GET /v1/stream/{env}`, the client routes and
//! `POST /v1/events`) or a client-side key (one environment, public by design: only
//! `GET /v1/client/snapshots/{env}`, `GET /v1/client/stream/{env}` and `POST /v1/events`).
//! Those three routes answer browsers' CORS requests from any origin and also take the key as
//! `?key=` (an `EventSource` or `navigator.sendBeacon` cannot set headers); only client-side
//! keys are accepted in a URL.
//!
//! Updates and deletes need `If-Match: "r<revision>"` (the `ETag` of the resource as read;
//! `*` accepts any revision): a missing header is 428, a stale one 412.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use self::limits::CallerRateLimiter;
use crate::error::{ApiCode, ApiError, ErrorBody};
use crate::openapi;
use crate::service::AppState;

mod catalog_sync;
mod changes;
mod config_sync;
mod configs;
mod console;
mod distribution;
mod environments;
mod events;
mod extract;
mod flags;
mod limits;
mod oidc;
mod projects;
mod registry;
mod seed_config;
mod seed_registry;
mod segments;
mod session;
mod tokens;
mod versions;
mod webhooks;

pub use changes::ProjectChange;

/// The operations probes: never rate limited nor shed by the concurrency limit (health checks
/// and scrapes must reach an overloaded server, or an orchestrator restarts it under load).
pub const PROBE_PATHS: [&str; 4] = ["/health", "/live", "/ready", "/metrics"];

/// The route table: every route of the API with its handler, grouped by path. The router
/// ([`app`]) and the OpenAPI document ([`openapi::document`]) are both built from it, so a
/// route cannot be served undocumented or documented unserved.
pub fn routes() -> OpenApiRouter<AppState> {
    probe_routes().merge(api_routes())
}

/// The routes of [`PROBE_PATHS`].
fn probe_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// Every other route of the API.
fn api_routes() -> OpenApiRouter<AppState> {
    let (schemas, paths, ingest) = routes!(events::post_events);
    let ingest = ingest.layer(DefaultBodyLimit::max(events::EVENTS_MAX_BODY_BYTES));
    // The routes browsers call, with CORS for any origin: client-side keys are public, and
    // requests carry no cookies (credentials are not allowed).
    let browser = OpenApiRouter::new()
        .routes(routes!(distribution::get_client_snapshot))
        .routes(routes!(distribution::stream_client_snapshots))
        .routes(routes!(config_sync::get_config_document))
        .routes(routes!(config_sync::stream_config))
        .routes((schemas, paths, ingest))
        .layer(browser_cors());
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(distribution::get_snapshot))
        .routes(routes!(distribution::stream_snapshots))
        .routes(routes!(catalog_sync::get_catalog))
        .routes(routes!(catalog_sync::stream_catalog))
        .merge(browser)
        .routes(routes!(projects::list_projects, projects::create_project))
        .routes(routes!(
            projects::get_project,
            projects::update_project,
            projects::delete_project
        ))
        .routes(routes!(
            environments::list_environments,
            environments::create_environment
        ))
        .routes(routes!(
            environments::get_environment,
            environments::update_environment,
            environments::delete_environment
        ))
        .routes(routes!(flags::list_flags, flags::create_flag))
        .routes(routes!(
            flags::get_flag,
            flags::update_flag,
            flags::delete_flag
        ))
        .routes(routes!(flags::get_targeting, flags::put_targeting))
        .routes(routes!(configs::list_services))
        .routes(routes!(configs::put_service))
        .routes(routes!(configs::list_configs))
        .routes(routes!(
            configs::get_config,
            configs::put_config,
            configs::delete_config
        ))
        .routes(routes!(configs::bulk_put_configs))
        .routes(routes!(configs::config_history))
        .routes(routes!(configs::config_diff))
        .routes(routes!(configs::rollback_config))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(webhooks::delete_webhook))
        .routes(routes!(webhooks::webhook_deliveries))
        .routes(routes!(seed_config::create, seed_config::list))
        .routes(routes!(
            seed_config::get_one,
            seed_config::update,
            seed_config::delete
        ))
        .routes(routes!(registry::list_registered_services))
        .routes(routes!(registry::list_instances))
        .routes(routes!(
            registry::get_instance,
            registry::register_instance,
            registry::deregister_instance,
            registry::patch_instance
        ))
        .routes(routes!(registry::heartbeat))
        .routes(routes!(registry::check_service))
        .routes(routes!(registry::balanced_url))
        .routes(routes!(registry::catalog_view))
        .routes(routes!(seed_registry::seed_register))
        .routes(routes!(seed_registry::seed_deregister))
        .routes(routes!(seed_registry::seed_services))
        .routes(routes!(seed_registry::seed_service))
        .routes(routes!(seed_registry::seed_discover))
        .routes(routes!(seed_registry::seed_url))
        .routes(routes!(seed_registry::seed_health))
        .routes(routes!(seed_config::history))
        .routes(routes!(seed_config::bulk))
        .routes(routes!(segments::list_segments, segments::create_segment))
        .routes(routes!(
            segments::get_segment,
            segments::update_segment,
            segments::delete_segment
        ))
        .routes(routes!(versions::list_versions))
        .routes(routes!(versions::get_version))
        .routes(routes!(versions::diff))
        .routes(routes!(versions::rollback))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(tokens::list_audit))
        .routes(routes!(tokens::verify_audit))
        .routes(routes!(
            session::sign_in,
            session::get_session,
            session::sign_out
        ))
        .routes(routes!(session::sign_out_everywhere))
        .routes(routes!(oidc::sso_info))
        .routes(routes!(oidc::start))
        .routes(routes!(oidc::callback))
        .routes(routes!(session::list_users, session::create_user))
        .routes(routes!(session::disable_user))
        .routes(routes!(events::recent_events))
        .routes(routes!(events::experiment_results))
        .routes(routes!(console::environment_keys))
        .routes(routes!(console::evaluate_flag))
        .routes(routes!(console::stale_flags))
        .routes(routes!(changes::stream_changes))
}

/// The router with every route of [`routes()`], the Swagger UI at `/swagger-ui/`,
/// compression, request metrics, JSON errors for framework rejections, a body size limit and
/// request tracing, bound to `state`. Serve it with `axum::serve`, or call it in tests with
/// `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let (probes, _) = probe_routes().split_for_parts();
    let (api, _) = api_routes().split_for_parts();
    let limits = state.limits();
    let shed = tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            limits::overloaded,
        ))
        .layer(tower::load_shed::LoadShedLayer::new())
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests.max(1),
        ));
    let guarded = api
        // Swagger UI (assets vendored in the crate) reading the document at /openapi.json.
        .merge(
            SwaggerUi::new("/swagger-ui").config(utoipa_swagger_ui::Config::from("/openapi.json")),
        )
        .merge(crate::ui::router())
        .fallback(no_route)
        // Inside the rate limit: a caller over its rate takes no concurrency permit.
        .layer(shed);
    probes
        .merge(guarded)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        // Outside the rate limit: a declared oversize body is refused before any lookup.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::declared_body_limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(state.max_body_bytes()))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for the browser routes: any origin, no credentials.
fn browser_cors() -> tower_http::cors::CorsLayer {
    use axum::http::{Method, header};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([ETAG])
        .max_age(std::time::Duration::from_secs(86_400))
}

/// Records request metrics by matched route.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    state.metrics().observe(
        &route,
        &method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// Turns the framework's plain-text rejections (bad path or query, body too large, wrong
/// method, ...) into the `{code, message}` JSON every error has.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiCode::UnsupportedMediaType,
        StatusCode::NOT_FOUND => ApiCode::NotFound,
        StatusCode::REQUEST_TIMEOUT => ApiCode::RequestTimeout,
        StatusCode::SERVICE_UNAVAILABLE => ApiCode::Unavailable,
        s if s.is_server_error() => ApiCode::Internal,
        _ => ApiCode::BadRequest,
    };
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let mut message = String::from_utf8_lossy(&bytes).trim().to_owned();
    if message.is_empty() {
        message = status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned();
    }
    let body = ErrorBody {
        code: code.as_str().to_owned(),
        message,
        field: None,
    };
    (status, axum::Json(body)).into_response()
}

/// The answer of `/health`, `/live` and `/ready`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok` (the process answers) or `ready` (it can serve).
    status: &'static str,
}

/// The process answers.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Liveness (the same as `/health`).
#[utoipa::path(get, path = "/live", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn live() -> axum::Json<Health> {
    health().await
}

/// Readiness: the database answers (503 `UNAVAILABLE` otherwise).
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "UNAVAILABLE: the database is not reachable", body = ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    if state.store().ping().await {
        Ok(axum::Json(Health { status: "ready" }))
    } else {
        Err(ApiError::unavailable("the database is not reachable"))
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics().render();
    text.push_str(&crate::metrics::event_log_text(
        state.events().log_counters(),
    ));
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The document", body = Object)),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn openapi_json() -> axum::Json<&'static serde_json::Value> {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(openapi::document);
    axum::Json(&DOCUMENT)
}

async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}
