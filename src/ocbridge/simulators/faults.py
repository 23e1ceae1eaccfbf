"""Fault injection and rate limits: the queued `Fault`s `Simulator.fail_next` takes, and a token bucket."""

from __future__ import annotations

import time
from dataclasses import dataclass

# 502/504: a gateway in front; 403: a firewall or proxy in front refusing, with no body; empty: a success answer
# with none of its fields (the provider's own envelope, nothing in it).
FAULT_KINDS = ("timeout", "500", "502", "503", "504", "429", "garbage", "reset", "403", "empty")

# A body that is neither JSON, nor a number, nor XML: what a broken proxy in front of a provider returns.
GARBAGE_BODY = b'<html><body><h1>502 Bad Gateway</h1></body></html>\n{"code": "00", "jobid": \xff\xfe'


@dataclass
class Fault:
    """One queued fault; applies to the next `count` requests whose path starts with `path`."""

    kind: str
    count: int = 1
    path: str | None = None
    after: bool = False
    seconds: float | None = None
    retry_after: int = 1

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


class TokenBucket:
    """Classic token bucket in real time: `rate` tokens per second, at most `burst` stored."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Take one token; returns 0 when allowed, else seconds until a token is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0
