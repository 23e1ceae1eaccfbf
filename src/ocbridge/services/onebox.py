"""OneBox OS API v2 client: token cache, `<entity>/set` and `<entity>/get`, business processes; Exchanges recorded.

Knows the protocol (docs/providers/onebox.md) and nothing of stores or OpenCart. Every box has its own host
(`https://<box>.1b.app`, `https://<box>.crm-onebox.com`; others only when the hub's administrator allows them).
`POST /api/v2/token/get/ {login, restapipassword}` buys a token that travels in the `token` header; it is cached
per Connection and renewed once when a call says the token is missing or expired. The API password and the token
are masked in every Exchange and never put in a URL (the legacy API carries them in the query string, so the
integration uses v2 only; `legacy_add_order` exists for the contract test of the documented legacy call).

Answers: `{status: 1, dataArray}` is success; `{status: 0, errorArray}` is OneBox refusing (terminal, its own
words); 429, 5xx, timeouts and network errors are retryable.
"""

from __future__ import annotations

import hashlib
import json
from typing import NamedTuple
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from ocbridge.core import outbound, ratelimit
from ocbridge.core.errors import (
    ConfigurationError, RetryableError, TerminalError, credentials_refused, parse_retry_after, rate_limited,
    server_error, unreadable,
)
from ocbridge.core.sentences import Sentence, ngettext_noop
from ocbridge.services.session_tokens import LoginClient, SessionTokens, TokenRefused

SERVICE = "onebox"
API_PATH = "/api/v2"
DEFAULT_RPS = 2.0  # none published: a modest pace per box (docs/providers/onebox.md §4)
TOKEN_TTL = 2400.0  # seconds we reuse a token (public clients cache 50 min); a refusal renews it sooner
PAGE = 100
READ_PASSES = 3  # reads of a list that moved while it was read (OneBoxClient.iter_all) before trying later

_tokens = SessionTokens(SERVICE, TOKEN_TTL)


def check_base_url(url: str) -> str:
    """The box's origin (`https://<box>.1b.app`), or ConfigurationError: the hub's host rule (core.outbound)."""
    url = outbound.check_base_url(SERVICE, url)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def forget_tokens() -> None:
    _tokens.forget()


class Page(NamedTuple):
    """One page of a OneBox list (OneBoxClient.page_after)."""

    rows: list[dict]
    moved: bool  # the list moved since the page before: read it again
    end: bool  # the last page
    next_offset: int  # where the next page starts


class OneBoxClient(LoginClient):
    """OneBox API v2 for one Connection (one box, one API employee)."""

    service = SERVICE
    user_field = "login"
    missing = gettext_noop("the OneBox connection needs the API employee's login and REST API password")
    default_rps = DEFAULT_RPS
    check_base_url = staticmethod(check_base_url)

    # auth ----------------------------------------------------------------------------------------
    def login(self) -> str:
        data = self._send("token/get", {"login": self._user, "restapipassword": self._password}, auth=False)
        token = str((data or {}).get("token") or "") if isinstance(data, dict) else ""
        if not token:
            raise TerminalError(self.service, "login", Sentence(gettext_noop("OneBox answered the login without a token")))
        return _tokens.store(self._scope, token)

    # methods -------------------------------------------------------------------------------------
    def set(self, entity: str, records: list[dict], *, key: str = "", order_id: int | None = None) -> list[int]:
        """`<entity>/set/` with a list of records; OneBox's ids in input order."""
        data = self.call(f"{entity}/set", list(records), key=key, order_id=order_id)
        ids = data if isinstance(data, list) else []
        if len(ids) != len(records):
            raise RetryableError(self.service, "short", Sentence(
                gettext_noop("{call}: {sent}, {answered}"), call=f"{entity}/set",
                sent=Sentence(*ngettext_noop("{count} record sent", "{count} records sent"), count=len(records)),
                answered=Sentence(*ngettext_noop("{count} id answered", "{count} ids answered"), count=len(ids))))
        return [int(i) for i in ids]

    def get(self, entity: str, *, filter: dict | None = None, fields: list[str] | None = None, limit: int = PAGE,
            offset: int = 0) -> list[dict]:
        body = {"filter": filter or {}, "limit": int(limit), "offset": int(offset), **({"fields": fields} if fields else {})}
        data = self.call(f"{entity}/get", body)
        return [r for r in (data if isinstance(data, list) else []) if isinstance(r, dict)]

    def page_after(self, entity: str, offset: int, limit: int, last_id: str | None = None, *,
                   filter: dict | None = None) -> Page:
        """The records of OneBox's list from position `offset` (up to `limit` a call), and whether the list moved
        since the page before, whose last record was `last_id`.

        OneBox pages only by position (`limit`/`offset`; no documented sort order or id cursor —
        docs/providers/onebox.md §4), and an edit or a deletion in OneBox between two pages moves records: one can
        slip back across the page boundary and never be read. So a page after the first starts one record early
        (the same `limit`: a box's own cap on it is unknown) and that record must be the previous page's last one.
        If it is not, the list moved (the caller reads it again) and that record is kept, as it may be the one
        that slipped back."""
        start = offset - 1 if last_id is not None and offset > 0 else offset
        got = self.get(entity, filter=filter, limit=limit, offset=start)
        page = Page(got, False, len(got) < limit, start + len(got))
        if start == offset:
            return page
        if got and str(got[0].get("id")) == str(last_id):
            return page._replace(rows=got[1:])
        return page._replace(moved=True)

    def iter_all(self, entity: str, *, filter: dict | None = None, limit: int = PAGE, max_pages: int = 1000,
                 passes: int = READ_PASSES):
        """Every record of `entity` (matching `filter`) once, page by page. When the list moved during a read (see
        `page_after`) it is read again, yielding only records not yielded yet, until one read sees it still;
        after `passes` reads it still moved → RetryableError (the caller's job or poll runs again later, nothing
        skipped). `max_pages` guards against a box that ignores the offset and answers the same page for ever."""
        seen: set[str] = set()
        for _ in range(passes):
            moved, last, offset = False, None, 0
            for _page in range(max_pages):
                page = self.page_after(entity, offset, limit, last, filter=filter)
                moved = moved or page.moved
                for row in page.rows:
                    if str(row.get("id")) not in seen:
                        seen.add(str(row.get("id")))
                        yield row
                if page.end or not page.rows:
                    break
                offset, last = page.next_offset, str(page.rows[-1].get("id"))
            if not moved:
                return
        raise RetryableError(self.service, "moving", Sentence(*ngettext_noop(
            "OneBox's {entity} list kept changing while it was read ({count} time); reading it again later",
            "OneBox's {entity} list kept changing while it was read ({count} times); reading it again later"),
            entity=entity, count=passes))

    def iter_changed(self, entity: str, since: str, *, limit: int = PAGE, max_pages: int = 1000):
        """Every record changed since `since` (`Y-m-d H:i:s`, the box's clock), page by page."""
        return self.iter_all(entity, filter={"datemodifyfrom": since}, limit=limit, max_pages=max_pages)

    def find_order(self, externalid: str) -> dict | None:
        """The box's order whose `externalid` is exactly ours (the filter may match loosely [WC])."""
        for row in self.get("order", filter={"externalid": [externalid]}):
            if str(row.get("externalid") or "") == externalid:
                return row
        return None

    def workflows(self) -> list[dict]:
        return [r for r in (self.call("workflow/get", {}) or []) if isinstance(r, dict)]

    def workflow_statuses(self, workflowid: int | None = None) -> list[dict]:
        body = {"filter": {"workflowid": workflowid}} if workflowid else {}
        return [r for r in (self.call("workflowstatus/get", body) or []) if isinstance(r, dict)]

    def legacy_add_order(self, params: dict) -> dict:
        """Documented legacy `/api/orders/add/` (login + md5 password in the body, never in the URL we log)."""
        md5 = hashlib.md5(self._password.encode()).hexdigest()
        form = {"login": self._user, "password": md5, **params}
        ratelimit.acquire((self.service,) + self._scope, self._rps, self._rps, sleep=self._sleep)
        self._recorder.secrets = self._secrets + [md5]
        with self._recorder.exchange("POST", self.base_url + "/api/orders/add/", purpose="onebox.legacy_order",
                                     request_body=json.dumps(form, ensure_ascii=False)) as ex:
            resp = self._http.request("POST", "/api/orders/add/", data=form)
            ex.finish(resp)
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(resp.text[:200]))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, resp.text[:200]))
        body = resp.json()
        if body.get("status") != "ok":
            raise TerminalError(self.service, "refused", "; ".join(str(e) for e in body.get("errors") or []))
        return body

    # the one path to the network -----------------------------------------------------------------
    def call(self, method: str, body, *, key: str = "", order_id: int | None = None):
        return _tokens.call(self._scope, self.login,
                            lambda token: self._send(method, body, key=key, order_id=order_id, token=token))

    def _send(self, method: str, body, *, key: str = "", order_id: int | None = None, token: str = "",
              auth: bool = True):
        ratelimit.acquire((self.service,) + self._scope, self._rps, self._rps, sleep=self._sleep)
        text = json.dumps(body, ensure_ascii=False)
        headers = {"Accept": "application/json", "Content-Type": "application/json", **({"token": token} if auth else {})}
        path = f"{API_PATH}/{method}/"
        self.calls[method] = self.calls.get(method, 0) + 1
        self._recorder.secrets = self._secrets + ([token] if token else [])
        with self._recorder.exchange("POST", self.base_url + path, key=key, purpose=f"onebox.{method}",
                                     order_id=order_id, request_body=text, request_headers=headers) as ex:
            resp = self._http.request("POST", path, content=text.encode("utf-8"), headers=headers)
            ex.finish(resp)
            return self._classify(resp, auth=auth)

    def _classify(self, resp, *, auth: bool):
        """The one place OneBox's answers are read: dataArray, or an error in our taxonomy."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        message = errors_text(body) or resp.reason_phrase or resp.text[:300]
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(message),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After"), 5.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, message),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if not isinstance(body, dict):
            raise RetryableError(self.service, "garbage", unreadable(resp.text))
        if int(body.get("status") or 0) == 1 and resp.status_code < 400:
            return body.get("dataArray")
        if auth and (resp.status_code in (400, 401, 403)) and "token" in message.lower():
            raise TokenRefused(self.service, resp.status_code, message)
        if not auth:
            raise TerminalError(self.service, "login", credentials_refused(gettext_noop("login or REST API password"),
                                                                           message))
        raise TerminalError(self.service, resp.status_code if resp.status_code >= 400 else "refused", message)


def errors_text(body) -> str:
    """OneBox's `errorArray`: strings, `{message|error|text}` objects, or a field → message map [WC]."""
    if not isinstance(body, dict):
        return ""
    errs = body.get("errorArray")
    items = errs.items() if isinstance(errs, dict) else enumerate(errs or [])
    parts = []
    for name, item in items:
        if isinstance(item, dict):
            item = next((item[k] for k in ("message", "error", "text") if item.get(k)), json.dumps(item, ensure_ascii=False))
        parts.append(f"{name}: {item}" if isinstance(name, str) else str(item))
    return "; ".join(parts[:5])
