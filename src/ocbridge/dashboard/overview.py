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
from zoneinfo import ZoneInfo

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ocbridge.core import clock
from ocbridge.core.choices import LEVEL_COLOURS, JobState, Level
from ocbridge.dashboard import charts

log = logging.getLogger(__name__)


@dataclass
class Period:
    """The days an overview covers, as dates in the display time zone, oldest first."""

    days: list[dt.date]
    tz: dt.tzinfo

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
        return [d.strftime("%d.%m") for d in self.days]

    def per_day(self, rows: dict[dt.date, float]) -> list[float]:
        return [rows.get(d, 0) for d in self.days]


@dataclass
class Card:
    """One box on the overview: a headline value, an optional chart, a few label/value rows, a link."""

    title: str
    value: str = ""
    note: str = ""
    chart: SafeString | str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    link: str = ""
    link_text: str = ""
    error: bool = False


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
    """A store's own time zone when one store is shown (its days are the shop's days), else UTC."""
    if store is not None:
        try:
            return ZoneInfo(store.timezone)
        except Exception:  # a bad zone name is a settings error shown on the store page, not here
            pass
    return dt.UTC


# --- built-in cards ------------------------------------------------------------------------------------


@register_card(order=10)
def exchanges_card(store, period: Period) -> Card:
    """Requests to and from outside services per day, stacked by level."""
    from ocbridge.core.models import Exchange

    qs = Exchange.objects.filter(created__gte=period.start, created__lt=period.end)
    if store is not None:
        qs = qs.filter(store=store)
    rows = (qs.annotate(day=TruncDate("created", tzinfo=period.tz)).values("day", "level")
            .annotate(n=Count("id")).order_by())
    by_level: dict[str, dict[dt.date, int]] = {lvl: {} for lvl in Level.values}
    for r in rows:
        by_level.setdefault(r["level"], {})[r["day"]] = r["n"]
    series = [charts.Series(str(Level(lvl).label), period.per_day(by_level[lvl]), LEVEL_COLOURS[lvl])
              for lvl in Level.values]
    total = sum(sum(s.values) for s in series)
    errors = sum(series[2].values)
    title = _("Exchanges per day")
    return Card(title=title, value=str(int(total)), note=_("%(errors)d with errors") % {"errors": errors},
                chart=charts.stacked_bars(period.labels(), series, title=title),
                link=reverse("dashboard:exchanges"), link_text=_("Open the log"))


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
    """Connections whose last call failed after their last success."""
    from django.db.models import F, Q

    from ocbridge.core.models import Connection

    qs = Connection.objects.filter(enabled=True)
    if store is not None:
        qs = qs.filter(store=store)
    failing = qs.filter(Q(last_error_at__isnull=False) & (Q(last_ok_at__isnull=True) | Q(last_error_at__gt=F("last_ok_at"))))
    rate_limited = sum(qs.values_list("rate_limited_count", flat=True))
    return Card(title=_("Connections"), value=str(qs.count()),
                note=_("%(n)d failing") % {"n": failing.count()},
                rows=[(_("Rate-limit hits"), str(rate_limited))],
                link=reverse("dashboard:stores"), link_text=_("Open stores"))


@register_card(order=5)
def confirmations_card(store, period: Period) -> Card | None:
    """COD confirmations created per day, stacked by how they ended (only when cod_confirm is installed)."""
    from django.apps import apps

    if not apps.is_installed("ocbridge.integrations.cod_confirm"):
        return None
    from ocbridge.integrations.cod_confirm.choices import OPEN, STATE_COLOURS
    from ocbridge.integrations.cod_confirm.models import Confirmation

    qs = Confirmation.objects.filter(created__gte=period.start, created__lt=period.end)
    if store is not None:
        qs = qs.filter(store=store)
    rows = (qs.annotate(day=TruncDate("created", tzinfo=period.tz)).values("day", "state")
            .annotate(n=Count("id")).order_by())
    groups = {"confirmed": {}, "cancelled": {}, "person": {}, "open": {}}
    for r in rows:
        state = r["state"]
        group = (state if state in ("confirmed", "cancelled") else "open" if state in OPEN else "person")
        groups[group][r["day"]] = groups[group].get(r["day"], 0) + r["n"]
    series = [
        charts.Series(_("Confirmed"), period.per_day(groups["confirmed"]), STATE_COLOURS["confirmed"]),
        charts.Series(_("Cancelled"), period.per_day(groups["cancelled"]), STATE_COLOURS["cancelled"]),
        charts.Series(_("Other outcome"), period.per_day(groups["person"]), STATE_COLOURS["needs_person"]),
        charts.Series(_("Still open"), period.per_day(groups["open"]), STATE_COLOURS["scheduled"]),
    ]
    totals = [int(sum(s.values)) for s in series]
    decided = totals[0] + totals[1]
    rate = f"{100 * totals[0] / decided:.0f}%" if decided else "—"
    title = _("COD confirmations per day")
    return Card(title=title, value=str(sum(totals)),
                note=_("%(rate)s of decided orders confirmed") % {"rate": rate},
                chart=charts.stacked_bars(period.labels(), series, title=title),
                rows=[(s.label, str(t)) for s, t in zip(series, totals)],
                link=reverse("dashboard:confirmations"), link_text=_("Open confirmations"))
