//! Verified snapshots evaluated with an explicit time (tests, tools, offline evaluation).

use std::sync::Arc;

use burgee_client::Resolution;

use burgee_core::{
    Audience, Context as CoreContext, Held, LoadOptions as CoreLoadOptions,
    Snapshot as CoreSnapshot, TrustedKey,
};

use crate::BurgeeError;
use crate::context::EvaluationContext;
use crate::details::{
    self, BooleanDetails, DoubleDetails, EvaluationDetails, IntegerDetails, ObjectDetails,
    StringDetails,
};

/// What [`Snapshot::load`] checks an envelope against (`spec/SNAPSHOT.md` §5.3).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LoadOptions {
    /// Trusted Ed25519 public keys: standard base64 of 32 bytes (the `*.pub` files); several
    /// during a key rotation.
    pub trusted_keys: Vec<String>,
    /// The environment the snapshot must be for.
    pub environment: String,
    /// The project the snapshot must be for (`PROJECT_MISMATCH` otherwise); `null`/`nil` = not
    /// checked.
    #[uniffi(default = None)]
    pub project: Option<String>,
    /// The audience read (`AUDIENCE_MISMATCH` for the other); `null`/`nil` = `SERVER`. Apps
    /// reading what a client-side key fetched pass `CLIENT`.
    #[uniffi(default = None)]
    pub audience: Option<Audience>,
    /// Current time for the expiry check, ms since the Unix epoch; `null`/`nil` = the clock.
    #[uniffi(default = None)]
    pub now_ms: Option<u64>,
    /// Version already held (anti-rollback): older versions are refused, and the same version
    /// with another digest.
    #[uniffi(default = None)]
    pub held_version: Option<u64>,
    /// Digest (`sha256:<hex>`) of the held version; only read with `heldVersion` (absent =
    /// empty, which no envelope has).
    #[uniffi(default = None)]
    pub held_digest: Option<String>,
    /// Refuse versions below this one (0 = no minimum).
    #[uniffi(default = 0)]
    pub min_version: u64,
    /// Envelope size limit in bytes, checked before parsing; `null`/`nil` = 8 MiB.
    #[uniffi(default = None)]
    pub max_envelope_bytes: Option<u64>,
}

/// A snapshot's identity and validity.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SnapshotInfo {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// Publish version (increases with every publish).
    pub version: u64,
    /// Issue time, ms since the Unix epoch.
    pub issued_at_ms: u64,
    /// Expiry, ms since the Unix epoch; after it the snapshot is refused as
    /// `SNAPSHOT_EXPIRED` when (re)loaded.
    pub expires_at_ms: u64,
    /// `sha256:<hex>` of the signed payload; `null`/`nil` for an unsigned document.
    pub digest: Option<String>,
    /// Id of the trusted key whose signature verified; `null`/`nil` for an unsigned document.
    pub keyid: Option<String>,
}

pub(crate) fn info(s: &CoreSnapshot) -> SnapshotInfo {
    let i = s.info();
    SnapshotInfo {
        project: i.project.clone(),
        environment: i.environment.clone(),
        version: i.version,
        issued_at_ms: i.issued_at,
        expires_at_ms: i.expires_at,
        digest: i.digest.clone(),
        keyid: i.keyid.clone(),
    }
}

/// Parses trusted keys (base64 of 32 bytes each).
pub(crate) fn trusted_keys(keys: &[String]) -> Result<Vec<TrustedKey>, BurgeeError> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            TrustedKey::from_base64(k)
                .map_err(|e| BurgeeError::new(e.code(), format!("trusted key {i}: {e}")))
        })
        .collect()
}

/// A verified (or, with [`Snapshot::from_json`], unsigned) snapshot, evaluated with an
/// explicit time. Apps normally use [`crate::BurgeeClient`]; this is for tests, tools and
/// evaluating a snapshot the app fetched itself. Immutable and thread-safe.
#[derive(Debug, uniffi::Object)]
pub struct Snapshot {
    pub(crate) inner: Arc<CoreSnapshot>,
}

fn anonymous() -> &'static CoreContext {
    static EMPTY: std::sync::OnceLock<CoreContext> = std::sync::OnceLock::new();
    EMPTY.get_or_init(CoreContext::anonymous)
}

/// The context to evaluate with: the handle's, or the anonymous one.
pub(crate) fn ctx(context: Option<&Arc<EvaluationContext>>) -> &CoreContext {
    match context {
        Some(c) => &c.inner,
        None => anonymous(),
    }
}

#[uniffi::export]
impl Snapshot {
    /// Verifies a DSSE envelope (JSON text) and compiles the snapshot inside, in the order of
    /// `spec/SNAPSHOT.md` §5.3.
    ///
    /// # Errors
    /// The code of the first failing check: `SNAPSHOT_TOO_LARGE`, `PARSE_ERROR`,
    /// `KEY_UNTRUSTED`, `SIGNATURE_INVALID`, `PAYLOAD_TYPE_MISMATCH`, `PROJECT_MISMATCH`,
    /// `ENVIRONMENT_MISMATCH`, `AUDIENCE_MISMATCH`, `SNAPSHOT_ROLLBACK`, `SNAPSHOT_EXPIRED`,
    /// `SNAPSHOT_INVALID`; `PARSE_ERROR` also for a
    /// trusted key that is not base64 of an Ed25519 key.
    #[uniffi::constructor]
    pub fn load(envelope: String, options: LoadOptions) -> Result<Arc<Self>, BurgeeError> {
        let keys = trusted_keys(&options.trusted_keys)?;
        let now = options.now_ms.unwrap_or_else(burgee_client::now_ms);
        let mut opts = CoreLoadOptions::new(&keys, &options.environment, now);
        opts.project = options.project.as_deref();
        if let Some(audience) = options.audience {
            opts.audience = audience;
        }
        let digest = options.held_digest.unwrap_or_default();
        if let Some(version) = options.held_version {
            opts.held = Some(Held {
                version,
                digest: &digest,
            });
        }
        opts.min_version = options.min_version;
        if let Some(max) = options.max_envelope_bytes {
            opts.max_envelope_bytes = usize::try_from(max).unwrap_or(usize::MAX);
        }
        let snap = CoreSnapshot::load(envelope.as_bytes(), &opts)
            .map_err(|e| BurgeeError::new(e.code(), e))?;
        Ok(Arc::new(Snapshot {
            inner: Arc::new(snap),
        }))
    }

    /// Compiles an unsigned snapshot document (JSON text): no signature, environment or
    /// expiry checks. For tests and authoring tools.
    ///
    /// # Errors
    /// `PARSE_ERROR` (not a snapshot document) or `SNAPSHOT_INVALID` (naming the offending
    /// field).
    #[uniffi::constructor]
    pub fn from_json(document: String) -> Result<Arc<Self>, BurgeeError> {
        let snap = CoreSnapshot::from_json(document.as_bytes())
            .map_err(|e| BurgeeError::new(e.code(), e))?;
        Ok(Arc::new(Snapshot {
            inner: Arc::new(snap),
        }))
    }

    /// Identity and validity.
    pub fn info(&self) -> SnapshotInfo {
        info(&self.inner)
    }

    /// Every flag key, in snapshot order.
    pub fn flag_keys(&self) -> Vec<String> {
        self.inner.flag_keys().map(str::to_owned).collect()
    }

    /// Untyped evaluation of `flagKey` for `context` (absent = anonymous) at `nowMs` (ms since
    /// the Unix epoch): the value of whatever type the flag has, `null`/`nil` on error.
    pub fn evaluate(
        &self,
        flag_key: String,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> EvaluationDetails {
        let d = self
            .inner
            .evaluate(&flag_key, ctx(context.as_ref()), now_ms);
        details::untyped(Resolution::new(&flag_key, d.value, &d))
    }

    /// Typed evaluation of a `boolean` flag at `nowMs`; `defaultValue` on any error.
    pub fn get_boolean_details(
        &self,
        flag_key: String,
        default_value: bool,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> BooleanDetails {
        let t = self
            .inner
            .get_bool(&flag_key, ctx(context.as_ref()), now_ms, default_value);
        Resolution::new(&flag_key, t.value, &t.details).into()
    }

    /// Typed evaluation of a `string` flag at `nowMs`; `defaultValue` on any error.
    pub fn get_string_details(
        &self,
        flag_key: String,
        default_value: String,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> StringDetails {
        let t = self
            .inner
            .get_string(&flag_key, ctx(context.as_ref()), now_ms, &default_value);
        Resolution::new(&flag_key, t.value.to_owned(), &t.details).into()
    }

    /// Typed evaluation of an `integer` flag at `nowMs`; `defaultValue` on any error.
    pub fn get_integer_details(
        &self,
        flag_key: String,
        default_value: i64,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> IntegerDetails {
        let t = self
            .inner
            .get_integer(&flag_key, ctx(context.as_ref()), now_ms, default_value);
        Resolution::new(&flag_key, t.value, &t.details).into()
    }

    /// Typed evaluation of a `float` flag at `nowMs`; `defaultValue` on any error.
    pub fn get_double_details(
        &self,
        flag_key: String,
        default_value: f64,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> DoubleDetails {
        let t = self
            .inner
            .get_float(&flag_key, ctx(context.as_ref()), now_ms, default_value);
        Resolution::new(&flag_key, t.value, &t.details).into()
    }

    /// Typed evaluation of an `object` flag at `nowMs`: `defaultJson` (JSON object text) on
    /// any error; a `defaultJson` that is not a JSON object is a `TYPE_MISMATCH`.
    pub fn get_object_details(
        &self,
        flag_key: String,
        default_json: String,
        context: Option<Arc<EvaluationContext>>,
        now_ms: u64,
    ) -> ObjectDetails {
        let map = match details::object_default(&default_json) {
            Ok(m) => m,
            Err(e) => return details::object_error(&flag_key, &default_json, e),
        };
        let t = self
            .inner
            .get_object(&flag_key, ctx(context.as_ref()), now_ms, &map);
        let r = Resolution::new(&flag_key, t.value.clone(), &t.details);
        details::object_details(r, &default_json)
    }
}
