"""The shared poll: one job per shop every 15 s runs opencart.feed.poll_shop — one read of the shop's new orders
and order_history rows, handed to each integration after its own cursor (see opencart.feed for the contract)."""

from __future__ import annotations

from ocbridge.core import clock
from ocbridge.core.errors import RetryableError
from ocbridge.core.jobs import JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Integration, Job
from ocbridge.opencart import feed

POLL_EVERY = 15.0  # seconds (DESIGN.md: poll interval default 15 s)


@register_schedule("opencart.poll", every=POLL_EVERY)
def schedule_polls() -> None:
    """One poll job per shop per slot (several dispatchers enqueue it once). Shops whose consumers are all
    switched off are polled too: their cursors stay, and what arrives meanwhile is "missed" when switched on."""
    seen: set[str] = set()
    for integration in (Integration.objects.filter(kind__in=feed.consumer_kinds(), store__enabled=True)
                        .select_related("store")):
        key = feed.shop_key(integration.store)
        if key not in seen:
            seen.add(key)
            Job.objects.enqueue(PollShop, key=slot_key(f"opencart:poll:{key}", POLL_EVERY), store=integration.store,
                                payload={"db_key": key})


@register_job_kind
class PollShop(JobKind):
    """Read one shop once and give each integration of its stores what lies after its cursor."""

    kind = "opencart.poll_shop"
    max_attempts = 2
    claim_seconds = 300
    routine = True

    def run(self, job: Job) -> None:
        from ocbridge.opencart.models import PollState

        key = job.payload["db_key"]
        try:
            feed.poll_shop(key)
        except RetryableError as exc:  # the shop did not answer: remember since when, for the owner's alerts
            PollState.objects.filter(store_db_key=key, failing_since__isnull=True).update(failing_since=clock.now())
            PollState.objects.filter(store_db_key=key).update(last_error=(exc.message or str(exc))[:2000])
            raise
        PollState.objects.filter(store_db_key=key, failing_since__isnull=False).update(failing_since=None, last_error="")
