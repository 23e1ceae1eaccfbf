"""OpenCart's native API client (2.3 / 3.0 / 4.0): log in, add order history. 4.1+ is refused (signed API).

A call counts as a clear success only when the JSON body has `success` (opencart.md §7: nearly every failure is
HTTP 200). Anything else — no `success`, not JSON, not 200 (4.0 answers a bad token with an HTML 500, a missing
one with an HTML 404) — drops the cached token; the caller (opencart.writes) re-reads the order before it logs in
again, because real shops also answer that way after they wrote. Sessions are cached per shop, API user, key and
store, so a changed key is used from the next write on.

The HTTP client (connection pool, TLS context) is the process's one for the shop's API URL (core.http.shared_client):
building one per write cost ~54 ms of CPU. Several stores and API users may share that host, so the client keeps no
cookies (no HttpClient does): each session (`ApiSession`: token plus the cookies the shop set at its login) is ours,
and its cookies go only with its own calls; a login sends none. On 2.3 this matters beyond tidiness: its login keeps
the new API session inside the caller's PHP session (the PHPSESSID cookie sent), so a login carrying another store's
cookie would put both stores' API sessions in one PHP session.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import nullcontext
from dataclasses import dataclass

from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.http import HttpClient, shared_client

SERVICE = "opencart"


@dataclass(frozen=True)
class ApiSession:
    """One store's session on its shop's API: the token and the cookies the shop set with it (name, value)."""

    token: str
    cookies: tuple[tuple[str, str], ...] = ()

    def headers(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies)} if self.cookies else {}


_sessions: dict[tuple, ApiSession] = {}  # (base_url, username, key digest, store_id) → session; per process
_sessions_lock = threading.Lock()


def forget_sessions() -> None:
    """Drop every cached API session of this process (tests: a loopback shop's port may come round again)."""
    with _sessions_lock:
        _sessions.clear()


@dataclass
class ApiReply:
    """What the shop answered to one add-history call: a clear success, or not (with the reason shown)."""

    success: bool
    http_status: int
    message: str


class OpenCartApiClient:
    """One shop's API for one store_id. `layout` is the detected version's layout ("2.3", "3.0", "4.0.0", "4.0")."""

    def __init__(self, base_url: str, *, username: str, key: str, layout: str, store_id: int = 0,
                 language: str = "en-gb", api_supported: bool = True, http: HttpClient | None = None,
                 recorder=None, timeout: float = 15.0):
        if not api_supported:
            raise ConfigurationError("OpenCart 4.1+ has no session API (it uses signed requests); "
                                     "status changes go through the database path.")
        if layout not in ("2.3", "3.0", "4.0.0", "4.0"):
            raise ConfigurationError(f"No native API client for OpenCart layout {layout!r}.")
        self.base_url = base_url.rstrip("/") + "/"
        if self.base_url.endswith("index.php/"):
            self.base_url = self.base_url[: -len("index.php/")]
        self.username, self.key, self.layout, self.store_id, self.language = username, key, layout, store_id, language
        self.http = http or shared_client(SERVICE, self.base_url, timeout=timeout)
        self.recorder = recorder
        # the key's digest is part of the cache key: a changed key is used from the next call on
        self._cache_key = (self.base_url, username, hashlib.sha256(key.encode()).hexdigest(), store_id)

    # --- public -----------------------------------------------------------------------------------

    def add_history(self, order_id: int, *, order_status_id: int, comment: str = "", notify: bool = False,
                    override: bool = False, key: str = "", fresh_login: bool = False) -> ApiReply:
        """POST the history entry once and say what came back; never retried here.

        Whether a reply that is not a clear success means "done", "try again" or "the shop decided" is for the
        caller to find out by re-reading the order (opencart.writes): PHP warnings before the JSON, an inline
        mail failure, a proxy 502/504 or an after-event's HTML 500 all arrive after OpenCart wrote.
        Never without a status: a missing one makes OpenCart set status 0 (T1).
        """
        if not isinstance(order_status_id, int) or order_status_id <= 0:
            raise TerminalError(SERVICE, "status_0", "Refusing to send an order status of 0 or none (OpenCart "
                                "would hide the order and restore its stock).")
        if fresh_login:
            self.forget_token()
        session = self._session()
        status, body, text = self._history_call(session, order_id, order_status_id, comment, notify, override, key)
        if isinstance(body, dict) and "success" in body:
            return ApiReply(True, status, str(body["success"]))
        error = _error_text(body)
        if isinstance(body, dict) and "order" in error.lower() and "found" in error.lower():
            raise TerminalError(SERVICE, "unknown_order", error)
        self.forget_token(session.token)  # whatever it was, the next call logs in again
        return ApiReply(False, status, error or f"OpenCart answered HTTP {status} without success: {text[:200]}")

    def login(self) -> str:
        """Start an API session; returns the token. Errors carry OpenCart's own message."""
        return self._login().token

    # --- internals ----------------------------------------------------------------------------------

    def _login(self) -> ApiSession:
        route = "api/account/login" if self.layout.startswith("4") else "api/login"
        data = {"key": self.key} if self.layout == "2.3" else {"username": self.username, "key": self.key}
        # sent without cookies: a new session starts clean, never inside another one (2.3 nests it in the caller's)
        status, body, text, cookies = self._post(route, {}, data, None, purpose="opencart.login", key="")
        if status != 200 or body is None:
            if status >= 500 or status == 429:
                raise RetryableError(SERVICE, status, f"Login answered HTTP {status}: {text[:200]}")
            raise TerminalError(SERVICE, status, f"Login answered HTTP {status}, not JSON: {text[:200]}")
        if body == [] or body == {}:
            raise TerminalError(SERVICE, "wrong_key", "OpenCart answered [] to the login: the API user name or key "
                                "is wrong, or the API user is disabled (System › Users › API).")
        if isinstance(body, dict) and "error" in body:
            raise TerminalError(SERVICE, "login", _error_text(body))
        token = body.get("token") or body.get("api_token") if isinstance(body, dict) else None
        if not token:
            raise TerminalError(SERVICE, "login", f"Login answered without a token: {text[:200]}")
        session = ApiSession(token, _merge_cookies((), cookies))
        with _sessions_lock:
            _sessions[self._cache_key] = session
        return session

    def forget_token(self, token: str | None = None) -> None:
        """Drop this store's session (only if it is still `token`: a parallel write may have renewed it already)."""
        with _sessions_lock:
            held = _sessions.get(self._cache_key)
            if held is not None and (token is None or held.token == token):
                del _sessions[self._cache_key]

    def _session(self) -> ApiSession:
        with _sessions_lock:
            session = _sessions.get(self._cache_key)
        return session if session is not None else self._login()

    def _history_call(self, session, order_id, status_id, comment, notify, override, key):
        token = session.token
        form = {"order_status_id": str(status_id), "comment": comment, "notify": "1" if notify else "0",
                "override": "1" if override else "0"}  # T9: 4.0 casts notify with (bool): never send "false"
        if self.layout == "2.3":
            params = {"route": "api/order/history", "token": token, "order_id": order_id}
        elif self.layout == "3.0":
            params = {"route": "api/order/history", "api_token": token, "order_id": order_id,
                      "store_id": self.store_id}
        else:
            sep = "|" if self.layout == "4.0.0" else "."
            params = {"route": f"api/sale/order{sep}addHistory", "api_token": token, "store_id": self.store_id,
                      "language": self.language}
            form["order_id"] = str(order_id)  # T7: POST on 4.0, GET before
        route = params.pop("route")
        status, body, text, cookies = self._post(route, params, form, session, purpose="opencart.add_history",
                                                 key=key, order_id=order_id)
        if cookies:  # the shop set or changed a cookie of this session: it goes with the session's next calls
            with _sessions_lock:
                if _sessions.get(self._cache_key) == session:
                    _sessions[self._cache_key] = ApiSession(session.token, _merge_cookies(session.cookies, cookies))
        return status, body, text

    def _post(self, route: str, params: dict, data: dict, session: ApiSession | None, *, purpose: str, key: str,
              order_id: int | None = None):
        """One POST with this session's cookies (none for a login); (status, JSON body or None, text, cookies set)."""
        query = {"route": route, **params}
        url = "index.php"
        shown = self.http.build_url(url, {k: ("***" if k in ("token", "api_token") else v) for k, v in query.items()})
        ctx = (self.recorder.exchange("POST", shown, key=key, purpose=purpose, order_id=order_id,
                                      request_body=_form_body(data, self.key))
               if self.recorder is not None else nullcontext())
        with ctx as ex:
            resp = self.http.request("POST", url, params=query, data=data,
                                     headers=session.headers() if session is not None else None)
            if ex is not None:
                ok = resp.status_code == 200 and _json(resp.text) not in (None, [], {}) and "success" in (
                    _json(resp.text) if isinstance(_json(resp.text), dict) else {})
                ex.finish(resp, outcome=None if ok else "failed", level=None if ok else "warning")
        body = _json(resp.text) if resp.status_code == 200 else None
        return resp.status_code, body, resp.text, _set_cookies(resp.headers.get_list("set-cookie"))


def _json(text: str):
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _set_cookies(headers: list[str]) -> list[tuple[str, str | None]]:
    """(name, value) of each Set-Cookie; value None when the shop deletes the cookie (Max-Age=0, expired)."""
    out = []
    for header in headers:
        first, _, attrs = header.partition(";")
        name, sep, value = first.partition("=")
        if not sep or not name.strip():
            continue
        attrs = attrs.lower().replace(" ", "")
        gone = "max-age=0" in attrs or "max-age=-" in attrs or value.strip() in ("", "deleted")
        out.append((name.strip(), None if gone else value.strip()))
    return out


def _merge_cookies(held: tuple[tuple[str, str], ...], changes: list[tuple[str, str | None]]):
    cookies = dict(held)
    for name, value in changes:
        if value is None:
            cookies.pop(name, None)
        else:
            cookies[name] = value
    return tuple(cookies.items())


def _form_body(data: dict, key: str) -> str:
    from urllib.parse import urlencode

    return urlencode({k: ("***" if k == "key" else v) for k, v in data.items()})


def _error_text(body) -> str:
    """OpenCart errors are a string (4.0, permission) or a dict of field → message (2.3/3.0 login)."""
    if not isinstance(body, dict):
        return ""
    err = body.get("error")
    if isinstance(err, dict):
        return " ".join(str(v) for v in err.values())
    return str(err or "")
