"""The hub's SQLite log (WAL) is copied back into the database file by the worker, off the request path.

A commit that finds the log at `wal_autocheckpoint` pages runs the checkpoint itself, inside whatever committed:
with SQLite's default (1,000 pages) that was a web request every few seconds under load, the largest part of
order status by phone's p99 (bench/lookup.py). The hub's connections raise that threshold (settings.SQLITE_WAL_PAGES,
the safety net of a hub with no worker) and the worker's dispatcher checkpoints once a second instead. PASSIVE
never waits for a writer nor blocks one, so requests go on while it copies; when everything is copied the next
commit starts the log from its beginning. Under an unbroken stream of commits a commit lands while each copy syncs,
the log never starts over and a request checkpoints at SQLITE_WAL_PAGES after all (bench/lookup.py: every ~450
calls at ~150 a second, copying only what the worker had not). PostgreSQL: nothing to do.

The copy (16–40 ms of CPU a second under bench/lookup.py's stream of calls) is background work: it runs in a thread of
its own at a lower CPU priority (nice +10; Linux gives each thread its own), so that on a busy machine a web request
gets the CPU before it — the worker's other work keeps its priority.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ocbridge.core.jobs import register_schedule

LOWER_BY = 10
_copier: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    try:  # who=0: the calling thread only, on Linux
        os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + LOWER_BY))
    except (AttributeError, OSError):  # no per-thread priority here: copy at the worker's own
        pass


def _copy() -> tuple[int, int, int] | None:
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, in_log, copied = cur.fetchone()
    return busy, in_log, copied


@register_schedule("core.wal_checkpoint", every=1.0)
def checkpoint() -> tuple[int, int, int] | None:
    """PRAGMA wal_checkpoint(PASSIVE) on the hub's database, in the low-priority copier thread (its own connection):
    (busy, pages in the log, pages copied), or None when the hub is not on SQLite."""
    global _copier
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    if _copier is None:
        _copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-copy", initializer=_lower_priority)
    return _copier.submit(_copy).result()
