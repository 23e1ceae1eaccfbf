"""Loopback HTTP simulator framework: threaded server, request log, faults, rate limits, webhooks, control API.

Stdlib only, and nothing from ocbridge: a simulator that shared code with our clients would make the
tests prove nothing.

A provider simulator subclasses `Simulator`, lists its `routes` as (method, regex, handler name) and
returns `Response` objects (or raises `HttpError`). Everything else is here:

- `start()` binds 127.0.0.1 (port 0 = free port) and returns the base URL; `stop()`; context manager.
- `requests()` is the log of every request received (method, path, query, headers, body).
- `fail_next(kind, count=1, path=None, after=False, seconds=None, retry_after=1)` queues faults:
  `timeout` (hold the connection `seconds`, then drop it without answering), `500`, `503`,
  `429` (provider's own rate-limit body + Retry-After), `garbage` (200 with a body no parser accepts),
  `reset` (TCP reset). `after=True` lets the request be processed first (the side effect happens, the
  answer is lost) — the case idempotency keys exist for.
- `set_rate_limit(rate, burst=None, account=None)`: token bucket per account (real seconds); over the
  limit the provider's own 429/limit answer is returned.
- `webhooks`: a sender thread with the provider's retry schedule, plus `set_webhook_behaviour(
  duplicate=n, delay=sim seconds, shuffle=True)`.
- `speed`: simulated seconds per real second. Customer delays, webhook delays and retry spacing are in
  simulated seconds, so `speed=100` turns a 5-minute provider retry into 3 real seconds.
- HTTP control API: `GET|POST /_sim/<method>` with JSON keyword arguments calls any method named in
  `control_methods` and answers `{"result": ...}`; `RemoteSimulator(base_url)` wraps it for another process.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
import itertools
import json
import random
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

FAULT_KINDS = ("timeout", "500", "503", "429", "garbage", "reset")

# A body that is neither JSON, nor a number, nor XML: what a broken proxy in front of a provider returns.
GARBAGE_BODY = b'<html><body><h1>502 Bad Gateway</h1></body></html>\n{"code": "00", "jobid": \xff\xfe'


# --------------------------------------------------------------------------------------------- requests


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


# ----------------------------------------------------------------------------------- faults, rate limits


@dataclass
class Fault:
    """One queued fault; applies to the next `count` requests whose path starts with `path`."""

    kind: str
    count: int = 1
    path: str | None = None
    after: bool = False
    seconds: float | None = None
    retry_after: int = 1

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


class TokenBucket:
    """Classic token bucket in real time: `rate` tokens per second, at most `burst` stored."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> float:
        """Take one token; returns 0 when allowed, else seconds until a token is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0


# ------------------------------------------------------------------------------------ webhooks (outbound)


@dataclass
class WebhookAttempt:
    """One outbound HTTP request made by the simulator (webhook attempt or synchronous fetch)."""

    delivery_id: str
    kind: str  # "webhook" or "fetch"
    url: str
    method: str
    headers: dict[str, str]
    body: str
    attempt: int
    status: int | None
    error: str | None
    at: float
    event_id: str | None = None
    response_body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in urllib.parse.parse_qs(self.body, keep_blank_values=True).items()}

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "ok": self.ok}


@dataclass
class _Delivery:
    id: str
    url: str
    method: str
    body: bytes
    headers: dict[str, str]
    retry_delays: tuple[float, ...]
    event_id: str | None = None
    attempt: int = 0


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


class WebhookSender:
    """Background sender: delays, duplicates, out-of-order release and retries like the provider."""

    def __init__(self, sim: Simulator):
        self._sim = sim
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._buffer: list[_Delivery] = []
        self._buffer_until: float | None = None
        self._attempts: list[WebhookAttempt] = []
        self._busy = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.duplicate, self.delay, self.shuffle, self.shuffle_window = 1, 0.0, False, 1.0
        self._rng = random.Random(sim.seed)

    # configuration ------------------------------------------------------------------------------
    def set_behaviour(self, duplicate: int = 1, delay: float = 0.0, shuffle: bool = False, shuffle_window: float = 1.0) -> None:
        with self._cond:
            self.duplicate, self.delay = max(1, int(duplicate)), float(delay)
            self.shuffle, self.shuffle_window = bool(shuffle), float(shuffle_window)

    def reset(self) -> None:
        with self._cond:
            self._heap.clear()
            self._buffer.clear()
            self._buffer_until = None
            self._attempts.clear()
            self._rng = random.Random(self._sim.seed)
        self.set_behaviour()

    # sending ------------------------------------------------------------------------------------
    def send(
        self, url: str, *, json_body: Any = None, form: dict | list | None = None, body: bytes | None = None,
        headers: dict | None = None, event_id: str | None = None, retry_delays: Iterable[float] | None = None,
        sign: Callable[[str, bytes, dict], dict] | None = None, method: str = "POST",
    ) -> list[str]:
        """Queue one webhook (times `duplicate`); returns the delivery ids."""
        hdrs = {"User-Agent": f"ocbridge-sim/{self._sim.name}", **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        elif form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        body = body or b""
        if sign:
            hdrs.update(sign(url, body, hdrs))
        delays = tuple(self._sim.retry_delays if retry_delays is None else retry_delays)
        ids = []
        with self._cond:
            for _ in range(self.duplicate):
                d = _Delivery(f"wh{next(self._ids)}", url, method, body, dict(hdrs), delays, event_id)
                ids.append(d.id)
                due = time.monotonic() + self._sim.real(self.delay)
                if self.shuffle:
                    self._buffer.append(d)
                    if self._buffer_until is None:
                        self._buffer_until = due + self._sim.real(self.shuffle_window)
                else:
                    heapq.heappush(self._heap, (due, next(self._seq), d))
            self._cond.notify_all()
        return ids

    def flush(self) -> int:
        """Release the shuffle buffer now (in shuffled order). Returns how many were released."""
        with self._cond:
            n = self._release_buffer()
            self._cond.notify_all()
        return n

    def _release_buffer(self) -> int:
        items = list(self._buffer)
        if len(items) > 1:
            original = list(items)
            self._rng.shuffle(items)
            if items == original:  # "out of order" must really be out of order
                items.reverse()
        now = time.monotonic()
        for d in items:
            heapq.heappush(self._heap, (now, next(self._seq), d))
        self._buffer.clear()
        self._buffer_until = None
        return len(items)

    # inspection ---------------------------------------------------------------------------------
    def attempts(self, kind: str | None = None) -> list[WebhookAttempt]:
        with self._cond:
            return [a for a in self._attempts if kind is None or a.kind == kind]

    def delivered(self) -> list[WebhookAttempt]:
        return [a for a in self.attempts("webhook") if a.ok]

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + len(self._buffer) + self._busy

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued, buffered or in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0

    def record(self, attempt: WebhookAttempt) -> None:
        with self._cond:
            self._attempts.append(attempt)

    # worker -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"sim-{self._sim.name}-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._buffer_until is not None and now >= self._buffer_until:
                        self._release_buffer()
                    if self._heap and self._heap[0][0] <= now:
                        _, _, d = heapq.heappop(self._heap)
                        self._busy += 1
                        break
                    waits = [t - now for t in (self._heap[0][0] if self._heap else None, self._buffer_until) if t is not None]
                    self._cond.wait(timeout=min(waits) if waits else None)
            try:
                self._deliver(d)
            finally:
                with self._cond:
                    self._busy -= 1

    def _deliver(self, d: _Delivery) -> None:
        d.attempt += 1
        status, text, error, _ = http_call(d.method, d.url, d.body, d.headers, self._sim.webhook_timeout)
        self.record(WebhookAttempt(
            d.id, "webhook", d.url, d.method, dict(d.headers), d.body.decode("utf-8", "replace"), d.attempt,
            status, error, time.time(), d.event_id, text[:2000],
        ))
        if status is not None and 200 <= status < 300:
            return
        if d.attempt <= len(d.retry_delays):  # the provider's retry schedule, in simulated seconds
            due = time.monotonic() + self._sim.real(d.retry_delays[d.attempt - 1])
            with self._cond:
                heapq.heappush(self._heap, (due, next(self._seq), d))
                self._cond.notify_all()


# --------------------------------------------------------------------------------------------- customers

CALL_OUTCOMES = ("confirm", "cancel", "cancel_twice", "agent", "no_answer", "busy", "failed", "timeout", "invalid", "hangup")
ANSWERED_OUTCOMES = ("confirm", "cancel", "cancel_twice", "agent", "timeout", "invalid", "hangup")
DEFAULT_CALL_ODDS = {"confirm": 0.6, "cancel": 0.1, "cancel_twice": 0.1, "no_answer": 0.1, "busy": 0.05, "agent": 0.05}
DEFAULT_KEYS = {"confirm": "1", "cancel": "2", "agent": "0"}

# Replies real customers send (Turkish dotted/dotless I, Russian, emoji, order number, noise).
SMS_REPLY_VARIANTS = (
    "EVET", "evet", "İPTAL", "ıptal", "iptal", "да", "нет", "1", "Evet teşekkürler 🙏", "#{order} iptal", "asdf??",
)
DEFAULT_SMS_REPLY_ODDS = {"EVET": 0.3, "evet": 0.15, "1": 0.1, "Evet teşekkürler 🙏": 0.1, "iptal": 0.05, "İPTAL": 0.05,
                          "ıptal": 0.05, "да": 0.04, "нет": 0.03, "#{order} iptal": 0.03, "asdf??": 0.05, None: 0.05}


def phone_key(phone: str) -> str:
    """Same person however the number is written: compare the last 10 digits."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-10:] if len(digits) >= 10 else digits


@dataclass
class Customer:
    """Scripted behaviour of one phone number. Empty scripts fall back to the seeded odds."""

    calls: list[str] = field(default_factory=list)  # outcomes, consumed in order; the last one repeats
    sms_replies: list[str | None] = field(default_factory=list)
    answer_delay: float = 5.0  # simulated seconds from dial to answer / final state
    reply_delay: float = 20.0  # simulated seconds from SMS delivery to the reply
    sms_delivery: str = "delivered"  # or "undelivered"
    calls_made: int = 0
    sms_received: int = 0


class CustomerBook:
    """Simulated customers by phone number; deterministic for a given seed (independent of thread timing)."""

    def __init__(self, seed: int = 0, call_odds: dict | None = None, sms_reply_odds: dict | None = None):
        self.seed = seed
        self.call_odds = dict(call_odds or DEFAULT_CALL_ODDS)
        self.sms_reply_odds = dict(sms_reply_odds or DEFAULT_SMS_REPLY_ODDS)
        self.defaults: dict[str, Any] = {}
        self._customers: dict[str, Customer] = {}
        self._lock = threading.Lock()

    def get(self, phone: str) -> Customer:
        with self._lock:
            key = phone_key(phone)
            if key not in self._customers:
                self._customers[key] = Customer(**self.defaults)
            return self._customers[key]

    def set(self, phone: str, *, call: str | list | None = None, sms_reply: Any = "__keep__",
            answer_delay: float | None = None, reply_delay: float | None = None, sms_delivery: str | None = None) -> Customer:
        c = self.get(phone)
        with self._lock:
            if call is not None:
                c.calls = [call] if isinstance(call, str) else list(call)
                for outcome in c.calls:
                    _check_outcome(outcome)
                c.calls_made = 0
            if sms_reply != "__keep__":
                c.sms_replies = sms_reply if isinstance(sms_reply, list) else [sms_reply]
                c.sms_received = 0
            if answer_delay is not None:
                c.answer_delay = float(answer_delay)
            if reply_delay is not None:
                c.reply_delay = float(reply_delay)
            if sms_delivery is not None:
                c.sms_delivery = sms_delivery
        return c

    def next_call(self, phone: str) -> tuple[str, Customer]:
        c = self.get(phone)
        with self._lock:
            n = c.calls_made
            c.calls_made += 1
            if c.calls:
                return c.calls[min(n, len(c.calls) - 1)], c
            return self._draw(self.call_odds, f"call:{phone_key(phone)}:{n}"), c

    def next_sms_reply(self, phone: str) -> tuple[str | None, Customer]:
        c = self.get(phone)
        with self._lock:
            n = c.sms_received
            c.sms_received += 1
            if c.sms_replies:
                return c.sms_replies[min(n, len(c.sms_replies) - 1)], c
            return self._draw(self.sms_reply_odds, f"sms:{phone_key(phone)}:{n}"), c

    def _draw(self, odds: dict, salt: str) -> Any:
        rng = random.Random(f"{self.seed}:{salt}")
        items = list(odds.items())
        total = sum(w for _, w in items) or 1.0
        x = rng.random() * total
        for value, weight in items:
            x -= weight
            if x < 0:
                return value
        return items[-1][0]

    def reset(self) -> None:
        with self._lock:
            self._customers.clear()

    def to_dict(self) -> dict:
        with self._lock:
            return {"seed": self.seed, "call_odds": self.call_odds,
                    "sms_reply_odds": {("null" if k is None else k): v for k, v in self.sms_reply_odds.items()},
                    "customers": {k: dataclasses.asdict(v) for k, v in self._customers.items()}}


def _check_outcome(outcome: str) -> None:
    if outcome not in CALL_OUTCOMES and not outcome.startswith("press:"):
        raise ValueError(f"unknown call outcome {outcome!r}; use one of {CALL_OUTCOMES} or 'press:1,2'")


def key_presses(outcome: str, keys: dict[str, str] | None = None) -> tuple[bool, list[str]]:
    """(answered, keys pressed) for an outcome; `keys` maps intent → key for this call."""
    keys = {**DEFAULT_KEYS, **(keys or {})}
    if outcome.startswith("press:"):
        return True, [k for k in outcome[6:].split(",") if k]
    if outcome not in ANSWERED_OUTCOMES:
        return False, []
    if outcome == "cancel_twice":
        return True, [keys["cancel"], keys["cancel"]]
    if outcome in ("confirm", "cancel", "agent"):
        return True, [keys[outcome]]
    if outcome == "invalid":
        used = set(keys.values())
        return True, [next(k for k in "7893456" if k not in used)]
    return True, []  # timeout / hangup: answered, nothing pressed


# --------------------------------------------------------------------------------------------- simulator


class Simulator:
    """Base loopback provider. Subclasses set `name`, `routes`, `retry_delays` and the hooks below."""

    name = "base"
    routes: list[tuple[str, str, str]] = []  # (method, path regex, handler method name)
    retry_delays: tuple[float, ...] = ()  # provider's webhook retry spacing, simulated seconds
    control_methods: tuple[str, ...] = (
        "fail_next", "clear_faults", "set_rate_limit", "set_webhook_behaviour", "flush_webhooks", "sent_webhooks",
        "request_log", "reset", "set_speed", "state", "health", "set_customer", "set_odds", "set_seed", "customers",
        "wait_idle",
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
                _check_outcome(outcome)
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
        return Response.text("Internal Server Error" if status == 500 else "Service Unavailable", status)

    def garbage(self, req: Request) -> Response:
        return Response(200, GARBAGE_BODY, {"Content-Type": "application/json"})

    def not_found(self, req: Request) -> Response:
        return Response.text("Not Found", 404)

    # outbound synchronous requests (TwiML fetch, PBX decision query) --------------------------------
    def fetch(self, method: str, url: str, *, form: dict | None = None, headers: dict | None = None,
              body: bytes | None = None) -> WebhookAttempt:
        """A synchronous request to our side whose answer the simulator needs; recorded like webhooks."""
        hdrs = {"User-Agent": f"ocbridge-sim/{self.name}", **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        status, text, error, _ = http_call(method, url, body, hdrs, self.webhook_timeout)
        attempt = WebhookAttempt(f"fetch{time.monotonic_ns()}", "fetch", url, method, hdrs,
                                 (body or b"").decode("utf-8", "replace"), 1, status, error, time.time(), None, text)
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
        req.status = resp.status
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
        elif fault.kind in ("500", "503"):
            req.status = int(fault.kind)
            self._write(sim.server_error(req, int(fault.kind)))
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


class RemoteSimulator:
    """Drives a simulator in another process through its /_sim/ control API: `remote.fail_next(kind="500")`."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, **kwargs) -> Any:
        body = json.dumps(kwargs).encode("utf-8")
        status, text, error, _ = http_call("POST", f"{self.base_url}/_sim/{method}", body,
                                           {"Content-Type": "application/json"}, self.timeout)
        if error:
            raise ConnectionError(error)
        data = json.loads(text)
        if status != 200:
            raise RuntimeError(data.get("error", text))
        return data["result"]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda **kwargs: self.call(name, **kwargs)
