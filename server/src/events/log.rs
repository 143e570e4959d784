//! The embedded event store: an append-only, checksummed log with group commit
//! (`spec/EVENTS.md` §4).
//!
//! ```text
//!  handlers ──append()──► bounded queue ──► writer thread: take every waiting batch,
//!                          (full → 429)        dedupe by (project, environment, batch_id), write records,
//!                                              one fdatasync, then acknowledge them all
//! ```
//!
//! Files: `DIR/events-00000001.log`, ... rotated at `segment_bytes`. A record is
//! `u32le(len) ‖ u32le(crc32(payload)) ‖ payload`, the payload being the JSON of a
//! [`StoredBatch`]. At open, every record is checked; a torn or corrupt record at the very end
//! of the last segment (a crash mid-write, never acknowledged) is truncated, anywhere else it
//! is an error, so damage never goes unnoticed. Why a log and not SQLite rows: one sequential
//! write and one fsync per group of batches is what makes ≥ 200,000 durable events/s possible
//! on two cores (see BENCHMARKS.md); the JSON records stay readable by any tool.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::model::{Event, SdkInfo};

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
    /// When the server received it, ms since epoch.
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
    /// The batch id was already stored; nothing was written.
    pub duplicate: bool,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The queue is full (the disk is behind): retry later (HTTP 429).
    #[error("the event store is behind; retry later")]
    Overloaded,
    /// A write or fsync failed; the log refuses further writes until restarted.
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
    /// A damaged record before the end of the log.
    #[error("{path}: damaged record at byte {offset}: {why}")]
    Corrupt {
        /// Segment file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// What is wrong.
        why: String,
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
}

impl LogConfig {
    /// Defaults: 64 MiB segments, 1024 batches or 64 MiB queued.
    pub fn new(dir: PathBuf) -> Self {
        LogConfig {
            dir,
            segment_bytes: 64 << 20,
            queue_batches: 1024,
            queue_bytes: 64 << 20,
        }
    }
}

struct Job {
    batch: StoredBatch,
    payload: Vec<u8>,
    done: oneshot::Sender<Result<Receipt, AppendError>>,
}

/// Segments and how many bytes of each are durable (readers never look past that).
#[derive(Default)]
struct Committed {
    segments: Vec<(PathBuf, u64)>,
}

/// A place in the log: segment number (1-based, in file-name order) and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Position {
    /// Segment number, 1-based.
    pub segment: usize,
    /// Byte offset in that segment.
    pub offset: u64,
}

/// Handle to the event log; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    tx: mpsc::Sender<Job>,
    queued_bytes: Arc<AtomicUsize>,
    queue_bytes: usize,
    committed: Arc<Mutex<Committed>>,
    appended: Arc<tokio::sync::Notify>,
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

/// Decodes the records of `bytes`: each with the offset just after it, the length of the valid
/// prefix, and the first damage found (records before it are still returned).
fn decode(bytes: &[u8]) -> (Vec<(u64, StoredBatch)>, u64, Option<String>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let word = |from: usize| -> Option<u32> {
            bytes
                .get(from..from + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let (Some(len), Some(crc)) = (word(at), word(at + 4)) else {
            return (out, at as u64, Some("truncated record header".into()));
        };
        let len = len as usize;
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            return (
                out,
                at as u64,
                Some(format!("record of {len} bytes is truncated")),
            );
        };
        if crc32fast::hash(payload) != crc {
            return (out, at as u64, Some("checksum mismatch".into()));
        }
        match serde_json::from_slice::<StoredBatch>(payload) {
            Ok(b) => out.push(((at + 8 + len) as u64, b)),
            Err(e) => return (out, at as u64, Some(format!("record is not a batch: {e}"))),
        }
        at += 8 + len;
    }
    (out, at as u64, None)
}

fn read_file(path: &Path, limit: Option<u64>) -> Result<Vec<u8>, LogError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut bytes = Vec::new();
    match limit {
        Some(n) => f.take(n).read_to_end(&mut bytes),
        None => f.read_to_end(&mut bytes),
    }
    .map_err(io_err(path))?;
    Ok(bytes)
}

impl EventLog {
    /// Opens (or creates) the log in `config.dir`: checks every record, truncates a torn tail,
    /// indexes batch ids, and starts the writer thread.
    ///
    /// # Errors
    /// [`LogError::Io`] for file-system failures; [`LogError::Corrupt`] for damage anywhere
    /// but the tail of the last segment.
    pub fn open(config: LogConfig) -> Result<EventLog, LogError> {
        fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
        let mut names: Vec<PathBuf> = fs::read_dir(&config.dir)
            .map_err(io_err(&config.dir))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("events-") && n.ends_with(".log"))
            })
            .collect();
        names.sort();
        let mut index: HashMap<(String, String, String), Receipt> = HashMap::new();
        let mut committed = Committed::default();
        let last = names.len().saturating_sub(1);
        for (i, path) in names.iter().enumerate() {
            let bytes = read_file(path, None)?;
            let (batches, valid, damage) = decode(&bytes);
            if let Some(why) = damage {
                if i != last {
                    return Err(LogError::Corrupt {
                        path: path.clone(),
                        offset: valid,
                        why,
                    });
                }
                tracing::warn!(path = %path.display(), offset = valid, %why, "truncating a torn record at the end of the event log");
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_err(path))?;
                f.set_len(valid).map_err(io_err(path))?;
                f.sync_all().map_err(io_err(path))?;
            }
            for (_, b) in batches {
                index.insert(
                    (b.project, b.environment, b.batch_id),
                    Receipt {
                        accepted: b.events.len(),
                        rejected: b.rejected,
                        duplicate: true,
                    },
                );
            }
            committed.segments.push((path.clone(), valid));
        }
        if committed.segments.is_empty() {
            let path = config.dir.join(segment_name(1));
            File::create(&path).map_err(io_err(&path))?;
            committed.segments.push((path, 0));
        }
        let (active, len) = committed.segments.last().cloned().unwrap_or_default();
        let file = OpenOptions::new()
            .append(true)
            .open(&active)
            .map_err(io_err(&active))?;
        let committed = Arc::new(Mutex::new(committed));
        let appended = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = mpsc::channel(config.queue_batches.max(1));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            dir: config.dir.clone(),
            segment_bytes: config.segment_bytes,
            file: BufWriter::with_capacity(1 << 20, file),
            active,
            len,
            index,
            committed: Arc::clone(&committed),
            queued_bytes: Arc::clone(&queued_bytes),
            failed: AtomicBool::new(false),
            appended: Arc::clone(&appended),
        };
        std::thread::Builder::new()
            .name("burgee-event-log".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(&config.dir))?;
        Ok(EventLog {
            tx,
            queued_bytes,
            queue_bytes: config.queue_bytes,
            committed,
            appended,
        })
    }

    /// Appends a batch and waits until it is durable (or recognised as a duplicate).
    ///
    /// # Errors
    /// [`AppendError::Overloaded`] when the queue is full (nothing was stored);
    /// [`AppendError::Failed`] when the disk failed.
    pub async fn append(&self, batch: StoredBatch) -> Result<Receipt, AppendError> {
        let payload = serde_json::to_vec(&batch).map_err(|e| AppendError::Failed(e.to_string()))?;
        let size = payload.len();
        if self.queued_bytes.fetch_add(size, Ordering::AcqRel) + size > self.queue_bytes {
            self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(AppendError::Overloaded);
        }
        let (done, wait) = oneshot::channel();
        if let Err(e) = self.tx.try_send(Job {
            batch,
            payload,
            done,
        }) {
            self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
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

    /// Durable batches after `from` (all environments, oldest first), at most `limit` of
    /// them, each with the position just after it.
    ///
    /// # Errors
    /// [`LogError`] when a segment cannot be read or a durable record is damaged.
    pub fn read_from(
        &self,
        from: Position,
        limit: usize,
    ) -> Result<Vec<(Position, StoredBatch)>, LogError> {
        let segments = self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .clone();
        let mut out = Vec::new();
        for (i, (path, len)) in segments.into_iter().enumerate() {
            let segment = i + 1;
            if segment < from.segment.max(1) {
                continue;
            }
            let start = if segment == from.segment {
                from.offset
            } else {
                0
            };
            if start >= len {
                continue;
            }
            let mut f = File::open(&path).map_err(io_err(&path))?;
            io::Seek::seek(&mut f, io::SeekFrom::Start(start)).map_err(io_err(&path))?;
            let mut bytes = Vec::new();
            f.take(len - start)
                .read_to_end(&mut bytes)
                .map_err(io_err(&path))?;
            let (batches, valid, damage) = decode(&bytes);
            if let Some(why) = damage {
                return Err(LogError::Corrupt {
                    path,
                    offset: start + valid,
                    why,
                });
            }
            for (end, b) in batches {
                out.push((
                    Position {
                        segment,
                        offset: start + end,
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
        self.appended.notified().await;
    }

    /// Calls `f` with every durable batch of `project`'s `environment`, oldest first.
    ///
    /// # Errors
    /// [`LogError`] when a segment cannot be read or a durable record is damaged.
    pub fn scan(
        &self,
        project: &str,
        environment: &str,
        mut f: impl FnMut(&StoredBatch),
    ) -> Result<(), LogError> {
        let segments = self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .clone();
        for (path, len) in segments {
            let bytes = read_file(&path, Some(len))?;
            let (batches, valid, damage) = decode(&bytes);
            if let Some(why) = damage {
                return Err(LogError::Corrupt {
                    path,
                    offset: valid,
                    why,
                });
            }
            batches
                .iter()
                .map(|(_, b)| b)
                .filter(|b| b.project == project && b.environment == environment)
                .for_each(&mut f);
        }
        Ok(())
    }
}

struct Writer {
    dir: PathBuf,
    segment_bytes: u64,
    file: BufWriter<File>,
    active: PathBuf,
    len: u64,
    index: HashMap<(String, String, String), Receipt>,
    committed: Arc<Mutex<Committed>>,
    queued_bytes: Arc<AtomicUsize>,
    failed: AtomicBool,
    appended: Arc<tokio::sync::Notify>,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < 4096 {
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
                let key = (
                    job.batch.project.clone(),
                    job.batch.environment.clone(),
                    job.batch.batch_id.clone(),
                );
                if let Some(r) = self.index.get(&key) {
                    results.push(Ok(*r));
                    continue;
                }
                let len = u32::try_from(job.payload.len())
                    .map_err(|_| io::Error::other("batch over 4 GiB"))?;
                self.file.write_all(&len.to_le_bytes())?;
                self.file
                    .write_all(&crc32fast::hash(&job.payload).to_le_bytes())?;
                self.file.write_all(&job.payload)?;
                self.len += 8 + u64::from(len);
                let receipt = Receipt {
                    accepted: job.batch.events.len(),
                    rejected: job.batch.rejected,
                    duplicate: false,
                };
                self.index.insert(
                    key,
                    Receipt {
                        duplicate: true,
                        ..receipt
                    },
                );
                results.push(Ok(receipt));
            }
            self.file.flush()?;
            self.file.get_ref().sync_data()?;
            self.publish_len();
            self.appended.notify_waiters();
            if self.len >= self.segment_bytes {
                self.rotate()?;
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
            last.1 = self.len;
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        let n = self
            .committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .len() as u64
            + 1;
        let path = self.dir.join(segment_name(n));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        File::open(&self.dir)?.sync_all()?;
        self.file = BufWriter::with_capacity(1 << 20, file);
        self.active = path.clone();
        self.len = 0;
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .segments
            .push((path, 0));
        Ok(())
    }
}
