"""Order status by phone on Netgsm Netsantral, which cannot speak into an inbound call or collect keys.

On the "Inbound_call" event (netsantral README, "Webhook Santral Dinleme") the caller's number goes through
the same `flow.decide()` as a spoken lookup (line check, hidden caller, rate limit, orders by the caller's
number only), and instead of speaking:
- the latest order's status goes to the caller at once by SMS (default) or as a text-to-speech voice
  message call-back (`netgsm_answer` = "voice");
- where the owner set a representative, the live call is transferred there (call control `xfer`);
- a caller with no order, or one we may not tell, is only transferred (or left to the PBX's own routing).
Both side effects are Jobs keyed by the call's unique_id and made through the outbox (core.outbox), so a
repeated event or a retried job sends nothing twice, and a doubtful send is never repeated.
A caller on the do-not-contact list (core.optouts) gets no SMS and no call-back on the channel they refused (the
other one when it is allowed), checked when the call comes in and again right before sending; the transfer of
their own live call still happens.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from ocbridge.core import optouts, outbox, spend
from ocbridge.core.jobs import JobKind, register_job_kind
from ocbridge.core.models import Job
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.order_lookup import flow, mappers, rules
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.models import LookupCall

CHANNELS = ("sms", "voice")


def exten(rep_target: str) -> str | None:
    """Netsantral `exten` for the representative: an extension or a phone number (`user/1001`, `external/05…`,
    `0532…`); a queue or group target has no number to transfer to → None."""
    value = (rep_target or "").strip()
    m = re.fullmatch(r"(?:user|external)/(\+?\d+)", value)
    if m:
        return m.group(1).lstrip("+")
    d = re.sub(r"\D", "", value)
    return d if d and re.fullmatch(r"[\d\s()+-]+", value) else None


def status_text(turn: flow.Turn) -> str:
    """What the caller receives: the shop's name and the order part of the decision (no keypad menu)."""
    speech = [s for s in turn.decision.speech if s.key == "order"]
    body = mappers.say(turn.cfg, rules.Decision("hangup", speech=speech), turn.lang, turn.shop_name)
    return f"{turn.shop_name}: {body}" if turn.shop_name else body


def answer_inbound_call(connection, *, unique_id: str, caller_raw: str,
                        called: str) -> tuple[flow.Turn, str, str | Sentence]:
    """Decide and queue what a Netsantral inbound call gets. Returns (turn, what we did as text, log detail)."""
    turn = flow.decide(connection, flow.CallInput(service="netgsm", call_id=unique_id, caller_raw=caller_raw,
                                                  called=called, region="TR"))
    if turn.replay or turn.call is None:
        return turn, "", turn.detail or "repeated event"
    call, d, cfg = turn.call, turn.decision, turn.cfg
    told = d.order_id is not None and any(s.key == "order" for s in d.speech)
    target = exten(cfg.rep_target)
    done: list[str] = []
    final_reason = d.reason
    if told:
        channel = cfg.netgsm_answer if cfg.netgsm_answer in CHANNELS else "sms"
        if channel == "voice" and turn.lang != "tr":  # Netgsm's text to speech reads Turkish only (§2.2)
            channel = "sms"
        channel = allowed_channel(call.store, call.caller, channel, turn.lang)
    if told and channel is None:
        told, final_reason = False, Reason.OPTED_OUT
        done.append("[no SMS or call-back: the caller is on the do-not-contact list]")
    elif told:
        text = status_text(turn)
        _save(call)
        Job.objects.enqueue(SendStatus, key=f"order_lookup:{call.store_id}:netgsm:{unique_id}:{channel}",
                            store=call.store, payload={"call": call.pk, "channel": channel, "text": text,
                                                       "lang": turn.lang})
        final_reason = Reason.SENT_SMS if channel == "sms" else Reason.SENT_VOICE
        done.append(f"[{'SMS' if channel == 'sms' else 'voice message'}] {text}")
    elif d.action == "prompt":  # no order for this number: Netsantral cannot ask for an order number
        final_reason = Reason.NOT_FOUND
    if target:
        _save(call)
        Job.objects.enqueue(TransferCall, key=f"order_lookup:{call.store_id}:netgsm:{unique_id}:xfer",
                            store=call.store, payload={"call": call.pk, "exten": target})
        done.append(f"[transfer to {target}]")
    action = "transfer" if target else "hangup"
    turn.decision = rules.Decision(action, reason=final_reason, order_id=d.order_id)
    if not told and not target:
        done.append("[not handled: no order we may send and no representative set; the PBX routes the call]")
    return turn, "\n".join(done), turn.detail


def allowed_channel(store, caller: str, channel: str, lang: str) -> str | None:
    """The owner's channel, else the other one the caller has not refused (voice only in Turkish); None: neither."""
    others = [c for c in CHANNELS if c != channel and (c != "voice" or lang == "tr")]
    return next((c for c in [channel, *others] if not optouts.blocked(store, caller, _OPTOUT_CHANNEL[c])), None)


_OPTOUT_CHANNEL = {"sms": "sms", "voice": "call"}


class DuplicateEvent(Exception):
    """The same inbound-call event is being handled by a parallel request."""


def _save(call: LookupCall) -> None:
    """The call row must exist before its jobs point at it; a parallel first insert means a duplicate event."""
    if call.pk is not None:
        return
    try:
        with transaction.atomic():
            call.save(force_insert=True)
    except IntegrityError:
        raise DuplicateEvent(call.call_id) from None


def record(turn: flow.Turn, text: str, exchange) -> None:
    """Remember on the call row what was sent (flow.finish) — NOT_HANDLED when nothing could be done."""
    flow.finish(turn, spoken=text, response="OK", exchange=exchange)
    call = turn.call
    if call is not None and not turn.replay and turn.decision.action == "hangup" and \
            turn.decision.reason not in (Reason.SENT_SMS, Reason.SENT_VOICE):
        LookupCall.objects.filter(pk=call.pk).update(outcome=CallOutcome.NOT_HANDLED)


def _client(call: LookupCall):
    from ocbridge.services.netgsm import NetgsmClient

    return NetgsmClient(call.connection)


@register_job_kind
class SendStatus(JobKind):
    """The order status to the caller: SMS, or a voice message (text to speech) calling them back."""

    kind = "order_lookup.netgsm_send_status"
    max_attempts = 5

    def run(self, job: Job) -> None:
        call = LookupCall.objects.select_related("connection", "store").get(pk=job.payload["call"])
        client, to, text = _client(call), call.caller, job.payload["text"]
        voice = job.payload["channel"] == "voice"
        effect, over_cap = spend.request(job.key, kind="call" if voice else "sms", service="netgsm", store=call.store,
                                         connection=call.connection)
        if effect is None:  # the store's daily cap: the caller's live call still reaches the person
            LookupCall.objects.filter(pk=call.pk).update(reason=Reason.OVER_CAP)
            return
        if optouts.blocked(call.store, to, _OPTOUT_CHANNEL[job.payload["channel"]]):  # opted out since the call
            if outbox.cancel(effect, "the number is on the do-not-contact list"):
                LookupCall.objects.filter(pk=call.pk).update(reason=Reason.OPTED_OUT)
            return
        if voice:
            outbox.perform(effect, lambda e: client.send_voice_message(
                to=to, text=text, key=job.key, language=job.payload.get("lang") or "tr",
                reference=str(e.correlation)).provider_id)
        else:
            outbox.perform(effect, lambda e: client.send_sms(to=to, text=text, key=job.key,
                                                             reference=str(e.correlation)).provider_id)


@register_job_kind
class TransferCall(JobKind):
    """The live call to the owner's representative (Netsantral blind transfer). Late is useless: few attempts."""

    kind = "order_lookup.netgsm_transfer"
    max_attempts = 2
    backoff_base = 2.0

    def run(self, job: Job) -> None:
        call = LookupCall.objects.select_related("connection", "store").get(pk=job.payload["call"])
        client = _client(call)
        effect = outbox.request(job.key, kind="call_transfer", service="netgsm", store=call.store,
                                connection=call.connection)
        outbox.perform(effect, lambda e: client.transfer_call(unique_id=call.call_id, to=job.payload["exten"],
                                                              key=job.key, reference=str(e.correlation))
                       and call.call_id)
