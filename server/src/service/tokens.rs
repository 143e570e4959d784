//! API tokens, SDK keys and client-side keys: resolution (with a short cache), creation, revocation.

use std::time::Instant;

use sqlx::AnyConnection;

use crate::auth::{
    ADMIN_TOKEN_PREFIX, CLIENT_KEY_PREFIX, Principal, SDK_KEY_PREFIX, TOKEN_CACHE_TTL, new_secret,
    token_hash,
};
use crate::error::StateError;
use crate::keys::{self};
use crate::model::{CreatedToken, Role, TokenInfo, TokenInput};
use crate::service::AppState;
use crate::store::rows::{require_env, require_project, to_json};
use crate::store::to_i64;

/// Inserts a token row; returns the listing and the plaintext.
pub(crate) async fn insert_token(
    conn: &mut AnyConnection,
    input: &TokenInput,
    actor: &str,
    now: u64,
) -> Result<CreatedToken, StateError> {
    let prefix = match input.kind.as_str() {
        "sdk" => SDK_KEY_PREFIX,
        "client" => CLIENT_KEY_PREFIX,
        _ => ADMIN_TOKEN_PREFIX,
    };
    let token = new_secret(prefix)?;
    let id = format!("tok_{}", hex::encode(keys::random_bytes::<8>()?));
    let info = TokenInfo {
        id: id.clone(),
        kind: input.kind.clone(),
        name: input.name.clone(),
        role: input.role,
        project: input.project.clone(),
        environment: input.environment.clone(),
        service: input.service.clone(),
        created_at: now,
        created_by: actor.to_owned(),
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO tokens (hash, id, kind, name, role, project, environment, created_at, \
         created_by, service) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(token_hash(&token))
    .bind(&id)
    .bind(&info.kind)
    .bind(&info.name)
    .bind(info.role.map(|r| r.as_str().to_owned()))
    .bind(&info.project)
    .bind(&info.environment)
    .bind(to_i64(now)?)
    .bind(actor)
    .bind(&info.service)
    .execute(&mut *conn)
    .await?;
    Ok(CreatedToken { token, info })
}

impl AppState {
    /// Who `token` (the bearer text) belongs to; `None` for an unknown or revoked token.
    /// Results are cached for [`TOKEN_CACHE_TTL`].
    ///
    /// # Errors
    /// [`StateError::Db`]; [`StateError::Corrupt`] for an inconsistent row.
    pub async fn principal(&self, token: &str) -> Result<Option<Principal>, StateError> {
        self.principal_by_hash(&token_hash(token)).await
    }

    /// [`AppState::principal`] of a token known by its hash (sessions made from a token).
    ///
    /// # Errors
    /// As [`AppState::principal`].
    pub(crate) async fn principal_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<Principal>, StateError> {
        let hash = hash.to_owned();
        if let Ok(cache) = self.inner.tokens.read()
            && let Some((p, at)) = cache.get(&hash)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(p.clone());
        }
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, kind, role, project, environment, service FROM tokens \
                 WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.inner.store.pool)
        .await?;
        let principal = match row {
            None => None,
            Some((id, kind, role, project, _, _)) if kind == "admin" => {
                let role = role
                    .as_deref()
                    .and_then(Role::parse)
                    .ok_or_else(|| StateError::Corrupt(format!("token {id} has no valid role")))?;
                Some(Principal::Token { id, role, project })
            }
            Some((id, kind, _, Some(project), Some(environment), service))
                if kind == "sdk" || kind == "client" =>
            {
                Some(Principal::Sdk {
                    id,
                    project,
                    environment,
                    client: kind == "client",
                    service,
                })
            }
            Some((id, kind, ..)) => {
                return Err(StateError::Corrupt(format!(
                    "token {id} of kind \"{kind}\" is inconsistent"
                )));
            }
        };
        if let Ok(mut cache) = self.inner.tokens.write() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (principal.clone(), Instant::now()));
        }
        Ok(principal)
    }

    /// Creates an admin token (with a role, optionally scoped to a project) or an SDK key
    /// (for one environment). The plaintext is in the result only.
    ///
    /// # Errors
    /// [`StateError::Field`] for an inconsistent input, [`StateError::NotFound`].
    pub async fn create_token(
        &self,
        actor: &str,
        input: &TokenInput,
    ) -> Result<CreatedToken, StateError> {
        let field = |field: &str, message: &str| StateError::Field {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        self.write(actor, async |tx| {
            match input.kind.as_str() {
                "admin" => {
                    if input.role.is_none() {
                        return Err(field("role", "admin tokens need a role"));
                    }
                    if input.environment.is_some() {
                        return Err(field("environment", "admin tokens are not per environment"));
                    }
                    if input.service.is_some() {
                        return Err(field("service", "only SDK keys are scoped to a service"));
                    }
                    if let Some(p) = &input.project {
                        require_project(tx.conn(), p).await?;
                    }
                }
                "sdk" | "client" => {
                    if input.role.is_some() {
                        return Err(field("role", "SDK keys have no role"));
                    }
                    let (Some(p), Some(e)) = (&input.project, &input.environment) else {
                        return Err(field(
                            "environment",
                            "SDK keys need a project and an environment",
                        ));
                    };
                    require_env(tx.conn(), p, e).await?;
                    if let Some(s) = &input.service
                        && !crate::configs::service_exists(tx.conn(), p, s).await?
                    {
                        return Err(StateError::Refused {
                            code: crate::error::ApiCode::ServiceNotFound,
                            field: Some("service".into()),
                            message: format!("project \"{p}\" has no service \"{s}\""),
                        });
                    }
                }
                other => {
                    return Err(field(
                        "kind",
                        &format!("must be \"admin\", \"sdk\" or \"client\" (got {other:?})"),
                    ));
                }
            }
            let now = tx.now;
            let created = insert_token(tx.conn(), input, actor, now).await?;
            tx.audit(
                "token.create",
                (input.project.as_deref(), input.environment.as_deref()),
                &format!("token:{}", created.info.id),
                None,
                Some(to_json(&created.info)?),
            )
            .await?;
            Ok(created)
        })
        .await
    }

    /// Every token (never the secrets), newest first; only those of `project` when given.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn tokens(&self, project: Option<&str>) -> Result<Vec<TokenInfo>, StateError> {
        let all: Vec<TokenInfo> = sqlx::query_as(
            "SELECT id, kind, name, role, project, environment, service, created_at, created_by, \
             revoked_at FROM tokens ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        Ok(all
            .into_iter()
            .filter(|t| project.is_none() || t.project.as_deref() == project)
            .collect())
    }

    /// Revokes a token by id (effective within [`TOKEN_CACHE_TTL`] on other replicas,
    /// at once on this one).
    ///
    /// # Errors
    /// [`StateError::NotFound`].
    pub async fn revoke_token(&self, actor: &str, id: &str) -> Result<TokenInfo, StateError> {
        let after = self
            .write(actor, async |tx| {
                let row: Option<TokenInfo> = sqlx::query_as(
                    "SELECT id, kind, name, role, project, environment, service, created_at, created_by, \
                 revoked_at FROM tokens WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
                let before =
                    row.ok_or_else(|| StateError::NotFound(format!("no token \"{id}\"")))?;
                let now = tx.now;
                let after = TokenInfo {
                    revoked_at: Some(before.revoked_at.unwrap_or(now)),
                    ..before.clone()
                };
                sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                    .bind(after.revoked_at.map(to_i64).transpose()?)
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
                tx.audit(
                    "token.revoke",
                    (before.project.as_deref(), before.environment.as_deref()),
                    &format!("token:{id}"),
                    Some(to_json(&before)?),
                    Some(to_json(&after)?),
                )
                .await?;
                Ok(after)
            })
            .await?;
        self.forget_tokens();
        Ok(after)
    }
}
