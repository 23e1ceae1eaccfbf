"""The owner's one "needs attention" query: every feature adds what needs a person; the overview shows the sum.

Shape (the contract other features build on):

- A **contributor** is `fn(stores) -> Attention | list[Attention] | None`. `stores` is a Store queryset the
  viewer may see (already scoped by the caller); the contributor filters its own rows with `store__in=stores`
  and costs a bounded number of queries (COUNTs, never a loop over rows). It returns None or a zero count when
  all is well.
- Register it with `@register_attention("feature.what", order=…)` in a module imported from the feature's
  `AppConfig.ready()` (core, opencart and integrations may all import this module; it imports none of them).
- `Attention.orders=True` means `count` counts shop orders: those add up to the overview's "N orders need you"
  (an order counted by two contributors is counted twice: give each order one owner, e.g. the confirmation's
  state). Other items (a failing connection, a stopped worker, jobs that gave up) are shown as plain-words
  lines under it and do not add to N.
- `needs_attention(stores)` calls every contributor; one that raises becomes an error line naming it, so a
  broken feature never hides the others or breaks the page.

Built-in contributors (here): connections whose last call failed, jobs that gave up, a stalled worker, routine polls
failing (a shop that cannot be read), stores not reachable, provider methods a store's connections use that go away within 30 days (core.provider_methods).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

log = logging.getLogger(__name__)

WARNING, ERROR = "warning", "error"


@dataclass
class Attention:
    """One thing that needs a person: how many, in plain words, where to act."""

    key: str  # "cod_confirm.needs_person": the contributor's name, stable (tests and CSS hooks use it)
    count: int
    text: str  # plain words, translated, the count already in it: "3 orders need a person to call them"
    link: str = ""  # the list where a person acts on them (filtered)
    orders: bool = False  # count counts shop orders (adds to "N orders need you")
    severity: str = WARNING
    since: dt.datetime | None = None  # when it started (shown in the store's time zone), if known
    store: object = None  # the Store it concerns, if one (its time zone shows `since`)
    subject: str = ""  # which thing, when a contributor returns several lines per store ("connection:12"): alerts
    # (core.alerts) tell a line that changed its words from a new one by (key, store, subject)


Contributor = Callable[..., "Attention | list[Attention] | None"]
_contributors: dict[str, tuple[int, Contributor]] = {}


def register_attention(key: str, *, order: int = 100) -> Callable[[Contributor], Contributor]:
    """Decorator: add `fn(stores)` to the needs-attention query under `key` (unique)."""

    def deco(fn: Contributor) -> Contributor:
        if key in _contributors and _contributors[key][1] is not fn:
            raise ValueError(f"attention contributor {key} registered twice")
        _contributors[key] = (order, fn)
        return fn

    return deco


def contributors() -> list[tuple[str, Contributor]]:
    return [(k, fn) for k, (_o, fn) in sorted(_contributors.items(), key=lambda kv: (kv[1][0], kv[0]))]


def needs_attention(stores) -> list[Attention]:
    """Everything that needs a person in these stores, most urgent first; items with a zero count dropped."""
    out: list[Attention] = []
    for key, fn in contributors():
        try:
            result = fn(stores)
        except Exception:
            log.exception("needs-attention contributor %s failed", key)
            out.append(Attention(key=key, count=1, severity=ERROR,
                                 text=_("This check could not run (%(name)s); see the server log.") % {"name": key}))
            continue
        for item in result if isinstance(result, list) else [result] if result is not None else []:
            if item.count > 0:
                out.append(item)
    out.sort(key=lambda a: (a.severity != ERROR, not a.orders))
    return out


def orders_needing_you(items: list[Attention]) -> int:
    return sum(a.count for a in items if a.orders)


# --- built-in contributors (core): connections and jobs ------------------------------------------------

FAILED_JOBS_DAYS = 7  # jobs that gave up in the last week; older ones are history, not a to-do


@register_attention("core.connections_failing", order=20)
def connections_failing(stores) -> list[Attention]:
    """One line per enabled connection whose latest call failed: since when, and the service's own words."""
    from django.db.models import F, Q
    from django.urls import reverse

    from ocbridge.core.models import Connection, Exchange

    failing = (Connection.objects.filter(store__in=stores, enabled=True, last_error_at__isnull=False)
               .filter(Q(last_ok_at__isnull=True) | Q(last_error_at__gt=F("last_ok_at")))
               .select_related("store").order_by("store__name", "pk")[:20])
    out = []
    for c in failing:
        # failing since the first error after the last success (one indexed read per failing connection)
        first = Exchange.objects.filter(connection=c, level="error")
        if c.last_ok_at:
            first = first.filter(created__gt=c.last_ok_at)
        first = first.order_by("id").values_list("created", flat=True).first() or c.last_error_at
        out.append(Attention(
            key="core.connections_failing", count=1, severity=ERROR, since=first, store=c.store,
            subject=f"connection:{c.pk}",
            link=reverse("dashboard:store", args=[c.store_id]),
            text=_("%(connection)s (%(store)s) is failing: %(service)s says “%(error)s”") % {
                "connection": c.name or c.get_service_display(), "store": c.store.name,
                "service": c.get_service_display(), "error": plain_error(c.error_text())}))
    return out


@register_attention("core.jobs_gave_up", order=30)
def jobs_gave_up(stores) -> Attention | None:
    """Jobs that failed or errored in the last week and were not retried."""
    from django.urls import reverse

    from ocbridge.core import clock
    from ocbridge.core.choices import JobState
    from ocbridge.core.models import Job

    since = clock.now() - dt.timedelta(days=FAILED_JOBS_DAYS)
    n = Job.objects.filter(store__in=stores, state__in=(JobState.FAILED, JobState.ERRORED),
                           finished_at__gte=since).count()
    return Attention(key="core.jobs_gave_up", count=n, link=reverse("dashboard:jobs") + "?state=failed",
                     text=ngettext("%(n)d job gave up in the last 7 days", "%(n)d jobs gave up in the last 7 days",
                                   n) % {"n": n}) if n else None


def plain_error(message: str) -> str:
    """A stored connection error without our "service: code" prefix, shortened for one line."""
    text = (message or "").strip()
    head, sep, rest = text.partition(": ")
    if sep and head.isidentifier():
        text = rest.strip()
    return text[:160] + ("…" if len(text) > 160 else "")


WORKER_LATE = dt.timedelta(minutes=2)  # the dispatcher runs every few seconds: two minutes late means no worker


@register_attention("core.worker_stalled", order=5)
def worker_stalled(stores) -> Attention | None:
    """Jobs due more than two minutes ago and still queued, or no dispatcher seen for two minutes (routine polls
    leave no Job rows, so an idle hub with its worker stopped has nothing queued to show it): no worker is running."""
    from django.db.models import Count, Min
    from django.urls import reverse

    from ocbridge.core import clock, polls
    from ocbridge.core.choices import JobState
    from ocbridge.core.models import Job

    late = (Job.objects.filter(state=JobState.QUEUED, next_run_at__lt=clock.now() - WORKER_LATE)
            .filter(models_q_store(stores)).aggregate(n=Count("id"), since=Min("next_run_at")))
    if late["n"]:
        return Attention(key="core.worker_stalled", count=late["n"], severity=ERROR, since=late["since"],
                         link=reverse("dashboard:jobs") + "?state=queued",
                         text=ngettext("The worker is not taking jobs: %(n)d is waiting past its time. Is “ocbridge "
                                       "worker” running?", "The worker is not taking jobs: %(n)d are waiting past their "
                                       "time. Is “ocbridge worker” running?", late["n"]) % {"n": late["n"]})
    silent = polls.dispatcher_seen()
    if silent is not None and silent > WORKER_LATE.total_seconds():
        return Attention(key="core.worker_stalled", count=1, severity=ERROR,
                         since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=silent),
                         text=ngettext("No worker has run for %(n)d minute: shops are not being read. Is “ocbridge "
                                       "worker” running?", "No worker has run for %(n)d minutes: shops are not being "
                                       "read. Is “ocbridge worker” running?", int(silent // 60)) % {"n": int(silent // 60)})
    return None


@register_attention("core.polls_failing", order=14)
def polls_failing(stores) -> list[Attention]:
    """Routine polls (core.polls) failing right now: one line per target, since its first error, in its own words."""
    from django.urls import reverse

    from ocbridge.core import polls
    from ocbridge.core.models import PollHealth

    labels = {name: poll.label for name, poll in polls.registered().items()}
    own = [name for name, poll in polls.registered().items() if poll.own_attention]
    rows = (PollHealth.objects.filter(failing_since__isnull=False).exclude(poll__in=own).filter(models_q_store(stores))
            .select_related("store").order_by("failing_since")[:20])
    out = []
    for row in rows:
        values = {"what": labels.get(row.poll, row.poll), "error": row.error_text()[:300],
                  "store": row.store.name if row.store else ""}
        text = (_("%(store)s: %(what)s keeps failing: %(error)s") if row.store
                else _("%(what)s keeps failing: %(error)s")) % values
        out.append(Attention(key="core.polls_failing", count=1, severity=ERROR, since=row.failing_since,
                             store=row.store, text=text,
                             link=reverse("dashboard:store", args=[row.store_id]) if row.store_id else ""))
    return out


def models_q_store(stores):
    """Jobs of these stores, and jobs of no store (the hub's own: probes, housekeeping)."""
    from django.db.models import Q

    return Q(store__in=stores) | Q(store__isnull=True)


@register_attention("core.stores_unreachable", order=15)
def stores_unreachable(stores) -> list[Attention]:
    """Stores saved as "not reachable yet" (their database never answered a check)."""
    from django.urls import reverse

    return [Attention(key="core.stores_unreachable", count=1, severity=ERROR, store=s,
                      link=reverse("dashboard:store", args=[s.pk]),
                      text=_("%(store)s: the shop database has not answered yet; the hub keeps trying — press "
                             "“Test” on the store's page once it is up") % {"store": s.name})
            for s in stores.filter(version="", enabled=True).order_by("name")[:20]]


@register_attention("core.methods_going_away", order=25)
def methods_going_away(stores) -> list[Attention]:
    """Provider methods the stores' enabled connections call that are switched off within WARN_DAYS (or already, or
    deprecated with no date), one line per store, service and date: the owner must update ocbridge before then.
    One query; the dates come from core.provider_methods by the injected clock."""
    from django.urls import reverse
    from django.utils.formats import date_format

    from ocbridge.core import provider_methods
    from ocbridge.core.choices import Service
    from ocbridge.core.models import Connection

    used = list(Connection.objects.active().filter(store__in=stores, store__enabled=True)
                .values_list("store_id", "store__name", "service").distinct().order_by("store__name", "store_id"))
    found = provider_methods.notices({service for _s, _n, service in used})
    if not found:
        return []
    names = dict(Service.choices)
    out = []
    for store_id, store_name, service in used:
        groups: dict[tuple, list] = {}  # one line per date (notices() gives them soonest first)
        for n in found:
            if n.method.service == service:
                groups.setdefault((n.days_left, n.method.deprecated if n.days_left is None else None), []).append(n)
        for (days_left, _deprecated), group in groups.items():
            first = group[0].method
            values = {"store": store_name, "service": names.get(service, service),
                      "methods": ", ".join(n.method.label for n in group),
                      "source": "; ".join(dict.fromkeys(n.method.source for n in group)),
                      "date": date_format(first.switch_off or first.deprecated, "DATE_FORMAT"), "days": days_left}
            if days_left is None:
                text = _("%(store)s: %(service)s marked %(methods)s deprecated on %(date)s, with no switch-off date yet "
                         "(source: %(source)s). Update ocbridge soon.") % values
            elif days_left <= 0:
                text = _("%(store)s: %(service)s switched off %(methods)s on %(date)s (source: %(source)s). These calls "
                         "fail until ocbridge is updated.") % values
            else:
                text = ngettext("%(store)s: %(service)s switches off %(methods)s on %(date)s, in %(days)d day (source: "
                                "%(source)s). Update ocbridge before then.",
                                "%(store)s: %(service)s switches off %(methods)s on %(date)s, in %(days)d days (source: "
                                "%(source)s). Update ocbridge before then.", days_left) % values
            out.append(Attention(key="core.methods_going_away", count=len(group), text=text,
                                 subject=f"{service}:{first.switch_off or first.deprecated}",
                                 severity=group[0].level, link=reverse("dashboard:store", args=[store_id])))
    return out[:20]


EXPIRY_WARN_DAYS = 14


@register_attention("core.credentials_expiring", order=26)
def credentials_expiring(stores) -> list[Attention]:
    """Enabled connections whose key or token runs out within EXPIRY_WARN_DAYS (or has): the date the owner noted in
    the connection's option `expires_on` (YYYY-MM-DD; Ozon API keys and Meta tokens can be made to expire)."""
    from django.urls import reverse

    from ocbridge.core import clock
    from ocbridge.core.models import Connection

    today = clock.now().date()
    out = []
    for c in (Connection.objects.active().filter(store__in=stores, store__enabled=True, options__has_key="expires_on")
              .select_related("store").order_by("store__name", "pk")[:200]):
        try:
            ends = dt.date.fromisoformat(str(c.options.get("expires_on") or "").strip())
        except ValueError:
            continue
        days = (ends - today).days
        if days > EXPIRY_WARN_DAYS:
            continue
        values = {"connection": c.name or c.get_service_display(), "store": c.store.name, "date": ends.isoformat(),
                  "days": days}
        text = (_("%(store)s: the key of %(connection)s expired on %(date)s; calls with it fail until it is renewed")
                % values if days < 0 else
                ngettext("%(store)s: the key of %(connection)s expires on %(date)s, in %(days)d day; renew it and "
                         "update the connection", "%(store)s: the key of %(connection)s expires on %(date)s, in "
                         "%(days)d days; renew it and update the connection", days) % values)
        out.append(Attention(key="core.credentials_expiring", count=1, severity=ERROR if days <= 3 else WARNING,
                             store=c.store, subject=f"connection:{c.pk}", text=text,
                             link=reverse("dashboard:store", args=[c.store_id])))
    return out[:20]
