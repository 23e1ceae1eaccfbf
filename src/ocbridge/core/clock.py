"""The one clock. Every module reads time through `now()` so tests can move time, even in other processes.

In test mode (OCBRIDGE_TEST_CLOCK=1) an offset in seconds is read from a file in the data dir; a test
advances time for the worker and web processes alike by writing that file (`travel()`).

`db_now()` is the hub database's own time as an SQL expression, with the same test offset applied inside the
SQL: claims and their expiry are stamped and compared by it, so workers whose clocks disagree still agree on
whose claim has run out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db.models import DateTimeField, Func

_cache: dict[str, float] = {}


def _offset_file() -> Path:
    return Path(settings.DATA_DIR) / "clock_offset"


def offset_seconds() -> float:
    """Current test offset; 0 unless test mode is on. Cached on the file's mtime (cheap in hot paths)."""
    if not getattr(settings, "TEST_CLOCK", False):
        return 0.0
    path = _offset_file()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0.0
    key = f"{path}:{mtime}"
    if key not in _cache:
        _cache.clear()
        _cache[key] = float(path.read_text().strip() or 0)
    return _cache[key]


def now() -> dt.datetime:
    """Aware UTC now, plus the test offset."""
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset_seconds())


class DbNow(Func):
    """The hub database's current time plus `seconds` (and the test offset), computed by the database."""

    output_field = DateTimeField()
    template = "CURRENT_TIMESTAMP"

    def __init__(self, seconds: float = 0.0):
        self.seconds = float(seconds)
        super().__init__()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): the same text shape compares right.
        return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'now', %s)", [f"{self.seconds:+.3f} seconds"]

    def as_postgresql(self, compiler, connection, **extra):
        # statement_timestamp(): the time of this statement, not of the transaction's start (now()).
        return "(STATEMENT_TIMESTAMP() + make_interval(secs => %s))", [self.seconds]

    def as_sql(self, compiler, connection, **extra):  # pragma: no cover - the hub runs on SQLite or PostgreSQL
        raise NotImplementedError(f"db_now() on {connection.vendor}")


def db_now(plus_seconds: float = 0.0) -> DbNow:
    """SQL expression: the database's now + the test offset + `plus_seconds` (for UPDATE … SET and WHERE)."""
    return DbNow(offset_seconds() + plus_seconds)


def db_time() -> dt.datetime:
    """The database's now (+ test offset) read into Python, for a value that must agree with claim times."""
    from django.db import connection

    with connection.cursor() as cur:
        sql, params = getattr(db_now(), f"as_{connection.vendor}")(None, connection)
        cur.execute(f"SELECT {sql}", params)
        value = cur.fetchone()[0]
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def travel(seconds: float) -> None:
    """Move the shared clock forward (test mode only)."""
    if not getattr(settings, "TEST_CLOCK", False):
        raise RuntimeError("clock.travel() needs OCBRIDGE_TEST_CLOCK=1")
    path = _offset_file()
    total = offset_seconds() + seconds
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(total))
    tmp.replace(path)


def reset() -> None:
    """Back to real time (test mode)."""
    _offset_file().unlink(missing_ok=True)
    _cache.clear()
