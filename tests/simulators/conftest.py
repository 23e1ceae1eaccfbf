"""Helpers for simulator tests: a loopback webhook receiver that records what it gets."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from testkit import LoopbackReceiver


class Receiver(LoopbackReceiver):
    """Our side of the wire: records requests; answers with queued (status, body) or 200."""

    def __init__(self):
        self.replies: dict[str, list[tuple[int, str, str]]] = {}  # path → queued (status, body, content type)
        self.default: dict[str, tuple[int, str, str]] = {}
        super().__init__()

    def answer(self, request, body: bytes) -> tuple[int, str, str]:
        parsed = urllib.parse.urlsplit(request.path)
        with self._lock:
            self.hits.append({"method": request.command, "path": parsed.path, "query": parsed.query,
                              "url": f"{self.url}{request.path}", "headers": dict(request.headers),
                              "body": body.decode("utf-8"), "at": time.monotonic()})
            queue = self.replies.get(parsed.path) or []
            return queue.pop(0) if queue else self.default.get(parsed.path, (200, "ok", "text/plain"))

    def reply(self, path: str, *responses: tuple, default: tuple | None = None) -> None:
        """Queue answers for `path`: (status, body[, content type])."""
        with self._lock:
            self.replies.setdefault(path, []).extend((r + ("text/plain",))[:3] for r in responses)
            if default:
                self.default[path] = (default + ("text/plain",))[:3]

    def posts(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [h for h in self.hits if path is None or h["path"] == path]

    def json_bodies(self, path: str | None = None) -> list:
        return [json.loads(h["body"]) for h in self.posts(path) if h["body"]]

    def forms(self, path: str | None = None) -> list[dict]:
        return [{k: v[-1] for k, v in urllib.parse.parse_qs(h["body"], keep_blank_values=True).items()}
                for h in self.posts(path)]

    def wait(self, n: int, path: str | None = None, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.posts(path)
            if len(hits) >= n:
                return hits
            time.sleep(0.01)
        raise AssertionError(f"expected {n} requests to {path}, got {len(self.posts(path))}")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
