//! The service registry: registered instances, their health, and each environment's signed
//! catalog of healthy instances (`spec/CATALOG.md`) that SDKs balance over locally. The server
//! never proxies traffic.
//!
//! ```text
//!  register (API, SDK helper) ─► row ─► mark (project, env) dirty ─► publisher (≤ 4/s per env)
//!  heartbeat ─► in-memory lease table ─► flushed to the store every second (any replica)
//!  leader (SQLite: the process; PostgreSQL: advisory lock holder):
//!      lease expiry (after a start grace period) and active HTTP checks (timeout, retries
//!      with backoff, success/failure thresholds) ─► status changes ─► mark dirty
//!  publisher: healthy instances ─► protection threshold ─► sign (DSSE, CATALOG_PAYLOAD_TYPE)
//!      ─► catalog_documents ─► SSE / ETag / blocking queries / DNS
//! ```
//!
//! Ephemeral instances (Nacos' ephemeral instances, ZooKeeper's ephemeral nodes) renew a
//! lease; after it lapses they turn critical, and are removed `remove_after_ms` later.
//! Persistent instances stay until deregistered and are judged by their active checks.

mod checks;
mod leader;
mod leases;
mod model;
mod publish;
mod service;
mod store;

pub use leader::{RegistrySettings, spawn};
pub use leases::Leases;
pub(crate) use model::field as bad_field;
pub use model::{
    CatalogInstance, CatalogService, HealthCheck, HealthEvent, HealthStatus, Instance,
    InstanceInput, InstanceKind, InstancePatch, ServiceSummary,
};
pub use service::{CheckSummary, Registry};
pub(crate) use store::summaries;
