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
    /// Timeouts, connection, concurrency, rate and stream limits of the HTTP server.
    pub limits: HttpLimits,
    /// Console sign-in with an OpenID provider; `None` = local users and tokens only.
    pub oidc: Option<crate::oidc::OidcSettings>,
    /// Service registry timing and safety settings.
    pub registry: crate::registry::RegistrySettings,
}

/// The HTTP server's limits. Each has a `burgee serve` flag; the defaults are the `DEFAULT`
/// constant's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A connection that has not sent a complete request head within this time is closed
    /// (slow-loris protection). Default 10 s.
    pub header_read_timeout: Duration,
    /// A request body not received within this time is answered 408. Default 30 s.
    pub body_timeout: Duration,
    /// A handler that has not answered within this time is answered 408 (streams answer at
    /// once and then run without limit). Default 30 s.
    pub request_timeout: Duration,
    /// Open TCP connections at most; further ones are closed at once. Default 10,000.
    pub max_connections: usize,
    /// Requests being handled at once at most (streams count only until they answer);
    /// beyond, `503 UNAVAILABLE` with `Retry-After: 1`. Default 1,024.
    pub max_concurrent_requests: usize,
    /// Sustained requests per second per caller (token, session or SDK key; the client address
    /// for requests without one); beyond the burst, `429 OVERLOADED` with `Retry-After`.
    /// 0 turns rate limiting off. Default 100.
    pub rate_per_second: u32,
    /// Requests a caller may send at once above the sustained rate. Default 200.
    pub rate_burst: u32,
    /// Open SSE streams at most, in total (`503 UNAVAILABLE` beyond). Default 10,000.
    pub max_streams: usize,
    /// Open SSE streams per key or token (a fleet of SDK instances shares one key;
    /// `429 OVERLOADED` beyond). Default 2,000.
    pub max_streams_per_key: usize,
}

impl HttpLimits {
    /// The defaults listed on each field.
    pub const DEFAULT: HttpLimits = HttpLimits {
        header_read_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        max_connections: 10_000,
        max_concurrent_requests: 1_024,
        rate_per_second: 100,
        rate_burst: 200,
        max_streams: 10_000,
        max_streams_per_key: 2_000,
    };
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits::DEFAULT
    }
}

/// Default of [`ServerConfig::sse_keep_alive`]: 15 s.
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Default of [`ServerConfig::max_body_bytes`]: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

impl ServerConfig {
    /// SQLite in `data_dir`, no demo, the given TTL, default keep-alive and body limit, no
    /// single sign-on.
    pub fn new(data_dir: &Path, snapshot_ttl_ms: u64) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.to_path_buf(),
            database_url: None,
            demo: false,
            snapshot_ttl_ms,
            sse_keep_alive: DEFAULT_SSE_KEEP_ALIVE,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            limits: HttpLimits::DEFAULT,
            oidc: None,
            registry: crate::registry::RegistrySettings::default(),
        }
    }
}
