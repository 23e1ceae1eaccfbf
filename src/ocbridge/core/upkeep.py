"""The hub's SQLite statistics kept current by the worker, off the request path (PostgreSQL: autovacuum analyzes).

Without statistics SQLite's planner guesses between indexes from their shapes alone; `ANALYZE` stores what the tables
hold (sqlite_stat1) and every connection opened afterwards plans with it. SQLite's advice is `PRAGMA optimize`
(https://sqlite.org/lang_analyze.html#req, https://sqlite.org/pragma.html#pragma_optimize): analyze a table when it
has never been analyzed or its size has changed a lot since, with `PRAGMA analysis_limit` so a big table costs
milliseconds, not a full scan. On SQLite before 3.46 `PRAGMA optimize` looks only at the tables the calling connection
has queried — the worker's connection never reads the dashboard's tables — so the rule is applied here to every
table, from the row counts sqlite_stat1 recorded. A hub whose tables have not changed that much analyzes nothing and
writes nothing: an idle hub stays without writes.
"""

from __future__ import annotations

import logging

from ocbridge.core.jobs import register_schedule

log = logging.getLogger(__name__)

EVERY = 3600.0  # the first tick of a worker runs it too
ANALYSIS_LIMIT = 1000  # rows sampled per index: enough to choose an index (SQLite's docs suggest 100-1000)
GROWTH = 10  # analyze again when a table holds this many times more (or fewer) rows than when last analyzed
SMALL = 100  # below this a table's plan does not matter (and a new hub's empty tables are not analyzed over and over)


@register_schedule("core.upkeep", every=EVERY)
def optimize() -> list[str]:
    """ANALYZE the hub's tables that need it (never analyzed, or grown or shrunk GROWTH times since); returns their
    names. Nothing on PostgreSQL, nothing inside a transaction."""
    from django.db import connection

    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return []
    with connection.cursor() as cur:
        due = [table for table, rows in _sizes(cur) if _due(rows, _analyzed_rows(cur, table))]
        if not due:
            return []
        cur.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        for table in due:
            cur.execute(f'ANALYZE "{table}"')
    log.info("hub statistics refreshed: %s", ", ".join(due))
    return due


def _sizes(cur) -> list[tuple[str, int]]:
    """(table, about how many rows) of every table with an index: the span of its integer primary key, two probes of
    its B-tree each (a count(*) would read the whole table; so would max() and min() in one SELECT — SQLite's
    min/max shortcut takes one aggregate alone, hence the two subqueries)."""
    cur.execute("SELECT DISTINCT m.name FROM sqlite_master m JOIN sqlite_master i ON i.tbl_name = m.name "
                "AND i.type = 'index' WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name")
    out = []
    for (table,) in cur.fetchall():
        try:
            cur.execute(f'SELECT (SELECT max(rowid) FROM "{table}") - (SELECT min(rowid) FROM "{table}") + 1')
        except Exception:  # noqa: BLE001 - a WITHOUT ROWID table (none of ours today): left to SQLite's guess
            continue
        out.append((table, cur.fetchone()[0] or 0))
    return out


def _analyzed_rows(cur, table: str) -> int | None:
    """The row count sqlite_stat1 holds for `table` (its largest index's), or None when never analyzed."""
    cur.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if not cur.fetchone():
        return None
    cur.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
    counts = [int(stat.split()[0]) for (stat,) in cur.fetchall() if stat and stat.split()[0].isdigit()]
    return max(counts) if counts else None


def _due(rows: int, analyzed: int | None) -> bool:
    if analyzed is None:
        return rows >= SMALL
    if max(rows, analyzed) < SMALL:
        return False
    return rows >= GROWTH * max(analyzed, 1) or analyzed >= GROWTH * max(rows, 1)
