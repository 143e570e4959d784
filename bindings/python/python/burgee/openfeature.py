"""OpenFeature provider for ``openfeature-sdk``, backed by the Burgee client.

    from openfeature import api
    from burgee.openfeature import BurgeeProvider
    api.set_provider(BurgeeProvider(environment="production", trusted_keys=[key],
                                    server_url="http://127.0.0.1:8080", sdk_key=sdk_key))

Reasons are OpenFeature's (plus ``PREREQUISITE_FAILED``); Burgee error codes map onto
OpenFeature error codes with ``OPENFEATURE_ERROR_CODES``. Provider events:
PROVIDER_CONFIGURATION_CHANGED on every new snapshot, PROVIDER_STALE when the server is
unreachable, PROVIDER_ERROR when an envelope is refused, PROVIDER_READY on recovery (the SDK
emits the first PROVIDER_READY after ``initialize``).
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, Mapping, Optional

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderFatalError
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider import AbstractProvider
from openfeature.provider.metadata import Metadata

from . import DEFAULTS, Client, EvaluationDetails, error_codes, openfeature_error_code

#: Burgee code -> OpenFeature ErrorCode, for every Burgee code: the core's one mapping
#: (``burgee.openfeature_error_code``; snapshot codes never come from an evaluation and map to
#: ``GENERAL``).
OPENFEATURE_ERROR_CODES: Dict[str, ErrorCode] = {
    code: ErrorCode(openfeature_error_code(code)) for code in error_codes()
}


def burgee_context(context: Optional[EvaluationContext]) -> Dict[str, Any]:
    """An OpenFeature context as a Burgee context dict: datetimes become RFC 3339 strings
    (usable with before/after), ``None`` values are left out; nested dicts stay and are
    refused by the core as INVALID_CONTEXT."""
    out: Dict[str, Any] = {}
    if context is None:
        return out
    if context.targeting_key is not None:
        out["targetingKey"] = context.targeting_key
    for key, value in context.attributes.items():
        if value is None:
            continue
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            value = value.isoformat()
        out[key] = value
    return out


class BurgeeProvider(AbstractProvider):
    """OpenFeature provider: pass a ``client`` or the keyword options of a new ``Client``
    (plus ``ready_timeout_ms``, default ``DEFAULTS["ready_timeout_ms"]``, for ``initialize``)."""

    def __init__(self, client: Optional[Client] = None, *, ready_timeout_ms: Optional[int] = None, **client_options: Any) -> None:
        super().__init__()
        self.client = client
        self._options = client_options
        self._ready_timeout_ms = DEFAULTS["ready_timeout_ms"] if ready_timeout_ms is None else ready_timeout_ms
        self._initialized = False

    def get_metadata(self) -> Metadata:
        return Metadata(name="burgee")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if self.client is None:
            self.client = Client(**self._options)
        self.client.on_event(self._on_event)
        self.client.wait_until_ready(self._ready_timeout_ms)
        if self.client.snapshot_info() is None:
            status = self.client.status()
            raise ProviderFatalError(f"no snapshot (status {status['status']}: {status['last_error_message']})")
        self._initialized = True

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.close()

    def _on_event(self, event: Mapping[str, Any]) -> None:
        if not self._initialized:
            return
        if event["kind"] == "changed":
            if event["old_version"] is None:
                return
            self.emit_provider_configuration_changed(
                ProviderEventDetails(
                    message=f"snapshot version {event['old_version']} -> {event['new_version']}",
                    metadata={"old_version": event["old_version"], "new_version": event["new_version"]},
                )
            )
        elif event["status"] == "READY":
            self.emit_provider_ready(ProviderEventDetails(message="snapshot source reachable"))
        elif event["status"] == "STALE":
            self.emit_provider_stale(ProviderEventDetails(message=event["message"]))
        elif event["status"] == "ERROR":
            self.emit_provider_error(ProviderEventDetails(message=event["message"], error_code=ErrorCode.GENERAL))

    @staticmethod
    def _resolution(d: EvaluationDetails) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(
            value=d.value,
            variant=d.variant,
            reason=d.reason,
            error_code=OPENFEATURE_ERROR_CODES.get(d.error_code, ErrorCode.GENERAL) if d.error_code else None,
            error_message=d.error_message,
            flag_metadata=d.flag_metadata,
        )

    def _client(self) -> Client:
        if self.client is None:
            raise ProviderFatalError("the provider is not initialized")
        return self.client

    def resolve_boolean_details(self, flag_key: str, default_value: bool, evaluation_context: Optional[EvaluationContext] = None) -> FlagResolutionDetails[bool]:
        return self._resolution(self._client().get_boolean_details(flag_key, default_value, burgee_context(evaluation_context)))

    def resolve_string_details(self, flag_key: str, default_value: str, evaluation_context: Optional[EvaluationContext] = None) -> FlagResolutionDetails[str]:
        return self._resolution(self._client().get_string_details(flag_key, default_value, burgee_context(evaluation_context)))

    def resolve_integer_details(self, flag_key: str, default_value: int, evaluation_context: Optional[EvaluationContext] = None) -> FlagResolutionDetails[int]:
        return self._resolution(self._client().get_integer_details(flag_key, default_value, burgee_context(evaluation_context)))

    def resolve_float_details(self, flag_key: str, default_value: float, evaluation_context: Optional[EvaluationContext] = None) -> FlagResolutionDetails[float]:
        return self._resolution(self._client().get_float_details(flag_key, default_value, burgee_context(evaluation_context)))

    def resolve_object_details(self, flag_key: str, default_value: Any, evaluation_context: Optional[EvaluationContext] = None) -> FlagResolutionDetails[Any]:
        return self._resolution(self._client().get_object_details(flag_key, default_value, burgee_context(evaluation_context)))
