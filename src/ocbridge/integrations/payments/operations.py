"""Capture, refund and void from the order's page, each with a reason, keyed (payment, operation, amount,
sequence) and made once through the outbox.

The sequence comes from the page that showed the button (the number of such operations it saw, plus one): a
second click or a resent form names the same key and gets the same operation, never a second refund. Refunds
over the refundable amount (captured less refunded less refunds still under way) are refused here, before any
call; so are captures over the authorised amount and voids of a captured payment.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _, gettext_noop

from ocbridge.core.models import Job
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import ledger
from ocbridge.integrations.payments.models import (
    Operation, OperationState, Payment, PaymentOperation, PaymentState as S,
)

UNDER_WAY = (OperationState.REQUESTED, OperationState.UNKNOWN)
# The payment's history, said (core.sentences): one sentence per operation, so each language can word it.
ASKED = {Operation.CAPTURE: gettext_noop("capture of {amount} asked: {reason}"),
         Operation.REFUND: gettext_noop("refund of {amount} asked: {reason}"),
         Operation.VOID: gettext_noop("void of {amount} asked: {reason}")}


class OperationRefused(ValueError):
    """Refused before any call; the message says why in the user's language."""


def next_sequence(payment: Payment, operation: str) -> int:
    return PaymentOperation.objects.filter(payment=payment, operation=operation).count() + 1


def _under_way(payment: Payment, operation: str) -> int:
    return PaymentOperation.objects.filter(payment=payment, operation=operation, state__in=UNDER_WAY).aggregate(
        s=Sum("amount_minor"))["s"] or 0


def refundable_now(payment: Payment) -> int:
    """What a refund may still take, in minor units: captured less refunded less refunds still under way."""
    if payment.state != S.PAID:
        return 0
    return max(payment.captured_minor - payment.refunded_minor - _under_way(payment, Operation.REFUND), 0)


def check(payment: Payment, operation: str, amount_minor: int) -> None:
    """OperationRefused when the payment's state and amounts do not allow it."""
    from ocbridge.integrations.payments.gateways import GATEWAYS

    if operation not in GATEWAYS[payment.gateway].operations:
        raise OperationRefused(_("This gateway cannot do that."))
    if operation == Operation.VOID:
        if payment.state != S.AUTHORISED or payment.captured_minor:
            raise OperationRefused(_("Only an authorisation nothing was captured of can be released."))
        return
    if amount_minor <= 0:
        raise OperationRefused(_("The amount must be above zero."))
    if operation == Operation.CAPTURE:
        if payment.state != S.AUTHORISED:
            raise OperationRefused(_("Only an authorised payment can be captured."))
        left = payment.amount_minor - payment.captured_minor - _under_way(payment, operation)
        if amount_minor > left:
            raise OperationRefused(_("At most %(left)s %(cur)s can still be captured.")
                                   % {"left": payment.money(left), "cur": payment.currency})
        return
    if payment.state != S.PAID:
        raise OperationRefused(_("Only a paid payment can be refunded."))
    left = payment.captured_minor - payment.refunded_minor - _under_way(payment, operation)
    if amount_minor > left:
        raise OperationRefused(_("At most %(left)s %(cur)s can still be refunded (captured %(captured)s, refunded "
                                 "%(refunded)s).") % {"left": payment.money(max(left, 0)), "cur": payment.currency,
                                                      "captured": payment.money(payment.captured_minor),
                                                      "refunded": payment.money(payment.refunded_minor)})


def request(payment: Payment, operation: str, amount_minor: int, *, sequence: int, reason: str, user: str
            ) -> PaymentOperation:
    """The operation for this key, created and queued on first use; the same key again returns it."""
    if operation == Operation.VOID:
        amount_minor = payment.amount_minor
    key = f"payments:{payment.pk}:{operation}:{amount_minor}:{sequence}"
    existing = PaymentOperation.objects.filter(key=key).first()
    if existing is not None:
        return existing
    if not reason.strip():
        raise OperationRefused(_("Say why (the reason goes into the order's history)."))
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        check(payment, operation, amount_minor)
        before = payment.captured_minor if operation == Operation.CAPTURE else payment.refunded_minor
        try:
            with transaction.atomic():
                op = PaymentOperation.objects.create(
                    payment=payment, operation=operation, amount_minor=amount_minor, sequence=sequence, key=key,
                    reason=reason.strip()[:255], requested_by=user[:150], before_minor=before + _under_way(payment, operation))
        except IntegrityError:
            raise OperationRefused(_("Another %(op)s was made meanwhile: reload the page and check the amounts.")
                                   % {"op": Operation(operation).label.lower()}) from None
        ledger.note(payment, Sentence(ASKED[operation], amount=f"{payment.money(amount_minor)} {payment.currency}",
                                      reason=reason.strip()), actor=user)
        Job.objects.enqueue("payments.operate", key=key, integration=payment.integration, payload={"operation_id": op.pk})
    return op
