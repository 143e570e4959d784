//! The events thread: batches from the core's `EventBuffer` to `POST /v1/events`, with
//! backoff and `Retry-After` between failed deliveries.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use burgee_core::client::Backoff;

use crate::client::Shared;
use crate::{lock, now_ms};

fn batch_id(shared: &Shared) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let t = now_ms().to_be_bytes();
        let r = shared.random().to_be_bytes();
        for (i, b) in t.iter().chain(r.iter()).enumerate() {
            if let Some(slot) = bytes.get_mut(i) {
                *slot = *b;
            }
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum Sent {
    Delivered,
    Retry(Option<u64>),
    Rejected,
}

fn send_batch(shared: &Shared, body: &[u8]) -> Sent {
    let resp = shared
        .agent
        .post(shared.url("/v1/events"))
        .header("Authorization", &shared.auth())
        .header("Content-Type", "application/json")
        .send(body);
    match resp {
        Err(_) => Sent::Retry(None),
        Ok(resp) => match resp.status().as_u16() {
            200..=299 => Sent::Delivered,
            429 | 503 => Sent::Retry(
                resp.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| s.saturating_mul(1000)),
            ),
            408 | 500..=599 => Sent::Retry(None),
            _ => Sent::Rejected,
        },
    }
}

/// Sends batches until the buffer is empty, a send fails, or `deadline`. True when empty.
pub(crate) fn drain_events(shared: &Shared, deadline: Instant) -> bool {
    let Some(events) = &shared.events else {
        return true;
    };
    loop {
        let id = batch_id(shared);
        let Some(batch) = lock(events).next_batch(&id, now_ms()) else {
            return lock(events).is_empty();
        };
        match send_batch(shared, &batch.body) {
            Sent::Delivered => lock(events).batch_delivered(&batch.id),
            Sent::Rejected => lock(events).batch_rejected(&batch.id),
            Sent::Retry(_) => {
                lock(events).batch_failed(&batch.id);
                return false;
            }
        }
        if Instant::now() >= deadline {
            return lock(events).is_empty();
        }
    }
}

pub(crate) fn events_loop(shared: &Shared) {
    let Some(events) = &shared.events else {
        return;
    };
    let o = &shared.opts;
    let mut backoff = Backoff::new(o.backoff_base_ms, o.backoff_cap_ms);
    let tick = Duration::from_millis(o.flush_interval_ms.clamp(10, 1000));
    loop {
        {
            let mut buf = lock(events);
            if !shared.stopped() && !buf.should_flush(now_ms()) {
                buf = shared
                    .events_cv
                    .wait_timeout(buf, tick)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if shared.stopped() {
                drop(buf);
                let deadline = Instant::now() + Duration::from_millis(o.close_timeout_ms);
                while !drain_events(shared, deadline) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            if !buf.should_flush(now_ms()) {
                continue;
            }
        }
        let id = batch_id(shared);
        let Some(batch) = lock(events).next_batch(&id, now_ms()) else {
            continue;
        };
        match send_batch(shared, &batch.body) {
            Sent::Delivered => {
                lock(events).batch_delivered(&batch.id);
                backoff.reset();
            }
            Sent::Rejected => lock(events).batch_rejected(&batch.id),
            Sent::Retry(after) => {
                lock(events).batch_failed(&batch.id);
                let delay = backoff.next_delay(shared.random()).max(after.unwrap_or(0));
                if !shared.sleep(delay) {
                    continue; // stopped: the next turn drains
                }
            }
        }
    }
}
