//! Catalog documents and client-side balancing (`spec/CATALOG.md`): the signed fixtures of
//! `spec/vectors/catalog/` and the balancing sequences of `balance.json`, both made by an
//! independent Python implementation, replayed through `CatalogDocument::load` and `Balancer`.

// Test code: a failed expectation should abort loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use burgee_core::catalog::Circuit;
use burgee_core::{
    Balancer, CatalogDocument, CatalogDocumentDef, Choice, Held, LoadError, LoadOptions, Outcome,
    Strategy, TrustedKey,
};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/catalog")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_case(case: &Value) -> Result<CatalogDocument, LoadError> {
    let bytes = fs::read(dir().join(case["file"].as_str().unwrap())).unwrap();
    let keys: Vec<TrustedKey> = case["trusted_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| TrustedKey::from_base64(k.as_str().unwrap()).unwrap())
        .collect();
    let mut opts = LoadOptions::new(
        &keys,
        case["environment"].as_str().unwrap(),
        case["now"].as_u64().unwrap(),
    );
    opts.project = case.get("project").map(|p| p.as_str().unwrap());
    let digest = case
        .get("held_digest")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(version) = case.get("held_version").and_then(Value::as_u64) {
        opts.held = Some(Held { version, digest });
    }
    if let Some(max) = case.get("max_envelope_bytes").and_then(Value::as_u64) {
        opts.max_envelope_bytes = usize::try_from(max).unwrap();
    }
    CatalogDocument::load(&bytes, &opts)
}

#[test]
fn catalog_fixture_vectors() {
    let manifest = read_json(&dir().join("manifest.json"));
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = format!("{} ({})", case["file"], case["expected"]);
        let expected = case["expected"].as_str().unwrap();
        match (load_case(case), expected) {
            (Ok(doc), "OK") => {
                let info = doc.info();
                if Some(info.version) != case["version"].as_u64()
                    || info.digest.as_deref() != case["digest"].as_str()
                {
                    failures.push(format!("{name}: version/digest {info:?}"));
                }
                let want = case["services"].as_object().unwrap();
                let got: Vec<&str> = doc.services().collect();
                let want_names: Vec<&str> = want.keys().map(String::as_str).collect();
                if got != want_names {
                    failures.push(format!("{name}: services {got:?}"));
                }
                for (service, ids) in want {
                    let got: Vec<&str> = doc
                        .instances(service)
                        .iter()
                        .map(|i| i.id.as_str())
                        .collect();
                    let want: Vec<&str> = ids
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    if got != want {
                        failures.push(format!("{name}: {service} has {got:?}"));
                    }
                }
            }
            (Ok(_), _) => failures.push(format!("{name}: loaded")),
            (Err(e), "OK") => failures.push(format!("{name}: {e}")),
            (Err(e), code) => {
                if e.code().as_str() != code {
                    failures.push(format!("{name}: got {} ({e})", e.code().as_str()));
                } else if let (Some(path), LoadError::Invalid { path: got, .. }) =
                    (case.get("path").and_then(Value::as_str), &e)
                    && path != got
                {
                    failures.push(format!("{name}: path {got}, expected {path}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn strategy(name: &str) -> Strategy {
    match name {
        "round_robin" => Strategy::RoundRobin,
        "weighted_random" => Strategy::WeightedRandom,
        "least_request" => Strategy::LeastRequest,
        "consistent_hash" => Strategy::ConsistentHash,
        other => panic!("unknown strategy {other}"),
    }
}

fn circuit_json(c: Option<(Circuit, u32)>) -> Value {
    let Some((circuit, outstanding)) = c else {
        return Value::Null;
    };
    let mut v = match circuit {
        Circuit::Closed => serde_json::json!({"state": "closed"}),
        Circuit::Open { until } => serde_json::json!({"state": "open", "until": until}),
        Circuit::HalfOpen { probing } => {
            serde_json::json!({"state": "half_open", "probing": probing})
        }
    };
    v["outstanding"] = outstanding.into();
    v
}

#[test]
fn balancing_sequences() {
    let vectors = read_json(&dir().join("balance.json"));
    let def: CatalogDocumentDef = serde_json::from_value(vectors["catalog"].clone()).unwrap();
    let catalog = CatalogDocument::compile(&def, None).unwrap();
    let mut steps = 0;
    for seq in vectors["sequences"].as_array().unwrap() {
        let name = seq["name"].as_str().unwrap();
        let mut b = Balancer::default();
        for (n, step) in seq["steps"].as_array().unwrap().iter().enumerate() {
            let service = step["service"].as_str().unwrap();
            let now = step["now"].as_u64().unwrap();
            let at = format!("{name} step {n}: {step}");
            match step["op"].as_str().unwrap() {
                "choose" => {
                    let exclude: Vec<&str> = step
                        .get("exclude")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
                        .unwrap_or_default();
                    let choice = Choice {
                        strategy: strategy(step["strategy"].as_str().unwrap()),
                        key: step.get("key").and_then(Value::as_str),
                        exclude: &exclude,
                    };
                    let random = step["random"].as_u64().unwrap();
                    let got = b
                        .choose(&catalog, service, &choice, random, now)
                        .map(|i| i.id.as_str());
                    assert_eq!(got, step["expected"].as_str(), "{at}");
                }
                "report" => {
                    let outcome = match step["outcome"].as_str().unwrap() {
                        "success" => Outcome::Success,
                        "failure" => Outcome::Failure,
                        _ => Outcome::Cancelled,
                    };
                    b.report(service, step["id"].as_str().unwrap(), outcome, now);
                }
                "circuit" => {
                    let got = circuit_json(b.circuit(service, step["id"].as_str().unwrap(), now));
                    assert_eq!(got, step["expected"], "{at}");
                }
                other => panic!("unknown op {other}"),
            }
            steps += 1;
        }
    }
    assert!(steps >= 400, "{steps} steps");
}
