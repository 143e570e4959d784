//! The readable table `burgee experiment results` prints, rendered from the JSON of
//! `GET /v1/projects/{project}/experiments/{flag}/results` (so the CLI prints exactly what the
//! API returned).

use std::fmt::Write as _;

use serde_json::Value;

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{:+.2}%", x * 100.0))
}

fn p_value(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(p) if p < 0.0001 => "<0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

fn interval(v: &Value, scale: f64) -> String {
    match (
        v.get(0).and_then(Value::as_f64),
        v.get(1).and_then(Value::as_f64),
    ) {
        (Some(lo), Some(hi)) => format!("[{:+.4}, {:+.4}]", lo * scale, hi * scale),
        _ => "-".into(),
    }
}

/// Renders results JSON as text: the split (units, exposures, SRM), then one table per metric
/// with each treatment against the control. Differences of conversion metrics are in
/// percentage points.
pub fn render(r: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let _ = writeln!(
        out,
        "Experiment {} in {}: {} exposures received, {} units excluded (saw several variants)",
        s(&r["flag"]),
        s(&r["environment"]),
        r["exposures_raw"],
        r["units_excluded"]
    );
    let srm = match r.pointer("/srm/p_value").and_then(Value::as_f64) {
        Some(p) if r["srm_alarm"].as_bool() == Some(true) => {
            format!(
                "SAMPLE RATIO MISMATCH (p = {}): the split is broken, do not trust the metrics",
                p_value(Some(p))
            )
        }
        Some(p) => format!("sample ratio ok (p = {})", p_value(Some(p))),
        None => "sample ratio not checked (no units yet)".into(),
    };
    let _ = writeln!(out, "{srm}\n");
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>10} {:>10}",
        "variant", "weight", "units", "exposures"
    );
    for v in r["variants"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<20} {:>7.2}% {:>10} {:>10}",
            s(&v["variant"]),
            num(&v["weight"]).unwrap_or(0.0) / 100.0,
            v["units"],
            v["exposures"]
        );
    }
    for m in r["metrics"].as_array().into_iter().flatten() {
        let conversion = m["kind"] == "conversion";
        let scale = if conversion { 100.0 } else { 1.0 };
        let _ = writeln!(
            out,
            "\n{} ({}, {})",
            s(&m["key"]),
            s(&m["kind"]),
            s(&m["role"])
        );
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>12} {:>12} {:>26} {:>9} {:>9} {:>12}",
            "variant",
            "units",
            if conversion { "rate" } else { "mean" },
            if conversion {
                "diff (pp)"
            } else {
                "difference"
            },
            "interval",
            "lift",
            "p",
            "always-valid"
        );
        let comparisons = m["comparisons"].as_array().cloned().unwrap_or_default();
        for v in m["variants"].as_array().into_iter().flatten() {
            let name = s(&v["variant"]);
            let mean = num(&v["mean"]).unwrap_or(f64::NAN);
            let value = if conversion {
                format!("{:.2}%", mean * 100.0)
            } else {
                format!("{mean:.4}")
            };
            let _ = write!(out, "{name:<20} {:>8} {value:>12}", v["units"]);
            if let Some(c) = comparisons.iter().find(|c| c["variant"] == v["variant"]) {
                let _ = write!(
                    out,
                    " {:>12} {:>26} {:>9} {:>9} {:>12}",
                    format!("{:+.4}", num(&c["difference"]).unwrap_or(f64::NAN) * scale),
                    interval(&c["difference_ci"], scale),
                    pct(num(&c["relative_lift"])),
                    p_value(num(&c["p_value"])),
                    p_value(num(&c["sequential_p_value"]))
                );
                if let Some(cu) = c.get("cuped").filter(|c| !c.is_null()) {
                    let _ = write!(
                        out,
                        "\n{:<20} {:>8} {:>12} {:>12} {:>26} {:>9} {:>9}   CUPED, variance -{:.0}%",
                        "",
                        "",
                        "",
                        format!("{:+.4}", num(&cu["difference"]).unwrap_or(f64::NAN)),
                        interval(&cu["difference_ci"], 1.0),
                        "",
                        p_value(num(&cu["p_value"])),
                        num(&cu["variance_reduction"]).unwrap_or(0.0) * 100.0
                    );
                }
            } else if comparisons.is_empty() || Some(v) == m.pointer("/variants/0") {
                let _ = write!(out, " {:>12}", "(control)");
            }
            out.push('\n');
        }
        if let Some(note) = m["note"].as_str() {
            let _ = writeln!(out, "note: {note}");
        }
    }
    out
}
