"""The single entry point for inbound webhooks: token, IP allowlist, raw record, then the feature's handler."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ocbridge.core import registry
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import client_ip, close_inbound, record_inbound
from ocbridge.core.models import Connection

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # providers send small bodies; a larger one is refused, not parsed


@csrf_exempt
def webhook(request, service: str, token: str, hook: str):
    """Authenticate by URL token (+ optional IP allowlist), store raw first, hand over to the handler."""
    connection = Connection.objects.active().select_related("store").filter(webhook_token=token, service=service).first()
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        # Refused unparsed, but logged with the start of the body: nothing arrives unseen.
        head = request.read(settings.EXCHANGE_BODY_LIMIT) if length.isdigit() else b""
        exchange = record_inbound(request, service=service[:20], connection=connection, purpose=f"{service}.{hook}"[:64],
                                  body=head)
        status, why = ((413, f"payload too large: {length} bytes (limit {MAX_BODY})") if length.isdigit()
                       else (400, f"bad Content-Length {length[:40]!r}"))
        close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why)
        return HttpResponse(why, status=status)
    exchange = record_inbound(request, service=service[:20], connection=connection, purpose=f"{service}.{hook}"[:64])
    if connection is None:
        close_inbound(exchange, status=404, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING,
                      error="unknown webhook token")
        return HttpResponse("not found", status=404)
    handler = registry.webhooks.get((service, hook))
    if handler is None:
        close_inbound(exchange, status=404, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error="unknown hook")
        return HttpResponse("not found", status=404)
    ip = client_ip(request)
    if not connection.ip_allowed(ip):
        close_inbound(exchange, status=403, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING,
                      error=f"address {ip} is not in the connection's allowlist")
        return HttpResponse("forbidden", status=403)
    return handler(request, connection, exchange)

