"""Per-connection rate limiting (token bucket), so we stay under each provider's documented limits.

The bucket lives in the process: with several worker processes each gets `rate / processes`
(OCBRIDGE_WORKER_PROCESSES, default 1). A provider's 429 is still handled by the job runner
(Retry-After), so an over-run costs a delay, never a lost request.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_buckets: dict[tuple, _Bucket] = {}


class _Bucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self, n: float) -> float:
        """Take n tokens; returns seconds to wait before the request may go (0 = now)."""
        t = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (t - self.stamp) * self.rate)
        self.stamp = t
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


def pace(service: str, options: dict | None, default: float) -> float:
    """Requests a second for one Connection of `service`: its own `rps` option, else the process's
    OCBRIDGE_PROVIDER_RPS for the service, else the client's documented `default`."""
    from django.conf import settings

    return float((options or {}).get("rps") or getattr(settings, "PROVIDER_RPS", {}).get(service) or default)


def acquire(scope: tuple, rate: float, burst: float | None = None, n: float = 1.0, *, sleep=time.sleep) -> float:
    """Block until `n` requests may be made in `scope` at `rate` per second. Returns the time waited."""
    share = max(1, int(os.environ.get("OCBRIDGE_WORKER_PROCESSES", "1")))
    rate = rate / share
    with _lock:
        bucket = _buckets.get(scope)
        if bucket is None or bucket.rate != rate:
            bucket = _buckets[scope] = _Bucket(rate, burst if burst is not None else max(1.0, rate))
        wait = bucket.take(n)
    if wait > 0:
        sleep(wait)
    return wait


def reset() -> None:
    with _lock:
        _buckets.clear()
