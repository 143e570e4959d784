//! Evaluation results (OpenFeature's shape) and their conversion from the core's.

use std::collections::HashMap;

use burgee_client::Resolution;
use burgee_core::{ErrorCode, EvalError, FlagValue as CoreFlagValue, MetadataValue, Reason};
use serde_json::{Map, Value};

/// A string, number or boolean: flag metadata values and `track` event attributes.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ScalarValue {
    /// A string.
    String {
        /// The string.
        value: String,
    },
    /// A number.
    Number {
        /// The number.
        value: f64,
    },
    /// A boolean.
    Boolean {
        /// The boolean.
        value: bool,
    },
}

/// A served value of any flag type (untyped [`crate::Snapshot::evaluate`]).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FlagValue {
    /// A `boolean` flag's value.
    Boolean {
        /// The value.
        value: bool,
    },
    /// A `string` flag's value.
    String {
        /// The value.
        value: String,
    },
    /// An `integer` flag's value (64-bit).
    Integer {
        /// The value.
        value: i64,
    },
    /// A `float` flag's value.
    Double {
        /// The value.
        value: f64,
    },
    /// An `object` flag's value (remote configuration), as JSON object text.
    Object {
        /// JSON object text.
        json: String,
    },
}

fn flag_value(v: &CoreFlagValue) -> FlagValue {
    match v {
        CoreFlagValue::Bool(b) => FlagValue::Boolean { value: *b },
        CoreFlagValue::String(s) => FlagValue::String {
            value: s.to_string(),
        },
        CoreFlagValue::Integer(i) => FlagValue::Integer { value: *i },
        CoreFlagValue::Float(f) => FlagValue::Double { value: *f },
        CoreFlagValue::Object(m) => FlagValue::Object {
            json: object_json(m),
        },
    }
}

pub(crate) fn object_json(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned())
}

fn metadata(m: Vec<(String, MetadataValue)>) -> HashMap<String, ScalarValue> {
    m.into_iter()
        .map(|(k, v)| {
            let v = match v {
                MetadataValue::String(s) => ScalarValue::String {
                    value: s.to_string(),
                },
                MetadataValue::Number(n) => ScalarValue::Number { value: n },
                MetadataValue::Bool(b) => ScalarValue::Boolean { value: b },
            };
            (k, v)
        })
        .collect()
}

/// Untyped evaluation details: the served value of whatever type the flag has.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct EvaluationDetails {
    /// The flag evaluated.
    pub flag_key: String,
    /// The served value; `null`/`nil` when `reason` is `ERROR`.
    pub value: Option<FlagValue>,
    /// The served variant; `null`/`nil` on error.
    pub variant: Option<String>,
    /// Why it was served.
    pub reason: Reason,
    /// Id of the rule that decided, if a rule did.
    pub rule_id: Option<String>,
    /// The error's stable code when `reason` is `ERROR`.
    pub error_code: Option<ErrorCode>,
    /// What went wrong, when `reason` is `ERROR`.
    pub error_message: Option<String>,
    /// The flag's metadata (OpenFeature flag metadata; empty when the flag is unknown).
    pub flag_metadata: HashMap<String, ScalarValue>,
}

/// The record of an untyped evaluation (the core's details made owned as a [`Resolution`]).
pub(crate) fn untyped(r: Resolution<Option<&CoreFlagValue>>) -> EvaluationDetails {
    EvaluationDetails {
        value: r.value.map(flag_value),
        error_code: r.error_code(),
        error_message: r.error.map(|e| e.message),
        flag_key: r.flag_key,
        variant: r.variant,
        reason: r.reason,
        rule_id: r.rule_id,
        flag_metadata: metadata(r.metadata),
    }
}

/// Declares a typed details record and its conversion from a [`Resolution`] (the one details
/// shape of every SDK).
macro_rules! typed_details {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, uniffi::Record)]
        pub struct $name {
            /// The flag evaluated.
            pub flag_key: String,
            /// The served value, or the caller's default when `reason` is `ERROR`.
            pub value: $ty,
            /// The served variant; `null`/`nil` on error.
            pub variant: Option<String>,
            /// Why it was served.
            pub reason: Reason,
            /// Id of the rule that decided, if a rule did.
            pub rule_id: Option<String>,
            /// The error's stable code when `reason` is `ERROR` (`FLAG_NOT_FOUND`,
            /// `TYPE_MISMATCH`, `TARGETING_KEY_MISSING`, `INVALID_CONTEXT`, `GENERAL` when no
            /// snapshot is loaded yet).
            pub error_code: Option<ErrorCode>,
            /// What went wrong, when `reason` is `ERROR`.
            pub error_message: Option<String>,
            /// The flag's metadata (OpenFeature flag metadata; empty when the flag is unknown).
            pub flag_metadata: HashMap<String, ScalarValue>,
        }

        impl From<Resolution<$ty>> for $name {
            fn from(r: Resolution<$ty>) -> $name {
                $name {
                    error_code: r.error_code(),
                    error_message: r.error.map(|e| e.message),
                    flag_key: r.flag_key,
                    value: r.value,
                    variant: r.variant,
                    reason: r.reason,
                    rule_id: r.rule_id,
                    flag_metadata: metadata(r.metadata),
                }
            }
        }
    };
}

typed_details!(
    /// Details of a `boolean` flag evaluation.
    BooleanDetails, bool
);
typed_details!(
    /// Details of a `string` flag evaluation.
    StringDetails, String
);
typed_details!(
    /// Details of an `integer` flag evaluation (64-bit: Kotlin `Long`, Swift `Int64`).
    IntegerDetails, i64
);
typed_details!(
    /// Details of a `float` flag evaluation (Kotlin/Swift `Double`; an `integer` flag is a
    /// `TYPE_MISMATCH`, never silently widened).
    DoubleDetails, f64
);
typed_details!(
    /// Details of an `object` flag evaluation (remote configuration): the value is JSON object
    /// text, for the app's own JSON decoder.
    ObjectDetails, String
);

/// The JSON object of an `object` default given as text; anything else is a `TYPE_MISMATCH`
/// (the flag is then not evaluated).
pub(crate) fn object_default(default: &str) -> Result<Map<String, Value>, EvalError> {
    match serde_json::from_str::<Value>(default) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) | Err(_) => Err(EvalError {
            code: ErrorCode::TypeMismatch,
            message: "the default value must be JSON object text".to_owned(),
        }),
    }
}

/// The record of an `object` evaluation: the served object as JSON text, or on error the
/// caller's own `default` text.
pub(crate) fn object_details(r: Resolution<Map<String, Value>>, default: &str) -> ObjectDetails {
    let text = match r.error {
        Some(_) => default.to_owned(),
        None => object_json(&r.value),
    };
    r.map(|_| text).into()
}

/// Details of an object evaluation that failed before reaching the core.
pub(crate) fn object_error(flag: &str, default: &str, e: EvalError) -> ObjectDetails {
    Resolution::error(flag, default.to_owned(), e).into()
}
