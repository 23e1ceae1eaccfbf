"""Alerts outside the dashboard: what needs a person, told by e-mail or Telegram, per store and per user, in digests.

What is wrong comes from the one "needs attention" query (core.attention) — every feature's contributors, with the
provider's own words where it has them — plus "orders waiting for a person longer than N minutes" (features register
a counter with `register_waiting`). Each minute `scan()` evaluates it per store (in the store's language) and keeps
one `AlertCondition` per (store, contributor, subject): opened, cleared, opened again (`times` counts the flaps). A
condition is written only when it changes.

Who gets what: an `AlertRoute` belongs to a user and names a channel (e-mail address or Telegram chat), one store or
all the user's stores (always cut down to the stores the user may see, core.access), the sources wanted (`SOURCES`;
none chosen = all) and a digest period. `digest()` sends a route one message with every condition opened (or
opened again) since its last message, and no message again before the period is over — a connection that fails
and recovers a hundred times in an hour makes one message ("failed 100 times"), not a hundred.

Each message is a side effect under the key `alert:<route>:<n>` (core.outbox through core.mail / core.telegram):
never sent twice, a refusal kept with the server's or Telegram's own words.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext

from ocbridge.core import clock
from ocbridge.core.attention import ERROR, Attention, needs_attention
from ocbridge.core.jobkinds import JobKind, register_job_kind
from ocbridge.core.models import AlertCondition, AlertRoute, Job, Store
from ocbridge.core.polls import Target, register_poll

log = logging.getLogger(__name__)
SCAN_EVERY = 60.0

# source → (what the owner picks, the needs-attention keys it covers). A key in no source is "other": sent to
# routes that chose no source (= everything).
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "failing": (gettext_lazy("Calls, SMS or messages failing (with the provider's words)"),
                ("core.connections_failing",)),
    "shop": (gettext_lazy("Shop database or API unreachable, changes not written"),
             ("core.stores_unreachable", "opencart.shop_unreachable", "opencart.not_written")),
    "jobs": (gettext_lazy("Jobs stuck or parked"), ("core.worker_stalled", "core.jobs_gave_up", "core.stuck",
                                                    "core.paused")),
    "credit": (gettext_lazy("Provider credit low"), ("core.credit_low",)),
    "spend": (gettext_lazy("Daily spending cap reached"), ("core.cap_reached",)),
    "expiry": (gettext_lazy("Token or key about to expire"), ("core.credentials_expiring",)),
    "switch_off": (gettext_lazy("Provider method near its switch-off date"), ("core.methods_going_away",)),
    "waiting": (gettext_lazy("Orders waiting for a person longer than the limit"), ("alerts.waiting",)),
}
OTHER = "other"
WAITING_KEY = "alerts.waiting"
MIN_DIGEST_MINUTES = 5

Waiting = Callable[..., "tuple[int, dt.datetime | None]"]
_waiting: dict[str, Waiting] = {}


def register_waiting(name: str, fn: Waiting) -> None:
    """`fn(stores, older_than) -> (count, oldest)`: orders of these stores waiting for a person since before
    `older_than` (a feature's own rows; a bounded number of queries)."""
    _waiting[name] = fn


def source_of(key: str) -> str:
    return next((name for name, (_label, keys) in SOURCES.items() if key in keys), OTHER)


def source_choices() -> list[tuple[str, str]]:
    return [(name, label) for name, (label, _keys) in SOURCES.items()]


# --- scan: what is wrong now, per store ------------------------------------------------------------------------


def scan(now: dt.datetime | None = None) -> dict:
    """Update the conditions of every store some enabled route may hear of. Returns counts (opened, cleared)."""
    now = now or clock.now()
    counts = {"opened": 0, "cleared": 0}
    routes = list(AlertRoute.objects.filter(enabled=True).select_related("user"))
    if not routes:
        return counts
    limits: dict[int, set[int]] = {}
    languages: dict[int, set[str]] = {}  # languages routes ask for, besides each store's own
    for route in routes:
        for store_id in route_stores(route).values_list("pk", flat=True):
            limits.setdefault(store_id, set()).add(route.waiting_minutes)
            languages.setdefault(store_id, set()).update([route.language] if route.language else [])
    for store in Store.objects.filter(pk__in=limits, enabled=True):
        items = _items(store, store.language or None, limits[store.pk], now)
        others = {lang: {(a.key, a.subject[:128]): a.text for a in _items(store, lang, limits[store.pk], now)}
                  for lang in sorted(languages[store.pk] - {store.language})}  # an evaluation per language asked
        opened, cleared = _record(store, items, now, others)
        counts["opened"] += opened
        counts["cleared"] += cleared
    return counts


def _items(store: Store, lang: str | None, limits: set[int], now: dt.datetime) -> list[Attention]:
    """What is wrong in this store now, said in `lang`."""
    with translation.override(lang):
        return needs_attention(Store.objects.filter(pk=store.pk)) + waiting_items(store, limits, now)


def waiting_items(store: Store, limits: set[int], now: dt.datetime) -> list[Attention]:
    out = []
    for minutes in sorted(limits):
        found = [fn(Store.objects.filter(pk=store.pk), now - dt.timedelta(minutes=minutes)) for fn in _waiting.values()]
        n = sum(count for count, _first in found)
        oldest = min((first for _count, first in found if first), default=None)
        if n:
            out.append(Attention(key=WAITING_KEY, count=n, orders=True, store=store, since=oldest,
                                 subject=f"{minutes}", severity=ERROR,
                                 text=ngettext("%(store)s: %(n)d order has waited for a person longer than %(m)d "
                                               "minutes", "%(store)s: %(n)d orders have waited for a person longer "
                                               "than %(m)d minutes", n) % {"store": store.name, "n": n, "m": minutes}))
    return out


def _record(store: Store, items: list[Attention], now: dt.datetime,
            others: dict[str, dict[tuple, str]] | None = None) -> tuple[int, int]:
    """`others`: {language: {(key, subject): text}} — the same conditions said in the languages routes ask for."""
    current = {(a.key, a.subject[:128]): a for a in items}
    known = {(c.key, c.subject): c for c in AlertCondition.objects.filter(store=store)}
    opened = cleared = 0
    for ident, item in current.items():
        text = _line(store, item.text)
        texts = {lang: _line(store, said[ident]) for lang, said in (others or {}).items() if ident in said}
        row = known.get(ident)
        if row is None:
            AlertCondition.objects.create(store=store, key=ident[0], subject=ident[1], source=source_of(ident[0]),
                                          text=text, texts=texts, severity=item.severity, opened_at=now,
                                          last_opened_at=now)
            opened += 1
        elif row.cleared_at is not None:  # back again: news for the next digest
            AlertCondition.objects.filter(pk=row.pk).update(cleared_at=None, last_opened_at=now, text=text,
                                                            texts=texts, times=F("times") + 1,
                                                            severity=item.severity)
            opened += 1
        elif row.text != text or row.texts != texts:
            AlertCondition.objects.filter(pk=row.pk).update(text=text, texts=texts)
    gone = [c.pk for ident, c in known.items() if ident not in current and c.cleared_at is None]
    if gone:
        cleared = AlertCondition.objects.filter(pk__in=gone).update(cleared_at=now)
    return opened, cleared


# --- digest: one message per route and period ------------------------------------------------------------------


def _line(store: Store, text: str) -> str:
    return text if store.name in text else f"{store.name}: {text}"


def route_stores(route: AlertRoute):
    """The stores this route speaks of: its store, or all the user's — only those the user may see."""
    from ocbridge.core.access import scoped

    stores = scoped(Store, route.user)
    return stores.filter(pk=route.store_id) if route.store_id else stores


def news_for(route: AlertRoute):
    rows = AlertCondition.objects.filter(store__in=route_stores(route), last_opened_at__gt=route.watermark)
    if route.sources:
        rows = rows.filter(source__in=route.sources)
    waiting = Q(key=WAITING_KEY)
    rows = rows.filter(~waiting | Q(subject=str(route.waiting_minutes)))  # the waiting line at this route's limit
    return rows.select_related("store").order_by("store__name", "opened_at")


def digest(now: dt.datetime | None = None) -> int:
    """Queue one message per route that has news and whose digest period is over. Returns how many."""
    now = now or clock.now()
    queued = 0
    for route in AlertRoute.objects.filter(enabled=True, user__is_active=True).select_related("user", "store"):
        period = dt.timedelta(minutes=max(MIN_DIGEST_MINUTES, route.digest_minutes))
        if route.last_sent_at is not None and now - route.last_sent_at < period:
            continue
        news = list(news_for(route))
        if not news:
            continue
        subject, body = compose(route, news, now)
        n = route.sent_count + 1
        with transaction.atomic():
            hit = AlertRoute.objects.filter(pk=route.pk, sent_count=route.sent_count).update(
                sent_count=n, watermark=now, last_sent_at=now)
            if not hit:  # another worker sent this digest
                continue
            Job.objects.enqueue(SendAlert, key=f"alert:{route.pk}:{n}", store=route.store,
                                payload={"route": route.pk, "n": n, "subject": subject, "body": body})
        queued += 1
    return queued


def compose(route: AlertRoute, news: list[AlertCondition], now: dt.datetime) -> tuple[str, str]:
    """The message: one line per condition, with when it started, whether it is still on and how often it came."""
    # The route's language, else the one the conditions were written in (their store's)
    lang = route.language or (route.store or news[0].store).language or None
    with translation.override(lang):
        lines = []
        for c in news:
            line = f"• {c.texts.get(route.language) or c.text}"
            notes = [_("since %(time)s") % {"time": _local(c.opened_at, c.store)}]
            if c.times > 1:
                notes.append(ngettext("happened %(n)d time", "happened %(n)d times", c.times) % {"n": c.times})
            if c.cleared_at is not None:
                notes.append(_("back to normal at %(time)s") % {"time": _local(c.cleared_at, c.store)})
            lines.append(f"{line} ({'; '.join(notes)})")
        errors = sum(1 for c in news if c.severity == ERROR and c.cleared_at is None)
        subject = ngettext("ocbridge: %(n)d thing needs you", "ocbridge: %(n)d things need you", len(news)) % {
            "n": len(news)}
        if errors:
            subject += " — " + ngettext("%(n)d failing now", "%(n)d failing now", errors) % {"n": errors}
        minutes = max(MIN_DIGEST_MINUTES, route.digest_minutes)
        footer = ngettext("At most one message every %(m)d minute; the dashboard's overview shows the details.",
                          "At most one message every %(m)d minutes; the dashboard's overview shows the details.",
                          minutes) % {"m": minutes}
    return subject, "\n".join(lines) + "\n\n" + footer + "\n"


def _local(when: dt.datetime, store: Store) -> str:
    return when.astimezone(store.zone).strftime("%d.%m %H:%M")  # an unknown zone name: UTC rather than no alert


@register_job_kind
class SendAlert(JobKind):
    """One digest message to one route, once (the outbox key is the job's)."""

    kind = "core.send_alert"
    max_attempts = 8

    def run(self, job: Job) -> None:
        from ocbridge.core import mail, telegram

        p = job.payload
        route = AlertRoute.objects.filter(pk=p["route"]).select_related("store").first()
        if route is None:
            return  # the route was deleted meanwhile: nobody to tell
        if route.channel == AlertRoute.Channel.TELEGRAM:
            telegram.deliver(job.key, store=route.store, chat_id=route.target,
                             text=f"{p['subject']}\n\n{p['body']}", purpose="alert")
        else:
            mail.deliver(job.key, store=route.store, to=[route.target], subject=p["subject"], body=p["body"],
                         purpose="alert")


def _scan_targets() -> list[Target]:
    return [Target(key="hub", every=SCAN_EVERY)] if AlertRoute.objects.filter(enabled=True).exists() else []


@register_poll("core.alerts", targets=_scan_targets, label=gettext_lazy("Alerts (the scan for news to send)"))
def scan_and_digest(target: Target) -> None:
    """A routine poll (core.polls): no Job row per minute; conditions and digests are written only when news."""
    counts = scan()
    queued = digest()
    if any(counts.values()) or queued:
        log.info("alerts: %s, %d message(s) queued", counts, queued)
