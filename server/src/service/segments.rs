//! Segments of an environment.

use burgee_core::model::SegmentDef;

use crate::error::StateError;
use crate::model::{Segment, Written};
use crate::service::AppState;
use crate::service::write::Tx;
use crate::store::rows::{load_segments, require_env, to_json, upsert_segment};
use crate::store::to_i64;
use crate::validate::{check_name, check_revision};

impl AppState {
    /// The segments of one environment, sorted by key.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn segments(&self, project: &str, env: &str) -> Result<Vec<Segment>, StateError> {
        let mut conn = self.inner.store.pool.acquire().await?;
        require_env(&mut conn, project, env).await?;
        load_segments(&mut conn, project, env).await
    }

    /// One segment.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`].
    pub async fn segment(
        &self,
        project: &str,
        env: &str,
        key: &str,
    ) -> Result<Segment, StateError> {
        self.segments(project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == key)
            .ok_or_else(|| {
                StateError::NotFound(format!(
                    "environment \"{project}/{env}\" has no segment \"{key}\""
                ))
            })
    }

    /// Creates (`create` = true: refuses an existing key) or replaces a segment and
    /// publishes the environment.
    ///
    /// # Errors
    /// [`StateError::Field`], [`StateError::Conflict`], [`StateError::NotFound`],
    /// [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn put_segment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        def: &SegmentDef,
        create: bool,
        expected: Option<u64>,
    ) -> Result<Written<Segment>, StateError> {
        self.write(actor, async |tx| {
            let after = self
                .put_segment_in(tx, project, env, def, create, expected)
                .await?;
            let action = if create {
                "segment.create"
            } else {
                "segment.update"
            };
            let published = tx
                .publish(project, env, &format!("{action} {}", def.key))
                .await?;
            Ok(Written {
                item: after,
                published: vec![published],
            })
        })
        .await
    }

    /// [`AppState::put_segment`] inside a write, without publishing (the caller publishes):
    /// validates, stores and audits; returns the segment as stored.
    ///
    /// # Errors
    /// As [`AppState::put_segment`].
    pub(crate) async fn put_segment_in(
        &self,
        tx: &mut Tx<'_>,
        project: &str,
        env: &str,
        def: &SegmentDef,
        create: bool,
        expected: Option<u64>,
    ) -> Result<Option<Segment>, StateError> {
        check_name("key", &def.key, 128, true)?;
        require_env(tx.conn(), project, env).await?;
        let before = load_segments(tx.conn(), project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == def.key);
        match (&before, create) {
            (Some(_), true) => {
                return Err(StateError::Conflict(format!(
                    "environment \"{project}/{env}\" has a segment \"{}\"",
                    def.key
                )));
            }
            (None, false) => {
                return Err(StateError::NotFound(format!(
                    "environment \"{project}/{env}\" has no segment \"{}\"",
                    def.key
                )));
            }
            (Some(b), false) => check_revision("segment", b.revision, expected)?,
            (None, true) => {}
        }
        let now = to_i64(tx.now)?;
        upsert_segment(tx.conn(), project, env, def, now).await?;
        let after = load_segments(tx.conn(), project, env)
            .await?
            .into_iter()
            .find(|s| s.definition.key == def.key);
        let action = if create {
            "segment.create"
        } else {
            "segment.update"
        };
        tx.audit(
            action,
            (Some(project), Some(env)),
            &format!("segment:{}", def.key),
            before.as_ref().map(to_json).transpose()?,
            after.as_ref().map(to_json).transpose()?,
        )
        .await?;
        Ok(after)
    }

    /// Deletes a segment and publishes the environment (422 if a rule still uses it).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Stale`], [`StateError::Invalid`].
    pub async fn delete_segment(
        &self,
        actor: &str,
        project: &str,
        env: &str,
        key: &str,
        expected: Option<u64>,
    ) -> Result<Written<Segment>, StateError> {
        self.write(actor, async |tx| {
            require_env(tx.conn(), project, env).await?;
            let before = load_segments(tx.conn(), project, env)
                .await?
                .into_iter()
                .find(|s| s.definition.key == key)
                .ok_or_else(|| {
                    StateError::NotFound(format!(
                        "environment \"{project}/{env}\" has no segment \"{key}\""
                    ))
                })?;
            check_revision("segment", before.revision, expected)?;
            sqlx::query(
                "DELETE FROM segments WHERE project = $1 AND environment = $2 AND key = $3",
            )
            .bind(project)
            .bind(env)
            .bind(key)
            .execute(tx.conn())
            .await?;
            tx.audit(
                "segment.delete",
                (Some(project), Some(env)),
                &format!("segment:{key}"),
                Some(to_json(&before)?),
                None,
            )
            .await?;
            let published = tx
                .publish(project, env, &format!("segment.delete {key}"))
                .await?;
            Ok(Written {
                item: None,
                published: vec![published],
            })
        })
        .await
    }
}
