//! Errors: [`StateError`] inside the server, [`ApiError`] at the HTTP boundary.
//!
//! Every error response is `{"code": "...", "message": "...", "field": "..."}` (`field` only
//! when one input field is at fault: a JSON path such as `variants.big.limit` or a snapshot
//! path such as `flags[checkout].rules[r1].when`). Codes and statuses:
//!
//! | code | status | when |
//! |---|---|---|
//! | `UNAUTHORIZED` | 401 | no `Authorization: Bearer`, unknown or revoked token |
//! | `FORBIDDEN` | 403 | valid token without the role, project or environment needed |
//! | `NOT_FOUND` | 404 | unknown project, environment, flag, segment, version, token or route |
//! | `METHOD_NOT_ALLOWED` | 405 | known route, other method |
//! | `CONFLICT` | 409 | creating something that exists; rollback across changed variants |
//! | `PRECONDITION_FAILED` | 412 | `If-Match` names an older revision |
//! | `PAYLOAD_TOO_LARGE` | 413 | body over the limit |
//! | `UNSUPPORTED_MEDIA_TYPE` | 415 | body that is not `application/json` |
//! | `PRECONDITION_REQUIRED` | 428 | update or delete without `If-Match` |
//! | `BAD_REQUEST` | 400 | malformed JSON or query, body that does not fit the model |
//! | `SNAPSHOT_INVALID` | 422 | the write would produce a snapshot the core refuses, a value breaks the flag's JSON Schema, or a signed envelope (server or client) over the SDKs' default size limit ([`burgee_core::DEFAULT_MAX_ENVELOPE_BYTES`], 8 MiB) |
//! | `UNAVAILABLE` | 503 | the database is unreachable (`/ready`) |
//! | `INTERNAL` | 500 | a server-side failure (logged, never caused by input); also every permission lookup that fails: access is never granted on an error |

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use burgee_core::LoadError;
use serde::{Deserialize, Serialize};

use crate::audit::ChainBroken;
use crate::keys::KeyError;

/// What can go wrong in the store and the data directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A database error (sqlx).
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the migrations in `server/migrations/` failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Bad configuration (e.g. a database URL with an unknown scheme).
    #[error("{0}")]
    Config(String),
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
    /// The project, environment, flag, segment, version or token does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It exists already, or the change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named an older revision.
    #[error("{0}")]
    Stale(String),
    /// One input field is invalid (key syntax, JSON Schema, ...).
    #[error("{field}: {message}")]
    Field {
        /// Path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The event log could not be opened or read.
    #[error(transparent)]
    Events(#[from] crate::events::log::LogError),
    /// The change would produce a snapshot that `burgee-core` refuses; nothing was stored.
    #[error("{0}")]
    Invalid(LoadError),
    /// A signed envelope of the change would be larger than SDKs accept by default
    /// ([`burgee_core::DEFAULT_MAX_ENVELOPE_BYTES`]); nothing was stored.
    #[error(
        "the {audience} snapshot envelope of {project}/{environment} would be {size} bytes, over \
         the {limit}-byte limit SDKs accept by default; nothing was published (make values, \
         targets or segments smaller, or split the flags across environments or projects)"
    )]
    EnvelopeTooLarge {
        /// Project key.
        project: String,
        /// Environment key.
        environment: String,
        /// Which envelope: `server` or `client` (the client snapshot signed next to it).
        audience: &'static str,
        /// Size of the envelope JSON text, bytes.
        size: usize,
        /// The limit, bytes.
        limit: usize,
    },
    /// The audit chain does not verify.
    #[error(transparent)]
    AuditBroken(ChainBroken),
    /// Stored data is unreadable, or a counter overflowed.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code string (see the module docs).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An HTTP error: a stable code (status follows from it), a message, maybe a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The stable code (see the module docs).
    pub code: &'static str,
    /// Sent to the client.
    pub message: String,
    /// The input field at fault.
    pub field: Option<String>,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }
    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new("UNAUTHORIZED", message)
    }
    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new("FORBIDDEN", message)
    }
    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("NOT_FOUND", message)
    }
    /// 400 `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new("BAD_REQUEST", message)
    }
    /// 400 `BAD_REQUEST` naming a field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new("BAD_REQUEST", message)
        }
    }
    /// 428 `PRECONDITION_REQUIRED`.
    pub fn precondition_required(message: impl Into<String>) -> ApiError {
        ApiError::new("PRECONDITION_REQUIRED", message)
    }
    /// 503 `UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new("UNAVAILABLE", message)
    }
    /// 500 `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new("INTERNAL", message)
    }
    /// An error with any code of the table (used for 405, 413, 415 from the framework).
    pub fn with_code(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(code, message)
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        match self.code {
            "UNAUTHORIZED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "NOT_FOUND" => StatusCode::NOT_FOUND,
            "METHOD_NOT_ALLOWED" => StatusCode::METHOD_NOT_ALLOWED,
            "CONFLICT" => StatusCode::CONFLICT,
            "PRECONDITION_FAILED" => StatusCode::PRECONDITION_FAILED,
            "PAYLOAD_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
            "UNSUPPORTED_MEDIA_TYPE" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PRECONDITION_REQUIRED" => StatusCode::PRECONDITION_REQUIRED,
            "BAD_REQUEST" => StatusCode::BAD_REQUEST,
            "SNAPSHOT_INVALID" => StatusCode::UNPROCESSABLE_ENTITY,
            "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOADED" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(m) => ApiError::new("NOT_FOUND", m),
            StateError::Conflict(m) => ApiError::new("CONFLICT", m),
            StateError::Stale(m) => ApiError::new("PRECONDITION_FAILED", m),
            StateError::Field { field, message } => ApiError {
                field: Some(field.clone()),
                ..ApiError::new("SNAPSHOT_INVALID", format!("{field}: {message}"))
            },
            e @ StateError::EnvelopeTooLarge { .. } => {
                ApiError::new("SNAPSHOT_INVALID", e.to_string())
            }
            StateError::Invalid(load) => {
                let field = match &load {
                    LoadError::Invalid { path, .. } => Some(path.clone()),
                    _ => None,
                };
                ApiError {
                    field,
                    ..ApiError::new("SNAPSHOT_INVALID", load.to_string())
                }
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::internal("internal server error; see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
            field: self.field,
        };
        (status, Json(body)).into_response()
    }
}
