//! The ready file of `burgee serve --ready-file PATH`: once the server listens it writes one
//! JSON object there, atomically (a temporary file renamed into place), so scripts and test
//! harnesses in any language wait for the file instead of parsing the console output:
//!
//! ```json
//! {"url": "http://127.0.0.1:41234", "pid": 4242, "data_dir": "/tmp/d",
//!  "project": "default", "admin_token": "bga_…",
//!  "admin_email": "admin@localhost", "admin_password": "<one-time password>",
//!  "sdk_keys": {"development": "bgs_…"}, "client_keys": {"development": "bgc_…"},
//!  "public_keys": {"development": "<base64 Ed25519 public key>"}}
//! ```
//!
//! `admin_token`, `admin_email`, `admin_password`, `sdk_keys` and `client_keys` are present
//! only on the first start (they are
//! created then and stored only as hashes); `project` and `public_keys` describe the first
//! project (`default`, or `webshop` with `--demo`). The file is written with mode 0600, as it
//! holds secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::serve::Started;

/// The ready file's content (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyFile {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Process id of the server.
    pub pid: u32,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The first project's key (`None` when there is no project).
    pub project: Option<String>,
    /// The bootstrap admin token, first start only.
    pub admin_token: Option<String>,
    /// The console's first user's e-mail, first start only.
    pub admin_email: Option<String>,
    /// Its one-time password, first start only.
    pub admin_password: Option<String>,
    /// SDK keys of the first project by environment, first start only.
    pub sdk_keys: BTreeMap<String, String>,
    /// Client-side keys of the first project by environment, first start only.
    pub client_keys: BTreeMap<String, String>,
    /// Public keys (standard base64 of the 32 raw Ed25519 bytes) of the first project's
    /// environments, for SDKs to trust.
    pub public_keys: BTreeMap<String, String>,
}

impl ReadyFile {
    /// The ready file of a server that has just started.
    ///
    /// # Errors
    /// [`StateError`] reading the projects, environments or public key files.
    pub async fn of(started: &Started<'_>, data_dir: &Path) -> Result<ReadyFile, StateError> {
        let project = started
            .state
            .projects()
            .await?
            .into_iter()
            .next()
            .map(|p| p.key);
        let mut public_keys = BTreeMap::new();
        if let Some(project) = &project {
            for env in started.state.environments(project).await? {
                let key = started.state.public_key(project, &env.key).await?;
                public_keys.insert(env.key, key);
            }
        }
        let creds = started.credentials;
        let pairs = |list: Option<&Vec<(String, String)>>| -> BTreeMap<String, String> {
            list.into_iter().flatten().cloned().collect()
        };
        Ok(ReadyFile {
            url: format!("http://{}", started.addr),
            pid: std::process::id(),
            data_dir: data_dir.to_owned(),
            project,
            admin_token: creds.map(|c| c.admin_token.clone()),
            admin_email: creds.map(|c| c.admin_email.clone()),
            admin_password: creds.map(|c| c.admin_password.clone()),
            sdk_keys: pairs(creds.map(|c| &c.sdk_keys)),
            client_keys: pairs(creds.map(|c| &c.client_keys)),
            public_keys,
        })
    }

    /// Writes the file at `path` atomically (`PATH.tmp`, mode 0600, fsync, rename).
    ///
    /// # Errors
    /// [`StateError::Io`] naming the file.
    pub fn write(&self, path: &Path) -> Result<(), StateError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let io = |source| StateError::Io {
            path: path.to_owned(),
            source,
        };
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| StateError::Corrupt(format!("serializing the ready file: {e}")))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        file.write_all(&text).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}
