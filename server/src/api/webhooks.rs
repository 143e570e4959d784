//! Webhooks of a project: registration, removal, and the delivery log
//! ([`crate::notify::webhooks`] describes deliveries and their signature).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::extract::{BodyName, Caller, JsonBody, json};
use crate::error::ApiError;
use crate::model::Role;
use crate::notify::webhooks::{CreatedWebhook, Webhook, WebhookDelivery, WebhookInput};
use crate::service::AppState;

impl BodyName for WebhookInput {
    const NAME: &'static str = "WebhookInput";
}

/// `?limit=` of the delivery log.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// Newest attempts to return (default 100, at most 1000).
    limit: Option<u32>,
}

/// The webhooks of a project.
#[utoipa::path(get, path = "/v1/projects/{project}/webhooks", tag = "webhooks",
    responses((status = 200, description = "Webhooks", body = Vec<Webhook>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Admin)?;
    json(&state.webhooks(&project).await?)
}

/// Register a webhook: every change event of the project published from now on is POSTed to
/// it, signed (`Burgee-Signature`); the answer holds the signing secret, shown this once.
#[utoipa::path(post, path = "/v1/projects/{project}/webhooks", tag = "webhooks",
    request_body = WebhookInput,
    responses((status = 201, description = "Created", body = CreatedWebhook)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    body: JsonBody<WebhookInput>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    let input = body.parsed()?;
    let created = state.create_webhook(&actor, &project, &input).await?;
    let mut r = json(&created)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// Remove a webhook (its delivery log stays readable).
#[utoipa::path(delete, path = "/v1/projects/{project}/webhooks/{id}", tag = "webhooks",
    responses((status = 204, description = "Removed")),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Some(&project), Role::Admin)?;
    state.delete_webhook(&actor, &project, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The delivery log of a webhook: every attempt, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/webhooks/{id}/deliveries", tag = "webhooks",
    params(DeliveriesQuery),
    responses((status = 200, description = "Attempts, newest first", body = Vec<WebhookDelivery>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn webhook_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    caller.require(Some(&project), Role::Admin)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    json(&state.webhook_deliveries(&project, &id, limit).await?)
}
