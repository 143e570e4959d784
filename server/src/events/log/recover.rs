//! Reading segments back: record framing, resynchronisation past damage, and the checks made
//! when the log is opened.
//!
//! A damaged record (bad length, bad checksum, or a payload that is not a batch) is skipped by
//! scanning forward, one byte at a time, for the next offset where a whole record starts: a
//! length that fits, a payload beginning with `{`, a matching CRC-32 and a payload that parses
//! as a [`StoredBatch`]. Only damage with no valid record after it, at the end of the last
//! segment, is a torn write (a crash mid-append, never acknowledged) and is truncated.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::{LogError, Segment, StoredBatch, io_err, read_segment};

/// Bytes of a record header: `u32le(len) ‖ u32le(crc32(payload))`.
pub(super) const HEADER: usize = 8;

/// A stretch of a segment that holds no valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Damage {
    /// Byte offset of the first damaged byte in the segment.
    pub offset: u64,
    /// Length of the damaged stretch, bytes.
    pub len: u64,
    /// What is wrong with the record that should start at `offset`.
    pub why: String,
}

/// What a stretch of a segment holds.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    /// Each valid record, oldest first: the segment offset just after it, and its batch.
    pub records: Vec<(u64, StoredBatch)>,
    /// Damaged stretches with a valid record after them (skipped).
    pub damaged: Vec<Damage>,
    /// Damage running to the end of the bytes, with no valid record after it.
    pub tail: Option<Damage>,
}

fn word(bytes: &[u8], from: usize) -> Option<u32> {
    bytes
        .get(from..from.checked_add(4)?)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
}

/// The record starting at `at`: its size in bytes (header included) and batch, or why there is
/// no record there.
fn record_at(bytes: &[u8], at: usize) -> Result<(usize, StoredBatch), String> {
    let (Some(len), Some(crc)) = (word(bytes, at), word(bytes, at.saturating_add(4))) else {
        return Err("truncated record header".into());
    };
    let len = len as usize;
    let start = at.saturating_add(HEADER);
    let Some(payload) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
        return Err(format!("record of {len} bytes is truncated"));
    };
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    match serde_json::from_slice::<StoredBatch>(payload) {
        Ok(batch) => Ok((HEADER + len, batch)),
        Err(e) => Err(format!("record is not a batch: {e}")),
    }
}

/// A whole record starting at `at`, cheapest checks first (resynchronisation tries every
/// offset after a damaged record).
fn starts_record(bytes: &[u8], at: usize) -> Option<(usize, StoredBatch)> {
    let len = word(bytes, at)? as usize;
    let start = at.checked_add(HEADER)?;
    if len < 2 || start.checked_add(len)? > bytes.len() || bytes.get(start) != Some(&b'{') {
        return None;
    }
    record_at(bytes, at).ok()
}

/// Decodes `bytes`, which start at segment offset `base` on a record boundary, skipping damage.
pub(super) fn decode(bytes: &[u8], base: u64) -> Decoded {
    let mut out = Decoded::default();
    let mut at = 0usize;
    while at < bytes.len() {
        let (next, why) = match record_at(bytes, at) {
            Ok(found) => (Some((at, found)), None),
            Err(why) => {
                let found =
                    (at + 1..bytes.len()).find_map(|p| starts_record(bytes, p).map(|r| (p, r)));
                (found, Some(why))
            }
        };
        match (next, why) {
            (Some((start, (size, batch))), why) => {
                if let Some(why) = why {
                    out.damaged.push(Damage {
                        offset: base + at as u64,
                        len: (start - at) as u64,
                        why,
                    });
                }
                at = start + size;
                out.records.push((base + at as u64, batch));
            }
            (None, why) => {
                out.tail = Some(Damage {
                    offset: base + at as u64,
                    len: (bytes.len() - at) as u64,
                    why: why.unwrap_or_default(),
                });
                break;
            }
        }
    }
    out
}

/// The number in a segment file name `events-NNNNNNNN.log`.
pub(super) fn segment_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix("events-")?.strip_suffix(".log")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files of `dir`, by number.
///
/// # Errors
/// [`LogError::Io`] when the directory cannot be listed.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let looks_like = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("events-") && n.ends_with(".log"));
        match segment_number(&path) {
            Some(n) => out.push((n, path)),
            None if looks_like => {
                tracing::warn!(path = %path.display(), "ignoring a file that is not a segment of the event log");
            }
            None => {}
        }
    }
    out.sort();
    Ok(out)
}

/// The segments of a log after recovery, and the damage found in them.
pub(super) struct Recovered {
    /// Every segment, oldest first; `len` is what readers may read.
    pub segments: Vec<Segment>,
    /// Damaged stretches kept in place and skipped: segment number and where.
    pub damaged: Vec<(u64, Damage)>,
}

/// Checks every segment of `dir`, calls `each` with every valid batch (oldest first), logs and
/// returns damage, and truncates a torn tail of the last segment.
///
/// # Errors
/// [`LogError::Io`] when a segment cannot be read or truncated.
pub(super) fn recover(
    dir: &Path,
    mut each: impl FnMut(&StoredBatch),
) -> Result<Recovered, LogError> {
    let names = list_segments(dir)?;
    let last = names.len().saturating_sub(1);
    let mut out = Recovered {
        segments: Vec::with_capacity(names.len()),
        damaged: Vec::new(),
    };
    for (i, (number, path)) in names.into_iter().enumerate() {
        let bytes = read_segment(&path, 0, None)?;
        let decoded = decode(&bytes, 0);
        let mut len = bytes.len() as u64;
        for d in decoded.damaged {
            tracing::warn!(path = %path.display(), offset = d.offset, len = d.len, why = %d.why,
                "skipping a damaged record of the event log; the records after it are kept");
            out.damaged.push((number, d));
        }
        if let Some(d) = decoded.tail {
            if i == last {
                tracing::warn!(path = %path.display(), offset = d.offset, len = d.len, why = %d.why,
                    "truncating a torn record at the end of the event log (never acknowledged)");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(d.offset).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                len = d.offset;
            } else {
                tracing::warn!(path = %path.display(), offset = d.offset, len = d.len, why = %d.why,
                    "skipping damage at the end of an older event log segment");
                out.damaged.push((number, d));
            }
        }
        let mut newest_ms = 0;
        for (_, batch) in &decoded.records {
            newest_ms = newest_ms.max(batch.received_at);
            each(batch);
        }
        out.segments.push(Segment {
            number,
            path,
            len,
            newest_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests
mod tests {
    use super::*;
    use crate::events::model::SdkInfo;

    fn record(id: &str) -> Vec<u8> {
        let batch = StoredBatch {
            project: "p".into(),
            environment: "e".into(),
            batch_id: id.into(),
            sdk: SdkInfo {
                name: "t".into(),
                version: "1".into(),
            },
            received_at: 7,
            events: Vec::new(),
            rejected: 0,
        };
        let payload = serde_json::to_vec(&batch).unwrap();
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend(crc32fast::hash(&payload).to_le_bytes());
        out.extend(payload);
        out
    }

    fn ids(d: &Decoded) -> Vec<&str> {
        d.records.iter().map(|(_, b)| b.batch_id.as_str()).collect()
    }

    #[test]
    fn every_byte_flip_loses_exactly_the_record_it_hits() {
        let (a, b, c) = (record("a"), record("b"), record("c"));
        let bytes = [a.clone(), b.clone(), c.clone()].concat();
        let clean = decode(&bytes, 0);
        assert_eq!(ids(&clean), ["a", "b", "c"]);
        for at in a.len()..a.len() + b.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x41;
            let d = decode(&damaged, 100);
            assert_eq!(ids(&d), ["a", "c"], "flip at {at}");
            assert_eq!(d.damaged.len(), 1, "flip at {at}");
            assert_eq!(d.damaged[0].offset, 100 + a.len() as u64);
            assert_eq!(d.damaged[0].len, b.len() as u64);
            assert!(d.tail.is_none());
            // Positions of kept records do not move.
            assert_eq!(d.records[1].0, 100 + bytes.len() as u64);
        }
    }

    #[test]
    fn damage_with_nothing_valid_after_it_is_a_tail() {
        let a = record("a");
        let mut bytes = a.clone();
        bytes.extend([200, 0, 0, 0, 1, 2, 3, 4, b'{']);
        let d = decode(&bytes, 0);
        assert_eq!(ids(&d), ["a"]);
        let tail = d.tail.unwrap();
        assert_eq!((tail.offset, tail.len), (a.len() as u64, 9));
        assert!(tail.why.contains("truncated"), "{}", tail.why);
    }

    #[test]
    fn segment_names_parse_only_digits() {
        assert_eq!(
            segment_number(Path::new("/x/events-00000012.log")),
            Some(12)
        );
        assert_eq!(segment_number(Path::new("events-.log")), None);
        assert_eq!(segment_number(Path::new("events-1a.log")), None);
        assert_eq!(segment_number(Path::new("events-1.log.tmp")), None);
    }
}
