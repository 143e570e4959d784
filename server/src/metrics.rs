//! Prometheus metrics, rendered by `GET /metrics` in the text exposition format (0.0.4).
//!
//! - `burgee_http_requests_total{route, method, status}`: counter of answered requests;
//!   `route` is the matched route template (e.g. `/v1/snapshots/{env}`), `unmatched` else.
//! - `burgee_http_request_duration_seconds{route}`: histogram of handler latency until the
//!   response head (SSE streams count until their first byte).
//! - `burgee_sse_clients`: gauge of open `/v1/stream/{env}` connections.
//! - `burgee_publishes_total`: counter of snapshots published by this process.
//! - `burgee_sse_events_total`: counter of snapshot events written to SSE clients.
//! - `burgee_resign_failures_total`: counter of environments whose periodic or start-up
//!   re-sign failed in one pass (unreadable or corrupt signing key, undecodable latest
//!   snapshot, ...); the other environments are re-signed regardless.
//! - `burgee_refresh_failures_total`: counter of failed loads of one environment's newest
//!   stored snapshot into the latest cache (versions published by other processes).
//! - `burgee_event_log_damaged_records_total`: counter of damaged stretches of the event log
//!   skipped since it was opened (`spec/EVENTS.md` §4; each is also logged with its offset).
//! - `burgee_event_log_write_failures_total`: counter of event log writes or fsyncs that failed
//!   (a full disk above all); each was rolled back and its batches answered 503.
//! - `burgee_notifications_delivered_total`: counter of change events acknowledged by a sink
//!   (NATS, Kafka, a webhook; an event counts once per sink).
//! - `burgee_notification_failures_total`: counter of failed deliveries to a sink (each is
//!   retried with backoff).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the latency buckets, seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: usize) {
        self.0
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds `delta` (may be negative).
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Every metric of one server process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `burgee_publishes_total`.
    pub publishes: Counter,
    /// `burgee_sse_clients`.
    pub sse_clients: Gauge,
    /// `burgee_sse_events_total`.
    pub sse_events: Counter,
    /// `burgee_resign_failures_total`.
    pub resign_failures: Counter,
    /// `burgee_refresh_failures_total`.
    pub refresh_failures: Counter,
    /// `burgee_rate_limited_total`: requests answered 429 by the rate limit.
    pub rate_limited: Counter,
    /// `burgee_streams_refused_total`: SSE streams refused at a stream cap.
    pub streams_refused: Counter,
    /// `burgee_notifications_delivered_total`.
    pub notifications_delivered: Counter,
    /// `burgee_notification_failures_total`.
    pub notification_failures: Counter,
    /// `burgee_registry_heartbeats_total`: heartbeats accepted by this process.
    pub registry_heartbeats: Counter,
    /// `burgee_registry_leases_expired_total`: instances made critical by a lapsed lease.
    pub registry_expired: Counter,
    /// `burgee_registry_instances_removed_total`: ephemeral instances removed after expiry.
    pub registry_removed: Counter,
    /// `burgee_catalog_publishes_total`: catalog documents published by this process.
    pub catalog_publishes: Counter,
    /// `burgee_registry_protected_services`: services whose catalog entry is held by the
    /// protection threshold at the last publish of this process (alert when above 0).
    pub registry_protected: Gauge,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one answered request. `route` is a route template (or `unmatched`); methods
    /// other than the standard ones are counted as `OTHER`, so labels stay bounded.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("OTHER");
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route.to_owned()).or_default();
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                if seconds <= *bound
                    && let Some(b) = h.buckets.get_mut(i)
                {
                    *b += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP burgee_http_requests_total Answered HTTP requests.\n");
        out.push_str("# TYPE burgee_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, method, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "burgee_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP burgee_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE burgee_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                let route = escape(route);
                for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
                    let _ = writeln!(
                        out,
                        "burgee_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "burgee_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "burgee_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "burgee_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        let _ = write!(
            out,
            "# HELP burgee_sse_clients Open snapshot streams.\n# TYPE burgee_sse_clients gauge\nburgee_sse_clients {}\n\
             # HELP burgee_publishes_total Snapshots published by this process.\n# TYPE burgee_publishes_total counter\nburgee_publishes_total {}\n\
             # HELP burgee_sse_events_total Snapshot events written to streams.\n# TYPE burgee_sse_events_total counter\nburgee_sse_events_total {}\n\
             # HELP burgee_resign_failures_total Environments whose re-sign failed (one per environment and pass).\n# TYPE burgee_resign_failures_total counter\nburgee_resign_failures_total {}\n\
             # HELP burgee_refresh_failures_total Failed loads of an environment's newest stored snapshot.\n# TYPE burgee_refresh_failures_total counter\nburgee_refresh_failures_total {}\n\
             # HELP burgee_rate_limited_total Requests refused by the per-caller rate limit.\n# TYPE burgee_rate_limited_total counter\nburgee_rate_limited_total {}\n\
             # HELP burgee_streams_refused_total SSE streams refused at a stream cap.\n# TYPE burgee_streams_refused_total counter\nburgee_streams_refused_total {}\n\
             # HELP burgee_notifications_delivered_total Change events acknowledged by a sink.\n# TYPE burgee_notifications_delivered_total counter\nburgee_notifications_delivered_total {}\n\
             # HELP burgee_notification_failures_total Failed change-event deliveries (retried).\n# TYPE burgee_notification_failures_total counter\nburgee_notification_failures_total {}\n",
            self.sse_clients.get(),
            self.publishes.get(),
            self.sse_events.get(),
            self.resign_failures.get(),
            self.refresh_failures.get(),
            self.rate_limited.get(),
            self.streams_refused.get(),
            self.notifications_delivered.get(),
            self.notification_failures.get()
        );
        let _ = write!(
            out,
            "# HELP burgee_registry_heartbeats_total Heartbeats accepted by this process.\n# TYPE burgee_registry_heartbeats_total counter\nburgee_registry_heartbeats_total {}\n\
             # HELP burgee_registry_leases_expired_total Instances made critical by a lapsed lease.\n# TYPE burgee_registry_leases_expired_total counter\nburgee_registry_leases_expired_total {}\n\
             # HELP burgee_registry_instances_removed_total Ephemeral instances removed after their lease lapsed.\n# TYPE burgee_registry_instances_removed_total counter\nburgee_registry_instances_removed_total {}\n\
             # HELP burgee_catalog_publishes_total Catalog documents published by this process.\n# TYPE burgee_catalog_publishes_total counter\nburgee_catalog_publishes_total {}\n\
             # HELP burgee_registry_protected_services Services whose catalog entry the protection threshold holds (alert above 0).\n# TYPE burgee_registry_protected_services gauge\nburgee_registry_protected_services {}\n",
            self.registry_heartbeats.get(),
            self.registry_expired.get(),
            self.registry_removed.get(),
            self.catalog_publishes.get(),
            self.registry_protected.get()
        );
        out
    }
}

/// The event log's counters, for [`event_log_text`].
#[derive(Debug, Default, Clone, Copy)]
pub struct EventLogCounters {
    /// Damaged stretches skipped since the log was opened.
    pub damaged_records: u64,
    /// Writes or fsyncs that failed since the log was opened (each rolled back).
    pub write_failures: u64,
}

/// The exposition lines of the event log's counters
/// ([`crate::events::service::EventService::log_counters`]).
#[must_use]
pub fn event_log_text(c: EventLogCounters) -> String {
    format!(
        "# HELP burgee_event_log_damaged_records_total Damaged stretches of the event log skipped.\n\
         # TYPE burgee_event_log_damaged_records_total counter\n\
         burgee_event_log_damaged_records_total {}\n\
         # HELP burgee_event_log_write_failures_total Event log writes or fsyncs that failed (a full disk, ...); each was rolled back.\n\
         # TYPE burgee_event_log_write_failures_total counter\n\
         burgee_event_log_write_failures_total {}\n",
        c.damaged_records, c.write_failures
    )
}
