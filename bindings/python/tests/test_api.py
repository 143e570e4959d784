"""The public API without a server: exceptions for every code, contexts, typed getters."""

import time

import pytest

import burgee
from burgee import _native

DOC = {
    "format": 1, "project": "p", "environment": "production", "version": 3, "issued_at": 0,
    "expires_at": int(time.time() * 1000) + 86_400_000, "salt": "s",
    "flags": [
        {"key": "dark-mode", "type": "boolean", "variants": {"on": True, "off": False}, "enabled": True,
         "off_variant": "off",
         "rules": [{"id": "de", "when": {"attribute": "country", "op": "in", "values": ["DE"]}, "serve": {"variant": "on"}}],
         "default": {"variant": "off"}, "metadata": {"owner": "team-ui"}},
        {"key": "title", "type": "string", "variants": {"a": "Hello", "b": "Hi"}, "enabled": True, "off_variant": "a",
         "default": {"rollout": {"weights": [{"variant": "a", "weight": 5000}, {"variant": "b", "weight": 5000}]}}},
        {"key": "limit", "type": "integer", "variants": {"small": 5, "big": 500}, "enabled": True, "off_variant": "small",
         "default": {"variant": "big"}},
        {"key": "ratio", "type": "float", "variants": {"x": 0.25}, "enabled": True, "off_variant": "x", "default": {"variant": "x"}},
        {"key": "config", "type": "object", "variants": {"v": {"retries": 3}}, "enabled": False, "off_variant": "v",
         "default": {"variant": "v"}},
    ],
}


def test_every_code_has_its_exception_both_ways():
    codes = burgee.error_codes()
    assert len(codes) == 17
    assert sorted(codes) == sorted(burgee.EXCEPTIONS)
    classes = set()
    for code in codes:
        with pytest.raises(burgee.BurgeeError) as e:
            _native.raise_for_code(code, "boom")
        assert type(e.value) is burgee.EXCEPTIONS[code]
        assert e.value.code == code
        assert str(e.value) == "boom"
        classes.add(type(e.value))
        # The OpenFeature mapping is the core's: OpenFeature's own codes map onto themselves.
        of = burgee.openfeature_error_code(code)
        assert of in {"PARSE_ERROR", "FLAG_NOT_FOUND", "TYPE_MISMATCH", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"}
        if code in {"PARSE_ERROR", "FLAG_NOT_FOUND", "TYPE_MISMATCH", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"}:
            assert of == code
    assert len(classes) == 17
    with pytest.raises(burgee.GeneralError):
        burgee.openfeature_error_code("NOT_A_CODE")


def test_defaults_are_the_core_table():
    d = burgee.DEFAULTS
    assert d["max_envelope_bytes"] == 8 * 1024 * 1024
    assert (d["backoff_base_ms"], d["backoff_cap_ms"]) == (500, 30000)
    assert d["poll_interval_ms"] == 30000
    assert d["ready_timeout_ms"] == 10000


def test_typed_details_through_a_reused_handle_and_dicts():
    snap = burgee.Snapshot.from_json(DOC)
    assert snap.info["version"] == 3
    assert snap.flag_keys() == ["dark-mode", "title", "limit", "ratio", "config"]
    de = burgee.Context("u1", country="DE")
    assert de.targeting_key == "u1"
    d = snap.get_details("boolean", "dark-mode", False, de, 1)
    assert (d.value, d.variant, d.reason, d.rule_id, d.flag_metadata) == (True, "on", "TARGETING_MATCH", "de", {"owner": "team-ui"})
    assert snap.get_details("boolean", "dark-mode", True, {"targetingKey": "u1", "country": "FR"}, 1).reason == "DEFAULT"
    assert snap.get_details("integer", "limit", 1, de, 1).value == 500
    assert snap.get_details("float", "ratio", 1.0, de, 1).value == 0.25
    cfg = snap.get_details("object", "config", {}, de, 1)
    assert (cfg.value, cfg.reason) == ({"retries": 3}, "DISABLED")
    missing = snap.get_details("boolean", "nope", True, de, 1)
    assert (missing.value, missing.reason, missing.error_code) == (True, "ERROR", "FLAG_NOT_FOUND")
    assert snap.get_details("string", "dark-mode", "x", de, 1).error_code == "TYPE_MISMATCH"
    assert snap.get_details("float", "limit", 1.0, de, 1).error_code == "TYPE_MISMATCH"  # no widening
    anonymous = snap.get_details("string", "title", "dflt", None, 1)
    assert (anonymous.value, anonymous.error_code) == ("dflt", "TARGETING_KEY_MISSING")
    bad = snap.get_details("string", "title", "dflt", {"targetingKey": "u", "nested": {"a": 1}}, 1)
    assert (bad.value, bad.error_code) == ("dflt", "INVALID_CONTEXT")
    none = snap.get_details("string", "title", "d", {"targeting_key": "u", "gone": None}, 1)
    assert (none.value, none.error_code) == ("d", "INVALID_CONTEXT")
    assert "EvaluationDetails(" in repr(d)


def test_contexts_refuse_what_the_core_refuses():
    for bad in ({"a": {"b": 1}}, {"a": [1]}, {"targetingKey": 5}, {"a": object()}, {"a": None},
                {"targetingKey": None}, {"targeting_key": None}):
        with pytest.raises(burgee.InvalidContext) as e:
            burgee.Context.from_dict(bad)
        assert e.value.code == "INVALID_CONTEXT"
    # None is not a value in keyword arguments either (spec/SNAPSHOT.md §2.3) ...
    with pytest.raises(burgee.InvalidContext, match="attribute \"skipped\": None is not a value"):
        burgee.Context("k", skipped=None)
    # ... but targeting_key=None is no targeting key: an anonymous context.
    assert burgee.Context(None, age=3).to_dict() == {"age": 3}
    ctx = burgee.Context("k", groups=["a", "b"], beta=True, age=3)
    assert ctx.to_dict() == {"targetingKey": "k", "groups": ["a", "b"], "beta": True, "age": 3}


def test_configuration_errors():
    with pytest.raises(burgee.ParseError):
        burgee.Client(environment="production", trusted_keys=["not base64!"])
    with pytest.raises(burgee.GeneralError):
        burgee.Client(environment="production", trusted_keys=[])
    with pytest.raises(burgee.GeneralError, match="SDK key"):
        burgee.Client(environment="production", trusted_keys=["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
                      server_url="http://127.0.0.1:1")
    with pytest.raises(burgee.ParseError):
        burgee.Snapshot.from_json("{")


def test_unreachable_server_is_not_ready_and_evaluation_serves_defaults():
    with burgee.Client(environment="production", trusted_keys=["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
                       server_url="http://127.0.0.1:1", sdk_key="bgs_x", backoff_base_ms=10, backoff_cap_ms=50) as c:
        assert c.wait_until_ready(200) == "NOT_READY"
        assert c.get_boolean_value("any", True, {"targetingKey": "u"}) is True
        d = c.get_string_details("any", "dflt", burgee.Context("u"))
        assert (d.value, d.reason, d.error_code) == ("dflt", "ERROR", "GENERAL")
        assert "NOT_READY" in d.error_message
        assert c.status()["status"] == "NOT_READY"
        assert c.status()["last_error_code"] == "GENERAL"
        with pytest.raises(burgee.GeneralError):
            c.track("", "u")


def test_network_waits_release_the_gil():
    import threading
    import time

    c = burgee.Client(environment="production", trusted_keys=["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
                      server_url="http://127.0.0.1:1", sdk_key="bgs_x", backoff_base_ms=10, backoff_cap_ms=50)
    t = threading.Thread(target=c.wait_until_ready, args=(600,))
    t.start()
    time.sleep(0.05)
    # While the other thread waits inside native code, this one keeps running Python.
    spins, end = 0, time.monotonic() + 0.3
    while time.monotonic() < end:
        spins += 1
    assert t.is_alive()
    t.join()
    assert spins > 10_000
    c.close()
