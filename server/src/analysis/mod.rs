//! Experiment analysis: statistics (`stats`), results from stored events (`experiment`),
//! p-values over time (`timeline`) and their text rendering for the CLI (`report`).
pub mod experiment;
pub mod report;
pub mod stats;
pub mod timeline;
