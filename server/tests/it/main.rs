//! The server's integration tests, in one test binary (one link of the server instead of
//! one per file). Run one module with `cargo test -p burgee-server --test it -- api::`.
//!
//! - `common`: PostgreSQL databases (from `burgee-test-support`) and the OpenAPI response
//!   checker every in-process request goes through; `fixture`: an in-process server for the
//!   hardening tests and the `both!` macro (SQLite and PostgreSQL).
//! - Tests that need a real process start `burgee serve` with `burgee_test_support::Serve`
//!   (the binary is `env!("CARGO_BIN_EXE_burgee")`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a failed step is a failed test

mod common;
#[macro_use]
mod fixture;

mod admin_cli;
mod api;
mod chaos;
mod chaos_events;
mod cli;
mod configs;
mod console_api;
mod durability;
mod e2e;
mod events_api;
mod events_database;
mod events_log;
mod events_log_hardening;
mod events_model;
mod events_nats;
mod events_process;
mod experiment_analysis;
mod fuzz_regressions;
mod http_limits;
#[cfg(feature = "kafka")]
mod notify_sinks;
mod oidc;
mod openapi;
mod publish_limits;
mod registry;
mod replicas;
mod resign;
mod session;
mod signing_keys;
mod stats_golden;
