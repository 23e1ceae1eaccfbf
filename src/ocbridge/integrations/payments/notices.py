"""Notifications decide, browsers only show.

A gateway's notice (APS direct transaction feedback and notification feedback; a status check's answer) is
verified (signature with the response phrase), stored raw as its inbound Exchange (with the job it asks for: the
worker makes it, core.inbox) and once as a PaymentNotice (de-duplicated by what it says), then applied by the job: amount and currency against the payment in minor units,
then the payment's state. Only notices and status checks mark a payment paid; the return page never does.
Notices may arrive in any order, more than once, or not at all (reconciliation asks then).
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils.translation import gettext_noop

from ocbridge.core import inbox, outbox
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.models import Integration, Job
from ocbridge.core.registry import register_webhook
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import ledger
from ocbridge.integrations.payments.gateways import Word, gateway_for
from ocbridge.integrations.payments.models import (
    MONEY_STATES, OperationState, Payment, PaymentNotice, PaymentOperation, PaymentState as S,
)
from ocbridge.services.base import WebhookFormatError, form_of, json_of

log = logging.getLogger(__name__)


def params_of(request) -> dict[str, str]:
    """APS sends JSON (current documents) or form fields (older integrations, the OpenCart plugin): both (A6)."""
    body = request.body
    if (request.content_type or "").endswith("json"):
        data = json_of(body)
        if not isinstance(data, dict):
            raise WebhookFormatError("the body must be a JSON object")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return form_of(body)


def dedupe_key(gateway: str, params: dict) -> str:
    """The same notice sent again (a retry, a replay) has the same key; the signature is left out."""
    text = json.dumps({k: v for k, v in sorted(params.items()) if k != "signature"}, ensure_ascii=False)
    return hashlib.sha256(f"{gateway}\0{text}".encode()).hexdigest()


def _integration_of(connection) -> Integration | None:
    return Integration.objects.filter(connection=connection, kind=connection.service).first()


def _hook(request, connection, exchange, source: str) -> HttpResponse:
    integration = _integration_of(connection)
    if integration is None:
        close_inbound(exchange, status=404, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING,
                      error="no payment integration uses this connection")
        return HttpResponse("not found", status=404)
    try:
        params = {k: v for k, v in request.GET.items()} if request.method == "GET" else params_of(request)
    except WebhookFormatError as exc:
        close_inbound(exchange, status=400, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=str(exc))
        return HttpResponse("bad request", status=400)
    gateway = gateway_for(integration)
    if not gateway.verify(params):
        close_inbound(exchange, status=400, outcome=ExchangeOutcome.REJECTED, level=Level.ERROR,
                      error="signature does not match the response phrase: refused")
        return HttpResponse("signature mismatch", status=400)
    dedupe = dedupe_key(integration.kind, params)
    exchange.event_id = dedupe[:64]
    # One commit: the raw request with the job it asks for (core.inbox: the worker makes the job, keyed by what the
    # notice says, so a resent one is noted "already queued"), and the notice itself — its params stay in that row,
    # never in a job's payload (the job page shows payloads; a notice carries the card token's name).
    with transaction.atomic():
        inbox.store(exchange, [inbox.job("payments.apply_notice", key=f"payments:notice:{dedupe}",
                                         store_id=integration.store_id, integration_id=integration.pk,
                                         payload={"dedupe": dedupe})])
        if store_notice(integration, params, source=source, exchange=exchange) is None:
            close_inbound(exchange, status=200, response_body="duplicate")  # resent or replayed: never applied twice
    return HttpResponse("ok")


def store_notice(integration, params: dict, *, source: str, exchange=None) -> PaymentNotice | None:
    """The notice stored once; None when the same notice was stored before."""
    payment = Payment.objects.filter(reference=str(params.get("merchant_reference") or params.get("reference") or ""),
                                     store=integration.store).first()
    try:
        with transaction.atomic():
            return PaymentNotice.objects.create(payment=payment, store=integration.store, exchange=exchange,
                                                source=source, dedupe=dedupe_key(integration.kind, params),
                                                params={k: v for k, v in params.items()})
    except IntegrityError:
        return None


@register_webhook("aps", "feedback")
def aps_feedback(request, connection, exchange):
    """A6 Direct Transaction Feedback URL."""
    return _hook(request, connection, exchange, "feedback")


@register_webhook("latitudepay", "callback")
def latitude_callback(request, connection, exchange):
    """B4 callbackUrl: token, reference, message, result, signature in the query string."""
    return _hook(request, connection, exchange, "callback")


@register_webhook("aps", "notification")
def aps_notification(request, connection, exchange):
    """A6 Notification URL (later changes: on hold → final, capture, refund, void)."""
    return _hook(request, connection, exchange, "notification")


# --- applying what the gateway said ----------------------------------------------------------------------


def apply_word(payment: Payment, word: Word, *, actor: str, exchange=None) -> bool:
    """Apply a verified Word to the payment; True when its state changed. A paid/authorised word whose amount or
    currency differs from the payment's is refused (audited), never applied."""
    if word.outcome in ("paid", "authorised"):
        if word.amount_minor != payment.amount_minor or (word.currency and word.currency != payment.currency):
            ledger.note(payment, Sentence(gettext_noop("refused: gateway says {said}, the payment is {ours} (minor units)"),
                                          said=f"{word.amount_minor} {word.currency}",
                                          ours=f"{payment.amount_minor} {payment.currency}"), actor=actor, exchange=exchange)
            return False
        fields = {"gateway_id": word.gateway_id or payment.gateway_id, "gateway_message": word.message[:255]}
        if word.outcome == "paid":
            captured = word.captured_minor if word.captured_minor is not None else payment.amount_minor
            fields["captured_minor"] = max(captured, payment.captured_minor)
        if word.refunded_minor is not None:
            fields["refunded_minor"] = max(word.refunded_minor, payment.refunded_minor)
        if word.installments:  # the plan an installment purchase names, also when a status check decided first
            payment.keep(installments={**payment.installment_plan, **word.installments})
        moved = ledger.move(payment, word.outcome, what=_what(word), actor=actor, exchange=exchange, **fields)
        if moved:
            _shop_status(payment)
        return moved
    if word.outcome in ("failed", "cancelled"):
        return ledger.move(payment, word.outcome, what=_what(word), actor=actor, exchange=exchange,
                           gateway_id=word.gateway_id or payment.gateway_id, gateway_message=word.message[:255])
    if word.outcome == "pending":
        moved = ledger.move(payment, S.PENDING, what=_what(word), actor=actor, exchange=exchange,
                            gateway_message=word.message[:255])
        if not moved and payment.state == S.PENDING:
            ledger.note(payment, _what(word), actor=actor, exchange=exchange)
        return moved
    if word.outcome in ("captured", "refunded", "voided"):
        return _operation_word(payment, word, actor=actor, exchange=exchange)
    return False


# What a gateway's word says, said (core.sentences): the outcome in the reader's words, the gateway's code and
# message after it as they came.
OUTCOMES = {"paid": gettext_noop("paid: {detail}"), "authorised": gettext_noop("authorised: {detail}"),
            "failed": gettext_noop("failed: {detail}"), "cancelled": gettext_noop("cancelled: {detail}"),
            "pending": gettext_noop("pending: {detail}"), "captured": gettext_noop("captured: {detail}"),
            "refunded": gettext_noop("refunded: {detail}"), "voided": gettext_noop("voided: {detail}")}


def _what(word: Word) -> Sentence | str:
    detail = f"{word.code} {word.message}".strip() or "—"
    if word.outcome not in OUTCOMES:
        return f"{word.outcome}: {detail}"
    return Sentence(OUTCOMES[word.outcome], detail=detail)


def _shop_status(payment: Payment) -> None:
    if payment.state in MONEY_STATES:
        from ocbridge.core.registry import payment_taken

        payment_taken(payment.store, payment.order_id, reference=payment.reference, state=payment.state)
        Job.objects.enqueue("payments.shop_paid", key=f"payments:{payment.pk}:shop:{payment.state}",
                            integration=payment.integration, payload={"payment_id": payment.pk})


def _operation_word(payment: Payment, word: Word, *, actor: str, exchange=None) -> bool:
    """A notification about a capture / refund / void: the outbox row it names (by our maintenance reference) —
    an "unknown" one learns it was carried out; the operation itself is applied by its own job."""
    effect = outbox.match(payment.gateway, reference=word.maintenance_reference) if word.maintenance_reference else None
    if effect is None:
        ledger.note(payment, Sentence(gettext_noop("gateway notice: {what}"), what=_what(word)), actor=actor,
                    exchange=exchange)
        return False
    op = PaymentOperation.objects.filter(key=effect.key).first()
    if effect.state == "unknown":
        outbox.sent(effect, word.gateway_id or word.maintenance_reference)
    if op is not None and op.state in (OperationState.REQUESTED, OperationState.UNKNOWN):
        Job.objects.enqueue("payments.operate", key=f"{op.key}:settle:{effect.state}", integration=payment.integration,
                            payload={"operation_id": op.pk})
    return False
