//! [`ClientOptions`] (every default from the core's one table, [`burgee_core::engine::DEFAULTS`]),
//! [`Bootstrap`] and [`ClientError`].

use std::path::PathBuf;

use burgee_core::engine::DEFAULTS;
use burgee_core::{Audience, ErrorCode};

/// Where an offline-start envelope comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// The envelope JSON itself (e.g. shipped with the app or fetched from a CDN by the host).
    Envelope(String),
    /// A file holding the envelope JSON (e.g. written by `burgee export`).
    File(PathBuf),
}

/// Configuration of a [`crate::Client`]. [`ClientOptions::new`] sets the defaults of
/// [`DEFAULTS`] (the one table every SDK uses; the values below are its values).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Environment key the snapshots must be for (checked against each snapshot).
    pub environment: String,
    /// Trusted Ed25519 public keys, standard base64 of 32 bytes (`*.pub` files); several
    /// during rotation.
    pub trusted_keys: Vec<String>,
    /// Base URL of the Burgee server, e.g. `http://127.0.0.1:8080`; `None` = offline (bootstrap
    /// and persisted file only; no events are sent).
    pub server_url: Option<String>,
    /// SDK key (`bgs_...`) of the environment, or its client-side key (`bgc_...`, for apps
    /// on users' devices: the client then reads the environment's client snapshot,
    /// `spec/SNAPSHOT.md` §9, and refuses server snapshots; see [`ClientOptions::audience`]);
    /// required with `server_url`.
    pub sdk_key: Option<String>,
    /// Project key the snapshots must be for (checked against each snapshot:
    /// `PROJECT_MISMATCH` for another project's), also sent as `?project=` (which admin tokens
    /// need to pick a project). `None` = not checked; set it whenever the project is known.
    pub project: Option<String>,
    /// Envelope to start from before (or without) the server.
    pub bootstrap: Option<Bootstrap>,
    /// File where the last verified envelope is kept (written atomically after each update and
    /// re-verified when read at start).
    pub persist_path: Option<PathBuf>,
    /// Use server-sent events (default true); without, or when the stream fails, poll with
    /// `If-None-Match`.
    pub streaming: bool,
    /// Polling period when not streaming, ms (default [`Defaults::poll_interval_ms`](crate::Defaults::poll_interval_ms)).
    pub poll_interval_ms: u64,
    /// Connect and response timeout of each request, ms (default
    /// [`Defaults::request_timeout_ms`](crate::Defaults::request_timeout_ms)).
    pub request_timeout_ms: u64,
    /// A stream with no bytes (events or keep-alive comments) for this long is reconnected,
    /// ms (default [`Defaults::stream_idle_timeout_ms`](crate::Defaults::stream_idle_timeout_ms); the server sends keep-alives every 15 s).
    pub stream_idle_timeout_ms: u64,
    /// First retry delay ceiling, ms (default [`Defaults::backoff_base_ms`](crate::Defaults::backoff_base_ms); exponential
    /// backoff with full jitter, [`burgee_core::client::Backoff`]).
    pub backoff_base_ms: u64,
    /// Largest retry delay, ms (default [`Defaults::backoff_cap_ms`](crate::Defaults::backoff_cap_ms)).
    pub backoff_cap_ms: u64,
    /// Refuse snapshot versions below this one (0 = none).
    pub min_version: u64,
    /// Envelope size limit, bytes (default [`Defaults::max_envelope_bytes`](crate::Defaults::max_envelope_bytes), 8 MiB); the
    /// stream reader's line and event bound is this plus 64 KiB
    /// ([`burgee_core::engine::stream_limit`]).
    pub max_envelope_bytes: usize,
    /// Record an exposure for every successful evaluation reported with
    /// [`crate::Client::record_exposure`] (default true; needs `server_url`).
    pub send_exposures: bool,
    /// Flush events at least this often, ms (default [`Defaults::flush_interval_ms`](crate::Defaults::flush_interval_ms)).
    pub flush_interval_ms: u64,
    /// Flush when this many events are queued (default [`Defaults::flush_size`](crate::Defaults::flush_size), at most
    /// 1000).
    pub flush_size: usize,
    /// Most events kept in memory; beyond, the oldest are dropped and counted (default
    /// [`Defaults::max_queued_events`](crate::Defaults::max_queued_events)).
    pub max_queued_events: usize,
    /// Exposure dedupe window, ms (default [`Defaults::dedupe_window_ms`](crate::Defaults::dedupe_window_ms)).
    pub dedupe_window_ms: u64,
    /// How long [`crate::Client::close`] may spend delivering queued events, ms (default
    /// [`Defaults::close_timeout_ms`](crate::Defaults::close_timeout_ms)).
    pub close_timeout_ms: u64,
    /// `sdk.name` in event batches (default `burgee-client`).
    pub sdk_name: String,
    /// `sdk.version` in event batches (default this crate's version).
    pub sdk_version: String,
}

impl ClientOptions {
    /// The snapshots this client reads, from its key: [`Audience::Client`] for a client-side
    /// key (`bgc_...`), else [`Audience::Server`]. Snapshots for the other audience are
    /// refused with `AUDIENCE_MISMATCH`.
    pub fn audience(&self) -> Audience {
        if self
            .sdk_key
            .as_deref()
            .is_some_and(|k| k.starts_with("bgc_"))
        {
            Audience::Client
        } else {
            Audience::Server
        }
    }

    /// Options with every default and no server, bootstrap or persistence.
    pub fn new(environment: impl Into<String>, trusted_keys: Vec<String>) -> Self {
        ClientOptions {
            environment: environment.into(),
            trusted_keys,
            server_url: None,
            sdk_key: None,
            project: None,
            bootstrap: None,
            persist_path: None,
            streaming: true,
            poll_interval_ms: DEFAULTS.poll_interval_ms,
            request_timeout_ms: DEFAULTS.request_timeout_ms,
            stream_idle_timeout_ms: DEFAULTS.stream_idle_timeout_ms,
            backoff_base_ms: DEFAULTS.backoff_base_ms,
            backoff_cap_ms: DEFAULTS.backoff_cap_ms,
            min_version: 0,
            max_envelope_bytes: DEFAULTS.max_envelope_bytes,
            send_exposures: true,
            flush_interval_ms: DEFAULTS.flush_interval_ms,
            flush_size: DEFAULTS.flush_size,
            max_queued_events: DEFAULTS.max_queued_events,
            dedupe_window_ms: DEFAULTS.dedupe_window_ms,
            close_timeout_ms: DEFAULTS.close_timeout_ms,
            sdk_name: "burgee-client".into(),
            sdk_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// A configuration or input error: a stable code (`burgee_core::ErrorCode`) and a message.
///
/// Codes: `PARSE_ERROR` for a trusted key that is not base64 of a valid Ed25519 key;
/// `GENERAL` for other bad configuration (server URL without SDK key, unreadable bootstrap
/// file, invalid `track` event, a closed client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// Stable code.
    pub code: ErrorCode,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ClientError {}

pub(crate) fn general(message: impl Into<String>) -> ClientError {
    ClientError {
        code: ErrorCode::General,
        message: message.into(),
    }
}
