"""Loopback HTTP simulator framework: threaded server, request log, faults, rate limits, webhooks, control API.

Stdlib only, and nothing from ocbridge: a simulator that shared code with our clients would make the
tests prove nothing.

This module only gathers the framework's public names so a provider simulator needs one import; each
concern lives in its own module:
  wire.py       Request, Response, HttpError, http_call
  server.py     Simulator (threaded HTTP server, dispatch, request log, control API, simulated time)
  faults.py     fail_next faults and token-bucket rate limits
  webhooks.py   WebhookSender (retry schedule, delay, duplicates, shuffle) and WebhookAttempt
  customers.py  simulated customers (scripted or seeded call outcomes and SMS replies), key_presses
  remote.py     RemoteSimulator (drive a simulator in another process)
Each provider's simulator is one module of its own (twilio.py, verimor.py, netgsm.py, ozon.py, sandbox.py,
opencart_api.py) and is written from the provider's documents or SDK, never from our client.

A provider simulator subclasses `Simulator`, lists its `routes` as (method, regex, handler name) and
returns `Response` objects (or raises `HttpError`). Everything else is here:

- `start()` binds 127.0.0.1 (port 0 = free port) and returns the base URL; `stop()`; context manager.
- `requests()` is the log of every request received (method, path, query, headers, body).
- `fail_next(kind, count=1, path=None, after=False, seconds=None, retry_after=1)` queues faults:
  `timeout` (hold the connection `seconds`, then drop it without answering), `500`, `503`,
  `429` (provider's own rate-limit body + Retry-After), `garbage` (200 with a body no parser accepts),
  `reset` (TCP reset), `403` (a firewall in front refusing, no body), `empty` (a success answer with none of its
  fields: `empty(req)`, the provider's envelope). `after=True` lets the request be processed first (the side effect happens, the
  answer is lost) — the case idempotency keys exist for.
- `set_cookie(cookie, count=None, path=None)`: the next `count` answers (all when None) carry `Set-Cookie: cookie`,
  as a load balancer, CDN or PHP session in front of a provider adds; `requests()` shows whether one came back.
- `set_rate_limit(rate, burst=None, account=None)`: token bucket per account (real seconds); over the
  limit the provider's own 429/limit answer is returned.
- `webhooks`: a sender thread with the provider's retry schedule, plus `set_webhook_behaviour(
  duplicate=n, delay=sim seconds, shuffle=True)`.
- `speed`: simulated seconds per real second. Customer delays, webhook delays and retry spacing are in
  simulated seconds, so `speed=100` turns a 5-minute provider retry into 3 real seconds.
- HTTP control API: `GET|POST /_sim/<method>` with JSON keyword arguments calls any method named in
  `control_methods` and answers `{"result": ...}`; `RemoteSimulator(base_url)` wraps it for another process.
"""

from .customers import (  # noqa: F401
    ANSWERED_OUTCOMES, CALL_OUTCOMES, DEFAULT_CALL_ODDS, DEFAULT_KEYS, DEFAULT_SMS_REPLY_ODDS, SMS_REPLY_VARIANTS,
    Customer, CustomerBook, key_presses, phone_key,
)
from .faults import FAULT_KINDS, GARBAGE_BODY, Fault, TokenBucket  # noqa: F401
from .remote import RemoteSimulator  # noqa: F401
from .server import Simulator, to_jsonable  # noqa: F401
from .webhooks import WebhookAttempt, WebhookSender  # noqa: F401
from .wire import HttpError, Request, Response, http_call  # noqa: F401
