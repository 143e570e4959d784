//! DSSE envelopes signed with Ed25519 (`spec/SNAPSHOT.md` §5).
//!
//! Format: the Dead Simple Signing Envelope, protocol v1
//! (<https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>): the signature is
//! over `PAE(payloadType, payload)` where
//! `PAE(t, b) = "DSSEv1" SP LEN(t) SP t SP LEN(b) SP b` and `LEN` is the byte length in ASCII
//! decimal. Ed25519 is RFC 8032 (pure, no pre-hash).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::LoadError;
use crate::limits::MAX_SIGNATURES;

/// The DSSE `payloadType` of a Burgee snapshot.
pub const SNAPSHOT_PAYLOAD_TYPE: &str = "application/vnd.burgee.snapshot+json; version=1";

/// Default envelope size limit in bytes (8 MiB), checked before any parsing.
pub const DEFAULT_MAX_ENVELOPE_BYTES: usize = 8 * 1024 * 1024;

/// A DSSE envelope as JSON: `{"payloadType", "payload" (standard base64), "signatures":
/// [{"keyid", "sig" (standard base64 of the 64-byte Ed25519 signature)}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// Media type of the payload.
    pub payload_type: String,
    /// Standard base64 (RFC 4648 §4, padded) of the payload bytes.
    pub payload: String,
    /// One or more signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Key id of the signer ([`key_id`]); empty means "try every trusted key".
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the signature.
    pub sig: String,
}

/// Pre-Authentication Encoding, DSSE protocol v1.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The key id of an Ed25519 public key: lowercase hex of the first 16 bytes of SHA-256 over the
/// 32 raw public-key bytes (32 hex digits).
pub fn key_id(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// The digest that identifies a snapshot: `"sha256:"` + lowercase hex of SHA-256 over the
/// decoded payload bytes.
pub fn payload_digest(payload: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(payload)))
}

/// A public key SDKs trust to sign snapshots. Several may be trusted at once (rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    keyid: String,
    key: VerifyingKey,
}

impl TrustedKey {
    /// From the 32 raw bytes of an Ed25519 public key.
    ///
    /// # Errors
    /// [`LoadError::Parse`] if the bytes are not a valid curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, LoadError> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| LoadError::Parse("public key is not a valid Ed25519 point".into()))?;
        Ok(TrustedKey {
            keyid: key_id(bytes),
            key,
        })
    }

    /// From standard base64 of the 32 raw bytes (the form `burgee keygen` writes to `*.pub`).
    /// Surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`LoadError::Parse`] for bad base64, a length other than 32 bytes, or an invalid point.
    pub fn from_base64(text: &str) -> Result<Self, LoadError> {
        let raw = STANDARD
            .decode(text.trim())
            .map_err(|e| LoadError::Parse(format!("public key is not base64: {e}")))?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
            LoadError::Parse(format!("public key must be 32 bytes, found {}", raw.len()))
        })?;
        TrustedKey::from_bytes(&bytes)
    }

    /// This key's id ([`key_id`]).
    pub fn keyid(&self) -> &str {
        &self.keyid
    }
}

/// An envelope whose signature by a trusted key verified and whose payload type is right.
#[derive(Debug, Clone)]
pub struct VerifiedPayload {
    /// Decoded payload bytes (the snapshot JSON).
    pub payload: Vec<u8>,
    /// [`payload_digest`] of the payload.
    pub digest: String,
    /// Id of the trusted key whose signature verified.
    pub keyid: String,
}

/// Steps 1–4 of the verification order (`spec/SNAPSHOT.md` §5.3), shared by every signed
/// document kind: size limit, envelope parse, a trusted key's signature over PAE, payload type
/// (`payload_type`: [`SNAPSHOT_PAYLOAD_TYPE`] or [`crate::CONFIG_PAYLOAD_TYPE`]).
///
/// Signatures by untrusted keys are skipped; the first signature naming a trusted key (or with
/// an empty keyid, tried against each trusted key) decides, so verification costs at most one
/// Ed25519 check per trusted key.
///
/// # Errors
/// `SNAPSHOT_TOO_LARGE`, `PARSE_ERROR` (also for more than [`MAX_SIGNATURES`] signatures),
/// `KEY_UNTRUSTED`, `SIGNATURE_INVALID`, `PAYLOAD_TYPE_MISMATCH` as [`LoadError`]s, in that
/// order of checking.
pub fn verify_envelope(
    bytes: &[u8],
    trusted: &[TrustedKey],
    max_bytes: usize,
    payload_type: &'static str,
) -> Result<VerifiedPayload, LoadError> {
    if bytes.len() > max_bytes {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| LoadError::Parse(format!("envelope is not valid DSSE JSON: {e}")))?;
    let payload = STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| LoadError::Parse(format!("envelope payload is not standard base64: {e}")))?;
    let signed = pae(&env.payload_type, &payload);

    if env.signatures.len() > MAX_SIGNATURES {
        return Err(LoadError::Parse(format!(
            "envelope has {} signatures, at most {MAX_SIGNATURES} are allowed",
            env.signatures.len()
        )));
    }
    // Signatures by keys not trusted are skipped; the first signature that names a trusted key
    // (or, with an empty keyid, is tried against every trusted key) decides: it verifies, or
    // the envelope is refused with SIGNATURE_INVALID. At most one Ed25519 check per trusted key.
    for s in &env.signatures {
        let mut first_failure: Option<&str> = None;
        for key in trusted
            .iter()
            .filter(|k| s.keyid.is_empty() || s.keyid == k.keyid)
        {
            let ok = STANDARD
                .decode(s.sig.as_bytes())
                .ok()
                .and_then(|raw| Signature::from_slice(&raw).ok())
                .is_some_and(|sig| key.key.verify(&signed, &sig).is_ok());
            if ok {
                if env.payload_type != payload_type {
                    return Err(LoadError::PayloadType {
                        expected: payload_type,
                        found: env.payload_type,
                    });
                }
                let digest = payload_digest(&payload);
                return Ok(VerifiedPayload {
                    payload,
                    digest,
                    keyid: key.keyid.clone(),
                });
            }
            first_failure.get_or_insert(&key.keyid);
        }
        if let Some(keyid) = first_failure {
            return Err(LoadError::SignatureInvalid {
                keyid: keyid.into(),
            });
        }
    }
    let keyids: Vec<&str> = env.signatures.iter().map(|s| s.keyid.as_str()).collect();
    Err(LoadError::KeyUntrusted {
        keyids: if keyids.is_empty() {
            "no signatures".into()
        } else {
            keyids.join(", ")
        },
    })
}

/// Signs `payload` into a DSSE envelope (JSON text) with one Ed25519 signature.
#[cfg(feature = "sign")]
pub fn sign_envelope(
    payload_type: &str,
    payload: &[u8],
    key: &ed25519_dalek::SigningKey,
) -> Envelope {
    use ed25519_dalek::Signer as _;
    let sig = key.sign(&pae(payload_type, payload));
    Envelope {
        payload_type: payload_type.into(),
        payload: STANDARD.encode(payload),
        signatures: alloc::vec![EnvelopeSignature {
            keyid: key_id(key.verifying_key().as_bytes()),
            sig: STANDARD.encode(sig.to_bytes()),
        }],
    }
}
