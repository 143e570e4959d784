//! Experiment analysis: statistics (`stats`) and results from stored events (`experiment`).
pub mod experiment;
pub mod stats;
