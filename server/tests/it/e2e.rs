//! End to end: the real `burgee serve --demo` process over real HTTP, its snapshots verified
//! and evaluated with burgee-core, and `burgee eval --server` against it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use burgee_core::{Context, LoadOptions, Snapshot, TrustedKey};
use burgee_server::keys::read_trusted_key;
use burgee_server::now_ms;
use burgee_test_support::{Serve, ServerProcess};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn start(data_dir: &Path) -> (ServerProcess, String) {
    let server = Serve::new(BIN, data_dir).args(["--demo"]).start();
    let base = server.url().to_owned();
    (server, base)
}

fn credentials(data_dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(data_dir.join("credentials.env"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

struct Fetched {
    status: u16,
    etag: String,
    body: Vec<u8>,
}

fn fetch(base: &str, token: &str, if_none_match: Option<&str>) -> Fetched {
    let mut req = agent()
        .get(format!("{base}/v1/snapshots/production"))
        .header("Authorization", &format!("Bearer {token}"));
    if let Some(tag) = if_none_match {
        req = req.header("If-None-Match", tag);
    }
    let mut resp = req.call().unwrap();
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    Fetched {
        status: resp.status().as_u16(),
        etag,
        body: resp.body_mut().read_to_vec().unwrap(),
    }
}

fn variant_for(snap: &Snapshot, user: &str) -> String {
    let ctx = Context::new(user);
    snap.evaluate("checkout-redesign", &ctx, now_ms())
        .variant
        .unwrap()
        .to_owned()
}

#[test]
fn serve_publish_fetch_verify_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let creds = credentials(dir.path());
    let sdk_key = &creds["BURGEE_SDK_KEY"];
    let admin = &creds["BURGEE_ADMIN_TOKEN"];
    assert_eq!(sdk_key, &creds["BURGEE_SDK_KEY_PRODUCTION"]);
    assert!(sdk_key.starts_with("bgs_") && admin.starts_with("bga_"));

    let pub_file = dir.path().join("keys/production.pub");
    let keys: [TrustedKey; 1] = [read_trusted_key(&pub_file).unwrap()];

    // 1. Fetch and verify version 1; find a user the 20 % rollout leaves off.
    let first = fetch(&base, sdk_key, None);
    assert_eq!(first.status, 200);
    let snap1 = Snapshot::load(
        &first.body,
        &LoadOptions::new(&keys, "production", now_ms()),
    )
    .unwrap();
    assert_eq!(snap1.info().version, 1);
    assert_eq!(
        first.etag,
        format!("\"{}\"", snap1.info().digest.as_deref().unwrap())
    );
    let user = (0..200)
        .map(|i| format!("user-{i}"))
        .find(|u| variant_for(&snap1, u) == "off")
        .unwrap();

    // 2. The admin switches checkout-redesign fully on (read the targeting, send its ETag).
    let flag_url =
        format!("{base}/v1/projects/webshop/environments/production/flags/checkout-redesign");
    let mut resp = agent()
        .get(&flag_url)
        .header("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let mut targeting: Value =
        serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    targeting["default"] = serde_json::json!({"variant": "on"});
    let obj = targeting.as_object_mut().unwrap();
    obj.remove("revision");
    obj.remove("updated_at");
    let mut resp = agent()
        .put(&flag_url)
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .header("If-Match", &etag)
        .send(serde_json::to_vec(&targeting).unwrap())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let written: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
    let published = written["published"][0].clone();
    assert_eq!(published["version"], 2);

    // 3. Fetch again: a higher version, verified, and the evaluation changed.
    let second = fetch(&base, sdk_key, None);
    assert_eq!(second.status, 200);
    let held = snap1.held();
    let opts = LoadOptions {
        held,
        ..LoadOptions::new(&keys, "production", now_ms())
    };
    let snap2 = Snapshot::load(&second.body, &opts).unwrap();
    assert_eq!(snap2.info().version, 2);
    assert_eq!(published["digest"].as_str(), snap2.info().digest.as_deref());
    assert_eq!(variant_for(&snap2, &user), "on");
    assert_ne!(second.etag, first.etag);

    // 4. Conditional requests: the latest ETag gives 304, the old one the new body.
    let not_modified = fetch(&base, sdk_key, Some(&second.etag));
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.etag, second.etag);
    let stale = fetch(&base, sdk_key, Some(&first.etag));
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, second.body);

    // 5. `burgee eval` against the live server agrees.
    let out = Command::new(BIN)
        .args([
            "eval",
            "--flag",
            "checkout-redesign",
            "--environment",
            "production",
        ])
        .args(["--server", &base, "--expect", "on"])
        .arg("--context")
        .arg(format!("{{\"targetingKey\": \"{user}\"}}"))
        .arg("--public-key")
        .arg(&pub_file)
        .env("BURGEE_SDK_KEY", sdk_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["snapshot_version"], 2);
    assert_eq!(printed["variant"], "on");
    assert_eq!(printed["value"], true);

    // 6. A wrong SDK key: exit 2 with the server's refusal.
    let out = Command::new(BIN)
        .args([
            "eval",
            "--flag",
            "checkout-redesign",
            "--environment",
            "production",
        ])
        .args(["--server", &base, "--sdk-key", "bgs_wrong", "--public-key"])
        .arg(&pub_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: GENERAL: "), "{stderr}");
    assert!(
        stderr.contains("401") && stderr.contains("UNAUTHORIZED"),
        "{stderr}"
    );

    // 7. Another project's name: the client refuses the snapshot it was served.
    let out = Command::new(BIN)
        .args([
            "eval",
            "--flag",
            "checkout-redesign",
            "--environment",
            "production",
        ])
        .args(["--server", &base, "--project", "webshop", "--public-key"])
        .arg(&pub_file)
        .env("BURGEE_SDK_KEY", sdk_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot_file = dir.path().join("production.json");
    std::fs::write(&snapshot_file, &second.body).unwrap();
    let out = Command::new(BIN)
        .args([
            "eval",
            "--flag",
            "checkout-redesign",
            "--environment",
            "production",
        ])
        .args(["--project", "elsewhere", "--snapshot"])
        .arg(&snapshot_file)
        .arg("--public-key")
        .arg(&pub_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PROJECT_MISMATCH"), "{stderr}");
    let out = Command::new(BIN)
        .args([
            "eval",
            "--flag",
            "checkout-redesign",
            "--environment",
            "production",
        ])
        .args(["--audience", "client", "--snapshot"])
        .arg(&snapshot_file)
        .arg("--public-key")
        .arg(&pub_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AUDIENCE_MISMATCH"), "{stderr}");
}

#[test]
fn sigterm_shuts_down_gracefully_and_restart_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = start(dir.path());
    let admin = credentials(dir.path())["BURGEE_ADMIN_TOKEN"].clone();
    let first = fetch(&base, &admin, None);
    assert_eq!(first.status, 200);

    // An open SSE stream must not hold the shutdown up: the server ends it.
    let mut sse = std::net::TcpStream::connect(base.strip_prefix("http://").unwrap()).unwrap();
    std::io::Write::write_all(
        &mut sse,
        format!(
            "GET /v1/stream/production HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut head = [0u8; 512];
    let n = std::io::Read::read(&mut sse, &mut head).unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).contains("text/event-stream"));

    let pid = server.pid().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let stopping = std::time::Instant::now();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful exit, got {status:?}");
    assert!(stopping.elapsed() < std::time::Duration::from_secs(10));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut sse, &mut rest).unwrap();
    assert!(
        String::from_utf8_lossy(&rest).ends_with("0\r\n\r\n"),
        "stream ended cleanly"
    );

    // Same data directory: no new credentials, the same snapshot is served.
    let before = std::fs::read_to_string(dir.path().join("credentials.env")).unwrap();
    let (_server, base) = start(dir.path());
    let again = fetch(&base, &admin, None);
    assert_eq!(again.status, 200);
    assert_eq!(again.etag, first.etag);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("credentials.env")).unwrap(),
        before
    );
}

#[test]
fn publishes_by_cli_commands_reach_a_running_sqlite_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(dir.path());
    let sdk_key = credentials(dir.path())["BURGEE_SDK_KEY"].clone();
    let first = fetch(&base, &sdk_key, None);
    assert_eq!(first.status, 200);
    let out = Command::new(BIN)
        .args([
            "keys",
            "rotate",
            "--project",
            "webshop",
            "--environment",
            "production",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("BURGEE_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server polls every second: within a few seconds it serves version 2, signed by
    // both the new and the old key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let second = loop {
        let f = fetch(&base, &sdk_key, Some(&first.etag));
        if f.status == 200 || std::time::Instant::now() > deadline {
            break f;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        second.status, 200,
        "the running server did not pick up version 2"
    );
    let new_key = read_trusted_key(&dir.path().join("keys/production.pub")).unwrap();
    let snap = Snapshot::load(
        &second.body,
        &LoadOptions::new(&[new_key], "production", now_ms()),
    )
    .unwrap();
    assert_eq!(snap.info().version, 2);
}
