//! Fresh PostgreSQL databases for tests.

use sqlx::Connection as _;

/// A fresh, empty PostgreSQL database under `BURGEE_TEST_DATABASE_URL` (which `scripts/ci`
/// sets after starting PostgreSQL with `scripts/postgres`). `None` when the variable is unset
/// outside CI; with `CI=true` a missing variable fails the test instead of skipping it.
///
/// # Panics
/// With `CI=true` and no variable, or when the server is unreachable.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("BURGEE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but BURGEE_TEST_DATABASE_URL is not set: PostgreSQL tests cannot run \
             (scripts/ci starts PostgreSQL with scripts/postgres)"
        );
        eprintln!("BURGEE_TEST_DATABASE_URL not set: PostgreSQL half not run (scripts/ci runs it)");
        return None;
    };
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at BURGEE_TEST_DATABASE_URL unreachable: {e}"));
    let bytes = burgee_server::keys::random_bytes::<6>().expect("random bytes");
    let name = format!("burgee_t_{}", hex::encode(bytes));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("a database URL ends with /<name>");
    Some(format!("{prefix}/{name}"))
}
