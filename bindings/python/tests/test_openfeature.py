"""The OpenFeature provider through the real openfeature-sdk, against a real server."""

import datetime

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.hook import Hook
from openfeature.provider import ProviderStatus

from burgee.openfeature import OPENFEATURE_ERROR_CODES, BurgeeProvider, burgee_context
import burgee
from helpers import Server, wait_for


class Recorder(Hook):
    def __init__(self):
        self.calls = []

    def before(self, hook_context, hints):
        self.calls.append(("before", hook_context.flag_key))

    def after(self, hook_context, details, hints):
        self.calls.append(("after", hook_context.flag_key, details.reason))

    def error(self, hook_context, exception, hints):
        self.calls.append(("error", hook_context.flag_key, getattr(exception, "error_code", None)))

    def finally_after(self, hook_context, details, hints):
        self.calls.append(("finally", hook_context.flag_key))


def test_every_code_maps_to_openfeature():
    assert sorted(OPENFEATURE_ERROR_CODES) == sorted(burgee.error_codes())
    assert all(isinstance(v, ErrorCode) for v in OPENFEATURE_ERROR_CODES.values())


def test_provider_details_reasons_errors_events_and_hooks(tmp_path):
    server = Server(tmp_path)
    try:
        events = []
        for ev in (ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
                   ProviderEvent.PROVIDER_STALE, ProviderEvent.PROVIDER_ERROR):
            api.add_handler(ev, lambda details, ev=ev: events.append((ev, details)))
        provider = BurgeeProvider(environment="production", trusted_keys=[server.public_key], server_url=server.base,
                                  sdk_key=server.sdk_key, backoff_base_ms=50, backoff_cap_ms=400, close_timeout_ms=500)
        api.set_provider_and_wait(provider)
        client = api.get_client()
        assert client.get_provider_status() == ProviderStatus.READY
        assert any(e == ProviderEvent.PROVIDER_READY for e, _ in events)
        hook = Recorder()
        client.add_hooks([hook])

        user = next(f"user-{i}" for i in range(500)
                    if client.get_boolean_details("checkout-redesign", True, EvaluationContext(f"user-{i}")).variant == "off")
        d = client.get_boolean_details("checkout-redesign", True, EvaluationContext(user))
        assert (d.value, d.variant, d.reason, d.error_code) == (False, "off", Reason.SPLIT, None)
        assert isinstance(d.flag_metadata["owner"], str)
        assert client.get_integer_value("max-cart-items", 1, EvaluationContext(user, {"plan": "business"})) == 500
        assert client.get_float_value("free-shipping-threshold", 1.0, EvaluationContext(user)) == 49.0
        assert isinstance(client.get_object_value("rate-limits", {}, EvaluationContext(user)), dict)
        disabled = client.get_boolean_details("legacy-payment-provider", True, EvaluationContext(user))
        assert (disabled.value, disabled.reason) == (False, Reason.DISABLED)
        assert burgee_context(EvaluationContext("u", {"at": datetime.datetime(1970, 1, 1), "gone": None})) == {
            "targetingKey": "u", "at": "1970-01-01T00:00:00+00:00"}

        missing = client.get_boolean_details("no-such-flag", True, EvaluationContext(user))
        assert (missing.value, missing.reason, missing.error_code) == (True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)
        mismatch = client.get_string_details("checkout-redesign", "x", EvaluationContext(user))
        assert (mismatch.value, mismatch.error_code) == ("x", ErrorCode.TYPE_MISMATCH)
        no_key = client.get_string_details("pricing-experiment", "control", EvaluationContext(None, {"country": "DE"}))
        assert (no_key.value, no_key.error_code) == ("control", ErrorCode.TARGETING_KEY_MISSING)
        bad = client.get_boolean_details("checkout-redesign", True, EvaluationContext(user, {"nested": {"a": 1}}))
        assert bad.error_code == ErrorCode.INVALID_CONTEXT

        assert [c for c in hook.calls if c[1] == "no-such-flag"] == [
            ("before", "no-such-flag"), ("error", "no-such-flag", ErrorCode.FLAG_NOT_FOUND), ("finally", "no-such-flag")]
        assert [c for c in hook.calls if c[1] == "legacy-payment-provider"] == [
            ("before", "legacy-payment-provider"), ("after", "legacy-payment-provider", Reason.DISABLED),
            ("finally", "legacy-payment-provider")]

        published = server.set_default("checkout-redesign", "on")
        assert wait_for(2, lambda: any(e == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED for e, _ in events)), events
        changed = next(d for e, d in events if e == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED)
        assert changed.metadata["new_version"] == published
        assert client.get_boolean_value("checkout-redesign", False, EvaluationContext(user)) is True

        server.kill()
        assert wait_for(5, lambda: any(e == ProviderEvent.PROVIDER_STALE for e, _ in events)), events
        assert client.get_boolean_value("checkout-redesign", False, EvaluationContext(user)) is True
        api.shutdown()
    finally:
        server.kill()
