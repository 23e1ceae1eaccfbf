"""Push mode: our OpenCart extension (extension/opencart/, optional per store) names an order that was added or got
a history entry, with a signed POST (`/push/<store>/<order>/<unix time>/<signature>/`, the extension's secret —
opencart.extension); the hub answers by reading the shop at once, with the same poll that runs every
`Store.poll_seconds` (opencart.feed). Nothing in the push is trusted but that something happened: the order id
only says which shop to read, and the poll reads whatever is new there. The regular poll stays the safety net —
a push lost, late or refused changes nothing but how soon an order is seen.

The request verifies, logs itself (its inbound Exchange, like every request) and marks the shop's poll wanted now
(core.polls.want): no Job row (DESIGN.md 2026-12-06: routine polls run without Job rows; a poll that finds work
creates Jobs). A dispatcher's poll loop is woken and runs that poll at once, under the same lease as the scheduled
one — so pushes for one shop never run two polls at once anywhere, and one arriving while a poll of the shop runs
makes that poll read once more when it ends (it might have read just before the order was committed). A burst of
pushes is one or two reads. A mark left while no worker runs is read when one starts.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ocbridge.core import polls
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound, inbound_exchange
from ocbridge.core.jobkinds import JobKind, register_job_kind
from ocbridge.core.models import Store
from ocbridge.core.outage import broker_down
from ocbridge.opencart import extension, feed
from ocbridge.opencart.api import SERVICE
from ocbridge.opencart.polling import POLL

log = logging.getLogger(__name__)


def want_read(store) -> str:
    """Mark the store's shop poll wanted now; "" or why not (the lease store unreachable: the regular poll reads it)."""
    try:
        polls.want(POLL, feed.shop_key(store))
    except Exception as exc:  # noqa: BLE001 - the regular poll is the safety net (see the docstring)
        log.warning("push for store %s: poll not woken: %s", store.pk, exc, exc_info=not broker_down(exc))
        return f"the shop is read at its next regular poll (the poll could not be woken: {type(exc).__name__})"
    return ""


@register_job_kind
class ReadPushed(JobKind):
    """A push stored by a hub before pushes woke the poll directly (left over by an upgrade): wants the poll now."""

    kind = "opencart.read_pushed"
    routine = True  # pruned when done
    max_attempts = 1

    def run(self, job) -> None:
        store = Store.objects.filter(pk=job.store_id, enabled=True).first()
        if store is not None:  # else deleted or switched off since the push
            want_read(store)


@csrf_exempt
@require_POST
def receive(request, store_pk: int, order_id: int, ts: int, sig: str) -> HttpResponse:
    """A signed order-event push: verify, want the shop's poll now, answer. Logged like every inbound request."""
    store = Store.objects.filter(pk=store_pk).first()
    exchange = inbound_exchange(request, service=SERVICE, store=store, purpose="opencart.push")
    why = "unknown store" if store is None else extension.verify(store, order_id, ts, sig)
    if not why and not store.enabled:
        why = "the store is switched off"
    if why:
        close_inbound(exchange, status=403, outcome=ExchangeOutcome.REJECTED, level=Level.WARNING, error=why,
                      order_id=order_id)
        return HttpResponse("forbidden", status=403)
    exchange.order_id = order_id  # what the push names (only a label: the poll reads what the shop has)
    answer = JsonResponse({"queued": True})
    why = want_read(store)
    close_inbound(exchange, status=200, level=Level.WARNING if why else Level.INFO, error=why,
                  response_body=answer.content.decode())
    return answer
