"""Job runner: enqueue dedupe, atomic claim, retry/backoff, terminal errors, expired claims, a killed worker."""

import time
from datetime import timedelta

import pytest

from testkit import WorkerProcess
from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.jobs import JobKind, claim, register_job_kind, requeue_expired, run_job, run_until_idle
from ocbridge.core.models import AuditEntry, Job

pytestmark = pytest.mark.django_db

CALLS: list[int] = []


@register_job_kind
class FlakyKind(JobKind):
    """Fails the way payload says, then succeeds."""

    kind = "test.flaky"
    max_attempts = 3

    def run(self, job):
        CALLS.append(job.pk)
        mode = job.payload.get("mode")
        if mode == "retry" and job.attempts < job.payload.get("ok_on", 99):
            raise RetryableError("sim", 503, "unavailable", retry_after=job.payload.get("retry_after"))
        if mode == "terminal":
            raise TerminalError("sim", 400, "number rejected by provider")
        if mode == "bug":
            raise ZeroDivisionError("oops")


def test_same_key_twice_gives_one_job():
    a = Job.objects.enqueue(FlakyKind, key="k1", payload={"mode": "ok"})
    b = Job.objects.enqueue(FlakyKind, key="k1", payload={"mode": "other"})
    assert a.pk == b.pk and Job.objects.count() == 1 and b.payload == {"mode": "ok"}


def test_claim_is_exclusive():
    job = Job.objects.enqueue(FlakyKind, key="k2")
    assert claim(job.pk) is not None
    assert claim(job.pk) is None  # second worker gets nothing


def test_future_job_is_not_claimed_until_due():
    job = Job.objects.enqueue(FlakyKind, key="k3", run_at=clock.now() + timedelta(minutes=30))
    assert claim(job.pk) is None
    clock.travel(31 * 60)
    assert claim(job.pk) is not None


def test_retryable_error_reschedules_with_backoff():
    job = Job.objects.enqueue(FlakyKind, key="k4", payload={"mode": "retry", "ok_on": 2})
    job = run_job(job.pk)
    assert job.state == JobState.QUEUED and job.attempts == 1
    assert job.next_run_at > clock.now() and "503" in job.last_error
    assert run_job(job.pk) is None  # not due yet
    clock.travel(3600)
    assert run_job(job.pk).state == JobState.DONE


def test_retry_after_is_honoured():
    job = Job.objects.enqueue(FlakyKind, key="k5", payload={"mode": "retry", "retry_after": 120})
    before = clock.now()
    job = run_job(job.pk)
    delay = (job.next_run_at - before).total_seconds()
    assert 119 <= delay <= 125


def test_retries_run_out_into_failed():
    job = Job.objects.enqueue(FlakyKind, key="k6", payload={"mode": "retry"})
    for _ in range(3):
        clock.travel(7200)
        job = run_job(job.pk) or job
    assert job.state == JobState.FAILED and "gave up after 3 attempts" in job.last_error


def test_terminal_error_stops_with_service_message():
    job = run_job(Job.objects.enqueue(FlakyKind, key="k7", payload={"mode": "terminal"}).pk)
    assert job.state == JobState.FAILED and "number rejected by provider" in job.last_error and job.attempts == 1


def test_bug_is_errored_with_traceback():
    job = run_job(Job.objects.enqueue(FlakyKind, key="k8", payload={"mode": "bug"}).pk)
    assert job.state == JobState.ERRORED and "ZeroDivisionError" in job.last_error


def test_expired_claim_is_requeued_and_runs_once_more():
    job = Job.objects.enqueue(FlakyKind, key="k9")
    assert claim(job.pk) is not None  # a worker took it and died
    assert requeue_expired() == 0
    clock.travel(FlakyKind.claim_seconds + 1)
    assert requeue_expired() == 1
    CALLS.clear()
    assert run_until_idle() == 1 and CALLS == [job.pk]
    assert Job.objects.get(pk=job.pk).state == JobState.DONE


@register_job_kind
class StallingKind(JobKind):
    """Stalls past its claim (a GC or VM pause: its heartbeat is silent too); another worker takes the job
    over; then the stalled run tries to write."""

    kind = "test.stalling"
    claim_seconds = 60

    def run(self, job):
        from ocbridge.core.jobs import fenced

        if job.payload.get("stall"):
            clock.travel(self.claim_seconds + 1)
            assert requeue_expired() == 1
            Job.objects.filter(pk=job.pk).update(payload={})  # the second run does not stall
            # Another worker runs it (here the same thread, so the same mark: the token alone tells runs apart).
            assert run_job(job.pk).state == JobState.DONE
        with fenced():
            AuditEntry.objects.create(user="worker", action="test.stalling", object_id=str(job.payload.get("stall")))


def test_a_run_that_stalled_past_its_claim_writes_nothing_after_the_takeover():
    job = Job.objects.enqueue(StallingKind, key="stall-1", payload={"stall": True})
    run_job(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 2 and job.claim_token == ""
    # One write: the run that took over. The stalled run raised ClaimLost inside its fenced write.
    assert list(AuditEntry.objects.filter(action="test.stalling").values_list("object_id", flat=True)) == ["None"]


def test_claims_carry_a_random_token_a_thread_mark_and_the_databases_time():
    import threading

    from ocbridge.core.jobs import renew

    clock.travel(3 * 3600)  # the test clock's offset is applied inside the SQL too
    assert abs((clock.db_time() - clock.now()).total_seconds()) < 5
    a = claim(Job.objects.enqueue(FlakyKind, key="tok-a").pk)
    b = claim(Job.objects.enqueue(FlakyKind, key="tok-b").pk)
    assert len(a.claim_token) == 32 and a.claim_token != b.claim_token
    assert a.claimed_by.endswith(":" + threading.current_thread().name)
    expected = clock.now() + timedelta(seconds=FlakyKind.claim_seconds)
    assert abs((a.claim_expires_at - expected).total_seconds()) < 5
    clock.travel(100)
    assert renew(a)  # renewal moves expiry out by the database's (offset) time
    a.refresh_from_db()
    assert abs((a.claim_expires_at - (clock.now() + timedelta(seconds=FlakyKind.claim_seconds))).total_seconds()) < 5
    stale = Job(pk=a.pk, kind=a.kind, claim_token="0" * 32)
    assert not renew(stale)  # a token that is not the claim's renews nothing


@register_job_kind
class SlowKind(JobKind):
    kind = "test.slow"
    claim_seconds = 1.5

    def run(self, job):
        time.sleep(job.payload["seconds"])


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_long_run_claimed():
    """A live run longer than its claim keeps it: a second worker's requeue_expired finds nothing to take."""
    import threading

    job = Job.objects.enqueue(SlowKind, key="slow-1", payload={"seconds": 3})
    seen = []

    def watch():
        time.sleep(2.2)  # past the first expiry: only renewals keep the claim
        seen.append(requeue_expired())
        seen.append(Job.objects.get(pk=job.pk).state)
        from django.db import connection

        connection.close()

    t = threading.Thread(target=watch)
    t.start()
    done = run_job(job.pk)
    t.join()
    assert seen == [0, JobState.RUNNING]
    assert done.state == JobState.DONE and done.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_job_runs_it_again_exactly_once(tmp_path):
    """A real `ocbridge worker` is SIGKILLed while running a job; the next worker finishes it once."""
    # The first run sleeps far longer than the test can take, so the kill always lands mid-run (a 4 s sleep could
    # finish on a loaded machine between seeing the job running and the kill).
    job = Job.objects.enqueue("core.probe", key="probe-kill", payload={"seconds": 3600})
    state = lambda: Job.objects.get(pk=job.pk).state  # noqa: E731
    with WorkerProcess(tmp_path / "w1.log") as w1:
        w1.wait_for(lambda: state() == JobState.RUNNING, "the worker never claimed the job")
        w1.kill()
    assert AuditEntry.objects.filter(action="worker.probe").count() == 0
    Job.objects.filter(pk=job.pk).update(payload={"seconds": 0})
    clock.travel(31)  # past the probe's claim expiry, for every process
    with WorkerProcess(tmp_path / "w2.log") as w2:
        w2.wait_for(lambda: state() == JobState.DONE, "the second worker never finished the job")
    job.refresh_from_db()
    assert job.attempts == 2
    assert AuditEntry.objects.filter(action="worker.probe").count() == 1


def test_housekeeping_prunes_routine_jobs_and_old_info_logs_only():
    from ocbridge.core.housekeeping import PruneOldRows
    from ocbridge.core.models import Exchange

    old = clock.now() - timedelta(days=200)
    Job.objects.create(kind="core.prune", key="old-routine", state=JobState.DONE, finished_at=old)
    Job.objects.create(kind="test.flaky", key="old-business", state=JobState.DONE, finished_at=old)
    Exchange.objects.create(service="sandbox", level="info", created=old)
    Exchange.objects.create(service="sandbox", level="error", created=old)
    run_job(Job.objects.enqueue(PruneOldRows, key="prune-now").pk)
    assert set(Job.objects.values_list("key", flat=True)) == {"old-business", "prune-now"}
    assert list(Exchange.objects.values_list("level", flat=True)) == ["error"]


@pytest.fixture
def poll_schedule(monkeypatch):
    """One 15 s schedule on a fake monotonic clock: returns (now, ran) — set now[0], read the run times."""
    from ocbridge.core import jobs

    now, ran = [1000.0], []
    monkeypatch.setattr(jobs, "_SCHEDULES", {"poll": jobs.Schedule("poll", 15.0, lambda: ran.append(now[0]))})
    monkeypatch.setattr(jobs, "_next_run", {})
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now, ran


def test_schedules_run_at_a_fixed_rate_not_a_tick_late_each_time(poll_schedule):
    from ocbridge.core.jobs import run_schedules

    now, ran = poll_schedule
    waits = []
    while now[0] < 1061:  # a dispatcher that ticks every 1.3 s but wakes early when a schedule is due
        waits.append(run_schedules())
        now[0] += min(1.3, waits[-1]) or 1.3
    assert ran == [1000.0, 1015.0, 1030.0, 1045.0, 1060.0]
    assert waits[0] == 15.0


def test_a_schedule_far_behind_runs_once_then_keeps_its_rate(poll_schedule):
    from ocbridge.core.jobs import run_schedules

    now, ran = poll_schedule
    for t in (1000.0, 1100.0, 1101.0, 1114.9, 1115.0):  # the dispatcher was stopped for 100 s
        now[0] = t
        run_schedules()
    assert ran == [1000.0, 1100.0, 1115.0]
