"""Before the demo touches anything: is its port free, and is another demo already running on this data dir?

A second `make demo` used to migrate, start a new simulator and re-point the running demo's Sandbox connection at
it, then fail on the port — leaving the first demo calling a dead simulator. Now it checks first and says why.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path

PIDFILE = "demo.pid"


class DemoBlocked(Exception):
    """The demo cannot start; the message says what is in the way and what to do."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_demo(data_dir: Path) -> dict | None:
    """{"pid", "port"} of a demo started on this data dir that is still running, else None (stale file removed)."""
    path = Path(data_dir) / PIDFILE
    try:
        info = json.loads(path.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid != os.getpid() and _alive(pid):
        return info
    path.unlink(missing_ok=True)
    return None


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check(data_dir: Path, port: int) -> None:
    """Raise DemoBlocked with a plain message when another demo runs here or the port is taken."""
    other = running_demo(data_dir)
    if other is not None:
        raise DemoBlocked(
            f"A demo is already running from {data_dir} (process {other.get('pid')}): "
            f"open http://127.0.0.1:{other.get('port')}/ — or stop it (Ctrl-C in its terminal) and start again.")
    if not port_free(port):
        if _answers_as_ocbridge(port):
            raise DemoBlocked(
                f"ocbridge is already running on port {port} (perhaps a demo started from another folder): open "
                f"http://127.0.0.1:{port}/ — or start this one on another port: make demo DEMO_PORT={port + 1}.")
        raise DemoBlocked(
            f"Port {port} is already in use by another program, so the dashboard cannot start there. "
            f"Nothing was changed. Start the demo on another port: make demo DEMO_PORT={port + 1} "
            f"(or: ocbridge demo --port {port + 1}).")


def _answers_as_ocbridge(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:  # follows the login redirect
            return b"ocbridge" in resp.read(65536)
    except Exception:  # not HTTP, or not answering: some other program
        return False


def claim(data_dir: Path, port: int) -> Path:
    """Write the pid file that tells a second demo this one is running."""
    path = Path(data_dir) / PIDFILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), "port": port}))
    return path


def release(data_dir: Path) -> None:
    path = Path(data_dir) / PIDFILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
