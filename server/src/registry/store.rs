//! The registry's SQL (SQLite and PostgreSQL through `sqlx::Any`): instances, their health
//! history and lease renewals.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AnyPool};

use super::model::{
    HealthCheck, HealthEvent, HealthStatus, Instance, InstanceInput, InstanceKind, ServiceSummary,
};
use crate::error::StateError;
use crate::store::rows::{from_json, to_json};
use crate::store::{to_i64, to_u64};

/// (project, environment, service, instance id).
pub(crate) type Scope<'a> = (&'a str, &'a str, &'a str, &'a str);

/// HealthStatus history kept per instance.
const HISTORY: i64 = 50;

const COLUMNS: &str = "project, environment, service, instance_id, kind, scheme, address, \
    port, weight, zone, version, metadata, lease_ms, check_spec, status, reason, checked_at, \
    successes, failures, draining, registered_at, renewed_at";

#[derive(sqlx::FromRow)]
struct Row {
    project: String,
    environment: String,
    service: String,
    instance_id: String,
    kind: String,
    scheme: String,
    address: String,
    port: i64,
    weight: i64,
    zone: Option<String>,
    version: Option<String>,
    metadata: String,
    lease_ms: i64,
    check_spec: Option<String>,
    status: String,
    reason: String,
    checked_at: Option<i64>,
    successes: i64,
    failures: i64,
    draining: i64,
    registered_at: i64,
    renewed_at: i64,
}

/// A stored instance plus what the health loop needs besides the API shape.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) instance: Instance,
    pub(crate) successes: u32,
    pub(crate) failures: u32,
}

fn convert(r: Row) -> Result<Stored, StateError> {
    let kind = match r.kind.as_str() {
        "persistent" => InstanceKind::Persistent,
        _ => InstanceKind::Ephemeral,
    };
    let status = HealthStatus::parse(&r.status)?;
    let check: Option<HealthCheck> = r.check_spec.as_deref().map(from_json).transpose()?;
    let metadata: BTreeMap<String, String> = from_json(&r.metadata)?;
    let port = u16::try_from(r.port)
        .map_err(|_| StateError::Corrupt(format!("stored port {} is out of range", r.port)))?;
    let weight = u32::try_from(r.weight)
        .map_err(|_| StateError::Corrupt(format!("stored weight {} is out of range", r.weight)))?;
    let lease_ms = to_u64(r.lease_ms)?;
    let renewed_at = to_u64(r.renewed_at)?;
    let draining = r.draining != 0;
    let def = burgee_core::CatalogInstanceDef {
        id: r.instance_id.clone(),
        scheme: r.scheme.clone(),
        address: r.address.clone(),
        port,
        weight,
        health: burgee_core::CatalogHealth::Passing,
        zone: None,
        version: None,
        metadata: BTreeMap::new(),
    };
    Ok(Stored {
        successes: u32::try_from(r.successes).unwrap_or(u32::MAX),
        failures: u32::try_from(r.failures).unwrap_or(u32::MAX),
        instance: Instance {
            project: r.project,
            environment: r.environment,
            service: r.service,
            id: r.instance_id,
            kind,
            url: def.url(),
            scheme: r.scheme,
            address: r.address,
            port,
            weight,
            zone: r.zone,
            version: r.version,
            metadata,
            lease_ms,
            check,
            status,
            reason: r.reason,
            checked_at: r.checked_at.map(to_u64).transpose()?,
            draining,
            registered_at: to_u64(r.registered_at)?,
            renewed_at,
            lease_expires_at: (kind == InstanceKind::Ephemeral)
                .then(|| renewed_at.saturating_add(lease_ms)),
            in_catalog: !draining && status != HealthStatus::Critical,
        },
    })
}

/// One instance.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    (project, env, service, id): Scope<'_>,
) -> Result<Option<Stored>, StateError> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registry_instances WHERE project = $1 AND environment = $2 \
         AND service = $3 AND instance_id = $4"
    )))
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(convert).transpose()
}

/// The instances of an environment (of one service if given; of every environment with
/// `None, None`), by service and id.
pub(crate) async fn list(
    pool: &AnyPool,
    scope: Option<(&str, &str)>,
    service: Option<&str>,
) -> Result<Vec<Stored>, StateError> {
    let rows: Vec<Row> = match (scope, service) {
        (Some((p, e)), Some(s)) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM registry_instances WHERE project = $1 AND \
                 environment = $2 AND service = $3 ORDER BY service, instance_id"
            )))
            .bind(p)
            .bind(e)
            .bind(s)
            .fetch_all(pool)
            .await?
        }
        (Some((p, e)), None) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM registry_instances WHERE project = $1 AND \
                 environment = $2 ORDER BY service, instance_id"
            )))
            .bind(p)
            .bind(e)
            .fetch_all(pool)
            .await?
        }
        _ => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM registry_instances \
                 ORDER BY project, environment, service, instance_id"
            )))
            .fetch_all(pool)
            .await?
        }
    };
    rows.into_iter().map(convert).collect()
}

/// Inserts or replaces a registration; health, history and draining are kept on a
/// re-registration (an instance without a check is passing again: it just proved alive).
/// Returns whether it was new.
pub(crate) async fn upsert(
    conn: &mut AnyConnection,
    scope: Scope<'_>,
    input: &InstanceInput,
    lease_ms: u64,
    now: u64,
) -> Result<bool, StateError> {
    let (project, env, service, id) = scope;
    let existing = get(conn, scope).await?;
    let check = input.check.as_ref().map(to_json).transpose()?;
    let metadata = to_json(&input.metadata)?;
    let (status, reason) = match (&existing, &input.check) {
        (Some(e), Some(_)) => (e.instance.status, e.instance.reason.clone()),
        (_, Some(_)) => (HealthStatus::Critical, "not checked yet".to_owned()),
        (_, None) => (HealthStatus::Passing, "registered".to_owned()),
    };
    if existing.is_some() {
        sqlx::query(
            "UPDATE registry_instances SET kind = $5, scheme = $6, address = $7, port = $8, \
             weight = $9, zone = $10, version = $11, metadata = $12, lease_ms = $13, \
             check_spec = $14, status = $15, reason = $16, renewed_at = $17, updated_at = $17 \
             WHERE project = $1 AND environment = $2 AND service = $3 AND instance_id = $4",
        )
        .bind(project)
        .bind(env)
        .bind(service)
        .bind(id)
        .bind(input.kind.as_str())
        .bind(&input.scheme)
        .bind(&input.address)
        .bind(i64::from(input.port))
        .bind(i64::from(input.weight))
        .bind(&input.zone)
        .bind(&input.version)
        .bind(metadata)
        .bind(to_i64(lease_ms)?)
        .bind(check)
        .bind(status.as_str())
        .bind(&reason)
        .bind(to_i64(now)?)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO registry_instances ({COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, 0, 0, 0, $17, $17, $17)"
        )))
        .bind(project)
        .bind(env)
        .bind(service)
        .bind(id)
        .bind(input.kind.as_str())
        .bind(&input.scheme)
        .bind(&input.address)
        .bind(i64::from(input.port))
        .bind(i64::from(input.weight))
        .bind(&input.zone)
        .bind(&input.version)
        .bind(metadata)
        .bind(to_i64(lease_ms)?)
        .bind(check)
        .bind(status.as_str())
        .bind(&reason)
        .bind(to_i64(now)?)
        .execute(&mut *conn)
        .await?;
    }
    if existing
        .as_ref()
        .is_none_or(|e| e.instance.status != status)
    {
        record_history(conn, scope, now, status, &reason).await?;
    }
    Ok(existing.is_none())
}

/// Removes an instance and its history; whether it existed.
pub(crate) async fn delete(conn: &mut AnyConnection, scope: Scope<'_>) -> Result<bool, StateError> {
    let (project, env, service, id) = scope;
    for table in ["registry_health_history", "registry_instances"] {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE project = $1 AND environment = $2 AND service = $3 \
             AND instance_id = $4"
        )))
        .bind(project)
        .bind(env)
        .bind(service)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if table == "registry_instances" {
            return Ok(done.rows_affected() > 0);
        }
    }
    Ok(false)
}

/// Sets weight and/or draining.
pub(crate) async fn patch(
    conn: &mut AnyConnection,
    (project, env, service, id): Scope<'_>,
    weight: Option<u32>,
    draining: Option<bool>,
    now: u64,
) -> Result<(), StateError> {
    sqlx::query(
        "UPDATE registry_instances SET weight = COALESCE($5, weight), \
         draining = COALESCE($6, draining), updated_at = $7 WHERE project = $1 AND \
         environment = $2 AND service = $3 AND instance_id = $4",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .bind(weight.map(i64::from))
    .bind(draining.map(i64::from))
    .bind(to_i64(now)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The outcome of a health evaluation to store.
pub(crate) struct StatusUpdate<'a> {
    pub(crate) status: HealthStatus,
    pub(crate) reason: &'a str,
    pub(crate) checked_at: Option<u64>,
    pub(crate) successes: u32,
    pub(crate) failures: u32,
}

/// Stores a health evaluation; a status change goes to the history too.
pub(crate) async fn set_status(
    conn: &mut AnyConnection,
    scope: Scope<'_>,
    previous: HealthStatus,
    u: &StatusUpdate<'_>,
    now: u64,
) -> Result<(), StateError> {
    let (project, env, service, id) = scope;
    sqlx::query(
        "UPDATE registry_instances SET status = $5, reason = $6, \
         checked_at = COALESCE($7, checked_at), successes = $8, failures = $9, updated_at = $10 \
         WHERE project = $1 AND environment = $2 AND service = $3 AND instance_id = $4",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .bind(u.status.as_str())
    .bind(u.reason)
    .bind(u.checked_at.map(to_i64).transpose()?)
    .bind(i64::from(u.successes))
    .bind(i64::from(u.failures))
    .bind(to_i64(now)?)
    .execute(&mut *conn)
    .await?;
    if previous != u.status {
        record_history(conn, scope, now, u.status, u.reason).await?;
    }
    Ok(())
}

async fn record_history(
    conn: &mut AnyConnection,
    (project, env, service, id): Scope<'_>,
    at: u64,
    status: HealthStatus,
    reason: &str,
) -> Result<(), StateError> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM registry_health_history WHERE project = $1 AND environment = $2 \
         AND service = $3 AND instance_id = $4",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let seq = last.unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO registry_health_history (project, environment, service, instance_id, seq, \
         at, status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .bind(seq)
    .bind(to_i64(at)?)
    .bind(status.as_str())
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM registry_health_history WHERE project = $1 AND environment = $2 AND \
         service = $3 AND instance_id = $4 AND seq <= $5",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .bind(seq - HISTORY)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest status changes of an instance, newest first.
pub(crate) async fn history(
    pool: &AnyPool,
    (project, env, service, id): Scope<'_>,
) -> Result<Vec<HealthEvent>, StateError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT at, status, reason FROM registry_health_history WHERE project = $1 AND \
         environment = $2 AND service = $3 AND instance_id = $4 ORDER BY seq DESC",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(at, status, reason)| {
            Ok(HealthEvent {
                at: to_u64(at)?,
                status: HealthStatus::parse(&status)?,
                reason,
            })
        })
        .collect()
}

/// Renews leases: each instance's `renewed_at` moves forward to the time given (never back).
/// Returns the keys of instances that are not registered (any more).
pub(crate) async fn renew(
    pool: &AnyPool,
    renewals: &[(super::leases::Key, u64)],
) -> Result<Vec<super::leases::Key>, StateError> {
    let mut missing = Vec::new();
    let mut tx = pool.begin().await?;
    for (key, at) in renewals {
        let (project, env, service, id) = key;
        let done = sqlx::query(
            "UPDATE registry_instances SET renewed_at = CASE WHEN renewed_at < $5 THEN $5 \
             ELSE renewed_at END WHERE project = $1 AND environment = $2 AND service = $3 \
             AND instance_id = $4",
        )
        .bind(project)
        .bind(env)
        .bind(service)
        .bind(id)
        .bind(to_i64(*at)?)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            missing.push(key.clone());
        }
    }
    tx.commit().await?;
    Ok(missing)
}

/// Instance counts per service of an environment, by name.
pub(crate) fn summaries(instances: &[Stored]) -> Vec<ServiceSummary> {
    let mut out: BTreeMap<&str, ServiceSummary> = BTreeMap::new();
    for s in instances {
        let i = &s.instance;
        let e = out.entry(&i.service).or_insert_with(|| ServiceSummary {
            name: i.service.clone(),
            instances: 0,
            passing: 0,
            warning: 0,
            critical: 0,
            draining: 0,
        });
        e.instances += 1;
        match i.status {
            HealthStatus::Passing => e.passing += 1,
            HealthStatus::Warning => e.warning += 1,
            HealthStatus::Critical => e.critical += 1,
        }
        if i.draining {
            e.draining += 1;
        }
    }
    out.into_values().collect()
}
