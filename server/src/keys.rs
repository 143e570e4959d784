//! Ed25519 key files and other secret files.
//!
//! Formats (shared by `burgee keygen`, the server's per-environment keys and `burgee sign`):
//! - `NAME.key`: the private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), created with
//!   mode 0600 (never widened then narrowed).
//! - `NAME.pub`: standard base64 (padded) of the 32 raw public-key bytes plus `\n`, the form
//!   [`burgee_core::TrustedKey::from_base64`] reads.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use burgee_core::{LoadError, TrustedKey, key_id};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, EncodePrivateKey as _, spki::der::pem::LineEnding,
};

/// Why a key or secret file could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file already exists; secrets are never overwritten.
    #[error("{path} already exists; refusing to overwrite it")]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// The file is not a PKCS#8 PEM Ed25519 private key.
    #[error("{path}: not a PKCS#8 PEM Ed25519 private key: {message}")]
    BadPrivateKey {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// The file is not a base64 Ed25519 public key (code of `source`: `PARSE_ERROR`).
    #[error("{path}: {source}")]
    BadPublicKey {
        /// The file.
        path: PathBuf,
        /// The core's parse error.
        source: LoadError,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// PKCS#8 encoding of a private key failed.
    #[error("encoding the private key as PKCS#8 PEM failed: {0}")]
    Encode(String),
    /// The active key comes from an environment variable, so `burgee keys rotate` cannot
    /// replace it: set the new key in the variable and the old one in `<VAR>_PREVIOUS`.
    #[error(
        "the active key comes from ${var}: to rotate, put the current PEM into ${var}_PREVIOUS \
         (it keeps co-signing), the new key's PEM into ${var}, ship the new .pub to SDKs and \
         restart; unset ${var}_PREVIOUS to retire the old key"
    )]
    FromEnvironment {
        /// The variable.
        var: String,
    },
}

/// The files written by [`write_keypair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairFiles {
    /// `DIR/NAME.key` (PKCS#8 PEM, mode 0600).
    pub private_key: PathBuf,
    /// `DIR/NAME.pub` (base64 of the 32 raw bytes + newline).
    pub public_key: PathBuf,
    /// [`burgee_core::key_id`] of the public key (32 lowercase hex digits).
    pub key_id: String,
}

/// `N` bytes from the operating system's random number generator.
///
/// # Errors
/// [`KeyError::Random`] if the generator is unavailable.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf)
}

/// A new Ed25519 signing key from 32 random bytes ([`random_bytes`]).
///
/// # Errors
/// [`KeyError::Random`].
pub fn generate_signing_key() -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_bytes(&random_bytes::<32>()?))
}

/// Writes `key` as `DIR/NAME.key` (PKCS#8 PEM, mode 0600) and `DIR/NAME.pub` (base64 public
/// key + newline), creating `dir` if needed.
///
/// # Errors
/// [`KeyError::Exists`] if either file already exists (checked for both before writing
/// either); [`KeyError::Io`]; [`KeyError::Encode`].
pub fn write_keypair(dir: &Path, name: &str, key: &SigningKey) -> Result<KeyPairFiles, KeyError> {
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let private_key = dir.join(format!("{name}.key"));
    let public_key = dir.join(format!("{name}.pub"));
    if let Some(parent) = private_key.parent() {
        std::fs::create_dir_all(parent).map_err(|source| KeyError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    for path in [&private_key, &public_key] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyError::Exists { path: path.clone() });
        }
    }
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    write_new_file(&private_key, pem.as_bytes(), 0o600)?;
    let public = key.verifying_key().to_bytes();
    let line = format!("{}\n", STANDARD.encode(public));
    write_new_file(&public_key, line.as_bytes(), 0o644)?;
    Ok(KeyPairFiles {
        private_key,
        public_key,
        key_id: key_id(&public),
    })
}

/// Reads a PKCS#8 PEM Ed25519 private key file.
///
/// # Errors
/// [`KeyError::Io`] if unreadable, [`KeyError::BadPrivateKey`] if not such a key.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::BadPrivateKey {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads a public key file (`*.pub`, base64 of 32 raw bytes) as a trusted key.
///
/// # Errors
/// [`KeyError::Io`] if unreadable, [`KeyError::BadPublicKey`] if not such a key.
pub fn read_trusted_key(path: &Path) -> Result<TrustedKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    TrustedKey::from_base64(&text).map_err(|source| KeyError::BadPublicKey {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `path` with permission bits `mode` (set at creation, so the content is never
/// readable with wider permissions) and writes `bytes`.
///
/// # Errors
/// [`KeyError::Exists`] if the file exists; [`KeyError::Io`] otherwise.
pub fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// The keys one environment signs with (see [`signing_keys`]).
#[derive(Debug, Clone)]
pub struct SigningKeys {
    /// The active key.
    pub active: SigningKey,
    /// Keys retired by [`rotate`] that still co-sign until [`retire`] (so SDKs that trust
    /// only an old key keep verifying during a rotation).
    pub previous: Vec<SigningKey>,
}

/// The environment variable that may hold the active signing key of environment `env` of
/// `project` (PKCS#8 PEM text): `BURGEE_SIGNING_KEY_<PROJECT>__<ENV>`, each key upper-cased
/// with `-` written `_` (e.g. `default`/`production` → `BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION`,
/// `shop-2`/`qa` → `BURGEE_SIGNING_KEY_SHOP_2__QA`). Keys whose names would collide
/// (`Shop`/`shop`, `a-b`/`a_b`, or `__` inside a key) are refused when the environment is
/// created (`crate::service::AppState::create_environment`), so every variable names exactly
/// one environment.
pub fn key_env_var(project: &str, env: &str) -> String {
    let part = |key: &str| -> String {
        key.chars()
            .map(|c| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect()
    };
    format!("BURGEE_SIGNING_KEY_{}__{}", part(project), part(env))
}

/// The key id ([`key_id`]) of a signing key's public half.
pub fn key_id_of(key: &SigningKey) -> String {
    key_id(&key.verifying_key().to_bytes())
}

fn previous_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.previous"))
}

/// Loads the keys `name` signs with: the active key from the environment variable `env_var`
/// ([`key_env_var`]) if set, else `DIR/NAME.key`; plus every `DIR/NAME.previous/*.key`.
///
/// # Errors
/// [`KeyError::Io`] / [`KeyError::BadPrivateKey`].
pub fn signing_keys(dir: &Path, name: &str, env_var: &str) -> Result<SigningKeys, KeyError> {
    let active = match std::env::var(env_var) {
        Ok(pem) => SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::BadPrivateKey {
            path: PathBuf::from(format!("${env_var}")),
            message: e.to_string(),
        })?,
        Err(_) => read_signing_key(&dir.join(format!("{name}.key")))?,
    };
    let mut previous = Vec::new();
    if let Ok(pems) = std::env::var(format!("{env_var}_PREVIOUS")) {
        // One or more PEM blocks, in order.
        for block in pems.split_inclusive("-----END PRIVATE KEY-----") {
            if block.trim().is_empty() {
                continue;
            }
            previous.push(SigningKey::from_pkcs8_pem(block.trim()).map_err(|e| {
                KeyError::BadPrivateKey {
                    path: PathBuf::from(format!("${env_var}_PREVIOUS")),
                    message: e.to_string(),
                }
            })?);
        }
    }
    let prev = previous_dir(dir, name);
    if prev.is_dir() {
        let entries = std::fs::read_dir(&prev).map_err(|source| KeyError::Io {
            path: prev.clone(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "key"))
            .collect();
        paths.sort();
        for path in paths {
            previous.push(read_signing_key(&path)?);
        }
    }
    Ok(SigningKeys { active, previous })
}

/// Key rotation, step 1: moves `NAME.key`/`NAME.pub` into `NAME.previous/` (as
/// `<keyid>.key`/`.pub`) and writes a new `NAME.key`/`NAME.pub`. From the next publish on,
/// snapshots carry two signatures (new and old), so SDKs trusting either key verify them.
/// Returns the new key's files.
///
/// # Errors
/// [`KeyError`] for file problems.
pub fn rotate(dir: &Path, name: &str, env_var: &str) -> Result<KeyPairFiles, KeyError> {
    if std::env::var(env_var).is_ok() {
        return Err(KeyError::FromEnvironment {
            var: env_var.to_owned(),
        });
    }
    let old = read_signing_key(&dir.join(format!("{name}.key")))?;
    let prev = previous_dir(dir, name);
    let old_id = key_id(&old.verifying_key().to_bytes());
    // Keep the old key first (a crash from here on leaves it active, and also previous), then
    // replace the active pair by renames: at every instant one complete active key exists.
    if !prev.join(format!("{old_id}.key")).exists() {
        write_keypair(&prev, &old_id, &old)?;
    }
    let staged = format!("{name}.next");
    for ext in ["key", "pub"] {
        let _ = std::fs::remove_file(dir.join(format!("{staged}.{ext}")));
    }
    let files = write_keypair(dir, &staged, &generate_signing_key()?)?;
    let key_path = dir.join(format!("{name}.key"));
    let pub_path = dir.join(format!("{name}.pub"));
    for (from, to) in [
        (&files.private_key, &key_path),
        (&files.public_key, &pub_path),
    ] {
        std::fs::rename(from, to).map_err(|source| KeyError::Io {
            path: to.clone(),
            source,
        })?;
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(KeyPairFiles {
        private_key: key_path,
        public_key: pub_path,
        key_id: files.key_id,
    })
}

/// Key rotation, step 2 (once every SDK trusts the new key): moves the previous keys of
/// `NAME` to `NAME.retired/`, so snapshots are signed by the active key only. Returns how
/// many keys were retired.
///
/// # Errors
/// [`KeyError::Io`].
pub fn retire(dir: &Path, name: &str) -> Result<usize, KeyError> {
    let prev = previous_dir(dir, name);
    if !prev.is_dir() {
        return Ok(0);
    }
    let retired = dir.join(format!("{name}.retired"));
    std::fs::create_dir_all(&retired).map_err(|source| KeyError::Io {
        path: retired.clone(),
        source,
    })?;
    let mut count = 0;
    let entries = std::fs::read_dir(&prev).map_err(|source| KeyError::Io {
        path: prev.clone(),
        source,
    })?;
    for entry in entries.filter_map(Result::ok) {
        let from = entry.path();
        let to = retired.join(entry.file_name());
        std::fs::rename(&from, &to).map_err(|source| KeyError::Io { path: from, source })?;
        if to.extension().is_some_and(|x| x == "key") {
            count += 1;
        }
    }
    Ok(count)
}

/// Loads the active key of `name` (the variable `env_var` if set, else `DIR/NAME.key`), or
/// creates the pair if there is neither; returns its key id. `DIR/NAME.pub` is written (or
/// replaced, atomically) when it does not match the active key, so SDKs, backups and the ready
/// file find the public key even when the private key lives only in the environment.
///
/// # Errors
/// [`KeyError`].
pub fn load_or_create(dir: &Path, name: &str, env_var: &str) -> Result<String, KeyError> {
    let private = dir.join(format!("{name}.key"));
    if private.exists() || std::env::var(env_var).is_ok() {
        let keys = signing_keys(dir, name, env_var)?;
        let public = keys.active.verifying_key().to_bytes();
        let pub_path = dir.join(format!("{name}.pub"));
        let text = format!("{}\n", STANDARD.encode(public));
        if std::fs::read_to_string(&pub_path).ok().as_deref() != Some(text.as_str()) {
            write_atomically(&pub_path, text.as_bytes(), 0o644)?;
        }
        return Ok(key_id(&public));
    }
    Ok(write_keypair(dir, name, &generate_signing_key()?)?.key_id)
}

/// Writes `path` atomically: `PATH.tmp` with `mode`, fsync, rename, fsync of the directory.
///
/// # Errors
/// [`KeyError::Io`].
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent()
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn signing_key_variables_name_project_and_environment() {
        assert_eq!(
            key_env_var("default", "production"),
            "BURGEE_SIGNING_KEY_DEFAULT__PRODUCTION"
        );
        assert_eq!(key_env_var("shop-2", "qa"), "BURGEE_SIGNING_KEY_SHOP_2__QA");
        // The first project's `production` and project `shop`'s are different variables.
        assert_ne!(
            key_env_var("default", "production"),
            key_env_var("shop", "production")
        );
    }

    #[test]
    fn keypair_round_trips_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_signing_key().unwrap();
        let files = write_keypair(dir.path(), "k", &key).unwrap();
        let mode = std::fs::metadata(&files.private_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = read_signing_key(&files.private_key).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let trusted = read_trusted_key(&files.public_key).unwrap();
        assert_eq!(trusted.keyid(), files.key_id);
        let again = write_keypair(dir.path(), "k", &key);
        assert!(matches!(again, Err(KeyError::Exists { .. })));
    }
}
