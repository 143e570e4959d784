//! The authoring model as the API reads and writes it (JSON, `snake_case`).
//!
//! A **project** has **environments** (`development`, `staging`, `production` by default) and
//! **flags**. A flag is defined once per project ([`FlagSpec`]: type, variants, description,
//! tags, owner, optional JSON Schema) and has one [`Targeting`] per environment (on/off,
//! targets, prerequisites, rules, default serve). **Segments** belong to one environment.
//! Every publish turns one environment's flags and segments into a
//! [`burgee_core::model::SnapshotDef`].
//!
//! Times are milliseconds since the Unix epoch (UTC). `revision` counts the writes of a
//! resource (1 at creation); the HTTP `ETag` of a resource is `"r<revision>"`, and updates and
//! deletes must send it back in `If-Match`.

use std::collections::BTreeMap;

mod access;
pub use access::{CreatedUser, SessionUser, SignIn, SsoInfo, User, UserInput};

use burgee_core::model::{
    FlagDef, OrderedMap, PrerequisiteDef, RuleDef, SegmentDef, ServeDef, TargetDef, ValueType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::external::{
    SnapshotPrerequisite, SnapshotRule, SnapshotSegment, SnapshotServe, SnapshotTarget,
    SnapshotValueType, SnapshotVariants,
};

/// A project: `GET /v1/projects/{project}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Key (1–64 of `a-z A-Z 0-9 _ -`), unique.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Write counter (ETag `"r<revision>"`).
    pub revision: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last update, ms since epoch.
    pub updated_at: u64,
}

/// Body of `POST /v1/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// Key (1–64 of `a-z A-Z 0-9 _ -`).
    pub key: String,
    /// Display name (default: the key).
    #[serde(default)]
    pub name: Option<String>,
    /// Free text (default empty).
    #[serde(default)]
    pub description: Option<String>,
    /// Environments to create (default: development, staging, production — production
    /// protected).
    #[serde(default)]
    pub environments: Option<Vec<EnvironmentInput>>,
}

/// Body of `PUT /v1/projects/{project}` (needs `If-Match`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// An environment of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    /// Project key.
    pub project: String,
    /// Key (1–64 of `a-z A-Z 0-9 _ -`), unique in the project; the snapshot's `environment`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Writes to flags and segments here need the `publisher` role.
    pub protected: bool,
    /// Bucketing salt (32 hex digits), fixed at creation.
    pub salt: String,
    /// Write counter (ETag `"r<revision>"`).
    pub revision: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last update, ms since epoch.
    pub updated_at: u64,
    /// Latest published snapshot version (0 if none).
    pub latest_version: u64,
}

/// Body of `POST /v1/projects/{project}/environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentInput {
    /// Key (1–64 of `a-z A-Z 0-9 _ -`).
    pub key: String,
    /// Display name (default: the key).
    #[serde(default)]
    pub name: Option<String>,
    /// Default: `true` for `production`, `false` otherwise.
    #[serde(default)]
    pub protected: Option<bool>,
}

/// Body of `PUT /v1/projects/{project}/environments/{env}` (needs `If-Match`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentUpdate {
    /// Display name.
    pub name: String,
    /// Whether writes need the `publisher` role.
    pub protected: bool,
}

/// The project-wide part of a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// Type of every variant value.
    #[serde(rename = "type")]
    #[schema(value_type = SnapshotValueType)]
    pub value_type: ValueType,
    /// Named variants in order, e.g. `{"on": true, "off": false}`.
    #[schema(value_type = SnapshotVariants)]
    pub variants: OrderedMap<Value>,
    /// Free text (published as snapshot metadata `description` when not empty).
    #[serde(default)]
    pub description: String,
    /// Labels for filtering (published as metadata `tags`, comma-separated, when not empty).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Owner, e.g. a team or e-mail (published as metadata `owner` when not empty).
    #[serde(default)]
    pub owner: String,
    /// Optional JSON Schema (draft 2020-12 default) every variant value must satisfy
    /// (remote configuration); checked on every write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Marks a rollout of this flag as an experiment with its metrics
    /// (`GET /v1/projects/{project}/experiments/{flag}/results`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<crate::analysis::experiment::ExperimentSpec>,
    /// Whether the flag is published in each environment's client snapshot (browsers, mobile;
    /// `spec/SNAPSHOT.md` §9). Default `false`: server-only.
    #[serde(default)]
    pub client_visible: bool,
}

/// One flag's targeting in one environment (the per-environment half of a flag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// `false` serves `off_variant` to everyone.
    pub enabled: bool,
    /// Variant served when disabled or a prerequisite fails.
    pub off_variant: String,
    /// Individual targets, checked before rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<SnapshotTarget>)]
    pub targets: Vec<TargetDef>,
    /// Flags that must serve one of the given variants first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<SnapshotPrerequisite>)]
    pub prerequisites: Vec<PrerequisiteDef>,
    /// Rules, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<SnapshotRule>)]
    pub rules: Vec<RuleDef>,
    /// Served when no target or rule matches.
    #[schema(value_type = SnapshotServe)]
    pub default: ServeDef,
}

impl Targeting {
    /// The targeting a new flag gets where none is given: disabled, serving the variant named
    /// `off` if there is one, else the first variant, as both off and default variant.
    pub fn initial(spec: &FlagSpec) -> Targeting {
        let variant = if spec.variants.get("off").is_some() {
            "off".to_owned()
        } else {
            spec.variants
                .0
                .first()
                .map(|(name, _)| name.clone())
                .unwrap_or_default()
        };
        Targeting {
            enabled: false,
            off_variant: variant.clone(),
            targets: Vec::new(),
            prerequisites: Vec::new(),
            rules: Vec::new(),
            default: ServeDef::Variant(variant),
        }
    }

    /// The targeting part of a snapshot flag definition.
    pub fn from_def(def: &FlagDef) -> Targeting {
        Targeting {
            enabled: def.enabled,
            off_variant: def.off_variant.clone(),
            targets: def.targets.clone(),
            prerequisites: def.prerequisites.clone(),
            rules: def.rules.clone(),
            default: def.default.clone(),
        }
    }
}

/// The snapshot form of a flag: spec + one environment's targeting. Metadata gets `owner`,
/// `description` and `tags` (comma-separated), each only when not empty.
pub fn flag_def(key: &str, spec: &FlagSpec, targeting: &Targeting) -> FlagDef {
    let mut metadata = BTreeMap::new();
    if !spec.owner.is_empty() {
        metadata.insert("owner".to_owned(), Value::from(spec.owner.clone()));
    }
    if !spec.description.is_empty() {
        metadata.insert(
            "description".to_owned(),
            Value::from(spec.description.clone()),
        );
    }
    if !spec.tags.is_empty() {
        metadata.insert("tags".to_owned(), Value::from(spec.tags.join(",")));
    }
    FlagDef {
        key: key.to_owned(),
        value_type: spec.value_type,
        variants: spec.variants.clone(),
        enabled: targeting.enabled,
        off_variant: targeting.off_variant.clone(),
        targets: targeting.targets.clone(),
        prerequisites: targeting.prerequisites.clone(),
        rules: targeting.rules.clone(),
        default: targeting.default.clone(),
        metadata,
        client_visible: spec.client_visible,
    }
}

/// Body of `POST /v1/projects/{project}/flags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagInput {
    /// Key (1–128 of `a-z A-Z 0-9 _ - .`), unique in the project.
    pub key: String,
    /// Type of every variant value.
    #[serde(rename = "type")]
    #[schema(value_type = SnapshotValueType)]
    pub value_type: ValueType,
    /// Named variants in order.
    #[schema(value_type = SnapshotVariants)]
    pub variants: OrderedMap<Value>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Owner.
    #[serde(default)]
    pub owner: String,
    /// Optional JSON Schema for the variant values.
    #[serde(default)]
    pub schema: Option<Value>,
    /// Optional experiment definition (see [`FlagSpec::experiment`]).
    #[serde(default)]
    pub experiment: Option<crate::analysis::experiment::ExperimentSpec>,
    /// Published in client snapshots (see [`FlagSpec::client_visible`]).
    #[serde(default)]
    pub client_visible: bool,
    /// Targeting per environment key; environments not listed get [`Targeting::initial`].
    #[serde(default)]
    pub environments: BTreeMap<String, Targeting>,
}

impl FlagInput {
    /// The project-wide part.
    pub fn spec(&self) -> FlagSpec {
        FlagSpec {
            value_type: self.value_type,
            variants: self.variants.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            owner: self.owner.clone(),
            schema: self.schema.clone(),
            experiment: self.experiment.clone(),
            client_visible: self.client_visible,
        }
    }
}

/// One environment's targeting of a flag, with its own revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentTargeting {
    /// The targeting.
    #[serde(flatten)]
    pub targeting: Targeting,
    /// Write counter of this targeting (ETag `"r<revision>"` of
    /// `/v1/projects/{p}/environments/{env}/flags/{key}`).
    pub revision: u64,
    /// Last update, ms since epoch.
    pub updated_at: u64,
}

/// A flag: `GET /v1/projects/{project}/flags/{key}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Flag {
    /// Key.
    pub key: String,
    /// The project-wide definition.
    #[serde(flatten)]
    pub spec: FlagSpec,
    /// Write counter of the project-wide definition (ETag `"r<revision>"`).
    pub revision: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last update of the project-wide definition, ms since epoch.
    pub updated_at: u64,
    /// Targeting per environment key.
    pub environments: BTreeMap<String, EnvironmentTargeting>,
}

/// A segment of one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Segment {
    /// The definition, exactly as published.
    #[serde(flatten)]
    #[schema(value_type = SnapshotSegment)]
    pub definition: SegmentDef,
    /// Write counter (ETag `"r<revision>"`).
    pub revision: u64,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Last update, ms since epoch.
    pub updated_at: u64,
}

/// A published snapshot version: `GET /v1/projects/{p}/environments/{env}/versions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    /// Version (strictly increasing per environment, never reused).
    pub version: u64,
    /// `sha256:<hex>` of the payload (the snapshot's ETag).
    pub digest: String,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// Token id (or `system`/`cli:...`) of whoever caused the publish.
    pub published_by: String,
    /// What caused it, e.g. `flag.update checkout`, `rollback to 7`, `re-sign`.
    pub reason: String,
}

/// Result of one publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name, for a config document (absent for a flag snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The new version.
    pub version: u64,
    /// `sha256:<hex>` of the signed payload.
    pub digest: String,
}

/// The body of every successful write: the resource as stored (absent after a delete) and
/// the snapshot versions the write published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Written<T> {
    /// The resource after the write; `null` after a delete.
    pub item: Option<T>,
    /// Versions published by this write (one per affected environment).
    pub published: Vec<Published>,
}

/// How one flag or segment differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// `flag` or `segment`.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// For `changed`: the top-level fields that differ (e.g. `enabled`, `rules`, `default`).
    pub fields: Vec<String>,
}

/// `GET .../diff?from=A&to=B`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diff {
    /// Older side.
    pub from: u64,
    /// Newer side.
    pub to: u64,
    /// Changes sorted by kind then key.
    pub changes: Vec<Change>,
}

/// Roles of admin API tokens, each including the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read projects, environments, flags, segments, versions and diffs.
    Viewer,
    /// Also write flags and segments in environments that are not protected, and create,
    /// change or delete flags in projects without a protected environment.
    Editor,
    /// Also write in protected environments, create, change or delete project-wide flag
    /// definitions (they reach every environment), and roll back.
    Publisher,
    /// Also manage projects, environments and tokens, and read the audit log.
    Admin,
}

impl Role {
    /// `viewer`, `editor`, `publisher` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }

    /// Parses [`Role::as_str`]'s form.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Editor, Role::Publisher, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Public id (`tok_` + 16 hex digits), used as the actor in the audit log.
    pub id: String,
    /// `admin` (an API token with a role) or `sdk` (an environment's SDK key).
    pub kind: String,
    /// Label.
    pub name: String,
    /// Role of an admin token.
    pub role: Option<Role>,
    /// Project scope; `None` for an admin token valid in every project.
    pub project: Option<String>,
    /// Environment of an SDK key.
    pub environment: Option<String>,
    /// The service an SDK key is scoped to (its config document only; server-side keys also
    /// read its secrets); `None`: not scoped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Creation time, ms since epoch.
    pub created_at: u64,
    /// Who created it.
    pub created_by: String,
    /// Revocation time, ms since epoch; revoked tokens are refused.
    pub revoked_at: Option<u64>,
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// `admin` or `sdk`.
    pub kind: String,
    /// Label.
    #[serde(default)]
    pub name: String,
    /// Role (admin tokens only).
    #[serde(default)]
    pub role: Option<Role>,
    /// Project scope; required for SDK keys; omitted = every project (admin tokens).
    #[serde(default)]
    pub project: Option<String>,
    /// Environment (SDK keys only).
    #[serde(default)]
    pub environment: Option<String>,
    /// Scope an SDK key (kind `sdk` or `client`) to one service of the configuration centre.
    #[serde(default)]
    pub service: Option<String>,
}

/// A newly created token: the secret is shown here once and stored only hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token text for `Authorization: Bearer` (`bga_...` or `bgs_...`).
    pub token: String,
    /// Its listing.
    pub info: TokenInfo,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, ...).
    pub seq: u64,
    /// Time, ms since epoch.
    pub at: u64,
    /// Token id, `cli:<user>` or `system`.
    pub actor: String,
    /// E.g. `flag.create`, `targeting.update`, `segment.delete`, `rollback`, `token.create`.
    pub action: String,
    /// Project, when the action is about one.
    pub project: Option<String>,
    /// Environment, when the action is about one.
    pub environment: Option<String>,
    /// The resource, e.g. `flag:checkout`.
    pub resource: String,
    /// JSON text of the resource before (absent for creations).
    pub before: Option<String>,
    /// JSON text of the resource after (absent for deletions).
    pub after: Option<String>,
    /// `hash` of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) over `prev_hash` and this entry's fields (see [`crate::audit`]).
    pub hash: String,
}
