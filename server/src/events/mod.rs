//! Exposure and metric events: validation (`model`), the durable embedded store (`log`), the
//! ingestion service (`service`), and the sinks that copy stored batches elsewhere by following
//! the log (`follow`): NATS JetStream (`nats`) and the database's `events` table (`database`).
pub mod database;
pub mod follow;
pub mod log;
pub mod model;
pub mod nats;
pub mod service;
