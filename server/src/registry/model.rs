//! The registry's API shapes and their validation (no database): instance registrations,
//! active HTTP checks, health, and the catalog as JSON.

use std::collections::BTreeMap;

use burgee_core::catalog::MAX_WEIGHT;
use burgee_core::{CatalogHealth, CatalogInstanceDef};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::StateError;

/// How an instance stays registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceKind {
    /// Renews a lease by heartbeat; critical when it lapses, removed `remove_after_ms` later.
    #[default]
    Ephemeral,
    /// Registered once and kept until deregistered; judged by its active checks.
    Persistent,
}

impl InstanceKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InstanceKind::Ephemeral => "ephemeral",
            InstanceKind::Persistent => "persistent",
        }
    }
}

/// An instance's health: only `passing` and `warning` instances are in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every check passes.
    Passing,
    /// Served, but a check warns (HTTP 429, a heartbeat reporting `warning`, a failing check
    /// round below the failure threshold).
    Warning,
    /// Left out of the catalog: lease lapsed, checks failing, or reported critical.
    Critical,
}

impl HealthStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Passing => "passing",
            HealthStatus::Warning => "warning",
            HealthStatus::Critical => "critical",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<HealthStatus, StateError> {
        match s {
            "passing" => Ok(HealthStatus::Passing),
            "warning" => Ok(HealthStatus::Warning),
            "critical" => Ok(HealthStatus::Critical),
            other => Err(StateError::Corrupt(format!(
                "unknown stored status {other:?}"
            ))),
        }
    }

    /// The catalog's health, `None` for critical.
    pub(crate) fn published(self) -> Option<CatalogHealth> {
        match self {
            HealthStatus::Passing => Some(CatalogHealth::Passing),
            HealthStatus::Warning => Some(CatalogHealth::Warning),
            HealthStatus::Critical => None,
        }
    }
}

/// An active HTTP check: every endpoint must answer 2xx (429 counts as a warning) within the
/// timeout. A round tries each endpoint up to `1 + retries` times, waiting `retry_initial_ms`,
/// then ×`backoff_factor`, at most `retry_max_ms` between attempts; `failure_threshold`
/// consecutive failed rounds make the instance critical, `success_threshold` consecutive good
/// rounds make it passing again (a flapping instance does not flap the catalog). Times in ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Absolute `http://` or `https://` URLs (1 to 5), e.g. `/health`, `/ready`, `/live`.
    pub endpoints: Vec<String>,
    /// Between rounds (1,000..=3,600,000; default 30,000).
    #[serde(default = "defaults::interval")]
    pub interval_ms: u64,
    /// Per attempt (100..=60,000; default 3,000).
    #[serde(default = "defaults::timeout")]
    pub timeout_ms: u64,
    /// Retries of a failed attempt within a round (0..=10; default 3).
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    /// First retry delay (0..=60,000; default 1,000).
    #[serde(default = "defaults::retry_initial")]
    pub retry_initial_ms: u64,
    /// Longest retry delay (0..=600,000; default 30,000).
    #[serde(default = "defaults::retry_max")]
    pub retry_max_ms: u64,
    /// Delay multiplier per retry (1..=10; default 2).
    #[serde(default = "defaults::factor")]
    pub backoff_factor: u32,
    /// Consecutive good rounds from critical or warning to passing (1..=10; default 2).
    #[serde(default = "defaults::success_threshold")]
    pub success_threshold: u32,
    /// Consecutive failed rounds to critical (1..=10; default 1; below it: warning).
    #[serde(default = "defaults::failure_threshold")]
    pub failure_threshold: u32,
}

pub(crate) mod defaults {
    pub(crate) fn interval() -> u64 {
        30_000
    }
    pub(crate) fn timeout() -> u64 {
        3_000
    }
    pub(crate) fn retries() -> u32 {
        3
    }
    pub(crate) fn retry_initial() -> u64 {
        1_000
    }
    pub(crate) fn retry_max() -> u64 {
        30_000
    }
    pub(crate) fn factor() -> u32 {
        2
    }
    pub(crate) fn success_threshold() -> u32 {
        2
    }
    pub(crate) fn failure_threshold() -> u32 {
        1
    }
    pub(crate) fn weight() -> u32 {
        100
    }
    pub(crate) fn scheme() -> String {
        "http".into()
    }
}

impl HealthCheck {
    /// A check of one URL with every default (the seed API's `health_check_url`).
    pub fn of_url(url: String) -> HealthCheck {
        HealthCheck {
            endpoints: vec![url],
            interval_ms: defaults::interval(),
            timeout_ms: defaults::timeout(),
            retries: defaults::retries(),
            retry_initial_ms: defaults::retry_initial(),
            retry_max_ms: defaults::retry_max(),
            backoff_factor: defaults::factor(),
            success_threshold: defaults::success_threshold(),
            failure_threshold: defaults::failure_threshold(),
        }
    }

    fn validate(&self) -> Result<(), StateError> {
        if self.endpoints.is_empty() || self.endpoints.len() > 5 {
            return Err(field("check.endpoints", "needs 1 to 5 URLs"));
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            let ok = url::Url::parse(e)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(field(
                    &format!("check.endpoints[{i}]"),
                    &format!("{e:?} is not an absolute http(s) URL"),
                ));
            }
        }
        in_range("check.interval_ms", self.interval_ms, 1_000, 3_600_000)?;
        in_range("check.timeout_ms", self.timeout_ms, 100, 60_000)?;
        in_range("check.retries", self.retries.into(), 0, 10)?;
        in_range("check.retry_initial_ms", self.retry_initial_ms, 0, 60_000)?;
        in_range("check.retry_max_ms", self.retry_max_ms, 0, 600_000)?;
        in_range("check.backoff_factor", self.backoff_factor.into(), 1, 10)?;
        in_range(
            "check.success_threshold",
            self.success_threshold.into(),
            1,
            10,
        )?;
        in_range(
            "check.failure_threshold",
            self.failure_threshold.into(),
            1,
            10,
        )
    }
}

/// A registration (`PUT …/services/{service}/instances/{id}`): registering again with the
/// same id replaces it (idempotent), keeping its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceInput {
    /// `ephemeral` (default) or `persistent`.
    #[serde(default)]
    pub kind: InstanceKind,
    /// URL scheme the instance serves (default `http`).
    #[serde(default = "defaults::scheme")]
    pub scheme: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port, 1..=65535.
    pub port: u32,
    /// Relative weight, 1..=10000 (default 100).
    #[serde(default = "defaults::weight")]
    pub weight: u32,
    /// Zone, e.g. `eu-west-1a`.
    #[serde(default)]
    pub zone: Option<String>,
    /// The running version, e.g. `2.4.0`.
    #[serde(default)]
    pub version: Option<String>,
    /// Free-form string metadata (at most 64 entries, keys ≤ 128 and values ≤ 512 chars).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Lease of an ephemeral instance, ms (1,000..=3,600,000; default: the server's,
    /// 15,000). Heartbeat at least every third of it.
    #[serde(default)]
    pub lease_ms: Option<u64>,
    /// An active HTTP check (required for a persistent instance to be judged at all).
    #[serde(default)]
    pub check: Option<HealthCheck>,
}

impl InstanceInput {
    /// Checks every field; the error names it (`address`, `port`, `metadata.<key>`…).
    ///
    /// # Errors
    /// [`StateError::Field`].
    pub fn validate(&self) -> Result<(), StateError> {
        let scheme_ok = self
            .scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && self.scheme.len() <= 32
            && self.scheme.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
            });
        if !scheme_ok {
            return Err(field("scheme", "must be a lowercase URL scheme, e.g. http"));
        }
        in_range("port", self.port.into(), 1, 65_535)?;
        in_range("weight", self.weight.into(), 1, MAX_WEIGHT.into())?;
        let host = if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        };
        let parsed = url::Url::parse(&format!("http://{host}:{}/", self.port));
        if self.address.is_empty() || self.address.len() > 253 || parsed.is_err() {
            return Err(field(
                "address",
                &format!("{:?} is not a host name or IP address", self.address),
            ));
        }
        for (name, v) in [("zone", &self.zone), ("version", &self.version)] {
            if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > 128) {
                return Err(field(name, "must be 1-128 characters"));
            }
        }
        if self.metadata.len() > 64 {
            return Err(field("metadata", "at most 64 entries"));
        }
        for (k, v) in &self.metadata {
            if k.is_empty() || k.len() > 128 || v.len() > 512 {
                return Err(field(
                    &format!("metadata.{k}"),
                    "keys are 1-128 characters, values at most 512",
                ));
            }
        }
        if let Some(ms) = self.lease_ms {
            in_range("lease_ms", ms, 1_000, 3_600_000)?;
        }
        if let Some(c) = &self.check {
            c.validate()?;
        }
        Ok(())
    }
}

/// A change of a registered instance by an operator (`PATCH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancePatch {
    /// New weight, 1..=10000.
    #[serde(default)]
    pub weight: Option<u32>,
    /// `true`: drain (out of the catalog, registration kept); `false`: back in.
    #[serde(default)]
    pub draining: Option<bool>,
}

/// A registered instance as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Service name.
    pub service: String,
    /// Instance id.
    pub id: String,
    /// `ephemeral` or `persistent`.
    pub kind: InstanceKind,
    /// URL scheme.
    pub scheme: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// `scheme://address:port`.
    pub url: String,
    /// Relative weight, 1..=10000.
    pub weight: u32,
    /// Zone.
    pub zone: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Lease, ms (ephemeral instances).
    pub lease_ms: u64,
    /// The active check, if any.
    pub check: Option<HealthCheck>,
    /// Current health.
    pub status: HealthStatus,
    /// Why (the last check's result, "lease expired", "reported by heartbeat"…).
    pub reason: String,
    /// Last active check, ms since epoch.
    pub checked_at: Option<u64>,
    /// Taken out of the catalog by an operator.
    pub draining: bool,
    /// First registration, ms since epoch.
    pub registered_at: u64,
    /// Last registration or heartbeat, ms since epoch (as flushed; at most a second behind).
    pub renewed_at: u64,
    /// When the lease lapses (ephemeral), ms since epoch.
    pub lease_expires_at: Option<u64>,
    /// Whether it is in the catalog now (passing or warning, not draining).
    pub in_catalog: bool,
}

/// One status change of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthEvent {
    /// When, ms since epoch.
    pub at: u64,
    /// The new status.
    pub status: HealthStatus,
    /// Why.
    pub reason: String,
}

/// A service of an environment with its instance counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceSummary {
    /// Service name.
    pub name: String,
    /// Registered instances.
    pub instances: u64,
    /// Passing.
    pub passing: u64,
    /// Warning.
    pub warning: u64,
    /// Critical.
    pub critical: u64,
    /// Draining.
    pub draining: u64,
}

/// A service in the catalog's JSON form (blocking queries): its healthy instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogService {
    /// Service name.
    pub name: String,
    /// Healthy instances, by id.
    pub instances: Vec<CatalogInstance>,
}

/// An instance in the catalog's JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogInstance {
    /// Instance id.
    pub id: String,
    /// `scheme://address:port`.
    pub url: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Relative weight.
    pub weight: u32,
    /// `passing` or `warning`.
    pub health: HealthStatus,
    /// Zone.
    pub zone: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
}

impl From<&CatalogInstanceDef> for CatalogInstance {
    fn from(i: &CatalogInstanceDef) -> Self {
        CatalogInstance {
            id: i.id.clone(),
            url: i.url(),
            address: i.address.clone(),
            port: i.port,
            weight: i.weight,
            health: match i.health {
                CatalogHealth::Passing => HealthStatus::Passing,
                CatalogHealth::Warning => HealthStatus::Warning,
            },
            zone: i.zone.clone(),
            version: i.version.clone(),
            metadata: i.metadata.clone(),
        }
    }
}

/// A 400 `BAD_REQUEST` naming the field (registration input is malformed, not a document the
/// core refuses).
pub(crate) fn field(name: &str, message: &str) -> StateError {
    StateError::Refused {
        code: crate::error::ApiCode::BadRequest,
        field: Some(name.to_owned()),
        message: format!("{name}: {message}"),
    }
}

fn in_range(name: &str, v: u64, min: u64, max: u64) -> Result<(), StateError> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(field(name, &format!("{v} is outside {min}..={max}")))
    }
}
