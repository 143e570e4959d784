"""Burgee feature flags for Python.

Signed snapshots are verified and evaluated locally by a native (Rust) core; a background
thread keeps the snapshot current (server-sent events, ETag polling fallback, backoff with
jitter, last-known-good file) and delivers exposures and metric events in batches.

    import burgee
    with burgee.Client(environment="production", project="webshop", trusted_keys=[public_key],
                       server_url="http://127.0.0.1:8080", sdk_key=sdk_key) as client:
        client.wait_until_ready(5_000)            # "READY" | "STALE" | "ERROR" | "NOT_READY"
        user = burgee.Context("user-42", country="DE", age=31)   # build once, reuse
        client.get_boolean_value("checkout-redesign", False, user)
        client.get_string_details("pricing-experiment", "control", user).reason

Evaluation never raises: problems come back as reason ``ERROR`` with an ``error_code`` and the
default value. Configuration errors and refused snapshots raise a ``BurgeeError`` subclass
named after the stable code (``EXCEPTIONS`` maps every code). Times are ms since the epoch.

Everything signed is checked: a snapshot of another ``project`` raises/records
``ProjectMismatch`` (pass ``project`` whenever you know it; without it the project is not
checked), a client snapshot ``AudienceMismatch`` (a client with a client-side key, ``bgc_…``,
reads client snapshots only). ``Snapshot.load`` takes the same ``project`` and ``audience``
(``"server"``, the default, or ``"client"``).

Clients still open when the interpreter exits are closed (queued events delivered).
Fork safety: every live client restarts its own background sync in the child of
``os.fork()`` (pre-fork servers such as gunicorn), from the snapshot the parent held.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any, Dict, Type

from . import _native
from ._native import (
    DEFAULTS,
    AudienceMismatch,
    BurgeeError,
    ConfigClient,
    Context,
    EnvironmentMismatch,
    EvaluationDetails,
    FlagNotFound,
    GeneralError,
    InvalidContext,
    KeyUntrusted,
    ParseError,
    PayloadTypeMismatch,
    ProjectMismatch,
    ServiceMismatch,
    SignatureInvalid,
    Snapshot,
    SnapshotExpired,
    SnapshotInvalid,
    SnapshotRollback,
    SnapshotTooLarge,
    TargetingKeyMissing,
    TypeMismatch,
    bucket,
    error_codes,
    now,
    openfeature_error_code,
)

__all__ = [
    "DEFAULTS",
    "AudienceMismatch",
    "BurgeeError",
    "Client",
    "ConfigClient",
    "Context",
    "EXCEPTIONS",
    "EnvironmentMismatch",
    "EvaluationDetails",
    "FlagNotFound",
    "GeneralError",
    "InvalidContext",
    "KeyUntrusted",
    "ParseError",
    "PayloadTypeMismatch",
    "ProjectMismatch",
    "ServiceMismatch",
    "SignatureInvalid",
    "Snapshot",
    "SnapshotExpired",
    "SnapshotInvalid",
    "SnapshotRollback",
    "SnapshotTooLarge",
    "TargetingKeyMissing",
    "TypeMismatch",
    "bucket",
    "error_codes",
    "now",
    "openfeature_error_code",
]

#: Stable code -> exception class, for every code of ``error_codes()``.
EXCEPTIONS: Dict[str, Type[BurgeeError]] = {
    "PARSE_ERROR": ParseError,
    "SNAPSHOT_TOO_LARGE": SnapshotTooLarge,
    "SIGNATURE_INVALID": SignatureInvalid,
    "KEY_UNTRUSTED": KeyUntrusted,
    "PAYLOAD_TYPE_MISMATCH": PayloadTypeMismatch,
    "PROJECT_MISMATCH": ProjectMismatch,
    "ENVIRONMENT_MISMATCH": EnvironmentMismatch,
    "AUDIENCE_MISMATCH": AudienceMismatch,
    "SERVICE_MISMATCH": ServiceMismatch,
    "SNAPSHOT_ROLLBACK": SnapshotRollback,
    "SNAPSHOT_EXPIRED": SnapshotExpired,
    "SNAPSHOT_INVALID": SnapshotInvalid,
    "FLAG_NOT_FOUND": FlagNotFound,
    "TYPE_MISMATCH": TypeMismatch,
    "TARGETING_KEY_MISSING": TargetingKeyMissing,
    "INVALID_CONTEXT": InvalidContext,
    "GENERAL": GeneralError,
}

_LIVE: "weakref.WeakSet[Client]" = weakref.WeakSet()


class Client(_native.Client):
    """The Burgee client (keyword arguments documented on ``burgee._native.Client``).

    Syncs the environment's snapshot in the background, evaluates synchronously, records
    exposures, and is a context manager (closes on exit). Registered for fork safety.
    """

    def __init__(self, **options: Any) -> None:
        _LIVE.add(self)


def _restart_clients_in_child() -> None:
    for client in list(_LIVE):
        client._restart_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_clients_in_child)


@atexit.register
def _close_clients_at_exit() -> None:
    # Delivers queued exposures and events of clients the program did not close.
    for client in list(_LIVE):
        client.close()
