//! `burgee serve`'s service registry flags ([`crate::registry::RegistrySettings`], which
//! documents each).

use clap::Args;

use crate::registry::RegistrySettings;

/// Service registry timing and safety.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Lease of ephemeral instances that give none, ms.
    #[arg(long, env = "BURGEE_REGISTRY_LEASE_MS", default_value_t = 15_000,
        value_parser = clap::value_parser!(u64).range(1_000..=3_600_000))]
    pub registry_lease_ms: u64,
    /// Removal of an ephemeral instance this long after its lease lapsed, ms.
    #[arg(
        long,
        env = "BURGEE_REGISTRY_REMOVE_AFTER_MS",
        default_value_t = 60_000
    )]
    pub registry_remove_after_ms: u64,
    /// After becoming the registry leader, no lease expires for this long, ms.
    #[arg(long, env = "BURGEE_REGISTRY_GRACE_MS", default_value_t = 20_000)]
    pub registry_grace_ms: u64,
    /// Protection threshold, basis points (0..=10000): a larger share of a service's
    /// published instances dropping out at once keeps its last catalog.
    #[arg(long, env = "BURGEE_REGISTRY_PROTECTION_BP", default_value_t = 5000,
        value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub registry_protection_bp: u32,
    /// Shortest time between two catalog publishes of one environment, ms.
    #[arg(
        long,
        env = "BURGEE_REGISTRY_PUBLISH_INTERVAL_MS",
        default_value_t = 250
    )]
    pub registry_publish_interval_ms: u64,
    /// How often heartbeats are flushed and leases judged, ms.
    #[arg(long, env = "BURGEE_REGISTRY_TICK_MS", default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub registry_tick_ms: u64,
    /// Active health checks running at once at most.
    #[arg(long, env = "BURGEE_REGISTRY_MAX_CHECKS", default_value_t = 64,
        value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub registry_max_checks: u64,
}

impl From<&RegistryArgs> for RegistrySettings {
    fn from(a: &RegistryArgs) -> Self {
        RegistrySettings {
            lease_ms: a.registry_lease_ms,
            remove_after_ms: a.registry_remove_after_ms,
            grace_ms: a.registry_grace_ms,
            protection_threshold_bp: a.registry_protection_bp,
            publish_interval_ms: a.registry_publish_interval_ms,
            tick_ms: a.registry_tick_ms,
            max_concurrent_checks: usize::try_from(a.registry_max_checks).unwrap_or(64),
        }
    }
}
