//! The command line's arguments (clap derive): every subcommand, flag and environment
//! variable with its documented default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use burgee_core::{Audience, DEFAULT_MAX_ENVELOPE_BYTES, SNAPSHOT_PAYLOAD_TYPE};
use clap::{ArgGroup, Args, Parser, Subcommand};

use crate::model::Role;

/// Burgee: feature flags as signed snapshots, evaluated locally by every SDK.
#[derive(Debug, Parser)]
#[command(name = "burgee", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an Ed25519 key pair: NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (base64).
    Keygen(KeygenArgs),
    /// Run the server: authoring API, signing and snapshot distribution.
    Serve(Box<ServeArgs>),
    /// Fetch (or read) a snapshot, verify it like an SDK and evaluate one flag.
    Eval(EvalArgs),
    /// Verify a snapshot envelope file.
    Verify(VerifyArgs),
    /// Sign a payload file into a DSSE envelope.
    Sign(SignArgs),
    /// Create, list or revoke API tokens and SDK keys.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create, list or disable console users (e-mail and password sign-in).
    #[command(subcommand)]
    User(crate::cli::UserCommand),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write every environment's current signed envelope and every service's config document
    /// (without secrets) to a directory (for a CDN).
    Export(ExportArgs),
    /// Rotate or retire environment signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write everything (all tables, every version, the audit log, public keys) to a file.
    Backup(BackupArgs),
    /// Load a backup into an empty database.
    Restore(RestoreArgs),
    /// Experiment analysis.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// Print the HTTP API's OpenAPI 3.1 document (as served at `/openapi.json`) to stdout.
    Openapi,
}

/// `burgee experiment ...`.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Fetch an experiment's results from a server and print them as a table.
    Results(ExperimentResultsArgs),
}

/// `burgee experiment results`.
#[derive(Debug, Args)]
pub struct ExperimentResultsArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Admin API token with at least the viewer role in the project.
    #[arg(long, env = "BURGEE_ADMIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Project key.
    #[arg(long)]
    pub project: String,
    /// Flag key of the experiment.
    #[arg(long)]
    pub flag: String,
    /// Environment to analyse.
    #[arg(long)]
    pub environment: String,
    /// Print the API's JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `burgee backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to write (JSON, format `burgee-backup/1`; refuses to overwrite).
    #[arg(long)]
    pub out: PathBuf,
}

/// `burgee restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Where the state goes (the database must be empty).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to read.
    #[arg(long)]
    pub from: PathBuf,
}

/// Where the state lives (shared by the commands that open it).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory: keys/, credentials.env, and burgee.db (SQLite).
    #[arg(long, env = "BURGEE_DATA_DIR", default_value = "./burgee-data")]
    pub data_dir: PathBuf,
    /// Database URL: postgres://user:pass@host:port/db, or sqlite:PATH (default:
    /// SQLite in the data directory).
    #[arg(long, env = "BURGEE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// `burgee token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (stored only as a SHA-256 hash).
    Create(TokenCreateArgs),
    /// List tokens (never the secrets).
    List(StoreArgs),
    /// Revoke a token by id.
    Revoke {
        /// Token id (`tok_...`).
        id: String,
        /// Where the state lives.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `burgee token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Role of an admin API token (omit with --sdk or --client).
    #[arg(long, value_enum, required_unless_present_any = ["sdk", "client"])]
    pub role: Option<Role>,
    /// Create an SDK key for --project/--environment instead.
    #[arg(long, requires_all = ["project", "environment"], conflicts_with_all = ["role", "client"])]
    pub sdk: bool,
    /// Create a client-side key (public, for browsers and apps: reads only the client
    /// snapshot) for --project/--environment instead.
    #[arg(long, requires_all = ["project", "environment"], conflicts_with = "role")]
    pub client: bool,
    /// Project scope (admin tokens: omit for every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Environment of an SDK key.
    #[arg(long)]
    pub environment: Option<String>,
    /// Scope an SDK key to one service of the configuration centre (its config document
    /// only; a server-side key also reads the service's secrets).
    #[arg(long)]
    pub service: Option<String>,
    /// Label.
    #[arg(long, default_value = "")]
    pub name: String,
}

/// `burgee audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the chain; exit 0 and print the entry count, or exit 2 naming the first break.
    Verify(StoreArgs),
}

/// `burgee export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output directory: `OUT/<project>/<env>.json` (the envelope as served),
    /// `OUT/<project>/<env>.pub` (public keys to trust) and
    /// `OUT/<project>/configs/<env>/<service>.json` (each service's config document, without
    /// secret entries), created if missing.
    #[arg(long)]
    pub out: PathBuf,
}

/// `burgee keys ...` (operates on DATA_DIR/keys; a running server signs with the new keys
/// from its next publish — `--republish` publishes at once).
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Step 1: new active key; the old one keeps co-signing until `retire`.
    Rotate(KeyArgs),
    /// Step 2: stop co-signing with the previous keys.
    Retire(KeyArgs),
}

/// Arguments of `burgee keys rotate|retire`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Project.
    #[arg(long)]
    pub project: String,
    /// Environment.
    #[arg(long)]
    pub environment: String,
}

/// `burgee keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Directory to write the key files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Base name of the files: NAME.key and NAME.pub.
    #[arg(long, default_value = "signing")]
    pub name: String,
}

/// `burgee serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "BURGEE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the state lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// On first start, seed the demo web-shop project instead of an empty one.
    #[arg(long)]
    pub demo: bool,
    /// Lifetime of each published snapshot, in hours.
    #[arg(long, env = "BURGEE_SNAPSHOT_TTL_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_ttl_hours: u64,
    /// Seconds between checks for snapshots past half their lifetime (they are re-signed).
    #[arg(long, env = "BURGEE_RESIGN_CHECK_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub resign_check_secs: u64,
    /// Milliseconds between SSE keep-alive comments.
    #[arg(long, env = "BURGEE_SSE_KEEP_ALIVE_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(10..))]
    pub sse_keep_alive_ms: u64,
    /// Largest accepted request body, bytes.
    #[arg(long, env = "BURGEE_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
    /// Timeouts and limits of the HTTP server.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Also forward every stored event batch to NATS JetStream at this URL
    /// (e.g. nats://127.0.0.1:4222); subject `<prefix>.<project>.<environment>`.
    #[arg(long, env = "BURGEE_NATS_URL")]
    pub nats_url: Option<String>,
    /// JetStream stream for forwarded events (created if missing).
    #[arg(long, env = "BURGEE_NATS_STREAM", default_value = "BURGEE_EVENTS")]
    pub nats_stream: String,
    /// Subject prefix for forwarded events.
    #[arg(
        long,
        env = "BURGEE_NATS_SUBJECT_PREFIX",
        default_value = "burgee.events"
    )]
    pub nats_subject_prefix: String,
    /// Once listening, write a JSON file here (atomically, mode 0600) with the URL, the pid,
    /// the first start's credentials and the first project's public keys
    /// (`burgee_server::ready::ReadyFile`), for scripts and test harnesses.
    #[arg(long, env = "BURGEE_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// Console sign-in with an OpenID provider.
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// Change notifications to NATS and Kafka.
    #[command(flatten)]
    pub changes: ChangeArgs,
    /// Service registry timing and safety.
    #[command(flatten)]
    pub registry: super::RegistryArgs,
}

/// Where change notifications (every publish of a flag snapshot or config document) go,
/// besides each project's webhooks.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangeArgs {
    /// NATS server for change notifications (default: --nats-url, if given).
    #[arg(long, env = "BURGEE_CHANGES_NATS_URL")]
    pub changes_nats_url: Option<String>,
    /// JetStream stream of change notifications (created if missing).
    #[arg(
        long,
        env = "BURGEE_CHANGES_NATS_STREAM",
        default_value = "BURGEE_CHANGES"
    )]
    pub changes_nats_stream: String,
    /// Subject prefix: `<prefix>.<project>.<environment>`.
    #[arg(
        long,
        env = "BURGEE_CHANGES_NATS_SUBJECT_PREFIX",
        default_value = "burgee.changes"
    )]
    pub changes_nats_subject_prefix: String,
    /// Kafka bootstrap servers (host:port,...) for change notifications.
    #[arg(long, env = "BURGEE_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic of config document changes.
    #[arg(
        long,
        env = "BURGEE_KAFKA_CONFIG_TOPIC",
        default_value = "config-updates"
    )]
    pub kafka_config_topic: String,
    /// Topic of flag snapshot changes.
    #[arg(
        long,
        env = "BURGEE_KAFKA_FLAGS_TOPIC",
        default_value = "feature-flag-events"
    )]
    pub kafka_flags_topic: String,
}

impl ChangeArgs {
    /// The sinks these arguments name; `events_nats_url` (`--nats-url`) is the NATS default.
    pub fn sinks(&self, events_nats_url: Option<&str>) -> crate::serve::ChangeSinks {
        crate::serve::ChangeSinks {
            nats: self
                .changes_nats_url
                .as_deref()
                .or(events_nats_url)
                .map(|url| crate::serve::NatsOptions {
                    url: url.to_owned(),
                    stream: self.changes_nats_stream.clone(),
                    subject_prefix: self.changes_nats_subject_prefix.clone(),
                }),
            kafka: self
                .kafka_brokers
                .as_ref()
                .map(|brokers| crate::notify::KafkaOptions {
                    brokers: brokers.clone(),
                    config_topic: self.kafka_config_topic.clone(),
                    flags_topic: self.kafka_flags_topic.clone(),
                }),
        }
    }
}

/// Single sign-on of `burgee serve` ([`crate::oidc::OidcSettings`], which documents each).
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// OpenID provider (issuer URL, e.g. `https://login.example.com/realms/main`): adds
    /// "Sign in with NAME" to the console (authorization code flow with PKCE).
    #[arg(long, env = "BURGEE_OIDC_ISSUER", requires = "oidc_client_id")]
    pub oidc_issuer: Option<String>,
    /// Client id registered with the provider.
    #[arg(long, env = "BURGEE_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,
    /// Client secret (prefer the environment variable); omit for a public client.
    #[arg(long, env = "BURGEE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The server's public base URL (the redirect URI is `URL/v1/session/oidc/callback`);
    /// default http:// + the listen address.
    #[arg(long, env = "BURGEE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Scopes requested, space-separated.
    #[arg(long, env = "BURGEE_OIDC_SCOPES", default_value = crate::oidc::DEFAULT_SCOPES)]
    pub oidc_scopes: String,
    /// An extra scope that makes the provider send the groups (e.g. `groups`).
    #[arg(long, env = "BURGEE_OIDC_GROUPS_SCOPE")]
    pub oidc_groups_scope: Option<String>,
    /// The ID token claim holding the groups.
    #[arg(long, env = "BURGEE_OIDC_GROUPS_CLAIM", default_value = crate::oidc::DEFAULT_GROUPS_CLAIM)]
    pub oidc_groups_claim: String,
    /// Role mapping, repeatable (comma-separated in the variable):
    /// `group:NAME=ROLE[@PROJECT]` or `domain:DOMAIN=ROLE[@PROJECT]`. The highest matching role
    /// wins; a person matching none cannot sign in.
    #[arg(long = "oidc-role", env = "BURGEE_OIDC_ROLES", value_delimiter = ',')]
    pub oidc_roles: Vec<crate::oidc::RoleRule>,
    /// The provider's name on the console's button (default: the issuer's host).
    #[arg(long, env = "BURGEE_OIDC_DISPLAY_NAME")]
    pub oidc_display_name: Option<String>,
}

impl OidcArgs {
    /// The settings, when an issuer is given.
    pub fn settings(&self) -> Option<crate::oidc::OidcSettings> {
        let (issuer, client_id) = (self.oidc_issuer.as_ref()?, self.oidc_client_id.as_ref()?);
        let mut s = crate::oidc::OidcSettings::new(issuer, client_id);
        s.client_secret = self.oidc_client_secret.clone().map(crate::oidc::Secret);
        s.public_url.clone_from(&self.public_url);
        s.scopes = self
            .oidc_scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !s.scopes.iter().any(|x| x == "openid") {
            s.scopes.insert(0, "openid".to_owned());
        }
        if let Some(extra) = &self.oidc_groups_scope
            && !s.scopes.contains(extra)
        {
            s.scopes.push(extra.clone());
        }
        s.groups_claim.clone_from(&self.oidc_groups_claim);
        s.rules.clone_from(&self.oidc_roles);
        if let Some(name) = &self.oidc_display_name {
            s.display_name.clone_from(name);
        }
        Some(s)
    }
}

/// The HTTP limits of `burgee serve` ([`crate::config::HttpLimits`], which documents each).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Seconds a connection may take to send a request head.
    #[arg(long, env = "BURGEE_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may take to arrive (408 after).
    #[arg(long, env = "BURGEE_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// Seconds a handler may take to answer (408 after; streams run on once they answered).
    #[arg(long, env = "BURGEE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Open TCP connections at most.
    #[arg(long, env = "BURGEE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Requests handled at once at most (503 beyond).
    #[arg(long, env = "BURGEE_MAX_CONCURRENT_REQUESTS", default_value_t = 1_024)]
    pub max_concurrent_requests: usize,
    /// Sustained requests per second per token, key or session (per address without one);
    /// 0 = no rate limit.
    #[arg(long, env = "BURGEE_RATE_PER_SECOND", default_value_t = 100)]
    pub rate_per_second: u32,
    /// Burst above the sustained rate.
    #[arg(long, env = "BURGEE_RATE_BURST", default_value_t = 200)]
    pub rate_burst: u32,
    /// Open SSE streams at most, in total.
    #[arg(long, env = "BURGEE_MAX_STREAMS", default_value_t = 10_000)]
    pub max_streams: usize,
    /// Open SSE streams per key or token.
    #[arg(long, env = "BURGEE_MAX_STREAMS_PER_KEY", default_value_t = 2_000)]
    pub max_streams_per_key: usize,
}

impl From<&LimitArgs> for crate::config::HttpLimits {
    fn from(a: &LimitArgs) -> Self {
        crate::config::HttpLimits {
            header_read_timeout: Duration::from_secs(a.header_read_timeout_secs),
            body_timeout: Duration::from_secs(a.body_timeout_secs),
            request_timeout: Duration::from_secs(a.request_timeout_secs),
            max_connections: a.max_connections,
            max_concurrent_requests: a.max_concurrent_requests,
            rate_per_second: a.rate_per_second,
            rate_burst: a.rate_burst,
            max_streams: a.max_streams,
            max_streams_per_key: a.max_streams_per_key,
        }
    }
}

/// `burgee eval`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["server", "snapshot"])))]
pub struct EvalArgs {
    /// Flag key to evaluate.
    #[arg(long)]
    pub flag: String,
    /// Evaluation context as a JSON object, e.g. '{"targetingKey":"user-1","country":"DE"}'.
    #[arg(long, default_value = "{}")]
    pub context: String,
    /// Environment the snapshot must be for.
    #[arg(long)]
    pub environment: String,
    /// Trusted public key file (base64 of 32 bytes); repeat to trust several.
    #[arg(long = "public-key", env = "BURGEE_PUBLIC_KEY", required = true)]
    pub public_keys: Vec<PathBuf>,
    /// Server base URL, e.g. http://127.0.0.1:8080 (fetches /v1/snapshots/ENV).
    #[arg(long)]
    pub server: Option<String>,
    /// SDK key (or admin token) sent as `Authorization: Bearer` to --server.
    #[arg(long, env = "BURGEE_SDK_KEY", hide_env_values = true)]
    pub sdk_key: Option<String>,
    /// Read the envelope from this file instead of a server.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Project the snapshot must be for (refused with PROJECT_MISMATCH otherwise); also sent
    /// to --server as `?project=`.
    #[arg(long)]
    pub project: Option<String>,
    /// Audience the --snapshot file must be for (refused with AUDIENCE_MISMATCH otherwise).
    /// With --server it follows from the key: a client-side key (bgc_) reads the client
    /// snapshot.
    #[arg(long, value_enum, default_value_t = AudienceArg::Server)]
    pub audience: AudienceArg,
    /// Evaluation time, ms since epoch (default: the system clock).
    #[arg(long)]
    pub now: Option<u64>,
    /// Exit 1 unless this variant is served.
    #[arg(long)]
    pub expect: Option<String>,
}

/// Who a snapshot is for (`spec/SNAPSHOT.md` §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AudienceArg {
    /// Server SDKs (every flag, raw targeting data).
    Server,
    /// Browsers and apps (client-visible flags, digested targeting data).
    Client,
}

impl From<AudienceArg> for burgee_core::Audience {
    fn from(a: AudienceArg) -> Self {
        match a {
            AudienceArg::Server => burgee_core::Audience::Server,
            AudienceArg::Client => burgee_core::Audience::Client,
        }
    }
}

/// `burgee verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Envelope file (DSSE JSON).
    pub file: PathBuf,
    /// Trusted public key file (base64 of 32 bytes); repeat to trust several.
    #[arg(long = "public-key", required = true)]
    pub public_keys: Vec<PathBuf>,
    /// Environment the snapshot must be for.
    #[arg(long)]
    pub environment: String,
    /// Project the snapshot must be for (PROJECT_MISMATCH otherwise); without it, any
    /// project's snapshot verifies.
    #[arg(long)]
    pub project: Option<String>,
    /// Audience the snapshot must be for: `server`, or `client` for a client snapshot
    /// (AUDIENCE_MISMATCH otherwise).
    #[arg(long, default_value = "server", value_parser = parse_audience)]
    pub audience: Audience,
    /// Verification time, ms since epoch (default: the system clock).
    #[arg(long)]
    pub now: Option<u64>,
    /// Refuse versions below N with SNAPSHOT_ROLLBACK.
    #[arg(long)]
    pub min_version: Option<u64>,
    /// Version of the snapshot already held, as an SDK holds it: older versions, and this
    /// version with another digest, are refused with SNAPSHOT_ROLLBACK.
    #[arg(long, requires = "held_digest")]
    pub held_version: Option<u64>,
    /// Digest (`sha256:<hex>`) of the held snapshot (with --held-version).
    #[arg(long, requires = "held_version")]
    pub held_digest: Option<String>,
    /// Size limit of the envelope in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_ENVELOPE_BYTES)]
    pub max_bytes: usize,
}

/// `burgee sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Private key file (PKCS#8 PEM, as written by keygen).
    #[arg(long)]
    pub key: PathBuf,
    /// Payload file; its bytes are signed as they are.
    #[arg(long)]
    pub payload: PathBuf,
    /// Envelope file to write (DSSE JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// DSSE payload type.
    #[arg(long, default_value = SNAPSHOT_PAYLOAD_TYPE)]
    pub payload_type: String,
}

/// `--audience`: `server` or `client`.
pub(crate) fn parse_audience(name: &str) -> Result<Audience, String> {
    Audience::parse(name).ok_or_else(|| format!("\"{name}\" is not server or client"))
}
