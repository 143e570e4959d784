//! Flag values and flag metadata values.

use alloc::boxed::Box;
use alloc::string::String;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::ValueType;

/// A variant's value, typed by its flag's [`ValueType`].
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    /// `boolean` flag.
    Bool(bool),
    /// `string` flag.
    String(Box<str>),
    /// `integer` flag (`i64`).
    Integer(i64),
    /// `float` flag (`f64`).
    Float(f64),
    /// `object` flag (remote configuration).
    Object(Map<String, Value>),
}

impl FlagValue {
    /// Converts a JSON value to a flag value of type `ty`; `None` if it is not of that type.
    /// A `float` flag accepts integers; an `integer` flag refuses fractions and values outside
    /// `i64`.
    pub fn from_json(ty: ValueType, v: &Value) -> Option<FlagValue> {
        Some(match (ty, v) {
            (ValueType::Boolean, Value::Bool(b)) => FlagValue::Bool(*b),
            (ValueType::String, Value::String(s)) => FlagValue::String(s.as_str().into()),
            (ValueType::Integer, Value::Number(n)) => FlagValue::Integer(n.as_i64()?),
            (ValueType::Float, Value::Number(n)) => FlagValue::Float(n.as_f64()?),
            (ValueType::Object, Value::Object(m)) => FlagValue::Object(m.clone()),
            _ => return None,
        })
    }

    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            FlagValue::Bool(b) => Value::Bool(*b),
            FlagValue::String(s) => Value::String(String::from(&**s)),
            FlagValue::Integer(i) => Value::from(*i),
            FlagValue::Float(f) => Value::from(*f),
            FlagValue::Object(m) => Value::Object(m.clone()),
        }
    }

    /// The type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            FlagValue::Bool(_) => ValueType::Boolean,
            FlagValue::String(_) => ValueType::String,
            FlagValue::Integer(_) => ValueType::Integer,
            FlagValue::Float(_) => ValueType::Float,
            FlagValue::Object(_) => ValueType::Object,
        }
    }
}

impl Serialize for FlagValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FlagValue::Bool(b) => s.serialize_bool(*b),
            FlagValue::String(v) => s.serialize_str(v),
            FlagValue::Integer(i) => s.serialize_i64(*i),
            FlagValue::Float(f) => s.serialize_f64(*f),
            FlagValue::Object(m) => m.serialize(s),
        }
    }
}

/// A flag metadata value (OpenFeature flag metadata: string, number or boolean).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// String.
    String(Box<str>),
    /// Number.
    Number(f64),
    /// Boolean.
    Bool(bool),
}

impl MetadataValue {
    /// From JSON; `None` for null, arrays and objects.
    pub fn from_json(v: &Value) -> Option<MetadataValue> {
        match v {
            Value::String(s) => Some(MetadataValue::String(s.as_str().into())),
            Value::Number(n) => n.as_f64().map(MetadataValue::Number),
            Value::Bool(b) => Some(MetadataValue::Bool(*b)),
            _ => None,
        }
    }
}

impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MetadataValue::String(v) => s.serialize_str(v),
            MetadataValue::Number(n) => s.serialize_f64(*n),
            MetadataValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}
