"""Ozon Seller API client: one method per remote call, Exchanges recorded, errors classified, rate limited.

Knows the protocol (ozon.md §1–5) and nothing of stores, OpenCart or which feature calls it.
Every method is POST + JSON with `Client-Id` and `Api-Key` headers; the Api-Key is masked in every
Exchange. HTTP 429 and 5xx are retryable; other 4xx are terminal with Ozon's own message. A 200 can
still carry per-item errors: those come back in the result dataclasses, never as exceptions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.conf import settings
from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.choices import Level
from ocbridge.core.errors import (
    RetryableError, TerminalError, credentials_refused, parse_retry_after, rate_limited, server_error, unreadable,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client

BASE_URL = "https://api-seller.ozon.ru"

# Documented batch maxima (ozon.md §2–5).
IMPORT_BATCH = 100
STOCKS_BATCH = 100
PRICES_BATCH = 1000
INFO_BATCH = 1000
LIST_LIMIT = 1000
VALUES_LIMIT = 2000
POSTINGS_LIMIT = 100  # /v4/posting/fbs/list and /v4/posting/fbs/unfulfilled/list: limit 1..100
WAREHOUSES_LIMIT = 200  # /v2/warehouse/list: limit required, at most 200
RETURNS_LIMIT = 500  # /v1/returns/list
POSTING_ACTION_BATCH = 100  # rFBS status methods take a list of posting numbers

# Our own ceilings, below Ozon's: 50 rps per Client-Id overall (we take 25, as the maintained client
# does); /v2/products/stocks 80 per minute — a token bucket with rate r and burst b allows b + 60·r in
# any 60 s, so 70/min + burst 10 can never exceed 80 in a sliding minute.
GLOBAL_RPS = 25.0
STOCKS_RATE = 70 / 60
STOCKS_BURST = 10.0


@dataclass
class ItemError:
    """One per-item error Ozon returned inside a 200."""

    code: str
    message: str
    field: str = ""
    attribute_id: int = 0

    @classmethod
    def from_json(cls, e: dict) -> ItemError:
        return cls(code=str(e.get("code") or ""), message=str(e.get("message") or e.get("description") or ""),
                   field=str(e.get("field") or ""), attribute_id=int(e.get("attribute_id") or 0))

    def text(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


@dataclass
class ImportStarted:
    task_id: int


@dataclass
class ImportItem:
    """Status of one card in an import task: pending, imported, failed or skipped."""

    offer_id: str
    product_id: int
    status: str
    errors: list[ItemError] = field(default_factory=list)


@dataclass
class ItemResult:
    """Per-item outcome of a stock or price update."""

    offer_id: str
    product_id: int
    updated: bool
    errors: list[ItemError] = field(default_factory=list)
    warehouse_id: int | None = None


@dataclass
class ProductPage:
    items: list[dict]
    last_id: str
    total: int


@dataclass
class PostingPage:
    postings: list[dict]
    has_next: bool
    cursor: str = ""


@dataclass
class ReturnsPage:
    returns: list[dict]
    has_next: bool

    @property
    def last_id(self) -> int:
        return int(self.returns[-1]["id"]) if self.returns else 0


@dataclass
class PostingResult:
    """Per-posting answer of the rFBS status methods and tracking-number/set (`result[]` inside a 200)."""

    posting_number: str
    ok: bool
    error: str = ""


@dataclass
class ValuesPage:
    values: list[dict]
    has_next: bool


@dataclass
class Quota:
    """One of Ozon's daily product quotas (`/v4/product/info/limit`)."""

    limit: int
    usage: int
    reset_at: str = ""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.usage)


@dataclass
class ProductLimits:
    """Daily create / update quotas and the total card limit of the seller account."""

    daily_create: Quota
    daily_update: Quota
    total: Quota

    def to_json(self) -> dict:
        return {k: {"limit": q.limit, "usage": q.usage, "reset_at": q.reset_at}
                for k, q in (("daily_create", self.daily_create), ("daily_update", self.daily_update), ("total", self.total))}


def iso(dt: datetime) -> str:
    """Ozon wants RFC 3339 UTC timestamps."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class OzonClient:
    """Ozon Seller API for one Connection (one Client-Id)."""

    service = "ozon"
    capabilities = {"push": True, "push_signed": False, "sandbox": False}

    def __init__(self, connection, *, http: HttpClient | None = None, rps: float | None = None, sleep=time.sleep):
        creds = connection.credentials()  # decrypted here, never logged
        options = connection.options or {}
        self.client_id = str(creds.get("client_id") or options.get("client_id") or "")
        self._api_key = str(creds.get("api_key") or "")
        # one pooled client per host for the process (core.http.shared_client): building one per job cost ~60 ms
        self._http = http or shared_client(self.service, (connection.base_url or BASE_URL).rstrip("/"),
                                           timeout=settings.OZON_TIMEOUT)
        self._recorder = ExchangeRecorder(self.service, connection=connection, secrets=[self._api_key])
        self._rps = float(rps or ratelimit.pace(self.service, options, GLOBAL_RPS))
        self._sleep = sleep
        self.rate_waits = 0  # how often our own limiter made us wait
        self.rate_wait_seconds = 0.0
        self.calls: dict[str, int] = {}

    # products ------------------------------------------------------------------------------------
    def import_products(self, *, items: list[dict], key: str = "") -> ImportStarted:
        _check_batch(items, IMPORT_BATCH)
        body = self._call("/v3/product/import", {"items": items}, key=key, purpose="ozon.import_products")
        return ImportStarted(task_id=int(body["result"]["task_id"]))

    def get_import_info(self, *, task_id: int) -> list[ImportItem]:
        body = self._call("/v1/product/import/info", {"task_id": task_id}, purpose="ozon.import_info")
        return [ImportItem(offer_id=str(i.get("offer_id") or ""), product_id=int(i.get("product_id") or 0),
                           status=str(i.get("status") or ""), errors=[ItemError.from_json(e) for e in i.get("errors") or []])
                for i in (body.get("result") or {}).get("items") or []]

    def list_products(self, *, last_id: str = "", limit: int = LIST_LIMIT, offer_ids: list[str] | None = None) -> ProductPage:
        flt = {"visibility": "ALL", **({"offer_id": offer_ids} if offer_ids else {})}
        body = self._call("/v3/product/list", {"filter": flt, "last_id": last_id, "limit": min(limit, LIST_LIMIT)},
                          purpose="ozon.list_products")
        r = body.get("result") or {}
        # `result.total` was closed on 2026-11-23; `total_items` replaces it (ozon.md §0).
        return ProductPage(items=r.get("items") or [], last_id=str(r.get("last_id") or ""),
                           total=int(r.get("total_items") or 0))

    def get_products_info(self, *, offer_ids: list[str]) -> list[dict]:
        _check_batch(offer_ids, INFO_BATCH)
        return self._call("/v3/product/info/list", {"offer_id": offer_ids}, purpose="ozon.products_info").get("items") or []

    def get_products_attributes(self, *, offer_ids: list[str], last_id: str = "") -> tuple[list[dict], str]:
        """Cards with their attribute values, category, sizes and images (`/v4/product/info/attributes`: filter
        by offer_id, `limit` ≤ 1000, `last_id` paging). Returns (result[], next last_id or "")."""
        _check_batch(offer_ids, INFO_BATCH)
        body = self._call("/v4/product/info/attributes", {"filter": {"offer_id": offer_ids, "visibility": "ALL"},
                                                          "last_id": last_id, "limit": INFO_BATCH, "sort_dir": "ASC"},
                          purpose="ozon.products_attributes")
        items = body.get("result") or []
        return items, str(body.get("last_id") or "") if items else ""

    def get_product_description(self, *, offer_id: str) -> dict:
        """A card's name and description text (`/v1/product/info/description`: result{id, offer_id, name,
        description})."""
        return self._call("/v1/product/info/description", {"offer_id": offer_id},
                          purpose="ozon.product_description").get("result") or {}

    def get_product_limits(self) -> ProductLimits:
        """Daily quotas for creating and updating cards; exceeding them fails items with `item_limit_exceeded`."""
        body = self._call("/v4/product/info/limit", {}, purpose="ozon.limits")

        def quota(name: str) -> Quota:
            q = body.get(name) or {}
            return Quota(limit=int(q.get("limit") or 0), usage=int(q.get("usage") or 0), reset_at=str(q.get("reset_at") or ""))

        return ProductLimits(daily_create=quota("daily_create"), daily_update=quota("daily_update"), total=quota("total"))

    # stocks and prices ---------------------------------------------------------------------------
    def update_stocks(self, *, stocks: list[dict], key: str = "") -> list[ItemResult]:
        """stocks: [{offer_id, stock, warehouse_id}] — the free stock (reserved excluded)."""
        _check_batch(stocks, STOCKS_BATCH)
        self._limit(("stocks",), STOCKS_RATE, STOCKS_BURST)
        body = self._call("/v2/products/stocks", {"stocks": stocks}, key=key, purpose="ozon.update_stocks")
        return [_item_result(r) for r in body.get("result") or []]

    def import_prices(self, *, prices: list[dict], key: str = "") -> list[ItemResult]:
        """prices: [{offer_id, price, old_price, currency_code, …}]; prices are strings (ozon.md §3)."""
        _check_batch(prices, PRICES_BATCH)
        body = self._call("/v1/product/import/prices", {"prices": prices}, key=key, purpose="ozon.import_prices")
        return [_item_result(r) for r in body.get("result") or []]

    def get_prices(self, *, offer_ids: list[str], cursor: str = "") -> tuple[list[dict], str]:
        """Prices as the seller set them (`/v5/product/info/prices`: items[].price.price, old_price); Ozon's
        promotions show in marketing_actions, never in `price`. Returns (items, next cursor or "")."""
        _check_batch(offer_ids, INFO_BATCH)
        body = self._call("/v5/product/info/prices", {"cursor": cursor, "filter": {"offer_id": offer_ids,
                                                                                   "visibility": "ALL"},
                                                      "limit": INFO_BATCH}, purpose="ozon.prices")
        return body.get("items") or [], str(body.get("cursor") or "")

    def list_warehouses(self) -> list[dict]:
        """The seller's warehouses (`/v2/warehouse/list`, cursor paging; Ozon allows one call a minute: callers
        cache the answer, see integrations/ozon/reference.py)."""
        out, cursor = [], ""
        while True:
            body = self._call("/v2/warehouse/list", {"limit": WAREHOUSES_LIMIT, "cursor": cursor},
                              purpose="ozon.warehouses")
            out.extend(body.get("warehouses") or [])
            cursor = str(body.get("cursor") or "")
            if not _truthy(body.get("has_next")) or not cursor:
                return out

    # categories ----------------------------------------------------------------------------------
    def get_category_tree(self, *, language: str = "DEFAULT") -> list[dict]:
        return self._call("/v1/description-category/tree", {"language": language}, purpose="ozon.category_tree",
                          record_body=False).get("result") or []

    def get_category_attributes(self, *, description_category_id: int, type_id: int, language: str = "DEFAULT") -> list[dict]:
        body = self._call("/v1/description-category/attribute", {
            "description_category_id": description_category_id, "type_id": type_id, "language": language},
            purpose="ozon.category_attributes")
        return body.get("result") or []

    def get_attribute_values(self, *, attribute_id: int, description_category_id: int, type_id: int,
                             last_value_id: int = 0, limit: int = VALUES_LIMIT, language: str = "DEFAULT") -> ValuesPage:
        body = self._call("/v1/description-category/attribute/values", {
            "attribute_id": attribute_id, "description_category_id": description_category_id, "type_id": type_id,
            "language": language, "last_value_id": last_value_id, "limit": min(limit, VALUES_LIMIT)},
            purpose="ozon.attribute_values", record_body=False)
        return ValuesPage(values=body.get("result") or [], has_next=bool(body.get("has_next")))

    # postings ------------------------------------------------------------------------------------
    def list_fbs_postings(self, *, since: datetime | None = None, to: datetime | None = None, cursor: str = "",
                          limit: int = POSTINGS_LIMIT, statuses: list[str] | None = None,
                          warehouse_ids: list[int] | None = None, changed_since: datetime | None = None,
                          changed_to: datetime | None = None, sort_dir: str = "ASC") -> PostingPage:
        """One page of `/v4/posting/fbs/list`: by creation window (`since`/`to`) or by the date the status last
        changed (`changed_since`/`changed_to`); next page with the returned `cursor` while `has_next`."""
        flt: dict = {}
        if since is not None:
            flt.update(since=iso(since), to=iso(to))
        if changed_since is not None:
            flt["last_changed_status_date"] = {"from": iso(changed_since), "to": iso(changed_to)}
        if statuses:
            flt["statuses"] = list(statuses)
        if warehouse_ids:
            flt["warehouse_ids"] = [int(w) for w in warehouse_ids]
        body = self._call("/v4/posting/fbs/list", {
            "cursor": cursor, "filter": flt, "limit": max(1, min(limit, POSTINGS_LIMIT)), "sort_dir": sort_dir,
            "with": {"analytics_data": False, "financial_data": False}}, purpose="ozon.list_postings")
        return PostingPage(postings=body.get("postings") or [], has_next=bool(body.get("has_next")),
                           cursor=str(body.get("cursor") or ""))

    def list_unfulfilled_postings(self, *, cutoff_from: datetime, cutoff_to: datetime, cursor: str = "",
                                  limit: int = POSTINGS_LIMIT, statuses: list[str] | None = None,
                                  warehouse_ids: list[int] | None = None) -> PostingPage:
        """One page of postings still to be packed or handed over (`/v4/posting/fbs/unfulfilled/list`, by cutoff)."""
        flt: dict = {"cutoff_from": iso(cutoff_from), "cutoff_to": iso(cutoff_to)}
        if statuses:
            flt["statuses"] = list(statuses)
        if warehouse_ids:
            flt["warehouse_ids"] = [int(w) for w in warehouse_ids]
        body = self._call("/v4/posting/fbs/unfulfilled/list", {
            "cursor": cursor, "filter": flt, "limit": max(1, min(limit, POSTINGS_LIMIT)), "sort_dir": "ASC",
            "with": {"analytics_data": False, "financial_data": False}}, purpose="ozon.unfulfilled_postings")
        return PostingPage(postings=body.get("postings") or [], has_next=bool(body.get("has_next")),
                           cursor=str(body.get("cursor") or ""))

    def get_fbs_posting(self, *, posting_number: str) -> dict:
        return self._call("/v3/posting/fbs/get", {"posting_number": posting_number}, purpose="ozon.get_posting").get("result") or {}

    def ship_posting(self, *, posting_number: str, packages: list[list[dict]], key: str = "") -> list[str]:
        """Pack a posting (`/v4/posting/fbs/ship`): packages of [{product_id: <Ozon sku>, quantity}].

        Moves it to awaiting_deliver, but a 200 is not success: re-read with get_fbs_posting (substatus
        `ship_failed` → repeat; ozon.md §5). Returns the posting numbers of the packages.
        """
        body = self._call("/v4/posting/fbs/ship", {
            "packages": [{"products": products} for products in packages], "posting_number": posting_number,
            "with": {"additional_data": False}}, key=key, purpose="ozon.ship_posting")
        return [str(n) for n in body.get("result") or []]

    def resume_disputed(self, *, posting_numbers: list[str], key: str = "") -> bool:
        """Move disputed postings back to awaiting_deliver (`/v2/posting/fbs/awaiting-delivery`): the only use
        Ozon documents for it (ozon.md §0); the posting must offer `awaiting_delivery` in available_actions."""
        _check_batch(posting_numbers, POSTING_ACTION_BATCH)
        body = self._call("/v2/posting/fbs/awaiting-delivery", {"posting_number": posting_numbers}, key=key,
                          purpose="ozon.resume_disputed")
        return bool(body.get("result"))

    # rFBS with the seller's own delivery (available actions non_int_delivering / non_int_last_mile /
    # non_int_delivered, set_track_number): per-posting results inside a 200.
    def set_tracking_numbers(self, *, tracking: dict[str, str], key: str = "") -> list[PostingResult]:
        items = [{"posting_number": n, "tracking_number": t} for n, t in tracking.items()]
        _check_batch(items, POSTING_ACTION_BATCH)
        body = self._call("/v2/fbs/posting/tracking-number/set", {"tracking_numbers": items}, key=key,
                          purpose="ozon.tracking_number")
        return _posting_results(body)

    def mark_delivering(self, *, posting_numbers: list[str], key: str = "") -> list[PostingResult]:
        return self._posting_step("/v2/fbs/posting/delivering", posting_numbers, key, "ozon.delivering")

    def mark_last_mile(self, *, posting_numbers: list[str], key: str = "") -> list[PostingResult]:
        return self._posting_step("/v2/fbs/posting/last-mile", posting_numbers, key, "ozon.last_mile")

    def mark_delivered(self, *, posting_numbers: list[str], key: str = "") -> list[PostingResult]:
        return self._posting_step("/v2/fbs/posting/delivered", posting_numbers, key, "ozon.delivered")

    def _posting_step(self, path: str, posting_numbers: list[str], key: str, purpose: str) -> list[PostingResult]:
        _check_batch(posting_numbers, POSTING_ACTION_BATCH)
        return _posting_results(self._call(path, {"posting_number": posting_numbers}, key=key, purpose=purpose))

    def cancel_posting(self, *, posting_number: str, cancel_reason_id: int, cancel_reason_message: str = "",
                       key: str = "") -> bool:
        """Cancel a posting; reason 402 ("other") needs a message (ozon.md §5)."""
        body = self._call("/v2/posting/fbs/cancel", {
            "posting_number": posting_number, "cancel_reason_id": cancel_reason_id,
            "cancel_reason_message": cancel_reason_message}, key=key, purpose="ozon.cancel_posting")
        return bool(body.get("result"))

    def list_cancel_reasons(self) -> list[dict]:
        """Ozon's live cancel reasons: [{id, title, type_id: seller|buyer, is_available_for_cancellation}]."""
        return self._call("/v2/posting/fbs/cancel-reason/list", {}, purpose="ozon.cancel_reasons").get("result") or []

    # returns -------------------------------------------------------------------------------------
    def list_returns(self, *, changed_since: datetime, changed_to: datetime, last_id: int = 0,
                     limit: int = RETURNS_LIMIT) -> ReturnsPage:
        """FBS returns whose state changed in the window (`/v1/returns/list`, filter visual_status_change_moment;
        only one date filter per request), paged by `last_id` while `has_next`."""
        body = self._call("/v1/returns/list", {
            "filter": {"visual_status_change_moment": {"time_from": iso(changed_since), "time_to": iso(changed_to)},
                       "return_schema": "FBS"},
            "limit": max(1, min(limit, RETURNS_LIMIT)), "last_id": last_id}, purpose="ozon.returns")
        return ReturnsPage(returns=body.get("returns") or [], has_next=bool(body.get("has_next")))

    # the one path to the network -------------------------------------------------------------------
    def _limit(self, scope: tuple, rate: float, burst: float) -> None:
        waited = ratelimit.acquire(("ozon", self.client_id) + scope, rate, burst, sleep=self._sleep)
        if waited > 0:
            self.rate_waits += 1
            self.rate_wait_seconds += waited

    def _call(self, path: str, payload: dict, *, key: str = "", purpose: str = "", record_body: bool = True) -> dict:
        self._limit(("global",), self._rps, self._rps)
        text = json.dumps(payload, ensure_ascii=False)
        headers = {"Client-Id": self.client_id, "Api-Key": self._api_key, "Content-Type": "application/json"}
        self.calls[path] = self.calls.get(path, 0) + 1
        with self._recorder.exchange("POST", path, key=key, purpose=purpose, request_body=text,
                                     request_headers=headers) as ex:
            resp = self._http.request("POST", path, content=text.encode("utf-8"), headers=headers)
            body, level = self._classify(resp)
            ex.finish(resp, level=level)
            if not record_body:  # category trees and dictionaries are large and not worth a log row each
                ex.row.response_body = ex.row.response_body[:500]
                if ex.row.pk is not None:  # held by a routine poll (core.exchanges.held): saved as cut, if kept
                    ex.row.save(update_fields=["response_body"])
        return body

    def _classify(self, resp) -> tuple[dict, str | None]:
        """The one place Ozon's answers are read: returns (body, level) or raises."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        message = (body or {}).get("message") or resp.text[:300]
        code = (body or {}).get("code")
        if resp.status_code == 429:
            raise RetryableError(self.service, 429, rate_limited(f"{message} ({code})"),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After"), 1.0))
        if resp.status_code >= 500:
            raise RetryableError(self.service, resp.status_code, server_error(resp.status_code, message),
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code in (401, 403):
            raise TerminalError(self.service, resp.status_code, credentials_refused(gettext_noop("Client-Id/Api-Key"),
                                                                                      message))
        if resp.status_code >= 400:
            raise TerminalError(self.service, resp.status_code, f"{code}: {message}" if code is not None else message)
        if body is None:  # a 200 nobody can parse: a proxy in the way; the card import is an upsert, so retry
            raise RetryableError(self.service, "garbage", unreadable(resp.text))
        # Per-item errors: `errors[]` (stocks, prices) or `error` + `result: false` (rFBS posting steps).
        has_item_errors = any(r.get("errors") or r.get("error") or r.get("result") is False
                              for r in body.get("result") or [] if isinstance(r, dict)) \
            if isinstance(body.get("result"), list) else False
        return body, (Level.WARNING if has_item_errors else None)


def _check_batch(items: list, limit: int) -> None:
    if len(items) > limit:
        raise ValueError(f"batch of {len(items)} is over Ozon's maximum of {limit}")


def _truthy(value) -> bool:
    """Ozon's own example gives /v2/warehouse/list `has_next` as a string; accept "true" as well as true."""
    return value is True or str(value).lower() == "true"


def _posting_results(body: dict) -> list[PostingResult]:
    out = []
    for r in body.get("result") or []:
        error = r.get("error")
        text = "; ".join(str(e) for e in error) if isinstance(error, list) else str(error or "")
        out.append(PostingResult(posting_number=str(r.get("posting_number") or ""), ok=bool(r.get("result")), error=text))
    return out


def _item_result(r: dict) -> ItemResult:
    return ItemResult(offer_id=str(r.get("offer_id") or ""), product_id=int(r.get("product_id") or 0),
                      updated=bool(r.get("updated")), errors=[ItemError.from_json(e) for e in r.get("errors") or []],
                      warehouse_id=r.get("warehouse_id"))
