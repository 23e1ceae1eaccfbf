"""The single entry point for inbound webhooks: token, IP allowlist, then the feature's handler.

Every request is kept as an inbound Exchange, whatever happens. It is written once, with the answer
(`close_inbound`) and the jobs it asks for, which the worker queues from it (core.inbox): one row and one
commit per webhook. If the handler fails, the raw request is still saved here with the error. If the process dies
mid-request, the provider got no 2xx and delivers again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ocbridge.core import config_cache, registry
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import client_ip, close_inbound, inbound_exchange
from ocbridge.core.masking import mask_values

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # providers send small bodies; a larger one is refused, not parsed


@csrf_exempt
def webhook(request, service: str, token: str, hook: str):
    """Authenticate by URL token (+ optional IP allowlist), then hand over to the feature's handler."""
    connection = config_cache.webhook_connection(service, token)
    length, head = request.META.get("CONTENT_LENGTH") or "0", None
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not request.META.get("CONTENT_LENGTH")
    if chunked:
        # No Content-Length: Django would read the body as empty. gunicorn has undone the chunking; read one
        # byte over the limit at most, and hand a body that fits to Django as if its length had been sent.
        head = request.META["wsgi.input"].read(MAX_BODY + 1)
        length = str(len(head))
        if len(head) <= MAX_BODY:
            request._body, request.META["CONTENT_LENGTH"] = head, length
    if not length.isdigit() or int(length) > MAX_BODY:
        # Refused unparsed, but logged with the start of the body: nothing arrives unseen.
        if head is None:
            head = request.read(settings.EXCHANGE_BODY_LIMIT) if length.isdigit() else b""
        exchange = inbound_exchange(request, service=service[:20], connection=connection,
                                    purpose=f"{service}.{hook}"[:64], body=head[:settings.EXCHANGE_BODY_LIMIT])
        size = f"more than {MAX_BODY} bytes, chunked" if chunked else f"{length} bytes"
        status, why = ((413, f"payload too large: {size} (limit {MAX_BODY})") if length.isdigit()
                       else (400, f"bad Content-Length {length[:40]!r}"))
        close_inbound(exchange, status=status, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why)
        return HttpResponse(why, status=status)
    exchange = inbound_exchange(request, service=service[:20], connection=connection, purpose=f"{service}.{hook}"[:64])
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
    try:
        response = handler(request, connection, exchange)
    except Exception as exc:
        # close_inbound updates the row if the handler committed it, else inserts it again; a job the
        # failure rolled back must not be linked then (a row that was committed keeps its link).
        exchange.job = None
        exchange.pending_jobs = None  # answered 500: the provider delivers again, and that delivery is the work
        close_inbound(exchange, status=500, outcome=ExchangeOutcome.FAILED, level=Level.ERROR,
                      error=mask_values(f"handler failed: {type(exc).__name__}: {exc}", connection.secret_values()))
        raise
    if exchange.pk is None:  # a handler that did not record its answer
        close_inbound(exchange, status=response.status_code)
    return response

