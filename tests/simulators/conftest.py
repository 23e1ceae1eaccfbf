"""Helpers for simulator tests: a loopback webhook receiver that records what it gets."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Our side of the wire: records requests; answers with queued (status, body) or 200."""

    def __init__(self):
        self.hits: list[dict] = []
        self.replies: dict[str, list[tuple[int, str, str]]] = {}  # path → queued (status, body, content type)
        self.default: dict[str, tuple[int, str, str]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                parsed = urllib.parse.urlsplit(self.path)
                with receiver._lock:
                    receiver.hits.append({"method": self.command, "path": parsed.path, "query": parsed.query,
                                          "url": f"{receiver.url}{self.path}", "headers": dict(self.headers),
                                          "body": body, "at": time.monotonic()})
                    queue = receiver.replies.get(parsed.path) or []
                    status, text, ctype = queue.pop(0) if queue else receiver.default.get(parsed.path, (200, "ok", "text/plain"))
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

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

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
