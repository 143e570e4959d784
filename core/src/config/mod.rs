//! Config documents: one service's configuration entries in one environment, signed like a
//! snapshot (`spec/CONFIG.md`).
//!
//! A config document travels in a DSSE envelope whose payload type is
//! [`CONFIG_PAYLOAD_TYPE`]. It is verified by the same path as a flag snapshot
//! ([`crate::verify_envelope`], then the scope and freshness checks shared with
//! [`crate::Snapshot::load`]) plus one check of its own: the service.
//!
//! Each entry carries its raw text (as authored, in its `format`) and the parsed value as
//! JSON, so SDKs need no YAML, TOML or properties parser. An entry may carry **overrides** for a
//! subset of instances (gradual release): each override has an optional condition in the flag
//! condition language, evaluated over the instance's attributes (the targeting key is the
//! instance id), and an optional percentage of instances in basis points (0..=10000), bucketed
//! by instance id exactly like a flag rollout (`spec/SNAPSHOT.md` §4). The first override whose
//! condition matches decides: the instance gets the override's value if its bucket falls in the
//! percentage, otherwise the entry's base value. Internally each entry with overrides compiles
//! to a string flag whose variants are `base` and the override ids, so conditions and bucketing
//! are the flag engine's, not a copy.
//!
//! ```text
//!  envelope ──► verify_envelope(CONFIG_PAYLOAD_TYPE) ──► ConfigDocumentDef ──► project
//!           ──► environment ──► service ──► anti-rollback ──► expiry ──► compile ──► ConfigDocument
//!  ConfigDocument + instance Context + now ──► ConfigDocument::get ──► ConfigValue
//! ```

mod changes;

pub use changes::{ConfigChange, ConfigEntryValue, changes};

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::Snapshot;
use crate::context::Context;
use crate::envelope::verify_envelope;
use crate::error::LoadError;
use crate::model::{
    Audience, Condition, FlagDef, OrderedMap, RolloutDef, RuleDef, SNAPSHOT_FORMAT, ServeDef,
    SnapshotDef, ValueType, WeightDef,
};
use crate::{BUCKETS, Held, LoadOptions, check_freshness, check_scope};

/// The DSSE `payloadType` of a Burgee config document.
pub const CONFIG_PAYLOAD_TYPE: &str = "application/vnd.burgee.config+json; version=1";

/// The config document format this core reads and writes (`format` field).
pub const CONFIG_FORMAT: u32 = 1;

/// The variant name of an entry's base value inside its compiled rules (override ids may not
/// use it).
const BASE: &str = "base";

/// The text format an entry's value is authored in. Only the server parses the raw text; the
/// document carries the parsed value as JSON next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigFormat {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2.
    Yaml,
    /// TOML 1.0.
    Toml,
    /// Java `.properties` (`key=value` lines); parsed to an object of strings.
    Properties,
    /// Plain text; the parsed value is the text as a JSON string.
    Text,
}

impl ConfigFormat {
    /// The format's name as in JSON: `json`, `yaml`, `toml`, `properties`, `text`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigFormat::Json => "json",
            ConfigFormat::Yaml => "yaml",
            ConfigFormat::Toml => "toml",
            ConfigFormat::Properties => "properties",
            ConfigFormat::Text => "text",
        }
    }
}

/// A config document as it travels on the wire (`spec/CONFIG.md` §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocumentDef {
    /// Format version; must equal [`CONFIG_FORMAT`].
    pub format: u32,
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name; checked against the SDK's configured service (`SERVICE_MISMATCH`).
    pub service: String,
    /// Monotonically increasing publish counter of this (environment, service), from 1.
    pub version: u64,
    /// Issue time, ms since the Unix epoch.
    pub issued_at: u64,
    /// Expiry, ms since the Unix epoch; refused at or after it (`SNAPSHOT_EXPIRED`).
    pub expires_at: u64,
    /// The environment's bucketing salt (percentage overrides bucket with it).
    pub salt: String,
    /// Whether secret entries are included (`true` only in the document served to a
    /// server-side key scoped to this service; otherwise secret entries are left out).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub secrets: bool,
    /// Entries, each key unique, sorted by key.
    #[serde(default)]
    pub entries: Vec<ConfigEntryDef>,
}

/// One configuration entry of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigEntryDef {
    /// Entry key, unique in the document.
    pub key: String,
    /// The format `raw` is written in.
    pub format: ConfigFormat,
    /// The value as authored.
    pub raw: String,
    /// `raw` parsed, as JSON (for `json`, exactly `raw` parsed; for `text`, `raw` as a string).
    pub value: Value,
    /// The entry's revision (1 at creation, +1 per write).
    pub revision: u64,
    /// A secret (only in documents with `secrets: true`).
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub secret: bool,
    /// Gradual release: values for a subset of instances, first match decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<ConfigOverrideDef>,
}

/// A value served to the instances an override selects instead of the entry's base value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigOverrideDef {
    /// Override id, unique in the entry, not `base`.
    pub id: String,
    /// Condition over the instance's attributes (absent: every instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Share of the matching instances, by instance id, in basis points (0..=10000; absent:
    /// all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<u32>,
    /// The override's value as authored, in the entry's format.
    pub raw: String,
    /// `raw` parsed, as JSON.
    pub value: Value,
}

/// What a verified config document says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInfo {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name.
    pub service: String,
    /// Publish version.
    pub version: u64,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// Whether secret entries are included.
    pub secrets: bool,
    /// `sha256:<hex>` of the payload, when loaded from an envelope.
    pub digest: Option<String>,
    /// Id of the key whose signature verified, when loaded from an envelope.
    pub keyid: Option<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    def: ConfigEntryDef,
    /// The entry's overrides compiled as one string flag (None without overrides).
    rules: Option<Snapshot>,
}

/// A verified, compiled config document. Immutable; share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct ConfigDocument {
    info: ConfigInfo,
    salt: String,
    entries: BTreeMap<String, Entry>,
}

/// One entry's value for one instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfigValue<'a> {
    /// Entry key.
    pub key: &'a str,
    /// Format of `raw`.
    pub format: ConfigFormat,
    /// The raw text served (the base value's or an override's).
    pub raw: &'a str,
    /// The parsed value served, as JSON.
    pub value: &'a Value,
    /// The entry's revision.
    pub revision: u64,
    /// Whether the entry is a secret.
    pub secret: bool,
    /// The override that served it, if any (`None`: the base value).
    pub override_id: Option<&'a str>,
}

impl ConfigDocument {
    /// Verifies a DSSE envelope and compiles the config document inside: size limit, envelope
    /// parse, trusted signature over PAE, payload type ([`CONFIG_PAYLOAD_TYPE`]), document
    /// parse, project (when set), environment, service, version (anti-rollback against
    /// `opts.held` and `opts.min_version`), expiry, compile. `opts.audience` is not used.
    ///
    /// # Errors
    /// The first failing check as a [`LoadError`]: codes as [`Snapshot::load`], with
    /// `SERVICE_MISMATCH` for a document of another service in place of `AUDIENCE_MISMATCH`.
    pub fn load(
        envelope: &[u8],
        opts: &LoadOptions<'_>,
        service: &str,
    ) -> Result<ConfigDocument, LoadError> {
        let verified = verify_envelope(
            envelope,
            opts.trusted_keys,
            opts.max_envelope_bytes,
            CONFIG_PAYLOAD_TYPE,
        )?;
        let def: ConfigDocumentDef = serde_json::from_slice(&verified.payload)
            .map_err(|e| LoadError::Parse(format!("config document is not valid: {e}")))?;
        check_scope(&def.project, &def.environment, opts)?;
        if def.service != service {
            return Err(LoadError::Service {
                expected: service.into(),
                found: def.service,
            });
        }
        check_freshness(def.version, def.expires_at, &verified.digest, opts)?;
        let mut doc = ConfigDocument::compile(&def, Some(verified.digest))?;
        doc.info.keyid = Some(verified.keyid);
        Ok(doc)
    }

    /// Compiles a document without verifying anything about its envelope (the server checks
    /// what it is about to sign with this).
    ///
    /// # Errors
    /// [`LoadError::Invalid`] naming the field: an unsupported `format`, `expires_at` not after
    /// `issued_at`, an empty or duplicate entry key, a `json` entry whose `value` is not its
    /// `raw` parsed, a `text` entry whose `value` is not its `raw`, a duplicate or `base`
    /// override id, a percentage over 10,000, or an override condition the flag compiler
    /// refuses (at `entries[i].overrides[j].when…`).
    pub fn compile(def: &ConfigDocumentDef, digest: Option<String>) -> Result<Self, LoadError> {
        if def.format != CONFIG_FORMAT {
            return Err(invalid(
                "format",
                format!(
                    "format {} is not supported (this core reads {CONFIG_FORMAT})",
                    def.format
                ),
            ));
        }
        // Checked here too, not only by the flag compiler of entries with overrides.
        if def.expires_at <= def.issued_at {
            return Err(invalid("expires_at", "must be after issued_at".into()));
        }
        let mut entries = BTreeMap::new();
        for (i, e) in def.entries.iter().enumerate() {
            let path = format!("entries[{i}]");
            if e.key.is_empty() {
                return Err(invalid(&path, "key is empty".into()));
            }
            check_value(&path, e.format, &e.raw, &e.value)?;
            let rules = entry_rules(def, e, &path)?;
            if entries
                .insert(
                    e.key.clone(),
                    Entry {
                        def: e.clone(),
                        rules,
                    },
                )
                .is_some()
            {
                return Err(invalid(&path, format!("duplicate key \"{}\"", e.key)));
            }
        }
        Ok(ConfigDocument {
            info: ConfigInfo {
                project: def.project.clone(),
                environment: def.environment.clone(),
                service: def.service.clone(),
                version: def.version,
                issued_at: def.issued_at,
                expires_at: def.expires_at,
                secrets: def.secrets,
                digest,
                keyid: None,
            },
            salt: def.salt.clone(),
            entries,
        })
    }

    /// Version, times, scope, digest and key id.
    pub fn info(&self) -> &ConfigInfo {
        &self.info
    }

    /// The held-document marker for the next [`ConfigDocument::load`]; `None` if it was not
    /// loaded from an envelope.
    pub fn held(&self) -> Option<Held<'_>> {
        self.info.digest.as_deref().map(|digest| Held {
            version: self.info.version,
            digest,
        })
    }

    /// The entry keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The value of entry `key` for the instance described by `instance` (targeting key: the
    /// instance id; attributes such as `host`, `zone`, `version`, `labels`) at `now` (ms since
    /// epoch). An override whose condition cannot be evaluated (e.g. a percentage without an
    /// instance id) serves the base value. `None` if the document has no such entry.
    pub fn get(&self, key: &str, instance: &Context, now: u64) -> Option<ConfigValue<'_>> {
        let entry = self.entries.get(key)?;
        let chosen = entry.rules.as_ref().and_then(|rules| {
            let served = rules.get_string(key, instance, now, BASE);
            let id = served.value;
            entry.def.overrides.iter().find(|o| o.id == id)
        });
        Some(ConfigValue {
            key: &entry.def.key,
            format: entry.def.format,
            raw: chosen.map_or(&entry.def.raw, |o| &o.raw),
            value: chosen.map_or(&entry.def.value, |o| &o.value),
            revision: entry.def.revision,
            secret: entry.def.secret,
            override_id: chosen.map(|o| o.id.as_str()),
        })
    }

    /// Every entry's value for `instance` at `now`, sorted by key.
    pub fn resolve_all(&self, instance: &Context, now: u64) -> Vec<ConfigValue<'_>> {
        self.entries
            .keys()
            .filter_map(|k| self.get(k, instance, now))
            .collect()
    }

    /// The bucketing salt of the document's environment.
    pub fn salt(&self) -> &str {
        &self.salt
    }
}

fn invalid(path: &str, message: String) -> LoadError {
    LoadError::Invalid {
        path: path.to_owned(),
        message,
    }
}

/// `json` and `text` values must be exactly what their raw text says; other formats are
/// parsed by the server, which the signature vouches for.
fn check_value(
    path: &str,
    format: ConfigFormat,
    raw: &str,
    value: &Value,
) -> Result<(), LoadError> {
    let matches = match format {
        ConfigFormat::Json => serde_json::from_str::<Value>(raw).is_ok_and(|v| &v == value),
        ConfigFormat::Text => value.as_str() == Some(raw),
        ConfigFormat::Yaml | ConfigFormat::Toml | ConfigFormat::Properties => true,
    };
    if matches {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("value is not the {} text of raw, parsed", format.as_str()),
        ))
    }
}

/// The entry's overrides as a one-flag snapshot the flag engine evaluates: variants `base` and
/// each override id, one rule per override.
fn entry_rules(
    doc: &ConfigDocumentDef,
    e: &ConfigEntryDef,
    path: &str,
) -> Result<Option<Snapshot>, LoadError> {
    if e.overrides.is_empty() {
        return Ok(None);
    }
    let mut variants = Vec::with_capacity(e.overrides.len() + 1);
    variants.push((BASE.to_owned(), Value::String(BASE.to_owned())));
    let mut rules = Vec::with_capacity(e.overrides.len());
    for (j, o) in e.overrides.iter().enumerate() {
        let opath = format!("{path}.overrides[{j}]");
        if o.id.is_empty() || o.id == BASE {
            return Err(invalid(
                &opath,
                format!("id \"{}\" is empty or reserved", o.id),
            ));
        }
        if variants.iter().any(|(k, _)| *k == o.id) {
            return Err(invalid(&opath, format!("duplicate id \"{}\"", o.id)));
        }
        check_value(&opath, e.format, &o.raw, &o.value)?;
        let serve = match o.percentage {
            None | Some(BUCKETS) => ServeDef::Variant(o.id.clone()),
            Some(p) if p > BUCKETS => {
                return Err(invalid(
                    &opath,
                    format!("percentage {p} is over 10000 basis points"),
                ));
            }
            Some(p) => ServeDef::Rollout(RolloutDef {
                bucket_by: None,
                seed: Some(format!("config/{}/{}/{}", doc.service, e.key, o.id)),
                weights: alloc::vec![
                    WeightDef {
                        variant: o.id.clone(),
                        weight: p,
                    },
                    WeightDef {
                        variant: BASE.to_owned(),
                        weight: BUCKETS - p,
                    },
                ],
            }),
        };
        variants.push((o.id.clone(), Value::String(o.id.clone())));
        rules.push(RuleDef {
            id: o.id.clone(),
            when: o.when.clone().unwrap_or(Condition::All(Vec::new())),
            serve,
        });
    }
    let flag = FlagDef {
        key: e.key.clone(),
        value_type: ValueType::String,
        variants: OrderedMap(variants),
        enabled: true,
        off_variant: BASE.to_owned(),
        targets: Vec::new(),
        prerequisites: Vec::new(),
        rules,
        default: ServeDef::Variant(BASE.to_owned()),
        metadata: BTreeMap::new(),
        client_visible: false,
    };
    let snapshot = SnapshotDef {
        format: SNAPSHOT_FORMAT,
        project: doc.project.clone(),
        environment: doc.environment.clone(),
        version: doc.version,
        issued_at: doc.issued_at,
        expires_at: doc.expires_at,
        salt: doc.salt.clone(),
        audience: Audience::Server,
        flags: alloc::vec![flag],
        segments: Vec::new(),
    };
    Snapshot::compile(&snapshot, None)
        .map(Some)
        .map_err(|err| match err {
            LoadError::Invalid {
                path: inner,
                message,
            } => invalid(&override_path(path, e, &inner), message),
            other => other,
        })
}

/// The document path of an error the flag compiler reported inside an entry's one-flag
/// snapshot: `flags[<key>].rules[<override id>].when…` becomes `entries[i].overrides[j].when…`.
fn override_path(path: &str, e: &ConfigEntryDef, inner: &str) -> String {
    let rules = format!("flags[{}].rules[", e.key);
    inner
        .strip_prefix(rules.as_str())
        .and_then(|rest| {
            e.overrides.iter().enumerate().find_map(|(j, o)| {
                let tail = rest.strip_prefix(o.id.as_str())?.strip_prefix(']')?;
                (tail.is_empty() || tail.starts_with('.'))
                    .then(|| format!("{path}.overrides[{j}]{tail}"))
            })
        })
        .unwrap_or_else(|| format!("{path}.overrides ({inner})"))
}
