"""Contract tests: our clients and simulators against the providers' own SDKs and documents.

Each module names the document (and section) or SDK it follows. `assert_listed` holds every request our
client made to a simulator against core/provider_methods.py: a call to a method missing from that list, or
past its date by the injected clock, fails.
"""

from __future__ import annotations

import pytest

from testkit import LoopbackReceiver

from ocbridge.core import provider_methods, ratelimit


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset()
    yield
    ratelimit.reset()


def assert_listed(service: str, requests) -> None:
    """Every (method, path) our client sent is a listed, current provider method."""
    today = provider_methods.today()
    seen = {(r.method, r.path) for r in requests}
    assert seen, "the client sent nothing"
    being_replaced = []
    for verb, path in sorted(seen):
        entries = [m for m in provider_methods.find(service, verb, path) if not m.field]
        assert entries, f"{service} {verb} {path} is not in core/provider_methods.py"
        for m in (m for m in entries if m.overdue(today)):
            assert m.fixing, f"{service} {verb} {path} is past its date ({m.source})"
            being_replaced.append(f"{m.label} (past {m.switch_off or m.deprecated}, {m.fixing})")
    if being_replaced:  # visible as an expected failure until the issue replacing them lands
        pytest.xfail("calls methods past their date: " + "; ".join(being_replaced))


class Answering(LoopbackReceiver):
    """Our side of a webhook that answers what `responder(hit)` says: (status, body, content type)."""

    def __init__(self, responder):
        self.responder = responder
        super().__init__()

    def answer(self, request, body: bytes):
        hit = {"method": request.command, "path": request.path, "body": body,
               "headers": {k.lower(): v for k, v in request.headers.items()}}
        with self._lock:
            self.hits.append(hit)
        return self.responder(hit)


@pytest.fixture
def receiver_factory():
    made = []

    def make(responder=lambda hit: (200, "", "text/plain")) -> Answering:
        made.append(Answering(responder))
        return made[-1]

    yield make
    for r in made:
        r.close()
