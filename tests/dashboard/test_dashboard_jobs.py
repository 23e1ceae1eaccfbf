"""Jobs: state filter, 'retry now' (compare-and-set on state, audited with user and reason), worker probe."""

import pytest
from django.urls import reverse

from ocbridge.core import clock

pytestmark = pytest.mark.django_db


def _job(key, **kw):
    from ocbridge.core.models import Job

    return Job.objects.create(kind="core.probe", key=key, **kw)


def test_state_filter(client_in):
    failed = _job("a", state="failed")
    _job("b", state="done")
    resp = client_in.get(reverse("dashboard:jobs"), {"state": "failed"})
    assert [j.pk for j in resp.context["page"].rows] == [failed.pk]


def test_detail_shows_last_error(client_in):
    job = _job("e", state="errored", last_error="Traceback: ZeroDivisionError")
    html = client_in.get(reverse("dashboard:job", args=[job.pk])).content.decode()
    assert "ZeroDivisionError" in html and "Retry now" in html


@pytest.mark.parametrize("state", ["failed", "errored", "queued"])
def test_retry_now_requeues_and_audits(client_in, state):
    from ocbridge.core.models import AuditEntry

    clock.travel(0)
    job = _job(f"r-{state}", state=state, attempts=8, max_attempts=8, last_error="x",
               next_run_at=clock.now().replace(year=2030))
    resp = client_in.post(reverse("dashboard:job-retry", args=[job.pk]), {"reason": "provider fixed"})
    assert resp.status_code == 302
    job.refresh_from_db()
    assert job.state == "queued" and job.next_run_at <= clock.now() and job.max_attempts == 9
    entry = AuditEntry.objects.get(action="job.retry")
    assert (entry.user, entry.reason, entry.object_id, entry.data["previous_state"]) == (
        "owner", "provider fixed", str(job.pk), state)


@pytest.mark.parametrize("state", ["running", "done"])
def test_retry_now_refuses_running_or_done(client_in, state):
    from ocbridge.core.models import AuditEntry

    job = _job(f"n-{state}", state=state)
    client_in.post(reverse("dashboard:job-retry", args=[job.pk]), {"reason": ""})
    job.refresh_from_db()
    assert job.state == state
    assert not AuditEntry.objects.filter(action="job.retry").exists()


def test_retried_job_runs(client_in):
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import AuditEntry

    job = _job("probe-1", state="failed", payload={"seconds": 0})
    client_in.post(reverse("dashboard:job-retry", args=[job.pk]), {"reason": "again"})
    assert run_until_idle() == 1
    job.refresh_from_db()
    assert job.state == "done"
    assert AuditEntry.objects.filter(action="worker.probe", object_id=str(job.pk)).exists()


def test_worker_probe_enqueues_a_probe_job(client_in):
    from ocbridge.core.models import Job

    resp = client_in.post(reverse("dashboard:worker-probe"))
    job = Job.objects.get(kind="core.probe")
    assert resp["Location"] == reverse("dashboard:job", args=[job.pk])


def test_a_crashed_job_reads_in_one_line_and_only_a_superuser_sees_the_traceback(client_in, store, user):
    from ocbridge.core.models import Job

    job = Job.objects.create(kind="core.probe", key="crash:1", store=store, state="errored",
                             last_error='Traceback (most recent call last):\n  File "/srv/hub/x.py", line 3\nValueError: boom')
    html = client_in.get(reverse("dashboard:job", args=[job.pk])).content.decode()
    assert "Unexpected error: ValueError: boom" in html
    assert ("/srv/hub/x.py" in html) == user.is_superuser
