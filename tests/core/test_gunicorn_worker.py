"""The web worker that is woken alone per connection (core.gunicorn_worker) still serves calls that come together
side by side: epoll's exclusive mode wakes one waiting worker per connection, never one for two. Real gunicorn, a
trivial application (what it runs does not matter here; tests/corpus/test_http_envelope.py serves the hub with it)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import threading
import time

import pytest
from testkit import PYTHON

from ocbridge.core import gunicorn_worker

SLOW = 0.5

APP = f"""
import time


def app(environ, start_response):
    time.sleep({SLOW})  # a call that takes a while: a second one meanwhile must go to the other worker
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


@contextlib.contextmanager
def serving(tmp_path, app: str, workers: int):
    """gunicorn with this worker class serving `app` (module text with an `app`), answering: its `get()`."""
    (tmp_path / "the_app.py").write_text(app)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([PYTHON, "-m", "gunicorn", "the_app:app", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(workers), "--worker-class", "ocbridge.core.gunicorn_worker.ExclusiveSyncWorker"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"ok"
        conn.close()

    get.port = port
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        yield get
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.skipif(not gunicorn_worker.available(), reason="no epoll exclusive mode on this system")
def test_two_calls_at_once_are_served_side_by_side(tmp_path):
    with serving(tmp_path, APP, workers=2) as get:
        time.sleep(1.0)  # the second worker is up too
        took = []
        for _ in range(5):
            calls = [threading.Thread(target=get) for _ in range(2)]
            t = time.monotonic()
            for c in calls:
                c.start()
            for c in calls:
                c.join()
            took.append(time.monotonic() - t)
        # One after the other would take 2 × SLOW; side by side SLOW and the machine's overhead.
        assert max(took) < 1.8 * SLOW, took


QUICK_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""


@pytest.mark.skipif(not gunicorn_worker.available(), reason="no epoll exclusive mode on this system")
def test_a_client_that_keeps_its_connection_open_does_not_hold_the_worker(tmp_path):
    """gunicorn 27 lingers after each answer until the client closes its end too (up to 2 s, util.close_graceful):
    with one worker, a second client waited for the first one to close. A request read to its end is closed at once."""
    with serving(tmp_path, QUICK_APP, workers=1) as get:
        took = []
        for _ in range(3):
            lazy = socket.create_connection(("127.0.0.1", get.port), timeout=30)
            lazy.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"ok"):  # the whole answer; the connection stays open on our side
                answer += lazy.recv(4096)
            t = time.monotonic()
            get()
            took.append(time.monotonic() - t)
            lazy.close()
        assert max(took) < 1.0, took  # lingering: ~2 s each
