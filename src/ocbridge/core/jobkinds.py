"""What a job is, without the runner: kinds, their registry, the running job, and the hand-over to huey.

Kept apart from `core.jobs` (the runner) so that `core.models` can name kinds and hand a new Job to huey
without importing the runner, which imports the models: models → jobkinds ← jobs ← tasks, no circle.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from contextvars import ContextVar

from django.db import transaction

from ocbridge.core import clock
from ocbridge.core.outage import Outage, broker_down, masked_error
from ocbridge.core.sentences import Sentence

log = logging.getLogger(__name__)
# Redis down under a web process: one line a minute for all the webhooks and jobs it could not hand over, not one each
_hand_over_outage = Outage(log, "job queue", "stored webhooks and jobs are queued by the dispatcher's next look")

# The Job this thread is running (set by core.jobs.run_job): Exchanges, transitions and fenced writes read it.
current_job: ContextVar = ContextVar("current_job", default=None)
# The shop order the running job is about (set by the integration through about_order; run_job clears it per job):
# every Exchange recorded meanwhile carries it, so the log's order filter finds the calls, SMS and shop writes.
current_order: ContextVar = ContextVar("current_order", default=None)


def about_order(order_id: int | None, *, exchange=None) -> None:
    """Mark the rest of this job run as about `order_id`; an inbound `exchange` (the webhook that started the job)
    learns its order too, now that the job has matched it."""
    current_order.set(order_id)
    if exchange is not None and order_id is not None and getattr(exchange, "order_id", None) is None:
        type(exchange).objects.filter(pk=exchange.pk, order_id__isnull=True).update(order_id=order_id)
        exchange.order_id = order_id

_KINDS: dict[str, type[JobKind]] = {}
_sender: list[Callable[[int], None]] = []  # core.tasks registers huey's task here when it is imported


class Defer(Exception):
    """Raised by a kind to run again later without counting a failed attempt (quiet hours, waiting for a task)."""

    def __init__(self, seconds: float, reason: str | Sentence = ""):
        self.seconds = seconds
        # a Sentence (core.sentences) is kept for the job's pages to show in each reader's language; `reason` is English
        self.said = reason if isinstance(reason, Sentence) else None
        self.reason = reason.english() if self.said else reason
        super().__init__(self.reason)


class ClaimLost(Exception):
    """This run's claim on its job was taken over (it stalled past the expiry): it must write nothing more."""


class JobKind:
    """One kind of work. Subclasses set `kind` and implement `run(job)`; they never catch errors 'to be safe'."""

    kind: str = ""
    max_attempts: int = 8
    claim_seconds: int = 120  # renewed while the run is alive; a run silent this long is presumed dead
    backoff_base: float = 15.0
    backoff_max: float = 3600.0
    routine: bool = False  # inbox reads, periodic syncs: pruned after two days, never failed for a lost worker

    def run(self, job) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter (half to full of the exponential step)."""
        step = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempts - 1)))
        return step * random.uniform(0.5, 1.0)


class IntegrationJob(JobKind):
    """Template for an integration's jobs: a job whose integration is gone or switched off does nothing (kinds
    that must finish what was seen before the switch-off set `only_enabled = False`); else `work` runs."""

    max_attempts = 10
    only_enabled = True

    def run(self, job) -> None:
        integration = job.integration
        if integration is None or (self.only_enabled and not integration.enabled):
            return
        self.work(job, integration)

    def work(self, job, integration) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


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


def known_kind(name: str) -> type[JobKind] | None:
    return _KINDS.get(name)


def routine_kinds() -> list[str]:
    """Kinds marked routine: pruned when finished, re-queued (never failed) when their worker is lost."""
    return [name for name, cls in _KINDS.items() if cls.routine]


def set_sender(send: Callable[[int], None]) -> None:
    """core.tasks: hand job ids over with this — to huey, or by waking the dispatcher (core.wake); one per process."""
    _sender[:] = [send]


def schedule_on_commit(job) -> None:
    """Hand a due job over once the surrounding transaction commits (never before: the row must exist).
    Without a sender (core.tasks not loaded) the dispatcher still finds the job when it is due."""
    if job.next_run_at > clock.now() or not _sender:
        return  # the dispatcher picks it up when due
    send = _sender[0]
    hand_over_on_commit(lambda: send(job.pk), f"job {job.pk}")


def hand_over_on_commit(hand_over: Callable[[], None], what: str) -> None:
    """Run `hand_over` (a huey enqueue or a dispatcher wake-up) once the surrounding transaction commits. Its row is
    committed by then, and the dispatcher's next look finds it anyway: a broker that is down (Redis) must not turn
    that stored work into an error — a webhook answered 500 would be delivered again — so a failure is not a raise
    and not a traceback: Redis unreachable is said in one masked line a minute however many requests meet it, any
    other failure in one masked line naming the work."""

    def run() -> None:
        try:
            hand_over()
        except Exception as exc:  # noqa: BLE001 - the work is stored; only the early hand-over was lost
            if broker_down(exc):
                _hand_over_outage.failed(exc)
                return
            log.warning("%s stored but not handed over now (the dispatcher's next look queues it): %s",
                        what, masked_error(exc))
        else:
            _hand_over_outage.ok()

    transaction.on_commit(run)
