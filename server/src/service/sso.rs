//! Single sign-on's state: sign-ins in progress (`oidc_flows`: state, PKCE verifier and nonce,
//! bound to the browser that started them, one use, [`FLOW_TTL_MS`]) and the console user of a
//! verified identity, created on first sign-in and updated on every later one (role and
//! project re-derived from the mapping rules each time).

use crate::auth::token_hash;
use crate::error::StateError;
use crate::model::User;
use crate::oidc::{FLOW_TTL_MS, Grant, Identity};
use crate::service::AppState;
use crate::service::users::{NewSession, USER_COLUMNS};
use crate::store::rows::{require_project, to_json};
use crate::store::to_i64;

/// What the callback of a sign-in needs back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFlow {
    /// The PKCE code verifier.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
}

/// Why a verified identity gets no session.
#[derive(Debug, thiserror::Error)]
pub enum SsoRefusal {
    /// The user exists and is disabled.
    #[error("the user {0} is disabled")]
    Disabled(String),
    /// A rule grants a role in a project that does not exist.
    #[error("the role mapping names project {0:?}, which does not exist")]
    UnknownProject(String),
    /// Storing failed.
    #[error(transparent)]
    State(#[from] StateError),
}

impl AppState {
    /// Saves a started sign-in under `state`, bound to the browser secret `browser` (the flow
    /// cookie); drops the expired ones.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn save_oidc_flow(
        &self,
        state: &str,
        browser: &str,
        flow: &PendingFlow,
    ) -> Result<(), StateError> {
        let now = self.now();
        let pool = &self.inner.store.pool;
        sqlx::query("DELETE FROM oidc_flows WHERE expires_at <= $1")
            .bind(to_i64(now)?)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_flows (state_hash, browser_hash, verifier, nonce, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash(state))
        .bind(token_hash(browser))
        .bind(&flow.verifier)
        .bind(&flow.nonce)
        .bind(to_i64(now)?)
        .bind(to_i64(now.saturating_add(FLOW_TTL_MS))?)
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Takes the sign-in saved under `state` (it can be taken once): `None` when there is none,
    /// it expired, or `browser` is not the browser that started it.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn take_oidc_flow(
        &self,
        state: &str,
        browser: &str,
    ) -> Result<Option<PendingFlow>, StateError> {
        let pool = &self.inner.store.pool;
        let key = token_hash(state);
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT browser_hash, verifier, nonce, expires_at FROM oidc_flows WHERE state_hash = $1",
        )
        .bind(&key)
        .fetch_optional(pool)
        .await?;
        let Some((browser_hash, verifier, nonce, expires_at)) = row else {
            return Ok(None);
        };
        let taken = sqlx::query("DELETE FROM oidc_flows WHERE state_hash = $1")
            .bind(&key)
            .execute(pool)
            .await?;
        let live = expires_at > to_i64(self.now())?;
        Ok(
            (taken.rows_affected() == 1 && live && browser_hash == token_hash(browser))
                .then_some(PendingFlow { verifier, nonce }),
        )
    }

    /// Signs in the person of a verified `identity` with the role the rules gave it: creates
    /// the user (no password; audited `user.create` by itself) or updates its name, role and
    /// project when they changed (audited `user.update`), then starts a session.
    ///
    /// # Errors
    /// [`SsoRefusal::Disabled`], [`SsoRefusal::UnknownProject`], [`SsoRefusal::State`].
    pub async fn sign_in_oidc(
        &self,
        identity: &Identity,
        grant: &Grant,
    ) -> Result<NewSession, SsoRefusal> {
        let pool = &self.inner.store.pool;
        let existing: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(&identity.email)
        .fetch_optional(pool)
        .await
        .map_err(StateError::from)?;
        if let Some(user) = &existing
            && user.disabled_at.is_some()
        {
            return Err(SsoRefusal::Disabled(user.email.clone()));
        }
        let id = match &existing {
            Some(u) => u.id.clone(),
            None => format!(
                "usr_{}",
                hex::encode(crate::keys::random_bytes::<8>().map_err(StateError::from)?)
            ),
        };
        let name = identity
            .name
            .clone()
            .unwrap_or_else(|| identity.email.clone());
        let unchanged = existing
            .as_ref()
            .is_some_and(|u| u.name == name && u.role == grant.role && u.project == grant.project);
        if !unchanged {
            self.write(&id, async |tx| {
                if let Some(project) = &grant.project
                    && require_project(tx.conn(), project).await.is_err()
                {
                    return Err(StateError::NotFound(project.clone()));
                }
                let after = User {
                    id: id.clone(),
                    email: identity.email.clone(),
                    name: name.clone(),
                    role: grant.role,
                    project: grant.project.clone(),
                    created_at: existing.as_ref().map_or(tx.now, |u| u.created_at),
                    created_by: existing
                        .as_ref()
                        .map_or_else(|| id.clone(), |u| u.created_by.clone()),
                    disabled_at: None,
                };
                if existing.is_some() {
                    sqlx::query(
                        "UPDATE users SET name = $1, role = $2, project = $3 WHERE id = $4",
                    )
                    .bind(&after.name)
                    .bind(after.role.as_str())
                    .bind(&after.project)
                    .bind(&id)
                    .execute(tx.conn())
                    .await?;
                } else {
                    sqlx::query(
                        "INSERT INTO users (id, email, name, password_hash, role, project, \
                         created_at, created_by) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7)",
                    )
                    .bind(&id)
                    .bind(&after.email)
                    .bind(&after.name)
                    .bind(after.role.as_str())
                    .bind(&after.project)
                    .bind(to_i64(after.created_at)?)
                    .bind(&after.created_by)
                    .execute(tx.conn())
                    .await?;
                }
                let before = existing.as_ref().map(to_json).transpose()?;
                let action = if existing.is_some() {
                    "user.update"
                } else {
                    "user.create"
                };
                tx.audit(
                    action,
                    (after.project.as_deref(), None),
                    &format!("user:{}", after.email),
                    before,
                    Some(to_json(&after)?),
                )
                .await
            })
            .await
            .map_err(|e| match (e, &grant.project) {
                (StateError::NotFound(_), Some(p)) => SsoRefusal::UnknownProject(p.clone()),
                (e, _) => SsoRefusal::State(e),
            })?;
        }
        Ok(self.insert_session(Some(&id), None).await?)
    }
}
