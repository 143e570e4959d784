//! Callers: token prefixes, the [`Principal`] a bearer token resolves to, token hashing.

use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::keys::{self, KeyError};
use crate::model::Role;

/// Prefix of admin API tokens (`bga_` + 64 lowercase hex digits = 32 random bytes).
pub const ADMIN_TOKEN_PREFIX: &str = "bga_";

/// Prefix of SDK keys (`bgs_` + 64 lowercase hex digits = 32 random bytes).
pub const SDK_KEY_PREFIX: &str = "bgs_";

/// Prefix of client-side keys (`bgc_` + 64 lowercase hex digits). Client keys ship inside web
/// pages and apps, so they are public by design: they read only the client snapshot
/// (`spec/SNAPSHOT.md` §9) and send events.
pub const CLIENT_KEY_PREFIX: &str = "bgc_";

/// How long a resolved token is cached in memory, so a revoked token may work this long.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An admin API token.
    Token {
        /// Public token id (the audit actor).
        id: String,
        /// Its role.
        role: Role,
        /// Project scope; `None` = every project.
        project: Option<String>,
    },
    /// An SDK key: reads its environment's snapshot (GET and stream) and sends its events.
    Sdk {
        /// Public token id.
        id: String,
        /// Project of the environment.
        project: String,
        /// The environment the key was issued for.
        environment: String,
        /// A client-side key (`bgc_`, kind `client`): reads only the client snapshot.
        client: bool,
        /// The service the key is scoped to (config documents of that service only).
        service: Option<String>,
    },
}

impl Principal {
    /// The public token id.
    pub fn id(&self) -> &str {
        match self {
            Principal::Token { id, .. } | Principal::Sdk { id, .. } => id,
        }
    }
}

/// Lowercase hex SHA-256 of a token's text: the only form tokens are stored in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn new_secret(prefix: &str) -> Result<String, KeyError> {
    Ok(format!(
        "{prefix}{}",
        hex::encode(keys::random_bytes::<32>()?)
    ))
}
