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


def request_payload(request):
    """Form or query fields as a dict; anything else (JSON, XML) as raw bytes for the service's parser."""
    ctype = (request.content_type or "").lower()
    if request.method == "GET":
        return dict(request.GET.items())
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return dict(request.POST.items())
    return request.body


def reject(exchange, status: int, why: str, level: str = Level.WARNING) -> HttpResponse:
    close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=level, error=why)
    return HttpResponse(why, status=status, content_type="text/plain; charset=utf-8")


def twilio_signature_ok(request, connection) -> bool:
    """X-Twilio-Signature over the public URL Twilio called and the POST fields."""
    from ocbridge.services.twilio import validate_signature

    url = settings.PUBLIC_URL + request.get_full_path()
    params = dict(request.POST.items()) if request.method == "POST" else {}
    return validate_signature(connection.credentials().get("auth_token", ""), url, params,
                              request.headers.get("X-Twilio-Signature", ""))


def make_handler(service: str, hook: str):
    parser_name, job_kind = HOOKS[hook]

    def handler(request, connection, exchange):
        if service == "twilio" and not twilio_signature_ok(request, connection):
            return reject(exchange, 403, "bad or missing X-Twilio-Signature")
        parser = getattr(service_module(service), parser_name, None)
        if parser is None:
            return reject(exchange, 404, f"{service} sends no {hook}")
        try:
            event = parser(request_payload(request), request.content_type)
        except ValueError as exc:  # WebhookFormatError: the raw request is kept in the Exchange
            return reject(exchange, 400, f"malformed {hook}: {exc}")
        if event is None:  # a provider's empty validation ping
            close_inbound(exchange, status=200, response_body="OK")
            return HttpResponse("OK")
        integration = Integration.objects.filter(store=connection.store, kind="cod_confirm").first()
        exchange.event_id = str(event.event_id)[:255]
        if integration is None:
            close_inbound(exchange, status=200, level=Level.WARNING, error="COD confirmation is not set up for this store")
            return HttpResponse("OK")
        key = f"cod_confirm:{connection.store_id}:{service}-event:{hook}:{event.event_id}"
        job = Job.objects.enqueue(job_kind, key=key, integration=integration, payload={
            "exchange_id": exchange.pk, "service": service, "event": _jsonable(event)})
        duplicate = job.payload.get("exchange_id") != exchange.pk
        close_inbound(exchange, status=200, response_body="OK", job=job,
                      error="duplicate delivery: already queued" if duplicate else "")
        return HttpResponse("OK")

    handler.__name__ = f"{service}_{hook.replace('-', '_')}"
    return handler


def _jsonable(event) -> dict:
    data = dataclasses.asdict(event)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def register_all() -> None:
    for service in CLIENTS:
        for hook in HOOKS:
            register_webhook(service, hook)(make_handler(service, hook))
