"""Creating orders in OpenCart the way its checkout leaves them (marketplace channels such as Ozon).

DESIGN "Creating orders in OpenCart": inserts into order, order_product, order_total and order_history
as `catalog/model/checkout/order.php` addOrder + addHistory do (opencart.md §1.3–1.4, §2.3), payment
method named after the channel, stock by OpenCart's stock rule. The order is inserted at status 0
(checkout's "missing order") and then moved to its first status with a compare-and-set, so a crash
between the two leaves an order nobody sees in admin lists rather than a half-made live one. No
events fire and no e-mail is sent on this path.

Everything takes a SQLAlchemy Connection and the shop's `ShopDB` (`opencart.shop_db(store)`). On 4.0
(InnoDB) the caller's transaction makes it atomic; on 2.3/3.0 (MyISAM) the steps are ordered so a
repeat is safe: the caller finds a half-made order again by `find_order_by_comment`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection, and_, func, insert, select, update

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.history import apply_stock_rule, escape_like_opencart
from ocbridge.opencart.reference import complete_row
from ocbridge.opencart.statuses import read_settings


@dataclass
class _Line:
    """An order line as `history.apply_stock_rule` reads it (saves scanning order_option, which has no order_id key)."""

    order_product_id: int
    product_id: int
    quantity: int
    master_id: int = 0
    options: list = field(default_factory=list)


def _json_methods(db: ShopDB) -> bool:
    """4.0.2+ stores payment/shipping methods as JSON and has no *_code columns (opencart.md §1.7)."""
    return "payment_code" not in db.t("order").c


def change_status(conn: Connection, db: ShopDB, order_id: int, new_status: int, *, expected: int | None = None,
                  comment: str = "", notify: bool = False, now: dt.datetime, store_id: int = 0,
                  lines: list | None = None) -> bool:
    """Compare-and-set the order's status and write history + stock like addHistory; False if it moved on.

    `expected` None: whatever the order has now (re-read by primary key). Never writes status 0. Stock by the
    shared rule (`history.apply_stock_rule`: products, option values, 4.0 variant masters).
    """
    if new_status <= 0:
        raise ValueError("order_status_id 0 is not a status")
    o, h = db.t("order"), db.t("order_history")
    current = conn.execute(select(o.c.order_status_id).where(o.c.order_id == order_id)).scalar()
    if current is None or (expected is not None and current != expected):
        return False
    if current == new_status:
        return True
    hit = conn.execute(update(o).where(and_(o.c.order_id == order_id, o.c.order_status_id == current))
                       .values(order_status_id=new_status, date_modified=now)).rowcount
    if hit != 1:
        return False
    apply_stock_rule(conn, order_id, current, new_status, db=db, live=read_settings(db, store_id).live, lines=lines)
    stored = escape_like_opencart(comment, utf8mb3=db.layout in ("2.3", "3.0"))
    conn.execute(insert(h).values(**complete_row(h, {"order_id": order_id, "order_status_id": new_status,
                                                      "notify": int(notify), "comment": stored, "date_added": now})))
    return True


def store_row(conn: Connection, db: ShopDB, settings, *, store_name: str = "", store_url: str = "") -> dict:
    """The `store` argument of `create_order` from the shop's settings (`statuses.read_settings`) and tables."""
    cur, lang, st = db.t("currency"), db.t("language"), db.t("setting")
    # Two keys read_settings does not carry; store 0 first, the store's own rows on top (OpenCart's cascade).
    raw = dict(conn.execute(select(st.c.key, st.c.value).where(
        st.c.store_id.in_({0, settings.store_id}), st.c.key.in_(("config_invoice_prefix", "config_customer_group_id")))
        .order_by(st.c.store_id)).all())
    cur_row = conn.execute(select(cur.c.currency_id, cur.c.value).where(cur.c.code == settings.currency)).first()
    lang_row = conn.execute(select(lang.c.language_id, lang.c.code).where(lang.c.code == settings.language_code)).first()
    group = str(raw.get("config_customer_group_id") or "1")
    return {"store_id": settings.store_id, "store_name": settings.name or store_name, "store_url": store_url,
            "invoice_prefix": str(raw.get("config_invoice_prefix") or ""),
            "customer_group_id": int(group) if group.isdigit() else 1,
            "currency_id": cur_row.currency_id if cur_row else 0, "currency_value": cur_row.value if cur_row else 1,
            "language_id": lang_row.language_id if lang_row else 1, "language_code": lang_row.code if lang_row else ""}


def latest_history_id(conn: Connection, db: ShopDB) -> int:
    """The newest order_history row (a primary-key MAX): where a status-change watermark starts."""
    h = db.t("order_history")
    return int(conn.execute(select(func.max(h.c.order_history_id))).scalar() or 0)


def max_order_id(conn: Connection, db: ShopDB) -> int:
    o = db.t("order")
    return int(conn.execute(select(func.max(o.c.order_id))).scalar() or 0)


def find_order_by_comment(conn: Connection, db: ShopDB, comment: str, after_order_id: int) -> int | None:
    """An order we created (crash recovery): primary-key range scan from `after_order_id`, never the whole table."""
    o = db.t("order")
    return conn.execute(select(o.c.order_id).where(and_(o.c.order_id > after_order_id, o.c.comment == comment))
                        .order_by(o.c.order_id).limit(1)).scalar()


def create_order(conn: Connection, db: ShopDB, draft: dict, *, now: dt.datetime, store: dict) -> int:
    """Insert one order from a channel draft; returns its order_id.

    draft: firstname, lastname, email, telephone, address_1, city, postcode, country, payment_method,
    payment_code, shipping_method, shipping_code, comment, lines [{product_id, name, model, quantity, price,
    total}], subtotal, total, currency_code, order_status_id.
    store: store_id, store_name, store_url, language_id, language_code, currency_id, currency_value,
    customer_group_id, invoice_prefix.
    """
    o, op, ot = db.t("order"), db.t("order_product"), db.t("order_total")
    address = {"firstname": draft["firstname"], "lastname": draft["lastname"], "company": "",
               "address_1": draft.get("address_1", ""), "address_2": "", "city": draft.get("city", ""),
               "postcode": draft.get("postcode", ""), "country": draft.get("country", ""), "country_id": 0,
               "zone": "", "zone_id": 0, "address_format": "", "custom_field": "[]"}
    row = {
        "invoice_no": 0, "invoice_prefix": store.get("invoice_prefix", ""), "store_id": store.get("store_id", 0),
        "store_name": store.get("store_name", ""), "store_url": store.get("store_url", ""),
        "customer_id": 0, "customer_group_id": store.get("customer_group_id", 1),  # guest, as checkout does
        "firstname": draft["firstname"], "lastname": draft["lastname"], "email": draft.get("email", ""),
        "telephone": draft.get("telephone", ""), "fax": "", "custom_field": "[]",
        **{f"payment_{k}": v for k, v in address.items()}, **{f"shipping_{k}": v for k, v in address.items()},
        "comment": draft.get("comment", ""), "total": Decimal(str(draft["total"])), "order_status_id": 0,
        "affiliate_id": 0, "commission": Decimal("0"), "marketing_id": 0, "tracking": "",
        "language_id": store.get("language_id", 1), "language_code": store.get("language_code", ""),
        "currency_id": store.get("currency_id", 0), "currency_code": draft.get("currency_code", ""),
        "currency_value": Decimal(str(store.get("currency_value", 1))), "ip": "", "forwarded_ip": "",
        "user_agent": "ocbridge", "accept_language": "", "date_added": now, "date_modified": now,
        "payment_address_id": 0, "shipping_address_id": 0, "subscription_id": 0, "transaction_id": "",
    }
    if _json_methods(db):
        row["payment_method"] = json.dumps({"name": draft["payment_method"], "code": f"{draft['payment_code']}.{draft['payment_code']}"})
        row["shipping_method"] = json.dumps({"name": draft["shipping_method"], "code": draft["shipping_code"]})
    else:
        row.update(payment_method=draft["payment_method"], payment_code=draft["payment_code"],
                   shipping_method=draft["shipping_method"], shipping_code=draft["shipping_code"])
    order_id = int(conn.execute(insert(o).values(**complete_row(o, row))).inserted_primary_key[0])
    # 4.0 variants: the line carries its master product, whose stock the rule moves too (opencart.md §2.3).
    masters: dict[int, int] = {}
    p = db.t("product")
    wanted = [int(ln["product_id"]) for ln in draft["lines"] if ln["product_id"]]
    if "master_id" in p.c and wanted:
        masters = dict(conn.execute(select(p.c.product_id, p.c.master_id).where(p.c.product_id.in_(wanted))).all())
    lines = []
    for line in draft["lines"]:
        master = int(masters.get(int(line["product_id"] or 0)) or 0)
        result = conn.execute(insert(op).values(**complete_row(op, {
            "order_id": order_id, "product_id": line["product_id"], "master_id": master, "name": line["name"][:255],
            "model": line["model"][:64], "quantity": line["quantity"], "price": Decimal(str(line["price"])),
            "total": Decimal(str(line["total"])), "tax": Decimal("0"), "reward": 0})))
        lines.append(_Line(int(result.inserted_primary_key[0]), int(line["product_id"]), int(line["quantity"]), master))
    for code, title, value, sort in (("sub_total", "Sub-Total", draft["subtotal"], 1), ("total", "Total", draft["total"], 9)):
        conn.execute(insert(ot).values(**complete_row(ot, {
            "order_id": order_id, "extension": "opencart", "code": code, "title": title,
            "value": Decimal(str(value)), "sort_order": sort})))
    change_status(conn, db, order_id, int(draft["order_status_id"]), expected=0, comment=draft.get("history_comment", ""),
                  now=now, store_id=store.get("store_id", 0), lines=lines)
    return order_id
