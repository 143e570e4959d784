//! Signing keys from environment variables and their names (issue "Hardening", items 7 and
//! 10): `BURGEE_SIGNING_KEY_<PROJECT>__<ENV>` names one environment of one project, the server
//! signs with it and writes only the public key, and environments whose variables would
//! coincide are refused when created.

use std::process::Command;

use burgee_core::{LoadOptions, Snapshot, TrustedKey};
use burgee_test_support::Serve;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_burgee");

fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

#[test]
fn a_key_from_the_environment_signs_and_only_its_public_half_is_written() {
    let keygen = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(keygen.path())
        .args(["--name", "prod"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(keygen.path().join("prod.key")).unwrap();
    let public = std::fs::read_to_string(keygen.path().join("prod.pub")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = Serve::new(BIN, dir.path())
        // A variable of another project's environment of the same name must not be used.
        .env("BURGEE_SIGNING_KEY_OTHER__PRODUCTION", "not a key")
        .env("BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION", &pem)
        .start();
    assert!(
        !dir.path().join("keys/production.key").exists(),
        "private key written to disk"
    );
    assert!(dir.path().join("keys/staging.key").exists());
    assert_eq!(server.ready().public_keys["production"], public.trim());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keys/production.pub")).unwrap(),
        public
    );
    let mut r = ureq_agent()
        .get(format!("{}/v1/snapshots/production", server.url()))
        .header(
            "Authorization",
            &format!("Bearer {}", server.sdk_key("production")),
        )
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let envelope = r.body_mut().read_to_vec().unwrap();
    let trusted = [TrustedKey::from_base64(public.trim()).unwrap()];
    let now = burgee_server::now_ms();
    Snapshot::load(&envelope, &LoadOptions::new(&trusted, "production", now)).unwrap();

    // `burgee keys rotate` cannot replace a key it does not hold, and says how to rotate.
    let out = Command::new(BIN)
        .args([
            "keys",
            "rotate",
            "--project",
            "default",
            "--environment",
            "production",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION", &pem)
        .env_remove("BURGEE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION_PREVIOUS"),
        "{stderr}"
    );
    drop(server);

    // Rotating through the variables: the new key in the variable, the old one in _PREVIOUS;
    // envelopes are signed by both, so SDKs trusting either key verify them.
    let out = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(keygen.path())
        .args(["--name", "next"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let next_pem = std::fs::read_to_string(keygen.path().join("next.key")).unwrap();
    let next_public = std::fs::read_to_string(keygen.path().join("next.pub")).unwrap();
    let server = Serve::new(BIN, dir.path())
        .env("BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION", &next_pem)
        .env("BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION_PREVIOUS", &pem)
        .start();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keys/production.pub")).unwrap(),
        next_public
    );
    // A write publishes a version signed with both keys.
    let mut r = ureq_agent()
        .post(format!("{}/v1/projects/default/flags", server.url()))
        .header(
            "Authorization",
            &format!("Bearer {}", admin_token(dir.path())),
        )
        .header("Content-Type", "application/json")
        .send(
            json!({"key": "f", "type": "boolean", "variants": {"on": true, "off": false}})
                .to_string(),
        )
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );
    let mut r = ureq_agent()
        .get(format!("{}/v1/snapshots/production", server.url()))
        .header(
            "Authorization",
            &format!("Bearer {}", admin_token(dir.path())),
        )
        .call()
        .unwrap();
    let envelope = r.body_mut().read_to_vec().unwrap();
    for key in [&public, &next_public] {
        let trusted = [TrustedKey::from_base64(key.trim()).unwrap()];
        Snapshot::load(&envelope, &LoadOptions::new(&trusted, "production", now)).unwrap();
    }
}

fn admin_token(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("credentials.env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("export BURGEE_ADMIN_TOKEN="))
        .unwrap()
        .to_owned()
}

#[test]
fn environments_whose_key_variables_coincide_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::new(BIN, dir.path()).start();
    let admin = server.admin_token().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        let mut r = ureq_agent()
            .post(format!("{}{path}", server.url()))
            .header("Authorization", &format!("Bearer {admin}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let (status, _) = post(
        "/v1/projects",
        json!({"key": "shop-2", "environments": [{"key": "qa"}]}),
    );
    assert_eq!(status, 201);
    // `shop_2`/`qa` would be BURGEE_SIGNING_KEY_SHOP_2__QA too.
    let (status, body) = post(
        "/v1/projects",
        json!({"key": "shop_2", "environments": [{"key": "qa"}]}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "key");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("BURGEE_SIGNING_KEY_SHOP_2__QA")
    );
    // Nothing of the refused project was kept.
    let (status, _) = post(
        "/v1/projects",
        json!({"key": "shop_2", "environments": [{"key": "uat"}]}),
    );
    assert_eq!(status, 201);
    // Case differences collide too.
    let (status, body) = post("/v1/projects/shop-2/environments", json!({"key": "QA"}));
    assert_eq!((status, body["field"].as_str()), (422, Some("key")));
}

/// `burgee restore` checks rows as the API would: a key name leading out of the keys
/// directory, or a flag definition that is not one, is refused naming the table and row, and
/// nothing is restored.
#[test]
fn restore_refuses_rows_the_api_would_refuse() {
    let src = tempfile::tempdir().unwrap();
    let backup = src.path().join("backup.json");
    let run = |args: &[&str], dir: &std::path::Path| {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir)
            .env_remove("BURGEE_DATABASE_URL")
            .output()
            .unwrap()
    };
    // Any state command bootstraps an empty data directory (project, environments, keys).
    let out = run(&["token", "list"], src.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["backup", "--out", backup.to_str().unwrap()], src.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
    let columns = |table: &str| -> Vec<String> {
        serde_json::from_value(good["tables"][table]["columns"].clone()).unwrap()
    };
    let key_name = columns("environments")
        .iter()
        .position(|c| c == "key_name")
        .unwrap();
    for (table, column, value, expected) in [
        (
            "environments",
            key_name,
            json!("../../../tmp/evil"),
            "key_name",
        ),
        ("projects", 0, json!("../x"), "projects[0]"),
    ] {
        let mut bad = good.clone();
        bad["tables"][table]["rows"][0][column] = value;
        let file = src.path().join("bad.json");
        std::fs::write(&file, bad.to_string()).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let out = run(&["restore", "--from", file.to_str().unwrap()], dest.path());
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{table}: {stderr}");
        // The refused restore left the database empty: a good backup still restores.
        let out = run(
            &["restore", "--from", backup.to_str().unwrap()],
            dest.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
