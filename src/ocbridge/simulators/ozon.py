"""Ozon Seller API simulator: products (async import tasks), stocks, prices, categories, FBS postings.

Shapes follow the Seller API reference as summarised in our provider notes (ozon.md). Every method is
`POST` with a JSON body and needs `Client-Id` + `Api-Key` headers. Errors are gRPC-gateway style:
`{"code": <grpc code>, "message": "...", "details": []}`.

Limits enforced (each counted in `limit_hits`, so a benchmark can prove it never ran into one):
- 50 requests/s per Client-Id over all methods (token bucket) → 429, code 8.
- `/v2/products/stocks`: ≤ 100 items, ≤ 80 requests per 60 s per Client-Id → 429; one product–warehouse
  pair at most once per 30 s → item error `TOO_MANY_REQUESTS` (item code: simulator's own, unverified).
- `/v1/product/import/prices`: ≤ 1000 items; one product at most 10 updates per hour → item error
  `PRICE_UPDATE_TOO_FREQUENT` (simulator's own, unverified).
- `/v3/product/import`: ≤ 100 items; `/v3/product/info/list`: ≤ 1000 ids; list methods `limit` ≤ 1000;
  attribute values `limit` ≤ 2000. Over → 400, code 3.

Import tasks: an item is `pending` for the first `import_pending_polls` polls of
`/v1/product/import/info`, then `imported`, `failed` (errors[] with code/field/attribute_id/message)
or `skipped` (same card as before). Required attributes come from the simulated category tree.

The simulator's clock is real time plus `advance(seconds)`, so per-item rules (30 s, 1 hour) are
testable without sleeping. Control methods (also over `/_sim/…`): `add_posting`, `set_posting_status`,
`fail_item`, `advance`, `set_import_pending_polls`, `products`, `limit_hits`, `calls`, `fail_ship`,
`set_product_limits`.

Postings are listed only by the current methods (checked 2026-12-06 against Ozon's reference, mirrored in
github xmdragon/ozon-library docs/api/official/, and its News): `/v4/posting/fbs/list` (cursor paging,
`limit` 1..100, `sort_dir`, `filter.statuses[]`, `filter.warehouse_ids[]`, `filter.last_changed_status_date`;
answer `postings[]`, `has_next`, `cursor` at the top level; a line's `price` is `{amount, currency}`) and
`/v4/posting/fbs/unfulfilled/list` (by cutoff; same paging). `/v3/posting/fbs/get` keeps a line's `price` as a
string beside `currency_code`. Warehouses: `/v2/warehouse/list` (`limit` ≤ 200 required, cursor; answer
`warehouses[]`). Methods Ozon switched off (`SWITCHED_OFF`) answer 404 with a message naming the
replacement (the exact text of Ozon's answer is unverified); each call is counted in `limit_hits()["switched_off"]`,
a deprecated field sent (`auto_action_enabled`) in `limit_hits()["deprecated_field"]`.

rFBS with the seller's own delivery (`tpl_integration_type` `non_integrated`): `/v2/fbs/posting/tracking-number/set`
(action `set_track_number`), `/v2/fbs/posting/delivering` (`non_int_delivering`), `/v2/fbs/posting/last-mile`
(`non_int_last_mile`), `/v2/fbs/posting/delivered` (`non_int_delivered`); answers are per posting
(`result[]` of {posting_number, result, error}). Which actions a status offers after each step, and the
substatus names, are the simulator's own reading (unverified). `/v2/posting/fbs/awaiting-delivery` serves only
disputed postings (`arbitration`, `client_arbitration` → `awaiting_deliver`), as §0 of ozon.md says.
Returns: `/v1/returns/list` (filter `visual_status_change_moment`, `return_schema`, `last_id` paging,
`limit` ≤ 500); control `add_return`.

Posting actions: `/v4/posting/fbs/ship` (awaiting_packaging → awaiting_deliver; the packages must hold
exactly the posting's products; `fail_ship` makes the next one end in substatus `ship_failed` behind a
200), `/v2/posting/fbs/awaiting-delivery` (rFBS postings: awaiting_deliver → delivering) and
`/v2/posting/fbs/cancel` (reason from the reason list; 402 needs a message). Each checks the posting's
`available_actions` and answers 400 otherwise. Product import honours the daily create/update quotas of
`/v4/product/info/limit` (over → item error `item_limit_exceeded`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from datetime import datetime, timezone

from .base import HttpError, Request, Response, Simulator

GRPC_INVALID = 3
GRPC_NOT_FOUND = 5
GRPC_PERMISSION = 7
GRPC_RESOURCE_EXHAUSTED = 8
GRPC_UNAUTHENTICATED = 16

IMPORT_MAX = 100
STOCKS_MAX = 100
PRICES_MAX = 1000
INFO_MAX = 1000
LIST_MAX = 1000
POSTINGS_MAX = 100
WAREHOUSES_MAX = 200
RETURNS_MAX = 500
VALUES_MAX = 2000
GLOBAL_RPS = 50
STOCKS_PER_MINUTE = 80
STOCK_PAIR_SECONDS = 30
PRICE_UPDATES_PER_HOUR = 10

UNFULFILLED = ("awaiting_registration", "acceptance_in_progress", "awaiting_approve", "awaiting_packaging",
               "awaiting_deliver", "arbitration", "client_arbitration")
POSTING_STATUSES = (
    "awaiting_registration", "acceptance_in_progress", "awaiting_approve", "awaiting_packaging",
    "awaiting_deliver", "arbitration", "client_arbitration", "delivering", "driver_pickup", "delivered",
    "cancelled", "cancelled_from_split_pending", "not_accepted", "sent_by_seller", "awaiting_verification",
)

# `/v2/posting/fbs/cancel-reason/list` as Ozon's reference example gives it (ids, titles, availability).
CANCEL_REASONS = [
    {"id": 352, "title": "Товар закончился на складе продавца", "type_id": "seller", "is_available_for_cancellation": True},
    {"id": 400, "title": "Остался только бракованный товар", "type_id": "seller", "is_available_for_cancellation": True},
    {"id": 401, "title": "Продавец отклонил арбитраж", "type_id": "seller", "is_available_for_cancellation": False},
    {"id": 402, "title": "Другое (вина продавца)", "type_id": "seller", "is_available_for_cancellation": True},
    {"id": 666, "title": "Возврат из службы доставки: нет доставки в указанный регион", "type_id": "seller",
     "is_available_for_cancellation": False},
]
OTHER_REASON = 402
# visual.status of a return: sys_name → Ozon's Russian wording (reference: /v1/returns/list filter
# visual_status_name, docs.ozon.ru/api/seller ReturnsAPI returnsList).
RETURN_DISPLAY_NAMES = {"ReceivedBySeller": "Продавец получил возврат", "ArrivedAtReturnPlace": "В пункте выдачи",
                        "MovingToSeller": "Возврат на пути к продавцу", "Utilized": "Утилизирован"}

# Methods Ozon switched off (News; ozon.md §0): path → (switched off on, replacement).
SWITCHED_OFF = {
    "/v3/posting/fbs/list": ("2026-06-01", "/v4/posting/fbs/list"),
    "/v3/posting/fbs/unfulfilled/list": ("2026-06-01", "/v4/posting/fbs/unfulfilled/list"),
    "/v1/warehouse/list": ("2026-04-07", "/v2/warehouse/list"),
}
DEFAULT_LIMITS = {"daily_create": 1500, "daily_update": 5000, "total": 20000}


def actions_for(status: str, rfbs: bool, substatus: str = "") -> list[str]:
    """`available_actions` of a posting: pack while awaiting_packaging; an rFBS posting (the seller's own delivery)
    then takes a tracking number and the delivering → last mile → delivered steps; a disputed posting may be moved
    back to awaiting_deliver. (Simulator's reading of the action list in /v3/posting/fbs/get; unverified order.)"""
    if status == "awaiting_packaging":
        return ["ship", "cancel"] + (["set_track_number"] if rfbs else [])
    if status == "awaiting_deliver":
        return ["cancel", "set_track_number", "non_int_delivering"] if rfbs else ["cancel"]
    if status == "delivering" and rfbs:
        return ["set_track_number", "non_int_delivered"] + ([] if substatus == "posting_last_mile" else ["non_int_last_mile"])
    if status in ("arbitration", "client_arbitration"):
        return ["awaiting_delivery", "cancel"]
    return []


# A small tree: two leaves with required attributes (85 brand is a dictionary attribute, 4180 name free text).
DEFAULT_TREE = [
    {"description_category_id": 17027949, "category_name": "Электроника", "disabled": False, "children": [
        {"description_category_id": 17028922, "category_name": "Смартфоны", "disabled": False, "children": [
            {"type_id": 94765, "type_name": "Смартфон", "disabled": False, "children": []},
        ]},
        {"description_category_id": 17028650, "category_name": "Чехлы", "disabled": False, "children": [
            {"type_id": 93080, "type_name": "Чехол для смартфона", "disabled": False, "children": []},
        ]},
    ]},
    {"description_category_id": 17027000, "category_name": "Архив", "disabled": True, "children": []},
]
DEFAULT_ATTRIBUTES = [
    {"id": 85, "name": "Бренд", "type": "String", "is_required": True, "is_collection": False, "dictionary_id": 28732849,
     "group_id": 0, "group_name": "", "category_dependent": False, "description": "Brand"},
    {"id": 9048, "name": "Название модели", "type": "String", "is_required": True, "is_collection": False,
     "dictionary_id": 0, "group_id": 0, "group_name": "", "category_dependent": False, "description": "Model name"},
    {"id": 10096, "name": "Цвет товара", "type": "String", "is_required": False, "is_collection": True,
     "dictionary_id": 1495, "group_id": 0, "group_name": "", "category_dependent": False, "description": "Colour"},
    {"id": 4191, "name": "Аннотация", "type": "multiline", "is_required": False, "is_collection": False,
     "dictionary_id": 0, "group_id": 0, "group_name": "", "category_dependent": False, "description": "Annotation"},
]
DEFAULT_DICTIONARIES = {
    85: [{"id": 5000000 + i, "value": name, "info": "", "picture": ""} for i, name in enumerate(
        ["Нет бренда", "Apple", "Samsung", "Xiaomi", "Acme"] + [f"Brand {n}" for n in range(2995)])],
    10096: [{"id": 61570 + i, "value": c, "info": "", "picture": ""} for i, c in enumerate(["черный", "белый", "красный"])],
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _err(status: int, code: int, message: str) -> HttpError:
    return HttpError(Response.json({"code": code, "message": message, "details": []}, status))


def _card_hash(item: dict) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class OzonSimulator(Simulator):
    """Loopback Ozon Seller API for one or more sellers (Client-Id → Api-Key)."""

    name = "ozon"
    routes = [
        ("POST", r"/v3/product/import", "product_import"),
        ("POST", r"/v1/product/import/info", "product_import_info"),
        ("POST", r"/v3/product/list", "product_list"),
        ("POST", r"/v3/product/info/list", "product_info_list"),
        ("POST", r"/v4/product/info/limit", "product_info_limit"),
        ("POST", r"/v4/product/info/attributes", "product_info_attributes"),
        ("POST", r"/v1/product/info/description", "product_info_description"),
        ("POST", r"/v2/products/stocks", "products_stocks"),
        ("POST", r"/v1/product/import/prices", "import_prices"),
        ("POST", r"/v5/product/info/prices", "info_prices"),
        ("POST", r"/v2/warehouse/list", "warehouse_list"),
        ("POST", r"/v1/description-category/tree", "category_tree"),
        ("POST", r"/v1/description-category/attribute", "category_attribute"),
        ("POST", r"/v1/description-category/attribute/values", "attribute_values"),
        ("POST", r"/v4/posting/fbs/list", "fbs_list"),
        ("POST", r"/v4/posting/fbs/unfulfilled/list", "fbs_unfulfilled_list"),
        ("POST", r"/v3/posting/fbs/get", "fbs_get"),
        ("POST", r"/v4/posting/fbs/ship", "fbs_ship"),
        ("POST", r"/v2/posting/fbs/awaiting-delivery", "fbs_awaiting_delivery"),
        ("POST", r"/v2/posting/fbs/cancel", "fbs_cancel"),
        ("POST", r"/v2/posting/fbs/cancel-reason/list", "fbs_cancel_reasons"),
        ("POST", r"/v2/fbs/posting/tracking-number/set", "rfbs_tracking_number"),
        ("POST", r"/v2/fbs/posting/delivering", "rfbs_delivering"),
        ("POST", r"/v2/fbs/posting/last-mile", "rfbs_last_mile"),
        ("POST", r"/v2/fbs/posting/delivered", "rfbs_delivered"),
        ("POST", r"/v1/returns/list", "returns_list"),
    ] + [("POST", path, "switched_off") for path in SWITCHED_OFF]
    control_methods = Simulator.control_methods + (
        "add_posting", "set_posting_status", "fail_item", "advance", "set_import_pending_polls", "products",
        "limit_hits", "calls", "postings", "fail_ship", "set_product_limits", "add_return", "set_price_at_ozon",
        "add_card", "set_stock_at_ozon",
    )

    def __init__(self, *, client_id: str = "123456", api_key: str = "00000000-0000-4000-8000-00000000a11e",
                 warehouses: list[dict] | None = None, global_rps: float = GLOBAL_RPS, **kwargs):
        super().__init__(**kwargs)
        self.accounts = {str(client_id): api_key}
        self.global_rps = global_rps
        self.warehouses = warehouses or [{"warehouse_id": 1020000000001, "name": "Склад FBS", "is_rfbs": False,
                                          "status": "created"}]
        self._state_lock = threading.RLock()
        self.reset_state()

    # state ---------------------------------------------------------------------------------------
    def reset_state(self) -> None:
        with self._state_lock:
            self.offset = 0.0
            self.tree = json.loads(json.dumps(DEFAULT_TREE))
            self.attributes = {(17028922, 94765): DEFAULT_ATTRIBUTES, (17028650, 93080): DEFAULT_ATTRIBUTES[:2]}
            self.dictionaries = DEFAULT_DICTIONARIES
            self.catalogue: dict[str, dict] = {}  # offer_id → card
            self.tasks: dict[int, dict] = {}
            self.posting_rows: dict[str, dict] = {}
            self.returns: list[dict] = []
            self.cancel_reasons = json.loads(json.dumps(CANCEL_REASONS))
            self.item_failures: dict[str, dict] = {}
            self.import_pending_polls = 1
            self.stock_calls: deque = deque()
            self.pair_updates: dict[tuple, float] = {}
            self.price_updates: dict[str, deque] = defaultdict(deque)
            self.hits: dict[str, int] = defaultdict(int)
            self.call_count: dict[str, int] = defaultdict(int)
            self.usage = {"create": 0, "update": 0}
            self.limits = dict(DEFAULT_LIMITS)
            self.ship_failures: set[str] = set()
            self._ids = itertools.count(1_000_001)
            self._task_ids = itertools.count(172_549_793)
        # reset() clears the base limits before calling us: put Ozon's global limit back.
        if self.global_rps:
            self.set_rate_limit(self.global_rps, burst=self.global_rps)

    def now(self) -> float:
        return time.time() + self.offset

    # control -------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Move the simulator's clock forward (per-item limits, task ages)."""
        with self._state_lock:
            self.offset += float(seconds)
            return self.offset

    def set_import_pending_polls(self, polls: int) -> None:
        self.import_pending_polls = int(polls)

    def fail_item(self, offer_id: str, message: str = "Internal check failed", code: str = "validation_error",
                  field: str = "", stage: str = "import") -> None:
        """The next import (stage `import`), stock (`stock`) or price (`price`) of this offer fails per item."""
        with self._state_lock:
            self.item_failures[f"{stage}:{offer_id}"] = {"code": code, "field": field, "message": message}

    def fail_ship(self, posting_number: str) -> None:
        """The next ship of this posting answers 200 but ends in substatus `ship_failed` (ozon.md §5)."""
        with self._state_lock:
            self.ship_failures.add(posting_number)

    def set_product_limits(self, *, daily_create: int | None = None, daily_update: int | None = None,
                           total: int | None = None, create_usage: int | None = None,
                           update_usage: int | None = None) -> None:
        with self._state_lock:
            for k, v in (("daily_create", daily_create), ("daily_update", daily_update), ("total", total)):
                if v is not None:
                    self.limits[k] = int(v)
            if create_usage is not None:
                self.usage["create"] = int(create_usage)
            if update_usage is not None:
                self.usage["update"] = int(update_usage)

    def products(self) -> dict:
        with self._state_lock:
            return json.loads(json.dumps(self.catalogue))

    def limit_hits(self) -> dict:
        """How often each limit was hit: {"global": n, "stocks_rpm": n, "stock_pair": n, "price_hour": n, …}."""
        with self._state_lock:
            return dict(self.hits)

    def calls(self) -> dict:
        """Requests answered per path (faulted ones excluded)."""
        with self._state_lock:
            return dict(self.call_count)

    def postings(self) -> list[dict]:
        with self._state_lock:
            return [self._public(p) for p in self.posting_rows.values()]

    def add_posting(self, products: list[dict], *, posting_number: str | None = None, status: str = "awaiting_packaging",
                    in_process_at: str | None = None, customer: dict | None = None, warehouse_id: int | None = None,
                    currency_code: str = "RUB", rfbs: bool = False) -> dict:
        """A new FBS posting (rFBS: the seller delivers, so it may be handed to delivery by API). products: [{offer_id, quantity, price, name?}] (unknown offers allowed)."""
        if status not in POSTING_STATUSES:
            raise ValueError(f"unknown posting status {status!r}")
        with self._state_lock:
            n = next(self._ids)
            number = posting_number or f"{n % 100000000:08d}-0001-1"
            when = in_process_at or _iso(self.now())
            lines = []
            for i, p in enumerate(products):
                card = self.catalogue.get(p["offer_id"])
                lines.append({"sku": card["sku"] if card else 900000000 + n * 100 + i,  # unknown offer: its own sku
                              "name": p.get("name") or (card or {}).get("name", "Товар"),
                              "offer_id": p["offer_id"], "price": f"{float(p.get('price', 100)):.6f}",
                              "quantity": int(p.get("quantity", 1)), "mandatory_mark": [], "currency_code": currency_code})
            wh = warehouse_id or self.warehouses[0]["warehouse_id"]
            posting = {
                "posting_number": number, "order_id": n, "order_number": number.rsplit("-", 1)[0],
                "status": status, "substatus": "posting_created",
                "tpl_integration_type": "non_integrated" if rfbs else "ozon",
                "delivery_method": {"id": 21321684811000, "name": "Ozon Логистика самовывоз", "warehouse_id": wh,
                                    "warehouse": self._warehouse_name(wh), "tpl_provider_id": 24, "tpl_provider": "Ozon Логистика"},
                "tracking_number": "", "in_process_at": when, "shipment_date": _iso(_parse_iso(when) + 86400),
                "delivering_date": None, "cancellation": self._no_cancellation(), "customer": customer, "addressee": None,
                "products": lines, "barcodes": None, "analytics_data": None, "financial_data": None,
                "is_express": False, "requirements": {"products_requiring_gtd": [], "products_requiring_country": []},
                "available_actions": actions_for(status, rfbs), "_rfbs": rfbs,
                "_changed": self.now(),
            }
            self.posting_rows[number] = posting
            return self._public(posting)

    def set_posting_status(self, posting_number: str, status: str, cancel_reason: str = "Отменено покупателем",
                           cancel_reason_id: int = 0) -> dict:
        """Ozon moves a posting (the customer cancels, the carrier delivers, a dispute opens)."""
        if status not in POSTING_STATUSES:
            raise ValueError(f"unknown posting status {status!r}")
        with self._state_lock:
            p = self.posting_rows[posting_number]
            self._move(p, status, p["substatus"])
            if status.startswith("cancelled"):
                p["cancellation"] = {"cancel_reason_id": cancel_reason_id or 501,  # buyer reason id: unverified
                                     "cancel_reason": cancel_reason,
                                     "cancellation_type": "client", "cancelled_after_ship": False,
                                     "affect_cancellation_rating": False, "cancellation_initiator": "Клиент"}
            return self._public(p)

    def set_price_at_ozon(self, offer_id: str, price: str | None = None, *, promotion_percent: int = 0) -> None:
        """The seller changes a price in Ozon's cabinet, and/or Ozon runs a promotion on the card (which changes
        what the buyer pays, shown in marketing_actions, never the seller's `price`)."""
        with self._state_lock:
            card = self.catalogue[offer_id]
            if price is not None:
                card["price"] = str(price)
            card["promotion_percent"] = int(promotion_percent)

    def set_stock_at_ozon(self, offer_id: str, warehouse_id: int, present: int) -> None:
        """The seller changes a card's stock in Ozon's cabinet (or Ozon's own FBS count moves it)."""
        with self._state_lock:
            self.catalogue[offer_id]["stocks"][str(warehouse_id)] = int(present)

    def add_card(self, offer_id: str, *, name: str, price: str, description: str = "", images: list[str] | None = None,
                 attributes: list[dict] | None = None, description_category_id: int = 17028922, type_id: int = 94765,
                 stocks: dict | None = None, weight: int = 500, depth: int = 100, width: int = 100,
                 height: int = 100) -> dict:
        """A card the seller made in Ozon's cabinet (not through our import): it exists only on Ozon.
        `attributes` as `/v4/product/info/attributes` gives them ({id, complex_id, values[{dictionary_value_id,
        value}]}); sizes in g and mm; `stocks` {warehouse_id: present}."""
        with self._state_lock:
            pid = next(self._ids)
            card = self.catalogue[offer_id] = {
                "product_id": pid, "sku": 2_000_000_000 + pid, "offer_id": offer_id, "archived": False,
                "stocks": {str(k): int(v) for k, v in (stocks or {}).items()}, "name": name, "price": str(price),
                "old_price": "0", "hash": "", "status": "price_sent", "images": list(images or []),
                "attributes": list(attributes or []), "description_category_id": description_category_id,
                "type_id": type_id, "description": description,
                "sizes": {"weight": weight, "depth": depth, "width": width, "height": height}}
            return json.loads(json.dumps(card))

    def add_return(self, posting_number: str, *, offer_id: str | None = None, quantity: int = 1,
                   status: str = "ReceivedBySeller", reason: str = "Не подошёл размер") -> dict:
        """A customer return of (one line of) a posting, as `/v1/returns/list` lists it. `status` is a
        visual.status.sys_name from Ozon's list; display_name is Ozon's Russian wording where the reference gives
        it (RETURN_DISPLAY_NAMES), else the sys_name."""
        with self._state_lock:
            p = self.posting_rows[posting_number]
            line = next(ln for ln in p["products"] if offer_id in (None, ln["offer_id"]))
            now = _iso(self.now())
            row = {"id": str(len(self.returns) + 1_000_015_552), "company_id": "3058", "return_reason_name": reason,
                   "type": "FullReturn", "schema": "Fbs", "order_id": str(p["order_id"]),
                   "order_number": p["order_number"], "posting_number": posting_number, "source_id": "90426223",
                   "product": {"sku": str(line["sku"]), "offer_id": line["offer_id"], "name": line["name"],
                               "price": {"currency_code": line["currency_code"], "price": line["price"]},
                               "quantity": int(quantity)},
                   "logistic": {"return_date": now, "final_moment": now, "barcode": f"ii{len(self.returns) + 5275210303}"},
                   "visual": {"status": {"id": 7, "display_name": RETURN_DISPLAY_NAMES.get(status, status),
                                         "sys_name": status}, "change_moment": now},
                   "additional_info": {"is_opened": False, "is_super_econom": False}, "_changed": self.now()}
            self.returns.append(row)
            return self._public(row)

    def _move(self, p: dict, status: str, substatus: str) -> None:
        p["status"], p["substatus"], p["_changed"] = status, substatus, self.now()
        p["available_actions"] = actions_for(status, p.get("_rfbs", False), substatus)

    @staticmethod
    def _no_cancellation() -> dict:
        return {"cancel_reason_id": 0, "cancel_reason": "", "cancellation_type": "", "cancelled_after_ship": False,
                "affect_cancellation_rating": False, "cancellation_initiator": ""}

    def _warehouse_name(self, wh: int) -> str:
        return next((w["name"] for w in self.warehouses if w["warehouse_id"] == wh), "")

    @staticmethod
    def _public(posting: dict) -> dict:
        return {k: v for k, v in posting.items() if not k.startswith("_")}

    def state(self) -> dict:
        with self._state_lock:
            return {"catalogue": len(self.catalogue), "tasks": len(self.tasks), "postings": len(self.posting_rows),
                    "limit_hits": dict(self.hits), "calls": dict(self.call_count)}

    # framework hooks -----------------------------------------------------------------------------
    def account_of(self, req: Request) -> str | None:
        return req.header("client-id")

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        with self._state_lock:
            self.hits["global"] += 1
        return Response.json({"code": GRPC_RESOURCE_EXHAUSTED, "message": "You have reached request rate limit per second",
                              "details": []}, 429, {"Retry-After": str(retry_after)})

    def server_error(self, req: Request, status: int) -> Response:
        return Response.json({"code": 13, "message": "Internal error", "details": []}, status)

    def not_found(self, req: Request) -> Response:
        return Response.json({"code": GRPC_NOT_FOUND, "message": "Not Found", "details": []}, 404)

    def _body(self, req: Request) -> dict:
        """Authenticate and parse; count the call."""
        client_id, api_key = req.header("client-id"), req.header("api-key")
        if not client_id or not api_key:
            raise _err(401, GRPC_UNAUTHENTICATED, "Client-Id and Api-Key headers are required")
        if self.accounts.get(client_id) != api_key:
            # Real answer for a wrong key: 403 code 7 (unverified exact message).
            raise _err(403, GRPC_PERMISSION, "Invalid Api-Key, please contact support")
        try:
            body = req.json() or {}
        except ValueError:
            raise _err(400, GRPC_INVALID, "invalid JSON body") from None
        if not isinstance(body, dict):
            raise _err(400, GRPC_INVALID, "body must be a JSON object")
        with self._state_lock:
            self.call_count[req.path] += 1
        return body

    @staticmethod
    def _max(items, limit: int, name: str) -> list:
        if not isinstance(items, list):
            raise _err(400, GRPC_INVALID, f"{name}: value must be a list")
        if len(items) > limit:
            raise _err(400, GRPC_INVALID, f"{name}: value length must be at most {limit}")
        return items

    # products ------------------------------------------------------------------------------------
    def _required(self, cat: int, type_id: int) -> list[dict] | None:
        return self.attributes.get((cat, type_id))

    def _check_item(self, item: dict) -> list[dict]:
        errors = []

        def bad(code, field, message, attribute_id=0):
            errors.append({"code": code, "field": field, "attribute_id": attribute_id, "state": "",
                           "level": "error", "description": message, "optional_description_elements": {},
                           "attribute_name": "", "message": message})

        for f in ("offer_id", "name", "price", "currency_code", "vat"):
            if not str(item.get(f) or "").strip():
                bad("required_field_missing", f, f"{f} is required")
        if item.get("currency_code") and item["currency_code"] not in ("RUB", "CNY", "USD", "EUR", "KZT", "BYN"):
            bad("currency_is_not_valid", "currency_code", "currency_code must match the seller's currency")
        for f in ("weight", "depth", "width", "height"):
            try:
                if float(item.get(f) or 0) <= 0:
                    bad("value_must_be_positive", f, f"{f} must be greater than 0")
            except (TypeError, ValueError):
                bad("value_must_be_positive", f, f"{f} must be a number")
        if not item.get("images") and not item.get("primary_image"):
            bad("images_required", "images", "at least one image is required")
        attrs = self._required(item.get("description_category_id"), item.get("type_id"))
        if attrs is None:
            bad("category_not_found", "description_category_id", "description_category_id/type_id pair not found")
        else:
            given = {a.get("id") or a.get("attribute_id"): a for a in item.get("attributes") or []}
            for a in attrs:
                values = (given.get(a["id"]) or {}).get("values") or []
                if a["is_required"] and not any(str(v.get("value") or v.get("dictionary_value_id") or "") for v in values):
                    bad("required_attribute_missing", "attribute", f"required attribute {a['id']} ({a['name']}) is missing",
                        a["id"])
                if a["dictionary_id"] and values:
                    known = {d["id"] for d in self.dictionaries.get(a["id"], [])}
                    for v in values:
                        if known and v.get("dictionary_value_id") not in known:
                            bad("dictionary_value_not_found", "attribute",
                                f"attribute {a['id']}: dictionary_value_id {v.get('dictionary_value_id')} not found", a["id"])
        return errors

    def product_import(self, req: Request) -> Response:
        body = self._body(req)
        items = self._max(body.get("items"), IMPORT_MAX, "items")
        if not items:
            raise _err(400, GRPC_INVALID, "items: value length must be at least 1")
        with self._state_lock:
            task_id = next(self._task_ids)
            self.tasks[task_id] = {"items": [dict(item) for item in items], "polls": 0, "result": None}
        return Response.json({"result": {"task_id": task_id}})

    def _resolve(self, task: dict) -> list[dict]:
        out = []
        for item in task["items"]:
            offer = str(item.get("offer_id") or "")
            errors = self._check_item(item)
            failure = self.item_failures.pop(f"import:{offer}", None)
            if failure:
                errors.append({**failure, "attribute_id": 0, "level": "error", "state": "", "description": failure["message"]})
            card = self.catalogue.get(offer)
            if errors:
                out.append({"offer_id": offer, "product_id": card["product_id"] if card else 0, "status": "failed",
                            "errors": errors})
                continue
            digest = _card_hash(item)
            over = (card is None and (self.usage["create"] >= self.limits["daily_create"]
                                      or len(self.catalogue) >= self.limits["total"])) \
                or (card is not None and card["hash"] != digest and self.usage["update"] >= self.limits["daily_update"])
            if over:
                self.hits["item_limit"] += 1
                out.append({"offer_id": offer, "product_id": card["product_id"] if card else 0, "status": "failed",
                            "errors": [{"code": "item_limit_exceeded", "field": "", "attribute_id": 0, "level": "error",
                                        "state": "", "message": "daily limit of product creations/updates exceeded",
                                        "description": "daily limit exceeded"}]})
                continue
            if card and card["hash"] == digest:
                out.append({"offer_id": offer, "product_id": card["product_id"], "status": "skipped", "errors": []})
                continue
            if card is None:
                pid = next(self._ids)
                card = self.catalogue[offer] = {"product_id": pid, "sku": 2_000_000_000 + pid, "offer_id": offer,
                                                "stocks": {}, "archived": False}
                self.usage["create"] += 1
            else:
                self.usage["update"] += 1
            card.update(name=item["name"], price=str(item["price"]), old_price=str(item.get("old_price") or "0"),
                        hash=digest, status="price_sent", images=list(item.get("images") or []),
                        attributes=item.get("attributes") or [], description_category_id=item["description_category_id"],
                        type_id=item["type_id"])
            out.append({"offer_id": offer, "product_id": card["product_id"], "status": "imported", "errors": []})
        return out

    def product_import_info(self, req: Request) -> Response:
        body = self._body(req)
        try:
            task_id = int(body.get("task_id"))
        except (TypeError, ValueError):
            raise _err(400, GRPC_INVALID, "task_id: value must be an integer") from None
        with self._state_lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise _err(404, GRPC_NOT_FOUND, "task not found")
            task["polls"] += 1
            if task["result"] is None and task["polls"] > self.import_pending_polls:
                task["result"] = self._resolve(task)
            items = task["result"] or [{"offer_id": i.get("offer_id"), "product_id": 0, "status": "pending", "errors": []}
                                       for i in task["items"]]
        return Response.json({"result": {"items": items, "total": len(items)}})

    def product_list(self, req: Request) -> Response:
        body = self._body(req)
        limit = int(body.get("limit") or 100)
        if limit > LIST_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be at most {LIST_MAX}")
        flt = body.get("filter") or {}
        offers = set(flt.get("offer_id") or [])
        with self._state_lock:
            cards = sorted(self.catalogue.values(), key=lambda c: c["product_id"])
        if offers:
            cards = [c for c in cards if c["offer_id"] in offers]
        after = int(body.get("last_id") or 0)
        page = [c for c in cards if c["product_id"] > after][:limit]
        more = len([c for c in cards if c["product_id"] > after]) > limit
        items = [{"product_id": c["product_id"], "offer_id": c["offer_id"], "archived": c["archived"],
                  "has_fbo_stocks": False, "has_fbs_stocks": any(c["stocks"].values()), "is_discounted": False,
                  "quants": []} for c in page]
        return Response.json({"result": {"items": items, "total_items": len(cards),  # `total` closed 2026-11-23
                                         "last_id": str(page[-1]["product_id"]) if more else ""}})

    def product_info_list(self, req: Request) -> Response:
        body = self._body(req)
        given = [k for k in ("offer_id", "product_id", "sku") if body.get(k)]
        if len(given) != 1:
            raise _err(400, GRPC_INVALID, "use exactly one of offer_id, product_id, sku")
        ids = self._max(body[given[0]], INFO_MAX, given[0])
        with self._state_lock:
            cards = list(self.catalogue.values())
        field = {"product_id": "product_id", "offer_id": "offer_id", "sku": "sku"}[given[0]]
        wanted = {str(i) for i in ids}
        items = [{"id": c["product_id"], "offer_id": c["offer_id"], "sku": c["sku"], "name": c.get("name", ""),
                  "price": c.get("price", "0"), "old_price": c.get("old_price", "0"), "images": c.get("images", []),
                  "statuses": {"status": c.get("status", ""), "is_created": True},
                  "stocks": {"stocks": [{"present": v, "reserved": 0, "source": "fbs", "warehouse_ids": [int(k)]}
                                        for k, v in c["stocks"].items()]}}
                 for c in cards if str(c[field]) in wanted]
        return Response.json({"items": items})

    def product_info_attributes(self, req: Request) -> Response:
        """`/v4/product/info/attributes` (reference example, mirrored in xmdragon/ozon-library docs/api/official/
        post-v4-product-info-attributes-*.md): result[] with attributes, category, sizes (g, mm), images,
        primary_image; `last_id` paging. Cards imported through us keep the attributes we sent."""
        body = self._body(req)
        flt = body.get("filter") or {}
        limit = int(body.get("limit") or 100)
        if not 1 <= limit <= INFO_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be in 1..{INFO_MAX}")
        offers = {str(o) for o in self._max(flt.get("offer_id") or [], INFO_MAX, "offer_id")}
        with self._state_lock:
            cards = sorted((c for c in self.catalogue.values() if not offers or c["offer_id"] in offers),
                           key=lambda c: c["product_id"])
        after = int(body.get("last_id") or 0)
        rest = [c for c in cards if c["product_id"] > after]
        page = rest[:limit]
        result = []
        for c in page:
            sizes = c.get("sizes") or {}
            images = list(c.get("images") or [])
            result.append({
                "id": c["product_id"], "offer_id": c["offer_id"], "sku": c["sku"], "name": c.get("name", ""),
                "barcode": "", "barcodes": [], "description_category_id": c.get("description_category_id", 0),
                "type_id": c.get("type_id", 0), "attributes": c.get("attributes") or [], "complex_attributes": [],
                "attributes_with_defaults": [], "images": images, "primary_image": images[0] if images else "",
                "weight": sizes.get("weight", 0), "weight_unit": "g", "depth": sizes.get("depth", 0),
                "width": sizes.get("width", 0), "height": sizes.get("height", 0), "dimension_unit": "mm",
                "pdf_list": [], "model_info": {"model_id": c["product_id"], "count": 1}})
        return Response.json({"result": result, "total": str(len(cards)),
                              "last_id": str(page[-1]["product_id"]) if len(rest) > limit else ""})

    def product_info_description(self, req: Request) -> Response:
        """`/v1/product/info/description` (same mirror, post-v1-product-info-description-*.md): result{id,
        offer_id, name, description}; an unknown offer answers 404 (code 5; the text is the simulator's own)."""
        body = self._body(req)
        offer = str(body.get("offer_id") or "")
        with self._state_lock:
            card = self.catalogue.get(offer)
            if card is None:
                raise _err(404, GRPC_NOT_FOUND, "product not found")
            return Response.json({"result": {"id": card["product_id"], "offer_id": offer, "name": card.get("name", ""),
                                             "description": card.get("description", "")}})

    def product_info_limit(self, req: Request) -> Response:
        self._body(req)
        reset = _iso(self.now() + 86400)
        with self._state_lock:
            return Response.json({
                "daily_create": {"limit": self.limits["daily_create"], "usage": self.usage["create"], "reset_at": reset},
                "daily_update": {"limit": self.limits["daily_update"], "usage": self.usage["update"], "reset_at": reset},
                "total": {"limit": self.limits["total"], "usage": len(self.catalogue)}})

    # stocks and prices ---------------------------------------------------------------------------
    def products_stocks(self, req: Request) -> Response:
        body = self._body(req)
        items = self._max(body.get("stocks"), STOCKS_MAX, "stocks")
        now = self.now()
        with self._state_lock:
            window = self.stock_calls
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= STOCKS_PER_MINUTE:
                self.hits["stocks_rpm"] += 1
                retry = max(1, int(window[0] + 60 - now + 0.999))
                raise HttpError(Response.json({"code": GRPC_RESOURCE_EXHAUSTED, "message": "Too many requests",
                                               "details": []}, 429, {"Retry-After": str(retry)}))
            window.append(now)
            wh_ids = {w["warehouse_id"] for w in self.warehouses}
            result = []
            for it in items:
                offer = str(it.get("offer_id") or "")
                card = self.catalogue.get(offer) if offer else next(
                    (c for c in self.catalogue.values() if c["product_id"] == it.get("product_id")), None)
                wh = it.get("warehouse_id")
                errors = []
                if card is None:
                    errors.append({"code": "NOT_FOUND", "message": "Product not found"})
                elif wh not in wh_ids:
                    errors.append({"code": "WAREHOUSE_NOT_FOUND", "message": "Warehouse not found"})
                elif (offer, wh) in self.pair_updates and now - self.pair_updates[(offer, wh)] < STOCK_PAIR_SECONDS:
                    self.hits["stock_pair"] += 1
                    errors.append({"code": "TOO_MANY_REQUESTS", "message": "stock of this item was updated less than 30 s ago"})
                failure = self.item_failures.pop(f"stock:{offer}", None)
                if failure and not errors:
                    errors.append({"code": failure["code"], "message": failure["message"]})
                if not errors:
                    card["stocks"][str(wh)] = int(it.get("stock") or 0)
                    self.pair_updates[(offer, wh)] = now
                result.append({"warehouse_id": wh, "product_id": card["product_id"] if card else 0, "offer_id": offer,
                               "updated": not errors, "errors": errors})
        return Response.json({"result": result})

    def import_prices(self, req: Request) -> Response:
        body = self._body(req)
        items = self._max(body.get("prices"), PRICES_MAX, "prices")
        now = self.now()
        result = []
        with self._state_lock:
            self.hits["deprecated_field"] += sum(1 for it in items if "auto_action_enabled" in it)
            for it in items:
                offer = str(it.get("offer_id") or "")
                card = self.catalogue.get(offer)
                errors = []
                history = self.price_updates[offer]
                while history and history[0] <= now - 3600:
                    history.popleft()
                if card is None:
                    errors.append({"code": "NOT_FOUND", "message": "Product not found"})
                elif not isinstance(it.get("price"), str):
                    errors.append({"code": "INVALID_PRICE", "message": "price must be a string"})
                elif len(history) >= PRICE_UPDATES_PER_HOUR:
                    self.hits["price_hour"] += 1
                    errors.append({"code": "PRICE_UPDATE_TOO_FREQUENT", "message": "price of this item changed 10 times this hour"})
                failure = self.item_failures.pop(f"price:{offer}", None)
                if failure and not errors:
                    errors.append({"code": failure["code"], "message": failure["message"]})
                if not errors:
                    card["price"] = it["price"]
                    card["old_price"] = it.get("old_price") or "0"
                    history.append(now)
                result.append({"product_id": card["product_id"] if card else 0, "offer_id": offer,
                               "updated": not errors, "errors": errors})
        return Response.json({"result": result})

    def info_prices(self, req: Request) -> Response:
        """`/v5/product/info/prices`: cursor paging, limit 1..1000; price numbers as in the reference's example."""
        body = self._body(req)
        limit = body.get("limit")
        if not isinstance(limit, int) or not 0 < limit <= INFO_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be between 1 and {INFO_MAX}")
        offers = set((body.get("filter") or {}).get("offer_id") or [])
        with self._state_lock:
            cards = sorted((c for c in self.catalogue.values() if not offers or c["offer_id"] in offers),
                           key=lambda c: c["product_id"])
        after = int(base64.b64decode(body["cursor"]) or 0) if body.get("cursor") else 0
        rest = [c for c in cards if c["product_id"] > after]
        page, more = rest[:limit], len(rest) > limit
        items = [{"product_id": c["product_id"], "offer_id": c["offer_id"],
                  "price": {"price": float(c.get("price") or 0), "old_price": float(c.get("old_price") or 0),
                            "min_price": 0, "currency_code": "RUB", "vat": 0, "auto_action_enabled": False},
                  "marketing_actions": {"ozon_actions_exist": bool(c.get("promotion_percent")), "actions": [
                      {"title": "Скидка", "value": c["promotion_percent"]}] if c.get("promotion_percent") else []}}
                 for c in page]
        return Response.json({"items": items, "total": len(cards),
                              "cursor": base64.b64encode(str(page[-1]["product_id"]).encode()).decode() if more else ""})

    def warehouse_list(self, req: Request) -> Response:
        """`/v2/warehouse/list`: `limit` (≤ 200) required, cursor paging, answer `warehouses[]`."""
        body = self._body(req)
        limit = body.get("limit")
        if not isinstance(limit, int) or not 0 < limit <= WAREHOUSES_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be between 1 and {WAREHOUSES_MAX}")
        start = int(base64.b64decode(body["cursor"]) or 0) if body.get("cursor") else 0
        page = self.warehouses[start:start + limit]
        more = start + limit < len(self.warehouses)
        return Response.json({"warehouses": page, "has_next": more,
                              "cursor": base64.b64encode(str(start + limit).encode()).decode() if more else ""})

    # categories ----------------------------------------------------------------------------------
    def category_tree(self, req: Request) -> Response:
        self._body(req)
        return Response.json({"result": self.tree})

    def category_attribute(self, req: Request) -> Response:
        body = self._body(req)
        attrs = self._required(body.get("description_category_id"), body.get("type_id"))
        if attrs is None:
            raise _err(400, GRPC_INVALID, "description_category_id/type_id pair not found")
        return Response.json({"result": attrs})

    def attribute_values(self, req: Request) -> Response:
        body = self._body(req)
        limit = int(body.get("limit") or 0)
        if not 0 < limit <= VALUES_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be between 1 and {VALUES_MAX}")
        values = self.dictionaries.get(body.get("attribute_id"), [])
        after = int(body.get("last_value_id") or 0)
        rest = [v for v in values if v["id"] > after]
        return Response.json({"result": rest[:limit], "has_next": len(rest) > limit})

    # postings ------------------------------------------------------------------------------------
    def fbs_list(self, req: Request) -> Response:
        """`/v4/posting/fbs/list`: by `since`/`to` (in_process_at) and/or `last_changed_status_date`."""
        body = self._body(req)
        flt = body.get("filter") or {}
        changed = flt.get("last_changed_status_date") or {}
        if not (flt.get("since") and flt.get("to")) and not (changed.get("from") and changed.get("to")):
            raise _err(400, GRPC_INVALID, "filter: since and to, or last_changed_status_date, are required")
        windows = []
        if flt.get("since"):
            windows.append(("in_process_at", _parse_iso(flt["since"]), _parse_iso(flt["to"])))
        if changed:
            windows.append(("_changed", _parse_iso(changed["from"]), _parse_iso(changed["to"])))
        if any(to - since > 366 * 86400 for _, since, to in windows):
            raise _err(400, GRPC_INVALID, "period must be at most one year")

        def stamp(p, field):
            return p[field] if field == "_changed" else _parse_iso(p[field])

        with self._state_lock:
            rows = [p for p in self.posting_rows.values()
                    if all(since <= stamp(p, f) <= to for f, since, to in windows)]
        return self._page(body, rows, lambda p: [stamp(p, windows[0][0]), p["posting_number"]])

    def fbs_unfulfilled_list(self, req: Request) -> Response:
        """`/v4/posting/fbs/unfulfilled/list`: postings still to pack or hand over, by cutoff (shipment_date)
        or delivering date — not both."""
        body = self._body(req)
        flt = body.get("filter") or {}
        cutoff = flt.get("cutoff_from") or flt.get("cutoff_to")
        delivering = flt.get("delivering_date_from") or flt.get("delivering_date_to")
        if cutoff and delivering:
            raise _err(400, GRPC_INVALID, "use either the cutoff or the delivering_date filter, not both")
        if not cutoff and not delivering:
            raise _err(400, GRPC_INVALID, "filter: cutoff_from/cutoff_to or delivering_date_from/to are required")
        lo, hi = (flt.get("cutoff_from"), flt.get("cutoff_to")) if cutoff else \
            (flt.get("delivering_date_from"), flt.get("delivering_date_to"))
        field = "shipment_date" if cutoff else "delivering_date"
        with self._state_lock:
            rows = [p for p in self.posting_rows.values() if p["status"] in UNFULFILLED and p.get(field)
                    and _parse_iso(lo) <= _parse_iso(p[field]) <= _parse_iso(hi)]
        return self._page(body, rows, lambda p: [_parse_iso(p[field]), p["posting_number"]], count=True)

    def _page(self, body: dict, rows: list[dict], key, *, count: bool = False) -> Response:
        """Filter by statuses/warehouses, sort, and cut one cursor page (cursor: opaque base64 of the last key)."""
        flt = body.get("filter") or {}
        limit = body.get("limit")
        if not isinstance(limit, int) or not 0 < limit <= POSTINGS_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be between 1 and {POSTINGS_MAX}")
        if "offset" in body or "dir" in body:
            raise _err(400, GRPC_INVALID, "unknown field: offset/dir (use cursor and sort_dir)")
        statuses, warehouses = set(flt.get("statuses") or []), {int(w) for w in flt.get("warehouse_ids") or []}
        rows = [p for p in rows if (not statuses or p["status"] in statuses)
                and (not warehouses or p["delivery_method"]["warehouse_id"] in warehouses)]
        desc = str(body.get("sort_dir") or "ASC").upper() == "DESC"
        rows.sort(key=key, reverse=desc)
        cursor = str(body.get("cursor") or "")
        if cursor:
            try:
                after = json.loads(base64.b64decode(cursor))
            except ValueError:
                raise _err(400, GRPC_INVALID, "cursor: invalid value") from None
            rows = [p for p in rows if (key(p) < after if desc else key(p) > after)]
        page = rows[:limit]
        more = len(rows) > limit
        out = {"postings": [self._list_shape(p) for p in page], "has_next": more,
               "cursor": base64.b64encode(json.dumps(key(page[-1])).encode()).decode() if more else ""}
        if count:
            out["count"] = len(page)
        return Response.json(out)

    def _list_shape(self, p: dict) -> dict:
        """The v4 lists give a line's price as {amount, currency} (the v3 `get` keeps string + currency_code)."""
        out = self._public(p)
        out["delivery_schema"] = "rfbs" if p.get("_rfbs") else "fbs"  # in the v4 lists, not in the v3 get
        out["products"] = [{**{k: v for k, v in ln.items() if k not in ("price", "currency_code", "mandatory_mark")},
                            "price": {"amount": f"{float(ln['price']):.2f}", "currency": ln["currency_code"]}}
                           for ln in p["products"]]
        return out

    def switched_off(self, req: Request) -> Response:
        """A method Ozon has switched off (exact answer unverified: 404 like any unknown path, naming the new one)."""
        date, replacement = SWITCHED_OFF[req.path]
        with self._state_lock:
            self.hits["switched_off"] += 1
        raise _err(404, GRPC_NOT_FOUND, f"method {req.path} was switched off on {date}; use {replacement}")

    def fbs_get(self, req: Request) -> Response:
        body = self._body(req)
        with self._state_lock:
            p = self.posting_rows.get(str(body.get("posting_number") or ""))
        if p is None:
            raise _err(404, GRPC_NOT_FOUND, "posting not found")
        return Response.json({"result": self._public(p)})

    def _posting_for_action(self, number: str, action: str) -> dict:
        p = self.posting_rows.get(number)
        if p is None:
            raise _err(404, GRPC_NOT_FOUND, "POSTING_NOT_FOUND")
        if action not in p["available_actions"]:
            # Simulator's own message; Ozon answers 400 when the posting's status does not allow the action.
            raise _err(400, GRPC_INVALID, f"POSTING_ACTION_NOT_AVAILABLE: {action} not allowed in status {p['status']}")
        return p

    def fbs_ship(self, req: Request) -> Response:
        body = self._body(req)
        number = str(body.get("posting_number") or "")
        packages = body.get("packages")
        if not number or not isinstance(packages, list) or not packages:
            raise _err(400, GRPC_INVALID, "posting_number and packages are required")
        with self._state_lock:
            p = self._posting_for_action(number, "ship")
            want: dict[int, int] = defaultdict(int)
            for line in p["products"]:
                want[int(line["sku"])] += int(line["quantity"])
            got: dict[int, int] = defaultdict(int)
            for pkg in packages:
                for item in (pkg or {}).get("products") or []:
                    got[int(item.get("product_id") or 0)] += int(item.get("quantity") or 0)
            if dict(got) != dict(want):
                raise _err(400, GRPC_INVALID, "INVALID_PACKAGES: packages must hold exactly the posting's products")
            if number in self.ship_failures:  # accepted, then failed asynchronously: re-read shows it
                self.ship_failures.discard(number)
                p["substatus"] = "ship_failed"
                p["_changed"] = self.now()
            else:
                self._move(p, "awaiting_deliver", "posting_transferring_to_delivery")
        return Response.json({"result": [number], "additional_data": []})

    def fbs_awaiting_delivery(self, req: Request) -> Response:
        """Disputed postings back to awaiting_deliver (the documented use; ozon.md §0)."""
        body = self._body(req)
        numbers = self._max(body.get("posting_number"), POSTINGS_MAX, "posting_number")
        if not numbers:
            raise _err(400, GRPC_INVALID, "posting_number: value must be a non-empty list")
        with self._state_lock:
            rows = [self._posting_for_action(str(n), "awaiting_delivery") for n in numbers]
            for p in rows:
                self._move(p, "awaiting_deliver", "posting_awaiting_passport_data")
        return Response.json({"result": True})

    def fbs_cancel(self, req: Request) -> Response:
        body = self._body(req)
        number = str(body.get("posting_number") or "")
        reason = int(body.get("cancel_reason_id") or 0)
        with self._state_lock:
            known = {r["id"]: r for r in self.cancel_reasons}
            if reason not in known or not known[reason]["is_available_for_cancellation"]:
                raise _err(400, GRPC_INVALID, "cancel_reason_id: unknown reason or not available for cancellation")
            if reason == OTHER_REASON and not str(body.get("cancel_reason_message") or "").strip():
                raise _err(400, GRPC_INVALID, "cancel_reason_message is required for reason 402")
            p = self._posting_for_action(number, "cancel")
            self._move(p, "cancelled", "posting_canceled")
            p["cancellation"] = {"cancel_reason_id": reason, "cancel_reason": known[reason]["title"],
                                 "cancellation_type": "seller", "cancelled_after_ship": False,
                                 "affect_cancellation_rating": True, "cancellation_initiator": "Продавец"}
        return Response.json({"result": True})

    # rFBS with the seller's own delivery ----------------------------------------------------------
    def _rfbs_step(self, req: Request, action: str, status: str, substatus: str) -> Response:
        body = self._body(req)
        numbers = self._max(body.get("posting_number"), POSTINGS_MAX, "posting_number")
        result = []
        with self._state_lock:
            for n in numbers:
                p = self.posting_rows.get(str(n))
                if p is None or action not in p["available_actions"]:
                    error = "POSTING_NOT_FOUND" if p is None else f"{action} not allowed in status {p['status']}"
                    result.append({"error": [error], "posting_number": str(n), "result": False})
                    continue
                self._move(p, status, substatus)
                result.append({"error": [], "posting_number": str(n), "result": True})
        return Response.json({"result": result})

    def rfbs_delivering(self, req: Request) -> Response:
        return self._rfbs_step(req, "non_int_delivering", "delivering", "posting_in_carriage")

    def rfbs_last_mile(self, req: Request) -> Response:
        return self._rfbs_step(req, "non_int_last_mile", "delivering", "posting_last_mile")

    def rfbs_delivered(self, req: Request) -> Response:
        return self._rfbs_step(req, "non_int_delivered", "delivered", "posting_delivered")

    def rfbs_tracking_number(self, req: Request) -> Response:
        body = self._body(req)
        items = self._max(body.get("tracking_numbers"), POSTINGS_MAX, "tracking_numbers")
        result = []
        with self._state_lock:
            for it in items:
                n, track = str(it.get("posting_number") or ""), str(it.get("tracking_number") or "").strip()
                p = self.posting_rows.get(n)
                error = "POSTING_NOT_FOUND" if p is None else "" if "set_track_number" in p["available_actions"] \
                    else f"set_track_number not allowed in status {p['status']}"
                if not error and not track:
                    error = "tracking_number is empty"
                if not error:
                    p["tracking_number"] = track
                result.append({"error": error, "posting_number": n, "result": not error})
        return Response.json({"result": result})

    # returns -------------------------------------------------------------------------------------
    def returns_list(self, req: Request) -> Response:
        body = self._body(req)
        limit = body.get("limit")
        if not isinstance(limit, int) or not 0 < limit <= RETURNS_MAX:
            raise _err(400, GRPC_INVALID, f"limit: value must be between 1 and {RETURNS_MAX}")
        flt = body.get("filter") or {}
        dates = [k for k in ("logistic_return_date", "storage_tariffication_start_date", "visual_status_change_moment")
                 if flt.get(k)]
        if len(dates) > 1:
            raise _err(400, GRPC_INVALID, "use only one of the date filters")
        after = int(body.get("last_id") or 0)
        with self._state_lock:
            rows = [r for r in self.returns if int(r["id"]) > after]
        if flt.get("visual_status_change_moment"):
            w = flt["visual_status_change_moment"]
            rows = [r for r in rows if _parse_iso(w["time_from"]) <= r["_changed"] <= _parse_iso(w["time_to"])]
        if flt.get("posting_numbers"):
            rows = [r for r in rows if r["posting_number"] in set(flt["posting_numbers"])]
        if flt.get("return_schema"):
            rows = [r for r in rows if r["schema"].upper() == str(flt["return_schema"]).upper()]
        page = rows[:limit]
        return Response.json({"returns": [self._public(r) for r in page], "has_next": len(rows) > limit})

    def fbs_cancel_reasons(self, req: Request) -> Response:
        self._body(req)
        with self._state_lock:
            return Response.json({"result": self.cancel_reasons})
