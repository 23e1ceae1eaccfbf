"""Inbound webhooks of COD confirmation: authenticate, parse just enough for the event id, enqueue, answer fast.

The core view (`core.webhooks.webhook`) has already checked the URL token and IP allowlist and stored the
raw request as an inbound Exchange. Nothing here calls out or writes to the shop.
"""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.http import HttpResponse

from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.models import Integration, Job
from ocbridge.core.registry import register_webhook
from ocbridge.integrations.cod_confirm.providers import CLIENTS, service_module

log = logging.getLogger(__name__)

# hook name → (parser in the service module, job kind)
HOOKS = {
    "call-result": ("parse_call_result", "cod_confirm.apply_call_result"),
    "sms-inbound": ("parse_inbound_sms", "cod_confirm.apply_sms_reply"),
    "sms-report": ("parse_delivery_report", "cod_confirm.apply_delivery_report"),
}


def request_payload(request, service: str):
    """Form or query fields as a dict; anything else (JSON, XML) as raw bytes for the service's parser.

    Twilio: our own markers ride in the (signed) URL query, so query and form fields are merged.
    """
    ctype = (request.content_type or "").lower()
    if request.method == "GET":
        return dict(request.GET.items())
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = dict(request.POST.items())
        if service == "twilio":
            data = {**dict(request.GET.items()), **data}
        return data
    return request.body


def reject(exchange, status: int, why: str, level: str = Level.WARNING) -> HttpResponse:
    close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=level, error=why)
    return HttpResponse(why, status=status, content_type="text/plain; charset=utf-8")


def signature_problem(request, connection) -> str:
    """Where the provider signs its webhooks, a missing or wrong signature is refused ("" = fine)."""
    creds = connection.credentials()
    if connection.service == "twilio":
        from ocbridge.services.twilio import validate_signature

        url = settings.PUBLIC_URL + request.get_full_path()
        params = dict(request.POST.items()) if request.method == "POST" else {}
        if not validate_signature(creds.get("auth_token", ""), url, params, request.headers.get("X-Twilio-Signature", "")):
            return "bad or missing X-Twilio-Signature"
    if connection.service == "sandbox":
        from ocbridge.services.sandbox import verify_signature

        if not verify_signature(creds.get("webhook_secret", ""), request.body, request.headers.get("X-Sandbox-Signature", "")):
            return "bad or missing X-Sandbox-Signature"
    return ""


def _ok(service: str, hook: str, payload, request) -> HttpResponse:
    """The 2xx answer. A Twilio Gather action is answered with the next TwiML (second prompt, dial or hang up)."""
    if service == "twilio" and hook == "call-result" and isinstance(payload, dict) and "Digits" in payload:
        from ocbridge.services.twilio import gather_reply_twiml

        return HttpResponse(gather_reply_twiml(payload, settings.PUBLIC_URL + request.get_full_path()),
                            content_type="text/xml; charset=utf-8")
    return HttpResponse("OK")


def make_handler(service: str, hook: str):
    parser_name, job_kind = HOOKS[hook]

    def handler(request, connection, exchange):
        problem = signature_problem(request, connection)
        if problem:
            return reject(exchange, 403, problem)
        parser = getattr(service_module(service), parser_name, None)
        if parser is None:
            return reject(exchange, 404, f"{service} sends no {hook}")
        payload = request_payload(request, service)
        try:
            event = parser(payload, request.content_type)
        except ValueError as exc:  # WebhookFormatError: the raw request is kept in the Exchange
            return reject(exchange, 400, f"malformed {hook}: {exc}")
        if event is None:  # progress events, validation pings: nothing to act on
            close_inbound(exchange, status=200, response_body="OK")
            return _ok(service, hook, payload, request)
        integration = Integration.objects.filter(store=connection.store, kind="cod_confirm").first()
        exchange.event_id = str(event.event_id)[:255]
        if integration is None:
            close_inbound(exchange, status=200, level=Level.WARNING, error="COD confirmation is not set up for this store")
            return _ok(service, hook, payload, request)
        key = f"cod_confirm:{connection.store_id}:{service}-event:{hook}:{event.event_id}"
        job = Job.objects.enqueue(job_kind, key=key, integration=integration, payload={
            "exchange_id": exchange.pk, "service": service, "event": _jsonable(event)})
        duplicate = job.payload.get("exchange_id") != exchange.pk
        close_inbound(exchange, status=200, response_body="OK", job=job,
                      error="duplicate delivery: already queued" if duplicate else "")
        return _ok(service, hook, payload, request)

    handler.__name__ = f"{service}_{hook.replace('-', '_')}"
    return handler


def _jsonable(event) -> dict:
    data = dataclasses.asdict(event)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def register_all() -> None:
    for service in CLIENTS:
        for hook in HOOKS:
            register_webhook(service, hook)(make_handler(service, hook))
