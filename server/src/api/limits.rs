//! Request limits applied to every route but the operations probes: a rate limit per caller
//! (GCRA from the `governor` crate, keyed by the SHA-256 of a *valid* bearer token, session
//! cookie or `?key=` — for SDK and client-side keys, which fleets share, together with the
//! client address — else by the client address, so invalid credentials share the address's
//! budget) answering `429 OVERLOADED` with `Retry-After`; a
//! global concurrency limit with load shedding answering `503 UNAVAILABLE` with
//! `Retry-After: 1`; a request-body timeout and a handler timeout (`408 REQUEST_TIMEOUT`).
//! Limits come from [`crate::config::HttpLimits`].

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::api::extract::session_secret;
use crate::auth::{CLIENT_KEY_PREFIX, SDK_KEY_PREFIX, token_hash};
use crate::config::HttpLimits;
use crate::error::{ApiCode, ApiError};
use crate::service::AppState;

/// How many requests pass between sweeps of idle keys out of the limiter's table.
const SWEEP_EVERY: u64 = 4096;

/// The per-caller rate limiter of a server.
pub struct CallerRateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    seen: AtomicU64,
}

impl std::fmt::Debug for CallerRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerRateLimiter").finish_non_exhaustive()
    }
}

impl CallerRateLimiter {
    /// The limiter of `limits`; `None` when `rate_per_second` is 0 (no rate limit).
    pub fn new(limits: &HttpLimits) -> Option<Arc<CallerRateLimiter>> {
        let rate = NonZeroU32::new(limits.rate_per_second)?;
        let burst = NonZeroU32::new(limits.rate_burst).unwrap_or(rate);
        Some(Arc::new(CallerRateLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            seen: AtomicU64::new(0),
        }))
    }

    /// `Ok` when `key` may send a request now, else how long it must wait.
    fn check(&self, key: &str) -> Result<(), std::time::Duration> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Who a request counts against: a hash of its credential once the credential is known to be
/// valid (with the client address for SDK and client-side keys, which a whole fleet of
/// instances shares), else its client address — so made-up tokens never buy a fresh budget.
async fn caller_key(
    state: &AppState,
    (peer, bearer, session): (String, Option<String>, Option<String>),
) -> String {
    if let Some(secret) = bearer {
        if matches!(state.principal(&secret).await, Ok(Some(_))) {
            let shared =
                secret.starts_with(SDK_KEY_PREFIX) || secret.starts_with(CLIENT_KEY_PREFIX);
            return if shared {
                format!("k:{}:{peer}", token_hash(&secret))
            } else {
                format!("c:{}", token_hash(&secret))
            };
        }
    } else if let Some(secret) = session
        && matches!(state.session(&secret).await, Ok(Some(_)))
    {
        return format!("c:{}", token_hash(&secret));
    }
    format!("a:{peer}")
}

/// The client address, the bearer token (or `?key=`) and the session cookie of a request.
fn credentials_of(req: &Request) -> (String, Option<String>, Option<String>) {
    let peer = crate::http::peer_of(req).map_or_else(|| "local".to_owned(), |p| p.ip().to_string());
    let bearer = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .strip_prefix("Bearer ")
                .unwrap_or(v)
                .trim()
                .to_owned()
        })
        .or_else(|| {
            req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|pair| pair.strip_prefix("key=").map(str::to_owned))
            })
        });
    let session = session_secret(req.headers()).map(str::to_owned);
    (peer, bearer, session)
}

/// The rate-limit middleware (module docs).
pub(crate) async fn rate_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let limited =
        state.rate_limiter().is_some() && !crate::api::PROBE_PATHS.contains(&req.uri().path());
    let key = if limited {
        Some(caller_key(&state, credentials_of(&req)).await)
    } else {
        None
    };
    if let (Some(limiter), Some(key)) = (state.rate_limiter(), key)
        && let Err(wait) = limiter.check(&key)
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        state.metrics().rate_limited.inc();
        return ApiError::new(
            ApiCode::Overloaded,
            format!("rate limit exceeded; retry in {seconds} s"),
        )
        .with_retry_after(seconds.max(1))
        .into_response();
    }
    next.run(req).await
}

/// Refuses a request whose declared `Content-Length` is over its route's body limit with
/// `413 PAYLOAD_TOO_LARGE` before anything else runs (authentication, extractors): a client
/// cannot make the server do work for a body it will refuse. Bodies without a declared length
/// are cut off while they are read (`DefaultBodyLimit`).
pub(crate) async fn declared_body_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let limit = if req.uri().path() == "/v1/events" {
        crate::api::events::EVENTS_MAX_BODY_BYTES
    } else {
        state.max_body_bytes()
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared
        && length > u64::try_from(limit).unwrap_or(u64::MAX)
    {
        return ApiError::new(
            ApiCode::PayloadTooLarge,
            format!("the body is {length} bytes; this route takes at most {limit}"),
        )
        .into_response();
    }
    next.run(req).await
}

/// The answer when the concurrency limit sheds a request.
pub(crate) async fn overloaded(_: tower::BoxError) -> Response {
    ApiError::new(
        ApiCode::Unavailable,
        "the server is at its limit of concurrent requests; retry shortly",
    )
    .with_retry_after(1)
    .into_response()
}
