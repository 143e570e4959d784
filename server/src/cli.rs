//! The `burgee` command line: `keygen`, `serve`, `eval`, `verify`, `sign`, `token`, `audit`,
//! `export`, `keys`, `backup`, `restore`.
//!
//! Exit codes: 0 success; 1 `eval --expect` saw another variant; 2 any error. Errors go to
//! stderr: `eval` prints `error: CODE: message`, `verify` prints `CODE: message` (CODE is a
//! stable [`ErrorCode`] string such as `SIGNATURE_INVALID`; I/O and network failures are
//! `GENERAL`), the other commands print `error: message`.

use std::io::{IsTerminal as _, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use burgee_core::{
    Context, ContextError, DEFAULT_MAX_ENVELOPE_BYTES, ErrorCode, EvaluationDetails, Held,
    LoadError, LoadOptions, SNAPSHOT_PAYLOAD_TYPE, Snapshot, TrustedKey, key_id, payload_digest,
    sign_envelope,
};
use clap::{ArgGroup, Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use crate::events::database::copy_to_database;
use crate::events::follow::FollowError;
use crate::events::nats::{NatsConfig, connect, forward};
use crate::keys::{self, KeyError};
use crate::model::{Role, TokenInput};
use crate::state::{AppState, Credentials, ServerConfig};
use crate::store::Backend;
use crate::{api, now_ms, replicas};

/// Exit code of `eval --expect` when the served variant differs.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit code of every command on error.
pub const EXIT_ERROR: u8 = 2;

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
    Serve(ServeArgs),
    /// Fetch (or read) a snapshot, verify it like an SDK and evaluate one flag.
    Eval(EvalArgs),
    /// Verify a snapshot envelope file.
    Verify(VerifyArgs),
    /// Sign a payload file into a DSSE envelope.
    Sign(SignArgs),
    /// Create, list or revoke API tokens and SDK keys.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write every environment's current signed envelope to a directory (for a CDN).
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
    /// Output directory: OUT/<project>/<env>.json (the envelope as served) and
    /// OUT/<project>/<env>.pub (public keys to trust), created if missing.
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
    /// Evaluation time, ms since epoch (default: the system clock).
    #[arg(long)]
    pub now: Option<u64>,
    /// Exit 1 unless this variant is served.
    #[arg(long)]
    pub expect: Option<String>,
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

/// A command failure: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CliError {
    /// The stable code (`GENERAL` for I/O, network and configuration problems).
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
}

impl CliError {
    fn general(message: impl Into<String>) -> Self {
        CliError {
            code: ErrorCode::General,
            message: message.into(),
        }
    }
}

impl From<LoadError> for CliError {
    fn from(e: LoadError) -> Self {
        CliError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<ContextError> for CliError {
    fn from(e: ContextError) -> Self {
        CliError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> Self {
        let code = match &e {
            KeyError::BadPublicKey { source, .. } => source.code(),
            _ => ErrorCode::General,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

/// Runs a parsed command line and returns the process exit code (see the module docs).
/// Logs (tracing) go to stderr, filtered by `RUST_LOG` (default `info` for `serve`, `warn`
/// otherwise).
pub fn run(cli: Cli) -> ExitCode {
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Fails only if a subscriber is already installed, which then keeps logging.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init()
        .ok();

    let plain = |result: Result<(), CliError>| match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(EXIT_ERROR)
        }
    };
    match cli.command {
        Command::Keygen(args) => plain(keygen(&args)),
        Command::Serve(args) => plain(serve(&args)),
        Command::Sign(args) => plain(sign(&args)),
        Command::Token(cmd) => plain(with_state(token_store(&cmd), |s| token(s, cmd))),
        Command::Audit(AuditCommand::Verify(store)) => plain(with_state(store, audit_verify)),
        Command::Export(args) => {
            let out = args.out.clone();
            plain(with_state(args.store, |s| export(s, out)))
        }
        Command::Keys(cmd) => plain(keys_command(cmd)),
        Command::Backup(args) => plain(backup(&args)),
        Command::Restore(args) => plain(restore(&args)),
        Command::Experiment(ExperimentCommand::Results(args)) => plain(experiment_results(&args)),
        Command::Eval(args) => eval(&args).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ERROR)
        }),
        Command::Verify(args) => match verify(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_ERROR)
            }
        },
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::general(format!("{}: {e}", path.display())))
}

fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<TrustedKey>, CliError> {
    paths
        .iter()
        .map(|p| keys::read_trusted_key(p).map_err(CliError::from))
        .collect()
}

/// `burgee keygen`: prints the key id on stdout, the file names on stderr.
fn keygen(args: &KeygenArgs) -> Result<(), CliError> {
    let key = keys::generate_signing_key()?;
    let files = keys::write_keypair(&args.out, &args.name, &key)?;
    eprintln!(
        "wrote {} (private key, mode 0600) and {} (public key)",
        files.private_key.display(),
        files.public_key.display()
    );
    println!("{}", files.key_id);
    Ok(())
}

/// `burgee sign`: prints `keyid=... digest=...` on stdout.
fn sign(args: &SignArgs) -> Result<(), CliError> {
    let key = keys::read_signing_key(&args.key)?;
    let payload = read_file(&args.payload)?;
    let envelope = sign_envelope(&args.payload_type, &payload, &key);
    let text = serde_json::to_string(&envelope)
        .map_err(|e| CliError::general(format!("serializing the envelope: {e}")))?;
    std::fs::write(&args.out, text)
        .map_err(|e| CliError::general(format!("{}: {e}", args.out.display())))?;
    println!(
        "keyid={} digest={}",
        key_id(&key.verifying_key().to_bytes()),
        payload_digest(&payload)
    );
    Ok(())
}

/// `burgee verify`: prints `OK version=N digest=sha256:... keyid=...`.
fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let bytes = read_file(&args.file)?;
    let trusted = read_trusted_keys(&args.public_keys)?;
    let now = args.now.unwrap_or_else(now_ms);
    let opts = LoadOptions {
        trusted_keys: &trusted,
        environment: &args.environment,
        held: args
            .held_version
            .zip(args.held_digest.as_deref())
            .map(|(version, digest)| Held { version, digest }),
        min_version: args.min_version.unwrap_or(0),
        now,
        max_envelope_bytes: args.max_bytes,
    };
    let snapshot = Snapshot::load(&bytes, &opts)?;
    let info = snapshot.info();
    println!(
        "OK version={} digest={} keyid={}",
        info.version,
        info.digest.as_deref().unwrap_or_default(),
        info.keyid.as_deref().unwrap_or_default()
    );
    Ok(())
}

/// What `burgee eval` prints: the flag, the snapshot's identity, then the evaluation
/// details' own fields.
#[derive(Serialize)]
struct EvalOutput<'a> {
    flag: &'a str,
    snapshot_version: u64,
    snapshot_digest: &'a str,
    #[serde(flatten)]
    details: &'a EvaluationDetails<'a>,
}

/// `burgee eval`.
fn eval(args: &EvalArgs) -> Result<ExitCode, CliError> {
    let ctx = Context::from_json_str(&args.context)?;
    let trusted = read_trusted_keys(&args.public_keys)?;
    let envelope = match (&args.server, &args.snapshot) {
        (Some(server), _) => fetch_snapshot(server, &args.environment, args.sdk_key.as_deref())?,
        (None, Some(path)) => read_file(path)?,
        (None, None) => return Err(CliError::general("give --server URL or --snapshot FILE")),
    };
    let now = args.now.unwrap_or_else(now_ms);
    let snapshot = Snapshot::load(
        &envelope,
        &LoadOptions::new(&trusted, &args.environment, now),
    )?;
    let details = snapshot.evaluate(&args.flag, &ctx, now);
    let out = EvalOutput {
        flag: &args.flag,
        snapshot_version: snapshot.info().version,
        snapshot_digest: snapshot.info().digest.as_deref().unwrap_or_default(),
        details: &details,
    };
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| CliError::general(format!("serializing the result: {e}")))?;
    println!("{text}");
    if let Some(expected) = &args.expect
        && details.variant != Some(expected.as_str())
    {
        let served = details
            .variant
            .map_or_else(|| "no variant".to_owned(), |v| format!("variant \"{v}\""));
        eprintln!(
            "expected variant \"{expected}\" of \"{}\", served {served} (reason {})",
            args.flag,
            details.reason.as_str()
        );
        return Ok(ExitCode::from(EXIT_MISMATCH));
    }
    Ok(ExitCode::SUCCESS)
}

/// The server's error body, for messages about failed fetches.
#[derive(Deserialize)]
struct ServerErrorBody {
    code: String,
    message: String,
}

/// `GET {server}/v1/snapshots/{env}`; reads at most the envelope size limit + 1 bytes so the
/// core reports `SNAPSHOT_TOO_LARGE` for anything bigger.
fn fetch_snapshot(server: &str, env: &str, sdk_key: Option<&str>) -> Result<Vec<u8>, CliError> {
    let url = format!("{}/v1/snapshots/{env}", server.trim_end_matches('/'));
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    let mut request = agent.get(&url);
    if let Some(key) = sdk_key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    let mut response = request
        .call()
        .map_err(|e| CliError::general(format!("GET {url}: {e}")))?;
    let status = response.status();
    let limit = u64::try_from(DEFAULT_MAX_ENVELOPE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| CliError::general(format!("GET {url}: reading the body: {e}")))?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<ServerErrorBody>(&body).map_or_else(
            |_| String::from_utf8_lossy(&body).into_owned(),
            |e| format!("{}: {}", e.code, e.message),
        );
        return Err(CliError::general(format!(
            "GET {url}: HTTP {status}: {detail}"
        )));
    }
    Ok(body)
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::general(format!("starting the async runtime: {e}")))
}

fn failed(e: crate::error::StateError) -> CliError {
    CliError::general(e.to_string())
}

fn store_config(store: &StoreArgs) -> ServerConfig {
    ServerConfig {
        database_url: store.database_url.clone(),
        ..ServerConfig::new(&store.data_dir, 168 * 3_600_000)
    }
}

/// Opens the state (bootstrapping an empty store, like `serve`) and runs `f` on it.
fn with_state<F, Fut>(store: StoreArgs, f: F) -> Result<(), CliError>
where
    F: FnOnce(AppState) -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    runtime()?.block_on(async move {
        let config = store_config(&store);
        let (state, credentials) = AppState::open(&config).await.map_err(failed)?;
        if let Some(c) = &credentials {
            print_credentials(c, &config.data_dir);
        }
        let result = f(state.clone()).await;
        state.close().await;
        result
    })
}

fn token_store(cmd: &TokenCommand) -> StoreArgs {
    match cmd {
        TokenCommand::Create(a) => a.store.clone(),
        TokenCommand::List(s) | TokenCommand::Revoke { store: s, .. } => s.clone(),
    }
}

/// The audit actor of CLI commands: `cli:<user>`.
fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// `burgee token create|list|revoke`. `create` prints the token alone on stdout.
async fn token(state: AppState, cmd: TokenCommand) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Create(a) => {
            let input = TokenInput {
                kind: match (a.sdk, a.client) {
                    (true, _) => "sdk",
                    (_, true) => "client",
                    _ => "admin",
                }
                .into(),
                name: a.name,
                role: a.role,
                project: a.project,
                environment: a.environment,
            };
            let created = state
                .create_token(&cli_actor(), &input)
                .await
                .map_err(failed)?;
            eprintln!(
                "created {} ({}); shown once, stored only as a hash:",
                created.info.id, created.info.kind
            );
            println!("{}", created.token);
        }
        TokenCommand::List(_) => {
            for t in state.tokens(None).await.map_err(failed)? {
                let role = t.role.map_or("-", Role::as_str);
                println!(
                    "{} {} role={role} project={} environment={} revoked={} name={:?}",
                    t.id,
                    t.kind,
                    t.project.as_deref().unwrap_or("*"),
                    t.environment.as_deref().unwrap_or("-"),
                    t.revoked_at.is_some(),
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id, .. } => {
            state
                .revoke_token(&cli_actor(), &id)
                .await
                .map_err(failed)?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

/// `burgee audit verify`: prints `OK <n> entries`.
async fn audit_verify(state: AppState) -> Result<(), CliError> {
    let n = state.verify_audit().await.map_err(failed)?;
    println!("OK {n} entries");
    Ok(())
}

/// `burgee export`: OUT/<project>/<env>.json (+ .pub of the active key); prints one line
/// per file.
async fn export(state: AppState, out: PathBuf) -> Result<(), CliError> {
    let io = |path: &Path, e: std::io::Error| CliError::general(format!("{}: {e}", path.display()));
    for s in state.all_latest().await.map_err(failed)? {
        let dir = out.join(&s.project);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let file = dir.join(format!("{}.json", s.environment));
        let tmp = dir.join(format!(".{}.json.tmp", s.environment));
        std::fs::write(&tmp, s.envelope.as_bytes()).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &file).map_err(|e| io(&file, e))?;
        println!(
            "{} version={} digest={}",
            file.display(),
            s.version,
            s.digest
        );
    }
    Ok(())
}

/// `burgee keys rotate|retire`, then a republish of the environment.
fn keys_command(cmd: KeysCommand) -> Result<(), CliError> {
    let (args, rotate) = match cmd {
        KeysCommand::Rotate(a) => (a, true),
        KeysCommand::Retire(a) => (a, false),
    };
    with_state(args.store.clone(), move |state| async move {
        let env = state
            .environment(&args.project, &args.environment)
            .await
            .map_err(failed)?;
        let name = state
            .key_name(&env.project, &env.key)
            .await
            .map_err(failed)?;
        if rotate {
            let files = keys::rotate(state.keys_dir(), &name)?;
            eprintln!(
                "new active key {} in {}; the previous key keeps co-signing until `burgee keys retire`",
                files.key_id,
                files.public_key.display()
            );
        } else {
            let n = keys::retire(state.keys_dir(), &name)?;
            eprintln!("retired {n} previous key(s)");
        }
        let published = state
            .republish(
                &env.project,
                &env.key,
                &cli_actor(),
                if rotate {
                    "key rotation"
                } else {
                    "key retirement"
                },
            )
            .await
            .map_err(failed)?;
        println!("published version {}", published.version);
        Ok(())
    })
}

async fn open_store(store: &StoreArgs) -> Result<crate::store::Store, CliError> {
    std::fs::create_dir_all(&store.data_dir)
        .map_err(|e| CliError::general(format!("{}: {e}", store.data_dir.display())))?;
    let url = store
        .database_url
        .clone()
        .unwrap_or_else(|| crate::store::Store::sqlite_url(&store.data_dir));
    crate::store::Store::open(&url, 2).await.map_err(failed)
}

/// `burgee backup`: prints the number of rows per table.
fn backup(args: &BackupArgs) -> Result<(), CliError> {
    runtime()?.block_on(async {
        let store = open_store(&args.store).await?;
        let dump = crate::backup::dump(&store, &args.store.data_dir.join("keys"))
            .await
            .map_err(failed)?;
        store.pool.close().await;
        let text = serde_json::to_vec(&dump)
            .map_err(|e| CliError::general(format!("serializing the backup: {e}")))?;
        keys::write_new_file(&args.out, &text, 0o600)?;
        for (table, t) in &dump.tables {
            println!("{table} {}", t.rows.len());
        }
        Ok(())
    })
}

/// `burgee restore`: prints `restored N rows`.
fn restore(args: &RestoreArgs) -> Result<(), CliError> {
    let bytes = read_file(&args.from)?;
    let dump: crate::backup::Backup = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::general(format!("{}: not a backup: {e}", args.from.display())))?;
    runtime()?.block_on(async {
        let store = open_store(&args.store).await?;
        let n = crate::backup::restore(&store, &args.store.data_dir.join("keys"), &dump)
            .await
            .map_err(failed);
        store.pool.close().await;
        println!("restored {} rows", n?);
        Ok(())
    })
}

/// `burgee experiment results`: `GET .../experiments/{flag}/results` printed as a table
/// ([`crate::analysis::report::render`]) or as JSON.
fn experiment_results(args: &ExperimentResultsArgs) -> Result<(), CliError> {
    let url = format!(
        "{}/v1/projects/{}/experiments/{}/results?environment={}",
        args.server.trim_end_matches('/'),
        args.project,
        args.flag,
        args.environment
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent();
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {}", args.token))
        .call()
        .map_err(|e| CliError::general(format!("GET {url}: {e}")))?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_vec()
        .map_err(|e| CliError::general(format!("GET {url}: reading the body: {e}")))?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<ServerErrorBody>(&body).map_or_else(
            |_| String::from_utf8_lossy(&body).into_owned(),
            |e| format!("{}: {}", e.code, e.message),
        );
        return Err(CliError::general(format!(
            "GET {url}: HTTP {status}: {detail}"
        )));
    }
    let results: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| CliError::general(format!("GET {url}: the answer is not JSON: {e}")))?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&results).map_err(|e| CliError::general(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", crate::analysis::report::render(&results));
    }
    Ok(())
}

/// `burgee serve`: runs until Ctrl-C / SIGTERM.
fn serve(args: &ServeArgs) -> Result<(), CliError> {
    runtime()?.block_on(serve_async(args))
}

async fn serve_async(args: &ServeArgs) -> Result<(), CliError> {
    let snapshot_ttl_ms = args
        .snapshot_ttl_hours
        .checked_mul(3_600_000)
        .ok_or_else(|| CliError::general("--snapshot-ttl-hours is too large"))?;
    let config = ServerConfig {
        data_dir: args.store.data_dir.clone(),
        database_url: args.store.database_url.clone(),
        demo: args.demo,
        snapshot_ttl_ms,
        sse_keep_alive: Duration::from_millis(args.sse_keep_alive_ms),
        max_body_bytes: args.max_body_bytes,
    };
    let (state, credentials) = AppState::open(&config).await.map_err(failed)?;
    // Lock and check the event log now: a second server on the same data directory stops
    // here ("in use by a running server") instead of at its first event. The other commands
    // that open the state never open the event log, so they work next to a running server.
    let events = state
        .events()
        .log()
        .map_err(|e| CliError::general(e.to_string()))?;
    if let Some(credentials) = &credentials {
        print_credentials(credentials, &config.data_dir);
    }
    for p in state.republish_due(now_ms()).await.map_err(failed)? {
        tracing::info!(project = %p.project, environment = %p.environment, version = p.version, "re-signed snapshot at start");
    }
    let listener_task = replicas::listen(&state).await.map_err(failed)?;
    let poll_task = replicas::poll(&state);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::general(format!("binding {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::general(format!("reading the bound address: {e}")))?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");

    let resign = tokio::spawn(resign_loop(
        state.clone(),
        Duration::from_secs(args.resign_check_secs),
    ));
    let (stop_forwarding, forwarding_stopped) = tokio::sync::watch::channel(false);
    let mut sinks = Vec::new();
    if let Some(url) = &args.nats_url {
        let nats = NatsConfig {
            url: url.clone(),
            stream: args.nats_stream.clone(),
            subject_prefix: args.nats_subject_prefix.clone(),
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
    // No Nagle delay: SSE events and small responses go out at once.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let served = axum::serve(listener, api::app(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // End the SSE streams so the open connections can drain.
            stopping.begin_shutdown();
        })
        .await;
    resign.abort();
    // Let the forwarder finish the batch in flight and save its position.
    let _ = stop_forwarding.send(true);
    for task in sinks {
        let _ = task.await;
    }
    if let Some(task) = listener_task {
        task.abort();
    }
    poll_task.abort();
    state.close().await;
    served.map_err(|e| CliError::general(format!("serving: {e}")))
}

/// Runs an event sink (`run_once` follows the log until the future it is given resolves) until
/// `stop` turns true; on an error (sink down, ...) logs it and starts again after 5 s from the
/// last delivered batch, so nothing is lost.
async fn keep_following<F, Fut>(
    sink: &'static str,
    stop: tokio::sync::watch::Receiver<bool>,
    mut run_once: F,
) where
    F: FnMut(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = Result<u64, FollowError>>,
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

fn print_credentials(credentials: &Credentials, data_dir: &Path) {
    eprintln!(
        "First start: created environments with these credentials (shown once; stored only as hashes)."
    );
    eprintln!("  admin token:          {}", credentials.admin_token);
    for (env, key) in &credentials.sdk_keys {
        eprintln!("  SDK key {env:<12} {key}");
    }
    eprintln!(
        "They are also in {} (mode 0600): `source` it in a shell.",
        credentials.file.display()
    );
    eprintln!(
        "Public keys for SDKs and `burgee eval`: {}/keys/<environment>.pub",
        data_dir.display()
    );
}

/// Every `every`, re-signs snapshots past half their lifetime ([`AppState::republish_due`]).
async fn resign_loop(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; the start-up check just ran
    loop {
        ticker.tick().await;
        match state.republish_due(now_ms()).await {
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
async fn shutdown_signal() {
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
