"""Push mode: our OpenCart extension (extension/opencart/, optional per store) names an order that was added or got
a history entry, with a signed POST (`/push/<store>/<order>/<unix time>/<signature>/`, the extension's secret —
opencart.extension); the hub answers by reading the shop at once, with the same poll that runs every
`Store.poll_seconds` (opencart.feed). Nothing in the push is trusted but that something happened: the order id
only says which shop to read, and the poll reads whatever is new there. The regular poll stays the safety net —
a push lost, late or refused changes nothing but how soon an order is seen.

Pushes for one shop never run two polls at once in a process: one arriving while a poll runs asks that poll to
read once more when it ends (it might have read just before the order was committed).
"""

from __future__ import annotations

import logging
import threading

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound, inbound_exchange
from ocbridge.core.models import Store
from ocbridge.opencart import extension, feed
from ocbridge.opencart.api import SERVICE

log = logging.getLogger(__name__)

_running: dict[str, dict] = {}  # shop key → {"again": bool} while a pushed poll of it runs in this process
_lock = threading.Lock()


def poll_now(store) -> bool:
    """Read the store's shop now (opencart.feed). False when a poll of it was running here: that one reads again."""
    key = feed.shop_key(store)
    with _lock:
        running = _running.get(key)
        if running is not None:
            running["again"] = True
            return False
        running = _running[key] = {"again": False}
    try:
        while True:
            feed.poll_shop(key, store=store)
            with _lock:
                if not running["again"]:
                    return True
                running["again"] = False
    finally:
        with _lock:
            _running.pop(key, None)


@csrf_exempt
@require_POST
def receive(request, store_pk: int, order_id: int, ts: int, sig: str) -> HttpResponse:
    """A signed order-event push: verify, read the shop, answer. Logged like every inbound request."""
    store = Store.objects.filter(pk=store_pk).first()
    exchange = inbound_exchange(request, service=SERVICE, store=store, purpose="opencart.push")
    why = "unknown store" if store is None else extension.verify(store, order_id, ts, sig)
    if not why and not store.enabled:
        why = "the store is switched off"
    if why:
        close_inbound(exchange, status=403, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why,
                      order_id=order_id)
        return HttpResponse("forbidden", status=403)
    try:
        polled = poll_now(store)
    except Exception as exc:  # the shop did not answer: the regular poll retries and reports it
        log.warning("push for store %s: reading the shop failed: %s", store.pk, exc)
        close_inbound(exchange, status=202, level=Level.WARNING, order_id=order_id,
                      error=f"reading the shop failed (the regular poll tries again): {type(exc).__name__}: {exc}")
        return JsonResponse({"read": False}, status=202)
    close_inbound(exchange, status=200, order_id=order_id,
                  error="" if polled else "a read of this shop was running: it reads once more")
    return JsonResponse({"read": True})
