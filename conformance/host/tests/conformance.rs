//! Every file of `spec/vectors/` through `burgee-core` on wasm32 (the guest in wasmtime) and
//! natively (the same runner linked into this test): the two responses must be byte-identical,
//! and must match the expected values in the vector files, so a core that is consistently wrong
//! on both does not pass. Prints one line per file with its number of cases.
//!
//! Needs the guest: `BURGEE_CONFORMANCE_GUEST=<path of burgee_conformance_guest.wasm>`
//! (`scripts/test` builds it and sets the variable).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use burgee_conformance_host::{GUEST_ENV, GuestModule, VectorFile, vector_files};
use burgee_conformance_runner::{Suite, run};
use serde_json::Value;

fn main() -> ExitCode {
    match conformance() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failures) => {
            eprintln!("\nconformance: {} failure(s):", failures.len());
            for f in &failures {
                eprintln!("- {f}");
            }
            ExitCode::FAILURE
        }
    }
}

fn conformance() -> Result<(), Vec<String>> {
    let fail = |msg: String| vec![msg];
    let guest_path = guest_path().map_err(fail)?;
    let started = Instant::now();
    let module = GuestModule::from_file(&guest_path).map_err(|e| fail(e.to_string()))?;
    let size = std::fs::metadata(&guest_path).map_or(0, |m| m.len());
    println!(
        "guest {} ({} KiB), compiled by wasmtime in {}",
        guest_path.display(),
        size / 1024,
        ms(started.elapsed())
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors");
    let dir = dir
        .canonicalize()
        .map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let files = vector_files(&dir).map_err(|e| fail(e.to_string()))?;

    let mut failures = Vec::new();
    let mut total = 0;
    for suite in Suite::ALL {
        if !files.iter().any(|f| f.suite == suite) {
            failures.push(format!("no vector file of suite {}", suite.as_str()));
        }
    }
    for file in &files {
        let cases = case_count(file);
        total += cases;
        let started = Instant::now();
        let native = run(&file.request);
        let native_time = started.elapsed();
        let started = Instant::now();
        let guest = module.instantiate().and_then(|mut g| g.run(&file.request));
        let wasm_time = started.elapsed();
        let guest = match guest {
            Ok(bytes) => bytes,
            Err(e) => {
                failures.push(format!("{}: {e}", file.name));
                continue;
            }
        };
        let verdict = if guest != native {
            failures.push(format!(
                "{}: wasm32 and native responses differ: {}",
                file.name,
                first_difference(&guest, &native)
            ));
            "wasm32 != native".to_owned()
        } else {
            let problems = check(file, &guest);
            let verdict = if problems.is_empty() {
                "identical, as expected".to_owned()
            } else {
                format!("identical, {} NOT as expected", problems.len())
            };
            failures.extend(problems.into_iter().map(|p| format!("{}: {p}", file.name)));
            verdict
        };
        println!(
            "{:<42} {cases:>4} cases  native {:>9}  wasm32 {:>9}  {verdict}",
            file.name,
            ms(native_time),
            ms(wasm_time),
        );
    }
    println!("{} files, {total} cases", files.len());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

fn guest_path() -> Result<PathBuf, String> {
    let how = "build it with `cargo build -p burgee-conformance-guest --target \
               wasm32-unknown-unknown --release` and set it to \
               $CARGO_TARGET_DIR/wasm32-unknown-unknown/release/burgee_conformance_guest.wasm \
               (scripts/test does both)";
    let path = std::env::var_os(GUEST_ENV)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{GUEST_ENV} is not set: {how}"))?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{GUEST_ENV}={}: no such file: {how}",
            path.display()
        ))
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Where two responses first differ: the JSON path of the first differing value, or (when
/// they parse to equal JSON, e.g. numbers spelled differently) the first differing byte.
fn first_difference(guest: &[u8], native: &[u8]) -> String {
    let parsed = (
        serde_json::from_slice::<Value>(guest),
        serde_json::from_slice::<Value>(native),
    );
    if let (Ok(g), Ok(n)) = &parsed
        && let Some(at) = differing_value(g, n, String::new())
    {
        return at;
    }
    let at = guest
        .iter()
        .zip(native)
        .position(|(g, n)| g != n)
        .unwrap_or(guest.len().min(native.len()));
    let around = |bytes: &[u8]| {
        let start = at.saturating_sub(80);
        let end = (at + 80).min(bytes.len());
        String::from_utf8_lossy(bytes.get(start..end).unwrap_or_default()).into_owned()
    };
    format!(
        "at byte {at}: wasm32 …{}… native …{}…",
        around(guest),
        around(native)
    )
}

fn differing_value(guest: &Value, native: &Value, at: String) -> Option<String> {
    match (guest, native) {
        _ if guest == native => None,
        (Value::Object(g), Value::Object(n)) if g.keys().eq(n.keys()) => g
            .iter()
            .zip(n.values())
            .find_map(|((k, g), n)| differing_value(g, n, format!("{at}.{k}"))),
        (Value::Array(g), Value::Array(n)) if g.len() == n.len() => g
            .iter()
            .zip(n)
            .enumerate()
            .find_map(|(i, (g, n))| differing_value(g, n, format!("{at}[{i}]"))),
        _ => Some(format!("at {at}: wasm32 {guest}, native {native}")),
    }
}

fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Cases in a file: its `cases`; for `client-view`, the derivation and each refusal.
fn case_count(file: &VectorFile) -> usize {
    match file.suite {
        Suite::ClientView => 1 + list(&file.document, "refused").len(),
        Suite::Balance => list(&file.document, "sequences")
            .iter()
            .map(|s| list(s, "steps").len())
            .sum(),
        _ => list(&file.document, "cases").len(),
    }
}

/// Compares a response with the expectations in the vector file; one message per mismatch.
fn check(file: &VectorFile, response: &[u8]) -> Vec<String> {
    let response: Value = match serde_json::from_slice(response) {
        Ok(v) => v,
        Err(e) => return vec![format!("response is not JSON: {e}")],
    };
    let Some(observed) = response.get("observed") else {
        return vec![format!("the runner refused the request: {response}")];
    };
    if file.suite == Suite::ClientView {
        return check_client_view(&file.document, observed);
    }
    if file.suite == Suite::Balance {
        return check_balance(&file.document, observed);
    }
    let cases = file
        .document
        .get("cases")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if cases.is_empty() {
        return vec!["no cases".to_owned()];
    }
    let observed_cases = match file.suite {
        Suite::Eval => observed.get("cases"),
        _ => Some(observed),
    };
    let Some(observed_cases) = observed_cases.and_then(Value::as_array) else {
        return vec![format!("no per-case results: {observed}")];
    };
    if observed_cases.len() != cases.len() {
        return vec![format!(
            "{} results for {} cases",
            observed_cases.len(),
            cases.len()
        )];
    }
    let mut problems = Vec::new();
    for (i, (case, got)) in cases.iter().zip(observed_cases).enumerate() {
        let result = match file.suite {
            Suite::Eval => check_eval(case, got),
            Suite::InvalidSnapshots => check_invalid_snapshot(case, got),
            Suite::Bucketing => check_bucket(case, got),
            Suite::Envelopes => check_envelope(case, got),
            Suite::Config => check_config(case, got),
            Suite::Catalog => check_catalog(case, got),
            Suite::ClientView => Err("checked by check_client_view".to_owned()),
            Suite::Balance => Err("checked by check_balance".to_owned()),
            Suite::Contexts => check_context(case, got),
        };
        if let Err(why) = result {
            let name = ["name", "file"]
                .iter()
                .find_map(|k| case.get(*k).and_then(Value::as_str))
                .map_or_else(|| case.to_string(), |name| format!("{name:?}"));
            problems.push(format!("cases[{i}] {name}: {why}"));
        }
    }
    problems
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

const NULL: Value = Value::Null;

fn member<'v>(v: &'v Value, key: &str) -> &'v Value {
    v.get(key).unwrap_or(&NULL)
}

/// As `core/tests/vectors.rs`: value, variant, reason, rule id and error code as expected,
/// metadata when the case names it, and an error message exactly when there is an error.
fn check_eval(case: &Value, got: &Value) -> Result<(), String> {
    let Some(details) = got.get("details") else {
        return Err(format!("no details: {got}"));
    };
    let want = member(case, "expected");
    let mut fields = vec!["value", "variant", "reason", "rule_id", "error_code"];
    if want.get("metadata").is_some() {
        fields.push("metadata");
    }
    let as_expected = fields
        .iter()
        .all(|f| json_eq(member(details, f), member(want, f)));
    let explained =
        member(details, "error_code").is_null() == member(details, "error_message").is_null();
    if as_expected && explained {
        Ok(())
    } else {
        Err(format!("expected {want}, got {details}"))
    }
}

fn check_invalid_snapshot(case: &Value, got: &Value) -> Result<(), String> {
    let Some(error) = got.get("load_error") else {
        return Err(format!("loaded but must fail: {got}"));
    };
    let needle = member(case, "message_contains").as_str().unwrap_or("");
    let message = member(error, "message").as_str().unwrap_or("");
    if member(error, "code") == member(case, "error_code") && message.contains(needle) {
        Ok(())
    } else {
        Err(format!(
            "expected {} with a message containing {needle:?}, got {error}",
            member(case, "error_code")
        ))
    }
}

/// Read back as `expected`, or refused with the code and a message containing the needle.
fn check_context(case: &Value, got: &Value) -> Result<(), String> {
    match (
        case.get("expected"),
        got.get("context"),
        got.get("context_error"),
    ) {
        (Some(want), Some(ctx), _) if json_eq(ctx, want) => Ok(()),
        (None, _, Some(error)) => {
            let needle = member(case, "message_contains").as_str().unwrap_or("");
            let message = member(error, "message").as_str().unwrap_or("");
            if member(error, "code") == member(case, "error_code") && message.contains(needle) {
                Ok(())
            } else {
                Err(format!(
                    "expected {} with a message containing {needle:?}, got {error}",
                    member(case, "error_code")
                ))
            }
        }
        _ => Err(format!("expected {case}, got {got}")),
    }
}

fn check_bucket(case: &Value, got: &Value) -> Result<(), String> {
    let want = member(case, "bucket");
    if got.as_u64().is_some() && got.as_u64() == want.as_u64() {
        Ok(())
    } else {
        Err(format!("expected bucket {want}, got {got}"))
    }
}

/// The code expected, or for `OK` the version and digest, and the project and audience the
/// case asked for (`audience` absent = `server`).
fn check_envelope(case: &Value, got: &Value) -> Result<(), String> {
    let want = member(case, "expected");
    let ok = if want == "OK" {
        got.get("loaded").is_some_and(|info| {
            let audience = case
                .get("audience")
                .map_or("server", |a| a.as_str().unwrap_or(""));
            member(info, "version") == member(case, "version")
                && member(info, "digest") == member(case, "digest")
                && case
                    .get("project")
                    .is_none_or(|p| member(info, "project") == p)
                && member(info, "audience") == audience
        })
    } else {
        got.get("load_error")
            .is_some_and(|e| member(e, "code") == want)
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {want}, got {got}"))
    }
}

/// As `core/tests/config.rs`: the expected error code, or the version, digest and service of
/// the document and, for each instance, every entry's raw text, value and override.
fn check_config(case: &Value, got: &Value) -> Result<(), String> {
    let want = member(case, "expected");
    if want != "OK" {
        return if got
            .get("load_error")
            .is_some_and(|e| member(e, "code") == want)
        {
            Ok(())
        } else {
            Err(format!("expected {want}, got {got}"))
        };
    }
    let info = member(got, "loaded");
    if member(info, "version") != member(case, "version")
        || member(info, "digest") != member(case, "digest")
        || member(info, "service") != member(case, "service")
    {
        return Err(format!("expected OK {case}, got {got}"));
    }
    let observed = list(got, "instances");
    for (j, instance) in list(case, "instances").iter().enumerate() {
        let want = member(instance, "expected");
        let have = observed.get(j).unwrap_or(&NULL);
        if !json_eq(want, have) {
            return Err(format!("instances[{j}]: expected {want}, got {have}"));
        }
    }
    Ok(())
}

/// As `core/tests/catalog.rs`: the expected error code, or the version, digest and the
/// instance ids of every service.
fn check_catalog(case: &Value, got: &Value) -> Result<(), String> {
    let want = member(case, "expected");
    if want != "OK" {
        return if got
            .get("load_error")
            .is_some_and(|e| member(e, "code") == want)
        {
            Ok(())
        } else {
            Err(format!("expected {want}, got {got}"))
        };
    }
    let info = member(got, "loaded");
    if member(info, "version") != member(case, "version")
        || member(info, "digest") != member(case, "digest")
        || member(info, "services") != member(case, "services")
    {
        return Err(format!("expected OK {case}, got {got}"));
    }
    Ok(())
}

/// As `core/tests/catalog.rs`: every `choose` and `circuit` step's expectation.
fn check_balance(document: &Value, observed: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let got = observed.as_array().map_or(&[][..], Vec::as_slice);
    for (s, seq) in list(document, "sequences").iter().enumerate() {
        let steps = got.get(s).map_or(&[][..], |g| list(g, "steps"));
        for (n, step) in list(seq, "steps").iter().enumerate() {
            let have = steps.get(n).unwrap_or(&NULL);
            if member(step, "op") != "report" && member(step, "expected") != have {
                problems.push(format!(
                    "{} step {n}: {step}, got {have}",
                    member(seq, "name")
                ));
            }
        }
    }
    if list(document, "sequences").is_empty() {
        problems.push("no sequences".to_owned());
    }
    problems
}

/// As `core/tests/vectors.rs`: the derived client snapshot is exactly the document's `client`
/// and compiles as a `client` snapshot, deriving again from it is refused, and each of `refused`
/// fails with `SNAPSHOT_INVALID` at its `path` with a message containing `message_contains`.
fn check_client_view(document: &Value, observed: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let client = member(observed, "client");
    if member(client, "derived") != member(document, "client") {
        problems.push(format!(
            "derived client snapshot differs from the vector's: {client}"
        ));
    }
    let compiled = member(member(client, "compiled"), "loaded");
    if member(compiled, "audience") != "client" {
        problems.push(format!(
            "the client snapshot does not compile as one: {client}"
        ));
    }
    if member(member(client, "derived_again"), "load_error").is_null() {
        problems.push(format!("a client snapshot was derived again: {client}"));
    }
    let refused = list(document, "refused");
    let got = observed.get("refused").and_then(Value::as_array);
    if got.map(Vec::len) != Some(refused.len()) {
        problems.push(format!("{} refusals, observed {got:?}", refused.len()));
    }
    for (case, got) in refused.iter().zip(got.into_iter().flatten()) {
        let error = member(got, "load_error");
        let needle = member(case, "message_contains").as_str().unwrap_or("");
        let as_expected = member(error, "code") == "SNAPSHOT_INVALID"
            && member(error, "path") == member(case, "path")
            && member(error, "message")
                .as_str()
                .is_some_and(|m| m.contains(needle));
        if !as_expected {
            problems.push(format!(
                "refused {}: expected SNAPSHOT_INVALID at {} containing {needle:?}, got {got}",
                member(case, "name"),
                member(case, "path")
            ));
        }
    }
    problems
}
