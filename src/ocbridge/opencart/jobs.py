"""The shared poll: one job per shop database every 15 s reads new orders (watermark), keeps the phone index,
and hands each order to the integrations enabled for its store (core.registry.order_consumers)."""

from __future__ import annotations

from collections import defaultdict

from ocbridge.core import registry
from ocbridge.core.jobs import JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Integration, Job
from ocbridge.opencart import poll_new_orders

POLL_EVERY = 15.0  # seconds (DESIGN.md: poll interval default 15 s)
BATCH = 500
MAX_BATCHES = 20  # a backlog beyond 10,000 orders continues in the next slot


def _consuming_integrations():
    return (Integration.objects.filter(kind__in=list(registry.order_consumers), enabled=True, store__enabled=True)
            .select_related("store", "connection"))


@register_schedule("opencart.poll", every=POLL_EVERY)
def schedule_polls() -> None:
    """One poll job per shop database per slot: several dispatchers enqueue it once."""
    seen: set[str] = set()
    for integration in _consuming_integrations():
        db_key = integration.store.db_key
        if db_key not in seen:
            seen.add(db_key)
            Job.objects.enqueue(PollShop, key=slot_key(f"opencart:poll:{db_key}", POLL_EVERY), store=integration.store,
                                payload={"db_key": db_key})


@register_job_kind
class PollShop(JobKind):
    """Read new orders of one shop database and give each to the integrations of its store."""

    kind = "opencart.poll_shop"
    max_attempts = 2
    claim_seconds = 300
    routine = True

    def run(self, job: Job) -> None:
        by_store_id: dict[int, list[Integration]] = defaultdict(list)
        for integration in _consuming_integrations():
            if integration.store.db_key == job.payload["db_key"]:
                by_store_id[integration.store.oc_store_id].append(integration)
        if not by_store_id:
            return
        store = next(iter(by_store_id.values()))[0].store
        countries = {sid: integrations[0].store.country for sid, integrations in by_store_id.items()}

        def hand_over(orders) -> None:
            for order in orders:
                for integration in by_store_id.get(order.store_id, ()):
                    registry.order_consumers[integration.kind](integration, order)

        for _ in range(MAX_BATCHES):
            # Handed over in the watermark's transaction: a shop error or a killed worker midway loses no order.
            orders = poll_new_orders(store, limit=BATCH, countries=countries, consume=hand_over)
            if len(orders) < BATCH:
                break
