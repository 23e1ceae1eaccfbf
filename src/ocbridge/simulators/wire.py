"""What crosses the wire: a received `Request`, a handler's `Response`, `HttpError`, and `http_call` for
requests a simulator makes itself (webhooks, TwiML fetches).

Stdlib only, and nothing from ocbridge: a simulator that shared code with our clients would make the
tests prove nothing.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One request as the simulator received it (also the request-log entry)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = field(default_factory=time.time)
    account: str | None = None
    fault: str | None = None
    status: int | None = None
    response: bytes = b""  # the body we answered (contract tests read the simulator's own answers)
    cookie_set: str | None = None  # the Set-Cookie we answered with (Simulator.set_cookie)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else None

    def form(self) -> dict[str, str]:
        """Form fields (last value wins); query args are not included."""
        return {k: v[-1] for k, v in urllib.parse.parse_qs(self.text, keep_blank_values=True).items()}

    def form_lists(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.text, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.header("authorization") or ""
        if not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password

    def bearer(self) -> str | None:
        value = self.header("authorization") or ""
        return value[7:].strip() if value.lower().startswith("bearer ") else None

    def to_dict(self) -> dict:
        return {
            "method": self.method, "path": self.path, "query": self.query, "headers": self.headers,
            "body": self.text, "at": self.at, "account": self.account, "fault": self.fault, "status": self.status,
            "cookie_set": self.cookie_set,
        }


@dataclass
class Response:
    """What a route handler returns."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict | None = None) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict | None = None) -> Response:
        return cls(status, text.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})

    @classmethod
    def xml(cls, text: str, status: int = 200, headers: dict | None = None) -> Response:
        return cls(status, text.encode("utf-8"), {"Content-Type": "application/xml; charset=utf-8", **(headers or {})})


class HttpError(Exception):
    """Raised by a handler to answer with `response` right away (auth failure, validation error)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def http_call(method: str, url: str, body: bytes | None, headers: dict, timeout: float) -> tuple[int | None, str, str | None, dict]:
    """Plain urllib request without redirects. Returns (status, body text, error, response headers)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # a provider does not follow our redirects either
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), None, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        return exc.code, text, None, dict(exc.headers or {})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, "", f"{type(exc).__name__}: {exc}", {}
