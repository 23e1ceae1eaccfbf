"""COD confirmation statistics for the overview, aggregated in the database (indexed range scans, no row loops).

Every query is bounded by `Confirmation.created` within the window and, for one store, by its store id, so it
reads the (store, created) / (store, state, created) indexes. Python only sees grouped rows (at most
states × integrations, days × states or 24 hours).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, IntegerField, Q
from django.db.models.functions import Cast, Round

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


def daily_counts(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[int, dt.date, str, int]]:
    """[(store id, local date, state, confirmations created)]: one range scan of the (store, created, state) index.

    The headline figures and the outcomes-per-day chart are both sums over these rows, so the page reads the
    confirmations of the period once.
    """
    rows = (_confirmations(store).filter(created__gte=start, created__lt=end)
            .annotate(day=local_date("created", tz, start, end)).values_list("store_id", "day", "state")
            .annotate(n=Count("id")).order_by())
    return [(sid, day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)), state, n)
            for sid, day, state, n in rows]


def headline(store, tz: dt.tzinfo, now: dt.datetime, daily: list | None = None) -> dict[str, Figures]:
    """Counts per state group, money saved and the median time to confirm, for today / 7 / 30 days."""
    starts = window_starts(tz, now)
    end = dt.datetime.combine(now.astimezone(tz).date() + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    if daily is None:
        daily = daily_counts(store, tz, starts["30"], end)
    first_day = {w: start.date() for w, start in starts.items()}
    out = {w: Figures() for w in WINDOWS}
    cancelled_by_store: dict[int, dict[str, int]] = {}
    for sid, day, state, n in daily:
        group = GROUP_OF.get(state, "other")
        for w in WINDOWS:
            if day >= first_day[w]:
                out[w].total += n
                out[w].counts[group] += n
                if state == "cancelled":
                    per = cancelled_by_store.setdefault(sid, dict.fromkeys(WINDOWS, 0))
                    per[w] += n
    if cancelled_by_store:
        from ocbridge.core.models import Integration
        from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

        # A store has one cod_confirm integration (unique per store and kind): its cost applies.
        for integ in Integration.objects.filter(store_id__in=cancelled_by_store, kind="cod_confirm").select_related("store"):
            cost = CodConfirmConfig.from_settings(integ.settings).return_shipping_cost or Decimal(0)
            cur = integ.store.currency
            for w, n in cancelled_by_store[integ.store_id].items():
                out[w].saved[cur] = out[w].saved.get(cur, Decimal(0)) + cost * n
    for w, value in median_confirm_seconds(store, starts, end).items():
        out[w].median_confirm_seconds = value
    return out


def median_confirm_seconds(store, starts: dict[str, dt.datetime], end: dt.datetime) -> dict[str, float | None]:
    """Median of decided_at − created (whole seconds) over confirmed orders, per window, in one query.

    The database returns a histogram (one row per distinct number of seconds, with a count per window) read
    from the (store, state, created, decided_at) index; the median is found by walking it in order.
    """
    first = min(starts.values())
    qs = _confirmations(store).filter(state="confirmed", created__gte=first, created__lt=end, decided_at__isnull=False)
    hist = list(qs.annotate(sec=Cast(Round(SecondsBetween("decided_at", "created")), IntegerField())).values("sec")
                .annotate(**{f"w{w}": Count("id", filter=Q(created__gte=start)) for w, start in starts.items()})
                .order_by("sec").values_list("sec", *[f"w{w}" for w in starts]))
    out: dict[str, float | None] = {}
    for k, w in enumerate(starts, 1):
        n = sum(row[k] for row in hist)
        if not n:
            out[w] = None
            continue
        lo, hi = (n - 1) // 2, n // 2  # the middle one or two ranks (0-based)
        seen, lo_val, hi_val = 0, None, None
        for row in hist:
            if not row[k]:
                continue
            nxt = seen + row[k]
            if lo_val is None and lo < nxt:
                lo_val = row[0]
            if hi < nxt:
                hi_val = row[0]
                break
            seen = nxt
        out[w] = (float(lo_val) + float(hi_val)) / 2
    return out


def outcomes_per_day(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime,
                     daily: list | None = None) -> dict[str, dict[dt.date, int]]:
    """group → {local date → confirmations created that day}."""
    if daily is None:
        daily = daily_counts(store, tz, start, end)
    out: dict[str, dict[dt.date, int]] = {g: {} for g in GROUPS}
    first, last = start.astimezone(tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    for _sid, day, state, n in daily:
        if first <= day <= last:
            bucket = out[GROUP_OF.get(state, "other")]
            bucket[day] = bucket.get(day, 0) + n
    return out


def _attempts(store, start: dt.datetime, end: dt.datetime):
    """Attempts made (created) in the period: a range of the (store, created, state, channel) index, no join."""
    from ocbridge.core.models import Store
    from ocbridge.integrations.cod_confirm.models import Attempt

    qs = Attempt.objects.filter(created__gte=start, created__lt=end)
    # All stores: still by store id (a hub has a handful), so the same index serves instead of the whole table.
    return qs.filter(store=store) if store is not None else qs.filter(store__in=Store.objects.values("pk"))


def attempt_figures(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime):
    """One pass over the attempts made in the period: (channel split, answers by hour).

    An attempt counts in the period it was made, whenever its order came in (a call at 00:30 on the 1st for an
    order of 23:50 the day before is a call of the 1st).

    channel split: channel → {"sent", "answered"}; answers by hour: [(attempts with a known outcome, answered)]
    for each local hour 0–23 the attempt was made.
    """
    rows = (_attempts(store, start, end).exclude(state="dry_run")
            .annotate(hour=local_hour("created", tz, start, end))
            .values("channel", "state", "hour").annotate(n=Count("id")).order_by())
    split: dict[str, dict[str, int]] = {}
    hours = [[0, 0] for _ in range(24)]
    for r in rows:
        ch = split.setdefault(r["channel"], {"sent": 0, "answered": 0})
        ch["sent"] += r["n"]
        answered = r["state"] == "answered"
        ch["answered"] += r["n"] if answered else 0
        if r["state"] in ("answered", "no_answer") and r["hour"] is not None and 0 <= int(r["hour"]) < 24:
            hours[int(r["hour"])][0] += r["n"]
            hours[int(r["hour"])][1] += r["n"] if answered else 0
    return split, [tuple(h) for h in hours]


def channel_split(store, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """channel → {"sent": attempts, "answered": attempts the customer answered}."""
    return attempt_figures(store, dt.UTC, start, end)[0]


def answers_by_hour(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[int, int]]:
    """[(attempts with a known outcome, answered)] for each local hour 0–23 the attempt was made."""
    return attempt_figures(store, tz, start, end)[1]
