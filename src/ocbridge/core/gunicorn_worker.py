"""gunicorn's sync worker, woken alone for a new connection.

gunicorn's sync workers all wait on the one listening socket with select(); the kernel wakes every idle worker for
each connection, one accepts it and the rest find nothing and go back to sleep. On a two-core machine the worker that
lost the race runs beside the one that serves, and the short calls of a PBX pay for it in their slowest percent.
Linux's EPOLLEXCLUSIVE (4.5 and later) wakes only one of the waiters: this worker is the sync worker with its wait
done through epoll in that mode.

After answering, gunicorn (27) closes a connection "gracefully": it sends its FIN, then reads until the client closes
too, up to 2 s, so that request bytes still arriving cannot make the kernel reset the connection and cut the answer
short. A request read to its end has no such bytes; waiting for the client's FIN then only keeps the worker busy — for
up to 2 s after each call of a client that closes late, and long enough in any case for the next call to go to the
other worker, whose SQLite cache the call before has made stale (bench/lookup.py). Here a request read to its end is
closed without that wait; any other (a body refused unread, chunked) keeps gunicorn's. Everything else (accepting,
the request, the heartbeat, signals) is gunicorn's own.
"""

from __future__ import annotations

import errno
import os
import select
import socket

from gunicorn.http.body import LengthReader
from gunicorn.workers.sync import StopWaiting, SyncWorker


def available() -> bool:
    """Whether this system can wake one waiter per connection (Linux with epoll's exclusive mode)."""
    return hasattr(select, "epoll") and hasattr(select, "EPOLLEXCLUSIVE")


class _Connection(socket.socket):
    """A client's connection that, once its request was read to the end, does not linger for the client's FIN: after
    gunicorn's half-close, its reads take what has already arrived and then report the end."""

    read_to_end = False
    _half_closed = False

    def shutdown(self, how):
        super().shutdown(how)
        self._half_closed = True

    def recv(self, bufsize, flags=0):
        if not (self.read_to_end and self._half_closed):
            return super().recv(bufsize, flags)
        self.settimeout(0.0)  # gunicorn sets a timeout before each read; with one, Python would wait for data
        try:
            return super().recv(bufsize, flags)
        except BlockingIOError:
            return b""


class ExclusiveSyncWorker(SyncWorker):
    """A sync worker that waits for connections in epoll's exclusive mode instead of select(), and closes a connection
    whose request it read to the end without waiting for the client to close it too."""

    _epoll = None

    def handle(self, listener, client, addr):
        if type(client) is socket.socket:
            client = _Connection(client.family, client.type, client.proto, fileno=client.detach())
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        try:
            super().handle_request(listener, req, client, addr)
        finally:
            if isinstance(client, _Connection):
                body = req.body
                client.read_to_end = isinstance(body.reader, LengthReader) and body.reader.length == 0 and not body.failed

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
