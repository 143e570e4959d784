//! What the console shows beyond plain resources: an environment's trusted public keys, a flag
//! evaluated for one context ("Try it", by the same core the SDKs run), and stale flags.

use std::collections::{BTreeMap, BTreeSet};

use burgee_core::{Context, Snapshot, key_id};
use serde::Serialize;
use serde_json::Value;

use crate::error::StateError;
use crate::events::model::Event;
use crate::keys;
use crate::model::{Targeting, flag_def};
use crate::publish::envelope_document;
use crate::service::AppState;
use crate::store::rows::require_env;

/// One public key SDKs of an environment may trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// Key id (`burgee_core::key_id`: the first 8 bytes of SHA-256 of the key, hex), as in an
    /// envelope's `signatures[].keyid`.
    pub keyid: String,
    /// Standard base64 of the 32 raw Ed25519 bytes: what an SDK's `trusted_keys` takes.
    pub public_key: String,
    /// `active` (signs every new snapshot) or `previous` (retired by a rotation, still
    /// co-signing until `burgee keys retire`).
    pub status: &'static str,
}

/// The keys of an environment and where the active one comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EnvironmentKeys {
    /// Project key.
    pub project: String,
    /// Environment key.
    pub environment: String,
    /// The active key first, then the previous ones still co-signing.
    pub keys: Vec<PublicKey>,
    /// `file` (`DATA_DIR/keys/<name>.key`) or `environment` (the variable below is set).
    pub source: &'static str,
    /// The environment variable that may hold the active key (`BURGEE_SIGNING_KEY_…`).
    pub variable: String,
}

/// The answer of "Try it": one flag evaluated for one context.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Flag key.
    pub flag: String,
    /// Environment key.
    pub environment: String,
    /// The published snapshot version the evaluation started from.
    pub version: u64,
    /// Whether the flag's targeting was the pending one sent in the request.
    pub pending: bool,
    /// The served value (`null` on error).
    pub value: Value,
    /// The served variant (`null` on error).
    pub variant: Option<String>,
    /// OpenFeature reason (`STATIC`, `DEFAULT`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`,
    /// `PREREQUISITE_FAILED`, `ERROR`).
    pub reason: String,
    /// The rule that decided, if one did.
    pub rule_id: Option<String>,
    /// The unit's bucket (0..=9999, basis points) when a rollout decided.
    pub bucket: Option<u32>,
    /// OpenFeature error code when `reason` is `ERROR`.
    pub error_code: Option<String>,
    /// What went wrong, when `reason` is `ERROR`.
    pub error_message: Option<String>,
}

/// Why a flag looks stale in an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaleReason {
    /// No exposure within the window (and the flag is older than the window).
    NoExposures,
    /// Every exposure within the window served the same variant, and the flag has been seen
    /// at least as long as the window.
    SingleVariant,
}

/// A flag that looks stale in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StaleFlag {
    /// Flag key.
    pub flag: String,
    /// Environment key.
    pub environment: String,
    /// Why.
    pub reason: StaleReason,
    /// The newest exposure of the flag in the environment, ms since epoch (`null`: none
    /// stored).
    pub last_exposure_at: Option<u64>,
    /// Exposures within the window.
    pub exposures: u64,
    /// The one variant served within the window (`single_variant` only).
    pub variant: Option<String>,
}

/// What the event log says of one flag in one environment.
#[derive(Default)]
struct Seen {
    first: Option<u64>,
    last: Option<u64>,
    in_window: u64,
    variants: BTreeSet<String>,
}

impl AppState {
    /// The public keys SDKs of `project/env` may trust: the active key and the previous ones
    /// still co-signing after a rotation.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`], [`StateError::Key`] when a key cannot
    /// be read.
    pub async fn environment_keys(
        &self,
        project: &str,
        env: &str,
    ) -> Result<EnvironmentKeys, StateError> {
        let row = {
            let mut conn = self.inner.store.pool.acquire().await?;
            require_env(&mut conn, project, env).await?
        };
        let variable = keys::key_env_var(project, env);
        let signing = keys::signing_keys(&self.inner.keys_dir, &row.key_name, &variable)?;
        let public = |k: &ed25519_dalek::SigningKey, status| {
            let bytes = k.verifying_key().to_bytes();
            PublicKey {
                keyid: key_id(&bytes),
                public_key: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    bytes,
                ),
                status,
            }
        };
        let mut list = vec![public(&signing.active, "active")];
        list.extend(signing.previous.iter().map(|k| public(k, "previous")));
        Ok(EnvironmentKeys {
            project: project.to_owned(),
            environment: env.to_owned(),
            keys: list,
            source: if std::env::var_os(&variable).is_some() {
                "environment"
            } else {
                "file"
            },
            variable,
        })
    }

    /// Evaluates flag `key` of `project/env` for the evaluation context `ctx` with the core the SDKs run, on the latest published snapshot,
    /// or on that snapshot with the flag's targeting replaced by `pending` (an unsaved edit).
    ///
    /// # Errors
    /// [`StateError::NotFound`] (project, environment, flag, or nothing published);
    /// [`StateError::Invalid`] when the pending targeting would not compile (with the path);
    /// [`StateError::Db`].
    pub async fn explain(
        &self,
        project: &str,
        env: &str,
        key: &str,
        ctx: &Context,
        pending: Option<&Targeting>,
    ) -> Result<Explanation, StateError> {
        let flag = self.flag(project, key).await?;
        let latest = self.latest_snapshot(project, env).await?.ok_or_else(|| {
            StateError::NotFound(format!("nothing is published in \"{project}/{env}\""))
        })?;
        let mut def = envelope_document(&latest.envelope)?;
        if let Some(targeting) = pending {
            let pending_def = flag_def(key, &flag.spec, targeting);
            match def.flags.iter_mut().find(|f| f.key == key) {
                Some(f) => *f = pending_def,
                None => def.flags.push(pending_def),
            }
        }
        let snapshot = Snapshot::compile(&def, None).map_err(StateError::Invalid)?;
        let d = snapshot.evaluate(key, ctx, self.now());
        Ok(Explanation {
            flag: key.to_owned(),
            environment: env.to_owned(),
            version: latest.version,
            pending: pending.is_some(),
            value: d.value.map_or(Value::Null, |v| v.to_json()),
            variant: d.variant.map(str::to_owned),
            reason: d.reason.as_str().to_owned(),
            rule_id: d.rule_id.map(str::to_owned),
            bucket: d.bucket,
            error_code: d.error.as_ref().map(|e| e.code.as_str().to_owned()),
            error_message: d.error.map(|e| e.message),
        })
    }

    /// The flags of `project` that look stale in some environment, judged over the last
    /// `days` days (the server's clock) from the exposures in the event log: none in the
    /// window (flags younger than the window are never stale), or all of one variant while the
    /// flag has been exposed at least that long. Sorted by flag, then environment. Reads the
    /// project's whole event log: call it from a blocking-friendly context.
    ///
    /// # Errors
    /// [`StateError::NotFound`], [`StateError::Db`], [`StateError::Events`] when the event log
    /// cannot be read.
    pub async fn stale_flags(
        &self,
        project: &str,
        days: u64,
    ) -> Result<Vec<StaleFlag>, StateError> {
        let flags = self.list_flags(project, &Default::default()).await?.flags;
        let envs = self.environments(project).await?;
        let now = self.now();
        let window_start = now.saturating_sub(days.saturating_mul(86_400_000));
        let events = std::sync::Arc::clone(self.events());
        let (project_key, env_keys) = (
            project.to_owned(),
            envs.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
        );
        let seen = tokio::task::spawn_blocking(move || {
            let log = events.log()?;
            let mut seen: BTreeMap<(String, String), Seen> = BTreeMap::new();
            for env in env_keys {
                log.scan(&project_key, &env, |batch| {
                    for event in &batch.events {
                        let Event::Exposure(e) = event else { continue };
                        let s = seen.entry((e.flag.clone(), env.clone())).or_default();
                        s.first = Some(s.first.map_or(e.time, |f| f.min(e.time)));
                        s.last = Some(s.last.map_or(e.time, |l| l.max(e.time)));
                        if e.time >= window_start {
                            s.in_window += 1;
                            s.variants.insert(e.variant.clone());
                        }
                    }
                })?;
            }
            Ok::<_, crate::events::log::LogError>(seen)
        })
        .await
        .map_err(|e| StateError::Corrupt(format!("reading the event log: {e}")))??;
        let mut out = Vec::new();
        for flag in &flags {
            for env in &envs {
                let s = seen.get(&(flag.key.clone(), env.key.clone()));
                let last = s.and_then(|s| s.last);
                let in_window = s.map_or(0, |s| s.in_window);
                let reason = if in_window == 0 {
                    (flag.created_at < window_start).then_some(StaleReason::NoExposures)
                } else {
                    s.filter(|s| {
                        s.variants.len() == 1 && s.first.is_some_and(|f| f <= window_start)
                    })
                    .map(|_| StaleReason::SingleVariant)
                };
                if let Some(reason) = reason {
                    out.push(StaleFlag {
                        flag: flag.key.clone(),
                        environment: env.key.clone(),
                        variant: (reason == StaleReason::SingleVariant)
                            .then(|| s.and_then(|s| s.variants.first().cloned()))
                            .flatten(),
                        reason,
                        last_exposure_at: last,
                        exposures: in_window,
                    });
                }
            }
        }
        Ok(out)
    }
}
