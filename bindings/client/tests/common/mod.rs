//! Starts real `burgee serve --demo` processes for the client's tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `burgee` binary: `$BURGEE_BIN`, or `burgee` next to this test's target directory
/// (`cargo build -p burgee-server --bin burgee` puts it there).
pub fn burgee_bin() -> PathBuf {
    if let Ok(p) = std::env::var("BURGEE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("burgee");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build -p burgee-server --bin burgee` first or set BURGEE_BIN",
        bin.display()
    );
    bin
}

/// A running server; killed on drop.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `burgee serve --demo` on `listen` (e.g. `127.0.0.1:0`) with `data_dir`.
    pub fn start(data_dir: &Path, listen: &str) -> Server {
        let mut child = Command::new(burgee_bin())
            .args(["serve", "--demo", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .env_remove("BURGEE_LISTEN")
            .env_remove("BURGEE_DATA_DIR")
            .env_remove("BURGEE_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server {
            child: Some(child),
            base,
            data_dir: data_dir.to_owned(),
        }
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// SIGKILL, like a crash or a pulled cable on the server side.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (graceful: the database is closed cleanly).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn credentials(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.data_dir.join("credentials.env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    pub fn sdk_key(&self) -> String {
        self.credentials()["BURGEE_SDK_KEY_PRODUCTION"].clone()
    }

    /// The production environment's client-side key (`bgc_...`).
    pub fn client_key(&self) -> String {
        self.credentials()["BURGEE_CLIENT_KEY_PRODUCTION"].clone()
    }

    pub fn admin(&self) -> String {
        self.credentials()["BURGEE_ADMIN_TOKEN"].clone()
    }

    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("keys/production.pub"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Sets the production targeting's default serve of boolean `flag` to `variant` through
    /// the authoring API; returns the published version.
    pub fn set_default(&self, flag: &str, variant: &str) -> u64 {
        let url = format!(
            "{}/v1/projects/webshop/environments/production/flags/{flag}",
            self.base
        );
        let admin = self.admin();
        let mut resp = agent()
            .get(&url)
            .header("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let mut t: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
        t["default"] = serde_json::json!({ "variant": variant });
        let obj = t.as_object_mut().unwrap();
        obj.remove("revision");
        obj.remove("updated_at");
        let mut resp = agent()
            .put(&url)
            .header("Authorization", &format!("Bearer {admin}"))
            .header("Content-Type", "application/json")
            .header("If-Match", "*")
            .send(serde_json::to_vec(&t).unwrap())
            .unwrap();
        let body: Value = serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{body}");
        body["published"][0]["version"].as_u64().unwrap()
    }

    /// The newest stored events of production (admin token), newest first.
    pub fn recent_events(&self) -> Vec<Value> {
        let mut resp = agent()
            .get(format!(
                "{}/v1/projects/webshop/environments/production/events/recent?limit=1000",
                self.base
            ))
            .header("Authorization", &format!("Bearer {}", self.admin()))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap()
    }

    /// The current envelope bytes (SDK key).
    pub fn envelope(&self) -> Vec<u8> {
        let mut resp = agent()
            .get(format!("{}/v1/snapshots/production", self.base))
            .header("Authorization", &format!("Bearer {}", self.sdk_key()))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.body_mut().read_to_vec().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Polls `f` every 5 ms until it holds or `timeout` passes; returns the time it took.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}
