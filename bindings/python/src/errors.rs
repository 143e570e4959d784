//! The exception classes, one per stable code, and the mapping of a code to its class.

use burgee_core::ErrorCode;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    BurgeeError,
    PyException,
    "Base class of every Burgee error; `code` is the stable code string."
);
create_exception!(_native, ParseError, BurgeeError, "PARSE_ERROR");
create_exception!(_native, SnapshotTooLarge, BurgeeError, "SNAPSHOT_TOO_LARGE");
create_exception!(_native, SignatureInvalid, BurgeeError, "SIGNATURE_INVALID");
create_exception!(_native, KeyUntrusted, BurgeeError, "KEY_UNTRUSTED");
create_exception!(
    _native,
    PayloadTypeMismatch,
    BurgeeError,
    "PAYLOAD_TYPE_MISMATCH"
);
create_exception!(_native, ProjectMismatch, BurgeeError, "PROJECT_MISMATCH");
create_exception!(
    _native,
    EnvironmentMismatch,
    BurgeeError,
    "ENVIRONMENT_MISMATCH"
);
create_exception!(_native, AudienceMismatch, BurgeeError, "AUDIENCE_MISMATCH");
create_exception!(_native, ServiceMismatch, BurgeeError, "SERVICE_MISMATCH");
create_exception!(_native, SnapshotRollback, BurgeeError, "SNAPSHOT_ROLLBACK");
create_exception!(_native, SnapshotExpired, BurgeeError, "SNAPSHOT_EXPIRED");
create_exception!(_native, SnapshotInvalid, BurgeeError, "SNAPSHOT_INVALID");
create_exception!(_native, FlagNotFound, BurgeeError, "FLAG_NOT_FOUND");
create_exception!(_native, TypeMismatch, BurgeeError, "TYPE_MISMATCH");
create_exception!(
    _native,
    TargetingKeyMissing,
    BurgeeError,
    "TARGETING_KEY_MISSING"
);
create_exception!(_native, InvalidContext, BurgeeError, "INVALID_CONTEXT");
create_exception!(_native, GeneralError, BurgeeError, "GENERAL");

/// The exception of `code` (exhaustive: a new code does not compile until it has a class),
/// with `code` set on the instance.
pub(crate) fn coded(code: ErrorCode, message: impl std::fmt::Display) -> PyErr {
    let message = message.to_string();
    let err = match code {
        ErrorCode::ParseError => ParseError::new_err(message),
        ErrorCode::SnapshotTooLarge => SnapshotTooLarge::new_err(message),
        ErrorCode::SignatureInvalid => SignatureInvalid::new_err(message),
        ErrorCode::KeyUntrusted => KeyUntrusted::new_err(message),
        ErrorCode::PayloadTypeMismatch => PayloadTypeMismatch::new_err(message),
        ErrorCode::ProjectMismatch => ProjectMismatch::new_err(message),
        ErrorCode::EnvironmentMismatch => EnvironmentMismatch::new_err(message),
        ErrorCode::AudienceMismatch => AudienceMismatch::new_err(message),
        ErrorCode::ServiceMismatch => ServiceMismatch::new_err(message),
        ErrorCode::SnapshotRollback => SnapshotRollback::new_err(message),
        ErrorCode::SnapshotExpired => SnapshotExpired::new_err(message),
        ErrorCode::SnapshotInvalid => SnapshotInvalid::new_err(message),
        ErrorCode::FlagNotFound => FlagNotFound::new_err(message),
        ErrorCode::TypeMismatch => TypeMismatch::new_err(message),
        ErrorCode::TargetingKeyMissing => TargetingKeyMissing::new_err(message),
        ErrorCode::InvalidContext => InvalidContext::new_err(message),
        ErrorCode::General => GeneralError::new_err(message),
    };
    Python::attach(|py| {
        let _ = err.value(py).setattr("code", code.as_str());
    });
    err
}

pub(crate) fn general(message: impl std::fmt::Display) -> PyErr {
    coded(ErrorCode::General, message)
}
