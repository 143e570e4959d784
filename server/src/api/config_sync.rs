//! Distribution of config documents (`spec/CONFIG.md` §5): the latest signed document of a
//! service (ETag/304) and its SSE stream, like the snapshot routes.
//!
//! Which variant a caller gets: the document **with** secrets only for a server-side SDK key
//! scoped to the service (`burgee token create --sdk --service S`); every other reader (an
//! unscoped SDK key, a client-side key, an admin token) gets the same version without secret
//! entries. A key scoped to another service is refused (403).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use burgee_core::model::Audience;

use crate::api::distribution::{
    ProjectQuery, StreamTarget, envelope_response, for_audience, open_stream, target_of,
};
use crate::api::extract::authenticate_or_key;
use crate::auth::Principal;
use crate::error::{ApiCode, ApiError};
use crate::openapi::external::ConfigEnvelope;
use crate::service::AppState;

/// The (project, environment) and the variant ([`Audience::Server`]: with secrets) a caller
/// reads of `service`.
async fn config_target(
    state: &AppState,
    headers: &HeaderMap,
    env: &str,
    service: &str,
    query: &ProjectQuery,
) -> Result<(String, String, Audience), ApiError> {
    let principal = authenticate_or_key(state, headers, query.key.as_deref()).await?;
    let (project, env) = target_of(state, &principal, env, query, Audience::Client).await?;
    let variant = match &principal {
        Principal::Sdk {
            service: Some(scope),
            ..
        } if scope != service => {
            return Err(ApiError::forbidden(format!(
                "this SDK key is scoped to service \"{scope}\""
            )));
        }
        Principal::Sdk {
            service: Some(_),
            client: false,
            ..
        } => Audience::Server,
        _ => Audience::Client,
    };
    Ok((project, env, variant))
}

fn no_document(service: &str, env: &str) -> ApiError {
    ApiError::new(
        ApiCode::ServiceNotFound,
        format!("service \"{service}\" has no config document in \"{env}\""),
    )
}

/// The latest signed config document of a service (`ETag` = payload digest, 304 on
/// `If-None-Match`).
#[utoipa::path(get, path = "/v1/configs/{env}/{service}", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key, for an admin token that sees several projects with this environment"),
        ("key" = Option<String>, Query, description = "A client-side key (bgc_...) when no Authorization header can be sent"),
    ),
    responses(
        (status = 200, description = "The DSSE envelope (payload type application/vnd.burgee.config+json; version=1)", body = ConfigEnvelope),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    ),
    extensions(("x-burgee-role" = json!("SDK key or client-side key of the environment (scoped keys: their service only), or viewer"))),
)]
pub(crate) async fn get_config_document(
    State(state): State<AppState>,
    Path((env, service)): Path<(String, String)>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, env, variant) = config_target(&state, &headers, &env, &service, &query).await?;
    let doc = state
        .latest_config((&project, &env, &service))
        .await?
        .and_then(|d| for_audience(d, variant))
        .ok_or_else(|| no_document(&service, &env))?;
    envelope_response(&doc, &headers)
}

/// Server-sent events of a service's config documents: `id: <version>`, `event: config`,
/// `data: <envelope JSON>`; the latest first (unless `Last-Event-ID` names it), then every
/// new version; keep-alive comments.
#[utoipa::path(get, path = "/v1/configs/{env}/{service}/stream", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key, for an admin token that sees several projects with this environment"),
        ("key" = Option<String>, Query, description = "A client-side key (bgc_...) when no Authorization header can be sent"),
    ),
    responses((status = 200, description = "An SSE stream of `config` events",
        content_type = "text/event-stream", body = String)),
    extensions(("x-burgee-role" = json!("SDK key or client-side key of the environment (scoped keys: their service only), or viewer"))),
)]
pub(crate) async fn stream_config(
    State(state): State<AppState>,
    Path((env, service)): Path<(String, String)>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, env, variant) = config_target(&state, &headers, &env, &service, &query).await?;
    let rx = state.subscribe();
    let latest = state
        .latest_config((&project, &env, &service))
        .await?
        .and_then(|d| for_audience(d, variant));
    if latest.is_none() {
        return Err(no_document(&service, &env));
    }
    let target = StreamTarget {
        kind: crate::distribution::DocumentKind::Config,
        project,
        env,
        service: Some(service),
        audience: variant,
    };
    open_stream(state, target, &headers, &query, rx, latest)
}
