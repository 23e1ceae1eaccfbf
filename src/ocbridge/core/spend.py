"""Spend control: per store, a daily cap on calls, SMS and WhatsApp messages by count and by estimated cost.

The owner sets a `SpendPolicy` per store: caps per channel, a cap on the day's estimated cost, and prices per
provider and channel (`prices = {"netgsm": {"sms": "0.06", "call": "0.40"}}`, in the store's currency). What was
spent is counted from the outbox (core.outbox): every call, SMS or WhatsApp message of the store since the store's
local midnight, except those the provider refused, those a late result reported undelivered where the provider
does not charge for them (core.outbox.undelivered: a WhatsApp message Meta reports `failed`), and those withdrawn
before sending (they cost nothing).

`request(key, kind=, service=, store=, …)` is `outbox.request` with the cap checked first, under a lock on the
store's policy row, so two workers cannot both take the last unit (PostgreSQL: FOR UPDATE; SQLite has one writer).
A key already requested is never refused (it was counted when it was first asked). Refused → `(None, reason)`;
the feature then hands the case to a person (COD: "needs you" with the reason) — nothing is silently dropped.

Stores without a policy, and side effects other than calls, SMS and WhatsApp (mail, alerts), are not limited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from ocbridge.core import clock, outbox
from ocbridge.core.attention import ERROR, WARNING, Attention, register_attention
from ocbridge.core.choices import SideEffectState
from ocbridge.core.models import SideEffect, SpendPolicy, Store

CHANNELS = ("call", "sms", "whatsapp")
FREE = (SideEffectState.FAILED, SideEffectState.CANCELLED)  # refused, undelivered or withdrawn: nothing was spent


def day_start(store: Store, now: dt.datetime | None = None) -> dt.datetime:
    """The store's local midnight today, as an aware datetime."""
    tz = store.zone  # an unknown zone name: UTC rather than no limit
    local = (now or clock.now()).astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time.min, tzinfo=tz)


def price(policy: SpendPolicy | None, service: str, channel: str) -> Decimal | None:
    """The owner's price of one `channel` side effect through `service`; None when not set."""
    if policy is None:
        return None
    value = ((policy.prices or {}).get(service) or {}).get(channel)
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def usage(stores, since: dt.datetime, until: dt.datetime | None = None) -> dict[tuple[int, str, str], int]:
    """(store id, channel, service) → how many calls/SMS/messages were made (one GROUP BY over the outbox)."""
    rows = SideEffect.objects.filter(store__in=stores, kind__in=CHANNELS, created__gte=since).exclude(state__in=FREE)
    if until is not None:
        rows = rows.filter(created__lt=until)
    return {(r["store_id"], r["kind"], r["service"]): r["n"]
            for r in rows.values("store_id", "kind", "service").annotate(n=Count("id"))}


def cost(policy: SpendPolicy | None, used: dict[tuple[int, str, str], int]) -> tuple[Decimal, int]:
    """Estimated cost of `used` and how many of them have no price set (shown, never guessed)."""
    total, unpriced = Decimal(0), 0
    for (_store, channel, service), n in used.items():
        each = price(policy, service, channel)
        if each is None:
            unpriced += n
        else:
            total += each * n
    return total, unpriced


def refusal(policy: SpendPolicy, used: dict, channel: str, service: str) -> str:
    """Why one more `channel` through `service` would pass today's caps ("" when it would not). In English: it is
    stored in the case's history, which is read in each reader's language (cod_confirm.reasons)."""
    count = sum(n for (_s, ch, _svc), n in used.items() if ch == channel)
    cap = getattr(policy, f"{channel}_cap", None)
    if cap is not None and count >= cap:
        return f"the daily cap of {cap} {channel} is reached"
    if policy.cost_cap is not None:
        spent, _unpriced = cost(policy, used)
        if spent + (price(policy, service, channel) or 0) > policy.cost_cap:
            return (f"the daily spending cap of {policy.cost_cap} {policy.store.currency} would be passed "
                    f"({spent.quantize(Decimal('0.01'))} spent today)")
    return ""


def request(key: str, *, kind: str, service: str, store: Store, connection=None, integration=None):
    """`outbox.request` with the store's caps checked under its policy lock: (row, "") or (None, reason)."""
    existing = SideEffect.objects.filter(key=key).first()
    if existing is not None or kind not in CHANNELS:
        return existing or outbox.request(key, kind=kind, service=service, store=store, connection=connection,
                                          integration=integration), ""
    with transaction.atomic():
        policy = SpendPolicy.objects.select_for_update().select_related("store").filter(store=store).first()
        if policy is not None:
            why = refusal(policy, usage([store.pk], day_start(store)), kind, service)
            if why:
                return None, why
        return outbox.request(key, kind=kind, service=service, store=store, connection=connection,
                              integration=integration), ""


def today(store: Store) -> dict:
    """What the store used today against its caps, for its page and the overview."""
    policy = SpendPolicy.objects.filter(store=store).first()
    used = usage([store.pk], day_start(store))
    spent, unpriced = cost(policy, used)
    counts = {ch: sum(n for (_s, c, _svc), n in used.items() if c == ch) for ch in CHANNELS}
    caps = {ch: getattr(policy, f"{ch}_cap", None) if policy else None for ch in CHANNELS}
    return {"policy": policy, "counts": counts, "caps": caps, "spent": spent, "unpriced": unpriced,
            "cost_cap": policy.cost_cap if policy else None}


# --- what the owner is told (core.attention; alerts by core.alerts) -----------------------------------------


@register_attention("core.cap_reached", order=13)
def caps_reached(stores) -> list[Attention]:
    """Stores that reached a daily cap today: from now on their calls and messages go to a person."""
    from django.urls import reverse

    out = []
    for store in stores.filter(spend_policy__isnull=False, enabled=True).order_by("name")[:50]:
        t = today(store)
        reached = [ch for ch in CHANNELS if t["caps"][ch] is not None and t["counts"][ch] >= t["caps"][ch]]
        if t["cost_cap"] is not None and t["spent"] >= t["cost_cap"]:
            reached.append("cost")
        if not reached:
            continue
        names = {"call": _("calls"), "sms": _("SMS"), "whatsapp": _("WhatsApp messages"), "cost": _("estimated cost")}
        out.append(Attention(key="core.cap_reached", count=1, severity=WARNING, store=store,
                             link=reverse("dashboard:store", args=[store.pk]),
                             text=_("%(store)s reached today's cap on %(what)s: until midnight its orders go to a "
                                    "person instead of being called or texted") % {
                                 "store": store.name, "what": ", ".join(str(names[r]) for r in reached)}))
    return out


@register_attention("core.credit_low", order=14)
def credit_low(stores) -> list[Attention]:
    """Provider balances (read from their APIs) under the store's threshold."""
    from django.db.models import F
    from django.urls import reverse

    from ocbridge.core.models import ProviderBalance

    low = (ProviderBalance.objects.filter(connection__store__in=stores, connection__enabled=True, amount__isnull=False,
                                          connection__store__spend_policy__credit_low__isnull=False,
                                          amount__lt=F("connection__store__spend_policy__credit_low"))
           .select_related("connection__store").order_by("connection__store__name")[:20])
    return [Attention(key="core.credit_low", count=1, severity=ERROR if b.amount <= 0 else WARNING,
                      store=b.connection.store, subject=f"connection:{b.connection_id}", since=b.read_at,
                      link=reverse("dashboard:store", args=[b.connection.store_id]),
                      text=_("%(store)s: %(connection)s has %(amount)s %(unit)s left; top it up before calls and "
                             "SMS stop") % {"store": b.connection.store.name, "amount": b.amount.normalize(),
                                            "connection": b.connection.name or b.connection.get_service_display(),
                                            "unit": b.unit})
            for b in low]
