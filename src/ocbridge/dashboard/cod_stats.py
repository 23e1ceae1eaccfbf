"""COD confirmation statistics for the overview, aggregated in the database (indexed range scans, no row loops).

Every query is bounded by `Confirmation.created` within the window and, for one store, by its store id, so it
reads the (store, created) / (store, state, created) indexes. Python only sees grouped rows (at most
states × integrations, days × states or 24 hours).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q

from ocbridge.dashboard.dbtime import SecondsBetween, local_date, local_hour

# How states are grouped on the overview (every state belongs to exactly one group).
GROUPS: dict[str, tuple[str, ...]] = {
    "confirmed": ("confirmed",),
    "cancelled": ("cancelled",),
    "no_answer": ("no_answer", "expired"),
    "pending": ("new", "scheduled", "calling", "sms_sent", "needs_person"),
    "other": ("failed", "resolved_in_shop"),
}
GROUP_OF = {state: group for group, states in GROUPS.items() for state in states}
WINDOWS = ("today", "7", "30")


@dataclass
class Figures:
    """The headline numbers of one window (today, 7 or 30 days)."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GROUPS, 0))
    median_confirm_seconds: float | None = None
    saved: dict[str, Decimal] = field(default_factory=dict)  # currency → amount

    @property
    def rate(self) -> float | None:
        """Confirmed ÷ (confirmed + cancelled + no answer): of the orders the customer was asked about."""
        asked = self.counts["confirmed"] + self.counts["cancelled"] + self.counts["no_answer"]
        return 100.0 * self.counts["confirmed"] / asked if asked else None


def _confirmations(store):
    from ocbridge.integrations.cod_confirm.models import Confirmation

    qs = Confirmation.objects.all()
    return qs.filter(store=store) if store is not None else qs


def window_starts(tz: dt.tzinfo, now: dt.datetime) -> dict[str, dt.datetime]:
    """Local midnight today, 6 and 29 days before (today counts as one of the 7 and 30 days)."""
    today = now.astimezone(tz).date()
    return {w: dt.datetime.combine(today - dt.timedelta(days={"today": 0, "7": 6, "30": 29}[w]), dt.time.min,
                                   tzinfo=tz) for w in WINDOWS}


def headline(store, tz: dt.tzinfo, now: dt.datetime) -> dict[str, Figures]:
    """Counts per state group, money saved and the median time to confirm, for today / 7 / 30 days."""
    from ocbridge.core.models import Integration

    starts = window_starts(tz, now)
    qs = _confirmations(store).filter(created__gte=starts["30"], created__lt=now + dt.timedelta(days=1))
    rows = (qs.values("state", "integration_id")
            .annotate(today=Count("id", filter=Q(created__gte=starts["today"])),
                      d7=Count("id", filter=Q(created__gte=starts["7"])), d30=Count("id"))
            .order_by())
    out = {w: Figures() for w in WINDOWS}
    cancelled_by_integration: dict[int, dict[str, int]] = {}
    for r in rows:
        group = GROUP_OF.get(r["state"], "other")
        for w, n in (("today", r["today"]), ("7", r["d7"]), ("30", r["d30"])):
            out[w].total += n
            out[w].counts[group] += n
        if r["state"] == "cancelled":
            cancelled_by_integration[r["integration_id"]] = {"today": r["today"], "7": r["d7"], "30": r["d30"]}
    if cancelled_by_integration:
        from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

        for integ in Integration.objects.filter(pk__in=cancelled_by_integration).select_related("store"):
            cost = CodConfirmConfig.from_settings(integ.settings).return_shipping_cost or Decimal("0")
            for w, n in cancelled_by_integration[integ.pk].items():
                cur = integ.store.currency
                out[w].saved[cur] = out[w].saved.get(cur, Decimal("0")) + cost * n
    for w in WINDOWS:
        out[w].median_confirm_seconds = median_confirm_seconds(store, starts[w], now + dt.timedelta(days=1),
                                                               out[w].counts["confirmed"])
    return out


def median_confirm_seconds(store, start: dt.datetime, end: dt.datetime, confirmed: int | None = None) -> float | None:
    """Median of decided_at − created over confirmed orders created in [start, end): sorted in the database."""
    qs = _confirmations(store).filter(state="confirmed", created__gte=start, created__lt=end,
                                      decided_at__isnull=False)
    n = qs.count() if confirmed is None else confirmed
    if not n:
        return None
    values = list(qs.annotate(sec=SecondsBetween("decided_at", "created")).order_by("sec")
                  .values_list("sec", flat=True)[(n - 1) // 2: n // 2 + 1])
    if not values:  # a row lacking decided_at made the count too high: ask exactly
        return median_confirm_seconds(store, start, end, qs.count()) if confirmed is not None else None
    return float(sum(values)) / len(values)


def outcomes_per_day(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> dict[str, dict[dt.date, int]]:
    """group → {local date → confirmations created that day}."""
    rows = (_confirmations(store).filter(created__gte=start, created__lt=end)
            .annotate(day=local_date("created", tz, start, end)).values("day", "state")
            .annotate(n=Count("id")).order_by())
    out: dict[str, dict[dt.date, int]] = {g: {} for g in GROUPS}
    for r in rows:
        day = r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(str(r["day"]))
        bucket = out[GROUP_OF.get(r["state"], "other")]
        bucket[day] = bucket.get(day, 0) + r["n"]
    return out


def _attempts(store, start: dt.datetime, end: dt.datetime):
    from ocbridge.integrations.cod_confirm.models import Attempt

    qs = Attempt.objects.filter(confirmation__created__gte=start, confirmation__created__lt=end)
    return qs.filter(confirmation__store=store) if store is not None else qs


def channel_split(store, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """channel → {"sent": attempts, "answered": attempts the customer answered}."""
    rows = (_attempts(store, start, end).exclude(state="dry_run").values("channel")
            .annotate(sent=Count("id"), answered=Count("id", filter=Q(state="answered"))).order_by())
    return {r["channel"]: {"sent": r["sent"], "answered": r["answered"]} for r in rows}


def answers_by_hour(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[int, int]]:
    """[(attempts with a known outcome, answered)] for each local hour 0–23 the attempt was made."""
    rows = (_attempts(store, start, end).filter(state__in=("answered", "no_answer"))
            .annotate(hour=local_hour("created", tz, start, end + dt.timedelta(days=1))).values("hour")
            .annotate(n=Count("id"), answered=Count("id", filter=Q(state="answered"))).order_by())
    out = [(0, 0)] * 24
    for r in rows:
        if r["hour"] is not None and 0 <= int(r["hour"]) < 24:
            out[int(r["hour"])] = (r["n"], r["answered"])
    return out
