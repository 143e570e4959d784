//! Service discovery for threaded hosts: the [`DiscoveryClient`] keeps the environment's signed
//! catalog (`spec/CATALOG.md`) current like a snapshot (SSE with ETag polling as fallback, the
//! last good catalog persisted and re-verified at start, bootstrap) and balances over it with
//! the core's [`Balancer`] (round robin, weighted random, power of two choices, consistent
//! hashing with bounded load; circuit breaking from [`DiscoveryClient::report`]); a
//! [`Registration`] registers the running instance, renews its lease by heartbeat (registering
//! again when the server answers `INSTANCE_NOT_FOUND`) and deregisters it on close.
//!
//! ```text
//!  server ──SSE /v1/catalog/{env}/stream (event: catalog)──► SyncState<CatalogDocument>
//!         ──GET /v1/catalog/{env} (ETag/304)───────────────┘      │ (core: verify, anti-rollback)
//!  app ──choose(service, strategy, key)──► Balancer (core) ◄── report(outcome)
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use burgee_core::client::SyncStatus;
use burgee_core::{
    Balancer, CatalogDocument, CatalogInstanceDef, Choice, ErrorCode, Outcome, Strategy,
};

use crate::client::{Paths, Shared};
use crate::options::{ClientError, ClientOptions, general};
use crate::{lock, now_ms};

/// The environment's catalog, verified and kept current, and a balancer over it. Every method
/// takes `&self`; share it between threads.
pub struct DiscoveryClient {
    shared: Arc<Shared<CatalogDocument>>,
    balancer: Mutex<Balancer>,
    /// Successive values fed to the core's SplitMix64 (seeded from the OS once).
    random: AtomicU64,
    closed: AtomicBool,
}

impl std::fmt::Debug for DiscoveryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryClient")
            .field("environment", &self.shared.opts.environment)
            .finish_non_exhaustive()
    }
}

impl DiscoveryClient {
    /// Starts a client of `opts.environment`'s catalog (`opts.sdk_key`: a server-side SDK key
    /// of the environment; `opts.persist_path` and `opts.bootstrap` hold the catalog
    /// envelope).
    ///
    /// # Errors
    /// As [`crate::Client::new`].
    pub fn new(opts: ClientOptions) -> Result<DiscoveryClient, ClientError> {
        let paths = Paths {
            document: format!("/v1/catalog/{}", opts.environment),
            stream: format!("/v1/catalog/{}/stream", opts.environment),
            event: "catalog",
        };
        let shared = Arc::new(Shared::<CatalogDocument>::for_document(opts, paths, None)?);
        shared.start_sync("burgee-catalog-sync")?;
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| general(format!("no randomness: {e}")))?;
        Ok(DiscoveryClient {
            shared,
            balancer: Mutex::new(Balancer::default()),
            random: AtomicU64::new(u64::from_le_bytes(seed)),
            closed: AtomicBool::new(false),
        })
    }

    /// The verified catalog held, `None` before the first.
    pub fn catalog(&self) -> Option<Arc<CatalogDocument>> {
        self.shared.document()
    }

    /// The healthy instances of `service`, by id (empty for an unknown service or without a
    /// catalog).
    pub fn discover(&self, service: &str) -> Vec<CatalogInstanceDef> {
        self.catalog()
            .map(|c| c.instances(service).to_vec())
            .unwrap_or_default()
    }

    /// Chooses an instance of `service` (`spec/CATALOG.md` §4) and counts a request
    /// outstanding on it: end it with [`DiscoveryClient::report`]. `key` is the consistent
    /// hashing key; `exclude` the instance ids not to choose (those a retry already tried).
    /// `None` when the service has no instance left to choose.
    pub fn choose(
        &self,
        service: &str,
        strategy: Strategy,
        key: Option<&str>,
        exclude: &[&str],
    ) -> Option<CatalogInstanceDef> {
        let catalog = self.catalog()?;
        let random = self
            .random
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let choice = Choice {
            strategy,
            key,
            exclude,
        };
        lock(&self.balancer)
            .choose(&catalog, service, &choice, random, now_ms())
            .cloned()
    }

    /// Ends a request [`DiscoveryClient::choose`] counted: `Success`, `Failure` (connection
    /// error, timeout, 5xx: feeds the circuit breaker) or `Cancelled`.
    pub fn report(&self, service: &str, instance_id: &str, outcome: Outcome) {
        lock(&self.balancer).report(service, instance_id, outcome, now_ms());
    }

    /// The status and the last error (code and message) seen, if any.
    pub fn status(&self) -> (SyncStatus, Option<(ErrorCode, String)>) {
        self.shared.status()
    }

    /// Blocks until a catalog is held or the status is `ERROR`, at most `timeout`; returns the
    /// status then.
    pub fn wait_until_ready(&self, timeout: Duration) -> SyncStatus {
        self.shared.wait_until_ready(timeout)
    }

    /// Stops synchronising (idempotent); the catalog held keeps serving.
    pub fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            self.shared.close();
        }
    }
}

impl Drop for DiscoveryClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// The running instance's registration: registered at start, its lease renewed every third of
/// the lease by a background thread (registering again on `INSTANCE_NOT_FOUND`), deregistered
/// by [`Registration::close`] (or on drop).
#[derive(Debug)]
pub struct Registration {
    inner: Arc<RegistrationInner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct RegistrationInner {
    agent: ureq::Agent,
    url: String,
    key: String,
    body: String,
    every: Duration,
    stop: (Mutex<bool>, std::sync::Condvar),
}

impl Registration {
    /// Registers instance `id` of `service` in `opts.environment` of `opts.project` (default
    /// project `default`) with `instance` (the registration body of
    /// `PUT …/services/{service}/instances/{id}`: `address`, `port`, `weight`, `zone`,
    /// `version`, `metadata`, `lease_ms`…), then heartbeats every third of its lease.
    ///
    /// # Errors
    /// `GENERAL` without a server URL or SDK key, or when the server refuses the registration
    /// (the message carries its status and answer, e.g. a 400 naming the field).
    pub fn start(
        opts: &ClientOptions,
        service: &str,
        id: &str,
        instance: &serde_json::Value,
    ) -> Result<Registration, ClientError> {
        let (Some(base), Some(key)) = (&opts.server_url, &opts.sdk_key) else {
            return Err(general("a registration needs a server URL and an SDK key"));
        };
        let project = opts.project.as_deref().unwrap_or("default");
        let inner = RegistrationInner {
            agent: crate::client::agents(opts).0,
            url: format!(
                "{}/v1/projects/{project}/environments/{}/services/{service}/instances/{id}",
                base.trim_end_matches('/'),
                opts.environment
            ),
            key: key.clone(),
            body: instance.to_string(),
            every: Duration::from_millis(1000),
            stop: (Mutex::new(false), std::sync::Condvar::new()),
        };
        let registered = inner.register()?;
        let lease = registered
            .get("lease_ms")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(15_000);
        let inner = Arc::new(RegistrationInner {
            every: Duration::from_millis((lease / 3).max(100)),
            ..inner
        });
        let beat = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("burgee-heartbeat".into())
            .spawn(move || beat.heartbeat_loop())
            .map_err(|e| general(format!("cannot start the heartbeat thread: {e}")))?;
        Ok(Registration {
            inner,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the heartbeats and deregisters the instance (idempotent).
    ///
    /// # Errors
    /// `GENERAL` when the deregistration fails (the lease then lapses by itself).
    pub fn close(&self) -> Result<(), ClientError> {
        let Some(thread) = lock(&self.thread).take() else {
            return Ok(());
        };
        *lock(&self.inner.stop.0) = true;
        self.inner.stop.1.notify_all();
        let _ = thread.join();
        let r = self
            .inner
            .agent
            .delete(&self.inner.url)
            .header("Authorization", &format!("Bearer {}", self.inner.key))
            .header("If-Match", "*")
            .call()
            .map_err(|e| general(format!("deregistering: {e}")))?;
        match r.status().as_u16() {
            204 | 404 => Ok(()),
            other => Err(general(format!("deregistering: HTTP {other}"))),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl RegistrationInner {
    /// PUTs the registration; the instance as the server answered it.
    fn register(&self) -> Result<serde_json::Value, ClientError> {
        let mut r = self
            .agent
            .put(&self.url)
            .header("Authorization", &format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .header("If-Match", "*")
            .send(self.body.as_bytes())
            .map_err(|e| general(format!("registering: {e}")))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(general(format!("registering: HTTP {status}: {text}")));
        }
        serde_json::from_str(&text).map_err(|e| general(format!("registering: {e}")))
    }

    /// Heartbeats until stopped; registers again when the server no longer knows the
    /// instance (removed after a lapsed lease, or deregistered by an operator).
    fn heartbeat_loop(&self) {
        loop {
            {
                let stopped = lock(&self.stop.0);
                let (stopped, _) = self
                    .stop
                    .1
                    .wait_timeout_while(stopped, self.every, |s| !*s)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if *stopped {
                    return;
                }
            }
            let answer = self
                .agent
                .post(&format!("{}/heartbeat", self.url))
                .header("Authorization", &format!("Bearer {}", self.key))
                .send_empty();
            if let Ok(r) = answer
                && r.status().as_u16() == 404
                && let Err(e) = self.register()
            {
                eprintln!("burgee: registering again failed: {e}");
            }
        }
    }
}
