//! The one write path: every change to the authoring state runs through [`AppState::write`].
//!
//! ```text
//!  begin (writer lock) ─► your closure with a Tx: SQL, tx.audit(..), tx.publish(..)
//!        ─► commit (chain head, PostgreSQL NOTIFY) ─► cache the new snapshots, broadcast
//! ```
//! An error from the closure drops the transaction: nothing is stored, audited or published.

use sqlx::AnyConnection;

use crate::error::StateError;
use crate::model::Published;
use crate::publish::publish_env;
use crate::service::AppState;
use crate::store::Writer;
use crate::store::rows::env_keys;

/// An open write: the transaction, the time of the write and who makes it.
pub(crate) struct Tx<'a> {
    w: Writer,
    state: &'a AppState,
    actor: &'a str,
    /// The time of this write (from the server's clock), ms since the Unix epoch: every row,
    /// audit entry and snapshot of the write carries it.
    pub(crate) now: u64,
}

impl Tx<'_> {
    /// Who makes this write (the audit actor).
    pub(crate) fn actor(&self) -> &str {
        self.actor
    }

    /// The connection of the transaction.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.w.conn()
    }

    /// Appends an audit entry by this write's actor at this write's time.
    pub(crate) async fn audit(
        &mut self,
        action: &str,
        scope: (Option<&str>, Option<&str>),
        resource: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> Result<(), StateError> {
        let (project, environment) = scope;
        self.w
            .audit(
                self.now,
                self.actor,
                action,
                project,
                environment,
                resource,
                before,
                after,
            )
            .await
    }

    /// Publishes a new signed snapshot of `project/env` in this transaction
    /// ([`publish_env`]).
    pub(crate) async fn publish(
        &mut self,
        project: &str,
        env: &str,
        reason: &str,
    ) -> Result<Published, StateError> {
        let inner = &self.state.inner;
        publish_env(
            &mut self.w,
            &inner.keys_dir,
            inner.snapshot_ttl_ms,
            self.now,
            project,
            env,
            self.actor,
            reason,
        )
        .await
    }

    /// Publishes a new config document of `scope` (project, environment, service) in this
    /// transaction ([`crate::configs`]).
    pub(crate) async fn publish_config(
        &mut self,
        scope: (&str, &str, &str),
        reason: &str,
    ) -> Result<Published, StateError> {
        let inner = &self.state.inner;
        let cx = crate::configs::PublishContext {
            keys_dir: &inner.keys_dir,
            secrets: &inner.secrets,
            ttl_ms: inner.snapshot_ttl_ms,
            now: self.now,
            actor: self.actor,
        };
        crate::configs::publish_config(&mut self.w, &cx, scope, reason).await
    }

    /// The server's secrets box.
    pub(crate) fn secrets(&self) -> &crate::configs::secrets::SecretBox {
        &self.state.inner.secrets
    }

    /// Publishes every environment of `project`, sorted by key.
    pub(crate) async fn publish_all(
        &mut self,
        project: &str,
        reason: &str,
    ) -> Result<Vec<Published>, StateError> {
        let mut out = Vec::new();
        for env in env_keys(self.conn(), project).await? {
            out.push(self.publish(project, &env, reason).await?);
        }
        Ok(out)
    }
}

impl AppState {
    /// Runs `f` in one write transaction by `actor` at the clock's current time, then commits
    /// and broadcasts what it published. An error from `f` rolls everything back.
    ///
    /// # Errors
    /// `f`'s error, or [`StateError::Db`] from beginning or committing.
    pub(crate) async fn write<T>(
        &self,
        actor: &str,
        f: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let w = Writer::begin(&self.inner.store).await?;
        let mut tx = Tx {
            w,
            state: self,
            actor,
            now: self.now(),
        };
        let out = f(&mut tx).await?;
        self.commit(tx.w).await?;
        Ok(out)
    }
}
