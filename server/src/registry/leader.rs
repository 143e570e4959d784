//! The registry's background work. Every process flushes its heartbeats and publishes the
//! catalogs its writes changed (coalesced: at most one publish per environment and
//! `publish_interval_ms`). One process — the **leader** — judges leases, runs the active
//! checks and renews catalogs nearing expiry: with SQLite the one process; with PostgreSQL the
//! holder of a session advisory lock, which another replica takes over when the leader's
//! connection dies. A new leader waits `grace_ms` before expiring any lease (heartbeats sent
//! to a dead leader's replica, or during a restart, are not held against instances).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Connection as _;
use tokio::task::JoinHandle;

use super::model::{HealthStatus, InstanceKind};
use super::publish::{document, publish_catalog};
use super::store::{self, StatusUpdate};
use crate::error::StateError;
use crate::service::AppState;
use crate::store::Backend;

/// The advisory lock id the registry leader holds on PostgreSQL ("burgee-registry").
const LEADER_LOCK: i64 = 0x6275_7267_6565_7267;

/// Why a lapsed lease made an instance critical (also how a renewal recognises it).
pub(crate) const LEASE_EXPIRED: &str = "lease expired";

/// Registry timing and safety settings (`burgee serve --registry-*`). Times in ms, shares in
/// basis points (0..=10000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Lease of ephemeral instances that give none (default 15,000).
    pub lease_ms: u64,
    /// How long after its lease lapsed an ephemeral instance is removed (default 60,000).
    pub remove_after_ms: u64,
    /// After becoming leader, no lease expires for this long (default 20,000).
    pub grace_ms: u64,
    /// Protection threshold: a larger share of a service's published instances dropping out
    /// at once keeps the last catalog of that service (default 5000 = 50 %).
    pub protection_threshold_bp: u32,
    /// Shortest time between two publishes of one environment's catalog (default 250).
    pub publish_interval_ms: u64,
    /// How often leases are flushed and judged (default 1,000).
    pub tick_ms: u64,
    /// Active checks running at once at most (default 64).
    pub max_concurrent_checks: usize,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            lease_ms: 15_000,
            remove_after_ms: 60_000,
            grace_ms: 20_000,
            protection_threshold_bp: 5000,
            publish_interval_ms: 250,
            tick_ms: 1000,
            max_concurrent_checks: 64,
        }
    }
}

/// Starts the registry's loops; abort the handles to stop them (after a last
/// [`flush`](super::Leases)).
pub fn spawn(state: &AppState) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(flush_loop(state.clone())),
        tokio::spawn(publish_loop(state.clone())),
        tokio::spawn(leader_loop(state.clone())),
    ]
}

async fn flush_loop(state: AppState) {
    let tick = Duration::from_millis(state.registry().settings().tick_ms);
    loop {
        tokio::time::sleep(tick).await;
        if let Err(e) = state.registry().leases.flush(&state.store().pool).await {
            tracing::warn!(error = %e, "flushing heartbeats failed; retrying");
        }
    }
}

async fn publish_loop(state: AppState) {
    let interval = Duration::from_millis(state.registry().settings().publish_interval_ms);
    loop {
        state.registry().wake.notified().await;
        // Coalesce: changes arriving within the interval go out in one publish.
        tokio::time::sleep(interval).await;
        for ((project, env), reason) in state.registry().take_dirty() {
            if let Err(e) = publish_catalog(&state, &project, &env, &reason, false).await {
                tracing::warn!(error = %e, %project, %env, "publishing the catalog failed; retrying");
                state.registry().mark(&project, &env, &reason);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn leader_loop(state: AppState) {
    let tick = Duration::from_millis(state.registry().settings().tick_ms);
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let checks = Arc::new(tokio::sync::Semaphore::new(
        state.registry().settings().max_concurrent_checks,
    ));
    loop {
        let lock = match acquire(&state).await {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tokio::time::sleep(tick * 2).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "registry leadership: cannot reach the database");
                tokio::time::sleep(tick * 2).await;
                continue;
            }
        };
        let since = state.now();
        tracing::info!("this process leads the registry (lease expiry and health checks)");
        let mut lock = lock;
        loop {
            if let Err(e) = lead_once(&state, since, &running, &checks).await {
                tracing::warn!(error = %e, "registry leader pass failed");
            }
            tokio::time::sleep(tick).await;
            if let Some(conn) = lock.as_mut()
                && conn.ping().await.is_err()
            {
                tracing::warn!("lost the registry leader lock's connection; re-electing");
                break;
            }
        }
    }
}

/// Becomes leader: `Some(None)` with SQLite (one process), `Some(Some(conn))` holding the
/// advisory lock on PostgreSQL, `None` while another replica holds it.
async fn acquire(state: &AppState) -> Result<Option<Option<sqlx::PgConnection>>, StateError> {
    if state.store().backend != Backend::Postgres {
        return Ok(Some(None));
    }
    let mut conn = sqlx::PgConnection::connect(&state.store().url).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LEADER_LOCK)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(Some(conn)))
}

/// One leader pass: leases, due checks, catalog renewal.
async fn lead_once(
    state: &AppState,
    since: u64,
    running: &Arc<Mutex<HashSet<String>>>,
    checks: &Arc<tokio::sync::Semaphore>,
) -> Result<(), StateError> {
    let settings = *state.registry().settings();
    let pool = &state.store().pool;
    state.registry().leases.flush(pool).await?;
    let now = state.now();
    let grace_over = now >= since.saturating_add(settings.grace_ms);
    // Changes of one pass are published together: leases lapsing at once drop out at once
    // (which the protection threshold then sees as one drop).
    let mut changed: std::collections::BTreeMap<(String, String), &str> = Default::default();
    let rows = store::list(pool, None, None).await?;
    // Per service: registered (not draining) and critical instances. No instance is removed
    // while more than the protection threshold's share of its service is critical.
    let mut shares: std::collections::HashMap<(&str, &str, &str), (u64, u64)> = Default::default();
    for s in &rows {
        let i = &s.instance;
        if !i.draining {
            let e = shares
                .entry((&i.project, &i.environment, &i.service))
                .or_default();
            e.0 += 1;
            e.1 += u64::from(i.status == HealthStatus::Critical);
        }
    }
    let mass_failure = |i: &super::model::Instance| {
        shares
            .get(&(
                i.project.as_str(),
                i.environment.as_str(),
                i.service.as_str(),
            ))
            .is_some_and(|(n, critical)| {
                critical * 10_000 > u64::from(settings.protection_threshold_bp) * n
            })
    };
    for s in rows.iter().cloned() {
        let i = &s.instance;
        let scope = (
            i.project.as_str(),
            i.environment.as_str(),
            i.service.as_str(),
            i.id.as_str(),
        );
        if i.kind == InstanceKind::Ephemeral {
            let expires = i.renewed_at.saturating_add(i.lease_ms);
            let lease_status = if now < expires {
                (i.status == HealthStatus::Critical && i.reason == LEASE_EXPIRED)
                    .then_some((HealthStatus::Passing, "lease renewed"))
            } else if grace_over && i.status != HealthStatus::Critical {
                state.metrics().registry_expired.inc();
                Some((HealthStatus::Critical, LEASE_EXPIRED))
            } else {
                None
            };
            if let Some((status, reason)) = lease_status {
                let update = StatusUpdate {
                    status,
                    reason,
                    checked_at: None,
                    successes: s.successes,
                    failures: s.failures,
                };
                let mut conn = pool.acquire().await?;
                store::set_status(&mut conn, scope, i.status, &update, now).await?;
                changed.insert((i.project.clone(), i.environment.clone()), reason);
                continue;
            }
            if grace_over
                && now >= expires.saturating_add(settings.remove_after_ms)
                && !mass_failure(i)
                && !in_catalog(state, scope).await?
            {
                let mut conn = pool.acquire().await?;
                store::delete(&mut conn, scope).await?;
                state.metrics().registry_removed.inc();
                state.registry().leases.forget(&(
                    i.project.clone(),
                    i.environment.clone(),
                    i.service.clone(),
                    i.id.clone(),
                ));
                changed.insert(
                    (i.project.clone(), i.environment.clone()),
                    "expired instance removed",
                );
                continue;
            }
        }
        if let Some(check) = &i.check {
            let due = i
                .checked_at
                .map_or(0, |t| t.saturating_add(check.interval_ms));
            let key = format!("{}/{}/{}/{}", i.project, i.environment, i.service, i.id);
            if due <= now && claim(running, &key) {
                let (state, running, checks) =
                    (state.clone(), Arc::clone(running), Arc::clone(checks));
                tokio::spawn(async move {
                    if let Ok(_permit) = checks.acquire().await
                        && let Err(e) = state.check_instance(s).await
                    {
                        tracing::warn!(error = %e, "storing a health check result failed");
                    }
                    release(&running, &key);
                });
            }
        }
    }
    for ((project, env), reason) in changed {
        state.registry().mark(&project, &env, reason);
    }
    renew_catalogs(state, now).await
}

/// Marks a check as running; false if it already is.
fn claim(running: &Mutex<HashSet<String>>, key: &str) -> bool {
    running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned())
}

fn release(running: &Mutex<HashSet<String>>, key: &str) {
    running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(key);
}

/// Whether the latest catalog still lists an instance (the protection threshold holds it:
/// then it is not removed).
async fn in_catalog(
    state: &AppState,
    (project, env, service, id): store::Scope<'_>,
) -> Result<bool, StateError> {
    let Some(latest) = state.latest_catalog(project, env).await? else {
        return Ok(false);
    };
    let def = document(&latest.envelope)?;
    Ok(def
        .services
        .iter()
        .any(|s| s.name == service && s.instances.iter().any(|i| i.id == id)))
}

/// Republishes every catalog past half its lifetime, so SDKs never hold an expired one.
async fn renew_catalogs(state: &AppState, now: u64) -> Result<(), StateError> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT c.project, c.environment, c.issued_at, c.expires_at FROM catalog_documents c \
         WHERE c.version = (SELECT MAX(d.version) FROM catalog_documents d \
         WHERE d.project = c.project AND d.environment = c.environment)",
    )
    .fetch_all(&state.store().pool)
    .await?;
    for (project, env, issued, expires) in rows {
        let half = issued.saturating_add((expires - issued) / 2);
        if i64::try_from(now).unwrap_or(i64::MAX) >= half {
            publish_catalog(state, &project, &env, "renewed before expiry", true).await?;
        }
    }
    Ok(())
}
