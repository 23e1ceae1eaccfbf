"""One helper for writing an AuditEntry from a dashboard request (who, what, why; never a secret value)."""

from __future__ import annotations

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry


def audit(request, action: str, *, obj=None, store=None, reason: str = "", **data) -> AuditEntry:
    return AuditEntry.objects.create(
        created=clock.now(), user=request.user.get_username(), action=action, store=store,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "", reason=reason[:2000], data=data)
