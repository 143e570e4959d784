//! Client-side load balancing over a [`CatalogDocument`] (`spec/CATALOG.md` §4): round robin,
//! weighted random, power of two choices on outstanding requests (the default) and consistent
//! hashing on a key with bounded load, with passive outlier ejection by a per-instance circuit
//! breaker (closed → open after consecutive failures → half-open: one probe → closed or open
//! again, ejection time doubling up to a cap, at most a share of a service ejected at once).
//!
//! Sans-IO like the rest of the core: the host passes randomness (`random`, expanded with
//! SplitMix64) and `now` (ms since epoch), so every binding chooses exactly alike.
//!
//! Sources: power of two choices — Mitzenmacher, "The Power of Two Choices in Randomized Load
//! Balancing" (2001); consistent hashing with bounded loads — Mirrokni, Thorup, Zadimoghaddam
//! (2016, arXiv:1608.01350); ring hashing and outlier ejection as Envoy describes them
//! (`ring_hash`, `outlier_detection`); SplitMix64 — Steele, Lea, Flood (2014).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::{CatalogDocument, CatalogHealth, CatalogInstanceDef, Service};

/// Ring points the ring aims at for a whole service (`spec/CATALOG.md` §4.4).
const RING_POINTS: u64 = 1024;

/// How `choose` picks among a service's available instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Each available instance in turn (id order), ignoring weights.
    RoundRobin,
    /// One instance at random, in proportion to weight.
    WeightedRandom,
    /// Two instances drawn by weight; the one with fewer outstanding requests per unit of
    /// weight wins (power of two choices). The default.
    #[default]
    LeastRequest,
    /// The instance a key hashes to on the service's weighted ring, skipping instances over
    /// their load bound (consistent hashing with bounded load); without a key, `LeastRequest`.
    ConsistentHash,
}

/// How a request to a chosen instance ended, for the circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (any status the caller counts as healthy).
    Success,
    /// Connection refused or reset, timeout, or a status the caller counts as a server
    /// failure (e.g. 5xx).
    Failure,
    /// Not attempted or abandoned by the caller: only the outstanding count changes.
    Cancelled,
}

/// Circuit breaker and balancing settings. Times in ms, shares in basis points (0..=10000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalancerConfig {
    /// Consecutive failures that open an instance's circuit (default 5).
    pub failure_threshold: u32,
    /// Ejection time of a first opening (default 30,000 ms); doubles per consecutive
    /// ejection.
    pub base_ejection_ms: u64,
    /// Longest ejection (default 300,000 ms).
    pub max_ejection_ms: u64,
    /// The largest share of a service's instances open at once (default 5000 = 50 %): an
    /// opening past it does not happen.
    pub max_ejection_bp: u32,
    /// Consistent hashing's load bound factor c ≥ 1 in basis points (default 12500 = 1.25): an
    /// instance takes a request only while its outstanding count stays within c times its
    /// weighted share.
    pub load_factor_bp: u32,
}

impl Default for BalancerConfig {
    fn default() -> Self {
        BalancerConfig {
            failure_threshold: 5,
            base_ejection_ms: 30_000,
            max_ejection_ms: 300_000,
            max_ejection_bp: 5000,
            load_factor_bp: 12_500,
        }
    }
}

/// An instance's circuit as `choose` sees it at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Chosen normally.
    Closed,
    /// Ejected until the time given (ms since epoch).
    Open {
        /// End of the ejection.
        until: u64,
    },
    /// The ejection ended: one probe request may go; its outcome closes or reopens it.
    HalfOpen {
        /// Whether the probe is out (the instance is not chosen until it reports).
        probing: bool,
    },
}

/// What to choose: the strategy, the key (consistent hashing) and instance ids to avoid
/// (e.g. the ones a retry already tried).
#[derive(Debug, Clone, Copy, Default)]
pub struct Choice<'a> {
    /// The strategy.
    pub strategy: Strategy,
    /// Hash key for [`Strategy::ConsistentHash`] (user id, session, cache key).
    pub key: Option<&'a str>,
    /// Instance ids not to choose.
    pub exclude: &'a [&'a str],
}

#[derive(Debug, Clone, Default)]
struct InstanceState {
    outstanding: u32,
    failures: u32,
    ejections: u32,
    open_until: Option<u64>,
    probing: bool,
}

#[derive(Debug, Clone, Default)]
struct ServiceState {
    /// The catalog version the vectors below follow (instance order = the catalog's).
    version: Option<u64>,
    ids: Vec<String>,
    states: Vec<InstanceState>,
    cursor: u64,
}

/// Per-SDK balancing state: outstanding requests, round-robin cursors and circuit breakers,
/// by service and instance id (kept across catalog updates for the instances that stay).
#[derive(Debug, Clone, Default)]
pub struct Balancer {
    config: BalancerConfig,
    services: BTreeMap<String, ServiceState>,
}

impl Balancer {
    /// A balancer with `config`.
    pub fn new(config: BalancerConfig) -> Self {
        Balancer {
            config,
            services: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &BalancerConfig {
        &self.config
    }

    /// Chooses an instance of `service` in `catalog` (`spec/CATALOG.md` §4) and counts a
    /// request outstanding on it; report its end with [`Balancer::report`]. `random`: any
    /// 64 random bits from the host; `now`: ms since epoch.
    ///
    /// Instances whose circuit is open (or half-open with its probe out) and excluded ids are
    /// skipped; when that leaves none but some are not excluded, the circuits are ignored
    /// (panic mode: better a suspect instance than none). `None` for an unknown service, a
    /// service without instances, or every instance excluded.
    pub fn choose<'c>(
        &mut self,
        catalog: &'c CatalogDocument,
        service: &str,
        choice: &Choice<'_>,
        random: u64,
        now: u64,
    ) -> Option<&'c CatalogInstanceDef> {
        let svc = catalog.service(service)?;
        let version = catalog.info().version;
        let state = self.services.entry(service.into()).or_default();
        sync(state, svc, version);
        let allowed = |i: &CatalogInstanceDef| !choice.exclude.contains(&i.id.as_str());
        let mut candidates: Vec<usize> = svc
            .instances
            .iter()
            .zip(&state.states)
            .enumerate()
            .filter(|(_, (i, s))| allowed(i) && available(s, now))
            .map(|(at, _)| at)
            .collect();
        if candidates.is_empty() {
            candidates = svc
                .instances
                .iter()
                .enumerate()
                .filter(|(_, i)| allowed(i))
                .map(|(at, _)| at)
                .collect();
        }
        let first = *candidates.first()?;
        let mut rng = SplitMix64(random);
        let chosen = match (choice.strategy, choice.key) {
            (Strategy::RoundRobin, _) => {
                let len = candidates.len() as u64;
                let at = usize::try_from(state.cursor % len).unwrap_or(0);
                state.cursor = state.cursor.wrapping_add(1);
                candidates.get(at).copied().unwrap_or(first)
            }
            (Strategy::WeightedRandom, _) => weighted(svc, &candidates, rng.next()),
            (Strategy::ConsistentHash, Some(key)) => hashed(
                svc,
                &state.states,
                &candidates,
                key,
                self.config.load_factor_bp,
            ),
            (Strategy::LeastRequest | Strategy::ConsistentHash, _) => {
                two_choices(svc, &state.states, &candidates, &mut rng)
            }
        };
        let s = state.states.get_mut(chosen)?;
        s.outstanding = s.outstanding.saturating_add(1);
        if s.open_until.is_some_and(|until| now >= until) {
            s.probing = true;
        }
        svc.instances.get(chosen)
    }

    /// Ends a request `choose` counted on instance `id` of `service`: the outstanding count
    /// drops, and `outcome` feeds the circuit breaker (`spec/CATALOG.md` §4.5). Unknown ids
    /// (e.g. gone from the catalog) are ignored.
    pub fn report(&mut self, service: &str, id: &str, outcome: Outcome, now: u64) {
        let config = self.config;
        let Some(state) = self.services.get_mut(service) else {
            return;
        };
        let Some(at) = state.ids.iter().position(|i| i == id) else {
            return;
        };
        let open_now = state
            .states
            .iter()
            .filter(|s| s.open_until.is_some_and(|u| now < u))
            .count();
        let total = state.states.len();
        let Some(s) = state.states.get_mut(at) else {
            return;
        };
        s.outstanding = s.outstanding.saturating_sub(1);
        let half_open = s.open_until.is_some_and(|u| now >= u);
        match outcome {
            Outcome::Cancelled => {
                if half_open {
                    s.probing = false;
                }
            }
            Outcome::Success => {
                s.failures = 0;
                if half_open {
                    *s = InstanceState {
                        outstanding: s.outstanding,
                        ..InstanceState::default()
                    };
                }
            }
            Outcome::Failure => {
                s.failures = s.failures.saturating_add(1);
                let within_share = (open_now as u64 + 1) * 10_000
                    <= u64::from(config.max_ejection_bp) * total as u64;
                let open_now_for_this = s.open_until.is_some_and(|u| now < u);
                if half_open
                    || (!open_now_for_this
                        && s.failures >= config.failure_threshold
                        && within_share)
                {
                    let factor = 1u64.checked_shl(s.ejections.min(32)).unwrap_or(u64::MAX);
                    let ms = config
                        .base_ejection_ms
                        .saturating_mul(factor)
                        .min(config.max_ejection_ms);
                    s.open_until = Some(now.saturating_add(ms));
                    s.ejections = s.ejections.saturating_add(1);
                    s.failures = 0;
                    s.probing = false;
                }
            }
        }
    }

    /// The circuit of instance `id` of `service` at `now`, and its outstanding requests;
    /// `None` if this balancer has not seen it.
    pub fn circuit(&self, service: &str, id: &str, now: u64) -> Option<(Circuit, u32)> {
        let state = self.services.get(service)?;
        let at = state.ids.iter().position(|i| i == id)?;
        let s = state.states.get(at)?;
        let circuit = match s.open_until {
            None => Circuit::Closed,
            Some(until) if now < until => Circuit::Open { until },
            Some(_) => Circuit::HalfOpen { probing: s.probing },
        };
        Some((circuit, s.outstanding))
    }
}

/// Aligns the state vectors with the catalog's instance order when its version changed,
/// keeping the state of instances that stay.
fn sync(state: &mut ServiceState, svc: &Service, version: u64) {
    if state.version == Some(version) && state.ids.len() == svc.instances.len() {
        return;
    }
    let mut old: BTreeMap<String, InstanceState> = core::mem::take(&mut state.ids)
        .into_iter()
        .zip(core::mem::take(&mut state.states))
        .collect();
    state.ids = svc.instances.iter().map(|i| i.id.clone()).collect();
    state.states = state
        .ids
        .iter()
        .map(|id| old.remove(id).unwrap_or_default())
        .collect();
    state.version = Some(version);
}

fn available(s: &InstanceState, now: u64) -> bool {
    match s.open_until {
        None => true,
        Some(until) => now >= until && !s.probing,
    }
}

fn weight(svc: &Service, i: usize) -> u64 {
    svc.instances.get(i).map_or(0, |x| u64::from(x.weight))
}

fn outstanding(states: &[InstanceState], i: usize) -> u64 {
    states.get(i).map_or(0, |s| u64::from(s.outstanding))
}

fn health(svc: &Service, i: usize) -> Option<CatalogHealth> {
    svc.instances.get(i).map(|x| x.health)
}

/// The candidate a draw selects in proportion to weight (§4.3). `candidates` is not empty.
fn weighted(svc: &Service, candidates: &[usize], draw: u64) -> usize {
    let total: u64 = candidates.iter().map(|&i| weight(svc, i)).sum();
    let mut r = draw % total.max(1);
    for &i in candidates {
        let w = weight(svc, i);
        if r < w {
            return i;
        }
        r -= w;
    }
    candidates.first().copied().unwrap_or(0)
}

/// Power of two choices (§4.2): two weighted draws, the lower load per weight wins.
fn two_choices(
    svc: &Service,
    states: &[InstanceState],
    candidates: &[usize],
    rng: &mut SplitMix64,
) -> usize {
    let a = weighted(svc, candidates, rng.next());
    if candidates.len() == 1 {
        return a;
    }
    let mut b = weighted(svc, candidates, rng.next());
    if b == a {
        let pos = candidates.iter().position(|&c| c == a).unwrap_or(0);
        b = candidates
            .get((pos + 1) % candidates.len())
            .copied()
            .unwrap_or(a);
    }
    // (load_a / w_a) vs (load_b / w_b), cross-multiplied.
    let la = (outstanding(states, a) + 1) * weight(svc, b);
    let lb = (outstanding(states, b) + 1) * weight(svc, a);
    if lb < la
        || (lb == la
            && health(svc, b) == Some(CatalogHealth::Passing)
            && health(svc, a) == Some(CatalogHealth::Warning))
    {
        b
    } else {
        a
    }
}

/// Consistent hashing with bounded load (§4.4). `candidates` is not empty.
fn hashed(
    svc: &Service,
    states: &[InstanceState],
    candidates: &[usize],
    key: &str,
    load_factor_bp: u32,
) -> usize {
    let total: u64 = candidates.iter().map(|&i| outstanding(states, i)).sum();
    let weights: u64 = candidates.iter().map(|&i| weight(svc, i)).sum();
    let fits = |i: usize| {
        // outstanding + 1 <= ceil(c * (total + 1) * w / W), c = load_factor_bp / 10000.
        let num = u128::from(load_factor_bp) * u128::from(total + 1) * u128::from(weight(svc, i));
        let den = 10_000u128 * u128::from(weights.max(1));
        u128::from(outstanding(states, i)) < num.div_ceil(den)
    };
    let h = hash64(&[key.as_bytes()]);
    let start = svc.ring.partition_point(|&(p, _)| p < h);
    let (before, after) = svc.ring.split_at(start.min(svc.ring.len()));
    let mut first = None;
    for &(_, i) in after.iter().chain(before) {
        if !candidates.contains(&i) {
            continue;
        }
        first.get_or_insert(i);
        if fits(i) {
            return i;
        }
    }
    first.or_else(|| candidates.first().copied()).unwrap_or(0)
}

/// The service's weighted ring (§4.4): `max(1, ceil(1024 × weight / total weight))` points per
/// instance, point `j` of instance `id` at `hash64(service, 0, id, 0, j)`, sorted by point
/// (ties by instance order).
pub(crate) fn ring(service: &str, instances: &[CatalogInstanceDef]) -> Vec<(u64, usize)> {
    let total: u64 = instances.iter().map(|i| u64::from(i.weight)).sum();
    let mut ring = Vec::new();
    for (at, inst) in instances.iter().enumerate() {
        let points = (RING_POINTS * u64::from(inst.weight))
            .div_ceil(total.max(1))
            .max(1);
        for j in 0..points {
            let j = alloc::format!("{j}");
            let p = hash64(&[
                service.as_bytes(),
                b"\0",
                inst.id.as_bytes(),
                b"\0",
                j.as_bytes(),
            ]);
            ring.push((p, at));
        }
    }
    ring.sort_unstable();
    ring
}

/// The first 8 bytes of SHA-256 over `parts`, big-endian.
fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (to, from) in b.iter_mut().zip(d.iter()) {
        *to = *from;
    }
    u64::from_be_bytes(b)
}

/// SplitMix64 (Steele, Lea, Flood 2014): expands the host's 64 random bits into draws.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
