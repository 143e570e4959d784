//! Active HTTP health checks: one round probes every endpoint of an instance's check (retries
//! with exponential backoff inside the round), and [`next_status`] turns the round's result
//! into the instance's status with success and failure thresholds (hysteresis, so a flapping
//! instance does not flap the catalog).

use std::time::Duration;

use super::model::{HealthCheck, HealthStatus};

/// What one round found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Round {
    /// Every endpoint answered 2xx.
    Pass(String),
    /// Every endpoint answered, some with 429 (too many requests): served, with a warning.
    Warn(String),
    /// An endpoint failed every attempt (the reason names it).
    Fail(String),
}

/// Runs one round of `check` with `agent` (redirects off, statuses not errors).
pub(crate) async fn run_round(agent: &ureq::Agent, check: &HealthCheck) -> Round {
    let mut warning = None;
    for url in &check.endpoints {
        let mut delay = check.retry_initial_ms;
        let mut attempt = 0;
        loop {
            match probe(agent, url, check.timeout_ms).await {
                Ok(status) if (200..300).contains(&status) => break,
                Ok(429) => {
                    warning = Some(format!("{url} answered 429"));
                    break;
                }
                outcome => {
                    if attempt >= check.retries {
                        let why = match outcome {
                            Ok(status) => format!("answered {status}"),
                            Err(e) => e,
                        };
                        return Round::Fail(format!("{url} {why} ({} attempts)", attempt + 1));
                    }
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    delay = delay
                        .saturating_mul(check.backoff_factor.into())
                        .min(check.retry_max_ms);
                }
            }
        }
    }
    match warning {
        Some(w) => Round::Warn(w),
        None => Round::Pass(format!(
            "{} endpoint(s) answered 2xx",
            check.endpoints.len()
        )),
    }
}

/// One GET with a timeout: the status, or why there is none.
async fn probe(agent: &ureq::Agent, url: &str, timeout_ms: u64) -> Result<u16, String> {
    let (agent, url) = (agent.clone(), url.to_owned());
    let timeout = Duration::from_millis(timeout_ms);
    let answered = tokio::task::spawn_blocking(move || {
        agent
            .get(&url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()
            .map(|r| r.status().as_u16())
    })
    .await;
    match answered {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("check task: {e}")),
    }
}

/// The agent every check uses: redirects not followed (a redirect is not a healthy answer),
/// statuses returned rather than raised.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// The status after a round: `(status, consecutive successes, consecutive failures)`.
///
/// The first round of an instance never checked decides at once. After that a failed round
/// counts toward `failure_threshold` (critical once reached, warning before), a good round
/// toward `success_threshold` (passing once reached, the status kept before), and a 429
/// round is a warning that resets both counts.
pub(crate) fn next_status(
    current: HealthStatus,
    checked_before: bool,
    check: &HealthCheck,
    counts: (u32, u32),
    round: &Round,
) -> (HealthStatus, u32, u32) {
    let (successes, failures) = counts;
    match round {
        Round::Warn(_) => (HealthStatus::Warning, 0, 0),
        Round::Pass(_) => {
            let s = successes.saturating_add(1);
            let status = if !checked_before
                || current == HealthStatus::Passing
                || s >= check.success_threshold
            {
                HealthStatus::Passing
            } else {
                current
            };
            (status, s, 0)
        }
        Round::Fail(_) => {
            let f = failures.saturating_add(1);
            let status = if !checked_before || f >= check.failure_threshold {
                HealthStatus::Critical
            } else {
                HealthStatus::Warning
            };
            (status, 0, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(success_threshold: u32, failure_threshold: u32) -> HealthCheck {
        HealthCheck {
            success_threshold,
            failure_threshold,
            ..HealthCheck::of_url("http://127.0.0.1:1/health".into())
        }
    }

    fn run(c: &HealthCheck, rounds: &[bool]) -> Vec<HealthStatus> {
        let (mut status, mut counts, mut checked) = (HealthStatus::Critical, (0, 0), false);
        rounds
            .iter()
            .map(|&ok| {
                let round = if ok {
                    Round::Pass(String::new())
                } else {
                    Round::Fail(String::new())
                };
                let (s, ok_n, fail_n) = next_status(status, checked, c, counts, &round);
                (status, counts, checked) = (s, (ok_n, fail_n), true);
                s
            })
            .collect()
    }

    #[test]
    fn thresholds_damp_flapping() {
        use HealthStatus::{Critical as C, Passing as P, Warning as W};
        let c = check(2, 3);
        assert_eq!(
            run(
                &c,
                &[true, false, false, true, false, false, false, true, true]
            ),
            [P, W, W, W, W, W, C, C, P]
        );
        // Alternating results never reach critical with a failure threshold of 2.
        assert_eq!(
            run(&check(2, 2), &[true, false, true, false, true]),
            [P, W, W, W, W]
        );
        // The first round decides at once, both ways.
        assert_eq!(run(&c, &[false, true, true]), [C, C, P]);
    }

    #[test]
    fn too_many_requests_is_a_warning() {
        let c = check(2, 1);
        let (s, ok, fail) = next_status(
            HealthStatus::Passing,
            true,
            &c,
            (5, 0),
            &Round::Warn("429".into()),
        );
        assert_eq!((s, ok, fail), (HealthStatus::Warning, 0, 0));
    }
}
