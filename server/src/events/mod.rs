//! Exposure and metric events: validation (`model`), the durable embedded store (`log`), the
//! ingestion service (`service`) and the NATS JetStream forwarder (`nats`).
pub mod log;
pub mod model;
pub mod nats;
pub mod service;
