"""The job runner: claim a Job row atomically, run its kind, map the outcome (NetBox JobRunner.handle shape).

Flow: `Job.objects.enqueue()` inserts the row and, after commit, hands its id to huey. A huey task calls
`run_job(id)`, which claims the row with one conditional UPDATE, so two workers never run one job. A
crashed worker's claim expires and `dispatch_due()` (the dispatcher loop in `ocbridge worker`) queues it
again. Retry spacing is just `next_run_at`.

Fenced claims: each claim gets a random token. The run's heartbeat renews the claim while the run is alive,
and every later write of the run matches the token (`fenced()`, the outcome in `_finish`): a run that stalled
past its claim (a VM or GC pause) and was taken over writes nothing — `ClaimLost`. Claim times come from the
database (`clock.db_now()`), so workers with different clocks agree on expiry. Worker ids name the thread
(huey runs several per process).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import Exists, F, Q
from django.utils.translation import gettext_noop

from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.errors import ConfigurationError, RetryableError, ServiceError
from ocbridge.core.jobkinds import (  # noqa: F401  (re-exported: integrations import the job API from here)
    ClaimLost,
    Defer,
    IntegrationJob,
    JobKind,
    current_job,
    current_order,
    get_kind,
    known_kind,
    register_job_kind,
    routine_kinds,
    schedule_on_commit,
)
from ocbridge.core.models import Job
from ocbridge.core.outage import broker_down, job_queue
from ocbridge.core.sentences import Sentence, ngettext_noop

log = logging.getLogger(__name__)

HOST = socket.gethostname()[:30]


def worker_id() -> str:
    """host:pid:thread — huey runs several threads per process, and each holds its own claims."""
    return f"{HOST}:{os.getpid()}:{threading.current_thread().name}"[:64]


def claim(job_id: int):
    """Take the job if it is queued and due. One conditional UPDATE: atomic on SQLite and PostgreSQL.

    The claim's token is new each time; its expiry is the database's time plus the kind's claim length."""
    kind_name = Job.objects.filter(pk=job_id).values_list("kind", flat=True).first()
    if kind_name is None:
        return None
    kind = known_kind(kind_name)
    seconds = kind.claim_seconds if kind else JobKind.claim_seconds
    token = secrets.token_hex(16)
    hit = Job.objects.filter(pk=job_id, state=JobState.QUEUED, next_run_at__lte=clock.now()).update(
        state=JobState.RUNNING,
        claimed_by=worker_id(),
        claim_token=token,
        claim_expires_at=clock.db_now(seconds),
        attempts=F("attempts") + 1,
        started_at=clock.db_now(),
    )
    return Job.objects.get(pk=job_id) if hit == 1 else None


def _held(job):
    """Our claim: this row, still running under this run's token."""
    return Job.objects.filter(pk=job.pk, state=JobState.RUNNING, claim_token=job.claim_token)


def renew(job, seconds: float | None = None, *, provided=None) -> bool:
    """Push the claim's expiry out (database time). False when the claim is no longer ours — or, with `provided`
    (a queryset), when no row matches it any more: checked in the same UPDATE, one committed compare-and-set."""
    kind = known_kind(job.kind)
    seconds = seconds if seconds is not None else (kind.claim_seconds if kind else JobKind.claim_seconds)
    held = _held(job) if provided is None else _held(job).filter(Exists(provided))
    return bool(held.update(claim_expires_at=clock.db_now(seconds)))


@contextmanager
def fenced():
    """A transaction that commits only while the running job still holds its claim.

    Its first statement renews the claim by its token (a row lock on PostgreSQL, the write lock on SQLite),
    so a takeover cannot slip in between the check and the writes. Outside a job it is a plain transaction.
    Raises ClaimLost (nothing written) when another run took the job over."""
    job = current_job.get()
    with transaction.atomic():
        if job is not None and job.pk and job.claim_token and not renew(job):
            raise ClaimLost(f"job {job.pk} ({job.kind}) was taken over; this run stops")
        yield


def _finish(job, **fields) -> bool:
    """Write the outcome only if we still hold the claim (an expired claim may have been taken over)."""
    fields.setdefault("claimed_by", "")
    fields.setdefault("claim_token", "")
    fields.setdefault("claim_expires_at", None)
    fields.setdefault("last_error_said", None)  # an outcome without a said error leaves no older one behind
    hit = bool(_held(job).update(**fields))
    if not hit:
        log.warning("job %s (%s): claim taken over; this run's outcome is dropped", job.pk, job.kind)
    return hit


def hub_locked(exc: BaseException) -> bool:
    """The hub's SQLite database locked or busy past its busy timeout (a wait, not a bug in a query: SQLite reports
    both as OperationalError)."""
    from django.db import connection

    if not isinstance(exc, OperationalError) or connection.vendor != "sqlite":
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _hub_unavailable(exc: Exception) -> bool:
    """A locked, busy or lost hub database (retry), not a bug in a query (SQLite reports both as OperationalError)."""
    from django.db import connection

    if isinstance(exc, InterfaceError) or connection.vendor != "sqlite":
        return True
    return hub_locked(exc) or "disk i/o" in str(exc).lower()


def _finish_quietly(job, **fields) -> None:
    """Record the outcome if the database lets us; if it is still unavailable, the claim expires and the
    dispatcher queues the job again (requeue_expired). huey's db_task closes a broken connection afterwards."""
    try:
        _finish(job, **fields)
    except (OperationalError, InterfaceError):
        log.warning("job %s (%s): hub database unavailable; left to its claim expiry", job.pk, job.kind)


class Heartbeat:
    """Renews a running job's claim every third of its length, from a thread of its own (own DB connection)."""

    def __init__(self, job, seconds: float):
        self.job, self.seconds = job, seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job.pk}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=self.seconds)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(self.seconds / 3):
                try:
                    if not renew(self.job, self.seconds):
                        return  # taken over: the run's own fenced writes will find out
                except (OperationalError, InterfaceError):  # locked hub: try again at the next beat
                    log.warning("job %s: claim renewal failed; retrying", self.job.pk)
        finally:
            connection.close()


GAVE_UP = ngettext_noop("gave up after {count} attempt: {error}", "gave up after {count} attempts: {error}")
# A lost worker's job, said (core.sentences) on the row the dashboard shows.
WORKER_LOST_EXHAUSTED = Sentence(gettext_noop("worker lost; attempts exhausted"))
WORKER_LOST_RETRIED = Sentence(gettext_noop("worker lost (claim expired); retried"))


def hub_unavailable(exc: Exception) -> Sentence:
    """The hub's own database locked or gone, with the driver's words (not translated: they are its own)."""
    return Sentence(gettext_noop("hub database unavailable: {detail}"), detail=str(exc)[:1000])


def _said(job, exc: Exception, gave_up: bool = False) -> dict | None:
    """The error's Sentence data for the job's row (core.sentences), so its pages show it in each reader's language;
    the connection's secrets masked as in its Exchanges. None: the error has only its text (`last_error`)."""
    from ocbridge.core.sentences import said_data

    connection = job.integration.connection if job.integration_id and job.integration else None
    data = said_data(exc, connection.secret_values() if connection is not None else ())
    if data is None or not gave_up:
        return data
    return Sentence(*GAVE_UP, count=job.attempts, error=Sentence.from_data(data)).as_data()


def _text(exc: Exception) -> str:
    """An error as the row's text, in English whatever language is active (a ServiceError's is already)."""
    from ocbridge.core.sentences import sentence_of

    sentence = sentence_of(exc)
    return sentence.english() if sentence is not None and not isinstance(exc, ServiceError) else str(exc)


def run_job(job_id: int):
    """Claim and run one job; returns the Job after the run, or None when it was not ours to run."""
    job = claim(job_id)
    if job is None:
        return None
    kind = get_kind(job.kind)()
    token = current_job.set(job)
    order_token = current_order.set(None)
    now = clock.now
    try:
        with Heartbeat(job, kind.claim_seconds):
            kind.run(job)
    except ClaimLost as exc:  # another run owns the job now: write nothing, not even an outcome
        log.warning("%s", exc)
    except Defer as exc:
        _finish(job, state=JobState.QUEUED, attempts=F("attempts") - 1, next_run_at=now() + timedelta(seconds=exc.seconds),
                last_error=exc.reason, last_error_said=exc.said.as_data() if exc.said else None)
    except RetryableError as exc:
        if job.attempts >= job.max_attempts:
            gave_up = Sentence(*GAVE_UP, count=job.attempts, error=str(exc)).english()  # "1 attempt", not "1 attempts"
            _finish(job, state=JobState.FAILED, finished_at=now(), last_error=gave_up,
                    last_error_said=_said(job, exc, gave_up=True))
        else:
            delay = exc.retry_after if exc.retry_after is not None else kind.backoff(job.attempts)
            _finish(job, state=JobState.QUEUED, next_run_at=now() + timedelta(seconds=delay), last_error=str(exc),
                    last_error_said=_said(job, exc))
    except (ServiceError, ConfigurationError) as exc:  # terminal: the service's own message is kept
        _finish(job, state=JobState.FAILED, finished_at=now(), last_error=_text(exc), last_error_said=_said(job, exc))
    except (OperationalError, InterfaceError) as exc:
        if not _hub_unavailable(exc):
            log.exception("job %s (%s) crashed", job.pk, job.kind)
            _finish_quietly(job, state=JobState.ERRORED, finished_at=now(), last_error=traceback.format_exc()[-4000:])
        else:  # the hub's own database was locked or gone: try again later, like any retryable error
            said = hub_unavailable(exc)  # the driver's own words kept as they are, our framing said
            if job.attempts >= job.max_attempts:
                said = Sentence(*GAVE_UP, count=job.attempts, error=said)
                _finish_quietly(job, state=JobState.FAILED, finished_at=now(), last_error=said.english(),
                                last_error_said=said.as_data())
            else:
                _finish_quietly(job, state=JobState.QUEUED, next_run_at=now() + timedelta(seconds=kind.backoff(job.attempts)),
                                last_error=said.english(), last_error_said=said.as_data())
    except Exception:
        log.exception("job %s (%s) crashed", job.pk, job.kind)
        _finish(job, state=JobState.ERRORED, finished_at=now(), last_error=traceback.format_exc()[-4000:])
    else:
        _finish(job, state=JobState.DONE, finished_at=now(), last_error="")
    finally:
        current_order.reset(order_token)
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


def enqueue_unless_waiting(kind, *, key: str, integration, payload: dict | None = None,
                           waiting_payload: dict | None = None, due_only: bool = False) -> bool:
    """A routine "anything to send?" check found work, or the owner pressed "Sync now": queue `kind` for the
    integration, unless a run of it is queued or running already — a queued one plans from the rows as they are when
    it starts (so it sends this change too), and what a running one missed the next check finds. `waiting_payload`:
    only a waiting run whose payload holds these items takes the request (a full reconcile is not taken by a
    routine run). `due_only`: a run queued for later (a payment's 3-D Secure wait) does not take it — "now" means
    now. True when a job was queued."""
    name = get_kind(kind if isinstance(kind, str) else kind.kind).kind
    waits = (Q(state=JobState.RUNNING) | Q(state=JobState.QUEUED, next_run_at__lte=clock.now()) if due_only
             else Q(state__in=(JobState.QUEUED, JobState.RUNNING)))
    waiting = Job.objects.filter(waits, integration=integration, kind=name,
                                 **{f"payload__{k}": v for k, v in (waiting_payload or {}).items()})
    if waiting.exists():
        return False
    # a key used before (a finished run in the same slot) queues nothing: say so
    return Job.objects.enqueue(name, key=key, integration=integration, payload=payload).queued_now


def requeue_expired() -> int:
    """Jobs whose worker died (or stalled past its claim): back to the queue, or failed when attempts ran out —
    except routine kinds (inbox reads, periodic syncs), which are queued again however often their worker died:
    a routine job is re-scheduled, never parked. Expiry is judged by the database's time; clearing the token
    fences the old run out."""
    now = clock.now()
    expired = Job.objects.filter(state=JobState.RUNNING, claim_expires_at__lt=clock.db_now())
    if not expired.exists():  # the usual tick: one indexed read, no write (an UPDATE of no rows still locks SQLite)
        return 0
    failed = expired.exclude(kind__in=routine_kinds()).filter(attempts__gte=F("max_attempts")).update(
        state=JobState.FAILED, finished_at=now, claimed_by="", claim_token="",
        last_error=WORKER_LOST_EXHAUSTED.english(), last_error_said=WORKER_LOST_EXHAUSTED.as_data())
    back = expired.update(state=JobState.QUEUED, claimed_by="", claim_token="", claim_expires_at=None, next_run_at=now,
                          last_error=WORKER_LOST_RETRIED.english(), last_error_said=WORKER_LOST_RETRIED.as_data())
    return failed + back


def due_job_ids(limit: int = 200, redispatch_after: float = 30.0) -> list[int]:
    """Queued, due jobs not handed to huey recently; marks them handed (a soft lease, not a claim)."""
    from django.db.models import Q

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


def dispatch_due(send: Callable[[int], None], polls=None) -> float:
    """One dispatcher tick: requeue dead claims, run schedules, start due routine polls (`polls`: this
    dispatcher's core.polls.Scheduler), hand due jobs to `send`. Returns seconds until something is due next."""
    requeue_expired()
    wait = run_schedules()
    if polls is not None:
        try:
            wait = min(wait, polls.tick())
        except Exception:  # lease store unreachable: log it; due jobs are still handed out below
            log.exception("routine polls: tick failed")
    hand_out(send)
    return wait


def hand_out(send: Callable[[int], None]) -> None:
    """Queue the stored webhooks (core.inbox), then hand the due jobs to `send` (huey) now: what a web process's
    wake-up asks for (core.wake). A queue that cannot take them (Redis down) is said in one line a minute, and the
    jobs not handed over are due again at the next look rather than after the hand-over lease."""
    from ocbridge.core.inbox import queue_stored

    queue_stored()
    ids = due_job_ids()
    for n, pk in enumerate(ids):
        try:
            send(pk)
        except Exception as exc:  # noqa: BLE001 - the broker; the rows are the truth and stay queued
            Job.objects.filter(pk__in=ids[n:]).update(dispatched_at=None)
            job_queue.failed(exc)
            return
        job_queue.ok()


def worker_sender(send: Callable[[int], None]) -> Callable[[int], None]:
    """What `ocbridge worker` hands its own new jobs to huey with (core.jobkinds.set_sender). A queue that cannot take
    one (Redis down) is said in job_queue's one line a minute, as the dispatcher's hand-outs are, not in a line per
    job: the job is due and not marked handed out, so the dispatcher's next look hands it out."""

    def hand_over(pk: int) -> None:
        try:
            send(pk)
        except Exception as exc:
            if not broker_down(exc):
                raise  # not the broker: core.jobkinds.hand_over_on_commit's line says it
            job_queue.failed(exc)
        else:
            job_queue.ok()

    return hand_over


def dispatcher_loop(stop: threading.Event, send: Callable[[int], None], interval: float = 1.0, polls=None) -> None:
    import time

    from ocbridge.core.wake import Listener

    woken = Listener()
    try:
        while not stop.is_set():
            wait = interval
            try:
                wait = min(interval, dispatch_due(send, polls))
            except Exception:  # database locked or down: log, wait, go on
                log.exception("dispatcher tick failed")
            finally:
                close_old_connections()
            # Until the next tick (on time for a due schedule, not up to a tick late), a web process that stored
            # jobs wakes us to hand them out at once.
            until = time.monotonic() + wait
            while not stop.is_set() and (left := until - time.monotonic()) > 0:
                if woken.wait(min(left, 0.5)):
                    try:
                        hand_out(send)
                    except Exception:  # database locked: the next tick hands them out
                        log.exception("dispatcher hand-out failed")
                    finally:
                        close_old_connections()
    finally:
        woken.close()


def run_until_idle(max_rounds: int = 50) -> int:
    """Tests and CLI: run every due job in this process until none is left. Returns how many ran."""
    from ocbridge.core.inbox import queue_stored

    ran = 0
    for _ in range(max_rounds):
        requeue_expired()
        queue_stored(limit=1000)
        ids = due_job_ids(limit=1000, redispatch_after=0)
        if not ids:
            break
        for pk in ids:
            if run_job(pk) is not None:
                ran += 1
    return ran
