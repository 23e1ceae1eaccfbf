"""A Payment's state moves only here: compare-and-set from the states that may lead to the new one, and one
audited PaymentEvent per move, linked to the Exchange that caused it."""

from __future__ import annotations

from django.db import transaction

from ocbridge.core import clock
from ocbridge.integrations.payments.models import Payment, PaymentEvent, PaymentState as S

# Which states may lead to each state. A late "paid" after "failed" or "cancelled" is money taken all the same
# (an on-hold payment released, the customer's second try on the same page): it is applied and audited.
FROM = {
    S.PENDING: (S.CREATED,),
    S.AUTHORISED: (S.CREATED, S.PENDING, S.FAILED, S.CANCELLED),
    S.PAID: (S.CREATED, S.PENDING, S.FAILED, S.CANCELLED, S.AUTHORISED),
    S.FAILED: (S.CREATED, S.PENDING),
    S.CANCELLED: (S.CREATED, S.PENDING),
    S.VOIDED: (S.AUTHORISED,),
    S.REFUNDED: (S.PAID,),
}


def move(payment: Payment, to: str, *, what: str, actor: str, exchange=None, **fields) -> bool:
    """Move the payment to `to` (with `fields`) if its state allows it; True when this call moved it."""
    allowed = FROM[to]
    with transaction.atomic():
        before = payment.state
        hit = Payment.objects.filter(pk=payment.pk, state__in=allowed).update(state=to, updated=clock.now(), **fields)
        if hit:
            PaymentEvent.objects.create(payment=payment, from_state=before, to_state=to, what=what[:255],
                                        actor=actor[:150], exchange=exchange if getattr(exchange, "pk", None) else None)
    payment.refresh_from_db()
    return bool(hit)


def note(payment: Payment, what: str, *, actor: str, exchange=None) -> None:
    """An audited event that changes no state (a partial refund, a capture of part, a refused operation)."""
    PaymentEvent.objects.create(payment=payment, from_state=payment.state, to_state=payment.state, what=what[:255],
                                actor=actor[:150], exchange=exchange if getattr(exchange, "pk", None) else None)
