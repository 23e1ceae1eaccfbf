"""The huey queue: on one machine SqliteHuey whose commits do not each wait for the disk; on several (Redis) RedisHuey
on the hub's own Redis clients (core.redis_clients).

huey's SQLite storage keeps SQLite's default synchronous=FULL, so every enqueue — one per webhook and per job handed
to the workers after a commit — waited for a flush of the queue file: 0.5 ms median, 16 ms p99 on our 2-core test
machine, more than the rest of a webhook's work. The queue is WAL-journaled like the hub's own database, and now
synchronous=NORMAL like it too: a crash never corrupts it, and a power cut can lose only the last entries — which
costs seconds, not work, since the Job row is the truth and the dispatcher hands due jobs to huey again (DESIGN.md).
"""

from huey import RedisHuey, SqliteHuey
from huey.storage import RedisStorage, SqliteStorage

from ocbridge.core import redis_clients


class QueueStorage(SqliteStorage):
    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class QueueHuey(SqliteHuey):
    storage_class = QueueStorage


class RedisQueueStorage(RedisStorage):
    """huey's RedisStorage with its connections' timeouts set (huey builds a URL's pool with redis-py's 5 s waits):
    an enqueue — a request handing its job or webhook over after the commit — gives up after REQUEST's wait, and the
    stored row waits for the dispatcher's next look; the consumer's blocking reads wait `read_timeout` for work and
    WORKER's wait for Redis on top; everything else (results, the schedule) WORKER's."""

    def __init__(self, name="huey", blocking=True, read_timeout=1, url=None, **kwargs):
        super().__init__(name, blocking=blocking, read_timeout=read_timeout,
                         connection_pool=redis_clients.pool(url, redis_clients.WORKER, blocks=read_timeout), **kwargs)
        self.quick = redis_clients.client(url, redis_clients.REQUEST)

    def enqueue(self, data, priority=None):
        if priority:
            raise NotImplementedError("Task priorities are not supported by this storage.")
        self.quick.lpush(self.queue_key, data)


class RedisQueueHuey(RedisHuey):
    storage_class = RedisQueueStorage
