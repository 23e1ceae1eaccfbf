"""Creating orders in OpenCart the way its checkout leaves them (marketplace channels such as Ozon).

DESIGN "Creating orders in OpenCart": inserts into order, order_product, order_total and order_history
as `catalog/model/checkout/order.php` addOrder + addHistory do (opencart.md §1.3–1.4, §2.3), payment
method named after the channel, stock by OpenCart's stock rule. The order is inserted at status 0
(checkout's "missing order") and then moved to its first status with a compare-and-set, so a crash
between the two leaves an order nobody sees in admin lists rather than a half-made live one. No
events fire and no e-mail is sent on this path.

Everything takes a SQLAlchemy Connection and the shop's MetaData (`layouts.metadata_for`). On 4.0
(InnoDB) the caller's transaction makes it atomic; on 2.3/3.0 (MyISAM) the steps are ordered so a
repeat is safe: the caller finds a half-made order again by `find_order_by_comment`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import Connection, MetaData, and_, func, insert, select, update

from ocbridge.opencart.reference import complete_row


def _t(md: MetaData, name: str):
    return md.tables[md.info["prefix"] + name]


def _json_methods(md: MetaData) -> bool:
    """4.0.2+ stores payment/shipping methods as JSON and has no *_code columns (opencart.md §1.7)."""
    return "payment_code" not in _t(md, "order").c


def status_sets(conn: Connection, md: MetaData, store_id: int = 0) -> tuple[set[int], set[int]]:
    """(processing, complete) status ids from settings; the store's own rows override store 0's."""
    s = _t(md, "setting")
    rows = conn.execute(select(s.c.store_id, s.c.key, s.c.value).where(
        s.c.key.in_(("config_processing_status", "config_complete_status")), s.c.store_id.in_((0, store_id)))
        .order_by(s.c.store_id)).all()
    found: dict[str, set[int]] = {"config_processing_status": {5, 1, 2, 12, 3}, "config_complete_status": {5, 3}}
    for _store, key, value in rows:
        try:
            found[key] = {int(v) for v in json.loads(value or "[]")}
        except (ValueError, TypeError):
            pass  # an unreadable setting: OpenCart's defaults stand
    return found["config_processing_status"], found["config_complete_status"]


def _apply_stock(conn: Connection, md: MetaData, order_id: int, sign: int) -> None:
    """OpenCart's stock rule for an order without options: product.quantity ± qty where subtract=1."""
    op, p = _t(md, "order_product"), _t(md, "product")
    for product_id, qty in conn.execute(select(op.c.product_id, op.c.quantity).where(op.c.order_id == order_id)).all():
        if product_id:
            conn.execute(update(p).where(and_(p.c.product_id == product_id, p.c.subtract == 1))
                         .values(quantity=p.c.quantity + sign * int(qty)))


def change_status(conn: Connection, md: MetaData, order_id: int, new_status: int, *, expected: int | None = None,
                  comment: str = "", notify: bool = False, now: dt.datetime, store_id: int = 0) -> bool:
    """Compare-and-set the order's status and write history + stock like addOrderHistory; False if it moved on.

    `expected` None: whatever the order has now (re-read by primary key). Never writes status 0.
    """
    if new_status <= 0:
        raise ValueError("order_status_id 0 is not a status")
    o, h = _t(md, "order"), _t(md, "order_history")
    current = conn.execute(select(o.c.order_status_id).where(o.c.order_id == order_id)).scalar()
    if current is None or (expected is not None and current != expected):
        return False
    if current == new_status:
        return True
    hit = conn.execute(update(o).where(and_(o.c.order_id == order_id, o.c.order_status_id == current))
                       .values(order_status_id=new_status, date_modified=now)).rowcount
    if hit != 1:
        return False
    processing, complete = status_sets(conn, md, store_id)
    live = processing | complete
    if current not in live and new_status in live:
        _apply_stock(conn, md, order_id, -1)
    elif current in live and new_status not in live:
        _apply_stock(conn, md, order_id, +1)
    conn.execute(insert(h).values(**complete_row(h, {"order_id": order_id, "order_status_id": new_status,
                                                      "notify": int(notify), "comment": comment, "date_added": now})))
    return True


def max_order_id(conn: Connection, md: MetaData) -> int:
    o = _t(md, "order")
    return int(conn.execute(select(func.max(o.c.order_id))).scalar() or 0)


def find_order_by_comment(conn: Connection, md: MetaData, comment: str, after_order_id: int) -> int | None:
    """An order we created (crash recovery): primary-key range scan from `after_order_id`, never the whole table."""
    o = _t(md, "order")
    return conn.execute(select(o.c.order_id).where(and_(o.c.order_id > after_order_id, o.c.comment == comment))
                        .order_by(o.c.order_id).limit(1)).scalar()


def create_order(conn: Connection, md: MetaData, draft: dict, *, now: dt.datetime, store: dict) -> int:
    """Insert one order from a channel draft; returns its order_id.

    draft: firstname, lastname, email, telephone, address_1, city, postcode, country, payment_method,
    payment_code, shipping_method, shipping_code, comment, lines [{product_id, name, model, quantity, price,
    total}], subtotal, total, currency_code, order_status_id.
    store: store_id, store_name, store_url, language_id, language_code, currency_id, currency_value,
    customer_group_id, invoice_prefix.
    """
    o, op, ot = _t(md, "order"), _t(md, "order_product"), _t(md, "order_total")
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
    if _json_methods(md):
        row["payment_method"] = json.dumps({"name": draft["payment_method"], "code": f"{draft['payment_code']}.{draft['payment_code']}"})
        row["shipping_method"] = json.dumps({"name": draft["shipping_method"], "code": draft["shipping_code"]})
    else:
        row.update(payment_method=draft["payment_method"], payment_code=draft["payment_code"],
                   shipping_method=draft["shipping_method"], shipping_code=draft["shipping_code"])
    order_id = int(conn.execute(insert(o).values(**complete_row(o, row))).inserted_primary_key[0])
    for line in draft["lines"]:
        conn.execute(insert(op).values(**complete_row(op, {
            "order_id": order_id, "product_id": line["product_id"], "master_id": 0, "name": line["name"][:255],
            "model": line["model"][:64], "quantity": line["quantity"], "price": Decimal(str(line["price"])),
            "total": Decimal(str(line["total"])), "tax": Decimal("0"), "reward": 0})))
    for code, title, value, sort in (("sub_total", "Sub-Total", draft["subtotal"], 1), ("total", "Total", draft["total"], 9)):
        conn.execute(insert(ot).values(**complete_row(ot, {
            "order_id": order_id, "extension": "opencart", "code": code, "title": title,
            "value": Decimal(str(value)), "sort_order": sort})))
    change_status(conn, md, order_id, int(draft["order_status_id"]), expected=0, comment=draft.get("history_comment", ""),
                  now=now, store_id=store.get("store_id", 0))
    return order_id
