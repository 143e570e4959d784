//! The registry's operations on [`AppState`]: register, heartbeat, deregister, operator
//! changes, listings, check-now, a balanced URL, and the catalog as JSON (blocking queries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burgee_core::{Balancer, CatalogDocument, CatalogInstanceDef, Choice, Outcome, Strategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::checks::{self, next_status};
use super::leader::RegistrySettings;
use super::leases::{Key, Leases};
use super::model::{
    CatalogService, HealthEvent, HealthStatus, Instance, InstanceInput, InstancePatch,
};
use super::publish::{document, latest_catalog};
use super::store::{self, Scope, StatusUpdate, Stored};
use crate::distribution::DocumentKind;
use crate::error::{ApiCode, StateError};
use crate::service::AppState;
use crate::store::Writer;
use crate::validate::check_name;

/// The answer of a check-now: the seed API's `instances_checked`, `healthy_instances`,
/// `unhealthy_instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckSummary {
    /// Service name.
    pub service_name: String,
    /// Instances evaluated (active checks run now; leases judged as they stand).
    pub instances_checked: u64,
    /// Passing or warning afterwards.
    pub healthy_instances: u64,
    /// Critical afterwards.
    pub unhealthy_instances: u64,
}

/// The compiled latest catalog of each environment, with its version.
type Compiled = HashMap<(String, String), (u64, Arc<CatalogDocument>)>;

/// The registry's in-process state (one per server process).
#[derive(Debug)]
pub struct Registry {
    settings: RegistrySettings,
    pub(crate) leases: Leases,
    /// Environments whose catalog must be republished, with why.
    dirty: Mutex<HashMap<(String, String), String>>,
    pub(crate) wake: tokio::sync::Notify,
    protected: Mutex<HashMap<(String, String), usize>>,
    balancer: Mutex<Balancer>,
    /// The compiled latest catalog per environment (for balanced URLs), by version.
    compiled: Mutex<Compiled>,
    pub(crate) agent: ureq::Agent,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    /// A registry with `settings`.
    pub fn new(settings: RegistrySettings) -> Registry {
        Registry {
            settings,
            leases: Leases::default(),
            dirty: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
            protected: Mutex::new(HashMap::new()),
            balancer: Mutex::new(Balancer::default()),
            compiled: Mutex::new(HashMap::new()),
            agent: checks::agent(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// Asks the publisher to republish the catalog of (project, env).
    pub(crate) fn mark(&self, project: &str, env: &str, reason: &str) {
        lock(&self.dirty)
            .entry((project.to_owned(), env.to_owned()))
            .or_insert_with(|| reason.to_owned());
        self.wake.notify_one();
    }

    /// Takes the environments to republish.
    pub(crate) fn take_dirty(&self) -> Vec<((String, String), String)> {
        lock(&self.dirty).drain().collect()
    }

    /// Records how many services of an environment the protection threshold holds, and sets
    /// the alert gauge to the total.
    pub(crate) fn set_protected(&self, state: &AppState, project: &str, env: &str, n: usize) {
        let mut p = lock(&self.protected);
        p.insert((project.to_owned(), env.to_owned()), n);
        let total: usize = p.values().sum();
        state
            .metrics()
            .registry_protected
            .set(i64::try_from(total).unwrap_or(i64::MAX));
    }
}

fn key((p, e, s, i): Scope<'_>) -> Key {
    (p.to_owned(), e.to_owned(), s.to_owned(), i.to_owned())
}

fn instance_not_found((_, env, service, id): Scope<'_>) -> StateError {
    StateError::Refused {
        code: ApiCode::InstanceNotFound,
        field: None,
        message: format!(
            "service \"{service}\" has no instance \"{id}\" in \"{env}\" (register it again)"
        ),
    }
}

/// Checks a service name and an instance id.
pub(crate) fn check_names(service: &str, id: Option<&str>) -> Result<(), StateError> {
    let bad_request = |e: StateError| match e {
        StateError::Field { field, message } => super::model::field(&field, &message),
        other => other,
    };
    check_name("service", service, 64, false).map_err(bad_request)?;
    if let Some(id) = id {
        check_name("instance_id", id, 128, true).map_err(bad_request)?;
    }
    Ok(())
}

impl AppState {
    /// The registry state.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Registers (or re-registers, idempotently) an instance; the service is created if new.
    /// Returns the instance and whether it was new.
    ///
    /// # Errors
    /// [`StateError::Field`] naming a bad field, [`StateError::NotFound`] for an unknown
    /// project or environment, [`StateError::Db`].
    pub async fn register(
        &self,
        scope: Scope<'_>,
        input: &InstanceInput,
        actor: &str,
    ) -> Result<(Instance, bool), StateError> {
        let (project, env, service, id) = scope;
        check_names(service, Some(id))?;
        input.validate()?;
        let lease = input.lease_ms.unwrap_or(self.registry().settings.lease_ms);
        let now = self.now();
        let mut w = Writer::begin(self.store()).await?;
        crate::store::rows::require_env(w.conn(), project, env).await?;
        if !crate::configs::service_exists(w.conn(), project, service).await? {
            crate::configs::put_service(w.conn(), project, service, "", now).await?;
        }
        let created = store::upsert(w.conn(), scope, input, lease, now).await?;
        let stored = store::get(w.conn(), scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        let action = if created {
            "register instance"
        } else {
            "re-register instance"
        };
        let resource = format!("instance:{service}/{id}");
        let after = crate::store::rows::to_json(&stored.instance)?;
        w.audit(
            now,
            actor,
            action,
            Some(project),
            Some(env),
            &resource,
            None,
            Some(after),
        )
        .await?;
        self.commit(w).await?;
        self.registry().leases.know(key(scope), lease);
        self.registry().mark(project, env, action);
        Ok((stored.instance, created))
    }

    /// A heartbeat: renews the lease (in memory; flushed within a second). With `report`, the
    /// instance also sets its own status (a TTL check). Returns when the lease lapses, ms.
    ///
    /// # Errors
    /// `INSTANCE_NOT_FOUND` ([`StateError::Refused`]) when the instance is not registered: the
    /// SDK registers again. [`StateError::Db`].
    pub async fn heartbeat(
        &self,
        scope: Scope<'_>,
        report: Option<(HealthStatus, &str)>,
    ) -> Result<u64, StateError> {
        let now = self.now();
        let k = key(scope);
        let registry = self.registry();
        self.metrics().registry_heartbeats.inc();
        if report.is_none()
            && let Some(lease) = registry.leases.renew(&k, now)
        {
            return Ok(now.saturating_add(lease));
        }
        let mut conn = self.store().pool.acquire().await?;
        let stored = store::get(&mut conn, scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        let lease = stored.instance.lease_ms;
        registry.leases.know(k.clone(), lease);
        registry.leases.renew(&k, now);
        if let Some((status, note)) = report
            && (status != stored.instance.status || note != stored.instance.reason)
        {
            let update = StatusUpdate {
                status,
                reason: note,
                checked_at: None,
                successes: stored.successes,
                failures: stored.failures,
            };
            store::set_status(&mut conn, scope, stored.instance.status, &update, now).await?;
            registry.mark(scope.0, scope.1, "status reported by heartbeat");
        }
        Ok(now.saturating_add(lease))
    }

    /// Deregisters an instance.
    ///
    /// # Errors
    /// `INSTANCE_NOT_FOUND`, [`StateError::Db`].
    pub async fn deregister(&self, scope: Scope<'_>, actor: &str) -> Result<(), StateError> {
        let (project, env, service, id) = scope;
        let now = self.now();
        let mut w = Writer::begin(self.store()).await?;
        let before = store::get(w.conn(), scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        store::delete(w.conn(), scope).await?;
        let before = crate::store::rows::to_json(&before.instance)?;
        let resource = format!("instance:{service}/{id}");
        w.audit(
            now,
            actor,
            "deregister instance",
            Some(project),
            Some(env),
            &resource,
            Some(before),
            None,
        )
        .await?;
        self.commit(w).await?;
        self.registry().leases.forget(&key(scope));
        self.registry().mark(project, env, "instance deregistered");
        Ok(())
    }

    /// Changes an instance's weight or drains it (out of the catalog, registration kept).
    ///
    /// # Errors
    /// `INSTANCE_NOT_FOUND`, [`StateError::Field`] for a weight outside 1..=10000,
    /// [`StateError::Db`].
    pub async fn patch_instance(
        &self,
        scope: Scope<'_>,
        patch: &InstancePatch,
        actor: &str,
    ) -> Result<Instance, StateError> {
        let (project, env, service, id) = scope;
        if let Some(w) = patch.weight
            && !(1..=burgee_core::catalog::MAX_WEIGHT).contains(&w)
        {
            return Err(super::model::field(
                "weight",
                &format!("{w} is outside 1..=10000"),
            ));
        }
        let now = self.now();
        let mut w = Writer::begin(self.store()).await?;
        let before = store::get(w.conn(), scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        store::patch(w.conn(), scope, patch.weight, patch.draining, now).await?;
        let after = store::get(w.conn(), scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        let resource = format!("instance:{service}/{id}");
        let (b, a) = (
            crate::store::rows::to_json(&before.instance)?,
            crate::store::rows::to_json(&after.instance)?,
        );
        w.audit(
            now,
            actor,
            "change instance",
            Some(project),
            Some(env),
            &resource,
            Some(b),
            Some(a),
        )
        .await?;
        self.commit(w).await?;
        self.registry().mark(project, env, "instance changed");
        Ok(after.instance)
    }

    /// The instances of an environment, of one service if given (by service and id).
    ///
    /// # Errors
    /// `SERVICE_NOT_FOUND` for a service the project does not have, [`StateError::Db`].
    pub async fn instances(
        &self,
        project: &str,
        env: &str,
        service: Option<&str>,
    ) -> Result<Vec<Instance>, StateError> {
        let mut conn = self.store().pool.acquire().await?;
        crate::store::rows::require_env(&mut conn, project, env).await?;
        if let Some(s) = service
            && !crate::configs::service_exists(&mut conn, project, s).await?
        {
            return Err(StateError::Refused {
                code: ApiCode::ServiceNotFound,
                field: None,
                message: format!("project \"{project}\" has no service \"{s}\""),
            });
        }
        drop(conn);
        let rows = store::list(&self.store().pool, Some((project, env)), service).await?;
        Ok(rows.into_iter().map(|s| s.instance).collect())
    }

    /// Every registered instance of an environment, as stored (for summaries).
    pub(crate) async fn stored_instances(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Vec<Stored>, StateError> {
        store::list(&self.store().pool, Some((project, env)), None).await
    }

    /// One instance and its newest status changes (newest first).
    ///
    /// # Errors
    /// `INSTANCE_NOT_FOUND`, [`StateError::Db`].
    pub async fn instance(
        &self,
        scope: Scope<'_>,
    ) -> Result<(Instance, Vec<HealthEvent>), StateError> {
        let mut conn = self.store().pool.acquire().await?;
        let stored = store::get(&mut conn, scope)
            .await?
            .ok_or_else(|| instance_not_found(scope))?;
        drop(conn);
        Ok((
            stored.instance,
            store::history(&self.store().pool, scope).await?,
        ))
    }

    /// Runs the active checks of a service's instances now and stores the results.
    ///
    /// # Errors
    /// `SERVICE_NOT_FOUND`, [`StateError::Db`].
    pub async fn check_now(
        &self,
        project: &str,
        env: &str,
        service: &str,
    ) -> Result<CheckSummary, StateError> {
        self.instances(project, env, Some(service)).await?;
        let rows = store::list(&self.store().pool, Some((project, env)), Some(service)).await?;
        let runs = rows.into_iter().map(|s| self.check_instance(s));
        let results = futures_util::future::join_all(runs).await;
        let mut summary = CheckSummary {
            service_name: service.to_owned(),
            instances_checked: 0,
            healthy_instances: 0,
            unhealthy_instances: 0,
        };
        for r in results {
            summary.instances_checked += 1;
            if r? == HealthStatus::Critical {
                summary.unhealthy_instances += 1;
            } else {
                summary.healthy_instances += 1;
            }
        }
        Ok(summary)
    }

    /// Runs one round of an instance's active check (if it has one), stores the result and
    /// marks the catalog when the status changed. Returns the status after it.
    pub(crate) async fn check_instance(&self, s: Stored) -> Result<HealthStatus, StateError> {
        let i = &s.instance;
        let Some(check) = &i.check else {
            return Ok(i.status);
        };
        let round = checks::run_round(&self.registry().agent, check).await;
        let (status, successes, failures) = next_status(
            i.status,
            i.checked_at.is_some(),
            check,
            (s.successes, s.failures),
            &round,
        );
        let reason = match &round {
            checks::Round::Pass(r) | checks::Round::Warn(r) | checks::Round::Fail(r) => r,
        };
        let now = self.now();
        let scope = (
            i.project.as_str(),
            i.environment.as_str(),
            i.service.as_str(),
            i.id.as_str(),
        );
        let update = StatusUpdate {
            status,
            reason,
            checked_at: Some(now),
            successes,
            failures,
        };
        let mut conn = self.store().pool.acquire().await?;
        store::set_status(&mut conn, scope, i.status, &update, now).await?;
        if status != i.status {
            self.registry()
                .mark(&i.project, &i.environment, "health check changed a status");
        }
        Ok(status)
    }

    /// An instance of a service chosen from the latest catalog with the core's balancer
    /// (`strategy`, `key` for consistent hashing), for clients without an SDK; `None` when
    /// the service has no healthy instance.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn balanced_instance(
        &self,
        project: &str,
        env: &str,
        service: &str,
        strategy: Strategy,
        key: Option<&str>,
    ) -> Result<Option<CatalogInstanceDef>, StateError> {
        let Some(doc) = self.compiled_catalog(project, env).await? else {
            return Ok(None);
        };
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| StateError::Corrupt(format!("no randomness: {e}")))?;
        let now = self.now();
        let mut balancer = lock(&self.registry().balancer);
        let choice = Choice {
            strategy,
            key,
            exclude: &[],
        };
        let chosen = balancer
            .choose(&doc, service, &choice, u64::from_le_bytes(random), now)
            .cloned();
        if let Some(c) = &chosen {
            // The server never sees the request's outcome.
            balancer.report(service, &c.id, Outcome::Cancelled, now);
        }
        Ok(chosen)
    }

    async fn compiled_catalog(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<Arc<CatalogDocument>>, StateError> {
        let Some(latest) = self.latest_catalog(project, env).await? else {
            return Ok(None);
        };
        let k = (project.to_owned(), env.to_owned());
        if let Some((v, doc)) = lock(&self.registry().compiled).get(&k)
            && *v == latest.version
        {
            return Ok(Some(Arc::clone(doc)));
        }
        let def = document(&latest.envelope)?;
        let doc = Arc::new(CatalogDocument::compile(&def, None).map_err(StateError::Invalid)?);
        lock(&self.registry().compiled).insert(k, (latest.version, Arc::clone(&doc)));
        Ok(Some(doc))
    }

    /// The seed API's default environment of a project: `production` when it has one, else
    /// its first environment by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`] for a project without environments, [`StateError::Db`].
    pub async fn default_environment(&self, project: &str) -> Result<String, StateError> {
        let mut conn = self.store().pool.acquire().await?;
        let keys = crate::store::rows::env_keys(&mut conn, project).await?;
        if keys.iter().any(|k| k == "production") {
            return Ok("production".into());
        }
        keys.into_iter().next().ok_or_else(|| {
            StateError::NotFound(format!("project \"{project}\" has no environment"))
        })
    }

    /// The latest catalog document of an environment.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn latest_catalog(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Option<Arc<crate::distribution::StoredSnapshot>>, StateError> {
        latest_catalog(&self.store().pool, project, env).await
    }

    /// The latest catalog of an environment, publishing an empty one first when none was
    /// ever published (so SDKs started before any registration get a catalog, and its stream,
    /// instead of a 404).
    ///
    /// # Errors
    /// As [`AppState::latest_catalog`]; [`StateError::NotFound`] for an unknown environment.
    pub async fn catalog_for_readers(
        &self,
        project: &str,
        env: &str,
    ) -> Result<Arc<crate::distribution::StoredSnapshot>, StateError> {
        if let Some(latest) = self.latest_catalog(project, env).await? {
            return Ok(latest);
        }
        super::publish::publish_catalog(self, project, env, "first read", false).await?;
        self.latest_catalog(project, env)
            .await?
            .ok_or_else(|| StateError::NotFound(format!("environment \"{env}\" has no catalog")))
    }

    /// Sends the latest catalog of (project, env) to this process's streams.
    ///
    /// # Errors
    /// As [`AppState::latest_catalog`].
    pub async fn broadcast_catalog(&self, project: &str, env: &str) -> Result<(), StateError> {
        if let Some(snapshot) = self.latest_catalog(project, env).await? {
            let _ = self
                .inner
                .hub
                .send(crate::distribution::SnapshotEvent { snapshot });
        }
        Ok(())
    }

    /// The catalog as JSON, after waiting up to `wait` for a version above `index` (a blocking
    /// query, as Consul's `?index=`): `(version, services)`; version 0 and no services before
    /// the first publish.
    ///
    /// # Errors
    /// [`StateError::Db`], [`StateError::Corrupt`].
    pub async fn catalog_view(
        &self,
        project: &str,
        env: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(u64, Vec<CatalogService>), StateError> {
        let mut rx = self.inner.hub.subscribe();
        let mut latest = self.latest_catalog(project, env).await?;
        let deadline = tokio::time::Instant::now() + wait;
        while latest.as_ref().is_none_or(|l| l.version <= index) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => break,
                Ok(Ok(ev)) => {
                    let s = &ev.snapshot;
                    if s.kind == DocumentKind::Catalog
                        && s.project == project
                        && s.environment == env
                    {
                        latest = Some(ev.snapshot);
                    }
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    latest = self.latest_catalog(project, env).await?;
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            }
        }
        let Some(latest) = latest else {
            return Ok((0, Vec::new()));
        };
        let def = document(&latest.envelope)?;
        let services = def
            .services
            .iter()
            .map(|s| CatalogService {
                name: s.name.clone(),
                instances: s.instances.iter().map(Into::into).collect(),
            })
            .collect();
        Ok((latest.version, services))
    }
}
