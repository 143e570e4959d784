#!/usr/bin/env python3
"""Writes the seed corpora of Burgee's fuzz targets into OUT/<target>/ (called by scripts/fuzz).

Seeds come from spec/vectors (envelope fixtures, evaluation snapshots and contexts, invalid
snapshots, the client-view vector) at run time, so nothing is duplicated in git, plus a few
hand-written inputs per target (event batches, SSE streams, event-log segments, API bodies).
Input layouts are those documented on the harness functions in fuzz/src/*.rs.

Usage: fuzz/seeds.py OUT
"""

import base64
import glob
import hashlib
import json
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "spec", "vectors")
NOW = 1_800_000_000_000
SEP = b"\xffSEG"  # server_targets::SEGMENT_SEPARATOR
BODY_TYPES = ["ProjectInput", "ProjectUpdate", "EnvironmentInput", "EnvironmentUpdate",
              "FlagInput", "FlagSpec", "Targeting", "SegmentDef", "TokenInput"]


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


class Corpus:
    def __init__(self, out):
        self.out = out

    def add(self, target, data):
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def eval_docs():
    return [load(p) for p in sorted(glob.glob(os.path.join(VECTORS, "eval", "*.json")))]


def envelope_files():
    return [p for p in sorted(glob.glob(os.path.join(VECTORS, "envelopes", "*.json")))
            if os.path.basename(p) != "manifest.json"]


def snapshots():
    """Every snapshot document in the vectors, valid or not."""
    out = [d["snapshot"] for d in eval_docs()]
    inv = os.path.join(VECTORS, "invalid-snapshots.json")
    if os.path.exists(inv):
        out += [c["snapshot"] for c in load(inv).get("cases", []) if "snapshot" in c]
    cv = os.path.join(VECTORS, "client-view.json")
    if os.path.exists(cv):
        doc = load(cv)
        out += [doc[k] for k in ("server", "client") if isinstance(doc.get(k), dict)]
        for r in doc.get("refused", []) or []:
            if isinstance(r, dict) and isinstance(r.get("server"), dict):
                out.append(r["server"])
    return out


def envelope_payloads():
    out = []
    for p in envelope_files():
        try:
            env = load(p)
            out.append(base64.b64decode(env["payload"], validate=True))
        except Exception:  # malformed fixtures are seeds of the raw mode only
            pass
    return out


def seed_envelope(c):
    for p in envelope_files():
        with open(p, "rb") as f:
            c.add("envelope", b"\x00" + f.read())
    for s in snapshots():
        c.add("envelope", b"\x01" + compact(s))
    for payload in envelope_payloads():
        c.add("envelope", b"\x01" + payload)


def seed_snapshot(c):
    for s in snapshots():
        c.add("snapshot", compact(s))
    for payload in envelope_payloads():
        c.add("snapshot", payload)


def seed_context(c):
    seen = set()
    for d in eval_docs():
        for case in d.get("cases", []):
            ctx = case.get("context")
            if ctx is not None:
                data = compact(ctx)
                if data not in seen:
                    seen.add(data)
                    c.add("context", data)
    for text in ['{}', '{"targetingKey":"u1","country":"DE","age":31,"beta":true,"groups":["a","b"]}',
                 '{"targetingKey":7}', '{"a":null}', '{"a":{"b":1}}', '{"a":[1]}', '[]',
                 '{"n":1e308,"m":-0.0,"big":18446744073709551615,"neg":-9223372036854775808}',
                 '{"s":"\\ud83d\\ude00","e":"","targetingKey":""}']:
        c.add("context", text.encode())


def exposure(**kw):
    e = {"kind": "exposure", "flag": "pricing", "variant": "on", "reason": "SPLIT",
         "rule_id": "r1", "targeting_key": "user-42", "snapshot_version": 17,
         "snapshot_digest": "sha256:" + "ab" * 32, "time": NOW}
    e.update(kw)
    return e


def track(**kw):
    t = {"kind": "track", "key": "purchase", "value": 59.9, "targeting_key": "user-42",
         "time": NOW + 4000, "attributes": {"currency": "EUR", "n": 2, "b": True}}
    t.update(kw)
    return t


def seed_event_batch(c):
    sdk = {"name": "burgee-node", "version": "0.3.1"}
    batches = [
        [exposure(), track()],
        [exposure(rule_id=None), track(value=None, attributes={})],
        [exposure(reason="ERROR"), track(value=1e308), exposure(time=0), track(key="")],
        [track(attributes={f"a{i}": i for i in range(33)})],
        [exposure(snapshot_digest="sha256:XYZ"), {"kind": "other"}, 5, None, "x"],
        [exposure(time=NOW + 3_600_001), exposure(time=NOW - 30 * 24 * 3_600_000 - 1)],
    ]
    for i, events in enumerate(batches):
        c.add("event_batch", compact({"batch_id": f"batch-000{i}-abcdef", "sdk": sdk,
                                      "events": events}))
    c.add("event_batch", compact({"batch_id": "short", "sdk": sdk, "events": [exposure()]}))
    c.add("event_batch", compact({"batch_id": "batch-empty-0001", "sdk": sdk, "events": []}))
    c.add("event_batch", compact({"batch_id": "batch-big-00001", "sdk": sdk,
                                  "events": [{}] * 1001}))


def seed_sse(c):
    env = b"{}"
    files = envelope_files()
    if files:
        with open(files[0], "rb") as f:
            env = compact(json.loads(f.read()))
    streams = [
        b": keep-alive\n\nid: 5\nevent: snapshot\ndata: " + env + b"\n\n",
        b"id: 7\r\nevent: snapshot\r\ndata: {\"a\":\r\ndata:1}\r\n\r\ndata: plain\r\n\r\nretry: 10\r\n\r\n",
        b"data\n\ndata:\n\nevent:\ndata: x\n\nid\x00: 1\nid: a\x00b\ndata: y\n\n",
        b"event: snapshot\ndata: 1\rdata: 2\r\r",
        b"\xef\xbb\xbfdata: bom\n\n",
        b"data: \xff\xfe\n\n",
        b"data: no terminator",
    ]
    for s in streams:
        c.add("sse", s)


def stored_batch(batch_id, events, received_at=NOW, project="p", environment="e"):
    return {"project": project, "environment": environment, "batch_id": batch_id,
            "sdk": {"name": "burgee-node", "version": "1"}, "received_at": received_at,
            "events": events, "rejected": 0}


def record(batch):
    payload = compact(batch)
    return struct.pack("<II", len(payload), zlib.crc32(payload) & 0xFFFFFFFF) + payload


def seed_event_log(c):
    a = record(stored_batch("batch-a", [exposure()]))
    b = record(stored_batch("batch-b", [track()], project="q"))
    c_ = record(stored_batch("batch-c", [], received_at=NOW - 100 * 24 * 3_600_000))
    dup = record(stored_batch("fuzz-appended-batch-0001", [], environment="fuzz-environment",
                              project="fuzz-project"))
    flipped = bytearray(b)
    flipped[20] ^= 0x41
    torn = a + b[: len(b) // 2]
    segments = [
        (0, [a + b + c_]),
        (4, [a + b + c_]),  # checksums fixed by the harness: a mutated payload stays framed
        (0, [a + bytes(flipped) + c_]),
        (0, [torn]),
        (0, [b"", b""]),
        (2, [a + b, bytes(flipped) + c_]),
        (3, [a, b"garbage" + b, torn]),
        (8 | 3, [a, b, c_]),
        (0, [a + dup]),
        (0, [struct.pack("<II", 0xFFFFFFF0, 0) + b"{" + a]),
    ]
    for flags, parts in segments:
        c.add("event_log", bytes([flags]) + SEP.join(parts))


def seed_server_bodies(c):
    def add(kind, value):
        data = value if isinstance(value, bytes) else compact(value)
        c.add("server_bodies", bytes([BODY_TYPES.index(kind)]) + data)

    add("ProjectInput", {"key": "webshop", "name": "Web shop", "description": "d",
                         "environments": [{"key": "production", "protected": True},
                                          {"key": "dev", "name": "Dev"}]})
    add("ProjectInput", {"key": "bad key!"})
    add("ProjectUpdate", {"name": "n", "description": "d"})
    add("EnvironmentInput", {"key": "staging", "name": "Staging", "protected": False})
    add("EnvironmentUpdate", {"name": "Staging", "protected": True})
    add("TokenInput", {"kind": "admin", "name": "ci", "role": "publisher", "project": "webshop"})
    add("TokenInput", {"kind": "sdk", "project": "webshop", "environment": "production"})
    experiment = {"rule_id": "r", "primary_metric": {"key": "purchase", "kind": "conversion"},
                  "guardrail_metrics": [{"key": "latency", "kind": "mean"}],
                  "confidence": 0.9, "dedupe_window_ms": 1000, "sequential_mde": 0.1}
    for d in eval_docs():
        snap = d["snapshot"]
        for seg in snap.get("segments", []):
            add("SegmentDef", seg)
        for f in snap.get("flags", []):
            spec = {"type": f["type"], "variants": f["variants"], "description": "x",
                    "tags": ["a", "b"], "owner": "team",
                    "client_visible": bool(f.get("client_visible"))}
            targeting = {k: f[k] for k in ("enabled", "off_variant", "targets", "prerequisites",
                                           "rules", "default") if k in f}
            add("FlagSpec", spec)
            add("Targeting", targeting)
            flag = dict(spec, key=f["key"], environments={"production": targeting})
            add("FlagInput", flag)
    add("FlagSpec", {"type": "object", "variants": {"a": {"limit": 5}, "b": {"limit": "x"}},
                     "schema": {"type": "object", "properties": {"limit": {"type": "integer",
                                "minimum": 0}}, "required": ["limit"]}})
    add("FlagSpec", {"type": "string", "variants": {"a": "abc"},
                     "schema": {"pattern": "^(a+)+$", "maxLength": 3, "format": "email"}})
    add("FlagSpec", {"type": "boolean", "variants": {"on": True, "off": False},
                     "experiment": experiment})
    add("FlagSpec", {"type": "integer", "variants": {"n": 1},
                     "schema": {"$ref": "#/$defs/n", "$defs": {"n": {"enum": [1, 2]}}}})


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    c = Corpus(sys.argv[1])
    for seed in (seed_envelope, seed_snapshot, seed_context, seed_event_batch, seed_sse,
                 seed_event_log, seed_server_bodies):
        seed(c)


if __name__ == "__main__":
    main()
