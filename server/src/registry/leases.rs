//! Heartbeats in memory: a heartbeat only records the time in this process (no database write
//! per heartbeat), and [`Leases::flush`] writes the newest time of each instance to the store
//! once a second, so any replica can take heartbeats and the leader sees them at most a
//! flush interval late. Known instances are cached so a heartbeat for an unknown one is
//! answered 404 (the SDK registers again) without a query per heartbeat.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::AnyPool;

use super::store;
use crate::error::StateError;

/// (project, environment, service, instance id).
pub(crate) type Key = (String, String, String, String);

/// This process's unflushed heartbeats and its cache of registered instances (their lease).
#[derive(Debug, Default)]
pub struct Leases {
    pending: Mutex<HashMap<Key, u64>>,
    known: Mutex<HashMap<Key, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Leases {
    /// Records a heartbeat of a known instance at `now`; returns its lease (ms), or `None`
    /// when this process does not know the instance (the caller looks it up).
    pub(crate) fn renew(&self, key: &Key, now: u64) -> Option<u64> {
        let lease = *lock(&self.known).get(key)?;
        let mut pending = lock(&self.pending);
        let at = pending.entry(key.clone()).or_insert(now);
        *at = (*at).max(now);
        Some(lease)
    }

    /// Remembers a registered instance and its lease.
    pub(crate) fn know(&self, key: Key, lease_ms: u64) {
        lock(&self.known).insert(key, lease_ms);
    }

    /// Forgets an instance (deregistered or removed).
    pub(crate) fn forget(&self, key: &Key) {
        lock(&self.known).remove(key);
        lock(&self.pending).remove(key);
    }

    /// Writes the pending heartbeats to the store (on failure they are kept for the next
    /// flush) and forgets cached instances the store no longer has.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub(crate) async fn flush(&self, pool: &AnyPool) -> Result<(), StateError> {
        let batch: Vec<(Key, u64)> = lock(&self.pending).drain().collect();
        if batch.is_empty() {
            return Ok(());
        }
        match store::renew(pool, &batch).await {
            Ok(missing) => {
                let mut known = lock(&self.known);
                for key in missing {
                    known.remove(&key);
                }
                Ok(())
            }
            Err(e) => {
                let mut pending = lock(&self.pending);
                for (key, at) in batch {
                    let slot = pending.entry(key).or_insert(at);
                    *slot = (*slot).max(at);
                }
                Err(e)
            }
        }
    }
}
