"""Inbound call webhooks of order lookup: the PBX asks what to do, we answer at once (no job: the caller waits).

The core view (`core.webhooks.webhook`) has already checked the URL token and IP allowlist and built the
inbound Exchange (saved here with the answer). Here: Twilio's signature, the provider's fields → `flow.decide()` →
the provider's answer format; the Exchange is closed with the decision. A request we cannot use is still
answered with a transfer to the representative (never silence or a 500 to a live call).

- Verimor "Santral Programlama" (advisory_webhook.md): GET `?uuid&cli&cld&step[&digits&error]` → JSON.
- Twilio voice: form POST (`CallSid`, `From`, `To`, `Digits` on our Gather's action) → TwiML.
- Netgsm Netsantral: only passive "Webhook Santral Dinleme" events are documented (JSON POST with
  `scenario`, `unique_id`, `customer_num`, `pbx_num`…); nothing in them lets us speak, so the status goes
  out by SMS or voice message and the call is transferred by call control (order_lookup/netgsm.py).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext_noop

from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.registry import register_webhook
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.order_lookup import flow, mappers
from ocbridge.integrations.order_lookup.choices import WARNING_REASONS, Reason

log = logging.getLogger(__name__)


def _text(value) -> str:
    """A provider's field as text for our rows: an object or list is not text (""); NUL, which PostgreSQL
    stores in no text column, becomes U+FFFD (the raw request keeps it, escaped)."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).replace("\x00", "\ufffd")


def _fields(request) -> dict[str, str]:
    data = dict(request.GET.items())
    if request.method == "POST":
        data.update(request.POST.items())
    return {_text(k): _text(v) for k, v in data.items()}


def _decided(d, detail: str | Sentence) -> str | Sentence:
    """The log's line for a decision: "action: reason — why", the why said in the reader's language when it was."""
    if isinstance(detail, Sentence):
        return Sentence(gettext_noop("{action}: {reason} — {detail}"), action=d.action, reason=str(d.reason),
                        detail=detail)
    return f"{d.action}: {d.reason}" + (f" — {detail}" if detail else "")


def _close(exchange, turn: flow.Turn, body: str, spoken: str) -> None:
    d = turn.decision
    warn = d.reason in WARNING_REASONS
    if warn:
        log.warning("order lookup call %s: %s (%s)", exchange.event_id, d.reason,
                    turn.detail.english() if isinstance(turn.detail, Sentence) else turn.detail)
    with transaction.atomic():  # one commit for the raw request, the answer and the call row
        close_inbound(exchange, status=200, level=Level.WARNING if warn else Level.INFO, error=_decided(d, turn.detail),
                      response_body=body, order_id=d.order_id or (turn.call.order_id if turn.call else None))
        flow.finish(turn, spoken=spoken, response=body, exchange=exchange)


def _safe(build_fallback, last_resort: tuple[str, str]):
    """Any bug below still answers the PBX (with a transfer) and leaves an error in the log, not a 500."""

    def deco(fn):
        def handler(request, connection, exchange):
            try:
                return fn(request, connection, exchange)
            except Exception as exc:
                log.exception("order lookup webhook failed")
                try:
                    body, ctype = build_fallback(connection)
                    close_inbound(exchange, status=200, level=Level.ERROR, outcome=ExchangeOutcome.FAILED,
                                  error=f"transfer: internal error — {type(exc).__name__}: {exc}"[:4000],
                                  response_body=body)
                except Exception:  # the hub's own database is failing: answer without it
                    log.exception("order lookup fallback failed")
                    body, ctype = last_resort
                return HttpResponse(body, content_type=ctype)

        handler.__name__ = fn.__name__
        return handler

    return deco


def _cfg(connection):
    from ocbridge.core import config_cache
    from ocbridge.integrations.order_lookup.config import OrderLookupConfig

    integration = config_cache.integration(connection.store_id, flow.KIND)
    cfg = OrderLookupConfig.from_settings(integration.settings if integration else None)
    return cfg, cfg.language_for(connection.store.language)


# --- Verimor ---------------------------------------------------------------------------------------------


def _verimor_fallback(connection) -> tuple[str, str]:
    from ocbridge.integrations.order_lookup import rules

    cfg, lang = _cfg(connection)
    answer = mappers.verimor_answer(cfg, rules.transfer(Reason.BAD_REQUEST), lang, connection.store.name)
    return json.dumps(answer, ensure_ascii=False), "application/json"


@register_webhook("verimor", "call-decision")
@_safe(_verimor_fallback, ('{"transfer": {"target": "hangup/hangup"}}', "application/json"))
def verimor_call_decision(request, connection, exchange) -> HttpResponse:
    f = _fields(request)
    inp = flow.CallInput(service="verimor", call_id=f.get("uuid", "").strip(), caller_raw=f.get("cli", "").strip(),
                         called=f.get("cld", "").strip(), digits=f.get("digits"), error=f.get("error", ""),
                         region="TR")  # a Turkish PBX: `05301234567` national, `0049…` abroad
    step = f.get("step", "").strip()
    if not inp.call_id:
        inp.bad = "missing uuid"
    elif not step.isdigit() or int(step) < 1:
        inp.bad = f"missing or bad step {step!r}"
    else:
        inp.step = int(step)
    exchange.event_id = f"{inp.call_id}:{step}"[:255]
    turn = flow.decide(connection, inp)
    if turn.replay:
        close_inbound(exchange, status=200, response_body=turn.replay, error="repeated step: same answer again")
        return HttpResponse(turn.replay, content_type="application/json")
    answer = mappers.verimor_answer(turn.cfg, turn.decision, turn.lang, turn.shop_name)
    body = json.dumps(answer, ensure_ascii=False)
    spoken = next(iter(answer.values())).get("phrase") or next(iter(answer.values())).get("greet_phrase", "")
    _close(exchange, turn, body, spoken)
    return HttpResponse(body, content_type="application/json")


# --- Twilio ----------------------------------------------------------------------------------------------


def _twilio_url(request) -> str:
    """The public URL Twilio called (what it signed), rebuilt from PUBLIC_URL, not the internal host."""
    return settings.PUBLIC_URL + request.get_full_path()


def _twilio_fallback(connection) -> tuple[str, str]:
    from ocbridge.integrations.order_lookup import rules

    cfg, lang = _cfg(connection)
    return mappers.twiml(cfg, rules.transfer(Reason.BAD_REQUEST), lang, connection.store.name, ""), "text/xml"


@register_webhook("twilio", "voice")
@_safe(_twilio_fallback, ('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>', "text/xml"))
def twilio_voice(request, connection, exchange) -> HttpResponse:
    from ocbridge.services.base import form_of
    from ocbridge.services.twilio import signature_algorithm, validate_signature, webhook_params

    if not validate_signature(connection.credentials().get("auth_token", ""), _twilio_url(request),
                              webhook_params(request), request.headers.get("X-Twilio-Signature", ""),
                              signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))):
        close_inbound(exchange, status=403, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING,
                      error="bad or missing X-Twilio-Signature")
        return HttpResponse("forbidden", status=403)
    try:  # every value of a repeated field; two different values of one field is a bad request, not a guess
        f, bad = form_of({**dict(request.GET.lists()), **dict(request.POST.lists())}), ""
    except ValueError as exc:
        f, bad = {}, str(exc)
    f = {_text(k): _text(v) for k, v in f.items()}
    inp = flow.CallInput(service="twilio", call_id=f.get("CallSid", "").strip(), caller_raw=f.get("From", "").strip(),
                         called=f.get("To", "").strip(), digits=f.get("Digits"))
    if bad:
        inp.bad = bad
    elif not inp.call_id:
        inp.bad = "missing CallSid"
    exchange.event_id = inp.call_id[:255]
    turn = flow.decide(connection, inp)
    if turn.replay:
        close_inbound(exchange, status=200, response_body=turn.replay, error="repeated request: same answer again")
        return HttpResponse(turn.replay, content_type="text/xml")
    action = settings.PUBLIC_URL + request.path  # the Gather comes back here; state lives on the call row
    body = mappers.twiml(turn.cfg, turn.decision, turn.lang, turn.shop_name, action)
    _close(exchange, turn, body, mappers.say(turn.cfg, turn.decision, turn.lang, turn.shop_name))
    return HttpResponse(body, content_type="text/xml")


# --- Netgsm ----------------------------------------------------------------------------------------------


@register_webhook("netgsm", "pbx-event")
def netgsm_pbx_event(request, connection, exchange) -> HttpResponse:
    """Netsantral events: an inbound call gets its status by SMS or voice message and a transfer (netgsm.py)."""
    try:
        event = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        event = None
    if not isinstance(event, dict):
        close_inbound(exchange, status=200, level=Level.WARNING, error="not a JSON object; ignored")
        return HttpResponse("OK")
    scenario, unique_id = _text(event.get("scenario")), _text(event.get("unique_id"))
    exchange.event_id = f"{unique_id}:{scenario}"[:255]
    if scenario == "Inbound_call" and unique_id:
        from ocbridge.integrations.order_lookup import netgsm

        try:
            with transaction.atomic():  # the raw event, the call row and its jobs in one commit
                turn, done, detail = netgsm.answer_inbound_call(
                    connection, unique_id=unique_id, caller_raw=_text(event.get("customer_num")),
                    called=_text(event.get("incoming_number") or event.get("pbx_num")))
                d = turn.decision
                if turn.replay:
                    raise netgsm.DuplicateEvent(unique_id)
                warn = d.reason in WARNING_REASONS or "not handled" in done
                close_inbound(exchange, status=200, level=Level.WARNING if warn else Level.INFO, response_body="OK",
                              error=_decided(d, detail),
                              order_id=d.order_id)
                netgsm.record(turn, done, exchange)
        except netgsm.DuplicateEvent:
            close_inbound(exchange, status=200, response_body="OK", error="repeated event: already handled")
    else:
        close_inbound(exchange, status=200, response_body="OK", error=f"event {scenario or '?'} recorded")
    return HttpResponse("OK")
