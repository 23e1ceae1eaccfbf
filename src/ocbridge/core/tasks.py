"""huey tasks. They carry only a Job id: the row is the truth (DESIGN.md)."""

from django.conf import settings
from huey.contrib.djhuey import db_task

from ocbridge.core import inbox, wake
from ocbridge.core.jobkinds import set_sender
from ocbridge.core.jobs import hand_out, run_job


@db_task()
def run_job_task(job_id: int) -> None:
    run_job(job_id)


@db_task()
def queue_stored_task() -> None:
    """Redis: a web process stored a webhook; queue it and hand its jobs out (core.inbox)."""
    hand_out(run_job_task)


# A committed job is handed over by a wake-up of the dispatcher where huey's queue is a SQLite file (one durable write
# per webhook: the hub's; core.wake), straight to huey's Redis queue otherwise. `ocbridge worker` hands its own jobs
# straight to huey either way.
set_sender(run_job_task if settings.REDIS_URL else wake.send)
inbox.set_waker(queue_stored_task if settings.REDIS_URL else wake.send)
