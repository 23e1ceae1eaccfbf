"""The COD channel plan of a store: an ordered list of (channel, connection, spacing, answer window).

Example: WhatsApp (Meta) at once → call (Verimor) 30 min later → SMS (Netgsm) 90 min after the call. Attempt n
of a confirmation uses step n. A step waits `delay_minutes` after the previous attempt was made (the first step:
after the order arrived) AND until the previous attempt's answer window has ended — an attempt that may still be
answered (a ringing call, an SMS or WhatsApp message the customer can still reply to) blocks the next one. An
attempt that can no longer reach the customer (not on WhatsApp, SMS undeliverable, provider refused) ends its
window at once and the next step runs without the spacing. A step that does not apply to a customer (WhatsApp
for a number in a country where the store does not use it) is skipped, with the reason in the timeline.

API for the dashboard and everything else (the rows are `models.ChannelStep`; never write them directly):

- ``Step(channel, connection, delay_minutes=0, window_minutes=15)`` — one step, unsaved.
- ``steps(integration) -> list[ChannelStep]`` — the saved plan in order, connections loaded.
- ``replace(integration, new_steps, *, user="") -> list[ChannelStep]`` — validate the whole plan, then replace
  the saved one in one transaction; with ``user`` an AuditEntry names the old and new plan. Raises
  ``PlanError`` (a ValueError whose ``step`` is the 1-based position at fault, or None) with a message for people.
- ``channels_of(connection) -> tuple[str, ...]`` — the channels a Connection can carry (form choices).
- ``default_steps(connection, channels=("call", "call", "sms"), delays=(0, 30, 90), window=15)`` — the plan a
  store with one provider account gets (the single-connection set-up before plans existed).
- ``describe(plan) -> str`` — "WhatsApp (Meta) → Call (Verimor) → SMS (Netgsm)" for pages and audit.
- ``first_step_for(integration, channel)`` — the step a person's "call/text again now" or a test uses.
- ``MAX_STEPS``, ``MAX_WINDOW_MINUTES`` — the form's limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry, Connection, Integration
from ocbridge.integrations.cod_confirm.choices import Channel
from ocbridge.integrations.cod_confirm.models import ChannelStep

MAX_STEPS = 10
# WhatsApp's utility-template TTL is at most 12 h (whatsapp.md §2): no window is longer, so a stale confirmation
# never lands. Delays are bounded by a week: a COD order waits no longer than that.
MAX_WINDOW_MINUTES = 12 * 60
MAX_DELAY_MINUTES = 7 * 24 * 60  # also the sum of all waits: an attempt a week after the order is the latest


class PlanError(ValueError):
    """The plan cannot be saved as given; `step` is the 1-based position at fault (None: the plan as a whole)."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step


@dataclass
class Step:
    channel: str
    connection: Connection
    delay_minutes: int = 0
    window_minutes: int = 15


def channels_of(connection: Connection) -> tuple[str, ...]:
    """The channels this Connection's provider can carry, in Channel order; () for services that cannot confirm."""
    from ocbridge.core.errors import ConfigurationError
    from ocbridge.integrations.cod_confirm.providers import client_class

    try:
        caps = client_class(connection.service).capabilities
    except ConfigurationError:
        return ()
    can = {Channel.CALL: caps.can_call, Channel.SMS: caps.can_sms, Channel.WHATSAPP: caps.can_whatsapp}
    return tuple(str(ch) for ch in Channel.values if can.get(ch))


def steps(integration: Integration) -> list[ChannelStep]:
    if integration.pk is None:
        return []
    return list(ChannelStep.objects.filter(integration=integration).select_related("connection").order_by("position"))


def step_at(integration: Integration, number: int) -> ChannelStep | None:
    """Step n (1-based) of the saved plan, None past its end."""
    return ChannelStep.objects.filter(integration=integration, position=number).select_related("connection").first()


def first_step_for(integration: Integration, channel: str) -> ChannelStep | None:
    return ChannelStep.objects.filter(integration=integration, channel=channel).select_related(
        "connection").order_by("position").first()


def validate(integration: Integration, new_steps: list[Step]) -> None:
    if not new_steps:
        raise PlanError("the plan needs at least one step")
    if len(new_steps) > MAX_STEPS:
        raise PlanError(f"at most {MAX_STEPS} steps")
    for n, step in enumerate(new_steps, 1):
        if step.channel not in Channel.values:
            raise PlanError(f"unknown channel {step.channel!r}", n)
        if step.connection is None or integration.store_id not in step.connection.served_store_ids():
            raise PlanError("choose a connection of this store (or one shared with it)", n)
        if step.channel not in channels_of(step.connection):
            raise PlanError(f"{step.connection} cannot send {Channel(step.channel).label}", n)
        if not 0 <= int(step.delay_minutes) <= MAX_DELAY_MINUTES:
            raise PlanError(f"the wait must be between 0 and {MAX_DELAY_MINUTES} minutes", n)
        if not 1 <= int(step.window_minutes) <= MAX_WINDOW_MINUTES:
            raise PlanError(f"the answer window must be between 1 and {MAX_WINDOW_MINUTES} minutes", n)
    if sum(int(s.delay_minutes) for s in new_steps) > MAX_DELAY_MINUTES:
        raise PlanError(f"the last step must come within 7 days ({MAX_DELAY_MINUTES} minutes) of the order",
                        len(new_steps))


def replace(integration: Integration, new_steps: list[Step], *, user: str = "") -> list[ChannelStep]:
    """Validate and save the whole plan (one transaction). Attempts already made keep their own connection."""
    validate(integration, new_steps)
    with transaction.atomic():
        old = describe(steps(integration))
        ChannelStep.objects.filter(integration=integration).delete()
        rows = ChannelStep.objects.bulk_create([
            ChannelStep(integration=integration, position=n, channel=s.channel, connection=s.connection,
                        delay_minutes=int(s.delay_minutes), window_minutes=int(s.window_minutes))
            for n, s in enumerate(new_steps, 1)])
        new = describe(rows)
        if user and old != new:
            AuditEntry.objects.create(created=clock.now(), user=user, action="cod_confirm.channel_plan",
                                      store_id=integration.store_id, object_type="integration",
                                      object_id=str(integration.pk), data={"old": old, "new": new})
    return rows


def copy_from(src: Integration, dst: Integration) -> None:
    """A new store's COD plan, as its template store has it (store import); the accounts are shared with it first."""
    found = steps(src)
    if found:
        replace(dst, [Step(s.channel, s.connection, s.delay_minutes, s.window_minutes) for s in found],
                user="store import")


def default_steps(connection: Connection, channels: tuple[str, ...] = ("call", "call", "sms"),
                  delays: tuple[int, ...] = (0, 30, 90), window: int = 15) -> list[Step]:
    """One provider account: call, call again after 30 minutes, then an SMS 90 minutes later."""
    return [Step(ch, connection, d, window) for ch, d in zip(channels, delays, strict=True)]


def timing(plan) -> list[tuple[str, int, int, int]]:
    """What decides when and how each step runs; a change re-plans waiting attempts."""
    return [(s.channel, s.connection_id if hasattr(s, "connection_id") else s.connection.pk, int(s.delay_minutes),
             int(s.window_minutes)) for s in plan]


def connections_label(integration: Integration) -> str:
    return describe(steps(integration))


def describe(plan) -> str:
    """ "WhatsApp (Meta) → Call (Verimor) → SMS (Netgsm)" """
    return " → ".join(f"{Channel(s.channel).label} ({s.connection.get_service_display()})" for s in plan)
