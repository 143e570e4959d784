//! Commands that work on snapshots like an SDK or a publisher does: `keygen`, `sign`,
//! `verify`, `eval`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use burgee_client::{Client, ClientOptions, DEFAULTS};
use burgee_core::{
    Context, EvaluationDetails, Held, LoadOptions, Snapshot, TrustedKey, key_id, payload_digest,
    sign_envelope,
};
use serde::{Deserialize, Serialize};

use crate::cli::{CliError, EXIT_MISMATCH, EvalArgs, KeygenArgs, SignArgs, VerifyArgs};
use crate::keys::{self};
use crate::now_ms;

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::general(format!("{}: {e}", path.display())))
}

pub(crate) fn read_trusted_keys(paths: &[PathBuf]) -> Result<Vec<TrustedKey>, CliError> {
    paths
        .iter()
        .map(|p| keys::read_trusted_key(p).map_err(CliError::from))
        .collect()
}

/// `burgee keygen`: prints the key id on stdout, the file names on stderr.
pub(crate) fn keygen(args: &KeygenArgs) -> Result<(), CliError> {
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
pub(crate) fn sign(args: &SignArgs) -> Result<(), CliError> {
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
pub(crate) fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    let bytes = read_file(&args.file)?;
    let trusted = read_trusted_keys(&args.public_keys)?;
    let now = args.now.unwrap_or_else(now_ms);
    let opts = LoadOptions {
        trusted_keys: &trusted,
        project: args.project.as_deref(),
        environment: &args.environment,
        audience: args.audience,
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
pub(crate) struct EvalOutput<'a> {
    flag: &'a str,
    snapshot_version: u64,
    snapshot_digest: &'a str,
    #[serde(flatten)]
    details: &'a EvaluationDetails<'a>,
}

/// `burgee eval`: `--server` goes through `burgee-client` (the native SDK: the same fetch,
/// verification and project/audience checks as every SDK; no exposure is sent), `--snapshot`
/// verifies a file with the core directly (evaluated at `--now` when given).
pub(crate) fn eval(args: &EvalArgs) -> Result<ExitCode, CliError> {
    let ctx = Context::from_json_str(&args.context)?;
    let trusted = read_trusted_keys(&args.public_keys)?;
    let snapshot = match (&args.server, &args.snapshot) {
        (Some(server), _) => fetch_with_client(server, args)?,
        (None, Some(path)) => {
            let envelope = read_file(path)?;
            let now = args.now.unwrap_or_else(now_ms);
            let mut options = LoadOptions::new(&trusted, &args.environment, now)
                .for_audience(args.audience.into());
            if let Some(project) = &args.project {
                options = options.for_project(project);
            }
            Arc::new(Snapshot::load(&envelope, &options)?)
        }
        (None, None) => return Err(CliError::general("give --server URL or --snapshot FILE")),
    };
    let now = args.now.unwrap_or_else(now_ms);
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

/// The verified snapshot `server` serves for the environment, fetched once (no stream, no
/// events) by a `burgee_client::Client`.
fn fetch_with_client(server: &str, args: &EvalArgs) -> Result<Arc<Snapshot>, CliError> {
    let keys = args
        .public_keys
        .iter()
        .map(|path| {
            let text = read_file(path)?;
            Ok(String::from_utf8_lossy(&text).trim().to_owned())
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let mut options = ClientOptions::new(&args.environment, keys);
    options.server_url = Some(server.to_owned());
    options.sdk_key = args.sdk_key.clone();
    options.project = args.project.clone();
    options.streaming = false;
    options.send_exposures = false;
    let client = Client::new(options).map_err(|e| CliError::general(e.to_string()))?;
    let status = client.wait_until_ready(Duration::from_millis(DEFAULTS.request_timeout_ms * 3));
    let snapshot = client.snapshot();
    let (_, error) = client.status();
    client.close();
    snapshot.ok_or_else(|| {
        let detail = error.map_or_else(
            || format!("no snapshot ({status:?})"),
            |(code, message)| format!("{}: {message}", code.as_str()),
        );
        CliError::general(format!("{server}: {detail}"))
    })
}

/// The server's error body, for messages about failed fetches.
#[derive(Deserialize)]
pub(crate) struct ServerErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
}
