//! Distribution routes: the latest signed envelope (ETag/304) and its SSE stream, for server
//! SDKs and (client snapshots, CORS, `?key=`) browsers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use burgee_core::model::Audience;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::api::extract::{authenticate, authenticate_or_key, require_role};
use crate::auth::Principal;
use crate::distribution::{DocumentKind, StoredSnapshot, StreamRefusal};
use crate::error::{ApiCode, ApiError};
use crate::model::Role;
use crate::openapi::external::Envelope;
use crate::service::AppState;

// ---- distribution ----

/// Optional `?project=` of the distribution routes, and `?key=` (client-side keys only) of
/// the browser routes.
#[derive(Debug, Deserialize)]
pub(crate) struct ProjectQuery {
    pub(crate) project: Option<String>,
    pub(crate) key: Option<String>,
}

/// Which `(project, env)` a distribution request means: the SDK key's own environment, or
/// for admin tokens `?project=`, the token's project, or the only project with `env`.
pub(crate) async fn distribution_target(
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
    target_of(state, &principal, env, query, audience).await
}

/// [`distribution_target`] for a principal already resolved.
pub(crate) async fn target_of(
    state: &AppState,
    principal: &Principal,
    env: &str,
    query: &ProjectQuery,
    audience: Audience,
) -> Result<(String, String), ApiError> {
    match principal.clone() {
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
            require_role(principal, Some(&project), Role::Viewer)?;
            state.environment(&project, env).await?;
            Ok((project, env.to_owned()))
        }
    }
}

/// Whether an `If-None-Match` header list matches `etag` (quoted): `*`, a comma-separated
/// list, and weak `W/"..."` tags all count (weak comparison, RFC 9110 §13.1.2).
pub(crate) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The latest signed snapshot envelope of an environment (`ETag` = payload digest, 304 on
/// `If-None-Match`).
#[utoipa::path(get, path = "/v1/snapshots/{env}", tag = "distribution",
    params(("project" = Option<String>, Query,
        description = "Project key, for an admin token that sees several projects with this environment")),
    responses(
        (status = 200, description = "The DSSE envelope", body = Envelope),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    ),
    extensions(("x-burgee-role" = json!("SDK key of the environment, or viewer"))),
)]
pub(crate) async fn get_snapshot(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    snapshot_for(&state, &env, &query, &headers, Audience::Server).await
}

/// The latest client snapshot (`spec/SNAPSHOT.md` §9: client-visible flags only, targeting
/// data digested) for browsers and mobile apps; CORS for any origin.
#[utoipa::path(get, path = "/v1/client/snapshots/{env}", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key (optional, checked against the key)"),
        ("key" = Option<String>, Query, description = "A client-side key (bgc_...) when no Authorization header can be sent"),
    ),
    responses(
        (status = 200, description = "The DSSE envelope", body = Envelope),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    ),
    extensions(("x-burgee-role" = json!("client-side key, SDK key of the environment, or viewer"))),
)]
pub(crate) async fn get_client_snapshot(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    snapshot_for(&state, &env, &query, &headers, Audience::Client).await
}

pub(crate) async fn snapshot_for(
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
pub(crate) fn for_audience(
    s: Arc<StoredSnapshot>,
    audience: Audience,
) -> Option<Arc<StoredSnapshot>> {
    match audience {
        Audience::Server => Some(s),
        Audience::Client => s.client.clone(),
    }
}

pub(crate) fn envelope_response(
    snapshot: &StoredSnapshot,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
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
pub(crate) struct ClientGuard(pub(crate) AppState);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics().sse_clients.add(-1);
    }
}

/// What opened a stream, checked again every [`REVALIDATE`] so the streams of a revoked token,
/// an ended session or a deleted environment close within seconds.
pub(crate) enum Credential {
    /// The SHA-256 of a bearer token or `?key=`.
    Token(String),
    /// A session cookie's secret.
    Session(String),
}

/// How often an open stream re-checks its credential and its environment.
pub(crate) const REVALIDATE: std::time::Duration = crate::auth::TOKEN_CACHE_TTL;

impl Credential {
    /// The credential of a request: its bearer token, else its session cookie, else `?key=`.
    pub(crate) fn of(headers: &HeaderMap, query_key: Option<&str>) -> Option<Credential> {
        let bearer = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .map(|(_, token)| token.trim().to_owned());
        if let Some(token) = bearer {
            return Some(Credential::Token(crate::auth::token_hash(&token)));
        }
        if let Some(secret) = crate::api::extract::session_secret(headers) {
            return Some(Credential::Session(secret.to_owned()));
        }
        query_key.map(|k| Credential::Token(crate::auth::token_hash(k)))
    }

    /// The key the stream caps count against.
    fn cap_key(&self) -> String {
        match self {
            Credential::Token(hash) => hash.clone(),
            Credential::Session(secret) => crate::auth::token_hash(secret),
        }
    }

    /// Whether an open stream may go on: its credential still admits the caller, or it was
    /// opened without one (a public route).
    pub(crate) async fn admits(credential: Option<&Credential>, state: &AppState) -> bool {
        match credential {
            Some(c) => c.still_valid(state).await,
            None => true,
        }
    }

    /// Whether the credential still admits the caller (a lookup error keeps the stream: the
    /// database may be briefly away, and the stream only carries signed public data).
    async fn still_valid(&self, state: &AppState) -> bool {
        match self {
            Credential::Token(hash) => !matches!(state.principal_by_hash(hash).await, Ok(None)),
            Credential::Session(secret) => !matches!(state.session(secret).await, Ok(None)),
        }
    }
}

/// Takes a stream slot for `credential` from the stream caps: 429 `OVERLOADED` beyond the
/// per-key cap, 503 `UNAVAILABLE` beyond the total, both with `Retry-After: 5`.
pub(crate) fn open_slot(
    state: &AppState,
    credential: Option<&Credential>,
) -> Result<Option<crate::distribution::StreamSlot>, ApiError> {
    let Some(c) = credential else {
        return Ok(None);
    };
    state
        .stream_caps()
        .open(&c.cap_key())
        .map(Some)
        .map_err(|refusal| {
            state.metrics().streams_refused.inc();
            match refusal {
                StreamRefusal::PerKey => ApiError::new(
                    ApiCode::Overloaded,
                    "this key has the most streams open a key may have; retry later or poll",
                ),
                StreamRefusal::Total => ApiError::unavailable(
                    "the server has the most streams open it serves; retry later or poll",
                ),
            }
            .with_retry_after(5)
        })
}

pub(crate) struct StreamState {
    state: AppState,
    keep_alive: tokio::time::Interval,
    revalidate: tokio::time::Interval,
    credential: Option<Credential>,
    _slot: Option<crate::distribution::StreamSlot>,
    target: StreamTarget,
    sent: u64,
    pending: Option<std::sync::Arc<StoredSnapshot>>,
    rx: tokio::sync::broadcast::Receiver<crate::distribution::SnapshotEvent>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    _guard: ClientGuard,
}

/// Server-sent events of an environment's snapshots.
///
/// Each event is `id: <version>`, `event: snapshot`, `data: <envelope JSON>`. On connect the
/// latest envelope is sent unless `Last-Event-ID` already names its version (or a later one);
/// afterwards every new version. `: keep-alive` comments keep idle connections open; the
/// stream ends at shutdown.
#[utoipa::path(get, path = "/v1/stream/{env}", tag = "distribution",
    params(("project" = Option<String>, Query,
        description = "Project key, for an admin token that sees several projects with this environment")),
    responses((status = 200, description = "An SSE stream of `snapshot` events",
        content_type = "text/event-stream", body = String)),
    extensions(("x-burgee-role" = json!("SDK key of the environment, or viewer"))),
)]
pub(crate) async fn stream_snapshots(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    stream_for(state, &env, &query, &headers, Audience::Server).await
}

/// Server-sent events of the client snapshots (as `/v1/stream/{env}`); CORS for any origin.
#[utoipa::path(get, path = "/v1/client/stream/{env}", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key (optional, checked against the key)"),
        ("key" = Option<String>, Query, description = "A client-side key (bgc_...) when no Authorization header can be sent"),
    ),
    responses((status = 200, description = "An SSE stream of `snapshot` events",
        content_type = "text/event-stream", body = String)),
    extensions(("x-burgee-role" = json!("client-side key, SDK key of the environment, or viewer"))),
)]
pub(crate) async fn stream_client_snapshots(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    stream_for(state, &env, &query, &headers, Audience::Client).await
}

pub(crate) async fn stream_for(
    state: AppState,
    env: &str,
    query: &ProjectQuery,
    headers: &HeaderMap,
    audience: Audience,
) -> Result<Response, ApiError> {
    let (project, env) = distribution_target(&state, headers, env, query, audience).await?;
    // Subscribe before reading the latest version, so nothing published in between is lost.
    let rx = state.subscribe();
    let latest = state
        .latest_snapshot(&project, &env)
        .await?
        .and_then(|s| for_audience(s, audience));
    let target = StreamTarget {
        kind: DocumentKind::Snapshot,
        project,
        env,
        service: None,
        audience,
    };
    open_stream(state, target, headers, query, rx, latest)
}

/// What a stream sends: the documents of one (project, environment[, service]) for one
/// audience (for config documents, [`Audience::Server`] is the variant with secrets).
pub(crate) struct StreamTarget {
    pub(crate) kind: DocumentKind,
    pub(crate) project: String,
    pub(crate) env: String,
    pub(crate) service: Option<String>,
    pub(crate) audience: Audience,
}

/// The SSE response of a stream of `target`, `latest` first (unless `Last-Event-ID` names
/// its version or a later one). `rx` must have subscribed before `latest` was read.
pub(crate) fn open_stream(
    state: AppState,
    target: StreamTarget,
    headers: &HeaderMap,
    query: &ProjectQuery,
    rx: tokio::sync::broadcast::Receiver<crate::distribution::SnapshotEvent>,
    latest: Option<Arc<StoredSnapshot>>,
) -> Result<Response, ApiError> {
    let credential = Credential::of(headers, query.key.as_deref());
    let slot = open_slot(&state, credential.as_ref())?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    state.metrics().sse_clients.add(1);
    let period = state.sse_keep_alive();
    let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut revalidate =
        tokio::time::interval_at(tokio::time::Instant::now() + REVALIDATE, REVALIDATE);
    revalidate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let st = StreamState {
        keep_alive,
        revalidate,
        credential,
        _slot: slot,
        state: state.clone(),
        sent: last_id,
        target,
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
pub(crate) fn events(st: StreamState) -> impl Stream<Item = Result<Bytes, Infallible>> {
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
                        let t = &st.target;
                        if ev.snapshot.kind == t.kind
                            && ev.snapshot.project == t.project
                            && ev.snapshot.environment == t.env
                            && ev.snapshot.service == t.service
                        {
                            st.pending = for_audience(ev.snapshot, t.audience);
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Missed events: the latest version is all a client needs.
                        let t = &st.target;
                        let latest = match (t.kind, &t.service) {
                            (DocumentKind::Config, Some(s)) => {
                                st.state.latest_config((&t.project, &t.env, s)).await
                            }
                            (DocumentKind::Catalog, _) => {
                                st.state.latest_catalog(&t.project, &t.env).await
                            }
                            _ => st.state.latest_snapshot(&t.project, &t.env).await,
                        };
                        st.pending = latest.ok().flatten().and_then(|s| for_audience(s, t.audience));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = st.shutdown.changed() => return None,
                _ = st.keep_alive.tick() => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st));
                }
                _ = st.revalidate.tick() => {
                    let admitted = Credential::admits(st.credential.as_ref(), &st.state).await;
                    let env_gone = matches!(
                        st.state.environment(&st.target.project, &st.target.env).await,
                        Err(crate::error::StateError::NotFound(_))
                    );
                    if !admitted || env_gone {
                        return None;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::header::IF_NONE_MATCH;
    use axum::http::{HeaderMap, HeaderValue};

    use super::if_none_match;

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
}
