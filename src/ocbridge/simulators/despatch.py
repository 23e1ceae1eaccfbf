"""Despatch Cloud public API simulator: login with token expiry, orders, order lines, inventory, Laravel paging.

Shapes follow what the public .NET client (GardeningExpress/despatchcloud-client) sends and reads and what its
integration tests observed on DC's sandbox; anything no public source shows is marked "simulator only" here and
in docs/providers/despatch-cloud.md.

- `POST /public-api/auth/login {email, password}` → `{"token": …}`; wrong pair → 401 `{"error": …}`.
  Tokens live `token_ttl` seconds (simulator only: DC publishes no lifetime); an expired or unknown one → 401.
- `POST /public-api/orders/create` → the order. A `channel_order_id` already used → 400 "The Channel Order ID (…)
  is already in use."; a missing required column → 400 "Error executing statement: Column '…' cannot be null"
  (messages from the client's sandbox tests; the status code and the required set are simulator only).
- `POST /public-api/order/{id}/add_inventory {items}` → `{status: success|partial_success, result: {items, errors}}`;
  no items → 400 `validation_error` ["Item's field is not valid"]; unknown order → 404 "Order Not Found".
  `refuse_skus([...])` makes those SKUs per-line errors (simulator only: DC creates unknown items).
- `GET /public-api/orders?filters[search]&filters[search_field]&filters[date_range]=<from>,<to>&sort&page`: a
  Laravel page (`total, per_page, current_page, last_page, next_page_url, prev_page_url, from, to, data`).
  The date range filters on `updated_at` (simulator only).
- `POST /public-api/order/{id}/update {status_id}`, `POST /public-api/order/{id}/cancel`: a despatched order →
  400 "Order in Despatched status." (message from the client's sandbox tests).
- `GET /public-api/inventory?filters[sku]&sort&page`, `POST /public-api/inventory/{id}/update`; stock is
  `stock_level_available` / `stock_level_open`, set with `stock_level` (simulator only).

Control methods (also over `/_sim/…`): `despatch` (optionally listed late), `cancel_in_dc`, `set_order_status`,
`add_item`, `set_stock` (optionally listed late), `refuse_skus`, `set_required`, `expire_tokens`, `set_token_ttl`,
`set_per_page`, `advance`, `orders`, `inventory`, `calls`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlencode

from .base import HttpError, Request, Response, Simulator

API = "/public-api"
DRAFT, ON_HOLD, DESPATCH_READY, DESPATCHED, CANCELLED = 1, 2, 3, 5, 6
REQUIRED = ("payment_method", "shipping_name", "shipping_address_line_one", "shipping_address_city",
            "shipping_address_postcode", "shipping_address_iso")
ORDER_FIELDS = (
    "channel_order_id", "channel_alt_id", "manual_channel_id", "status_id", "date_received", "shipping_method_requested",
    "one_off_shipment", "payment_method", "payment_ref", "payment_currency", "total_paid", "total_discount", "total_tax",
    "shipping_paid", "total_weight", "email", "phone_one", "contact_id", "vat_number", "eori_number", "tax_id",
    "shipping_name", "shipping_name_company", "shipping_address_line_one", "shipping_address_line_two",
    "shipping_address_city", "shipping_address_county", "shipping_address_country", "shipping_address_postcode",
    "shipping_address_iso", "invoice_name", "invoice_name_company", "invoice_address_line_one",
    "invoice_address_line_two", "invoice_address_city", "invoice_address_county", "invoice_address_country",
    "invoice_address_postcode", "invoice_address_iso", "customer_comments", "notes", "custom_fields",
    "fulfilment_client_id",
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class DespatchSimulator(Simulator):
    """One Despatch Cloud account: one API user, its orders and inventory."""

    name = "despatch"
    routes = [
        ("POST", API + r"/auth/login", "handle_login"),
        ("POST", API + r"/orders/create", "handle_create"),
        ("GET", API + r"/orders", "handle_search"),
        ("POST", API + r"/order/(?P<oid>-?\d+)/add_inventory", "handle_add_inventory"),
        ("POST", API + r"/order/(?P<oid>-?\d+)/update", "handle_update"),
        ("POST", API + r"/order/(?P<oid>-?\d+)/cancel", "handle_cancel"),
        ("GET", API + r"/inventory", "handle_inventory"),
        ("POST", API + r"/inventory/(?P<iid>\d+)/update", "handle_inventory_update"),
    ]
    control_methods = Simulator.control_methods + (
        "despatch", "cancel_in_dc", "set_order_status", "add_item", "set_stock", "refuse_skus", "set_required",
        "expire_tokens", "set_token_ttl", "set_per_page", "advance", "orders", "orders_since", "inventory", "calls",
    )

    def __init__(self, *, email: str = "api@shop.example", password: str = "secret", token_ttl: float = 3600.0,
                 per_page: int = 15, **kw):
        super().__init__(**kw)
        self.email, self.password = email, password
        self.token_ttl = float(token_ttl)
        self.per_page = int(per_page)
        self._state_lock = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._state_lock:
            self._tokens: dict[str, float] = {}
            self._orders: dict[int, dict] = {}
            self._by_channel: dict[str, int] = {}
            self._items: dict[int, dict] = {}
            self._by_sku: dict[str, int] = {}
            self._refused: set[str] = set()
            self._required = list(REQUIRED)
            self._ids = itertools.count(1001)
            self._line_ids = itertools.count(1)
            self._item_ids = itertools.count(501)
            self._offset = 0.0
            self._calls: dict[str, int] = {}

    # time -----------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        self._offset += float(seconds)
        return self._offset

    # auth -----------------------------------------------------------------------------------------
    def handle_login(self, req: Request) -> Response:
        self._count("login")
        body = _json(req)
        if body.get("email") != self.email or body.get("password") != self.password:
            return Response.json({"error": "Unauthenticated."}, 401)
        token = secrets.token_hex(20)
        with self._state_lock:
            self._tokens[token] = self.now() + self.token_ttl
        return Response.json({"token": token})

    def _auth(self, req: Request) -> None:
        token = req.bearer() or ""
        with self._state_lock:
            expires = self._tokens.get(token)
        if expires is None or expires <= self.now():
            raise HttpError(Response.json({"error": "Unauthenticated."}, 401))

    def account_of(self, req: Request) -> str | None:
        return self.email

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return Response.json({"message": "Too Many Attempts."}, 429, {"Retry-After": str(retry_after)})

    def server_error(self, req: Request, status: int) -> Response:
        return Response.json({"message": "Server Error"}, status)

    # orders ---------------------------------------------------------------------------------------
    def handle_create(self, req: Request) -> Response:
        self._auth(req)
        self._count("create")
        body = _json(req)
        channel_id = str(body.get("channel_order_id") or "")
        with self._state_lock:
            if channel_id and channel_id in self._by_channel:
                return Response.json({"error": f"The Channel Order ID ({channel_id}) is already in use."}, 400)
            for name in self._required:
                if body.get(name) in (None, ""):
                    return Response.json({"error": f"Error executing statement: Column '{name}' cannot be null"}, 400)
            oid = next(self._ids)
            now = self.now()
            order = {k: body.get(k) for k in ORDER_FIELDS}
            order.update(id=oid, status_id=int(body.get("status_id") or DESPATCH_READY), channel_order_id=channel_id,
                         shipping_tracking_code=None, date_dispatched=None, shipment=None, deleted=False,
                         total_inventory_count=0, total_inventory_quantity=0, inventory=[],
                         created_at=_iso(now), updated_at=_iso(now), _updated=now)
            self._orders[oid] = order
            if channel_id:
                self._by_channel[channel_id] = oid
            return Response.json(_public(order))

    def _order(self, oid: str) -> dict:
        order = self._orders.get(int(oid))
        if order is None:
            raise HttpError(Response.json({"error": "Order Not Found"}, 404))
        return order

    def handle_add_inventory(self, req: Request, oid: str) -> Response:
        self._auth(req)
        self._count("add_inventory")
        items = _json(req).get("items") or []
        with self._state_lock:
            order = self._order(oid)
            if not items:
                return Response.json({"status": "error", "validation_error": ["Item's field is not valid"]}, 400)
            added, errors = [], []
            for item in items:
                sku = str(item.get("sku") or "")
                if not sku:
                    errors.append({"error": "sku field is required.", "input": item})
                    continue
                if sku in self._refused:
                    errors.append({"error": f"Inventory item with SKU {sku} not found.", "input": item})
                    continue
                iid = self._by_sku.get(sku) or self._new_item(sku, str(item.get("name") or sku), 0)
                line = {"id": next(self._line_ids), "inventory_id": iid, "order_summary_id": order["id"], "sku": sku,
                        "quantity": int(item.get("quantity") or 0), "name": item.get("name"),
                        "unit_price": str(item.get("unit_price") or "0"), "options": item.get("options"),
                        "notes": item.get("notes")}
                order["inventory"].append(line)
                added.append(line)
            order["total_inventory_count"] = len(order["inventory"])
            order["total_inventory_quantity"] = sum(line["quantity"] for line in order["inventory"])
            self._touch(order)
            status = "success" if not errors else "partial_success"
            return Response.json({"status": status, "result": {"items": added, "errors": errors}})

    def handle_search(self, req: Request) -> Response:
        self._auth(req)
        self._count("search")
        search = req.arg("filters[search]") or ""
        fields = [f for f in (req.arg("filters[search_field]") or "").split(",") if f]
        date_range = req.arg("filters[date_range]")
        with self._state_lock:
            rows = [o for o in self._orders.values() if not o["deleted"]]
        if search:
            rows = [o for o in rows if _matches(o, search, fields)]
        if date_range:
            start, _, end = date_range.partition(",")
            rows = [o for o in rows if float(start) <= o["_updated"] <= float(end or "inf")]
        sort = req.arg("sort") or ""
        if sort.startswith("datedispatched"):
            rows.sort(key=lambda o: o.get("_despatched") or 0, reverse=sort.endswith("_rp"))
        else:
            rows.sort(key=lambda o: o["id"], reverse=sort.endswith("_rp"))
        return self._paged(req, API + "/orders", [_public(o) for o in rows])

    def handle_update(self, req: Request, oid: str) -> Response:
        self._auth(req)
        self._count("update")
        body = _json(req)
        with self._state_lock:
            order = self._order(oid)
            if order["status_id"] in (DESPATCHED, CANCELLED):
                label = "Despatched" if order["status_id"] == DESPATCHED else "Cancelled"
                return Response.json({"error": f"Order in {label} status."}, 400)
            if "status_id" in body:
                order["status_id"] = int(body["status_id"])
            self._touch(order)
            return Response.json(_public(order))

    def handle_cancel(self, req: Request, oid: str) -> Response:
        self._auth(req)
        self._count("cancel")
        with self._state_lock:
            order = self._order(oid)
            if order["status_id"] == DESPATCHED:
                return Response.json({"error": "Order in Despatched status."}, 400)
            order["status_id"] = CANCELLED
            self._touch(order)
            return Response.json({"status": "success"})

    # inventory ------------------------------------------------------------------------------------
    def _new_item(self, sku: str, name: str, stock: int) -> int:
        iid = next(self._item_ids)
        now = self.now()
        self._items[iid] = {"id": str(iid), "type": "product", "sku": sku, "name": name, "image": None,
                            "custom_fields": [], "stock_level_available": int(stock), "stock_level_open": 0,
                            "created_at": _iso(now), "updated_at": _iso(now), "_updated": now}
        self._by_sku[sku] = iid
        return iid

    def handle_inventory(self, req: Request) -> Response:
        self._auth(req)
        self._count("inventory")
        sku = req.arg("filters[sku]")
        with self._state_lock:
            rows = [i for i in self._items.values() if sku is None or i["sku"] == sku]
        sort = req.arg("sort") or ""
        if sort.startswith("updated_at"):
            rows.sort(key=lambda i: (i["_updated"], int(i["id"])), reverse=sort.endswith("_rp"))
        else:
            rows.sort(key=lambda i: int(i["id"]))
        return self._paged(req, API + "/inventory", [_public(i) for i in rows])

    def handle_inventory_update(self, req: Request, iid: str) -> Response:
        self._auth(req)
        self._count("inventory_update")
        body = _json(req)
        with self._state_lock:
            item = self._items.get(int(iid))
            if item is None:
                return Response.json({"error": "Inventory Not Found"}, 404)
            for name in ("type", "sku", "name", "image"):
                if name in body:
                    item[name] = body[name]
            if "stock_level" in body:
                item["stock_level_available"] = int(body["stock_level"])
            item["updated_at"], item["_updated"] = _iso(self.now()), self.now()
            return Response.json(_public(item))

    # paging ---------------------------------------------------------------------------------------
    def _paged(self, req: Request, path: str, rows: list[dict]) -> Response:
        per = self.per_page
        page = max(1, int(req.arg("page") or 1))
        last = max(1, -(-len(rows) // per))
        chunk = rows[(page - 1) * per: page * per]

        def url(n: int) -> str:
            query = [(k, v[-1]) for k, v in req.query.items() if k != "page"]
            return f"{self.base_url}{path}?{urlencode(query + [('page', n)])}"

        return Response.json({
            "total": len(rows), "per_page": str(per), "current_page": page, "last_page": last,
            "next_page_url": url(page + 1) if page < last else None, "prev_page_url": url(page - 1) if page > 1 else None,
            "from": (page - 1) * per + 1 if chunk else None, "to": (page - 1) * per + len(chunk) if chunk else None,
            "data": chunk})

    # control --------------------------------------------------------------------------------------
    def _find(self, ref) -> dict:
        with self._state_lock:
            oid = self._by_channel.get(str(ref)) or (int(ref) if str(ref).isdigit() and int(ref) in self._orders else None)
            if oid is None:
                raise KeyError(f"no order {ref!r}")
            return self._orders[oid]

    def despatch(self, ref, tracking_code: str = "TRK1", courier: str = "Royal Mail", service: str = "Tracked 48",
                 tracking_url: str = "", listed_late: float = 0.0) -> dict:
        """The warehouse ships the order: status 5, dispatch date, tracking code (and a shipment, simulator only).
        `listed_late`: DC lists the change only now, under an `updated_at` that many seconds ago (its clock or commit
        order lagging; simulator only — a fault to test against, DC documents no lag)."""
        with self._state_lock:
            order = self._find(ref)
            order.update(status_id=DESPATCHED, shipping_tracking_code=tracking_code,
                         date_dispatched=datetime.fromtimestamp(self.now(), timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                         shipment={"courier_name": courier, "service_name": service, "tracking_code": tracking_code,
                                   "tracking_url": tracking_url or None},
                         _despatched=self.now())
            self._touch(order, ago=listed_late)
            return _public(order)

    def cancel_in_dc(self, ref) -> dict:
        return self.set_order_status(ref, CANCELLED)

    def set_order_status(self, ref, status_id: int) -> dict:
        with self._state_lock:
            order = self._find(ref)
            order["status_id"] = int(status_id)
            self._touch(order)
            return _public(order)

    def add_item(self, sku: str, stock: int = 0, name: str = "") -> dict:
        with self._state_lock:
            iid = self._by_sku.get(sku) or self._new_item(sku, name or sku, stock)
            return _public(self._items[iid])

    def set_stock(self, sku: str, stock: int, listed_late: float = 0.0) -> dict:
        """`listed_late`: DC lists the change only now, under an `updated_at` that many seconds ago (simulator only,
        as for `despatch`)."""
        with self._state_lock:
            iid = self._by_sku.get(sku) or self._new_item(sku, sku, stock)
            item = self._items[iid]
            item["stock_level_available"] = int(stock)
            self._touch(item, ago=listed_late)
            return _public(item)

    def refuse_skus(self, skus: list[str]) -> None:
        with self._state_lock:
            self._refused = set(skus)

    def set_required(self, fields: list[str]) -> None:
        with self._state_lock:
            self._required = list(fields)

    def expire_tokens(self) -> int:
        with self._state_lock:
            n = len(self._tokens)
            self._tokens.clear()
            return n

    def set_token_ttl(self, seconds: float) -> None:
        self.token_ttl = float(seconds)

    def set_per_page(self, per_page: int) -> None:
        self.per_page = int(per_page)

    def orders(self) -> list[dict]:
        with self._state_lock:
            return [_public(o) for o in self._orders.values()]

    def orders_since(self, count: int) -> list[dict]:
        """Orders created after the first `count` (in creation order): cheap "what is new" for benchmarks."""
        with self._state_lock:
            return [_public(o) for o in itertools.islice(self._orders.values(), int(count), None)]

    def inventory(self) -> list[dict]:
        with self._state_lock:
            return [_public(i) for i in self._items.values()]

    def calls(self) -> dict[str, int]:
        with self._state_lock:
            return dict(self._calls)

    def state(self) -> dict:
        return {"orders": len(self._orders), "inventory": len(self._items), "calls": self.calls()}

    def _count(self, name: str) -> None:
        with self._state_lock:
            self._calls[name] = self._calls.get(name, 0) + 1

    def _touch(self, row: dict, ago: float = 0.0) -> None:
        row["_updated"] = self.now() - float(ago)
        row["updated_at"] = _iso(row["_updated"])


def _json(req: Request) -> dict:
    try:
        body = req.json()
    except (ValueError, UnicodeDecodeError):
        raise HttpError(Response.json({"error": "Invalid JSON"}, 400)) from None
    return body if isinstance(body, dict) else {}


def _matches(order: dict, search: str, fields: list[str]) -> bool:
    columns = {"search_order_id": ("channel_order_id",), "search_channel_alt_id": ("channel_alt_id",),
               "search_name": ("shipping_name",), "search_email": ("email",),
               "search_postcode": ("shipping_address_postcode",)}
    names = [c for f in fields for c in columns.get(f, ())] or ["channel_order_id", "shipping_name", "email"]
    return any(search.lower() in str(order.get(n) or "").lower() for n in names)


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}
