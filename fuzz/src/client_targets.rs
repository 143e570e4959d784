//! Fuzz harness for the server-sent events parser of burgee-client
//! ([`burgee_client::sse::SseParser`]), driven exactly as the client's stream loop drives it.
//!
//! Compiled into the `sse` fuzz target and into `bindings/client/tests/fuzz_regressions.rs`.

use burgee_client::sse::{SseEvent, SseParser};
use burgee_core::engine::stream_limit;

/// The events the client dispatches for a response body, fed to [`SseParser::feed`] in
/// chunks as the network would deliver them: the chunk sizes (1 to 8 bytes, cycling) come from
/// the body's first byte, so CRLFs and multi-byte characters get split across chunks. The
/// bounds are the client's (the default envelope limit plus headroom); breaking one is `Err`,
/// next to the events dispatched before it.
pub fn client_events(body: &[u8]) -> (Vec<SseEvent>, Result<(), String>) {
    let limit = stream_limit(burgee_core::DEFAULT_MAX_ENVELOPE_BYTES);
    let mut parser = SseParser::new(limit, limit);
    let mut out = Vec::new();
    let mut size = usize::from(body.first().copied().unwrap_or(0) % 8) + 1;
    let mut rest = body;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        size = size % 8 + 1;
        if let Err(e) = parser.feed(chunk, |ev| out.push(ev)) {
            return (out, Err(e.to_string()));
        }
    }
    (out, Ok(()))
}

/// The event stream interpretation of the WHATWG HTML standard (§9.2.6), written
/// independently of the client for comparison: lines end at CRLF, LF or CR; the incomplete
/// last line and an undispatched event at the end are dropped.
pub fn reference_events(text: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    let (mut event, mut data, mut last_id) = (String::new(), String::new(), None::<String>);
    let mut rest = text;
    // An incomplete line at the end of the stream is never processed.
    while let Some(end) = rest.find(['\r', '\n']) {
        let (line, tail) = rest.split_at(end);
        rest = tail
            .strip_prefix("\r\n")
            .or_else(|| tail.strip_prefix('\r'))
            .or_else(|| tail.strip_prefix('\n'))
            .unwrap_or(tail);
        if line.is_empty() {
            if data.is_empty() {
                event.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            out.push(SseEvent {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    std::mem::take(&mut event)
                },
                data: std::mem::take(&mut data),
                id: last_id.clone(),
            });
            event.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let (f, v) = line.split_at(i);
                let v = v.strip_prefix(':').unwrap_or(v);
                (f, v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "event" => event = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => last_id = Some(value.to_owned()),
            _ => {}
        }
    }
    out
}

/// **sse**: the input is a response body of `GET /v1/stream/{env}`.
///
/// Properties: every dispatched event has a type and no id with NUL; for UTF-8 bodies, however
/// the body is split into chunks, the client dispatches exactly what the WHATWG algorithm
/// dispatches (lone CRs end lines; a leading byte-order mark is skipped). Bodies that are not
/// UTF-8 are decoded with replacement characters and only checked for panics.
pub fn sse(data: &[u8]) -> Result<(), String> {
    let (events, read) = client_events(data);
    for ev in &events {
        assert!(!ev.event.is_empty(), "an event without a type: {ev:?}");
        assert!(
            !ev.id.as_deref().is_some_and(|id| id.contains('\0')),
            "an id with NUL: {ev:?}"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        assert_eq!(
            events,
            reference_events(text),
            "the client and the WHATWG algorithm disagree"
        );
    }
    read
}
