//! The experiment statistics against values computed by scipy / statsmodels
//! (`tests/golden/make_stats_golden.py` wrote `tests/golden/stats.json`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use burgee_server::analysis::stats::{
    Conversions, CupedUnit, Moments, StatsError, compare_conversions, conversion_independence,
    cuped, msprt_p_value, sample_ratio_mismatch, welch_t_test,
};
use serde_json::Value;

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/golden/stats.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Relative tolerance 1e-9 (absolute 1e-12 near zero): the formulas are the same, only
/// floating-point summation order and the distributions' numerics differ.
fn close(what: &str, got: f64, want: &Value) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {want} is not a number"));
    let tol = 1e-9 * want.abs().max(1e-3);
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want}");
}

fn conversions(v: &Value) -> Conversions {
    serde_json::from_value(v.clone()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn sample_ratio_mismatch_matches_scipy_chisquare() {
    for c in golden()["srm"].as_array().unwrap() {
        let observed: Vec<u64> = c["observed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let weights: Vec<u32> = c["weights_bp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| u32::try_from(v.as_u64().unwrap()).unwrap())
            .collect();
        let r = sample_ratio_mismatch(&observed, &weights).unwrap();
        close("chi_square", r.chi_square, &c["chi_square"]);
        close("p_value", r.p_value, &c["p_value"]);
        assert_eq!(u64::from(r.df), c["df"].as_u64().unwrap());
    }
}

#[test]
fn sample_ratio_mismatch_edge_cases() {
    let r = sample_ratio_mismatch(&[10, 0, 3], &[5000, 5000, 0]).unwrap();
    assert!(r.chi_square.is_infinite());
    assert_eq!(r.p_value, 0.0);
    assert!(matches!(
        sample_ratio_mismatch(&[1, 2], &[10000]),
        Err(StatsError::Invalid(_))
    ));
    assert!(matches!(
        sample_ratio_mismatch(&[0, 0], &[5000, 5000]),
        Err(StatsError::NotEnoughData(_))
    ));
    assert!(matches!(
        sample_ratio_mismatch(&[5, 5], &[10000, 0]),
        Err(StatsError::Invalid(_))
    ));
}

#[test]
fn conversion_comparison_matches_statsmodels() {
    for c in golden()["conversions"].as_array().unwrap() {
        let r = compare_conversions(
            conversions(&c["control"]),
            conversions(&c["treatment"]),
            c["confidence"].as_f64().unwrap(),
        )
        .unwrap();
        close("z", r.z, &c["z"]);
        close("p_value", r.p_value, &c["p_value"]);
        close("difference", r.difference, &c["difference"]);
        let ci = numbers(&c["difference_ci"]);
        close("difference_ci.0", r.difference_ci.0, &ci[0].into());
        close("difference_ci.1", r.difference_ci.1, &ci[1].into());
        close(
            "relative_lift",
            r.relative_lift.unwrap(),
            &c["relative_lift"],
        );
        let rci = numbers(&c["relative_lift_ci"]);
        let got = r.relative_lift_ci.unwrap();
        close("relative_lift_ci.0", got.0, &rci[0].into());
        close("relative_lift_ci.1", got.1, &rci[1].into());
    }
}

#[test]
fn conversion_errors_name_the_problem() {
    let ok = Conversions {
        units: 10,
        conversions: 1,
    };
    assert!(matches!(
        compare_conversions(
            Conversions {
                units: 5,
                conversions: 6
            },
            ok,
            0.95
        ),
        Err(StatsError::Invalid(_))
    ));
    assert!(matches!(
        compare_conversions(
            Conversions {
                units: 0,
                conversions: 0
            },
            ok,
            0.95
        ),
        Err(StatsError::NotEnoughData(_))
    ));
    assert!(matches!(
        compare_conversions(ok, ok, 1.0),
        Err(StatsError::Invalid(_))
    ));
    let none = Conversions {
        units: 10,
        conversions: 0,
    };
    assert!(matches!(
        compare_conversions(none, none, 0.95),
        Err(StatsError::NotEnoughData(_))
    ));
}

#[test]
fn independence_matches_scipy_chi2_contingency() {
    for c in golden()["independence"].as_array().unwrap() {
        let variants: Vec<Conversions> = c["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(conversions)
            .collect();
        let r = conversion_independence(&variants).unwrap();
        close("chi_square", r.chi_square, &c["chi_square"]);
        close("p_value", r.p_value, &c["p_value"]);
        assert_eq!(u64::from(r.df), c["df"].as_u64().unwrap());
    }
}

#[test]
fn welch_matches_scipy_ttest_ind_and_msprt_the_formula() {
    for c in golden()["welch"].as_array().unwrap() {
        let control = Moments::of(numbers(&c["control"]));
        let treatment = Moments::of(numbers(&c["treatment"]));
        let r = welch_t_test(&control, &treatment, c["confidence"].as_f64().unwrap()).unwrap();
        let name = c["name"].as_str().unwrap();
        close(&format!("{name}: t"), r.t, &c["t"]);
        close(&format!("{name}: df"), r.df, &c["df"]);
        close(&format!("{name}: p"), r.p_value, &c["p_value"]);
        close(
            &format!("{name}: difference"),
            r.difference,
            &c["difference"],
        );
        let ci = numbers(&c["difference_ci"]);
        close(&format!("{name}: ci.0"), r.difference_ci.0, &ci[0].into());
        close(&format!("{name}: ci.1"), r.difference_ci.1, &ci[1].into());
        close(
            &format!("{name}: variance"),
            r.difference_variance,
            &c["difference_variance"],
        );
        let p = msprt_p_value(
            r.difference,
            r.difference_variance,
            c["msprt_tau_squared"].as_f64().unwrap(),
        )
        .unwrap();
        close(&format!("{name}: msprt"), p, &c["msprt_p_value"]);
    }
}

#[test]
fn welch_needs_two_values_and_variance() {
    let one = Moments::of([1.0]);
    let two = Moments::of([1.0, 2.0]);
    assert!(matches!(
        welch_t_test(&one, &two, 0.95),
        Err(StatsError::NotEnoughData(_))
    ));
    let flat = Moments::of([3.0, 3.0, 3.0]);
    assert!(matches!(
        welch_t_test(&flat, &flat, 0.95),
        Err(StatsError::NotEnoughData(_))
    ));
}

#[test]
fn cuped_matches_numpy_and_scipy() {
    for c in golden()["cuped"].as_array().unwrap() {
        let units: Vec<CupedUnit> = serde_json::from_value(c["units"].clone()).unwrap();
        let r = cuped(&units, 2).unwrap();
        close("theta", r.theta, &c["theta"]);
        close(
            "variance_reduction",
            r.variance_reduction,
            &c["variance_reduction"],
        );
        for v in 0..2 {
            close("adjusted mean", r.adjusted[v].mean, &c["adjusted_means"][v]);
            close(
                "adjusted variance",
                r.adjusted[v].variance(),
                &c["adjusted_variances"][v],
            );
        }
        let w = welch_t_test(&r.adjusted[0], &r.adjusted[1], 0.95).unwrap();
        close("welch t", w.t, &c["welch_t"]);
        close("welch p", w.p_value, &c["welch_p_value"]);
        // The covariate explains most of the variance here, so CUPED must narrow the interval.
        let raw = welch_t_test(
            &Moments::of(units.iter().filter(|u| u.variant == 0).map(|u| u.y)),
            &Moments::of(units.iter().filter(|u| u.variant == 1).map(|u| u.y)),
            0.95,
        )
        .unwrap();
        assert!(w.difference_ci.1 - w.difference_ci.0 < raw.difference_ci.1 - raw.difference_ci.0);
    }
}

#[test]
fn msprt_is_conservative_without_evidence_and_checks_inputs() {
    assert_eq!(msprt_p_value(0.0, 1.0, 1.0).unwrap(), 1.0);
    assert!(msprt_p_value(10.0, 1.0, 1.0).unwrap() < 1e-6);
    assert!(matches!(
        msprt_p_value(1.0, 0.0, 1.0),
        Err(StatsError::Invalid(_))
    ));
    assert!(matches!(
        msprt_p_value(1.0, 1.0, f64::NAN),
        Err(StatsError::Invalid(_))
    ));
}
