"""A Redis that just timed out or refused a connection is not asked again for SKIP_SECONDS (per process, per server).

Every client of core.redis_clients is built on `Pool`: a command taken while its server is skipped raises `Skipped`
at once — a redis ConnectionError, so each caller falls back exactly as when Redis is down (core.outage.broker_down):
a config-stamp look reads the database, a hand-over to huey leaves the stored row for the dispatcher, a lease take
skips the slot, a page leaves the lease store's figures out. Without it, a Redis that hangs cost every look its
full wait: a dashboard page with three reads 0.75 s, every webhook 0.25 s, a poll tick 2 s per due target.

Who skips: a timeout says only that Redis did not answer within that client's wait, so it skips the clients that
would wait as long or less (`patience`); a refused or dropped connection skips them all. A request's 0.25 s timeout
therefore never makes the poll loop's leases (2 s, meant to ride out a Redis pausing) skip a slot; a lease's 2 s
timeout makes everything skip. When the period is over, one caller asks again (the others keep skipping while it
may wait); any answer — a reply or an error reply — ends the skipping for all. A pool built with `skips=False`
(the config stamp's moves, whose skip would leave other processes on stale settings; the testbed's readiness probe)
still reports what it sees but always asks.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass

import redis
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError, TimeoutError as RedisTimeoutError

SKIP_SECONDS = 5.0


class Skipped(RedisConnectionError):
    """Not asked: this Redis timed out or refused a moment ago (raised at once instead of waiting for it again)."""


@dataclass
class _Server:
    until: float | None = None  # monotonic; None: answering
    patience: float = 0.0  # while skipping, clients that wait this long or less skip
    cause: str = ""


_lock = threading.Lock()
_servers: dict[object, _Server] = {}


def check(key, wait: float, probe: float) -> None:
    """Raise Skipped when a client waiting `wait` seconds must not ask `key` now; else return (it asks). The first
    caller after the period asks for everyone: the others skip the `probe` seconds it may take."""
    server = _servers.get(key)
    if server is None or server.until is None or wait > server.patience:
        return  # the common case, without the lock
    with _lock:
        if server.until is None or wait > server.patience:
            return
        now = time.monotonic()
        if now < server.until:
            raise Skipped(f"Redis {_label(key)} not asked for {server.until - now:.1f} s more, after {server.cause}")
        server.until = now + probe


def failed(key, patience: float, exc: BaseException) -> None:
    """`key` did not answer a client that waited `patience` seconds (math.inf: refused, nobody need wait)."""
    with _lock:
        server = _servers.setdefault(key, _Server())
        server.patience = patience if server.until is None else max(server.patience, patience)
        server.until = time.monotonic() + SKIP_SECONDS
        server.cause = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def answered(key) -> None:
    server = _servers.get(key)
    if server is None or server.until is None:
        return
    with _lock:
        server.until, server.patience = None, 0.0


def forget() -> None:
    """Tests: every server answering again."""
    with _lock:
        _servers.clear()


def _label(key) -> str:
    return key if isinstance(key, str) else f"{key[0]}:{key[1]}"


class _Watched:
    """Mixed into a pool's connection class: reports timeouts, refusals and answers of its server."""

    breaker_key: object = None
    breaker_wait: float = math.inf

    def _watch(self, call, args, kwargs, *, reply: bool):
        try:
            result = call(*args, **kwargs)
        except RedisTimeoutError as exc:
            failed(self.breaker_key, self.breaker_wait, exc)
            raise
        except RedisConnectionError as exc:
            if type(exc) is RedisConnectionError:  # not a reply that is an error (wrong password, loading…)
                failed(self.breaker_key, math.inf, exc)
            elif reply:
                answered(self.breaker_key)
            raise
        except RedisError:
            if reply:  # an error reply is an answer
                answered(self.breaker_key)
            raise
        if reply:
            answered(self.breaker_key)
        return result

    def connect_check_health(self, *args, **kwargs):
        return self._watch(super().connect_check_health, args, kwargs, reply=False)

    def send_packed_command(self, *args, **kwargs):
        return self._watch(super().send_packed_command, args, kwargs, reply=False)

    def read_response(self, *args, **kwargs):
        return self._watch(super().read_response, args, kwargs, reply=True)


@functools.cache
def _watched(base: type) -> type:
    return type(f"Watched{base.__name__}", (_Watched, base), {})


class Pool(redis.ConnectionPool):
    """redis-py's pool whose commands (and pipelines) are skipped while its server is, and whose connections report."""

    def __init__(self, *, skips: bool = True, **kwargs):
        kwargs["connection_class"] = _watched(kwargs.get("connection_class", redis.Connection))
        super().__init__(**kwargs)
        options = self.connection_kwargs
        self.breaker_key = options.get("path") or (options.get("host", "localhost"), int(options.get("port", 6379)))
        connect, answer = options.get("socket_connect_timeout"), options.get("socket_timeout")
        connect = math.inf if connect is None else connect
        answer = math.inf if answer is None else answer
        self.breaker_wait = max(connect, answer)
        self.breaker_probe = connect + answer  # a hung server holds one caller at most this long
        self.skips = skips

    def make_connection(self):
        connection = super().make_connection()
        connection.breaker_key, connection.breaker_wait = self.breaker_key, self.breaker_wait
        return connection

    def get_connection(self, *args, **kwargs):
        if self.skips:
            check(self.breaker_key, self.breaker_wait, self.breaker_probe)
        return super().get_connection(*args, **kwargs)
