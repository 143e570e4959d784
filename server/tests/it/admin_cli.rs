//! The state-management commands against real data directories: `token create|list|revoke`,
//! `audit verify` (and a tampered row), `export`, `keys rotate|retire`, `backup`/`restore`
//! (SQLite → SQLite, and SQLite → PostgreSQL when `BURGEE_TEST_DATABASE_URL` is set; with
//! `CI=true` it must be).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::path::Path;
use std::process::{Command, Output};

use burgee_core::{ErrorCode, LoadOptions, Snapshot};
use burgee_server::config::ServerConfig;
use burgee_server::keys::read_trusted_key;
use burgee_server::now_ms;
use burgee_server::service::AppState;

use crate::common::postgres_url;

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn burgee(dir: &Path, args: &[&str], db: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("BURGEE_DATA_DIR")
        .env_remove("BURGEE_DATABASE_URL");
    if let Some(url) = db {
        cmd.args(["--database-url", url]);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn sqlite_pool(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("burgee.db").display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_audit_export_keys_backup_restore() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // token create on a fresh directory bootstraps it, then prints only the token.
    let out = burgee(
        d,
        &[
            "token",
            "create",
            "--role",
            "publisher",
            "--project",
            "default",
            "--name",
            "deploy",
        ],
        None,
    );
    let token = ok(&out).trim().to_owned();
    assert!(token.starts_with("bga_") && token.len() == 68, "{token}");
    let sdk = ok(&burgee(
        d,
        &[
            "token",
            "create",
            "--sdk",
            "--project",
            "default",
            "--environment",
            "staging",
        ],
        None,
    ));
    assert!(sdk.trim().starts_with("bgs_"));
    let refused = burgee(
        d,
        &[
            "token",
            "create",
            "--sdk",
            "--project",
            "default",
            "--environment",
            "nope",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2));
    let listed = ok(&burgee(d, &["token", "list"], None));
    assert!(listed.contains("role=publisher project=default") && !listed.contains(&token));
    let id = listed
        .lines()
        .find(|l| l.contains("\"deploy\""))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    let config = ServerConfig::new(d, 3_600_000);
    let (state, _) = AppState::open(&config).await.unwrap();
    assert!(state.principal(&token).await.unwrap().is_some());
    state.close().await;
    ok(&burgee(d, &["token", "revoke", &id], None));
    let (state, _) = AppState::open(&config).await.unwrap();
    assert!(state.principal(&token).await.unwrap().is_none());
    state.close().await;

    // audit verify: OK, then a tampered row is named.
    let verified = ok(&burgee(d, &["audit", "verify"], None));
    assert!(
        verified.starts_with("OK ") && verified.trim().ends_with(" entries"),
        "{verified}"
    );
    let pool = sqlite_pool(d).await;
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    let broken = burgee(d, &["audit", "verify"], None);
    assert_eq!(broken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("audit chain broken at seq 2"), "{stderr}");
    sqlx::query("UPDATE audit_log SET actor = 'system' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    ok(&burgee(d, &["audit", "verify"], None));

    // keys rotate: the next version is signed by both keys; export writes it.
    let old_key = read_trusted_key(&d.join("keys/production.pub")).unwrap();
    let rotated = ok(&burgee(
        d,
        &[
            "keys",
            "rotate",
            "--project",
            "default",
            "--environment",
            "production",
        ],
        None,
    ));
    assert_eq!(rotated.trim(), "published version 2");
    let new_key = read_trusted_key(&d.join("keys/production.pub")).unwrap();
    assert_ne!(old_key.keyid(), new_key.keyid());
    // No staging files are left, and the rotation is in the audit log with both key ids.
    assert!(!d.join("keys/production.next.key").exists());
    let audit = ok(&burgee(d, &["audit", "verify"], None));
    assert!(!audit.is_empty());
    let (after,): (String,) =
        sqlx::query_as("SELECT after FROM audit_log WHERE action = 'key.rotate'")
            .fetch_one(&sqlite_pool(d).await)
            .await
            .unwrap();
    assert!(
        after.contains(new_key.keyid()) && after.contains(old_key.keyid()),
        "{after}"
    );
    let export_dir = d.join("cdn");
    let exported = ok(&burgee(
        d,
        &["export", "--out", export_dir.to_str().unwrap()],
        None,
    ));
    assert_eq!(exported.lines().count(), 3, "{exported}");
    let envelope = std::fs::read(export_dir.join("default/production.json")).unwrap();
    for key in [&old_key, &new_key] {
        let trusted = [key.clone()];
        let s = Snapshot::load(
            &envelope,
            &LoadOptions::new(&trusted, "production", now_ms()),
        )
        .unwrap();
        assert_eq!(s.info().version, 2);
    }
    ok(&burgee(
        d,
        &[
            "keys",
            "retire",
            "--project",
            "default",
            "--environment",
            "production",
        ],
        None,
    ));
    ok(&burgee(
        d,
        &["export", "--out", export_dir.to_str().unwrap()],
        None,
    ));
    let envelope = std::fs::read(export_dir.join("default/production.json")).unwrap();
    let trusted = [old_key];
    let err = Snapshot::load(
        &envelope,
        &LoadOptions::new(&trusted, "production", now_ms()),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeyUntrusted);

    // backup → restore into a new SQLite directory and (if configured) PostgreSQL.
    let file = d.join("backup.json");
    let summary = ok(&burgee(
        d,
        &["backup", "--out", file.to_str().unwrap()],
        None,
    ));
    assert!(summary.contains("snapshots 5"), "{summary}");
    let again = burgee(d, &["backup", "--out", file.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(2), "never overwrites");
    let mut targets = vec![None];
    if let Some(url) = postgres_url().await {
        targets.push(Some(url));
    }
    for db in targets {
        let restored_dir = tempfile::tempdir().unwrap();
        let r = restored_dir.path();
        let out = ok(&burgee(
            r,
            &["restore", "--from", file.to_str().unwrap()],
            db.as_deref(),
        ));
        assert!(out.starts_with("restored "), "{out}");
        assert!(r.join("keys/production.pub").exists());
        let twice = burgee(
            r,
            &["restore", "--from", file.to_str().unwrap()],
            db.as_deref(),
        );
        assert_eq!(
            twice.status.code(),
            Some(2),
            "restore needs an empty database"
        );
        // Private keys are not in backups: copy them, then the restored state works.
        for f in std::fs::read_dir(d.join("keys")).unwrap() {
            let f = f.unwrap();
            if f.path().extension().is_some_and(|x| x == "key") {
                std::fs::copy(f.path(), r.join("keys").join(f.file_name())).unwrap();
            }
        }
        let verified = ok(&burgee(r, &["audit", "verify"], db.as_deref()));
        assert_eq!(verified, ok(&burgee(d, &["audit", "verify"], None)));
        let config = ServerConfig {
            database_url: db.clone(),
            ..ServerConfig::new(r, 3_600_000)
        };
        let (state, creds) = AppState::open(&config).await.unwrap();
        assert!(creds.is_none());
        let latest = state
            .latest_snapshot("default", "production")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.version, 3);
        assert_eq!(&*latest.envelope, std::str::from_utf8(&envelope).unwrap());
        let published = state
            .republish("default", "production", "test", "after restore")
            .await
            .unwrap();
        assert_eq!(published.version, 4);
        state.close().await;
    }
}
