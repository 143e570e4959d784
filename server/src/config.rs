//! Server settings ([`ServerConfig`]) and their documented defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environments every new project gets, in creation order (`production` protected).
pub const ENVIRONMENTS: [&str; 3] = ["development", "staging", "production"];

/// How to open the server state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The data directory (created if missing): keys, credentials, SQLite file.
    pub data_dir: PathBuf,
    /// `None`: SQLite in `DATA_DIR/burgee.db`; else a `postgres://` or `sqlite:` URL.
    pub database_url: Option<String>,
    /// On first start, name the project `webshop` and seed [`crate::demo`]'s flags and
    /// segments; otherwise the project is `default` and starts empty.
    pub demo: bool,
    /// Lifetime of every published snapshot, ms (`expires_at = issued_at + ttl`).
    pub snapshot_ttl_ms: u64,
    /// Interval of SSE keep-alive comments (`: keep-alive`).
    pub sse_keep_alive: Duration,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
}

/// Default of [`ServerConfig::sse_keep_alive`]: 15 s.
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Default of [`ServerConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

impl ServerConfig {
    /// SQLite in `data_dir`, no demo, the given TTL, default keep-alive and body limit.
    pub fn new(data_dir: &Path, snapshot_ttl_ms: u64) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            demo: false,
            snapshot_ttl_ms,
            sse_keep_alive: DEFAULT_SSE_KEEP_ALIVE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}
