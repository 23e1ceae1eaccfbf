"""`core.probe`: a harmless job that proves the worker runs (dashboard "test worker", runner tests)."""

import time

from ocbridge.core import clock
from ocbridge.core.jobs import JobKind, register_job_kind


@register_job_kind
class RunProbe(JobKind):
    """Sleep a moment, then leave one audit row keyed by the job: a visible, countable side effect."""

    kind = "core.probe"
    max_attempts = 3
    claim_seconds = 30

    def run(self, job) -> None:
        from ocbridge.core.models import AuditEntry

        time.sleep(float(job.payload.get("seconds", 0)))
        AuditEntry.objects.create(created=clock.now(), user="worker", action="worker.probe", object_type="job",
                                  object_id=str(job.pk), data={"key": job.key})
