//! Experiment analysis: statistics (`stats`), results from stored events (`experiment`) and
//! their text rendering for the CLI (`report`).
pub mod experiment;
pub mod report;
pub mod stats;
