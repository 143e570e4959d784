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
                results.push(Ok(Receipt {
                    accepted: b.events.len(),
                    rejected: b.rejected,
                    duplicate: false,
                }));
            }
            self.file.flush()?;
            self.file.get_ref().sync_data()?;
            self.publish_len();
            self.appended.notify_waiters();
            if self.len >= self.segment_bytes {
                self.rotate()?;
                let deleted = enforce(&self.dir, &self.committed, &self.policy, self.now_ms);
                self.deleted_segments.fetch_add(deleted, Ordering::Relaxed);
            }
            Ok(())
        })();
        match written {
            Ok(()) => results,
            Err(e) => {
                tracing::error!(error = %e, path = %self.active.display(), "event log write failed; refusing further writes");
                self.failed.store(true, Ordering::Release);
                jobs.iter()
                    .map(|_| Err(AppendError::Failed(e.to_string())))
                    .collect()
            }
        }
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
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
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
