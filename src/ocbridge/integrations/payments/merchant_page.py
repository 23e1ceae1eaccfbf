"""APS merchant page: the tokenization answer comes back to the hub, then the purchase goes host to host, once.

The pay page posts APS's signed TOKENIZATION form into an iframe; APS's page there takes the card and sends the
browser (still in the iframe) to `/pay/<token>/card` with a signed `token_name`. Here that answer is verified
(response phrase, our merchant_reference, TOKENIZATION), then the payment's PURCHASE / AUTHORIZATION is sent with
the token through the outbox under the payment's own key — a replayed or reloaded answer never sends a second
one. Its answer only steers the customer (3-D Secure → `3ds_url`; otherwise back to the pay page): the direct
feedback, notifications or a status check (asked for at once) decide the payment's state, as for redirection.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocbridge.core import outbox
from ocbridge.core.choices import ExchangeOutcome, Level, SideEffectState
from ocbridge.core.errors import ServiceError
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.models import SideEffect
from ocbridge.integrations.payments import installments, ledger
from ocbridge.integrations.payments.gateways import gateway_for
from ocbridge.integrations.payments.jobs import schedule_check
from ocbridge.integrations.payments.models import OPEN_STATES, Payment, PaymentState as S
from ocbridge.services import aps

SECURE_3DS_WAIT = 15 * 60  # seconds: a customer at their bank's 3-D Secure page; their return asks sooner


@dataclass
class Step:
    """What the customer's browser does next. `kind`: "3ds" (go to `url`), "sent" (the pay page shows the
    outcome), "retry" (the card form again, with `message`), "refused" (not APS's answer), "unavailable"."""

    kind: str
    url: str = ""
    message: str = ""


def purchase_key(payment: Payment) -> str:
    return f"{payment.key}:purchase"


def purchase_sent(payment: Payment) -> bool:
    """The card was taken and the purchase went (or may have gone) to APS: the pay page only shows the outcome."""
    return SideEffect.objects.filter(key=purchase_key(payment)).exclude(state=SideEffectState.REQUESTED).exists()


def card_returned(payment: Payment, params: dict, *, exchange, customer_ip: str, return_url: str) -> Step:
    """Handle APS's tokenization answer for `payment` (recorded as `exchange`)."""
    gateway = gateway_for(payment.integration)
    why = ""
    if not gateway.verify(params):
        why = "tokenization answer not signed with the response phrase: refused"
    elif str(params.get("merchant_reference") or "") != payment.reference:
        why = "tokenization answer for another merchant_reference: refused"
    elif params.get("service_command") != "TOKENIZATION":
        why = "not a tokenization answer: refused"
    if why:
        close_inbound(exchange, status=400, outcome=ExchangeOutcome.REJECTED, level=Level.ERROR, error=why)
        return Step("refused")
    close_inbound(exchange, status=200)
    if payment.state not in OPEN_STATES or purchase_sent(payment):
        return Step("sent")  # a reload or a replay: nothing is sent again
    if aps.status_of(params) != aps.TOKENIZATION_OK:
        message = str(params.get("response_message") or "")
        ledger.note(payment, f"card not accepted on APS's page: {params.get('response_code')} {message}",
                    actor="customer", exchange=exchange)
        return Step("retry", message=message)
    plan = installments.chosen(payment)
    if plan.get("mode") == "hosted" and not installments.card_fits(plan, str(params.get("card_bin") or "")):
        ledger.note(payment, f"card not from the bank of installment plan {plan.get('plan_code')}: nothing sent",
                    actor="customer", exchange=exchange)
        return Step("retry", message="wrong bank")
    fields = installments.purchase_fields(payment, params)
    effect = outbox.request(purchase_key(payment), kind="payment", service=payment.gateway, store=payment.store,
                            connection=payment.integration.connection, integration=payment.integration)
    said: dict = {}

    def send(e) -> str:
        said["answer"] = gateway.purchase_with_token(payment, params, customer_ip=customer_ip, return_url=return_url,
                                                     installments=fields, key=e.key)
        return said["answer"].fort_id or payment.reference

    def ask(e) -> str | None:  # a doubtful send: does APS have a transaction under our reference?
        word = gateway.check(payment)
        return (word.gateway_id or payment.reference) if word.outcome else None

    try:
        effect = outbox.perform(effect, send, ask=ask)
    except ServiceError as exc:  # not sent (refused connection, 503) or APS says it never arrived: may try again
        ledger.note(payment, f"purchase not sent: {exc}", actor="customer", exchange=exchange)
        return Step("unavailable")
    answer = said.get("answer")
    exchange_out = gateway.client.last_exchange
    if effect.state == SideEffectState.FAILED:  # APS refused to process it (status 00): nothing was charged
        ledger.move(payment, S.FAILED, what=f"purchase refused by APS: {effect.error}"[:255], actor="gateway",
                    exchange=exchange_out)
        return Step("sent")
    command = "PURCHASE" if fields else payment.command
    what = f"card taken on APS's page; {command} sent" + (f" ({answer.code} {answer.message})" if answer else
                                                           " (answer unknown: asking APS)")
    Payment.objects.filter(pk=payment.pk).update(command=command)
    if not ledger.move(payment, S.PENDING, what=what, actor="customer", exchange=exchange_out):
        ledger.note(payment, what, actor="customer", exchange=exchange_out)
    if answer is not None:  # shown to the customer until the feedback or a status check decides
        payment.keep(purchase={"code": answer.code, "status": answer.status, "message": answer.message[:200]})
    url = answer.extra.get("3ds_url", "") if answer is not None and answer.code == aps.SECURE_3DS else ""
    if url.startswith(("https://", "http://")):
        schedule_check(payment, SECURE_3DS_WAIT)
        return Step("3ds", url=url)
    schedule_check(payment)  # the feedback usually comes first; if it was lost, the status check decides
    return Step("sent")
