"""The sequences of balance.json (spec/CATALOG.md §4), computed with balance_model.py.

Every sequence starts from a fresh balancer with the default settings. Randoms are derived from
the sequence name and step number with SHA-256 (53 bits, so JSON numbers stay exact), or found
by searching such derived values for a property a scenario needs; nothing depends on run-time
randomness. Each scenario asserts what it is meant to show, so a change of the model that
breaks a scenario fails here rather than silently producing a weaker vector.
"""
import copy
import hashlib
import importlib.util
import pathlib

HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location("balance_model", HERE / "balance_model.py")
model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model)

DESCRIPTION = (
    "Balancing vectors (spec/CATALOG.md §4). `catalog` is an unsigned catalog document (§2). Replay "
    "each sequence on a fresh balancer with the default settings (failure_threshold 5, "
    "base_ejection_ms 30000, max_ejection_ms 300000, max_ejection_bp 5000, load_factor_bp 12500). "
    "Steps: choose {service, strategy, key?, exclude?, random, now, expected: instance id or null}; "
    "report {service, id, outcome: success|failure|cancelled, now}; circuit {service, id, now, "
    "expected: {state: closed|open|half_open, until? (open), probing? (half_open), outstanding} or "
    "null when the balancer has not seen the instance}.")


def rnd(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big") >> 11


def find(label: str, pred) -> int:
    for n in range(1_000_000):
        r = rnd(f"{label}/{n}")
        if pred(r):
            return r
    raise RuntimeError(f"no random for {label}")


class Recorder:
    def __init__(self, catalog, name: str, note: str):
        self.catalog, self.name, self.note = catalog, name, note
        self.bal = model.Balancer()
        self.steps = []

    def choose(self, service, strategy, now, random=None, key=None, exclude=()):
        if random is None:
            random = rnd(f"{self.name}/{len(self.steps)}")
        got = self.bal.choose(self.catalog, service, strategy, random, now, key=key, exclude=exclude)
        step = {"op": "choose", "service": service, "strategy": strategy}
        if key is not None:
            step["key"] = key
        if exclude:
            step["exclude"] = sorted(exclude)
        step.update(random=random, now=now, expected=got)
        self.steps.append(step)
        return got

    def report(self, service, iid, outcome, now):
        self.bal.report(service, iid, outcome, now)
        self.steps.append({"op": "report", "service": service, "id": iid, "outcome": outcome, "now": now})

    def circuit(self, service, iid, now):
        got = self.bal.circuit(service, iid, now)
        self.steps.append({"op": "circuit", "service": service, "id": iid, "now": now, "expected": got})
        return got

    def others(self, service, keep):
        return [i for i in self.catalog.services[service].ids if i not in keep]

    def hit(self, service, iid, outcome, now, strategy="round_robin"):
        """A request to `iid` (every other instance excluded) and its outcome."""
        assert self.choose(service, strategy, now, exclude=self.others(service, [iid])) == iid
        self.report(service, iid, outcome, now)

    def trip(self, service, iid, now):
        """failure_threshold failures in a row, 100 ms apart; returns the time of the last."""
        for k in range(5):
            self.hit(service, iid, "failure", now + 100 * k)
        return now + 400

    def done(self):
        return {"name": self.name, "note": self.note, "steps": self.steps}


def weighted_pair(svc, random):
    """(a, b) of §4.2 over every instance, before the b == a rule."""
    draws = model.splitmix64(random)
    every = list(range(len(svc.ids)))
    a = model.Balancer._by_weight(svc, every, next(draws))
    b = model.Balancer._by_weight(svc, every, next(draws))
    return svc.ids[a], svc.ids[b]


def first_weighted(svc, random):
    return svc.ids[model.Balancer._by_weight(svc, list(range(len(svc.ids))), next(model.splitmix64(random)))]


def round_robin(cat, t0):
    r = Recorder(cat, "round-robin", "each candidate in id order; weights ignored; the cursor is per service "
                 "and indexes the candidate list of the moment (exclusions shift it)")
    got = [r.choose("checkout", "round_robin", t0 + k) for k in range(8)]
    assert got == ["c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-1", "c-2"], got
    got = [r.choose("checkout", "round_robin", t0 + 10 + k, exclude=["c-2", "c-3"]) for k in range(3)]
    assert got == ["c-1", "c-4", "c-5"], got  # cursor 8, 9, 10 over [c-1, c-4, c-5, c-6]
    assert r.choose("billing", "round_robin", t0 + 20) == "b-1"
    assert r.choose("search", "round_robin", t0 + 21) == "s-1"
    assert r.choose("checkout", "round_robin", t0 + 22) == "c-6"  # cursor 11 of 6
    assert r.choose("search", "round_robin", t0 + 23) == "s-2"
    return r.done()


def weighted_random(cat, t0):
    r = Recorder(cat, "weighted-random", "draw = first SplitMix64 output; draw mod total weight walks the "
                 "candidates in id order; outstanding requests do not matter")
    seen = {r.choose("checkout", "weighted_random", t0 + k) for k in range(14)}
    assert len(seen) >= 5, seen
    for k, ex in enumerate((["c-5"], ["c-1", "c-2", "c-5"], ["c-2"], ["c-5", "c-6"])):
        r.choose("checkout", "weighted_random", t0 + 100 + k, exclude=ex)
    r.choose("checkout", "weighted_random", t0 + 200, random=0)
    r.choose("checkout", "weighted_random", t0 + 201, random=(1 << 53) - 1)
    r.choose("search", "weighted_random", t0 + 202)
    return r.done()


def least_request(cat, t0):
    r = Recorder(cat, "least-request-load", "power of two choices; requests stay outstanding (no report) "
                 "so (outstanding + 1) / weight decides; then some end and the balance shifts back")
    svc = cat.services["checkout"]
    moved = 0
    for k in range(30):
        zero = model.Balancer()
        random = rnd(f"{r.name}/{len(r.steps)}")
        unloaded = zero.choose(cat, "checkout", "least_request", random, t0 + k)
        if r.choose("checkout", "least_request", t0 + k, random=random) != unloaded:
            moved += 1
    assert moved >= 3, moved
    loads = {i: r.bal.circuit("checkout", i, t0)["outstanding"] for i in svc.ids}
    busiest = max(svc.ids, key=lambda i: (loads[i] * 1000 // svc.instances[svc.ids.index(i)]["weight"], i))
    for k in range(loads[busiest]):
        r.report("checkout", busiest, "success", t0 + 100 + k)
    r.circuit("checkout", busiest, t0 + 150)
    for k in range(8):
        r.choose("checkout", "least_request", t0 + 200 + k)
    r.choose("billing", "least_request", t0 + 300)  # one candidate: no draw
    return r.done()


def least_request_ties(cat, t0):
    r = Recorder(cat, "least-request-ties", "nothing outstanding (each request cancelled): equal load per "
                 "weight prefers a passing b over a warning a; b == a takes the next candidate in id order")
    svc = cat.services["checkout"]
    warn_first = find("tie-warning-first", lambda x: weighted_pair(svc, x) in {("c-3", "c-1"), ("c-3", "c-6")})
    pass_first = find("tie-passing-first", lambda x: weighted_pair(svc, x) in {("c-1", "c-3"), ("c-6", "c-3")})
    same = find("tie-same", lambda x: weighted_pair(svc, x) == ("c-4", "c-4"))
    same_big = find("tie-same-big", lambda x: weighted_pair(svc, x) == ("c-5", "c-5"))
    heavier = find("tie-heavier", lambda x: weighted_pair(svc, x) == ("c-1", "c-2"))
    cases = [(warn_first, weighted_pair(svc, warn_first)[1]), (pass_first, weighted_pair(svc, pass_first)[0]),
             (same, "c-5"), (same_big, "c-5"), (heavier, "c-2")]
    for k, (random, want) in enumerate(cases):
        assert r.choose("checkout", "least_request", t0 + k, random=random) == want
        r.report("checkout", want, "cancelled", t0 + k)
    # c-1 now has a request outstanding: a warning c-3 (1/100) beats it (2/100) on load.
    r.choose("checkout", "least_request", t0 + 10, exclude=r.others("checkout", ["c-1"]))
    both = find("tie-loaded", lambda x: weighted_pair(svc, x) == ("c-3", "c-1"))
    assert r.choose("checkout", "least_request", t0 + 11, random=both) == "c-3"
    return r.done()


def consistent_hash(cat, t0):
    r = Recorder(cat, "consistent-hash", "keys on the ring with nothing outstanding (each request ends); then "
                 "one key's requests stay outstanding and the load bound moves it along the ring")
    homes = {}
    for k in range(30):
        key = f"user-{k}"
        homes[key] = r.choose("checkout", "consistent_hash", t0 + k, key=key)
        r.report("checkout", homes[key], "success", t0 + k)
    assert len(set(homes.values())) >= 5, homes
    key = "user-7"
    excluded = r.choose("checkout", "consistent_hash", t0 + 40, key=key, exclude=[homes[key]])
    assert excluded != homes[key]
    r.report("checkout", excluded, "success", t0 + 40)
    got = [r.choose("checkout", "consistent_hash", t0 + 50 + k, key=key) for k in range(3)]
    assert got[0] == homes[key] and got[1] != homes[key], got
    for k, iid in enumerate(got):
        r.report("checkout", iid, "success", t0 + 60 + k)
    # Background load, then one key again and again: it stays home while under the bound.
    for k in range(24):
        r.choose("checkout", "least_request", t0 + 100 + k)
    runs = [r.choose("checkout", "consistent_hash", t0 + 200 + k, key="user-3") for k in range(10)]
    assert runs[0] == homes["user-3"] and len(set(runs)) >= 2, runs
    for k in range(6):
        r.choose("checkout", "consistent_hash", t0 + 300 + k, key=f"user-{k + 10}")
    # Fewer candidates: the ring stays the one of all instances, the bound uses the candidates'.
    for k in range(8):
        ex = ["c-5"] if k % 2 else ["c-2", "c-6"]
        r.choose("checkout", "consistent_hash", t0 + 320 + k, key=f"user-{k + 20}", exclude=ex)
    no_key = r.choose("checkout", "consistent_hash", t0 + 400)
    twin = copy.deepcopy(r.bal)
    twin.report("checkout", no_key, "cancelled", t0 + 400)
    step = r.steps[-1]
    assert twin.choose(cat, "checkout", "least_request", step["random"], t0 + 400) == no_key
    r.choose("search", "consistent_hash", t0 + 401, key="query-42")
    return r.done()


def breaker(cat, t0):
    r = Recorder(cat, "breaker-eject-probe", "5 failures open c-5 for 30 s; a half-open probe that fails "
                 "reopens it for 60 s; a cancelled probe frees the slot; a probe that succeeds closes it "
                 "and resets the ejection count")
    svc = cat.services["checkout"]
    for k in range(4):
        r.hit("checkout", "c-5", "failure", t0 + 100 * k)
    assert r.circuit("checkout", "c-5", t0 + 350)["state"] == "closed"
    r.hit("checkout", "c-5", "failure", t0 + 400)
    until = t0 + 400 + 30_000
    assert r.circuit("checkout", "c-5", t0 + 401) == {"state": "open", "until": until, "outstanding": 0}
    would = find("breaker-would-c5", lambda x: first_weighted(svc, x) == "c-5")
    skipped = r.choose("checkout", "weighted_random", t0 + 500, random=would)
    assert skipped != "c-5"
    r.report("checkout", skipped, "success", t0 + 501)
    rr = [r.choose("checkout", "round_robin", t0 + 600 + k) for k in range(5)]
    assert "c-5" not in rr
    for k, iid in enumerate(rr):
        r.report("checkout", iid, "success", t0 + 700 + k)
    r.circuit("checkout", "c-5", until - 1)
    assert r.circuit("checkout", "c-5", until) == {"state": "half_open", "probing": False, "outstanding": 0}
    assert r.choose("checkout", "weighted_random", until + 10, random=would) == "c-5"
    r.circuit("checkout", "c-5", until + 11)
    others = [r.choose("checkout", "round_robin", until + 20 + k) for k in range(6)]
    assert "c-5" not in others
    for k, iid in enumerate(others):
        r.report("checkout", iid, "success", until + 40 + k)
    r.report("checkout", "c-5", "failure", until + 1000)
    until2 = until + 1000 + 60_000
    assert r.circuit("checkout", "c-5", until + 1001) == {"state": "open", "until": until2, "outstanding": 0}
    r.circuit("checkout", "c-5", until2)
    r.hit("checkout", "c-5", "cancelled", until2 + 5, strategy="weighted_random")
    assert r.circuit("checkout", "c-5", until2 + 6)["probing"] is False
    assert r.choose("checkout", "weighted_random", until2 + 10, random=would) == "c-5"
    r.report("checkout", "c-5", "success", until2 + 20)
    assert r.circuit("checkout", "c-5", until2 + 21) == {"state": "closed", "outstanding": 0}
    last = r.trip("checkout", "c-5", until2 + 100)
    assert r.circuit("checkout", "c-5", last + 1)["until"] == last + 30_000
    # Successes while open do not close it; failures while open do not extend it.
    r.hit("checkout", "c-5", "success", last + 10)
    r.hit("checkout", "c-5", "failure", last + 20)
    assert r.circuit("checkout", "c-5", last + 21)["until"] == last + 30_000
    return r.done()


def doubling(cat, t0):
    r = Recorder(cat, "breaker-doubling", "each failed probe doubles the ejection: 30, 60, 120, 240 s, "
                 "then the 300 s cap")
    now = r.trip("checkout", "c-2", t0)
    for want in (30_000, 60_000, 120_000, 240_000, 300_000, 300_000):
        assert r.circuit("checkout", "c-2", now + 1)["until"] == now + want
        now += want
        r.circuit("checkout", "c-2", now)
        r.hit("checkout", "c-2", "failure", now + 50)
        now += 50
    return r.done()


def share_limit(cat, t0):
    r = Recorder(cat, "breaker-share-limit", "at most 50 % of a service open: never its only instance, one of "
                 "two, three of six; the failures still count and trip once the share allows")
    r.trip("billing", "b-1", t0)
    r.hit("billing", "b-1", "failure", t0 + 500)
    assert r.circuit("billing", "b-1", t0 + 501) == {"state": "closed", "outstanding": 0}
    assert r.choose("billing", "least_request", t0 + 502) == "b-1"
    last = r.trip("search", "s-1", t0 + 1000)
    r.circuit("search", "s-1", last + 1)
    r.trip("search", "s-2", t0 + 2000)
    assert r.circuit("search", "s-2", t0 + 2401)["state"] == "closed"
    assert r.choose("search", "least_request", t0 + 2500) == "s-2"
    for k, iid in enumerate(["c-1", "c-2", "c-5"]):
        r.trip("checkout", iid, t0 + 3000 + 1000 * k)
    r.trip("checkout", "c-4", t0 + 6000)
    for iid in ("c-1", "c-2", "c-5", "c-4"):
        r.circuit("checkout", iid, t0 + 6500)
    assert r.circuit("checkout", "c-4", t0 + 6500)["state"] == "closed"
    rr = [r.choose("checkout", "round_robin", t0 + 7000 + k) for k in range(6)]
    assert set(rr) == {"c-3", "c-4", "c-6"}, rr
    # c-1 half-open is no longer counted: the next failure of c-4 (already past the threshold) trips it.
    half = t0 + 3400 + 30_000
    r.hit("checkout", "c-4", "failure", half + 10)
    assert r.circuit("checkout", "c-4", half + 11)["state"] == "open"
    return r.done()


def panic(cat, t0):
    r = Recorder(cat, "panic-mode", "when no allowed instance is available the circuits are ignored: "
                 "a probe failure reopens s-1 past the share limit, so both search instances are open")
    first = r.trip("search", "s-1", t0)
    half = first + 30_000
    r.circuit("search", "s-1", half)
    second = r.trip("search", "s-2", half)
    r.circuit("search", "s-2", second + 1)
    assert r.choose("search", "round_robin", second + 10) == "s-1"  # the probe
    r.report("search", "s-1", "failure", second + 20)
    for iid in ("s-1", "s-2"):
        assert r.circuit("search", iid, second + 21)["state"] == "open"
    got = [r.choose("search", "round_robin", second + 30 + k) for k in range(3)]
    assert set(got) == {"s-1", "s-2"}, got
    r.choose("search", "least_request", second + 40)
    r.choose("search", "consistent_hash", second + 41, key="query-42")
    r.circuit("search", "s-1", second + 42)
    c5 = r.trip("checkout", "c-5", t0)
    assert r.choose("checkout", "weighted_random", c5 + 10, exclude=r.others("checkout", ["c-5"])) == "c-5"
    assert r.circuit("checkout", "c-5", c5 + 11)["outstanding"] == 1
    return r.done()


def nothing(cat, t0):
    r = Recorder(cat, "no-instance", "unknown service, everything excluded, unknown ids: no choice, no state")
    for strategy in model.STRATEGIES:
        assert r.choose("inventory", strategy, t0, key="k" if strategy == "consistent_hash" else None) is None
    assert r.circuit("checkout", "c-1", t0) is None
    every = cat.services["checkout"].ids
    for strategy in model.STRATEGIES:
        assert r.choose("checkout", strategy, t0 + 1, exclude=every) is None
    r.report("checkout", "c-9", "failure", t0 + 2)
    r.report("inventory", "i-1", "failure", t0 + 2)
    assert r.circuit("checkout", "c-1", t0 + 3) == {"state": "closed", "outstanding": 0}
    assert r.circuit("checkout", "c-9", t0 + 3) is None
    r.report("checkout", "c-1", "success", t0 + 4)  # nothing outstanding: stays 0
    r.circuit("checkout", "c-1", t0 + 5)
    assert r.choose("checkout", "least_request", t0 + 6, exclude=["c-9"]) is not None
    return r.done()


def build(document: dict, now: int) -> dict:
    cat = model.Catalog(document)
    seqs = [f(cat, now) for f in (round_robin, weighted_random, least_request, least_request_ties,
                                  consistent_hash, breaker, doubling, share_limit, panic, nothing)]
    return {"description": DESCRIPTION, "catalog": document, "sequences": seqs}
