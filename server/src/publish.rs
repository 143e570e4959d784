//! Publishing: build the snapshot of an environment, compile it with the core, sign it
//! (server and client envelopes), refuse what SDKs would refuse, store it.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::model::{Audience, FlagDef, SNAPSHOT_FORMAT, SnapshotDef};
use burgee_core::{
    DEFAULT_MAX_ENVELOPE_BYTES, Envelope, SNAPSHOT_PAYLOAD_TYPE, Snapshot, client_view,
    payload_digest, sign_envelope,
};

use crate::error::StateError;
use crate::keys::{self};
use crate::model::{Published, Targeting, flag_def};
use crate::notify::outbox::{self, ChangeEvent};
use crate::store::rows::{
    from_json, load_flag_rows, load_segments, load_targeting, require_env, to_json,
};
use crate::store::{Writer, to_i64, to_u64};

/// The signed envelope (DSSE, `payload_type`) of `payload` by every key `key_name` signs with (active first); the
/// active key may come from the variable `env_var` ([`keys::key_env_var`]).
pub(crate) fn sign_all(
    keys_dir: &Path,
    key_name: &str,
    env_var: &str,
    payload_type: &str,
    payload: &[u8],
) -> Result<Envelope, StateError> {
    let keys = keys::signing_keys(keys_dir, key_name, env_var)?;
    let mut envelope = sign_envelope(payload_type, payload, &keys.active);
    for key in &keys.previous {
        envelope
            .signatures
            .extend(sign_envelope(payload_type, payload, key).signatures);
    }
    Ok(envelope)
}

/// Refuses an envelope (its JSON text, exactly as stored and served) that SDKs would refuse
/// with their default options: larger than [`DEFAULT_MAX_ENVELOPE_BYTES`] (8 MiB).
/// `audience` names the envelope in the error: `server` or `client`.
///
/// # Errors
/// [`StateError::EnvelopeTooLarge`] with the size and the limit, in bytes.
pub(crate) fn check_envelope_size(
    project: &str,
    env: &str,
    audience: &'static str,
    envelope: &str,
) -> Result<(), StateError> {
    if envelope.len() > DEFAULT_MAX_ENVELOPE_BYTES {
        return Err(StateError::EnvelopeTooLarge {
            project: project.to_owned(),
            environment: env.to_owned(),
            audience,
            size: envelope.len(),
            limit: DEFAULT_MAX_ENVELOPE_BYTES,
        });
    }
    Ok(())
}

/// Builds, validates, signs and stores a new snapshot of `project/env` from the current
/// authoring state, inside `w`, with the client snapshot signed next to it.
///
/// # Errors
/// [`StateError::Invalid`] when the core refuses the snapshot, and
/// [`StateError::EnvelopeTooLarge`] when the server or the client envelope would exceed
/// [`DEFAULT_MAX_ENVELOPE_BYTES`] (in both cases nothing is stored: the caller drops the
/// transaction), [`StateError::NotFound`], [`StateError::Key`], [`StateError::Db`].
#[allow(clippy::too_many_arguments)] // the write's context: transaction, keys, TTL, time, actor
pub(crate) async fn publish_env(
    w: &mut Writer,
    keys_dir: &Path,
    ttl_ms: u64,
    now: u64,
    project: &str,
    env: &str,
    actor: &str,
    reason: &str,
) -> Result<Published, StateError> {
    let conn = w.conn();
    let row = require_env(conn, project, env).await?;
    let flags = load_flag_rows(conn, project, None).await?;
    let targeting = load_targeting(conn, project).await?;
    let segments = load_segments(conn, project, env).await?;
    let flag_defs: Vec<FlagDef> = flags
        .iter()
        .map(|f| {
            let t = targeting
                .get(&(env.to_owned(), f.key.clone()))
                .map_or_else(|| Targeting::initial(&f.spec), |t| t.targeting.clone());
            flag_def(&f.key, &f.spec, &t)
        })
        .collect();
    let previous: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, envelope FROM snapshots WHERE project = $1 AND environment = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(project)
    .bind(env)
    .fetch_optional(&mut *conn)
    .await?;
    let old_version = previous.as_ref().map(|p| to_u64(p.0)).transpose()?;
    let version = old_version.unwrap_or(0) + 1;
    let expires_at = now
        .checked_add(ttl_ms)
        .ok_or_else(|| StateError::Corrupt("snapshot expiry overflows".into()))?;
    let def = SnapshotDef {
        format: SNAPSHOT_FORMAT,
        project: project.to_owned(),
        environment: env.to_owned(),
        version,
        issued_at: now,
        expires_at,
        salt: row.salt.clone(),
        audience: Audience::Server,
        flags: flag_defs,
        segments: segments.into_iter().map(|s| s.definition).collect(),
    };
    Snapshot::compile(&def, None).map_err(StateError::Invalid)?;
    let client_def = client_view(&def).map_err(StateError::Invalid)?;
    Snapshot::compile(&client_def, None).map_err(StateError::Invalid)?;
    let sign = |def: &SnapshotDef| -> Result<(String, String), StateError> {
        let payload = serde_json::to_vec(def)
            .map_err(|e| StateError::Corrupt(format!("serializing snapshot: {e}")))?;
        let env_var = keys::key_env_var(project, env);
        let envelope = to_json(&sign_all(
            keys_dir,
            &row.key_name,
            &env_var,
            SNAPSHOT_PAYLOAD_TYPE,
            &payload,
        )?)?;
        Ok((payload_digest(&payload), envelope))
    };
    let (digest, envelope) = sign(&def)?;
    check_envelope_size(project, env, "server", &envelope)?;
    let (client_digest, client_envelope) = sign(&client_def)?;
    check_envelope_size(project, env, "client", &client_envelope)?;
    sqlx::query(
        "INSERT INTO snapshots (project, environment, version, digest, envelope, issued_at, \
         expires_at, published_by, reason, client_digest, client_envelope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(project)
    .bind(env)
    .bind(to_i64(version)?)
    .bind(&digest)
    .bind(envelope)
    .bind(to_i64(now)?)
    .bind(to_i64(expires_at)?)
    .bind(actor)
    .bind(reason)
    .bind(client_digest)
    .bind(client_envelope)
    .execute(&mut *conn)
    .await?;
    // An unreadable previous snapshot (it is being replaced) counts every key as changed.
    let before = previous.and_then(|(_, e)| envelope_document(&e).ok());
    let event = ChangeEvent {
        id: format!("flags/{project}/{env}/{version}"),
        kind: "flags".into(),
        project: project.to_owned(),
        environment: env.to_owned(),
        service: None,
        changed_keys: changed_keys(before.as_ref(), &def),
        old_version,
        new_version: version,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        at: now,
    };
    outbox::record(conn, &event).await?;
    w.notify.push((project.to_owned(), env.to_owned()));
    Ok(Published {
        project: project.to_owned(),
        environment: env.to_owned(),
        service: None,
        version,
        digest,
    })
}

/// Flag keys and `segment:<key>` keys whose definition differs between two snapshots,
/// sorted (every key when there is no previous snapshot).
fn changed_keys(before: Option<&SnapshotDef>, after: &SnapshotDef) -> Vec<String> {
    let index = |d: &SnapshotDef| -> BTreeMap<String, serde_json::Value> {
        let flags = d
            .flags
            .iter()
            .map(|f| (f.key.clone(), serde_json::to_value(f).unwrap_or_default()));
        let segments = d.segments.iter().map(|s| {
            (
                format!("segment:{}", s.key),
                serde_json::to_value(s).unwrap_or_default(),
            )
        });
        flags.chain(segments).collect()
    };
    let old = before.map(index).unwrap_or_default();
    let new = index(after);
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Decodes the snapshot document inside a stored envelope.
pub(crate) fn envelope_document(envelope: &str) -> Result<SnapshotDef, StateError> {
    let env: Envelope = from_json(envelope)?;
    let payload = STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| StateError::Corrupt(format!("stored envelope payload: {e}")))?;
    serde_json::from_slice(&payload)
        .map_err(|e| StateError::Corrupt(format!("stored snapshot document: {e}")))
}
