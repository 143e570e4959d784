//! Fuzz harnesses for burgee-server: `POST /v1/events` batch validation, event-log recovery on
//! arbitrary segment bytes, and the JSON request bodies of the admin API.
//!
//! Compiled into the `event_batch`, `event_log` and `server_bodies` fuzz targets and into
//! `server/tests/it/fuzz_regressions.rs`, which replays `fuzz/regressions/<target>/` on stable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burgee_core::model::{Audience, SNAPSHOT_FORMAT, SegmentDef, SnapshotDef};
use burgee_core::{Snapshot, client_view};
use burgee_server::events::log::{EventLog, LogConfig, Position, StoredBatch};
use burgee_server::events::model::{MAX_EVENTS_PER_BATCH, SdkInfo, parse_batch};
use burgee_server::model::{
    EnvironmentInput, EnvironmentUpdate, FlagInput, FlagSpec, ProjectInput, ProjectUpdate,
    Targeting, TokenInput, flag_def,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The server clock of every harness, ms since epoch.
pub const NOW: u64 = 1_800_000_000_000;

/// **event_batch**: the input is a `POST /v1/events` body, validated by [`parse_batch`] at
/// [`NOW`].
///
/// Properties: accepted + rejected events number 1–1000; rejections are in index order, each
/// `INVALID_EVENT` and naming `events[i]`; the accepted events, sent again as a batch, are all
/// accepted unchanged; the batch as the log stores it ([`StoredBatch`] JSON) reads back equal.
pub fn event_batch(data: &[u8]) -> Result<(), String> {
    let (batch_id, sdk, events, rejected) = parse_batch(data, NOW).map_err(|e| e.0)?;
    let total = events.len() + rejected.len();
    assert!(
        (1..=MAX_EVENTS_PER_BATCH).contains(&total),
        "{total} events"
    );
    let mut last = None;
    for r in &rejected {
        assert!(r.index < total, "rejection index {} of {total}", r.index);
        assert!(last < Some(r.index), "rejections out of order");
        last = Some(r.index);
        assert_eq!(r.code, "INVALID_EVENT");
        assert!(
            r.message.starts_with(&format!("events[{}]", r.index)),
            "{}",
            r.message
        );
    }
    if !events.is_empty() {
        let again = json!({ "batch_id": batch_id, "sdk": sdk, "events": events });
        let body = serde_json::to_vec(&again).unwrap_or_default();
        match parse_batch(&body, NOW) {
            Ok((id, sdk2, events2, rejected2)) => {
                assert_eq!(id, batch_id);
                assert_eq!(sdk2, sdk);
                assert!(
                    rejected2.is_empty(),
                    "accepted events are refused when sent again: {rejected2:?}"
                );
                assert_eq!(events2, events, "accepted events change when sent again");
            }
            Err(e) => panic!("the accepted events do not form a valid batch: {e}"),
        }
    }
    let stored = StoredBatch {
        project: "p".into(),
        environment: "e".into(),
        batch_id,
        sdk,
        received_at: NOW,
        events,
        rejected: rejected.len(),
    };
    round_trip(&stored);
    Ok(())
}

/// `value` serializes to JSON that deserializes to an equal value (what the server writes, it
/// can read back).
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let text = match serde_json::to_string(value) {
        Ok(t) => t,
        Err(e) => panic!("does not serialize: {e}: {value:?}"),
    };
    match serde_json::from_str::<T>(&text) {
        Ok(back) => assert_eq!(&back, value, "JSON round trip differs: {text}"),
        Err(e) => panic!("its own JSON does not parse back ({e}): {text}"),
    }
}

/// Separates segment files in an `event_log` input.
pub const SEGMENT_SEPARATOR: &[u8] = b"\xffSEG";

/// Rewrites the checksum of every record whose length fits, so mutated payloads still pass
/// the CRC (libFuzzer cannot forge CRC-32s); walks records from the start and stops at the
/// first length that runs past the end.
pub fn fix_checksums(segment: &mut [u8]) {
    let mut at = 0usize;
    loop {
        let Some(len) = segment
            .get(at..at.saturating_add(4))
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
        else {
            return;
        };
        let start = at.saturating_add(8);
        let Some(end) = start.checked_add(len as usize) else {
            return;
        };
        let Some(payload) = segment.get(start..end) else {
            return;
        };
        let crc = crc32(payload).to_le_bytes();
        if let Some(slot) = segment.get_mut(at + 4..at + 8) {
            slot.copy_from_slice(&crc);
        }
        at = end;
    }
}

/// CRC-32 (IEEE), as `crc32fast::hash`; bitwise, to need no dependency here.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A record as the log writes it: `u32le(len) ‖ u32le(crc32) ‖ payload`.
pub fn record(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = len.to_le_bytes().to_vec();
    out.extend(crc32(payload).to_le_bytes());
    out.extend(payload);
    out
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(
        || match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt,
            Err(e) => panic!("tokio runtime: {e}"),
        },
    )
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let made = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("burgee-fuzz-")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new().prefix("burgee-fuzz-").tempdir()
    };
    match made {
        Ok(d) => d,
        Err(e) => panic!("temporary directory: {e}"),
    }
}

/// **event_log**: the input is written as segment files of an event-log directory, which is
/// then opened ([`EventLog::open`]: recovery, damage skipping, torn-tail truncation).
///
/// Input: the first byte is flags (bits 0–1: number of segments, 0 meaning 1; bit 2: fix the
/// checksums of well-framed records with [`fix_checksums`]; bit 3: number the segments 2, 5, 9
/// instead of 1, 2, 3); the rest is split at [`SEGMENT_SEPARATOR`] into segment contents.
///
/// Properties: `read_from` positions increase; `scan` of every environment sees the same
/// batches; after appending one batch, the log holds what it held plus that batch; reopened,
/// it holds the same records with the same damage count (nothing acknowledged is lost, damage
/// is not counted twice).
pub fn event_log(data: &[u8]) -> Result<(), String> {
    let Some((&flags, rest)) = data.split_first() else {
        return Err("empty input".into());
    };
    let count = usize::from(flags & 3).max(1);
    let numbers: [u64; 3] = if flags & 8 == 0 { [1, 2, 3] } else { [2, 5, 9] };
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut tail = rest;
    while parts.len() + 1 < count {
        match find(tail, SEGMENT_SEPARATOR) {
            Some(i) => {
                parts.push(tail.get(..i).unwrap_or_default().to_vec());
                tail = tail.get(i + SEGMENT_SEPARATOR.len()..).unwrap_or_default();
            }
            None => break,
        }
    }
    parts.push(tail.to_vec());
    if flags & 4 != 0 {
        parts.iter_mut().for_each(|p| fix_checksums(p));
    }
    let dir = scratch_dir();
    for (part, n) in parts.iter().zip(numbers) {
        let path = dir.path().join(format!("events-{n:08}.log"));
        if let Err(e) = std::fs::write(&path, part) {
            panic!("{}: {e}", path.display());
        }
    }
    let result = open_and_check(dir.path().to_owned());
    drop(dir);
    result
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn open_and_check(dir: PathBuf) -> Result<(), String> {
    let mut config = LogConfig::new(dir);
    // Retention would delete segments by the fuzzed `received_at`s; what it keeps is not the
    // question here.
    config.retention_ms = None;
    config.retention_bytes = None;
    let log = EventLog::open(config.clone()).map_err(|e| format!("open: {e}"))?;
    let before = log
        .read_from(Position::default(), usize::MAX)
        .map_err(|e| format!("read: {e}"))?;
    let damaged = log.damaged_records();
    for w in before.windows(2) {
        if let [(a, _), (b, _)] = w {
            assert!(a < b, "positions do not increase: {a:?} then {b:?}");
        }
    }
    let envs: BTreeSet<(String, String)> = before
        .iter()
        .map(|(_, b)| (b.project.clone(), b.environment.clone()))
        .collect();
    let mut scanned = 0usize;
    for (p, e) in &envs {
        log.scan(p, e, |_| scanned += 1)
            .map_err(|e| format!("scan: {e}"))?;
    }
    assert_eq!(scanned, before.len(), "scan and read_from disagree");
    assert_eq!(
        log.damaged_records(),
        damaged,
        "a second read found new damage"
    );

    let batch = StoredBatch {
        project: "fuzz-project".into(),
        environment: "fuzz-environment".into(),
        batch_id: "fuzz-appended-batch-0001".into(),
        sdk: SdkInfo {
            name: "burgee-fuzz".into(),
            version: "1".into(),
        },
        received_at: NOW,
        events: Vec::new(),
        rejected: 1,
    };
    let receipt = runtime()
        .block_on(log.append(batch.clone()))
        .map_err(|e| format!("append: {e}"))?;
    let after = log
        .read_from(Position::default(), usize::MAX)
        .map_err(|e| format!("read: {e}"))?;
    if receipt.duplicate {
        assert_eq!(after, before, "a duplicate append changed the log");
    } else {
        assert_eq!(
            after.len(),
            before.len() + 1,
            "append lost or added records"
        );
        assert_eq!(
            after.get(..before.len()),
            Some(before.as_slice()),
            "append moved records"
        );
        assert_eq!(after.last().map(|(_, b)| b), Some(&batch));
    }
    drop(log);

    let log = match EventLog::open(config) {
        Ok(log) => log,
        Err(e) => panic!("the log opened once but not again: {e}"),
    };
    let reopened = log
        .read_from(Position::default(), usize::MAX)
        .map_err(|e| format!("read: {e}"))?;
    assert_eq!(reopened, after, "reopening changed the records");
    assert_eq!(
        log.damaged_records(),
        damaged,
        "reopening changed the damage count"
    );
    Ok(())
}

/// The request body types of the admin API, by the first input byte.
pub const BODY_TYPES: [&str; 9] = [
    "ProjectInput",
    "ProjectUpdate",
    "EnvironmentInput",
    "EnvironmentUpdate",
    "FlagInput",
    "FlagSpec",
    "Targeting",
    "SegmentDef",
    "TokenInput",
];

fn parse<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    body: &[u8],
) -> Result<T, String> {
    let value: T = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    round_trip(&value);
    Ok(value)
}

/// The server's key rule (`validate::check_name`, private there): 1–`max` of
/// `A-Z a-z 0-9 _ -` (and `.` when `dots`).
fn key_ok(key: &str, max: usize, dots: bool) -> bool {
    !key.is_empty()
        && key.len() <= max
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (dots && c == '.'))
}

/// The server's flag-schema check (`validate::check_schema`, private there): the schema
/// compiles and every variant value satisfies it.
fn schema_ok(spec: &FlagSpec) -> Result<(), String> {
    let Some(schema) = &spec.schema else {
        return Ok(());
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("schema: {e}"))?;
    for (name, value) in &spec.variants.0 {
        if let Some(error) = validator.iter_errors(value).next() {
            return Err(format!("variants.{name}{}: {error}", error.instance_path()));
        }
    }
    Ok(())
}

/// What a publish checks of one flag (and segments) without a database: the snapshot the
/// server would sign compiles; then its JSON, as signed, must load in every SDK, and so must
/// the client view's when the core makes and compiles one.
fn publish(key: &str, spec: &FlagSpec, targeting: &Targeting, segments: Vec<SegmentDef>) {
    let def = SnapshotDef {
        format: SNAPSHOT_FORMAT,
        project: "fuzz".into(),
        environment: "production".into(),
        version: 1,
        issued_at: NOW,
        expires_at: NOW + 86_400_000,
        salt: "0123456789abcdef0123456789abcdef".into(),
        audience: Audience::Server,
        flags: vec![flag_def(key, spec, targeting)],
        segments,
    };
    if Snapshot::compile(&def, None).is_err() {
        return; // refused with 422 at the write
    }
    let signed = serde_json::to_vec(&def).unwrap_or_default();
    if let Err(e) = Snapshot::from_json(&signed) {
        panic!(
            "the server would publish a snapshot SDKs refuse ({}: {e}): {}",
            e.code(),
            String::from_utf8_lossy(&signed)
        );
    }
    let Ok(view) = client_view(&def) else {
        return;
    };
    if Snapshot::compile(&view, None).is_err() {
        return;
    }
    let signed = serde_json::to_vec(&view).unwrap_or_default();
    if let Err(e) = Snapshot::from_json(&signed) {
        panic!(
            "the server would publish a client snapshot SDKs refuse ({}: {e}): {}",
            e.code(),
            String::from_utf8_lossy(&signed)
        );
    }
}

fn fixed_spec() -> FlagSpec {
    let spec = json!({
        "type": "boolean",
        "variants": {"on": true, "off": false},
        "client_visible": true
    });
    match serde_json::from_value(spec) {
        Ok(s) => s,
        Err(e) => panic!("fixed spec: {e}"),
    }
}

/// **server_bodies**: the first byte picks a request body type ([`BODY_TYPES`]); the rest is
/// its JSON, deserialized as the handler does, then checked as far as no database is needed:
/// keys, the flag's JSON Schema, and the snapshot a publish would build from it.
///
/// Properties: every accepted body serializes and reads back equal (the server stores these
/// as JSON and reads them back); a flag that compiles into a snapshot yields JSON every SDK
/// loads (server and client audience).
pub fn server_bodies(data: &[u8]) -> Result<(), String> {
    let Some((&which, body)) = data.split_first() else {
        return Err("empty input".into());
    };
    match usize::from(which) % BODY_TYPES.len() {
        0 => {
            let p: ProjectInput = parse(body)?;
            let mut ok = key_ok(&p.key, 64, false);
            for e in p.environments.iter().flatten() {
                ok &= key_ok(&e.key, 64, false);
            }
            if !ok {
                return Err("key".into());
            }
        }
        1 => {
            parse::<ProjectUpdate>(body)?;
        }
        2 => {
            let e: EnvironmentInput = parse(body)?;
            if !key_ok(&e.key, 64, false) {
                return Err("key".into());
            }
        }
        3 => {
            parse::<EnvironmentUpdate>(body)?;
        }
        4 => {
            let input: FlagInput = parse(body)?;
            if !key_ok(&input.key, 128, true) {
                return Err("key".into());
            }
            let spec = input.spec();
            schema_ok(&spec)?;
            publish(&input.key, &spec, &Targeting::initial(&spec), Vec::new());
            for t in input.environments.values() {
                publish(&input.key, &spec, t, Vec::new());
            }
        }
        5 => {
            let spec: FlagSpec = parse(body)?;
            schema_ok(&spec)?;
            publish("flag", &spec, &Targeting::initial(&spec), Vec::new());
        }
        6 => {
            let t: Targeting = parse(body)?;
            publish("flag", &fixed_spec(), &t, Vec::new());
        }
        7 => {
            let segment: SegmentDef = parse(body)?;
            let targeting = json!({
                "enabled": true,
                "off_variant": "off",
                "rules": [{"id": "in", "when": {"op": "in_segment",
                    "values": [segment.key]}, "serve": {"variant": "on"}}],
                "default": {"variant": "off"}
            });
            let targeting: Targeting = match serde_json::from_value(targeting) {
                Ok(t) => t,
                Err(e) => panic!("fixed targeting: {e}"),
            };
            publish("flag", &fixed_spec(), &targeting, vec![segment]);
        }
        _ => {
            parse::<TokenInput>(body)?;
        }
    }
    Ok(())
}

/// The type a [`server_bodies`] input is read as.
pub fn body_type(data: &[u8]) -> &'static str {
    data.first()
        .and_then(|&b| BODY_TYPES.get(usize::from(b) % BODY_TYPES.len()))
        .copied()
        .unwrap_or("")
}
