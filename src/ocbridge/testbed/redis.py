"""A throwaway Redis server (for RedisHuey): own port and dir under a temp dir, no persistence; gone when stopped."""

from __future__ import annotations

import os
import shutil
import socket
import threading

from ocbridge.testbed.process import ServerProcess

APT_HINT = "redis-server not found. Install it: apt-get install redis-server"


class RedisUnavailable(RuntimeError):
    """redis-server is not installed or did not come up."""


class RedisServer(ServerProcess):
    """Start with `start()` (or as a context manager); `url(db)` gives a redis:// URL."""

    program = "redis-server"
    unavailable = RedisUnavailable
    answers = "answer"
    stop_seconds, kill_seconds = 10.0, 5.0

    def __init__(self, *, port: int | None = None, password: str = ""):
        super().__init__(port=port)
        self.password = password  # requirepass: a URL that carries a secret, as a production one does

    def start(self, timeout: float = 15.0) -> "RedisServer":
        binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
        if binary is None:
            raise RedisUnavailable(APT_HINT)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.base), "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.base / "redis.log"),
                "--protected-mode", "no"] + (["--requirepass", self.password] if self.password else [])
        self._launch(args)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import redis

        from ocbridge.core import redis_clients

        def ping() -> None:
            # always asks: a server still starting refuses, and skipping it would only delay this probe
            with redis_clients.client(self.url(), redis_clients.WORKER, skips=False) as client:
                client.ping()

        self._wait_until(ping, redis.exceptions.ConnectionError, timeout)

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"


class HungRedis:
    """A Redis that hangs: a loopback port that accepts connections and never answers. (A stopped redis-server is
    refused at once, which a client notices in no time; a hung one holds the client until its timeout.)"""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.accepted: list[socket.socket] = []  # held open, never read from nor written to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hung-redis")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self.accepted.append(self._listener.accept()[0])
            except TimeoutError:
                continue

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in [self._listener, *self.accepted]:
            conn.close()


def start_server(**kwargs) -> RedisServer:
    """Start a throwaway server; raises RedisUnavailable with the apt package name if it cannot."""
    return RedisServer(**kwargs).start()
