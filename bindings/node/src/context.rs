//! `Context`: an evaluation context built once and reused, and the conversion of a plain
//! JS object into a core context (per call).

use std::sync::Arc;

use burgee_core::{AttributeValue, Context as CoreContext, ErrorCode, EvalError};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::{Code, coded, fast, general, napi_general};

/// An evaluation context handle: build it once, reuse it for many evaluations.
///
/// `new Context({targetingKey: "user-42", country: "DE", age: 31, beta: true,
/// groups: ["staff"]})`. Values are strings, numbers, booleans or lists of strings.
#[napi]
pub struct Context {
    pub(crate) inner: Arc<CoreContext>,
}

#[napi]
impl Context {
    /// Builds a context from a plain object; throws `BurgeeError` `INVALID_CONTEXT` for nulls,
    /// nested objects, non-string list items or a non-string `targetingKey`.
    #[napi(constructor)]
    pub fn new(attributes: Option<Value>) -> Result<Self, Code> {
        let value = attributes.unwrap_or_else(|| Value::Object(Map::new()));
        let inner = CoreContext::from_json(&value).map_err(|e| coded(e.code(), e))?;
        Ok(Context {
            inner: Arc::new(inner),
        })
    }

    /// The handle the fast evaluation functions take (`index.js` passes it).
    #[napi]
    pub fn handle(&self, env: Env) -> Result<fast::Handle, Code> {
        fast::Handle::context(&env, Arc::clone(&self.inner)).map_err(napi_general)
    }

    /// The targeting key, or `null`.
    #[napi(getter)]
    pub fn targeting_key(&self) -> Option<String> {
        self.inner.targeting_key().map(str::to_owned)
    }

    /// The context as a plain object.
    #[napi]
    pub fn to_json(&self) -> Result<Value, Code> {
        serde_json::to_value(&*self.inner).map_err(general)
    }
}

/// A context argument: a reused [`Context`] handle or a plain object (converted per call).
pub(crate) fn with_context<R>(
    env: &Env,
    ctx: Either<&Context, Object>,
    f: impl FnOnce(&CoreContext) -> R,
) -> std::result::Result<R, EvalError> {
    match ctx {
        Either::A(c) => Ok(f(&c.inner)),
        Either::B(obj) => {
            let ctx = object_context(env, &obj)?;
            Ok(f(&ctx))
        }
    }
}

fn invalid_context(message: String) -> EvalError {
    EvalError {
        code: ErrorCode::InvalidContext,
        message,
    }
}

/// Reads a plain JS object into a core context (the rules of `Context::from_json`).
fn object_context(env: &Env, obj: &Object) -> std::result::Result<CoreContext, EvalError> {
    let names = obj
        .get_property_names()
        .map_err(|e| invalid_context(e.to_string()))?;
    let len = names
        .get_array_length()
        .map_err(|e| invalid_context(e.to_string()))?;
    let mut ctx = CoreContext::anonymous();
    for i in 0..len {
        let name: String = names
            .get_element(i)
            .map_err(|e| invalid_context(e.to_string()))?;
        let value: Unknown = obj
            .get_named_property(&name)
            .map_err(|e| invalid_context(e.to_string()))?;
        let attr = match value
            .get_type()
            .map_err(|e| invalid_context(e.to_string()))?
        {
            ValueType::String => {
                let s: String = value
                    .coerce_to_string()
                    .and_then(|s| s.into_utf8())
                    .and_then(|s| s.into_owned())
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::String(s.into_boxed_str())
            }
            ValueType::Number => {
                let n = value
                    .coerce_to_number()
                    .and_then(|n| n.get_double())
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::Number(n)
            }
            ValueType::Boolean => {
                let b = value
                    .coerce_to_bool()
                    .map_err(|e| invalid_context(e.to_string()))?;
                AttributeValue::Bool(b)
            }
            ValueType::Undefined => continue,
            _ => {
                // Lists and everything else go through the JSON rules (and their messages).
                let v: Value = value_json(env, value)?;
                let mut one = Map::new();
                one.insert(name.clone(), v);
                let parsed = CoreContext::from_json(&Value::Object(one))
                    .map_err(|e| invalid_context(e.to_string()))?;
                match parsed.get(&name) {
                    Some(v) => v.clone(),
                    None => continue,
                }
            }
        };
        ctx.set(&name, attr);
    }
    if ctx.get(burgee_core::TARGETING_KEY).is_some() {
        return Err(invalid_context(format!(
            "\"{}\" must be a string",
            burgee_core::TARGETING_KEY
        )));
    }
    Ok(ctx)
}

fn value_json(env: &Env, value: Unknown) -> std::result::Result<Value, EvalError> {
    env.from_js_value::<Value, _>(value)
        .map_err(|e| invalid_context(format!("context attribute: {e}")))
}
