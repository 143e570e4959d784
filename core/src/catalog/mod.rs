//! Catalog documents: one environment's healthy service instances, signed like a snapshot
//! (`spec/CATALOG.md`), and the client-side load balancing over them ([`Balancer`]).
//!
//! The server holds registrations and health; it publishes each environment's catalog (every
//! service with its passing or warning instances: address, port, weight, zone, version,
//! metadata) in a DSSE envelope whose payload type is [`CATALOG_PAYLOAD_TYPE`], verified by the
//! same path as a flag snapshot ([`crate::verify_envelope`], then the scope and freshness checks
//! shared with [`crate::Snapshot::load`]). SDKs choose an instance locally; the server never
//! proxies traffic.
//!
//! ```text
//!  envelope ──► verify_envelope(CATALOG_PAYLOAD_TYPE) ──► CatalogDocumentDef ──► project
//!           ──► environment ──► anti-rollback ──► expiry ──► compile ──► CatalogDocument
//!  CatalogDocument + Balancer state + random + now ──► Balancer::choose ──► CatalogInstance
//! ```

mod balance;

pub use balance::{Balancer, BalancerConfig, Choice, Circuit, Outcome, Strategy};

use alloc::borrow::ToOwned;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::envelope::verify_envelope;
use crate::error::LoadError;
use crate::{Held, LoadOptions, check_freshness, check_scope};

/// The DSSE `payloadType` of a Burgee catalog document.
pub const CATALOG_PAYLOAD_TYPE: &str = "application/vnd.burgee.catalog+json; version=1";

/// The catalog document format version this core reads.
pub const CATALOG_FORMAT: u32 = 1;

/// The largest instance weight (weights are 1..=10000; the default is 100).
pub const MAX_WEIGHT: u32 = 10_000;

/// An instance's health as published: only `passing` and `warning` instances are in a catalog
/// (`critical` ones are left out by the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogHealth {
    /// Every check passes.
    Passing,
    /// A check warns; still served, but balancers prefer passing instances in ties.
    Warning,
}

impl CatalogHealth {
    /// `passing` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogHealth::Passing => "passing",
            CatalogHealth::Warning => "warning",
        }
    }
}

/// A catalog document as it travels on the wire (`spec/CATALOG.md` §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDocumentDef {
    /// Format version; must equal [`CATALOG_FORMAT`].
    pub format: u32,
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Monotonically increasing publish counter of this environment's catalog, from 1.
    pub version: u64,
    /// Issue time, ms since the Unix epoch.
    pub issued_at: u64,
    /// Expiry, ms since the Unix epoch; refused at or after it (`SNAPSHOT_EXPIRED`).
    pub expires_at: u64,
    /// Services, names unique, sorted by name.
    #[serde(default)]
    pub services: Vec<CatalogServiceDef>,
}

/// One service and its healthy instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogServiceDef {
    /// Service name, unique in the document, not empty.
    pub name: String,
    /// Instances (passing or warning), ids unique in the service, sorted by id.
    #[serde(default)]
    pub instances: Vec<CatalogInstanceDef>,
}

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogInstanceDef {
    /// Instance id, unique in its service, not empty.
    pub id: String,
    /// URL scheme the instance serves (`http`, `https`, `grpc`…): lowercase ASCII letters,
    /// digits, `+`, `-`, `.`, starting with a letter.
    pub scheme: String,
    /// Host name or IP address literal (IPv6 without brackets; any `:` means IPv6), not
    /// empty, without whitespace or any of `[ ] / @ ? #`.
    pub address: String,
    /// TCP port, 1..=65535.
    pub port: u16,
    /// Relative weight, 1..=[`MAX_WEIGHT`].
    pub weight: u32,
    /// Health when published.
    pub health: CatalogHealth,
    /// Zone (e.g. `eu-west-1a`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The running version (e.g. `2.4.0`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Free-form string metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl CatalogInstanceDef {
    /// `scheme://address:port` (IPv6 addresses in brackets).
    pub fn url(&self) -> String {
        if self.address.contains(':') {
            format!("{}://[{}]:{}", self.scheme, self.address, self.port)
        } else {
            format!("{}://{}:{}", self.scheme, self.address, self.port)
        }
    }
}

/// What a verified catalog says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogInfo {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Publish version.
    pub version: u64,
    /// Issue time, ms since epoch.
    pub issued_at: u64,
    /// Expiry, ms since epoch.
    pub expires_at: u64,
    /// `sha256:<hex>` of the payload, when loaded from an envelope.
    pub digest: Option<String>,
    /// Id of the key whose signature verified, when loaded from an envelope.
    pub keyid: Option<String>,
}

/// A compiled service: its instances in id order and its hash ring.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) instances: Vec<CatalogInstanceDef>,
    /// `(point, instance index)` sorted by point (`spec/CATALOG.md` §4.4).
    pub(crate) ring: Vec<(u64, usize)>,
}

/// A verified, compiled catalog. Immutable; share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct CatalogDocument {
    info: CatalogInfo,
    services: BTreeMap<String, Service>,
}

impl CatalogDocument {
    /// Verifies a DSSE envelope and compiles the catalog inside: size limit, envelope parse,
    /// trusted signature over PAE, payload type ([`CATALOG_PAYLOAD_TYPE`]), document parse,
    /// project (when set), environment, version (anti-rollback against `opts.held` and
    /// `opts.min_version`), expiry, compile. `opts.audience` is not used.
    ///
    /// # Errors
    /// The first failing check as a [`LoadError`]: `SNAPSHOT_TOO_LARGE`, `PARSE_ERROR`,
    /// `KEY_UNTRUSTED`, `SIGNATURE_INVALID`, `PAYLOAD_TYPE_MISMATCH`, `PROJECT_MISMATCH`,
    /// `ENVIRONMENT_MISMATCH`, `SNAPSHOT_ROLLBACK`, `SNAPSHOT_EXPIRED`, `SNAPSHOT_INVALID`.
    pub fn load(envelope: &[u8], opts: &LoadOptions<'_>) -> Result<CatalogDocument, LoadError> {
        let verified = verify_envelope(
            envelope,
            opts.trusted_keys,
            opts.max_envelope_bytes,
            CATALOG_PAYLOAD_TYPE,
        )?;
        let def: CatalogDocumentDef = serde_json::from_slice(&verified.payload)
            .map_err(|e| LoadError::Parse(format!("catalog document is not valid: {e}")))?;
        check_scope(&def.project, &def.environment, opts)?;
        check_freshness(def.version, def.expires_at, &verified.digest, opts)?;
        let mut doc = CatalogDocument::compile(&def, Some(verified.digest))?;
        doc.info.keyid = Some(verified.keyid);
        Ok(doc)
    }

    /// Compiles a document without verifying anything about its envelope (the server checks
    /// what it is about to sign with this).
    ///
    /// # Errors
    /// [`LoadError::Invalid`] naming the field: an unsupported `format`, `expires_at` not after
    /// `issued_at`, an empty or duplicate service name or instance id, an empty address or one
    /// with whitespace, port 0, a weight outside 1..=10000, or a malformed scheme.
    pub fn compile(def: &CatalogDocumentDef, digest: Option<String>) -> Result<Self, LoadError> {
        if def.format != CATALOG_FORMAT {
            return Err(invalid(
                "format",
                format!(
                    "format {} is not supported (this core reads {CATALOG_FORMAT})",
                    def.format
                ),
            ));
        }
        if def.expires_at <= def.issued_at {
            return Err(invalid("expires_at", "must be after issued_at".into()));
        }
        let mut services = BTreeMap::new();
        for (i, s) in def.services.iter().enumerate() {
            let path = format!("services[{i}]");
            if s.name.is_empty() {
                return Err(invalid(&path, "name is empty".into()));
            }
            let mut ids = BTreeSet::new();
            for (j, inst) in s.instances.iter().enumerate() {
                check_instance(&format!("{path}.instances[{j}]"), inst)?;
                if !ids.insert(inst.id.as_str()) {
                    return Err(invalid(
                        &format!("{path}.instances[{j}]"),
                        format!("duplicate instance id \"{}\"", inst.id),
                    ));
                }
            }
            let mut instances = s.instances.clone();
            instances.sort_by(|a, b| a.id.cmp(&b.id));
            let ring = balance::ring(&s.name, &instances);
            if services
                .insert(s.name.clone(), Service { instances, ring })
                .is_some()
            {
                return Err(invalid(&path, format!("duplicate service \"{}\"", s.name)));
            }
        }
        Ok(CatalogDocument {
            info: CatalogInfo {
                project: def.project.clone(),
                environment: def.environment.clone(),
                version: def.version,
                issued_at: def.issued_at,
                expires_at: def.expires_at,
                digest,
                keyid: None,
            },
            services,
        })
    }

    /// Version, times, scope, digest and key id.
    pub fn info(&self) -> &CatalogInfo {
        &self.info
    }

    /// The held-document marker for the next [`CatalogDocument::load`]; `None` if it was not
    /// loaded from an envelope.
    pub fn held(&self) -> Option<Held<'_>> {
        self.info.digest.as_deref().map(|digest| Held {
            version: self.info.version,
            digest,
        })
    }

    /// The service names, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// The healthy instances of `service`, sorted by id; empty for an unknown service.
    pub fn instances(&self, service: &str) -> &[CatalogInstanceDef] {
        self.services
            .get(service)
            .map_or(&[], |s| s.instances.as_slice())
    }

    pub(crate) fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }
}

fn invalid(path: &str, message: String) -> LoadError {
    LoadError::Invalid {
        path: path.to_owned(),
        message,
    }
}

fn check_instance(path: &str, i: &CatalogInstanceDef) -> Result<(), LoadError> {
    if i.id.is_empty() {
        return Err(invalid(&format!("{path}.id"), "is empty".into()));
    }
    let bad_char = |c: char| c.is_whitespace() || matches!(c, '[' | ']' | '/' | '@' | '?' | '#');
    let ipv6_ok = !i.address.contains(':') || i.address.parse::<core::net::Ipv6Addr>().is_ok();
    if i.address.is_empty() || i.address.chars().any(bad_char) || !ipv6_ok {
        return Err(invalid(
            &format!("{path}.address"),
            "must be a host name, an IPv4 address or an IPv6 address without brackets".into(),
        ));
    }
    if i.port == 0 {
        return Err(invalid(&format!("{path}.port"), "must be 1..=65535".into()));
    }
    if !(1..=MAX_WEIGHT).contains(&i.weight) {
        return Err(invalid(
            &format!("{path}.weight"),
            format!("{} is outside 1..={MAX_WEIGHT}", i.weight),
        ));
    }
    let scheme_ok = i
        .scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && i.scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(invalid(
            &format!("{path}.scheme"),
            format!("\"{}\" is not a lowercase URL scheme", i.scheme),
        ));
    }
    Ok(())
}
