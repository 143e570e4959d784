//! Checks of authoring input that need no database: keys, JSON Schemas, revisions.

use crate::error::StateError;
use crate::model::FlagSpec;

/// Checks a project, environment or token key: 1–64 of `A-Z a-z 0-9 _ -`.
///
/// # Errors
/// [`StateError::Field`] naming `field`.
pub fn check_key(field: &str, key: &str) -> Result<(), StateError> {
    check_name(field, key, 64, false)
}

pub(crate) fn check_name(field: &str, key: &str, max: usize, dots: bool) -> Result<(), StateError> {
    let ok = !key.is_empty()
        && key.len() <= max
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots && c == '.'));
    if ok {
        Ok(())
    } else {
        let extra = if dots { " . " } else { " " };
        Err(StateError::Field {
            field: field.to_owned(),
            message: format!("must be 1-{max} characters of A-Z a-z 0-9 _ -{extra}(got {key:?})"),
        })
    }
}

/// Checks the JSON Schema of a flag spec and every variant value against it.
pub(crate) fn check_schema(spec: &FlagSpec) -> Result<(), StateError> {
    let Some(schema) = &spec.schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| StateError::Field {
        field: "schema".into(),
        message: format!("not a valid JSON Schema: {e}"),
    })?;
    for (name, value) in &spec.variants.0 {
        if let Some(error) = validator.iter_errors(value).next() {
            return Err(StateError::Field {
                field: format!("variants.{name}{}", error.instance_path()),
                message: format!("does not satisfy the flag's schema: {error}"),
            });
        }
    }
    Ok(())
}

pub(crate) fn check_revision(
    what: &str,
    current: u64,
    expected: Option<u64>,
) -> Result<(), StateError> {
    match expected {
        Some(rev) if rev != current => Err(StateError::Stale(format!(
            "{what} is at revision {current} (ETag \"r{current}\"), If-Match named r{rev}"
        ))),
        _ => Ok(()),
    }
}
