"""Manual actions from the dashboard: confirm, cancel, call or text again now. Each one audited."""

from __future__ import annotations

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry, Job
from ocbridge.integrations.cod_confirm import jobs
from ocbridge.integrations.cod_confirm.choices import Channel, Intent
from ocbridge.integrations.cod_confirm.models import Confirmation


def _audit(c: Confirmation, action: str, user: str, reason: str, **data) -> AuditEntry:
    return AuditEntry.objects.create(created=clock.now(), user=user, action=f"cod_confirm.{action}", store=c.store,
                                     object_type="confirmation", object_id=str(c.pk), reason=reason,
                                     data={"order_id": c.order_id, **data})


def manual_decide(c: Confirmation, *, intent: str, user: str, reason: str) -> bool:
    """A person confirms or cancels; the order-history write follows in its own job."""
    if intent not in (Intent.CONFIRM, Intent.CANCEL):
        raise ValueError(f"unknown decision {intent!r}")
    if not reason.strip():
        raise ValueError("a reason is required")
    entry = _audit(c, intent, user, reason, state_before=c.state)
    return jobs.decide(c, intent, channel="", detail=f"by {user}: {reason}", user=user,
                       reason=f"{intent} by {user} (audit #{entry.pk}): {reason}")


def manual_retry(c: Confirmation, *, channel: str, user: str, reason: str) -> Job:
    """Call or text again now, outside the schedule and calling hours (a person chose to)."""
    if channel not in (Channel.CALL, Channel.SMS):
        raise ValueError(f"unknown channel {channel!r}")
    if not reason.strip():
        raise ValueError("a reason is required")
    entry = _audit(c, f"{channel}_again", user, reason)
    return Job.objects.enqueue(jobs.StartAttempt, key=f"cod_confirm:{c.store_id}:{c.order_id}:manual:{entry.pk}",
                               integration=c.integration,
                               payload={"confirmation_id": c.pk, "number": c.attempts_made + 1, "channel": channel,
                                        "manual": f"manual-{entry.pk}"})
