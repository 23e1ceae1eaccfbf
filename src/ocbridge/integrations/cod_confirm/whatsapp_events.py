"""Meta's webhooks for WhatsApp COD confirmation: the subscription handshake, then signed events → one job each.

`/hooks/whatsapp/<token>/events` (the connection's URL, pasted into the Meta app's webhook settings with the
connection's `verify_token`). GET = handshake (whatsapp.md §4). POST = `X-Hub-Signature-256` checked over the raw
body before anything is parsed (403 otherwise); the raw request is kept (the core view's Exchange, with the jobs it
asks for: core.inbox) and answered 200 at once; the worker makes each message, status and template update a Job whose key is Meta's id for it (a message's
wamid, a status's wamid + status), so a repeated delivery is a no-op for as long as Job rows are kept (these
kinds are not routine: never pruned, well over the 7 days Meta may redeliver).
"""

from __future__ import annotations

import dataclasses

from django.db import transaction
from django.http import HttpResponse

from ocbridge.core import inbox, outbox
from ocbridge.core.choices import ExchangeOutcome, Level, SideEffectState
from ocbridge.core.errors import RetryableError
from ocbridge.core.exchanges import close_inbound, inbound_of
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import Connection, Exchange, Job, SideEffect
from ocbridge.core.registry import register_webhook
from ocbridge.core.sentences import Sentence, ngettext_noop
from ocbridge.integrations.cod_confirm import jobs, pay, routing, shop, whatsapp
from ocbridge.integrations.cod_confirm.choices import (
    OPEN,
    ROBOT_DONE,
    AttemptState,
    Channel,
    ConfirmationState,
    Intent,
)
from ocbridge.integrations.cod_confirm.models import Attempt
from ocbridge.services import whatsapp as wa

HOOK = "events"


def _reject(exchange, status: int, why: str) -> HttpResponse:
    close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why)
    return HttpResponse(why, status=status, content_type="text/plain; charset=utf-8")


@register_webhook("whatsapp", HOOK)
def whatsapp_events(request, connection, exchange):
    creds = connection.credentials()
    if request.method == "GET":
        challenge = wa.verify_handshake(str(creds.get("verify_token") or ""), dict(request.GET.items()))
        if challenge is None:
            return _reject(exchange, 403, "webhook verification refused: wrong hub.verify_token or hub.mode")
        close_inbound(exchange, status=200, response_body=challenge)
        return HttpResponse(challenge, content_type="text/plain; charset=utf-8")
    if not wa.verify_signature(str(creds.get("app_secret") or ""), request.body,
                               request.headers.get("X-Hub-Signature-256", "")):
        return _reject(exchange, 403, "bad or missing X-Hub-Signature-256")
    try:
        events = wa.parse_webhook(request.body)
    except ValueError as exc:
        return _reject(exchange, 400, f"malformed WhatsApp webhook: {exc}")
    pnid = str((connection.options or {}).get("phone_number_id") or "")
    ours = [e for e in events if not getattr(e, "phone_number_id", "") or e.phone_number_id == pnid]
    integration = routing.integration_of(connection)  # a shared account: each event finds its store further on
    exchange.event_id = ",".join(e.event_id for e in ours)[:255]
    ignored = len(events) - len(ours)
    # The raw request and the jobs it asks for: one row, one commit; the worker queues the jobs (core.inbox).
    inbox.store(exchange, [inbox.job(ApplyWhatsAppEvent.kind, key=f"cod_confirm:{connection.store_id}:whatsapp-event:"
                                     f"{e.event_id}", store_id=connection.store_id,
                                     integration_id=integration.pk if integration else None,
                                     payload={"connection_id": connection.pk, "type": type(e).__name__,
                                              "event": dataclasses.asdict(e)}) for e in ours],
                response_body="OK", error=Sentence(*ngettext_noop(
                    "{count} event for another phone number ignored",
                    "{count} events for another phone number ignored"), count=ignored) if ignored else "")
    return HttpResponse("OK")


@register_job_kind
class ApplyWhatsAppEvent(JobKind):
    """One WhatsApp event: a button tap or text, a message status, or a template's review result."""

    kind = "cod_confirm.apply_whatsapp_event"
    max_attempts = 6

    def run(self, job: Job) -> None:
        connection = Connection.objects.select_related("store").get(pk=job.payload["connection_id"])
        exchange = inbound_of(job)
        ev, kind = job.payload["event"], job.payload["type"]
        if kind == "WaTemplateStatus":
            whatsapp.apply_template_status(connection, ev["template_id"], ev["language"], ev["status"], ev["reason"],
                                           ev.get("name", ""))
            jobs._note(exchange, Level.WARNING if ev["status"] != "APPROVED" else Level.INFO,
                       f"template {ev['name']} ({ev['language']}): {ev['status']}")
            return
        if job.integration is None:
            jobs._note(exchange, Level.WARNING, "COD confirmation is not set up for this store")
            return
        if kind == "WaStatus":
            apply_status(job, connection, ev, exchange)
        else:
            apply_message(job, connection, ev, exchange)


def _attempt(connection: Connection, *, provider_id: str = "", key: str = "") -> Attempt | None:
    qs = Attempt.objects.select_related("confirmation__integration", "confirmation__store").filter(
        store_id__in=connection.served_store_ids(), service="whatsapp")  # only the stores this account serves
    found = qs.filter(provider_id=provider_id).first() if provider_id else None
    return found or (qs.filter(key=key).first() if key else None)


def _settle(attempt: Attempt, wamid: str) -> None:
    """The send's answer was lost (outbox row unknown); a status names the message: now we know it."""
    effect = outbox.match("whatsapp", provider_id=wamid) or SideEffect.objects.filter(key=attempt.key).first()
    if effect is not None and effect.state == SideEffectState.UNKNOWN:
        outbox.sent(effect, wamid)
    Attempt.objects.filter(pk=attempt.pk, provider_id="").update(provider_id=wamid)


def _link(exchange, attempt: Attempt, text: str, level: str = Level.INFO) -> None:
    """Show the event in the order's timeline (the Exchange names the order) with what it meant."""
    if exchange is not None:
        c = attempt.confirmation
        Exchange.objects.filter(pk=exchange.pk).update(order_id=c.order_id, store_id=c.store_id, level=level,
                                                       error=text[:4000])


def apply_status(job: Job, connection: Connection, ev: dict, exchange) -> None:
    effect = outbox.match("whatsapp", provider_id=ev["provider_id"], reference=ev.get("callback_data") or "")
    errors = "; ".join(f"{code} {title}".strip() for code, title in ev.get("errors") or [])
    if effect is not None and pay.is_chat_link(effect):
        # Noted first: a failed status on a row still 'sending' is retried (whatsapp_status raises), and the
        # status's own Exchange must say what it was on that first pass too, not only on the retry.
        jobs._note(exchange, Level.WARNING if ev["status"] == "failed" else Level.INFO,
                   f"pay link in the WhatsApp chat: {ev['status']}" + (f" ({errors})" if errors else ""))
        pay.whatsapp_status(effect, ev["provider_id"], ev["status"], errors)
        return
    attempt = _attempt(connection, provider_id=ev["provider_id"], key=effect.key if effect else "")
    if attempt is None:
        # A status can overtake our own record of the send (its answer is still being stored): wait a little.
        jobs._note(exchange, Level.WARNING, f"no attempt for WhatsApp message {ev['provider_id']!r} (yet)")
        raise RetryableError("whatsapp", "unknown_message", "message not known yet", retry_after=30)
    sent = effect if effect is not None and effect.key == attempt.key else \
        SideEffect.objects.filter(key=attempt.key).first()
    # Our correlation number came back in biz_opaque_callback_data; or the row turned 'unknown' (its sender's re-run)
    # after an earlier pass of this status named the attempt: the status names the message either way.
    if not attempt.provider_id or (sent is not None and sent.state == SideEffectState.UNKNOWN):
        _settle(attempt, ev["provider_id"])
    status, c = ev["status"], attempt.confirmation
    if status != "failed":
        _link(exchange, attempt, f"WhatsApp {status} (attempt {attempt.number})")
        # Still 'sending' (its sender was lost before writing Meta's answer): applied once it is written (or the
        # re-run's 'unknown' is settled above), or settles it sent on the last try — else it would end 'unknown'.
        whatsapp.retry_while_sending(sent, ev["provider_id"], status=status, answer_window=_answer_window(attempt))
        return
    _link(exchange, attempt, f"WhatsApp failed (attempt {attempt.number}): {errors}", Level.WARNING)
    # It never reached the customer and Meta charges only delivered templates (whatsapp.md §6): its outbox row
    # failed, so it no longer counts against the store's daily caps (core.spend counts failed rows as free).
    if sent is not None:
        outbox.undelivered(sent, f"WhatsApp reported it failed ({errors or 'no reason given'})")

    reason = f"WhatsApp message failed ({errors or 'no reason given'})"
    if attempt.state in (AttemptState.IN_FLIGHT, AttemptState.UNKNOWN) and c.state not in ROBOT_DONE:
        # It never reached the customer (not on WhatsApp, 131026, or another failure): the next step at once.
        jobs.after_no_answer(c, attempt, reason=reason, exchange=exchange, reached=False)
    elif _failed_unrecorded(attempt, sent) and c.state not in ROBOT_DONE:  # settled by an earlier try (below)
        jobs.undelivered_unrecorded(c, attempt, reason=reason, exchange=exchange)
    whatsapp.retry_while_sending(sent, ev["provider_id"], errors)  # the step above is done and is not repeated
    if _failed_unrecorded(attempt, sent) and c.state not in ROBOT_DONE:
        # Settled failed just now, on the last try: its sender was lost before recording the attempt. The next step
        # now, as for any failed template — not when the dead sender's job runs again (nor as a refusal then).
        jobs.undelivered_unrecorded(c, attempt, reason=reason, exchange=exchange)


def _answer_window(attempt: Attempt) -> float:
    """Seconds the attempt's message may still be answered, as its sender would have set (jobs.start_attempt): a row
    settled sent by a status must not close the attempt as unanswered at once."""
    c = attempt.confirmation
    step = jobs._step_for(c, attempt.number, attempt.channel if attempt.manual else None)
    return step.window_minutes * 60.0 if step is not None else 0.0


def _failed_unrecorded(attempt: Attempt, sent: SideEffect | None) -> bool:
    """The attempt's row was failed by Meta's status (it has Meta's id) before its sender recorded the attempt."""
    return (attempt.state == AttemptState.REQUESTED and sent is not None and sent.state == SideEffectState.FAILED
            and bool(sent.provider_id))


def apply_message(job: Job, connection: Connection, ev: dict, exchange) -> None:
    # Any message opens (or keeps open) the chat's customer service window, whatever it says (whatsapp.md §2): a
    # pay link chosen later by call or SMS may then go in this chat (cod_confirm.pay).
    whatsapp.customer_wrote(connection, shop.normalize_phone(ev["from_number"], connection.store.country),
                            pay.wrote_at(ev.get("sent_at"), exchange))
    ours = whatsapp.parse_payload(ev.get("payload") or "")
    attempt = _attempt(connection, key=ours[0]) if ours else None
    if attempt is not None and ev.get("context_id") and attempt.provider_id \
            and ev["context_id"] != attempt.provider_id:
        attempt = None  # a payload of ours on a message that is not the one it was sent with: not trusted
    if attempt is None:  # typed text, or a button without our payload: the same parser as an SMS reply
        jobs.route_text_reply(job.integration, connection.pk, ev["from_number"], ev.get("text") or ev.get("payload")
                              or "", exchange=exchange, channel=Channel.WHATSAPP, sent_at=ev.get("sent_at"))
        return
    c, action = attempt.confirmation, ours[1]
    _link(exchange, attempt, f"WhatsApp button {ev.get('text')!r} ({action}) on attempt {attempt.number}")
    if c.state in ROBOT_DONE and c.state != ConfirmationState.NEEDS_PERSON:
        jobs._note(exchange, Level.INFO, f"late or repeated tap for {c.order_label}: already {c.state}")
        return
    with transaction.atomic():  # the answered attempt and the decision together (a killed worker)
        Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.ANSWERED, answer=action,
                                                     answered_at=jobs.clock.now())
        if action == "pay" and jobs.config_of(c.integration).pay_offer:
            # The same path and keys as a typed PAY: tapping twice, or tapping and typing, sends one link.
            pay.choose_to_pay(c, channel=Channel.WHATSAPP, exchange=exchange, connection_id=connection.pk,
                              detail=f"tapped {ev.get('text') or action!r} on WhatsApp", sent_at=ev.get("sent_at"))
        elif action == "pay":  # the store stopped offering it after the message went out: a person answers
            c.move(ConfirmationState.NEEDS_PERSON, reason="customer tapped Pay now on WhatsApp, but paying now is "
                   "switched off", channel=Channel.WHATSAPP, exchange=exchange, expect=OPEN,
                   needs_person_reason="pay now switched off")
        elif action == "agent":
            c.move(ConfirmationState.NEEDS_PERSON, reason="customer asked for a person on WhatsApp",
                   channel=Channel.WHATSAPP, exchange=exchange, expect=OPEN, needs_person_reason="asked for a person")
        else:
            jobs.decide(c, Intent.CONFIRM if action == "confirm" else Intent.CANCEL, channel=Channel.WHATSAPP,
                        exchange=exchange, detail=f"tapped {ev.get('text') or action!r} on WhatsApp")
