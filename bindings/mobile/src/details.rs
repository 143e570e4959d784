//! Evaluation results (OpenFeature's shape) and their conversion from the core's.

use std::collections::HashMap;

use burgee_core::{
    Context as CoreContext, ErrorCode, EvalError, EvaluationDetails as CoreDetails,
    FlagValue as CoreFlagValue, MetadataValue, Reason, Snapshot as CoreSnapshot,
};
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

fn metadata(d: &CoreDetails<'_>) -> HashMap<String, ScalarValue> {
    d.metadata
        .iter()
        .map(|(k, v)| {
            let v = match v {
                MetadataValue::String(s) => ScalarValue::String {
                    value: s.to_string(),
                },
                MetadataValue::Number(n) => ScalarValue::Number { value: *n },
                MetadataValue::Bool(b) => ScalarValue::Boolean { value: *b },
            };
            (k.to_owned(), v)
        })
        .collect()
}

/// The fields every details record has, from the core's details (or an error).
pub(crate) struct Common {
    pub(crate) variant: Option<String>,
    pub(crate) reason: Reason,
    pub(crate) rule_id: Option<String>,
    pub(crate) error_code: Option<ErrorCode>,
    pub(crate) error_message: Option<String>,
    pub(crate) flag_metadata: HashMap<String, ScalarValue>,
}

impl Common {
    pub(crate) fn of(d: &CoreDetails<'_>) -> Common {
        Common {
            variant: d.variant.map(str::to_owned),
            reason: d.reason,
            rule_id: d.rule_id.map(str::to_owned),
            error_code: d.error.as_ref().map(|e| e.code),
            error_message: d.error.as_ref().map(|e| e.message.clone()),
            flag_metadata: metadata(d),
        }
    }

    pub(crate) fn error(e: EvalError) -> Common {
        Common {
            variant: None,
            reason: Reason::Error,
            rule_id: None,
            error_code: Some(e.code),
            error_message: Some(e.message),
            flag_metadata: HashMap::new(),
        }
    }
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

pub(crate) fn untyped(flag: &str, d: &CoreDetails<'_>) -> EvaluationDetails {
    let c = Common::of(d);
    EvaluationDetails {
        flag_key: flag.to_owned(),
        value: d.value.map(flag_value),
        variant: c.variant,
        reason: c.reason,
        rule_id: c.rule_id,
        error_code: c.error_code,
        error_message: c.error_message,
        flag_metadata: c.flag_metadata,
    }
}

/// Declares a typed details record and its evaluation on a core snapshot: the core's typed
/// getter with the caller's default (served on any error).
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

        impl $name {
            pub(crate) fn from_parts(flag: &str, value: $ty, c: Common) -> $name {
                $name {
                    flag_key: flag.to_owned(),
                    value,
                    variant: c.variant,
                    reason: c.reason,
                    rule_id: c.rule_id,
                    error_code: c.error_code,
                    error_message: c.error_message,
                    flag_metadata: c.flag_metadata,
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

/// The typed evaluations shared by [`crate::Snapshot`] (explicit time) and
/// [`crate::BurgeeClient`] (clock, exposures): each returns the value and the common fields,
/// and hands the core's details to `seen` (the client records the exposure there).
pub(crate) fn eval_bool(
    s: &CoreSnapshot,
    flag: &str,
    default: bool,
    ctx: &CoreContext,
    now: u64,
    seen: impl FnOnce(&CoreDetails<'_>),
) -> BooleanDetails {
    let t = s.get_bool(flag, ctx, now, default);
    seen(&t.details);
    BooleanDetails::from_parts(flag, t.value, Common::of(&t.details))
}

/// See [`eval_bool`].
pub(crate) fn eval_string(
    s: &CoreSnapshot,
    flag: &str,
    default: &str,
    ctx: &CoreContext,
    now: u64,
    seen: impl FnOnce(&CoreDetails<'_>),
) -> StringDetails {
    let t = s.get_string(flag, ctx, now, default);
    seen(&t.details);
    StringDetails::from_parts(flag, t.value.to_owned(), Common::of(&t.details))
}

/// See [`eval_bool`].
pub(crate) fn eval_integer(
    s: &CoreSnapshot,
    flag: &str,
    default: i64,
    ctx: &CoreContext,
    now: u64,
    seen: impl FnOnce(&CoreDetails<'_>),
) -> IntegerDetails {
    let t = s.get_integer(flag, ctx, now, default);
    seen(&t.details);
    IntegerDetails::from_parts(flag, t.value, Common::of(&t.details))
}

/// See [`eval_bool`].
pub(crate) fn eval_double(
    s: &CoreSnapshot,
    flag: &str,
    default: f64,
    ctx: &CoreContext,
    now: u64,
    seen: impl FnOnce(&CoreDetails<'_>),
) -> DoubleDetails {
    let t = s.get_float(flag, ctx, now, default);
    seen(&t.details);
    DoubleDetails::from_parts(flag, t.value, Common::of(&t.details))
}

/// See [`eval_bool`]. `default` must be JSON object text; anything else is served back
/// unchanged with `TYPE_MISMATCH` (the flag is not evaluated).
pub(crate) fn eval_object(
    s: &CoreSnapshot,
    flag: &str,
    default: &str,
    ctx: &CoreContext,
    now: u64,
    seen: impl FnOnce(&CoreDetails<'_>),
) -> ObjectDetails {
    let map = match serde_json::from_str::<Value>(default) {
        Ok(Value::Object(m)) => m,
        Ok(_) | Err(_) => {
            return object_error(
                flag,
                default,
                EvalError {
                    code: ErrorCode::TypeMismatch,
                    message: "the default value must be JSON object text".to_owned(),
                },
            );
        }
    };
    let t = s.get_object(flag, ctx, now, &map);
    seen(&t.details);
    // On error the core serves the parsed default: give the caller's own text back.
    let value = if t.details.error.is_some() {
        default.to_owned()
    } else {
        object_json(t.value)
    };
    ObjectDetails::from_parts(flag, value, Common::of(&t.details))
}

/// Details of an object evaluation that failed before reaching the core.
pub(crate) fn object_error(flag: &str, default: &str, e: EvalError) -> ObjectDetails {
    ObjectDetails::from_parts(flag, default.to_owned(), Common::error(e))
}
