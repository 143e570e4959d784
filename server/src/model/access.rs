//! People and sessions as the API reads and writes them (`/v1/users`, `/v1/session`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::Role;

/// A console user (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Public id (`usr_` + 16 hex digits), the actor in the audit log.
    pub id: String,
    /// E-mail address (lowercase), unique; what the user signs in with.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role, as for API tokens.
    pub role: Role,
    /// Project scope; `None` = every project.
    pub project: Option<String>,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Who created it (token id, user id or `cli:<user>`).
    pub created_by: String,
    /// When it was disabled, ms since epoch; disabled users cannot sign in.
    pub disabled_at: Option<u64>,
}

/// Body of `POST /v1/users` (and `burgee user create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// E-mail address.
    pub email: String,
    /// Display name (default: the e-mail).
    #[serde(default)]
    pub name: Option<String>,
    /// Role.
    pub role: Role,
    /// Project scope; omitted = every project.
    #[serde(default)]
    pub project: Option<String>,
    /// Password (at least 12 characters); omitted = one is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

/// A newly created user, with its generated password (shown once) when none was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The generated one-time password; `None` when the request gave one.
    pub password: Option<String>,
}

/// Body of `POST /v1/session`: e-mail and password, or an admin API token to exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// E-mail address (with `password`).
    #[serde(default)]
    pub email: Option<String>,
    /// Password (with `email`).
    #[serde(default)]
    pub password: Option<String>,
    /// An admin API token (`bga_...`) instead of e-mail and password.
    #[serde(default)]
    pub token: Option<String>,
}

/// The signed-in caller: `POST` and `GET /v1/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionUser {
    /// User id (`usr_...`), or the exchanged token's id (`tok_...`).
    pub id: String,
    /// E-mail of a user; `None` for a token session.
    pub email: Option<String>,
    /// Display name (the token id for a token session).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Project scope; `None` = every project.
    pub project: Option<String>,
    /// Send this in `X-CSRF-Token` with every POST, PUT, PATCH and DELETE made with the cookie.
    pub csrf_token: String,
    /// When the session ends, ms since epoch.
    pub expires_at: u64,
}

/// `GET /v1/session/oidc`: whether the console offers single sign-on, and with whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SsoInfo {
    /// `true` when `burgee serve` has an OpenID provider (`--oidc-issuer`).
    pub enabled: bool,
    /// The provider's name for the button ("Sign in with NAME"); `None` when not enabled.
    pub name: Option<String>,
    /// Where the console sends the browser to sign in (`/v1/session/oidc/start`); `None`
    /// when not enabled.
    pub start_url: Option<String>,
}
