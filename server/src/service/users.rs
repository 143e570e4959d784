//! People who sign in to the console: local users (e-mail and an argon2id password hash,
//! RFC 9106 parameters of the `argon2` crate's default) with a role like API tokens have, and
//! sessions (a random secret in an HttpOnly cookie, stored only as its SHA-256 hash, with a
//! CSRF token). An API token can be exchanged for a session too; revoking the token ends it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row as _};

use crate::auth::{Principal, new_secret, token_hash};
use crate::error::StateError;
use crate::keys;
use crate::model::{CreatedUser, Role, SessionUser, User, UserInput};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{require_project, to_json};
use crate::store::to_i64;

/// Prefix of session secrets (`bgx_` + 64 hex digits), the value of the session cookie.
pub const SESSION_PREFIX: &str = "bgx_";

/// Lifetime of a session, ms (12 hours).
pub const SESSION_TTL_MS: u64 = 12 * 3_600_000;

/// Shortest accepted password, characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A new session: the cookie value (shown once) and what `GET /v1/session` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The secret for the `burgee_session` cookie.
    pub secret: String,
    /// The caller, its CSRF token and expiry.
    pub info: SessionUser,
}

/// A resolved session: the principal it acts as and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// Who the session acts as (a user's id, or the exchanged token's).
    pub principal: Principal,
    /// What `GET /v1/session` answers.
    pub info: SessionUser,
}

impl FromRow<'_, AnyRow> for User {
    /// Columns `id, email, name, role, project, created_at, created_by, disabled_at`.
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let role: String = row.try_get("role")?;
        let decode = |column: &str, v: i64| {
            u64::try_from(v).map_err(|_| sqlx::Error::ColumnDecode {
                index: column.to_owned(),
                source: format!("stored number {v} is negative").into(),
            })
        };
        Ok(User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
            role: Role::parse(&role).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "role".into(),
                source: format!("unknown role {role:?}").into(),
            })?,
            project: row.try_get("project")?,
            created_at: decode("created_at", row.try_get("created_at")?)?,
            created_by: row.try_get("created_by")?,
            disabled_at: row
                .try_get::<Option<i64>, _>("disabled_at")?
                .map(|v| decode("disabled_at", v))
                .transpose()?,
        })
    }
}

/// The columns [`User`] is read from.
pub(crate) const USER_COLUMNS: &str =
    "id, email, name, role, project, created_at, created_by, disabled_at";

fn field(name: &str, message: impl Into<String>) -> StateError {
    StateError::Field {
        field: name.to_owned(),
        message: message.into(),
    }
}

/// The argon2id PHC string of `password`.
fn hash_password(password: &str) -> Result<String, StateError> {
    let salt = SaltString::encode_b64(&keys::random_bytes::<16>()?)
        .map_err(|e| StateError::Corrupt(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StateError::Corrupt(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A readable random password: 24 hex digits (96 bits).
fn generated_password() -> Result<String, StateError> {
    Ok(hex::encode(keys::random_bytes::<12>()?))
}

/// A checked user input with its password hashed (argon2 runs off the async threads, before
/// the write begins).
pub(crate) struct PreparedUser {
    input: UserInput,
    email: String,
    hash: String,
    /// The generated password, when the input had none.
    pub(crate) generated: Option<String>,
}

impl PreparedUser {
    /// Checks `input` and hashes its password (or a generated one).
    ///
    /// # Errors
    /// [`StateError::Field`] for a malformed e-mail or a short password.
    pub(crate) async fn new(input: &UserInput) -> Result<PreparedUser, StateError> {
        let email = input.email.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && email
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
        if !valid {
            return Err(field(
                "email",
                format!("{:?} is not an e-mail address", input.email),
            ));
        }
        let (password, generated) = match &input.password {
            Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => {
                return Err(field(
                    "password",
                    format!("at least {MIN_PASSWORD_CHARS} characters"),
                ));
            }
            Some(p) => (p.clone(), None),
            None => {
                let p = generated_password()?;
                (p.clone(), Some(p))
            }
        };
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| StateError::Corrupt(format!("hashing task: {e}")))??;
        Ok(PreparedUser {
            input: input.clone(),
            email,
            hash,
            generated,
        })
    }
}

impl AppState {
    /// Creates a user; without `input.password` one is generated and returned once.
    ///
    /// # Errors
    /// [`StateError::Field`] for a malformed e-mail, a short password or an unknown project;
    /// [`StateError::Conflict`] when the e-mail is taken.
    pub async fn create_user(
        &self,
        actor: &str,
        input: &UserInput,
    ) -> Result<CreatedUser, StateError> {
        let prepared = PreparedUser::new(input).await?;
        let user = self
            .write(actor, async |tx| self.insert_user_in(tx, &prepared).await)
            .await?;
        Ok(CreatedUser {
            user,
            password: prepared.generated,
        })
    }

    /// Inserts a [`PreparedUser`] in a write (audited as `user.create`).
    pub(crate) async fn insert_user_in(
        &self,
        tx: &mut Tx<'_>,
        p: &PreparedUser,
    ) -> Result<User, StateError> {
        if let Some(project) = &p.input.project {
            require_project(tx.conn(), project).await?;
        }
        let taken: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&p.email)
            .fetch_optional(tx.conn())
            .await?;
        if taken.is_some() {
            return Err(StateError::Conflict(format!(
                "a user with e-mail {} exists",
                p.email
            )));
        }
        let user = User {
            id: format!("usr_{}", hex::encode(keys::random_bytes::<8>()?)),
            email: p.email.clone(),
            name: p.input.name.clone().unwrap_or_else(|| p.email.clone()),
            role: p.input.role,
            project: p.input.project.clone(),
            created_at: tx.now,
            created_by: tx.actor().to_owned(),
            disabled_at: None,
        };
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, role, project, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.name)
        .bind(&p.hash)
        .bind(user.role.as_str())
        .bind(&user.project)
        .bind(to_i64(tx.now)?)
        .bind(&user.created_by)
        .execute(tx.conn())
        .await?;
        tx.audit(
            "user.create",
            (user.project.as_deref(), None),
            &format!("user:{}", user.email),
            None,
            Some(to_json(&user)?),
        )
        .await?;
        Ok(user)
    }

    /// Users, by e-mail; with `project`, only users scoped to it.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn users(&self, project: Option<&str>) -> Result<Vec<User>, StateError> {
        let all: Vec<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email"
        )))
        .fetch_all(&self.inner.store.pool)
        .await?;
        Ok(all
            .into_iter()
            .filter(|u| project.is_none() || u.project.as_deref() == project)
            .collect())
    }

    /// Disables a user (by id or e-mail) and ends its sessions; the row stays for the audit log.
    ///
    /// # Errors
    /// [`StateError::NotFound`].
    pub async fn disable_user(&self, actor: &str, id_or_email: &str) -> Result<User, StateError> {
        let key = id_or_email.trim().to_lowercase();
        self.write(actor, async |tx| {
            let before: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1 OR email = $1"
            )))
            .bind(&key)
            .fetch_optional(tx.conn())
            .await?;
            let before =
                before.ok_or_else(|| StateError::NotFound(format!("no user {id_or_email:?}")))?;
            let now = to_i64(tx.now)?;
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now)
                .bind(&before.id)
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&before.id)
            .execute(tx.conn())
            .await?;
            let after = User {
                disabled_at: before.disabled_at.or(Some(tx.now)),
                ..before.clone()
            };
            tx.audit(
                "user.disable",
                (after.project.as_deref(), None),
                &format!("user:{}", after.email),
                Some(to_json(&before)?),
                Some(to_json(&after)?),
            )
            .await?;
            Ok(after)
        })
        .await
    }

    /// Signs in with e-mail and password; `None` for an unknown e-mail, a wrong password or a
    /// disabled user (the same answer for each, after the same argon2 work).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<NewSession>, StateError> {
        let email = email.trim().to_lowercase();
        let row: Option<(String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT id, password_hash, disabled_at FROM users WHERE email = $1")
                .bind(&email)
                .fetch_optional(&self.inner.store.pool)
                .await?;
        // Verify against a real hash even for unknown users, so timing does not tell.
        let (id, hash, disabled) = match row {
            Some((id, Some(hash), disabled)) => (Some(id), hash, disabled.is_some()),
            _ => (None, DUMMY_HASH.clone(), true),
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password_matches(&hash, &password))
            .await
            .map_err(|e| StateError::Corrupt(format!("verification task: {e}")))?;
        match id {
            Some(id) if matches && !disabled => {
                self.insert_session(Some(&id), None).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Exchanges an admin API token for a session; `None` for an unknown, revoked or
    /// non-admin token.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn sign_in_token(&self, token: &str) -> Result<Option<NewSession>, StateError> {
        match self.principal(token).await? {
            Some(Principal::Token { .. }) => self
                .insert_session(None, Some(&token_hash(token)))
                .await
                .map(Some),
            _ => Ok(None),
        }
    }

    /// Starts a session for a user (`user_id`) or an exchanged token (`token_hash`).
    pub(crate) async fn insert_session(
        &self,
        user_id: Option<&str>,
        token_hash: Option<&str>,
    ) -> Result<NewSession, StateError> {
        let secret = new_secret(SESSION_PREFIX)?;
        let csrf = hex::encode(keys::random_bytes::<32>()?);
        let now = self.now();
        let expires = now.saturating_add(SESSION_TTL_MS);
        sqlx::query(
            "INSERT INTO sessions (hash, user_id, token_hash, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crate::auth::token_hash(&secret))
        .bind(user_id)
        .bind(token_hash)
        .bind(&csrf)
        .bind(to_i64(now)?)
        .bind(to_i64(expires)?)
        .execute(&self.inner.store.pool)
        .await?;
        let active = self
            .session(&secret)
            .await?
            .ok_or_else(|| StateError::Corrupt("a new session did not resolve".into()))?;
        Ok(NewSession {
            secret,
            info: active.info,
        })
    }

    /// The live session of a cookie value: not expired, not revoked, its user enabled (or its
    /// token not revoked).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn session(&self, secret: &str) -> Result<Option<ActiveSession>, StateError> {
        if !secret.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let row: Option<(Option<String>, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT user_id, token_hash, csrf_token, expires_at FROM sessions \
             WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash(secret))
        .bind(to_i64(self.now())?)
        .fetch_optional(&self.inner.store.pool)
        .await?;
        let Some((user_id, token, csrf_token, expires_at)) = row else {
            return Ok(None);
        };
        let expires_at = u64::try_from(expires_at).unwrap_or(0);
        if let Some(user_id) = user_id {
            let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND disabled_at IS NULL"
            )))
            .bind(&user_id)
            .fetch_optional(&self.inner.store.pool)
            .await?;
            return Ok(user.map(|u| ActiveSession {
                principal: Principal::Token {
                    id: u.id.clone(),
                    role: u.role,
                    project: u.project.clone(),
                },
                info: SessionUser {
                    id: u.id,
                    email: Some(u.email),
                    name: u.name,
                    role: u.role,
                    project: u.project,
                    csrf_token,
                    expires_at,
                },
            }));
        }
        let Some(hash) = token else { return Ok(None) };
        let principal = self.principal_by_hash(&hash).await?;
        Ok(match principal {
            Some(Principal::Token { id, role, project }) => Some(ActiveSession {
                info: SessionUser {
                    id: id.clone(),
                    email: None,
                    name: id.clone(),
                    role,
                    project: project.clone(),
                    csrf_token,
                    expires_at,
                },
                principal: Principal::Token { id, role, project },
            }),
            _ => None,
        })
    }

    /// Ends one session (sign-out).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn end_session(&self, secret: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL")
            .bind(to_i64(self.now())?)
            .bind(token_hash(secret))
            .execute(&self.inner.store.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of the session's user (or of its exchanged token): sign-out
    /// everywhere. Returns how many ended.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn end_all_sessions(&self, secret: &str) -> Result<u64, StateError> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT user_id, token_hash FROM sessions WHERE hash = $1")
                .bind(token_hash(secret))
                .fetch_optional(&self.inner.store.pool)
                .await?;
        let Some((user, token)) = row else {
            return Ok(0);
        };
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND \
             ((user_id IS NOT NULL AND user_id = $2) OR (token_hash IS NOT NULL AND token_hash = $3))",
        )
        .bind(to_i64(self.now())?)
        .bind(user)
        .bind(token)
        .execute(&self.inner.store.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// An argon2id hash of a random password nobody knows, verified against when the e-mail is
/// unknown so that a sign-in takes as long either way.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    keys::random_bytes::<16>()
        .ok()
        .and_then(|b| hash_password(&hex::encode(b)).ok())
        .unwrap_or_default()
});
