//! The client's event-stream reader against a scripted stream: a real signed envelope (from a
//! real `burgee serve --demo`) sent by a test server that splits CRLFs across network writes,
//! starts with a byte-order mark, or sends a line longer than the bound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burgee_client::{Client, ClientEvent, ClientOptions, SyncStatus};
use common::{Server, wait_for};

/// What the scripted stream does on connection `n` (from 0), after the response head.
type Script = dyn Fn(usize, &mut TcpStream) + Send + Sync;

/// A server answering `GET /v1/stream/production` with `script` and everything else (the
/// snapshot polls) with `503`, so only the stream can deliver. Returns its URL and the count
/// of stream connections.
fn scripted_stream(script: Arc<Script>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&streams);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let script = Arc::clone(&script);
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                if request_line.starts_with("GET /v1/stream/production") {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
                    if conn.write_all(head.as_bytes()).is_ok() {
                        script(n, &mut conn);
                    }
                } else {
                    let body = "{\"code\":\"UNAVAILABLE\",\"message\":\"stream only\"}";
                    let _ = write!(
                        conn,
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    (format!("http://{addr}"), streams)
}

/// Writes `parts` as separate network writes, a little apart, so the client reads them as
/// separate chunks.
fn send_apart(conn: &mut TcpStream, parts: &[&[u8]]) {
    for p in parts {
        conn.write_all(p).unwrap();
        conn.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn options(server: &Server, base: String) -> ClientOptions {
    let mut o = ClientOptions::new("production", vec![server.public_key()]);
    o.server_url = Some(base);
    o.sdk_key = Some(server.sdk_key());
    o.project = Some("webshop".into());
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 200;
    o.request_timeout_ms = 2_000;
    o.send_exposures = false;
    o
}

#[test]
fn a_bom_and_crlfs_split_across_chunks_are_parsed_as_the_standard_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let envelope = server.envelope();
    let script: Arc<Script> = Arc::new(move |_, conn| {
        let mut data = b"data: ".to_vec();
        data.extend_from_slice(&envelope);
        // BOM, then every CRLF split between its CR and its LF; the BOM itself split too.
        send_apart(
            conn,
            &[
                b"\xef\xbb",
                b"\xbfevent: snapshot\r",
                b"\n",
                &data,
                b"\r",
                b"\n\r",
                b"\n",
            ],
        );
        std::thread::sleep(Duration::from_secs(20));
    });
    let (base, _) = scripted_stream(script);
    let client = Client::new(options(&server, base)).unwrap();
    // The snapshot GET answers 503: READY can only come from the stream's event.
    let status = client.wait_until_ready(Duration::from_secs(10));
    assert!(
        client.snapshot().is_some(),
        "no snapshot from the stream: {status:?} {:?}",
        client.status()
    );
    client.close();
}

#[test]
fn an_over_long_line_drops_the_connection_and_the_snapshot_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let envelope = server.envelope();
    let max_envelope = envelope.len() + 100;
    // The bound: the envelope limit plus 64 KiB of headroom.
    let bound = burgee_core::engine::stream_limit(max_envelope);
    let script: Arc<Script> = Arc::new(move |n, conn| {
        if n == 0 {
            let mut event = b"event: snapshot\ndata: ".to_vec();
            event.extend_from_slice(&envelope);
            event.extend_from_slice(b"\n\n");
            send_apart(conn, &[&event]);
            // One line past the bound, in pieces, and the connection left open.
            let mut long = b"data: ".to_vec();
            long.resize(bound + 10, b'a');
            for piece in long.chunks(16 * 1024) {
                if conn.write_all(piece).is_err() {
                    return;
                }
            }
            let _ = conn.flush();
        }
        std::thread::sleep(Duration::from_secs(20));
    });
    let (base, streams) = scripted_stream(script);
    let mut opts = options(&server, base);
    opts.max_envelope_bytes = max_envelope;
    let client = Client::new(opts).unwrap();
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&messages);
    client.subscribe(Arc::new(move |e: &ClientEvent| {
        if let ClientEvent::Status {
            message: Some(m), ..
        } = e
        {
            seen.lock().unwrap().push(m.clone());
        }
    }));
    assert!(
        wait_for(Duration::from_secs(10), || client.snapshot().is_some()).is_some(),
        "{:?}",
        client.status()
    );
    let version = client.snapshot().unwrap().info().version;
    // The reader gives up on the line and reconnects, instead of buffering it.
    assert!(
        wait_for(Duration::from_secs(10), || streams.load(Ordering::SeqCst)
            >= 2)
        .is_some(),
        "no reconnection after the over-long line: {:?}",
        client.status()
    );
    let expected = format!("line longer than {bound} bytes");
    assert!(
        messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains(&expected)),
        "{:?}",
        messages.lock().unwrap()
    );
    assert_ne!(client.status().0, SyncStatus::NotReady);
    assert_eq!(client.snapshot().unwrap().info().version, version);
    client.close();
}
