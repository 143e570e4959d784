//! The event service behind `POST /v1/events`: validate, store durably, keep a short in-memory
//! tail for debugging, and feed experiment analysis.
//!
//! The log is opened (and so locked, see [`EventLog::open`]) on first use, not when the service
//! is made: the admin commands (`burgee token`, `keys`, `export`, `audit`) open the server state
//! but never touch events, so they keep working next to a running server, while
//! `burgee serve` opens the log at start-up ([`EventService::log`]) and fails at once when
//! another server holds it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::broadcast;

use super::log::{AppendError, EventLog, LogConfig, LogError, StoredBatch};
use super::model::{BatchError, Event, Rejection, parse_batch};
use crate::analysis::experiment::{ExperimentConfig, ExperimentResults, analyse};
use crate::analysis::stats::StatsError;

/// Events kept per environment for `GET .../events/recent`.
pub const RECENT_EVENTS: usize = 500;

/// The answer to an ingested batch (`spec/EVENTS.md` §3), sent with status 202.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// The batch's id.
    pub batch_id: String,
    /// Events stored (by the first delivery, for a duplicate).
    pub accepted: usize,
    /// The batch was stored before; nothing was stored now.
    pub duplicate: bool,
    /// Refused events, by index.
    pub rejected: Vec<Rejection>,
}

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The batch envelope is malformed (400).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The write path is behind (429).
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// Why results could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The log could not be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The experiment configuration is invalid.
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// A stored event with where it came from, for the live tail.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecentEvent {
    /// When the server stored it, ms since epoch.
    pub received_at: u64,
    /// The sending SDK's name.
    pub sdk: String,
    /// The event, its fields inline (an exposure or track event of `spec/events.schema.json`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub event: Event,
}

/// Validation, durable storage, a live tail and analysis of events.
pub struct EventService {
    config: LogConfig,
    log: Mutex<Option<EventLog>>,
    recent: Mutex<HashMap<(String, String), VecDeque<RecentEvent>>>,
    tail: broadcast::Sender<Arc<StoredBatch>>,
}

impl std::fmt::Debug for EventService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventService").finish_non_exhaustive()
    }
}

impl EventService {
    /// A service over the log of `config`, which is opened on first use (see the module docs).
    ///
    /// # Errors
    /// None today (the signature keeps room for checks of `config`).
    pub fn open(config: LogConfig) -> Result<EventService, LogError> {
        Ok(EventService {
            config,
            log: Mutex::new(None),
            recent: Mutex::new(HashMap::new()),
            tail: broadcast::channel(256).0,
        })
    }

    /// The underlying log (for the forwarders), opening it on the first call: this blocks for
    /// as long as [`EventLog::open`] reads the log, so `serve` calls it once at start-up.
    ///
    /// # Errors
    /// [`LogError::Locked`] when a running server holds the log; [`LogError::Io`] when it cannot
    /// be opened. A later call tries again.
    pub fn log(&self) -> Result<EventLog, LogError> {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = log.as_ref() {
            return Ok(open.clone());
        }
        let open = EventLog::open(self.config.clone())?;
        *log = Some(open.clone());
        Ok(open)
    }

    /// The log's counters since it was opened (zeros before it is opened): damaged records
    /// skipped ([`EventLog::damaged_records`]) and failed writes ([`EventLog::write_failures`]).
    pub fn log_counters(&self) -> crate::metrics::EventLogCounters {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or_else(Default::default, |log| crate::metrics::EventLogCounters {
                damaged_records: log.damaged_records(),
                write_failures: log.write_failures(),
            })
    }

    /// Validates `body` and stores the accepted events of `project`'s `environment`; returns
    /// once they are durable.
    ///
    /// # Errors
    /// [`IngestError::Batch`] for a malformed batch, [`IngestError::Append`] when the store is
    /// behind or failed (or could not be opened: [`AppendError::Failed`]).
    pub async fn ingest(
        &self,
        project: &str,
        environment: &str,
        body: &[u8],
        now: u64,
    ) -> Result<IngestResponse, IngestError> {
        let (batch_id, sdk, events, rejected) = parse_batch(body, now)?;
        let batch = StoredBatch {
            project: project.to_owned(),
            environment: environment.to_owned(),
            batch_id: batch_id.clone(),
            sdk,
            received_at: now,
            events,
            rejected: rejected.len(),
        };
        let log = self
            .log()
            .map_err(|e| AppendError::Failed(format!("opening the event log: {e}")))?;
        let receipt = log.append(batch.clone()).await?;
        if !receipt.duplicate {
            self.remember(&batch);
            // No subscriber is fine: the tail is best-effort, the log is the record.
            let _ = self.tail.send(Arc::new(batch));
        }
        Ok(IngestResponse {
            batch_id,
            accepted: receipt.accepted,
            duplicate: receipt.duplicate,
            rejected,
        })
    }

    fn remember(&self, batch: &StoredBatch) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let list = recent
            .entry((batch.project.clone(), batch.environment.clone()))
            .or_default();
        for event in &batch.events {
            if list.len() == RECENT_EVENTS {
                list.pop_front();
            }
            list.push_back(RecentEvent {
                received_at: batch.received_at,
                sdk: batch.sdk.name.clone(),
                event: event.clone(),
            });
        }
    }

    /// The newest stored events of an environment since this server started, newest first,
    /// at most `limit` (≤ [`RECENT_EVENTS`]).
    pub fn recent(&self, project: &str, environment: &str, limit: usize) -> Vec<RecentEvent> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent
            .get(&(project.to_owned(), environment.to_owned()))
            .map(|l| l.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// Every batch stored from now on (a live tail; slow receivers miss batches, see
    /// `broadcast`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredBatch>> {
        self.tail.subscribe()
    }

    /// Experiment results from every stored event of `project`'s `environment`, with the
    /// p-values at `timeline_points` instants (0: none; see
    /// [`crate::analysis::timeline::timeline`]). Reads the whole log: call it from a blocking
    /// task.
    ///
    /// # Errors
    /// [`ResultsError`] when the log cannot be opened or read, or the configuration is invalid.
    pub fn results(
        &self,
        project: &str,
        environment: &str,
        config: &ExperimentConfig,
        timeline_points: usize,
    ) -> Result<ExperimentResults, ResultsError> {
        let mut batches = Vec::new();
        self.log()?
            .scan(project, environment, |b| batches.push(b.clone()))?;
        let mut results = analyse(config, environment, &batches)?;
        if timeline_points > 0 {
            results.timeline = crate::analysis::timeline::timeline(
                config,
                environment,
                &batches,
                timeline_points,
            )?;
        }
        Ok(results)
    }
}
