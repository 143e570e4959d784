#!/usr/bin/env python3
"""Writes stats.json: fixed experiment datasets and the statistics scipy / statsmodels compute
for them. The Rust analysis module is tested against this file (tests/it/stats_golden.rs).

Re-run only when adding cases: `python3 make_stats_golden.py` (needs numpy, scipy, statsmodels).
Versions used are recorded in the output.
"""
import json
import pathlib

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

OUT = pathlib.Path(__file__).with_name("stats.json")
rng = np.random.default_rng(20261121)


def srm_cases():
    cases = []
    for observed, weights in [
        ([5000, 5000], [5000, 5000]),
        ([5100, 4900], [5000, 5000]),
        ([5400, 4600], [5000, 5000]),
        ([3400, 3300, 3300], [3334, 3333, 3333]),
        ([2050, 7950], [2000, 8000]),
        ([120, 95, 101, 88], [2500, 2500, 2500, 2500]),
    ]:
        total = sum(observed)
        expected = [total * w / sum(weights) for w in weights]
        r = stats.chisquare(observed, f_exp=expected)
        cases.append({"observed": observed, "weights_bp": weights,
                      "chi_square": float(r.statistic), "df": len(observed) - 1, "p_value": float(r.pvalue)})
    return cases


def conversion_cases():
    cases = []
    for (nc, xc), (nt, xt) in [((1000, 100), (1000, 120)), ((50000, 2500), (50000, 2650)),
                               ((20, 3), (25, 9)), ((8000, 800), (7900, 760))]:
        z, p = proportions_ztest([xt, xc], [nt, nc])
        lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", alpha=0.05)
        pc, pt = xc / nc, xt / nt
        lift = (pt - pc) / pc
        se_ratio = np.sqrt(pt * (1 - pt) / nt / pc**2 + pt**2 * (pc * (1 - pc) / nc) / pc**4)
        zc = stats.norm.ppf(0.975)
        cases.append({"control": {"units": nc, "conversions": xc}, "treatment": {"units": nt, "conversions": xt},
                      "confidence": 0.95, "z": float(z), "p_value": float(p), "difference": pt - pc,
                      "difference_ci": [float(lo), float(hi)], "relative_lift": lift,
                      "relative_lift_ci": [float(lift - zc * se_ratio), float(lift + zc * se_ratio)]})
    return cases


def independence_cases():
    cases = []
    for variants in [[(1000, 100), (1000, 120)], [(3000, 310), (3000, 290), (3000, 360)],
                     [(500, 50), (520, 49), (480, 70), (510, 51)]]:
        table = [[x, n - x] for n, x in variants]
        r = stats.chi2_contingency(table, correction=False)
        cases.append({"variants": [{"units": n, "conversions": x} for n, x in variants],
                      "chi_square": float(r.statistic), "df": int(r.dof), "p_value": float(r.pvalue)})
    return cases


def welch_cases():
    cases = []
    for name, control, treatment in [
        ("normal, small effect", rng.normal(50.0, 10.0, 200), rng.normal(52.0, 12.0, 250)),
        ("lognormal revenue", rng.lognormal(3.0, 1.0, 300), rng.lognormal(3.1, 1.1, 280)),
        ("tiny samples", rng.normal(1.0, 1.0, 3), rng.normal(1.5, 2.0, 4)),
    ]:
        control = [round(float(v), 6) for v in control]
        treatment = [round(float(v), 6) for v in treatment]
        r = stats.ttest_ind(treatment, control, equal_var=False)
        ci = r.confidence_interval(0.95)
        var = np.var(treatment, ddof=1) / len(treatment) + np.var(control, ddof=1) / len(control)
        diff = float(np.mean(treatment) - np.mean(control))
        tau2 = 1.0
        lam = np.sqrt(var / (var + tau2)) * np.exp(tau2 * diff**2 / (2 * var * (var + tau2)))
        cases.append({"name": name, "control": control, "treatment": treatment, "confidence": 0.95,
                      "t": float(r.statistic), "df": float(r.df), "p_value": float(r.pvalue),
                      "difference": diff, "difference_ci": [float(ci.low), float(ci.high)],
                      "difference_variance": float(var), "msprt_tau_squared": tau2,
                      "msprt_p_value": float(min(1.0, 1.0 / lam))})
    return cases


def cuped_cases():
    n = 400
    variant = rng.integers(0, 2, n)
    x = rng.normal(10.0, 2.0, n)
    y = 2.0 + 0.8 * x + rng.normal(0.0, 1.0, n) + 0.3 * variant
    x = np.round(x, 6)
    y = np.round(y, 6)
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(x, ddof=1)
    y_adj = y - theta * (x - x.mean())
    adj = [y_adj[variant == v] for v in (0, 1)]
    r = stats.ttest_ind(adj[1], adj[0], equal_var=False)
    return [{"units": [{"variant": int(v), "y": float(a), "x": float(b)} for v, a, b in zip(variant, y, x)],
             "theta": float(theta), "variance_reduction": float(1 - np.var(y_adj, ddof=1) / np.var(y, ddof=1)),
             "adjusted_means": [float(a.mean()) for a in adj],
             "adjusted_variances": [float(np.var(a, ddof=1)) for a in adj],
             "welch_t": float(r.statistic), "welch_p_value": float(r.pvalue)}]


golden = {
    "generated_by": f"make_stats_golden.py with numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}",
    "srm": srm_cases(), "conversions": conversion_cases(), "independence": independence_cases(),
    "welch": welch_cases(), "cuped": cuped_cases(),
}
OUT.write_text(json.dumps(golden, indent=1) + "\n")
print(f"wrote {OUT}")
