//! Distribution of catalog documents (`spec/CATALOG.md` §3): the latest signed catalog of an
//! environment (ETag/304) and its SSE stream (`event: catalog`), like the snapshot routes.
//! Readers: a server-side SDK key of the environment, or a viewer token; client-side keys are
//! refused (instance addresses are internal).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use burgee_core::model::Audience;

use crate::api::distribution::{
    ProjectQuery, StreamTarget, distribution_target, envelope_response, open_stream,
};
use crate::distribution::DocumentKind;
use crate::error::ApiError;
use crate::openapi::external::CatalogEnvelope;
use crate::service::AppState;

/// The latest signed catalog of an environment (`ETag` = payload digest, 304 on
/// `If-None-Match`); an empty one is published on the first read before any registration.
#[utoipa::path(get, path = "/v1/catalog/{env}", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key, for an admin token that sees several projects with this environment"),
    ),
    responses(
        (status = 200, description = "The DSSE envelope (payload type application/vnd.burgee.catalog+json; version=1)", body = CatalogEnvelope),
        (status = 304, description = "Not modified (If-None-Match matched)"),
    ),
    extensions(("x-burgee-role" = json!("server-side SDK key of the environment, or viewer"))),
)]
pub(crate) async fn get_catalog(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, env) =
        distribution_target(&state, &headers, &env, &query, Audience::Server).await?;
    let doc = state.catalog_for_readers(&project, &env).await?;
    envelope_response(&doc, &headers)
}

/// Server-sent events of an environment's catalog: `id: <version>`, `event: catalog`,
/// `data: <envelope JSON>`; the latest first (unless `Last-Event-ID` names it), then every new
/// version; keep-alive comments.
#[utoipa::path(get, path = "/v1/catalog/{env}/stream", tag = "distribution",
    params(
        ("project" = Option<String>, Query, description = "Project key, for an admin token that sees several projects with this environment"),
    ),
    responses((status = 200, description = "An SSE stream of `catalog` events",
        content_type = "text/event-stream", body = String)),
    extensions(("x-burgee-role" = json!("server-side SDK key of the environment, or viewer"))),
)]
pub(crate) async fn stream_catalog(
    State(state): State<AppState>,
    Path(env): Path<String>,
    Query(query): Query<ProjectQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, env) =
        distribution_target(&state, &headers, &env, &query, Audience::Server).await?;
    let rx = state.subscribe();
    let latest = Some(state.catalog_for_readers(&project, &env).await?);
    let target = StreamTarget {
        kind: DocumentKind::Catalog,
        project,
        env,
        service: None,
        audience: Audience::Server,
    };
    open_stream(state, target, &headers, &query, rx, latest)
}
