#!/usr/bin/env python3
"""Writes the signed config-document fixtures and manifest.json in this folder.

An independent implementation of config documents (spec/CONFIG.md): the envelope helpers (DSSE v1
PAE, key ids, base64) come from ../envelopes/make_fixtures.py and Ed25519 from the
`cryptography` package; the parsed value of each entry is computed with Python's own parsers
(json, PyYAML, tomllib, a `.properties` reader below); rollout buckets come from
../bucketing.py (hashlib), so the Rust core is checked against code it shares nothing with.
The signing keys are generated here and thrown away; only public keys are written. Re-running
produces new keys and signatures (the fixtures are golden files: re-run only when the format
changes, then commit the result).

Each manifest case: file, trusted_keys, environment, service, now, optional project (absent: not
checked), held_version/held_digest/max_envelope_bytes, expected (OK or an error code), and for OK
the version and digest, and optionally `instances`: [{instance: <context JSON>, expected: {entry
key: {raw, value, override}}}] (every entry of the document, `override` null for the base value).
"""
import copy
import hashlib
import importlib.util
import json
import pathlib
import tomllib

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = pathlib.Path(__file__).parent


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


envelopes = _load("envelope_fixtures", HERE.parent / "envelopes" / "make_fixtures.py")
bucketing = _load("bucketing", HERE.parent / "bucketing.py")
b64, key_id, pae, raw_public = envelopes.b64, envelopes.key_id, envelopes.pae, envelopes.raw_public

CONFIG_PAYLOAD_TYPE = "application/vnd.burgee.config+json; version=1"
SNAPSHOT_PAYLOAD_TYPE = envelopes.PAYLOAD_TYPE
NOW = 1_800_000_000_000
SALT = "fixture-salt"
SERVICE = "checkout"
BUCKETS = 10_000


def read_properties(raw: str) -> dict:
    """The subset of Java `.properties` the fixtures use: `key=value` lines, `#` comments."""
    out = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip()
    return dict(sorted(out.items()))


PARSERS = {
    "json": json.loads,
    "yaml": yaml.safe_load,
    "toml": tomllib.loads,
    "properties": read_properties,
    "text": lambda raw: raw,
}


def entry(key, fmt, raw, revision=1, secret=False, overrides=()):
    e = {"key": key, "format": fmt, "raw": raw, "value": PARSERS[fmt](raw), "revision": revision}
    if secret:
        e["secret"] = True
    if overrides:
        e["overrides"] = [dict(o, value=PARSERS[fmt](o["raw"])) for o in overrides]
    return e


DB_BASE = "host: db.internal\nport: 5432\npool:\n  max: 20\n  idle_seconds: 30\n"
DB_EU = "host: db-eu.internal\nport: 5432\npool:\n  max: 20\n  idle_seconds: 30\n"
FEATURES_BASE = '{"search": {"engine": "v1", "limit": 50}, "tags": ["a", "b"]}'
FEATURES_V2 = '{"search": {"engine": "v2", "limit": 50}, "tags": ["a", "b"]}'
FEATURES_PINNED = '{"search": {"engine": "v2-canary", "limit": 10}, "tags": []}'

ENTRIES = [
    entry("banner", "text", "Welcome back!\nSale ends Sunday.", revision=4),
    # A condition on `zone` only: every instance in an EU zone, no percentage.
    entry("db.primary", "yaml", DB_BASE, revision=2, overrides=[
        {"id": "eu-replica", "when": {"attribute": "zone", "op": "starts_with", "values": ["eu-"]},
         "raw": DB_EU}]),
    # First match decides: pinned canaries first, then a 30 % rollout of every instance.
    entry("features", "json", FEATURES_BASE, revision=9, overrides=[
        {"id": "pinned", "when": {"all": [
            {"attribute": "labels", "op": "in", "values": ["canary"]},
            {"attribute": "version", "op": "semver_gte", "value": "2.0.0"}]},
         "raw": FEATURES_PINNED},
        {"id": "v2-rollout", "percentage": 3000, "raw": FEATURES_V2}]),
    entry("limits", "toml", 'requests_per_second = 100\nburst = 20\n\n[per_route]\n"/pay" = 5\n'),
    entry("logging", "properties", "# levels\nlevel=INFO\nformat=json\nsampling.ratio=0.25\n", revision=3),
    entry("payment.api_key", "text", "sk_live_fixture_0123456789", secret=True),
]


def document(version=7, environment="production", service=SERVICE, project="fixtures",
             expires_at=1_900_000_000_000, entries=None, secrets=True, **extra) -> bytes:
    entries = copy.deepcopy(ENTRIES if entries is None else entries)
    if not secrets:
        entries = [e for e in entries if not e.get("secret")]
    doc = {"format": 1, "project": project, "environment": environment, "service": service,
           "version": version, "issued_at": 1_700_000_000_000, "expires_at": expires_at,
           "salt": SALT}
    if secrets:
        doc["secrets"] = True
    doc["entries"] = entries
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":")).encode()


def envelope(payload: bytes, signers, payload_type=CONFIG_PAYLOAD_TYPE) -> dict:
    sigs = [{"keyid": key_id(k), "sig": b64(k.sign(pae(payload_type, payload)))} for k in signers]
    return {"payloadType": payload_type, "payload": b64(payload), "signatures": sigs}


# --- evaluation (spec/CONFIG.md §3), written from the spec, not from the Rust code ------------

def matches(cond, inst) -> bool:
    if cond is None:
        return True
    if "all" in cond:
        return all(matches(c, inst) for c in cond["all"])
    attr = cond["attribute"]
    value = inst.get(attr)
    if value is None:
        return False
    op = cond["op"]
    if op == "starts_with":
        return isinstance(value, str) and any(value.startswith(p) for p in cond["values"])
    if op == "in":
        items = value if isinstance(value, list) else [value]
        return any(v in cond["values"] for v in items)
    if op == "semver_gte":
        # The fixtures use plain MAJOR.MINOR.PATCH versions only.
        def parse(s):
            return tuple(int(p) for p in s.split("."))
        return isinstance(value, str) and parse(value) >= parse(cond["value"])
    raise ValueError(f"operator {op} not used by the fixtures")


def resolve(e, inst):
    """(raw, value, override id or None) of entry `e` for instance `inst` (a context dict)."""
    for o in e.get("overrides", []):
        if not matches(o.get("when"), inst):
            continue
        p = o.get("percentage")
        if p is None or p == BUCKETS:
            return o["raw"], o["value"], o["id"]
        iid = inst.get("targetingKey")
        if iid is None:
            break  # a percentage without an instance id: the base value
        seed = f"config/{SERVICE}/{e['key']}/{o['id']}"
        if bucketing.bucket(SALT, seed, iid) < p:
            return o["raw"], o["value"], o["id"]
        break  # matched, out of the percentage: the base value
    return e["raw"], e["value"], None


def expectations(instances, entries):
    out = []
    for inst in instances:
        exp = {}
        for e in entries:
            raw, value, oid = resolve(e, inst)
            exp[e["key"]] = {"raw": raw, "value": value, "override": oid}
        out.append({"instance": inst, "expected": exp})
    return out


def find_instance(prefix: str, inside: bool) -> str:
    """The first `prefix<n>` whose `features/v2-rollout` bucket is (not) below 3000."""
    seed = f"config/{SERVICE}/features/v2-rollout"
    for n in range(100_000):
        iid = f"{prefix}{n}"
        if (bucketing.bucket(SALT, seed, iid) < 3000) == inside:
            return iid
    raise RuntimeError("no instance id found")


def main() -> None:
    trusted, stranger = (Ed25519PrivateKey.generate() for _ in range(2))
    pub = {name: b64(raw_public(k)) for name, k in [("trusted", trusted), ("stranger", stranger)]}
    valid_payload = document()
    digest = "sha256:" + hashlib.sha256(valid_payload).hexdigest()
    files: dict[str, str] = {}
    cases = []

    def add(file, text, expected, trusted_keys=("trusted",), environment="production",
            service=SERVICE, **extra):
        files[file] = text
        case = {"file": file, "trusted_keys": [pub[k] for k in trusted_keys],
                "environment": environment, "service": service, "now": NOW, "expected": expected}
        case.update(extra)
        cases.append(case)

    inside_us = find_instance("i-us-", True)
    outside_us = find_instance("i-us-", False)
    inside_eu = find_instance("i-eu-", True)
    outside_canary = find_instance("i-canary-", False)
    seed = f"config/{SERVICE}/features/v2-rollout"
    buckets = {i: bucketing.bucket(SALT, seed, i) for i in (inside_us, outside_us, inside_eu, outside_canary)}
    instances = [
        {"targetingKey": inside_us, "host": "web-1.us", "zone": "us-east-1a", "version": "2.4.0",
         "labels": ["web"]},
        {"targetingKey": outside_us, "host": "web-2.us", "zone": "us-east-1b", "version": "2.4.0",
         "labels": ["web"]},
        {"targetingKey": inside_eu, "host": "web-1.eu", "zone": "eu-west-1a", "version": "2.4.0"},
        # Matches `pinned` though out of the rollout's bucket range: the first match decides.
        {"targetingKey": outside_canary, "zone": "us-east-1a", "version": "2.1.0",
         "labels": ["web", "canary"]},
        # A canary label, but too old a version for `pinned`; falls to the rollout.
        {"targetingKey": outside_us, "zone": "us-east-1a", "version": "1.9.9", "labels": ["canary"]},
        # No instance id: conditions still apply, percentages serve the base value.
        {"zone": "eu-central-1", "labels": ["canary"], "version": "1.0.0"},
    ]
    valid_expect = expectations(instances, ENTRIES)
    served = {(k, v["override"]) for x in valid_expect for k, v in x["expected"].items()}
    for want in [("features", "v2-rollout"), ("features", None), ("features", "pinned"),
                 ("db.primary", "eu-replica"), ("db.primary", None)]:
        assert want in served, want

    valid = json.dumps(envelope(valid_payload, [trusted]))
    add("valid.json", valid, "OK", project="fixtures", version=7, digest=digest,
        instances=valid_expect,
        note="every format, a secret, a zone override and a 30 % rollout; v2-rollout buckets: "
        + ", ".join(f"{i} {b}" for i, b in buckets.items()))
    add("valid.json", valid, "OK", version=7, digest=digest, note="project not checked")
    add("valid.json", valid, "OK", held_version=6, held_digest="sha256:" + "0" * 64, version=7,
        digest=digest, note="newer than the held version")
    add("valid.json", valid, "OK", held_version=7, held_digest=digest, version=7, digest=digest,
        note="same version and digest as held (refetch)")

    public_entries = [e for e in ENTRIES if not e.get("secret")]
    public_payload = document(secrets=False)
    add("valid-without-secrets.json", json.dumps(envelope(public_payload, [trusted])), "OK",
        project="fixtures", version=7, digest="sha256:" + hashlib.sha256(public_payload).hexdigest(),
        instances=expectations(instances[:2], public_entries),
        note="the same version as served to readers without the service's server-side key: no secret entries")

    tampered = envelope(valid_payload, [trusted])
    tampered["payload"] = b64(valid_payload.replace(b"db.internal", b"db.evil.example"))
    add("payload-tampered.json", json.dumps(tampered), "SIGNATURE_INVALID")
    retyped = envelope(valid_payload, [trusted])
    retyped["payloadType"] = SNAPSHOT_PAYLOAD_TYPE
    add("payload-type-tampered.json", json.dumps(retyped), "SIGNATURE_INVALID",
        note="payloadType changed after signing")
    add("snapshot-payload-type.json", json.dumps(envelope(valid_payload, [trusted], SNAPSHOT_PAYLOAD_TYPE)),
        "PAYLOAD_TYPE_MISMATCH", note="a config payload validly signed as a flag snapshot")
    add("unknown-key.json", json.dumps(envelope(valid_payload, [stranger])), "KEY_UNTRUSTED")
    add("valid.json", valid, "SNAPSHOT_TOO_LARGE", max_envelope_bytes=1024, note="over the size limit")
    add("not-a-config.json", json.dumps(envelope(document(audience="server"), [trusted])), "PARSE_ERROR",
        note="signed, but an unknown member (audience)")

    other_service = json.dumps(envelope(document(service="billing"), [trusted]))
    add("other-service.json", other_service, "SERVICE_MISMATCH", project="fixtures",
        note="validly signed, but another service's document")
    add("other-service.json", other_service, "SERVICE_MISMATCH", held_version=9,
        held_digest="sha256:" + "0" * 64, note="the service is checked before anti-rollback")
    add("other-service.json", other_service, "ENVIRONMENT_MISMATCH", environment="staging",
        note="the environment is checked before the service")
    add("wrong-environment.json", json.dumps(envelope(document(environment="staging"), [trusted])),
        "ENVIRONMENT_MISMATCH")
    add("other-project.json", json.dumps(envelope(document(project="other-project", service="billing"), [trusted])),
        "PROJECT_MISMATCH", project="fixtures", note="another project (and service): the project is checked first")

    add("valid.json", valid, "SNAPSHOT_ROLLBACK", held_version=8, held_digest="sha256:" + "0" * 64,
        note="rolled back: older than the held version")
    add("valid.json", valid, "SNAPSHOT_ROLLBACK", held_version=7, held_digest="sha256:" + "1" * 64,
        note="equivocation: same version, other digest")
    add("expired.json", json.dumps(envelope(document(version=8, expires_at=1_750_000_000_000), [trusted])),
        "SNAPSHOT_EXPIRED")

    def invalid(file, entries, note):
        add(file, json.dumps(envelope(document(entries=entries), [trusted])), "SNAPSHOT_INVALID", note=note)

    base = copy.deepcopy(ENTRIES)
    invalid("invalid-duplicate-key.json", [base[0], dict(base[3], key="banner")],
            "signed, but two entries with key banner")
    json_mismatch = copy.deepcopy(base[2])
    json_mismatch["value"]["search"]["engine"] = "v3"
    invalid("invalid-json-value.json", [base[0], json_mismatch], "signed, but a json value that is not its raw text parsed")
    reserved = copy.deepcopy(base[1])
    reserved["overrides"][0]["id"] = "base"
    invalid("invalid-override-id.json", [reserved], "signed, but an override with the reserved id base")
    over = copy.deepcopy(base[2])
    over["overrides"][1]["percentage"] = 10001
    invalid("invalid-percentage.json", [over], "signed, but a percentage of 10001 basis points")

    for name, text in files.items():
        (HERE / name).write_text(text)
    manifest = {"description": "Config document fixtures (spec/CONFIG.md). " + " ".join(__doc__.split("\n\n")[-1].split()),
                "cases": cases}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(files)} files, {len(cases)} cases; rollout buckets {buckets}")


if __name__ == "__main__":
    main()
