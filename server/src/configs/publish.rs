//! Publishing a config document: build it from the stored entries, compile it with the core
//! (what SDKs would refuse is refused here), sign the document with secrets and the one
//! without, store both (sealed when secrets are inside), and record the change event.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::model::Condition;
use burgee_core::{
    CONFIG_PAYLOAD_TYPE, ConfigDocument, ConfigDocumentDef, ConfigEntryDef, ConfigOverrideDef,
    Envelope, LoadError, payload_digest,
};

use crate::configs::secrets::{SEALED_PREFIX, SecretBox};
use crate::configs::store::{self, open};
use crate::distribution::{DocumentKind, StoredSnapshot};
use crate::error::StateError;
use crate::keys;
use crate::model::Published;
use crate::notify::outbox::{self, ChangeEvent};
use crate::publish::{check_envelope_size, sign_all};
use crate::store::rows::{from_json, require_env, to_json};
use crate::store::{Writer, to_i64, to_u64};

/// Format of config documents this server writes.
const CONFIG_FORMAT: u32 = burgee_core::config::CONFIG_FORMAT;

/// What a config publish needs besides the transaction.
pub(crate) struct PublishContext<'a> {
    pub(crate) keys_dir: &'a std::path::Path,
    pub(crate) secrets: &'a SecretBox,
    pub(crate) ttl_ms: u64,
    pub(crate) now: u64,
    pub(crate) actor: &'a str,
}

/// Publishes a new config document of (project, env, service) from its current entries
/// (`scope`), inside `w`; records the change event in the outbox.
///
/// # Errors
/// 422 (`StateError::Refused`, `CONFIG_INVALID`) when the core refuses the document (e.g. an
/// override condition), [`StateError::EnvelopeTooLarge`], [`StateError::NotFound`] for an
/// unknown environment, [`StateError::Key`], [`StateError::Db`].
pub(crate) async fn publish_config(
    w: &mut Writer,
    cx: &PublishContext<'_>,
    scope: (&str, &str, &str),
    reason: &str,
) -> Result<Published, StateError> {
    let (project, env, service) = scope;
    let conn = w.conn();
    let row = require_env(conn, project, env).await?;
    let mut entries = Vec::new();
    for (key, sealed, meta) in store::entries(conn, scope, None).await? {
        let e = open(cx.secrets, sealed)?;
        let overrides = e
            .overrides
            .iter()
            .enumerate()
            .map(|(i, o)| {
                Ok(ConfigOverrideDef {
                    id: o.id.clone(),
                    when: o
                        .when
                        .clone()
                        .map(serde_json::from_value::<Condition>)
                        .transpose()
                        .map_err(|err| {
                            StateError::Corrupt(format!(
                                "stored override {i} of \"{key}\" has a bad condition: {err}"
                            ))
                        })?,
                    percentage: o.percentage,
                    raw: o.raw.clone(),
                    value: o.value.clone(),
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        entries.push(ConfigEntryDef {
            key,
            format: e.format.into(),
            raw: e.raw,
            value: e.value,
            revision: meta.revision,
            secret: e.secret,
            overrides,
        });
    }
    let previous = latest_row(conn, scope).await?;
    let version = previous.as_ref().map_or(0, |p| p.0) + 1;
    let expires_at = cx
        .now
        .checked_add(cx.ttl_ms)
        .ok_or_else(|| StateError::Corrupt("config document expiry overflows".into()))?;
    let def = ConfigDocumentDef {
        format: CONFIG_FORMAT,
        project: project.to_owned(),
        environment: env.to_owned(),
        service: service.to_owned(),
        version,
        issued_at: cx.now,
        expires_at,
        salt: row.salt.clone(),
        secrets: true,
        entries,
    };
    let client_def = ConfigDocumentDef {
        secrets: false,
        entries: def.entries.iter().filter(|e| !e.secret).cloned().collect(),
        ..def.clone()
    };
    ConfigDocument::compile(&def, None).map_err(refused)?;
    let has_secrets = def.entries.iter().any(|e| e.secret);
    let sign = |def: &ConfigDocumentDef| -> Result<(String, String), StateError> {
        let payload = serde_json::to_vec(def)
            .map_err(|e| StateError::Corrupt(format!("serializing config document: {e}")))?;
        let env_var = keys::key_env_var(project, env);
        let envelope = sign_all(
            cx.keys_dir,
            &row.key_name,
            &env_var,
            CONFIG_PAYLOAD_TYPE,
            &payload,
        )?;
        Ok((payload_digest(&payload), to_json(&envelope)?))
    };
    let (digest, envelope) = sign(&def)?;
    check_envelope_size(project, env, "config", &envelope)?;
    let (client_digest, client_envelope) = sign(&client_def)?;
    let stored_envelope = if has_secrets {
        cx.secrets.seal(&envelope)?
    } else {
        envelope
    };
    sqlx::query(
        "INSERT INTO config_documents (project, environment, service, version, digest, \
         envelope, client_digest, client_envelope, issued_at, expires_at, published_by, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .bind(to_i64(version)?)
    .bind(&digest)
    .bind(stored_envelope)
    .bind(client_digest)
    .bind(client_envelope)
    .bind(to_i64(cx.now)?)
    .bind(to_i64(expires_at)?)
    .bind(cx.actor)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let before = match &previous {
        Some((_, envelope)) => Some(document(cx.secrets, envelope)?),
        None => None,
    };
    let event = ChangeEvent {
        id: format!("config/{project}/{env}/{service}/{version}"),
        kind: "config".into(),
        project: project.to_owned(),
        environment: env.to_owned(),
        service: Some(service.to_owned()),
        changed_keys: changed_keys(before.as_ref(), &def),
        old_version: previous.map(|p| p.0),
        new_version: version,
        actor: cx.actor.to_owned(),
        reason: reason.to_owned(),
        at: cx.now,
    };
    outbox::record(conn, &event).await?;
    w.notify_configs
        .push((project.to_owned(), env.to_owned(), service.to_owned()));
    Ok(Published {
        project: project.to_owned(),
        environment: env.to_owned(),
        service: Some(service.to_owned()),
        version,
        digest,
    })
}

/// A core refusal of a document as a 422 `CONFIG_INVALID` naming the entry.
fn refused(e: LoadError) -> StateError {
    let field = match &e {
        LoadError::Invalid { path, .. } => Some(path.clone()),
        _ => None,
    };
    StateError::Refused {
        code: crate::error::ApiCode::ConfigInvalid,
        field,
        message: e.to_string(),
    }
}

/// Entry keys added, removed or at another revision between two documents, sorted.
fn changed_keys(before: Option<&ConfigDocumentDef>, after: &ConfigDocumentDef) -> Vec<String> {
    let revisions = |d: &ConfigDocumentDef| -> std::collections::BTreeMap<String, u64> {
        d.entries
            .iter()
            .map(|e| (e.key.clone(), e.revision))
            .collect()
    };
    let old = before.map(revisions).unwrap_or_default();
    let new = revisions(after);
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

/// The newest stored (version, server envelope as stored) of a scope.
async fn latest_row(
    conn: &mut sqlx::AnyConnection,
    scope: (&str, &str, &str),
) -> Result<Option<(u64, String)>, StateError> {
    let (project, env, service) = scope;
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, envelope FROM config_documents WHERE project = $1 AND environment = $2 \
         AND service = $3 ORDER BY version DESC LIMIT 1",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(v, e)| Ok((to_u64(v)?, e))).transpose()
}

/// The envelope text of a stored (maybe sealed) envelope.
fn unsealed(secrets: &SecretBox, stored: &str) -> Result<String, StateError> {
    if stored.starts_with(SEALED_PREFIX) {
        secrets.open_sealed(stored)
    } else {
        Ok(stored.to_owned())
    }
}

/// The document inside a stored envelope.
fn document(secrets: &SecretBox, stored: &str) -> Result<ConfigDocumentDef, StateError> {
    let env: Envelope = from_json(&unsealed(secrets, stored)?)?;
    let payload = STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| StateError::Corrupt(format!("stored config envelope payload: {e}")))?;
    serde_json::from_slice(&payload)
        .map_err(|e| StateError::Corrupt(format!("stored config document: {e}")))
}

/// The latest config document of a scope, both variants, ready to serve.
///
/// # Errors
/// [`StateError::Db`], [`StateError::Corrupt`] (e.g. a sealed envelope that does not open).
pub(crate) async fn latest_document(
    pool: &sqlx::AnyPool,
    secrets: &SecretBox,
    scope: (&str, &str, &str),
) -> Result<Option<Arc<StoredSnapshot>>, StateError> {
    let (project, env, service) = scope;
    type Row = (i64, String, String, String, String, i64, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT version, digest, envelope, client_digest, client_envelope, issued_at, \
         expires_at FROM config_documents WHERE project = $1 AND environment = $2 \
         AND service = $3 ORDER BY version DESC LIMIT 1",
    )
    .bind(project)
    .bind(env)
    .bind(service)
    .fetch_optional(pool)
    .await?;
    let Some((version, digest, envelope, client_digest, client_envelope, issued, expires)) = row
    else {
        return Ok(None);
    };
    let make = |digest: String, envelope: String, client: Option<Arc<StoredSnapshot>>| {
        Ok::<_, StateError>(Arc::new(StoredSnapshot {
            kind: DocumentKind::Config,
            project: project.to_owned(),
            environment: env.to_owned(),
            service: Some(service.to_owned()),
            version: to_u64(version)?,
            digest,
            envelope: Arc::from(envelope),
            issued_at: to_u64(issued)?,
            expires_at: to_u64(expires)?,
            sse_event: std::sync::OnceLock::new(),
            client,
        }))
    };
    let client = make(client_digest, client_envelope, None)?;
    Ok(Some(make(
        digest,
        unsealed(secrets, &envelope)?,
        Some(client),
    )?))
}
