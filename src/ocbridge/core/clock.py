"""The one clock. Every module reads time through `now()` so tests can move time, even in other processes.

In test mode (OCBRIDGE_TEST_CLOCK=1) an offset in seconds is read from a file in the data dir; a test
advances time for the worker and web processes alike by writing that file (`travel()`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings

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
