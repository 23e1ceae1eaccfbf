"""What the shop records about a COD order after confirmation, fed to the phone's risk score.

The shared order-history feed (opencart.feed) hands cod_confirm's history consumer (`jobs.on_history`) the store's
new `order_history` rows; `record_events` turns the rows whose status the owner mapped — refused/returned,
delivered — or the store's cancelled status into one `OrderOutcome` per order, and corrects the phone's
`PhoneTally` (risk.record) when the outcome is new or changed. Runs inside the feed's transaction together with
the move of the integration's cursor, so a redelivered batch finds its rows and counts nothing twice.

Only orders the hub took on (a Confirmation exists, whether confirmed, skipped or unanswered) are counted: they
carry the normalized phone and say whether and how the hub confirmed them. A cancel the hub itself wrote (the
customer's or a person's answer) is not counted again as "cancelled in the shop".
"""

from __future__ import annotations

from ocbridge.core import clock
from ocbridge.integrations.cod_confirm import risk, shop
from ocbridge.integrations.cod_confirm.choices import ConfirmationState
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation, OrderOutcome, Transition

REFUSED, DELIVERED, CANCELLED = OrderOutcome.Outcome.REFUSED, OrderOutcome.Outcome.DELIVERED, \
    OrderOutcome.Outcome.CANCELLED
# the hub wrote the cancel itself (the customer's or a person's answer, attempts used up with "cancel")
HUB_CANCELLED = frozenset({ConfirmationState.CANCELLED, ConfirmationState.EXPIRED})
# how the order was confirmed before it left, "" = never (the overview's confirmed vs not-confirmed split)
VIA = ("whatsapp", "call", "sms", "web", "person", "")  # "web": on the customer's address page


def outcome_of(status_id: int, cfg: CodConfirmConfig, c: Confirmation) -> str | None:
    if status_id in cfg.risk_refused_status_ids:
        return REFUSED
    if status_id in cfg.risk_delivered_status_ids:
        return DELIVERED
    if status_id == cfg.cancelled_status_id and c.state not in HUB_CANCELLED:
        return CANCELLED  # the shop cancelled it; a cancel the hub wrote was counted when it was decided
    return None


def confirmed_via(c: Confirmation) -> str:
    """ "whatsapp" / "call" / "sms" (the customer's answer), "person", or "" (never confirmed by the hub)."""
    if c.state != ConfirmationState.CONFIRMED:
        return ""
    if c.decided_by == "person":
        return "person"
    channel = (Transition.objects.filter(confirmation=c, to_state=ConfirmationState.CONFIRMED).order_by("-pk")
               .values_list("channel", flat=True).first())
    return channel if channel in VIA else "person"


def _aware(value, zone):
    return value.replace(tzinfo=zone) if value is not None and value.tzinfo is None else value


def record_events(integration, events, cfg: CodConfirmConfig) -> int:
    """Record the outcomes these history rows say (the latest mapped row per order wins). Returns rows changed."""
    mapped_ids = set(cfg.risk_refused_status_ids) | set(cfg.risk_delivered_status_ids) | {cfg.cancelled_status_id}
    latest = {}
    for e in events:
        if e.order_status_id in mapped_ids:
            latest[e.order_id] = e
    if not latest:
        return 0
    cases = {c.order_id: c for c in Confirmation.objects.filter(integration=integration, order_id__in=list(latest))}
    known = {o.order_id: o for o in OrderOutcome.objects.filter(store=integration.store_id,
                                                                 order_id__in=list(cases))}
    changed = 0
    now = clock.now()
    # the zone OpenCart stamped the rows in (per version: opencart.shop_time), not the Store's; read before the feed's
    # hub transaction (jobs.read_ahead)
    zone = shop.prepared().get("zone") or shop.write_zone(integration.store)
    for order_id, e in latest.items():
        c = cases.get(order_id)
        if c is None:
            continue
        outcome = outcome_of(e.order_status_id, cfg, c)
        row = known.get(order_id)
        if outcome is None or (row is not None and row.history_id >= e.order_history_id):
            continue  # not an outcome, or a row already applied (a redelivered batch)
        if row is None:
            OrderOutcome.objects.create(store_id=integration.store_id, order_id=order_id, confirmation=c,
                                        phone=c.phone, outcome=outcome, status_id=e.order_status_id,
                                        history_id=e.order_history_id, confirmed_via=confirmed_via(c),
                                        happened_at=_aware(e.date_added, zone), created=now, updated=now)
            risk.record(c.store_id, c.phone, outcome)
        else:
            before = row.outcome
            OrderOutcome.objects.filter(pk=row.pk).update(outcome=outcome, status_id=e.order_status_id,
                                                          history_id=e.order_history_id, happened_at=_aware(e.date_added, zone),
                                                          updated=now)
            if before != outcome:
                risk.record(c.store_id, row.phone, before, -1)
                risk.record(c.store_id, row.phone, outcome)
        changed += 1
    return changed
