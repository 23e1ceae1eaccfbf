"""LookupCall: one inbound call to the order-status line, step by step, with what was said and how it ended."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.models import Connection, Exchange, Integration, Store
from ocbridge.integrations.order_lookup.choices import OUTCOME_COLOURS, CallOutcome, Reason

STALE_AFTER = dt.timedelta(minutes=10)  # a call still waiting for keys after this was hung up


class LookupCall(models.Model):
    """One call (Verimor uuid, Twilio CallSid, Netgsm unique_id). The caller's number is kept raw and as E.164."""

    # No index of its own on store nor caller: lookup_call_store and lookup_call_caller begin with them (one index
    # write less each per call on the order-status line's hot path). None on integration nor connection: nothing
    # looks a call up by them; deleting one (rare) scans the table to empty the link.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="lookup_calls", db_index=False)
    integration = models.ForeignKey(Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                    db_index=False)
    connection = models.ForeignKey(Connection, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   db_index=False)
    service = models.CharField(max_length=20)
    call_id = models.CharField(_("call id"), max_length=128)
    caller_raw = models.CharField(_("caller as sent"), max_length=64, blank=True)
    caller = models.CharField(_("caller (E.164)"), max_length=20, blank=True)
    called = models.CharField(_("called number"), max_length=64, blank=True)
    language = models.CharField(max_length=8, blank=True)
    step = models.PositiveIntegerField(_("step"), default=0)
    expecting = models.CharField(max_length=20, blank=True, help_text="what the last prompt asked for")
    order_ids = models.JSONField(default=list, blank=True, help_text="the caller's orders, newest first")
    position = models.PositiveIntegerField(default=0, help_text="index in order_ids of the order last spoken")
    order_id = models.BigIntegerField(_("order found"), null=True, blank=True)
    order_label = models.CharField(max_length=40, blank=True)
    spoken = models.TextField(_("what was spoken"), blank=True)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, default=CallOutcome.IN_PROGRESS)
    reason = models.CharField(max_length=24, choices=Reason.choices, blank=True)
    lookups = models.PositiveIntegerField(default=0, help_text="shop lookups made in this call (rate limit)")
    last_response = models.TextField(blank=True, help_text="our last answer, replayed if the same step comes again")
    exchange = models.ForeignKey(Exchange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(default=clock.now, db_index=True)
    updated = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["service", "call_id"], name="lookup_call_once")]
        indexes = [models.Index(fields=["store", "-id"], name="lookup_call_store"),
                   models.Index(fields=["caller", "created"], name="lookup_call_caller")]
        verbose_name = _("order lookup call")
        verbose_name_plural = _("order lookup calls")

    def __str__(self) -> str:
        return f"{self.service} {self.call_id} ({self.outcome})"

    @property
    def colour(self) -> str:
        return OUTCOME_COLOURS.get(self.outcome, "#999")

    @classmethod
    def recent_lookups(cls, caller: str, *, minutes: int) -> int:
        """Shop lookups made for this caller number in the window, over every store (abuse is per number)."""
        from ocbridge.core import rows

        since = rows.db_datetime(clock.now() - dt.timedelta(minutes=minutes))
        total = rows.select(f'SELECT SUM("lookups") FROM "{cls._meta.db_table}" WHERE "caller" = %s AND "created" >= %s',
                            [caller, since])[0][0]
        return int(total or 0)

    @classmethod
    def settle_stale(cls) -> int:
        """Calls left waiting for keys were hung up by the caller (the PBX does not tell us)."""
        return cls.objects.filter(outcome=CallOutcome.IN_PROGRESS, updated__lt=clock.now() - STALE_AFTER).update(
            outcome=CallOutcome.HUNG_UP)


class IndexBackfill(models.Model):
    """How far back the phone index has been filled for one shop database (new orders come from the poll)."""

    store_db_key = models.CharField(max_length=32, unique=True)
    next_below = models.BigIntegerField(help_text="the next order ids to index are below this one")
    done = models.BooleanField(default=False)
    indexed = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"{self.store_db_key}: below {self.next_below}{' (done)' if self.done else ''}"


# Personal data kept here (core.personal_data): the caller's number and what the hub told them (their orders).
from django.db.models import Q  # noqa: E402

from ocbridge.core import personal_data  # noqa: E402

personal_data.register(personal_data.Table(
    model="order_lookup.LookupCall", created="created", store="store_id", phones=("caller",),
    mask={"caller_raw": "", "caller": "", "spoken": "", "last_response": ""},
    masked=Q(caller_raw="", caller="", spoken="", last_response=""),
    export=("service", "caller", "caller_raw", "called", "order_label", "spoken", "outcome")))
