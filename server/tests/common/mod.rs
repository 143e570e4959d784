//! Helpers shared by the server's integration tests.

use sqlx::Connection as _;

#[allow(dead_code)] // used by the API tests only
pub mod openapi;

/// A fresh, empty PostgreSQL database under `BURGEE_TEST_DATABASE_URL` (which `scripts/test`
/// sets after starting PostgreSQL with `scripts/postgres`). `None` when the variable is unset
/// outside CI; with `CI=true` a missing variable fails the test instead of skipping it.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("BURGEE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but BURGEE_TEST_DATABASE_URL is not set: PostgreSQL tests cannot run \
             (scripts/test starts PostgreSQL with scripts/postgres)"
        );
        eprintln!(
            "BURGEE_TEST_DATABASE_URL not set: PostgreSQL half not run (scripts/test runs it)"
        );
        return None;
    };
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at BURGEE_TEST_DATABASE_URL unreachable: {e}"));
    let name = format!(
        "burgee_t_{}",
        hex::encode(burgee_server::keys::random_bytes::<6>().unwrap())
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}
