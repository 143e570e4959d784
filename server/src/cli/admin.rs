//! Administration commands on the server's state: `token`, `audit verify`, `export`, `keys`,
//! `backup`, `restore`, `experiment results`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::snapshot::{ServerErrorBody, read_file};
use crate::cli::{
    BackupArgs, CliError, ExperimentResultsArgs, KeysCommand, RestoreArgs, StoreArgs, TokenCommand,
    failed, print_credentials, runtime,
};
use crate::config::ServerConfig;
use crate::keys::{self};
use crate::model::{Role, TokenInput};
use crate::service::AppState;

pub(crate) fn store_config(store: &StoreArgs) -> ServerConfig {
    ServerConfig {
        database_url: store.database_url.clone(),
        ..ServerConfig::new(&store.data_dir, 168 * 3_600_000)
    }
}

/// Opens the state (bootstrapping an empty store, like `serve`) and runs `f` on it.
pub(crate) fn with_state<F, Fut>(store: StoreArgs, f: F) -> Result<(), CliError>
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

pub(crate) fn token_store(cmd: &TokenCommand) -> StoreArgs {
    match cmd {
        TokenCommand::Create(a) => a.store.clone(),
        TokenCommand::List(s) | TokenCommand::Revoke { store: s, .. } => s.clone(),
    }
}

/// The audit actor of CLI commands: `cli:<user>`.
pub(crate) fn cli_actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// `burgee token create|list|revoke`. `create` prints the token alone on stdout.
pub(crate) async fn token(state: AppState, cmd: TokenCommand) -> Result<(), CliError> {
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
                service: a.service,
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
pub(crate) async fn audit_verify(state: AppState) -> Result<(), CliError> {
    let n = state.verify_audit().await.map_err(failed)?;
    println!("OK {n} entries");
    Ok(())
}

/// `burgee export`: OUT/<project>/<env>.json (+ .pub of the active key); prints one line
/// per file.
pub(crate) async fn export(state: AppState, out: PathBuf) -> Result<(), CliError> {
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
    // Config documents, without secret entries (exported files are served as they are):
    // <out>/<project>/configs/<env>/<service>.json.
    for (project, env, service) in state.config_scopes().await.map_err(failed)? {
        let Some(doc) = state
            .latest_config((&project, &env, &service))
            .await
            .map_err(failed)?
            .and_then(|d| d.client.clone())
        else {
            continue;
        };
        let dir = out.join(&project).join("configs").join(&env);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let file = dir.join(format!("{service}.json"));
        let tmp = dir.join(format!(".{service}.json.tmp"));
        std::fs::write(&tmp, doc.envelope.as_bytes()).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &file).map_err(|e| io(&file, e))?;
        println!(
            "{} version={} digest={}",
            file.display(),
            doc.version,
            doc.digest
        );
    }
    Ok(())
}

/// `burgee keys rotate|retire`, then a republish of the environment.
pub(crate) fn keys_command(cmd: KeysCommand) -> Result<(), CliError> {
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
        let env_var = keys::key_env_var(&env.project, &env.key);
        let before = keys::signing_keys(state.keys_dir(), &name, &env_var)?;
        let ids = |k: &keys::SigningKeys| -> String {
            let list: Vec<String> = std::iter::once(&k.active)
                .chain(&k.previous)
                .map(keys::key_id_of)
                .collect();
            serde_json::json!({"active": list.first(), "signing": list}).to_string()
        };
        if rotate {
            let files = keys::rotate(state.keys_dir(), &name, &env_var)?;
            eprintln!(
                "new active key {} in {}; the previous key keeps co-signing until `burgee keys retire`",
                files.key_id,
                files.public_key.display()
            );
        } else {
            let n = keys::retire(state.keys_dir(), &name)?;
            eprintln!("retired {n} previous key(s)");
        }
        let after = keys::signing_keys(state.keys_dir(), &name, &env_var)?;
        let action = if rotate { "key.rotate" } else { "key.retire" };
        let reason = if rotate {
            "key rotation"
        } else {
            "key retirement"
        };
        let (project, environment) = (env.project.clone(), env.key.clone());
        let published = state
            .write(&cli_actor(), async |tx| {
                tx.audit(
                    action,
                    (Some(&project), Some(&environment)),
                    &format!("key:{project}/{environment}"),
                    Some(ids(&before)),
                    Some(ids(&after)),
                )
                .await?;
                tx.publish(&project, &environment, reason).await
            })
            .await
            .map_err(failed)?;
        println!("published version {}", published.version);
        Ok(())
    })
}

pub(crate) async fn open_store(store: &StoreArgs) -> Result<crate::store::Store, CliError> {
    std::fs::create_dir_all(&store.data_dir)
        .map_err(|e| CliError::general(format!("{}: {e}", store.data_dir.display())))?;
    let url = store
        .database_url
        .clone()
        .unwrap_or_else(|| crate::store::Store::sqlite_url(&store.data_dir));
    crate::store::Store::open(&url, 2).await.map_err(failed)
}

/// `burgee backup`: prints the number of rows per table.
pub(crate) fn backup(args: &BackupArgs) -> Result<(), CliError> {
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
pub(crate) fn restore(args: &RestoreArgs) -> Result<(), CliError> {
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
pub(crate) fn experiment_results(args: &ExperimentResultsArgs) -> Result<(), CliError> {
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
