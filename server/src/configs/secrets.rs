//! Secret configuration values, encrypted at rest.
//!
//! Cipher: ChaCha20-Poly1305 (RFC 8439, the RustCrypto `chacha20poly1305` crate) with a random
//! 96-bit nonce per value and the associated data `burgee-config-secret-v1`. A sealed value is
//! the text `enc:v1:` + standard base64 of `nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//!
//! The 32-byte key comes, in this order, from the variable [`SECRETS_KEY_VAR`] (standard base64
//! of 32 bytes, for deployments that keep keys out of the data directory, like signing keys) or
//! the file `DATA_DIR/keys/secrets.key` (the same base64 text, mode 0600), which is created on
//! first use. Losing the key loses the secrets; back it up with the signing keys.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::StateError;
use crate::keys::{self, KeyError};

/// The variable that may hold the secrets key (standard base64 of 32 bytes).
pub const SECRETS_KEY_VAR: &str = "BURGEE_SECRETS_KEY";

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "enc:v1:";

const AAD: &[u8] = b"burgee-config-secret-v1";

/// Seals and opens secret values with the server's secrets key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The key from [`SECRETS_KEY_VAR`], else `keys_dir/secrets.key`, created (random, mode
    /// 0600) if neither exists.
    ///
    /// # Errors
    /// [`StateError::Key`] for an unreadable file, bad base64 or a key that is not 32 bytes.
    pub fn open(keys_dir: &Path) -> Result<SecretBox, StateError> {
        let path = keys_dir.join("secrets.key");
        let text = match std::env::var(SECRETS_KEY_VAR) {
            Ok(text) => text,
            Err(_) if path.exists() => {
                std::fs::read_to_string(&path).map_err(|source| KeyError::Io {
                    path: path.clone(),
                    source,
                })?
            }
            Err(_) => {
                std::fs::create_dir_all(keys_dir).map_err(|source| KeyError::Io {
                    path: keys_dir.to_path_buf(),
                    source,
                })?;
                let text = STANDARD.encode(keys::random_bytes::<32>()?);
                keys::write_new_file(&path, text.as_bytes(), 0o600)?;
                text
            }
        };
        let raw = STANDARD.decode(text.trim()).map_err(|e| {
            StateError::Config(format!("the secrets key is not standard base64: {e}"))
        })?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            StateError::Config(format!(
                "the secrets key must be 32 bytes, found {}",
                raw.len()
            ))
        })?;
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(&Key::from(bytes)),
        })
    }

    /// `plain` sealed (`enc:v1:...`).
    ///
    /// # Errors
    /// [`StateError::Key`] if no random nonce can be drawn.
    pub fn seal(&self, plain: &str) -> Result<String, StateError> {
        let nonce_bytes = keys::random_bytes::<12>()?;
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: plain.as_bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| StateError::Corrupt("encrypting a secret failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plaintext of a sealed value.
    ///
    /// # Errors
    /// [`StateError::Corrupt`] if it is not sealed or does not open with this key (another key,
    /// or tampered).
    pub fn open_sealed(&self, sealed: &str) -> Result<String, StateError> {
        let corrupt = || {
            StateError::Corrupt(
                "a stored secret does not decrypt with the secrets key (another key, or damaged)"
                    .into(),
            )
        };
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(corrupt)?;
        let (nonce, body) = raw.split_at_checked(12).ok_or_else(corrupt)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: AAD,
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::SecretBox;

    #[test]
    fn seals_opens_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let sb = SecretBox::open(dir.path()).unwrap();
        let sealed = sb.seal("hunter2").unwrap();
        assert!(sealed.starts_with("enc:v1:") && !sealed.contains("hunter2"));
        assert_eq!(sb.open_sealed(&sealed).unwrap(), "hunter2");
        assert_ne!(
            sb.seal("hunter2").unwrap(),
            sealed,
            "a fresh nonce per value"
        );
        // The same key file is read again on the next start.
        let again = SecretBox::open(dir.path()).unwrap();
        assert_eq!(again.open_sealed(&sealed).unwrap(), "hunter2");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(sb.open_sealed(&String::from_utf8(bytes).unwrap()).is_err());
        let other = SecretBox::open(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open_sealed(&sb.seal("x").unwrap()).is_err());
    }
}
