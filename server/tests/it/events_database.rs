//! The database event sink: every stored event becomes one row of `events`, also after a
//! re-delivery from an old position. Runs on SQLite and, as `scripts/test` does, PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use burgee_server::config::ServerConfig;
use burgee_server::events::database::copy_to_database;
use burgee_server::now_ms;
use burgee_server::service::AppState;
use serde_json::json;

use crate::common::postgres_url;

async fn copies_every_event_once(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        database_url,
        demo: true,
        ..ServerConfig::new(dir.path(), 3_600_000)
    };
    let (state, _) = AppState::open(&config).await.unwrap();
    let t = now_ms();
    for n in 0..3 {
        let body = serde_json::to_vec(&json!({"batch_id": format!("db-batch-{n}"), "sdk": {"name": "t", "version": "1"}, "events": [
            {"kind": "exposure", "flag": "checkout-redesign", "variant": "on", "reason": "SPLIT", "targeting_key": "u1",
             "snapshot_version": 1, "snapshot_digest": format!("sha256:{}", "a".repeat(64)), "time": t},
            {"kind": "track", "key": "order_value", "value": 12.5, "targeting_key": "u1", "time": t + 1},
        ]}))
        .unwrap();
        state
            .events()
            .ingest("webshop", "production", &body, t)
            .await
            .unwrap();
    }
    let position = dir.path().join("database.position");
    let run = || async {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (log, pool, position) = (
            state.events().log().unwrap(),
            state.store().pool.clone(),
            position.clone(),
        );
        let task = tokio::spawn(async move {
            copy_to_database(log, pool, &position, async {
                let _ = stopped.await;
            })
            .await
        });
        // Wait until the copy caught up, then stop it.
        for _ in 0..200 {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&state.store().pool)
                .await
                .unwrap();
            if n >= 6 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The copier may only end when told to; an early end is its error.
        let _ = stop.send(());
        task.await.unwrap().unwrap()
    };
    assert_eq!(run().await, 3);
    std::fs::remove_file(&position).unwrap(); // a lost position: everything is delivered again
    assert_eq!(run().await, 3);
    let rows: Vec<(String, String, Option<String>, Option<f64>)> =
        sqlx::query_as("SELECT batch_id, kind, flag, value FROM events ORDER BY batch_id, seq")
            .fetch_all(&state.store().pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(
        rows[0],
        (
            "db-batch-0".into(),
            "exposure".into(),
            Some("checkout-redesign".into()),
            None
        )
    );
    assert_eq!(
        rows[1],
        ("db-batch-0".into(), "track".into(), None, Some(12.5))
    );
    state.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    copies_every_event_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(url) = postgres_url().await {
        copies_every_event_once(Some(url)).await;
    }
}
