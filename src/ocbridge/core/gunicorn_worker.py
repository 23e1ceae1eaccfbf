"""gunicorn's sync worker, woken alone for a new connection.

gunicorn's sync workers all wait on the one listening socket with select(); the kernel wakes every idle worker for
each connection, one accepts it and the rest find nothing and go back to sleep. On a two-core machine the worker that
lost the race runs beside the one that serves, and the short calls of a PBX pay for it in their slowest percent.
Linux's EPOLLEXCLUSIVE (4.5 and later) wakes only one of the waiters: this worker is the sync worker with its wait
done through epoll in that mode. Everything else (accepting, the request, the heartbeat, signals) is gunicorn's own.
"""

from __future__ import annotations

import errno
import os
import select

from gunicorn.workers.sync import StopWaiting, SyncWorker


def available() -> bool:
    """Whether this system can wake one waiter per connection (Linux with epoll's exclusive mode)."""
    return hasattr(select, "epoll") and hasattr(select, "EPOLLEXCLUSIVE")


class ExclusiveSyncWorker(SyncWorker):
    """A sync worker that waits for connections in epoll's exclusive mode instead of select()."""

    _epoll = None

    def _poller(self):
        # Made in the worker process (after the fork) so each worker is a waiter of its own on the shared socket.
        if self._epoll is None:
            self._epoll = select.epoll()
            self._ready = {}
            for sock in self.sockets:
                self._epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)
                self._ready[sock.fileno()] = sock
            # The pipe gunicorn's signal handlers write to: a signal must wake this worker, exclusive or not.
            self._epoll.register(self.PIPE[0], select.EPOLLIN)
        return self._epoll

    def wait(self, timeout):
        self.notify()
        try:
            events = self._poller().poll(timeout)
        except OSError as e:
            # As the sync worker's select(): a socket closed under us ends the wait (gunicorn is stopping us).
            if e.errno != errno.EBADF:
                raise
            if self.nr < 0:
                return self.sockets
            raise StopWaiting
        ready = []
        for fd, _mask in events:
            if fd == self.PIPE[0]:
                os.read(self.PIPE[0], 1)
                ready.append(self.PIPE[0])
            else:
                ready.append(self._ready[fd])
        return ready
