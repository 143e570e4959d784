//! Sign-in and people: `/v1/session` (a session cookie for the console, from e-mail and
//! password or an exchanged API token), `/v1/sessions` (sign out everywhere) and `/v1/users`.
//!
//! The cookie is `burgee_session`: HttpOnly, SameSite=Strict, Path=/, Secure when the request
//! came over HTTPS (`X-Forwarded-Proto: https` from the proxy in front), Max-Age = the
//! session's lifetime. Requests with the cookie act as its user; every POST, PUT, PATCH and
//! DELETE made with it must send the session's CSRF token in `X-CSRF-Token`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use crate::api::extract::{BodyName, Caller, JsonBody, SESSION_COOKIE, json, session_secret};
use crate::error::ApiError;
use crate::model::{CreatedUser, Role, SessionUser, SignIn, User, UserInput};
use crate::service::{AppState, SESSION_TTL_MS};

impl BodyName for SignIn {
    const NAME: &'static str = "SignIn";
}

impl BodyName for UserInput {
    const NAME: &'static str = "UserInput";
}

/// The session cookie carrying `secret` (an empty value with Max-Age 0 signs out).
pub(crate) fn session_cookie(
    secret: String,
    headers: &HeaderMap,
    max_age_ms: u64,
) -> Cookie<'static> {
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let seconds = i64::try_from(max_age_ms / 1000).unwrap_or(i64::MAX);
    Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(https)
        .max_age(cookie_duration(seconds))
        .build()
}

fn cookie_duration(seconds: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(seconds)
}

/// Sign in with e-mail and password, or exchange an admin API token, for a session cookie.
#[utoipa::path(post, path = "/v1/session", tag = "access", request_body = SignIn,
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionUser,
        headers(("Set-Cookie" = String, description = "burgee_session=...; HttpOnly; SameSite=Strict"))),
        (status = 401, description = "UNAUTHORIZED: wrong e-mail or password, a disabled user, or an unknown token",
            body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let input = body.parsed()?;
    let session = match (&input.email, &input.password, &input.token) {
        (Some(email), Some(password), None) => state.sign_in_password(email, password).await?,
        (None, None, Some(token)) => state.sign_in_token(token).await?,
        _ => {
            return Err(ApiError::bad_request(
                "give either \"email\" and \"password\", or \"token\"",
            ));
        }
    };
    let session = session
        .ok_or_else(|| ApiError::unauthorized("wrong e-mail or password, or unknown token"))?;
    let jar = jar.add(session_cookie(session.secret, &headers, SESSION_TTL_MS));
    Ok((jar, json(&session.info)?).into_response())
}

/// The signed-in caller of the session cookie (and its CSRF token).
#[utoipa::path(get, path = "/v1/session", tag = "access",
    responses((status = 200, description = "The session", body = SessionUser)),
    extensions(("x-burgee-role" = json!("session cookie"))),
)]
pub(crate) async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = session_secret(&headers).ok_or_else(|| ApiError::unauthorized("not signed in"))?;
    let active = state
        .session(secret)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session has ended; sign in again"))?;
    json(&active.info)
}

/// Sign out: ends this session and clears the cookie.
#[utoipa::path(delete, path = "/v1/session", tag = "access",
    responses((status = 204, description = "Signed out")),
    extensions(("x-burgee-role" = json!("session cookie"))),
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_secret(&headers) {
        state.end_session(secret).await?;
    }
    let jar = jar.add(session_cookie(String::new(), &headers, 0));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

/// Sign out everywhere: ends every session of the caller's user (or exchanged token).
#[utoipa::path(delete, path = "/v1/sessions", tag = "access",
    responses((status = 204, description = "Signed out everywhere")),
    extensions(("x-burgee-role" = json!("session cookie"))),
)]
pub(crate) async fn sign_out_everywhere(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_secret(&headers) {
        state.end_all_sessions(secret).await?;
    }
    let jar = jar.add(session_cookie(String::new(), &headers, 0));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

/// The filter of [`list_users`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersQuery {
    /// Only users of this project (a project-scoped admin must name its project).
    project: Option<String>,
}

/// Console users, by e-mail.
#[utoipa::path(get, path = "/v1/users", tag = "access", params(UsersQuery),
    responses((status = 200, description = "Users", body = Vec<User>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<UsersQuery>,
) -> Result<Response, ApiError> {
    caller.require(q.project.as_deref(), Role::Admin)?;
    json(&state.users(q.project.as_deref()).await?)
}

/// Create a console user; without a password one is generated and returned once.
#[utoipa::path(post, path = "/v1/users", tag = "access", request_body = UserInput,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 404, description = "Unknown project", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("admin (of the user's project, or of all for a global user)"))),
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<UserInput>,
) -> Result<Response, ApiError> {
    let input = body.parsed()?;
    let actor = caller.require(input.project.as_deref(), Role::Admin)?;
    let created = state.create_user(&actor, &input).await?;
    let mut r = json(&created)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// Disable a console user (by id or e-mail); its sessions end.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "access",
    responses((status = 200, description = "Disabled", body = User)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .users(None)
        .await?
        .into_iter()
        .find(|u| u.id == id || u.email == id.to_lowercase())
        .ok_or_else(|| ApiError::not_found(format!("no user \"{id}\"")));
    // Authorise before revealing whether the id exists.
    let project = user.as_ref().ok().and_then(|u| u.project.clone());
    let actor = caller.require(project.as_deref(), Role::Admin)?;
    user?;
    json(&state.disable_user(&actor, &id).await?)
}
