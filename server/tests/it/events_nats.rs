//! The JetStream forwarder against a real `nats-server -js` (Debian's package; `scripts/test`
//! installs it): every stored batch arrives once, also when the forwarder restarts from an old
//! position.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use burgee_server::events::log::{EventLog, LogConfig, StoredBatch};
use burgee_server::events::model::{Event, SdkInfo, TrackEvent};
use burgee_server::events::nats::{NatsConfig, connect, forward};

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nats(store: &std::path::Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("nats-server is needed (scripts/test installs Debian's nats-server): {e}")
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server(child), format!("nats://127.0.0.1:{port}"))
}

fn batch(i: usize) -> StoredBatch {
    StoredBatch {
        project: "webshop".into(),
        environment: if i.is_multiple_of(2) {
            "production"
        } else {
            "staging"
        }
        .into(),
        batch_id: format!("batch-{i:04}"),
        sdk: SdkInfo {
            name: "t".into(),
            version: "1".into(),
        },
        received_at: 1,
        events: vec![Event::Track(TrackEvent {
            key: "k".into(),
            value: None,
            targeting_key: format!("u{i}"),
            time: 1,
            attributes: serde_json::Map::new(),
        })],
        rejected: 0,
    }
}

async fn stream_ids(js: &async_nats::jetstream::Context, want: u64) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = js.get_stream("BURGEE_EVENTS").await.unwrap();
    loop {
        let n = stream.info().await.unwrap().state.messages;
        if n >= want || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n = stream.info().await.unwrap().state.messages;
    let mut out = Vec::new();
    for seq in 1..=n {
        let m = stream.get_raw_message(seq).await.unwrap();
        let b: StoredBatch = serde_json::from_slice(&m.payload).unwrap();
        out.push((m.subject.to_string(), b.batch_id));
    }
    out
}

#[tokio::test]
async fn every_batch_reaches_jetstream_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (_nats, url) = start_nats(&dir.path().join("nats"));
    let log = EventLog::open(LogConfig::new(dir.path().join("events"))).unwrap();
    for i in 0..10 {
        log.append(batch(i)).await.unwrap();
    }
    let config = NatsConfig {
        url,
        stream: "BURGEE_EVENTS".into(),
        subject_prefix: "burgee.events".into(),
        position_file: dir.path().join("events/nats.position"),
    };
    let js = connect(&config).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(forward(log.clone(), js.clone(), config.clone(), async {
        let _ = stopped.await;
    }));
    assert_eq!(stream_ids(&js, 10).await.len(), 10);
    for i in 10..15 {
        log.append(batch(i)).await.unwrap();
    }
    assert_eq!(stream_ids(&js, 15).await.len(), 15);
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), 15);

    // A crash that lost the saved position: everything is sent again, the stream drops it.
    std::fs::remove_file(&config.position_file).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(forward(log.clone(), js.clone(), config.clone(), async {
        let _ = stopped.await;
    }));
    log.append(batch(15)).await.unwrap();
    let got = stream_ids(&js, 16).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let ids: BTreeSet<&str> = got.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(got.len(), 16, "{got:?}");
    assert_eq!(ids.len(), 16);
    assert!(got.iter().all(|(subject, id)| {
        let n: usize = id.trim_start_matches("batch-").parse().unwrap();
        subject
            == if n.is_multiple_of(2) {
                "burgee.events.webshop.production"
            } else {
                "burgee.events.webshop.staging"
            }
    }));
}
