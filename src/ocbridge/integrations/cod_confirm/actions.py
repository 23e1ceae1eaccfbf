"""Manual actions from the dashboard: confirm, cancel, call or text again now. Each one audited."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from ocbridge.core import clock, optouts
from ocbridge.core.errors import ServiceError
from ocbridge.core.models import AuditEntry, Connection, Integration, Job
from ocbridge.core.sentences import words
from ocbridge.integrations.cod_confirm import jobs, plan
from ocbridge.integrations.cod_confirm.choices import NOT_MADE, Channel, Intent
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.integrations.cod_confirm.providers import client_for


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


class UnusablePhone(ValueError):
    """"Call again" on a confirmation without a callable number: a person corrects the phone first."""


class OptedOut(ValueError):
    """"Call again" to a number on the do-not-contact list for that channel: a person contacts them in person, or
    takes the number off the list first."""


def manual_retry(c: Confirmation, *, channel: str, user: str, reason: str) -> Job:
    """Call or text again now, outside the schedule and calling hours (a person chose to), through the plan's
    first step on that channel.

    Refused (UnusablePhone) without a valid E.164 number: the attempt could only fail, and a failed attempt would
    turn "needs a person" into a final "failed".
    """
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if plan.first_step_for(c.integration, channel) is None:
        raise ValueError(f"the channel plan has no {channel} step")
    if not reason.strip():
        raise ValueError("a reason is required")
    if not c.phone:
        raise UnusablePhone(c.phone_raw)
    if optouts.blocked(c.store, c.phone, channel):
        raise OptedOut(channel)
    entry = _audit(c, f"{channel}_again", user, reason)
    return Job.objects.enqueue(jobs.StartAttempt, key=f"cod_confirm:{c.store_id}:{c.order_id}:manual:{entry.pk}",
                               integration=c.integration,
                               payload={"confirmation_id": c.pk, "number": _next_number(c), "channel": channel,
                                        "manual": f"manual-{entry.pk}"})


def _next_number(c: Confirmation) -> int:
    """The attempt number a person's "again" takes: the one after the last sent. An attempt that was never made (the
    daily cap, withdrawn on switch-on, a dry run) keeps its number without counting as made; its row is closed, so
    reusing its number (and key) would send nothing — the next number is taken instead."""
    not_made = c.attempts.filter(state__in=NOT_MADE, number__gt=c.attempts_made).aggregate(n=Max("number"))["n"]
    return max(c.attempts_made, not_made or 0) + 1


def correct_phone(c: Confirmation, *, phone: str, user: str, reason: str) -> str:
    """A person replaces the customer's number (typo, other line); audited with the old and new number.

    Returns the E.164 number; ValueError when it is not a valid number in the store's country (or +international).
    """
    from ocbridge.integrations.cod_confirm import shop

    if not reason.strip():
        raise ValueError("a reason is required")
    e164 = shop.normalize_phone(phone, c.store.country)
    if not e164:
        raise UnusablePhone(phone)
    _audit(c, "phone_corrected", user, reason, old_phone=c.phone or c.phone_raw, new_phone=e164)
    Confirmation.objects.filter(pk=c.pk).update(phone=e164, phone_raw=phone.strip()[:64], updated=clock.now())
    c.phone, c.phone_raw = e164, phone.strip()[:64]
    return e164


def _within_test_limit(integration: Integration, user: str) -> None:
    """Test calls and SMS cost the shop money and can reach any number: at most the store's limit (core.limits) per
    user and per store in the last hour (counted from their audit rows; the store's row is locked so two clicks at
    once cannot both pass)."""
    from django.utils.translation import ngettext

    from ocbridge.core import limits

    Integration.objects.select_for_update().filter(pk=integration.pk).first()
    limit = limits.test_sends_per_hour(integration.store)
    recent = AuditEntry.objects.filter(action__startswith="cod_confirm.test_",
                                       created__gte=clock.now() - dt.timedelta(hours=1))
    if recent.filter(user=user).count() >= limit or recent.filter(store_id=integration.store_id).count() >= limit:
        raise ValueError(ngettext("At most %(n)d test call or SMS an hour, per user and per store: please try again "
                                  "later.",
                                  "At most %(n)d test calls and SMS an hour, per user and per store: please try again "
                                  "later.", limit) % {"n": limit})


def test_message(integration: Integration, phone: str, channel: str, user: str) -> Job:
    """Queue a test call or SMS to the owner's phone. ValueError (shown next to the field) for a bad phone."""
    from ocbridge.integrations.cod_confirm import shop

    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if integration.pk is None or plan.first_step_for(integration, channel) is None:
        raise ValueError("save a channel plan with this channel first")
    e164 = shop.normalize_phone(phone, integration.store.country)
    if not e164:
        raise ValueError("not a valid phone number")
    _within_test_limit(integration, user)
    AuditEntry.objects.create(created=clock.now(), user=user, action=f"cod_confirm.test_{channel}",
                              store=integration.store, object_type="integration", object_id=str(integration.pk),
                              reason="test message", data={"phone": e164[:-4] + "****"})
    stamp = clock.now().strftime("%Y%m%d%H%M%S%f")
    return Job.objects.enqueue(jobs.SendTestMessage, key=f"cod_confirm:{integration.store_id}:test:{channel}:{stamp}",
                               integration=integration, payload={"phone": e164, "channel": channel, "user": user})


def check_connection(connection: Connection) -> dict:
    """Ask the provider whether the credentials work (a harmless read); {"ok", "message"} for the dashboard."""
    try:
        message = client_for(connection).check_credentials()
    except ServiceError as exc:
        # the service's own words in the reader's language where it was said (core.sentences)
        return {"ok": False, "message": f"{connection.get_service_display()}: {words(exc)}"}
    return {"ok": True, "message": message}
