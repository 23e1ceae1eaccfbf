"""A throwaway MariaDB server: own datadir, socket and port under a temp dir; gone when stopped.

Used by the test suite (one server per session), `bench/poll.py` and outage tests (`pause()`/`resume()`).
Fast settings only (no fsync per commit, small buffers): never for data anyone keeps.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from ocbridge.testbed.process import ServerProcess
from ocbridge.testbed.process import free_port as _free_port  # noqa: F401  (tests/reliability/test_outage.py)

APT_HINT = "MariaDB server binaries not found (mariadbd, mariadb-install-db). Install them: apt-get install mariadb-server"


class MariaDBUnavailable(RuntimeError):
    """mariadbd is not installed or did not come up."""


def _which(*names: str) -> str | None:
    for name in names:
        for d in (None, "/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"):
            path = shutil.which(name, path=d) if d else shutil.which(name)
            if path:
                return path
    return None


class MariaDBServer(ServerProcess):
    """Start with `start()` (or as a context manager); `url(db)` gives a SQLAlchemy URL for a database."""

    program = "mariadbd"
    unavailable = MariaDBUnavailable
    log_name = "error.log"

    def __init__(self, base_dir: str | os.PathLike | None = None, *, port: int | None = None,
                 extra_args: tuple[str, ...] = ()):
        super().__init__(base_dir, port=port)
        self.datadir = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        # A temp dir of its own: a server starting beside it deletes stray #sql* files in a shared /tmp, which made
        # the bootstrap of servers started at the same time fail ("Could not remove temporary table").
        self.tmpdir = self.base / "tmp"
        self.extra_args = extra_args

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "MariaDBServer":
        mariadbd = _which("mariadbd", "mysqld")
        install_db = _which("mariadb-install-db", "mysql_install_db")
        if not mariadbd or not install_db:
            raise MariaDBUnavailable(APT_HINT)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").exists():
            self.datadir.mkdir(parents=True, exist_ok=True)
            args = [install_db, f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
                    "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"]
            if os.geteuid() == 0:
                args.append("--user=root")
            done = subprocess.run(args, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise MariaDBUnavailable(f"mariadb-install-db failed: {done.stderr[-2000:]}")
        self._spawn(mariadbd)
        self._wait_ready(timeout)
        return self

    def _spawn(self, mariadbd: str) -> None:
        args = [
            mariadbd, "--no-defaults", f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
            f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.base / 'mysqld.pid'}",
            f"--log-error={self.base / 'error.log'}", "--skip-name-resolve", "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--sync-binlog=0",
            "--innodb-buffer-pool-size=256M", "--innodb-log-file-size=256M", "--key-buffer-size=128M",
            "--max-allowed-packet=64M", "--local-infile=1", "--max-connections=300",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
            "--default-time-zone=+00:00", "--innodb-adaptive-hash-index=0", "--performance-schema=0",
            *self.extra_args,
        ]
        if os.geteuid() == 0:
            args.append("--user=root")  # mariadbd refuses to run as root otherwise
        self._launch(args, output="stdout.log")

    def _wait_ready(self, timeout: float) -> None:
        import pymysql

        self._wait_until(lambda: pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=2).close(),
                         pymysql.err.OperationalError, timeout)

    def restart(self, *, down_seconds: float = 0.0, timeout: float = 30.0) -> None:
        """Stop and start again on the same datadir and port (connections are refused while it is down)."""
        self.stop(remove=False)
        if down_seconds:
            time.sleep(down_seconds)
        mariadbd = _which("mariadbd", "mysqld")
        self._spawn(mariadbd)
        self._wait_ready(timeout)

    # --- databases ------------------------------------------------------------------------------------

    def connect(self, database: str | None = None, **kwargs):
        """A raw PyMySQL connection as root over the socket."""
        import pymysql

        return pymysql.connect(unix_socket=str(self.socket), user="root", database=database,
                               charset="utf8mb4", autocommit=True, local_infile=True, **kwargs)

    def create_database(self, name: str, *, charset: str = "utf8mb4", user: str | None = None,
                        password: str | None = None) -> str:
        """(Re)create an empty database; optionally a user with all rights on it. Returns its URL."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET {charset}")
                if user:
                    cur.execute("CREATE OR REPLACE USER %s@'%%' IDENTIFIED BY %s", (user, password or ""))
                    cur.execute(f"GRANT ALL ON `{name}`.* TO %s@'%%'", (user,))
        finally:
            conn.close()
        return self.url(name, user=user or "root", password=password)

    def drop_database(self, name: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    def url(self, database: str = "", *, user: str = "root", password: str | None = None) -> str:
        """mysql+pymysql URL over TCP (works from other processes and for the simulator alike)."""
        auth = user if not password else f"{user}:{password}"
        return f"mysql+pymysql://{auth}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"


def start_server(**kwargs) -> MariaDBServer:
    """Start a throwaway server; raises MariaDBUnavailable with the apt package name if it cannot."""
    return MariaDBServer(**kwargs).start()
