"""Push mode: our OpenCart extension (extension/opencart/, optional per store) names an order that was added or got
a history entry, with a signed POST (`/push/<store>/<order>/<unix time>/<signature>/`, the extension's secret —
opencart.extension); the hub answers by reading the shop at once, with the same poll that runs every
`Store.poll_seconds` (opencart.feed). Nothing in the push is trusted but that something happened: the order id
only says which shop to read, and the poll reads whatever is new there. The regular poll stays the safety net —
a push lost, late or refused changes nothing but how soon an order is seen.

The request only verifies and stores (core.inbox, like every webhook): one row asking for a read of the shop, one
commit, the dispatcher woken; the worker reads the shop (`ReadPushed`). So the shop's checkout never waits on its own
database being read back, and a push accepted while no worker runs (or Redis is down) is read when one looks. Every
push is its own read: a shop's add-order and add-history pushes of one order can carry the same order and second, so
nothing in a push tells a repeat from the next event, and a read is harmless to repeat.

Pushes for one shop never run two polls at once in a process: one arriving while a poll runs asks that poll to
read once more when it ends (it might have read just before the order was committed).
"""

from __future__ import annotations

import logging
import threading
import uuid

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ocbridge.core import inbox
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound, inbound_exchange
from ocbridge.core.jobkinds import JobKind, register_job_kind
from ocbridge.core.models import Exchange, Store
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


@register_job_kind
class ReadPushed(JobKind):
    """Read the shop a push named (opencart.feed's poll). A shop that does not answer is noted on the push's log row
    and left to the regular poll, which retries it and reports it (opencart.attention): no retry here."""

    kind = "opencart.read_pushed"
    routine = True  # pruned when done, like the polls it stands in for
    max_attempts = 1

    def run(self, job) -> None:
        store = Store.objects.filter(pk=job.store_id, enabled=True).first()
        if store is None:  # deleted or switched off since the push
            return
        try:
            polled = poll_now(store)
        except Exception as exc:  # noqa: BLE001 - the regular poll is the retry (see the docstring)
            log.warning("push for store %s: reading the shop failed: %s", store.pk, exc)
            _note(job, f"reading the shop failed (the regular poll tries again): {type(exc).__name__}: {exc}",
                  Level.WARNING)
            return
        if not polled:
            _note(job, "a read of this shop was running: it reads once more", Level.INFO)


def _note(job, text: str, level: str) -> None:
    """What the read found, on the push's own log row (the job's payload names it: core.inbox)."""
    Exchange.objects.filter(pk=job.payload.get("exchange_id")).update(level=level, error=text[:4000])


@csrf_exempt
@require_POST
def receive(request, store_pk: int, order_id: int, ts: int, sig: str) -> HttpResponse:
    """A signed order-event push: verify, store it with the read it asks for, answer (core.inbox). Logged like every
    inbound request."""
    store = Store.objects.filter(pk=store_pk).first()
    exchange = inbound_exchange(request, service=SERVICE, store=store, purpose="opencart.push")
    why = "unknown store" if store is None else extension.verify(store, order_id, ts, sig)
    if not why and not store.enabled:
        why = "the store is switched off"
    if why:
        close_inbound(exchange, status=403, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why,
                      order_id=order_id)
        return HttpResponse("forbidden", status=403)
    exchange.order_id = order_id  # what the push names (only a label: the read trusts the shop)
    answer = JsonResponse({"queued": True})
    inbox.store(exchange, [inbox.job(ReadPushed.kind, key=f"opencart.push:{store.pk}:{order_id}:{uuid.uuid4().hex}",
                                     store_id=store.pk, integration_id=None, payload={"order_id": order_id})],
                response_body=answer.content.decode())
    return answer
