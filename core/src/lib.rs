//! # burgee-core
//!
//! Burgee's evaluation core: it verifies signed flag snapshots and evaluates flags locally,
//! with the same result to the last bit in every language that embeds it (WebAssembly, Node,
//! Python, mobile, the server).
//!
//! It must never do I/O or read a clock: callers pass bytes and `now` (ms since epoch) in and
//! get values back (sans-IO). It is `no_std` + `alloc`, checked by building for
//! `wasm32v1-none` in CI.
//!
//! ```text
//!  envelope bytes ──► size limit ──► DSSE parse ──► Ed25519 over PAE (trusted keys)
//!                     ──► payload type ──► snapshot JSON ──► project ──► environment
//!                     ──► audience ──► anti-rollback ──► expiry
//!                     ──► compile (sets, regexes, semvers, indices) ──► Snapshot
//!  Snapshot + Context + now ──► evaluate ──► value, variant, reason, rule id, error code
//! ```
//!
//! The format is specified in `spec/SNAPSHOT.md`; `spec/vectors/` holds the conformance cases
//! every binding runs.
//!
//! ```
//! use burgee_core::{Context, LoadOptions, Reason, Snapshot, TrustedKey};
//! # let (envelope, public_key_b64) = burgee_core::doc_fixture();
//! let trusted = [TrustedKey::from_base64(&public_key_b64)?];
//! let now = 1_800_000_000_000; // ms since epoch
//! let opts = LoadOptions::new(&trusted, "production", now).for_project("docs");
//! let snap = Snapshot::load(envelope.as_bytes(), &opts)?;
//! let ctx = Context::new("user-42").with("country", "DE");
//! let d = snap.get_bool("dark-mode", &ctx, now, false);
//! assert_eq!(d.details.reason, Reason::Static);
//! assert!(d.value);
//! # Ok::<(), burgee_core::LoadError>(())
//! ```
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod bucket;
pub mod catalog;
pub mod client;
mod compile;
pub mod config;
mod context;
mod date;
pub mod engine;
mod envelope;
mod error;
mod eval;
pub mod limits;
pub mod model;
mod privacy;
mod value;

pub use bucket::{BUCKETS, bucket};
pub use catalog::{
    Balancer, BalancerConfig, CATALOG_PAYLOAD_TYPE, CatalogDocument, CatalogDocumentDef,
    CatalogHealth, CatalogInfo, CatalogInstanceDef, CatalogServiceDef, Choice, Circuit, Outcome,
    Strategy,
};
pub use compile::{Snapshot, SnapshotInfo, parse_document};
pub use config::{
    CONFIG_PAYLOAD_TYPE, ConfigChange, ConfigDocument, ConfigDocumentDef, ConfigEntryDef,
    ConfigEntryValue, ConfigFormat, ConfigInfo, ConfigOverrideDef, ConfigValue,
};
pub use context::{AttributeValue, Context, TARGETING_KEY};
#[cfg(feature = "sign")]
pub use envelope::sign_envelope;
pub use envelope::{
    DEFAULT_MAX_ENVELOPE_BYTES, Envelope, EnvelopeSignature, SNAPSHOT_PAYLOAD_TYPE, TrustedKey,
    VerifiedPayload, key_id, pae, payload_digest, verify_envelope,
};
pub use error::{ContextError, ErrorCode, LoadError};
pub use eval::{
    EvalError, EvaluationDetails, Exposure, FlagMetadata, Reason, TypedDetails, ValueKind,
};
pub use model::Audience;
pub use privacy::{SENSITIVE_DOMAIN, client_view, sensitive_digest};
pub use value::{FlagValue, MetadataValue};

/// The snapshot an SDK already holds, for anti-rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held<'a> {
    /// Version held.
    pub version: u64,
    /// Digest held (`sha256:<hex>`); an offer of the same version with another digest is
    /// refused as `SNAPSHOT_ROLLBACK` (equivocation).
    pub digest: &'a str,
}

/// What [`Snapshot::load`] checks an envelope against.
///
/// Everything signed is checked: the key, the payload type, the project (when set), the
/// environment, the audience, the version and the expiry (`spec/SNAPSHOT.md` §5.3).
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions<'a> {
    /// Keys whose signature is accepted (several during rotation).
    pub trusted_keys: &'a [TrustedKey],
    /// The project the SDK is configured for; a snapshot of another project is refused with
    /// `PROJECT_MISMATCH`. `None` checks nothing: only for tools that inspect any snapshot
    /// (e.g. `burgee verify` without `--project`); an SDK that knows its project sets it.
    pub project: Option<&'a str>,
    /// The environment the SDK is configured for.
    pub environment: &'a str,
    /// The audience the SDK reads (`spec/SNAPSHOT.md` §9): [`Audience::Server`] (the default)
    /// for server-side SDKs, [`Audience::Client`] for browsers, apps and anything holding a
    /// client-side key. A snapshot for the other audience is refused with
    /// `AUDIENCE_MISMATCH`.
    pub audience: Audience,
    /// The snapshot currently held, if any.
    pub held: Option<Held<'a>>,
    /// Refuse versions below this one even without a held snapshot (e.g. the version of a
    /// snapshot bundled with an app, or the last version persisted before a restart); 0 = none.
    pub min_version: u64,
    /// Current time, ms since epoch.
    pub now: u64,
    /// Size limit in bytes, checked before parsing.
    pub max_envelope_bytes: usize,
}

impl<'a> LoadOptions<'a> {
    /// Options with no project check, the `server` audience, no held snapshot and the
    /// default size limit ([`DEFAULT_MAX_ENVELOPE_BYTES`]).
    pub fn new(trusted_keys: &'a [TrustedKey], environment: &'a str, now: u64) -> Self {
        LoadOptions {
            trusted_keys,
            project: None,
            environment,
            audience: Audience::default(),
            held: None,
            min_version: 0,
            now,
            max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
        }
    }

    /// These options, refusing snapshots of another project than `project`.
    #[must_use]
    pub fn for_project(mut self, project: &'a str) -> Self {
        self.project = Some(project);
        self
    }

    /// These options, for an SDK that reads `audience` snapshots.
    #[must_use]
    pub fn for_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }
}

impl Snapshot {
    /// Verifies a DSSE envelope and compiles the snapshot inside, in the order of
    /// `spec/SNAPSHOT.md` §5.3: size limit, envelope parse, trusted signature over PAE,
    /// payload type, snapshot parse, project (when [`LoadOptions::project`] is set),
    /// environment, audience, version (anti-rollback), expiry, compile.
    ///
    /// # Errors
    /// The first failing check as a [`LoadError`]; its [`LoadError::code`] is one of
    /// `SNAPSHOT_TOO_LARGE`, `PARSE_ERROR`, `KEY_UNTRUSTED`, `SIGNATURE_INVALID`,
    /// `PAYLOAD_TYPE_MISMATCH`, `PROJECT_MISMATCH`, `ENVIRONMENT_MISMATCH`,
    /// `AUDIENCE_MISMATCH`, `SNAPSHOT_ROLLBACK` (below the held version or `min_version`, or
    /// equivocation), `SNAPSHOT_EXPIRED`, `SNAPSHOT_INVALID`.
    pub fn load(envelope: &[u8], opts: &LoadOptions<'_>) -> Result<Snapshot, LoadError> {
        let verified = verify_envelope(
            envelope,
            opts.trusted_keys,
            opts.max_envelope_bytes,
            SNAPSHOT_PAYLOAD_TYPE,
        )?;
        let def = parse_document(&verified.payload)?;
        check_scope(&def.project, &def.environment, opts)?;
        if def.audience != opts.audience {
            return Err(LoadError::Audience {
                expected: opts.audience,
                found: def.audience,
            });
        }
        check_freshness(def.version, def.expires_at, &verified.digest, opts)?;
        let mut snapshot = Snapshot::compile(&def, Some(verified.digest))?;
        snapshot.info.keyid = Some(verified.keyid);
        Ok(snapshot)
    }

    /// The held-snapshot marker of this snapshot, for the next [`Snapshot::load`].
    /// `None` if it was not loaded from an envelope.
    pub fn held(&self) -> Option<Held<'_>> {
        self.info.digest.as_deref().map(|digest| Held {
            version: self.info.version,
            digest,
        })
    }
}

/// The scope checks every signed document kind shares (`spec/SNAPSHOT.md` §5.3 steps 6–7):
/// the project (when [`LoadOptions::project`] is set) and the environment.
pub(crate) fn check_scope(
    project: &str,
    environment: &str,
    opts: &LoadOptions<'_>,
) -> Result<(), LoadError> {
    if let Some(expected) = opts.project
        && project != expected
    {
        return Err(LoadError::Project {
            expected: expected.into(),
            found: project.into(),
        });
    }
    if environment != opts.environment {
        return Err(LoadError::Environment {
            expected: opts.environment.into(),
            found: environment.into(),
        });
    }
    Ok(())
}

/// The freshness checks every signed document kind shares (`spec/SNAPSHOT.md` §5.3 steps
/// 9–10): not below [`LoadOptions::min_version`], not below the held version, not the held
/// version with another digest (equivocation), not expired at [`LoadOptions::now`].
pub(crate) fn check_freshness(
    version: u64,
    expires_at: u64,
    digest: &str,
    opts: &LoadOptions<'_>,
) -> Result<(), LoadError> {
    if version < opts.min_version {
        return Err(LoadError::BelowMinimum {
            minimum: opts.min_version,
            found: version,
        });
    }
    if let Some(held) = opts.held {
        if version < held.version {
            return Err(LoadError::Rollback {
                held: held.version,
                found: version,
            });
        }
        if version == held.version && digest != held.digest {
            return Err(LoadError::Equivocation {
                version,
                held_digest: held.digest.into(),
                found_digest: digest.into(),
            });
        }
    }
    if opts.now >= expires_at {
        return Err(LoadError::Expired {
            expires_at,
            now: opts.now,
        });
    }
    Ok(())
}

/// Index conversion for slices bounded by the snapshot size limit.
pub(crate) fn compile_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A signed envelope and its base64 public key for the crate-level doc example (generated with
/// a fixed, public, documentation-only seed).
#[doc(hidden)]
#[cfg(feature = "sign")]
pub fn doc_fixture() -> (alloc::string::String, alloc::string::String) {
    use base64::Engine as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let payload = br#"{"format":1,"project":"docs","environment":"production","version":1,
        "issued_at":0,"expires_at":4000000000000,"salt":"s","flags":[{"key":"dark-mode",
        "type":"boolean","variants":{"on":true,"off":false},"enabled":true,
        "off_variant":"off","default":{"variant":"on"}}]}"#;
    let env = sign_envelope(SNAPSHOT_PAYLOAD_TYPE, payload, &key);
    (
        serde_json::to_string(&env).unwrap_or_default(),
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
    )
}
