//! The `burgee` binary's offline commands: keygen, sign, verify, eval --snapshot, and the
//! shared envelope fixtures in `spec/vectors/envelopes/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::model::{SNAPSHOT_FORMAT, SnapshotDef};
use burgee_core::{Envelope, key_id, payload_digest};
use burgee_server::demo::{Calendar, Demo};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_burgee");
/// 2027-01-15T08:00:00Z, the "now" of these tests.
const NOW: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;

fn burgee(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("BURGEE_PUBLIC_KEY")
        .env_remove("BURGEE_SDK_KEY")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `keygen` into `dir` with `name`; returns the printed key id.
fn keygen(dir: &Path, name: &str) -> String {
    let out = burgee(&["keygen", "--out", p(dir), "--name", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// Writes the demo production snapshot (version 7, valid for a day around NOW) as JSON.
fn write_payload(dir: &Path) -> PathBuf {
    let demo = Demo::load(Calendar::seeded_at(NOW)).unwrap();
    let def = SnapshotDef {
        format: SNAPSHOT_FORMAT,
        project: "webshop".into(),
        environment: "production".into(),
        version: 7,
        issued_at: NOW - DAY_MS,
        expires_at: NOW + DAY_MS,
        salt: "5f1e0c7a9b2d4e6f8a0b1c2d3e4f5a6b".into(),
        audience: burgee_core::model::Audience::Server,
        flags: demo.snapshot_flags("production"),
        segments: demo.segments("production"),
    };
    let path = dir.join("snapshot.json");
    std::fs::write(&path, serde_json::to_vec(&def).unwrap()).unwrap();
    path
}

/// keygen + payload + sign: returns (envelope path, public key path, key id).
fn signed_snapshot(dir: &Path) -> (PathBuf, PathBuf, String) {
    let keyid = keygen(dir, "prod");
    let payload = write_payload(dir);
    let envelope = dir.join("snapshot.dsse.json");
    let out = burgee(&[
        "sign",
        "--key",
        p(&dir.join("prod.key")),
        "--payload",
        p(&payload),
        "--out",
        p(&envelope),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let digest = payload_digest(&std::fs::read(&payload).unwrap());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("keyid={keyid} digest={digest}")
    );
    (envelope, dir.join("prod.pub"), keyid)
}

/// Runs `verify` and returns (exit code, stdout, stderr).
fn verify(envelope: &Path, key: &Path, extra: &[&str]) -> (i32, String, String) {
    let now = NOW.to_string();
    let mut args = vec!["verify", p(envelope), "--public-key", p(key), "--now", &now];
    if !extra.contains(&"--environment") {
        args.extend(["--environment", "production"]);
    }
    args.extend(extra);
    let out = burgee(&args);
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn keygen_writes_a_0600_pkcs8_key_and_base64_public_key_and_refuses_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("new-dir");
    let out = burgee(&["keygen", "--out", p(&keys)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout).trim().to_owned();

    let private = keys.join("signing.key");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let pem = std::fs::read_to_string(&private).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");

    let public = std::fs::read_to_string(keys.join("signing.pub")).unwrap();
    assert!(public.ends_with('\n'));
    let raw: [u8; 32] = STANDARD.decode(public.trim()).unwrap().try_into().unwrap();
    assert_eq!(printed, key_id(&raw));

    let again = burgee(&["keygen", "--out", p(&keys)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&private).unwrap(),
        pem,
        "the key is untouched"
    );
    // A second key pair under another name is fine.
    assert_ne!(keygen(&keys, "other"), printed);
}

#[test]
fn sign_then_verify_round_trip_and_each_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (envelope, key, keyid) = signed_snapshot(dir.path());
    let digest = payload_digest(&std::fs::read(dir.path().join("snapshot.json")).unwrap());

    let (code, stdout, _) = verify(&envelope, &key, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("OK version=7 digest={digest} keyid={keyid}")
    );
    let (code, _, _) = verify(&envelope, &key, &["--min-version", "7"]);
    assert_eq!(code, 0);
    let (code, _, stderr) = verify(
        &envelope,
        &key,
        &["--project", "webshop", "--audience", "server"],
    );
    assert_eq!(code, 0, "{stderr}");
    let held = ["--held-version", "7", "--held-digest", &digest];
    assert_eq!(verify(&envelope, &key, &held).0, 0);

    let expired = (NOW + 2 * DAY_MS).to_string();
    let other_key = dir.path().join("other.pub");
    keygen(dir.path(), "other");
    let cases: Vec<(Vec<&str>, &Path, &str)> = vec![
        (vec!["--min-version", "8"], &key, "SNAPSHOT_ROLLBACK"),
        (
            vec!["--held-version", "7", "--held-digest", "sha256:00"],
            &key,
            "SNAPSHOT_ROLLBACK",
        ),
        (
            vec!["--environment", "staging"],
            &key,
            "ENVIRONMENT_MISMATCH",
        ),
        (vec!["--project", "blog"], &key, "PROJECT_MISMATCH"),
        (vec!["--audience", "client"], &key, "AUDIENCE_MISMATCH"),
        (vec!["--max-bytes", "100"], &key, "SNAPSHOT_TOO_LARGE"),
        (vec![], &other_key, "KEY_UNTRUSTED"),
    ];
    for (extra, key, expected) in cases {
        let (code, stdout, stderr) = verify(&envelope, key, &extra);
        assert_eq!(code, 2, "{extra:?}: {stdout}");
        assert!(
            stderr.starts_with(&format!("{expected}: ")),
            "{extra:?}: {stderr}"
        );
    }
    let out = burgee(&[
        "verify",
        p(&envelope),
        "--public-key",
        p(&key),
        "--environment",
        "production",
        "--now",
        &expired,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("SNAPSHOT_EXPIRED: "),
        "{}",
        text(&out.stderr)
    );
    // Rollback is reported with the requested minimum.
    let (_, _, stderr) = verify(&envelope, &key, &["--min-version", "9"]);
    assert!(
        stderr.contains("version 7 is below the minimum version 9"),
        "{stderr}"
    );
}

#[test]
fn verify_of_a_tampered_envelope_is_signature_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (envelope, key, _) = signed_snapshot(dir.path());
    let mut env: Envelope = serde_json::from_slice(&std::fs::read(&envelope).unwrap()).unwrap();
    let payload = String::from_utf8(STANDARD.decode(&env.payload).unwrap()).unwrap();
    let forged = payload.replacen("\"version\":7", "\"version\":70", 1);
    assert_ne!(forged, payload);
    env.payload = STANDARD.encode(forged);
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&env).unwrap()).unwrap();

    let (code, stdout, stderr) = verify(&tampered, &key, &[]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("SIGNATURE_INVALID: "), "{stderr}");
}

#[test]
fn eval_from_a_snapshot_file_with_expect() {
    let dir = tempfile::tempdir().unwrap();
    let (envelope, key, _) = signed_snapshot(dir.path());
    let now = NOW.to_string();
    let eval = |flag: &str, context: &str, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--flag",
            flag,
            "--environment",
            "production",
            "--snapshot",
            p(&envelope),
            "--public-key",
            p(&key),
            "--context",
            context,
        ];
        if !extra.contains(&"--now") {
            args.extend(["--now", &now]);
        }
        args.extend(extra);
        burgee(&args)
    };

    let staff = r#"{"targetingKey": "user-77", "email": "ana@burgee.dev"}"#;
    let out = eval("dark-mode", staff, &["--expect", "on"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["flag"], "dark-mode");
    assert_eq!(printed["snapshot_version"], 7);
    assert!(
        printed["snapshot_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(printed["variant"], "on");
    assert_eq!(printed["value"], true);
    assert_eq!(printed["reason"], "TARGETING_MATCH");
    assert_eq!(printed["rule_id"], "beta-testers");
    assert_eq!(printed["metadata"]["owner"], "team-web");

    let out = eval(
        "dark-mode",
        r#"{"targetingKey": "user-5"}"#,
        &["--expect", "on"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("expected variant \"on\"") && stderr.contains("\"off\""),
        "{stderr}"
    );

    // The three-way experiment in an eligible market.
    let de = r#"{"targetingKey": "user-5", "country": "DE"}"#;
    let out = eval("pricing-experiment", de, &[]);
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["reason"], "SPLIT");
    assert!(
        ["control", "discount-10", "free-shipping"].contains(&printed["variant"].as_str().unwrap())
    );

    // Flag-level problems are results, not failures.
    let out = eval("no-such-flag", "{}", &[]);
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["error_code"], "FLAG_NOT_FOUND");

    let out = eval("dark-mode", r#"{"targetingKey": 5}"#, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: INVALID_CONTEXT: "),
        "{}",
        text(&out.stderr)
    );
    let out = eval("dark-mode", "{not json", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: INVALID_CONTEXT: "));

    let late = (NOW + 2 * DAY_MS).to_string();
    let out = eval("dark-mode", "{}", &["--now", &late]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: SNAPSHOT_EXPIRED: "),
        "{}",
        text(&out.stderr)
    );
}

/// Every case of `spec/vectors/envelopes/manifest.json` through `burgee verify`.
#[test]
fn verify_matches_every_envelope_fixture() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/envelopes");
    let manifest_path = fixtures.join("manifest.json");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in cases.iter().enumerate() {
        let file = case["file"].as_str().unwrap();
        let mut args: Vec<String> = vec!["verify".into(), p(&fixtures.join(file)).into()];
        for (k, key) in case["trusted_keys"].as_array().unwrap().iter().enumerate() {
            let path = dir.path().join(format!("case{i}-key{k}.pub"));
            std::fs::write(&path, format!("{}\n", key.as_str().unwrap())).unwrap();
            args.extend(["--public-key".into(), p(&path).into()]);
        }
        args.extend([
            "--environment".into(),
            case["environment"].as_str().unwrap().into(),
        ]);
        args.extend(["--now".into(), case["now"].as_u64().unwrap().to_string()]);
        if let Some(v) = case.get("held_version").and_then(Value::as_u64) {
            args.extend(["--held-version".into(), v.to_string()]);
            args.extend([
                "--held-digest".into(),
                case["held_digest"].as_str().unwrap().into(),
            ]);
        }
        if let Some(n) = case.get("max_envelope_bytes").and_then(Value::as_u64) {
            args.extend(["--max-bytes".into(), n.to_string()]);
        }
        for option in ["project", "audience"] {
            if let Some(value) = case.get(option) {
                args.extend([format!("--{option}"), value.as_str().unwrap().into()]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = burgee(&args);
        let expected = case["expected"].as_str().unwrap();
        let label = format!("case {i} ({file}, {})", case["note"].as_str().unwrap_or(""));
        if expected == "OK" {
            assert_eq!(out.status.code(), Some(0), "{label}: {}", text(&out.stderr));
            let stdout = text(&out.stdout);
            let want = format!(
                "OK version={} digest={} ",
                case["version"].as_u64().unwrap(),
                case["digest"].as_str().unwrap()
            );
            assert!(stdout.starts_with(&want), "{label}: {stdout}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{label}: {}", text(&out.stdout));
            let stderr = text(&out.stderr);
            let code = stderr.split(':').next().unwrap();
            assert_eq!(code, expected, "{label}: {stderr}");
        }
    }
}
