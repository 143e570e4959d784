//! [`ClientConfig`] (its absent numbers from the core's one table of defaults, exported as
//! [`defaults()`]) and where a client persists its last verified envelope.

use std::path::{Path, PathBuf};

use burgee_client::{Bootstrap, ClientOptions as NativeOptions, DEFAULTS};

use crate::BurgeeError;

/// The default of every client option, the one table of every Burgee SDK
/// (`burgee_client::DEFAULTS`); times in ms. Retries use exponential backoff with full jitter:
/// the n-th waits a random time up to `min(backoffCapMs, backoffBaseMs · 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ClientDefaults {
    /// Polling period without streaming, ms.
    pub poll_interval_ms: u64,
    /// Timeout of each request, ms.
    pub request_timeout_ms: u64,
    /// A silent stream is reconnected after this long, ms.
    pub stream_idle_timeout_ms: u64,
    /// Ceiling of the first retry delay, ms.
    pub backoff_base_ms: u64,
    /// Largest retry delay, ms.
    pub backoff_cap_ms: u64,
    /// Largest envelope accepted, bytes.
    pub max_envelope_bytes: u64,
    /// Events are sent at least this often, ms.
    pub flush_interval_ms: u64,
    /// Events are sent when this many are queued.
    pub flush_size: u64,
    /// Most events held in memory.
    pub max_queued_events: u64,
    /// Exposure dedupe window, ms.
    pub dedupe_window_ms: u64,
    /// How long `stop()` may spend delivering events, ms.
    pub stop_timeout_ms: u64,
    /// A reasonable wait for the first snapshot, ms.
    pub ready_timeout_ms: u64,
}

/// The default of every client option ([`ClientDefaults`]).
#[uniffi::export]
pub fn defaults() -> ClientDefaults {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    ClientDefaults {
        poll_interval_ms: DEFAULTS.poll_interval_ms,
        request_timeout_ms: DEFAULTS.request_timeout_ms,
        stream_idle_timeout_ms: DEFAULTS.stream_idle_timeout_ms,
        backoff_base_ms: DEFAULTS.backoff_base_ms,
        backoff_cap_ms: DEFAULTS.backoff_cap_ms,
        max_envelope_bytes: n(DEFAULTS.max_envelope_bytes),
        flush_interval_ms: DEFAULTS.flush_interval_ms,
        flush_size: n(DEFAULTS.flush_size),
        max_queued_events: n(DEFAULTS.max_queued_events),
        dedupe_window_ms: DEFAULTS.dedupe_window_ms,
        stop_timeout_ms: DEFAULTS.close_timeout_ms,
        ready_timeout_ms: DEFAULTS.ready_timeout_ms,
    }
}

/// Configuration of a [`BurgeeClient`]. Only `environment`, `trustedKeys` and `storageDir`
/// are required; times are ms. Absent numbers take [`defaults()`] (the one table of every
/// Burgee SDK).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// Environment key the snapshots must be for (checked against each snapshot).
    pub environment: String,
    /// Project key the snapshots must be for (checked against each snapshot:
    /// `PROJECT_MISMATCH` for another project's; also sent to the server as `?project=`);
    /// `null`/`nil` = not checked. Set it: an app knows its project.
    #[uniffi(default = None)]
    pub project: Option<String>,
    /// Trusted Ed25519 public keys: standard base64 of 32 bytes (the `*.pub` files); several
    /// during a key rotation.
    pub trusted_keys: Vec<String>,
    /// A directory the app owns (Android `Context.filesDir`, iOS Application Support), created
    /// if missing. The last verified envelope is kept there as
    /// `burgee-<environment>.envelope.json` (see [`persisted_snapshot_path`]) and re-verified
    /// on the next launch. One client per environment and directory.
    pub storage_dir: String,
    /// Base URL of the Burgee server or CDN, e.g. `https://flags.example.com`; `null`/`nil` =
    /// offline only (bundled and persisted snapshots; [`BurgeeClient::start`] then fails).
    #[uniffi(default = None)]
    pub server_url: Option<String>,
    /// The environment's client-side key (`bgc_...`: the client snapshot, without server-only
    /// flags; what an app on users' devices ships) or SDK key (`bgs_...`); required with
    /// `serverUrl`. It also decides which snapshots are accepted, online and offline (the
    /// bundled and persisted ones too): with a `bgc_` key client snapshots only, otherwise
    /// server snapshots only (`AUDIENCE_MISMATCH`).
    #[uniffi(default = None)]
    pub sdk_key: Option<String>,
    /// An envelope (JSON text) shipped with the app, for the first launch without network;
    /// used when newer than the persisted one. Verified like any other.
    #[uniffi(default = None)]
    pub bootstrap_envelope: Option<String>,
    /// Server-sent events for instant updates (default true); without, or when the stream is
    /// not offered, poll with `If-None-Match`.
    #[uniffi(default = true)]
    pub streaming: bool,
    /// Polling period when not streaming, ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub poll_interval_ms: Option<u64>,
    /// Connect and response timeout of each request, ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub request_timeout_ms: Option<u64>,
    /// A stream silent (no events, no keep-alives) for this long is reconnected, ms (default:
    /// `defaults()`).
    #[uniffi(default = None)]
    pub stream_idle_timeout_ms: Option<u64>,
    /// First retry delay ceiling after a failure, ms (default: `defaults()`; exponential with full
    /// jitter).
    #[uniffi(default = None)]
    pub backoff_base_ms: Option<u64>,
    /// Largest retry delay, ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub backoff_cap_ms: Option<u64>,
    /// Refuse snapshot versions below this one, e.g. the bundled snapshot's (0 = none).
    #[uniffi(default = 0)]
    pub min_version: u64,
    /// Record an exposure for each evaluation that served a variant (default true). Exposures
    /// are recorded and sent only while started: evaluations before `start()` or after
    /// `stop()` record none.
    #[uniffi(default = true)]
    pub send_exposures: bool,
    /// Send queued events at least this often, ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub flush_interval_ms: Option<u64>,
    /// Send when this many events are queued (default: `defaults()`, at most 1000).
    #[uniffi(default = None)]
    pub flush_size: Option<u32>,
    /// Most events kept in memory; beyond, the oldest are dropped and counted (default:
    /// `defaults()`).
    #[uniffi(default = None)]
    pub max_queued_events: Option<u32>,
    /// Exposure dedupe window per (flag, variant, unit, snapshot), ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub dedupe_window_ms: Option<u64>,
    /// How long [`BurgeeClient::stop`] may spend delivering queued events, ms (default: `defaults()`).
    #[uniffi(default = None)]
    pub stop_timeout_ms: Option<u64>,
}

/// The file in `storageDir` holding the last verified envelope of `environment`: characters
/// other than ASCII letters, digits, `-` and `_` are written as `%XX`.
fn persist_file_name(environment: &str) -> String {
    let mut name = String::from("burgee-");
    for b in environment.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".envelope.json");
    name
}

/// Where a client configured with `storageDir` and `environment` persists its last verified
/// envelope (for apps that clear it, e.g. on sign-out, and for tests).
#[uniffi::export]
pub fn persisted_snapshot_path(storage_dir: String, environment: String) -> String {
    Path::new(&storage_dir)
        .join(persist_file_name(&environment))
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn native_options(c: &ClientConfig, online: bool) -> Result<NativeOptions, BurgeeError> {
    if c.storage_dir.is_empty() {
        return Err(BurgeeError::general(
            "storageDir must name a directory the app owns",
        ));
    }
    let dir = PathBuf::from(&c.storage_dir);
    std::fs::create_dir_all(&dir).map_err(|e| {
        BurgeeError::general(format!(
            "storageDir {}: cannot create it: {e}",
            dir.display()
        ))
    })?;
    let mut n = NativeOptions::new(c.environment.clone(), c.trusted_keys.clone());
    n.project.clone_from(&c.project);
    // The key is set offline too: it decides the audience of the snapshots accepted.
    n.sdk_key.clone_from(&c.sdk_key);
    if online {
        n.server_url.clone_from(&c.server_url);
    }
    n.bootstrap = c.bootstrap_envelope.clone().map(Bootstrap::Envelope);
    n.persist_path = Some(dir.join(persist_file_name(&c.environment)));
    n.streaming = c.streaming;
    n.poll_interval_ms = c.poll_interval_ms.unwrap_or(n.poll_interval_ms);
    n.request_timeout_ms = c.request_timeout_ms.unwrap_or(n.request_timeout_ms);
    n.stream_idle_timeout_ms = c.stream_idle_timeout_ms.unwrap_or(n.stream_idle_timeout_ms);
    n.backoff_base_ms = c.backoff_base_ms.unwrap_or(n.backoff_base_ms);
    n.backoff_cap_ms = c.backoff_cap_ms.unwrap_or(n.backoff_cap_ms);
    n.min_version = c.min_version;
    n.send_exposures = c.send_exposures;
    n.flush_interval_ms = c.flush_interval_ms.unwrap_or(n.flush_interval_ms);
    if let Some(v) = c.flush_size {
        n.flush_size = v as usize;
    }
    if let Some(v) = c.max_queued_events {
        n.max_queued_events = v as usize;
    }
    n.dedupe_window_ms = c.dedupe_window_ms.unwrap_or(n.dedupe_window_ms);
    n.close_timeout_ms = c.stop_timeout_ms.unwrap_or(n.close_timeout_ms);
    n.sdk_name = "burgee-mobile".into();
    n.sdk_version = env!("CARGO_PKG_VERSION").into();
    Ok(n)
}
