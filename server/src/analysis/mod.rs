pub mod experiment;
pub mod stats;
