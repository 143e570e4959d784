//! Helpers shared by the server's integration tests.

pub mod nats;
pub mod openapi;

pub use burgee_test_support::postgres_url;

/// Whether PostgreSQL is configured for the tests (`BURGEE_TEST_DATABASE_URL`); with
/// `CI=true` a missing variable fails the test instead.
pub fn postgres_available() -> bool {
    if std::env::var("BURGEE_TEST_DATABASE_URL").is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but BURGEE_TEST_DATABASE_URL is not set"
    );
    false
}
