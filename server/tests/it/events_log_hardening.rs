//! The event log never loses an acknowledged record: damage inside a segment costs only the
//! damaged record (the rest is kept, at the same positions, and the damage is counted), a torn
//! tail is still truncated, one process at a time owns a log, and the seen-id index and the
//! segments are bounded by retention. Time is injected through `received_at`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use std::fs::{self, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use burgee_server::events::log::{EventLog, LogConfig, LogError, Position, StoredBatch};
use burgee_server::events::model::{Event, SdkInfo, TrackEvent};

const DAY: u64 = 86_400_000;
/// An arbitrary fixed origin for `received_at`, ms since epoch.
const T0: u64 = 1_800_000_000_000;

fn batch(id: &str, events: usize, received_at: u64) -> StoredBatch {
    StoredBatch {
        project: "webshop".into(),
        environment: "production".into(),
        batch_id: id.into(),
        sdk: SdkInfo {
            name: "test".into(),
            version: "1".into(),
        },
        received_at,
        events: (0..events)
            .map(|i| {
                Event::Track(TrackEvent {
                    key: "purchase".into(),
                    value: Some(i as f64),
                    targeting_key: format!("user-{i}"),
                    time: received_at,
                    attributes: serde_json::Map::new(),
                })
            })
            .collect(),
        rejected: 0,
    }
}

fn all(log: &EventLog) -> Vec<(Position, String)> {
    log.read_from(Position::default(), usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(p, b)| (p, b.batch_id))
        .collect()
}

fn events(log: &EventLog) -> usize {
    let mut n = 0;
    log.scan("webshop", "production", |b| n += b.events.len())
        .unwrap();
    n
}

fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0xff;
    fs::write(path, &bytes).unwrap();
}

/// The reported bug: 20 acknowledged batches of 100 events, one byte flipped at 10 % of the
/// first (and only) segment, restart. The old code truncated 90 % of the segment.
#[tokio::test]
async fn a_flipped_byte_costs_only_the_record_it_hits() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path().into());
    let before = {
        let log = EventLog::open(config.clone()).unwrap();
        for i in 0..20 {
            let r = log
                .append(batch(&format!("batch-{i:02}"), 100, T0 + i))
                .await
                .unwrap();
            assert_eq!((r.accepted, r.duplicate), (100, false));
        }
        all(&log)
    };
    assert_eq!(before.len(), 20);
    let segment = dir.path().join("events-00000001.log");
    let size = fs::metadata(&segment).unwrap().len();
    flip(&segment, size as usize / 10);

    let log = EventLog::open(config.clone()).unwrap();
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        size,
        "nothing truncated"
    );
    assert_eq!(log.damaged_records(), 1);
    let after = all(&log);
    assert_eq!(after.len(), 19);
    let lost: Vec<_> = before.iter().filter(|r| !after.contains(r)).collect();
    assert_eq!(
        lost.len(),
        1,
        "exactly one record lost, the others at the same positions"
    );
    assert_eq!(events(&log), 1900);

    // A follower resuming from any saved position reads the same records as before.
    for (i, (position, _)) in before.iter().enumerate() {
        let rest: Vec<_> = log
            .read_from(*position, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(p, b)| (p, b.batch_id))
            .collect();
        let expected: Vec<_> = before[i + 1..]
            .iter()
            .filter(|r| !lost.contains(r))
            .cloned()
            .collect();
        assert_eq!(rest, expected, "from {position:?}");
    }
    // Reading does not count the known damage again; new appends land after it.
    assert_eq!(log.damaged_records(), 1);
    let r = log.append(batch("batch-20", 100, T0 + 20)).await.unwrap();
    assert!(!r.duplicate);
    // The surviving ids are still de-duplicated.
    let again = log.append(batch(&after[3].1, 100, T0 + 21)).await.unwrap();
    assert!(again.duplicate);
    drop(log);

    let log = EventLog::open(config).unwrap();
    assert_eq!(all(&log).len(), 20);
    assert_eq!(log.damaged_records(), 1);
}

#[tokio::test]
async fn damage_in_an_older_segment_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().into());
    config.segment_bytes = 4096;
    {
        let log = EventLog::open(config.clone()).unwrap();
        for i in 0..30 {
            log.append(batch(&format!("batch-{i:02}"), 10, T0 + i))
                .await
                .unwrap();
        }
    }
    let first = dir.path().join("events-00000001.log");
    assert!(dir.path().join("events-00000003.log").exists());
    let size = fs::metadata(&first).unwrap().len() as usize;
    flip(&first, size / 2);
    // Garbage at the end of an older segment is damage too, not a torn tail.
    OpenOptions::new()
        .append(true)
        .open(&first)
        .unwrap()
        .write_all(&[9, 0, 0, 0, 1, 2, 3])
        .unwrap();

    let log = EventLog::open(config).unwrap();
    assert_eq!(log.damaged_records(), 2);
    assert_eq!(fs::metadata(&first).unwrap().len() as usize, size + 7);
    assert_eq!(all(&log).len(), 29);
    assert_eq!(events(&log), 290);
}

#[tokio::test]
async fn a_torn_tail_of_the_last_segment_is_still_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path().into());
    {
        let log = EventLog::open(config.clone()).unwrap();
        log.append(batch("batch-good", 2, T0)).await.unwrap();
    }
    let segment = dir.path().join("events-00000001.log");
    let good_len = fs::metadata(&segment).unwrap().len();
    // A crash mid-write: a header promising more bytes than follow.
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{'])
        .unwrap();
    let log = EventLog::open(config).unwrap();
    assert_eq!(fs::metadata(&segment).unwrap().len(), good_len);
    assert_eq!(log.damaged_records(), 0, "a torn write is not damage");
    log.append(batch("batch-next", 1, T0 + 1)).await.unwrap();
    let ids: Vec<_> = all(&log).into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids, ["batch-good", "batch-next"]);
}

#[tokio::test]
async fn readers_skip_and_count_damage_that_appears_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(LogConfig::new(dir.path().into())).unwrap();
    for i in 0..5 {
        log.append(batch(&format!("batch-{i}"), 3, T0 + i))
            .await
            .unwrap();
    }
    let before = all(&log);
    // Bit rot under a running server, inside the second record.
    let segment = dir.path().join("events-00000001.log");
    flip(&segment, before[0].0.offset as usize + 20);
    let after = all(&log);
    assert_eq!(after.len(), 4);
    assert!(!after.iter().any(|(_, id)| id == "batch-1"));
    assert_eq!(events(&log), 12);
    assert_eq!(
        log.damaged_records(),
        1,
        "counted once however often it is read"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_fails_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig::new(dir.path().into());
    let log = EventLog::open(config.clone()).unwrap();
    log.append(batch("batch-1", 1, T0)).await.unwrap();
    let clone = log.clone();
    match EventLog::open(config.clone()) {
        Err(e @ LogError::Locked { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("in use by a running server")
                    && message.contains(&format!("pid {}", std::process::id())),
                "{message}"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("two handles own the same log"),
    }
    drop(log);
    assert!(
        EventLog::open(config.clone()).is_err(),
        "a clone still holds it"
    );
    drop(clone);
    let log = EventLog::open(config).unwrap();
    assert_eq!(all(&log).len(), 1);
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn burgee(args: &[&str], data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_burgee"));
    c.args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("BURGEE_DATABASE_URL")
        .env_remove("BURGEE_NATS_URL")
        .env_remove("BURGEE_DATA_DIR")
        .env_remove("BURGEE_LISTEN");
    c
}

#[test]
fn a_second_server_on_a_live_data_dir_exits_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = burgee(&["serve", "--listen", "127.0.0.1:0"], dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _first = Server(first);
    assert!(line.starts_with("listening on "), "{line:?}");

    let second = burgee(&["serve", "--listen", "127.0.0.1:0"], dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut second = Server(second);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the second server kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the event log is in use by a running server"),
        "{stderr}"
    );

    // Commands that do not need the event log still work next to the live server.
    let listed = burgee(&["token", "list"], dir.path()).output().unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
}

#[tokio::test]
async fn batch_ids_are_forgotten_after_the_window_and_beyond_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().into());
    config.dedupe_window_ms = DAY;
    config.dedupe_max_ids = 3;
    {
        let log = EventLog::open(config.clone()).unwrap();
        log.append(batch("a", 1, T0)).await.unwrap();
        assert!(log.append(batch("a", 1, T0 + DAY)).await.unwrap().duplicate);
        log.append(batch("b", 1, T0 + DAY + 1)).await.unwrap();
        // The clock (newest received_at) passes a's window: a is stored again.
        assert!(
            !log.append(batch("a", 1, T0 + DAY + 2))
                .await
                .unwrap()
                .duplicate
        );
        // The count: c, d push the oldest id (b) out.
        log.append(batch("c", 1, T0 + DAY + 3)).await.unwrap();
        log.append(batch("d", 1, T0 + DAY + 4)).await.unwrap();
        assert!(
            log.append(batch("d", 1, T0 + DAY + 5))
                .await
                .unwrap()
                .duplicate
        );
        assert!(
            !log.append(batch("b", 1, T0 + DAY + 6))
                .await
                .unwrap()
                .duplicate
        );
    }
    // Reopening rebuilds the same bounded index from the log.
    let log = EventLog::open(config).unwrap();
    assert!(
        log.append(batch("b", 1, T0 + DAY + 7))
            .await
            .unwrap()
            .duplicate
    );
    assert!(
        log.append(batch("c", 1, T0 + DAY + 7))
            .await
            .unwrap()
            .duplicate
    );
    assert!(
        !log.append(batch("a", 1, T0 + DAY + 7))
            .await
            .unwrap()
            .duplicate
    );
    assert!(
        !log.append(batch("c", 1, T0 + DAY + 8))
            .await
            .unwrap()
            .duplicate
    );
    // A day later than all of them: everything is forgotten.
    assert!(
        !log.append(batch("e", 1, T0 + 3 * DAY))
            .await
            .unwrap()
            .duplicate
    );
    assert!(
        !log.append(batch("d", 1, T0 + 3 * DAY))
            .await
            .unwrap()
            .duplicate
    );
}

fn segment(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("events-{n:08}.log"))
}

#[tokio::test]
async fn old_segments_are_deleted_but_never_the_active_or_a_followed_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogConfig::new(dir.path().into());
    config.segment_bytes = 1; // one commit per segment
    config.retention_ms = Some(DAY);
    let position = dir.path().join("sink.position");
    let follow = |segment: u64| {
        fs::write(
            &position,
            serde_json::to_vec(&Position { segment, offset: 0 }).unwrap(),
        )
        .unwrap();
    };
    let log = EventLog::open(config.clone()).unwrap();
    follow(1); // a follower still reading segment 1
    log.append(batch("b1", 1, T0)).await.unwrap(); // segment 1
    log.append(batch("b2", 1, T0 + 5 * DAY)).await.unwrap(); // segment 2
    assert!(
        segment(dir.path(), 1).exists(),
        "the follower has not passed it"
    );
    follow(3);
    log.append(batch("b3", 1, T0 + 6 * DAY)).await.unwrap(); // segment 3
    assert!(!segment(dir.path(), 1).exists(), "older than a day, passed");
    assert!(segment(dir.path(), 2).exists(), "exactly a day older: kept");
    assert_eq!(log.deleted_segments(), 1);
    // Positions keep their segment numbers.
    let kept = all(&log);
    assert_eq!(
        kept.iter()
            .map(|(p, id)| (p.segment, id.as_str()))
            .collect::<Vec<_>>(),
        [(2, "b2"), (3, "b3")]
    );
    assert_eq!(
        log.read_from(kept[0].0, 10).unwrap()[0].1.batch_id,
        "b3",
        "a saved position still resumes"
    );
    drop(log);

    // At open: the size limit deletes the oldest passed segment; the active one stays even
    // when everything is over the limit.
    config.retention_bytes = Some(0);
    let log = EventLog::open(config.clone()).unwrap();
    assert!(!segment(dir.path(), 2).exists());
    assert!(
        segment(dir.path(), 3).exists(),
        "the follower is at segment 3"
    );
    assert!(segment(dir.path(), 4).exists(), "the active segment");
    assert_eq!(log.deleted_segments(), 1);
    drop(log);
    fs::remove_file(&position).unwrap();
    let log = EventLog::open(config).unwrap();
    assert!(!segment(dir.path(), 3).exists());
    assert!(segment(dir.path(), 4).exists(), "the active segment");
    assert_eq!(log.deleted_segments(), 1);
}
