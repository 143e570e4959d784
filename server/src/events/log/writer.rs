//! The writer thread: group commit, rotation and retention (`spec/EVENTS.md` §4).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::retention::{Policy, SeenIds, enforce};
use super::{AppendError, Committed, Job, Receipt, Segment, segment_name};

/// Most batches written under one fsync.
const GROUP: usize = 4096;

/// Owns the active segment; the only code that writes to the log.
pub(super) struct Writer {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub file: BufWriter<File>,
    /// Number of the active segment.
    pub number: u64,
    pub active: PathBuf,
    /// Bytes in the active segment.
    pub len: u64,
    /// Newest `received_at` in the active segment, ms since epoch.
    pub newest_ms: u64,
    /// Newest `received_at` in the log: the clock of retention.
    pub now_ms: u64,
    pub index: SeenIds,
    pub policy: Policy,
    pub committed: Arc<Mutex<Committed>>,
    pub queued_bytes: Arc<AtomicUsize>,
    pub deleted_segments: Arc<AtomicU64>,
    pub failed: AtomicBool,
    /// Writes or fsyncs that failed (each rolled back, or fatal when `failed` is set).
    pub write_failures: Arc<AtomicU64>,
    pub appended: Arc<tokio::sync::Notify>,
}

impl Writer {
    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let bytes: usize = jobs.iter().map(|j| j.payload.len()).sum();
            let outcome = self.commit(&jobs);
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            for (job, result) in jobs.into_iter().zip(outcome) {
                // The handler may have gone away (client disconnected); the batch is stored.
                let _ = job.done.send(result);
            }
        }
    }

    /// Writes every new batch of the group, fsyncs once, and returns one result per job.
    ///
    /// A failed write or fsync (a full disk above all) leaves nothing of the group behind: the
    /// active segment is cut back to its length before the group and synced again, and the
    /// group's batch ids are forgotten, so the SDKs' retries (same batch ids) are stored once
    /// space returns. Only when that rollback fails too does the log refuse further writes.
    fn commit(&mut self, jobs: &[Job]) -> Vec<Result<Receipt, AppendError>> {
        if self.failed.load(Ordering::Acquire) {
            return jobs
                .iter()
                .map(|_| {
                    Err(AppendError::Failed(
                        "an earlier write failed; restart the server".into(),
                    ))
                })
                .collect();
        }
        let before = (self.len, self.newest_ms, self.now_ms);
        let mut inserted = Vec::new();
        let mut results = Vec::with_capacity(jobs.len());
        let written = (|| -> io::Result<()> {
            for job in jobs {
                let b = &job.batch;
                let key = SeenIds::key(&b.project, &b.environment, &b.batch_id);
                self.index.advance(b.received_at);
                if let Some(r) = self.index.get(key) {
                    results.push(Ok(r));
                    continue;
                }
                let len = u32::try_from(job.payload.len())
                    .map_err(|_| io::Error::other("batch over 4 GiB"))?;
                self.file.write_all(&len.to_le_bytes())?;
                self.file
                    .write_all(&crc32fast::hash(&job.payload).to_le_bytes())?;
                self.file.write_all(&job.payload)?;
                self.len += 8 + u64::from(len);
                self.newest_ms = self.newest_ms.max(b.received_at);
                self.now_ms = self.now_ms.max(b.received_at);
                self.index
                    .insert(key, b.received_at, b.events.len(), b.rejected);
                inserted.push(key);
                results.push(Ok(Receipt {
                    accepted: b.events.len(),
                    rejected: b.rejected,
                    duplicate: false,
                }));
            }
            self.file.flush()?;
            self.file.get_ref().sync_data()
        })();
        if let Err(e) = written {
            let full = is_storage_full(&e);
            let rolled_back = self.roll_back(before.0);
            for key in inserted.iter().rev() {
                self.index.forget(*key);
            }
            (self.len, self.newest_ms, self.now_ms) = before;
            self.write_failures.fetch_add(1, Ordering::Relaxed);
            let error = match rolled_back {
                Ok(()) if full => {
                    tracing::warn!(error = %e, path = %self.active.display(), "event log disk full; batches refused until space returns");
                    AppendError::StorageFull(e.to_string())
                }
                Ok(()) => {
                    tracing::error!(error = %e, path = %self.active.display(), "event log write failed; the group was rolled back");
                    AppendError::Unavailable(e.to_string())
                }
                Err(r) => {
                    tracing::error!(error = %e, rollback = %r, path = %self.active.display(), "event log write failed and could not be rolled back; refusing further writes");
                    self.failed.store(true, Ordering::Release);
                    AppendError::Failed(format!("{e}; rolling back: {r}"))
                }
            };
            return jobs.iter().map(|_| Err(error.clone())).collect();
        }
        self.publish_len();
        self.appended.notify_waiters();
        if self.len >= self.segment_bytes {
            // The group is durable already; a failed rotation is retried after the next one.
            match self.rotate() {
                Ok(()) => {
                    let deleted = enforce(&self.dir, &self.committed, &self.policy, self.now_ms);
                    self.deleted_segments.fetch_add(deleted, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, dir = %self.dir.display(), "starting a new event log segment failed; retrying after the next write");
                }
            }
        }
        results
    }

    /// Cuts the active segment back to `len` bytes (dropping whatever of the failed group was
    /// buffered or written) and syncs it, so the file ends at the last committed record.
    fn roll_back(&mut self, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().append(true).open(&self.active)?;
        file.set_len(len)?;
        file.sync_all()?;
        let old = std::mem::replace(&mut self.file, BufWriter::with_capacity(1 << 20, file));
        // `into_parts` hands back the unwritten buffer instead of flushing it on drop.
        drop(old.into_parts());
        Ok(())
    }

    fn publish_len(&self) {
        let mut c = self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = c.segments.last_mut() {
            last.len = self.len;
            last.newest_ms = self.newest_ms;
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        let number = self.number + 1;
        let path = self.dir.join(segment_name(number));
        // An empty file left by an earlier failed rotation is taken over; anything else there
        // is never overwritten.
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if file.metadata()?.len() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not empty", path.display()),
            ));
        }
        File::open(&self.dir)?.sync_all()?;
        self.file = BufWriter::with_capacity(1 << 20, file);
        self.number = number;
        self.active = path.clone();
        self.len = 0;
        self.newest_ms = 0;
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .push(Segment {
                number,
                path,
                len: 0,
                newest_ms: 0,
            });
        Ok(())
    }
}

/// Whether a write failed for lack of space: `ENOSPC`, or `EDQUOT` (a quota).
fn is_storage_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}
