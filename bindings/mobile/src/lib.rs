//! # burgee-mobile
//!
//! The Rust half of Burgee's mobile SDKs: a [uniffi](https://mozilla.github.io/uniffi-rs/)
//! library from which the Kotlin (Android, JVM) and Swift (iOS) bindings are generated. It
//! converts Kotlin/Swift values to `burgee-core` / `burgee-client` types and back, and stable
//! error codes to one exception (Kotlin) / error case (Swift) per code. It must hold no
//! evaluation, verification, sync or event logic: that lives in `burgee-core` and
//! `burgee-client`, once for every language.
//!
//! ```text
//!  app ──► BurgeeClient(config)  ──► burgee_client::Client (offline: persisted file + bundled envelope,
//!            │ start() / stop()       both re-verified by the core) ──► background SSE / polling
//!            │                         and events threads while started
//!            │                         └─► <storageDir>/burgee-<environment>.envelope.json
//!            ├─ get*Value / get*Details(flagKey, default, EvaluationContext) ──► burgee_core typed getters
//!            └─ ClientListener.onStatus / onChange  ◄── burgee_client::ClientEvent (sync thread)
//!  tests ──► Snapshot.load / fromJson + evaluate(…, nowMs) ──► burgee_core (explicit time)
//! ```
//!
//! Offline first: a client built with [`ClientConfig`] evaluates at once from the snapshot it
//! persisted on an earlier run (re-verified: signature, environment, expiry) or from the
//! envelope bundled with the app, whichever is newer; no network is needed until
//! [`BurgeeClient::start`]. Times are ms since the Unix epoch. Evaluation never throws:
//! flag-level problems come back as `errorCode` in the details with the caller's default.
//! Only bad configuration, bad contexts and refused snapshots throw [`BurgeeError`].
//!
//! Names follow each platform: `getBooleanValue` / `getBooleanDetails` in both, Kotlin's
//! `BurgeeException.SignatureInvalid` and `ErrorCode.SIGNATURE_INVALID`, Swift's
//! `BurgeeError.SignatureInvalid` and `ErrorCode.signatureInvalid`.

mod client;
mod config;
mod context;
mod details;
mod snapshot;

pub use client::{BurgeeClient, ClientListener, ClientStatus, EventStats, SyncStatus};
pub use config::{ClientConfig, ClientDefaults, defaults, persisted_snapshot_path};
pub use context::{AttributeValue, EvaluationContext};
pub use details::{
    BooleanDetails, DoubleDetails, EvaluationDetails, FlagValue, IntegerDetails, ObjectDetails,
    ScalarValue, StringDetails,
};
pub use snapshot::{LoadOptions, Snapshot, SnapshotInfo};

use burgee_core::{Audience, ErrorCode, Reason};

uniffi::setup_scaffolding!();

/// Stable error codes (OpenFeature's names plus Burgee's snapshot codes), the same strings in
/// every SDK and the server: Kotlin `ErrorCode.FLAG_NOT_FOUND`, Swift `.flagNotFound`;
/// [`error_code_name`] gives the string.
#[uniffi::remote(Enum)]
pub enum ErrorCode {
    /// `PARSE_ERROR`: envelope, snapshot, context or trusted key bytes are not valid
    /// JSON / base64 / key material.
    ParseError,
    /// `SNAPSHOT_TOO_LARGE`: the envelope exceeds the size limit (checked before parsing).
    SnapshotTooLarge,
    /// `SIGNATURE_INVALID`: a trusted key's signature does not verify over the envelope.
    SignatureInvalid,
    /// `KEY_UNTRUSTED`: no signature by a trusted key.
    KeyUntrusted,
    /// `PAYLOAD_TYPE_MISMATCH`: the signed payload is not a Burgee snapshot.
    PayloadTypeMismatch,
    /// `PROJECT_MISMATCH`: the snapshot is for another project than the one configured.
    ProjectMismatch,
    /// `ENVIRONMENT_MISMATCH`: the snapshot is for another environment.
    EnvironmentMismatch,
    /// `AUDIENCE_MISMATCH`: a server snapshot where client snapshots are read (client-side
    /// keys), or the reverse.
    AudienceMismatch,
    /// `SERVICE_MISMATCH`: a config document of another service than the one configured.
    ServiceMismatch,
    /// `SNAPSHOT_ROLLBACK`: older than the snapshot held (or the minimum version), or the same
    /// version with other content.
    SnapshotRollback,
    /// `SNAPSHOT_EXPIRED`: the snapshot's expiry has passed.
    SnapshotExpired,
    /// `SNAPSHOT_INVALID`: the snapshot parses but breaks a rule (the message names where).
    SnapshotInvalid,
    /// `FLAG_NOT_FOUND`: the flag key is not in the snapshot.
    FlagNotFound,
    /// `TYPE_MISMATCH`: the flag's type (or the default's) differs from the getter's.
    TypeMismatch,
    /// `TARGETING_KEY_MISSING`: a rollout needs a targeting key and the context has none.
    TargetingKeyMissing,
    /// `INVALID_CONTEXT`: the context is malformed or lacks a rollout's bucketing attribute.
    InvalidContext,
    /// `GENERAL`: anything else (bad configuration, no snapshot loaded yet, ...).
    General,
}

/// Who a snapshot is for (`spec/SNAPSHOT.md` §9): Kotlin `Audience.CLIENT`, Swift `.client`.
/// Server-side code reads `SERVER` snapshots; apps (client-side keys, `bgc_...`) `CLIENT`
/// snapshots, which hold only client-visible flags.
#[uniffi::remote(Enum)]
pub enum Audience {
    /// `server`: every flag, raw targeting data.
    Server,
    /// `client`: only client-visible flags; targeting keys and sensitive values as digests.
    Client,
}

/// Why a value was served (OpenFeature reasons): Kotlin `Reason.TARGETING_MATCH`, Swift
/// `.targetingMatch`; [`reason_name`] gives the string.
#[uniffi::remote(Enum)]
pub enum Reason {
    /// `STATIC`: the flag has no targeting; its default variant is served.
    Static,
    /// `DEFAULT`: targeting exists but nothing matched; the default serve was one variant.
    Default,
    /// `TARGETING_MATCH`: an individual target or a rule serving one variant matched.
    TargetingMatch,
    /// `SPLIT`: a rollout picked the variant by bucket.
    Split,
    /// `DISABLED`: the flag is off; its off variant is served.
    Disabled,
    /// `PREREQUISITE_FAILED`: a prerequisite did not hold; the off variant is served.
    PrerequisiteFailed,
    /// `ERROR`: evaluation failed (see the error code); the caller's default is served.
    Error,
}

/// A Burgee error: one case per stable code (Kotlin: `BurgeeException.SignatureInvalid`, a
/// subclass of `BurgeeException`; Swift: `BurgeeError.SignatureInvalid(detail:)`), `detail`
/// saying what is wrong; `code()` gives the [`ErrorCode`] and `toString()` /
/// `description` `"<CODE>: <detail>"`.
///
/// Thrown for bad configuration (`GENERAL`, `PARSE_ERROR` for a trusted key), bad contexts
/// (`INVALID_CONTEXT`) and refused snapshots (the code of the first failing check). Never
/// thrown by evaluation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum BurgeeError {
    /// `PARSE_ERROR`.
    #[error("PARSE_ERROR: {detail}")]
    ParseError {
        /// What is wrong.
        detail: String,
    },
    /// `SNAPSHOT_TOO_LARGE`.
    #[error("SNAPSHOT_TOO_LARGE: {detail}")]
    SnapshotTooLarge {
        /// What is wrong.
        detail: String,
    },
    /// `SIGNATURE_INVALID`.
    #[error("SIGNATURE_INVALID: {detail}")]
    SignatureInvalid {
        /// What is wrong.
        detail: String,
    },
    /// `KEY_UNTRUSTED`.
    #[error("KEY_UNTRUSTED: {detail}")]
    KeyUntrusted {
        /// What is wrong.
        detail: String,
    },
    /// `PAYLOAD_TYPE_MISMATCH`.
    #[error("PAYLOAD_TYPE_MISMATCH: {detail}")]
    PayloadTypeMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `PROJECT_MISMATCH`.
    #[error("PROJECT_MISMATCH: {detail}")]
    ProjectMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `ENVIRONMENT_MISMATCH`.
    #[error("ENVIRONMENT_MISMATCH: {detail}")]
    EnvironmentMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `AUDIENCE_MISMATCH`.
    #[error("AUDIENCE_MISMATCH: {detail}")]
    AudienceMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `SERVICE_MISMATCH`.
    #[error("SERVICE_MISMATCH: {detail}")]
    ServiceMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `SNAPSHOT_ROLLBACK`.
    #[error("SNAPSHOT_ROLLBACK: {detail}")]
    SnapshotRollback {
        /// What is wrong.
        detail: String,
    },
    /// `SNAPSHOT_EXPIRED`.
    #[error("SNAPSHOT_EXPIRED: {detail}")]
    SnapshotExpired {
        /// What is wrong.
        detail: String,
    },
    /// `SNAPSHOT_INVALID`.
    #[error("SNAPSHOT_INVALID: {detail}")]
    SnapshotInvalid {
        /// What is wrong.
        detail: String,
    },
    /// `FLAG_NOT_FOUND`.
    #[error("FLAG_NOT_FOUND: {detail}")]
    FlagNotFound {
        /// What is wrong.
        detail: String,
    },
    /// `TYPE_MISMATCH`.
    #[error("TYPE_MISMATCH: {detail}")]
    TypeMismatch {
        /// What is wrong.
        detail: String,
    },
    /// `TARGETING_KEY_MISSING`.
    #[error("TARGETING_KEY_MISSING: {detail}")]
    TargetingKeyMissing {
        /// What is wrong.
        detail: String,
    },
    /// `INVALID_CONTEXT`.
    #[error("INVALID_CONTEXT: {detail}")]
    InvalidContext {
        /// What is wrong.
        detail: String,
    },
    /// `GENERAL`.
    #[error("GENERAL: {detail}")]
    General {
        /// What is wrong.
        detail: String,
    },
}

impl BurgeeError {
    /// The error of `code` (exhaustive: a new core code does not compile until it has a case).
    pub fn new(code: ErrorCode, detail: impl std::fmt::Display) -> BurgeeError {
        let detail = detail.to_string();
        match code {
            ErrorCode::ParseError => BurgeeError::ParseError { detail },
            ErrorCode::SnapshotTooLarge => BurgeeError::SnapshotTooLarge { detail },
            ErrorCode::SignatureInvalid => BurgeeError::SignatureInvalid { detail },
            ErrorCode::KeyUntrusted => BurgeeError::KeyUntrusted { detail },
            ErrorCode::PayloadTypeMismatch => BurgeeError::PayloadTypeMismatch { detail },
            ErrorCode::ProjectMismatch => BurgeeError::ProjectMismatch { detail },
            ErrorCode::EnvironmentMismatch => BurgeeError::EnvironmentMismatch { detail },
            ErrorCode::AudienceMismatch => BurgeeError::AudienceMismatch { detail },
            ErrorCode::ServiceMismatch => BurgeeError::ServiceMismatch { detail },
            ErrorCode::SnapshotRollback => BurgeeError::SnapshotRollback { detail },
            ErrorCode::SnapshotExpired => BurgeeError::SnapshotExpired { detail },
            ErrorCode::SnapshotInvalid => BurgeeError::SnapshotInvalid { detail },
            ErrorCode::FlagNotFound => BurgeeError::FlagNotFound { detail },
            ErrorCode::TypeMismatch => BurgeeError::TypeMismatch { detail },
            ErrorCode::TargetingKeyMissing => BurgeeError::TargetingKeyMissing { detail },
            ErrorCode::InvalidContext => BurgeeError::InvalidContext { detail },
            ErrorCode::General => BurgeeError::General { detail },
        }
    }

    /// A `GENERAL` error (bad configuration).
    pub(crate) fn general(detail: impl std::fmt::Display) -> BurgeeError {
        BurgeeError::new(ErrorCode::General, detail)
    }
}

#[uniffi::export]
impl BurgeeError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            BurgeeError::ParseError { .. } => ErrorCode::ParseError,
            BurgeeError::SnapshotTooLarge { .. } => ErrorCode::SnapshotTooLarge,
            BurgeeError::SignatureInvalid { .. } => ErrorCode::SignatureInvalid,
            BurgeeError::KeyUntrusted { .. } => ErrorCode::KeyUntrusted,
            BurgeeError::PayloadTypeMismatch { .. } => ErrorCode::PayloadTypeMismatch,
            BurgeeError::ProjectMismatch { .. } => ErrorCode::ProjectMismatch,
            BurgeeError::EnvironmentMismatch { .. } => ErrorCode::EnvironmentMismatch,
            BurgeeError::AudienceMismatch { .. } => ErrorCode::AudienceMismatch,
            BurgeeError::ServiceMismatch { .. } => ErrorCode::ServiceMismatch,
            BurgeeError::SnapshotRollback { .. } => ErrorCode::SnapshotRollback,
            BurgeeError::SnapshotExpired { .. } => ErrorCode::SnapshotExpired,
            BurgeeError::SnapshotInvalid { .. } => ErrorCode::SnapshotInvalid,
            BurgeeError::FlagNotFound { .. } => ErrorCode::FlagNotFound,
            BurgeeError::TypeMismatch { .. } => ErrorCode::TypeMismatch,
            BurgeeError::TargetingKeyMissing { .. } => ErrorCode::TargetingKeyMissing,
            BurgeeError::InvalidContext { .. } => ErrorCode::InvalidContext,
            BurgeeError::General { .. } => ErrorCode::General,
        }
    }
}

/// Every stable error code, in documentation order (for exhaustive mapping tests).
#[uniffi::export]
pub fn error_codes() -> Vec<ErrorCode> {
    ErrorCode::ALL.to_vec()
}

/// The stable string of `code`, e.g. `"FLAG_NOT_FOUND"`.
#[uniffi::export]
pub fn error_code_name(code: ErrorCode) -> String {
    code.as_str().to_owned()
}

/// The OpenFeature error code of `code` (the core's one mapping, the same for every SDK:
/// `GENERAL` for snapshot codes, which never come from an evaluation), e.g.
/// `"FLAG_NOT_FOUND"`.
#[uniffi::export]
pub fn openfeature_error_code(code: ErrorCode) -> String {
    burgee_client::openfeature_error_code(code).to_owned()
}

/// The stable string of `reason`, e.g. `"TARGETING_MATCH"`.
#[uniffi::export]
pub fn reason_name(reason: Reason) -> String {
    reason.as_str().to_owned()
}

/// Throws the [`BurgeeError`] of `code` with `detail`: for hosts that turn a code they were
/// given (e.g. `ClientStatus.errorCode`) into an exception, and for tests of the mapping.
///
/// # Errors
/// Always: the error of `code`.
#[uniffi::export]
pub fn throw_for_code(code: ErrorCode, detail: String) -> Result<(), BurgeeError> {
    Err(BurgeeError::new(code, detail))
}

/// The bucket (0..=9999, basis points of the population) of `value` for the environment
/// `salt` and `seed` (the flag key or a rollout's seed), as `spec/SNAPSHOT.md` §4 pins it.
#[uniffi::export]
pub fn bucket(salt: String, seed: String, value: String) -> u32 {
    burgee_core::bucket(&salt, &seed, &value)
}

/// Milliseconds since the Unix epoch, from the clock the client evaluates with.
#[uniffi::export]
pub fn now_ms() -> u64 {
    burgee_client::now_ms()
}
