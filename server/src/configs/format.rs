//! Parsing an entry's raw text in its format, and checking the parsed value against the
//! entry's JSON Schema. Every refusal names where: the line and column of a parse error, the
//! JSON pointer of a schema violation.
//!
//! Parsers: `serde_json` (JSON, RFC 8259), `serde_yaml_ng` (YAML), `toml` (TOML 1.0/1.1),
//! `java-properties` (Java `.properties`, parsed to an object of strings), and text as is.

use serde_json::Value;

use crate::configs::Format;

/// The largest raw text of one value (an entry's or an override's): 1 MiB. Larger → 413.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// Over [`MAX_VALUE_BYTES`] (bytes found).
    TooLarge(usize),
    /// Does not parse: the message names the line and column (1-based) when the parser knows
    /// them.
    Parse(String),
    /// Breaks the schema: `(JSON pointer into the value, message)`.
    Schema(String, String),
    /// The schema itself is not a valid JSON Schema.
    BadSchema(String),
}

/// Parses `raw` in `format` to its JSON value.
///
/// # Errors
/// [`ValueError::TooLarge`] over 1 MiB, [`ValueError::Parse`] naming line and column.
pub fn parse(format: Format, raw: &str) -> Result<Value, ValueError> {
    if raw.len() > MAX_VALUE_BYTES {
        return Err(ValueError::TooLarge(raw.len()));
    }
    match format {
        Format::Json => serde_json::from_str(raw).map_err(|e| {
            ValueError::Parse(format!(
                "not valid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        }),
        Format::Yaml => serde_yaml_ng::from_str::<Value>(raw).map_err(|e| {
            let at = e.location().map_or_else(String::new, |l| {
                format!(" at line {}, column {}", l.line(), l.column())
            });
            ValueError::Parse(format!("not valid YAML{at}: {e}"))
        }),
        Format::Toml => toml::from_str::<Value>(raw).map_err(|e| {
            let at = e.span().map_or_else(String::new, |span| {
                let (line, column) = line_column(raw, span.start);
                format!(" at line {line}, column {column}")
            });
            ValueError::Parse(format!("not valid TOML{at}: {}", e.message()))
        }),
        Format::Properties => java_properties::read(raw.as_bytes())
            .map(|map| {
                let sorted: std::collections::BTreeMap<String, String> = map.into_iter().collect();
                Value::Object(
                    sorted
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            })
            .map_err(|e| {
                let at = e
                    .line_number()
                    .map_or_else(String::new, |l| format!(" at line {l}, column 1"));
                ValueError::Parse(format!("not valid properties{at}: {e}"))
            }),
        Format::Text => Ok(Value::String(raw.to_owned())),
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Checks `value` against the JSON Schema `schema` (the draft the schema declares, 2020-12 by
/// default).
///
/// # Errors
/// [`ValueError::BadSchema`] if `schema` is not a schema; [`ValueError::Schema`] with the JSON
/// pointer of the first violation.
pub fn check_schema(schema: &Value, value: &Value) -> Result<(), ValueError> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| ValueError::BadSchema(e.to_string()))?;
    match validator.iter_errors(value).next() {
        None => Ok(()),
        Some(e) => {
            let pointer = e.instance_path().to_string();
            Err(ValueError::Schema(
                if pointer.is_empty() {
                    "/".into()
                } else {
                    pointer
                },
                e.to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Format, ValueError, check_schema, parse};

    #[test]
    fn every_format_parses_to_json() {
        assert_eq!(
            parse(Format::Json, r#"{"a": [1, 2]}"#),
            Ok(json!({"a": [1, 2]}))
        );
        assert_eq!(
            parse(Format::Yaml, "a:\n  - 1\n  - x\n"),
            Ok(json!({"a": [1, "x"]}))
        );
        assert_eq!(
            parse(Format::Toml, "[db]\npool = 5\nname = \"x\"\n"),
            Ok(json!({"db": {"pool": 5, "name": "x"}}))
        );
        assert_eq!(
            parse(Format::Properties, "b=2\na = one\n# c\n"),
            Ok(json!({"a": "one", "b": "2"}))
        );
        assert_eq!(parse(Format::Text, "hello\n"), Ok(json!("hello\n")));
    }

    #[test]
    fn parse_errors_name_line_and_column() {
        let msg = |f, raw| match parse(f, raw) {
            Err(ValueError::Parse(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(msg(Format::Json, "{\n  \"a\": ,\n}").contains("line 2, column 8"));
        assert!(msg(Format::Yaml, "a: 1\nb: [1,\n").contains("line "));
        assert!(msg(Format::Toml, "a = 1\nb = = 2\n").contains("line 2, column"));
        assert!(matches!(
            parse(Format::Text, &"x".repeat(super::MAX_VALUE_BYTES + 1)),
            Err(ValueError::TooLarge(_))
        ));
    }

    #[test]
    fn schema_violation_names_the_pointer() {
        let schema =
            json!({"type": "object", "properties": {"pool": {"type": "integer", "maximum": 50}}});
        assert_eq!(check_schema(&schema, &json!({"pool": 10})), Ok(()));
        match check_schema(&schema, &json!({"pool": 99})) {
            Err(ValueError::Schema(pointer, _)) => assert_eq!(pointer, "/pool"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_schema(&json!({"type": 5}), &json!(1)),
            Err(ValueError::BadSchema(_))
        ));
    }
}
