//! Authoring durability (issue "Hardening", item 5): the server is killed with SIGKILL in a
//! loop while several clients create flags; after each restart every write that was answered
//! is there, versions strictly increase and were never reused, and `burgee audit verify`
//! passes. On SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burgee_test_support::Serve;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_burgee");
const ROUNDS: usize = 4;
const WRITERS: usize = 3;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

/// `GET base+path` with the token; the JSON body.
fn get_json(base: &str, token: &str, path: &str) -> Value {
    let mut r = agent()
        .get(format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

/// Creates flags until the server stops answering; records each answered key with the
/// development version its publish got.
fn write_until_killed(
    base: String,
    token: String,
    writer: usize,
    out: Arc<Mutex<Vec<(String, u64)>>>,
) {
    let agent = agent();
    for i in 0.. {
        let key = format!("w{writer}-{i}-{}", std::process::id());
        let body = json!({"key": key, "type": "boolean", "variants": {"on": true, "off": false}});
        let Ok(mut r) = agent
            .post(format!("{base}/v1/projects/default/flags"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
        else {
            return; // the server is gone
        };
        if r.status() != 201 {
            return;
        }
        let Ok(text) = r.body_mut().read_to_string() else {
            return; // cut off mid-answer: not acknowledged
        };
        let answer: Value = serde_json::from_str(&text).unwrap();
        let version = answer["published"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["environment"] == "development")
            .map(|p| p["version"].as_u64().unwrap())
            .unwrap();
        out.lock().unwrap().push((key, version));
    }
}

fn audit_verify(dir: &Path, database_url: Option<&str>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["audit", "verify", "--data-dir"]).arg(dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.env_remove("BURGEE_DATABASE_URL").output().unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn kill_nine_loop(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let serve = || {
        let s = Serve::new(BIN, dir.path());
        match &database_url {
            Some(url) => s.args(["--database-url", url]),
            None => s,
        }
    };
    let first = serve().start();
    let token = first.admin_token().to_owned();
    first.kill();
    let mut answered: Vec<(String, u64)> = Vec::new();
    let mut last_versions: Vec<u64> = Vec::new();
    for round in 0..ROUNDS {
        let server = serve().start();
        let base = server.url().to_owned();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (base, token, acked) = (base.clone(), token.clone(), acked.clone());
                std::thread::spawn(move || write_until_killed(base, token, w + 10 * round, acked))
            })
            .collect();
        // Let some writes through, then pull the plug mid-stream.
        std::thread::sleep(Duration::from_millis(400 + 150 * round as u64));
        server.kill();
        for w in writers {
            w.join().unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(!acked.is_empty(), "round {round}: no write was answered");
        answered.extend(acked);

        let server = serve().start();
        let base = server.url().to_owned();
        let flags = get_json(&base, &token, "/v1/projects/default/flags");
        let present: BTreeSet<&str> = flags
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        for (key, _) in &answered {
            assert!(
                present.contains(key.as_str()),
                "round {round}: answered flag {key} lost"
            );
        }
        let versions: Vec<u64> = get_json(
            &base,
            &token,
            "/v1/projects/default/environments/development/versions?limit=1000",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
        assert!(
            versions.windows(2).all(|w| w[0] > w[1]),
            "round {round}: versions not strictly decreasing (newest first): {versions:?}"
        );
        let answered_versions: BTreeSet<u64> = answered.iter().map(|(_, v)| *v).collect();
        assert_eq!(
            answered_versions.len(),
            answered.len(),
            "two answered writes got the same version"
        );
        for v in &answered_versions {
            assert!(
                versions.contains(v),
                "round {round}: answered version {v} missing"
            );
        }
        // Nothing published before the crash was replaced under the same number.
        assert!(
            last_versions.iter().all(|v| versions.contains(v)),
            "round {round}: a version disappeared"
        );
        last_versions = versions;
        server.kill();
        audit_verify(dir.path(), database_url.as_deref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_writes_survive_kill_9_on_sqlite() {
    kill_nine_loop(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_writes_survive_kill_9_on_postgres() {
    if let Some(url) = crate::common::postgres_url().await {
        kill_nine_loop(Some(url)).await;
    }
}
