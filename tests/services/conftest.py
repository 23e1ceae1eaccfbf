"""Helpers for service client tests: Store/Connection rows, a short-timeout HTTP client, a webhook receiver."""

from __future__ import annotations

import pytest

from ocbridge.core import ratelimit
from ocbridge.core.http import HttpClient
from ocbridge.core.models import Exchange
from testkit import LoopbackReceiver


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


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


class Receiver(LoopbackReceiver):
    """Our side of the wire for simulator webhooks: records requests, answers 200 OK or what `responder` says."""

    def __init__(self):
        self.responder = None  # hit dict → (status, body text, content type)
        super().__init__()

    def answer(self, request, body: bytes) -> tuple[int, str, str]:
        hit = {"method": request.command, "path": request.path, "body": body, "url": self.url + request.path,
               "headers": {k.lower(): v for k, v in request.headers.items()}}
        with self._lock:
            self.hits.append(hit)
        return self.responder(hit) if self.responder else (200, "OK", "text/plain")

    def bodies(self, path: str = "") -> list[bytes]:
        with self._lock:
            return [h["body"] for h in self.hits if h["path"].startswith(path) and h["body"]]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
