"""Every Redis client of the hub is built here, with timeouts and a retry policy chosen for where it is used.

redis-py's defaults wait 5 s to connect and 5 s for each answer: a Redis that accepts connections and never answers
(hung, or its host overloaded) held a webhook's hand-over to huey 5 s, a dashboard page 5 s per read of the poll
lease store and every config-stamp look (settings on each request) 2 s. And a client built with `redis.Redis(...)`
retries ten times with back-off by default (~3 s more against a stopped Redis) — so nothing here is left to them.

- `REQUEST`: anything a web request (or a job's settings look) waits for. A Redis that does not answer at once is
  treated as down, and every such caller already has its way round: a stored webhook or job waits for the
  dispatcher's next look, settings are read from the database, a page leaves the lease store's figures out.
- `WORKER`: the poll lease store as the worker's poll loop and jobs use it: longer waits ride out a Redis pausing
  (a fork for a snapshot, a slow disk under its append-only file) instead of skipping a poll's slot.
- huey's queue (core.queue.RedisQueueStorage): an enqueue — what a request makes — REQUEST; the rest (the
  consumer's blocking read, which waits `read_timeout` for work by design, results, the schedule) WORKER, with that
  wait on top.

No retries anywhere: each caller asks again at its own next look (the next request, dispatcher tick or poll slot),
and a retry would only hold the caller longer against a Redis that hangs. A pooled connection the server closed is
replaced when it is taken from the pool, so a restarted Redis needs no retry either.

A Redis that just timed out or refused is not asked again for a few seconds (core.redis_breaker): a hung one costs
a process one wait per few seconds, not one per look.

Timeouts given in OCBRIDGE_REDIS_URL's query (`?socket_timeout=1&socket_connect_timeout=1`) win over both, for a
Redis far away (huey's blocking read still adds its wait on top).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Use:
    connect: float  # seconds to open a connection
    answer: float  # seconds to wait for each answer


REQUEST = Use(connect=0.25, answer=0.25)
WORKER = Use(connect=1.0, answer=2.0)


def pool(url: str, use: Use, *, blocks: float = 0.0, skips: bool = True):
    """A connection pool for `url`. `blocks`: how long a command on it waits at Redis by design (huey's BRPOP).
    `skips=False`: always ask, even while core.redis_breaker skips that Redis for the others."""
    from redis.backoff import NoBackoff
    from redis.connection import parse_url
    from redis.retry import Retry

    from ocbridge.core.redis_breaker import Pool

    options = {"socket_connect_timeout": use.connect, "socket_timeout": use.answer, "retry": Retry(NoBackoff(), 0)}
    options.update(parse_url(url))  # as ConnectionPool.from_url: the URL's own options win
    options["socket_timeout"] += blocks  # on top of the URL's too: a blocking read must not time out while it waits
    return Pool(skips=skips, **options)


def client(url: str, use: Use, *, skips: bool = True):
    """A client for `url` on a pool of its own."""
    import redis

    client = redis.Redis(connection_pool=pool(url, use, skips=skips))
    client.auto_close_connection_pool = True  # as Redis.from_url's: closing the client closes its pool
    return client
