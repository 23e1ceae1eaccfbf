"""The job runner: claim a Job row atomically, run its kind, map the outcome (NetBox JobRunner.handle shape).

Flow: `Job.objects.enqueue()` inserts the row and, after commit, hands its id to huey. A huey task calls
`run_job(id)`, which claims the row with one conditional UPDATE, so two workers never run one job. A
crashed worker's claim expires and `dispatch_due()` (the dispatcher loop in `ocbridge worker`) queues it
again. Retry spacing is just `next_run_at`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import F

from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.errors import ConfigurationError, RetryableError, ServiceError

log = logging.getLogger(__name__)

current_job: ContextVar = ContextVar("current_job", default=None)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

_KINDS: dict[str, type[JobKind]] = {}


class Defer(Exception):
    """Raised by a kind to run again later without counting a failed attempt (quiet hours, waiting for a task)."""

    def __init__(self, seconds: float, reason: str = ""):
        self.seconds = seconds
        self.reason = reason
        super().__init__(reason)


class JobKind:
    """One kind of work. Subclasses set `kind` and implement `run(job)`; they never catch errors 'to be safe'."""

    kind: str = ""
    max_attempts: int = 8
    claim_seconds: int = 120  # a worker that holds a job longer than this is presumed dead
    backoff_base: float = 15.0
    backoff_max: float = 3600.0
    routine: bool = False  # finished rows are pruned after two days (polls, inbox reads)

    def run(self, job) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter (half to full of the exponential step)."""
        step = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempts - 1)))
        return step * random.uniform(0.5, 1.0)


def register_job_kind(cls: type[JobKind]) -> type[JobKind]:
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in _KINDS and _KINDS[cls.kind] is not cls:
        raise ValueError(f"job kind {cls.kind} registered twice")
    _KINDS[cls.kind] = cls
    return cls


def get_kind(name: str) -> type[JobKind]:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


def schedule_on_commit(job) -> None:
    """Hand a due job to huey once the surrounding transaction commits (never before: the row must exist)."""
    if job.next_run_at > clock.now():
        return  # the dispatcher picks it up when due

    def _send():
        from ocbridge.core.tasks import run_job_task

        run_job_task(job.pk)

    transaction.on_commit(_send)


def claim(job_id: int):
    """Take the job if it is queued and due. One conditional UPDATE: atomic on SQLite and PostgreSQL."""
    from ocbridge.core.models import Job

    now = clock.now()
    kind_claim = 120
    row = Job.objects.filter(pk=job_id).values_list("kind", flat=True).first()
    if row is None:
        return None
    if row in _KINDS:
        kind_claim = _KINDS[row].claim_seconds
    hit = Job.objects.filter(pk=job_id, state=JobState.QUEUED, next_run_at__lte=now).update(
        state=JobState.RUNNING,
        claimed_by=WORKER_ID,
        claim_expires_at=now + timedelta(seconds=kind_claim),
        attempts=F("attempts") + 1,
        started_at=now,
    )
    return Job.objects.get(pk=job_id) if hit == 1 else None


def _finish(job, **fields) -> bool:
    """Write the outcome only if we still hold the claim (an expired claim may have been taken over)."""
    from ocbridge.core.models import Job

    fields.setdefault("claimed_by", "")
    fields.setdefault("claim_expires_at", None)
    return bool(Job.objects.filter(pk=job.pk, state=JobState.RUNNING, claimed_by=WORKER_ID).update(**fields))


def _hub_unavailable(exc: Exception) -> bool:
    """A locked, busy or lost hub database (retry), not a bug in a query (SQLite reports both as OperationalError)."""
    from django.db import connection

    if isinstance(exc, InterfaceError) or connection.vendor != "sqlite":
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "disk i/o" in text


def _finish_quietly(job, **fields) -> None:
    """Record the outcome if the database lets us; if it is still unavailable, the claim expires and the
    dispatcher queues the job again (requeue_expired). huey's db_task closes a broken connection afterwards."""
    try:
        _finish(job, **fields)
    except (OperationalError, InterfaceError):
        log.warning("job %s (%s): hub database unavailable; left to its claim expiry", job.pk, job.kind)


def run_job(job_id: int):
    """Claim and run one job; returns the Job after the run, or None when it was not ours to run."""
    from ocbridge.core.models import Job

    job = claim(job_id)
    if job is None:
        return None
    kind = get_kind(job.kind)()
    token = current_job.set(job)
    now = clock.now
    try:
        kind.run(job)
    except Defer as exc:
        _finish(job, state=JobState.QUEUED, attempts=F("attempts") - 1, next_run_at=now() + timedelta(seconds=exc.seconds),
                last_error=exc.reason)
    except RetryableError as exc:
        if job.attempts >= job.max_attempts:
            _finish(job, state=JobState.FAILED, finished_at=now(), last_error=f"gave up after {job.attempts} attempts: {exc}")
        else:
            delay = exc.retry_after if exc.retry_after is not None else kind.backoff(job.attempts)
            _finish(job, state=JobState.QUEUED, next_run_at=now() + timedelta(seconds=delay), last_error=str(exc))
    except (ServiceError, ConfigurationError) as exc:  # terminal: the service's own message is kept
        _finish(job, state=JobState.FAILED, finished_at=now(), last_error=str(exc))
    except (OperationalError, InterfaceError) as exc:
        if not _hub_unavailable(exc):
            log.exception("job %s (%s) crashed", job.pk, job.kind)
            _finish_quietly(job, state=JobState.ERRORED, finished_at=now(), last_error=traceback.format_exc()[-4000:])
        elif job.attempts >= job.max_attempts:
            _finish_quietly(job, state=JobState.FAILED, finished_at=now(), last_error=f"gave up after {job.attempts} attempts: {exc}")
        else:  # the hub's own database was locked or gone: try again later, like any retryable error
            _finish_quietly(job, state=JobState.QUEUED, next_run_at=now() + timedelta(seconds=kind.backoff(job.attempts)),
                            last_error=f"hub database unavailable: {exc}")
    except Exception:
        log.exception("job %s (%s) crashed", job.pk, job.kind)
        _finish(job, state=JobState.ERRORED, finished_at=now(), last_error=traceback.format_exc()[-4000:])
    else:
        _finish(job, state=JobState.DONE, finished_at=now(), last_error="")
    finally:
        current_job.reset(token)
    return Job.objects.get(pk=job.pk)


# --- periodic schedules and the dispatcher -------------------------------------------------------------


@dataclass
class Schedule:
    name: str
    every: float  # seconds
    fn: Callable[[], None]  # enqueues jobs; must be idempotent (time-slot keys)


_SCHEDULES: dict[str, Schedule] = {}


def register_schedule(name: str, every: float) -> Callable:
    """Decorator: call fn about every `every` seconds from the dispatcher (each worker runs one)."""

    def deco(fn):
        _SCHEDULES[name] = Schedule(name, every, fn)
        return fn

    return deco


def slot_key(prefix: str, every: float) -> str:
    """Idempotency key for one time slot of a periodic job: several dispatchers enqueue it once."""
    return f"{prefix}:{int(clock.now().timestamp() // every)}"


def requeue_expired() -> int:
    """Jobs whose worker died: back to the queue (or failed when attempts ran out)."""
    from ocbridge.core.models import Job

    now = clock.now()
    expired = Job.objects.filter(state=JobState.RUNNING, claim_expires_at__lt=now)
    failed = expired.filter(attempts__gte=F("max_attempts")).update(
        state=JobState.FAILED, finished_at=now, claimed_by="", last_error="worker lost; attempts exhausted")
    back = expired.update(state=JobState.QUEUED, claimed_by="", claim_expires_at=None, next_run_at=now,
                          last_error="worker lost (claim expired); retried")
    return failed + back


def due_job_ids(limit: int = 200, redispatch_after: float = 30.0) -> list[int]:
    """Queued, due jobs not handed to huey recently; marks them handed (a soft lease, not a claim)."""
    from django.db.models import Q

    from ocbridge.core.models import Job

    now = clock.now()
    stale = now - timedelta(seconds=redispatch_after)
    qs = Job.objects.filter(state=JobState.QUEUED, next_run_at__lte=now).filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
    ids = list(qs.order_by("next_run_at").values_list("pk", flat=True)[:limit])
    if ids:
        Job.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


_next_run: dict[str, float] = {}  # monotonic time each schedule is due next


def run_schedules() -> float:
    """Run the schedules that are due; returns seconds until the next one is due.

    Fixed rate: a schedule due at T runs next at T + every (not at "whenever it ran" + every), so a 15 s
    poll stays 15 s apart instead of drifting by a dispatcher tick each time."""
    import time

    for s in list(_SCHEDULES.values()):
        t = time.monotonic()
        due = _next_run.get(s.name, t)
        if t >= due:
            # Far behind (a long stop): start afresh from now rather than running the missed slots.
            _next_run[s.name] = due + s.every if t - due < s.every else t + s.every
            try:
                s.fn()
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %s failed", s.name)
    t = time.monotonic()
    return max(0.0, min((due - t for due in _next_run.values()), default=3600.0))


def dispatch_due(send: Callable[[int], None]) -> float:
    """One dispatcher tick: requeue dead claims, run schedules, hand due jobs to `send`.
    Returns seconds until the next schedule is due."""
    requeue_expired()
    wait = run_schedules()
    for pk in due_job_ids():
        send(pk)
    return wait


def dispatcher_loop(stop: threading.Event, send: Callable[[int], None], interval: float = 1.0) -> None:
    while not stop.is_set():
        wait = interval
        try:
            wait = min(interval, dispatch_due(send))
        except Exception:  # database locked or down: log, wait, go on
            log.exception("dispatcher tick failed")
        finally:
            close_old_connections()
        stop.wait(wait)  # wakes on time for a due schedule, not up to a tick late


def run_until_idle(max_rounds: int = 50) -> int:
    """Tests and CLI: run every due job in this process until none is left. Returns how many ran."""
    ran = 0
    for _ in range(max_rounds):
        requeue_expired()
        ids = due_job_ids(limit=1000, redispatch_after=0)
        if not ids:
            break
        for pk in ids:
            if run_job(pk) is not None:
                ran += 1
    return ran
