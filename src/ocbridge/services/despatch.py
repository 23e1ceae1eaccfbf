"""Despatch Cloud public API client: login + token cache, orders, order lines, inventory; Exchanges recorded.

Knows the protocol (docs/providers/despatch-cloud.md) and nothing of stores, OpenCart or which feature calls
it. Every account has its own host, `https://<account>.despatchcloud.co.uk/public-api/`; an API user's e-mail
and password buy a bearer token at `auth/login`. The token is cached per Connection and refreshed on a 401
(one new login, one repeat of the call); the password is never logged.

Answers: 2xx with the order / page / item as JSON; errors as `{"error": "<DC's message>"}` (client tests
against DC's sandbox, cited per method). 429 and 5xx (also Cloudflare's 520) are retryable; other 4xx are
terminal with DC's own message, which the dashboard shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from ocbridge.core import outbound, ratelimit
from ocbridge.core.errors import (
    ConfigurationError, RetryableError, TerminalError, credentials_refused, parse_retry_after, rate_limited,
    server_error, unreadable,
)
from ocbridge.core.sentences import Sentence
from ocbridge.services.session_tokens import LoginClient, SessionTokens, TokenRefused

SERVICE = "despatch"
API_PATH = "/public-api"

# DC order status_id values (GardeningExpress/despatchcloud-client src/Constants.cs).
DRAFT, ON_HOLD, DESPATCH_READY, PICKING, DESPATCHED, CANCELLED, PACKING, PICKED = 1, 2, 3, 4, 5, 6, 8, 10
OPEN_STATUSES = (DRAFT, ON_HOLD, DESPATCH_READY)  # not yet picked: our hold / cancel may still stop it
TERMINAL_STATUSES = (DESPATCHED, CANCELLED)

# No limit is published: stay at a few requests a second per account and honour 429 (Retry-After).
DEFAULT_RPS = 4.0
TOKEN_TTL = 600.0  # seconds we reuse a token (the public client's default cache time); a 401 renews it sooner

_tokens = SessionTokens(SERVICE, TOKEN_TTL)


def check_base_url(url: str) -> str:
    """The account's API base URL (`…/public-api`), or ConfigurationError: the host rule is the hub's one
    (core.outbound: https on `<account>.despatchcloud.co.uk`, or a host the process allows for simulators)."""
    url = outbound.check_base_url(SERVICE, url)
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass
class Page:
    """One page of a Laravel paginator: `data` plus where we are (`next_page_url` None on the last page)."""

    data: list[dict]
    current_page: int
    last_page: int
    total: int
    next_page_url: str | None

    @property
    def has_next(self) -> bool:
        return bool(self.next_page_url) and self.current_page < max(self.last_page, self.current_page + 1)


@dataclass
class LinesAdded:
    """`order/{id}/add_inventory`: "success" or "partial_success" with DC's per-line errors."""

    status: str
    items: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def forget_tokens() -> None:
    _tokens.forget()


class DespatchClient(LoginClient):
    """Despatch Cloud public API for one Connection (one account host, one API user)."""

    service = SERVICE
    user_field = "email"
    missing = gettext_noop("the Despatch Cloud connection needs the API user's e-mail and password")
    default_rps = DEFAULT_RPS
    check_base_url = staticmethod(check_base_url)

    # auth ----------------------------------------------------------------------------------------
    def login(self) -> str:
        """`POST auth/login {email, password}` → `{token}`; 401 = wrong e-mail or password (terminal)."""
        body = self._send("POST", "/auth/login", payload={"email": self._user, "password": self._password},
                          purpose="despatch.login", auth=False)
        token = str(body.get("token") or "")
        if not token:
            raise TerminalError(self.service, "login", Sentence(gettext_noop(
                "Despatch Cloud answered the login without a token")))
        return _tokens.store(self._scope, token)

    # orders --------------------------------------------------------------------------------------
    def create_order(self, *, order: dict, key: str, order_id: int | None = None) -> dict:
        """`POST orders/create` with the flat order fields; returns DC's order (its `id` is DC's order id)."""
        return self._call("POST", "/orders/create", payload=order, key=key, purpose="despatch.create_order",
                          order_id=order_id)

    def add_inventory(self, *, dc_order_id: int, items: list[dict], key: str, order_id: int | None = None) -> LinesAdded:
        """`POST order/{id}/add_inventory {items: [...]}`; not idempotent at DC, so callers add lines only to an
        order that has none (`total_inventory_count` 0)."""
        body = self._call("POST", f"/order/{int(dc_order_id)}/add_inventory", payload={"items": items}, key=key,
                          purpose="despatch.add_inventory", order_id=order_id)
        result = body.get("result") or {}
        return LinesAdded(status=str(body.get("status") or ""), items=list(result.get("items") or []),
                          errors=[str(e.get("error") or "") for e in result.get("errors") or [] if isinstance(e, dict)])

    def search_orders(self, *, search: str = "", search_fields: tuple[str, ...] = (), date_range: tuple[int, int] | None = None,
                      sort: str = "", page: int = 1) -> Page:
        """`GET orders?filters[search]=…&filters[search_field]=…&filters[date_range]=<from>,<to>&sort=…&page=n`."""
        params: dict[str, str] = {"filters[search]": search}
        if search_fields:
            params["filters[search_field]"] = ",".join(search_fields)
        if date_range:
            params["filters[date_range]"] = f"{int(date_range[0])},{int(date_range[1])}"
        if sort:
            params["sort"] = sort
        params["page"] = str(page)
        return _page(self._call("GET", "/orders", params=params, purpose="despatch.search_orders"))

    def find_order(self, channel_order_id: str) -> dict | None:
        """The DC order whose `channel_order_id` is exactly ours (search matches substrings), or None."""
        page = 1
        while True:
            result = self.search_orders(search=channel_order_id, search_fields=("search_order_id",), page=page)
            for o in result.data:
                if str(o.get("channel_order_id") or "") == channel_order_id:
                    return o
            if not result.has_next:
                return None
            page += 1

    def iter_orders(self, *, date_range: tuple[int, int], sort: str = "datereceived_pr",
                    max_pages: int = 1000) -> Iterator[dict]:
        """Every order of a date window, all pages (Laravel paging: follow until next_page_url is null)."""
        page = 1
        while page <= max_pages:
            result = self.search_orders(date_range=date_range, sort=sort, page=page)
            yield from result.data
            if not result.has_next or not result.data:
                return
            page += 1

    def update_order_status(self, *, dc_order_id: int, status_id: int, key: str, order_id: int | None = None) -> None:
        """`POST order/{id}/update {status_id}` (e.g. 2 = on hold)."""
        self._call("POST", f"/order/{int(dc_order_id)}/update", payload={"status_id": int(status_id)}, key=key,
                   purpose="despatch.update_order", order_id=order_id)

    def cancel_order(self, *, dc_order_id: int, key: str, order_id: int | None = None) -> None:
        """`POST order/{id}/cancel`; a despatched order answers "Order in Despatched status." (terminal)."""
        self._call("POST", f"/order/{int(dc_order_id)}/cancel", key=key, purpose="despatch.cancel_order",
                   order_id=order_id)

    # inventory -----------------------------------------------------------------------------------
    def search_inventory(self, *, sku: str = "", sort: str = "", page: int = 1) -> Page:
        """`GET inventory?filters[sku]=…&sort=…&page=n`."""
        params = {**({"filters[sku]": sku} if sku else {}), **({"sort": sort} if sort else {}), "page": str(page)}
        return _page(self._call("GET", "/inventory", params=params, purpose="despatch.search_inventory"))

    def iter_inventory(self, *, sort: str = "updated_at_rp", max_pages: int = 10000, start: int = 1,
                       pace: float | None = None) -> Iterator[dict]:
        """Every page from `start` at DC's own page size; `pace`: at most that many pages a second (a long read
        leaves the account's other calls room under its rate)."""
        page = start
        while page <= max_pages:
            if pace:
                ratelimit.acquire((self.service, "pages") + self._scope, pace, 1.0, sleep=self._sleep)
            result = self.search_inventory(sort=sort, page=page)
            yield from result.data
            if not result.has_next or not result.data:
                return
            page += 1

    def update_inventory(self, *, inventory_id: str, fields: dict, key: str) -> dict:
        """`POST inventory/{id}/update` with the fields to change; returns the item."""
        return self._call("POST", f"/inventory/{inventory_id}/update", payload=fields, key=key,
                          purpose="despatch.update_inventory")

    # the one path to the network -------------------------------------------------------------------
    def _call(self, method: str, path: str, *, payload: dict | None = None, params: dict | None = None, key: str = "",
              purpose: str = "", order_id: int | None = None) -> dict:
        return _tokens.call(self._scope, self.login, lambda token: self._send(
            method, path, payload=payload, params=params, key=key, purpose=purpose, order_id=order_id, token=token))

    def _send(self, method: str, path: str, *, payload: dict | None = None, params: dict | None = None, key: str = "",
              purpose: str = "", order_id: int | None = None, token: str = "", auth: bool = True) -> dict:
        ratelimit.acquire((self.service,) + self._scope, self._rps, self._rps, sleep=self._sleep)
        text = json.dumps(payload, ensure_ascii=False) if payload is not None else None
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if text is not None else {}),
                   **({"Authorization": f"Bearer {token}"} if auth else {})}
        url = self.base_url + path
        self.calls[purpose] = self.calls.get(purpose, 0) + 1
        self._recorder.secrets = self._secrets + ([token] if token else [])  # the token is masked like the password
        shown = self._http.build_url(path, params) if params else url
        with self._recorder.exchange(method, shown, key=key, purpose=purpose, order_id=order_id, request_body=text,
                                     request_headers=headers) as ex:
            resp = self._http.request(method, path, params=params,
                                      content=text.encode("utf-8") if text is not None else None, headers=headers)
            ex.finish(resp)
            return self._classify(resp, auth=auth)

    def _classify(self, resp, *, auth: bool) -> dict:
        """The one place Despatch Cloud's answers are read: the body, or an error in our taxonomy."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        message = _message(body) or resp.reason_phrase or resp.text[:300]
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(message),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After"), 5.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, message),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code == 401:
            if not auth:
                raise TerminalError(self.service, 401, credentials_refused(gettext_noop("e-mail or password"), message))
            raise TokenRefused(self.service, 401, message)
        if resp.status_code >= 400:
            raise TerminalError(self.service, resp.status_code, message)
        if not isinstance(body, dict):  # a 2xx nobody can parse: a proxy in the way
            raise RetryableError(self.service, "garbage", unreadable(resp.text))
        return body


def _message(body) -> str:
    """DC's error text: `{"error": "..."}`, a Laravel `{"message": ..., "errors": {field: [..]}}`, or add_inventory's
    `validation_error` list."""
    if not isinstance(body, dict):
        return ""
    parts = []
    for name in ("error", "message"):
        if isinstance(body.get(name), str) and body[name]:
            parts.append(body[name])
    if isinstance(body.get("validation_error"), list):
        parts.extend(str(v) for v in body["validation_error"])
    if isinstance(body.get("errors"), dict):
        for fld, msgs in body["errors"].items():
            parts.extend(f"{fld}: {m}" for m in (msgs if isinstance(msgs, list) else [msgs]))
    return ". ".join(dict.fromkeys(parts))


def _page(body: dict) -> Page:
    return Page(data=[o for o in body.get("data") or [] if isinstance(o, dict)],
                current_page=int(body.get("current_page") or 1), last_page=int(body.get("last_page") or 1),
                total=int(body.get("total") or 0), next_page_url=body.get("next_page_url") or None)
