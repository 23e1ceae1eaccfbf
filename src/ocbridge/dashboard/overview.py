"""Overview page framework: a registry of per-store statistic cards that integrations add to.

A card function takes `(store_or_None, period)` and returns a `Card`, a dict with the same keys, a list of
those, or None (nothing to show). Integrations register theirs with `register_card(fn)` or, to keep the
import direction integrations → core only, by listing them in `IntegrationInfo.extras["overview_cards"]`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ocbridge.core import clock
from ocbridge.core.choices import LEVEL_COLOURS, JobState, Level
from ocbridge.dashboard import charts, l10n

log = logging.getLogger(__name__)


@dataclass
class Period:
    """The days an overview covers, as dates in the display time zone, oldest first."""

    days: list[dt.date]
    tz: dt.tzinfo
    cache: dict = field(default_factory=dict, repr=False)  # figures several cards share, computed once per page

    @classmethod
    def last(cls, n: int, tz: dt.tzinfo) -> Period:
        today = clock.now().astimezone(tz).date()
        return cls([today - dt.timedelta(days=n - 1 - i) for i in range(n)], tz)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.days[0], dt.time.min, tzinfo=self.tz)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.days[-1] + dt.timedelta(days=1), dt.time.min, tzinfo=self.tz)

    def labels(self) -> list[str]:
        return [l10n.day_label(d) for d in self.days]

    def per_day(self, rows: dict[dt.date, float]) -> list[float]:
        return [rows.get(d, 0) for d in self.days]


@dataclass
class Card:
    """One box on the overview: a headline value, an optional chart, a few label/value rows, a link."""

    title: str
    value: str = ""
    note: str = ""
    chart: SafeString | str = ""
    rows: list[tuple[str, ...]] = field(default_factory=list)  # (label, value, …): one value per column
    link: str = ""
    link_text: str = ""
    error: bool = False
    columns: list[str] = field(default_factory=list)  # headings of the value columns, when rows have several
    wide: bool = False  # spans the whole width (tables)


CardFn = Callable[..., "Card | dict | list | None"]
_cards: list[tuple[int, CardFn]] = []


def register_card(fn: CardFn | None = None, *, order: int = 100):
    """Register a card function (usable as `@register_card` or `@register_card(order=10)`)."""

    def deco(f: CardFn) -> CardFn:
        if all(f is not g for _o, g in _cards):
            _cards.append((order, f))
            _cards.sort(key=lambda item: item[0])
        return f

    return deco(fn) if fn is not None else deco


def registered_cards() -> list[CardFn]:
    """Cards registered here plus those integrations list in their registry entry."""
    from ocbridge.core.registry import integrations

    fns = [f for _o, f in _cards]
    for info in integrations.values():
        for f in (info.extras or {}).get("overview_cards", ()):
            if f not in fns:
                fns.append(f)
    return fns


def _as_card(value) -> Card:
    return value if isinstance(value, Card) else Card(**value)


def build_cards(store, period: Period) -> list[Card]:
    """Call every card function; one broken card shows an error box instead of breaking the page."""
    out: list[Card] = []
    for fn in registered_cards():
        try:
            result = fn(store, period)
            if result is None:
                continue
            out.extend(_as_card(c) for c in (result if isinstance(result, list) else [result]))
        except Exception:
            log.exception("overview card %s failed", getattr(fn, "__name__", fn))
            out.append(Card(title=getattr(fn, "__name__", "card"), value="—", note=_("This card could not be drawn."),
                            error=True))
    return out


def display_tz(store) -> dt.tzinfo:
    """A store's own time zone when one store is shown (its days are the shop's days), else the active one (UTC)."""
    return l10n.zone(store)


# --- built-in cards ------------------------------------------------------------------------------------


@register_card(order=10)
def exchanges_card(store, period: Period) -> Card:
    """Requests to and from outside services per day, stacked by level."""
    by_level = exchanges_per_day(store, period)
    series = [charts.Series(str(Level(lvl).label), period.per_day(by_level[lvl]), LEVEL_COLOURS[lvl])
              for lvl in Level.values]
    total = sum(sum(s.values) for s in series)
    errors = sum(series[2].values)
    title = _("Exchanges per day")
    return Card(title=title, value=str(int(total)), note=_("%(errors)d with errors") % {"errors": errors},
                chart=charts.stacked_bars(period.labels(), series, title=title),
                link=reverse("dashboard:exchanges"), link_text=_("Open the log"))


def exchanges_per_day(store, period: Period) -> dict[str, dict[dt.date, int]]:
    """{level: {day: rows}} of the log (one store's, or all) over the period's days in its time zone.

    Counted as ranges, not grouped: grouping by each row's local date computed the date of, and sorted, every row of
    the period (1–2 s at a million rows). Each day's rows are a range of `created` (all stores) or (store, created),
    its warnings and errors a range of (level, created) or (store, level, created) — `exchange_trouble_time` and
    `exchange_store_trouble`, which hold only those (info rows, every webhook among them, write no entry) — and info
    is the rest, all counted without reading the table. One statement, so the figures come from one snapshot of the
    log and add up.
    """
    bounds = [dt.datetime.combine(d, dt.time.min, tzinfo=period.tz) for d in period.days] + [period.end]
    days = list(zip(period.days, bounds, bounds[1:]))
    by_level = [lvl for lvl in Level.values if lvl != Level.INFO]
    wanted = [(lvl, a, b) for lvl in by_level for _d, a, b in days] + [(None, a, b) for _d, a, b in days]
    counts = iter(range_counts(store, wanted))
    out = {lvl: {d: next(counts) for d, _a, _b in days} for lvl in by_level}
    out[Level.INFO] = {d: next(counts) - sum(out[lvl][d] for lvl in by_level) for d, _a, _b in days}
    return out


def range_counts(store, ranges: list[tuple[str | None, dt.datetime, dt.datetime]]) -> list[int]:
    """How many of the log's rows (one store's, or all) are at each (level, or any; from; to), in one statement
    (one round trip, one snapshot).

    Written out, not built by the ORM: a queryset built and compiled per count cost about 0.3 ms each — one store's
    month is 90 counts, 30 ms of Python beside the statement's 4 ms. The bounds go in as the ORM writes them.
    """
    from django.db import connections, router

    from ocbridge.core.models import Exchange

    conn = connections[router.db_for_read(Exchange)]
    name = conn.ops.quote_name
    column = {f: name(Exchange._meta.get_field(f).column) for f in ("store", "level", "created")}
    head = f"SELECT COUNT(*) FROM {name(Exchange._meta.db_table)} WHERE "
    head += f"{column['store']} = %s AND " if store is not None else ""
    parts, params = [], []
    for level, start, end in ranges:
        parts.append(f"({head}{column['level'] + ' = %s AND ' if level else ''}"
                     f"{column['created']} >= %s AND {column['created']} < %s)")
        params += [store.pk] if store is not None else []
        params += [level] if level else []
        params += [conn.ops.adapt_datetimefield_value(start), conn.ops.adapt_datetimefield_value(end)]
    if not parts:
        return []
    with conn.cursor() as cur:
        cur.execute("SELECT " + ", ".join(parts), params)
        return [int(n) for n in cur.fetchone()]


@register_card(order=20)
def jobs_card(store, period: Period) -> Card:
    """How many jobs are waiting, and how many failed in the period."""
    from ocbridge.core.models import Job

    qs = Job.objects.all()
    if store is not None:
        qs = qs.filter(store=store)
    waiting = qs.filter(state__in=(JobState.QUEUED, JobState.RUNNING)).count()
    failed = (qs.filter(state__in=(JobState.FAILED, JobState.ERRORED), finished_at__gte=period.start)
              .values("state").annotate(n=Count("id")).order_by())
    counts = {r["state"]: r["n"] for r in failed}
    return Card(title=_("Jobs"), value=str(waiting), note=_("waiting or running"),
                rows=[(str(JobState.FAILED.label), str(counts.get(JobState.FAILED, 0))),
                      (str(JobState.ERRORED.label), str(counts.get(JobState.ERRORED, 0)))],
                link=reverse("dashboard:jobs"), link_text=_("Open jobs"))


@register_card(order=30)
def connections_card(store, period: Period) -> Card:
    """Health of each connection: last success, last error, rate-limit hits."""
    from ocbridge.core.models import Connection

    qs = (Connection.objects.filter(enabled=True).select_related("store").defer("secret", "store__secret")
          .order_by("store__name", "service", "pk"))  # secrets stay encrypted: decrypting costs, the card shows none
    if store is not None:
        qs = qs.filter(store=store)
    conns = list(qs[:50])  # a hub has a handful; the cap keeps a misconfigured one readable
    rows = []
    failing = 0
    for c in conns:
        bad = c.last_error_at is not None and (c.last_ok_at is None or c.last_error_at > c.last_ok_at)
        failing += bad
        tz = display_tz(c.store)
        error = l10n.when(c.last_error_at, tz) + (f" · {c.error_text()[:120]}" if c.last_error_at and c.last_error else "")
        name = f"{c.store.name} · {c.name or c.get_service_display()}" if store is None else (c.name or c.get_service_display())
        rows.append((("⚠ " if bad else "") + name, l10n.when(c.last_ok_at, tz), error, l10n.number(c.rate_limited_count)))
    note = (_("%(n)d failing") % {"n": failing} + " · " + l10n.zones_note(c.store for c in conns)
            if conns else _("No connections yet."))
    return Card(title=_("Connections"), value=l10n.number(len(conns)), note=note,
                columns=[_("Last success"), _("Last error"), _("Rate-limit hits")] if rows else [], rows=rows,
                wide=True, link=reverse("dashboard:stores"), link_text=_("Open stores"))


# --- COD confirmation -----------------------------------------------------------------------------------


def _cod_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("ocbridge.integrations.cod_confirm")


def _group_labels() -> dict[str, str]:
    return {"confirmed": _("Confirmed"), "cancelled": _("Cancelled"), "no_answer": _("No answer"),
            "pending": _("Pending"), "needs_person": _("Needs a person"), "other": _("Other outcome")}


GROUP_COLOURS = {"confirmed": "#2a7", "cancelled": "#d33", "no_answer": "#d90", "pending": "#69c", "needs_person": "#c5c",
                 "other": "#777"}


@register_card(order=1)
def cod_headline_card(store, period: Period) -> Card | None:
    """COD orders and what became of them today, in 7 and in 30 days; rate, median time, money saved."""
    if not _cod_installed():
        return None
    from ocbridge.dashboard import cod_stats

    figs = cod_stats.headline(store, period.tz, clock.now(), daily=_daily(store, period))
    ws = cod_stats.WINDOWS
    labels = _group_labels()
    currency = store.currency if store is not None else ""

    def saved(f: cod_stats.Figures) -> str:
        if not f.saved:
            return l10n.money(0, currency) if currency else "—"
        return " + ".join(l10n.money(v, cur) for cur, v in sorted(f.saved.items()))

    rows = [(_("COD orders"), *[l10n.number(figs[w].total) for w in ws])]
    rows += [(labels[g], *[l10n.number(figs[w].counts[g]) for w in ws])
             for g in ("confirmed", "cancelled", "no_answer", "pending", "needs_person")]
    rows += [
        (_("Confirmation rate"), *[l10n.percent(figs[w].rate) for w in ws]),
        (_("Median time to confirm"), *[l10n.duration(figs[w].median_confirm_seconds) for w in ws]),
        (_("Estimated money saved"), *[saved(figs[w]) for w in ws]),
    ]
    if store is not None:
        rows += _cost_rows(store, figs, cod_stats.window_starts(period.tz, clock.now()))
    return Card(title=_("COD confirmation"), value=l10n.number(figs["today"].total),
                note=_("COD orders today"), columns=[_("Today"), _("7 days"), _("30 days")], rows=rows, wide=True,
                link=reverse("dashboard:confirmations"), link_text=_("Open confirmations"))


def _cost_rows(store, figs, starts) -> list[tuple]:
    """What calls, SMS and WhatsApp cost (the owner's prices, core.spend), per confirmed order and per saved return
    (a cancelled order not shipped). "—" where there is nothing to divide by; unpriced ones are not guessed."""

    from ocbridge.core import spend
    from ocbridge.core.models import SpendPolicy

    policy = SpendPolicy.objects.filter(store=store).first()
    if policy is None or not policy.prices:
        return []
    costs = {w: spend.cost(policy, spend.usage([store.pk], start))[0] for w, start in starts.items()}

    def each(w: str, group: str) -> str:
        n = figs[w].counts[group]
        return l10n.money(costs[w] / n, store.currency) if n else "—"

    ws = list(starts)
    return [(_("Estimated cost of calls and messages"), *[l10n.money(costs[w], store.currency) for w in ws]),
            (_("Cost per confirmed order"), *[each(w, "confirmed") for w in ws]),
            (_("Cost per saved return"), *[each(w, "cancelled") for w in ws])]


@register_card(order=2)
def cod_outcomes_card(store, period: Period) -> Card | None:
    """COD confirmations created per day, stacked by how they ended."""
    if not _cod_installed():
        return None
    from ocbridge.dashboard import cod_stats

    per_day = cod_stats.outcomes_per_day(store, period.tz, period.start, period.end, daily=_daily(store, period))
    labels = _group_labels()
    series = [charts.Series(labels[g], period.per_day(per_day[g]), GROUP_COLOURS[g]) for g in cod_stats.GROUPS]
    totals = [int(sum(s.values)) for s in series]
    title = _("Outcomes per day")
    return Card(title=title, value=l10n.number(sum(totals)), note=_("COD orders in the period"),
                chart=charts.stacked_bars(period.labels(), series, title=title),
                rows=[(s.label, l10n.number(t)) for s, t in zip(series, totals)])


def _daily(store, period: Period) -> list:
    """Confirmations per store, day and state over the chart period and at least the last 30 days, read once."""
    from ocbridge.dashboard import cod_stats

    key = ("daily", getattr(store, "pk", None))
    if key not in period.cache:
        start = min(period.start, cod_stats.window_starts(period.tz, clock.now())["30"])
        period.cache[key] = cod_stats.daily_counts(store, period.tz, start, period.end)
    return period.cache[key]


def _attempt_figures(store, period: Period):
    from ocbridge.dashboard import cod_stats

    key = ("attempts", getattr(store, "pk", None))
    if key not in period.cache:
        period.cache[key] = cod_stats.attempt_figures(store, period.tz, period.start, period.end)
    return period.cache[key]


@register_card(order=3)
def cod_channels_card(store, period: Period) -> Card | None:
    """Calls, SMS and WhatsApp messages sent in the period, how many the customer answered, and how long the
    customer took to answer each channel (median and 90th percentile, from the attempt being made)."""
    if not _cod_installed():
        return None
    from ocbridge.dashboard import cod_stats

    split = _attempt_figures(store, period)[0]
    times = cod_stats.answer_times(store, period.start, period.end)
    names = {"call": _("Call"), "sms": _("SMS"), "whatsapp": _("WhatsApp")}
    sent = [split.get(ch, {}).get("sent", 0) for ch in names]
    total = sum(sent)
    title = _("Channel split")
    rows = []
    for ch, n in zip(names, sent):
        answered = split.get(ch, {}).get("answered", 0)
        median, p90 = times.get(ch, (None, None))
        rows.append((names[ch], l10n.number(n), l10n.percent(100.0 * n / total if total else None),
                     l10n.percent(100.0 * answered / n if n else None), l10n.duration(median), l10n.duration(p90)))
    return Card(title=title, value=l10n.number(total), note=_("calls, SMS and WhatsApp messages sent"),
                chart=charts.bars(list(names.values()), sent, title=title), rows=rows,
                columns=[_("Sent"), _("Share"), _("Answered"), _("Median time to answer"), _("90% answered within")],
                wide=True)


@register_card(order=4)
def cod_hours_card(store, period: Period) -> Card | None:
    """Share of the calls and messages that reached the customer (undelivered ones left out) answered, by the hour of
    day they were made (store time)."""
    if not _cod_installed():
        return None

    by_hour = _attempt_figures(store, period)[1]
    rates = [round(100.0 * a / n, 1) if n else 0 for n, a in by_hour]
    asked = sum(n for n, _a in by_hour)
    answered = sum(a for _n, a in by_hour)
    best = max(range(24), key=lambda h: (rates[h], by_hour[h][0])) if asked else None
    title = _("Answer rate by hour of day")
    return Card(title=title, value=l10n.percent(100.0 * answered / asked if asked else None),
                note=_("answered, of the calls and messages that reached the customer; store time"),
                chart=charts.bars([f"{h:02d}" for h in range(24)], rates, title=title, y_label="%", colour="#2a7",
                                  y_max=100),
                rows=[(_("Best hour"), f"{best:02d}:00" if best is not None else "—")])


@register_card(order=5)
def cod_returns_card(store, period: Period) -> Card | None:
    """Refused or returned orders (the statuses the owner marks) for orders the hub confirmed — per channel — and
    for orders it never confirmed: the figure that says whether confirming pays."""
    if not _cod_installed():
        return None
    from ocbridge.dashboard import cod_stats

    by_via = cod_stats.returns_by_confirmation(store, period.start, period.end)
    labels = {"whatsapp": _("Confirmed by WhatsApp"), "call": _("Confirmed by a call"), "sms": _("Confirmed by SMS"),
              "web": _("Confirmed on the address page"), "person": _("Confirmed by a person"),
              "": _("Not confirmed")}

    def row(label, counts):
        shipped = counts["refused"] + counts["delivered"]
        return (label, l10n.number(counts["delivered"]), l10n.number(counts["refused"]),
                l10n.percent(100.0 * counts["refused"] / shipped if shipped else None))

    confirmed = {k: sum(by_via[v][k] for v in by_via if v) for k in ("refused", "delivered", "cancelled")}
    rows = [row(_("All confirmed orders"), confirmed)]
    rows += [row(labels[v], by_via[v]) for v in ("whatsapp", "call", "sms", "web", "person")
             if any(by_via[v].values())]
    rows.append(row(labels[""], by_via[""]))
    total = confirmed["refused"] + by_via[""]["refused"]
    note = _("refused or returned in the period, by how the order was confirmed")
    if store is not None and not _outcome_statuses_set(store):
        note = _("Choose the shop statuses that mean “refused or returned” and “delivered” in the COD settings "
                 "to see this figure.")
    return Card(title=_("Returns: confirmed vs not confirmed"), value=l10n.number(total), note=note, rows=rows,
                columns=[_("Delivered"), _("Refused or returned"), _("Return rate")], wide=True,
                link=reverse("dashboard:integration", args=[store.pk, "cod_confirm"]) if store is not None else "",
                link_text=_("COD settings"))


def _outcome_statuses_set(store) -> bool:
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    integ = Integration.objects.filter(store=store, kind="cod_confirm").first()
    cfg = CodConfirmConfig.from_settings(integ.settings if integ else {})
    return bool(cfg.risk_refused_status_ids or cfg.risk_delivered_status_ids)
