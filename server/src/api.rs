//! The HTTP API: [`app`] builds the axum router. README's "HTTP API" section lists every
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

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, RETRY_AFTER,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use burgee_core::model::{Audience, SegmentDef};
use futures_util::stream::{self, Stream};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, ErrorBody};
use crate::events::log::AppendError;
use crate::events::service::{IngestError, RECENT_EVENTS, ResultsError};
use crate::model::{
    EnvironmentInput, EnvironmentUpdate, FlagInput, FlagSpec, ProjectInput, ProjectUpdate, Role,
    Targeting, TokenInput, Written,
};
use crate::openapi;
use crate::state::{AppState, AuditFilter, FlagFilter, Principal, StoredSnapshot};

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
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        s if s.is_server_error() => "INTERNAL",
        _ => "BAD_REQUEST",
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
        code: code.to_owned(),
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

// ---- authentication and authorization ----

/// Resolves the bearer token of a request.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    authenticate_or_key(state, headers, None).await
}

/// Like [`authenticate`], but without an `Authorization` header a `?key=` query value is
/// used; a key from the URL must be a client-side key (URLs end up in logs and histories).
async fn authenticate_or_key(
    state: &AppState,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Result<Principal, ApiError> {
    if let (None, Some(key)) = (headers.get(AUTHORIZATION), query_key) {
        let principal = state
            .principal(key)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked key"))?;
        return match principal {
            Principal::Sdk { client: true, .. } => Ok(principal),
            _ => Err(ApiError::unauthorized(
                "only client-side keys (bgc_...) may be passed as ?key=; send other tokens in \
                 the Authorization header",
            )),
        };
    }
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("missing \"Authorization: Bearer <token>\" header")
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not visible ASCII"))?;
    let token = match text.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "Authorization header must be \"Bearer <token>\"",
            ));
        }
    };
    state
        .principal(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))
}

/// An admin token with at least `role` in `project` (`None`: a token for every project).
async fn require(
    state: &AppState,
    headers: &HeaderMap,
    project: Option<&str>,
    role: Role,
) -> Result<String, ApiError> {
    match authenticate(state, headers).await? {
        Principal::Sdk { .. } => Err(ApiError::forbidden(
            "SDK keys may only read their environment's snapshot and stream",
        )),
        Principal::Token {
            id,
            role: has,
            project: scope,
        } => {
            match (&scope, project) {
                (None, _) => {}
                (Some(s), Some(p)) if s == p => {}
                (Some(s), _) => {
                    return Err(ApiError::forbidden(format!(
                        "this token is scoped to project \"{s}\""
                    )));
                }
            }
            if has < role {
                return Err(ApiError::forbidden(format!(
                    "this needs the {} role; the token has {}",
                    role.as_str(),
                    has.as_str()
                )));
            }
            Ok(id)
        }
    }
}

/// The role a write to `project/env`'s flags or segments needs.
///
/// # Errors
/// The lookup's error (404 for an unknown environment, 500 `INTERNAL` otherwise): the check
/// fails closed, a lookup error never reads as "not protected".
async fn write_role(state: &AppState, project: &str, env: &str) -> Result<Role, ApiError> {
    Ok(if state.is_protected(project, env).await? {
        Role::Publisher
    } else {
        Role::Editor
    })
}

/// `If-Match` → `Some(revision)`, `None` for `*`; 428 when missing, 412 when not ours.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let value = headers.get(IF_MATCH).ok_or_else(|| {
        ApiError::precondition_required(
            "updates and deletes need If-Match with the ETag read (e.g. If-Match: \"r3\")",
        )
    })?;
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.strip_prefix("\"r")
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|n| n.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::with_code(
                "PRECONDITION_FAILED",
                format!("If-Match {text:?} is not an ETag of this server (\"r<revision>\")"),
            )
        })
}

fn etag(revision: u64) -> [(axum::http::HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&format!("\"r{revision}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"r0\""));
    [(ETAG, value)]
}

fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serializing the response: {e}")))?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

fn json_tagged<T: Serialize>(value: &T, revision: u64) -> Result<Response, ApiError> {
    let mut r = json(value)?;
    r.headers_mut().extend(etag(revision));
    Ok(r)
}

fn written<T: Serialize>(
    w: &Written<T>,
    revision: Option<u64>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let mut r = json(w)?;
    if let Some(rev) = revision {
        r.headers_mut().extend(etag(rev));
    }
    *r.status_mut() = status;
    Ok(r)
}

/// Parses a JSON body; 400 naming the problem (serde's message with line and column).
fn parse_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not a valid {what}: {e}")))
}

// ---- distribution ----

/// Optional `?project=` of the distribution routes, and `?key=` (client-side keys only) of
/// the browser routes.
#[derive(Debug, Deserialize)]
struct ProjectQuery {
    project: Option<String>,
    key: Option<String>,
}

/// Which `(project, env)` a distribution request means: the SDK key's own environment, or
/// for admin tokens `?project=`, the token's project, or the only project with `env`.
async fn distribution_target(
    state: &AppState,
    headers: &HeaderMap,
    env: &str,
    query: &ProjectQuery,
    audience: Audience,
) -> Result<(String, String), ApiError> {
    let principal = match audience {
        Audience::Server => authenticate(state, headers).await?,
        Audience::Client => authenticate_or_key(state, headers, query.key.as_deref()).await?,
    };
    match principal {
        Principal::Sdk { client: true, .. } if audience == Audience::Server => {
            Err(ApiError::forbidden(
                "client-side keys read only the client snapshot: /v1/client/snapshots/{env} and \
                 /v1/client/stream/{env}",
            ))
        }
        Principal::Sdk {
            project,
            environment,
            ..
        } => {
            if environment != env || query.project.as_ref().is_some_and(|p| *p != project) {
                return Err(ApiError::forbidden(format!(
                    "this SDK key is for environment \"{environment}\" of project \"{project}\""
                )));
            }
            Ok((project, environment))
        }
        Principal::Token { project: scope, .. } => {
            let project = match (&query.project, &scope) {
                (Some(p), _) => p.clone(),
                (None, Some(s)) => s.clone(),
                (None, None) => {
                    let candidates = state.projects_with_environment(env).await?;
                    match candidates.as_slice() {
                        [one] => one.clone(),
                        [] => {
                            return Err(ApiError::not_found(format!("no environment \"{env}\"")));
                        }
                        _ => {
                            return Err(ApiError::bad_field(
                                "project",
                                format!(
                                    "several projects have environment \"{env}\"; add ?project="
                                ),
                            ));
                        }
                    }
                }
            };
            require(state, headers, Some(&project), Role::Viewer).await?;
            state.environment(&project, env).await?;
            Ok((project, env.to_owned()))
        }
    }
}

/// Whether an `If-None-Match` header list matches `etag` (quoted): `*`, a comma-separated
/// list, and weak `W/"..."` tags all count (weak comparison, RFC 9110 §13.1.2).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `GET /v1/snapshots/{env}`: the latest signed envelope; `ETag` = payload digest.
async fn get_snapshot(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    snapshot_for(&state, &env, &query, &headers, Audience::Server).await
}

/// `GET /v1/client/snapshots/{env}`: the latest client snapshot (`spec/SNAPSHOT.md` §9).
async fn get_client_snapshot(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    snapshot_for(&state, &env, &query, &headers, Audience::Client).await
}

async fn snapshot_for(
    state: &AppState,
    env: &str,
    query: &ProjectQuery,
    headers: &HeaderMap,
    audience: Audience,
) -> Result<Response, ApiError> {
    let (project, env) = distribution_target(state, headers, env, query, audience).await?;
    let snapshot = state
        .latest_snapshot(&project, &env)
        .await?
        .and_then(|s| for_audience(s, audience))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "\"{env}\" has no published {} snapshot",
                audience.as_str()
            ))
        })?;
    envelope_response(&snapshot, headers)
}

/// The snapshot of `audience` published as `s` (the client one is signed alongside).
fn for_audience(s: Arc<StoredSnapshot>, audience: Audience) -> Option<Arc<StoredSnapshot>> {
    match audience {
        Audience::Server => Some(s),
        Audience::Client => s.client.clone(),
    }
}

fn envelope_response(snapshot: &StoredSnapshot, headers: &HeaderMap) -> Result<Response, ApiError> {
    let etag = format!("\"{}\"", snapshot.digest);
    let etag_value = HeaderValue::from_str(&etag).map_err(|_| {
        ApiError::internal(format!("digest {} is not a header value", snapshot.digest))
    })?;
    let cache = [
        (ETAG, etag_value),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if if_none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        Body::from(Bytes::copy_from_slice(snapshot.envelope.as_bytes())),
    )
        .into_response())
}

/// Decrements the SSE client gauge when a stream ends.
struct ClientGuard(AppState);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics().sse_clients.add(-1);
    }
}

struct StreamState {
    state: AppState,
    keep_alive: tokio::time::Interval,
    project: String,
    env: String,
    sent: u64,
    audience: Audience,
    pending: Option<std::sync::Arc<StoredSnapshot>>,
    rx: tokio::sync::broadcast::Receiver<crate::state::SnapshotEvent>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    _guard: ClientGuard,
}

/// `GET /v1/stream/{env}`: server-sent events. Each event is `id: <version>`,
/// `event: snapshot`, `data: <envelope JSON>`. On connect the latest envelope is sent unless
/// `Last-Event-ID` already names its version (or a later one); afterwards every new version.
/// `: keep-alive` comments keep idle connections open; the stream ends at shutdown.
async fn stream_snapshots(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    stream_for(state, &env, &query, &headers, Audience::Server).await
}

/// `GET /v1/client/stream/{env}`: like `/v1/stream/{env}`, with the client snapshots.
async fn stream_client_snapshots(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    stream_for(state, &env, &query, &headers, Audience::Client).await
}

async fn stream_for(
    state: AppState,
    env: &str,
    query: &ProjectQuery,
    headers: &HeaderMap,
    audience: Audience,
) -> Result<Response, ApiError> {
    let (project, env) = distribution_target(&state, headers, env, query, audience).await?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    // Subscribe before reading the latest version, so nothing published in between is lost.
    let rx = state.subscribe();
    let latest = state
        .latest_snapshot(&project, &env)
        .await?
        .and_then(|s| for_audience(s, audience));
    state.metrics().sse_clients.add(1);
    let period = state.sse_keep_alive();
    let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let st = StreamState {
        keep_alive,
        state: state.clone(),
        project,
        env,
        sent: last_id,
        audience,
        pending: latest.filter(|s| s.version > last_id),
        rx,
        shutdown: state.shutdown_signal(),
        _guard: ClientGuard(state.clone()),
    };
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(events(st)),
    )
        .into_response())
}

/// The event stream: each snapshot's pre-rendered event (shared bytes, so 10,000 streams
/// do not copy a large envelope 10,000 times) and keep-alive comments.
fn events(st: StreamState) -> impl Stream<Item = Result<Bytes, Infallible>> {
    stream::unfold(st, |mut st| async move {
        loop {
            if let Some(s) = st.pending.take()
                && s.version > st.sent
            {
                st.sent = s.version;
                st.state.metrics().sse_events.inc();
                st.keep_alive.reset();
                return Some((Ok(s.sse_event()), st));
            }
            if *st.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                received = st.rx.recv() => match received {
                    Ok(ev) => {
                        if ev.snapshot.project == st.project && ev.snapshot.environment == st.env {
                            st.pending = for_audience(ev.snapshot, st.audience);
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Missed events: the latest version is all a client needs.
                        st.pending = st.state.latest_snapshot(&st.project, &st.env).await.ok().flatten().and_then(|s| for_audience(s, st.audience));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = st.shutdown.changed() => return None,
                _ = st.keep_alive.tick() => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st));
                }
            }
        }
    })
}

// ---- projects ----

async fn list_projects(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = match authenticate(&state, &headers).await? {
        Principal::Token { project, .. } => project,
        Principal::Sdk { .. } => {
            return Err(ApiError::forbidden(
                "SDK keys may only read their environment's snapshot and stream",
            ));
        }
    };
    let all = state.projects().await?;
    let visible: Vec<_> = all
        .into_iter()
        .filter(|p| scope.as_ref().is_none_or(|s| *s == p.key))
        .collect();
    json(&visible)
}

async fn create_project(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, None, Role::Admin).await?;
    let input: ProjectInput = parse_body(&body, "project")?;
    let w = state.create_project(&actor, &input).await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::CREATED)
}

async fn get_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let p = state.project(&project).await?;
    json_tagged(&p, p.revision)
}

async fn update_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, Some(&project), Role::Admin).await?;
    let expected = if_match(&headers)?;
    let input: ProjectUpdate = parse_body(&body, "project update")?;
    let w = state
        .update_project(&actor, &project, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|p| p.revision);
    written(&w, rev, StatusCode::OK)
}

async fn delete_project(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, None, Role::Admin).await?;
    let expected = if_match(&headers)?;
    let w = state.delete_project(&actor, &project, expected).await?;
    written(&w, None, StatusCode::OK)
}

// ---- environments ----

async fn list_environments(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    json(&state.environments(&project).await?)
}

async fn create_environment(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, Some(&project), Role::Admin).await?;
    let input: EnvironmentInput = parse_body(&body, "environment")?;
    let w = state.create_environment(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::CREATED)
}

async fn get_environment(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let e = state.environment(&project, &env).await?;
    json_tagged(&e, e.revision)
}

async fn update_environment(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, Some(&project), Role::Admin).await?;
    let expected = if_match(&headers)?;
    let input: EnvironmentUpdate = parse_body(&body, "environment update")?;
    let w = state
        .update_environment(&actor, &project, &env, expected, &input)
        .await?;
    let rev = w.item.as_ref().map(|e| e.revision);
    written(&w, rev, StatusCode::OK)
}

async fn delete_environment(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, Some(&project), Role::Admin).await?;
    let expected = if_match(&headers)?;
    let w = state
        .delete_environment(&actor, &project, &env, expected)
        .await?;
    written(&w, None, StatusCode::OK)
}

// ---- flags ----

async fn list_flags(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(filter): Query<FlagFilter>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    json(&state.list_flags(&project, &filter).await?)
}

async fn create_flag(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    // A new flag is published to every environment of the project (OFF where no targeting is
    // given: it still serves its off variant, whose value the creator chose), so it needs the
    // role of every one of them: publisher when any is protected. A failed lookup is an error
    // (500), never a grant.
    let role = definition_role(&state, &project).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let input: FlagInput = parse_body(&body, "flag")?;
    let w = state.create_flag(&actor, &project, &input).await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::CREATED)
}

async fn get_flag(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let f = state.flag(&project, &key).await?;
    json_tagged(&f, f.revision)
}

/// Creating, changing or deleting a project-wide definition changes every environment's
/// snapshot, so it needs `publisher` when any environment is protected.
///
/// # Errors
/// The lookup's error (500 `INTERNAL`, or 404 for an unknown project): the check fails
/// closed.
async fn definition_role(state: &AppState, project: &str) -> Result<Role, ApiError> {
    Ok(if state.has_protected(project).await? {
        Role::Publisher
    } else {
        Role::Editor
    })
}

async fn update_flag(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = definition_role(&state, &project).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let expected = if_match(&headers)?;
    let spec: FlagSpec = parse_body(&body, "flag definition")?;
    let w = state
        .update_flag(&actor, &project, &key, expected, &spec)
        .await?;
    let rev = w.item.as_ref().map(|f| f.revision);
    written(&w, rev, StatusCode::OK)
}

async fn delete_flag(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = definition_role(&state, &project).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let expected = if_match(&headers)?;
    let w = state.delete_flag(&actor, &project, &key, expected).await?;
    written(&w, None, StatusCode::OK)
}

async fn get_targeting(
    State(state): State<AppState>,
    Path((project, env, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let t = state.targeting(&project, &env, &key).await?;
    json_tagged(&t, t.revision)
}

async fn put_targeting(
    State(state): State<AppState>,
    Path((project, env, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = write_role(&state, &project, &env).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let expected = if_match(&headers)?;
    let targeting: Targeting = parse_body(&body, "targeting")?;
    let w = state
        .put_targeting(&actor, &project, &env, &key, expected, &targeting)
        .await?;
    let rev = w.item.as_ref().map(|t| t.revision);
    written(&w, rev, StatusCode::OK)
}

// ---- segments ----

async fn list_segments(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    json(&state.segments(&project, &env).await?)
}

async fn create_segment(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = write_role(&state, &project, &env).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let def: SegmentDef = parse_body(&body, "segment")?;
    let w = state
        .put_segment(&actor, &project, &env, &def, true, None)
        .await?;
    let rev = w.item.as_ref().map(|s| s.revision);
    written(&w, rev, StatusCode::CREATED)
}

async fn get_segment(
    State(state): State<AppState>,
    Path((project, env, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let s = state.segment(&project, &env, &key).await?;
    json_tagged(&s, s.revision)
}

async fn update_segment(
    State(state): State<AppState>,
    Path((project, env, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = write_role(&state, &project, &env).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let expected = if_match(&headers)?;
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

async fn delete_segment(
    State(state): State<AppState>,
    Path((project, env, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Editor).await?;
    let role = write_role(&state, &project, &env).await?;
    let actor = require(&state, &headers, Some(&project), role).await?;
    let expected = if_match(&headers)?;
    let w = state
        .delete_segment(&actor, &project, &env, &key, expected)
        .await?;
    written(&w, None, StatusCode::OK)
}

// ---- versions ----

#[derive(Debug, Deserialize)]
struct VersionsQuery {
    /// Only versions below this one (paging).
    before: Option<u64>,
    /// At most this many (default 50, at most 1000).
    limit: Option<u64>,
}

async fn list_versions(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    Query(q): Query<VersionsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    json(&state.versions(&project, &env, q.before, limit).await?)
}

async fn get_version(
    State(state): State<AppState>,
    Path((project, env, version)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let s = state.version(&project, &env, version).await?;
    envelope_response(&s, &headers)
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    from: u64,
    to: u64,
}

async fn diff(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    json(&state.diff(&project, &env, q.from, q.to).await?)
}

/// Body of `POST .../rollback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackInput {
    version: u64,
}

async fn rollback(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = require(&state, &headers, Some(&project), Role::Publisher).await?;
    let input: RollbackInput = parse_body(&body, "rollback request")?;
    let w = state
        .rollback(&actor, &project, &env, input.version)
        .await?;
    written(&w, None, StatusCode::OK)
}

// ---- tokens and audit ----

#[derive(Debug, Deserialize)]
struct TokensQuery {
    project: Option<String>,
}

async fn list_tokens(
    State(state): State<AppState>,
    Query(q): Query<TokensQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, q.project.as_deref(), Role::Admin).await?;
    json(&state.tokens(q.project.as_deref()).await?)
}

async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: TokenInput = parse_body(&body, "token request")?;
    let actor = require(&state, &headers, input.project.as_deref(), Role::Admin).await?;
    let created = state.create_token(&actor, &input).await?;
    let mut r = json(&created)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let info = state
        .tokens(None)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no token \"{id}\"")));
    // Authorise before revealing whether the id exists.
    let project = info.as_ref().ok().and_then(|t| t.project.clone());
    let actor = require(&state, &headers, project.as_deref(), Role::Admin).await?;
    info?;
    json(&state.revoke_token(&actor, &id).await?)
}

async fn list_audit(
    State(state): State<AppState>,
    Query(filter): Query<AuditFilter>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, filter.project.as_deref(), Role::Admin).await?;
    json(&state.audit_entries(&filter).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let etag = "\"sha256:ab\"";
        let check = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            if_none_match(&h, etag)
        };
        assert!(check("\"sha256:ab\""));
        assert!(check("*"));
        assert!(check("W/\"sha256:ab\""));
        assert!(check("\"x\", W/\"sha256:ab\""));
        assert!(!check("\"sha256:cd\""));
        assert!(!check("sha256:ab"));
        assert!(!if_none_match(&HeaderMap::new(), etag));
    }

    #[test]
    fn if_match_forms() {
        let parse = |v: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = v {
                h.insert(IF_MATCH, HeaderValue::from_str(v).unwrap());
            }
            if_match(&h).map_err(|e| e.code)
        };
        assert_eq!(parse(Some("\"r3\"")), Ok(Some(3)));
        assert_eq!(parse(Some("W/\"r12\"")), Ok(Some(12)));
        assert_eq!(parse(Some("*")), Ok(None));
        assert_eq!(parse(None), Err("PRECONDITION_REQUIRED"));
        assert_eq!(parse(Some("\"x\"")), Err("PRECONDITION_FAILED"));
    }
}

/// Largest `POST /v1/events` body, bytes (`spec/EVENTS.md` §3).
pub const EVENTS_MAX_BODY_BYTES: usize = 4 << 20;

/// `POST /v1/events` (SDK key): validates each event, answers 202 once the accepted ones are
/// durable; 429 with `Retry-After` when the store is behind.
/// `POST /v1/events`: with an SDK key or a client-side key (header or `?key=`). Any content
/// type is read as JSON, so `navigator.sendBeacon` can send a `text/plain` body without a
/// CORS preflight.
async fn post_events(
    State(state): State<AppState>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = authenticate_or_key(&state, &headers, query.key.as_deref()).await?;
    let (project, environment) = match principal {
        Principal::Sdk {
            project,
            environment,
            ..
        } => (project, environment),
        Principal::Token { .. } => {
            return Err(ApiError::forbidden(
                "events are sent with the SDK key of their environment",
            ));
        }
    };
    match state
        .events()
        .ingest(&project, &environment, &body, crate::now_ms())
        .await
    {
        Ok(response) => Ok((StatusCode::ACCEPTED, axum::Json(response)).into_response()),
        Err(IngestError::Batch(e)) => Err(ApiError::bad_request(e.0)),
        Err(IngestError::Append(AppendError::Overloaded)) => {
            let mut response =
                ApiError::with_code("OVERLOADED", "the event store is behind; retry later")
                    .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(response)
        }
        Err(IngestError::Append(e @ AppendError::Failed(_))) => {
            tracing::error!(error = %e, "storing events failed");
            Err(ApiError::internal(
                "storing events failed; see the server log",
            ))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentQuery {
    limit: Option<usize>,
}

/// `GET .../environments/{env}/events/recent` (viewer): the newest stored events, newest first.
async fn recent_events(
    State(state): State<AppState>,
    Path((project, env)): Path<(String, String)>,
    Query(query): Query<RecentQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    state.environment(&project, &env).await?;
    let limit = query.limit.unwrap_or(100).min(RECENT_EVENTS);
    Ok(axum::Json(state.events().recent(&project, &env, limit)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsQuery {
    environment: String,
}

/// `GET /v1/projects/{project}/experiments/{flag}/results?environment=` (viewer).
async fn experiment_results(
    State(state): State<AppState>,
    Path((project, flag)): Path<(String, String)>,
    Query(query): Query<ResultsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, Some(&project), Role::Viewer).await?;
    let config = state
        .experiment_config(&project, &query.environment, &flag)
        .await?;
    let events = Arc::clone(state.events());
    let environment = query.environment.clone();
    let results =
        tokio::task::spawn_blocking(move || events.results(&project, &environment, &config))
            .await
            .map_err(|e| ApiError::internal(format!("analysis task failed: {e}")))?;
    match results {
        Ok(r) => Ok(axum::Json(r).into_response()),
        Err(ResultsError::Stats(e)) => Err(ApiError::bad_field("experiment", e.to_string())),
        Err(ResultsError::Log(e)) => {
            tracing::error!(error = %e, "reading the event log failed");
            Err(ApiError::internal(
                "reading the event log failed; see the server log",
            ))
        }
    }
}
