"""Every file of spec/vectors/, read in place, through the public API of burgee."""

import json

import pytest

import burgee
from helpers import VECTORS


def load(path):
    return json.loads(path.read_text())


def json_eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_eq(a[k], b[k]) for k in a)
    return a == b


def test_evaluation_vectors():
    files = sorted((VECTORS / "eval").glob("*.json"))
    assert len(files) >= 7
    passed, failures = 0, []
    for path in files:
        doc = load(path)
        snap = burgee.Snapshot.from_json(doc["snapshot"])
        for case in doc["cases"]:
            now = case.get("now", doc["now"])
            try:
                handle = burgee.Context.from_dict(case["context"])
            except burgee.InvalidContext:
                handle = case["context"]
            for ctx in (handle, case["context"]):
                if "get" in case:
                    got = snap.get_details(case["get"], case["flag"], case["default"], ctx, now)
                else:
                    got = snap.evaluate(case["flag"], ctx, now)
                want = case["expected"]
                observed = {"value": got.value, "variant": got.variant, "reason": got.reason,
                            "rule_id": got.rule_id, "error_code": got.error_code}
                ok = all(json_eq(observed[k], want.get(k)) for k in observed)
                if "metadata" in want:
                    ok = ok and json_eq(got.flag_metadata, want["metadata"])
                ok = ok and (got.error_code is None) == (got.error_message is None)
                if ok:
                    passed += 1
                else:
                    failures.append(f"{path.name} / {case['name']}: expected {want}, got {got!r}")
    assert failures == []
    assert passed >= 300


def test_context_vectors():
    doc = load(VECTORS / "contexts.json")
    assert len(doc["cases"]) >= 10
    for case in doc["cases"]:
        if "expected" in case:
            assert json_eq(burgee.Context.from_dict(case["context"]).to_dict(), case["expected"]), case["name"]
        elif isinstance(case["context"], dict):
            with pytest.raises(burgee.InvalidContext) as e:
                burgee.Context.from_dict(case["context"])
            assert e.value.code == case["error_code"], case["name"]
            assert case["message_contains"].replace("null", "None") in str(e.value), case["name"]


def test_invalid_snapshot_vectors():
    doc = load(VECTORS / "invalid-snapshots.json")
    assert len(doc["cases"]) >= 30
    for case in doc["cases"]:
        text = case.get("snapshot_text") or json.dumps(case["snapshot"])
        with pytest.raises(burgee.BurgeeError) as e:
            burgee.Snapshot.from_json(text)
        assert e.value.code == case["error_code"], case["name"]
        assert isinstance(e.value, burgee.EXCEPTIONS[case["error_code"]])
        assert case["message_contains"] in str(e.value), case["name"]


def test_bucketing_vectors():
    doc = load(VECTORS / "bucketing.json")
    assert len(doc["cases"]) >= 30
    for c in doc["cases"]:
        assert burgee.bucket(c["salt"], c["seed"], c["value"]) == c["bucket"], c


def test_envelope_vectors():
    d = VECTORS / "envelopes"
    manifest = load(d / "manifest.json")
    seen = set()
    for c in manifest["cases"]:
        data = (d / c["file"]).read_bytes()
        kw = dict(trusted_keys=c["trusted_keys"], environment=c["environment"], now=c["now"])
        if "held_version" in c:
            kw.update(held_version=c["held_version"], held_digest=c.get("held_digest", ""))
        if "max_envelope_bytes" in c:
            kw["max_envelope_bytes"] = c["max_envelope_bytes"]
        for option in ("project", "audience"):
            if option in c:
                kw[option] = c[option]
        if c["expected"] == "OK":
            snap = burgee.Snapshot.load(data, **kw)
            assert snap.info["version"] == c["version"], c["file"]
            assert snap.info["digest"] == c["digest"], c["file"]
        else:
            with pytest.raises(burgee.EXCEPTIONS[c["expected"]]) as e:
                burgee.Snapshot.load(data, **kw)
            assert e.value.code == c["expected"], c["file"]
        seen.add(c["expected"])
    assert {"OK", "SIGNATURE_INVALID", "KEY_UNTRUSTED", "SNAPSHOT_ROLLBACK", "SNAPSHOT_EXPIRED",
            "PROJECT_MISMATCH", "ENVIRONMENT_MISMATCH", "AUDIENCE_MISMATCH", "SNAPSHOT_TOO_LARGE",
            "PARSE_ERROR", "PAYLOAD_TYPE_MISMATCH"} <= seen
