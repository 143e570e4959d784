//! Event batches as SDKs send them (`spec/EVENTS.md` §1–§3), validated event by event.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Longest accepted batch (events).
pub const MAX_EVENTS_PER_BATCH: usize = 1000;
/// Largest accepted event, bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 8 * 1024;
/// Oldest accepted event time, relative to the server clock (30 days, ms).
pub const MAX_EVENT_AGE_MS: u64 = 30 * 24 * 3600 * 1000;
/// Furthest accepted event time in the future of the server clock (1 hour, ms).
pub const MAX_EVENT_SKEW_MS: u64 = 3600 * 1000;

/// The SDK that sent a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdkInfo {
    /// SDK name, 1–64 characters (`burgee-node`).
    pub name: String,
    /// SDK version, 1–64 characters.
    pub version: String,
}

/// A batch as received: the envelope is typed, the events are kept raw so each one can be
/// validated (and rejected) on its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchIn<'a> {
    /// Idempotency key, reused on retries.
    pub batch_id: String,
    /// Sender.
    pub sdk: SdkInfo,
    /// 1–1000 raw events.
    #[serde(borrow)]
    pub events: Vec<&'a RawValue>,
}

/// An accepted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A served flag value (the core's exposure record).
    Exposure(ExposureEvent),
    /// A metric event.
    Track(TrackEvent),
}

impl Event {
    /// The unit the event is about.
    pub fn targeting_key(&self) -> &str {
        match self {
            Event::Exposure(e) => &e.targeting_key,
            Event::Track(t) => &t.targeting_key,
        }
    }

    /// Event time, ms since epoch.
    pub fn time(&self) -> u64 {
        match self {
            Event::Exposure(e) => e.time,
            Event::Track(t) => t.time,
        }
    }
}

/// `kind: "exposure"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureEvent {
    /// Flag key.
    pub flag: String,
    /// Variant served.
    pub variant: String,
    /// Evaluation reason (not `ERROR`).
    pub reason: String,
    /// Rule that matched, if any.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// The unit.
    pub targeting_key: String,
    /// Snapshot version evaluated against.
    pub snapshot_version: u64,
    /// `sha256:<64 hex>` of that snapshot.
    pub snapshot_digest: String,
    /// When the value was served, ms since epoch.
    pub time: u64,
}

/// `kind: "track"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackEvent {
    /// Metric key.
    pub key: String,
    /// Optional finite value (absent for conversions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The unit.
    pub targeting_key: String,
    /// When it happened, ms since epoch.
    pub time: u64,
    /// Up to 32 string/number/bool attributes.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Why one event was refused: its index in the batch and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejection {
    /// Index in `events`.
    pub index: usize,
    /// Always `INVALID_EVENT`.
    pub code: String,
    /// `events[i].field: what is wrong`.
    pub message: String,
}

/// A batch-level problem (answered 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BatchError(pub String);

const REASONS: [&str; 6] = [
    "STATIC",
    "DEFAULT",
    "TARGETING_MATCH",
    "SPLIT",
    "DISABLED",
    "PREREQUISITE_FAILED",
];

/// Parses a batch body and validates every event on its own against `now` (ms since epoch).
///
/// # Errors
/// [`BatchError`] when the body is not JSON or the batch envelope breaks `spec/EVENTS.md` §1;
/// per-event problems are returned as [`Rejection`]s instead.
pub fn parse_batch(
    body: &[u8],
    now: u64,
) -> Result<(String, SdkInfo, Vec<Event>, Vec<Rejection>), BatchError> {
    let batch: BatchIn<'_> =
        serde_json::from_slice(body).map_err(|e| BatchError(format!("batch is not valid: {e}")))?;
    let id_ok = (8..=128).contains(&batch.batch_id.len())
        && batch
            .batch_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !id_ok {
        return Err(BatchError(
            "batch_id: must be 8-128 characters of [A-Za-z0-9._:-]".into(),
        ));
    }
    for (field, v) in [
        ("sdk.name", &batch.sdk.name),
        ("sdk.version", &batch.sdk.version),
    ] {
        if v.is_empty() || v.chars().count() > 64 {
            return Err(BatchError(format!("{field}: must be 1-64 characters")));
        }
    }
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS_PER_BATCH {
        return Err(BatchError(format!(
            "events: a batch holds 1-{MAX_EVENTS_PER_BATCH} events, found {}",
            batch.events.len()
        )));
    }
    let mut accepted = Vec::with_capacity(batch.events.len());
    let mut rejected = Vec::new();
    for (index, raw) in batch.events.iter().enumerate() {
        match validate_event(raw, now) {
            Ok(event) => accepted.push(event),
            Err(message) => rejected.push(Rejection {
                index,
                code: "INVALID_EVENT".into(),
                message: format!("events[{index}]{message}"),
            }),
        }
    }
    Ok((batch.batch_id, batch.sdk, accepted, rejected))
}

/// Validates one event; the error starts with `.field: ` or `: ` so it can follow `events[i]`.
fn validate_event(raw: &RawValue, now: u64) -> Result<Event, String> {
    if raw.get().len() > MAX_EVENT_BYTES {
        return Err(format!(
            ": event is {} bytes, over {MAX_EVENT_BYTES}",
            raw.get().len()
        ));
    }
    let event: Event = serde_json::from_str(raw.get()).map_err(|e| format!(": {e}"))?;
    let text = |field: &str, v: &str, max: usize| -> Result<(), String> {
        if v.is_empty() || v.chars().count() > max {
            Err(format!(".{field}: must be 1-{max} characters"))
        } else {
            Ok(())
        }
    };
    let time = event.time();
    if time.saturating_add(MAX_EVENT_AGE_MS) < now {
        return Err(".time: older than 30 days".into());
    }
    if time > now.saturating_add(MAX_EVENT_SKEW_MS) {
        return Err(".time: more than 1 hour in the future".into());
    }
    match &event {
        Event::Exposure(e) => {
            text("flag", &e.flag, 256)?;
            text("variant", &e.variant, 256)?;
            text("targeting_key", &e.targeting_key, 256)?;
            if !REASONS.contains(&e.reason.as_str()) {
                return Err(format!(".reason: \"{}\" is not a served reason", e.reason));
            }
            if let Some(r) = &e.rule_id {
                text("rule_id", r, 256)?;
            }
            if e.snapshot_version == 0 {
                return Err(".snapshot_version: must be at least 1".into());
            }
            let hex = e.snapshot_digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(".snapshot_digest: must be sha256: and 64 lowercase hex digits".into());
            }
        }
        Event::Track(t) => {
            text("key", &t.key, 256)?;
            text("targeting_key", &t.targeting_key, 256)?;
            if t.value.is_some_and(|v| !v.is_finite()) {
                return Err(".value: must be a finite number".into());
            }
            if t.attributes.len() > 32 {
                return Err(".attributes: at most 32 members".into());
            }
            for (k, v) in &t.attributes {
                text(&format!("attributes.{k}"), k, 64)?;
                match v {
                    serde_json::Value::String(s) if s.chars().count() <= 256 => {}
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {}
                    _ => {
                        return Err(format!(
                            ".attributes.{k}: must be a string (≤ 256), number or bool"
                        ));
                    }
                }
            }
        }
    }
    Ok(event)
}
