//! Running the server: [`run`] opens the state, binds, serves the API until `shutdown`
//! resolves, and runs the background tasks (re-signing, replica notifications, event
//! forwarding). The `burgee serve` command calls it; tests can call it in-process.
//!
//! ```text
//!  open state (migrations, first start) ─► lock the event log ─► re-sign what is due
//!        ─► bind ─► on_started(addr, credentials) ─► serve ... shutdown ─► end SSE streams
//!        ─► stop forwarders (they save their positions) ─► close the pool
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::config::ServerConfig;
use crate::error::StateError;
use crate::events::database::copy_to_database;
use crate::events::follow::FollowError;
use crate::events::log::LogError;
use crate::events::nats::{NatsConfig, connect, forward};
use crate::ready::ReadyFile;
use crate::service::{AppState, Credentials};
use crate::store::Backend;
use crate::{api, replicas};

/// Default of [`ServeOptions::resign_check`]: 60 s.
pub const DEFAULT_RESIGN_CHECK: Duration = Duration::from_secs(60);

/// Where to forward stored events in NATS JetStream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// Server URL, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// JetStream stream (created if missing).
    pub stream: String,
    /// Subject prefix: events go to `<prefix>.<project>.<environment>`.
    pub subject_prefix: String,
}

/// Where change notifications ([`crate::notify`]) go besides the projects' webhooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSinks {
    /// NATS JetStream (stream and subject prefix of the change events).
    pub nats: Option<NatsOptions>,
    /// Kafka.
    pub kafka: Option<crate::notify::KafkaOptions>,
}

/// What [`run`] serves and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The state to open.
    pub server: ServerConfig,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Interval between checks for snapshots past half their lifetime.
    pub resign_check: Duration,
    /// Forward stored events to NATS JetStream too.
    pub nats: Option<NatsOptions>,
    /// Send change notifications to NATS and Kafka too (webhooks always run).
    pub changes: ChangeSinks,
    /// The clock of every write and re-sign ([`SystemClock`] by default).
    pub clock: Arc<dyn Clock>,
    /// Where to write the [`ReadyFile`] once listening (`burgee serve --ready-file`).
    pub ready_file: Option<std::path::PathBuf>,
}

impl ServeOptions {
    /// `server` on `listen` with the default re-sign interval, no NATS and the system clock.
    #[must_use]
    pub fn new(server: ServerConfig, listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            server,
            listen,
            resign_check: DEFAULT_RESIGN_CHECK,
            nats: None,
            changes: ChangeSinks::default(),
            clock: Arc::new(SystemClock),
            ready_file: None,
        }
    }
}

/// What [`run`] reports once it listens.
#[derive(Debug)]
pub struct Started<'a> {
    /// The bound address.
    pub addr: SocketAddr,
    /// The credentials created at first start (`None` on later starts).
    pub credentials: Option<&'a Credentials>,
    /// The opened state.
    pub state: &'a AppState,
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The state could not be opened (database, data directory, keys, first start).
    #[error("{0}")]
    State(#[from] StateError),
    /// The event log could not be opened (e.g. another server holds it).
    #[error("{0}")]
    EventLog(#[from] LogError),
    /// The address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
    /// Kafka brokers were given to a build without the `kafka` feature.
    #[error("--kafka-brokers: this build of burgee has no Kafka support (cargo feature `kafka`)")]
    NoKafka,
}

/// Serves until `shutdown` resolves; calls `on_started` once it listens.
///
/// # Errors
/// [`ServeError`]: opening the state or the event log, binding, serving; Kafka brokers
/// without the `kafka` feature.
pub async fn run(
    opts: ServeOptions,
    on_started: impl FnOnce(&Started<'_>),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if cfg!(not(feature = "kafka")) && opts.changes.kafka.is_some() {
        return Err(ServeError::NoKafka);
    }
    let config = &opts.server;
    let (state, credentials) = AppState::open_with_clock(config, opts.clock.clone()).await?;
    // Lock and check the event log now: a second server on the same data directory stops
    // here ("in use by a running server") instead of at its first event. The admin commands
    // that open the state never open the event log, so they work next to a running server.
    let events = state.events().log()?;
    for p in state.republish_due(state.now()).await? {
        tracing::info!(project = %p.project, environment = %p.environment, version = p.version, "re-signed snapshot at start");
    }
    let listener_task = replicas::listen(&state).await?;
    let poll_task = replicas::poll(&state);

    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    if let Some(oidc) = state.oidc() {
        oidc.bound(addr);
    }
    let started = Started {
        addr,
        credentials: credentials.as_ref(),
        state: &state,
    };
    on_started(&started);
    if let Some(path) = &opts.ready_file {
        ReadyFile::of(&started, &config.data_dir)
            .await?
            .write(path)?;
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");

    let resign = tokio::spawn(resign_loop(state.clone(), opts.resign_check));
    let registry = crate::registry::spawn(&state);
    let (stop_forwarding, forwarding_stopped) = tokio::sync::watch::channel(false);
    let mut sinks = Vec::new();
    if let Some(n) = &opts.nats {
        let nats = NatsConfig {
            url: n.url.clone(),
            stream: n.stream.clone(),
            subject_prefix: n.subject_prefix.clone(),
            position_file: config.data_dir.join("events").join("nats.position"),
        };
        let log = events.clone();
        sinks.push(tokio::spawn(keep_following(
            "NATS JetStream",
            forwarding_stopped.clone(),
            move |stopped| {
                let (nats, log) = (nats.clone(), log.clone());
                async move { forward(log, connect(&nats).await?, nats, stopped).await }
            },
        )));
    }
    let (stop_notifying, notifying_stopped) = tokio::sync::watch::channel(false);
    let notify = crate::notify::SinkContext {
        state: state.clone(),
        stop: notifying_stopped,
    };
    let mut notifiers = vec![tokio::spawn(crate::notify::webhooks::run(notify.clone()))];
    if let Some(n) = &opts.changes.nats {
        let sink = crate::notify::sinks::NatsSink::new(
            n.url.clone(),
            n.stream.clone(),
            n.subject_prefix.clone(),
        );
        notifiers.push(tokio::spawn(crate::notify::sinks::run(
            notify.clone(),
            sink,
        )));
    }
    #[cfg(feature = "kafka")]
    if let Some(k) = &opts.changes.kafka {
        match crate::notify::kafka::KafkaSink::new(k) {
            Ok(sink) => notifiers.push(tokio::spawn(crate::notify::sinks::run(notify, sink))),
            Err(e) => tracing::error!(error = %e, "the Kafka producer could not be created; \
                change notifications are not sent to Kafka"),
        }
    }
    if state.store().backend == Backend::Postgres {
        // With PostgreSQL as the store, events go to its `events` table too.
        let (log, pool) = (events.clone(), state.store().pool.clone());
        let position = config.data_dir.join("events").join("database.position");
        sinks.push(tokio::spawn(keep_following(
            "database",
            forwarding_stopped,
            move |stopped| {
                let (log, pool, position) = (log.clone(), pool.clone(), position.clone());
                async move { copy_to_database(log, pool, &position, stopped).await }
            },
        )));
    }
    let stopping = state.clone();
    let served = crate::http::serve(
        listener,
        api::app(state.clone()),
        config.limits,
        shutdown,
        // End the SSE streams so the open connections can drain.
        move || stopping.begin_shutdown(),
    )
    .await;
    resign.abort();
    for task in registry {
        task.abort();
    }
    if let Err(e) = state.registry().leases.flush(&state.store().pool).await {
        tracing::warn!(error = %e, "flushing the last heartbeats failed");
    }
    // Let the forwarders finish the batch in flight and save their positions.
    let _ = stop_forwarding.send(true);
    let _ = stop_notifying.send(true);
    for task in notifiers {
        let _ = task.await;
    }
    for task in sinks {
        let _ = task.await;
    }
    if let Some(task) = listener_task {
        task.abort();
    }
    poll_task.abort();
    state.close().await;
    served.map_err(ServeError::Serve)
}

/// Runs an event sink (`run_once` follows the log until the future it is given resolves) until
/// `stop` turns true; on an error (sink down, ...) logs it and starts again after 5 s from the
/// last delivered batch, so nothing is lost.
async fn keep_following<F, Fut>(
    sink: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
    mut run_once: F,
) where
    F: FnMut(Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = Result<u64, FollowError>>,
{
    loop {
        let mut until = stop.clone();
        let stopped = Box::pin(async move {
            let _ = until.wait_for(|s| *s).await;
        });
        tracing::info!(sink, "copying stored events");
        match run_once(stopped).await {
            Ok(n) => {
                tracing::info!(sink, batches = n, "event copying stopped");
                return;
            }
            Err(e) => tracing::warn!(sink, error = %e, "event copying failed; retrying in 5 s"),
        }
        let mut until = stop.clone();
        tokio::select! {
            _ = until.wait_for(|s| *s) => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Every `every`, re-signs snapshots past half their lifetime ([`AppState::republish_due`]).
async fn resign_loop(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; the start-up check just ran
    loop {
        ticker.tick().await;
        match state.republish_due(state.now()).await {
            Ok(done) => {
                for p in done {
                    tracing::info!(project = %p.project, environment = %p.environment, version = p.version, "re-signed snapshot");
                }
            }
            Err(e) => tracing::error!(error = %e, "re-signing check failed"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. If a handler cannot be installed, that signal is ignored
/// (logged) and the other one still works.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
