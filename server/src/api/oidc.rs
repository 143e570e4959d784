//! Console sign-in with an OpenID provider (`burgee serve --oidc-issuer …`, [`crate::oidc`]):
//! `GET /v1/session/oidc` (is it offered, and by whom), `…/start` (302 to the issuer) and
//! `…/callback` (the issuer's answer: a session, as `POST /v1/session` makes, and 303 to
//! `/ui/`).
//!
//! The browser that started a sign-in holds the flow cookie `burgee_oidc` (a random secret:
//! HttpOnly, SameSite=Lax so that the issuer's redirect carries it, Path=/v1/session/oidc,
//! 10 minutes); the state, PKCE verifier and nonce stay on the server (`oidc_flows`). A callback
//! whose state is unknown, used, expired or from another browser is 400 `BAD_REQUEST`. Once
//! the state checks out, a refusal — the provider's error, an answer that does not verify, no
//! matching role, a disabled user — is a 303 to `/ui/?sso_error=<CODE>`, which the console's
//! sign-in page explains (`UNAUTHORIZED`, `FORBIDDEN`, `UNAVAILABLE` or `INTERNAL`).

use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use crate::api::extract::json;
use crate::api::session::session_cookie;
use crate::auth::new_secret;
use crate::error::{ApiCode, ApiError};
use crate::model::SsoInfo;
use crate::oidc::{FLOW_TTL_MS, OidcError, grant};
use crate::service::{AppState, PendingFlow, SESSION_TTL_MS, SsoRefusal};

/// The flow cookie's name.
const FLOW_COOKIE: &str = "burgee_oidc";

/// The flow cookie's path: only the start and the callback see it.
const FLOW_PATH: &str = "/v1/session/oidc";

/// Where the console starts a sign-in.
const START_PATH: &str = "/v1/session/oidc/start";

fn not_configured() -> ApiError {
    ApiError::not_found("single sign-on is not configured (burgee serve --oidc-issuer)")
}

/// The flow cookie carrying `value` for `max_age_ms` (0 clears it).
fn flow_cookie(value: String, headers: &HeaderMap, max_age_ms: u64) -> Cookie<'static> {
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    Cookie::build((FLOW_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(FLOW_PATH)
        .secure(https)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age_ms / 1000).unwrap_or(i64::MAX),
        ))
        .build()
}

fn redirect(status: StatusCode, location: &str) -> Result<Response, ApiError> {
    let value = location
        .parse::<axum::http::HeaderValue>()
        .map_err(|e| ApiError::internal(format!("a redirect location: {e}")))?;
    Ok((status, [(LOCATION, value)]).into_response())
}

/// Whether the console offers single sign-on, and the provider's name for its button.
#[utoipa::path(get, path = "/v1/session/oidc", tag = "access",
    responses((status = 200, description = "Single sign-on, offered or not", body = SsoInfo)),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn sso_info(State(state): State<AppState>) -> Result<Response, ApiError> {
    let oidc = state.oidc();
    json(&SsoInfo {
        enabled: oidc.is_some(),
        name: oidc.map(|o| o.settings().display_name.clone()),
        start_url: oidc.map(|_| START_PATH.to_owned()),
    })
}

/// Starts a sign-in with the OpenID provider: 302 to its authorization endpoint
/// (authorization code flow, PKCE S256, state and nonce), with the flow cookie.
#[utoipa::path(get, path = "/v1/session/oidc/start", tag = "access",
    responses(
        (status = 302, description = "To the provider's sign-in",
            headers(("Location" = String, description = "The provider's authorization URL"),
                ("Set-Cookie" = String, description = "burgee_oidc=...; HttpOnly; SameSite=Lax"))),
        (status = 404, description = "NOT_FOUND: single sign-on is not configured", body = crate::error::ErrorBody),
        (status = 503, description = "UNAVAILABLE: the provider's discovery failed", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let oidc = state.oidc().ok_or_else(not_configured)?;
    let begun = oidc.begin().await.map_err(|e| {
        tracing::warn!(error = %e, "single sign-on could not start");
        ApiError::unavailable(e.to_string())
    })?;
    let browser = new_secret("").map_err(|e| ApiError::internal(e.to_string()))?;
    let flow = PendingFlow {
        verifier: begun.verifier,
        nonce: begun.nonce,
    };
    state.save_oidc_flow(&begun.state, &browser, &flow).await?;
    let jar = jar.add(flow_cookie(browser, &headers, FLOW_TTL_MS));
    Ok((jar, redirect(StatusCode::FOUND, &begun.url)?).into_response())
}

/// The provider's answer at the redirect URI.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The state of the sign-in the answer is for.
    state: Option<String>,
    /// The issuer that answers (RFC 9207); when present it must be the configured issuer.
    iss: Option<String>,
    /// The provider's error code (e.g. `access_denied`) instead of a code.
    error: Option<String>,
    /// The provider's description of `error`.
    error_description: Option<String>,
}

/// The provider's redirect: verifies its answer, creates or updates the user with the mapped
/// role and sets the session cookie; 303 to `/ui/` (to `/ui/?sso_error=CODE` when refused).
#[utoipa::path(get, path = "/v1/session/oidc/callback", tag = "access", params(CallbackQuery),
    responses(
        (status = 303, description = "Signed in (to /ui/, with the session cookie) or refused (to /ui/?sso_error=CODE)",
            headers(("Location" = String, description = "/ui/ or /ui/?sso_error=CODE"),
                ("Set-Cookie" = String, description = "burgee_session=...; HttpOnly; SameSite=Strict"))),
        (status = 400, description = "BAD_REQUEST: no state, or one that is unknown, used, expired or from another browser",
            body = crate::error::ErrorBody),
        (status = 404, description = "NOT_FOUND: single sign-on is not configured", body = crate::error::ErrorBody),
    ),
    extensions(("x-burgee-role" = json!("none"))),
)]
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let oidc = state.oidc().ok_or_else(not_configured)?;
    let stale = || {
        ApiError::bad_request(
            "this sign-in is unknown, was used already, expired, or was started in another \
             browser: start again from the sign-in page",
        )
    };
    let browser = jar.get(FLOW_COOKIE).map(|c| c.value().to_owned());
    let (Some(flow_state), Some(browser)) = (q.state.as_deref(), browser) else {
        return Err(stale());
    };
    let flow = state
        .take_oidc_flow(flow_state, &browser)
        .await?
        .ok_or_else(stale)?;
    let jar = jar.add(flow_cookie(String::new(), &headers, 0));
    let refused = |code: ApiCode, why: &str| {
        tracing::warn!(code = code.as_str(), reason = why, "single sign-on refused");
        redirect(
            StatusCode::SEE_OTHER,
            &format!("/ui/?sso_error={}", code.as_str()),
        )
    };
    if let Some(error) = &q.error {
        let why = format!("{error}: {}", q.error_description.as_deref().unwrap_or(""));
        return Ok((jar, refused(ApiCode::Unauthorized, &why)?).into_response());
    }
    if q.iss
        .as_ref()
        .is_some_and(|iss| *iss != oidc.settings().issuer)
    {
        let why = "the answer names another issuer";
        return Ok((jar, refused(ApiCode::Unauthorized, why)?).into_response());
    }
    let Some(code) = q.code.as_deref() else {
        return Ok((jar, refused(ApiCode::Unauthorized, "no code")?).into_response());
    };
    let identity = match oidc.finish(code, flow.verifier, flow.nonce).await {
        Ok(identity) => identity,
        Err(e @ OidcError::Unavailable(_)) => {
            return Ok((jar, refused(ApiCode::Unavailable, &e.to_string())?).into_response());
        }
        Err(e @ OidcError::Refused(_)) => {
            return Ok((jar, refused(ApiCode::Unauthorized, &e.to_string())?).into_response());
        }
    };
    let Some(granted) = grant(&oidc.settings().rules, &identity.email, &identity.groups) else {
        let why = format!(
            "no role mapping matches {} (groups: {})",
            identity.email,
            identity.groups.join(", ")
        );
        return Ok((jar, refused(ApiCode::Forbidden, &why)?).into_response());
    };
    let session = match state.sign_in_oidc(&identity, &granted).await {
        Ok(session) => session,
        Err(e @ SsoRefusal::Disabled(_)) => {
            return Ok((jar, refused(ApiCode::Forbidden, &e.to_string())?).into_response());
        }
        Err(e) => {
            return Ok((jar, refused(ApiCode::Internal, &e.to_string())?).into_response());
        }
    };
    tracing::info!(email = %identity.email, subject = %identity.subject,
        role = granted.role.as_str(), project = granted.project.as_deref().unwrap_or("*"),
        "signed in with single sign-on");
    let jar = jar.add(session_cookie(session.secret, &headers, SESSION_TTL_MS));
    Ok((jar, redirect(StatusCode::SEE_OTHER, "/ui/")?).into_response())
}
