"""Outbound webhooks: a sender thread with the provider's retry schedule, delays, duplicates and
out-of-order release (`Simulator.set_webhook_behaviour`); every attempt is recorded."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .wire import http_call

if TYPE_CHECKING:
    from .server import Simulator


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
    response_headers: dict[str, str] = dataclasses.field(default_factory=dict)

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
        status, text, error, resp_headers = http_call(d.method, d.url, d.body, d.headers, self._sim.webhook_timeout)
        self.record(WebhookAttempt(
            d.id, "webhook", d.url, d.method, dict(d.headers), d.body.decode("utf-8", "replace"), d.attempt,
            status, error, time.time(), d.event_id, text[:2000], dict(resp_headers),
        ))
        if status is not None and 200 <= status < 300:
            return
        if d.attempt <= len(d.retry_delays):  # the provider's retry schedule, in simulated seconds
            due = time.monotonic() + self._sim.real(d.retry_delays[d.attempt - 1])
            with self._cond:
                heapq.heappush(self._heap, (due, next(self._seq), d))
                self._cond.notify_all()
