"""huey tasks. They carry only a Job id: the row is the truth (DESIGN.md)."""

from huey.contrib.djhuey import db_task

from ocbridge.core.jobkinds import set_sender
from ocbridge.core.jobs import run_job


@db_task()
def run_job_task(job_id: int) -> None:
    run_job(job_id)


set_sender(run_job_task)
