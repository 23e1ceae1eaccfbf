"""The order's page: one OpenCart order (store + order id) as the hub knows it, with every payment of it across the
store's gateways, each capture / refund / void (amount, reason, reference, state, who, the Exchanges it made), the
actions on them (the same keyed operations as a payment's page) and the totals paid, refunded and refundable.

The order itself is read from the shop through the one shop-read path (opencart.read_order); a shop that cannot be
read still shows the hub's payments of the order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from ocbridge.core import access
from ocbridge.core.choices import Role, Service
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.models import Exchange, Integration, SideEffect, Store
from ocbridge.integrations.payments import links, operations
from ocbridge.integrations.payments.models import (
    Operation, Payment, PaymentOperation, PaymentState as S,
)
from ocbridge.integrations.payments.views import GATEWAY_KINDS

LOG_ROWS = 50  # the order's latest Exchanges; the log page has the rest
ORIGINS = {"dashboard": _("made on the dashboard"), "rule": _("sent by the pay-link rule"),
           "cod": _("offered in the COD confirmation"), "checkout": _("from the shop's checkout")}


@dataclass
class Totals:
    """One currency's money of the order, in major units."""

    currency: str
    paid: object = 0  # captured at the gateway
    held: object = 0  # authorised, not captured yet
    refunded: object = 0
    refundable: object = 0  # paid less refunded less refunds under way


@dataclass
class PaymentView:
    payment: Payment
    ops: list = field(default_factory=list)  # [(PaymentOperation, reference, gateway id, [Exchange])]
    events: list = field(default_factory=list)  # [(PaymentEvent, from label, to label)]
    origin: str = ""
    seq: dict = field(default_factory=dict)
    link: str = ""
    refundable: object = 0
    capturable: object = 0
    captured: object = 0
    refunded: object = 0


def read_shop_order(store: Store, order_id: int):
    """(order or None, when it was placed or None, why not): the order read from the shop, or the reason it could not
    be. `date_added` is a naive wall time in the zone the shop writes in (opencart.shop_time, per version, cached per
    shop): made aware here, so the page shows it in the store's zone like its other times."""
    from ocbridge import opencart
    from ocbridge.opencart import shop_time

    try:
        order = opencart.read_order(store, order_id)
        placed = None
        if order is not None and order.date_added is not None:
            placed = order.date_added.replace(tzinfo=shop_time.write_zone(opencart.shop_db(store), order.store_id))
        return order, placed, ""
    except (ConfigurationError, ServiceError, OSError) as exc:
        return None, None, str(exc)
    except Exception as exc:  # SQLAlchemy's errors (shop down, wrong password): shown, the payments still are
        if type(exc).__module__.startswith("sqlalchemy"):
            return None, None, str(exc).splitlines()[0]
        raise


def _payment_view(payment: Payment, *, can_act: bool) -> PaymentView:
    ops = list(payment.operations.all())
    effects = {e.key: e for e in SideEffect.objects.filter(key__in=[op.key for op in ops])}
    logs: dict[str, list] = defaultdict(list)
    for ex in Exchange.objects.keyed([op.key for op in ops]).order_by("id"):
        logs[ex.key].append(ex)
    labels = dict(S.choices)
    rows = []
    for op in ops:
        effect = effects.get(op.key)
        rows.append((op, effect.correlation if effect else "", effect.provider_id if effect else "", logs[op.key]))
    return PaymentView(
        payment=payment, ops=rows, origin=ORIGINS.get(payment.origin, payment.origin),
        events=[(e, labels.get(e.from_state, e.from_state), labels.get(e.to_state, e.to_state))
                for e in payment.events.select_related("exchange")],
        seq={op: operations.next_sequence(payment, op) for op in Operation.values},
        link=links.url_for(payment) if can_act and payment.state in (S.CREATED, S.PENDING) else "",
        refundable=payment.money(operations.refundable_now(payment)),
        capturable=payment.money(payment.amount_minor - payment.captured_minor),
        captured=payment.money(payment.captured_minor), refunded=payment.money(payment.refunded_minor))


def totals_of(payments: list[Payment]) -> list[Totals]:
    out: dict[str, dict[str, int]] = {}
    for p in payments:
        t = out.setdefault(p.currency, {"paid": 0, "held": 0, "refunded": 0, "refundable": 0, "_p": p})
        t["paid"] += p.captured_minor
        t["refunded"] += p.refunded_minor
        if p.state == S.AUTHORISED:
            t["held"] += p.amount_minor - p.captured_minor
        t["refundable"] += operations.refundable_now(p)
    return [Totals(cur, **{k: t["_p"].money(v) for k, v in t.items() if k != "_p"}) for cur, t in sorted(out.items())]


@login_required
def order_page(request, store_pk: int, order_id: int) -> HttpResponse:
    store = access.get_scoped(Store, request.user, pk=store_pk)
    can_act = access.can(request.user, store, Role.OPERATOR)
    payments = list(Payment.objects.filter(store=store, order_id=order_id).select_related("integration__connection")
                    .prefetch_related("operations").order_by("id"))
    order, placed, unread = read_shop_order(store, order_id)
    if order is not None and order.store_id != store.oc_store_id:  # another store of the same shop database
        order = None
    if order is None and not payments and not unread:
        raise Http404("No such order in this store.")
    gateways = [(i.kind, Service(i.kind).label) for i in
                Integration.objects.filter(store=store, kind__in=GATEWAY_KINDS, enabled=True).order_by("kind")]
    log = Exchange.objects.filter(store=store, order_id=order_id).order_by("-id")[:LOG_ROWS]
    under_way = PaymentOperation.objects.filter(payment__in=payments, state__in=operations.UNDER_WAY).exists()
    return render(request, "payments/order.html", {
        "nav": "payments", "store": store, "order_id": order_id, "order_label": store.order_label(order_id),
        "order": order, "placed": placed, "unread": unread, "can_act": can_act, "gateways": gateways,
        "views": [_payment_view(p, can_act=can_act) for p in reversed(payments)], "totals": totals_of(payments),
        # a new link only while nothing of the order is paid, held or still open (its link is shown): never a second charge
        "may_link": not any(p.state in (S.CREATED, S.PENDING, S.AUTHORISED, S.PAID) for p in payments),
        "attempt": len(payments) + 1, "log": log, "under_way": under_way,
        "has_email": bool(order and order.email)})
