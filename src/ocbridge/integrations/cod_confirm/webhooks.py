"""Inbound webhooks of COD confirmation: authenticate, parse just enough for the event id, store, answer fast.

The core view (`core.webhooks.webhook`) has already checked the URL token and IP allowlist and built the
inbound Exchange; it is saved here with the answer and the jobs its events ask for, which the worker queues
(core.inbox). Nothing here calls out or writes to the shop.
"""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError

from ocbridge.core import inbox
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.registry import register_webhook
from ocbridge.integrations.cod_confirm import routing
from ocbridge.integrations.cod_confirm.providers import CLIENTS, service_module

log = logging.getLogger(__name__)

# Calls have their own hook. SMS replies and delivery reports share one: several providers push both kinds
# to a single URL (Verimor's panel has one push URL; Sandbox replies follow the last SMS's callback).
CALL_HOOK, SMS_HOOKS = "call-result", ("sms", "sms-inbound", "sms-report")
JOB_FOR = {"CallResult": "cod_confirm.apply_call_result", "InboundSms": "cod_confirm.apply_sms_reply",
           "DeliveryReport": "cod_confirm.apply_delivery_report"}


def parse_events(service: str, hook: str, payload, content_type: str) -> list:
    """Every event in one request (a Verimor push may carry several); [] for progress pings."""
    module = service_module(service)
    if hook == CALL_HOOK:
        event = module.parse_call_result(payload, content_type)
        return [event] if event is not None else []
    if hasattr(module, "parse_sms_push"):
        return list(module.parse_sms_push(payload, content_type))
    for parser in ("parse_inbound_sms", "parse_delivery_report"):
        event = getattr(module, parser)(payload, content_type)
        if event is not None:
            return [event]
    return []


def request_payload(request, service: str):
    """Form or query fields as a dict; anything else (JSON, XML) as raw bytes for the service's parser.

    Every value of a repeated field is kept (the parser refuses one sent twice with different values).
    Twilio: our own markers ride in the (signed) URL query, so query and form fields are merged.
    """
    ctype = (request.content_type or "").lower()
    if request.method == "GET":
        return _values(request.GET)
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = _values(request.POST)
        if service == "twilio":
            data = {**_values(request.GET), **data}
        return data
    return request.body


def _values(query) -> dict:
    """A field's value, or the list of its values when it was sent more than once."""
    return {k: v[0] if len(v) == 1 else v for k, v in query.lists()}


def reject(exchange, status: int, why: str, level: str = Level.WARNING) -> HttpResponse:
    close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=level, error=why)
    return HttpResponse(why, status=status, content_type="text/plain; charset=utf-8")


def signature_problem(request, connection) -> str:
    """Where the provider signs its webhooks, a missing or wrong signature is refused ("" = fine)."""
    creds = connection.credentials()
    if connection.service == "twilio":
        from ocbridge.services.twilio import signature_algorithm, validate_signature, webhook_params

        url = settings.PUBLIC_URL + request.get_full_path()
        if not validate_signature(creds.get("auth_token", ""), url, webhook_params(request),
                                  request.headers.get("X-Twilio-Signature", ""),
                                  signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))):
            return "bad or missing X-Twilio-Signature"
    if connection.service == "sandbox":
        from ocbridge.services.sandbox import verify_signature

        if not verify_signature(creds.get("webhook_secret", ""), request.body, request.META.get("HTTP_X_SANDBOX_SIGNATURE", "")):
            return "bad or missing X-Sandbox-Signature"
    return ""


def _ok(service: str, hook: str, payload, request) -> HttpResponse:
    """The 2xx answer. Twilio reads TwiML from every webhook answer (plain text is logged as error 12300): a
    Gather action gets the next TwiML (second prompt, dial or hang up), an SMS or status callback an empty
    <Response> (no reply message)."""
    if service == "twilio":
        from ocbridge.services.twilio import EMPTY_TWIML, gather_reply_twiml

        if hook == "call-result" and isinstance(payload, dict) and "Digits" in payload:
            body = gather_reply_twiml(payload, settings.PUBLIC_URL + request.get_full_path())
        else:
            body = EMPTY_TWIML
        return HttpResponse(body, content_type="text/xml; charset=utf-8")
    return HttpResponse("OK")


def event_job(connection, integration_id: int, service: str, event) -> dict:
    """One job per provider event; the event id in the key makes a repeated delivery a no-op (core.inbox notes it)."""
    kind = JOB_FOR[type(event).__name__]
    return inbox.job(kind, key=f"cod_confirm:{connection.store_id}:{service}-event:{kind.rsplit('.', 1)[1]}:{event.event_id}",
                     store_id=connection.store_id, integration_id=integration_id,
                     payload={"service": service, "connection_id": connection.pk, "event": _jsonable(event)})


def make_handler(service: str, hook: str):
    def handler(request, connection, exchange):
        try:
            request.POST  # parsed once here: a form Django refuses (bad multipart, not UTF-8) is a logged 400
        except (MultiPartParserError, BadRequest) as exc:
            return reject(exchange, 400, f"unreadable form body: {exc}")
        problem = signature_problem(request, connection)
        if problem:
            return reject(exchange, 403, problem)
        payload = request_payload(request, service)
        try:
            events = parse_events(service, hook, payload, request.content_type)
        except ValueError as exc:  # WebhookFormatError: the raw request is kept in the Exchange
            return reject(exchange, 400, f"malformed {hook}: {exc}")
        integration = routing.integration_id_of(connection)  # a shared account: the job routes each event further
        if events and integration is None:
            close_inbound(exchange, status=200, level=Level.WARNING, error="COD confirmation is not set up for this store")
            return _ok(service, hook, payload, request)
        answer = _ok(service, hook, payload, request)
        exchange.event_id = ",".join(str(e.event_id) for e in events)[:255]
        # The raw request and the jobs it asks for: one row, one commit; the worker queues the jobs (core.inbox).
        inbox.store(exchange, [event_job(connection, integration, service, e) for e in events],
                    response_body=answer.content.decode("utf-8"))
        return answer

    handler.__name__ = f"{service}_{hook.replace('-', '_')}"
    return handler


def _jsonable(event) -> dict:
    data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}  # flat events: asdict's deep copy not needed
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def register_all() -> None:
    for service in CLIENTS:
        if service == "whatsapp":  # Meta's own envelope and handshake: whatsapp_events.py
            continue
        module = service_module(service)
        # No SMS hooks where the provider pushes no SMS (Netgsm's inbox is polled): such a request is a 404.
        sms = any(hasattr(module, p) for p in ("parse_sms_push", "parse_inbound_sms", "parse_delivery_report"))
        for hook in (CALL_HOOK, *(SMS_HOOKS if sms else ())):
            register_webhook(service, hook)(make_handler(service, hook))
