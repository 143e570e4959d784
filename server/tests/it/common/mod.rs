//! Helpers shared by the server's integration tests.

pub mod openapi;

pub use burgee_test_support::postgres_url;
