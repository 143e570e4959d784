//! API tokens, SDK keys, client-side keys and the audit log (admin).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::api::extract::{BodyName, Caller, JsonBody, json};
use crate::error::ApiError;
use crate::model::{AuditEntry, CreatedToken, Role, TokenInfo, TokenInput};
use crate::service::{AppState, AuditFilter};

// ---- tokens and audit ----

/// The filter of [`list_tokens`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokensQuery {
    /// Only tokens of this project (a project-scoped admin token must name its project).
    project: Option<String>,
}

impl BodyName for TokenInput {
    const NAME: &'static str = "TokenInput";
}

/// API tokens, SDK keys and client-side keys (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "access", params(TokensQuery),
    responses((status = 200, description = "Tokens", body = Vec<TokenInfo>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TokensQuery>,
) -> Result<Response, ApiError> {
    caller.require(q.project.as_deref(), Role::Admin)?;
    json(&state.tokens(q.project.as_deref()).await?)
}

/// Create an API token, SDK key or client-side key; the secret is in the answer, once.
#[utoipa::path(post, path = "/v1/tokens", tag = "access", request_body = TokenInput,
    responses((status = 201, description = "Created; `token` is the secret", body = CreatedToken)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: JsonBody<TokenInput>,
) -> Result<Response, ApiError> {
    let input = body.parsed()?;
    let actor = caller.require(input.project.as_deref(), Role::Admin)?;
    let created = state.create_token(&actor, &input).await?;
    let mut r = json(&created)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// Revoke a token: it is refused from now on.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access",
    responses((status = 200, description = "Revoked", body = TokenInfo)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
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

/// Audit log entries (a hash chain), oldest first.
#[utoipa::path(get, path = "/v1/audit", tag = "access", params(AuditFilter),
    responses((status = 200, description = "Entries, oldest first", body = Vec<AuditEntry>)),
    extensions(("x-burgee-role" = json!("admin"))),
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Response, ApiError> {
    caller.require(filter.project.as_deref(), Role::Admin)?;
    json(&state.audit_entries(&filter).await?)
}

/// The result of [`verify_audit`].
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    /// Whether every entry links to the one before it and the stored head matches.
    pub intact: bool,
    /// Entries verified (up to the break when there is one).
    pub entries: u64,
    /// The sequence number where the chain breaks, when it does.
    pub broken_at: Option<u64>,
    /// What is wrong at the break.
    pub problem: Option<String>,
}

/// Verify the whole audit log's hash chain (as `burgee audit verify` does).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "access",
    responses((status = 200, description = "The chain's status", body = AuditVerification)),
    extensions(("x-burgee-role" = json!("admin (all projects)"))),
)]
pub(crate) async fn verify_audit(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(None, Role::Admin)?;
    let answer = match state.verify_audit().await {
        Ok(entries) => AuditVerification {
            intact: true,
            entries,
            broken_at: None,
            problem: None,
        },
        Err(crate::error::StateError::AuditBroken(b)) => AuditVerification {
            intact: false,
            entries: b.seq.saturating_sub(1),
            broken_at: Some(b.seq),
            problem: Some(b.problem),
        },
        Err(e) => return Err(e.into()),
    };
    json(&answer)
}
