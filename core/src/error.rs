//! Errors: precise enums inside Rust, one stable code string at every boundary
//! (`spec/SNAPSHOT.md` §6 lists every code).

use alloc::string::String;

use crate::model::Audience;

/// Every stable error code. Bindings map each one exhaustively; the strings never change.
///
/// Evaluation codes are OpenFeature's (`FLAG_NOT_FOUND`, `TYPE_MISMATCH`,
/// `TARGETING_KEY_MISSING`, `INVALID_CONTEXT`, `GENERAL`); snapshot codes are Burgee's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Envelope or snapshot bytes are not the JSON / base64 they must be.
    ParseError,
    /// The envelope exceeds the configured size limit (checked before parsing).
    SnapshotTooLarge,
    /// A signature by a trusted key does not verify over PAE(payloadType, payload).
    SignatureInvalid,
    /// No signature was made by a trusted key.
    KeyUntrusted,
    /// The (validly signed) payload type is not the snapshot payload type.
    PayloadTypeMismatch,
    /// The snapshot is for another project than the one configured.
    ProjectMismatch,
    /// The snapshot is for another environment than the one configured.
    EnvironmentMismatch,
    /// The snapshot is for another audience (`server` / `client`, `spec/SNAPSHOT.md` §9) than
    /// the SDK reads: a client snapshot offered to a server SDK, or the reverse.
    AudienceMismatch,
    /// A config document of another service than the SDK's.
    ServiceMismatch,
    /// The snapshot's version is lower than the one held (or equal with another digest).
    SnapshotRollback,
    /// The snapshot's `expires_at` is at or before `now`.
    SnapshotExpired,
    /// The snapshot parses but breaks a rule: unknown variant, bad regex, prerequisite cycle, ...
    SnapshotInvalid,
    /// The flag key is not in the snapshot.
    FlagNotFound,
    /// The flag's type differs from the type the caller asked for.
    TypeMismatch,
    /// A rollout buckets by the targeting key and the context has none.
    TargetingKeyMissing,
    /// The context is malformed, or a rollout's bucketing attribute is missing or not a
    /// string/integer.
    InvalidContext,
    /// Anything else.
    General,
}

impl ErrorCode {
    /// Every code, in documentation order (for exhaustive binding tests).
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::ParseError,
        ErrorCode::SnapshotTooLarge,
        ErrorCode::SignatureInvalid,
        ErrorCode::KeyUntrusted,
        ErrorCode::PayloadTypeMismatch,
        ErrorCode::ProjectMismatch,
        ErrorCode::EnvironmentMismatch,
        ErrorCode::AudienceMismatch,
        ErrorCode::ServiceMismatch,
        ErrorCode::SnapshotRollback,
        ErrorCode::SnapshotExpired,
        ErrorCode::SnapshotInvalid,
        ErrorCode::FlagNotFound,
        ErrorCode::TypeMismatch,
        ErrorCode::TargetingKeyMissing,
        ErrorCode::InvalidContext,
        ErrorCode::General,
    ];

    /// The stable `SCREAMING_SNAKE_CASE` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::SnapshotTooLarge => "SNAPSHOT_TOO_LARGE",
            ErrorCode::SignatureInvalid => "SIGNATURE_INVALID",
            ErrorCode::KeyUntrusted => "KEY_UNTRUSTED",
            ErrorCode::PayloadTypeMismatch => "PAYLOAD_TYPE_MISMATCH",
            ErrorCode::ProjectMismatch => "PROJECT_MISMATCH",
            ErrorCode::EnvironmentMismatch => "ENVIRONMENT_MISMATCH",
            ErrorCode::AudienceMismatch => "AUDIENCE_MISMATCH",
            ErrorCode::ServiceMismatch => "SERVICE_MISMATCH",
            ErrorCode::SnapshotRollback => "SNAPSHOT_ROLLBACK",
            ErrorCode::SnapshotExpired => "SNAPSHOT_EXPIRED",
            ErrorCode::SnapshotInvalid => "SNAPSHOT_INVALID",
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            ErrorCode::InvalidContext => "INVALID_CONTEXT",
            ErrorCode::General => "GENERAL",
        }
    }

    /// Parses a code string; `None` for an unknown one.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why an envelope or snapshot was refused. Each variant maps to one [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// `PARSE_ERROR`.
    #[error("{0}")]
    Parse(String),
    /// `SNAPSHOT_TOO_LARGE`.
    #[error("envelope is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Envelope size in bytes.
        size: usize,
        /// Configured limit in bytes.
        limit: usize,
    },
    /// `SIGNATURE_INVALID`.
    #[error("signature by trusted key {keyid} does not verify over the envelope")]
    SignatureInvalid {
        /// The trusted key whose signature failed.
        keyid: String,
    },
    /// `KEY_UNTRUSTED`.
    #[error("no signature by a trusted key (envelope signed by: {keyids})")]
    KeyUntrusted {
        /// Comma-separated key ids found in the envelope.
        keyids: String,
    },
    /// `PAYLOAD_TYPE_MISMATCH`.
    #[error("payload type is \"{found}\", expected \"{expected}\"")]
    PayloadType {
        /// Expected payload type.
        expected: &'static str,
        /// Payload type found.
        found: String,
    },
    /// `PROJECT_MISMATCH`.
    #[error("snapshot is for project \"{found}\", expected \"{expected}\"")]
    Project {
        /// Configured project.
        expected: String,
        /// Project in the snapshot.
        found: String,
    },
    /// `ENVIRONMENT_MISMATCH`.
    #[error("snapshot is for environment \"{found}\", expected \"{expected}\"")]
    Environment {
        /// Configured environment.
        expected: String,
        /// Environment in the snapshot.
        found: String,
    },
    /// `AUDIENCE_MISMATCH`.
    #[error(
        "snapshot is for audience \"{}\", expected \"{}\"",
        found.as_str(),
        expected.as_str()
    )]
    Audience {
        /// The audience the SDK reads.
        expected: Audience,
        /// The snapshot's `audience`.
        found: Audience,
    },
    /// `SERVICE_MISMATCH`: a config document of another service.
    #[error("config document is for service \"{found}\", expected \"{expected}\"")]
    Service {
        /// The service the SDK reads.
        expected: String,
        /// The document's `service`.
        found: String,
    },
    /// `SNAPSHOT_ROLLBACK`.
    #[error("snapshot version {found} is older than the held version {held}")]
    Rollback {
        /// Version held.
        held: u64,
        /// Version offered.
        found: u64,
    },
    /// `SNAPSHOT_ROLLBACK`: below the configured minimum version.
    #[error("snapshot version {found} is below the minimum version {minimum}")]
    BelowMinimum {
        /// `LoadOptions::min_version`.
        minimum: u64,
        /// Version offered.
        found: u64,
    },
    /// `SNAPSHOT_ROLLBACK` (equivocation: same version, different content).
    #[error(
        "snapshot version {version} is already held with digest {held_digest}, offered {found_digest}"
    )]
    Equivocation {
        /// The version both claim.
        version: u64,
        /// Digest held.
        held_digest: String,
        /// Digest offered.
        found_digest: String,
    },
    /// `SNAPSHOT_EXPIRED`.
    #[error("snapshot expired at {expires_at} ms, now is {now} ms")]
    Expired {
        /// `expires_at`, ms since epoch.
        expires_at: u64,
        /// The `now` passed in, ms since epoch.
        now: u64,
    },
    /// `SNAPSHOT_INVALID`: `path` points at the offending field, e.g. `flags[checkout].rules[r1]`.
    #[error("{path}: {message}")]
    Invalid {
        /// Location in the snapshot.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl LoadError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            LoadError::Parse(_) => ErrorCode::ParseError,
            LoadError::TooLarge { .. } => ErrorCode::SnapshotTooLarge,
            LoadError::SignatureInvalid { .. } => ErrorCode::SignatureInvalid,
            LoadError::KeyUntrusted { .. } => ErrorCode::KeyUntrusted,
            LoadError::PayloadType { .. } => ErrorCode::PayloadTypeMismatch,
            LoadError::Project { .. } => ErrorCode::ProjectMismatch,
            LoadError::Environment { .. } => ErrorCode::EnvironmentMismatch,
            LoadError::Audience { .. } => ErrorCode::AudienceMismatch,
            LoadError::Service { .. } => ErrorCode::ServiceMismatch,
            LoadError::Rollback { .. }
            | LoadError::BelowMinimum { .. }
            | LoadError::Equivocation { .. } => ErrorCode::SnapshotRollback,
            LoadError::Expired { .. } => ErrorCode::SnapshotExpired,
            LoadError::Invalid { .. } => ErrorCode::SnapshotInvalid,
        }
    }
}

/// A malformed evaluation context (code `INVALID_CONTEXT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(pub String);

impl ContextError {
    /// Always [`ErrorCode::InvalidContext`].
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidContext
    }
}
