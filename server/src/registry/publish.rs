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

/// The protection threshold (`threshold_bp`, basis points): when more than that share of the
/// instances last published for a service would drop out at once for health reasons (still
/// registered and not draining, but critical), or every one of them would, the last published
/// instances are kept (minus those deregistered or drained; plus new healthy ones).
pub(crate) fn protect(
    last: Option<&CatalogServiceDef>,
    healthy: Vec<CatalogInstanceDef>,
    registered: &BTreeSet<&str>,
    threshold_bp: u32,
) -> Held {
    let Some(last) = last.filter(|l| !l.instances.is_empty()) else {
        return Held {
            instances: healthy,
            protected: false,
        };
    };
    let healthy_ids: BTreeSet<&str> = healthy.iter().map(|i| i.id.as_str()).collect();
    let dropped = last
        .instances
        .iter()
        .filter(|i| !healthy_ids.contains(i.id.as_str()) && registered.contains(i.id.as_str()))
        .count();
    let share_exceeded =
        dropped as u64 * 10_000 > u64::from(threshold_bp) * last.instances.len() as u64;
    if dropped == 0 || !(share_exceeded || healthy.is_empty()) {
        return Held {
            instances: healthy,
            protected: false,
        };
    }
    let mut kept: BTreeMap<String, CatalogInstanceDef> = last
        .instances
        .iter()
        .filter(|i| registered.contains(i.id.as_str()))
        .map(|i| (i.id.clone(), i.clone()))
        .collect();
    for i in healthy {
        kept.insert(i.id.clone(), i);
    }
    Held {
        instances: kept.into_values().collect(),
        protected: true,
    }
}

/// The catalog instance of a stored registration, `None` when it is not published (critical
/// or draining).
fn published(s: &Stored) -> Option<CatalogInstanceDef> {
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
        health: i.status.published()?,
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
            let registered: BTreeSet<&str> = rows
                .iter()
                .filter(|r| !r.instance.draining)
                .map(|r| r.instance.id.as_str())
                .collect();
            let healthy = rows.iter().filter_map(|r| published(r)).collect();
            let last_service = last.and_then(|d| d.services.iter().find(|s| s.name == name));
            let held = protect(last_service, healthy, &registered, threshold_bp);
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
        let all: BTreeSet<&str> = ["a", "b", "c", "d"].into();
        // One of four (25 %) drops out: published as is.
        let one = protect(Some(&last), ["a", "b", "c"].map(inst).to_vec(), &all, 5000);
        assert!(!one.protected);
        assert_eq!(ids(&one.instances), ["a", "b", "c"]);
        // Three of four (75 % > 50 %): the last catalog is kept, and a new instance joins.
        let most = protect(Some(&last), ["d", "e"].map(inst).to_vec(), &all, 5000);
        assert!(most.protected);
        assert_eq!(ids(&most.instances), ["a", "b", "c", "d", "e"]);
        // Deregistered or drained instances leave even under protection (a and b drop out:
        // 50 % > 40 %; c was deregistered).
        let fewer: BTreeSet<&str> = ["a", "b", "d"].into();
        let held = protect(Some(&last), vec![inst("d")], &fewer, 4000);
        assert!(held.protected);
        assert_eq!(ids(&held.instances), ["a", "b", "d"]);
        // Never empty because of health, whatever the threshold.
        let none = protect(Some(&last), Vec::new(), &all, 10_000);
        assert!(none.protected);
        assert_eq!(none.instances.len(), 4);
        // Everything deregistered: the service empties.
        let gone = protect(Some(&last), Vec::new(), &BTreeSet::new(), 5000);
        assert!(!gone.protected);
        assert!(gone.instances.is_empty());
    }
}
