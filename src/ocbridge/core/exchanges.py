"""Recording Exchanges: every request to an outside service, and every inbound webhook, becomes a row.

The outgoing row is saved *before* the request (Saleor's attempt row), carrying the side effect's
idempotency key, so a crash between sending and storing leaves evidence: a PENDING row under that key.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.http.request import HttpHeaders

from ocbridge.core import clock, rows
from ocbridge.core.choices import Direction, ExchangeOutcome, Level
from ocbridge.core.errors import RetryableError, ServiceError
from ocbridge.core.masking import body_problem, mask_body, mask_headers, mask_url
from ocbridge.core.sentences import Sentence, listed, said_data, storable


class Held:
    """The Exchanges of one routine poll (core.polls), held in memory: a poll that finds nothing writes nothing, so
    its reads are not logged; `keep()` saves them (and the connections' "last OK") when it found work or failed."""

    def __init__(self):
        self.rows: list = []
        self.ok: dict[int, object] = {}  # connections that answered, marked OK on keep()

    def keep(self) -> None:
        for row in self.rows:
            row.save()
        for connection in self.ok.values():
            connection.mark_ok()
        self.rows, self.ok = [], {}


_held: ContextVar[Held | None] = ContextVar("held_exchanges", default=None)


@contextmanager
def held():
    """Hold the Exchanges recorded in this block (see Held); the caller decides with `keep()`."""
    box = Held()
    token = _held.set(box)
    try:
        yield box
    finally:
        _held.reset(token)


def _save(row) -> None:
    box = _held.get()
    if box is None:
        row.save()
    elif row not in box.rows:
        box.rows.append(row)


OK_REFRESH = 3600.0  # seconds: a connection's "last OK" is kept at most this old by routine polls' reads


def _tell_ok_now(connection) -> bool:
    """A held read's success is written at once when it changes what the dashboard shows: the connection was
    failing (its last error newer than its last success) or never answered — or its "last OK" is an hour old."""
    last_ok, last_error = connection.last_ok_at, connection.last_error_at
    if last_ok is None or (last_error is not None and last_error >= last_ok):
        return True
    return (clock.now() - last_ok).total_seconds() > OK_REFRESH


class ExchangeHandle:
    """The open Exchange of one request; `finish(response)` fills in the answer."""

    def __init__(self, row, secrets: list[str], started: float):
        self.row = row
        self._secrets = secrets
        self._started = started
        self.finished = False

    def finish(self, response, *, level: str | None = None, outcome: str | None = None, error: str = "") -> None:
        row = self.row
        row.status = response.status_code
        row.response_headers = mask_headers(dict(response.headers), self._secrets)
        row.response_body = mask_body(response.content, self._secrets, settings.EXCHANGE_BODY_LIMIT)
        row.duration_ms = (time.perf_counter() - self._started) * 1000
        ok = 200 <= response.status_code < 300
        row.outcome = outcome or (ExchangeOutcome.OK if ok else ExchangeOutcome.FAILED)
        retryable = response.status_code == 429 or response.status_code >= 500
        row.level = level or (Level.INFO if ok else Level.WARNING if retryable else Level.ERROR)
        row.error = error
        _save(row)
        self.finished = True

    def fail(self, exc: BaseException) -> None:
        """The request raised, or the answer was classified as an error after finish()."""
        row = self.row
        if row.duration_ms is None:
            row.duration_ms = (time.perf_counter() - self._started) * 1000
        retryable = isinstance(exc, RetryableError)
        maybe_sent = getattr(exc, "maybe_sent", None)
        # A 2xx answer that we then failed to store (hub database locked): the provider has it, so the retry
        # must ask, not send again. The provider's own refusals (ServiceError) stay failures.
        stored_failed = row.status is not None and 200 <= row.status < 300 and not isinstance(exc, ServiceError)
        row.level = Level.WARNING if retryable or stored_failed else Level.ERROR
        if maybe_sent is True or stored_failed:
            row.outcome = ExchangeOutcome.PENDING  # unknown: the provider may have it
        else:
            row.outcome = ExchangeOutcome.FAILED
        text = str(exc) if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
        from ocbridge.core.masking import mask_values

        row.error = mask_values(text, self._secrets)[:4000]
        _save(row)


class ExchangeRecorder:
    """Opens and closes Exchange rows for one service account; masks its secrets everywhere."""

    def __init__(self, service: str, *, connection=None, store=None, secrets: Iterable[str] = ()):
        self.service = service
        self.connection = connection
        self.store = store or (connection.store if connection is not None else None)
        if store is None and connection is not None:  # a shared account working for another store: log it there
            from ocbridge.core.jobkinds import current_job

            job = current_job.get()
            if job is not None and job.store_id and job.store_id != connection.store_id:
                self.store = job.store
        extra = connection.secret_values() if connection is not None else []
        self.secrets = [s for s in list(secrets) + extra if s]

    def previous(self, key: str):
        """The latest outgoing Exchange recorded under this idempotency key, if any."""
        from ocbridge.core.models import Exchange

        if not key:
            return None
        # By the key alone (a few rows), the rest checked here: with direction and service in the query, SQLite's
        # planner (no statistics) took the service index and read every row of the service when the key was new —
        # before every side effect, 0.2-0.5 s at 1,000,000 rows.
        for row in Exchange.objects.keyed(key).order_by("-id"):
            if row.direction == Direction.OUT and row.service == self.service:
                return row
        return None

    @contextmanager
    def exchange(self, method: str, url: str, *, key: str = "", purpose: str = "", order_id: int | None = None,
                 request_body: str | bytes | None = None, request_headers: dict | None = None):
        from ocbridge.core.jobkinds import current_job, current_order
        from ocbridge.core.models import Exchange

        job = current_job.get()
        order_id = order_id if order_id is not None else current_order.get()
        row = Exchange(
            created=clock.now(),
            service=self.service,
            direction=Direction.OUT,
            purpose=purpose,
            store=self.store,
            connection=self.connection,
            job=job if job is not None and job.pk else None,
            order_id=order_id,
            key=key,
            method=method,
            url=mask_url(url, self.secrets),
            request_headers=mask_headers(request_headers or {}, self.secrets),
            request_body=mask_body(request_body, self.secrets, settings.EXCHANGE_BODY_LIMIT),
            outcome=ExchangeOutcome.PENDING,
        )
        _save(row)  # before the request (the evidence of a crash mid-call); a routine poll holds it instead
        handle = ExchangeHandle(row, self.secrets, time.perf_counter())
        try:
            yield handle
        except BaseException as exc:
            handle.fail(exc)
            if self.connection is not None and isinstance(exc, ServiceError):
                self.connection.mark_error(str(exc), rate_limited=str(exc.code).endswith("429") or exc.code == "rate_limit",
                                           said=said_data(exc, self.secrets))
            raise
        else:
            if self.connection is not None and row.outcome == ExchangeOutcome.OK:
                box = _held.get()
                if box is None or _tell_ok_now(self.connection):
                    self.connection.mark_ok()
                else:
                    box.ok[self.connection.pk] = self.connection


def _in(nets, address: str) -> bool:
    import ipaddress

    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(addr in net for net in nets)


@functools.lru_cache(maxsize=8)
def _networks(names: tuple[str, ...]) -> list:
    import ipaddress

    return [ipaddress.ip_network(n, strict=False) for n in names]


def client_ip(request) -> str:
    """The client's address: the peer, or — when the peer is a trusted proxy (settings.TRUSTED_PROXIES networks, or
    any peer when TRUSTED_PROXY_HOPS is set) — the first X-Forwarded-For address from the right that is not one.

    With hops N, the N rightmost addresses of the chain (the peer included) are proxies. A header from an untrusted
    peer is ignored: where the app port is reachable directly, anyone can write one.
    """
    from django.conf import settings

    peer = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if not (hops or settings.TRUSTED_PROXIES):  # no proxy in front (the usual one-machine set-up): the peer
        return peer
    nets = _networks(tuple(settings.TRUSTED_PROXIES))
    if not (hops or _in(nets, peer)):
        return peer
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    chain = forwarded + [peer]
    if hops:
        return chain[max(0, len(chain) - 1 - hops)]
    for address in reversed(chain):
        if not _in(nets, address):
            return address
    return chain[0]


def request_headers(meta) -> dict:
    """The request's headers as `dict(request.headers.items())` gives them — names, values, order — read from the WSGI
    environ directly: Django's HttpHeaders builds a case-insensitive mapping first (a tenth of building a webhook's
    Exchange)."""
    out = {}
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").title()] = value
        elif key in _UNPREFIXED:
            out[key.replace("_", "-").title()] = value
    return out


_UNPREFIXED = frozenset(HttpHeaders.UNPREFIXED_HEADERS)


def inbound_exchange(request, *, service: str, connection=None, store=None, purpose: str = "",
                     body: bytes | None = None):
    """The raw inbound request as an Exchange (masked, capped), not yet saved: `close_inbound` saves it with
    the answer, so a webhook costs one write. The webhook view saves it whatever the handler does.

    `body`: what was read of a body too large to read whole (default: `request.body`)."""
    from ocbridge.core.models import Exchange

    secrets = connection.secret_values() if connection is not None else []
    headers = request_headers(request.META)
    headers["X-Remote-Addr"] = client_ip(request)
    raw = request.body if body is None else body
    exchange = rows.new(
        Exchange,
        created=clock.now(),
        service=service,
        direction=Direction.IN,
        purpose=purpose,
        method=request.method,
        url=mask_url(request.get_full_path(), secrets),
        request_headers=mask_headers(headers, secrets),
        request_body=mask_body(raw, secrets, settings.EXCHANGE_BODY_LIMIT),
        outcome=ExchangeOutcome.PENDING,
    )
    rows.relate(exchange, store=store or (connection.store if connection is not None else None), connection=connection)
    # Bytes that had to be escaped to be stored (not UTF-8, NUL): said on the row whatever the answer.
    exchange.body_note = body_problem(raw)
    return exchange


def inbound_of(job):
    """The inbound Exchange (the webhook) a job was queued from, or None: the one its payload names, else the first
    inbound row linked to it — a webhook that queues one job stores its Exchange once, after the job, linked to it;
    later deliveries of the same event link to it too, with higher ids."""
    from ocbridge.core.models import Exchange

    pk = job.payload.get("exchange_id")
    if pk is not None:
        return Exchange.objects.filter(pk=pk).first()
    return Exchange.objects.filter(job=job, direction=Direction.IN).order_by("id").first()


def close_inbound(exchange, *, status: int, outcome: str = ExchangeOutcome.OK, level: str = Level.INFO,
                  error: str | Sentence = "", response_body: str = "", **links) -> None:
    """Record how we answered an inbound request (saves the raw request too if it is not saved yet). `error` said as a
    Sentence is stored as said too (`Exchange.error_said`): the log reads it in each reader's language."""
    note = getattr(exchange, "body_note", "")
    exchange.status = status
    exchange.outcome = outcome
    exchange.level = Level.WARNING if note and level == Level.INFO else level
    said = error if isinstance(error, Sentence) else None
    exchange.error = "; ".join(x for x in (said.english() if said else error, note) if x)[:4000]
    exchange.error_said = storable(listed([said, note] if note else [said])) if said else None
    exchange.response_body = response_body[:2000]
    rows.relate(exchange, **links)
    if exchange.pk is not None:  # saved already: only what an answer changes (a smaller UPDATE on a hot path)
        if rows.update(exchange, ("status", "outcome", "level", "error", "error_said", "response_body", "event_id",
                                  *links)):
            return
        exchange.pk = None  # its insert was rolled back with a failed transaction: insert it again
    rows.insert(exchange)
