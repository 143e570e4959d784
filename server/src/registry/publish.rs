//! Publishing an environment's catalog document (`spec/CATALOG.md`): the healthy instances of
//! every registered service, held by the protection threshold, compiled by the core (what SDKs
//! would refuse is refused here), signed with the environment's key and stored; unchanged
//! catalogs are not republished (except to renew one nearing expiry).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::catalog::CATALOG_FORMAT;
use burgee_core::{
    CATALOG_PAYLOAD_TYPE, CatalogDocument, CatalogDocumentDef, CatalogInstanceDef,
    CatalogServiceDef, Envelope, payload_digest,
};

use super::store::{self, Stored};
use crate::distribution::{DocumentKind, StoredSnapshot};
use crate::error::StateError;
use crate::keys;
use crate::model::Published;
use crate::publish::{check_envelope_size, sign_all};
use crate::service::AppState;
use crate::store::rows::{from_json, require_env, to_json};
use crate::store::{Writer, to_i64, to_u64};

/// A service's instances as published, and whether the protection threshold held them.
pub(crate) struct Held {
    pub(crate) instances: Vec<CatalogInstanceDef>,
    pub(crate) protected: bool,
}

/// The protection threshold (`threshold_bp`, basis points), given a service's healthy
/// instances and its critical ones (registered, not draining):
/// - when more than that share of its registered instances is critical, or none is healthy
///   (never empty a service for health reasons), every registered instance is published, the
///   critical ones as `warning` (as Nacos' protect threshold does: better a suspect instance
///   than a stampede on the few left);
/// - when more than that share of the instances last published would drop out at once for
///   health reasons, those stay published (as `warning`);
/// - otherwise only the healthy ones are.
pub(crate) fn protect(
    last: Option<&CatalogServiceDef>,
    healthy: Vec<CatalogInstanceDef>,
    critical: Vec<CatalogInstanceDef>,
    threshold_bp: u32,
) -> Held {
    let over =
        |part: usize, whole: usize| part as u64 * 10_000 > u64::from(threshold_bp) * whole as u64;
    let last_ids: BTreeSet<&str> = last
        .map(|l| l.instances.iter().map(|i| i.id.as_str()).collect())
        .unwrap_or_default();
    let dropped = critical
        .iter()
        .filter(|i| last_ids.contains(i.id.as_str()))
        .count();
    let registered = healthy.len() + critical.len();
    let keep: Vec<CatalogInstanceDef> =
        if !critical.is_empty() && (healthy.is_empty() || over(critical.len(), registered)) {
            critical
        } else if dropped > 0 && over(dropped, last_ids.len()) {
            critical
                .into_iter()
                .filter(|i| last_ids.contains(i.id.as_str()))
                .collect()
        } else {
            return Held {
                instances: healthy,
                protected: false,
            };
        };
    let mut all: BTreeMap<String, CatalogInstanceDef> = keep
        .into_iter()
        .map(|mut i| {
            i.health = burgee_core::CatalogHealth::Warning;
            (i.id.clone(), i)
        })
        .collect();
    for i in healthy {
        all.insert(i.id.clone(), i);
    }
    Held {
        instances: all.into_values().collect(),
        protected: true,
    }
}

/// The catalog instance of a stored registration (with `passing` standing in for a critical
/// one's health, which [`protect`] replaces), `None` while draining.
fn catalog_instance(s: &Stored) -> Option<CatalogInstanceDef> {
    let i = &s.instance;
    if i.draining {
        return None;
    }
    Some(CatalogInstanceDef {
        id: i.id.clone(),
        scheme: i.scheme.clone(),
        address: i.address.clone(),
        port: i.port,
        weight: i.weight,
        health: i
            .status
            .published()
            .unwrap_or(burgee_core::CatalogHealth::Passing),
        zone: i.zone.clone(),
        version: i.version.clone(),
        metadata: i.metadata.clone(),
    })
}

/// The services of a catalog built from the registrations of one environment and the last
/// catalog; the number of services the protection threshold holds.
pub(crate) fn build(
    rows: &[Stored],
    last: Option<&CatalogDocumentDef>,
    threshold_bp: u32,
) -> (Vec<CatalogServiceDef>, usize) {
    let mut by_service: BTreeMap<&str, Vec<&Stored>> = BTreeMap::new();
    for r in rows {
        by_service.entry(&r.instance.service).or_default().push(r);
    }
    let mut protected = 0;
    let services = by_service
        .into_iter()
        .map(|(name, rows)| {
            let (healthy, critical): (Vec<&&Stored>, Vec<&&Stored>) = rows
                .iter()
                .filter(|r| !r.instance.draining)
                .partition(|r| r.instance.status.published().is_some());
            let healthy = healthy
                .into_iter()
                .filter_map(|r| catalog_instance(r))
                .collect();
            let critical = critical
                .into_iter()
                .filter_map(|r| catalog_instance(r))
                .collect();
            let last_service = last.and_then(|d| d.services.iter().find(|s| s.name == name));
            let held = protect(last_service, healthy, critical, threshold_bp);
            protected += usize::from(held.protected);
            CatalogServiceDef {
                name: name.to_owned(),
                instances: held.instances,
            }
        })
        .collect();
    (services, protected)
}

/// Publishes the catalog of (project, env) when it differs from the last one, or `force`
/// (renewal before expiry). Returns what was published, `None` when nothing changed.
///
/// # Errors
/// [`StateError::NotFound`] for an unknown environment, [`StateError::Invalid`] if the core
/// refuses the document, [`StateError::EnvelopeTooLarge`], [`StateError::Key`],
/// [`StateError::Db`].
pub(crate) async fn publish_catalog(
    state: &AppState,
    project: &str,
    env: &str,
    reason: &str,
    force: bool,
) -> Result<Option<Published>, StateError> {
    let rows = store::list(&state.store().pool, Some((project, env)), None).await?;
    let mut w = Writer::begin(state.store()).await?;
    let conn = w.conn();
    let row = require_env(conn, project, env).await?;
    let last = latest_row(conn, project, env).await?;
    let last_def = last.as_ref().map(|(_, e)| document(e)).transpose()?;
    let settings = state.registry().settings();
    let (services, protected) = build(&rows, last_def.as_ref(), settings.protection_threshold_bp);
    state
        .registry()
        .set_protected(state, project, env, protected);
    if !force && last_def.as_ref().is_some_and(|d| d.services == services) {
        return Ok(None);
    }
    let now = state.now();
    let version = last.as_ref().map_or(0, |(v, _)| *v) + 1;
    let ttl = state.inner.snapshot_ttl_ms;
    let def = CatalogDocumentDef {
        format: CATALOG_FORMAT,
        project: project.to_owned(),
        environment: env.to_owned(),
        version,
        issued_at: now,
        expires_at: now
            .checked_add(ttl)
            .ok_or_else(|| StateError::Corrupt("catalog expiry overflows".into()))?,
        services,
    };
    CatalogDocument::compile(&def, None).map_err(StateError::Invalid)?;
    let payload = serde_json::to_vec(&def)
        .map_err(|e| StateError::Corrupt(format!("serializing the catalog: {e}")))?;
    let envelope = sign_all(
        &state.inner.keys_dir,
        &row.key_name,
        &keys::key_env_var(project, env),
        CATALOG_PAYLOAD_TYPE,
        &payload,
    )?;
    let envelope = to_json(&envelope)?;
    check_envelope_size(project, env, "catalog", &envelope)?;
    let digest = payload_digest(&payload);
    sqlx::query(
        "INSERT INTO catalog_documents (project, environment, version, digest, envelope, \
         issued_at, expires_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(project)
    .bind(env)
    .bind(to_i64(version)?)
    .bind(&digest)
    .bind(&envelope)
    .bind(to_i64(def.issued_at)?)
    .bind(to_i64(def.expires_at)?)
    .bind(reason)
    .execute(&mut *w.conn())
    .await?;
    w.notify_catalogs.push((project.to_owned(), env.to_owned()));
    state.commit(w).await?;
    state.metrics().catalog_publishes.inc();
    Ok(Some(Published {
        project: project.to_owned(),
        environment: env.to_owned(),
        service: None,
        version,
        digest,
    }))
}

/// The newest stored (version, envelope) of an environment's catalog.
async fn latest_row(
    conn: &mut sqlx::AnyConnection,
    project: &str,
    env: &str,
) -> Result<Option<(u64, String)>, StateError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, envelope FROM catalog_documents WHERE project = $1 AND \
         environment = $2 ORDER BY version DESC LIMIT 1",
    )
    .bind(project)
    .bind(env)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(v, e)| Ok((to_u64(v)?, e))).transpose()
}

/// The catalog document inside a stored envelope.
pub(crate) fn document(envelope: &str) -> Result<CatalogDocumentDef, StateError> {
    let env: Envelope = from_json(envelope)?;
    let payload = STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| StateError::Corrupt(format!("stored catalog envelope payload: {e}")))?;
    serde_json::from_slice(&payload)
        .map_err(|e| StateError::Corrupt(format!("stored catalog document: {e}")))
}

/// The latest catalog document of an environment, ready to serve.
///
/// # Errors
/// [`StateError::Db`], [`StateError::Corrupt`].
pub(crate) async fn latest_catalog(
    pool: &sqlx::AnyPool,
    project: &str,
    env: &str,
) -> Result<Option<Arc<StoredSnapshot>>, StateError> {
    let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
        "SELECT version, digest, envelope, issued_at, expires_at FROM catalog_documents \
         WHERE project = $1 AND environment = $2 ORDER BY version DESC LIMIT 1",
    )
    .bind(project)
    .bind(env)
    .fetch_optional(pool)
    .await?;
    let Some((version, digest, envelope, issued, expires)) = row else {
        return Ok(None);
    };
    Ok(Some(Arc::new(StoredSnapshot {
        kind: DocumentKind::Catalog,
        project: project.to_owned(),
        environment: env.to_owned(),
        service: None,
        version: to_u64(version)?,
        digest,
        envelope: Arc::from(envelope),
        issued_at: to_u64(issued)?,
        expires_at: to_u64(expires)?,
        sse_event: std::sync::OnceLock::new(),
        client: None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burgee_core::CatalogHealth;

    fn inst(id: &str) -> CatalogInstanceDef {
        CatalogInstanceDef {
            id: id.into(),
            scheme: "http".into(),
            address: "10.0.0.1".into(),
            port: 80,
            weight: 100,
            health: CatalogHealth::Passing,
            zone: None,
            version: None,
            metadata: BTreeMap::new(),
        }
    }

    fn ids(v: &[CatalogInstanceDef]) -> Vec<&str> {
        v.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn protection_threshold() {
        let last = CatalogServiceDef {
            name: "s".into(),
            instances: ["a", "b", "c", "d"].map(inst).to_vec(),
        };
        let of = |ids: &[&str]| ids.iter().map(|i| inst(i)).collect::<Vec<_>>();
        // One of four critical (25 %): published without it.
        let one = protect(Some(&last), of(&["a", "b", "c"]), of(&["d"]), 5000);
        assert!(!one.protected);
        assert_eq!(ids(&one.instances), ["a", "b", "c"]);
        // Three of four critical (75 % > 50 %): every registered instance stays, the critical
        // ones as warning; a new healthy one joins.
        let most = protect(Some(&last), of(&["d", "e"]), of(&["a", "b", "c"]), 5000);
        assert!(most.protected);
        assert_eq!(ids(&most.instances), ["a", "b", "c", "d", "e"]);
        assert_eq!(most.instances[0].health, CatalogHealth::Warning);
        assert_eq!(most.instances[3].health, CatalogHealth::Passing);
        // Two of four published drop out at once (50 % > 40 %), though few are critical
        // overall: the two stay.
        let drop = protect(
            Some(&last),
            of(&["c", "d", "e", "f", "g"]),
            of(&["a", "b"]),
            4000,
        );
        assert!(drop.protected);
        assert_eq!(ids(&drop.instances), ["a", "b", "c", "d", "e", "f", "g"]);
        // Never empty because of health, whatever the threshold.
        let none = protect(Some(&last), Vec::new(), of(&["a", "b", "c", "d"]), 10_000);
        assert!(none.protected);
        assert_eq!(none.instances.len(), 4);
        // Deregistered or drained instances are not passed in: the service empties.
        let gone = protect(Some(&last), Vec::new(), Vec::new(), 5000);
        assert!(!gone.protected);
        assert!(gone.instances.is_empty());
    }
}
