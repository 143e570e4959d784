"""A model of catalog balancing (spec/CATALOG.md §4), written from the spec for the vectors.

Shares nothing with the Rust core: SHA-256 from hashlib, integers from Python. Used by
make_fixtures.py to compute balance.json; importable on its own to replay it:

    model = Catalog(document_def)           # §2: instances ordered by id, §4.4 ring
    bal = Balancer()                        # default settings (§4.5)
    bal.choose(model, "checkout", "least_request", random=123, now=...)   # -> id or None
    bal.report("checkout", "c-1", "success", now=...)
    bal.circuit("checkout", "c-1", now=...)                               # -> dict or None
"""
import hashlib
from dataclasses import dataclass, field

U64 = (1 << 64) - 1
RING_TARGET = 1024  # §4.4: ring points aimed at for a whole service

DEFAULTS = {
    "failure_threshold": 5,
    "base_ejection_ms": 30_000,
    "max_ejection_ms": 300_000,
    "max_ejection_bp": 5_000,
    "load_factor_bp": 12_500,
}

STRATEGIES = ("round_robin", "weighted_random", "least_request", "consistent_hash")
OUTCOMES = ("success", "failure", "cancelled")


def splitmix64(seed: int):
    """SplitMix64 (Steele, Lea, Flood 2014): an endless stream of 64-bit draws from `seed`."""
    state = seed & U64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & U64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
        yield z ^ (z >> 31)


def hash64(data: bytes) -> int:
    """The first 8 bytes of SHA-256(data) as a big-endian unsigned integer."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def ring_points(service: str, instances: list) -> list:
    """§4.4: the service's ring, [(point, index into `instances`)], sorted."""
    w_all = sum(i["weight"] for i in instances)
    ring = []
    for index, inst in enumerate(instances):
        count = max(1, ceil_div(RING_TARGET * inst["weight"], w_all))
        prefix = service.encode() + b"\x00" + inst["id"].encode() + b"\x00"
        ring.extend((hash64(prefix + str(j).encode()), index) for j in range(count))
    ring.sort()
    return ring


class Service:
    def __init__(self, name: str, instances: list):
        self.name = name
        # Byte order of the UTF-8 ids (Python's code point order is the same).
        self.instances = sorted(instances, key=lambda i: i["id"].encode())
        self.ids = [i["id"] for i in self.instances]
        self.ring = ring_points(name, self.instances)


class Catalog:
    """A catalog document (a CatalogDocumentDef as a dict), assumed valid (§2)."""

    def __init__(self, doc: dict):
        self.version = doc["version"]
        self.services = {s["name"]: Service(s["name"], s.get("instances", [])) for s in doc.get("services", [])}


@dataclass
class Breaker:
    """One instance's balancing state (§4.5)."""
    outstanding: int = 0
    failures: int = 0
    ejections: int = 0
    open_until: int | None = None
    probing: bool = False

    def is_open(self, now: int) -> bool:
        return self.open_until is not None and now < self.open_until

    def is_half_open(self, now: int) -> bool:
        return self.open_until is not None and now >= self.open_until

    def available(self, now: int) -> bool:
        if self.open_until is None:
            return True
        return self.is_half_open(now) and not self.probing


@dataclass
class Tracked:
    """What a balancer keeps of one service: the catalog version and ids it follows."""
    version: int | None = None
    ids: tuple = ()
    breakers: dict = field(default_factory=dict)
    cursor: int = 0


class Balancer:
    def __init__(self, **config):
        self.config = dict(DEFAULTS, **config)
        self.tracked: dict[str, Tracked] = {}

    # --- §4.1 ------------------------------------------------------------------------------

    def _follow(self, name: str, svc: Service, version: int) -> Tracked:
        t = self.tracked.setdefault(name, Tracked())
        if t.version != version or t.ids != tuple(svc.ids):
            # A new catalog version: instances that stay keep their state, by id.
            t.breakers = {i: t.breakers.get(i, Breaker()) for i in svc.ids}
            t.ids = tuple(svc.ids)
            t.version = version
        return t

    def choose(self, catalog: Catalog, service: str, strategy: str, random: int, now: int,
               key: str | None = None, exclude=()) -> str | None:
        assert strategy in STRATEGIES, strategy
        svc = catalog.services.get(service)
        if svc is None:
            return None
        t = self._follow(service, svc, catalog.version)
        allowed = [n for n, iid in enumerate(svc.ids) if iid not in exclude]
        candidates = [n for n in allowed if t.breakers[svc.ids[n]].available(now)]
        if not candidates:
            candidates = allowed  # panic mode
        if not candidates:
            return None
        draws = splitmix64(random)
        if strategy == "round_robin":
            pick = candidates[t.cursor % len(candidates)]
            t.cursor = (t.cursor + 1) & U64
        elif strategy == "weighted_random":
            pick = self._by_weight(svc, candidates, next(draws))
        elif strategy == "consistent_hash" and key is not None:
            pick = self._on_ring(svc, t, candidates, key)
        else:
            pick = self._two_choices(svc, t, candidates, draws)
        b = t.breakers[svc.ids[pick]]
        b.outstanding += 1
        if b.is_half_open(now):
            b.probing = True
        return svc.ids[pick]

    # --- §4.2 and §4.3 --------------------------------------------------------------------

    @staticmethod
    def _by_weight(svc: Service, candidates: list, draw: int) -> int:
        total = sum(svc.instances[n]["weight"] for n in candidates)
        r = draw % total
        for n in candidates:
            w = svc.instances[n]["weight"]
            if r < w:
                return n
            r -= w
        raise AssertionError("unreachable: r < total")

    def _two_choices(self, svc: Service, t: Tracked, candidates: list, draws) -> int:
        if len(candidates) == 1:
            return candidates[0]
        a = self._by_weight(svc, candidates, next(draws))
        b = self._by_weight(svc, candidates, next(draws))
        if a == b:
            b = candidates[(candidates.index(a) + 1) % len(candidates)]

        def cost(x, y):  # (outstanding_x + 1) / w_x, scaled by w_x * w_y
            return (t.breakers[svc.ids[x]].outstanding + 1) * svc.instances[y]["weight"]

        ca, cb = cost(a, b), cost(b, a)
        if cb < ca:
            return b
        if cb == ca and svc.instances[a]["health"] == "warning" and svc.instances[b]["health"] == "passing":
            return b
        return a

    # --- §4.4 -----------------------------------------------------------------------------

    def _on_ring(self, svc: Service, t: Tracked, candidates: list, key: str) -> int:
        chosen = set(candidates)
        load = {n: t.breakers[svc.ids[n]].outstanding for n in candidates}
        total_load = sum(load.values())
        total_weight = sum(svc.instances[n]["weight"] for n in candidates)
        factor = self.config["load_factor_bp"]

        def under_bound(n):
            cap = ceil_div(factor * (total_load + 1) * svc.instances[n]["weight"], 10_000 * total_weight)
            return load[n] < cap

        h = hash64(key.encode())
        ring = svc.ring
        start = next((k for k, (p, _) in enumerate(ring) if p >= h), 0)
        first_met = None
        for k in range(len(ring)):
            n = ring[(start + k) % len(ring)][1]
            if n not in chosen:
                continue
            if first_met is None:
                first_met = n
            if under_bound(n):
                return n
        return first_met

    # --- §4.5 -----------------------------------------------------------------------------

    def report(self, service: str, iid: str, outcome: str, now: int) -> None:
        assert outcome in OUTCOMES, outcome
        t = self.tracked.get(service)
        if t is None or iid not in t.breakers:
            return
        c = self.config
        open_now = sum(1 for b in t.breakers.values() if b.is_open(now))
        b = t.breakers[iid]
        b.outstanding = max(0, b.outstanding - 1)
        half_open = b.is_half_open(now)
        if outcome == "cancelled":
            if half_open:
                b.probing = False
        elif outcome == "success":
            b.failures = 0
            if half_open:
                t.breakers[iid] = Breaker(outstanding=b.outstanding)
        else:
            b.failures += 1
            share_ok = (open_now + 1) * 10_000 <= c["max_ejection_bp"] * len(t.breakers)
            trips = not b.is_open(now) and b.failures >= c["failure_threshold"] and share_ok
            if half_open or trips:
                duration = min(c["base_ejection_ms"] * 2 ** min(b.ejections, 32), c["max_ejection_ms"])
                b.open_until = now + duration
                b.ejections += 1
                b.failures = 0
                b.probing = False

    def circuit(self, service: str, iid: str, now: int) -> dict | None:
        t = self.tracked.get(service)
        if t is None or iid not in t.breakers:
            return None
        b = t.breakers[iid]
        if b.open_until is None:
            return {"state": "closed", "outstanding": b.outstanding}
        if b.is_open(now):
            return {"state": "open", "until": b.open_until, "outstanding": b.outstanding}
        return {"state": "half_open", "probing": b.probing, "outstanding": b.outstanding}
