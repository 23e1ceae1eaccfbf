"""A throwaway PostgreSQL server: own data dir, socket dir and port under a temp dir; gone when stopped.

Used by the scale-out tests (PostgreSQL as the hub database). Fast settings only (fsync off, no WAL
archiving): never for data anyone keeps. PostgreSQL refuses to run as root, so as root the server runs
as the `postgres` system user, which the Debian package creates (the equivalent of `runuser -u postgres`, but
the server stays our direct child so stop/pause reach it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from ocbridge.testbed.process import ServerProcess

APT_HINT = "PostgreSQL server binaries not found (initdb, postgres). Install them: apt-get install postgresql"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed or did not come up."""


def _bindir() -> Path | None:
    """Debian keeps the binaries in /usr/lib/postgresql/<major>/bin (not on PATH); newest major wins."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("postgres"):
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer(ServerProcess):
    """Start with `start()` (or as a context manager); `url(db)` gives a postgres:// URL (user postgres, trust)."""

    program = "postgres"
    unavailable = PostgresUnavailable
    log_name = "server.log"
    poll_seconds = 0.1
    stop_signal = signal.SIGINT  # fast shutdown: the postmaster ends its backends itself
    signal_group = True  # pause/kill reach the backends too

    def __init__(self, *, port: int | None = None, extra_settings: dict[str, str] | None = None):
        super().__init__(port=port)
        self.datadir = self.base / "data"
        self.extra_settings = extra_settings or {}
        self._as_root = os.geteuid() == 0

    # --- lifecycle --------------------------------------------------------------------------------------

    def _as_user(self) -> dict:
        """Popen arguments that drop root to the postgres user."""
        return {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_root else {}

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        bindir = _bindir()
        if bindir is None:
            raise PostgresUnavailable(APT_HINT)
        if self._as_root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root needs the 'postgres' system user: apt-get install postgresql") from None
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        if not (self.datadir / "PG_VERSION").exists():
            done = subprocess.run([str(bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                                   "--encoding=UTF8", "--locale=C", "--no-sync"], cwd=self.base,
                                  capture_output=True, text=True, timeout=120, **self._as_user())
            if done.returncode != 0:
                raise PostgresUnavailable(f"initdb failed: {done.stderr[-2000:]}")
        self._spawn(bindir)
        self._wait_ready(timeout)
        return self

    def _spawn(self, bindir: Path) -> None:
        settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
                    "shared_buffers": "128MB", "listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.base),
                    "log_min_messages": "warning", **self.extra_settings}
        args = [str(bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                *[x for k, v in settings.items() for x in ("-c", f"{k}={v}")]]
        log = self.base / self.log_name
        log.touch()
        if self._as_root:
            os.chown(log, pwd.getpwnam("postgres").pw_uid, -1)
        self._launch(args, output=self.log_name, cwd=self.base, **self._as_user())

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        self._wait_until(lambda: psycopg.connect(self.dsn("postgres"), connect_timeout=2).close(),
                         psycopg.OperationalError, timeout)

    # --- databases ------------------------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def create_database(self, name: str) -> str:
        """(Re)create an empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        """postgres:// URL over TCP, as OCBRIDGE_DATABASE_URL takes it."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


def start_server(**kwargs) -> PostgresServer:
    """Start a throwaway server; raises PostgresUnavailable with the apt package name if it cannot."""
    return PostgresServer(**kwargs).start()
