//! What handlers share: the [`Caller`] extractor (bearer token → principal, role checks),
//! the [`IfMatch`] extractor, JSON bodies and responses with ETags.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError};
use crate::model::{Role, Written};
use crate::service::AppState;

// ---- authentication and authorization ----

/// The name of the session cookie (see `api::session`).
pub(crate) const SESSION_COOKIE: &str = "burgee_session";

/// The value of the session cookie, if the request has one.
pub(crate) fn session_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Resolves the caller of a request made with `method`: the bearer token, or without an
/// `Authorization` header the session cookie, whose unsafe requests (anything but GET, HEAD
/// and OPTIONS) must carry its CSRF token in `X-CSRF-Token`.
pub(crate) async fn authenticate_as(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    if headers.get(AUTHORIZATION).is_none()
        && let Some(secret) = session_secret(headers)
    {
        let active = state
            .session(secret)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the session has ended; sign in again"))?;
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
        if !safe && sent != Some(active.info.csrf_token.as_bytes()) {
            return Err(ApiError::forbidden(
                "requests made with the session cookie need its CSRF token in X-CSRF-Token",
            ));
        }
        return Ok(active.principal);
    }
    authenticate_or_key(state, headers, None).await
}

/// The header carrying a session's CSRF token.
const CSRF_HEADER: &str = "x-csrf-token";

/// Resolves the caller of a GET request (the distribution routes).
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    authenticate_as(state, &Method::GET, headers).await
}

/// Like [`authenticate`], but without an `Authorization` header a `?key=` query value is
/// used; a key from the URL must be a client-side key (URLs end up in logs and histories).
pub(crate) async fn authenticate_or_key(
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

/// The authenticated caller of a request: its bearer token resolved to a [`Principal`]. The
/// extractor answers 401 (`UNAUTHORIZED`) for a missing, malformed, unknown or revoked token;
/// handlers then check the role with [`Caller::require`].
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate_as(state, &parts.method, &parts.headers)
            .await
            .map(Caller)
    }
}

impl Caller {
    /// An admin token with at least `role` in `project` (`None`: a token for every project);
    /// returns its id (the audit actor).
    ///
    /// # Errors
    /// 403 (`FORBIDDEN`) for SDK keys, tokens scoped to another project and lower roles.
    pub(crate) fn require(&self, project: Option<&str>, role: Role) -> Result<String, ApiError> {
        require_role(&self.0, project, role)
    }
}

/// [`Caller::require`] for a principal resolved another way (the distribution routes).
pub(crate) fn require_role(
    principal: &Principal,
    project: Option<&str>,
    role: Role,
) -> Result<String, ApiError> {
    match principal {
        Principal::Sdk { .. } => Err(ApiError::forbidden(
            "SDK keys may only read their environment's snapshot and stream",
        )),
        Principal::Token {
            id,
            role: has,
            project: scope,
        } => {
            match (scope, project) {
                (None, _) => {}
                (Some(s), Some(p)) if s == p => {}
                (Some(s), _) => {
                    return Err(ApiError::forbidden(format!(
                        "this token is scoped to project \"{s}\""
                    )));
                }
            }
            if *has < role {
                return Err(ApiError::forbidden(format!(
                    "this needs the {} role; the token has {}",
                    role.as_str(),
                    has.as_str()
                )));
            }
            Ok(id.clone())
        }
    }
}

/// The `If-Match` header of an update or delete, read by the extractor and checked when the
/// handler asks ([`IfMatch::revision`]), after authorization: a caller without the role gets
/// 403 whatever it sent.
pub(crate) struct IfMatch(Result<Option<u64>, ApiError>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(IfMatch(if_match(&parts.headers)))
    }
}

impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Required, schema::ObjectBuilder, schema::Type};
        vec![
            ParameterBuilder::new()
                .name("If-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "The ETag of the resource as read, e.g. \"r3\"; * accepts any revision",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ]
    }
}

impl IfMatch {
    /// `Some(revision)` for `"r<revision>"`, `None` for `*`.
    ///
    /// # Errors
    /// 428 (`PRECONDITION_REQUIRED`) when the header is missing, 412 (`PRECONDITION_FAILED`)
    /// when it is not an ETag of this server.
    pub(crate) fn revision(self) -> Result<Option<u64>, ApiError> {
        self.0
    }
}

/// The role a write to `project/env`'s flags or segments needs.
///
/// # Errors
/// The lookup's error (404 for an unknown environment, 500 `INTERNAL` otherwise): the check
/// fails closed, a lookup error never reads as "not protected".
pub(crate) async fn write_role(
    state: &AppState,
    project: &str,
    env: &str,
) -> Result<Role, ApiError> {
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
            ApiError::new(
                ApiCode::PreconditionFailed,
                format!("If-Match {text:?} is not an ETag of this server (\"r<revision>\")"),
            )
        })
}

pub(crate) fn etag(revision: u64) -> [(axum::http::HeaderName, HeaderValue); 1] {
    let value = HeaderValue::from_str(&format!("\"r{revision}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"r0\""));
    [(ETAG, value)]
}

pub(crate) fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serializing the response: {e}")))?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

pub(crate) fn json_tagged<T: Serialize>(value: &T, revision: u64) -> Result<Response, ApiError> {
    let mut r = json(value)?;
    r.headers_mut().extend(etag(revision));
    Ok(r)
}

pub(crate) fn written<T: Serialize>(
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

/// A JSON request body of type `T`, read (within the route's body limit: 413 beyond it) by
/// the extractor and parsed; a parse failure is reported when the handler asks
/// ([`JsonBody::parsed`]), after authorization, so a caller without the role gets 403
/// whatever it sent. Any content type is read as JSON.
pub(crate) struct JsonBody<T>(Result<T, ApiError>);

/// A request body type: its name in error messages and the OpenAPI document.
pub(crate) trait BodyName: DeserializeOwned {
    /// E.g. `FlagInput`.
    const NAME: &'static str;
}

impl<S: Send + Sync, T: BodyName> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(JsonBody(parse_body(&bytes, T::NAME)))
    }
}

impl<T> JsonBody<T> {
    /// The parsed body.
    ///
    /// # Errors
    /// 400 (`BAD_REQUEST`) naming the type and serde's message (path, line and column).
    pub(crate) fn parsed(self) -> Result<T, ApiError> {
        self.0
    }
}

/// A [`JsonBody`] that may be left empty (`None`), e.g. an optional heartbeat report.
pub(crate) struct OptionalJsonBody<T>(Result<Option<T>, ApiError>);

impl<S: Send + Sync, T: BodyName> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(Ok(None)));
        }
        Ok(OptionalJsonBody(parse_body(&bytes, T::NAME).map(Some)))
    }
}

impl<T> OptionalJsonBody<T> {
    /// The parsed body, `None` when empty.
    ///
    /// # Errors
    /// As [`JsonBody::parsed`].
    pub(crate) fn parsed(self) -> Result<Option<T>, ApiError> {
        self.0
    }
}

/// Parses a JSON body; 400 naming the problem (serde's message with line and column).
fn parse_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not a valid {what}: {e}")))
}

/// Creating, changing or deleting a project-wide definition changes every environment's
/// snapshot, so it needs `publisher` when any environment is protected.
///
/// # Errors
/// The lookup's error (500 `INTERNAL`, or 404 for an unknown project): the check fails
/// closed.
pub(crate) async fn definition_role(state: &AppState, project: &str) -> Result<Role, ApiError> {
    Ok(if state.has_protected(project).await? {
        Role::Publisher
    } else {
        Role::Editor
    })
}

#[cfg(test)]
mod tests {
    use axum::http::header::IF_MATCH;
    use axum::http::{HeaderMap, HeaderValue};

    use super::if_match;

    #[test]
    fn if_match_forms() {
        let parse = |v: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(v) = v {
                h.insert(IF_MATCH, HeaderValue::from_str(v).unwrap());
            }
            if_match(&h).map_err(|e| e.code.as_str())
        };
        assert_eq!(parse(Some("\"r3\"")), Ok(Some(3)));
        assert_eq!(parse(Some("W/\"r12\"")), Ok(Some(12)));
        assert_eq!(parse(Some("*")), Ok(None));
        assert_eq!(parse(None), Err("PRECONDITION_REQUIRED"));
        assert_eq!(parse(Some("\"x\"")), Err("PRECONDITION_FAILED"));
    }
}
