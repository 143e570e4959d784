//! The sync thread: server-sent events with a bounded parser ([`crate::sse`]), conditional GET
//! polling as fallback and catch-up, backoff between failed attempts, persistence.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use burgee_core::ErrorCode;
use burgee_core::client::{ApplyOutcome, Backoff, Document, SyncState, SyncStatus};
use burgee_core::engine::stream_limit;

use crate::client::{ClientEvent, Current, Listener, Shared};
use crate::{lock, now_ms, sse};

impl<D: Document> Shared<D> {
    /// The status and the last error (code and message) seen, if any.
    pub(crate) fn status(&self) -> (SyncStatus, Option<(ErrorCode, String)>) {
        let s = lock(&self.sync);
        (
            s.status().clone(),
            s.last_error().map(|(c, m)| (c, m.to_owned())),
        )
    }

    /// Blocks until a document is held or the status is `ERROR` (an envelope was refused), at
    /// most `timeout`; returns the status then.
    pub(crate) fn wait_until_ready(&self, timeout: Duration) -> SyncStatus {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.sync);
        loop {
            if s.snapshot().is_some() || matches!(s.status(), SyncStatus::Error(_)) {
                return s.status().clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return s.status().clone();
            }
            s = self
                .status_cv
                .wait_timeout(s, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `ms`, waking early on close. Returns false when stopped.
    pub(crate) fn sleep(&self, ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        let mut g = lock(&self.sleep.0);
        while !self.stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            g = self
                .sleep
                .1
                .wait_timeout(g, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    pub(crate) fn url(&self, path: &str) -> String {
        let base = self
            .opts
            .server_url
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        match &self.opts.project {
            Some(p) => format!("{base}{path}?project={p}"),
            None => format!("{base}{path}"),
        }
    }

    pub(crate) fn auth(&self) -> String {
        format!("Bearer {}", self.opts.sdk_key.as_deref().unwrap_or(""))
    }

    /// Runs `f` on the sync state, then publishes the outcome: the new snapshot, persistence,
    /// condvar wake-ups and listener calls (outside every lock).
    fn update(
        &self,
        envelope: Option<&[u8]>,
        f: impl FnOnce(&mut SyncState<D>) -> Option<ApplyOutcome>,
    ) {
        let mut events = Vec::new();
        {
            let mut s = lock(&self.sync);
            let before = s.status().clone();
            let outcome = f(&mut s);
            if let (Some(ApplyOutcome::Updated { old, new }), Some(env), Some(snap)) =
                (&outcome, envelope, s.snapshot())
            {
                let env: Arc<[u8]> = env.into();
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Current {
                    snapshot: Arc::clone(snap),
                    envelope: Arc::clone(&env),
                });
                self.generation.fetch_add(1, Ordering::Release);
                if let Some(path) = &self.opts.persist_path {
                    persist(path, &env);
                }
                events.push(ClientEvent::Changed {
                    old: *old,
                    new: *new,
                });
            }
            let after = s.status().clone();
            if after != before {
                let message = match after {
                    SyncStatus::Error(_) | SyncStatus::Stale => {
                        s.last_error().map(|(_, m)| m.to_owned())
                    }
                    _ => None,
                };
                events.insert(
                    0,
                    ClientEvent::Status {
                        status: after,
                        message,
                    },
                );
            }
            self.status_cv.notify_all();
        }
        if events.is_empty() {
            return;
        }
        let listeners: Vec<Listener> = lock(&self.listeners)
            .iter()
            .map(|(_, l)| Arc::clone(l))
            .collect();
        for e in &events {
            for l in &listeners {
                // A panicking listener must not kill the sync thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(e)));
            }
        }
    }

    /// Applies an envelope from the server; nothing once the client is closed (a stopped
    /// client takes no update, even one that arrived while it was closing).
    fn apply(&self, envelope: &[u8], etag: Option<&str>) {
        if self.stopped() {
            return;
        }
        self.update(Some(envelope), |s| Some(s.apply(envelope, etag, now_ms())));
    }

    fn failed(&self, message: &str) {
        self.update(None, |s| {
            s.fetch_failed(message);
            None
        });
    }

    /// One conditional GET of the snapshot.
    fn poll(&self) -> Result<(), String> {
        let etag = lock(&self.sync).etag().map(str::to_owned);
        let mut req = self
            .agent
            .get(self.url(&self.paths.document))
            .header("Authorization", &self.auth());
        if let Some(tag) = &etag {
            req = req.header("If-None-Match", tag);
        }
        let mut resp = req.call().map_err(|e| format!("GET snapshot: {e}"))?;
        match resp.status().as_u16() {
            200 => {
                let tag = resp
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let limit = u64::try_from(self.opts.max_envelope_bytes)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|e| format!("GET snapshot body: {e}"))?;
                self.apply(&body, tag.as_deref());
                Ok(())
            }
            304 => {
                self.update(None, |s| {
                    s.not_modified();
                    None
                });
                Ok(())
            }
            status => Err(http_error("GET snapshot", status, &mut resp)),
        }
    }

    /// One SSE connection, until it ends. `Ok(true)` if it delivered at least one event.
    fn stream(&self) -> Result<bool, StreamError> {
        let version = lock(&self.sync)
            .snapshot()
            .and_then(|s| s.held_marker())
            .map(|h| h.version.to_string());
        let mut req = self
            .stream_agent
            .get(self.url(&self.paths.stream))
            .header("Authorization", &self.auth())
            .header("Accept", "text/event-stream");
        if let Some(v) = &version {
            req = req.header("Last-Event-ID", v);
        }
        let mut resp = req
            .call()
            .map_err(|e| StreamError::Failed(format!("stream: {e}")))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let message = http_error("stream", status, &mut resp);
            // 404/405/501: no streaming here (old server, proxy): poll instead.
            return Err(if matches!(status, 404 | 405 | 501) {
                StreamError::Unsupported(message)
            } else {
                StreamError::Failed(message)
            });
        }
        // Connected. The stream only sends versions above Last-Event-ID, so a server that went
        // back in time would stay silent: one conditional GET settles the status (304 = Ready,
        // an older envelope = refused, SNAPSHOT_ROLLBACK).
        if let Err(m) = self.poll() {
            self.failed(&m);
        }
        let mut reader = resp.into_body().into_reader();
        let limit = stream_limit(self.opts.max_envelope_bytes);
        let mut parser = sse::SseParser::new(limit, limit);
        let mut buf = vec![0u8; 64 * 1024];
        let mut delivered = false;
        loop {
            if self.stopped() {
                return Ok(delivered);
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(delivered),
                Ok(n) => n,
                Err(e) => {
                    return if delivered {
                        Ok(true)
                    } else {
                        Err(StreamError::Failed(format!("stream read: {e}")))
                    };
                }
            };
            // Closed while blocked in the read: what arrived is not applied.
            if self.stopped() {
                return Ok(delivered);
            }
            let chunk = buf.get(..n).unwrap_or_default();
            let fed = parser.feed(chunk, |ev| {
                if ev.event == self.paths.event {
                    self.apply(ev.data.as_bytes(), None);
                    delivered = true;
                }
            });
            // An over-long line or event: drop the connection; the caller reconnects (with
            // backoff) and the snapshot held keeps serving.
            fed.map_err(|e| StreamError::Failed(format!("stream: {e}")))?;
        }
    }

    pub(crate) fn random(&self) -> u32 {
        getrandom::u32().unwrap_or_else(|_| {
            // No OS randomness: the clock's low bits still spread clients apart.
            u32::try_from(now_ms() % u64::from(u32::MAX)).unwrap_or(0)
        })
    }
}

enum StreamError {
    Unsupported(String),
    Failed(String),
}

fn http_error(what: &str, status: u16, resp: &mut ureq::http::Response<ureq::Body>) -> String {
    let body = resp
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    format!("{what}: HTTP {status} {}", body.trim())
}

/// Writes `envelope` to `path` atomically (temporary file + rename); failures are ignored
/// (persistence is an optimisation, the server stays the source).
fn persist(path: &std::path::Path, envelope: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    if std::fs::write(&tmp, envelope).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

pub(crate) fn sync_loop<D: Document>(shared: &Shared<D>) {
    let o = &shared.opts;
    let mut backoff = Backoff::new(o.backoff_base_ms, o.backoff_cap_ms);
    let mut stream_supported = o.streaming;
    let mut polls_since_stream_try = 0u32;
    while !shared.stopped() {
        if stream_supported {
            match shared.stream() {
                Ok(delivered) => {
                    if delivered {
                        backoff.reset();
                    }
                    if shared.stopped() {
                        return;
                    }
                    shared.failed("stream ended");
                }
                Err(StreamError::Unsupported(m)) => {
                    shared.failed(&m);
                    stream_supported = false;
                }
                Err(StreamError::Failed(m)) => shared.failed(&m),
            }
            // Catch up (and learn whether the server is there at all) with one poll.
            match shared.poll() {
                Ok(()) if !stream_supported => {}
                Ok(()) => {
                    if !shared.sleep(backoff.next_delay(shared.random())) {
                        return;
                    }
                }
                Err(m) => {
                    shared.failed(&m);
                    if !shared.sleep(backoff.next_delay(shared.random())) {
                        return;
                    }
                }
            }
            if stream_supported {
                continue;
            }
        }
        // Polling (configured, or the stream is not offered: retry it every 10 polls).
        match shared.poll() {
            Ok(()) => {
                backoff.reset();
                if !shared.sleep(o.poll_interval_ms) {
                    return;
                }
            }
            Err(m) => {
                shared.failed(&m);
                if !shared.sleep(backoff.next_delay(shared.random())) {
                    return;
                }
            }
        }
        if o.streaming {
            polls_since_stream_try += 1;
            if polls_since_stream_try >= 10 {
                polls_since_stream_try = 0;
                stream_supported = true;
            }
        }
    }
}
