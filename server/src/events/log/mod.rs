//! The embedded event store: an append-only, checksummed log with group commit
//! (`spec/EVENTS.md` §4).
//!
//! ```text
//!  handlers ──append()──► bounded queue ──► writer thread: take every waiting batch,
//!                          (full → 429)        dedupe by (project, environment, batch_id), write records,
//!                                              one fdatasync, then acknowledge them all
//! ```
//!
//! Files: `DIR/events-00000001.log`, ... rotated at `segment_bytes`; segment numbers are never
//! reused. A record is `u32le(len) ‖ u32le(crc32(payload)) ‖ payload`, the payload being the
//! JSON of a [`StoredBatch`]. Why a log and not SQLite rows: one sequential write and one fsync
//! per group of batches is what makes ≥ 200,000 durable events/s possible on two cores (see
//! BENCHMARKS.md); the JSON records stay readable by any tool.
//!
//! **Damage never costs more than the damaged record.** At open every record is checked. A
//! damaged record (bad length, checksum or JSON) is skipped: the reader scans forward to the next
//! offset where a whole valid record starts, so every record after it is kept, at the same
//! position. Each damaged stretch is logged (`warn`, with path and offset) and counted
//! ([`EventLog::damaged_records`]); readers skip it too. Only damage with no valid record after
//! it at the end of the *last* segment is a torn write (a crash mid-append, never
//! acknowledged) and is truncated.
//!
//! **One process per log.** [`EventLog::open`] takes an exclusive lock on `DIR/events.lock`
//! (which holds the owner's pid) for as long as any handle lives; a second open, in this
//! process or another, fails with [`LogError::Locked`].
//!
//! **Bounded memory and disk** (defaults in [`LogConfig::new`]): batch ids are remembered for
//! de-duplication for [`DEFAULT_DEDUPE_WINDOW_MS`] (7 days) after their batch was received,
//! and at most [`DEFAULT_DEDUPE_MAX_IDS`] of them (about 80 MB); a batch re-sent after that is
//! stored again. Whole segments whose newest record is older than [`DEFAULT_RETENTION_MS`]
//! (90 days) are deleted, checked at open and at each rotation; optionally the oldest are also
//! deleted while the log exceeds `retention_bytes`. Never deleted: the active segment, and any
//! segment a follower has not passed (followers keep a `*.position` file in `DIR`, see
//! `events::follow`; delete the file of a follower no longer used, or it holds retention back).
//! Age is measured against the newest `received_at` in the log, not the wall clock.
//! Experiment results only see retained events.

mod recover;
mod retention;
mod writer;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use self::recover::{Damage, decode, recover};
use self::retention::{Policy, SeenIds, enforce};
use self::writer::Writer;
use super::model::{Event, SdkInfo};

/// Default [`LogConfig::dedupe_window_ms`]: 7 days, in ms.
pub const DEFAULT_DEDUPE_WINDOW_MS: u64 = 7 * 24 * 3_600_000;
/// Default [`LogConfig::dedupe_max_ids`]: one million batch ids (about 80 MB of memory).
pub const DEFAULT_DEDUPE_MAX_IDS: usize = 1_000_000;
/// Default [`LogConfig::retention_ms`]: 90 days, in ms.
pub const DEFAULT_RETENTION_MS: u64 = 90 * 24 * 3_600_000;
/// The lock file in the log directory.
pub const LOCK_FILE: &str = "events.lock";

/// One accepted batch as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBatch {
    /// Project of the SDK key that sent it.
    pub project: String,
    /// Environment of the SDK key that sent it.
    pub environment: String,
    /// The SDK's idempotency key.
    pub batch_id: String,
    /// Sender.
    pub sdk: SdkInfo,
    /// When the server received it, ms since epoch. Also the log's clock for de-duplication and
    /// retention.
    pub received_at: u64,
    /// The accepted events (possibly none, when every event was rejected).
    pub events: Vec<Event>,
    /// How many events of the batch were rejected.
    pub rejected: usize,
}

/// What happened to an appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// Accepted events (of the first delivery, for a duplicate).
    pub accepted: usize,
    /// Rejected events (of the first delivery, for a duplicate).
    pub rejected: usize,
    /// The batch id was already stored (within the de-duplication window); nothing was written.
    pub duplicate: bool,
}

/// Why an append did not happen. In every case nothing of the batch was stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    /// The queue is full (the disk is behind): retry later (HTTP 429).
    #[error("the event store is behind; retry later")]
    Overloaded,
    /// The disk is full (`ENOSPC`, `EDQUOT`): the write was rolled back; retry later (HTTP 503
    /// `STORAGE_FULL`). Writes succeed again once space returns, without a restart.
    #[error("the event log's disk is full: {0}")]
    StorageFull(String),
    /// Another write or fsync error; the write was rolled back and the log keeps working
    /// (HTTP 503).
    #[error("writing the event log failed: {0}")]
    Unavailable(String),
    /// A write failed and could not be rolled back; the log refuses further writes until
    /// restarted (HTTP 500).
    #[error("the event store failed: {0}")]
    Failed(String),
}

/// Why the log could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// File system error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another handle holds the log's lock: a running server (or this process) has it open.
    #[error(
        "{}: the event log is in use by a running server ({}); stop it first, or give this process another data directory",
        .dir.display(),
        .holder
    )]
    Locked {
        /// The log directory.
        dir: PathBuf,
        /// Who holds it, as written in the lock file (`pid N`), or `unknown process`.
        holder: String,
    },
}

/// Sizes and bounds of the log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Directory of the segment files (created if missing).
    pub dir: PathBuf,
    /// Rotate to a new segment after this many bytes.
    pub segment_bytes: u64,
    /// Most batches waiting for the writer before appends are refused.
    pub queue_batches: usize,
    /// Most payload bytes waiting for the writer before appends are refused.
    pub queue_bytes: usize,
    /// How long a batch id is remembered for de-duplication, ms after its batch's
    /// `received_at` (measured against the newest `received_at` seen).
    pub dedupe_window_ms: u64,
    /// Most batch ids remembered; the oldest are forgotten first (minimum 1).
    pub dedupe_max_ids: usize,
    /// Delete a whole segment once its newest record is this much older (ms) than the newest
    /// record of the log; `None` keeps segments forever.
    pub retention_ms: Option<u64>,
    /// Delete the oldest segments while all segments together exceed this many bytes; `None`
    /// sets no size limit.
    pub retention_bytes: Option<u64>,
}

impl LogConfig {
    /// Defaults: 64 MiB segments, 1024 batches or 64 MiB queued, batch ids remembered for
    /// [`DEFAULT_DEDUPE_WINDOW_MS`] up to [`DEFAULT_DEDUPE_MAX_IDS`], segments kept for
    /// [`DEFAULT_RETENTION_MS`], no size limit.
    pub fn new(dir: PathBuf) -> Self {
        LogConfig {
            dir,
            segment_bytes: 64 << 20,
            queue_batches: 1024,
            queue_bytes: 64 << 20,
            dedupe_window_ms: DEFAULT_DEDUPE_WINDOW_MS,
            dedupe_max_ids: DEFAULT_DEDUPE_MAX_IDS,
            retention_ms: Some(DEFAULT_RETENTION_MS),
            retention_bytes: None,
        }
    }

    fn policy(&self) -> Policy {
        Policy {
            dedupe_window_ms: self.dedupe_window_ms,
            dedupe_max_ids: self.dedupe_max_ids,
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
        }
    }
}

struct Job {
    batch: StoredBatch,
    payload: Vec<u8>,
    done: oneshot::Sender<Result<Receipt, AppendError>>,
}

/// One segment file as readers see it.
#[derive(Debug, Clone)]
struct Segment {
    /// The number in its file name.
    number: u64,
    path: PathBuf,
    /// Durable bytes (readers never look past them).
    len: u64,
    /// Newest `received_at` of its records, ms since epoch (0 when empty).
    newest_ms: u64,
}

/// The segments readers may read, oldest first, and the damage already reported.
#[derive(Default)]
struct Committed {
    segments: Vec<Segment>,
    /// (segment number, offset) of every damaged stretch counted so far.
    damage: HashSet<(u64, u64)>,
}

/// A place in the log: the segment's number (as in its file name, 1-based) and a byte offset
/// in it. Numbers are never reused and kept records never move, so a saved position stays
/// valid across damage and retention; `{0, 0}` (the default) is before everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Position {
    /// Segment number.
    pub segment: u64,
    /// Byte offset in that segment.
    pub offset: u64,
}

/// Handle to the event log; cheap to clone. The log (its lock, its writer thread) closes when
/// the last handle is dropped, after the batches already queued are written.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    queued_bytes: Arc<AtomicUsize>,
    queue_bytes: usize,
    committed: Arc<Mutex<Committed>>,
    appended: Arc<tokio::sync::Notify>,
    damaged: AtomicU64,
    deleted_segments: Arc<AtomicU64>,
    write_failures: Arc<AtomicU64>,
    /// Holds the directory lock; released when dropped, after the writer stopped.
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it wrote what is queued; only then is the lock
        // released, so the next owner never sees a half-written tail.
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_owned(),
        source,
    }
}

fn segment_name(n: u64) -> String {
    format!("events-{n:08}.log")
}

/// Reads `path` from byte `start`, at most `limit` bytes.
fn read_segment(path: &Path, start: u64, limit: Option<u64>) -> Result<Vec<u8>, LogError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    if start > 0 {
        f.seek(io::SeekFrom::Start(start)).map_err(io_err(path))?;
    }
    let mut bytes = Vec::new();
    match limit {
        Some(n) => f.take(n).read_to_end(&mut bytes),
        None => f.read_to_end(&mut bytes),
    }
    .map_err(io_err(path))?;
    Ok(bytes)
}

/// Takes the exclusive lock of `dir` and writes this process's pid into the lock file.
fn lock_dir(dir: &Path) -> Result<File, LogError> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(LogError::Locked {
                dir: dir.to_owned(),
                holder: if holder.is_empty() {
                    "unknown process".into()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
    }
    file.set_len(0).map_err(io_err(&path))?;
    writeln!(file, "pid {}", std::process::id()).map_err(io_err(&path))?;
    Ok(file)
}

impl EventLog {
    /// Opens (or creates) the log in `config.dir`: locks it, checks every record (skipping
    /// and counting damage, truncating a torn tail of the last segment), applies retention,
    /// indexes the batch ids of the de-duplication window, and starts the writer thread.
    ///
    /// # Errors
    /// [`LogError::Locked`] when another handle (a running server) has the log open;
    /// [`LogError::Io`] for file-system failures.
    pub fn open(config: LogConfig) -> Result<EventLog, LogError> {
        let dir = config.dir.clone();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock = lock_dir(&dir)?;
        let policy = config.policy();
        let mut index = SeenIds::new(policy.dedupe_window_ms, policy.dedupe_max_ids);
        let mut now_ms = 0;
        let recovered = recover(&dir, |b| {
            now_ms = now_ms.max(b.received_at);
            index.insert(
                SeenIds::key(&b.project, &b.environment, &b.batch_id),
                b.received_at,
                b.events.len(),
                b.rejected,
            );
        })?;
        let mut committed = Committed {
            segments: recovered.segments,
            damage: HashSet::new(),
        };
        for (number, d) in &recovered.damaged {
            committed.damage.insert((*number, d.offset));
        }
        if committed.segments.is_empty() {
            let path = dir.join(segment_name(1));
            File::create(&path).map_err(io_err(&path))?;
            committed.segments.push(Segment {
                number: 1,
                path,
                len: 0,
                newest_ms: 0,
            });
        }
        let committed = Arc::new(Mutex::new(committed));
        let deleted = enforce(&dir, &committed, &policy, now_ms);
        let active = committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .last()
            .cloned()
            .ok_or_else(|| io_err(&dir)(io::Error::other("no active segment")))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&active.path)
            .map_err(io_err(&active.path))?;
        let appended = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = mpsc::channel(config.queue_batches.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let deleted_segments = Arc::new(AtomicU64::new(deleted));
        let write_failures = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            dir: dir.clone(),
            segment_bytes: config.segment_bytes,
            file: BufWriter::with_capacity(1 << 20, file),
            number: active.number,
            active: active.path,
            len: active.len,
            newest_ms: active.newest_ms,
            now_ms,
            index,
            policy,
            committed: Arc::clone(&committed),
            queued_bytes: Arc::clone(&queued_bytes),
            deleted_segments: Arc::clone(&deleted_segments),
            failed: AtomicBool::new(false),
            write_failures: Arc::clone(&write_failures),
            appended: Arc::clone(&appended),
        };
        let writer = std::thread::Builder::new()
            .name("burgee-event-log".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(&dir))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                tx: Some(tx),
                writer: Some(writer),
                queued_bytes,
                queue_bytes: config.queue_bytes,
                committed,
                appended,
                damaged: AtomicU64::new(recovered.damaged.len() as u64),
                deleted_segments,
                write_failures,
                _lock: lock,
            }),
        })
    }

    /// Appends a batch and waits until it is durable (or recognised as a duplicate).
    ///
    /// # Errors
    /// [`AppendError::Overloaded`] when the queue is full (nothing was stored);
    /// [`AppendError::Failed`] when the disk failed.
    pub async fn append(&self, batch: StoredBatch) -> Result<Receipt, AppendError> {
        let inner = &self.inner;
        let payload = serde_json::to_vec(&batch).map_err(|e| AppendError::Failed(e.to_string()))?;
        let size = payload.len();
        if inner.queued_bytes.fetch_add(size, Ordering::AcqRel) + size > inner.queue_bytes {
            inner.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(AppendError::Overloaded);
        }
        let (done, wait) = oneshot::channel();
        let sent = match &inner.tx {
            Some(tx) => tx.try_send(Job {
                batch,
                payload,
                done,
            }),
            None => Err(mpsc::error::TrySendError::Closed(Job {
                batch,
                payload,
                done,
            })),
        };
        if let Err(e) = sent {
            inner.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(match e {
                mpsc::error::TrySendError::Full(_) => AppendError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    AppendError::Failed("the writer stopped".into())
                }
            });
        }
        wait.await
            .map_err(|_| AppendError::Failed("the writer stopped".into()))?
    }

    fn segments(&self) -> Vec<Segment> {
        self.inner
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .clone()
    }

    /// Reads a segment's durable bytes from `start`; `None` when retention deleted it meanwhile.
    fn read_durable(&self, s: &Segment, start: u64) -> Result<Option<Vec<u8>>, LogError> {
        match read_segment(&s.path, start, Some(s.len.saturating_sub(start))) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(LogError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Counts and logs damage that readers found and the open did not (the disk changed since).
    fn note_damage(&self, s: &Segment, damage: impl IntoIterator<Item = Damage>) {
        let mut c = self
            .inner
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for d in damage {
            if c.damage.insert((s.number, d.offset)) {
                self.inner.damaged.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %s.path.display(), offset = d.offset, len = d.len, why = %d.why,
                    "skipping a damaged record of the event log; the records after it are kept");
            }
        }
    }

    /// Durable batches after `from` (all environments, oldest first), at most `limit` of
    /// them, each with the position just after it. Damaged records are skipped (and counted);
    /// segments deleted by retention are skipped.
    ///
    /// # Errors
    /// [`LogError::Io`] when a segment cannot be read.
    pub fn read_from(
        &self,
        from: Position,
        limit: usize,
    ) -> Result<Vec<(Position, StoredBatch)>, LogError> {
        let mut out = Vec::new();
        for s in self.segments() {
            if s.number < from.segment {
                continue;
            }
            let start = if s.number == from.segment {
                from.offset
            } else {
                0
            };
            if start >= s.len {
                continue;
            }
            let Some(bytes) = self.read_durable(&s, start)? else {
                continue;
            };
            let decoded = decode(&bytes, start);
            self.note_damage(&s, decoded.damaged.into_iter().chain(decoded.tail));
            for (end, b) in decoded.records {
                out.push((
                    Position {
                        segment: s.number,
                        offset: end,
                    },
                    b,
                ));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Resolves after the next group commit (or spuriously); for followers of the log.
    pub async fn appended(&self) {
        self.inner.appended.notified().await;
    }

    /// Calls `f` with every durable batch of `project`'s `environment`, oldest first, skipping
    /// damaged records.
    ///
    /// # Errors
    /// [`LogError::Io`] when a segment cannot be read.
    pub fn scan(
        &self,
        project: &str,
        environment: &str,
        mut f: impl FnMut(&StoredBatch),
    ) -> Result<(), LogError> {
        for s in self.segments() {
            let Some(bytes) = self.read_durable(&s, 0)? else {
                continue;
            };
            let decoded = decode(&bytes, 0);
            self.note_damage(&s, decoded.damaged.into_iter().chain(decoded.tail));
            decoded
                .records
                .iter()
                .map(|(_, b)| b)
                .filter(|b| b.project == project && b.environment == environment)
                .for_each(&mut f);
        }
        Ok(())
    }

    /// Damaged stretches of the log skipped since it was opened (each usually one record;
    /// found at open or later by a reader): a counter for `burgee_event_log_damaged_records_total`.
    pub fn damaged_records(&self) -> u64 {
        self.inner.damaged.load(Ordering::Relaxed)
    }

    /// Segments deleted by retention since the log was opened (a counter).
    pub fn deleted_segments(&self) -> u64 {
        self.inner.deleted_segments.load(Ordering::Relaxed)
    }

    /// Writes or fsyncs that failed since the log was opened (a full disk, ...): a counter for
    /// `burgee_event_log_write_failures_total`.
    pub fn write_failures(&self) -> u64 {
        self.inner.write_failures.load(Ordering::Relaxed)
    }
}
