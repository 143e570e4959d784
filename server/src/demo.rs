//! The demo web-shop project seeded by `burgee serve --demo` on first start: data, not code.
//!
//! `server/demo/webshop.json` holds the flags in the shape of `POST /v1/projects/{p}/flags`
//! (a [`FlagInput`] with its targeting per environment) and each environment's segments in the
//! shape of `POST .../environments/{env}/segments` (a [`SegmentDef`]). First start seeds them
//! through the same service calls the API makes (validated, audited), in the bootstrap's one
//! write, then publishes version 1 of every environment.
//!
//! The same flags exist in `development`, `staging` and `production`; development has more
//! switched on, staging sits between, production is conservative. The data shows every
//! feature of the model: rollouts (`checkout-redesign` at 20 % in production), a segment with
//! included keys and rules (`beta-testers`), a three-way experiment (`pricing-experiment`), a
//! kill switch, a prerequisite chain (`search-autocomplete` → `new-search-ui` →
//! `search-v2-backend`), remote configuration objects (`search-ranking-weights`,
//! `rate-limits`), integer and float flags, and rules using `in`, `not_in`, `ends_with`,
//! `matches`, `semver_gte`/`semver_lt`, `gte`, `before`/`after` and `in_segment`.
//!
//! Context attributes the rules read: `targetingKey`, `email`, `country` (ISO 3166 alpha-2),
//! `plan` (`free`/`pro`/`business`), `platform` (`web`/`ios`/`android`), `app_version`
//! (semver), `orders_count`, `lifetime_value` (EUR), `age`, `connection` (`4g`, `3g`, ...),
//! `beta_opt_in` (boolean), and `$now` (evaluation time).
//!
//! Dates: the strings `"${sale_start}"`, `"${sale_end}"` and `"${winter_end}"` in the data are
//! replaced by the [`Calendar`] of the seeding time (RFC 3339, UTC), so nothing the demo serves
//! depends on the day it is started.

use std::collections::BTreeMap;

use burgee_core::model::{FlagDef, SegmentDef};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{FlagInput, flag_def};

/// The data, compiled into the binary.
const FIXTURE: &str = include_str!("../demo/webshop.json");

/// One day in milliseconds.
const DAY_MS: u64 = 86_400_000;

/// The demo's seasonal calendar, placed relative to the time the demo is seeded so that the
/// time-boxed rules are in the future on any date: a four-day sale weekend from the first UTC
/// midnight at least 14 days after seeding, then a 37-day winter season.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    /// Start of the sale weekend, ms since the Unix epoch (a UTC midnight).
    pub sale_start_ms: u64,
    /// End of the sale weekend and start of the winter season, ms since the Unix epoch.
    pub sale_end_ms: u64,
    /// End of the winter season, ms since the Unix epoch.
    pub winter_end_ms: u64,
}

impl Calendar {
    /// The calendar of a demo seeded at `now_ms` (ms since the Unix epoch).
    #[must_use]
    pub fn seeded_at(now_ms: u64) -> Calendar {
        let sale_start_ms = (now_ms.div_ceil(DAY_MS) + 14) * DAY_MS;
        let sale_end_ms = sale_start_ms + 4 * DAY_MS;
        Calendar {
            sale_start_ms,
            sale_end_ms,
            winter_end_ms: sale_end_ms + 37 * DAY_MS,
        }
    }

    /// The RFC 3339 text a placeholder stands for, if `text` is one.
    fn resolve(self, text: &str) -> Option<String> {
        let ms = match text {
            "${sale_start}" => self.sale_start_ms,
            "${sale_end}" => self.sale_end_ms,
            "${winter_end}" => self.winter_end_ms,
            _ => return None,
        };
        let ts = i64::try_from(ms)
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())?;
        Some(ts.to_string())
    }

    fn substitute(self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(date) = self.resolve(s) {
                    *s = date;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.substitute(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.substitute(v)),
            _ => {}
        }
    }
}

/// The demo project's data in the API's shapes.
#[derive(Debug, Clone, Deserialize)]
pub struct Demo {
    /// The flags, as `POST /v1/projects/{p}/flags` bodies, sorted by key.
    pub flags: Vec<FlagInput>,
    /// Each environment's segments, as segment bodies.
    pub segments: BTreeMap<String, Vec<SegmentDef>>,
    /// The configuration centre's services, each with its entries per environment as
    /// `PUT .../services/{service}/configs/{key}` bodies.
    #[serde(default)]
    pub configs: BTreeMap<String, DemoService>,
}

/// A demo service and its entries.
#[derive(Debug, Clone, Deserialize)]
pub struct DemoService {
    /// What the service is.
    pub description: String,
    /// Entries by environment, then by key.
    pub entries: BTreeMap<String, BTreeMap<String, crate::configs::ConfigInput>>,
}

impl Demo {
    /// The demo with its dates placed by `calendar`.
    ///
    /// # Errors
    /// A [`serde_json::Error`] if the compiled-in data does not fit the API's shapes (a bug
    /// caught by this module's tests).
    pub fn load(calendar: Calendar) -> Result<Demo, serde_json::Error> {
        let mut doc: Value = serde_json::from_str(FIXTURE)?;
        calendar.substitute(&mut doc);
        serde_json::from_value(doc)
    }

    /// The snapshot form of every flag in `environment` (its targeting there, or none).
    #[must_use]
    pub fn snapshot_flags(&self, environment: &str) -> Vec<FlagDef> {
        self.flags
            .iter()
            .filter_map(|f| {
                Some(flag_def(
                    &f.key,
                    &f.spec(),
                    f.environments.get(environment)?,
                ))
            })
            .collect()
    }

    /// The segments of `environment`.
    #[must_use]
    pub fn segments(&self, environment: &str) -> Vec<SegmentDef> {
        self.segments.get(environment).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burgee_core::model::{SNAPSHOT_FORMAT, SnapshotDef};
    use burgee_core::{Context, Reason, Snapshot};

    /// Seeded at 2026-11-28T12:00:00Z; the tests pass their own evaluation times.
    const SEEDED: u64 = 1_795_867_200_000;

    fn compile(env: &str) -> Snapshot {
        let demo = Demo::load(Calendar::seeded_at(SEEDED)).unwrap();
        let def = SnapshotDef {
            format: SNAPSHOT_FORMAT,
            project: "webshop".into(),
            environment: env.into(),
            version: 1,
            issued_at: 0,
            expires_at: 4_000_000_000_000,
            salt: "0123456789abcdef0123456789abcdef".into(),
            audience: burgee_core::model::Audience::Server,
            flags: demo.snapshot_flags(env),
            segments: demo.segments(env),
        };
        Snapshot::compile(&def, None).unwrap()
    }

    #[test]
    fn every_environment_compiles_with_enough_flags() {
        for env in crate::config::ENVIRONMENTS {
            let snap = compile(env);
            assert!(snap.flag_keys().count() >= 25, "{env}");
            let keys: Vec<&str> = snap.flag_keys().collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "flags are sorted by key");
        }
    }

    #[test]
    fn checkout_redesign_is_at_twenty_percent_in_production() {
        let snap = compile("production");
        let on = (0..2000)
            .filter(|i| {
                let ctx = Context::new(format!("user-{i}"));
                snap.get_bool("checkout-redesign", &ctx, 1, false).value
            })
            .count();
        assert!((300..500).contains(&on), "{on} of 2000 on");
    }

    #[test]
    fn prerequisite_chain_and_segment_rules() {
        let snap = compile("production");
        let staff = Context::new("user-77").with("email", "Ana@Burgee.dev");
        let d = snap.get_bool("dark-mode", &staff, 1, false);
        assert!(d.value);
        assert_eq!(d.details.rule_id, Some("beta-testers"));
        // user-6666 is excluded from beta-testers, even with the staff email.
        let excluded = Context::new("user-6666").with("email", "x@burgee.dev");
        assert!(!snap.get_bool("dark-mode", &excluded, 1, false).value);
        // new-search-ui is off by default in production, so autocomplete fails its prerequisite.
        let plain = Context::new("user-5");
        let auto = snap.get_bool("search-autocomplete", &plain, 1, true);
        assert_eq!(auto.details.reason, Reason::PrerequisiteFailed);
        assert!(!auto.value);
    }

    #[test]
    fn seasonal_rules_follow_the_calendar_of_the_seeding_time() {
        let snap = compile("production");
        let cal = Calendar::seeded_at(SEEDED);
        assert_eq!(cal.sale_start_ms % DAY_MS, 0, "starts at a UTC midnight");
        assert!(cal.sale_start_ms >= SEEDED + 14 * DAY_MS);
        let ctx = Context::new("user-1").with("country", "DE");
        let at = |ms: u64| {
            let d = snap.get_float("free-shipping-threshold", &ctx, ms, -1.0);
            let theme = snap.get_string("holiday-theme", &ctx, ms, "?").value;
            (d.details.rule_id, d.value, theme)
        };
        // Seeding time: no seasonal rule matches, whatever the wall clock says.
        assert_eq!(at(SEEDED), (None, 49.0, "none"));
        assert_eq!(at(cal.sale_start_ms - 1), (None, 49.0, "none"));
        let sale = (Some("sale-weekend"), 0.0, "sale");
        assert_eq!(at(cal.sale_start_ms + 1), sale);
        assert_eq!(at(cal.sale_end_ms - 1), sale);
        assert_eq!(at(cal.sale_end_ms + 1), (None, 49.0, "winter"));
        assert_eq!(at(cal.winter_end_ms + 1), (None, 49.0, "none"));
    }
}
