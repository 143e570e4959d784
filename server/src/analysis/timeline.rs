//! The experiment's p-values over time: the analysis repeated on the batches received up to
//! evenly spaced instants, so the console can draw how the always-valid (sequential) p-value
//! of each comparison evolved. Unlike the fixed-horizon p-value, the sequential one may be
//! watched continuously without inflating false positives (mSPRT; Johari et al., "Always
//! Valid Inference", 2017), which is what the chart is for.

use serde::Serialize;

use super::experiment::{ExperimentConfig, analyse};
use crate::analysis::stats::StatsError;
use crate::events::log::StoredBatch;

/// Most points of a timeline.
pub const MAX_POINTS: usize = 24;

/// One treatment's p-values for one metric at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelineComparison {
    /// Metric key.
    pub metric: String,
    /// Treatment variant (against the control).
    pub variant: String,
    /// Always-valid p-value (mSPRT), when the data supports it.
    pub sequential_p_value: Option<f64>,
    /// Fixed-horizon p-value (shown for contrast; not valid under continuous monitoring).
    pub p_value: f64,
}

/// The analysis as of one instant.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TimelinePoint {
    /// Batches received up to this instant (ms since epoch, the server's `received_at`) are
    /// included.
    pub at: u64,
    /// Units exposed by then, all variants.
    pub units: u64,
    /// Each metric's comparisons by then.
    pub comparisons: Vec<TimelineComparison>,
}

/// The analysis of `config` at up to `points` (at most [`MAX_POINTS`]) instants evenly
/// spaced between the first and the last batch's `received_at`, oldest first. `batches` may
/// be in any order.
///
/// # Errors
/// [`StatsError::Invalid`] as [`analyse`].
pub fn timeline(
    config: &ExperimentConfig,
    environment: &str,
    batches: &[StoredBatch],
    points: usize,
) -> Result<Vec<TimelinePoint>, StatsError> {
    let mut sorted: Vec<&StoredBatch> = batches.iter().collect();
    sorted.sort_by_key(|b| b.received_at);
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return Ok(Vec::new());
    };
    let (start, end) = (first.received_at, last.received_at);
    let points = points.clamp(1, MAX_POINTS) as u64;
    let mut out: Vec<TimelinePoint> = Vec::new();
    for i in 1..=points {
        let at = start + (end - start) * i / points;
        let upto = sorted.partition_point(|b| b.received_at <= at);
        if out.last().is_some_and(|p| p.at == at) {
            continue;
        }
        let r = analyse(config, environment, sorted.iter().take(upto).copied())?;
        out.push(TimelinePoint {
            at,
            units: r.variants.iter().map(|v| v.units).sum(),
            comparisons: r
                .metrics
                .iter()
                .flat_map(|m| {
                    m.comparisons.iter().map(|c| TimelineComparison {
                        metric: m.key.clone(),
                        variant: c.variant.clone(),
                        sequential_p_value: c.sequential_p_value,
                        p_value: c.p_value,
                    })
                })
                .collect(),
        });
    }
    Ok(out)
}
