//! Fuzz harness for the server-sent events parser of burgee-client
//! ([`burgee_client::sse::SseParser`]), driven exactly as the client's stream loop drives it.
//!
//! Compiled into the `sse` fuzz target and into `bindings/client/tests/fuzz_regressions.rs`.

use std::io::{BufRead as _, BufReader};

use burgee_client::sse::{SseEvent, SseParser};

/// The events the client dispatches for a response body: lines read with
/// `BufReader::read_line`, trailing `\r`/`\n` trimmed, fed to [`SseParser::line`]. A read
/// error (the body is not UTF-8) ends the stream, as in the client; it is returned as `Err`
/// next to the events dispatched before it.
pub fn client_events(body: &[u8]) -> (Vec<SseEvent>, Result<(), String>) {
    let mut reader = BufReader::new(body);
    let mut parser = SseParser::new();
    let mut line = String::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return (out, Ok(())),
            Ok(_) => {}
            Err(e) => return (out, Err(format!("stream read: {e}"))),
        }
        let l = line.trim_end_matches(['\r', '\n']);
        out.extend(parser.line(l));
    }
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
/// Properties: every dispatched event has a type and no id with NUL; for UTF-8 bodies without
/// a byte-order mark and without a CR that is not followed by LF, the client dispatches exactly
/// what the WHATWG algorithm dispatches. (The client reads lines with `read_line`, so a lone CR
/// does not end a line, and it does not strip a leading BOM; neither occurs in the stream the
/// Burgee server writes, so those inputs are only checked for panics.)
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
        let lone_cr = text
            .char_indices()
            .any(|(i, c)| c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n'));
        if !lone_cr && !text.starts_with('\u{feff}') {
            assert_eq!(
                events,
                reference_events(text),
                "the client and the WHATWG algorithm disagree"
            );
        }
    }
    read
}
