//! `burgee serve` as a child process.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use burgee_server::ready::ReadyFile;

/// How long [`Serve::start`] waits for the ready file.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `burgee serve` command to start: `BINARY serve --data-dir DIR --ready-file
/// DIR/ready.json --listen 127.0.0.1:0` (or [`Serve::listen`]'s address), with the `BURGEE_*`
/// variables that would change its configuration removed from its environment, stdin and
/// stdout closed, stderr discarded unless [`Serve::stderr`] says otherwise.
#[derive(Debug)]
pub struct Serve {
    command: Command,
    ready_path: PathBuf,
    listen: String,
}

impl Serve {
    /// `binary` (in a server test: `env!("CARGO_BIN_EXE_burgee")`) serving `data_dir`.
    pub fn new(binary: impl AsRef<OsStr>, data_dir: &Path) -> Serve {
        let ready_path = data_dir.join("ready.json");
        let mut command = Command::new(binary);
        command
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .arg("--ready-file")
            .arg(&ready_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for var in [
            "BURGEE_LISTEN",
            "BURGEE_DATA_DIR",
            "BURGEE_DATABASE_URL",
            "BURGEE_NATS_URL",
            "BURGEE_READY_FILE",
        ] {
            command.env_remove(var);
        }
        Serve {
            command,
            ready_path,
            listen: "127.0.0.1:0".to_owned(),
        }
    }

    /// Listens on `addr` instead of a free port (e.g. a restart on the address of an earlier
    /// server of the test).
    #[must_use]
    pub fn listen(mut self, addr: impl Into<String>) -> Serve {
        self.listen = addr.into();
        self
    }

    /// Adds arguments (e.g. `["--demo"]`, `["--database-url", url]`).
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Serve
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets an environment variable of the server.
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Serve {
        self.command.env(key, value);
        self
    }

    /// Removes an environment variable from the server's environment.
    #[must_use]
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Serve {
        self.command.env_remove(key);
        self
    }

    /// Where the server's stderr goes (e.g. a log file the test reads).
    #[must_use]
    pub fn stderr(mut self, to: impl Into<Stdio>) -> Serve {
        self.command.stderr(to);
        self
    }

    /// Starts the server and waits (up to a minute) for its ready file.
    ///
    /// # Panics
    /// When it cannot be spawned, exits before it is ready, or is not ready in time.
    pub fn start(mut self) -> ServerProcess {
        let _ = std::fs::remove_file(&self.ready_path);
        let child = self
            .command
            .args(["--listen", &self.listen])
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {:?}: {e}", self.command.get_program()));
        let mut server = ServerProcess { child, ready: None };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.ready_path) {
                let ready: ReadyFile = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}: {text}", self.ready_path.display()));
                server.ready = Some(ready);
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("burgee serve exited before it was ready: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "burgee serve wrote no ready file within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running `burgee serve`; killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    ready: Option<ReadyFile>,
}

impl ServerProcess {
    /// What the server wrote to its ready file.
    pub fn ready(&self) -> &ReadyFile {
        self.ready
            .as_ref()
            .expect("started servers have a ready file")
    }

    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.ready().url
    }

    /// The first start's admin token.
    ///
    /// # Panics
    /// On a later start (credentials are shown once).
    pub fn admin_token(&self) -> &str {
        self.ready()
            .admin_token
            .as_deref()
            .expect("the admin token is in the ready file of the first start only")
    }

    /// The first start's SDK key of `env` in the first project.
    ///
    /// # Panics
    /// On a later start, or for an unknown environment.
    pub fn sdk_key(&self, env: &str) -> &str {
        self.ready()
            .sdk_keys
            .get(env)
            .unwrap_or_else(|| panic!("no SDK key for {env} in the ready file"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to exit (after the test signalled it, e.g. `kill -TERM <pid>`).
    ///
    /// # Errors
    /// The OS error of waiting.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }

    /// Its `host:port`.
    pub fn addr(&self) -> &str {
        self.url().trim_start_matches("http://")
    }

    /// Stops the server with SIGTERM (graceful: the database is closed cleanly) and waits
    /// for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Kills the server with SIGKILL (no clean shutdown) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
