//! The configuration centre: per-service configuration entries, keyed by (project,
//! environment, service, key), published as one signed config document per (environment,
//! service) (`spec/CONFIG.md`).
//!
//! ```text
//!  API write ─► validate (format parses, schema holds, ≤ 1 MiB) ─► seal secrets ─► row + history
//!      ─► audit (secrets masked) ─► publish_config: document with secrets + one without,
//!         both signed (DSSE, CONFIG_PAYLOAD_TYPE, the environment's key) ─► outbox event
//!      ─► commit ─► SSE streams of (environment, service), outbox sinks woken
//! ```
//!
//! Secrets are sealed at rest ([`secrets`]) in entries, history and stored documents, shown
//! masked by the API and the audit log, and served only inside the document a server-side SDK
//! key scoped to the service reads.

pub mod format;
mod publish;
pub(crate) use publish::{PublishContext, latest_document, publish_config};
pub(crate) use store::{put_service, service_exists};
pub mod secrets;
mod service;
mod store;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use service::{ConfigFilter, WriteMode};

/// What an API listing shows in place of a secret value.
pub const MASK: &str = "********";

/// The format an entry's text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// JSON (RFC 8259); the default.
    #[default]
    Json,
    /// YAML.
    Yaml,
    /// TOML.
    Toml,
    /// Java `.properties`; parsed to an object of strings.
    Properties,
    /// Plain text; parsed to a JSON string.
    Text,
}

impl From<Format> for burgee_core::ConfigFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Json => burgee_core::ConfigFormat::Json,
            Format::Yaml => burgee_core::ConfigFormat::Yaml,
            Format::Toml => burgee_core::ConfigFormat::Toml,
            Format::Properties => burgee_core::ConfigFormat::Properties,
            Format::Text => burgee_core::ConfigFormat::Text,
        }
    }
}

/// Body of `PUT …/services/{service}/configs/{key}` (create or replace an entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigInput {
    /// Format of `value` (default `json`).
    #[serde(default)]
    pub format: Format,
    /// The value as text in `format` (at most 1 MiB).
    pub value: String,
    /// A JSON Schema the parsed value must satisfy (`null`: none).
    #[serde(default)]
    pub schema: Option<Value>,
    /// What the entry is for.
    #[serde(default)]
    pub description: String,
    /// A secret: encrypted at rest, masked in the API and audit log, served only to
    /// server-side SDK keys scoped to the service.
    #[serde(default)]
    pub secret: bool,
    /// Gradual release: values for a subset of instances (first match decides).
    #[serde(default)]
    pub overrides: Vec<OverrideInput>,
}

/// An override of an entry for some instances (`spec/CONFIG.md` §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// Override id, unique in the entry (not `base`).
    pub id: String,
    /// A condition (the flag condition language) over instance attributes: `targetingKey`
    /// (the instance id), `host`, `zone`, `version`, `labels`... Absent: every instance.
    #[serde(default)]
    pub when: Option<Value>,
    /// Share of the matching instances, by instance id, in basis points (0..=10000). Absent:
    /// all of them.
    #[serde(default)]
    pub percentage: Option<u32>,
    /// The value for those instances, as text in the entry's format.
    pub value: String,
}

/// An entry as stored (secret values sealed when persisted) and as history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    pub(crate) format: Format,
    pub(crate) raw: String,
    pub(crate) value: Value,
    #[serde(default)]
    pub(crate) schema: Option<Value>,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) secret: bool,
    #[serde(default)]
    pub(crate) overrides: Vec<StoredOverride>,
}

/// An override as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredOverride {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) when: Option<Value>,
    #[serde(default)]
    pub(crate) percentage: Option<u32>,
    pub(crate) raw: String,
    pub(crate) value: Value,
}

/// A configuration entry as the API shows it. For a secret, `value` and `parsed` (and the
/// overrides' values) are `null`: secrets are write-only through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigEntry {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name.
    pub service: String,
    /// Entry key.
    pub key: String,
    /// Format of `value`.
    pub format: Format,
    /// The value as authored (`null` for a secret).
    pub value: Option<String>,
    /// The value parsed, as JSON (`null` for a secret).
    pub parsed: Option<Value>,
    /// The JSON Schema the value is checked against.
    pub schema: Option<Value>,
    /// What it is for.
    pub description: String,
    /// Whether it is a secret.
    pub secret: bool,
    /// Overrides for some instances.
    pub overrides: Vec<OverrideView>,
    /// Revision of the entry (1 at creation, +1 per write; ETag `"r<revision>"`).
    pub revision: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last write, ms since epoch.
    pub updated_at: u64,
    /// Who wrote it last.
    pub updated_by: String,
}

/// An override as the API shows it (`value`/`parsed` `null` for a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OverrideView {
    /// Override id.
    pub id: String,
    /// The condition over instance attributes.
    pub when: Option<Value>,
    /// Share of matching instances, basis points.
    pub percentage: Option<u32>,
    /// The value as authored.
    pub value: Option<String>,
    /// The value parsed.
    pub parsed: Option<Value>,
}

/// One revision of an entry (`GET …/configs/{key}/history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigRevision {
    /// The entry's revision after this write.
    pub revision: u64,
    /// `create`, `update`, `delete` or `rollback`.
    pub action: String,
    /// When, ms since epoch.
    pub at: u64,
    /// Who.
    pub actor: String,
    /// The entry after the write (`null` after a deletion); secrets masked.
    pub entry: Option<ConfigEntry>,
}

/// `GET …/configs/{key}/diff?from=A&to=B`: a unified diff of the raw text of two revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigDiff {
    /// Entry key.
    pub key: String,
    /// Older revision.
    pub from: u64,
    /// Newer revision.
    pub to: u64,
    /// Whether the parsed values differ.
    pub changed: bool,
    /// Unified diff (`---`/`+++` headers `r<from>`/`r<to>`) of the raw text; a secret's values
    /// are shown as `********`; empty when equal.
    pub diff: String,
}

/// A service of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Service {
    /// Project key.
    pub project: String,
    /// Service name.
    pub key: String,
    /// What it is.
    pub description: String,
    /// Creation time, ms since epoch.
    pub created_at: u64,
}

/// Body of `PUT /v1/projects/{project}/services/{service}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    /// What the service is.
    #[serde(default)]
    pub description: String,
}
