//! Published versions: listing, diff and rollback.

use std::collections::BTreeMap;

use burgee_core::model::{FlagDef, SegmentDef, SnapshotDef};
use serde::Serialize;

use crate::distribution::StoredSnapshot;
use crate::error::StateError;
use crate::model::{Change, Diff, Targeting, VersionInfo, Written};
use crate::publish::envelope_document;
use crate::service::AppState;
use crate::store::rows::{
    clamp_i64, load_flag_rows, load_targeting, require_env, upsert_segment, upsert_targeting,
};
use crate::store::to_i64;

/// Top-level JSON fields in which two serialisable values differ.
pub(crate) fn changed_fields<T: Serialize>(a: &T, b: &T) -> Result<Vec<String>, StateError> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
        serde_json::to_value(a).map_err(|e| StateError::Corrupt(e.to_string()))?,
        serde_json::to_value(b).map_err(|e| StateError::Corrupt(e.to_string()))?,
    ) else {
        return Ok(Vec::new());
    };
    let mut fields: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    fields.sort();
    fields.dedup();
    Ok(fields)
}

pub(crate) fn diff_items<T: Serialize>(
    kind: &str,
    old: &[(String, T)],
    new: &[(String, T)],
    out: &mut Vec<Change>,
) -> Result<(), StateError> {
    let old_map: BTreeMap<&str, &T> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new_map: BTreeMap<&str, &T> = new.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (key, a) in &old_map {
        match new_map.get(key) {
            None => out.push(Change {
                kind: kind.into(),
                key: (*key).to_owned(),
                change: "removed".into(),
                fields: Vec::new(),
            }),
            Some(b) => {
                let fields = changed_fields(a, b)?;
                if !fields.is_empty() {
                    out.push(Change {
                        kind: kind.into(),
                        key: (*key).to_owned(),
                        change: "changed".into(),
                        fields,
                    });
                }
            }
        }
    }
    for key in new_map.keys().filter(|k| !old_map.contains_key(*k)) {
        out.push(Change {
            kind: kind.into(),
            key: (*key).to_owned(),
            change: "added".into(),
            fields: Vec::new(),
        });
    }
    Ok(())
}

impl AppState {
    /// Published versions of an environment, newest first: at most `limit`, below `before`
    /// when given.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn versions(
        &self,
        project: &str,
        env: &str,
        before: Option<u64>,
        limit: u64,
    ) -> Result<Vec<VersionInfo>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        Ok(sqlx::query_as(
            "SELECT version, digest, issued_at, expires_at, published_by, reason FROM snapshots \
             WHERE project = $1 AND environment = $2 AND version < $3 \
             ORDER BY version DESC LIMIT $4",
        )
        .bind(project)
        .bind(env)
        .bind(clamp_i64(before.unwrap_or(u64::MAX)))
        .bind(to_i64(limit)?)
        .fetch_all(&mut *conn)
        .await?)
    }

    /// One stored version (its envelope exactly as it was served).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn version(
        &self,
        project: &str,
        env: &str,
        version: u64,
    ) -> Result<StoredSnapshot, StateError> {
        let row: Option<StoredSnapshot> = sqlx::query_as(
            "SELECT project, environment, version, digest, envelope, issued_at, expires_at, \
             client_digest, client_envelope FROM snapshots \
             WHERE project = $1 AND environment = $2 AND version = $3",
        )
        .bind(project)
        .bind(env)
        .bind(clamp_i64(version))
        .fetch_optional(&self.inner.store.pool)
        .await?;
        row.ok_or_else(|| {
            StateError::NotFound(format!(
                "environment \"{project}/{env}\" has no version {version}"
            ))
        })
    }

    /// Which flags and segments differ between two versions, and in which fields.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Corrupt`].
    pub async fn diff(
        &self,
        project: &str,
        env: &str,
        from: u64,
        to: u64,
    ) -> Result<Diff, StateError> {
        let a = envelope_document(&self.version(project, env, from).await?.envelope)?;
        let b = envelope_document(&self.version(project, env, to).await?.envelope)?;
        let mut changes = Vec::new();
        let flags = |d: &SnapshotDef| -> Vec<(String, FlagDef)> {
            d.flags.iter().map(|f| (f.key.clone(), f.clone())).collect()
        };
        let segments = |d: &SnapshotDef| -> Vec<(String, SegmentDef)> {
            d.segments
                .iter()
                .map(|s| (s.key.clone(), s.clone()))
                .collect()
        };
        diff_items("flag", &flags(&a), &flags(&b), &mut changes)?;
        diff_items("segment", &segments(&a), &segments(&b), &mut changes)?;
        Ok(Diff { from, to, changes })
    }

    /// Rolls an environment back to version `to`: its targeting and segments are restored
    /// from that version and published as a new version. Flags created since then are
    /// switched off in this environment; project-wide definitions (variants, metadata) stay
    /// current.
    ///
    /// # Errors
    /// [`StateError::NotFound`]; [`StateError::Conflict`] if a flag of that version no longer
    /// exists or has another type or other variants now; [`StateError::Invalid`].
    pub async fn rollback(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        to: u64,
    ) -> Result<Written<VersionInfo>, StateError> {
        let old = envelope_document(&self.version(project, env, to).await?.envelope)?;
        let published = self
            .write(actor, async |tx| {
                require_env(tx.conn(), project, env).await?;
                let current = load_flag_rows(tx.conn(), project, None).await?;
                let now = tx.now;
                let now_db = to_i64(now)?;
                for def in &old.flags {
                    let Some(row) = current.iter().find(|f| f.key == def.key) else {
                        return Err(StateError::Conflict(format!(
                            "flag \"{}\" of version {to} no longer exists; recreate it first",
                            def.key
                        )));
                    };
                    if row.spec.value_type != def.value_type || row.spec.variants != def.variants {
                        return Err(StateError::Conflict(format!(
                            "flag \"{}\" has another type or other variants than in version {to}",
                            def.key
                        )));
                    }
                    upsert_targeting(
                        tx.conn(),
                        project,
                        env,
                        &def.key,
                        &Targeting::from_def(def),
                        now_db,
                    )
                    .await?;
                }
                let targeting = load_targeting(tx.conn(), project).await?;
                for row in current
                    .iter()
                    .filter(|f| !old.flags.iter().any(|d| d.key == f.key))
                {
                    let mut t = targeting
                        .get(&(env.to_owned(), row.key.clone()))
                        .map_or_else(|| Targeting::initial(&row.spec), |t| t.targeting.clone());
                    t.enabled = false;
                    upsert_targeting(tx.conn(), project, env, &row.key, &t, now_db).await?;
                }
                sqlx::query("DELETE FROM segments WHERE project = $1 AND environment = $2")
                    .bind(project)
                    .bind(env)
                    .execute(tx.conn())
                    .await?;
                for seg in &old.segments {
                    upsert_segment(tx.conn(), project, env, seg, now_db).await?;
                }
                let published = tx
                    .publish(project, env, &format!("rollback to {to}"))
                    .await?;
                tx.audit(
                    "rollback",
                    (Some(project), Some(env)),
                    &format!("environment:{env}"),
                    None,
                    Some(format!(
                        "{{\"to\":{to},\"published\":{}}}",
                        published.version
                    )),
                )
                .await?;
                Ok(published)
            })
            .await?;
        let info = self
            .versions(project, env, Some(published.version + 1), 1)
            .await?
            .into_iter()
            .next();
        Ok(Written {
            item: info,
            published: vec![published],
        })
    }
}
