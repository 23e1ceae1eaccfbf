"""Finds the "test connection" functions other packages provide; the dashboard never calls a service itself.

A Store is checked by `ocbridge.opencart`'s `check_store(store)` (reads the shop database: version, tables).
A Connection is checked by an integration that can use its service, through
`IntegrationInfo.extras["check_connection"]` (a function taking the Connection), or by a registered job kind
`"core.check_connection"` / `"<service>.check_connection"` that is enqueued with the connection id.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ocbridge.core import clock
from ocbridge.core.masking import mask_values

STORE_CHECK_MODULES = ("ocbridge.opencart", "ocbridge.opencart.checks", "ocbridge.opencart.check",
                       "ocbridge.opencart.db", "ocbridge.opencart.schema")


@dataclass
class CheckResult:
    """What a check said, normalised for display."""

    ok: bool
    message: str
    version: str = ""
    queued_job_id: int | None = None


def store_check_function() -> Callable | None:
    for name in STORE_CHECK_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(module, "check_store", None)
        if callable(fn):
            return fn
    return None


def _normalise(value, default_ok: bool = True) -> CheckResult:
    """Accept a bool, a dict, a dataclass-like object or a string from the checker."""
    if isinstance(value, CheckResult):
        return value
    if value is None or isinstance(value, bool):
        ok = default_ok if value is None else value
        return CheckResult(ok, _("Connection works.") if ok else _("The check failed."))
    if isinstance(value, str):
        return CheckResult(default_ok, value)
    get = value.get if isinstance(value, dict) else (lambda k, d=None: getattr(value, k, d))
    ok = bool(get("ok", default_ok))
    version = str(get("version", "") or "")
    message = str(get("message", "") or get("error", "") or "")
    if not message:
        message = _("Connection works.") if ok else _("The check failed.")
    return CheckResult(ok, message, version)


def check_store(store) -> CheckResult | None:
    """Run the shop check; None when no check function exists yet."""
    fn = store_check_function()
    if fn is None:
        return None
    try:
        result = _normalise(fn(store))
    except Exception as exc:  # the checker reports a shop problem; we show it, we do not crash
        result = CheckResult(False, f"{type(exc).__name__}: {exc}"[:500])
    # A driver error can quote the URL it was given: never let a password reach the page.
    result.message = mask_values(result.message, store.secret_values())
    if result.ok and result.version and result.version != store.version:
        type(store).objects.filter(pk=store.pk).update(version=result.version)
        store.version = result.version
    return result


def check_connection(connection, user: str = "") -> CheckResult | None:
    """Call an integration's checker or enqueue a check job; None when nothing can check this service."""
    from ocbridge.core.jobs import get_kind
    from ocbridge.core.models import Job
    from ocbridge.core.registry import integrations

    for info in integrations.values():
        fn = (info.extras or {}).get("check_connection")
        if callable(fn) and connection.service in info.services:
            try:
                result = _normalise(fn(connection))
            except Exception as exc:
                result = CheckResult(False, f"{type(exc).__name__}: {exc}"[:500])
            result.message = mask_values(result.message, connection.secret_values())
            return result
    for kind in (f"{connection.service}.check_connection", "core.check_connection"):
        try:
            get_kind(kind)
        except LookupError:
            continue
        else:
            key = f"dashboard:{connection.store_id}:connection-{connection.pk}:check:{int(clock.now().timestamp())}"
            job = Job.objects.enqueue(kind, key=key, store=connection.store,
                                      payload={"connection_id": connection.pk, "user": user})
            return CheckResult(True, _("Check queued as job #%(id)s.") % {"id": job.pk}, queued_job_id=job.pk)
    return None
