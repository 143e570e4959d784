//! What the log forgets, and when: the bounded index of seen batch ids (de-duplication) and
//! the deletion of whole old segments.
//!
//! Time here is the log's own clock: the newest `received_at` (ms since epoch) of any stored
//! batch, never the wall clock. So tests and replays are deterministic, and a log that receives
//! nothing forgets nothing.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use super::{Committed, Position, Receipt, Segment};

/// How long and how many batch ids are remembered, and how old or large the log may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Policy {
    /// See [`super::LogConfig::dedupe_window_ms`].
    pub dedupe_window_ms: u64,
    /// See [`super::LogConfig::dedupe_max_ids`].
    pub dedupe_max_ids: usize,
    /// See [`super::LogConfig::retention_ms`].
    pub retention_ms: Option<u64>,
    /// See [`super::LogConfig::retention_bytes`].
    pub retention_bytes: Option<u64>,
}

/// Accepted and rejected counts of a stored batch, for the answer to a duplicate.
#[derive(Debug, Clone, Copy)]
struct Seen {
    accepted: u32,
    rejected: u32,
}

/// The index key of a batch id: the first 128 bits of SHA-256 over the length-prefixed
/// `(project, environment, batch_id)` (a collision, which would turn a new batch into a
/// "duplicate", is out of reach).
pub(super) type Key = [u8; 16];

/// The batch ids stored within the window, oldest first. Keys are fixed-size, so an entry costs
/// about 80 bytes (hash table and queue) whatever the ids' length.
#[derive(Debug)]
pub(super) struct SeenIds {
    map: HashMap<Key, Seen>,
    order: VecDeque<(u64, Key)>,
    window_ms: u64,
    max_ids: usize,
    now_ms: u64,
}

fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl SeenIds {
    /// An empty index that keeps ids `window_ms` after their batch's `received_at`, and at most
    /// `max_ids` of them (at least one).
    pub fn new(window_ms: u64, max_ids: usize) -> Self {
        SeenIds {
            map: HashMap::new(),
            order: VecDeque::new(),
            window_ms,
            max_ids: max_ids.max(1),
            now_ms: 0,
        }
    }

    /// The index key of a batch id.
    pub fn key(project: &str, environment: &str, batch_id: &str) -> Key {
        let mut h = Sha256::new();
        for part in [project, environment, batch_id] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        let mut key = [0u8; 16];
        for (k, d) in key.iter_mut().zip(digest.iter()) {
            *k = *d;
        }
        key
    }

    /// Moves the clock to `now_ms` (it never goes back) and forgets ids older than the window.
    pub fn advance(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        while let Some(&(at, key)) = self.order.front() {
            if at.saturating_add(self.window_ms) >= self.now_ms {
                break;
            }
            self.order.pop_front();
            self.map.remove(&key);
        }
    }

    /// The receipt of a remembered batch, marked as a duplicate.
    pub fn get(&self, key: Key) -> Option<Receipt> {
        self.map.get(&key).map(|s| Receipt {
            accepted: s.accepted as usize,
            rejected: s.rejected as usize,
            duplicate: true,
        })
    }

    /// Remembers a stored batch received at `received_at` (ms since epoch), forgetting the
    /// oldest ids beyond the window or the count.
    pub fn insert(&mut self, key: Key, received_at: u64, accepted: usize, rejected: usize) {
        let seen = Seen {
            accepted: small(accepted),
            rejected: small(rejected),
        };
        if self.map.insert(key, seen).is_none() {
            self.order.push_back((received_at, key));
        }
        while self.order.len() > self.max_ids {
            if let Some((_, old)) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.advance(received_at);
    }

    /// Forgets `key` if it is the newest id remembered: undoes an [`SeenIds::insert`] whose
    /// write was rolled back (call in reverse order of the inserts).
    pub fn forget(&mut self, key: Key) {
        if self.order.back().is_some_and(|&(_, k)| k == key) {
            self.order.pop_back();
            self.map.remove(&key);
        }
    }

    /// How many ids are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// How many of the oldest segments `policy` deletes: a prefix of `segments`, never the last
/// (active) one nor any segment numbered `followers_at` or later (a follower has not passed
/// it). A segment is too old when its newest record is more than `retention_ms` older than
/// `now_ms`; the log is too large while its segments hold more than `retention_bytes`.
pub(super) fn expired(
    segments: &[Segment],
    policy: &Policy,
    now_ms: u64,
    followers_at: u64,
) -> usize {
    let mut total: u64 = segments.iter().map(|s| s.len).sum();
    let candidates = segments.len().saturating_sub(1);
    let mut n = 0;
    for s in segments.iter().take(candidates) {
        if s.number >= followers_at {
            break;
        }
        let too_old = policy
            .retention_ms
            .is_some_and(|r| s.newest_ms.saturating_add(r) < now_ms);
        let too_big = policy.retention_bytes.is_some_and(|max| total > max);
        if !(too_old || too_big) {
            break;
        }
        total -= s.len;
        n += 1;
    }
    n
}

/// The lowest segment number any follower still needs: followers keep their position
/// (`{segment, offset}` JSON) in a `*.position` file in the log directory. `u64::MAX` without
/// followers; 0 (hold everything) when a position file cannot be read.
pub(super) fn followers_at(dir: &Path) -> u64 {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot list follower positions; keeping every segment");
            return 0;
        }
    };
    let mut lowest = u64::MAX;
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.extension().and_then(|e| e.to_str()) != Some("position") {
            continue;
        }
        let position = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Position>(&b).map_err(|e| e.to_string()));
        match position {
            Ok(p) => lowest = lowest.min(p.segment),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable follower position; keeping every segment");
                return 0;
            }
        }
    }
    lowest
}

/// Applies `policy` at `now_ms` (ms since epoch): takes the expired segments out of
/// `committed` (readers stop seeing them) and deletes their files. Failures are logged, not
/// returned: retention must never stop appends. Returns the number of segments deleted.
pub(super) fn enforce(
    dir: &Path,
    committed: &Mutex<Committed>,
    policy: &Policy,
    now_ms: u64,
) -> u64 {
    if policy.retention_ms.is_none() && policy.retention_bytes.is_none() {
        return 0;
    }
    let followers = followers_at(dir);
    let doomed: Vec<PathBuf> = {
        let mut c = committed.lock().unwrap_or_else(PoisonError::into_inner);
        let n = expired(&c.segments, policy, now_ms, followers);
        c.segments.drain(..n).map(|s| s.path).collect()
    };
    let mut deleted = 0;
    for path in &doomed {
        match std::fs::remove_file(path) {
            Ok(()) => {
                deleted += 1;
                tracing::info!(path = %path.display(), "deleted an event log segment beyond retention");
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not delete an event log segment beyond retention");
            }
        }
    }
    if deleted > 0
        && let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all())
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not sync the event log directory");
    }
    deleted
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    fn seg(number: u64, len: u64, newest_ms: u64) -> Segment {
        Segment {
            number,
            path: PathBuf::from(format!("events-{number:08}.log")),
            len,
            newest_ms,
        }
    }

    fn policy(retention_ms: Option<u64>, retention_bytes: Option<u64>) -> Policy {
        Policy {
            dedupe_window_ms: DAY,
            dedupe_max_ids: 10,
            retention_ms,
            retention_bytes,
        }
    }

    #[test]
    fn ids_are_forgotten_after_the_window_or_beyond_the_count() {
        let mut seen = SeenIds::new(DAY, 3);
        let k = |i: u32| SeenIds::key("p", "e", &i.to_string());
        seen.insert(k(1), 10 * DAY, 5, 1);
        assert_eq!(
            seen.get(k(1)).map(|r| (r.accepted, r.rejected)),
            Some((5, 1))
        );
        seen.advance(11 * DAY);
        assert!(seen.get(k(1)).is_some(), "exactly one window old is kept");
        seen.advance(11 * DAY + 1);
        assert!(seen.get(k(1)).is_none());
        for i in 2..=5 {
            seen.insert(k(i), 12 * DAY, 1, 0);
        }
        assert_eq!(seen.len(), 3);
        assert!(seen.get(k(2)).is_none() && seen.get(k(5)).is_some());
        // The clock never goes back.
        seen.advance(0);
        assert_eq!(seen.len(), 3);
        assert_ne!(SeenIds::key("ab", "c", "d"), SeenIds::key("a", "bc", "d"));
    }

    #[test]
    fn retention_deletes_an_old_prefix_but_never_the_active_or_a_followed_segment() {
        let segments = [
            seg(3, 100, DAY),
            seg(4, 100, 2 * DAY),
            seg(5, 100, 9 * DAY),
            seg(6, 10, 0),
        ];
        let age = policy(Some(5 * DAY), None);
        assert_eq!(expired(&segments, &age, 8 * DAY, u64::MAX), 2);
        assert_eq!(expired(&segments, &age, 8 * DAY, 4), 1);
        assert_eq!(expired(&segments, &age, 8 * DAY, 0), 0);
        assert_eq!(
            expired(&segments, &age, 100 * DAY, u64::MAX),
            3,
            "never the active one"
        );
        let size = policy(None, Some(150));
        assert_eq!(expired(&segments, &size, 0, u64::MAX), 2);
        assert_eq!(
            expired(&segments, &policy(None, None), 100 * DAY, u64::MAX),
            0
        );
    }
}
