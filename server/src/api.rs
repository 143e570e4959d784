//! The HTTP API (axum). Every error is an [`ApiError`] with body `{"code", "message"}`.
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /healthz` | anyone | `{"status": "ok"}` |
//! | `GET /v1/snapshots/{env}` | SDK key of `env` or admin token | latest DSSE envelope JSON, `ETag: "<digest>"`, `Cache-Control: no-cache`; 304 when `If-None-Match` matches |
//! | `GET /v1/environments/{env}/flags` | admin | `[FlagDef, ...]` sorted by key |
//! | `GET /v1/environments/{env}/flags/{key}` | admin | `FlagDef` |
//! | `PUT /v1/environments/{env}/flags/{key}` | admin | body `FlagDef` → publish → `{"version", "digest"}` |
//! | `GET /v1/environments/{env}/segments` | admin | `[SegmentDef, ...]` sorted by key |
//! | `GET /v1/environments/{env}/segments/{key}` | admin | `SegmentDef` |
//! | `PUT /v1/environments/{env}/segments/{key}` | admin | body `SegmentDef` → publish → `{"version", "digest"}` |
//!
//! Tokens travel as `Authorization: Bearer <token>`. Missing or unknown token: 401; an SDK key
//! on an admin route or on another environment's snapshot: 403; unknown environment, flag or
//! segment: 404; malformed body or body key ≠ path key: 400; a change the core refuses: 422
//! (`SNAPSHOT_INVALID`, message = the core's, field path first; nothing is stored).
//! Responses are compressed (gzip, br) when the client accepts it.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use burgee_core::model::{FlagDef, SegmentDef};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::{AppState, Change, Principal, Published};

/// The router with every route above, compression and request tracing, bound to `state`.
/// Serve it with `axum::serve`, or call it in tests with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/snapshots/{env}", get(get_snapshot))
        .route("/v1/environments/{env}/flags", get(list_flags))
        .route(
            "/v1/environments/{env}/flags/{key}",
            get(get_flag).put(put_flag),
        )
        .route("/v1/environments/{env}/segments", get(list_segments))
        .route(
            "/v1/environments/{env}/segments/{key}",
            get(get_segment).put(put_segment),
        )
        .fallback(no_route)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn no_route() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Resolves the bearer token of a request.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("missing \"Authorization: Bearer <token>\" header".into())
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("Authorization header is not visible ASCII".into()))?;
    let token = match text.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::Unauthorized(
                "Authorization header must be \"Bearer <token>\"".into(),
            ));
        }
    };
    state
        .principal(token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown token".into()))
}

/// Admin routes: the admin token, and an existing environment.
async fn require_admin(state: &AppState, headers: &HeaderMap, env: &str) -> Result<(), ApiError> {
    match authenticate(state, headers).await? {
        Principal::Admin => {}
        Principal::Sdk { .. } => {
            return Err(ApiError::Forbidden(
                "SDK keys may only fetch their environment's snapshot; this route needs the admin token"
                    .into(),
            ));
        }
    }
    if state.has_environment(env) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("unknown environment \"{env}\"")))
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

async fn get_snapshot(
    State(state): State<AppState>,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match authenticate(&state, &headers).await? {
        Principal::Admin => {}
        Principal::Sdk { environment } if environment == env => {}
        Principal::Sdk { environment } => {
            return Err(ApiError::Forbidden(format!(
                "this SDK key is for environment \"{environment}\", not \"{env}\""
            )));
        }
    }
    if !state.has_environment(&env) {
        return Err(ApiError::NotFound(format!("unknown environment \"{env}\"")));
    }
    let snapshot = state.latest_snapshot(&env).await?.ok_or_else(|| {
        ApiError::NotFound(format!("environment \"{env}\" has no published snapshot"))
    })?;
    let etag = format!("\"{}\"", snapshot.digest);
    let etag_value = HeaderValue::from_str(&etag).map_err(|_| {
        ApiError::Internal(format!("digest {} is not a header value", snapshot.digest))
    })?;
    let cache = [
        (ETAG, etag_value),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        snapshot.envelope,
    )
        .into_response())
}

/// Parses a JSON request body into a model type; 400 naming the problem (serde's message
/// with line and column) otherwise.
fn parse_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("request body is not a valid {what}: {e}")))
}

fn check_key(body_key: &str, path_key: &str) -> Result<(), ApiError> {
    if body_key == path_key {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "body key \"{body_key}\" differs from the key in the path \"{path_key}\""
        )))
    }
}

async fn list_flags(
    State(state): State<AppState>,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<FlagDef>>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    Ok(Json(state.flags(&env).await?))
}

async fn get_flag(
    State(state): State<AppState>,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<FlagDef>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    let flag = state.flag(&env, &key).await?.ok_or_else(|| {
        ApiError::NotFound(format!("environment \"{env}\" has no flag \"{key}\""))
    })?;
    Ok(Json(flag))
}

async fn put_flag(
    State(state): State<AppState>,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Published>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    let flag: FlagDef = parse_body(&body, "flag definition")?;
    check_key(&flag.key, &key)?;
    let published = state.publish(&env, &[Change::PutFlag(flag)]).await?;
    tracing::info!(environment = %env, flag = %key, version = published.version, "published flag change");
    Ok(Json(published))
}

async fn list_segments(
    State(state): State<AppState>,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<SegmentDef>>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    Ok(Json(state.segments(&env).await?))
}

async fn get_segment(
    State(state): State<AppState>,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<SegmentDef>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    let segment = state.segment(&env, &key).await?.ok_or_else(|| {
        ApiError::NotFound(format!("environment \"{env}\" has no segment \"{key}\""))
    })?;
    Ok(Json(segment))
}

async fn put_segment(
    State(state): State<AppState>,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Published>, ApiError> {
    require_admin(&state, &headers, &env).await?;
    let segment: SegmentDef = parse_body(&body, "segment definition")?;
    check_key(&segment.key, &key)?;
    let published = state.publish(&env, &[Change::PutSegment(segment)]).await?;
    tracing::info!(environment = %env, segment = %key, version = published.version, "published segment change");
    Ok(Json(published))
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
}
