//! Experiment results from stored events (`spec/EVENTS.md` §5): assignment by first exposure,
//! exposure de-duplication, unit-level metrics, and the statistics of [`super::stats`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::stats::{
    ChiSquareTest, Conversions, CupedUnit, MeanComparison, Moments, StatsError,
    compare_conversions, conversion_independence, cuped, msprt_p_value, sample_ratio_mismatch,
    welch_t_test,
};
use crate::events::log::StoredBatch;
use crate::events::model::Event;

/// How a metric turns a unit's events into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// 1 if the unit sent the metric at least once after its first exposure, else 0.
    Conversion,
    /// Sum of the unit's values after first exposure (0 without any).
    Sum,
    /// Mean of the unit's values after first exposure; units without values are left out.
    Mean,
}

/// A metric of an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// Metric key (the `key` of `track` events).
    pub key: String,
    /// Aggregation.
    pub kind: MetricKind,
}

/// How a flag is run as an experiment (part of the flag's project-wide definition): which
/// rollout splits the units and which metrics decide. The variants and weights are read from
/// that rollout in the environment analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Rule whose rollout is the experiment; `None` means the default (fallthrough) rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// The decision metric.
    pub primary_metric: MetricSpec,
    /// Metrics that must not get worse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrail_metrics: Vec<MetricSpec>,
    /// Confidence level of intervals, in (0, 1). Default 0.95.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Exposure de-duplication window, ms. Default one hour.
    #[serde(default = "default_window")]
    pub dedupe_window_ms: u64,
    /// Relative effect the sequential test is tuned for. Default 0.05.
    #[serde(default = "default_mde")]
    pub sequential_mde: f64,
}

impl ExperimentSpec {
    /// The analysis configuration for `flag` in an environment whose experiment rollout has
    /// these `weights` (the first variant is the control).
    pub fn config(
        &self,
        flag: &str,
        weights: &[burgee_core::model::WeightDef],
    ) -> ExperimentConfig {
        ExperimentConfig {
            flag: flag.to_owned(),
            variants: weights
                .iter()
                .map(|w| VariantWeight {
                    variant: w.variant.clone(),
                    weight: w.weight,
                })
                .collect(),
            spec: self.clone(),
        }
    }
}

/// An experiment as analysed: the flag, its variants and weights in one environment, and the
/// experiment's metrics and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentConfig {
    /// Flag key.
    pub flag: String,
    /// Variants and their configured weights in basis points; the first is the control.
    pub variants: Vec<VariantWeight>,
    /// Metrics and settings (the mSPRT mixing variance is `(sequential_mde × control mean)²`).
    #[serde(flatten)]
    pub spec: ExperimentSpec,
}

fn default_confidence() -> f64 {
    0.95
}
fn default_window() -> u64 {
    3_600_000
}
fn default_mde() -> f64 {
    0.05
}

/// A variant's configured share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantWeight {
    /// Variant name.
    pub variant: String,
    /// Basis points, 0..=10000.
    pub weight: u32,
}

/// Units and exposures of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VariantSummary {
    /// Variant name.
    pub variant: String,
    /// Configured weight, basis points.
    pub weight: u32,
    /// Units whose first exposure was this variant (and no other).
    pub units: u64,
    /// Exposures after de-duplication.
    pub exposures: u64,
}

/// One variant's value of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VariantMetric {
    /// Variant name.
    pub variant: String,
    /// Units contributing.
    pub units: u64,
    /// Conversions (conversion metrics).
    pub conversions: Option<u64>,
    /// Mean per unit (the conversion rate for conversion metrics).
    pub mean: f64,
    /// Sample variance per unit.
    pub variance: f64,
}

/// A treatment against the control for one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Treatment variant.
    pub variant: String,
    /// `treatment − control`.
    pub difference: f64,
    /// Interval of the difference at the configured confidence.
    pub difference_ci: (f64, f64),
    /// `difference / control`, when the control is not 0.
    pub relative_lift: Option<f64>,
    /// Fixed-horizon two-sided p-value (z-test for conversions, Welch's t-test otherwise).
    pub p_value: f64,
    /// Always-valid p-value (mSPRT); safe to watch continuously.
    pub sequential_p_value: Option<f64>,
    /// Welch's test on CUPED-adjusted values (continuous metrics with pre-exposure data).
    pub cuped: Option<CupedComparison>,
}

/// The CUPED-adjusted comparison.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CupedComparison {
    /// `θ` of the adjustment.
    pub theta: f64,
    /// Share of variance removed.
    pub variance_reduction: f64,
    /// Adjusted difference of means.
    pub difference: f64,
    /// Its interval.
    pub difference_ci: (f64, f64),
    /// Its p-value.
    pub p_value: f64,
}

/// Results of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MetricResult {
    /// Metric key.
    pub key: String,
    /// Aggregation.
    pub kind: MetricKind,
    /// `primary` or `guardrail`.
    pub role: &'static str,
    /// Per variant, control first.
    pub variants: Vec<VariantMetric>,
    /// Each treatment vs the control (empty when the data cannot support a test; see `note`).
    pub comparisons: Vec<Comparison>,
    /// χ² test of independence over all variants (conversion metrics).
    pub overall: Option<ChiSquareTest>,
    /// Why a statistic is missing, if one is.
    pub note: Option<String>,
}

/// Everything `GET .../experiments/{flag}/results` returns.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExperimentResults {
    /// Flag key.
    pub flag: String,
    /// Environment analysed.
    pub environment: String,
    /// Per variant, control first.
    pub variants: Vec<VariantSummary>,
    /// Exposures received, before de-duplication.
    pub exposures_raw: u64,
    /// Units exposed to more than one variant (left out of every metric).
    pub units_excluded: u64,
    /// Sample-ratio-mismatch test of units against the weights.
    pub srm: Option<ChiSquareTest>,
    /// `srm.p_value < 0.001`: the split is broken; do not trust the metrics.
    pub srm_alarm: bool,
    /// Primary metric first, then guardrails.
    pub metrics: Vec<MetricResult>,
    /// The p-values over time, oldest first (empty unless asked for with `timeline`).
    pub timeline: Vec<super::timeline::TimelinePoint>,
}

/// `(metric key, unit) → [(time, value)]` of the metric events that matter.
type Tracks<'a> = HashMap<(&'a str, &'a str), Vec<(u64, Option<f64>)>>;

#[derive(Default)]
struct Unit {
    first_exposure: u64,
    variant: Option<usize>,
    mixed: bool,
}

/// Computes the results of `config` from `batches` (any order) of one environment.
///
/// # Errors
/// [`StatsError::Invalid`] for a config with fewer than two variants or a confidence outside
/// (0, 1). Missing data is not an error: it leaves statistics out with a `note`.
pub fn analyse<'a>(
    config: &ExperimentConfig,
    environment: &str,
    batches: impl IntoIterator<Item = &'a StoredBatch>,
) -> Result<ExperimentResults, StatsError> {
    if config.variants.len() < 2 {
        return Err(StatsError::Invalid(
            "an experiment needs at least two variants".into(),
        ));
    }
    if !(config.spec.confidence > 0.0 && config.spec.confidence < 1.0) {
        return Err(StatsError::Invalid(format!(
            "confidence {} is not in (0, 1)",
            config.spec.confidence
        )));
    }
    let index: HashMap<&str, usize> = config
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.variant.as_str(), i))
        .collect();
    let metric_keys: Vec<&str> = std::iter::once(&config.spec.primary_metric)
        .chain(&config.spec.guardrail_metrics)
        .map(|m| m.key.as_str())
        .collect();

    // (time, variant index, unit, digest) of every exposure to this flag; (metric, unit) → values.
    let mut exposures: Vec<(u64, usize, &str, &str)> = Vec::new();
    let mut exposures_raw = 0u64;
    let mut tracks: Tracks<'_> = HashMap::new();
    for batch in batches {
        for event in &batch.events {
            match event {
                Event::Exposure(e) if e.flag == config.flag => {
                    exposures_raw += 1;
                    if let Some(&v) = index.get(e.variant.as_str()) {
                        exposures.push((e.time, v, &e.targeting_key, &e.snapshot_digest));
                    }
                }
                Event::Track(t) if metric_keys.contains(&t.key.as_str()) => {
                    tracks
                        .entry((t.key.as_str(), t.targeting_key.as_str()))
                        .or_default()
                        .push((t.time, t.value));
                }
                _ => {}
            }
        }
    }
    exposures.sort_unstable();

    let mut units: HashMap<&str, Unit> = HashMap::new();
    let mut deduped = vec![0u64; config.variants.len()];
    let mut last_counted: HashMap<(usize, &str, &str), u64> = HashMap::new();
    for &(time, v, unit, digest) in &exposures {
        let counted = last_counted.entry((v, unit, digest)).or_insert(u64::MAX);
        if *counted == u64::MAX || time.saturating_sub(*counted) >= config.spec.dedupe_window_ms {
            *counted = time;
            if let Some(d) = deduped.get_mut(v) {
                *d += 1;
            }
        }
        let u = units.entry(unit).or_insert_with(|| Unit {
            first_exposure: time,
            ..Unit::default()
        });
        match u.variant {
            None => u.variant = Some(v),
            Some(first) if first != v => u.mixed = true,
            Some(_) => {}
        }
    }
    let units_excluded = units.values().filter(|u| u.mixed).count() as u64;
    let assigned: Vec<(&str, usize, u64)> = units
        .iter()
        .filter(|(_, u)| !u.mixed)
        .filter_map(|(k, u)| u.variant.map(|v| (*k, v, u.first_exposure)))
        .collect();
    let mut counts = vec![0u64; config.variants.len()];
    for (_, v, _) in &assigned {
        if let Some(c) = counts.get_mut(*v) {
            *c += 1;
        }
    }
    let weights: Vec<u32> = config.variants.iter().map(|v| v.weight).collect();
    let srm = sample_ratio_mismatch(&counts, &weights).ok();
    let srm_alarm = srm.as_ref().is_some_and(|s| s.p_value < 0.001);

    let mut metrics = Vec::new();
    for (role, spec) in std::iter::once(("primary", &config.spec.primary_metric)).chain(
        config
            .spec
            .guardrail_metrics
            .iter()
            .map(|m| ("guardrail", m)),
    ) {
        metrics.push(metric_result(config, spec, role, &assigned, &tracks));
    }

    Ok(ExperimentResults {
        flag: config.flag.clone(),
        environment: environment.to_owned(),
        variants: config
            .variants
            .iter()
            .zip(counts.iter().zip(&deduped))
            .map(|(v, (units, exposures))| VariantSummary {
                variant: v.variant.clone(),
                weight: v.weight,
                units: *units,
                exposures: *exposures,
            })
            .collect(),
        exposures_raw,
        units_excluded,
        srm,
        srm_alarm,
        metrics,
        timeline: Vec::new(),
    })
}

fn metric_result(
    config: &ExperimentConfig,
    spec: &MetricSpec,
    role: &'static str,
    assigned: &[(&str, usize, u64)],
    tracks: &Tracks<'_>,
) -> MetricResult {
    let k = config.variants.len();
    let mut moments = vec![Moments::default(); k];
    let mut conversions = vec![
        Conversions {
            units: 0,
            conversions: 0
        };
        k
    ];
    let mut cuped_units = Vec::new();
    for &(unit, v, first) in assigned {
        let events = tracks
            .get(&(spec.key.as_str(), unit))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (post, pre): (Vec<_>, Vec<_>) = events.iter().partition(|(t, _)| *t >= first);
        let value = |evs: &[&(u64, Option<f64>)]| -> Option<f64> {
            match spec.kind {
                MetricKind::Conversion => Some(if evs.is_empty() { 0.0 } else { 1.0 }),
                MetricKind::Sum => Some(evs.iter().filter_map(|(_, x)| *x).sum()),
                MetricKind::Mean => {
                    let m = Moments::of(evs.iter().filter_map(|(_, x)| *x));
                    (m.n > 0).then_some(m.mean)
                }
            }
        };
        let Some(y) = value(&post) else { continue };
        if let Some(m) = moments.get_mut(v) {
            m.push(y);
        }
        if let Some(c) = conversions.get_mut(v) {
            c.units += 1;
            c.conversions += u64::from(y > 0.0);
        }
        cuped_units.push(CupedUnit {
            variant: v,
            y,
            x: value(&pre).unwrap_or(0.0),
        });
    }

    let mut notes = Vec::new();
    let mut comparisons = Vec::new();
    let (control_m, control_c) = (
        moments.first().copied().unwrap_or_default(),
        conversions.first().copied(),
    );
    let cuped_result = match spec.kind {
        MetricKind::Conversion => None,
        _ if cuped_units.iter().all(|u| u.x == 0.0) => None,
        _ => cuped(&cuped_units, k).ok(),
    };
    for i in 1..k {
        let name = config
            .variants
            .get(i)
            .map(|v| v.variant.clone())
            .unwrap_or_default();
        let comparison = match (spec.kind, control_c, conversions.get(i)) {
            (MetricKind::Conversion, Some(c), Some(t)) => {
                compare_conversions(c, *t, config.spec.confidence).map(|r| {
                    let var = r.treatment_rate * (1.0 - r.treatment_rate) / t.units as f64
                        + r.control_rate * (1.0 - r.control_rate) / c.units as f64;
                    Comparison {
                        variant: name.clone(),
                        difference: r.difference,
                        difference_ci: r.difference_ci,
                        relative_lift: r.relative_lift,
                        p_value: r.p_value,
                        sequential_p_value: sequential(
                            r.difference,
                            var,
                            r.control_rate,
                            config.spec.sequential_mde,
                        ),
                        cuped: None,
                    }
                })
            }
            _ => {
                let treatment = moments.get(i).copied().unwrap_or_default();
                welch_t_test(&control_m, &treatment, config.spec.confidence).map(
                    |r: MeanComparison| Comparison {
                        variant: name.clone(),
                        difference: r.difference,
                        difference_ci: r.difference_ci,
                        relative_lift: r.relative_lift,
                        p_value: r.p_value,
                        sequential_p_value: sequential(
                            r.difference,
                            r.difference_variance,
                            r.control_mean,
                            config.spec.sequential_mde,
                        ),
                        cuped: cuped_result.as_ref().and_then(|cu| {
                            let (c, t) = (cu.adjusted.first()?, cu.adjusted.get(i)?);
                            let w = welch_t_test(c, t, config.spec.confidence).ok()?;
                            Some(CupedComparison {
                                theta: cu.theta,
                                variance_reduction: cu.variance_reduction,
                                difference: w.difference,
                                difference_ci: w.difference_ci,
                                p_value: w.p_value,
                            })
                        }),
                    },
                )
            }
        };
        match comparison {
            Ok(c) => comparisons.push(c),
            Err(e) => notes.push(format!("{name}: {e}")),
        }
    }
    let overall = match spec.kind {
        MetricKind::Conversion => conversion_independence(&conversions).ok(),
        _ => None,
    };
    MetricResult {
        key: spec.key.clone(),
        kind: spec.kind,
        role,
        variants: config
            .variants
            .iter()
            .zip(moments.iter().zip(&conversions))
            .map(|(v, (m, c))| VariantMetric {
                variant: v.variant.clone(),
                units: m.n,
                conversions: (spec.kind == MetricKind::Conversion).then_some(c.conversions),
                mean: m.mean,
                variance: m.variance(),
            })
            .collect(),
        comparisons,
        overall,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// mSPRT p-value with mixing variance `(mde × control)²`; `None` when it cannot be formed.
fn sequential(difference: f64, variance: f64, control: f64, mde: f64) -> Option<f64> {
    let tau = mde * control;
    msprt_p_value(difference, variance, tau * tau).ok()
}
