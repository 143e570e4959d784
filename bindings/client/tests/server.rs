//! The client against real `burgee serve --demo` processes: ready, SSE propagation, outages,
//! restart, rolled-back and tampered envelopes, persistence, bootstrap, events delivery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use burgee_client::{
    Bootstrap, Client, ClientEvent, ClientOptions, SyncStatus, TrackEvent, now_ms,
};
use burgee_core::{Context, ErrorCode};
use common::{Server, wait_for};
use serde_json::Value;

fn options(server: &Server) -> ClientOptions {
    let mut o = ClientOptions::new("production", vec![server.public_key()]);
    o.server_url = Some(server.base.clone());
    o.sdk_key = Some(server.sdk_key());
    // The demo's project: checked against every snapshot, and sent as `?project=` (which the
    // server accepts with the SDK key of that project).
    o.project = Some("webshop".into());
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 400;
    o.request_timeout_ms = 2_000;
    o.sdk_name = "burgee-client-test".into();
    o
}

fn version(c: &Client) -> u64 {
    c.snapshot().map_or(0, |s| s.info().version)
}

fn variant(c: &Client, flag: &str, user: &str) -> String {
    let snap = c.snapshot().unwrap();
    snap.evaluate(flag, &Context::new(user), now_ms())
        .variant
        .unwrap()
        .to_owned()
}

/// A user the demo's checkout-redesign rollout (20 % in production) leaves off.
fn user_off(c: &Client) -> String {
    (0..500)
        .map(|i| format!("user-{i}"))
        .find(|u| variant(c, "checkout-redesign", u) == "off")
        .unwrap()
}

#[test]
fn ready_then_a_change_arrives_by_sse_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = Client::new(options(&server)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    client.subscribe(Arc::new(move |e: &ClientEvent| {
        sink.lock().unwrap().push(e.clone());
    }));
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    let v1 = version(&client);
    assert!(v1 >= 1);
    let user = user_off(&client);
    // Let the stream connect before publishing (it re-sends nothing it already has).
    std::thread::sleep(Duration::from_millis(300));

    let published = server.set_default("checkout-redesign", "on");
    assert!(published > v1);
    let took = wait_for(Duration::from_secs(1), || version(&client) == published)
        .unwrap_or_else(|| panic!("version {published} not seen within 1 s"));
    eprintln!("change seen after {took:?}");
    assert_eq!(variant(&client, "checkout-redesign", &user), "on");
    assert!(
        events.lock().unwrap().contains(&ClientEvent::Changed {
            old: Some(v1),
            new: published
        }),
        "{:?}",
        events.lock().unwrap()
    );
    assert_eq!(client.status().0, SyncStatus::Ready);
    client.close();
}

#[test]
fn outage_keeps_the_last_known_good_snapshot_and_restart_resyncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let client = Client::new(options(&server)).unwrap();
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    let v1 = version(&client);
    let user = user_off(&client);

    server.kill();
    assert!(
        wait_for(Duration::from_secs(5), || client.status().0
            == SyncStatus::Stale)
        .is_some(),
        "status {:?}",
        client.status()
    );
    // Evaluations keep working on the last-known-good snapshot.
    assert_eq!(version(&client), v1);
    assert_eq!(variant(&client, "checkout-redesign", &user), "off");

    let server = server.restart();
    let published = server.set_default("checkout-redesign", "on");
    assert!(
        wait_for(Duration::from_secs(5), || version(&client) == published).is_some(),
        "not resynced: {:?}",
        client.status()
    );
    assert_eq!(variant(&client, "checkout-redesign", &user), "on");
    assert!(
        wait_for(Duration::from_secs(2), || client.status().0
            == SyncStatus::Ready)
        .is_some()
    );
}

#[test]
fn a_rolled_back_server_is_refused_and_the_newer_snapshot_kept() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let old = dir.path().join("old");
    let mut server = Server::start(&live);
    server.stop();
    copy_dir(&live, &old);
    let mut server = server.restart();
    server.set_default("checkout-redesign", "on");
    let newest = server.set_default("guest-checkout", "off");

    let client = Client::new(options(&server)).unwrap();
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    assert_eq!(version(&client), newest);

    // The server comes back from an old backup: it serves an older, validly signed version.
    server.stop();
    std::fs::remove_dir_all(&live).unwrap();
    copy_dir(&old, &live);
    let _server = server.restart();
    let refused = SyncStatus::Error(ErrorCode::SnapshotRollback);
    assert!(
        wait_for(Duration::from_secs(5), || client.status().0 == refused).is_some(),
        "status {:?}",
        client.status()
    );
    assert_eq!(version(&client), newest);
    let (_, last) = client.status();
    assert_eq!(last.unwrap().0, ErrorCode::SnapshotRollback);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Serves `GET /v1/snapshots/production` from `body` (404 for everything else, including the
/// stream, so the client must fall back to polling).
fn static_server(body: Arc<Mutex<Vec<u8>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let body = Arc::clone(&body);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut sink = vec![0u8; len];
                let _ = reader.read_exact(&mut sink);
                let (status, payload) = if request_line.starts_with("GET /v1/snapshots/production")
                {
                    ("200 OK", body.lock().unwrap().clone())
                } else {
                    (
                        "404 Not Found",
                        b"{\"code\":\"NOT_FOUND\",\"message\":\"no\"}".to_vec(),
                    )
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&payload);
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_tampered_envelope_is_refused_and_the_previous_kept_with_polling_fallback() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let good = server.envelope();
    // Same signature, payload claiming a newer version.
    let mut env: Value = serde_json::from_slice(&good).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload: Value =
        serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    payload["version"] = Value::from(payload["version"].as_u64().unwrap() + 100);
    env["payload"] = Value::from(b64.encode(serde_json::to_vec(&payload).unwrap()));
    let tampered = serde_json::to_vec(&env).unwrap();

    let body = Arc::new(Mutex::new(good));
    let base = static_server(Arc::clone(&body));
    let mut opts = options(&server);
    opts.server_url = Some(base);
    opts.poll_interval_ms = 50;
    let client = Client::new(opts).unwrap();
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    let v = version(&client);
    *body.lock().unwrap() = tampered;
    let refused = SyncStatus::Error(ErrorCode::SignatureInvalid);
    assert!(
        wait_for(Duration::from_secs(5), || client.status().0 == refused).is_some(),
        "status {:?}",
        client.status()
    );
    assert_eq!(version(&client), v);
    client.close();
}

#[test]
fn exposures_and_track_events_arrive_at_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut opts = options(&server);
    opts.flush_interval_ms = 60_000; // only size and close flush here
    let client = Client::new(opts).unwrap();
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    let snap = client.snapshot().unwrap();
    let now = now_ms();
    for round in 0..2 {
        for user in ["alice", "bob", "carol"] {
            let ctx = Context::new(user).with("country", "DE");
            let d = snap.get_string("pricing-experiment", &ctx, now, "control");
            let queued = client.record_exposure(&snap, "pricing-experiment", &d.details, &ctx, now);
            assert_eq!(queued, round == 0, "{user} round {round}");
        }
    }
    client
        .track(TrackEvent {
            key: "purchase".into(),
            value: Some(59.9),
            targeting_key: "alice".into(),
            time: now,
            attributes: serde_json::Map::new(),
        })
        .unwrap();
    let bad = client.track(TrackEvent {
        key: String::new(),
        value: None,
        targeting_key: "alice".into(),
        time: now,
        attributes: serde_json::Map::new(),
    });
    assert_eq!(bad.unwrap_err().code, ErrorCode::General);
    assert_eq!(client.event_stats().queued, 4);
    assert_eq!(client.event_stats().deduplicated, 3);
    client.close(); // flushes
    assert_eq!(client.event_stats().delivered, 4);

    let recent = server.recent_events();
    let exposures: Vec<&Value> = recent.iter().filter(|e| e["kind"] == "exposure").collect();
    assert_eq!(exposures.len(), 3, "{recent:?}");
    let digest = snap.info().digest.clone().unwrap();
    for e in &exposures {
        assert_eq!(e["flag"], "pricing-experiment");
        assert_eq!(e["snapshot_digest"], digest.as_str());
        assert_eq!(e["sdk"], "burgee-client-test");
    }
    let tracks: Vec<&Value> = recent.iter().filter(|e| e["kind"] == "track").collect();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0]["value"], 59.9);
}

#[test]
fn events_flush_by_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut opts = options(&server);
    opts.flush_interval_ms = 200;
    let client = Client::new(opts).unwrap();
    client.wait_until_ready(Duration::from_secs(10));
    client
        .track(TrackEvent {
            key: "signup".into(),
            value: None,
            targeting_key: "dave".into(),
            time: now_ms(),
            attributes: serde_json::Map::new(),
        })
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || !server
            .recent_events()
            .is_empty())
        .is_some(),
        "not flushed by interval"
    );
    // The server stores the batch before it answers; the client counts it on the answer.
    assert!(
        wait_for(Duration::from_secs(3), || client.event_stats().delivered
            == 1)
        .is_some(),
        "delivered: {:?}",
        client.event_stats()
    );
}

#[test]
fn persisted_file_and_bootstrap_give_an_offline_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let file = dir.path().join("lkg.json");
    let mut opts = options(&server);
    opts.persist_path = Some(file.clone());
    let client = Client::new(opts).unwrap();
    client.wait_until_ready(Duration::from_secs(10));
    let v = version(&client);
    assert!(wait_for(Duration::from_secs(2), || file.exists()).is_some());
    client.close();

    // Offline: no server, the persisted file is re-verified and serves.
    let mut offline = ClientOptions::new("production", vec![server.public_key()]);
    offline.persist_path = Some(file.clone());
    let c = Client::new(offline.clone()).unwrap();
    assert_eq!(c.status().0, SyncStatus::Ready);
    assert_eq!(version(&c), v);

    // Bootstrap from a string and from a file.
    let envelope = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    let mut boot = ClientOptions::new("production", vec![server.public_key()]);
    boot.bootstrap = Some(Bootstrap::Envelope(envelope.clone()));
    assert_eq!(version(&Client::new(boot.clone()).unwrap()), v);
    boot.bootstrap = Some(Bootstrap::File(file.clone()));
    assert_eq!(version(&Client::new(boot.clone()).unwrap()), v);

    // A tampered persisted file is refused on load; nothing is served.
    std::fs::write(
        &file,
        envelope.replacen("\"payload\":\"", "\"payload\":\"AAAA", 1),
    )
    .unwrap();
    let c = Client::new(offline).unwrap();
    assert!(c.snapshot().is_none());
    assert_eq!(c.status().0, SyncStatus::NotReady);
    assert_eq!(c.status().1.unwrap().0, ErrorCode::SignatureInvalid);

    // A missing bootstrap file is a configuration error.
    boot.bootstrap = Some(Bootstrap::File(dir.path().join("missing.json")));
    assert_eq!(Client::new(boot).unwrap_err().code, ErrorCode::General);
}

#[test]
fn configuration_errors_and_not_ready() {
    let mut o = ClientOptions::new("production", vec!["not base64!".into()]);
    assert_eq!(
        Client::new(o.clone()).unwrap_err().code,
        ErrorCode::ParseError
    );
    o.trusted_keys = vec![];
    assert_eq!(Client::new(o.clone()).unwrap_err().code, ErrorCode::General);
    o.trusted_keys = vec!["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into()];
    o.server_url = Some("http://127.0.0.1:1".into());
    assert_eq!(Client::new(o.clone()).unwrap_err().code, ErrorCode::General);
    // A server that is not there: not ready, with the connection error as the last error.
    o.sdk_key = Some("bgs_x".into());
    o.backoff_base_ms = 10;
    o.backoff_cap_ms = 50;
    let c = Client::new(o).unwrap();
    assert_eq!(
        c.wait_until_ready(Duration::from_millis(300)),
        SyncStatus::NotReady
    );
    assert!(c.snapshot().is_none());
    let (status, last) = c.status();
    let (code, message) = last.unwrap();
    assert_eq!((status, code), (SyncStatus::NotReady, ErrorCode::General));
    let e = burgee_client::not_ready_error(&SyncStatus::NotReady, Some(&message));
    assert_eq!(e.code, ErrorCode::General);
    assert!(e.message.contains("NOT_READY"), "{}", e.message);
}

#[test]
fn restart_in_child_keeps_the_snapshot_and_syncs_again() {
    // The fork itself is exercised from Python (os.fork); here the restart path on its own.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = Client::new(options(&server)).unwrap();
    client.wait_until_ready(Duration::from_secs(10));
    let v = version(&client);
    let seen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&seen);
    client.subscribe(Arc::new(move |e: &ClientEvent| {
        if matches!(e, ClientEvent::Changed { .. }) {
            flag.store(true, Ordering::SeqCst);
        }
    }));
    let child = client.restart_in_child().unwrap();
    drop(client); // abandoned: dropping it neither joins nor closes anything
    assert_eq!(version(&child), v);
    let published = server.set_default("checkout-redesign", "on");
    assert!(wait_for(Duration::from_secs(3), || version(&child) == published).is_some());
    assert!(wait_for(Duration::from_secs(1), || seen.load(Ordering::SeqCst)).is_some());
}

#[test]
fn a_client_side_key_syncs_the_client_snapshot_over_sse() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mut o = options(&server);
    o.sdk_key = Some(server.client_key());
    let client = Client::new(o).unwrap();
    assert_eq!(
        client.wait_until_ready(Duration::from_secs(10)),
        SyncStatus::Ready
    );
    let snap = client.snapshot().unwrap();
    assert_eq!(snap.info().audience, burgee_core::model::Audience::Client);
    assert!(snap.flag_type("payments-kill-switch").is_none());
    assert!(snap.flag_type("checkout-redesign").is_some());
    let v1 = snap.info().version;
    std::thread::sleep(Duration::from_millis(300));
    let published = server.set_default("checkout-redesign", "on");
    wait_for(Duration::from_secs(2), || version(&client) == published)
        .unwrap_or_else(|| panic!("client snapshot {published} not seen over SSE (held {v1})"));
    assert_eq!(
        client.snapshot().unwrap().info().audience,
        burgee_core::model::Audience::Client
    );
    client.close();
}
