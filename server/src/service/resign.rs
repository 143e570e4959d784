//! Re-signing before expiry and refreshing the latest cache, one environment at a time.

use crate::error::StateError;
use crate::model::Published;
use crate::service::AppState;

impl AppState {
    /// Re-publishes (same content, new version) every environment whose latest snapshot has
    /// less than half of its lifetime left at `now` (ms since epoch), and every service's
    /// config document likewise, so a live server never serves an expired document. Returns what was published, sorted by project and
    /// environment.
    ///
    /// Environments are handled one at a time, each in its own transaction: one that cannot
    /// be re-signed (its signing key unreadable or corrupt, a snapshot the core or the size
    /// limit refuses, ...) is logged (`error`, with project and environment), counted in
    /// `burgee_resign_failures_total` and skipped; the others are re-signed regardless. An
    /// environment whose latest stored snapshot cannot be decoded is counted and logged too,
    /// and re-signed (the new version replaces the unreadable one).
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of environments cannot be read.
    pub async fn republish_due(&self, now: u64) -> Result<Vec<Published>, StateError> {
        let mut envs: Vec<(String, String)> =
            sqlx::query_as("SELECT project, key FROM environments")
                .fetch_all(&self.inner.store.pool)
                .await?;
        envs.sort();
        let mut done = Vec::new();
        for (project, env) in envs {
            let latest = self.load_latest(&project, &env).await;
            let due = match &latest {
                Ok(Some(s)) => {
                    let lifetime = s.expires_at.saturating_sub(s.issued_at);
                    s.expires_at.saturating_sub(now) < lifetime / 2
                }
                // Nothing published yet, or unreadable: a new version is what is needed.
                Ok(None) | Err(_) => true,
            };
            if !due {
                continue;
            }
            let published = self.republish(&project, &env, "system", "re-sign").await;
            match (latest, published) {
                (Ok(_), Ok(p)) => done.push(p),
                (Err(read), Ok(p)) => {
                    self.inner.metrics.resign_failures.inc();
                    tracing::warn!(
                        project = %project,
                        environment = %env,
                        error = %read,
                        version = p.version,
                        "the latest stored snapshot is unreadable; re-signed the current content \
                         as a new version"
                    );
                    done.push(p);
                }
                (_, Err(e)) => {
                    self.inner.metrics.resign_failures.inc();
                    tracing::error!(
                        project = %project,
                        environment = %env,
                        error = %e,
                        "re-signing failed; this environment keeps its current snapshot, the \
                         others are re-signed"
                    );
                }
            }
        }
        self.republish_configs_due(now, &mut done).await?;
        Ok(done)
    }

    /// Publishes the current content of one environment under a new version (e.g. after a
    /// key rotation).
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Key`], [`StateError::Db`].
    pub async fn republish(
        &self,
        project: &str,
        env: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Published, StateError> {
        self.write(actor, async |tx| tx.publish(project, env, reason).await)
            .await
    }

    /// Refreshes every environment whose newest stored version is above the cached one (a
    /// publish by another process: a CLI command next to a SQLite server, or a replica whose
    /// notification was missed). Returns how many were refreshed.
    ///
    /// Environments are handled one at a time: one whose newest snapshot cannot be loaded is
    /// logged (`warn`, with project and environment; once per version), counted in
    /// `burgee_refresh_failures_total` and keeps its cached snapshot; the others are
    /// refreshed regardless.
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of stored versions cannot be read.
    pub async fn refresh_changed(&self) -> Result<usize, StateError> {
        self.refresh_where(|cached, _newest| cached.is_some()).await
    }

    /// Reloads the newest stored snapshot of every environment into the latest cache and
    /// sends those newer than the cached ones to the SSE streams (after a replica's
    /// notification connection was lost, or whenever everything must be current). Returns
    /// how many were reloaded. One environment failing is handled as in
    /// [`AppState::refresh_changed`].
    ///
    /// # Errors
    /// [`StateError::Db`] only when the list of stored versions cannot be read.
    pub async fn refresh_all(&self) -> Result<usize, StateError> {
        self.refresh_where(|_cached, _newest| true).await
    }

    /// Calls [`AppState::refresh_latest`] for every environment with stored snapshots whose
    /// newest version is above the cached one (or not cached) and for which
    /// `wanted(cached version, newest version)` holds, one environment at a time.
    pub(crate) async fn refresh_where(
        &self,
        wanted: impl Fn(Option<u64>, u64) -> bool,
    ) -> Result<usize, StateError> {
        let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT project, environment, MAX(version) FROM snapshots \
             GROUP BY project, environment",
        )
        .fetch_all(&self.inner.store.pool)
        .await?;
        rows.sort();
        let mut refreshed = 0;
        for (project, env, max) in rows {
            let key = (project, env);
            let cached = self
                .inner
                .latest
                .read()
                .ok()
                .and_then(|c| c.get(&key).map(|s| s.version));
            let newest = u64::try_from(max).unwrap_or(0);
            // Only environments someone has read or streamed are cached by refresh_changed;
            // others load on demand.
            if cached.is_some_and(|v| v >= newest) || !wanted(cached, newest) {
                continue;
            }
            let (project, env) = &key;
            match self.refresh_latest(project, env).await {
                Ok(()) => {
                    refreshed += 1;
                    if let Ok(mut failed) = self.inner.refresh_failed.write() {
                        failed.remove(&key);
                    }
                }
                Err(e) => {
                    self.inner.metrics.refresh_failures.inc();
                    let first = match self.inner.refresh_failed.write() {
                        Ok(mut failed) => failed.insert(key.clone(), newest) != Some(newest),
                        Err(_) => true,
                    };
                    if first {
                        tracing::warn!(
                            project = %project,
                            environment = %env,
                            version = newest,
                            error = %e,
                            "loading the newest snapshot failed; this environment keeps serving \
                             its cached one"
                        );
                    }
                }
            }
        }
        Ok(refreshed)
    }
}
