"""Keeping the phone index complete for order lookup: back-fill the recent past, then follow new orders.

The adapter's first poll of a shop starts at its newest order, so orders placed before the hub was
connected are not in the index; callers ask about exactly those. `BackfillPhones` walks order ids
downwards from the poll's starting point (primary-key ranges only) until orders are older than the
longest `days_back`. New orders are indexed by the shared shop poll (ocbridge.opencart.polling), which runs
for every shop database with an order consumer registered — this integration registers one.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_noop

from ocbridge import opencart
from ocbridge.opencart import shop_time
from ocbridge.core import clock
from ocbridge.core.jobs import Defer, JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Integration, Job
from ocbridge.core.registry import register_order_consumer
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.models import IndexBackfill

KIND = "order_lookup"
POLL_EVERY = 15.0
BACKFILL_IDS = 2000  # order ids per back-fill read (4 primary-key IN lists of 500)
BACKFILL_BATCHES = 50  # per job run; the next run continues below


def _integrations():
    return Integration.objects.filter(kind=KIND, enabled=True, store__enabled=True).select_related("store")


@register_order_consumer(KIND)
def index_only(integration, order) -> None:
    """Nothing to do per order: the shared poll has already put it in the phone index."""


@register_schedule("order_lookup.backfill", every=POLL_EVERY * 4)
def schedule_backfill() -> None:
    """A job a minute per shop database whose back-fill is under way; none (no write) once it is done, nor for a
    shop whose first poll has not run yet (a dead shop would only defer, a Job row a minute)."""
    from ocbridge.opencart.models import PollState

    done = set(IndexBackfill.objects.filter(done=True).values_list("store_db_key", flat=True))
    started = set(PollState.objects.values_list("store_db_key", flat=True))
    seen: set[str] = set()
    for integration in _integrations():
        db_key = integration.store.db_key
        if db_key in seen or db_key in done or db_key not in started:
            continue
        seen.add(db_key)
        Job.objects.enqueue(BackfillPhones, key=slot_key(f"{KIND}:backfill:{db_key}", POLL_EVERY * 4),
                            integration=integration, payload={"db_key": db_key})


@register_job_kind
class BackfillPhones(JobKind):
    """Index the orders placed before the first poll, newest first, back to the longest `days_back`."""

    kind = "order_lookup.backfill_phones"
    routine = True  # a periodic read: re-queued however often its worker dies, never parked
    max_attempts = 3
    claim_seconds = 600

    def run(self, job: Job) -> None:
        store = job.integration.store
        backfill_index(store, days_back=max(OrderLookupConfig.from_settings(i.settings).days_back
                                            for i in _integrations() if i.store.db_key == store.db_key))


def backfill_index(store, *, days_back: int, batches: int = BACKFILL_BATCHES) -> IndexBackfill:
    """One slice of the back-fill; safe to repeat (index rows are unique per order)."""
    from ocbridge.opencart import orders as oc_orders
    from ocbridge.opencart.models import PollState
    from ocbridge.opencart.phone_index import index_orders

    state = PollState.objects.filter(store_db_key=store.db_key).first()
    if state is None:  # the first poll fixes where new orders start; fill in below that point
        raise Defer(POLL_EVERY, Sentence(gettext_noop("waiting for the first poll of this shop database")))
    bf, _ = IndexBackfill.objects.get_or_create(store_db_key=store.db_key,
                                                defaults={"next_below": state.last_order_id + 1})
    if bf.done:
        return bf
    from ocbridge.core.models import Store

    stores = [s for s in Store.objects.all() if s.db_key == store.db_key]
    countries = {s.oc_store_id: s.country for s in stores}
    shop = opencart.shop_db(store)
    # The window as order lookup reads it (in the zone each store's dates are written in: opencart.shop_time), an
    # hour earlier: a daylight-saving change (or a clock step) can write an order an hour "older" than the one before.
    earliest = min(shop_time.shop_now(shop, s.oc_store_id) for s in stores or [store])
    oldest = earliest - dt.timedelta(days=days_back, hours=1)
    for _ in range(batches):
        lo = max(1, bf.next_below - BACKFILL_IDS)
        found = oc_orders.read_orders(shop, list(range(lo, bf.next_below)), lines=False)
        bf.indexed += index_orders(store.db_key, found.values(), country_of_store=countries,
                                   default_country=store.country)
        bf.next_below = lo
        dates = [o.date_added for o in found.values() if o.date_added is not None]
        if lo <= 1 or (dates and min(dates) < oldest):
            bf.done = True
            break
    bf.updated = clock.now()
    bf.save()
    return bf
