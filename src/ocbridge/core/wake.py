"""Waking the dispatcher of a one-machine hub without a second durable write.

A webhook that stored a Job commits once, to the hub's database: the Job row is the queue (DESIGN.md). Handing its
id to huey's SQLite queue as well was a second commit in a second file on every webhook — the largest part of the
gap to a page that does one INSERT (issue 23). Instead, after the commit the web process sends one datagram to the
worker's dispatcher, which then hands every due job to huey at once (`core.jobs.dispatcher_loop`). Nothing is kept
in the datagram: a lost one (no worker running, a full buffer) costs at most the dispatcher's next tick, whose
sweep of due jobs is the safety net either way — a webhook stored while no worker runs is run when one starts.

The address is a Linux abstract socket named after the hub's data directory: no file to clean up after a crash,
freed when its process dies. One dispatcher listens (the first to bind it); the others tick, and each keeps trying
to bind, so another takes over when the listener's process dies. With Redis (several machines) huey's Redis queue is
no disk write, and jobs go to it directly.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import select
import socket
import threading

from django.conf import settings

log = logging.getLogger(__name__)

_out: list[socket.socket] = []
_lock = threading.Lock()


def address() -> str:
    """The abstract socket name of this hub's dispatcher (one per data directory)."""
    return address_of(str(settings.DATA_DIR))


@functools.lru_cache(maxsize=16)
def address_of(folder: str) -> str:
    """The abstract socket name of whatever listens for a folder (the data directory: the job dispatcher; the poll
    leases' folder: the poll loop, core.polls)."""
    return f"\0ocbridge-wake-{hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:24]}"


def send(_job_id: int | None = None, *, to: str | None = None) -> None:
    """Wake the listening dispatcher (`to`: another listener's address), if any; never blocks, never fails (the
    dispatcher's tick is the net)."""
    try:
        if not _out:
            with _lock:
                if not _out:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    sock.setblocking(False)
                    _out.append(sock)
        _out[0].sendto(b"!", to or address())
    except OSError:  # nobody listens (ECONNREFUSED, ENOENT), the buffer is full (EAGAIN): the tick finds the job
        pass


class Listener:
    """The dispatcher's end: `wait(seconds)` returns True when woken within that time, False on timeout."""

    def __init__(self, at: str | None = None):
        self.at = at  # default: the job dispatcher's address()
        self.sock: socket.socket | None = None

    def _bind(self) -> bool:
        if self.sock is not None:
            return True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.at or address())
        except OSError:  # another dispatcher listens: tick until it is gone
            sock.close()
            return False
        sock.setblocking(False)
        self.sock = sock
        return True

    def wait(self, seconds: float) -> bool:
        if not self._bind():
            select.select([], [], [], max(0.0, seconds))
            return False
        ready, _, _ = select.select([self.sock], [], [], max(0.0, seconds))
        if not ready:
            return False
        try:
            while self.sock.recv(64):  # many wake-ups at once are one hand-out
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
