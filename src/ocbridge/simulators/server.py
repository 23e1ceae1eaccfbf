"""The `Simulator` base class: a threaded loopback HTTP server with a request log, route dispatch,
faults, rate limits, webhooks, simulated customers, simulated time and the `/_sim/` control API."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from .customers import CustomerBook, check_outcome
from .faults import FAULT_KINDS, GARBAGE_BODY, Fault, TokenBucket
from .webhooks import WebhookAttempt, WebhookSender
from .wire import HttpError, Request, Response, http_call


class Simulator:
    """Base loopback provider. Subclasses set `name`, `routes`, `retry_delays` and the hooks below."""

    name = "base"
    routes: list[tuple[str, str, str]] = []  # (method, path regex, handler method name)
    retry_delays: tuple[float, ...] = ()  # provider's webhook retry spacing, simulated seconds
    control_methods: tuple[str, ...] = (
        "fail_next", "clear_faults", "set_rate_limit", "set_webhook_behaviour", "flush_webhooks", "sent_webhooks",
        "request_log", "reset", "set_speed", "state", "health", "set_customer", "set_odds", "set_seed", "customers",
        "wait_idle", "set_cookie", "clear_cookies",
    )

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0, seed: int = 0,
                 timeout_fault_seconds: float = 15.0, webhook_timeout: float = 5.0):
        self.host, self.port = host, port
        self.speed = float(speed)
        self.seed = seed
        self.timeout_fault_seconds = timeout_fault_seconds
        self.webhook_timeout = webhook_timeout
        self.customers = CustomerBook(seed)
        self.webhooks = WebhookSender(self)
        self._lock = threading.RLock()
        self._log: list[Request] = []
        self._faults: list[Fault] = []
        self._cookies: list[list] = []  # [Set-Cookie value, answers left (None = all), path prefix]
        self._limits: dict[str | None, tuple[float, float]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._compiled = [(m, re.compile(p), h) for m, p, h in self.routes]
        self.base_url = ""

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> str:
        """Bind, start serving and the webhook sender; returns the base URL (no trailing slash)."""
        handler = type("Handler", (_Handler,), {"sim": self})
        self._stopping.clear()
        self._server = _Server((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"sim-{self.name}")
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.name}-http", daemon=True)
        self._thread.start()
        self.webhooks.start()
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.webhooks.stop()
        if self._pool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run until interrupted or stopped (used by `python -m ocbridge.simulators`)."""
        if self._server is None:
            self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # time ---------------------------------------------------------------------------------------
    def real(self, sim_seconds: float) -> float:
        return max(0.0, float(sim_seconds)) / self.speed

    def sleep(self, sim_seconds: float) -> bool:
        """Sleep simulated seconds; False if the simulator is stopping (the caller should give up)."""
        return not self._stopping.wait(self.real(sim_seconds))

    def spawn(self, fn: Callable, *args, **kwargs) -> None:
        """Run a scenario (a call, an SMS conversation) in the background."""
        if self._pool is not None:
            self._pool.submit(_log_errors, fn, *args, **kwargs)

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
        """Poll until predicate() is truthy; returns its value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            time.sleep(interval)

    # control methods (also over HTTP) -------------------------------------------------------------
    def fail_next(self, kind: str, count: int = 1, path: str | None = None, after: bool = False,
                  seconds: float | None = None, retry_after: int = 1) -> dict:
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(Fault(kind, int(count), path, bool(after), seconds, int(retry_after)))
        return {"queued": kind, "count": count, "path": path}

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_cookie(self, cookie: str, count: int | None = None, path: str | None = None) -> dict:
        """The next `count` answers (every one when None) to requests whose path starts with `path` carry
        `Set-Cookie: cookie` — what a load balancer (AWSALB), a CDN (Cloudflare's __cf_bm) or a PHP session in front
        of a provider adds to an answer, whoever asked. The provider never reads a cookie back."""
        with self._lock:
            self._cookies.append([str(cookie), None if count is None else int(count), path])
        return {"cookie": cookie, "count": count, "path": path}

    def clear_cookies(self) -> None:
        with self._lock:
            self._cookies.clear()

    def set_rate_limit(self, rate: float | None, burst: float | None = None, account: str | None = None) -> None:
        """Requests per real second per account (`account=None`: default for every account). rate=None removes."""
        with self._lock:
            if rate is None:
                self._limits.pop(account, None)
            else:
                self._limits[account] = (float(rate), float(burst if burst is not None else max(1.0, rate)))
            self._buckets.clear()

    def set_webhook_behaviour(self, duplicate: int = 1, delay: float = 0.0, shuffle: bool = False,
                              shuffle_window: float = 1.0) -> None:
        self.webhooks.set_behaviour(duplicate, delay, shuffle, shuffle_window)

    def flush_webhooks(self) -> int:
        return self.webhooks.flush()

    def sent_webhooks(self, kind: str | None = None) -> list[WebhookAttempt]:
        return self.webhooks.attempts(kind)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    def requests(self, path: str | None = None, method: str | None = None) -> list[Request]:
        """The request log (control calls under /_sim/ excluded), optionally filtered by path prefix/method."""
        with self._lock:
            return [r for r in self._log if (path is None or r.path.startswith(path))
                    and (method is None or r.method == method.upper())]

    def request_log(self, path: str | None = None, method: str | None = None) -> list[Request]:
        return self.requests(path, method)

    def reset(self) -> None:
        """Forget requests, faults, limits, webhooks, customers and provider state."""
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._cookies.clear()
            self._limits.clear()
            self._buckets.clear()
        self.webhooks.reset()
        self.customers.reset()
        self.reset_state()

    def set_speed(self, speed: float) -> None:
        self.speed = float(speed)

    def health(self) -> dict:
        return {"simulator": self.name, "base_url": self.base_url, "speed": self.speed, "seed": self.seed}

    def set_customer(self, phone: str, call: str | list | None = None, sms_reply: Any = "__keep__",
                     answer_delay: float | None = None, reply_delay: float | None = None,
                     sms_delivery: str | None = None) -> dict:
        c = self.customers.set(phone, call=call, sms_reply=sms_reply, answer_delay=answer_delay,
                               reply_delay=reply_delay, sms_delivery=sms_delivery)
        return dataclasses.asdict(c)

    def set_odds(self, call: dict | None = None, sms_reply: dict | None = None) -> None:
        if call is not None:
            for outcome in call:
                check_outcome(outcome)
            self.customers.call_odds = dict(call)
        if sms_reply is not None:  # JSON has no None keys: "null" means "no reply"
            self.customers.sms_reply_odds = {(None if k in ("null", "") else k): v for k, v in sms_reply.items()}

    def set_seed(self, seed: int) -> None:
        self.seed = seed
        self.customers.seed = seed

    def set_customer_defaults(self, **defaults) -> None:
        self.customers.defaults = defaults

    def state(self) -> dict:
        """Provider-side state (calls, messages…) for inspection; subclasses extend."""
        return {"customers": self.customers.to_dict()}

    # hooks for subclasses ------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Clear provider-specific state."""

    def account_of(self, req: Request) -> str | None:
        """Which account a request belongs to (for rate limits); None = not identifiable."""
        auth = req.basic_auth()
        return auth[0] if auth else req.bearer()

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        """The provider's own "too many requests" answer."""
        return Response.text("Too Many Requests", 429, {"Retry-After": str(retry_after)})

    def server_error(self, req: Request, status: int) -> Response:
        """The provider's own 5xx answer."""
        return Response.text({500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(
            status, "Service Unavailable"), status)

    def garbage(self, req: Request) -> Response:
        return Response(200, GARBAGE_BODY, {"Content-Type": "application/json"})

    def not_found(self, req: Request) -> Response:
        return Response.text("Not Found", 404)

    def blocked(self, req: Request) -> Response:
        """A firewall or proxy in front refusing the request: 403 and no body (not the provider's own error)."""
        return Response(403, b"", {})

    def empty(self, req: Request) -> Response:
        """A success answer with none of its fields: the provider's envelope (override), here an empty object."""
        return Response.json({})

    # outbound synchronous requests (TwiML fetch, PBX decision query) --------------------------------
    def fetch(self, method: str, url: str, *, form: dict | None = None, headers: dict | None = None,
              body: bytes | None = None) -> WebhookAttempt:
        """A synchronous request to our side whose answer the simulator needs; recorded like webhooks."""
        hdrs = {"User-Agent": f"ocbridge-sim/{self.name}", **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        status, text, error, resp_headers = http_call(method, url, body, hdrs, self.webhook_timeout)
        attempt = WebhookAttempt(f"fetch{time.monotonic_ns()}", "fetch", url, method, hdrs,
                                 (body or b"").decode("utf-8", "replace"), 1, status, error, time.time(), None, text,
                                 dict(resp_headers))
        self.webhooks.record(attempt)
        return attempt

    # request handling --------------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(path):
                    f.count -= 1
                    if f.count <= 0:
                        self._faults.remove(f)
                    return f
        return None

    def _take_cookie(self, path: str) -> str | None:
        with self._lock:
            for c in self._cookies:
                cookie, left, prefix = c
                if prefix is None or path.startswith(prefix):
                    if left is not None:
                        c[1] -= 1
                        if c[1] <= 0:
                            self._cookies.remove(c)
                    return cookie
        return None

    def _check_rate(self, req: Request) -> int:
        """0 when allowed, else Retry-After seconds."""
        account = req.account or "-"
        with self._lock:
            limit = self._limits.get(account) or self._limits.get(None)
            if not limit:
                return 0
            bucket = self._buckets.get(account)
            if bucket is None:
                bucket = self._buckets[account] = TokenBucket(*limit)
            wait = bucket.take()
        return 0 if wait <= 0 else max(1, int(wait + 0.999))

    def _dispatch(self, req: Request) -> Response:
        allowed = []
        for method, pattern, handler in self._compiled:
            m = pattern.fullmatch(req.path)
            if m:
                if method == req.method:
                    try:
                        return getattr(self, handler)(req, **m.groupdict())
                    except HttpError as exc:
                        return exc.response
                allowed.append(method)
        if allowed:
            return Response.text("Method Not Allowed", 405, {"Allow": ", ".join(allowed)})
        return self.not_found(req)

    def _control(self, req: Request) -> Response:
        name = req.path[len("/_sim/"):].strip("/").replace("/", "_")
        if name not in self.control_methods or not hasattr(self, name):
            return Response.json({"error": f"unknown control method {name!r}"}, 404)
        kwargs = req.json() if req.body.strip() else {}
        kwargs.update({k: _coerce(v[-1]) for k, v in req.query.items()})
        try:
            result = getattr(self, name)(**(kwargs or {}))
        except (TypeError, ValueError, KeyError) as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json({"result": to_jsonable(result)})


def _coerce(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _log_errors(fn: Callable, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:  # a scenario bug must be visible, not kill the pool silently
        import traceback

        traceback.print_exc()


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


class _Server(ThreadingHTTPServer):
    """Quiet about clients that hang up early (the timeout/reset faults cause exactly that)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Glue between http.server and Simulator; one connection = one request (HTTP/1.0)."""

    sim: Simulator
    protocol_version = "HTTP/1.0"
    server_version = "ocbridge-sim"

    def log_message(self, format, *args):  # keep test output clean
        pass

    def _handle(self) -> None:
        sim = self.sim
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, parsed.path, urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                      {k.lower(): v for k, v in self.headers.items()}, body)
        if parsed.path.startswith("/_sim/"):
            self._write(sim._control(req))
            return
        try:
            req.account = sim.account_of(req)
        except Exception:  # noqa: BLE001 - a malformed request must still be logged and answered
            req.account = None
        with sim._lock:
            sim._log.append(req)
        fault = sim._take_fault(req.path)
        if fault and not fault.after:
            req.fault = fault.kind
            self._apply_fault(fault, req, None)
            return
        retry_after = sim._check_rate(req)
        if retry_after:
            resp = sim.rate_limited(req, retry_after)
        else:
            try:
                resp = sim._dispatch(req)
            except Exception as exc:  # noqa: BLE001 - a simulator bug shows as a 500 with the reason
                resp = Response.text(f"simulator error: {type(exc).__name__}: {exc}", 500)
        if fault:
            req.fault = fault.kind
            self._apply_fault(fault, req, resp)
            return
        cookie = sim._take_cookie(req.path)
        if cookie is not None:
            req.cookie_set = cookie
            resp = dataclasses.replace(resp, headers={**resp.headers, "Set-Cookie": cookie})
        req.status, req.response = resp.status, resp.body
        self._write(resp)

    def _apply_fault(self, fault: Fault, req: Request, resp: Response | None) -> None:
        sim = self.sim
        if fault.kind == "timeout":
            sim._stopping.wait(fault.seconds if fault.seconds is not None else sim.timeout_fault_seconds)
            self._drop(reset=False)
        elif fault.kind == "reset":
            self._drop(reset=True)
        elif fault.kind == "429":
            req.status = 429
            self._write(sim.rate_limited(req, fault.retry_after))
        elif fault.kind in ("500", "502", "503", "504"):
            req.status = int(fault.kind)
            self._write(sim.server_error(req, int(fault.kind)))
        elif fault.kind == "403":
            req.status = 403
            self._write(sim.blocked(req))
        elif fault.kind == "empty":
            req.status = 200
            self._write(sim.empty(req))
        else:  # garbage
            req.status = 200
            self._write(sim.garbage(req))

    def _drop(self, reset: bool) -> None:
        self.close_connection = True
        try:
            if reset:  # SO_LINGER 0 → the close sends RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        except OSError:
            pass
        self.wfile = _NullWriter()

    def _write(self, resp: Response) -> None:
        self.send_response(resp.status)
        headers = {"Content-Type": "text/plain; charset=utf-8", **resp.headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _NullWriter:
    closed = True

    def write(self, data):
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass
