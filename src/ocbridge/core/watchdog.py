"""The watchdog: a routine poll (core.polls, no Job row) that finds work nothing is driving any more, and resumes it
or hands it to a person.

Each minute it
- re-queues once a job an unexpected error parked (`errored`: a bug or a race); a second error leaves it parked,
  where the overview's "jobs that gave up" line shows it (core.attention);
- asks each feature's finder for cases left with no live job (COD: a confirmation waiting with nothing
  queued) — the finder resumes them or hands them to a person (`register_finder`);
- resumes side effects paused while something was switched off, once all is on again (core.outbox).

`stuck_count(stores)` is what the overview's one "needs attention" query adds (registered below): cases with no
live job right now, before the next watchdog run deals with them, and side effects paused by a switch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import F
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ocbridge.core import clock, outbox
from ocbridge.core.attention import Attention, register_attention
from ocbridge.core.choices import JobState, SideEffectState
from ocbridge.core.models import Job, SideEffect
from ocbridge.core.polls import Target, register_poll

log = logging.getLogger(__name__)
RETRIED = "watchdog_retried"  # payload mark: an errored job is re-queued once only


@dataclass(frozen=True)
class Finder:
    """A feature's search for cases with no live job: `count(stores)` and `fix() -> (resumed, handed_over)`."""

    count: Callable[..., int]
    fix: Callable[[], tuple[int, int]]


_finders: dict[str, Finder] = {}


def register_finder(name: str, *, count: Callable[..., int], fix: Callable[[], tuple[int, int]]) -> None:
    _finders[name] = Finder(count, fix)


def retry_errored() -> int:
    """Errored jobs not retried by the watchdog yet: queued again now (compare-and-set on the state)."""
    n = 0
    for job in Job.objects.filter(state=JobState.ERRORED).exclude(payload__has_key=RETRIED)[:200]:
        n += Job.objects.filter(pk=job.pk, state=JobState.ERRORED).update(
            state=JobState.QUEUED, next_run_at=clock.now(), finished_at=None, dispatched_at=None,
            max_attempts=F("attempts") + 1, payload={**job.payload, RETRIED: True},
            last_error=f"re-queued once by the watchdog after an unexpected error:\n{job.last_error}"[-4000:])
    return n


def run_watchdog() -> dict:
    counts = {"errored_requeued": retry_errored()}
    counts["resumed"], counts["withdrawn"] = outbox.resume_switched_on()
    for name, finder in _finders.items():
        try:
            counts[f"{name}.resumed"], counts[f"{name}.handed_over"] = finder.fix()
        except Exception:  # one feature's bug must not stop the others
            log.exception("watchdog finder %s failed", name)
    return counts


def stuck_count(stores) -> int:
    """Cases with no live job in these stores (the overview adds it to "needs attention")."""
    return sum(finder.count(stores) for finder in _finders.values())


@register_poll("core.watchdog", targets=lambda: [Target(key="hub", every=60)],
               label=_("The watchdog (finds orders with nothing scheduled)"))
def watchdog(target: Target) -> None:
    counts = run_watchdog()
    if any(counts.values()):
        log.info("watchdog: %s", counts)


@register_attention("core.stuck", order=15)
def stuck(stores) -> Attention | None:
    n = stuck_count(stores)
    if not n:
        return None
    return Attention(key="core.stuck", count=n, orders=True,
                     text=ngettext("%(n)d order has nothing scheduled; the watchdog takes it up within a minute",
                                   "%(n)d orders have nothing scheduled; the watchdog takes them up within a minute",
                                   n) % {"n": n})


@register_attention("core.paused", order=16)
def paused(stores) -> Attention | None:
    n = SideEffect.objects.filter(store__in=stores, state=SideEffectState.PAUSED).count()
    if not n:
        return None
    return Attention(key="core.paused", count=n,
                     text=ngettext("%(n)d call or message is paused: its store, connection or feature is switched off",
                                   "%(n)d calls or messages are paused: their store, connection or feature is switched "
                                   "off", n) % {"n": n})
