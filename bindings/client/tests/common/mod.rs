//! Starts real `burgee serve --demo` processes for the client's tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burgee_test_support::{ReadyFile, Serve, ServerProcess};
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

/// A running `burgee serve --demo` (burgee-test-support's process, killed on drop) and the
/// credentials of its data directory's first start (the ready file shows them only then).
pub struct Server {
    process: Option<ServerProcess>,
    first: ReadyFile,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `burgee serve --demo` on a free port with a fresh `data_dir`.
    pub fn start(data_dir: &Path) -> Server {
        let process = serve(data_dir).start();
        Server {
            first: process.ready().clone(),
            base: process.url().to_owned(),
            process: Some(process),
            data_dir: data_dir.to_owned(),
        }
    }

    /// Starts it again (after [`Server::kill`] or [`Server::stop`]) on the same address and
    /// data directory, keeping the first start's credentials.
    pub fn restart(mut self) -> Server {
        self.kill();
        let process = serve(&self.data_dir).listen(self.addr()).start();
        self.process = Some(process);
        self
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    /// SIGKILL, like a crash or a pulled cable on the server side.
    pub fn kill(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill();
        }
    }

    /// SIGTERM and wait (graceful: the database is closed cleanly).
    pub fn stop(&mut self) {
        if let Some(p) = self.process.take() {
            p.stop();
        }
    }

    pub fn sdk_key(&self) -> String {
        self.first.sdk_keys["production"].clone()
    }

    /// The production environment's client-side key (`bgc_...`).
    pub fn client_key(&self) -> String {
        self.first.client_keys["production"].clone()
    }

    pub fn admin(&self) -> String {
        self.first.admin_token.clone().unwrap()
    }

    pub fn public_key(&self) -> String {
        self.first.public_keys["production"].clone()
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

fn serve(data_dir: &Path) -> Serve {
    Serve::new(burgee_bin(), data_dir).args(["--demo"])
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
