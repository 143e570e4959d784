//! The catalog suites (`spec/CATALOG.md`): signed catalog documents (`catalog/manifest.json`)
//! and balancing sequences (`catalog/balance.json`) replayed on a fresh `Balancer` each.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::vec::Vec;

use burgee_core::catalog::Circuit;
use burgee_core::{Balancer, CatalogDocument, CatalogDocumentDef, Choice, Outcome, Strategy};
use serde_json::{Map, Value, json};

use crate::{RequestError, array_at, load_error, member, str_at, u64_at, with_options};

/// One manifest case: the load error, or the version, digest and every service's instance ids.
pub(crate) fn catalog_case(i: usize, case: &Value, files: &Value) -> Result<Value, RequestError> {
    with_options(i, case, files, |bytes, opts| {
        let doc = match CatalogDocument::load(bytes, opts) {
            Ok(doc) => doc,
            Err(e) => return Ok(json!({ "load_error": load_error(&e) })),
        };
        let services: Map<_, _> = doc
            .services()
            .map(|s| {
                let ids: Vec<&str> = doc.instances(s).iter().map(|i| i.id.as_str()).collect();
                (s.to_owned(), json!(ids))
            })
            .collect();
        let info = doc.info();
        Ok(
            json!({"loaded": {"version": info.version, "digest": info.digest,
            "services": services}}),
        )
    })
}

/// Every sequence of `balance.json`: per step, what `choose` returned (an id or `null`), what
/// `circuit` showed, or `null` for a report.
pub(crate) fn balance_file(document: &Value) -> Result<Value, RequestError> {
    let def: CatalogDocumentDef =
        serde_json::from_value(member(document, "catalog", "document")?.clone()).map_err(|_| {
            RequestError::Shape {
                at: "document.catalog".to_owned(),
                expected: "a catalog document",
            }
        })?;
    let catalog = match CatalogDocument::compile(&def, None) {
        Ok(c) => c,
        Err(e) => return Ok(json!({ "load_error": load_error(&e) })),
    };
    let mut out = Vec::new();
    let sequences = array_at(
        member(document, "sequences", "document")?,
        "document.sequences",
    )?;
    for (s, seq) in sequences.iter().enumerate() {
        let at = format!("document.sequences[{s}]");
        let mut b = Balancer::default();
        let mut steps = Vec::new();
        for (n, step) in array_at(member(seq, "steps", &at)?, &format!("{at}.steps"))?
            .iter()
            .enumerate()
        {
            steps.push(balance_step(
                &catalog,
                &mut b,
                step,
                &format!("{at}.steps[{n}]"),
            )?);
        }
        out.push(json!({ "steps": steps }));
    }
    Ok(Value::Array(out))
}

fn balance_step(
    catalog: &CatalogDocument,
    b: &mut Balancer,
    step: &Value,
    at: &str,
) -> Result<Value, RequestError> {
    let service = str_at(member(step, "service", at)?, &format!("{at}.service"))?;
    let now = u64_at(member(step, "now", at)?, &format!("{at}.now"))?;
    let shape = |field: &str, expected| RequestError::Shape {
        at: format!("{at}.{field}"),
        expected,
    };
    Ok(
        match str_at(member(step, "op", at)?, &format!("{at}.op"))? {
            "choose" => {
                let strategy =
                    match str_at(member(step, "strategy", at)?, &format!("{at}.strategy"))? {
                        "round_robin" => Strategy::RoundRobin,
                        "weighted_random" => Strategy::WeightedRandom,
                        "least_request" => Strategy::LeastRequest,
                        "consistent_hash" => Strategy::ConsistentHash,
                        _ => return Err(shape("strategy", "a strategy name")),
                    };
                let exclude: Vec<&str> = match step.get("exclude") {
                    Some(list) => array_at(list, &format!("{at}.exclude"))?
                        .iter()
                        .map(|v| str_at(v, &format!("{at}.exclude[]")))
                        .collect::<Result<_, _>>()?,
                    None => Vec::new(),
                };
                let key = step.get("key").and_then(Value::as_str);
                let random = u64_at(member(step, "random", at)?, &format!("{at}.random"))?;
                let choice = Choice {
                    strategy,
                    key,
                    exclude: &exclude,
                };
                b.choose(catalog, service, &choice, random, now)
                    .map_or(Value::Null, |i| json!(i.id))
            }
            "report" => {
                let outcome = match str_at(member(step, "outcome", at)?, &format!("{at}.outcome"))?
                {
                    "success" => Outcome::Success,
                    "failure" => Outcome::Failure,
                    "cancelled" => Outcome::Cancelled,
                    _ => return Err(shape("outcome", "success, failure or cancelled")),
                };
                let id = str_at(member(step, "id", at)?, &format!("{at}.id"))?;
                b.report(service, id, outcome, now);
                Value::Null
            }
            "circuit" => {
                let id = str_at(member(step, "id", at)?, &format!("{at}.id"))?;
                match b.circuit(service, id, now) {
                    None => Value::Null,
                    Some((circuit, outstanding)) => match circuit {
                        Circuit::Closed => json!({"state": "closed", "outstanding": outstanding}),
                        Circuit::Open { until } => {
                            json!({"state": "open", "until": until, "outstanding": outstanding})
                        }
                        Circuit::HalfOpen { probing } => json!({"state": "half_open",
                        "probing": probing, "outstanding": outstanding}),
                    },
                }
            }
            _ => return Err(shape("op", "choose, report or circuit")),
        },
    )
}
