//! The `burgee` command line: `keygen`, `serve`, `eval`, `verify`, `sign`, `token`, `audit`,
//! `export`, `keys`, `backup`, `restore`.
//!
//! Exit codes: 0 success; 1 `eval --expect` saw another variant; 2 any error. Errors go to
//! stderr: `eval` prints `error: CODE: message`, `verify` prints `CODE: message` (CODE is a
//! stable [`ErrorCode`] string such as `SIGNATURE_INVALID`; I/O and network failures are
//! `GENERAL`), the other commands print `error: message`.

mod admin;
mod args;
mod registry;
mod snapshot;
mod users;

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub use args::*;
use burgee_core::{ContextError, ErrorCode, LoadError};
pub use registry::RegistryArgs;
use tracing_subscriber::EnvFilter;
pub use users::{UserCommand, UserCreateArgs};

use crate::cli::admin::{
    audit_verify, backup, experiment_results, export, keys_command, restore, token, token_store,
    with_state,
};
use crate::cli::snapshot::{eval, keygen, sign, verify};
use crate::config::ServerConfig;
use crate::keys::KeyError;
use crate::serve::{self, NatsOptions, ServeOptions};
use crate::service::Credentials;

/// Exit code of `eval --expect` when the served variant differs.
pub const EXIT_MISMATCH: u8 = 1;

/// Exit code of every command on error.
pub const EXIT_ERROR: u8 = 2;

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
        Command::User(cmd) => plain(with_state(cmd.store(), |s| users::user(s, cmd))),
        Command::Audit(AuditCommand::Verify(store)) => plain(with_state(store, audit_verify)),
        Command::Export(args) => {
            let out = args.out.clone();
            plain(with_state(args.store, |s| export(s, out)))
        }
        Command::Keys(cmd) => plain(keys_command(cmd)),
        Command::Backup(args) => plain(backup(&args)),
        Command::Restore(args) => plain(restore(&args)),
        Command::Experiment(ExperimentCommand::Results(args)) => plain(experiment_results(&args)),
        Command::Openapi => {
            println!("{:#}", crate::openapi::document());
            ExitCode::SUCCESS
        }
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

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::general(format!("starting the async runtime: {e}")))
}

pub(crate) fn failed(e: crate::error::StateError) -> CliError {
    CliError::general(e.to_string())
}

/// `burgee serve`: runs until Ctrl-C / SIGTERM.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), CliError> {
    runtime()?.block_on(serve_async(args))
}

pub(crate) async fn serve_async(args: &ServeArgs) -> Result<(), CliError> {
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
        limits: (&args.limits).into(),
        oidc: args.oidc.settings(),
        registry: (&args.registry).into(),
    };
    let mut opts = ServeOptions::new(config, args.listen);
    opts.resign_check = Duration::from_secs(args.resign_check_secs);
    opts.ready_file.clone_from(&args.ready_file);
    opts.nats = args.nats_url.as_ref().map(|url| NatsOptions {
        url: url.clone(),
        stream: args.nats_stream.clone(),
        subject_prefix: args.nats_subject_prefix.clone(),
    });
    opts.changes = args.changes.sinks(args.nats_url.as_deref());
    let data_dir = opts.server.data_dir.clone();
    serve::run(
        opts,
        |started| {
            if let Some(credentials) = started.credentials {
                print_credentials(credentials, &data_dir);
            }
            println!("listening on http://{}", started.addr);
        },
        serve::shutdown_signal(),
    )
    .await
    .map_err(|e| CliError::general(e.to_string()))
}

pub(crate) fn print_credentials(credentials: &Credentials, data_dir: &Path) {
    eprintln!(
        "First start: created environments with these credentials (shown once; stored only as hashes)."
    );
    eprintln!("  admin token:          {}", credentials.admin_token);
    eprintln!(
        "  console sign-in:      {} / {} (one-time password)",
        credentials.admin_email, credentials.admin_password
    );
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
