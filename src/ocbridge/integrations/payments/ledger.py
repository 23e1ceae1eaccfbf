"""A Payment's state moves only here: compare-and-set from the states that may lead to the new one, and one
audited PaymentEvent per move, linked to the Exchange that caused it.

What happened is said (core.sentences): the event keeps its English text (`what`) and the Sentence's data
(`what_said`), so its pages read it in each reader's language; a gateway's or person's own words stay inside it as
they came."""

from __future__ import annotations

from django.db import transaction

from ocbridge.core import clock
from ocbridge.core.masking import storable_text
from ocbridge.core.sentences import Sentence, sentence_of
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


def move(payment: Payment, to: str, *, what: str | Sentence, actor: str, exchange=None, **fields) -> bool:
    """Move the payment to `to` (with `fields`) if its state allows it; True when this call moved it."""
    allowed = FROM[to]
    with transaction.atomic():
        before = payment.state
        hit = Payment.objects.filter(pk=payment.pk, state__in=allowed).update(state=to, updated=clock.now(), **fields)
        if hit:
            PaymentEvent.objects.create(payment=payment, from_state=before, to_state=to, **_what(what),
                                        actor=actor[:150], exchange=exchange if getattr(exchange, "pk", None) else None)
    payment.refresh_from_db()
    return bool(hit)


def note(payment: Payment, what: str | Sentence, *, actor: str, exchange=None) -> None:
    """An audited event that changes no state (a partial refund, a capture of part, a refused operation)."""
    PaymentEvent.objects.create(payment=payment, from_state=payment.state, to_state=payment.state, **_what(what),
                                actor=actor[:150], exchange=exchange if getattr(exchange, "pk", None) else None)


def error_of(exc: BaseException) -> Sentence | str:
    """An error as a value inside a note: as said where it was (read in each reader's language), else its text."""
    return sentence_of(exc) or str(exc)


def said_data(sentence: Sentence) -> dict:
    """A Sentence's data for a row: text values (nested ones too) cut to 1,000 characters and made storable."""
    def clean(data: dict) -> dict:
        return {**data, "values": {  # the text (and a count's plural) as written
            k: clean(v) if isinstance(v, dict) else storable_text(v[:1000]) if isinstance(v, str) else v
            for k, v in data["values"].items()}}

    return clean(sentence.as_data())


def _what(what: str | Sentence) -> dict:
    if isinstance(what, Sentence):
        return {"what": what.english()[:255], "what_said": said_data(what)}
    return {"what": str(what)[:255], "what_said": None}
