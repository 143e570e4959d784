//! Events: ingestion (`POST /v1/events`), the recent tail and experiment results.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::analysis::experiment::ExperimentResults;
use crate::api::distribution::ProjectQuery;
use crate::api::extract::{Caller, authenticate_or_key};
use crate::auth::Principal;
use crate::error::{ApiCode, ApiError};
use crate::events::log::AppendError;
use crate::events::service::{IngestError, RECENT_EVENTS, ResultsError};
use crate::events::service::{IngestResponse, RecentEvent};
use crate::model::Role;
use crate::openapi::external::EventBatch;
use crate::service::AppState;

/// Largest `POST /v1/events` body, bytes (`spec/EVENTS.md` §3).
pub const EVENTS_MAX_BODY_BYTES: usize = 4 << 20;

/// Send a batch of exposure and track events (`spec/EVENTS.md`).
///
/// Takes an SDK key or a client-side key (header, or `?key=` for client-side keys). Each
/// event is validated; the answer (202) comes once the accepted ones are durable; 429 with
/// `Retry-After` when the store is behind; 503 `STORAGE_FULL` with `Retry-After` when the event
/// log's disk is full (nothing stored; accepted again once space returns). Any content type is read as JSON, so
/// `navigator.sendBeacon` can send a `text/plain` body without a CORS preflight.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    params(("key" = Option<String>, Query, description = "A client-side key (bgc_...) when no Authorization header can be sent")),
    request_body = EventBatch,
    responses(
        (status = 202, description = "Stored (or a duplicate of a stored batch)", body = IngestResponse),
        (status = 429, description = "OVERLOADED: the event store is behind", body = crate::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "STORAGE_FULL: the event log's disk is full, or UNAVAILABLE: a write failed (nothing stored either way)", body = crate::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    extensions(("x-burgee-role" = json!("SDK key or client-side key of the environment"))),
)]
pub(crate) async fn post_events(
    State(state): State<AppState>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    // The key is checked before the body is read: nobody without one makes the server
    // receive megabytes.
    let principal = authenticate_or_key(&state, &headers, query.key.as_deref()).await?;
    let body: Bytes = axum::body::to_bytes(body, EVENTS_MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            // http-body-util's LengthLimitError is the only error naming a length limit.
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.to_string().contains("length limit"));
            if too_large {
                ApiError::new(
                    ApiCode::PayloadTooLarge,
                    format!("the batch is over {EVENTS_MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::bad_request(format!("reading the batch failed: {e}"))
            }
        })?;
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
            let mut response = ApiError::new(
                ApiCode::Overloaded,
                "the event store is behind; retry later",
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(response)
        }
        Err(IngestError::Append(AppendError::StorageFull(e))) => Err(ApiError::new(
            ApiCode::StorageFull,
            format!(
                "the event log's disk is full ({e}); nothing of this batch was stored; retry later"
            ),
        )
        .with_retry_after(5)),
        Err(IngestError::Append(AppendError::Unavailable(e))) => {
            Err(ApiError::unavailable(format!(
                "writing the event log failed ({e}); nothing of this batch was stored; retry later"
            ))
            .with_retry_after(5))
        }
        Err(IngestError::Append(e @ AppendError::Failed(_))) => {
            tracing::error!(error = %e, "storing events failed");
            Err(ApiError::internal(
                "storing events failed; see the server log",
            ))
        }
    }
}

/// The size of [`recent_events`]' answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecentQuery {
    /// At most this many events (default 100).
    limit: Option<usize>,
}

/// The newest stored events of an environment, newest first (a live tail).
#[utoipa::path(get, path = "/v1/projects/{project}/environments/{env}/events/recent",
    tag = "events", params(RecentQuery),
    responses((status = 200, description = "Events, newest first", body = Vec<RecentEvent>)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn recent_events(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, env)): Path<(String, String)>,
    Query(query): Query<RecentQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    state.environment(&project, &env).await?;
    let limit = query.limit.unwrap_or(100).min(RECENT_EVENTS);
    Ok(axum::Json(state.events().recent(&project, &env, limit)).into_response())
}

/// The environment of [`experiment_results`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultsQuery {
    /// Environment key whose events are analysed.
    environment: String,
    /// Also the p-values at this many instants (1..=24) evenly spaced over the received
    /// events, as `timeline` (default 0: none; each point repeats the analysis).
    timeline: Option<usize>,
}

/// Experiment results: units, sample-ratio mismatch, per-metric tests, CUPED, always-valid
/// p-values.
#[utoipa::path(get, path = "/v1/projects/{project}/experiments/{flag}/results", tag = "events",
    params(ResultsQuery),
    responses((status = 200, description = "The results", body = ExperimentResults)),
    extensions(("x-burgee-role" = json!("viewer"))),
)]
pub(crate) async fn experiment_results(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, flag)): Path<(String, String)>,
    Query(query): Query<ResultsQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Viewer)?;
    let config = state
        .experiment_config(&project, &query.environment, &flag)
        .await?;
    let events = Arc::clone(state.events());
    let environment = query.environment.clone();
    let points = query.timeline.unwrap_or(0);
    if points > crate::analysis::timeline::MAX_POINTS {
        return Err(ApiError::bad_field("timeline", "must be 0..=24"));
    }
    let results = tokio::task::spawn_blocking(move || {
        events.results(&project, &environment, &config, points)
    })
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
