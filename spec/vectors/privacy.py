#!/usr/bin/env python3
"""Independent implementation of client snapshots (spec/SNAPSHOT.md §9), using only hashlib.

    digest = hex(SHA-256(u32be(19) || "burgee/sensitive/v1" || u32be(len(salt)) || salt
                         || u32be(len(value)) || value))        (UTF-8 byte lengths)

A client snapshot keeps only `client_visible` flags and the segments they use, and replaces
targeting keys, segment key lists and `sensitive` clause operands (lowercased first under
`ignore_case`) by digests.

Usage:
    privacy.py generate   write client-view.json and eval/08-client-snapshot.json beside this
                          script from the server snapshot and cases below
    privacy.py check      re-derive both files and exit 1 if either differs from what is stored
    privacy.py digest SALT VALUE
"""
import copy
import hashlib
import json
import pathlib
import struct
import sys

HERE = pathlib.Path(__file__).parent
DOMAIN = "burgee/sensitive/v1"


def digest(salt: str, value: str) -> str:
    h = hashlib.sha256()
    for part in (DOMAIN, salt, value):
        raw = part.encode("utf-8")
        h.update(struct.pack(">I", len(raw)))
        h.update(raw)
    return h.hexdigest()


def hash_condition(cond: dict, salt: str) -> dict:
    if "all" in cond or "any" in cond:
        (k,) = cond.keys()
        return {k: [hash_condition(c, salt) for c in cond[k]]}
    if "not" in cond:
        return {"not": hash_condition(cond["not"], salt)}
    if not cond.get("sensitive"):
        return cond
    fold = (lambda s: s.lower()) if cond.get("ignore_case") else (lambda s: s)
    out = dict(cond)
    if "value" in out:
        out["value"] = digest(salt, fold(out["value"]))
    if "values" in out:
        out["values"] = [digest(salt, fold(v)) for v in out["values"]]
    return out


def segments_used(cond: dict, out: set) -> None:
    for k in ("all", "any"):
        for c in cond.get(k, []):
            segments_used(c, out)
    if "not" in cond:
        segments_used(cond["not"], out)
    if cond.get("op") == "in_segment":
        out.update(cond["values"])


def client_view(server: dict) -> dict:
    salt = server["salt"]
    flags, used = [], set()
    for f in server["flags"]:
        if not f.get("client_visible"):
            continue
        f = copy.deepcopy(f)
        for t in f.get("targets", []):
            t["keys"] = [digest(salt, k) for k in t["keys"]]
        for r in f.get("rules", []):
            segments_used(r["when"], used)
            r["when"] = hash_condition(r["when"], salt)
        flags.append(f)
    segments = []
    for s in server.get("segments", []):
        if s["key"] not in used:
            continue
        s = copy.deepcopy(s)
        for k in ("included", "excluded"):
            if k in s:
                s[k] = [digest(salt, v) for v in s[k]]
        for r in s.get("rules", []):
            r["when"] = hash_condition(r["when"], salt)
        segments.append(s)
    out = {k: v for k, v in server.items() if k not in ("flags", "segments")}
    out["audience"] = "client"
    out["flags"] = flags
    out["segments"] = segments
    return out


def boolean_flag(key: str, **extra) -> dict:
    flag = {
        "key": key,
        "type": "boolean",
        "variants": {"on": True, "off": False},
        "enabled": True,
        "off_variant": "off",
        "default": {"variant": "off"},
    }
    flag.update(extra)
    return flag


SERVER = {
    "format": 1,
    "project": "vectors",
    "environment": "test",
    "version": 7,
    "issued_at": 1700000000000,
    "expires_at": 1900000000000,
    "salt": "privacy-salt",
    "flags": [
        boolean_flag(
            "staff-tools",
            client_visible=True,
            rules=[
                {
                    "id": "staff-emails",
                    "when": {
                        "attribute": "email",
                        "op": "in",
                        "values": ["Alice@Example.com", "bob@example.com"],
                        "ignore_case": True,
                        "sensitive": True,
                    },
                    "serve": {"variant": "on"},
                }
            ],
        ),
        boolean_flag(
            "not-blocked",
            client_visible=True,
            rules=[
                {
                    "id": "blocklist",
                    "when": {
                        "attribute": "phone",
                        "op": "not_in",
                        "values": ["+4915112345678"],
                        "sensitive": True,
                    },
                    "serve": {"variant": "on"},
                }
            ],
        ),
        boolean_flag(
            "ceo-preview",
            client_visible=True,
            targets=[{"variant": "on", "keys": ["user-ceo", "user-cto"]}],
            rules=[
                {
                    "id": "exact-email",
                    "when": {
                        "attribute": "email",
                        "op": "equals",
                        "value": "ceo@example.com",
                        "sensitive": True,
                    },
                    "serve": {"variant": "on"},
                },
                {
                    "id": "plain-country",
                    "when": {"attribute": "country", "op": "in", "values": ["NZ"]},
                    "serve": {"variant": "on"},
                },
            ],
        ),
        boolean_flag(
            "beta-ui",
            client_visible=True,
            prerequisites=[{"flag": "not-blocked", "variants": ["on"]}],
            rules=[
                {
                    "id": "in-beta",
                    "when": {"op": "in_segment", "values": ["beta-testers"]},
                    "serve": {"variant": "on"},
                }
            ],
        ),
        boolean_flag(
            "internal-kill-switch",
            rules=[
                {
                    "id": "ops",
                    "when": {"op": "in_segment", "values": ["ops-team"]},
                    "serve": {"variant": "on"},
                }
            ],
        ),
    ],
    "segments": [
        {
            "key": "beta-testers",
            "included": ["user-7", "user-8"],
            "excluded": ["user-8"],
            "rules": [
                {
                    "id": "partner-domain",
                    "when": {
                        "attribute": "company",
                        "op": "equals",
                        "value": "Partner GmbH",
                        "sensitive": True,
                    },
                }
            ],
        },
        {"key": "ops-team", "included": ["user-ops"]},
    ],
}

# (flag, context, value, variant, reason, rule_id): identical for the server and the client
# snapshot; core/tests/vectors.rs evaluates both.
CASES = [
    ("staff-tools", {"targetingKey": "u1", "email": "alice@example.com"}, True, "on", "TARGETING_MATCH", "staff-emails"),
    ("staff-tools", {"targetingKey": "u1", "email": "ALICE@EXAMPLE.COM"}, True, "on", "TARGETING_MATCH", "staff-emails"),
    ("staff-tools", {"targetingKey": "u1", "email": "bob@example.com"}, True, "on", "TARGETING_MATCH", "staff-emails"),
    ("staff-tools", {"targetingKey": "u1", "email": "carol@example.com"}, False, "off", "DEFAULT", None),
    ("staff-tools", {"targetingKey": "u1", "email": ["x@example.com", "bob@example.com"]}, True, "on", "TARGETING_MATCH", "staff-emails"),
    ("staff-tools", {"targetingKey": "u1", "email": 42}, False, "off", "DEFAULT", None),
    ("staff-tools", {"targetingKey": "u1"}, False, "off", "DEFAULT", None),
    ("not-blocked", {"targetingKey": "u1", "phone": "+4915112345678"}, False, "off", "DEFAULT", None),
    ("not-blocked", {"targetingKey": "u1", "phone": "+4915100000000"}, True, "on", "TARGETING_MATCH", "blocklist"),
    ("not-blocked", {"targetingKey": "u1"}, False, "off", "DEFAULT", None),
    ("ceo-preview", {"targetingKey": "user-ceo"}, True, "on", "TARGETING_MATCH", None),
    ("ceo-preview", {"targetingKey": "user-cto"}, True, "on", "TARGETING_MATCH", None),
    ("ceo-preview", {"targetingKey": "USER-CEO"}, False, "off", "DEFAULT", None),
    ("ceo-preview", {"targetingKey": "u1", "email": "ceo@example.com"}, True, "on", "TARGETING_MATCH", "exact-email"),
    ("ceo-preview", {"targetingKey": "u1", "email": "CEO@example.com"}, False, "off", "DEFAULT", None),
    ("ceo-preview", {"targetingKey": "u1", "country": "NZ"}, True, "on", "TARGETING_MATCH", "plain-country"),
    ("beta-ui", {"targetingKey": "user-7", "phone": "+1"}, True, "on", "TARGETING_MATCH", "in-beta"),
    ("beta-ui", {"targetingKey": "user-8", "phone": "+1", "company": "Partner GmbH"}, False, "off", "DEFAULT", None),
    ("beta-ui", {"targetingKey": "user-9", "phone": "+1", "company": "Partner GmbH"}, True, "on", "TARGETING_MATCH", "in-beta"),
    ("beta-ui", {"targetingKey": "user-9", "phone": "+1", "company": "partner gmbh"}, False, "off", "DEFAULT", None),
    ("beta-ui", {"targetingKey": "user-7", "phone": "+4915112345678"}, False, "off", "PREREQUISITE_FAILED", None),
]

# Server snapshots the derivation refuses: (name, change to SERVER, path, text in the message).
REFUSED = [
    ("prerequisite on a server-only flag",
     lambda s: s["flags"][1].pop("client_visible"),
     "flags[beta-ui].prerequisites", "server-only"),
    ("sensitive on a non-equality operator",
     lambda s: s["flags"][0]["rules"][0].update(when={"attribute": "email", "op": "ends_with", "values": ["@example.com"], "sensitive": True}),
     "flags[staff-tools].rules[staff-emails].when", "sensitive"),
    ("sensitive with a number operand",
     lambda s: s["flags"][0]["rules"][0]["when"].update(values=[42]),
     "flags[staff-tools].rules[staff-emails].when", "strings"),
]


def documents() -> dict:
    client = client_view(SERVER)
    cases = []
    for flag, ctx, value, variant, reason, rule in CASES:
        cases.append({
            "name": f"{flag}: {json.dumps(ctx)}",
            "flag": flag,
            "context": ctx,
            "expected": {"value": value, "variant": variant, "reason": reason, "rule_id": rule, "error_code": None},
        })
    cases.append({
        "name": "internal-kill-switch is not in the client snapshot",
        "flag": "internal-kill-switch",
        "context": {"targetingKey": "user-ops"},
        "expected": {"value": None, "variant": None, "reason": "ERROR", "rule_id": None, "error_code": "FLAG_NOT_FOUND"},
    })
    refused = []
    for name, change, path, text in REFUSED:
        server = copy.deepcopy(SERVER)
        change(server)
        refused.append({"name": name, "server": server, "path": path, "message_contains": text})
    return {
        "client-view.json": {
            "description": "Client snapshot derivation (spec/SNAPSHOT.md §9): `client` is the exact "
                           "derivation of `server`; every case of eval/08-client-snapshot.json except "
                           "the last gives the same details on both. Generated by privacy.py.",
            "server": SERVER,
            "client": client,
            "refused": refused,
        },
        "eval/08-client-snapshot.json": {
            "description": "A client snapshot: digested targeting keys, segment lists and sensitive "
                           "operands (spec/SNAPSHOT.md §9). Generated by privacy.py from client-view.json's "
                           "server snapshot.",
            "now": 1800000000000,
            "snapshot": client,
            "cases": cases,
        },
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["generate"]:
        for name, doc in documents().items():
            (HERE / name).write_text(render(doc), encoding="utf-8")
            print(f"wrote {name}")
        return 0
    if argv == ["check"]:
        bad = 0
        for name, doc in documents().items():
            if (HERE / name).read_text(encoding="utf-8") != render(doc):
                print(f"MISMATCH {name}: stored file differs from this derivation")
                bad += 1
            else:
                print(f"{name}: matches")
        return 1 if bad else 0
    if len(argv) == 3 and argv[0] == "digest":
        print(digest(argv[1], argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
