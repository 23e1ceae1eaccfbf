"""Stored webhooks are the queue: a request verifies, stores its raw Exchange once (with the jobs it asks for) and
commits; the worker's dispatcher turns stored rows into Jobs.

Why (issue 23): a webhook that also inserted its Job row paid a second row, five more index entries and the Job's
building on every request — what kept ingest under 0.8× a page doing one INSERT. The Exchange row is written anyway
(DESIGN.md: stored raw first), so it carries the work too: `pending_jobs`, a short list of job specs, indexed only
while set (`exchange_inbox`).

Exactly once: `queue_stored()` creates the jobs (idempotency keys from the provider's event ids) and clears the row's
`pending_jobs` in one transaction, the clear conditional on it still being set — a crash before the commit leaves the
row stored and it is queued at the next look; two dispatchers never both queue one row. A repeated delivery is its own
row whose jobs exist already: noted on it as "N duplicate deliveries: already queued", linked to the job.

Promptly: after the commit the web process wakes the dispatcher (core.wake) on one machine, or queues a huey task on
Redis; the dispatcher's tick sweeps stored rows either way, so a webhook stored while no worker runs (or while Redis
is down: the request is still answered, core.jobkinds.hand_over_on_commit) is queued when one looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, transaction

from ocbridge.core import wake
from ocbridge.core.choices import ExchangeOutcome, Level
from ocbridge.core.exchanges import close_inbound
from ocbridge.core.jobkinds import hand_over_on_commit
from ocbridge.core.sentences import Sentence, listed, ngettext_noop, storable

log = logging.getLogger(__name__)

# What the web process calls after a stored webhook commits: wake the dispatcher (one machine) or queue a huey task
# that queues it (Redis: set by core.tasks).
_waker: list[Callable[[], None]] = [wake.send]


def set_waker(fn: Callable[[], None]) -> None:
    _waker[:] = [fn]


def job(kind: str, *, key: str, store_id: int | None, integration_id: int | None, payload: dict) -> dict:
    """One job a stored webhook asks for (JSON: it waits in the Exchange row)."""
    return {"kind": kind, "key": key, "store": store_id, "integration": integration_id, "payload": payload}


def store(exchange, jobs: list[dict], *, status: int = 200, response_body: str = "",
          error: str | Sentence = "") -> None:
    """Save the inbound request with its answer and the jobs it asks for — one INSERT, one commit — and wake the
    dispatcher once it is committed. No jobs (a progress ping): just the request."""
    exchange.pending_jobs = jobs or None
    close_inbound(exchange, status=status, response_body=response_body, error=error)
    if jobs:
        hand_over_on_commit(lambda: _waker[0](), f"webhook {exchange.pk}")


def _noted(error: str, said, repeats: int) -> tuple[str, dict | None]:
    """A stored row's error (its text and as said) with the repeated deliveries its jobs met noted after it."""
    if not repeats:
        return error, said
    dup = Sentence(*ngettext_noop("{count} duplicate delivery: already queued",
                                  "{count} duplicate deliveries: already queued"), count=repeats)
    before = Sentence.from_data(said) or error
    note = listed([before, dup] if before else [dup])
    return note.english()[:4000], storable(note)


class _Taken(Exception):
    """Another dispatcher queued this row first."""


def queue_stored(limit: int = 200) -> int:
    """Turn stored webhooks into Jobs (not handed over: the caller's `hand_out` does that next). Returns how many rows
    were queued. One transaction per call, a savepoint per row: a row that cannot be queued (a job kind no longer
    known) is marked failed and shown, never retried forever; a locked database leaves every row for the next look."""
    from ocbridge.core.models import Exchange, Job

    stored = list(Exchange.objects.filter(pending_jobs__isnull=False).order_by("id")
                  .values_list("pk", "pending_jobs", "error", "error_said", "created")[:limit])
    if not stored:  # the usual look: one read of an empty index, no write
        return 0
    queued = 0
    with transaction.atomic():
        for pk, specs, error, said, arrived in stored:
            try:
                with transaction.atomic():
                    last, repeats = None, 0
                    for spec in specs:
                        # due since the webhook arrived: among due jobs it keeps its place by arrival, as when
                        # the request made the job (a status check queued meanwhile runs after a notice's job)
                        last = Job.objects.enqueue(spec["kind"], key=spec["key"], store_id=spec["store"],
                                                   integration_id=spec["integration"], hand_over=False,
                                                   run_at=arrived, payload={**spec["payload"], "exchange_id": pk})
                        repeats += not last.queued_now
                    note, note_said = _noted(error, said, repeats)
                    if not Exchange.objects.filter(pk=pk, pending_jobs__isnull=False).update(
                            pending_jobs=None, job_id=last.pk if last else None, error=note, error_said=note_said):
                        raise _Taken
                queued += 1
            except _Taken:
                continue
            except (OperationalError, InterfaceError):
                raise  # the hub database is locked or gone: every row waits for the next look
            except Exception as exc:
                log.exception("stored webhook %s could not be queued", pk)
                Exchange.objects.filter(pk=pk, pending_jobs__isnull=False).update(
                    pending_jobs=None, outcome=ExchangeOutcome.FAILED, level=Level.ERROR,
                    error=f"{error}; could not be queued: {type(exc).__name__}: {exc}".lstrip("; ")[:4000])
    return queued
