"""APS merchant page: the tokenization answer comes back to the hub, then the purchase goes host to host, once.

The pay page posts APS's signed TOKENIZATION form into an iframe; APS's page there takes the card and sends the
browser (still in the iframe) to `/pay/<token>/card` with a signed `token_name`. Here that answer is verified
(response phrase, our merchant_reference, TOKENIZATION) in the customer's request, and the payment's PURCHASE /
AUTHORIZATION is handed to a job (`SendPurchase`): APS may take up to its 30 s timeout to answer, and a doubtful
send another check, so the customer's page answers at once with "processing" and re-asks `/pay/<token>/card/wait`
every few seconds until the job has decided. The job sends through the outbox under the payment's own key — a
replayed or reloaded answer, or a second card typed meanwhile, never sends a second purchase. Its answer only
steers the customer (3-D Secure → `3ds_url`; otherwise back to the pay page): the direct feedback, notifications or
a status check (asked for at once) decide the payment's state, as for redirection.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_noop

from ocbridge.core import outbox, secrets
from ocbridge.core.choices import SIDE_EFFECT_DONE, ExchangeOutcome, JobState, Level, SideEffectState
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import Exchange, Job, SideEffect
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.payments import installments, ledger
from ocbridge.integrations.payments.gateways import gateway_for
from ocbridge.integrations.payments.jobs import schedule_check
from ocbridge.integrations.payments.models import OPEN_STATES, Payment, PaymentState as S
from ocbridge.services import aps

SECURE_3DS_WAIT = 15 * 60  # seconds: a customer at their bank's 3-D Secure page; their return asks sooner


@dataclass
class Step:
    """What the customer's browser does next. `kind`: "processing" (the purchase is being sent: wait), "3ds" (go to
    `url`), "sent" (the pay page shows the outcome), "retry" (the card form again, with `message`), "refused" (not
    APS's answer), "unavailable"."""

    kind: str
    url: str = ""
    message: str = ""


def purchase_key(payment: Payment) -> str:
    return f"{payment.key}:purchase"


def purchase_sent(payment: Payment) -> bool:
    """The card was taken and the purchase went (or may have gone) to APS: the pay page only shows the outcome."""
    return SideEffect.objects.filter(key=purchase_key(payment)).exclude(state=SideEffectState.REQUESTED).exists()


def card_returned(payment: Payment, params: dict, *, exchange, customer_ip: str, return_url: str) -> Step:
    """Handle APS's tokenization answer for `payment` (recorded as `exchange`): checked here, sent by SendPurchase."""
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
        ledger.note(payment, Sentence(gettext_noop("card not accepted on APS's page: {detail}"),
                                      detail=f"{params.get('response_code')} {message}"), actor="customer",
                    exchange=exchange)
        return Step("retry", message=message)
    plan = installments.chosen(payment)
    if plan.get("mode") == "hosted" and not installments.card_fits(plan, str(params.get("card_bin") or "")):
        ledger.note(payment, Sentence(gettext_noop("card not from the bank of installment plan {plan}: nothing sent"),
                                      plan=str(plan.get("plan_code"))), actor="customer", exchange=exchange)
        return Step("retry", message="wrong bank")
    # One job per tokenization answer (a replay finds the same job); the card token is kept encrypted, only until
    # the job has used it.
    answer_id = hashlib.sha256(str(params.get("signature") or params.get("token_name") or "").encode()).hexdigest()[:16]
    job = Job.objects.enqueue(SendPurchase, key=f"{purchase_key(payment)}:{answer_id}", integration=payment.integration,
                              payload={"payment_id": payment.pk, "exchange_id": exchange.pk, "customer_ip": customer_ip,
                                       "return_url": return_url, "sealed": secrets.encrypt_json(params)})
    payment.keep(card_step={"kind": "processing", "job": job.pk})
    return Step("processing")


def step_now(payment: Payment) -> Step:
    """Where the customer's card step stands: "processing" while its SendPurchase job may still run, then the step
    the job decided ("sent" when the job ended without deciding: the pay page shows what became of the payment)."""
    said = (payment.gateway_data or {}).get("card_step") or {}
    if said.get("kind") != "processing":
        return Step(said.get("kind") or "sent", url=said.get("url", ""), message=said.get("message", ""))
    state = Job.objects.filter(pk=said.get("job")).values_list("state", flat=True).first()
    return Step("processing") if state in (JobState.QUEUED, JobState.RUNNING) else Step("sent")


def purchase_pending(payment: Payment) -> bool:
    """A card was taken and its purchase is still being sent: the pay page waits rather than ask for a card again."""
    return step_now(payment).kind == "processing"


@register_job_kind
class SendPurchase(JobKind):
    """The merchant page's PURCHASE / AUTHORIZATION host to host, off the customer's request; the step it decides is
    kept on the payment (`card_step`) for the customer's waiting page."""

    kind = "payments.send_purchase"
    max_attempts = 5

    def run(self, job) -> None:
        payment = Payment.objects.select_related("integration__connection", "store").filter(
            pk=job.payload["payment_id"]).first()
        if payment is None or not job.payload.get("sealed"):
            return
        exchange = Exchange.objects.filter(pk=job.payload.get("exchange_id")).first()
        try:
            step = _send(payment, secrets.decrypt_json(job.payload["sealed"]), exchange=exchange,
                         customer_ip=job.payload.get("customer_ip", ""), return_url=job.payload.get("return_url", ""))
        except ConfigurationError:
            step = Step("unavailable")
        with transaction.atomic():
            payment.refresh_from_db()
            said = (payment.gateway_data or {}).get("card_step") or {}
            if said.get("job") in (None, job.pk):  # a later card answer's job speaks for the page, not this one
                payment.keep(card_step={"kind": step.kind, "url": step.url, "message": step.message, "job": job.pk})
            Job.objects.filter(pk=job.pk).update(payload={k: v for k, v in job.payload.items() if k != "sealed"})


def _send(payment: Payment, params: dict, *, exchange, customer_ip: str, return_url: str) -> Step:
    """The purchase through the outbox (once per payment), then what the customer's browser does next. A send found
    mid-way (this job's earlier run was killed) is settled by asking APS in outbox.perform, never sent again."""
    done = SideEffect.objects.filter(key=purchase_key(payment), state__in=SIDE_EFFECT_DONE).exists()
    if payment.state not in OPEN_STATES or done:
        return Step("sent")
    gateway = gateway_for(payment.integration)
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
        ledger.note(payment, Sentence(gettext_noop("purchase not sent: {error}"), error=ledger.error_of(exc)),
                    actor="customer", exchange=exchange)
        return Step("unavailable")
    answer = said.get("answer")
    exchange_out = gateway.client.last_exchange
    if effect.state == SideEffectState.FAILED:  # APS refused to process it (status 00): nothing was charged
        ledger.move(payment, S.FAILED, what=Sentence(gettext_noop("purchase refused by APS: {error}"),
                                                     error=outbox.refusal(effect)), actor="gateway", exchange=exchange_out)
        return Step("sent")
    command = "PURCHASE" if fields else payment.command
    what = Sentence(gettext_noop("card taken on APS's page; {command} sent ({detail})"), command=command,
                    detail=f"{answer.code} {answer.message}") if answer else \
        Sentence(gettext_noop("card taken on APS's page; {command} sent (answer unknown: asking APS)"), command=command)
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
