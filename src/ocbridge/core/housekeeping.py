"""Keeping the hub's own tables bounded: routine jobs and old info-level log rows are pruned (Saleor's habit)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from ocbridge.core import clock
from ocbridge.core.choices import JobState, Level
from ocbridge.core.jobs import JobKind, get_kind, register_job_kind, register_schedule, slot_key

LOG_DAYS = int(os.environ.get("OCBRIDGE_LOG_RETENTION_DAYS", "90"))  # warnings and errors are kept
ROUTINE_DAYS = 2  # finished polls and similar routine jobs
log = logging.getLogger(__name__)


@register_schedule("core.housekeeping", every=3600)
def schedule_housekeeping() -> None:
    from ocbridge.core.models import Job

    Job.objects.enqueue(PruneOldRows, key=slot_key("core:housekeeping", 3600))
    Job.objects.enqueue(MaskPersonalData, key=slot_key("core:personal-data", 3600))


@register_job_kind
class PruneOldRows(JobKind):
    """Delete finished routine jobs after two days, info-level Exchanges after the retention period."""

    kind = "core.prune"
    max_attempts = 2
    routine = True

    def run(self, job) -> None:
        from ocbridge.core.models import Exchange, Job

        now = clock.now()
        kinds = [k for k in Job.objects.values_list("kind", flat=True).distinct() if _routine(k)]
        Job.objects.filter(kind__in=kinds, state=JobState.DONE, finished_at__lt=now - timedelta(days=ROUTINE_DAYS)).delete()
        # A stored webhook still waiting for a worker (core.inbox) is kept however old.
        Exchange.objects.filter(level=Level.INFO, created__lt=now - timedelta(days=LOG_DAYS),
                                pending_jobs__isnull=True).delete()


def _routine(kind: str) -> bool:
    try:
        return bool(getattr(get_kind(kind), "routine", False))
    except LookupError:
        return False


@register_job_kind
class MaskPersonalData(JobKind):
    """Customers' names, numbers, addresses and words in the hub's own tables, older than their store's period, are
    masked in place (core.personal_data); the shop's own database is never touched."""

    kind = "core.mask_personal_data"
    max_attempts = 2
    routine = True

    def run(self, job) -> None:
        from ocbridge.core import personal_data

        done = personal_data.mask_expired()
        if done:
            log.info("personal data masked: %s", done)
