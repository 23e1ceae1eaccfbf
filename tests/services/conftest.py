"""Helpers for service client tests: Store/Connection rows, a short-timeout HTTP client, a webhook receiver."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ocbridge.core import ratelimit
from ocbridge.core.http import HttpClient
from ocbridge.core.models import Connection, Exchange, Store


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture
def make_conn(db):
    def make(service: str, base_url: str, secret: dict, options: dict | None = None) -> Connection:
        store = Store.objects.create(name=f"Shop for {service}")
        return Connection.objects.create(store=store, service=service, base_url=base_url, secret=secret,
                                         options=options or {})

    return make


@pytest.fixture
def quick_http():
    """Factory of an HTTP client that gives up fast, for timeout faults."""
    return lambda service, base_url, timeout=0.5: HttpClient(service, base_url=base_url, timeout=timeout)


def exchange_text(ex: Exchange) -> str:
    """Every stored field of an Exchange row as one string (to prove a secret is nowhere in it)."""
    return " ".join(str(getattr(ex, f.attname)) for f in Exchange._meta.concrete_fields)


@pytest.fixture
def assert_masked():
    """assert_masked(*secrets): no Exchange row holds any of these strings."""
    return _assert_masked


def _assert_masked(*secrets: str) -> None:
    rows = list(Exchange.objects.all())
    assert rows, "expected Exchange rows"
    for ex in rows:
        text = exchange_text(ex)
        for s in secrets:
            assert s not in text, f"secret {s[:3]}… leaked into exchange #{ex.pk}"


class Receiver:
    """Our side of the wire for simulator webhooks: records requests, answers 200 OK or what `responder` says."""

    def __init__(self):
        self.hits: list[dict] = []
        self.responder = None  # hit dict → (status, body text, content type)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hit = {"method": self.command, "path": self.path, "body": body, "url": receiver.url + self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()}}
                with receiver._lock:
                    receiver.hits.append(hit)
                status, text, ctype = receiver.responder(hit) if receiver.responder else (200, "OK", "text/plain")
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def bodies(self, path: str = "") -> list[bytes]:
        with self._lock:
            return [h["body"] for h in self.hits if h["path"].startswith(path) and h["body"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
