//! Re-signing and start-up handle environments one at a time (issue "Hardening", item 6):
//! an environment whose signing key is corrupt, or whose latest stored snapshot cannot be
//! decoded, is logged and counted (`burgee_resign_failures_total`,
//! `burgee_refresh_failures_total`) and never stops the other environments from being
//! re-signed or refreshed, nor `burgee serve` from starting. On SQLite and PostgreSQL
//! (`BURGEE_TEST_DATABASE_URL`; required when `CI=true`). The clock is injected:
//! [`AppState::republish_due`] gets `now` derived from the stored snapshots, and the start-up
//! test ages the stored snapshots to an expiry at 2 ms after the epoch, which every real
//! clock has passed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use burgee_test_support::Serve;
use serde_json::Value;

use crate::fixture::{Db, Fixture, sql, stored_versions};

const ENVS: [&str; 3] = ["development", "production", "staging"];

/// A PKCS#8 PEM frame around bytes that are no key.
const CORRUPT_KEY: &str = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";

/// The latest expiry among the stored snapshots of `default`, read from the database (not
/// through the cache): at that time every environment is due.
async fn latest_expiry(f: &Fixture) -> u64 {
    let at: i64 = sqlx::query_scalar("SELECT MAX(expires_at) FROM snapshots WHERE project = $1")
        .bind("default")
        .fetch_one(&f.state.store().pool)
        .await
        .unwrap();
    u64::try_from(at).unwrap()
}

fn corrupt_key(f: &Fixture, env: &str) {
    std::fs::write(f.dir.path().join(format!("keys/{env}.key")), CORRUPT_KEY).unwrap();
}

async fn a_corrupt_key_does_not_stop_the_others(f: &Fixture) {
    let now = latest_expiry(f).await;
    // `staging` sorts between the two others, so it is neither first nor last.
    corrupt_key(f, "staging");
    let done = f.state.republish_due(now).await.unwrap();
    let envs: Vec<&str> = done.iter().map(|p| p.environment.as_str()).collect();
    assert_eq!(envs, ["development", "production"]);
    assert_eq!(f.state.metrics().resign_failures.get(), 1);
    let versions = stored_versions(f, "default").await;
    assert_eq!(versions["development"], 2);
    assert_eq!(versions["production"], 2);
    assert_eq!(
        versions["staging"], 1,
        "nothing stored for the broken environment"
    );
    for env in ["development", "production"] {
        let s = f
            .state
            .latest_snapshot("default", env)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.version, 2,
            "{env}: the cache serves the re-signed version"
        );
    }
    let metrics = f.state.metrics().render();
    assert!(
        metrics.contains("\nburgee_resign_failures_total 1\n"),
        "{metrics}"
    );
}
both!(a_corrupt_key_does_not_stop_the_others, 1 << 20);

async fn an_undecodable_snapshot_is_replaced_and_the_others_resigned(f: &Fixture) {
    let now = latest_expiry(f).await;
    // `development` sorts first: before this fix its error ended the whole pass.
    sql(
        f,
        "UPDATE snapshots SET expires_at = -1 \
         WHERE project = 'default' AND environment = 'development'",
    )
    .await;
    assert!(
        f.state
            .refresh_latest("default", "development")
            .await
            .is_err(),
        "the stored row no longer decodes"
    );
    let done = f.state.republish_due(now).await.unwrap();
    let envs: Vec<&str> = done.iter().map(|p| p.environment.as_str()).collect();
    assert_eq!(envs, ENVS);
    assert_eq!(f.state.metrics().resign_failures.get(), 1);
    // The unreadable version is superseded by a readable one.
    let dev = f
        .state
        .latest_snapshot("default", "development")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dev.version, 2);
}
both!(
    an_undecodable_snapshot_is_replaced_and_the_others_resigned,
    1 << 20
);

async fn refreshing_skips_a_broken_environment(f: &Fixture) {
    for env in ENVS {
        f.state
            .latest_snapshot("default", env)
            .await
            .unwrap()
            .unwrap();
    }
    // Another process published version 2 everywhere; development's row cannot be decoded.
    sql(
        f,
        "INSERT INTO snapshots (project, environment, version, digest, envelope, issued_at, \
         expires_at, published_by, reason, client_digest, client_envelope) \
         SELECT project, environment, version + 1, digest, envelope, issued_at, \
         CASE WHEN environment = 'development' THEN -1 ELSE expires_at END, \
         'elsewhere', 'another process', client_digest, client_envelope \
         FROM snapshots WHERE project = 'default'",
    )
    .await;
    let mut streamed = f.state.subscribe();
    assert_eq!(f.state.refresh_changed().await.unwrap(), 2);
    assert_eq!(f.state.metrics().refresh_failures.get(), 1);
    let mut events = Vec::new();
    while let Ok(ev) = streamed.try_recv() {
        events.push((ev.snapshot.environment.clone(), ev.snapshot.version));
    }
    assert_eq!(
        events,
        [("production".to_owned(), 2), ("staging".to_owned(), 2)]
    );
    let dev = f
        .state
        .latest_snapshot("default", "development")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        dev.version, 1,
        "the broken environment keeps serving its cached version"
    );
    // Each later pass counts it again and still refreshes nothing else.
    assert_eq!(f.state.refresh_changed().await.unwrap(), 0);
    assert_eq!(f.state.refresh_all().await.unwrap(), 0);
    assert_eq!(f.state.metrics().refresh_failures.get(), 3);
}
both!(refreshing_skips_a_broken_environment, 1 << 20);

// ---- the real binary ----

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

/// `burgee serve` on a data directory whose snapshots are all due and whose `staging` key is
/// corrupt: it starts, re-signs development and production, and counts staging's failure.
async fn the_server_starts_with_a_broken_environment(db: Db) {
    let Some(f) = crate::fixture::fixture(db, 1 << 20).await else {
        return;
    };
    sql(&f, "UPDATE snapshots SET issued_at = 0, expires_at = 2").await;
    corrupt_key(&f, "staging");
    f.state.close().await;

    let log_path = f.dir.path().join("serve.log");
    let mut serve = Serve::new(env!("CARGO_BIN_EXE_burgee"), f.dir.path())
        .args(["--resign-check-secs", "3600"])
        .env_remove("BURGEE_SIGNING_KEY_DEFAULT__STAGING")
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log_path).unwrap());
    if let Some(url) = &f.database_url {
        serve = serve.args(["--database-url", url]);
    }
    let server = serve.start();
    let base = server.url().to_owned();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let (status, metrics) = get(&agent, &format!("{base}/metrics"), None);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("\nburgee_resign_failures_total 1\n"),
        "{metrics}"
    );
    let admin = f.admin.clone();
    let newest = |env: &str| {
        let url = format!("{base}/v1/projects/default/environments/{env}/versions");
        let (status, body) = get(&agent, &url, Some(&admin));
        assert_eq!(status, 200, "{body}");
        let list: Value = serde_json::from_str(&body).unwrap();
        list[0]["version"].as_u64().unwrap()
    };
    assert_eq!(newest("development"), 2);
    assert_eq!(newest("production"), 2);
    assert_eq!(newest("staging"), 1);
    let log = log();
    assert!(
        log.contains("re-signing failed") && log.contains("staging"),
        "the failure is logged with its environment:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_with_a_broken_environment_sqlite() {
    the_server_starts_with_a_broken_environment(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_with_a_broken_environment_postgres() {
    the_server_starts_with_a_broken_environment(Db::Postgres).await;
}
