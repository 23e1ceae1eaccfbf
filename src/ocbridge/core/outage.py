"""An outage of something every tick or request reaches for (Redis: huey's queue, the config stamp, poll leases) said
in one masked log line when it starts, again at most every REPEAT_SECONDS while it lasts, and once when it answers
again — not a traceback per attempt, which buried everything else in the log and repeated itself every second."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings

from ocbridge.core.masking import mask_values

REPEAT_SECONDS = 60.0


def masked_error(exc: BaseException) -> str:
    """`Type: message` on one line, at most 300 characters, with the Redis URL and its password masked."""
    url = getattr(settings, "REDIS_URL", "")
    secrets = [urlsplit(url).password or "", url] if url else []
    return f"{type(exc).__name__}: " + mask_values(" ".join(str(exc).split())[:300], secrets)


class Outage:
    """One per thing that can be down, per process: `failed(exc)` on every failed attempt, `ok()` on every success
    (cheap while nothing failed)."""

    def __init__(self, log: logging.Logger, what: str, consequence: str, repeat: float = REPEAT_SECONDS):
        self.log, self.what, self.consequence, self.repeat = log, what, consequence, repeat
        self._lock = threading.Lock()
        self.since: float | None = None  # monotonic start of the outage
        self._said = 0.0
        self._failures = 0

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            if self.since is None:
                self.since, first = now, True
            else:
                first = False
                if now - self._said < self.repeat:
                    return
            self._said, failures = now, self._failures
        if first:
            self.log.warning("%s unreachable (%s): %s", self.what, self.consequence, masked_error(exc))
        else:
            self.log.warning("%s still unreachable after %d s (%d failed attempts; %s): %s", self.what,
                             now - self.since, failures, self.consequence, masked_error(exc))

    def ok(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            down, failures = time.monotonic() - self.since, self._failures
            self.since, self._failures = None, 0
        self.log.warning("%s answers again after %d s (%d failed attempts)", self.what, down, failures)


# huey's queue, as this process's dispatcher (core.jobs.hand_out) and huey's own consumer threads reach it
job_queue = Outage(logging.getLogger("ocbridge.core.jobs"), "job queue",
                   "due jobs wait in the job table and are handed out when it answers")


class QueueReadErrors(logging.Filter):
    """Log filter (settings.LOGGING): huey's consumer logs a traceback for every failed read of its queue — each
    worker thread several times a second while Redis is down. Those records become `job_queue`'s one line a minute;
    any other error of huey's is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not record.name.startswith("huey.consumer") or not broker_down(exc):
            return True
        job_queue.failed(exc)
        return False


def broker_down(exc: BaseException) -> bool:
    """Whether `exc` says Redis cannot be reached (not a command it refused)."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
    except ImportError:  # no Redis client: huey's queue is its SQLite file
        return False
    return isinstance(exc, (RedisConnectionError, RedisTimeoutError))
