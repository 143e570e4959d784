//! The demo web-shop project seeded by `burgee serve --demo` on first start.
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

use crate::analysis::experiment::{ExperimentSpec, MetricKind, MetricSpec};
use std::collections::BTreeMap;

use burgee_core::model::{
    Clause, Condition, FlagDef, Operator, OrderedMap, PrerequisiteDef, RolloutDef, RuleDef,
    SegmentDef, SegmentRuleDef, ServeDef, TargetDef, ValueType, WeightDef,
};
use serde_json::{Value, json};

/// One day in milliseconds.
const DAY_MS: u64 = 86_400_000;

/// The demo's seasonal calendar, placed relative to the time the demo is seeded so that the
/// time-boxed rules are in the future on any date (nothing the demo serves depends on which
/// day it is started): a four-day sale weekend from the first UTC midnight at least 14 days
/// after seeding, then a 37-day winter season.
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

    fn sale_weekend(self) -> Condition {
        between(self.sale_start_ms, self.sale_end_ms)
    }

    fn winter_season(self) -> Condition {
        between(self.sale_end_ms, self.winter_end_ms)
    }
}

/// `$now` in `[from_ms, until_ms)` as two RFC 3339 clauses (`after` / `before`).
fn between(from_ms: u64, until_ms: u64) -> Condition {
    let rfc3339 = |ms: u64| {
        i64::try_from(ms)
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .unwrap_or(jiff::Timestamp::MAX)
            .to_string()
    };
    Condition::All(vec![
        clause("$now", Operator::After, json!(rfc3339(from_ms))),
        clause("$now", Operator::Before, json!(rfc3339(until_ms))),
    ])
}

/// The three stages of the demo; unknown environment names get production's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Development,
    Staging,
    Production,
}

impl Stage {
    fn of(environment: &str) -> Stage {
        match environment {
            "development" => Stage::Development,
            "staging" => Stage::Staging,
            _ => Stage::Production,
        }
    }

    /// Picks the value for this stage.
    fn pick<T>(self, development: T, staging: T, production: T) -> T {
        match self {
            Stage::Development => development,
            Stage::Staging => staging,
            Stage::Production => production,
        }
    }
}

// ---- small builders, so the data below reads like configuration ----

fn clause(attribute: &str, op: Operator, value: Value) -> Condition {
    Condition::Clause(Clause {
        attribute: Some(attribute.to_owned()),
        op,
        value: Some(value),
        values: None,
        ignore_case: false,
        sensitive: false,
    })
}

fn clause_in(attribute: &str, op: Operator, values: &[&str]) -> Condition {
    Condition::Clause(Clause {
        attribute: Some(attribute.to_owned()),
        op,
        value: None,
        values: Some(values.iter().map(|v| json!(v)).collect()),
        ignore_case: false,
        sensitive: false,
    })
}

fn email_domain(domain: &str) -> Condition {
    Condition::Clause(Clause {
        attribute: Some("email".to_owned()),
        op: Operator::EndsWith,
        value: None,
        values: Some(vec![json!(domain)]),
        ignore_case: true,
        sensitive: false,
    })
}

fn in_segment(segment: &str) -> Condition {
    Condition::Clause(Clause {
        attribute: None,
        op: Operator::InSegment,
        value: None,
        values: Some(vec![json!(segment)]),
        ignore_case: false,
        sensitive: false,
    })
}

fn rule(id: &str, when: Condition, serve: ServeDef) -> RuleDef {
    RuleDef {
        id: id.to_owned(),
        when,
        serve,
    }
}

fn serve(variant: &str) -> ServeDef {
    ServeDef::Variant(variant.to_owned())
}

fn rollout(weights: &[(&str, u32)]) -> ServeDef {
    seeded_rollout(None, weights)
}

fn seeded_rollout(seed: Option<&str>, weights: &[(&str, u32)]) -> ServeDef {
    ServeDef::Rollout(RolloutDef {
        bucket_by: None,
        seed: seed.map(str::to_owned),
        weights: weights
            .iter()
            .map(|(variant, weight)| WeightDef {
                variant: (*variant).to_owned(),
                weight: *weight,
            })
            .collect(),
    })
}

/// An on/off rollout with `on_bp` basis points on.
fn percent_on(on_bp: u32) -> ServeDef {
    rollout(&[("on", on_bp), ("off", 10_000u32.saturating_sub(on_bp))])
}

fn metadata(owner: &str, description: &str) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("owner".to_owned(), json!(owner)),
        ("description".to_owned(), json!(description)),
    ])
}

/// A flag with the given variants; enabled, no targeting yet.
fn flag(
    key: &str,
    value_type: ValueType,
    variants: Vec<(&str, Value)>,
    off_variant: &str,
    default: ServeDef,
    meta: BTreeMap<String, Value>,
) -> FlagDef {
    FlagDef {
        key: key.to_owned(),
        value_type,
        variants: OrderedMap(
            variants
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        ),
        enabled: true,
        off_variant: off_variant.to_owned(),
        targets: Vec::new(),
        prerequisites: Vec::new(),
        rules: Vec::new(),
        default,
        metadata: meta,
        client_visible: false,
    }
}

/// A boolean flag with variants `on` (true) and `off` (false), off variant `off`.
fn boolean(key: &str, default: ServeDef, meta: BTreeMap<String, Value>) -> FlagDef {
    flag(
        key,
        ValueType::Boolean,
        vec![("on", json!(true)), ("off", json!(false))],
        "off",
        default,
        meta,
    )
}

fn with_rules(mut f: FlagDef, rules: Vec<RuleDef>) -> FlagDef {
    f.rules = rules;
    f
}

fn requires(mut f: FlagDef, flag_key: &str, variant: &str) -> FlagDef {
    f.prerequisites.push(PrerequisiteDef {
        flag: flag_key.to_owned(),
        variants: vec![variant.to_owned()],
    });
    f
}

fn disabled(mut f: FlagDef) -> FlagDef {
    f.enabled = false;
    f
}

// ---- the data ----

/// The demo segments of `environment`, sorted by key.
pub fn segments(environment: &str) -> Vec<SegmentDef> {
    let stage = Stage::of(environment);
    let mut beta_included = vec!["user-1001", "user-1002", "user-2040"];
    if stage != Stage::Production {
        beta_included.extend(["qa-bot-1", "qa-bot-2"]);
    }
    vec![
        SegmentDef {
            key: "beta-testers".into(),
            included: beta_included.into_iter().map(str::to_owned).collect(),
            excluded: vec!["user-6666".into()],
            rules: vec![
                SegmentRuleDef {
                    id: "staff".into(),
                    when: email_domain("@burgee.dev"),
                },
                SegmentRuleDef {
                    id: "opted-in".into(),
                    when: clause("beta_opt_in", Operator::Equals, json!(true)),
                },
            ],
        },
        SegmentDef {
            key: "eu-customers".into(),
            included: Vec::new(),
            excluded: Vec::new(),
            rules: vec![SegmentRuleDef {
                id: "eu-country".into(),
                when: clause_in(
                    "country",
                    Operator::In,
                    &[
                        "AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT",
                        "SE",
                    ],
                ),
            }],
        },
        SegmentDef {
            key: "high-value-customers".into(),
            included: Vec::new(),
            excluded: Vec::new(),
            rules: vec![
                SegmentRuleDef {
                    id: "lifetime-value".into(),
                    when: clause("lifetime_value", Operator::Gte, json!(1000)),
                },
                SegmentRuleDef {
                    id: "paid-plan".into(),
                    when: clause_in("plan", Operator::In, &["pro", "business"]),
                },
            ],
        },
        SegmentDef {
            key: "internal-staff".into(),
            included: Vec::new(),
            excluded: Vec::new(),
            rules: vec![SegmentRuleDef {
                id: "staff-email".into(),
                when: email_domain("@burgee.dev"),
            }],
        },
    ]
}

/// The demo flags of `environment` (at least 25), sorted by key, with the seasonal rules of
/// `calendar`. Every one compiles with `burgee-core` against [`segments`] (checked by this
/// module's tests).
#[allow(clippy::too_many_lines)] // one flag after the other; splitting would hide the data
pub fn flags(environment: &str, calendar: Calendar) -> Vec<FlagDef> {
    let stage = Stage::of(environment);
    let mut flags = vec![
        // ---- checkout ----
        with_rules(
            boolean(
                "checkout-redesign",
                stage.pick(serve("on"), percent_on(5000), percent_on(2000)),
                metadata(
                    "team-checkout",
                    "New one-page checkout; rolled out by percentage.",
                ),
            ),
            vec![rule(
                "staff-first",
                in_segment("internal-staff"),
                serve("on"),
            )],
        ),
        boolean(
            "payments-kill-switch",
            serve("off"),
            metadata(
                "team-payments",
                "Turn on to stop taking payments (incident response). Apps show a maintenance notice.",
            ),
        ),
        with_rules(
            boolean(
                "express-checkout",
                stage.pick(serve("on"), serve("off"), serve("off")),
                metadata(
                    "team-checkout",
                    "Apple Pay / Google Pay buttons; needs app 4.5 or later.",
                ),
            ),
            vec![rule(
                "modern-apps",
                Condition::All(vec![
                    clause_in("platform", Operator::In, &["ios", "android"]),
                    clause("app_version", Operator::SemverGte, json!("4.5.0")),
                ]),
                serve("on"),
            )],
        ),
        boolean(
            "guest-checkout",
            serve("on"),
            metadata("team-checkout", "Allow ordering without an account."),
        ),
        with_rules(
            boolean(
                "gift-wrapping",
                serve("on"),
                metadata(
                    "team-checkout",
                    "Gift wrapping option; not offered where the carrier cannot.",
                ),
            ),
            vec![rule(
                "unsupported-markets",
                clause_in("country", Operator::In, &["AU", "NZ", "BR"]),
                serve("off"),
            )],
        ),
        disabled(boolean(
            "legacy-payment-provider",
            serve("on"),
            metadata(
                "team-payments",
                "Old PSP integration, switched off after the migration.",
            ),
        )),
        // ---- pricing and cart ----
        with_rules(
            flag(
                "pricing-experiment",
                ValueType::String,
                vec![
                    ("control", json!("control")),
                    ("discount-10", json!("discount-10")),
                    ("free-shipping", json!("free-shipping")),
                ],
                "control",
                serve("control"),
                metadata(
                    "team-growth",
                    "Q4 pricing test: 10 % discount vs. free shipping vs. control.",
                ),
            ),
            vec![rule(
                "eligible-markets",
                Condition::All(vec![
                    clause_in(
                        "country",
                        Operator::In,
                        &["DE", "AT", "NL", "FR", "GB", "US", "CA"],
                    ),
                    Condition::Not(Box::new(in_segment("internal-staff"))),
                ]),
                seeded_rollout(
                    Some("pricing-2026q4"),
                    &[
                        ("control", 3300),
                        ("discount-10", 3300),
                        ("free-shipping", 3400),
                    ],
                ),
            )],
        ),
        with_rules(
            flag(
                "max-cart-items",
                ValueType::Integer,
                vec![("standard", json!(50)), ("wholesale", json!(500))],
                "standard",
                serve("standard"),
                metadata("team-checkout", "Most line items a cart may hold."),
            ),
            vec![rule(
                "business-plan",
                clause_in("plan", Operator::In, &["business"]),
                serve("wholesale"),
            )],
        ),
        with_rules(
            flag(
                "free-shipping-threshold",
                ValueType::Float,
                vec![
                    ("eur", json!(49.0)),
                    ("usd", json!(35.0)),
                    ("holiday", json!(0.0)),
                ],
                "eur",
                serve("eur"),
                metadata(
                    "team-growth",
                    "Order value (in the shop currency) from which shipping is free.",
                ),
            ),
            vec![
                rule("sale-weekend", calendar.sale_weekend(), serve("holiday")),
                rule(
                    "north-america",
                    clause_in("country", Operator::In, &["US", "CA"]),
                    serve("usd"),
                ),
            ],
        ),
        with_rules(
            boolean(
                "loyalty-points",
                stage.pick(serve("on"), serve("off"), serve("off")),
                metadata(
                    "team-growth",
                    "Points balance in the account menu for repeat customers.",
                ),
            ),
            vec![rule(
                "repeat-customers",
                clause("orders_count", Operator::Gte, json!(3)),
                serve("on"),
            )],
        ),
        with_rules(
            flag(
                "cart-abandonment-email-delay-minutes",
                ValueType::Integer,
                vec![
                    ("slow", json!(240)),
                    ("standard", json!(60)),
                    ("fast", json!(30)),
                ],
                "standard",
                stage.pick(serve("fast"), serve("standard"), serve("standard")),
                metadata(
                    "team-crm",
                    "Minutes before the 'you left something in your cart' email.",
                ),
            ),
            vec![rule(
                "eu-consent-friendly",
                in_segment("eu-customers"),
                serve("slow"),
            )],
        ),
        // ---- search (prerequisite chain) ----
        boolean(
            "search-v2-backend",
            stage.pick(serve("on"), serve("on"), percent_on(5000)),
            metadata("team-search", "Route queries to the new search cluster."),
        ),
        requires(
            with_rules(
                boolean(
                    "new-search-ui",
                    stage.pick(serve("on"), serve("on"), serve("off")),
                    metadata(
                        "team-search",
                        "Faceted search page; needs search-v2-backend.",
                    ),
                ),
                vec![rule("beta", in_segment("beta-testers"), serve("on"))],
            ),
            "search-v2-backend",
            "on",
        ),
        requires(
            boolean(
                "search-autocomplete",
                serve("on"),
                metadata(
                    "team-search",
                    "Suggestions while typing; needs new-search-ui.",
                ),
            ),
            "new-search-ui",
            "on",
        ),
        with_rules(
            flag(
                "search-ranking-weights",
                ValueType::Object,
                vec![
                    (
                        "balanced",
                        json!({"title": 3.0, "description": 1.0, "popularity": 0.5, "recency": 0.2}),
                    ),
                    (
                        "popularity-boost",
                        json!({"title": 2.5, "description": 0.8, "popularity": 1.5, "recency": 0.2}),
                    ),
                ],
                "balanced",
                stage.pick(
                    serve("popularity-boost"),
                    rollout(&[("balanced", 5000), ("popularity-boost", 5000)]),
                    serve("balanced"),
                ),
                metadata(
                    "team-search",
                    "Remote configuration: ranking weights of the search backend.",
                ),
            ),
            vec![rule(
                "beta",
                in_segment("beta-testers"),
                serve("popularity-boost"),
            )],
        ),
        // ---- platform and remote configuration ----
        with_rules(
            flag(
                "rate-limits",
                ValueType::Object,
                vec![
                    (
                        "standard",
                        json!({
                            "free": {"requests_per_minute": 60, "burst": 10},
                            "pro": {"requests_per_minute": 600, "burst": 100},
                            "business": {"requests_per_minute": 3000, "burst": 500}
                        }),
                    ),
                    (
                        "holiday-peak",
                        json!({
                            "free": {"requests_per_minute": 30, "burst": 5},
                            "pro": {"requests_per_minute": 400, "burst": 60},
                            "business": {"requests_per_minute": 3000, "burst": 500}
                        }),
                    ),
                ],
                "standard",
                serve("standard"),
                metadata(
                    "team-platform",
                    "API rate limits per plan; tightened during peak sales.",
                ),
            ),
            vec![rule(
                "sale-weekend",
                calendar.sale_weekend(),
                serve("holiday-peak"),
            )],
        ),
        flag(
            "api-timeout-ms",
            ValueType::Integer,
            vec![("default", json!(3000)), ("relaxed", json!(10000))],
            "default",
            stage.pick(serve("relaxed"), serve("default"), serve("default")),
            metadata(
                "team-platform",
                "Client timeout for calls to the shop API, in ms.",
            ),
        ),
        with_rules(
            flag(
                "image-cdn-quality",
                ValueType::Float,
                vec![("high", json!(0.85)), ("saver", json!(0.6))],
                "high",
                serve("high"),
                metadata(
                    "team-web",
                    "JPEG/WebP quality factor requested from the image CDN.",
                ),
            ),
            vec![rule(
                "slow-connections",
                clause_in("connection", Operator::In, &["2g", "3g"]),
                serve("saver"),
            )],
        ),
        with_rules(
            flag(
                "maintenance-banner",
                ValueType::Object,
                vec![
                    ("none", json!({})),
                    (
                        "scheduled",
                        json!({
                            "message": "Scheduled maintenance on Sunday 02:00-03:00 UTC; checkout may be unavailable.",
                            "severity": "info"
                        }),
                    ),
                ],
                "none",
                stage.pick(serve("scheduled"), serve("none"), serve("none")),
                metadata("team-platform", "Site-wide banner for planned maintenance."),
            ),
            vec![rule(
                "staff-preview",
                in_segment("internal-staff"),
                serve("scheduled"),
            )],
        ),
        boolean(
            "currency-auto-detect",
            serve("on"),
            metadata(
                "team-web",
                "Pick the display currency from the visitor's country.",
            ),
        ),
        // ---- experience ----
        with_rules(
            boolean(
                "dark-mode",
                stage.pick(serve("on"), serve("off"), serve("off")),
                metadata("team-web", "Dark colour scheme, first for beta testers."),
            ),
            vec![rule(
                "beta-testers",
                in_segment("beta-testers"),
                serve("on"),
            )],
        ),
        with_rules(
            flag(
                "product-page-layout",
                ValueType::String,
                vec![("classic", json!("classic")), ("gallery", json!("gallery"))],
                "classic",
                stage.pick(
                    serve("gallery"),
                    percent_split("classic", "gallery", 5000),
                    serve("classic"),
                ),
                metadata(
                    "team-web",
                    "Product detail page: classic or large image gallery.",
                ),
            ),
            vec![rule("beta", in_segment("beta-testers"), serve("gallery"))],
        ),
        flag(
            "product-recommendations",
            ValueType::String,
            vec![
                ("collaborative", json!("collaborative")),
                ("trending", json!("trending")),
                ("none", json!("none")),
            ],
            "none",
            stage.pick(
                serve("collaborative"),
                rollout(&[("collaborative", 5000), ("trending", 5000), ("none", 0)]),
                rollout(&[("collaborative", 4500), ("trending", 4500), ("none", 1000)]),
            ),
            metadata(
                "team-growth",
                "Which recommendation model fills 'You may also like'.",
            ),
        ),
        with_rules(
            flag(
                "recommendations-count",
                ValueType::Integer,
                vec![("few", json!(4)), ("normal", json!(8)), ("many", json!(12))],
                "normal",
                serve("normal"),
                metadata("team-growth", "How many recommendations to show."),
            ),
            vec![rule(
                "big-screens",
                clause_in("platform", Operator::In, &["web"]),
                serve("many"),
            )],
        ),
        with_rules(
            boolean(
                "mobile-update-prompt",
                serve("off"),
                metadata("team-mobile", "Ask users of old app versions to update."),
            ),
            vec![rule(
                "outdated-app",
                Condition::All(vec![
                    clause_in("platform", Operator::In, &["ios", "android"]),
                    clause("app_version", Operator::SemverLt, json!("4.2.0")),
                ]),
                serve("on"),
            )],
        ),
        with_rules(
            boolean(
                "enterprise-support-chat",
                serve("off"),
                metadata(
                    "team-support",
                    "Live chat for customers from enterprise accounts.",
                ),
            ),
            vec![
                rule(
                    "enterprise-domains",
                    clause(
                        "email",
                        Operator::Matches,
                        json!(r"^[^@\s]+@(acme|globex|initech)\.(com|de)$"),
                    ),
                    serve("on"),
                ),
                rule(
                    "high-value",
                    in_segment("high-value-customers"),
                    serve("on"),
                ),
            ],
        ),
        with_rules(
            boolean(
                "age-restricted-catalog",
                serve("off"),
                metadata(
                    "team-legal",
                    "Show wine and spirits to adults where allowed.",
                ),
            ),
            vec![rule(
                "adults-where-allowed",
                Condition::All(vec![
                    clause("age", Operator::Gte, json!(18)),
                    clause_in("country", Operator::NotIn, &["SA", "KW", "IR"]),
                ]),
                serve("on"),
            )],
        ),
        with_rules(
            flag(
                "holiday-theme",
                ValueType::String,
                vec![
                    ("none", json!("none")),
                    ("sale", json!("sale")),
                    ("winter", json!("winter")),
                ],
                "none",
                serve("none"),
                metadata("team-web", "Seasonal site theme, switched by date."),
            ),
            vec![
                rule("sale-weekend", calendar.sale_weekend(), serve("sale")),
                rule("winter-season", calendar.winter_season(), serve("winter")),
            ],
        ),
        reviews_v2(stage),
    ];
    for f in &mut flags {
        f.client_visible = CLIENT_VISIBLE.contains(&f.key.as_str());
    }
    flags.sort_by(|a, b| a.key.cmp(&b.key));
    flags
}

/// The demo flags published in client snapshots (browsers, mobile apps); the rest (kill
/// switches, back-end timeouts, enterprise rules) stay server-only.
pub const CLIENT_VISIBLE: &[&str] = &[
    "checkout-redesign",
    "dark-mode",
    "new-search-ui",
    "search-autocomplete",
    "search-v2-backend",
    "reviews-v2",
];

/// A two-variant rollout with `second_bp` basis points on `second`.
fn percent_split(first: &str, second: &str, second_bp: u32) -> ServeDef {
    rollout(&[
        (first, 10_000u32.saturating_sub(second_bp)),
        (second, second_bp),
    ])
}

/// `reviews-v2`: individual targets (two named customers get it early).
fn reviews_v2(stage: Stage) -> FlagDef {
    let mut f = boolean(
        "reviews-v2",
        stage.pick(serve("on"), serve("off"), serve("off")),
        metadata("team-web", "Photo reviews; a few customers try it first."),
    );
    f.targets = vec![TargetDef {
        variant: "on".into(),
        keys: vec!["user-1001".into(), "user-3150".into()],
    }];
    // Reviewers from the press, by e-mail: a sensitive list, digested in client snapshots.
    f.rules = vec![rule(
        "press-reviewers",
        Condition::Clause(Clause {
            attribute: Some("email".to_owned()),
            op: Operator::In,
            value: None,
            values: Some(vec![
                json!("editor@techpress.example"),
                json!("reviews@shopping-weekly.example"),
            ]),
            ignore_case: true,
            sensitive: true,
        }),
        serve("on"),
    )];
    f
}

/// The experiments of the demo: `checkout-redesign` (its default rollout; primary metric
/// `checkout_completed`, guardrail `order_value`) and `pricing-experiment` (its
/// `eligible-markets` rollout; primary `purchase`, guardrail `revenue`).
pub fn experiment(flag: &str) -> Option<ExperimentSpec> {
    let metric = |key: &str, kind| MetricSpec {
        key: key.into(),
        kind,
    };
    let (rule_id, primary, guardrail) = match flag {
        "checkout-redesign" => (None, "checkout_completed", "order_value"),
        "pricing-experiment" => (Some("eligible-markets".into()), "purchase", "revenue"),
        _ => return None,
    };
    Some(ExperimentSpec {
        rule_id,
        primary_metric: metric(primary, MetricKind::Conversion),
        guardrail_metrics: vec![metric(guardrail, MetricKind::Sum)],
        confidence: 0.95,
        dedupe_window_ms: 3_600_000,
        sequential_mde: 0.05,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burgee_core::model::{SNAPSHOT_FORMAT, SnapshotDef};
    use burgee_core::{Context, Reason, Snapshot};

    /// Seeded at 2026-11-28T12:00:00Z; the tests pass their own evaluation times.
    const SEEDED: u64 = 1_795_867_200_000;

    fn compile(env: &str) -> Snapshot {
        let def = SnapshotDef {
            format: SNAPSHOT_FORMAT,
            project: "webshop".into(),
            environment: env.into(),
            version: 1,
            issued_at: 0,
            expires_at: 4_000_000_000_000,
            salt: "0123456789abcdef0123456789abcdef".into(),
            audience: burgee_core::model::Audience::Server,
            flags: flags(env, Calendar::seeded_at(SEEDED)),
            segments: segments(env),
        };
        Snapshot::compile(&def, None).unwrap()
    }

    #[test]
    fn every_environment_compiles_with_enough_flags() {
        for env in crate::state::ENVIRONMENTS {
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
