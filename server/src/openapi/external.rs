//! Schemas taken from the specification instead of derived from Rust types: the snapshot
//! model of `spec/snapshot.schema.json` (its types live in the `no_std` core, which knows
//! nothing of OpenAPI) and the event batch of `spec/events.schema.json`.
//!
//! Rust types refer to them through the marker types below (`#[schema(value_type = ...)]`);
//! [`components`] returns their definitions, with every `#/$defs/x` reference of the
//! specification rewritten to the component it became.

use std::borrow::Cow;

use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{RefOr, Type};

const SNAPSHOT_SCHEMA: &str = include_str!("../../../spec/snapshot.schema.json");
const EVENTS_SCHEMA: &str = include_str!("../../../spec/events.schema.json");

macro_rules! external_schemas {
    ($($(#[$meta:meta])* $name:ident,)*) => {$(
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            /// A placeholder; [`components`] supplies the definition from the specification.
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some(concat!("see spec: ", stringify!($name))))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )*};
}

external_schemas! {
    /// A signed snapshot's payload (`spec/snapshot.schema.json`, the whole document).
    Snapshot,
    /// A flag's value type: `boolean`, `string`, `integer`, `float` or `object`.
    SnapshotValueType,
    /// A flag's named variants in order, e.g. `{"on": true, "off": false}`.
    SnapshotVariants,
    /// An individual target: `{variant, keys}` (spec/SNAPSHOT.md §2.2).
    SnapshotTarget,
    /// A prerequisite: `{flag, variants}` (spec/SNAPSHOT.md §2.2).
    SnapshotPrerequisite,
    /// A rule: `{id, when, serve}` (spec/SNAPSHOT.md §2.3).
    SnapshotRule,
    /// What a rule or the default serves: `{variant}` or `{rollout}` (spec/SNAPSHOT.md §2.5).
    SnapshotServe,
    /// A segment: `{key, included?, excluded?, rules?}` (spec/SNAPSHOT.md §2.4).
    SnapshotSegment,
    /// A batch of exposure and track events (`spec/events.schema.json`, spec/EVENTS.md).
    EventBatch,
    /// A DSSE envelope as served (spec/SNAPSHOT.md §5): `payloadType`, the base64 payload (a
    /// [`Snapshot`] as JSON) and Ed25519 signatures with their key ids.
    Envelope,
    /// A DSSE envelope of a config document (spec/CONFIG.md §4): payload type
    /// `application/vnd.burgee.config+json; version=1`.
    ConfigEnvelope,
    /// A DSSE envelope of a catalog document (spec/CATALOG.md §3): payload type
    /// `application/vnd.burgee.catalog+json; version=1`.
    CatalogEnvelope,
}

/// The component schemas of the specification, by the names of the marker types above
/// (plus `Snapshot*` names for the specification's other `$defs`). Rust-side failures to
/// parse the embedded files are impossible by construction (a unit test parses them), so an
/// unreadable file yields no components rather than a panic.
pub fn components() -> Map<String, Value> {
    let mut out = Map::new();
    let Ok(mut snapshot) = serde_json::from_str::<Value>(SNAPSHOT_SCHEMA) else {
        return out;
    };
    rewrite_refs(&mut snapshot, "Snapshot");
    let defs = snapshot
        .as_object_mut()
        .and_then(|o| o.remove("$defs"))
        .unwrap_or_default();
    if let Value::Object(defs) = defs {
        for (name, schema) in defs {
            out.insert(component_name("Snapshot", &name), schema);
        }
    }
    let flag = out.get("SnapshotFlag").cloned().unwrap_or_default();
    let pick = |pointer: &str| flag.pointer(pointer).cloned().unwrap_or(json!({}));
    out.insert("SnapshotValueType".into(), pick("/properties/type"));
    out.insert("SnapshotVariants".into(), pick("/properties/variants"));
    out.insert("SnapshotTarget".into(), pick("/properties/targets/items"));
    out.insert(
        "SnapshotPrerequisite".into(),
        pick("/properties/prerequisites/items"),
    );
    out.insert("SnapshotRule".into(), pick("/properties/rules/items"));
    if let Value::Object(root) = &mut snapshot {
        root.remove("$schema");
        root.remove("$id");
    }
    out.insert("Snapshot".into(), snapshot);

    out.insert(
        "Envelope".into(),
        json!({
            "type": "object",
            "description": "A DSSE envelope (spec/SNAPSHOT.md §5); the payload, base64, is a Snapshot as JSON",
            "required": ["payloadType", "payload", "signatures"],
            "additionalProperties": false,
            "properties": {
                "payloadType": {"const": burgee_core::SNAPSHOT_PAYLOAD_TYPE},
                "payload": {"type": "string", "contentEncoding": "base64",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": "#/components/schemas/Snapshot"}},
                "signatures": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["keyid", "sig"], "additionalProperties": false,
                    "properties": {"keyid": {"type": "string"}, "sig": {"type": "string", "contentEncoding": "base64"}}}}
            }
        }),
    );
    for (name, doc, payload_type) in [
        (
            "ConfigEnvelope",
            "a config document (spec/CONFIG.md §4)",
            burgee_core::CONFIG_PAYLOAD_TYPE,
        ),
        (
            "CatalogEnvelope",
            "a catalog document (spec/CATALOG.md §3)",
            burgee_core::CATALOG_PAYLOAD_TYPE,
        ),
    ] {
        out.insert(
            name.into(),
            json!({
                "type": "object",
                "description": format!("A DSSE envelope of {doc}; the payload, base64, is the document as JSON"),
                "required": ["payloadType", "payload", "signatures"],
                "additionalProperties": false,
                "properties": {
                    "payloadType": {"const": payload_type},
                    "payload": {"type": "string", "contentEncoding": "base64",
                        "contentMediaType": "application/json"},
                    "signatures": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["keyid", "sig"], "additionalProperties": false,
                        "properties": {"keyid": {"type": "string"}, "sig": {"type": "string", "contentEncoding": "base64"}}}}
                }
            }),
        );
    }
    if let Ok(mut events) = serde_json::from_str::<Value>(EVENTS_SCHEMA) {
        rewrite_refs(&mut events, "EventBatch");
        if let Value::Object(root) = &mut events {
            if let Some(Value::Object(defs)) = root.remove("$defs") {
                for (name, schema) in defs {
                    out.insert(component_name("EventBatch", &name), schema);
                }
            }
            root.remove("$schema");
            root.remove("$id");
        }
        out.insert("EventBatch".into(), events);
    }
    out
}

/// `flag` under prefix `Snapshot` → `SnapshotFlag`.
fn component_name(prefix: &str, def: &str) -> String {
    let mut name = String::from(prefix);
    for part in def.split(['_', '-']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// Rewrites every `{"$ref": "#/$defs/x"}` below `value` to the component `prefix` + `X`.
fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(def) = target.strip_prefix("#/$defs/")
            {
                *target = format!("#/components/schemas/{}", component_name(prefix, def));
            }
            map.values_mut().for_each(|v| rewrite_refs(v, prefix));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, prefix)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_schemas_become_components_with_rewritten_refs() {
        let c = components();
        for name in [
            "Snapshot",
            "SnapshotFlag",
            "SnapshotSegment",
            "SnapshotCondition",
            "SnapshotServe",
            "SnapshotRule",
            "SnapshotTarget",
            "SnapshotPrerequisite",
            "SnapshotValueType",
            "SnapshotVariants",
            "EventBatch",
            "Envelope",
            "ConfigEnvelope",
        ] {
            assert!(c.contains_key(name), "{name} missing");
        }
        let text = Value::Object(c).to_string();
        assert!(!text.contains("#/$defs/"), "unrewritten reference");
        assert!(text.contains("#/components/schemas/SnapshotCondition"));
    }
}
