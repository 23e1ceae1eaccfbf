"""A throwaway Redis server (for RedisHuey): own port and dir under a temp dir, no persistence; gone when stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

APT_HINT = "redis-server not found. Install it: apt-get install redis-server"


class RedisUnavailable(RuntimeError):
    """redis-server is not installed or did not come up."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Start with `start()` (or as a context manager); `url(db)` gives a redis:// URL."""

    def __init__(self, *, port: int | None = None):
        self.base = Path(tempfile.mkdtemp(prefix="ocbridge-redis-"))
        self.port = port or _free_port()
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self, timeout: float = 15.0) -> "RedisServer":
        binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
        if binary is None:
            raise RedisUnavailable(APT_HINT)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.base), "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.base / "redis.log"),
                "--protected-mode", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RedisUnavailable(f"redis-server exited ({self.proc.returncode})")
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError as exc:
                last = exc
                time.sleep(0.05)
        raise RedisUnavailable(f"redis-server did not answer in {timeout:.0f}s: {last}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        shutil.rmtree(self.base, ignore_errors=True)

    def pause(self) -> None:
        if self.proc is not None and not self.paused:
            os.kill(self.proc.pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.paused = False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(**kwargs) -> RedisServer:
    """Start a throwaway server; raises RedisUnavailable with the apt package name if it cannot."""
    return RedisServer(**kwargs).start()
