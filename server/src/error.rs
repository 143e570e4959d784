//! Errors: [`StateError`] inside the server, [`ApiError`] at the HTTP boundary.
//!
//! Every error response is `{"code": "...", "message": "...", "field": "..."}` (`field` only
//! when one input field is at fault: a JSON path such as `variants.big.limit` or a snapshot
//! path such as `flags[checkout].rules[r1].when`). Codes and statuses:
//!
//! [`ApiCode`] lists every code with its status and meaning; `docs/API.md`'s table and the
//! OpenAPI document's `Error.code` enum are checked against it by tests.

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
    /// A refusal with its own API code (e.g. `CONFIG_INVALID` naming a line and column,
    /// `SERVICE_NOT_FOUND`), and the input field at fault when there is one.
    #[error("{message}")]
    Refused {
        /// The API code (and so the status) of the refusal.
        code: ApiCode,
        /// The field at fault (a JSON path or pointer), if any.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Stored data is unreadable, or a counter overflowed.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Every error code the HTTP API answers with: the string, its status and its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiCode {
    /// 401: no `Authorization: Bearer`, unknown or revoked token.
    Unauthorized,
    /// 403: valid token without the role, project or environment needed.
    Forbidden,
    /// 404: unknown project, environment, flag, segment, version, token or route.
    NotFound,
    /// 405: known route, other method.
    MethodNotAllowed,
    /// 409: creating something that exists; rollback across changed variants.
    Conflict,
    /// 412: `If-Match` names an older revision, or is not an ETag of this server.
    PreconditionFailed,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: a body in a content type the route does not read.
    UnsupportedMediaType,
    /// 428: update or delete without `If-Match`.
    PreconditionRequired,
    /// 408: the handler did not answer within the request timeout.
    RequestTimeout,
    /// 400: malformed JSON or query, a body that does not fit the model.
    BadRequest,
    /// 422: the write would produce a snapshot the core refuses, a value breaks the flag's
    /// JSON Schema, or a signed envelope (server or client) over the SDKs' default size limit
    /// ([`burgee_core::DEFAULT_MAX_ENVELOPE_BYTES`], 8 MiB).
    SnapshotInvalid,
    /// 422: a configuration value does not parse in its format (the message names line and
    /// column), breaks its JSON Schema (`field` is the JSON pointer), or an override is
    /// invalid.
    ConfigInvalid,
    /// 404: the project has no such service.
    ServiceNotFound,
    /// 404: the service has no such configuration entry (or revision).
    ConfigNotFound,
    /// 404: the service has no such registered instance (a heartbeat's answer: register
    /// again).
    InstanceNotFound,
    /// 429: the event store is behind, or the caller is over its rate limit or stream cap;
    /// retry after `Retry-After` seconds.
    Overloaded,
    /// 503: the database is unreachable (`/ready`), or the server is at its concurrency or
    /// total stream limit (with `Retry-After`).
    Unavailable,
    /// 503: the event log's disk is full; nothing of the batch was stored (retry after
    /// `Retry-After`; writes resume without a restart once space returns).
    StorageFull,
    /// 500: a server-side failure (logged, never caused by input); also every permission
    /// lookup that fails: access is never granted on an error.
    Internal,
}

impl ApiCode {
    /// Every code, in documentation order.
    pub const ALL: [ApiCode; 20] = [
        ApiCode::Unauthorized,
        ApiCode::Forbidden,
        ApiCode::NotFound,
        ApiCode::MethodNotAllowed,
        ApiCode::Conflict,
        ApiCode::PreconditionFailed,
        ApiCode::PayloadTooLarge,
        ApiCode::UnsupportedMediaType,
        ApiCode::PreconditionRequired,
        ApiCode::RequestTimeout,
        ApiCode::BadRequest,
        ApiCode::SnapshotInvalid,
        ApiCode::ConfigInvalid,
        ApiCode::ServiceNotFound,
        ApiCode::ConfigNotFound,
        ApiCode::InstanceNotFound,
        ApiCode::Overloaded,
        ApiCode::Unavailable,
        ApiCode::StorageFull,
        ApiCode::Internal,
    ];

    /// The stable string, e.g. `NOT_FOUND`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiCode::Unauthorized => "UNAUTHORIZED",
            ApiCode::Forbidden => "FORBIDDEN",
            ApiCode::NotFound => "NOT_FOUND",
            ApiCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiCode::Conflict => "CONFLICT",
            ApiCode::PreconditionFailed => "PRECONDITION_FAILED",
            ApiCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiCode::PreconditionRequired => "PRECONDITION_REQUIRED",
            ApiCode::RequestTimeout => "REQUEST_TIMEOUT",
            ApiCode::BadRequest => "BAD_REQUEST",
            ApiCode::SnapshotInvalid => "SNAPSHOT_INVALID",
            ApiCode::ConfigInvalid => "CONFIG_INVALID",
            ApiCode::ServiceNotFound => "SERVICE_NOT_FOUND",
            ApiCode::ConfigNotFound => "CONFIG_NOT_FOUND",
            ApiCode::InstanceNotFound => "INSTANCE_NOT_FOUND",
            ApiCode::Overloaded => "OVERLOADED",
            ApiCode::Unavailable => "UNAVAILABLE",
            ApiCode::StorageFull => "STORAGE_FULL",
            ApiCode::Internal => "INTERNAL",
        }
    }

    /// The HTTP status it is sent with.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            ApiCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiCode::Forbidden => StatusCode::FORBIDDEN,
            ApiCode::NotFound => StatusCode::NOT_FOUND,
            ApiCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiCode::Conflict => StatusCode::CONFLICT,
            ApiCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiCode::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiCode::BadRequest => StatusCode::BAD_REQUEST,
            ApiCode::SnapshotInvalid | ApiCode::ConfigInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            ApiCode::ServiceNotFound | ApiCode::ConfigNotFound | ApiCode::InstanceNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiCode::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            ApiCode::Unavailable | ApiCode::StorageFull => StatusCode::SERVICE_UNAVAILABLE,
            ApiCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for ApiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The stable code.
    pub code: ApiCode,
    /// Sent to the client.
    pub message: String,
    /// The input field at fault.
    pub field: Option<String>,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: ApiCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }
    /// The same error with `Retry-After: <seconds>`.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }
    /// 401 `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::Unauthorized, message)
    }
    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::Forbidden, message)
    }
    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::NotFound, message)
    }
    /// 400 `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::BadRequest, message)
    }
    /// 400 `BAD_REQUEST` naming a field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(ApiCode::BadRequest, message)
        }
    }
    /// 428 `PRECONDITION_REQUIRED`.
    pub fn precondition_required(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::PreconditionRequired, message)
    }
    /// 503 `UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::Unavailable, message)
    }
    /// 500 `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiCode::Internal, message)
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::NotFound(m) => ApiError::new(ApiCode::NotFound, m),
            StateError::Conflict(m) => ApiError::new(ApiCode::Conflict, m),
            StateError::Stale(m) => ApiError::new(ApiCode::PreconditionFailed, m),
            StateError::Refused {
                code,
                field,
                message,
            } => ApiError {
                field,
                ..ApiError::new(code, message)
            },
            StateError::Field { field, message } => ApiError {
                field: Some(field.clone()),
                ..ApiError::new(ApiCode::SnapshotInvalid, format!("{field}: {message}"))
            },
            e @ StateError::EnvelopeTooLarge { .. } => {
                ApiError::new(ApiCode::SnapshotInvalid, e.to_string())
            }
            StateError::Invalid(load) => {
                let field = match &load {
                    LoadError::Invalid { path, .. } => Some(path.clone()),
                    _ => None,
                };
                ApiError {
                    field,
                    ..ApiError::new(ApiCode::SnapshotInvalid, load.to_string())
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
        let status = self.code.status();
        let body = ErrorBody {
            code: self.code.as_str().to_owned(),
            message: self.message,
            field: self.field,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::ApiCode;

    /// `docs/API.md`'s list of error codes is exactly [`ApiCode::ALL`], with the same statuses.
    #[test]
    fn readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../docs/API.md");
        let start = readme
            .find("with codes\n")
            .unwrap_or_else(|| unreachable!("docs/API.md has no error-code list"));
        let end = start
            + readme[start..]
                .find("(`ApiCode`")
                .unwrap_or_else(|| unreachable!("README's error-code list has no end"));
        let text = readme[start..end].replace('\n', " ");
        let listed: Vec<(String, u16)> = text
            .split(',')
            .filter_map(|item| {
                let (code, status) = item.trim().rsplit_once(' ')?;
                Some((
                    code.trim_matches('`')
                        .trim_start_matches("with codes ")
                        .trim_matches('`')
                        .to_owned(),
                    status.parse().ok()?,
                ))
            })
            .collect();
        let want: Vec<(String, u16)> = ApiCode::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.status().as_u16()))
            .collect();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(listed_sorted, want_sorted, "README lists {listed:?}");
    }
}
