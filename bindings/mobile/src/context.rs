//! Evaluation contexts: built once on the app side, reused for many evaluations.

use std::collections::HashMap;
use std::sync::Arc;

use burgee_core::{AttributeValue as CoreAttribute, Context as CoreContext, ErrorCode};

use crate::BurgeeError;

/// A context attribute value: Kotlin `AttributeValue.String("DE")`, Swift
/// `.string(value: "DE")`.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum AttributeValue {
    /// A string (also matched by the semver and date operators).
    String {
        /// The string.
        value: String,
    },
    /// A number (finite; integers are compared as numbers too).
    Number {
        /// The number.
        value: f64,
    },
    /// A boolean.
    Boolean {
        /// The boolean.
        value: bool,
    },
    /// A list of strings (groups, roles): string operators match if any element matches.
    StringList {
        /// The strings.
        values: Vec<String>,
    },
}

/// Who a flag is evaluated for: an optional targeting key (the unit rollouts bucket by, e.g. a
/// user or device id) and attributes that rules match on. Immutable; build it once and reuse
/// it (the attributes are hashed once, here).
#[derive(Debug, uniffi::Object)]
pub struct EvaluationContext {
    pub(crate) inner: CoreContext,
}

fn invalid(detail: impl std::fmt::Display) -> BurgeeError {
    BurgeeError::new(ErrorCode::InvalidContext, detail)
}

#[uniffi::export]
impl EvaluationContext {
    /// A context with `targetingKey` (`null`/`nil` = anonymous: rollouts by targeting key then
    /// report `TARGETING_KEY_MISSING`) and `attributes`.
    ///
    /// # Errors
    /// `INVALID_CONTEXT` naming the attribute: a `targetingKey` attribute (pass it as the
    /// first argument), or a number that is NaN or infinite.
    #[uniffi::constructor(default(attributes))]
    pub fn new(
        targeting_key: Option<String>,
        attributes: HashMap<String, AttributeValue>,
    ) -> Result<Arc<Self>, BurgeeError> {
        let mut ctx = match targeting_key {
            Some(k) => CoreContext::new(k),
            None => CoreContext::anonymous(),
        };
        for (name, value) in attributes {
            if name == burgee_core::TARGETING_KEY {
                return Err(invalid(format!(
                    "attribute \"{name}\": pass the targeting key as targetingKey, not as an attribute"
                )));
            }
            let value = match value {
                AttributeValue::String { value } => CoreAttribute::String(value.into()),
                AttributeValue::Number { value } if value.is_finite() => {
                    CoreAttribute::Number(value)
                }
                AttributeValue::Number { value } => {
                    return Err(invalid(format!(
                        "attribute \"{name}\": {value} is not a finite number"
                    )));
                }
                AttributeValue::Boolean { value } => CoreAttribute::Bool(value),
                AttributeValue::StringList { values } => {
                    CoreAttribute::List(values.into_iter().map(String::into_boxed_str).collect())
                }
            };
            ctx.set(&name, value);
        }
        Ok(Arc::new(EvaluationContext { inner: ctx }))
    }

    /// A context from a JSON object: `{"targetingKey": "user-42", "country": "DE", "age": 31,
    /// "beta": true, "groups": ["staff"]}` (the rules of every Burgee SDK).
    ///
    /// # Errors
    /// `INVALID_CONTEXT` naming what is wrong: not JSON, not an object, a non-string
    /// `targetingKey`, a null, a nested object or a list with a non-string item.
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, BurgeeError> {
        let inner = CoreContext::from_json_str(&json).map_err(invalid)?;
        Ok(Arc::new(EvaluationContext { inner }))
    }

    /// The targeting key, or `null`/`nil` for an anonymous context.
    pub fn targeting_key(&self) -> Option<String> {
        self.inner.targeting_key().map(str::to_owned)
    }

    /// The context as a JSON object (targeting key and attributes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.inner).unwrap_or_else(|_| "{}".to_owned())
    }
}
