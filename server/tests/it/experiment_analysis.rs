//! Experiment aggregation on small event sets whose results can be counted by hand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests

use burgee_server::analysis::experiment::{
    ExperimentConfig, MetricKind, MetricSpec, VariantWeight, analyse,
};
use burgee_server::events::log::StoredBatch;
use burgee_server::events::model::{Event, ExposureEvent, SdkInfo, TrackEvent};

const T0: u64 = 1_800_000_000_000;
const HOUR: u64 = 3_600_000;

fn exposure(unit: &str, variant: &str, time: u64) -> Event {
    Event::Exposure(ExposureEvent {
        flag: "checkout".into(),
        variant: variant.into(),
        reason: "SPLIT".into(),
        rule_id: None,
        targeting_key: unit.into(),
        snapshot_version: 1,
        snapshot_digest: format!("sha256:{}", "a".repeat(64)),
        time,
    })
}

fn track(unit: &str, key: &str, value: Option<f64>, time: u64) -> Event {
    Event::Track(TrackEvent {
        key: key.into(),
        value,
        targeting_key: unit.into(),
        time,
        attributes: serde_json::Map::new(),
    })
}

fn batch(events: Vec<Event>) -> StoredBatch {
    StoredBatch {
        project: "webshop".into(),
        environment: "production".into(),
        batch_id: "batch-0001".into(),
        sdk: SdkInfo {
            name: "t".into(),
            version: "1".into(),
        },
        received_at: T0,
        events,
        rejected: 0,
    }
}

fn config() -> ExperimentConfig {
    serde_json::from_value(serde_json::json!({
        "flag": "checkout",
        "variants": [{"variant": "control", "weight": 5000}, {"variant": "treatment", "weight": 5000}],
        "primary_metric": {"key": "purchase", "kind": "conversion"},
        "guardrail_metrics": [{"key": "revenue", "kind": "sum"}, {"key": "latency", "kind": "mean"}]
    }))
    .unwrap()
}

#[test]
fn units_exposures_and_metrics_are_counted_as_specified() {
    let mut events = vec![
        // c1: three exposures inside one hour count once, a fourth after the window again.
        exposure("c1", "control", T0),
        exposure("c1", "control", T0 + 10),
        exposure("c1", "control", T0 + HOUR - 1),
        exposure("c1", "control", T0 + 2 * HOUR),
        exposure("c2", "control", T0),
        exposure("c3", "control", T0),
        exposure("c4", "control", T0),
        exposure("t1", "treatment", T0),
        exposure("t2", "treatment", T0),
        exposure("t3", "treatment", T0),
        exposure("t4", "treatment", T0),
        // m1 saw both variants: excluded everywhere.
        exposure("m1", "control", T0),
        exposure("m1", "treatment", T0 + 5),
        // Another flag and an unknown variant are ignored.
        exposure("t1", "ghost-variant", T0),
    ];
    events.push(Event::Exposure(ExposureEvent {
        flag: "other".into(),
        ..match exposure("c1", "control", T0) {
            Event::Exposure(e) => e,
            Event::Track(_) => unreachable!(),
        }
    }));
    events.extend([
        track("c1", "purchase", None, T0 + 100),
        track("c2", "purchase", None, T0 - 100), // before exposure: not a conversion
        track("t1", "purchase", None, T0 + 1),
        track("t2", "purchase", None, T0 + 1),
        track("t2", "purchase", None, T0 + 2),
        track("t3", "purchase", None, T0 + 1),
        track("m1", "purchase", None, T0 + 1),
        track("c1", "revenue", Some(10.0), T0 + 1),
        track("c2", "revenue", Some(30.0), T0 + 1),
        track("c2", "revenue", Some(5.0), T0 - 1), // pre-exposure: CUPED covariate only
        track("t1", "revenue", Some(20.0), T0 + 1),
        track("t2", "revenue", Some(40.0), T0 + 1),
        track("t3", "revenue", Some(15.0), T0 + 1),
        track("t3", "revenue", Some(15.0), T0 + 2),
        track("c1", "latency", Some(100.0), T0 + 1),
        track("c1", "latency", Some(200.0), T0 + 2),
        track("c3", "latency", Some(300.0), T0 + 1),
        track("t1", "latency", Some(120.0), T0 + 1),
        track("t4", "latency", Some(80.0), T0 + 1),
    ]);
    let batches = [batch(events)];
    let r = analyse(&config(), "production", &batches).unwrap();

    assert_eq!(r.exposures_raw, 14); // every exposure to this flag, unknown variant included
    assert_eq!(r.units_excluded, 1);
    assert_eq!((r.variants[0].units, r.variants[1].units), (4, 4));
    // control: c1 ×2 (window), c2, c3, c4, m1 ; treatment: t1..t4, m1
    assert_eq!((r.variants[0].exposures, r.variants[1].exposures), (6, 5));
    let srm = r.srm.as_ref().unwrap();
    assert!((srm.p_value - 1.0).abs() < 1e-12);
    assert!(!r.srm_alarm);

    let purchase = &r.metrics[0];
    assert_eq!(
        (purchase.role, purchase.kind),
        ("primary", MetricKind::Conversion)
    );
    assert_eq!(purchase.variants[0].conversions, Some(1));
    assert_eq!(purchase.variants[1].conversions, Some(3));
    assert!((purchase.variants[0].mean - 0.25).abs() < 1e-12);
    assert!((purchase.comparisons[0].difference - 0.5).abs() < 1e-12);
    assert!(purchase.overall.is_some());

    let revenue = &r.metrics[1];
    // control sums: 10, 30, 0, 0 → mean 10; treatment: 20, 40, 30, 0 → mean 22.5
    assert!((revenue.variants[0].mean - 10.0).abs() < 1e-12);
    assert!((revenue.variants[1].mean - 22.5).abs() < 1e-12);
    assert!((revenue.comparisons[0].difference - 12.5).abs() < 1e-12);
    assert!(
        revenue.comparisons[0].cuped.is_some(),
        "c2 has pre-exposure revenue"
    );

    let latency = &r.metrics[2];
    // Only units with values: control c1 (150), c3 (300); treatment t1 (120), t4 (80).
    assert_eq!(
        (latency.variants[0].units, latency.variants[1].units),
        (2, 2)
    );
    assert!((latency.variants[0].mean - 225.0).abs() < 1e-12);
    assert!((latency.variants[1].mean - 100.0).abs() < 1e-12);
    assert!(
        latency.comparisons[0].cuped.is_none(),
        "no pre-exposure latency"
    );
}

#[test]
fn a_broken_split_raises_the_srm_alarm() {
    let mut events = Vec::new();
    for i in 0..1000 {
        events.push(exposure(&format!("c{i}"), "control", T0));
    }
    for i in 0..800 {
        events.push(exposure(&format!("t{i}"), "treatment", T0));
    }
    let r = analyse(&config(), "production", &[batch(events)]).unwrap();
    assert!(r.srm_alarm, "{:?}", r.srm);
    // Nobody converted: the conversion test cannot run, and says why.
    assert!(r.metrics[0].comparisons.is_empty());
    assert!(
        r.metrics[0]
            .note
            .as_deref()
            .unwrap()
            .contains("not enough data")
    );
}

#[test]
fn configs_are_checked() {
    let mut c = config();
    c.variants.truncate(1);
    assert!(analyse(&c, "production", &[]).is_err());
    let mut c = config();
    c.spec.confidence = 1.5;
    assert!(analyse(&c, "production", &[]).is_err());
    let empty = analyse(&config(), "production", &[]).unwrap();
    assert!(empty.srm.is_none());
    assert_eq!(empty.variants[0].units, 0);
    let _ = MetricSpec {
        key: "k".into(),
        kind: MetricKind::Sum,
    };
    let _ = VariantWeight {
        variant: "v".into(),
        weight: 1,
    };
}

#[test]
fn the_timeline_repeats_the_analysis_as_of_each_instant() {
    // Ten batches an hour apart, 40 units each, the treatment converting twice as often.
    let batches: Vec<StoredBatch> = (0..10u64)
        .map(|h| {
            let mut events = Vec::new();
            for i in 0..40u64 {
                let unit = format!("u{h}-{i}");
                let (variant, converts) = if i % 2 == 0 {
                    ("control", i % 10 == 0)
                } else {
                    ("treatment", i % 5 == 1)
                };
                let at = T0 + h * HOUR;
                events.push(exposure(&unit, variant, at));
                if converts {
                    events.push(track(&unit, "purchase", None, at + 1));
                }
            }
            StoredBatch {
                batch_id: format!("batch-{h:04}"),
                received_at: T0 + h * HOUR,
                ..batch(events)
            }
        })
        .collect();
    let config = config();
    let points =
        burgee_server::analysis::timeline::timeline(&config, "production", &batches, 5).unwrap();
    // Instants evenly spaced from the first to the last batch (9 hours).
    let at: Vec<u64> = points.iter().map(|p| p.at).collect();
    assert_eq!(
        at,
        (1..=5u64)
            .map(|i| T0 + 9 * HOUR * i / 5)
            .collect::<Vec<_>>()
    );
    // Units grow with the batches received by then (40 each).
    let units: Vec<u64> = points.iter().map(|p| p.units).collect();
    let expected: Vec<u64> = at
        .iter()
        .map(|t| 40 * batches.iter().filter(|b| b.received_at <= *t).count() as u64)
        .collect();
    assert_eq!(units, expected);
    // The last point is the full analysis.
    let full = analyse(&config, "production", &batches).unwrap();
    let last = points.last().unwrap();
    let purchase = &full.metrics[0].comparisons[0];
    let at_end = last
        .comparisons
        .iter()
        .find(|c| c.metric == "purchase" && c.variant == "treatment")
        .unwrap();
    assert_eq!(at_end.sequential_p_value, purchase.sequential_p_value);
    assert_eq!(at_end.p_value, purchase.p_value);
    // Each point is the analysis of its prefix.
    let prefix: Vec<&StoredBatch> = batches.iter().filter(|b| b.received_at <= at[1]).collect();
    let partial = analyse(&config, "production", prefix.iter().copied()).unwrap();
    let second = points[1]
        .comparisons
        .iter()
        .find(|c| c.metric == "purchase")
        .unwrap();
    assert_eq!(second.p_value, partial.metrics[0].comparisons[0].p_value);
    // No batches, no points; at most MAX_POINTS.
    assert!(
        burgee_server::analysis::timeline::timeline(&config, "production", &[], 5)
            .unwrap()
            .is_empty()
    );
    let many =
        burgee_server::analysis::timeline::timeline(&config, "production", &batches, 1000).unwrap();
    assert!(many.len() <= burgee_server::analysis::timeline::MAX_POINTS);
}
