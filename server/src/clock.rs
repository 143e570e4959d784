//! The clock services read: injected, so expiry, re-signing and audit times can be tested
//! without waiting for real time to pass.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current time, ms since the Unix epoch (UTC).
    fn now_ms(&self) -> u64;
}

/// The system clock ([`crate::now_ms`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        crate::now_ms()
    }
}

/// A clock that reads what it was last set to (tests): shared, so a test can move the time of
/// a running server forward.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `now_ms` (ms since the Unix epoch).
    #[must_use]
    pub fn at(now_ms: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock(AtomicU64::new(now_ms)))
    }

    /// Sets the time to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
