//! API tokens, SDK keys, client-side keys and the audit log (admin).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::api::extract::{Caller, json, parse_body};
use crate::error::ApiError;
use crate::model::{Role, TokenInput};
use crate::service::{AppState, AuditFilter};

// ---- tokens and audit ----

#[derive(Debug, Deserialize)]
pub(crate) struct TokensQuery {
    project: Option<String>,
}

pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TokensQuery>,
) -> Result<Response, ApiError> {
    caller.require(q.project.as_deref(), Role::Admin)?;
    json(&state.tokens(q.project.as_deref()).await?)
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: TokenInput = parse_body(&body, "token request")?;
    let actor = caller.require(input.project.as_deref(), Role::Admin)?;
    let created = state.create_token(&actor, &input).await?;
    let mut r = json(&created)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let info = state
        .tokens(None)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no token \"{id}\"")));
    // Authorise before revealing whether the id exists.
    let project = info.as_ref().ok().and_then(|t| t.project.clone());
    let actor = caller.require(project.as_deref(), Role::Admin)?;
    info?;
    json(&state.revoke_token(&actor, &id).await?)
}

pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Response, ApiError> {
    caller.require(filter.project.as_deref(), Role::Admin)?;
    json(&state.audit_entries(&filter).await?)
}
