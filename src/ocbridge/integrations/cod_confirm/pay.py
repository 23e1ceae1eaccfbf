"""Pay now instead of at the door: the customer's key 3 or "ÖDE"/"ОПЛАТА"/"PAY" during COD confirmation.

answer → case AWAITING_PAYMENT (compare-and-set: a repeated answer does nothing) → `SendPayLink` job (keyed per
case): a Payment for the order's total through the store's payment integration (core.registry.pay_link_makers;
none → a person) and its /pay/ link by SMS (the COD connection, through the outbox: once) or e-mail → the payment
integration says "paid" (core.registry.payment_listeners) → CONFIRMED; the payment integration writes its paid
status to the shop (opencart.writes), so no second status is written here. No payment within `pay_wait_hours` →
a person ("needs you").

A customer who chose on WhatsApp gets the link in that chat instead of by SMS, as a free-form text, while Meta's
customer service window is open: 24 h from the customer's last message (whatsapp.md §2, §5 131047; each message
counts by Meta's own timestamp of it — a webhook Meta redelivered days later must not reopen the window — else by
our receive time; cod_confirm.models.ChatWindow keeps the latest per number). A customer who chose by call or SMS
gets it in the chat of the store's WhatsApp number they wrote to within that window, if any (same caps and keys;
over the WhatsApp cap, or no chat open, the SMS goes as always). Otherwise, or when Meta refuses the text or reports
it failed, the link goes by SMS as before, and the case says why. The chat text has its own outbox key, so a retried
or restarted run never sends it twice, a run that began the SMS never turns to the chat, and a doubtful send (answer
lost) is never followed by an SMS of the same link.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from django.db import transaction
from django.utils.translation import gettext_noop

from ocbridge.core import clock, optouts, outbox, spend
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import RetryableError
from ocbridge.core.jobkinds import about_order
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import Connection, Integration, Job, SideEffect
from ocbridge.core.registry import pay_link_makers, register_payment_listener
from ocbridge.core.sentences import Sentence, sentence_of
from ocbridge.integrations.cod_confirm import mappers, plan, risk, rules, shop, whatsapp
from ocbridge.integrations.cod_confirm.choices import AWAITING, OPEN, Channel, ConfirmationState
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.integrations.cod_confirm.providers import client_class, client_for

KIND = "cod_confirm"
WAITING = ConfirmationState.AWAITING_PAYMENT
LATE = "not paid in time"
# Meta's customer service window (whatsapp.md §2), less a margin for the time our text takes to reach Meta.
CHAT_WINDOW = timedelta(hours=24) - timedelta(minutes=5)
CHAT = "whatsapp"  # the last part of the chat text's outbox key
NOT_IN_CHAT = "pay link not sent in the WhatsApp chat"  # the start of the reason recorded when SMS takes over


def _key(c: Confirmation, *parts) -> str:
    return ":".join([KIND, str(c.store_id), str(c.order_id), *map(str, parts)])


def gateway_of(store) -> Integration | None:
    """The store's enabled payment integration (the first, when it runs several)."""
    return (Integration.objects.filter(store=store, kind__in=list(pay_link_makers), enabled=True)
            .exclude(connection=None).order_by("pk").first())


def choose_to_pay(c: Confirmation, *, channel: str, detail: str, exchange=None, connection_id=None,
                  sent_at: int | None = None) -> bool:
    """The customer chose to pay now: the case waits for the payment, and the link is sent by its own job.
    `sent_at`: the provider's Unix time of the customer's message (WhatsApp: Meta's `timestamp`), when it gave one."""
    cfg = CodConfirmConfig.from_settings(c.integration.settings)
    if c.transitions.filter(to_state=WAITING).exists():
        # Chosen before (the case went to a person since: not paid in time, link not sent): its job keys are used,
        # so moving back would wait forever with no new link and no deadline. A person has the case.
        return False
    with transaction.atomic():
        if not c.move(WAITING, reason=f"the customer chose to pay by card ({detail}); sending a pay link",
                      channel=channel, exchange=exchange, expect=OPEN | AWAITING | {"needs_person"},
                      next_attempt_at=None):
            return False  # a repeated answer: the first one's link is on its way
        payload = {"confirmation_id": c.pk, "connection_id": connection_id, "channel": channel}
        if channel == Channel.WHATSAPP:  # the customer's message opened (or kept open) the chat window
            payload["wrote_at"] = wrote_at(sent_at, exchange).isoformat()
        Job.objects.enqueue(SendPayLink, key=_key(c, "pay-link"), integration=c.integration, payload=payload)
        Job.objects.enqueue(PayWaitOver, key=_key(c, "pay-wait"), integration=c.integration,
                            run_at=clock.now() + timedelta(hours=cfg.pay_wait_hours),
                            payload={"confirmation_id": c.pk})
    return True


def wrote_at(sent_at: int | None, exchange=None) -> dt.datetime:
    """When the customer's WhatsApp message opened (or refreshed) the chat window. Meta counts the window from the
    message (developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages, "Customer
    service windows"), and its webhook carries Meta's time of it, `messages[].timestamp` in Unix seconds
    (…/whatsapp/webhooks/reference/messages/text and …/button). Our receive time can be far later: Meta redelivers a
    webhook we missed for up to 7 days (whatsapp.md §4). So Meta's time when given; our receive time when it is
    absent or unreadable, and when it is later than that (clocks that disagree: never count the window longer)."""
    received = exchange.created if exchange is not None else clock.now()
    try:
        meta = dt.datetime.fromtimestamp(int(sent_at), tz=dt.timezone.utc) if sent_at else None
    except (TypeError, ValueError, OverflowError, OSError):
        meta = None
    return min(meta, received) if meta is not None else received


def _english(exc: BaseException) -> str:
    """An error's text for the stored reason (logs): in English where it was said (core.sentences)."""
    said = sentence_of(exc)
    return said.english() if said is not None else str(exc)


def _to_person(c: Confirmation, why: str, short: str, said: Sentence | None = None) -> None:
    c.move(ConfirmationState.NEEDS_PERSON, reason=why, expect={WAITING}, needs_person_reason=short, said=said)


@register_job_kind
class SendPayLink(JobKind):
    """Make the order's payment and send its link once (the payment and the message are each keyed)."""

    kind = "cod_confirm.send_pay_link"
    max_attempts = 8

    def run(self, job: Job) -> None:
        c = Confirmation.objects.select_related("integration", "store").get(pk=job.payload["confirmation_id"])
        about_order(c.order_id)
        if c.state != WAITING:
            return
        gateway = gateway_of(c.store)
        if gateway is None:  # refused cleanly: nothing half-made, a person takes the order
            _to_person(c, "pay link not made: the store has no payment integration switched on",
                       "no payment integration")
            return
        try:
            link = pay_link_makers[gateway.kind](gateway, c.order_id, origin="cod", actor="cod confirmation")
        except ValueError as exc:  # no amount to take, or the order is gone
            _to_person(c, f"pay link not made: {_english(exc)}", "pay link not made",
                       Sentence(gettext_noop("pay link not made: {detail}"), detail=sentence_of(exc) or str(exc)))
            return
        cfg = CodConfirmConfig.from_settings(c.integration.settings)
        key = _key(c, "pay-link", link.payment_id)
        text = mappers.fill(cfg.text(cfg.pay_link_texts, c.language), name=c.customer_name, order_label=c.order_label,
                            total=c.total, currency=c.currency, shop=c.store.name, items=c.item_count,
                            with_details=False) + " " + link.url
        if cfg.pay_link_channel == "email":
            sent = _by_email(c, key, text)
        else:
            sent = _in_chat(c, key, text, job.payload)
            if not sent and c.state == WAITING:  # not in the chat, and not handed to a person instead
                sent = _by_sms(c, cfg, key, text, job.payload.get("connection_id"))
        if sent:
            c.move(WAITING, reason=f"pay link for {link.amount} sent by {sent} (reference {link.reference}); "
                                   f"waiting until {clock.now() + timedelta(hours=cfg.pay_wait_hours):%Y-%m-%d %H:%M} UTC",
                   channel=sent if sent in Channel.values else "", expect={WAITING})


def _not_in_chat(c: Confirmation, why: str, said: Sentence | None = None) -> str:
    """SMS takes over from the chat: the case says why, once (a retried run decides the same). `said`: `why` as a
    Sentence, when it holds words the reasons' patterns cannot translate."""
    reason = f"{NOT_IN_CHAT}: {why}; sending it by SMS"
    if not c.transitions.filter(to_state=WAITING, reason__startswith=NOT_IN_CHAT).exists():
        c.move(WAITING, reason=reason, expect={WAITING}, said=Sentence(
            gettext_noop("pay link not sent in the WhatsApp chat: {why}; sending it by SMS"), why=said) if said else None)
    return ""


def _requested(c: Confirmation, key: str, kind: str, connection: Connection, *,
               to_person: bool = True) -> SideEffect | None:
    """The pay link message's outbox row, inside the store's daily caps (core.spend); None when a cap is reached:
    the case goes to a person, the cap named (`to_person` False: the caller has another way; nothing recorded)."""
    effect, over_cap = spend.request(key, kind=kind, service=connection.service, store=c.store,
                                     connection=connection, integration=c.integration)
    if effect is None and to_person:
        _to_person(c, f"pay link not sent: the store's daily cap is reached ({over_cap})", "daily cap reached")
    return effect


def _in_chat(c: Confirmation, key: str, text: str, payload: dict) -> str:
    """The link as a text in a WhatsApp chat with the customer while its window is open: the chat they chose in, or
    — chosen by call or SMS — the store's WhatsApp number they last wrote to. "whatsapp" when sent (or sent in
    doubt: never followed by an SMS), "" when SMS is to take over (the reason recorded when a chat was meant)."""
    if payload.get("chat_failed"):  # the text went, then Meta said it failed (whatsapp_status)
        return _not_in_chat(c, f"WhatsApp could not deliver it ({payload['chat_failed']})")
    chat_key = f"{key}:{CHAT}"
    effect = SideEffect.objects.filter(key=chat_key).first()
    in_chat = payload.get("channel") == Channel.WHATSAPP
    if effect is None and SideEffect.objects.filter(key=key).exists():
        return ""  # this link's SMS was begun already (an earlier run): it never goes both ways
    connection, wrote = _chat_of(c, payload, effect)
    if connection is None:
        return ""
    open_until = wrote + CHAT_WINDOW if wrote else None
    if effect is None or effect.state in (SideEffectState.REQUESTED, SideEffectState.PAUSED):
        if open_until is None or clock.now() >= open_until:
            if effect is not None:
                outbox.cancel(effect, "the WhatsApp chat window closed before sending")
            if not in_chat and effect is None:
                return ""  # chosen by call or SMS, no chat open: the SMS as always, nothing to explain
            return _not_in_chat(c, "the customer's last WhatsApp message is more than 24 hours old")
    if effect is None:
        # Chosen by call or SMS, the chat is only a better way: over the WhatsApp cap, the SMS goes as always.
        effect = _requested(c, chat_key, "whatsapp", connection, to_person=in_chat)
        if effect is None:
            return ""
    client = client_for(connection)
    effect = outbox.perform(effect, lambda e: client.send_text(to=c.phone, text=text, key=chat_key,
                                                               reference=str(e.correlation)).provider_id)
    if effect.state in (SideEffectState.SENT, SideEffectState.UNKNOWN):
        return Channel.WHATSAPP
    if effect.state == SideEffectState.FAILED:
        return _not_in_chat(c, f"WhatsApp refused it ({effect.error})",
                            Sentence(gettext_noop("WhatsApp refused it ({detail})"), detail=outbox.refusal(effect)))
    if effect.state == SideEffectState.CANCELLED:  # withdrawn while switched off: as the SMS path, a person
        _to_person(c, "pay link not sent: withdrawn before sending", "pay link not sent")
        return ""
    raise RetryableError(connection.service, "pay_link", "pay link WhatsApp text not sent yet", retry_after=60)


def _chat_of(c: Confirmation, payload: dict, effect: SideEffect | None) -> tuple[Connection | None, dt.datetime | None]:
    """The WhatsApp connection the link would go through in a chat, and when the customer last wrote to it. A text
    begun already keeps its connection; chosen on WhatsApp → that chat (the choosing message, or a later one);
    chosen by call or SMS → the plan's WhatsApp number the customer wrote to last, unless the store does not use
    WhatsApp for this number (its countries) or the number opted out of it."""
    ours = Connection.objects.filter(store_id=c.store_id)
    if effect is not None:
        candidates = list(ours.filter(pk=effect.connection_id))
    elif payload.get("channel") == Channel.WHATSAPP:
        candidates = list(ours.filter(pk=payload.get("connection_id")))
    else:
        cfg = CodConfirmConfig.from_settings(c.integration.settings)
        if rules.step_skip_reason(Channel.WHATSAPP, c.phone, cfg) or optouts.blocked(c.store, c.phone, Channel.WHATSAPP):
            return None, None
        candidates = list(ours.filter(enabled=True, pk__in=[s.connection_id for s in plan.steps(c.integration)
                                                            if s.channel == Channel.WHATSAPP]))
    candidates = [x for x in candidates if client_class(x.service).capabilities.can_whatsapp]
    if not candidates:
        return None, None
    found = whatsapp.last_wrote(candidates, c.phone)
    connection = next((x for x in candidates if found and x.pk == found[0]), candidates[0])
    times = [found[1]] if found and found[0] == connection.pk else []
    if payload.get("channel") == Channel.WHATSAPP and payload.get("wrote_at"):
        times.append(dt.datetime.fromisoformat(payload["wrote_at"]))
    return connection, max(times) if times else None


def whatsapp_status(effect: SideEffect, provider_id: str, status: str, errors: str) -> bool:
    """A status of a pay link sent in the chat (core.outbox.match found its row): True when it was one. Failed
    (e.g. 131047, the window had closed; 131026) → its outbox row failed, so it no longer counts against the store's
    caps (it never reached the customer, and Meta charges only delivered templates: whatsapp.md §6), and the link
    goes by SMS, by a job of its own (keyed: once). A status on a row still 'sending' is applied again once the send is
    written, or settles it on the status job's last try (cod_confirm.whatsapp.retry_while_sending)."""
    if not is_chat_link(effect):
        return False
    if effect.state == SideEffectState.UNKNOWN:  # the send's answer was lost; the status names the message
        outbox.sent(effect, provider_id)
    if status != "failed":  # still 'sending' (its sender was lost before writing it): applied once it is written
        whatsapp.retry_while_sending(effect, provider_id, status=status)
        return True
    outbox.undelivered(effect, f"WhatsApp reported it failed ({errors or 'no reason given'})")
    if effect.job_id is not None:
        c = Confirmation.objects.filter(pk=(effect.job.payload or {}).get("confirmation_id"), state=WAITING).first()
        if c is not None:
            chosen = effect.job.payload or {}  # chosen by call or SMS: the SMS through that connection, as always
            Job.objects.enqueue(SendPayLink, key=_key(c, "pay-link", "after-chat"), integration=c.integration,
                                payload={"confirmation_id": c.pk, "channel": Channel.SMS,
                                         "connection_id": chosen.get("connection_id")
                                         if chosen.get("channel") != Channel.WHATSAPP else None,
                                         "chat_failed": errors or "no reason given"})
    # Still 'sending' (the status overtook the send's answer): failed once it is written. The SMS goes now.
    whatsapp.retry_while_sending(effect, provider_id, errors)
    return True


def is_chat_link(effect: SideEffect) -> bool:
    """Whether the outbox row is a pay link sent as a text in the WhatsApp chat."""
    return effect.key.startswith(f"{KIND}:") and ":pay-link:" in effect.key and effect.key.endswith(f":{CHAT}")


def _by_sms(c: Confirmation, cfg: CodConfirmConfig, key: str, text: str, connection_id) -> str:
    """Through the COD connection the answer came on (when it can text), else the plan's first SMS step."""
    connection = Connection.objects.filter(pk=connection_id, store_id=c.store_id).first()
    if connection is None or not client_class(connection.service).capabilities.can_sms:
        step = plan.first_step_for(c.integration, Channel.SMS)
        connection = step.connection if step else None
    if connection is None or not client_class(connection.service).capabilities.can_sms:
        _to_person(c, "pay link not sent: the channel plan has no SMS connection", "pay link not sent")
        return ""
    effect = _requested(c, key, "sms", connection)
    if effect is None:
        return ""
    client = client_for(connection)
    effect = outbox.perform(effect, lambda e: client.send_sms(to=c.phone, text=text, key=key,
                                                              reference=str(e.correlation),
                                                              sender=cfg.sms_sender or None).provider_id)
    if effect.state == "failed":
        _to_person(c, f"pay link not sent: {connection.service} refused it ({effect.error})", "pay link not sent",
                   Sentence(gettext_noop("pay link not sent: {service} refused it ({detail})"),
                            service=connection.service, detail=outbox.refusal(effect)))
        return ""
    if effect.state == "cancelled":
        _to_person(c, "pay link not sent: withdrawn before sending", "pay link not sent")
        return ""
    if effect.state in ("requested", "paused", "sending"):
        raise RetryableError(connection.service, "pay_link", "pay link SMS not sent yet", retry_after=60)
    return Channel.SMS


def _by_email(c: Confirmation, key: str, text: str) -> str:
    from ocbridge.core import mail

    orders = shop.read_orders(c.store, [c.order_id])
    email = orders[0].email if orders else ""
    if not email:
        _to_person(c, "pay link not sent: the order has no e-mail address", "pay link not sent")
        return ""
    try:
        mail.queue(key, to=email, subject=f"{c.store.name}: {c.order_label}", body=text, store=c.store)
    except (mail.MailNotSet, ValueError) as exc:
        _to_person(c, f"pay link not sent: {_english(exc)}", "pay link not sent",
                   Sentence(gettext_noop("pay link not sent: {detail}"), detail=sentence_of(exc) or str(exc)))
        return ""
    return "email"


@register_job_kind
class PayWaitOver(JobKind):
    """The time to pay is over: a case still waiting goes to a person (the order still needs a decision)."""

    kind = "cod_confirm.pay_wait_over"

    def run(self, job: Job) -> None:
        c = Confirmation.objects.get(pk=job.payload["confirmation_id"])
        about_order(c.order_id)
        _to_person(c, "the customer chose to pay by card but has not paid in time", LATE)


@register_payment_listener(KIND)
def payment_taken(store, order_id: int, *, reference: str, state: str) -> None:
    """The order's payment was taken: its COD case is confirmed by the customer. The payment integration writes
    its paid status to the shop; a late payment after the case went to a person confirms it all the same."""
    c = Confirmation.objects.filter(store=store, order_id=order_id, state=WAITING).first() or \
        Confirmation.objects.filter(store=store, order_id=order_id, state=ConfirmationState.NEEDS_PERSON,
                                    needs_person_reason=LATE).first()
    if c is None:
        return
    chosen_on = c.transitions.filter(to_state=WAITING).exclude(channel="").values_list("channel", flat=True).first()
    if c.move(ConfirmationState.CONFIRMED, reason=f"paid by card ({state}, reference {reference})",
              channel=chosen_on or "", expect={c.state}, decided_by="customer", decided_at=clock.now()):
        risk.record(c.store, c.phone, "confirmed")
