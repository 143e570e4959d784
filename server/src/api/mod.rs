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
use axum::routing::{get, post};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::distribution::{
    get_client_snapshot, get_snapshot, stream_client_snapshots, stream_snapshots,
};
use crate::api::environments::{
    create_environment, delete_environment, get_environment, list_environments, update_environment,
};
use crate::api::events::{EVENTS_MAX_BODY_BYTES, experiment_results, post_events, recent_events};
use crate::api::flags::{
    create_flag, delete_flag, get_flag, get_targeting, list_flags, put_targeting, update_flag,
};
use crate::api::projects::{
    create_project, delete_project, get_project, list_projects, update_project,
};
use crate::api::segments::{
    create_segment, delete_segment, get_segment, list_segments, update_segment,
};
use crate::api::tokens::{create_token, list_audit, list_tokens, revoke_token};
use crate::api::versions::{diff, get_version, list_versions, rollback};
use crate::error::{ApiCode, ApiError, ErrorBody};
use crate::openapi;
use crate::service::AppState;

mod distribution;
mod environments;
mod events;
mod extract;
mod flags;
mod projects;
mod segments;
mod tokens;
mod versions;

/// The router with every route, compression, request metrics, JSON errors for framework
/// rejections, a body size limit and request tracing, bound to `state`. Serve it with
/// `axum::serve`, or call it in tests with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let env = "/v1/projects/{project}/environments/{env}";
    Router::new()
        .route("/health", get(health))
        .route("/live", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/snapshots/{env}", get(get_snapshot))
        .route("/v1/stream/{env}", get(stream_snapshots))
        .merge(browser_routes())
        .route("/v1/projects", get(list_projects).post(create_project))
        .route(
            "/v1/projects/{project}",
            get(get_project).put(update_project).delete(delete_project),
        )
        .route(
            "/v1/projects/{project}/environments",
            get(list_environments).post(create_environment),
        )
        .route(
            env,
            get(get_environment)
                .put(update_environment)
                .delete(delete_environment),
        )
        .route(
            "/v1/projects/{project}/flags",
            get(list_flags).post(create_flag),
        )
        .route(
            "/v1/projects/{project}/flags/{key}",
            get(get_flag).put(update_flag).delete(delete_flag),
        )
        .route(
            &format!("{env}/flags/{{key}}"),
            get(get_targeting).put(put_targeting),
        )
        .route(
            &format!("{env}/segments"),
            get(list_segments).post(create_segment),
        )
        .route(
            &format!("{env}/segments/{{key}}"),
            get(get_segment).put(update_segment).delete(delete_segment),
        )
        .route(&format!("{env}/versions"), get(list_versions))
        .route(&format!("{env}/versions/{{version}}"), get(get_version))
        .route(&format!("{env}/diff"), get(diff))
        .route(&format!("{env}/rollback"), post(rollback))
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/v1/audit", get(list_audit))
        .route(&format!("{env}/events/recent"), get(recent_events))
        .route(
            "/v1/projects/{project}/experiments/{flag}/results",
            get(experiment_results),
        )
        .merge(
            // Swagger UI (assets vendored in the crate) at /swagger-ui/, and the document.
            SwaggerUi::new("/swagger-ui")
                .external_url_unchecked("/openapi.json", openapi::document()),
        )
        .fallback(no_route)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(state.max_body_bytes()))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The routes browsers call (client snapshot, its stream, events), with CORS for any origin:
/// client-side keys are public, and requests carry no cookies (credentials are not allowed).
fn browser_routes() -> Router<AppState> {
    use axum::http::{Method, header};
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([ETAG])
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .route("/v1/client/snapshots/{env}", get(get_client_snapshot))
        .route("/v1/client/stream/{env}", get(stream_client_snapshots))
        .route(
            "/v1/events",
            post(post_events).layer(DefaultBodyLimit::max(EVENTS_MAX_BODY_BYTES)),
        )
        .layer(cors)
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

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `/health` and `/live`: the process answers.
async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// `/ready`: the database answers.
async fn ready(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    if state.store().ping().await {
        Ok(axum::Json(Health { status: "ready" }))
    } else {
        Err(ApiError::unavailable("the database is not reachable"))
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics().render();
    text.push_str(&crate::metrics::event_log_text(
        state.events().damaged_records(),
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

async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}
