"""ns per evaluation from Python through burgee, on the flag set of core/benches/evaluate.rs:
100 flags, each with one rule `environment in [production, staging]` ∧ `country in [5]` ∧
`age >= 18` serving a 50/50 rollout (even flags, boolean) or a 33/33/34 split (odd flags,
string); a pool of 1024 users. The snapshot is signed with `burgee keygen` + `burgee sign` and
loaded by a Client from a bootstrap string (offline: no exposures are sent).

Run (release wheel): see BENCHMARKS.md. Needs BURGEE_BIN (any build of the burgee binary).
"""

import json
import os
import pathlib
import subprocess
import tempfile
import time

import burgee

NOW = int(time.time() * 1000)


def flag(i):
    when = {"all": [
        {"attribute": "environment", "op": "in", "values": ["production", "staging"]},
        {"attribute": "country", "op": "in", "values": ["DE", "FR", "NL", "US", "GB"]},
        {"attribute": "age", "op": "gte", "value": 18},
    ]}
    if i % 2 == 0:
        return {"key": f"flag-{i}", "type": "boolean", "variants": {"on": True, "off": False}, "enabled": True,
                "off_variant": "off", "default": {"variant": "off"},
                "rules": [{"id": "r1", "when": when, "serve": {"rollout": {"weights": [
                    {"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]}
    return {"key": f"flag-{i}", "type": "string", "variants": {"control": "control", "a": "variant-a", "b": "variant-b"},
            "enabled": True, "off_variant": "control", "default": {"variant": "control"},
            "rules": [{"id": "r1", "when": when, "serve": {"rollout": {"weights": [
                {"variant": "control", "weight": 3300}, {"variant": "a", "weight": 3300}, {"variant": "b", "weight": 3400}]}}}]}


def signed_envelope():
    d = pathlib.Path(tempfile.mkdtemp(prefix="burgee-bench-"))
    b = os.environ["BURGEE_BIN"]
    subprocess.run([b, "keygen", "--out", str(d / "keys")], check=True, capture_output=True)
    doc = {"format": 1, "project": "bench", "environment": "production", "version": 1, "issued_at": NOW - 1000,
           "expires_at": NOW + 86_400_000, "salt": "0123456789abcdef", "flags": [flag(i) for i in range(100)]}
    (d / "payload.json").write_text(json.dumps(doc))
    subprocess.run([b, "sign", "--key", str(d / "keys/signing.key"), "--payload", str(d / "payload.json"),
                    "--out", str(d / "envelope.json")], check=True, capture_output=True)
    return (d / "envelope.json").read_text(), (d / "keys/signing.pub").read_text().strip()


def users():
    envs = ["production", "staging", "development"]
    countries = ["DE", "FR", "NL", "US", "GB", "IT", "ES", "JP"]
    out = []
    for i in range(1024):
        r = (i * 2654435761) & 0xFFFFFFFF
        r = ((r << 7) | (r >> 25)) & 0xFFFFFFFF  # rotate_left(7), as the Rust bench
        out.append({"targetingKey": f"user-{i}", "environment": envs[r % 3], "country": countries[(r >> 4) % 8],
                    "age": 10 + (r >> 8) % 60})
    return out


def measure(name, n, body):
    body(min(n, 50_000))
    runs = []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        body(n)
        runs.append((time.perf_counter_ns() - t0) / n)
    runs.sort()
    print(f"{name:<60} {runs[2]:6.0f} ns/eval (median of 5 x {n}; best {runs[0]:.0f})")


def main():
    envelope, key = signed_envelope()
    client = burgee.Client(environment="production", trusted_keys=[key], bootstrap=envelope)
    assert client.status()["status"] == "READY", client.status()
    pool = users()
    handles = [burgee.Context.from_dict(u) for u in pool]
    bool_keys = [f"flag-{2 * i}" for i in range(50)]
    str_keys = [f"flag-{2 * i + 1}" for i in range(50)]
    # (flag, context) pairs precomputed so the measured loop does no arithmetic.
    bool_pairs = [(bool_keys[i % 50], handles[(i * 7) & 1023]) for i in range(4096)]
    str_pairs = [(str_keys[i % 50], handles[(i * 7) & 1023]) for i in range(4096)]
    tks = [f"user-{i}" for i in range(1024)]
    n = 400_000
    get_bool, get_str = client.get_boolean_value, client.get_string_value

    def reused_bool(n):
        pairs = bool_pairs * (n // 4096 + 1)
        for k, ctx in pairs[:n]:
            get_bool(k, False, ctx)

    def reused_str(n):
        pairs = str_pairs * (n // 4096 + 1)
        for k, ctx in pairs[:n]:
            get_str(k, "control", ctx)

    def fresh_dict(n):
        for i in range(n):
            get_bool(bool_keys[i % 50], False, {"targetingKey": tks[i & 1023], "environment": "production", "country": "DE", "age": 30})

    def fresh_context(n):
        ctx_new = burgee.Context
        for i in range(n):
            get_bool(bool_keys[i % 50], False, ctx_new(tks[i & 1023], environment="production", country="DE", age=30))

    def details(n):
        pairs = bool_pairs * (n // 4096 + 1)
        for k, ctx in pairs[:n]:
            client.get_boolean_details(k, False, ctx)

    def loop_only(n):
        pairs = bool_pairs * (n // 4096 + 1)
        for k, ctx in pairs[:n]:
            pass

    measure("(loop overhead alone, subtracted from nothing)", n, loop_only)
    measure("get_boolean_value, reused Context handle", n, reused_bool)
    measure("get_string_value, reused Context handle", n, reused_str)
    measure("get_boolean_value, fresh 3-attribute dict per call", n, fresh_dict)
    measure("get_boolean_value, Context(3 attributes) per call", n, fresh_context)
    measure("get_boolean_details, reused Context handle", n // 4, details)

    # The same with exposure recording on: a server is configured (an unused local port, so
    # batches stay queued and bounded), and every evaluation goes through the exposure dedupe.
    recording = burgee.Client(environment="production", trusted_keys=[key], bootstrap=envelope,
                              server_url="http://127.0.0.1:9", sdk_key="bgs_bench", streaming=False,
                              poll_interval_ms=3_600_000, backoff_cap_ms=3_600_000)
    get_rec = recording.get_boolean_value

    def recorded(n):
        pairs = bool_pairs * (n // 4096 + 1)
        for k, ctx in pairs[:n]:
            get_rec(k, False, ctx)

    measure("get_boolean_value, reused handle, exposures recorded (deduped)", n, recorded)
    print(f"(exposures deduplicated: {recording.event_stats()['deduplicated']})")
    client.close()
    recording.close()


if __name__ == "__main__":
    main()
