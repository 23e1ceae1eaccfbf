"""COD confirmation statistics for the overview, counted in the database from index ranges (no row loops).

Per-day and per-hour figures are grids of counts: one `COUNT(*)` per (store, state, local day or hour) over a range
of a covering index — (store, state, created, …) on Confirmation and on Attempt — so the database walks index
entries and does no work per row (no per-row date arithmetic, no sort for GROUP BY: at 1,000,000 confirmations that
was most of the overview's time, bench/overview.py). Bucket bounds are local midnights / local hours converted to
UTC in Python, so days and hours follow the store's time zone and its DST switches exactly. Python only sees the
grid (states × days, or days × 24 hours).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, IntegerField, Q
from django.db.models.functions import Cast, Round

from ocbridge.dashboard.dbtime import SecondsBetween

# How states are grouped on the overview (every state belongs to exactly one group).
GROUPS: dict[str, tuple[str, ...]] = {
    "confirmed": ("confirmed",),
    "cancelled": ("cancelled",),
    "no_answer": ("no_answer", "expired"),
    "pending": ("new", "scheduled", "calling", "sms_sent", "whatsapp_sent"),
    "needs_person": ("needs_person",),  # its own row: these wait for the owner, not for the robot
    "other": ("failed", "resolved_in_shop", "skipped"),
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


def _local_midnights(tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Local midnights from start's local day up to and including the first at or after end (bucket bounds)."""
    day = start.astimezone(tz).date()
    out = [dt.datetime.combine(day, dt.time.min, tzinfo=tz)]
    while out[-1] < end:
        day += dt.timedelta(days=1)
        out.append(dt.datetime.combine(day, dt.time.min, tzinfo=tz))
    return out


def _constant_rows(columns: list[str], rows: list[tuple]) -> tuple[str, list]:
    """A derived table of constant rows, `SELECT %s AS a, … UNION ALL SELECT …`: portable to every hub database."""
    first = "SELECT " + ", ".join(f"%s AS {c}" for c in columns)
    rest = "SELECT " + ", ".join("%s" for _c in columns)
    return " UNION ALL ".join([first] + [rest] * (len(rows) - 1)), [v for row in rows for v in row]


def _grid(model, store, derived: tuple[str, list], cells: list[tuple[str, list]], period: tuple, chunk: int = 100
          ) -> list[tuple]:
    """[(store id, *derived columns, *cell counts)] for each store × derived row.

    A cell is `COUNT(*)` of `model` rows of that store matching (condition SQL, params); in the condition, `x.<name>`
    is a column of the derived row and `r.` the counted table. Cells are split into queries of `chunk` columns.
    Only stores with a `model` row created in `period` (start, end) get rows: an agency's hub has a thousand stores,
    most of them without any in a given month, and each row costs every cell's subquery.
    """
    from django.db import connection

    from ocbridge.core.models import Store

    qn = connection.ops.quote_name
    table, store_table = qn(model._meta.db_table), qn(Store._meta.db_table)
    derived_sql, derived_params = derived
    result: list[list] = []
    for k in range(0, max(len(cells), 1), chunk):
        part = cells[k:k + chunk]
        cols = ", ".join(f"(SELECT COUNT(*) FROM {table} r WHERE r.{qn('store_id')} = s.{qn('id')} AND {cond})"
                         for cond, _p in part)
        params = [v for _c, p in part for v in p]
        where = (f"WHERE EXISTS (SELECT 1 FROM {table} a WHERE a.{qn('store_id')} = s.{qn('id')} "
                 f"AND a.{qn('created')} >= %s AND a.{qn('created')} < %s)")
        where_params = [_when(period[0]), _when(period[1])]
        if store is not None:
            where, where_params = f"{where} AND s.{qn('id')} = %s", [*where_params, store.pk]
        sql = f"SELECT s.id, x.*, {cols} FROM {store_table} s CROSS JOIN ({derived_sql}) x {where} ORDER BY 1"
        with connection.cursor() as cur:
            cur.execute(sql, params + derived_params + where_params)
            rows = cur.fetchall()
        if not result:
            result = [list(r) for r in rows]
        else:
            n_fixed = len(rows[0]) - len(part) if rows else 0
            for acc, r in zip(result, rows, strict=True):
                acc.extend(r[n_fixed:])
    return [tuple(r) for r in result]


def _when(value: dt.datetime):
    from django.db import connection

    return connection.ops.adapt_datetimefield_value(value)


def daily_counts(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[int, dt.date, str, int]]:
    """[(store id, local date, state, confirmations created)] for the local days from start to end.

    One COUNT per (store, state, day) over the (store, state, created, decided_at) index. The headline figures and
    the outcomes-per-day chart are both sums over these rows, so the page reads the period's confirmations once.
    """
    from ocbridge.integrations.cod_confirm.choices import ConfirmationState
    from ocbridge.integrations.cod_confirm.models import Confirmation

    bounds = _local_midnights(tz, start, end)
    cells = [("r.state = x.st AND r.created >= %s AND r.created < %s",
              [_when(max(lo, start)), _when(min(hi, end))]) for lo, hi in zip(bounds, bounds[1:])]
    derived = _constant_rows(["st"], [(state,) for state in ConfirmationState.values])
    out = []
    for sid, state, *counts in _grid(Confirmation, store, derived, cells, (start, end)):
        out += [(sid, lo.date(), state, n) for lo, n in zip(bounds, counts) if n]
    return out


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
        out[w] = median_of([(row[0], row[k]) for row in hist])
    return out


def _at_ranks(hist: list[tuple[int, int]], ranks: list[int]) -> list[float]:
    """The values at these 0-based ranks of a histogram [(value, count)] sorted by value."""
    out, seen, todo = [], 0, sorted(ranks)
    for value, count in hist:
        seen += count
        while todo and todo[0] < seen:
            out.append(float(value))
            todo.pop(0)
        if not todo:
            break
    return out


def median_of(hist: list[tuple[int, int]]) -> float | None:
    """Median of a histogram (the mean of the middle two for an even count)."""
    n = sum(c for _v, c in hist)
    if not n:
        return None
    lo, hi = _at_ranks(hist, [(n - 1) // 2, n // 2])
    return (lo + hi) / 2


def p90_of(hist: list[tuple[int, int]]) -> float | None:
    """The 90th percentile, nearest rank: 90 % of the values are at or below it."""
    n = sum(c for _v, c in hist)
    return _at_ranks(hist, [-(-9 * n // 10) - 1])[0] if n else None


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


def attempt_figures(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime):
    """The attempts made (created) in the period, dry runs left out: (channel split, answers by hour).

    An attempt counts in the period it was made, whenever its order came in (a call at 00:30 on the 1st for an
    order of 23:50 the day before is a call of the 1st); it carries its store, so no join to Confirmation.
    channel split: channel → {"sent", "answered"}; answers by hour: [(attempts that reached the customer with a known
    outcome, answered)] for each local hour 0–23 the attempt was made — an undelivered one never rang or arrived,
    so it is neither. Counts come from the (store, state, created, channel) index.
    """
    from ocbridge.integrations.cod_confirm.choices import NOT_MADE, AttemptState, Channel
    from ocbridge.integrations.cod_confirm.models import Attempt

    lo, hi = _when(start), _when(end)
    states = [s for s in AttemptState.values if s not in NOT_MADE]
    split: dict[str, dict[str, int]] = {}
    cells = [("r.state = x.st AND r.created >= %s AND r.created < %s AND r.channel = %s", [lo, hi, ch])
             for ch in Channel.values]
    for _sid, state, *counts in _grid(Attempt, store, _constant_rows(["st"], [(s,) for s in states]), cells,
                                      (start, end)):
        for ch, n in zip(Channel.values, counts):
            if n:
                entry = split.setdefault(ch, {"sent": 0, "answered": 0})
                entry["sent"] += n
                entry["answered"] += n if state == AttemptState.ANSWERED else 0
    # Answers by local hour: a row per local day (its 25 hour bounds), a cell per (hour, answered / no answer);
    # undelivered attempts (AttemptState.UNDELIVERED) are in neither cell.
    # Bounds are wall-clock hours made aware in the store's zone: a skipped hour is an empty bucket, a repeated
    # one is counted in its hour, as a person reading the chart would expect.
    days = _local_midnights(tz, start, end)[:-1]
    hour_rows = []
    for day in days:
        marks = [dt.datetime.combine(day.date(), dt.time(h), tzinfo=tz) for h in range(24)]
        marks.append(dt.datetime.combine(day.date() + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
        hour_rows.append(tuple(_when(min(max(m, start), end)) for m in marks))
    hours = [[0, 0] for _ in range(24)]
    if hour_rows:
        derived = _constant_rows([f"b{h}" for h in range(25)], hour_rows)
        cells = [(f"r.state = %s AND r.created >= x.b{h} AND r.created < x.b{h + 1}", [state])
                 for h in range(24) for state in (AttemptState.ANSWERED, AttemptState.NO_ANSWER)]
        for row in _grid(Attempt, store, derived, cells, (start, end)):
            counts = row[-len(cells):]
            for h in range(24):
                answered, unanswered = counts[2 * h], counts[2 * h + 1]
                hours[h][0] += answered + unanswered
                hours[h][1] += answered
    return split, [tuple(h) for h in hours]


def channel_split(store, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """channel → {"sent": attempts, "answered": attempts the customer answered}."""
    return attempt_figures(store, dt.UTC, start, end)[0]


def answers_by_hour(store, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[tuple[int, int]]:
    """[(attempts that reached the customer with a known outcome, answered)] for each local hour 0–23 the attempt
    was made."""
    return attempt_figures(store, tz, start, end)[1]


def answer_times(store, start: dt.datetime, end: dt.datetime) -> dict[str, tuple[float | None, float | None]]:
    """channel → (median, 90th percentile) seconds from an attempt being made to the customer's answer, over the
    answered attempts made in the period. One query: a histogram per (channel, whole seconds), read from the
    (store, state, created, channel) index range."""
    from ocbridge.integrations.cod_confirm.choices import AttemptState
    from ocbridge.integrations.cod_confirm.models import Attempt

    qs = Attempt.objects.filter(state=AttemptState.ANSWERED, created__gte=start, created__lt=end,
                                answered_at__isnull=False)
    if store is not None:
        qs = qs.filter(store=store)
    rows = (qs.annotate(sec=Cast(Round(SecondsBetween("answered_at", "created")), IntegerField()))
            .values("channel", "sec").annotate(n=Count("id")).order_by("channel", "sec")
            .values_list("channel", "sec", "n"))
    hists: dict[str, list[tuple[int, int]]] = {}
    for channel, sec, n in rows:
        hists.setdefault(channel, []).append((max(int(sec), 0), n))
    return {ch: (median_of(h), p90_of(h)) for ch, h in hists.items()}


def returns_by_confirmation(store, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, int]]:
    """via → {"refused", "delivered", "cancelled": orders} for the outcomes the shop recorded in the period (the
    owner's status mapping), split by how the hub confirmed the order: one GROUP BY over the
    (store, updated, outcome, confirmed_via) index."""
    from ocbridge.integrations.cod_confirm.models import OrderOutcome
    from ocbridge.integrations.cod_confirm.outcomes import VIA

    qs = OrderOutcome.objects.filter(updated__gte=start, updated__lt=end)
    if store is not None:
        qs = qs.filter(store=store)
    out = {via: {"refused": 0, "delivered": 0, "cancelled": 0} for via in VIA}
    for via, outcome, n in (qs.values("confirmed_via", "outcome").annotate(n=Count("id")).order_by()
                            .values_list("confirmed_via", "outcome", "n")):
        out.setdefault(via, {"refused": 0, "delivered": 0, "cancelled": 0})[outcome] = n
    return out
