//! Errors: [`StateError`] inside the server, [`ApiError`] at the HTTP boundary.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use burgee_core::LoadError;
use serde::Serialize;

use crate::keys::KeyError;

/// What can go wrong opening the data directory, reading the store or publishing.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A database error (SQLite via sqlx).
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the migrations in `server/migrations/` failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file or directory of the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A signing key could not be created or loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The environment does not exist.
    #[error("unknown environment \"{0}\"")]
    UnknownEnvironment(String),
    /// The change would produce a snapshot that `burgee-core` refuses (`SNAPSHOT_INVALID`);
    /// nothing was stored. The message names the offending field path.
    #[error("{0}")]
    Invalid(LoadError),
    /// Stored data is unreadable (e.g. a definition column that is not a valid `FlagDef`),
    /// or a counter overflowed.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The JSON body of every error response: `{"code": "NOT_FOUND", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable code string (see [`ApiError::code`]).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// An HTTP error response. Each variant carries the message sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401 `UNAUTHORIZED`: no `Authorization: Bearer` header, or an unknown token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `FORBIDDEN`: the token is valid but may not do this (e.g. an SDK key on an admin
    /// endpoint or on another environment's snapshot).
    #[error("{0}")]
    Forbidden(String),
    /// 404 `NOT_FOUND`: unknown environment, flag, segment or route.
    #[error("{0}")]
    NotFound(String),
    /// 400 `BAD_REQUEST`: malformed JSON, a body that does not fit the model, or a body key
    /// that differs from the path key.
    #[error("{0}")]
    BadRequest(String),
    /// 422 `SNAPSHOT_INVALID`: the change is well-formed but the resulting snapshot is refused
    /// by `burgee-core`; the message is the core's and starts with the field path
    /// (e.g. `flags[checkout].rules[r1].when: invalid regex ...`).
    #[error("{0}")]
    SnapshotInvalid(String),
    /// 500 `INTERNAL`: a server-side failure; details are logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code string: `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `BAD_REQUEST`,
    /// `SNAPSHOT_INVALID` or `INTERNAL`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::SnapshotInvalid(_) => "SNAPSHOT_INVALID",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status: 401, 403, 404, 400, 422 or 500.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::SnapshotInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::UnknownEnvironment(env) => {
                ApiError::NotFound(format!("unknown environment \"{env}\""))
            }
            StateError::Invalid(load) => ApiError::SnapshotInvalid(load.to_string()),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal("internal server error; see the server log".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
