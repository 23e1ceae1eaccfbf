"""The hub's SQLite log (WAL) is copied back into the database file by the worker, off the request path.

A commit that finds the log at `wal_autocheckpoint` pages runs the checkpoint itself, inside whatever committed:
with SQLite's default (1,000 pages) that was a web request every few seconds under load, the largest part of
order status by phone's p99 (bench/lookup.py). The hub's connections raise that threshold (settings.SQLITE_WAL_PAGES,
the safety net of a hub with no worker) and the worker's dispatcher checkpoints once a second instead. PASSIVE
never waits for a writer nor blocks one, so requests go on while it copies; when everything is copied the next
commit starts the log from its beginning. Under an unbroken stream of commits a commit lands while each copy syncs,
the log never starts over and a request checkpoints at SQLITE_WAL_PAGES after all (bench/lookup.py: every ~450
calls at ~150 a second, copying only what the worker had not). PostgreSQL: nothing to do.
"""

from __future__ import annotations

from ocbridge.core.jobs import register_schedule


@register_schedule("core.wal_checkpoint", every=1.0)
def checkpoint() -> tuple[int, int, int] | None:
    """PRAGMA wal_checkpoint(PASSIVE) on the hub's database: (busy, pages in the log, pages copied), or None when the
    hub is not on SQLite."""
    from django.db import connection

    if connection.vendor != "sqlite" or connection.in_atomic_block:  # SQLite copies nothing inside a transaction
        return None
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(PASSIVE)")
        busy, in_log, copied = cur.fetchone()
    return busy, in_log, copied
