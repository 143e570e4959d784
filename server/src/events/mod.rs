//! Exposure and metric events: validation (`model`), the durable embedded store (`log`) and
//! the NATS JetStream forwarder (`nats`).
pub mod log;
pub mod model;
pub mod nats;
