//! Experiment statistics: sample-ratio mismatch, conversion tests, Welch's t-test, CUPED and
//! mSPRT always-valid p-values. Pure functions over aggregates; distributions come from
//! `statrs`. Every formula names its source; `server/tests/golden/` checks each one against
//! values computed with scipy / statsmodels by `make_stats_golden.py`.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Inputs that cannot describe an experiment (mismatched lengths, conversions above units,
    /// a confidence level outside (0, 1), weights that do not add up, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Valid input without enough data for the statistic (no units, no variance, ...).
    #[error("not enough data: {0}")]
    NotEnoughData(String),
}

fn invalid(msg: impl Into<String>) -> StatsError {
    StatsError::Invalid(msg.into())
}

fn not_enough(msg: impl Into<String>) -> StatsError {
    StatsError::NotEnoughData(msg.into())
}

fn standard_normal() -> Result<Normal, StatsError> {
    Normal::new(0.0, 1.0).map_err(|e| invalid(e.to_string()))
}

/// Two-sided critical value of the standard normal for `confidence` in (0, 1), e.g. 1.96 for 0.95.
fn z_critical(confidence: f64) -> Result<f64, StatsError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(invalid(format!("confidence {confidence} is not in (0, 1)")));
    }
    Ok(standard_normal()?.inverse_cdf(0.5 + confidence / 2.0))
}

/// Result of a chi-square test.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ChiSquareTest {
    /// The χ² statistic.
    pub chi_square: f64,
    /// Degrees of freedom.
    pub df: u32,
    /// Upper-tail p-value, `1 − F(χ²; df)`.
    pub p_value: f64,
}

fn chi_square_p(chi_square: f64, df: u32) -> Result<f64, StatsError> {
    if chi_square.is_infinite() {
        return Ok(0.0);
    }
    let dist = ChiSquared::new(f64::from(df)).map_err(|e| invalid(e.to_string()))?;
    Ok(dist.sf(chi_square))
}

/// Sample-ratio mismatch: Pearson's χ² goodness-of-fit of the observed units per variant
/// against the configured weights (basis points), as `scipy.stats.chisquare(f_obs, f_exp)`.
/// A p-value below 0.001 is the conventional SRM alarm (Fabijan et al., "Diagnosing Sample
/// Ratio Mismatch in Online Controlled Experiments", KDD 2019).
///
/// A variant with weight 0 that received units makes χ² infinite (p = 0).
///
/// # Errors
/// [`StatsError::Invalid`] for fewer than two variants, mismatched lengths or all-zero weights;
/// [`StatsError::NotEnoughData`] when no units were observed.
pub fn sample_ratio_mismatch(
    observed: &[u64],
    weights_bp: &[u32],
) -> Result<ChiSquareTest, StatsError> {
    if observed.len() != weights_bp.len() {
        return Err(invalid(format!(
            "{} observed counts for {} weights",
            observed.len(),
            weights_bp.len()
        )));
    }
    let weight_sum: f64 = weights_bp.iter().map(|w| f64::from(*w)).sum();
    let live = weights_bp.iter().filter(|w| **w > 0).count();
    if live < 2 || weight_sum <= 0.0 {
        return Err(invalid(
            "an SRM check needs at least two variants with positive weight",
        ));
    }
    #[allow(clippy::cast_precision_loss)] // unit counts stay far below 2^53
    let total = observed.iter().sum::<u64>() as f64;
    if total == 0.0 {
        return Err(not_enough("no units observed"));
    }
    let mut chi_square = 0.0;
    for (o, w) in observed.iter().zip(weights_bp) {
        #[allow(clippy::cast_precision_loss)]
        let o = *o as f64;
        if *w == 0 {
            if o > 0.0 {
                chi_square = f64::INFINITY;
            }
            continue;
        }
        let e = total * f64::from(*w) / weight_sum;
        chi_square += (o - e).powi(2) / e;
    }
    let df = u32::try_from(live - 1).map_err(|e| invalid(e.to_string()))?;
    Ok(ChiSquareTest {
        chi_square,
        df,
        p_value: chi_square_p(chi_square, df)?,
    })
}

/// Units exposed and units that converted, for one variant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Conversions {
    /// Units exposed.
    pub units: u64,
    /// Units that converted (at most `units`).
    pub conversions: u64,
}

impl Conversions {
    fn rate(self) -> Result<f64, StatsError> {
        if self.conversions > self.units {
            return Err(invalid(format!(
                "{} conversions out of {} units",
                self.conversions, self.units
            )));
        }
        if self.units == 0 {
            return Err(not_enough("a variant has no units"));
        }
        #[allow(clippy::cast_precision_loss)]
        Ok(self.conversions as f64 / self.units as f64)
    }
}

/// A treatment's conversion rate against the control's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ConversionComparison {
    /// Control conversion rate.
    pub control_rate: f64,
    /// Treatment conversion rate.
    pub treatment_rate: f64,
    /// `treatment_rate − control_rate`.
    pub difference: f64,
    /// Wald interval of the difference (unpooled variance), as statsmodels'
    /// `confint_proportions_2indep(method="wald", compare="diff")`.
    pub difference_ci: (f64, f64),
    /// `difference / control_rate`; `None` when the control rate is 0.
    pub relative_lift: Option<f64>,
    /// Delta-method interval of the relative lift; `None` when the control rate is 0.
    pub relative_lift_ci: Option<(f64, f64)>,
    /// Two-proportion z statistic with pooled variance, as statsmodels' `proportions_ztest`.
    pub z: f64,
    /// Two-sided p-value of `z`.
    pub p_value: f64,
}

/// Two-proportion z-test of treatment vs control, with a Wald interval of the difference and a
/// delta-method interval of the relative lift (`Var(p̂t/p̂c) ≈ Var(p̂t)/p̂c² + p̂t²·Var(p̂c)/p̂c⁴`).
///
/// # Errors
/// [`StatsError::Invalid`] for conversions above units or a confidence outside (0, 1);
/// [`StatsError::NotEnoughData`] when a variant has no units or the pooled rate is 0 or 1.
pub fn compare_conversions(
    control: Conversions,
    treatment: Conversions,
    confidence: f64,
) -> Result<ConversionComparison, StatsError> {
    let (pc, pt) = (control.rate()?, treatment.rate()?);
    let z_crit = z_critical(confidence)?;
    #[allow(clippy::cast_precision_loss)]
    let (nc, nt) = (control.units as f64, treatment.units as f64);
    #[allow(clippy::cast_precision_loss)]
    let pooled = (control.conversions + treatment.conversions) as f64 / (nc + nt);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nt)).sqrt();
    if se_pooled == 0.0 {
        return Err(not_enough("every unit converted, or none did"));
    }
    let difference = pt - pc;
    let z = difference / se_pooled;
    let p_value = 2.0 * standard_normal()?.sf(z.abs());
    let (var_t, var_c) = (pt * (1.0 - pt) / nt, pc * (1.0 - pc) / nc);
    let se_diff = (var_t + var_c).sqrt();
    let (relative_lift, relative_lift_ci) = if pc > 0.0 {
        let lift = difference / pc;
        let se_ratio = (var_t / pc.powi(2) + pt.powi(2) * var_c / pc.powi(4)).sqrt();
        (
            Some(lift),
            Some((lift - z_crit * se_ratio, lift + z_crit * se_ratio)),
        )
    } else {
        (None, None)
    };
    Ok(ConversionComparison {
        control_rate: pc,
        treatment_rate: pt,
        difference,
        difference_ci: (difference - z_crit * se_diff, difference + z_crit * se_diff),
        relative_lift,
        relative_lift_ci,
        z,
        p_value,
    })
}

/// Pearson's χ² test of independence on the k×2 table (converted, not converted) of all
/// variants, without continuity correction, as `scipy.stats.chi2_contingency(table,
/// correction=False)`.
///
/// # Errors
/// [`StatsError::Invalid`] for fewer than two variants or conversions above units;
/// [`StatsError::NotEnoughData`] when a variant has no units or nobody (or everybody)
/// converted.
pub fn conversion_independence(variants: &[Conversions]) -> Result<ChiSquareTest, StatsError> {
    if variants.len() < 2 {
        return Err(invalid("a χ² test needs at least two variants"));
    }
    for v in variants {
        v.rate()?;
    }
    #[allow(clippy::cast_precision_loss)]
    let total = variants.iter().map(|v| v.units).sum::<u64>() as f64;
    #[allow(clippy::cast_precision_loss)]
    let converted = variants.iter().map(|v| v.conversions).sum::<u64>() as f64;
    if converted == 0.0 || converted == total {
        return Err(not_enough("every unit converted, or none did"));
    }
    let mut chi_square = 0.0;
    for v in variants {
        #[allow(clippy::cast_precision_loss)]
        let (n, x) = (v.units as f64, v.conversions as f64);
        for (observed, column) in [(x, converted), (n - x, total - converted)] {
            let expected = n * column / total;
            chi_square += (observed - expected).powi(2) / expected;
        }
    }
    let df = u32::try_from(variants.len() - 1).map_err(|e| invalid(e.to_string()))?;
    Ok(ChiSquareTest {
        chi_square,
        df,
        p_value: chi_square_p(chi_square, df)?,
    })
}

/// Count, mean and sample variance (`n − 1` denominator) of a metric, accumulated with
/// Welford's online algorithm (Welford 1962; Knuth TAOCP vol. 2, §4.2.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Moments {
    /// Number of values.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean (`variance · (n − 1)`).
    m2: f64,
}

impl Moments {
    /// Moments of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Moments {
        let mut m = Moments::default();
        for v in values {
            m.push(v);
        }
        m
    }

    /// Adds one value.
    pub fn push(&mut self, value: f64) {
        self.n += 1;
        let delta = value - self.mean;
        #[allow(clippy::cast_precision_loss)]
        let n = self.n as f64;
        self.mean += delta / n;
        self.m2 += delta * (value - self.mean);
    }

    /// Sample variance (`n − 1` denominator); 0 for fewer than two values.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let d = (self.n - 1) as f64;
        self.m2 / d
    }
}

/// A treatment's mean against the control's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct MeanComparison {
    /// Control mean.
    pub control_mean: f64,
    /// Treatment mean.
    pub treatment_mean: f64,
    /// `treatment_mean − control_mean`.
    pub difference: f64,
    /// Welch interval of the difference with the Welch–Satterthwaite degrees of freedom.
    pub difference_ci: (f64, f64),
    /// `difference / control_mean`; `None` when the control mean is 0.
    pub relative_lift: Option<f64>,
    /// Welch's t statistic.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Variance of `difference` (`s²t/nt + s²c/nc`), the input of [`msprt_p_value`].
    pub difference_variance: f64,
}

/// Welch's unequal-variance t-test (Welch 1947), as `scipy.stats.ttest_ind(t, c,
/// equal_var=False)` and its `confidence_interval`.
///
/// # Errors
/// [`StatsError::Invalid`] for a confidence outside (0, 1); [`StatsError::NotEnoughData`] when
/// a variant has fewer than two values or both have zero variance.
pub fn welch_t_test(
    control: &Moments,
    treatment: &Moments,
    confidence: f64,
) -> Result<MeanComparison, StatsError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(invalid(format!("confidence {confidence} is not in (0, 1)")));
    }
    if control.n < 2 || treatment.n < 2 {
        return Err(not_enough("each variant needs at least two values"));
    }
    #[allow(clippy::cast_precision_loss)]
    let (nc, nt) = (control.n as f64, treatment.n as f64);
    let (vc, vt) = (control.variance() / nc, treatment.variance() / nt);
    let difference_variance = vc + vt;
    if difference_variance == 0.0 {
        return Err(not_enough("the metric has no variance"));
    }
    let se = difference_variance.sqrt();
    let difference = treatment.mean - control.mean;
    let t = difference / se;
    let df = difference_variance.powi(2) / (vt.powi(2) / (nt - 1.0) + vc.powi(2) / (nc - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|e| invalid(e.to_string()))?;
    let p_value = 2.0 * dist.sf(t.abs());
    let t_crit = dist.inverse_cdf(0.5 + confidence / 2.0);
    Ok(MeanComparison {
        control_mean: control.mean,
        treatment_mean: treatment.mean,
        difference,
        difference_ci: (difference - t_crit * se, difference + t_crit * se),
        relative_lift: (control.mean != 0.0).then(|| difference / control.mean),
        t,
        df,
        p_value,
        difference_variance,
    })
}

/// CUPED-adjusted metric moments per variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Cuped {
    /// `θ = cov(Y, X) / var(X)` over all units (0 when X has no variance).
    pub theta: f64,
    /// Share of the metric's variance removed, `1 − var(Y_adj)/var(Y)` over all units.
    pub variance_reduction: f64,
    /// Moments of `Y_adj = Y − θ·(X − mean(X))` per variant index.
    pub adjusted: Vec<Moments>,
}

/// One unit's observation for CUPED: its variant index, the metric `y` after exposure and the
/// covariate `x` measured before exposure (usually the same metric in a pre-period).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CupedUnit {
    /// Variant index, `0..variants`.
    pub variant: usize,
    /// Metric value after exposure.
    pub y: f64,
    /// Pre-exposure covariate.
    pub x: f64,
}

/// CUPED variance reduction (Deng, Xu, Kohavi, Walker, "Improving the Sensitivity of Online
/// Controlled Experiments by Utilizing Pre-Experiment Data", WSDM 2013, §3.2): one θ pooled over
/// all variants, so the adjustment is unbiased for the difference of means. Compare the
/// adjusted moments with [`welch_t_test`].
///
/// # Errors
/// [`StatsError::Invalid`] for a variant index out of range; [`StatsError::NotEnoughData`] for
/// fewer than two units.
pub fn cuped(units: &[CupedUnit], variants: usize) -> Result<Cuped, StatsError> {
    if units.len() < 2 {
        return Err(not_enough("CUPED needs at least two units"));
    }
    if let Some(u) = units.iter().find(|u| u.variant >= variants) {
        return Err(invalid(format!(
            "variant index {} out of range 0..{variants}",
            u.variant
        )));
    }
    #[allow(clippy::cast_precision_loss)]
    let n = units.len() as f64;
    let mean_x = units.iter().map(|u| u.x).sum::<f64>() / n;
    let mean_y = units.iter().map(|u| u.y).sum::<f64>() / n;
    let (mut cov, mut var_x) = (0.0, 0.0);
    for u in units {
        cov += (u.x - mean_x) * (u.y - mean_y);
        var_x += (u.x - mean_x).powi(2);
    }
    let theta = if var_x > 0.0 { cov / var_x } else { 0.0 };
    let mut adjusted = vec![Moments::default(); variants];
    let (mut all_y, mut all_adj) = (Moments::default(), Moments::default());
    for u in units {
        let y_adj = u.y - theta * (u.x - mean_x);
        if let Some(m) = adjusted.get_mut(u.variant) {
            m.push(y_adj);
        }
        all_y.push(u.y);
        all_adj.push(y_adj);
    }
    let variance_reduction = if all_y.variance() > 0.0 {
        1.0 - all_adj.variance() / all_y.variance()
    } else {
        0.0
    };
    Ok(Cuped {
        theta,
        variance_reduction,
        adjusted,
    })
}

/// Always-valid p-value of the mixture sequential probability ratio test (mSPRT) for a
/// difference of means with a normal mixing distribution N(0, τ²), after Johari, Pekelis,
/// Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (Operations Research,
/// 2022), eq. (11) for two-sample normal data:
///
/// `Λ = sqrt(V / (V + τ²)) · exp(τ² · d² / (2 · V · (V + τ²)))`, `p = min(1, 1/Λ)`,
///
/// where `d` is the observed difference and `V` its variance ([`MeanComparison::
/// difference_variance`]). Over repeated looks the always-valid p-value is the running minimum
/// of these values: stopping whenever it falls below α keeps the false-positive rate ≤ α.
///
/// # Errors
/// [`StatsError::Invalid`] when `variance` or `tau_squared` is not positive and finite.
pub fn msprt_p_value(difference: f64, variance: f64, tau_squared: f64) -> Result<f64, StatsError> {
    if !(variance > 0.0 && variance.is_finite() && tau_squared > 0.0 && tau_squared.is_finite()) {
        return Err(invalid(
            "mSPRT needs a positive, finite variance and mixing variance",
        ));
    }
    let s = variance + tau_squared;
    let log_lambda =
        0.5 * (variance / s).ln() + tau_squared * difference.powi(2) / (2.0 * variance * s);
    Ok((-log_lambda).exp().min(1.0))
}
