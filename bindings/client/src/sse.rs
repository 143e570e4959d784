//! A bounded server-sent events parser (WHATWG HTML, "Server-sent events", §9.2.6
//! interpretation of the event stream), fed the response body's bytes as they arrive.
//!
//! Lines end at CRLF, LF or CR (a CRLF split across two chunks is one line end); a leading
//! byte-order mark is skipped; lines are decoded as UTF-8 with replacement characters. A line
//! longer than `max_line_bytes`, or an event whose data grows past `max_event_bytes`, is an
//! [`SseError`]: the caller drops the connection (and reconnects) instead of buffering without
//! end. The client uses [`burgee_core::engine::stream_limit`] of its envelope size limit for
//! both.
//!
//! (A library was considered: the crates.io SSE parsers, `eventsource-stream` and
//! `sse-stream`, are `async` `Stream` adapters without a line or event bound, and the client
//! reads with blocking I/O on its own thread; so this one is kept, small and fuzzed.)

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// `event:` field; `message` when absent.
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen (it persists across events, as the standard says).
    pub id: Option<String>,
}

/// A stream that broke a bound; the parser must be dropped with its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line longer than the limit (bytes, without its line end).
    LineTooLong {
        /// The limit, bytes.
        limit: usize,
    },
    /// An event whose `data` is larger than the limit (bytes).
    EventTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::LineTooLong { limit } => {
                write!(f, "event stream line longer than {limit} bytes")
            }
            SseError::EventTooLarge { limit } => {
                write!(f, "event stream event larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// Incremental parser over the body's bytes; see the module documentation.
#[derive(Debug)]
pub struct SseParser {
    max_line: usize,
    max_event: usize,
    /// The current line's bytes so far.
    line: Vec<u8>,
    /// The previous chunk ended with CR: a LF starting this one ends nothing.
    after_cr: bool,
    /// No line has been completed yet (a byte-order mark may start it).
    first_line: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
}

impl SseParser {
    /// A parser refusing lines longer than `max_line_bytes` and events whose data exceeds
    /// `max_event_bytes`.
    pub fn new(max_line_bytes: usize, max_event_bytes: usize) -> Self {
        SseParser {
            max_line: max_line_bytes,
            max_event: max_event_bytes,
            line: Vec::new(),
            after_cr: false,
            first_line: true,
            event: String::new(),
            data: String::new(),
            has_data: false,
            last_id: None,
        }
    }

    /// The last event id seen, if any.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Parses the next `chunk` of the body, calling `on_event` for each event it completes.
    ///
    /// # Errors
    /// [`SseError`] when a line or an event exceeds its bound; events completed before it in
    /// the chunk have been delivered.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        mut on_event: impl FnMut(SseEvent),
    ) -> Result<(), SseError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut self.after_cr)
            && let Some(rest) = chunk.strip_prefix(b"\n")
        {
            chunk = rest;
        }
        while !chunk.is_empty() {
            let Some(end) = chunk.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.push(chunk)?;
                return Ok(());
            };
            let (part, rest) = chunk.split_at(end);
            self.push(part)?;
            let cr = rest.first() == Some(&b'\r');
            let skip = if rest.starts_with(b"\r\n") { 2 } else { 1 };
            chunk = rest.get(skip..).unwrap_or_default();
            if cr && skip == 1 && chunk.is_empty() {
                self.after_cr = true; // the LF may come in the next chunk
            }
            if let Some(ev) = self.end_line()? {
                on_event(ev);
            }
        }
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len().saturating_add(bytes.len()) > self.max_line {
            return Err(SseError::LineTooLong {
                limit: self.max_line,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Processes the completed line; an event when it is blank and data was buffered.
    fn end_line(&mut self) -> Result<Option<SseEvent>, SseError> {
        let bytes = std::mem::take(&mut self.line);
        let mut line = String::from_utf8_lossy(&bytes);
        if std::mem::take(&mut self.first_line)
            && let Some(rest) = line.strip_prefix('\u{feff}')
        {
            line = rest.to_owned().into();
        }
        let out = self.line_str(&line);
        self.line = bytes; // keep the allocation
        self.line.clear();
        out
    }

    fn line_str(&mut self, line: &str) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            if !std::mem::take(&mut self.has_data) {
                return Ok(None);
            }
            return Ok(Some(SseEvent {
                event: if event.is_empty() {
                    "message".into()
                } else {
                    event
                },
                data,
                id: self.last_id.clone(),
            }));
        }
        if line.starts_with(':') {
            return Ok(None); // comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                let extra = value.len() + usize::from(self.has_data);
                if self.data.len().saturating_add(extra) > self.max_event {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            _ => {} // retry and unknown fields are ignored
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(chunks: &[&[u8]], limit: usize) -> (Vec<SseEvent>, Result<(), SseError>) {
        let mut p = SseParser::new(limit, limit);
        let mut out = Vec::new();
        for c in chunks {
            if let Err(e) = p.feed(c, |ev| out.push(ev)) {
                return (out, Err(e));
            }
        }
        (out, Ok(()))
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn parses_events_comments_and_multiline_data() {
        let body = b": keep-alive\n\nid: 7\nevent: snapshot\ndata: {\"a\":\ndata:1}\n\ndata: plain\n\nretry: 10\n\n";
        let (out, r) = parse(&[body], 1024);
        r.unwrap();
        assert_eq!(
            out,
            vec![
                ev("snapshot", "{\"a\":\n1}", Some("7")),
                ev("message", "plain", Some("7"))
            ]
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // Were the LF starting the second chunk a line end of its own, the blank line would
        // dispatch `a` early and `b` would be an event without its type.
        let (out, r) = parse(
            &[
                b"event: snapshot\r",
                b"\ndata: a\r",
                b"\ndata: b\r\n\r",
                b"\n",
            ],
            1024,
        );
        r.unwrap();
        assert_eq!(out, vec![ev("snapshot", "a\nb", None)]);
    }

    #[test]
    fn lone_cr_ends_lines_and_a_bom_is_skipped() {
        let bom = "\u{feff}".as_bytes();
        let (out, r) = parse(
            &[
                &bom[..1],
                &bom[1..],
                b"event: snapshot\rdata: x\r\rdata: y\n\n",
            ],
            1024,
        );
        r.unwrap();
        assert_eq!(
            out,
            vec![ev("snapshot", "x", None), ev("message", "y", None)]
        );
    }

    #[test]
    fn over_long_lines_and_events_are_errors() {
        let long = [b'a'; 100];
        let (out, r) = parse(&[b"data: ok\n\ndata: ", &long, &long], 150);
        assert_eq!(out, vec![ev("message", "ok", None)]);
        assert_eq!(r, Err(SseError::LineTooLong { limit: 150 }));
        assert!(r.unwrap_err().to_string().contains("longer than 150 bytes"));
        let mut p = SseParser::new(1024, 10);
        let mut n = 0;
        let r = p.feed(b"data: 12345\ndata: 12345\n\n", |_| n += 1);
        assert_eq!(r, Err(SseError::EventTooLarge { limit: 10 }));
        assert_eq!(n, 0);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let (out, r) = parse(&[b"data: a\xffb\n\n"], 64);
        r.unwrap();
        assert_eq!(out, vec![ev("message", "a\u{fffd}b", None)]);
    }
}
